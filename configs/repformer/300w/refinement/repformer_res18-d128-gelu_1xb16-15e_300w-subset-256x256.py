# The 256 px run with GELU residual predictors (beyond the paper): at 256 px
# the 32x32 stage's ReLU predictor died (0 live units; docs/results.md, "The
# paper's input size"), the failure measured at 128 px after 60 epochs.
_base_ = ['./repformer_res18-d128_1xb16-15e_300w-subset-256x256.py']

model = dict(head=dict(predictor_activation='gelu'))

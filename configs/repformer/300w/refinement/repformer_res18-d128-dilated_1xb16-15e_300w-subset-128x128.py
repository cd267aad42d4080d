# The chosen 300W-subset config (128x128 input) with ResNet-18's last stage
# dilated instead of strided (stride 16, dilation 2, as DeepLab does), so
# that the top memory is 8x8 instead of 4x4, with the full network's
# features. The three PTH stages then read 8x8 (ResNet stage 4), 8x8
# (stage 3) and 16x16 (stage 2) memories instead of 4x4 / 8x8 / 16x16: on
# 4x4 the Eq. 10 weights pick one cell for 98 % of the landmarks and that
# stage does not refine (docs/results.md, "Refinement"). Beyond the paper
# (issue 17).
_base_ = ['../repformer_res18-d128_1xb16-15e_300w-subset-128x128.py']

model = dict(
    backbone=dict(strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2)),
    head=dict(initial_memory_size=(8, 8)))  # 128 / 16

# The 300W-subset run of repformer_res18-d128_1xb16-15e_300w-subset-128x128.py
# at the paper's 256x256 input, with the paper's head options (no sub-cell
# offset, no confidence branch): the same model (d_model 128, random init,
# tau = 1000), data, augmentation (PIPNet's pixel sizes at 256 px), schedule
# and seed, so that the three PTH stages read 8x8 / 16x16 / 32x32 memories,
# as in the paper, instead of 4x4 / 8x8 / 16x16. About 4x the compute of
# the 128 px run.
# The fast CPU recipe (docs/benchmarks.md): no dropout on the attention
# weights (the FFN and residual dropouts stay 0.1), so that PyTorch's fused
# CPU attention runs in training; train with --amp --channels-last.
_base_ = [
    '../../../_base_/models/repformer_res18-d128_128x128.py',
    '../../../_base_/schedules/adam-cosine-15e_from-scratch.py',
    '../../../_base_/datasets/face_300w-subset-256x256.py',
]

model = dict(
    neck=dict(attn_dropout=0.),
    head=dict(
        num_keypoints=68,
        attn_dropout=0.,
        initial_memory_size=(8, 8),  # 256 / 32
        decoder=dict(input_size=(256, 256))))
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=15, save_best=None, max_keep_ckpts=1))

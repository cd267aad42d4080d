# The chosen 300W-subset config (128x128 input) with the memories taken one
# octave finer: ResNet-18 stages 1-3 (strides 4/8/16) instead of 2-4 (strides
# 8/16/32), so that the three PTH stages read 8x8 / 16x16 / 32x32 memories,
# the paper's memory sizes at 256 px, without the 4x backbone compute of a
# 256 px input. The backbone stops after stage 3 (stage 4 would feed
# nothing). Dropout is off in the neck and head: the 32x32 level's
# cross-scale attention (1024 x 1024 per head) then runs in PyTorch's fused
# CPU kernel instead of materialising every attention map (1.7 s/iter
# instead of 3.4 on one core). Beyond the paper (issue 17).
_base_ = ['../repformer_res18-d128_1xb16-15e_300w-subset-128x128.py']

model = dict(
    backbone=dict(
        num_stages=3,
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        out_indices=(0, 1, 2)),
    neck=dict(in_channels=[64, 128, 256], in_indices=(0, 1, 2), dropout=0.),
    head=dict(initial_memory_size=(8, 8), dropout=0.))  # 128 / 16

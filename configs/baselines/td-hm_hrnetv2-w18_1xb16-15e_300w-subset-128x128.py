# Baseline for the 300W-subset run: MMPose's HRNetV2-W18 heatmap model
# (HRNet + concatenated multi-scale features + HeatmapHead, MSRA heatmaps,
# MSE loss), MMPose's default face model, as in its
# td-hm_hrnetv2-w18_8xb64-60e_300w-256x256.py but with exactly RePFormer's
# data, augmentation, optimiser, schedule, batch and seed
# (repformer_res18-d128_1xb16-15e_300w-subset-128x128.py), random init, no
# flip test. The codec's parameters are MMPose's (sigma 1.5 heatmap pixels,
# heatmap = input / 4); only the sizes follow the 128x128 input.
_base_ = [
    '../_base_/models/td-hm_hrnetv2-w18.py',
    '../_base_/schedules/adam-cosine-15e_from-scratch.py',
    '../_base_/datasets/face_300w-subset.py',
]

input_size = (128, 128)
codec = dict(
    type='MSRAHeatmap', input_size=input_size, heatmap_size=(32, 32),
    sigma=1.5)
model = dict(head=dict(decoder=codec))

# RePFormer's training augmentation, then MMPose's heatmap codec.
train_pipeline = _base_.train_augmentation + [
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=15, save_best=None, max_keep_ckpts=1))

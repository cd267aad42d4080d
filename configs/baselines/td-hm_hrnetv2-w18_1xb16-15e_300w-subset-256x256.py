# td-hm_hrnetv2-w18_1xb16-15e_300w-subset-128x128.py at 256x256 input (MMPose's
# own size for this model: heatmaps 64x64, sigma 1.5), with the training
# augmentation of RePFormer's 256 px runs
# (configs/repformer/300w/refinement/*-256x256.py). Random init.
_base_ = [
    '../_base_/models/td-hm_hrnetv2-w18.py',
    '../_base_/schedules/adam-cosine-15e_from-scratch.py',
    '../_base_/datasets/face_300w-subset-256x256.py',
]

codec = dict(
    type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(64, 64),
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

# Baseline for the 300W-subset run: MMPose's top-down regression model
# (ResNet-18 + global average pooling + RegressionHead, MMPose's
# RegressionLabel codec and SmoothL1 loss as in its td-reg configs), with
# exactly RePFormer's data, augmentation, schedule and budget
# (repformer_res18-d128_1xb16-15e_300w-subset-128x128.py).
_base_ = [
    '../_base_/schedules/adam-cosine-15e_from-scratch.py',
    '../_base_/datasets/face_300w-subset.py',
]

codec = dict(type='RegressionLabel', input_size=(128, 128))
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, init_cfg=None),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='RegressionHead',
        in_channels=512,
        num_joints=68,
        loss=dict(type='SmoothL1Loss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=False, shift_coords=True))  # as RePFormer's

# RePFormer's training augmentation, then MMPose's regression codec.
train_pipeline = _base_.train_augmentation + [
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=15, save_best=None, max_keep_ckpts=1))

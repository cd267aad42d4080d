# Baseline for the 300W-subset run: MMPose's HRNetV2-W18 heatmap model
# (HRNet + concatenated multi-scale features + HeatmapHead, MSRA heatmaps,
# MSE loss), MMPose's default face model, as in its
# td-hm_hrnetv2-w18_8xb64-60e_300w-256x256.py but with exactly RePFormer's
# data, augmentation, optimiser, schedule, batch and seed
# (repformer_res18-d128_1xb16-15e_300w-subset-128x128.py), random init, no
# flip test. The codec's parameters are MMPose's (sigma 1.5 heatmap pixels,
# heatmap = input / 4); only the sizes follow the 128x128 input.
_base_ = [
    '../_base_/schedules/adam-cosine-15e_from-scratch.py',
    '../_base_/datasets/face_300w-subset.py',
]

input_size = (128, 128)
codec = dict(
    type='MSRAHeatmap', input_size=input_size, heatmap_size=(32, 32),
    sigma=1.5)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='HRNet',
        in_channels=3,
        extra=dict(
            stage1=dict(
                num_modules=1,
                num_branches=1,
                block='BOTTLENECK',
                num_blocks=(4, ),
                num_channels=(64, )),
            stage2=dict(
                num_modules=1,
                num_branches=2,
                block='BASIC',
                num_blocks=(4, 4),
                num_channels=(18, 36)),
            stage3=dict(
                num_modules=4,
                num_branches=3,
                block='BASIC',
                num_blocks=(4, 4, 4),
                num_channels=(18, 36, 72)),
            stage4=dict(
                num_modules=3,
                num_branches=4,
                block='BASIC',
                num_blocks=(4, 4, 4, 4),
                num_channels=(18, 36, 72, 144),
                multiscale_output=True),
            upsample=dict(mode='bilinear', align_corners=False)),
        init_cfg=None),
    neck=dict(type='FeatureMapProcessor', concat=True),
    head=dict(
        type='HeatmapHead',
        in_channels=270,
        out_channels=68,
        deconv_out_channels=None,
        conv_out_channels=(270, ),
        conv_kernel_sizes=(1, ),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=False))  # as RePFormer's

# RePFormer's training augmentation, then MMPose's heatmap codec.
train_pipeline = _base_.train_augmentation + [
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=15, save_best=None, max_keep_ckpts=1))

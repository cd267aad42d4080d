# Baseline for the 300W-subset run: MMPose's RTMPose-m (CSPNeXt-P5-m +
# RTMCCHead, SimCC labels, KL loss), MMPose's recommended real-time model,
# as in its face configs (rtmpose-m_8xb64-60e_wflw-256x256.py) but with
# exactly RePFormer's data, augmentation, optimiser, schedule, batch and
# seed (repformer_res18-d128_1xb16-15e_300w-subset-128x128.py), random
# init, no flip test. The codec's parameters are MMPose's (sigma 5.66 SimCC
# bins, split ratio 2); only the sizes follow the 128x128 input.
_base_ = [
    '../_base_/schedules/adam-cosine-15e_from-scratch.py',
    '../_base_/datasets/face_300w-subset.py',
]

input_size = (128, 128)
codec = dict(
    type='SimCCLabel',
    input_size=input_size,
    sigma=(5.66, 5.66),
    simcc_split_ratio=2.0,
    normalize=False,
    use_dark=False)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    # MMPose's own CSPNeXt (its mmdet-scoped one needs compiled mmcv ops);
    # BN instead of SyncBN: one process
    backbone=dict(
        type='CSPNeXt',
        arch='P5',
        expand_ratio=0.5,
        deepen_factor=0.67,
        widen_factor=0.75,
        out_indices=(4, ),
        channel_attention=True,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='SiLU'),
        init_cfg=None),
    head=dict(
        type='RTMCCHead',
        in_channels=768,
        out_channels=68,
        input_size=input_size,
        in_featuremap_size=(4, 4),  # 128 / 32
        simcc_split_ratio=codec['simcc_split_ratio'],
        final_layer_kernel_size=7,
        gau_cfg=dict(
            hidden_dims=256,
            s=128,
            expansion_factor=2,
            dropout_rate=0.,
            drop_path=0.,
            act_fn='SiLU',
            use_rel_bias=False,
            pos_enc=False),
        loss=dict(
            type='KLDiscretLoss',
            use_target_weight=True,
            beta=10.,
            label_softmax=True),
        decoder=codec),
    test_cfg=dict(flip_test=False))  # as RePFormer's

# RePFormer's training augmentation, then MMPose's SimCC codec
# (tests/test_configs.py checks that the baselines' pipelines differ from
# RePFormer's only in the codec).
train_pipeline = _base_.train_augmentation + [
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=15, save_best=None, max_keep_ckpts=1))

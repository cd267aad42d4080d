# RePFormer-R18 (paper Sec. 3-4): ResNet-18 -> CrossScaleNeck -> PTHHead.
# `num_keypoints` is set by each dataset's config; the codec must match the
# one in the data pipeline (`_base_/datasets/face_topdown.py`).

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=18,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18'),
    ),
    neck=dict(
        type='CrossScaleNeck',
        in_channels=[64, 128, 256, 512],
        in_indices=(1, 2, 3),  # strides 8/16/32: what the 3 stages read
        embed_dims=256,
        num_heads=8,
        ffn_dims=1024,
        dropout=0.1),
    head=dict(
        type='PTHHead',
        num_keypoints=68,
        embed_dims=256,
        num_stages=3,
        num_heads=8,
        ffn_dims=1024,
        predictor_dims=256,
        dropout=0.1,
        tau=1000.,
        use_pyramid=True,
        use_dlr=True,
        query_update='replace',
        initial_predictor='flatten',
        initial_memory_size=(8, 8),  # 256 / 32
        loss=dict(type='L1Loss', use_target_weight=True),
        decoder=dict(type='DLRLabel', input_size=(256, 256))),
    # The paper reports no test-time augmentation: MMPose's flip test is off
    # so figures compare with Table 1; turn it on with
    # --cfg-options model.test_cfg.flip_test=True.
    test_cfg=dict(flip_test=False, output_stages=False))

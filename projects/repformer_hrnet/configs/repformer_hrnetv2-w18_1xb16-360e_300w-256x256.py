# RePFormer on HRNetV2-W18 (MMPose's HRNet): the paper's 300W recipe with
# the ResNet-18 replaced. Stage 4 returns all four branches (strides 4, 8,
# 16, 32; 18/36/72/144 channels); the neck reads strides 8/16/32, the levels
# the 3 PTH stages read, as it does on a ResNet.
_base_ = [
    '../../../configs/repformer/300w/'
    'repformer_res18_1xb16-360e_300w-256x256.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
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
                multiscale_output=True)),
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://msra/hrnetv2_w18')),
    neck=dict(in_channels=[18, 36, 72, 144], in_indices=(1, 2, 3)))

# The stride-4 branch is computed but no PTH stage reads it, so the last
# fusion into it (stage4.2.fuse_layers.0) gets no gradient: DDP must be told.
find_unused_parameters = True

# RePFormer on MobileNetV2 (MMPose's): the paper's 300W recipe with the
# ResNet-18 replaced. out_indices (2, 4, 7): the last layer of each stride,
# 8/16/32, with 32/96/1280 channels (7 is the final 1x1 conv, the map
# MMPose's MobileNetV2 heads read).
_base_ = [
    '../../../configs/repformer/300w/'
    'repformer_res18_1xb16-360e_300w-256x256.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        widen_factor=1.,
        out_indices=(2, 4, 7),
        init_cfg=dict(type='Pretrained', checkpoint='mmcls://mobilenet_v2')),
    neck=dict(in_channels=[32, 96, 1280], in_indices=(0, 1, 2)))

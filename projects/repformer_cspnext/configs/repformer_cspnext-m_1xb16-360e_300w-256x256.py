# RePFormer on CSPNeXt-m, RTMPose-m's backbone (MMPose's own CSPNeXt, no
# mmdet scope): the paper's 300W recipe with the ResNet-18 replaced.
# out_indices (2, 3, 4): the outputs of stages 2-4, strides 8/16/32 with
# 192/384/768 channels (256/512/1024 x widen 0.75).
_base_ = [
    '../../../configs/repformer/300w/'
    'repformer_res18_1xb16-360e_300w-256x256.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='CSPNeXt',
        arch='P5',
        expand_ratio=0.5,
        deepen_factor=0.67,
        widen_factor=0.75,
        out_indices=(2, 3, 4),
        channel_attention=True,
        act_cfg=dict(type='SiLU'),
        # ImageNet weights of CSPNeXt-m (RTMDet's RSB pre-training)
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='https://download.openmmlab.com/mmdetection/v3.0/'
            'rtmdet/cspnext_rsb_pretrain/'
            'cspnext-m_8xb256-rsb-a1-600e_in1k-ecb3bbd9.pth')),
    neck=dict(in_channels=[192, 384, 768], in_indices=(0, 1, 2)))

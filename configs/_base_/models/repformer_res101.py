_base_ = ['./repformer_res18.py']

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')),
    neck=dict(in_channels=[256, 512, 1024, 2048]))

# RePFormer on ConvNeXt-T from MMPretrain (through the `mmpretrain.` scope):
# the paper's 300W recipe with the ResNet-18 replaced. out_indices (1, 2, 3):
# stages 2-4, strides 8/16/32 with 192/384/768 channels; with
# gap_before_final_norm=False each is a normalised (B, C, H, W) map, so no
# adapter is needed.
_base_ = [
    '../../../configs/repformer/300w/'
    'repformer_res18_1xb16-360e_300w-256x256.py'
]

# repformer_mmpose first: it lets mmcv-lite import mmpretrain's modules
custom_imports = dict(
    imports=['repformer_mmpose', 'mmpretrain.models'],
    allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ConvNeXt',
        arch='tiny',
        out_indices=(1, 2, 3),
        gap_before_final_norm=False,
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'convnext/convnext-tiny_32xb128_in1k_20221207-998cf3e9.pth')),
    neck=dict(in_channels=[192, 384, 768], in_indices=(0, 1, 2)))

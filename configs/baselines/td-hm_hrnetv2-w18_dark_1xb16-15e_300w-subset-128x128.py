# HRNetV2-W18 with DARK (distribution-aware heatmap encoding and decoding:
# unbiased Gaussian targets, Taylor-expansion sub-pixel decoding), MMPose's
# best face entry (td-hm_hrnetv2-w18_dark-8xb64-60e_wflw-256x256.py: the
# same model, MSRAHeatmap with unbiased=True and sigma 2), trained like
# td-hm_hrnetv2-w18_1xb16-15e_300w-subset-128x128.py.
_base_ = ['./td-hm_hrnetv2-w18_1xb16-15e_300w-subset-128x128.py']

codec = dict(
    type='MSRAHeatmap',
    input_size=(128, 128),
    heatmap_size=(32, 32),
    sigma=2,
    unbiased=True)
model = dict(head=dict(decoder=codec))
train_pipeline = [
    dict(type='LoadFaceImage'),
    dict(type='GetFaceBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal', prob=0.5),
    dict(
        type='RandomShiftRotate',
        input_size=(128, 128),
        max_shift_px=15,
        shift_prob=0.5,
        max_rotate_deg=30,
        rotate_prob=0.5),
    dict(type='TopdownAffine', input_size=(128, 128)),
    dict(type='RandomOcclusion', prob=0.5, max_size_ratio=0.4),
    dict(type='RandomGaussianBlur', prob=0.3, max_sigma=2.5),
    dict(type='RandomGrayscale', prob=0.2),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

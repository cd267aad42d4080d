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
train_pipeline = _base_.train_augmentation + [
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

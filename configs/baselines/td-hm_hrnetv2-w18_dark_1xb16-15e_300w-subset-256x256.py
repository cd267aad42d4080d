# td-hm_hrnetv2-w18_1xb16-15e_300w-subset-256x256.py with DARK (unbiased
# encoding and decoding, sigma 2), as
# td-hm_hrnetv2-w18_dark_1xb16-15e_300w-subset-128x128.py at 128 px. Test a
# checkpoint of the MSRA config with this one for DARK decoding.
_base_ = ['./td-hm_hrnetv2-w18_1xb16-15e_300w-subset-256x256.py']

codec = dict(
    type='MSRAHeatmap',
    input_size=(256, 256),
    heatmap_size=(64, 64),
    sigma=2,
    unbiased=True)
model = dict(head=dict(decoder=codec))
train_pipeline = _base_.train_augmentation + [
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

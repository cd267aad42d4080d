# td-hm_hrnetv2-w18_1xb16-15e_300w-subset-128x128.py at 256x256 input (MMPose's
# own size for this model: heatmaps 64x64, sigma 1.5), with the training
# augmentation at 256 px of RePFormer's 256 px runs
# (configs/repformer/300w/refinement/*-256x256.py). Random init.
_base_ = ['./td-hm_hrnetv2-w18_1xb16-15e_300w-subset-128x128.py']

input_size = (256, 256)
codec = dict(
    type='MSRAHeatmap', input_size=input_size, heatmap_size=(64, 64),
    sigma=1.5)
model = dict(head=dict(decoder=codec))

train_pipeline = [
    dict(type='LoadFaceImage'),
    dict(type='GetFaceBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal', prob=0.5),
    dict(type='RandomShiftRotate', input_size=input_size, max_shift_px=30,
         shift_prob=0.5, max_rotate_deg=30, rotate_prob=0.5),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='RandomOcclusion', prob=0.5, max_size_ratio=0.4),
    dict(type='RandomGaussianBlur', prob=0.3, max_sigma=5.0),
    dict(type='RandomLumaGrayscale', prob=0.2),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadFaceImage'),
    dict(type='GetFaceBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    _base_.val_pipeline[-1],  # PackPoseInputs with the metric's meta keys
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader

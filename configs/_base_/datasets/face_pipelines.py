# The paper's augmentation, which follows PIPNet (Jin et al. 2021), with
# PIPNet's probabilities: flip 0.5 (dataset flip pairs), shift up to +-30 px
# 0.5, rotation up to +-30 deg 0.5, one occluding rectangle up to 0.4 x 0.4
# of the crop 0.5, Gaussian blur 0.3, greyscale 0.2.
#
# Crop box: MMPose's (the annotation's center/scale, padded x1.25 by
# GetBBoxCenterScale), so MMPose's own annotation files work unchanged.
input_size = (256, 256)
codec = dict(type='DLRLabel', input_size=input_size)

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal', prob=0.5),
    dict(
        type='RandomShiftRotate',
        input_size=input_size,
        max_shift_px=30,
        shift_prob=0.5,
        max_rotate_deg=30,
        rotate_prob=0.5),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='RandomOcclusion', prob=0.5, max_size_ratio=0.4),
    dict(type='RandomGaussianBlur', prob=0.3, max_sigma=5.0),
    dict(type='RandomGrayscale', prob=0.2),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs')
]

# The paper's augmentation, which follows PIPNet (Jin et al. 2021), with
# PIPNet's probabilities: flip 0.5 (dataset flip pairs), shift up to +-30 px
# 0.5, rotation up to +-30 deg 0.5, one occluding rectangle up to 0.4 x 0.4
# of the crop 0.5, Gaussian blur 0.3, greyscale 0.2.
#
# Crop box: MMPose's (the annotation's center/scale, padded x1.25 by
# GetBBoxCenterScale), so MMPose's own annotation files work unchanged.
input_size = (256, 256)
codec = dict(type='DLRLabel', input_size=input_size)

# the steps before the codec, shared with the baselines of configs/baselines/
# (each ends it with its own codec's GenerateTarget)
train_augmentation = [
    dict(type='LoadFaceImage'),
    dict(type='GetFaceBBoxCenterScale'),
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
    dict(type='RandomLumaGrayscale', prob=0.2),
]
train_pipeline = train_augmentation + [
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadFaceImage'),
    dict(type='GetFaceBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    dict(
        type='PackPoseInputs',
        # MMPose's default meta keys + the record's box_size (AFLW): the
        # NME normaliser of prior work, read by FaceLandmarkMetric
        meta_keys=('id', 'img_id', 'img_path', 'category_id', 'crowd_index',
                   'ori_shape', 'img_shape', 'input_size', 'input_center',
                   'input_scale', 'flip', 'flip_direction', 'flip_indices',
                   'raw_ann_info', 'dataset_name', 'box_size'))
]

# Data loaders and metric shared by the face data sets; each data set's
# base file (face_300w.py, face_wflw.py, ...) sets its class, root,
# annotation files and, where it differs, the NME normalisation. The
# classes are MMPose's face datasets with every record checked at load time
# (repformer_mmpose/datasets/face_datasets.py); MMPose's own annotation
# files work unchanged.
#
# Crop box: MMPose's (the file's center/scale, or bbox for COFW, padded
# x1.25 by GetFaceBBoxCenterScale). For the paper's (PIPNet's) crop, with
# files from our converters, inherit the data set's face_<name>_paper-crop.py
# instead of face_<name>.py.
dataset_type = 'RePFormer300WDataset'
data_mode = 'topdown'
data_root = 'data/300w/'

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/face_landmarks_300w_train.json',
        data_prefix=dict(img='images/'),
        pipeline=train_pipeline,
    ))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/face_landmarks_300w_valid.json',
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=val_pipeline,
    ))
test_dataloader = val_dataloader

# NME (equal to MMPose's NME: inter-ocular, the outer eye corners MMPose
# uses for the data set), FR@0.10 and AUC@0.10, per subset and per
# refinement stage where available: see FaceLandmarkMetric.
val_evaluator = dict(type='FaceLandmarkMetric', norm_mode='keypoint_distance')
test_evaluator = val_evaluator

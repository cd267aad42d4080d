# RePFormer-R18 on your own landmark scheme: any number of points, your
# flip pairs, missing points allowed (README.md here walks through it).
# 1. Convert your folder of images + CSV/JSON annotation:
#      python tools/dataset_converters/custom2coco.py --root data/custom \
#          --ann train.csv test.csv --layout layout.yaml
# 2. Set the three values below to what the converter printed.
# Recipe: the paper's (Sec. 4.1: ImageNet-pretrained ResNet-18, 256x256,
# Adam 1e-4 without weight decay, batch 16, PIPNet's augmentation) on a
# schedule shortened for small custom sets: 60 epochs, lr x0.1 after 40.
_base_ = [
    '../../_base_/models/repformer_res18.py',
    '../../_base_/schedules/adam_1xb16-360e.py',
    '../../_base_/datasets/face_topdown.py',
]

# ---- change these three ------------------------------------------------
data_root = 'data/custom/'  # the converter's --root
num_keypoints = 20  # points per face in your annotation
metainfo = dict(from_file=data_root + 'annotations/metainfo.py')
# -------------------------------------------------------------------------

# Any N-point COCO-style face set, its records checked at load time against
# the metainfo; the boxes of custom2coco.py's files (tight landmark boxes,
# padded x1.25 by GetBBoxCenterScale) crop the faces.
dataset_type = 'FaceLandmarkDataset'
input_size = (256, 256)
codec = dict(type='DLRLabel', input_size=input_size)

model = dict(head=dict(num_keypoints=num_keypoints, decoder=codec))

# The augmentation of _base_/datasets/face_topdown.py (PIPNet's), after a
# check that the annotation and metainfo have num_keypoints points.
train_pipeline = [
    dict(type='LoadFaceImage'),
    dict(type='CheckNumKeypoints', num_keypoints=num_keypoints),
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
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadFaceImage'),
    dict(type='CheckNumKeypoints', num_keypoints=num_keypoints),
    dict(type='GetFaceBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs')
]

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/train.json',
        data_prefix=dict(img='images/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/test.json',
        data_prefix=dict(img='images/'),
        pipeline=val_pipeline))
test_dataloader = val_dataloader

# NME normalised by the face box (the longer side of the landmark box):
# defined for any scheme. Points missing from an annotation (visibility 0)
# are left out of it. For the inter-ocular NME of the literature, use the
# two points custom2coco.py --norm-points printed:
#   val_evaluator = dict(type='FaceLandmarkMetric',
#                        norm_mode='keypoint_distance',
#                        keypoint_indices=[i, j])
val_evaluator = dict(type='FaceLandmarkMetric', norm_mode='use_norm_item',
                     norm_item='bbox_size')
test_evaluator = val_evaluator

max_epochs = 60
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        milestones=[40],
        gamma=0.1,
        by_epoch=True)
]

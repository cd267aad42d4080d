# The face top-down data settings at 128x128 input, the CPU-sized setting
# of the main job and of the from-scratch 300W-subset runs. The
# augmentation is the paper's (PIPNet's), with the pixel sizes scaled to the
# input (shift 15 px, blur sigma up to 2.5 at 128 = 30 px, 5 at 256).
_base_ = ['./face_topdown.py']

input_size = (128, 128)
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
        max_shift_px=15,
        shift_prob=0.5,
        max_rotate_deg=30,
        rotate_prob=0.5),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='RandomOcclusion', prob=0.5, max_size_ratio=0.4),
    dict(type='RandomGaussianBlur', prob=0.3, max_sigma=2.5),
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

# Loading a batch costs ~20 ms against ~650 ms of compute on 2 cores, so the
# loader runs in the main process and both cores go to torch.
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader

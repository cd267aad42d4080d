# COFW: inter-ocular NME (outer eye corners 8/9), as MMPose.
_base_ = ['./face_pipelines.py']

dataset_type = 'COFWDataset'
data_mode = 'topdown'
data_root = 'data/cofw/'

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/cofw_train.json',
        data_prefix=dict(img='images/'),
        pipeline={{_base_.train_pipeline}},
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
        ann_file='annotations/cofw_test.json',
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline={{_base_.val_pipeline}},
    ))
test_dataloader = val_dataloader

val_evaluator = dict(type='NME', norm_mode='keypoint_distance')
test_evaluator = val_evaluator

# AFLW (19 points): NME normalised by the face box size, as MMPose.
_base_ = ['./face_topdown.py']

dataset_type = 'AFLWDataset'
data_root = 'data/aflw/'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/face_landmarks_aflw_train.json'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/face_landmarks_aflw_test.json'))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='NME', norm_mode='use_norm_item', norm_item='bbox_size')
test_evaluator = val_evaluator

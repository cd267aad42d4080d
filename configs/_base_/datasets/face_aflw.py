# AFLW (19 points): NME normalised by the face box size.
_base_ = ['./face_topdown.py']

dataset_type = 'RePFormerAFLWDataset'
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

# Prior work's (HRNet's, PIPNet's, the paper's) normaliser: the record's
# box_size; records without one fall back to MMPose 1.x's box side.
val_evaluator = dict(type='FaceLandmarkMetric', norm_mode='box_size')
test_evaluator = val_evaluator

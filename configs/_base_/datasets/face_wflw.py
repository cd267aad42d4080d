# WFLW (98 points): inter-ocular NME, outer eye corners 60/72, as MMPose.
_base_ = ['./face_topdown.py']

dataset_type = 'RePFormerWFLWDataset'
data_root = 'data/wflw/'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/face_landmarks_wflw_train.json'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/face_landmarks_wflw_test.json'))
test_dataloader = val_dataloader

# 300W (68 points): inter-ocular NME, outer eye corners 36/45, as MMPose.
_base_ = ['./face_topdown.py']

dataset_type = 'RePFormer300WDataset'
data_root = 'data/300w/'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/face_landmarks_300w_train.json'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/face_landmarks_300w_valid.json'))
test_dataloader = val_dataloader

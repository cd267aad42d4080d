# COFW (29 points): inter-ocular NME, outer eye corners 8/9, as MMPose.
_base_ = ['./face_topdown.py']

dataset_type = 'RePFormerCOFWDataset'
data_root = 'data/cofw/'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/cofw_train.json'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/cofw_test.json'))
test_dataloader = val_dataloader

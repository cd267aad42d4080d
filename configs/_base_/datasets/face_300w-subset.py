# 300W-subset: real 300W faces in MMPose's 300W layout, 2 012 training
# faces (AFW + part of HELEN/LFPW train) and the complete 554-face common
# test set. Research-only data, not shipped: point data_root at your copy
# (--cfg-options train_dataloader.dataset.data_root=... and the same for
# val/test, or tools/main_job.py --data-root ...).
# Figures on it are "300W common, trained from scratch on 2 012 faces",
# never 300W full results.
_base_ = ['./face_topdown-128x128.py']

dataset_type = 'RePFormer300WDataset'
data_root = '../shared/data/300w-subset/'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, ann_file='train.json'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, ann_file='test_common.json'))
test_dataloader = val_dataloader

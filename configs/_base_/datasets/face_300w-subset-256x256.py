# 300W-subset (face_300w-subset.py) at the paper's 256x256 input, with the
# augmentation's pixel sizes at 256 px (face_topdown.py); the loader runs in
# the main process, as at 128 px. Research-only data, not shipped.
_base_ = ['./face_300w.py']

data_root = '../shared/data/300w-subset/'
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, ann_file='train.json'))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, ann_file='test_common.json'))
test_dataloader = val_dataloader

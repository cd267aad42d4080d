# 300w, cropped with the paper's protocol box (it follows PIPNet), which our
# converters (tools/dataset_converters/300w2coco.py) store in each record's
# `crop_bbox`. The box already holds its margin, so it is not padded again
# (bbox_padding=1.0, read by GetFaceBBoxCenterScale). MMPose's own
# annotation files have no `crop_bbox`: with them the data set stops at the
# first record and names the missing field.
_base_ = ['./face_300w.py']

crop = dict(bbox_field='crop_bbox', bbox_padding=1.0)
train_dataloader = dict(dataset=crop)
val_dataloader = dict(dataset=crop)
test_dataloader = val_dataloader

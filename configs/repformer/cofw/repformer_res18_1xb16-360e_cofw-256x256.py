_base_ = [
    '../../_base_/models/repformer_res18.py',
    '../../_base_/schedules/adam_1xb16-360e.py',
    '../../_base_/datasets/face_cofw.py',
]

model = dict(head=dict(num_keypoints=29))

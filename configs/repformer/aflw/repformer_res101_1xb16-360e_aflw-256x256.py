_base_ = [
    '../../_base_/models/repformer_res101.py',
    '../../_base_/schedules/adam_1xb16-360e.py',
    '../../_base_/datasets/face_aflw.py',
]

model = dict(head=dict(num_keypoints=19))

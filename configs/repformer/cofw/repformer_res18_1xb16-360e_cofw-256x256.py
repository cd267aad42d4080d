_base_ = [
    '../../_base_/models/repformer_res18.py',
    '../../_base_/schedules/adam_1xb16-360e.py',
    '../../_base_/datasets/face_cofw.py',
    # Crop: MMPose's box, so MMPose's annotation files work. For the
    # paper's (PIPNet's) crop, with files from our converters, use
    # '../../_base_/datasets/face_cofw_paper-crop.py' instead.
]

model = dict(head=dict(num_keypoints=29))

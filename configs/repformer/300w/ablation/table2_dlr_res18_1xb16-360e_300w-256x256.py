# Table 2, row 3: + DLR on the last-stage memory only (no pyramid).
_base_ = ['../repformer_res18_1xb16-360e_300w-256x256.py']

model = dict(
    neck=dict(in_indices=(3, )),
    head=dict(use_pyramid=False, use_dlr=True))

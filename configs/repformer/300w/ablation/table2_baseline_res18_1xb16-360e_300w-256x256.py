# Table 2, row 1: a 3-stage transformer head on the backbone's last stage
# only, learned landmark embeddings, absolute coordinates per stage.
_base_ = ['../repformer_res18_1xb16-360e_300w-256x256.py']

model = dict(
    neck=dict(in_indices=(3, )),
    head=dict(use_pyramid=False, use_dlr=False))

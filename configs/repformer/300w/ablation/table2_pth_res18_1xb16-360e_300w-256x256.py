# Table 2, row 2: + PTH (pyramid memories, stage i reads v_{M-i+1}).
_base_ = ['../repformer_res18_1xb16-360e_300w-256x256.py']

model = dict(head=dict(use_pyramid=True, use_dlr=False))

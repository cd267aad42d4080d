# Table 3: temperature tau = 10000 of the aggregated queries (Eq. 10).
_base_ = ['../repformer_res18_1xb16-360e_300w-256x256.py']

model = dict(head=dict(tau=10000.))

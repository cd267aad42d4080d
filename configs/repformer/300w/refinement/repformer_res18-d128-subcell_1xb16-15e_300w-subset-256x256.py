# The 256 px run with the sub-cell offset (beyond the paper; the option the
# 128 px runs chose, docs/results.md "Refinement").
_base_ = ['./repformer_res18-d128_1xb16-15e_300w-subset-256x256.py']

model = dict(head=dict(subcell_offset=True))

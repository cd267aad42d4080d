# RePFormer-R50 on aflw with the refinement option chosen on 300W-subset
# (docs/results.md, "Refinement"): beyond the paper, a projection of the
# landmark's sub-cell offset is added to each stage's aggregated query. All
# else is the paper recipe of the file below.
_base_ = ['./repformer_res50_1xb16-360e_aflw-256x256.py']

model = dict(head=dict(subcell_offset=True))

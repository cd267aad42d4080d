# RePFormer-R18 sized for CPU training from scratch: 128x128 input, d_model
# 128 (4 heads, FFN 512), random init (nothing to download). Architecture,
# loss and tau (1000) are the paper's.
_base_ = ['./repformer_res18.py']

embed_dims = 128
model = dict(
    backbone=dict(init_cfg=None),
    neck=dict(embed_dims=embed_dims, num_heads=4, ffn_dims=4 * embed_dims),
    head=dict(
        embed_dims=embed_dims,
        num_heads=4,
        ffn_dims=4 * embed_dims,
        predictor_dims=embed_dims,
        initial_memory_size=(4, 4),  # 128 / 32
        decoder=dict(input_size=(128, 128))))

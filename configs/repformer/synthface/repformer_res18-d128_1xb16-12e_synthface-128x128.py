# The main job's model: RePFormer-R18 trained from scratch on SynthFace in a
# CPU-sized budget (about 12 minutes on 2 cores). What differs from the
# paper's recipe, and why: 128x128 input and d_model 128 (4 heads, FFN 512)
# to fit the budget; random init (no download needed); lr 1e-3 with a
# cosine decay, since 12 epochs from scratch need a larger step than 360
# epochs from ImageNet weights. Architecture, loss, tau and augmentation
# are the paper's.
_base_ = [
    '../../_base_/models/repformer_res18.py',
    '../../_base_/schedules/adam_1xb16-360e.py',
    '../../_base_/datasets/synthface.py',
]

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01,
         by_epoch=False),
    dict(
        type='CosineAnnealingLR',
        begin=0,
        end=max_epochs,
        T_max=max_epochs,
        eta_min=1e-5,
        by_epoch=True)
]

embed_dims = 128
model = dict(
    backbone=dict(init_cfg=None),
    neck=dict(embed_dims=embed_dims, num_heads=4, ffn_dims=4 * embed_dims),
    head=dict(
        num_keypoints=68,
        embed_dims=embed_dims,
        num_heads=4,
        ffn_dims=4 * embed_dims,
        predictor_dims=embed_dims,
        initial_memory_size=(4, 4),
        decoder=dict(input_size=(128, 128))),
    test_cfg=dict(flip_test=True))

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_epochs, save_best=None, max_keep_ckpts=1))

# The paper's recipe (Sec. 4.1): Adam (0.9, 0.999) without weight decay,
# lr 1e-4, x0.1 after epoch 200, 360 epochs, batch 16.
_base_ = ['../default_runtime.py']

train_cfg = dict(by_epoch=True, max_epochs=360, val_interval=10)

# The standard wrapper, so MMPose's tools/train.py --amp accepts it; a NaN/inf
# loss or gradient stops training with the iteration named and no update
# applied: NonFiniteLossHook (../default_runtime.py) guards this wrapper.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='Adam', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.))

param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=360,
        milestones=[200],
        gamma=0.1,
        by_epoch=True)
]

auto_scale_lr = dict(base_batch_size=16)

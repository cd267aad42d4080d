# Short from-scratch schedule for CPU runs: Adam (0.9, 0.999) without
# weight decay as in the paper, but lr 1e-3 with 100 warm-up iterations and
# a cosine decay over 30 epochs, since a few tens of epochs from random init
# need a larger step than the paper's 360 epochs from ImageNet weights.
# A config that changes max_epochs sets the cosine's end and T_max too.
_base_ = ['./adam_1xb16-360e.py']

max_epochs = 30
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01,
         by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs,
         T_max=max_epochs, eta_min=1e-5, by_epoch=True)
]

# adam-cosine_from-scratch.py over 15 epochs (the 300W-subset runs):
# validation every 5 epochs, the cosine ending with the last epoch.
_base_ = ['./adam-cosine_from-scratch.py']

max_epochs = 15
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01,
         by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs,
         T_max=max_epochs, eta_min=1e-5, by_epoch=True)
]

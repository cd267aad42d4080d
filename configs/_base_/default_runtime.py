# MMPose's runtime (hooks, visualiser, logging) plus the plugin import, so
# MMPose's own tools/train.py and tools/test.py work with these configs.
_base_ = ['mmpose::_base_/default_runtime.py']

custom_imports = dict(imports=['repformer_mmpose'], allow_failed_imports=False)

# SafeCheckpointHook: mmengine's CheckpointHook, but an outdated checkpoint
# is removed only after the new one is written (mmengine removes first).
default_hooks = dict(
    checkpoint=dict(
        type='SafeCheckpointHook',
        save_best='NME',
        rule='less',
        max_keep_ckpts=3))

# MMPose's SyncBuffersHook; NonFiniteLossHook: a NaN/inf loss or gradient
# never reaches the weights of the standard OptimWrapper (action='stop' stops
# naming the iteration, 'skip' skips and counts such steps; under AMP the
# loss scale is left in charge);
# CheckpointGuardHook: a checkpoint to load or resume must exist and fit the
# model, and temporaries of a killed save are removed; EpochSeedHook: every
# epoch is seeded from (seed, epoch), so a resumed run repeats the random
# augmentation and dropout of an uninterrupted one; ModelConsistencyHook:
# neck and head embed_dims, the input size (a multiple of 32) and every
# pipeline input_size must agree with the head's codec, checked before the
# run starts (one line naming the config keys).
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='NonFiniteLossHook', action='stop'),
    dict(type='CheckpointGuardHook'),
    dict(type='EpochSeedHook'),
    dict(type='ModelConsistencyHook'),
]

# Seed 0 (the figures in docs): with a fixed seed, --resume repeats the
# uninterrupted run bit for bit on CPU (mmengine builds the sampler from the
# run's own seed before a resumed checkpoint is read).
randomness = dict(seed=0)

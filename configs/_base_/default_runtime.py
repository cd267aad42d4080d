# MMPose's runtime (hooks, visualiser, logging) plus the plugin import, so
# MMPose's own tools/train.py and tools/test.py work with these configs.
_base_ = ['mmpose::_base_/default_runtime.py']

custom_imports = dict(imports=['repformer_mmpose'], allow_failed_imports=False)

default_hooks = dict(
    checkpoint=dict(save_best='NME', rule='less', max_keep_ckpts=3))

# MMPose's SyncBuffersHook, and the report of NaN/inf steps withheld by
# FiniteLossOptimWrapper (it names the iteration; see the schedules).
custom_hooks = [dict(type='SyncBuffersHook'), dict(type='NonFiniteLossHook')]

"""Check that a RePFormer's parts agree before a Runner uses them.

:class:`ModelConsistencyHook` runs
:func:`repformer_mmpose.models.consistency.check_model` and
:func:`~repformer_mmpose.models.consistency.check_pipelines` in
``before_run``: after the Runner built the model and the loops it runs,
before any weight is loaded or any batch is drawn. It is in the configs'
``custom_hooks``, so MMPose's own ``tools/train.py`` and ``tools/test.py``
run it as ours do. Only the pipelines of the loops that run are checked
(a test does not need the training pipeline to match). Models without a
``PTHHead`` pass unchecked.
"""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop
from mmpose.registry import HOOKS

from ...models.consistency import check_model, check_pipelines

#: The Runner's loop attributes and the data loaders they read.
_LOOPS = (('_train_loop', 'train_dataloader'),
          ('_val_loop', 'val_dataloader'),
          ('_test_loop', 'test_dataloader'))


@HOOKS.register_module()
class ModelConsistencyHook(Hook):
    """Raise ``ModelConfigError`` (one line naming the config keys) when
    the neck's and the head's ``embed_dims`` differ, when the input size
    is not a multiple of the backbone's total stride (32), or when a
    pipeline's ``input_size`` differs from the head's codec. No
    arguments."""

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        check_model(model)
        loaders = [loader for attribute, loader in _LOOPS
                   if isinstance(getattr(runner, attribute, None), BaseLoop)]
        check_pipelines(runner.cfg, model, loaders)

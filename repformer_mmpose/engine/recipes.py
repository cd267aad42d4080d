"""Config changes behind the training tools' speed flags (``--amp``,
``--channels-last``), shared by ``tools/train.py`` and
``tools/analysis/timed_training.py``."""
from __future__ import annotations

from mmengine.config import Config


def accelerator_available() -> bool:
    """Whether mmengine runs on a device its ``AmpOptimWrapper`` takes."""
    from mmengine.device import get_device
    return get_device() != 'cpu'


def use_amp(cfg: Config, dtype: str | None = None) -> None:
    """Mixed precision: mmengine's ``AmpOptimWrapper`` (dynamic loss scale;
    ``dtype`` 'float16' or 'bfloat16', mmengine's default if None) on a
    GPU; without one, ``BF16AutocastOptimWrapper`` (bf16 autocast, no loss
    scaler), which mmengine's wrapper refuses to do.

    ``AmpOptimWrapper``'s scale skips inf/NaN steps itself, so
    ``NonFiniteLossHook`` leaves it alone; the bf16 wrapper keeps the
    hook's guard.
    """
    wrapper = cfg.optim_wrapper
    if accelerator_available():
        wrapper.type = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')
        if dtype is not None:
            wrapper.dtype = dtype
    else:
        if dtype not in (None, 'bfloat16'):
            raise ValueError(f'mixed precision on CPU is bf16 only, got '
                             f'{dtype}')
        wrapper.type = 'BF16AutocastOptimWrapper'
        wrapper.pop('loss_scale', None)
        wrapper.pop('dtype', None)


def use_channels_last(cfg: Config) -> None:
    """Add ``ChannelsLastHook`` to the config's custom hooks (once)."""
    hooks = list(cfg.get('custom_hooks', []))
    if not any(hook.get('type') == 'ChannelsLastHook' for hook in hooks):
        hooks.append(dict(type='ChannelsLastHook'))
    cfg.custom_hooks = hooks

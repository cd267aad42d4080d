"""Training hooks of the plugin."""
from .channels_last import ChannelsLastHook, to_channels_last
from .checkpoint_guard import CheckpointGuardHook, add_checkpoint_guard
from .checkpoint_rotation import SafeCheckpointHook
from .epoch_seed import EpochSeedHook, EpochWorkerInit, seed_everything
from .model_consistency import ModelConsistencyHook
from .non_finite_loss import NonFiniteLossHook

__all__ = [
    'ChannelsLastHook', 'CheckpointGuardHook', 'to_channels_last',
    'EpochSeedHook', 'EpochWorkerInit',
    'ModelConsistencyHook',
    'NonFiniteLossHook', 'SafeCheckpointHook', 'add_checkpoint_guard',
    'seed_everything'
]

"""The non-finite loss guard (installed on any ``OptimWrapper`` by
``NonFiniteLossHook``) and mixed precision on CPUs."""
from .bf16_autocast_optim_wrapper import (BF16AutocastOptimWrapper,
                                          allow_bf16_to_numpy)
from .finite_loss_guard import (FiniteLossGuard, NonFiniteFault,
                                NonFiniteLossError, finite_loss_guard,
                                install_finite_loss_guard)

__all__ = [
    'BF16AutocastOptimWrapper', 'allow_bf16_to_numpy', 'FiniteLossGuard',
    'NonFiniteFault', 'NonFiniteLossError', 'finite_loss_guard',
    'install_finite_loss_guard'
]

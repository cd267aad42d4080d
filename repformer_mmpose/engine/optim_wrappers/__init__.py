"""Optimizer wrappers of the plugin."""
from .finite_loss_optim_wrapper import (FiniteLossOptimWrapper,
                                        NonFiniteFault, NonFiniteLossError)

__all__ = ['FiniteLossOptimWrapper', 'NonFiniteFault', 'NonFiniteLossError']

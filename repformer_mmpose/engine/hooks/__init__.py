"""Training hooks of the plugin."""
from .non_finite_loss import NonFiniteLossHook

__all__ = ['NonFiniteLossHook']

from .dlr_label import DLRLabel

__all__ = ['DLRLabel']

"""Argument checks shared by the RePFormer augmentation transforms."""
import math
from collections.abc import Callable
from numbers import Real


def _check_real(name: str, value: float, valid: Callable[[float], bool],
                what: str) -> float:
    """``value`` as a float; ``ValueError`` unless it is a real number (not
    a bool) for which ``valid`` holds."""
    if (not isinstance(value, Real) or isinstance(value, bool)
            or not valid(float(value))):
        raise ValueError(f'{name} must be {what}, got {value!r}')
    return float(value)


def check_prob(name: str, value: float) -> float:
    """``value`` as a float; ``ValueError`` unless it lies in ``[0, 1]``."""
    return _check_real(name, value, lambda v: 0.0 <= v <= 1.0,
                       'a probability in [0, 1]')


def check_non_negative(name: str, value: float) -> float:
    """``value`` as a float; ``ValueError`` unless finite and ``>= 0``."""
    return _check_real(name, value, lambda v: math.isfinite(v) and v >= 0,
                       'a finite number >= 0')

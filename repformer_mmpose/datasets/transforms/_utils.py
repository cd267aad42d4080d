"""Argument checks shared by the RePFormer augmentation transforms."""
import math
from numbers import Real


def check_prob(name: str, value: float) -> float:
    """Return ``value`` as float if it is a probability, else raise.

    Args:
        name (str): Argument name, used in the error message.
        value (float): The value to check; must lie in ``[0, 1]``.

    Returns:
        float: ``value`` converted to ``float``.

    Raises:
        ValueError: If ``value`` is not a real number in ``[0, 1]``.
    """
    if (not isinstance(value, Real) or isinstance(value, bool)
            or not 0.0 <= float(value) <= 1.0):
        raise ValueError(f'{name} must be a probability in [0, 1], '
                         f'got {value!r}')
    return float(value)


def check_non_negative(name: str, value: float) -> float:
    """Return ``value`` as float if it is finite and ``>= 0``, else raise.

    Args:
        name (str): Argument name, used in the error message.
        value (float): The value to check.

    Returns:
        float: ``value`` converted to ``float``.

    Raises:
        ValueError: If ``value`` is not a finite real number ``>= 0``.
    """
    if (not isinstance(value, Real) or isinstance(value, bool)
            or not math.isfinite(float(value)) or float(value) < 0):
        raise ValueError(f'{name} must be a finite number >= 0, '
                         f'got {value!r}')
    return float(value)

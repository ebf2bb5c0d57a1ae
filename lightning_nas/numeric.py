"""Whether a value is a real number or a whole one, never a bool (``True`` is an ``int`` to
Python, but no setting, bound or count the package checks takes it for ``1``).

Plain data, standard library only: every layer may import it. The checks are exact: an
``int`` or a ``float`` (a subclass too, so NumPy's ``float64``, a ``float``, passes
``is_number``; NumPy's integers, no ``int``, pass neither). Checks that take NumPy's scalars
on purpose use ``numbers.Real`` / ``numbers.Integral`` (``errors.check_number``).

``plain_bool`` turns NumPy's bool into Python's (for the flags that take one).

Example:
    >>> is_number(0.5), is_number(3), is_number(True), is_number("3")
    (True, True, False, False)
    >>> is_int(3), is_int(3.0), is_int(False)
    (True, False, False)
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_int", "is_number", "plain_bool"]


def is_number(value: Any) -> bool:
    """Whether ``value`` is an ``int`` or a ``float``, never a ``bool``.

    Example:
        >>> [is_number(v) for v in (1, -2.5, float("nan"), True, None, "1")]
        [True, True, True, False, False, False]
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    """Whether ``value`` is an ``int``, never a ``bool``.

    Example:
        >>> [is_int(v) for v in (0, -3, 2**70, 1.0, False, None, "1")]
        [True, True, True, False, False, False, False]
    """
    return isinstance(value, int) and not isinstance(value, bool)


def plain_bool(value: Any) -> Any:
    """``value`` as Python's ``bool`` where it is NumPy's (``np.bool_``, which is no
    ``bool``: a flag read from an array was refused), else ``value`` unchanged (checked by
    the caller; NumPy's integers stay what they are: 1 is no flag).

    Example:
        >>> import numpy as np
        >>> plain_bool(np.bool_(True)), plain_bool(np.int64(1)), plain_bool("auto")
        (True, np.int64(1), 'auto')
    """
    kind = type(value)  # without importing NumPy: this module is the standard library's
    if kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"):
        return bool(value)
    return value

"""The checks of a scheduler rule's constructor arguments, made when the rule is built:
whole numbers (``whole_numbers``), lower bounds (``check_at_least``), its ``mode``
(``check_rule_mode``) and ASHA's first rung not after its last (``check_rung_order``), each
refusal naming the rule's class, the argument and its valid values.

Example:
    >>> class MedianRule:  # any object: its class names it
    ...     pass
    >>> whole_numbers(MedianRule(), min_epochs=2, min_trials=3)
    [2, 3]
    >>> check_rule_mode(MedianRule(), "maxx")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: MedianRule's mode must be 'max' or 'min' ...
"""

from __future__ import annotations

import math
import numbers

from lightning_nas.errors import MODES, ConfigError, mode_said

__all__ = ["check_at_least", "check_rule_mode", "check_rung_order", "whole_numbers"]


def check_rule_mode(rule: object, mode: str) -> None:
    """Refuse a ``mode`` of ``rule`` other than ``"max"`` or ``"min"``, named as the rule's
    (was: "`mode` can be max, min"; then no did-you-mean, as ``check_mode``'s).

    Example:
        >>> check_rule_mode(object(), "min")
    """
    if mode not in MODES:
        raise ConfigError(f"{type(rule).__name__}'s mode must be 'max' or 'min' (which "
                          f"values are better), got {mode!r}{mode_said(mode, MODES)}")


def whole_numbers(rule: object, **values: object) -> list[int]:
    """``values`` as ints, each a whole number (NumPy's too; not a bool): epochs are counted
    whole, so a rung at 1.5 epochs would never be reached (was: accepted, and such a rule
    judged no trial there, silently; ``None`` or a string raised Python's ``TypeError``).

    Example:
        >>> from lightning_nas.search.schedulers import MedianRule
        >>> whole_numbers(MedianRule(), min_epochs=2, min_trials=1.5)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: MedianRule's min_trials must be a whole number, ...
    """
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            real = isinstance(value, numbers.Real) and not isinstance(value, bool) and \
                math.isfinite(value)
            hint = f"; build it with {name}={max(1, round(value))}" if real else ""
            raise ConfigError(f"{type(rule).__name__}'s {name} must be a whole number, got "
                              f"{value!r}{hint}")
    return [int(value) for value in values.values()]  # type: ignore[call-overload]


def check_at_least(rule: object, low: int, **values: tuple[int, str]) -> None:
    """Refuse a setting of ``rule`` below ``low``, naming it, what it is and its valid
    values, as the search's settings name theirs (``values``: name -> (value, what)).

    Example:
        >>> from lightning_nas.search.schedulers import MedianRule
        >>> check_at_least(MedianRule(), 1, min_trials=(0, "the other trials it compares"))
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: MedianRule's min_trials must be a positive ...
    """
    for name, (value, what) in values.items():
        if value < low:
            kind = "a positive integer" if low == 1 else f"an integer >= {low}"
            raise ConfigError(f"{type(rule).__name__}'s {name} must be {kind} ({what}), got "
                              f"{value!r}")


def check_rung_order(rule: object, min_epochs: int, max_epochs: int) -> None:
    """Refuse a first rung (``min_epochs``) after the last (``max_epochs``), as the settings
    say it (was: "need 1 <= min_epochs <= max_epochs and eta >= 2, got ...", naming neither
    the rule nor the argument).

    Example:
        >>> from lightning_nas.search.schedulers import ASHARule
        >>> check_rung_order(ASHARule(), 3, 2)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: ASHARule's min_epochs=3 is above its max_epochs=2: ...
    """
    if max_epochs < min_epochs:
        raise ConfigError(f"{type(rule).__name__}'s min_epochs={min_epochs} is above its "
                          f"max_epochs={max_epochs}: its first rung would come after its "
                          f"last, so it would never stop a trial before its end; build it "
                          f"with min_epochs below max_epochs")

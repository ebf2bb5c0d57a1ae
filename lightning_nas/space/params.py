"""The kinds of a search space's parameters: ``Choice``, ``Ordered``, ``Int``, ``Float``,
``Fixed``, and how each is read from its YAML mapping (``param_from_dict``).

The choices and the constant are here; the ranges ``Int`` and ``Float`` are in
``space/ranges.py``, the base ``Param`` in ``space/param_base.py`` (both importable from here).

Example:
    >>> Int(16, 128, log=True).to_dict()
    {'int': [16, 128], 'log': True}
    >>> param_from_dict("act", {"choice": ["relu", "gelu"]})
    Choice(['relu', 'gelu'])
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

import nevergrad as ng

from lightning_nas.arch import plain as _plain
from lightning_nas.arch import same_value as _same
from lightning_nas.errors import SpaceError
from lightning_nas.space.param_base import Param, all_distinct, own_copy
from lightning_nas.space.ranges import INT_LIMIT as INT_LIMIT  # re-exported: its old home
from lightning_nas.space.ranges import STEP_LIMIT as STEP_LIMIT
from lightning_nas.space.ranges import WIDEN_LIMIT as WIDEN_LIMIT
from lightning_nas.space.ranges import EqualBounds, Float, Int
from lightning_nas.wording import named

__all__ = ["KINDS", "Choice", "Fixed", "Float", "Int", "Ordered", "Param", "TooManyValues",
           "param_from_dict"]

KINDS = ("choice", "ordered", "int", "float", "fixed")


class TooManyValues(SpaceError):
    """A choice refused for holding more than ``STEP_LIMIT`` values, with the ranges to
    search instead as Python writes them (``param_from_dict`` says them in YAML,
    ``hydra_grammar`` in Hydra's sweep grammar).

    Args:
        refusal: the refusal without a hint (``refusal`` keeps it, for the other syntaxes).
        ranges: the ranges to search instead, in the syntax of the space's source.

    Example:
        >>> err = TooManyValues("`choice` has 1001 values", "{int: [low, high]}")
        >>> err.refusal, "search a range, {int: [low, high]}," in str(err)
        ('`choice` has 1001 values', True)
    """

    def __init__(self, refusal: str,
                 ranges: str = "Int(low, high) or Float(low, high)") -> None:
        super().__init__(f"{refusal}: for numbers search a range, {ranges}, and map it to "
                         f"the value; else keep fewer")
        self.refusal = refusal


class Choice(Param):
    """Unordered categorical choice (nevergrad ``Choice``).

    Args:
        values: the options: a non-empty list (a tuple, a NumPy array: its items) of
            distinct values (no NaN), at most ``STEP_LIMIT`` of them; NumPy scalars and
            tuples among them are kept as the plain JSON values they are (``3``, ``[3, 3]``).

    Example:
        >>> Choice(["relu", "gelu"]).size()
        2
    """

    kind = "choice"
    #: the nevergrad parameter of two values or more
    _choice = ng.p.Choice

    def __init__(self, values: Sequence[Any]) -> None:
        if callable(getattr(values, "tolist", None)) and getattr(values, "ndim", 0) >= 1:
            values = values.tolist()  # a NumPy array's items (was: refused, as no list)
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise SpaceError(f"`{self.kind}` expects a non-empty list of values, got {values!r}")
        self._values = [_plain(v, text_keys=False) for v in values]
        if any(isinstance(v, float) and math.isnan(v) for v in self._values):
            raise SpaceError(f"`{self.kind}` values must not be NaN (it equals no value, not "
                             f"even itself), got {self._values!r}")
        if not all_distinct(self._values):
            raise SpaceError(f"`{self.kind}` values must be distinct, got {self._values!r}")
        if len(self._values) > STEP_LIMIT:  # was: taken; NGOpt took ~15 s a proposal at 10 000
            raise TooManyValues(f"`{self.kind}` has {len(self._values)} values; a choice may "
                                f"have at most {STEP_LIMIT}, as a stepped int (the optimizers "
                                f"list every value)")

    @property
    def values(self) -> list[Any]:
        """The options, in their order: a copy (``own_copy``), changing it changes no option."""
        return own_copy(self._values)

    def size(self) -> float:
        return len(self._values)

    def sample(self, rng: random.Random) -> Any:
        return own_copy(self._values[rng.randrange(len(self._values))])

    def contains(self, value: Any) -> bool:
        return any(_same(_plain(value), v) for v in self._values)

    def describe(self) -> str:
        return f"one of {self._values!r}"

    def to_dict(self) -> dict[str, Any]:
        return {self.kind: self.values}

    def to_nevergrad(self) -> ng.p.Parameter:
        values = self.values
        if len(values) == 1:  # nevergrad's mutations need two values (one crashes NGOpt)
            return ng.p.Constant(values[0])
        return self._choice(values)


class Ordered(Choice):
    """Ordered choice: neighbouring values are alike (nevergrad ``TransitionChoice``).

    Args:
        values: the options, in their order: a non-empty list of distinct values (no NaN),
            at most ``STEP_LIMIT`` of them.

    Example:
        >>> Ordered([1, 2, 4, 8]).describe()
        'one of [1, 2, 4, 8] (ordered)'
    """

    kind = "ordered"
    _choice = ng.p.TransitionChoice

    def describe(self) -> str:
        return super().describe() + " (ordered)"


class Fixed(Param):
    """A constant: part of every architecture, never searched.

    Args:
        value: the constant (not NaN).

    Example:
        >>> Fixed(0.1).size()
        1
    """

    kind = "fixed"

    def __init__(self, value: Any) -> None:
        self._value = _plain(value, text_keys=False)
        if isinstance(self._value, float) and math.isnan(self._value):  # was: refused later,
            # at the first proposal, after the run folder was written
            raise SpaceError(f"`{self.kind}` value must not be NaN (it equals no value, not "
                             f"even itself), got {self._value!r}")

    @property
    def value(self) -> Any:
        """The value: a copy (``own_copy``), so changing it leaves the space's own as it was."""
        return own_copy(self._value)

    def size(self) -> float:
        return 1

    def sample(self, rng: random.Random) -> Any:
        return self.value

    def contains(self, value: Any) -> bool:
        return _same(_plain(value), self._value)

    def describe(self) -> str:
        return f"the fixed value {self._value!r}"

    def to_dict(self) -> dict[str, Any]:
        return {self.kind: self.value}

    def to_nevergrad(self) -> ng.p.Parameter:
        return ng.p.Constant(self.value)


_OPTIONS = {"choice": (), "ordered": (), "int": ("log", "step"), "float": ("log",), "fixed": ()}


def param_from_dict(path: str, spec: Mapping[str, Any]) -> Param:
    kinds = [k for k in spec if k in KINDS]
    if len(kinds) > 1:
        raise SpaceError(f"space key '{path}' names several kinds {kinds}; give exactly one")
    kind = kinds[0]
    extra = sorted(set(spec) - {kind} - set(_OPTIONS[kind]))
    if extra:
        valid = ", ".join(_OPTIONS[kind]) or "none"
        raise SpaceError(f"space key '{path}': unknown {named(extra, 'option')} for kind `{kind}`; "
                         f"valid options: {valid}")
    arg = spec[kind]
    try:
        if kind in ("choice", "ordered"):
            return (Choice if kind == "choice" else Ordered)(arg)
        if kind == "fixed":
            return Fixed(arg)
        if not (isinstance(arg, Sequence) and not isinstance(arg, str) and len(arg) == 2):
            raise SpaceError(f"`{kind}` expects [low, high], got {arg!r}")
        # null: the option's default, no log scale as no step (was: log: null refused)
        options = {k: spec[k] for k in _OPTIONS[kind] if spec.get(k) is not None}
        return (Int if kind == "int" else Float)(arg[0], arg[1], **options)
    except EqualBounds as err:  # one value, which a space writes as a constant
        raise SpaceError(f"space key '{path}': {err.refusal}; for the one value "
                         f"{err.value!r}, write {{fixed: {err.value!r}}}") from None
    except TooManyValues as err:  # the ranges to search instead, as a space writes them
        raise TooManyValues(f"space key '{path}': {err.refusal}",
                            "{int: [low, high]} or {float: [low, high]}") from None
    except SpaceError as err:
        raise SpaceError(f"space key '{path}': {err}") from None

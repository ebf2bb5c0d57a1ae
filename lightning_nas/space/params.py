"""The kinds of a search space's parameters: ``Choice``, ``Ordered``, ``Int``, ``Float``,
``Fixed``, and how each is read from its YAML mapping.

Example:
    >>> Int(16, 128, log=True).to_dict()
    {'int': [16, 128], 'log': True}
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import nevergrad as ng

from lightning_nas.arch import arch_key
from lightning_nas.arch import plain as _plain
from lightning_nas.arch import same_value as _same
from lightning_nas.errors import SpaceError
from lightning_nas.wording import named

__all__ = ["KINDS", "Choice", "Fixed", "Float", "Int", "Ordered", "Param", "param_from_dict"]

KINDS = ("choice", "ordered", "int", "float", "fixed")
#: the largest ``int`` bound: every integer up to it is a float (nevergrad's numbers)
INT_LIMIT = 2**53
#: the largest ``int`` bound widened by half a step for nevergrad (beyond, ``k +- 0.5`` of a
#: log range comes back from ``exp(log(...))`` too far off to round back to ``k``)
WIDEN_LIMIT = 2**40
#: the most values of a stepped ``int``: the optimizers hold it as a list of its values, and
#: each proposal takes longer with every value (seconds at 10 000, a hang at 2**53)
STEP_LIMIT = 1000

#: tags of the lists and mappings in ``_value_key``: no value a user gives equals them
_LIST, _MAPPING = object(), object()


def _value_key(value: Any, top: bool = True) -> Any:
    """A hashable key equal for two values exactly when ``same_value`` holds: a number
    tagged with its type at the top (``True``, ``1`` and ``1.0`` are other values), inside
    lists and mappings as ``==`` compares them there.

    Raises:
        TypeError: for a value that cannot be hashed (a set, an object without a hash).
    """
    if isinstance(value, list):
        return (_LIST, tuple(_value_key(v, False) for v in value))
    if isinstance(value, Mapping):
        return (_MAPPING, frozenset((k, _value_key(v, False)) for k, v in value.items()))
    if top and isinstance(value, (bool, int, float)):
        return (type(value), value)
    hash(value)
    return value


def _own(value: Any) -> Any:
    """A copy of a space's value whose lists and mappings are new: an architecture's own,
    which a model may change (``opt.pop("name")``) without changing the space (was: the
    space's option itself, so its later samples, dry builds and trials got what was left)."""
    return _plain(value, text_keys=False)


def _distinct(values: list[Any]) -> bool:
    """Whether no two of ``values`` are the same (``same_value``): by their keys, in linear
    time (was: every pair, 6.6 s for 8000 values); pairwise for values without a hash."""
    try:
        return len({_value_key(v) for v in values}) == len(values)
    except TypeError:
        return not any(_same(a, b) for i, a in enumerate(values) for b in values[:i])


class Param(ABC):
    """One searchable knob. Subclasses know their size, how to sample and to validate."""

    kind: str

    @abstractmethod
    def size(self) -> float:
        """Number of distinct values (``math.inf`` for continuous ranges)."""

    @abstractmethod
    def sample(self, rng: random.Random) -> Any:
        """Draw a value uniformly (log-uniformly for log ranges)."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a legal value of this parameter."""

    def plain(self, value: Any) -> Any:
        """The stored form of a legal value (``Float`` turns ``1`` into ``1.0``)."""
        return value

    @abstractmethod
    def describe(self) -> str:
        """Short text of the legal values, used in error messages."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping this parameter loads from."""

    @abstractmethod
    def to_nevergrad(self) -> ng.p.Parameter:
        """The nevergrad parameter whose ``.value`` is a legal plain value."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.to_dict() == other.to_dict()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash(arch_key(self.to_dict()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != self.kind)
        first = repr(self.to_dict()[self.kind])
        return f"{type(self).__name__}({first}{', ' + args if args else ''})"


class Choice(Param):
    """Unordered categorical choice (nevergrad ``Choice``).

    Args:
        values: the options: a non-empty list of distinct values (no NaN).

    Example:
        >>> Choice(["relu", "gelu"]).size()
        2
    """

    kind = "choice"
    #: the nevergrad parameter of two values or more
    _choice = ng.p.Choice

    def __init__(self, values: Sequence[Any]) -> None:
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise SpaceError(f"`{self.kind}` expects a non-empty list of values, got {values!r}")
        self._values = [_plain(v, text_keys=False) for v in values]
        if any(isinstance(v, float) and math.isnan(v) for v in self._values):
            raise SpaceError(f"`{self.kind}` values must not be NaN (it equals no value, not "
                             f"even itself), got {self._values!r}")
        if not _distinct(self._values):
            raise SpaceError(f"`{self.kind}` values must be distinct, got {self._values!r}")

    @property
    def values(self) -> list[Any]:
        """The options, in their order: a copy (``_own``), changing it changes no option."""
        return _own(self._values)

    def size(self) -> float:
        return len(self._values)

    def sample(self, rng: random.Random) -> Any:
        return _own(self._values[rng.randrange(len(self._values))])

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
        values: the options, in their order: a non-empty list of distinct values (no NaN).

    Example:
        >>> Ordered([1, 2, 4, 8]).describe()
        'one of [1, 2, 4, 8] (ordered)'
    """

    kind = "ordered"
    _choice = ng.p.TransitionChoice

    def describe(self) -> str:
        return super().describe() + " (ordered)"


class _Range(Param):
    """Shared checks of ``Int`` and ``Float``: bounds, log scale."""

    def __init__(self, low: float, high: float, log: bool = False) -> None:
        for name, bound in (("low", low), ("high", high)):
            if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                raise SpaceError(f"`{self.kind}` {name} bound must be a number, got {bound!r}")
            if not math.isfinite(bound):  # was, for NaN: "needs low < high"
                raise SpaceError(f"`{self.kind}` {name} bound must be finite, got {bound!r}")
        log = _plain(log)  # numpy bool
        if not isinstance(log, bool):  # the string 'false' is truthy: it turned log on
            raise SpaceError(f"`{self.kind}` log must be true or false, got {log!r}")
        if not low < high:
            raise SpaceError(f"`{self.kind}` needs low < high, got [{low}, {high}]")
        if log and low <= 0:
            raise SpaceError(f"`{self.kind}` with log: true needs low > 0, got {low}")
        self.low, self.high, self.log = low, high, log

    def _uniform(self, rng: random.Random) -> float:
        if self.log:
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return rng.uniform(self.low, self.high)

    def _bounded(self) -> ng.p.Parameter:
        if self.log:
            return ng.p.Log(lower=self.low, upper=self.high)
        return ng.p.Scalar(lower=self.low, upper=self.high)


class Int(_Range):
    """Integer range ``[low, high]`` (both included), optionally log-scaled or stepped.

    Args:
        low, high: the bounds, integers within +-2**53, ``low < high``.
        log: sample on a log scale (``low > 0``; not with ``step``).
        step: only ``low``, ``low + step``, ... ``high`` (``high - low`` a multiple of it).

    Example:
        >>> Int(16, 128, log=True).size()
        113
        >>> Int(0, 10, step=5).size()
        3
    """

    kind = "int"

    def __init__(self, low: int, high: int, log: bool = False, step: int | None = None) -> None:
        low, high, step = _plain(low), _plain(high), _plain(step)  # numpy integers
        if not (isinstance(low, int) and isinstance(high, int)):
            raise SpaceError(f"`int` bounds must be integers, got [{low!r}, {high!r}]")
        if max(abs(low), abs(high)) > INT_LIMIT:  # size() overflowed; floats lose digits
            raise SpaceError(f"`int` bounds must lie within +-2**53 = {INT_LIMIT} (the "
                             f"optimizers work with floats), got [{low}, {high}]; for a huge "
                             f"range use {{float: [low, high]}} (log: true when low > 0)")
        super().__init__(low, high, log)
        if step is not None and (not isinstance(step, int) or isinstance(step, bool)
                                 or step < 1):
            raise SpaceError(f"`int` step must be a positive integer, got {step!r}")
        if step is not None and log:
            raise SpaceError("`int` takes either log: true or step, not both")
        if step is not None and (high - low) % step:  # high would be left out
            below = low + (high - low) // step * step
            raise SpaceError(f"`int` [{low}, {high}] step {step} never reaches {high}: "
                             f"high - low must be a multiple of step; use high {below} or "
                             f"{below + step}")
        if step is not None and (high - low) // step + 1 > STEP_LIMIT:
            raise SpaceError(f"`int` [{low}, {high}] step {step} has {(high - low) // step + 1} "
                             f"values; a stepped range may have at most {STEP_LIMIT} (the "
                             f"optimizers list every value): use {_fewer_steps(low, high)}, or "
                             f"drop step to search every integer in the range")
        self.step = step

    def _values(self) -> range:
        return range(int(self.low), int(self.high) + 1, self.step or 1)

    def size(self) -> float:
        return len(self._values())

    def sample(self, rng: random.Random) -> int:
        """Each integer equally likely (rounding a uniform float gave both ends half as
        much); with ``log``, each ``k`` as likely as ``[k - 0.5, k + 0.5]`` log-uniformly."""
        if self.step:
            return self.low + rng.randrange(len(self._values())) * self.step
        if not self.log:
            return rng.randint(self.low, self.high)
        value = math.exp(rng.uniform(math.log(self.low - 0.5), math.log(self.high + 0.5)))
        return min(self.high, max(self.low, round(value)))

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value in self._values()

    def describe(self) -> str:
        extra = " (log)" if self.log else (f" step {self.step}" if self.step else "")
        return f"an integer in [{self.low}, {self.high}]{extra}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {self.kind: [self.low, self.high]}
        if self.log:
            out["log"] = True
        if self.step:
            out["step"] = self.step
        return out

    def to_nevergrad(self) -> ng.p.Parameter:
        """Every integer as likely as ``sample`` makes it: the bounds widened by half a
        step, ``[low - 0.5, high + 0.5]``, so that rounding gives each ``k`` the share of
        ``[k - 0.5, k + 0.5]`` (log-uniformly with ``log``; rounding ``[low, high]`` gave both
        ends half as much). Nevergrad's integer casting keeps the rounded values within
        ``[low, high]``; a told ``k`` is inside the widened bounds. Bounds beyond
        ``+-WIDEN_LIMIT`` are not widened."""
        if self.step:
            return ng.p.TransitionChoice(list(self._values()))
        if max(abs(self.low), abs(self.high)) > WIDEN_LIMIT:
            return self._bounded().set_integer_casting()
        low, high = self.low - 0.5, self.high + 0.5
        bounded = ng.p.Log(lower=low, upper=high) if self.log else ng.p.Scalar(lower=low,
                                                                                upper=high)
        return bounded.set_integer_casting()


def _fewer_steps(low: int, high: int) -> str:
    """Steps that give ``[low, high]`` at most ``STEP_LIMIT`` values: the smallest that
    divides ``high - low`` (so ``high`` is reached), and the smallest of all with the
    ``high`` it reaches, when that one is smaller."""
    span = high - low
    least = -(-span // (STEP_LIMIT - 1))
    parts = next(q for q in range(STEP_LIMIT - 1, 0, -1) if span % q == 0)
    hint = f"step {span // parts} ({parts + 1} values)"
    if span // parts != least:
        reached = low + -(-span // least) * least
        hint += f", or step {least} with high {reached} ({(reached - low) // least + 1} values)"
    return hint


class Float(_Range):
    """Float range ``[low, high]``, optionally log-scaled.

    Args:
        low, high: the bounds, finite numbers, ``low < high``.
        log: sample on a log scale (``low > 0``).

    Example:
        >>> Float(1e-4, 1e-1, log=True).contains(1e-3)
        True
    """

    kind = "float"

    def __init__(self, low: float, high: float, log: bool = False) -> None:
        low, high = _plain(low), _plain(high)  # numpy numbers
        try:
            low, high = (float(b) if isinstance(b, int) and not isinstance(b, bool) else b
                         for b in (low, high))
        except OverflowError:
            raise SpaceError(f"`float` bounds must be finite floats, got [{low}, {high}]") from None
        super().__init__(low, high, log)

    def size(self) -> float:
        return math.inf

    def sample(self, rng: random.Random) -> float:
        return self._uniform(rng)

    def contains(self, value: Any) -> bool:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok and self.low <= self._snap(value) <= self.high

    def plain(self, value: Any) -> float:
        return float(self._snap(value))

    def _snap(self, value: float) -> float:
        """A value just outside a bound by rounding error is that bound: a log range comes
        back from nevergrad as ``exp(log(bound))``, ``0.0009999999999999998`` for 1e-3."""
        for bound in (self.low, self.high):
            if not self.low <= value <= self.high and math.isclose(value, bound, rel_tol=1e-12):
                return float(bound)
        return value

    def describe(self) -> str:
        return f"a float in [{self.low}, {self.high}]{' (log)' if self.log else ''}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {self.kind: [self.low, self.high]}
        if self.log:
            out["log"] = True
        return out

    def to_nevergrad(self) -> ng.p.Parameter:
        return self._bounded()


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
        """The value: a copy (``_own``), so changing it leaves the space's own as it was."""
        return _own(self._value)

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
        options = {k: spec[k] for k in _OPTIONS[kind] if k in spec}
        return (Int if kind == "int" else Float)(arg[0], arg[1], **options)
    except SpaceError as err:
        raise SpaceError(f"space key '{path}': {err}") from None

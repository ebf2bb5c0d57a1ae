"""The range kinds of a search space's parameters: ``Int`` (log-scaled or stepped) and
``Float`` (log-scaled), their bounds checked, and how each becomes a nevergrad parameter.

Example:
    >>> Int(0, 10, step=5).to_dict(), Int(0, 10, step=5).size()
    ({'int': [0, 10], 'step': 5}, 3)
    >>> Float(1e-4, 1e-1, log=True).describe()
    'a float in [0.0001, 0.1] (log)'
"""

from __future__ import annotations

import math
import random
import sys
from typing import Any

import nevergrad as ng

from lightning_nas.arch import plain as _plain
from lightning_nas.errors import SpaceError
from lightning_nas.numeric import is_int, is_number
from lightning_nas.space.param_base import Param

__all__ = ["INT_LIMIT", "LINEAR_WIDEN_LIMIT", "STEP_LIMIT", "WIDEN_LIMIT", "EqualBounds", "Float",
           "Int"]

#: the largest ``int`` bound: every integer up to it is a float (nevergrad's numbers)
INT_LIMIT = 2**53
#: the largest ``int`` bound widened by half a step for nevergrad (beyond, ``k +- 0.5`` of a
#: log range comes back from ``exp(log(...))`` too far off to round back to ``k``)
WIDEN_LIMIT = 2**40
#: the largest bound of an ``int`` range without ``log`` widened by half a step: below it,
#: ``k +- 0.5`` is a float exactly
LINEAR_WIDEN_LIMIT = 2**52 - 1
#: the most values of a stepped ``int``: the optimizers hold it as a list of its values, and
#: each proposal takes longer with every value (seconds at 10 000, a hang at 2**53)
STEP_LIMIT = 1000


class EqualBounds(SpaceError):
    """A range refused for its equal bounds (``Int(16, 16)``): it holds one value, which
    Python writes ``Fixed(16)`` (said here), a YAML space ``{fixed: 16}`` (``param_from_dict``
    says so) and a Hydra sweep ``16`` (``hydra_grammar`` says so).

    Args:
        refusal: the refusal without a hint (``refusal`` keeps it, for the other syntaxes).
        value: the one value, as the range holds it (a ``float`` range's ``16.0``).
    """

    def __init__(self, refusal: str, value: float) -> None:
        super().__init__(f"{refusal}; for the one value {value!r}, write Fixed({value!r})")
        self.refusal, self.value = refusal, value


class _Range(Param):
    """Shared checks of ``Int`` and ``Float``: bounds, log scale."""

    def __init__(self, low: float, high: float, log: bool = False) -> None:
        for name, bound in (("low", low), ("high", high)):
            if not is_number(bound):
                raise SpaceError(f"`{self.kind}` {name} bound must be a number, got {bound!r}")
            if not math.isfinite(bound):  # was, for NaN: "needs low < high"
                raise SpaceError(f"`{self.kind}` {name} bound must be finite, got {bound!r}")
        log = _plain(log)  # numpy bool
        if not isinstance(log, bool):  # the string 'false' is truthy: it turned log on
            raise SpaceError(f"`{self.kind}` log must be true or false, got {log!r}")
        if not low < high:  # the other way round: which is which said (was: not)
            said = f"`{self.kind}` needs low < high, got [{low}, {high}]"
            raise EqualBounds(said, low) if low == high else SpaceError(
                f"{said}: low={low} (the first bound) is above high={high} (the second); give "
                f"the lower bound first")
        if log and low <= 0:
            raise SpaceError(f"`{self.kind}` with log: true needs low > 0, got {low}")
        self.low, self.high, self.log = low, high, log

    def __repr__(self) -> str:
        """The call that makes this range, ``Int(16, 128, log=True)`` (was: ``Int([16, 128],
        log=True)``, its YAML mapping's list, a call that ``Int`` refuses)."""
        options = {k: v for k, v in self.to_dict().items() if k != self.kind}
        args = [repr(self.low), repr(self.high), *(f"{k}={v!r}" for k, v in options.items())]
        return f"{type(self).__name__}({', '.join(args)})"

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
        if step is not None and (not is_int(step) or step < 1):
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
        return is_int(value) and value in self._values()

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
        ``+-WIDEN_LIMIT`` (with ``log``) or ``+-LINEAR_WIDEN_LIMIT`` are not widened (was:
        beyond ``WIDEN_LIMIT`` without ``log`` too, where nevergrad's casting, which rounds
        ``bound +- 0.5`` half to even there, then lost an odd bound: ``2**41 + 1``)."""
        if self.step:
            return ng.p.TransitionChoice(list(self._values()))
        if max(abs(self.low), abs(self.high)) > (WIDEN_LIMIT if self.log else
                                                 LINEAR_WIDEN_LIMIT):
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


def _check_held(low: float, high: float, log: bool) -> None:
    """Refuse a ``float`` range whose numbers the optimizers overflow: nevergrad starts from
    the midpoint ``(low + high) / 2`` (with ``log``, the square root of ``low * high``) and
    scales by ``high - low``, and ``sample`` draws ``low + (high - low) * u`` (was: taken;
    ``sample`` drew inf, nevergrad proposed nan or failed to build, said of the optimizer).

    Example:
        >>> _check_held(-1e308, 1e308, False)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.SpaceError: `float` [-1e+308, 1e+308]: its width high - low ...
    """
    largest = sys.float_info.max
    if log:
        product = low * high
        if 0 < product < math.inf:
            return
        wrong = "underflows to 0" if product == 0 else f"overflows the largest float, {largest}"
        exponents = f"[{math.log10(low):g}, {math.log10(high):g}]"
        raise SpaceError(f"`float` [{low}, {high}] with log: true: low * high, whose square root "
                         f"nevergrad starts from, {wrong}; search the exponent instead, "
                         f"{{float: {exponents}}}, and take 10 ** value in the model")
    if not math.isfinite(high - low):
        said = ("its width high - low overflows", "neither sample nor the optimizers can "
                "draw from it (they drew inf and nan)")
    elif not math.isfinite(low + high):
        said = ("low + high, of the midpoint nevergrad starts from, overflows",
                "the optimizers cannot start from it")
    else:
        return
    raise SpaceError(f"`float` [{low}, {high}]: {said[0]} the largest float, {largest}, so "
                     f"{said[1]}; narrow it, or search a scaled value (x / 1e300) and scale "
                     f"it back in the model")


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
            low, high = (float(b) if is_int(b) else b for b in (low, high))
        except OverflowError:
            raise SpaceError(f"`float` bounds must be finite floats, got [{low}, {high}]") from None
        super().__init__(low, high, log)
        _check_held(self.low, self.high, self.log)

    def size(self) -> float:
        return math.inf

    def sample(self, rng: random.Random) -> float:
        return self._uniform(rng)

    def contains(self, value: Any) -> bool:
        ok = is_number(value)
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

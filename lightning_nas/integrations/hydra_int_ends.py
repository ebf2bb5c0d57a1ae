"""Hydra's ``int(interval(a, b))`` casts the ends with ``int``, which truncates them:
``int(interval(0.5, 3.2))`` is ``0..3``, 0 below the lower end as written. The sweep searches
what the grammar gives, as Hydra's Optuna and Nevergrad sweepers do with the same text
(``IntUniformDistribution(0, 3)``; refusing it would refuse a config those sweepers run),
and ``widened_ends`` says so before the first job where the cast puts an integer outside
the ends as written (a positive lower end or a negative upper end that is not whole; the
others narrow to the integers within, ``int(interval(-0.5, 3.7))`` is ``0..3``).

Example:
    >>> from hydra.core.override_parser.overrides_parser import OverridesParser
    >>> parser = OverridesParser.create()
    >>> widened_ends(parser.parse_overrides(["x=int(interval(0.5, 3.2))"])[0])
    "sweep parameter 'x': int(interval(0.5, 3.2)) searches 0..3: Hydra's int(...) truncates \
the ends as written (0.5 to 0), which puts 0 below the lower end; write int(interval(1, 3)) \
for 1..3"
    >>> widened_ends(parser.parse_overrides(["x=int(interval(-0.5, 3.7))"])[0]) is None
    True

Where the cast ends are refused (``int(interval(0.5, 0.9))`` is ``0..0``), ``truncated_refusal``
says the refusal with the ends as written, what the cast made of them, and what to write:

    >>> truncated_refusal(parser.parse_overrides(["x=int(interval(0.5, 0.9))"])[0],
    ...                   "`int` needs low < high, got [0, 0]")
    "int(interval(0.5, 0.9)) is refused as Hydra's int(...) truncates its ends as written \
(0.5 to 0 and 0.9 to 0): `int` needs low < high, got [0, 0]; the ends as written hold no \
integer: write interval(0.5, 0.9) to search floats, or whole ends a < b"
"""

from __future__ import annotations

import math
import re

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep, Override
from hydra.errors import HydraException

from lightning_nas.errors import SpaceError
from lightning_nas.space import Int

__all__ = ["truncated_refusal", "widened_ends"]

#: Hydra's ``int(`` cast in a value (not ``print(`` or ``my_int(``)
_INT_CAST = re.compile(r"\bint\s*\(")
#: an ``interval(a, b)``: its arguments are numbers, without parentheses
_INTERVAL = re.compile(r"\binterval\s*\([^()]*\)")
#: an ``int(interval(a, b))``: the cast and its interval
_CAST_INTERVAL = re.compile(r"\bint\s*\(\s*(interval\s*\([^()]*\))\s*\)")


def _cast_interval(override: Override) -> tuple[IntervalSweep, str, tuple[float, float]] | None:
    """An ``int(...)`` cast ``interval`` override's sweep (its cast ends), its text and its
    ends as written; None for any other override."""
    value = override.value() if override.is_sweep_override() else None
    if not isinstance(value, IntervalSweep) or not isinstance(value.start, int):
        return None
    text = override.get_value_string()
    written = _written_ends(text)
    return None if written is None else (value, text, written)


def widened_ends(override: Override) -> str | None:
    """What to say of ``override`` where it is an ``int(...)`` cast ``interval`` whose cast
    ends hold an integer outside its ends as written: the key, the text as written, the
    range searched and the one of the integers within (None for any other override).

    Args:
        override: one parsed override of the sweep (a params entry or the command line's).
    """
    found = _cast_interval(override)
    if found is None:
        return None
    value, text, (low, high) = found
    cut = []  # (end as written, its cast, where the cast is)
    if value.start < low:  # 0.5 -> 0
        cut.append((low, value.start, "below the lower"))
    if value.end > high:  # -2.5 -> -2
        cut.append((high, value.end, "above the upper"))
    if not cut:
        return None
    # the integers within: one at least where the cast ends are two (the space's check)
    within = _within(text, low, high)
    truncated = " and ".join(f"{_number(end)} to {cast}" for end, cast, _ in cut)
    puts = " and ".join(f"{cast} {where} end" for _, cast, where in cut)
    return (f"sweep parameter '{override.get_key_element()}': {text} searches "
            f"{value.start}..{value.end}: Hydra's int(...) truncates the ends as written "
            f"({truncated}), which puts {puts}; {within}")


def truncated_refusal(override: Override, refusal: str) -> str | None:
    """``refusal`` of an ``int(...)`` cast ``interval`` whose cast ends the space refused,
    said with the text as written, the ends that Hydra's ``int(...)`` truncated (``0.5 to
    0``) and, where the ends as written allow one, what to write instead (None where no end
    was truncated: the refusal says it all, as for ``int(interval(3, 1))``).

    Args:
        override: the parsed override whose ``Int`` was refused.
        refusal: the space's refusal (``int needs low < high, got [0, 0]``).
    """
    found = _cast_interval(override)
    if found is None:
        return None
    value, text, (low, high) = found
    cut = [(end, cast) for end, cast in ((low, value.start), (high, value.end)) if end != cast]
    if not cut:
        return None
    truncated = " and ".join(f"{_number(end)} to {cast}" for end, cast in cut)
    said = (f"{text} is refused as Hydra's int(...) truncates its ends as written "
            f"({truncated}): {refusal}")
    if not low < high:  # refused as written too: the refusal says what to give
        return said
    log = "log" in (value.tags or ())
    first, last = math.ceil(low), math.floor(high)
    if first > last:  # 0.5..0.9
        floats = _CAST_INTERVAL.sub(r"\1", text)
        return (f"{said}; the ends as written hold no integer: write {floats} to search "
                f"floats, or whole ends a < b")
    if first < last:
        try:
            Int(first, last, log=log)
        except SpaceError:  # tag(log, int(interval(-0.5, 3))): 0..3 is refused too
            return said
    return f"{said}; {_within(text, low, high)}"


def _within(text: str, low: float, high: float) -> str:
    """What to write for the integers within the ends as written (one at least)."""
    first, last = math.ceil(low), math.floor(high)
    if first == last:
        return f"the ends as written hold one integer: give {first} as a plain value"
    return f"write {_INTERVAL.sub(f'interval({first}, {last})', text)} for {first}..{last}"


def _written_ends(text: str) -> tuple[float, float] | None:
    """The ends of the interval in ``text`` as written: the same text with its ``int``
    casts as ``float`` ones, parsed by Hydra (None where that does not parse)."""
    try:
        value = OverridesParser.create().parse_overrides(
            [f"x={_INT_CAST.sub('float(', text)}"])[0].value()
    except HydraException:
        return None
    if not isinstance(value, IntervalSweep):
        return None
    return float(value.start), float(value.end)


def _number(end: float) -> str:
    """An end as written: ``0.5``, ``-2.5`` (a whole one without ``.0``)."""
    return str(int(end)) if end.is_integer() else repr(end)

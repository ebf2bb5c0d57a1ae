"""A ``datetime.timedelta`` argument as LightningCLI writes and reads it: the text
``str(timedelta)`` gives (``0:30:00``, ``1 day, 2:03:04.5``), which jsonargparse turns back
into the timedelta (``timedelta_deserializer``). Every DDP strategy node ``fit
--print_config`` writes has one (``timeout: 0:30:00``); ``convert`` builds it,
``matches`` takes it, and ``timedelta_note`` says the form when a value is not one.

Example:
    >>> timedelta_of("0:30:00")
    datetime.timedelta(seconds=1800)
    >>> timedelta_of("2 days, 1:00:00.5")
    datetime.timedelta(days=2, seconds=3600, microseconds=500000)
    >>> timedelta_of("half an hour") is None, timedelta_of(1800) is None
    (True, True)
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from datetime import timedelta
from typing import Any

__all__ = ["takes_timedelta", "timedelta_note", "timedelta_of"]

#: jsonargparse's forms: ``h:m:s``, ``d day(s), h:m:s`` (seconds may have a fraction)
_FORM = re.compile(r"(?:(?P<days>-?\d+) days?, )?(?P<hours>\d+):(?P<minutes>\d+):"
                   r"(?P<seconds>\d+(?:\.\d*)?)")


def timedelta_of(value: Any) -> timedelta | None:
    """The timedelta LightningCLI reads from the text ``value``, else None (another value,
    a number too: jsonargparse refuses one)."""
    match = _FORM.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    return timedelta(**{key: float(text) for key, text in match.groupdict().items()
                        if text is not None})


def takes_timedelta(hint: Any) -> bool:
    """Whether the annotation ``hint`` takes a ``timedelta`` (itself, a subclass, or in a
    ``Union``: ``Optional[timedelta]``)."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(takes_timedelta(arg) for arg in typing.get_args(hint))
    return inspect.isclass(hint) and issubclass(hint, timedelta)


def timedelta_note(value: Any, hint: Any) -> str:
    """For a value an annotation taking a timedelta refuses: the text to write, as
    LightningCLI writes it; ``""`` for another annotation.

    Example:
        >>> timedelta_note(5400, timedelta)[:46]
        "; a timedelta is written 'h:m:s' or 'd days, h"
    """
    if not takes_timedelta(hint) or timedelta_of(value) is not None:
        return ""
    return ("; a timedelta is written 'h:m:s' or 'd days, h:m:s', as LightningCLI writes it "
            "(timeout: '0:30:00'; quoted: YAML reads 1:30:00 unquoted as the number 5400, "
            "which LightningCLI refuses too)")

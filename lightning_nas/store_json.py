"""The JSON that ``RunStore`` writes into ``search.db``: strict JSON, so that SQLite's own
JSON functions read every row (``json_extract(metrics, '$.val_loss')``; was: a NaN metric
was written as the bare ``NaN`` Python's ``json`` writes, which is no JSON, and SQLite's
``malformed JSON`` then broke a query over the whole table).

A non-finite float is written as SQLite writes one: ``Infinity`` as ``9e999``,
``-Infinity`` as ``-9e999`` (strict JSON numbers, which SQLite and Python read back as
the infinities), ``NaN`` as ``null`` (JSON has no NaN; SQL's aggregates skip a null, as
they should a NaN). The columns of numbers (a trial's metrics and curve, a logged loss, a
prior's losses) read a null back as NaN (``numbers``); elsewhere (meta, architectures) a
NaN reads back as None. An architecture's key (``arch.arch_key``, in ``trials.arch_key``
and ``events.arch_key``) is strict JSON too, so a NaN and None share a key. A store an
older version wrote, with bare ``NaN`` and ``Infinity``, reads as it did: Python's ``json``
takes them; its keys read in today's spelling (``strict_json``), so that a resume matches
them with the architectures its optimizer proposes. Opened for writing (a resume), such a
store is respelled (``store_schema.respell``): its rows then read as this version's do.

Example:
    >>> dump_json({"val_loss": float("nan"), "sec": float("inf"), "acc": 0.5})
    '{"val_loss": null, "sec": 9e999, "acc": 0.5}'
    >>> numbers(json.loads('{"val_loss": null, "sec": 9e999}'))
    {'val_loss': nan, 'sec': inf}
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["dump_json", "load_numbers", "numbers", "strict_json"]

#: a JSON string (left as it is), or a non-finite float as Python's ``json`` writes it
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?Infinity|NaN')
#: each non-finite float's strict JSON (SQLite's own spelling of the infinities)
_STRICT = {"NaN": "null", "Infinity": "9e999", "-Infinity": "-9e999"}


def dump_json(value: Any, **kwargs: Any) -> str:
    """``json.dumps(value, **kwargs)`` as strict JSON: a non-finite float as ``null``
    (NaN), ``9e999`` or ``-9e999``; every other value as ``json.dumps`` writes it.

    Example:
        >>> dump_json([1.0, float("-inf"), "NaN"])
        '[1.0, -9e999, "NaN"]'
    """
    return strict_json(json.dumps(value, **kwargs))


def strict_json(text: str) -> str:
    """The JSON ``text`` that Python's ``json`` wrote (an older version's row), each bare
    ``NaN``, ``Infinity`` and ``-Infinity`` in it spelled as ``dump_json`` spells it; a
    string holding them is left as it is.

    Example:
        >>> strict_json('{"pad":[NaN,-Infinity],"act":"NaN"}')
        '{"pad":[null,-9e999],"act":"NaN"}'
    """
    if "NaN" not in text and "Infinity" not in text:
        return text
    return _TOKEN.sub(lambda m: _STRICT.get(m.group(), m.group()), text)


def numbers(value: Any) -> Any:
    """``value`` read from a column of numbers, each null in it (a NaN, written as
    ``dump_json`` writes one) NaN again.

    Example:
        >>> numbers([0.5, None]), numbers(None)
        ([0.5, nan], nan)
    """
    if value is None:
        return math.nan
    if isinstance(value, dict):
        return {key: numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [numbers(item) for item in value]
    return value


def load_numbers(text: str) -> Any:
    """The JSON ``text`` of a column of numbers, read back (``numbers``).

    Example:
        >>> load_numbers('{"val_loss": null}')
        {'val_loss': nan}
    """
    return numbers(json.loads(text))

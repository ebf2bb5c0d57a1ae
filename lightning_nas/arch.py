"""Architectures as plain data: canonical keys, equality, flattening and one-line text.

An architecture (``arch``) is a plain dict (nested groups allowed) of JSON values. These
helpers need nothing but the standard library, so the store and the read-only commands use
them without importing torch, Lightning or nevergrad.

Example:
    >>> arch_key({"b": 1, "a": 2}) == arch_key({"a": 2, "b": 1})
    True
    >>> format_arch({"k": 3, "lr": 0.0012345, "head": {"w": 8}})
    'k=3 lr=0.001234 head.w=8'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.store_json import dump_json

__all__ = ["arch_key", "flatten_arch", "format_arch", "is_plain", "plain", "same_value"]


def arch_key(arch: Mapping[str, Any]) -> str:
    """Canonical text of an architecture, equal for equal architectures: compact JSON with
    sorted keys, strict as all JSON in ``search.db`` (``store_json.dump_json``: an infinity
    as ``9e999``, ``-9e999``; a NaN as ``null``, so every NaN is one key, which None shares).
    Versions before wrote Python's bare ``Infinity`` and ``NaN``; ``RunStore.events`` reads
    such a stored key in this spelling.

    Example:
        >>> arch_key({"clip": float("inf"), "pad": [float("nan")], "k": 3})
        '{"clip":9e999,"k":3,"pad":[null]}'
    """
    return dump_json(arch, sort_keys=True, separators=(",", ":"))


def is_plain(value: Any) -> bool:
    """Whether ``value`` is JSON data (mappings with str keys, lists, str, numbers, bools,
    None).

    Example:
        >>> is_plain({"w": [1, 2.5, None]}), is_plain({"f": max})
        (True, False)
    """
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and is_plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(is_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def plain(value: Any, text_keys: bool = True) -> Any:
    """Turn numpy scalars and tuples into plain JSON types, and a mapping's keys into text
    unless ``text_keys`` is false (a space's value: ``{0: 1.0}`` turned into ``{"0": 1.0}``
    would be another value, so its keys are kept for the check that refuses them).

    Example:
        >>> plain({"w": (1, 2), 3: 4}), plain({3: 4}, text_keys=False)
        ({'w': [1, 2], '3': 4}, {3: 4})
    """
    if isinstance(value, Mapping):
        return {str(k) if text_keys else k: plain(v, text_keys) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, text_keys) for v in value]
    if callable(getattr(value, "tolist", None)):  # numpy scalar or array, torch tensor
        return plain(value.tolist(), text_keys)
    return value


def same_value(a: Any, b: Any) -> bool:
    """Equality that keeps ``True`` apart from ``1`` and ``1`` apart from ``1.0``.

    Example:
        >>> same_value(1, 1.0), same_value(True, 1), same_value("a", "a")
        (False, False, True)
    """
    if isinstance(a, (bool, int, float)) or isinstance(b, (bool, int, float)):
        return type(a) is type(b) and a == b
    return a == b


def flatten_arch(arch: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested groups as dotted keys.

    Example:
        >>> flatten_arch({"k": 3, "head": {"w": 8}})
        {'k': 3, 'head.w': 8}
    """
    out: dict[str, Any] = {}
    for key, value in arch.items():
        if isinstance(value, Mapping):
            out.update(flatten_arch(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def format_arch(arch: Mapping[str, Any]) -> str:
    """``key=value`` pairs on one line, floats with 4 significant digits; a whole float
    with its ``.0`` and a string that reads as a number, a bool or null quoted, so a choice
    of ``['1', 1, 1.0]`` prints three values (was: ``c=1`` for each).

    Example:
        >>> format_arch({"act": "relu", "c": "1", "k": 1, "w": 1.0, "lr": 0.001})
        "act=relu c='1' k=1 w=1.0 lr=0.001"
    """
    return " ".join(f"{k}={_shown(v)}" for k, v in flatten_arch(arch).items())


#: strings ``_shown`` quotes beside numbers: they read as a bool or null
_WORDS = ("true", "false", "none", "null", "")


def _shown(value: Any) -> str:
    """``value`` as ``format_arch`` prints it."""
    if isinstance(value, float):
        text = f"{value:.4g}"
        return f"{text}.0" if value.is_integer() and text.lstrip("-").isdigit() else text
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return repr(value) if value.strip().lower() in _WORDS else value
        return repr(value)  # '1', '2e-3', 'nan'
    return str(value)

"""A text given an argument annotated with a number or a bool, read as LightningCLI
(jsonargparse) reads it: ``true``/``false``/``null`` and plain digits first, then YAML with
jsonargparse's float rule (``1e-3`` is a float, ``inf`` a text; no dates). A config's
``depth: '3'`` for ``depth: int`` is 3 there, ``'0x10'`` 16, ``flag: 'yes'`` True; a text
that reads as another type (``'3.0'`` for an ``int``) is refused, as LightningCLI refuses it;
a ``Literal``'s option likewise (``'2'`` for ``Literal[1, 2]``: ``literal_text``).

Example:
    >>> leaf_text("3", int), leaf_text(" 0x10", int), leaf_text("1e-3", float)
    (3, 16, 0.001)
    >>> leaf_text("yes", bool), leaf_text("3.0", int) is UNREAD, leaf_text("1", bool) is UNREAD
    (True, True, True)
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from lightning_nas.numeric import is_int

__all__ = ["LEAVES", "UNREAD", "leaf_text", "literal_text"]

#: the annotations a text is read for (the text kept for a ``str``)
LEAVES = (bool, int, float)
#: what ``leaf_text`` gives for a text that does not read as the annotation's type
UNREAD: Any = type("Unread", (), {"__repr__": lambda self: "UNREAD"})()

#: jsonargparse's float rule, in place of YAML 1.1's (which reads ``1e-3`` as a text)
_FLOAT = re.compile(r"""^(?:
    [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)


class _Loader(yaml.SafeLoader):
    """YAML as jsonargparse reads a value: no dates, its float rule."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rule) for tag, rule in rules if tag not in (
        "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:float")]
    for first, rules in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def leaf_text(text: str, hint: type) -> Any:
    """The value ``text`` is for the annotation ``hint`` (``bool``, ``int`` or ``float``),
    as jsonargparse reads it (an ``int`` for a ``float`` made a ``float``), or ``UNREAD``."""
    value = _loaded(text)
    if hint is float and is_int(value):
        return float(value)
    if isinstance(value, hint) and (hint is bool or not isinstance(value, bool)):
        return value
    return UNREAD


def literal_text(text: str, args: tuple[Any, ...]) -> Any:
    """The option of a ``Literal`` (its ``args``) ``text`` reads as, as jsonargparse reads a
    text that is no option by the types of the options that are no text (``'2'`` for
    ``Literal[1, 2]``: 2), or ``UNREAD``.

    Example:
        >>> literal_text("2", (1, 2)), literal_text("3", (1, 2)) is UNREAD
        (2, True)
    """
    for kind in dict.fromkeys(type(arg) for arg in args if type(arg) is not str):
        read = leaf_text(text, kind) if kind in LEAVES else UNREAD
        if any(read == arg and type(read) is type(arg) for arg in args):
            return read
    return UNREAD


def _loaded(text: str) -> Any:
    """``text`` loaded as jsonargparse loads a value: its plain forms, then YAML."""
    plain = text.strip()
    basic = {"true": True, "false": False, "null": None}
    if plain in basic:
        return basic[plain]
    try:
        if plain.isdigit() or (plain.startswith("-") and plain[1:].isdigit()):
            return int(plain)
        if plain.replace(".", "", 1).replace("e", "", 1).replace("-", "", 2).isdigit() and (
                "e" in plain or "." in plain):
            return float(plain)
    except ValueError:
        pass  # not a plain number: as YAML reads it
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError:
        return text

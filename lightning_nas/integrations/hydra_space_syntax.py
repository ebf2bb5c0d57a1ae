"""``search_space_syntax``: the error for a ``hydra.sweeper.params`` value written in
``lightning-nas search``'s space syntax (``{choice: [1, 2]}``, ``{float: [0.001, 0.1],
log: true}``), with the same parameter in Hydra's sweep grammar, which a sweep reads (was:
such a mapping was one fixed value, and every job ran with ``y = {'float': [0.1, 1.0]}``).

Example:
    >>> print(search_space_syntax("lr", {"float": [0.001, 0.1], "log": True},
    ...                           "{float:[0.001,0.1],log:true}"))
    params key 'lr': {float:[0.001,0.1],log:true} is lightning-nas search's space syntax
    (search.space); hydra.sweeper.params are written in Hydra's sweep grammar: lr: tag(log,
    interval(0.001, 0.1)) (to fix such a mapping as one value, write it as the string
    '{float:[0.001,0.1],log:true}')
    >>> search_space_syntax("opt", {"name": "adam"}, "{name:adam}") is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.space.params import KINDS

__all__ = ["search_space_syntax"]

#: what a kind of ``search.space`` takes beside its values
_OPTIONS = ("log", "step")


def search_space_syntax(key: str, value: Any, shown: str) -> str | None:
    """The error for ``value``, the params value of ``key``, where it is one parameter of
    ``lightning-nas search``'s space (one kind of ``KINDS``, with ``log`` or ``step``);
    ``None`` for any other value.

    Args:
        key: the params key, as written.
        value: its value (a mapping, for one that is in that syntax).
        shown: ``value`` as an override writes it (``hydra_grammar.format_value``).
    """
    if not isinstance(value, Mapping) or not value:
        return None
    kinds = [k for k in value if k in KINDS]
    if len(kinds) != 1 or any(k not in KINDS and k not in _OPTIONS for k in value):
        return None
    return (f"params key {key!r}: {shown} is lightning-nas search's space syntax "
            f"(search.space); hydra.sweeper.params are written in Hydra's sweep grammar: "
            f"{key}: {_grammar(kinds[0], value)} (to fix such a mapping as one value, write "
            f"it as the string '{shown}')")


def _grammar(kind: str, spec: Mapping[str, Any]) -> str:
    """One parameter of ``search.space`` in Hydra's sweep grammar (an ``int`` with a
    ``step`` as ``range``, whose end is left out: its ``high`` + 1)."""
    values = spec[kind]
    listed = list(values) if isinstance(values, (list, tuple)) else [values]
    if kind == "fixed":
        return str(values)
    if kind in ("choice", "ordered"):
        text = f"choice({', '.join(map(str, listed))})"
        return f"tag(ordered, {text})" if kind == "ordered" else text
    if len(listed) != 2:  # an int or float range of another shape: no translation to give
        return "int(interval(low, high))" if kind == "int" else "interval(low, high)"
    low, high = listed
    if kind == "int" and spec.get("step"):
        return f"range({low}, {high + 1}, {spec['step']})"
    text = f"interval({low}, {high})"
    text = f"int({text})" if kind == "int" else text
    return f"tag(log, {text})" if spec.get("log") else text

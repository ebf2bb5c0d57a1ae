"""A space parameter inside another's value (a conditional parameter), refused as the space
is made: ``check_not_nested``.

A search space's parameters are its keys and groups; an option of a ``choice`` is data, so
``{choice: [{type: conv, k: {choice: [3, 5]}}, {type: mlp}]}`` would give each trial of
the first option the mapping ``{'choice': [3, 5]}`` as its ``k`` (was: taken without a
word), and a parameter object there (``Choice([3, 5])``) was refused as a value JSON
cannot store, naming its import path to give.

Example:
    >>> from lightning_nas.space.params import Choice
    >>> check_not_nested("act", Choice(["relu", {"name": "gelu"}]))
    >>> check_not_nested("block", Choice([{"k": {"choice": [3, 5]}}, {"k": 1}]))
    Traceback (most recent call last):
    ...
    lightning_nas.errors.SpaceError: space key 'block': option 1 of the choice holds ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.errors import SpaceError
from lightning_nas.space.params import KINDS, Choice, Fixed, Ordered, Param, param_from_dict

__all__ = ["check_not_nested"]


def check_not_nested(path: str, param: Param, groups: tuple[type, ...] = ()) -> None:
    """Raise ``SpaceError`` when an option of ``param`` (a ``choice`` or ``ordered``) holds a
    space parameter, its YAML mapping (``{choice: [3, 5]}``, one that reads as a parameter)
    or a parameter object, at any depth; or a ``fixed`` value holds a parameter object (its
    mappings are its constant, as written).

    Args:
        path: the space key, as messages name it (``g.block`` in group ``g``).
        param: the parameter of that key.
        groups: the class of a space's groups (``SearchSpace``, whose module imports this
            one), whose objects are refused there as parameters are.
    """
    if isinstance(param, Choice):
        kind = "ordered choice" if isinstance(param, Ordered) else "choice"
        places = [(f"option {i} of the {kind}", v) for i, v in enumerate(param.values, 1)]
    elif isinstance(param, Fixed):
        places = [("the fixed value", param.value)]
    else:
        return
    for place, value in places:
        found = _parameter_at(value, "", (Param, *groups), isinstance(param, Choice))
        if found is None:
            continue
        where, inner = found
        holds = f"holds a space parameter at {where}" if where else "is a space parameter"
        raise SpaceError(
            f"space key '{path}': {place} {holds}, {inner!r}; a parameter "
            f"inside another's value (a conditional parameter) is not searched, a trial would "
            f"get it as it is: give it a space key of its own (a model may ignore it where its "
            f"option does not use it), or list each combination as an option of a choice "
            f"({{choice: [{{type: conv, k: 3}}, {{type: conv, k: 5}}, {{type: mlp}}]}})")


def _parameter_at(value: Any, where: str, objects: tuple[type, ...],
                  mappings: bool) -> tuple[str, Any] | None:
    """Where in ``value`` (as indexing reaches it, ``['k']``) the first space parameter sits
    and the parameter: one of ``objects``, or with ``mappings`` a mapping that reads as one."""
    if isinstance(value, objects) or (mappings and _reads_as_param(value)):
        return where, value
    items = value.items() if isinstance(value, Mapping) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, item in items:
        found = _parameter_at(item, f"{where}[{key!r}]", objects, mappings)
        if found is not None:
            return found
    return None


def _reads_as_param(value: Any) -> bool:
    """Whether ``value`` is a mapping a space reads as a parameter (``{'int': [1, 3]}``;
    ``{'int': 3}`` is data: no parameter reads from it)."""
    if not isinstance(value, Mapping) or not any(k in KINDS for k in value):
        return False
    try:
        param_from_dict("", value)
    except (SpaceError, TypeError, ValueError):
        return False
    return True

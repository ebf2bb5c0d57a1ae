"""A model or data class's required arguments that a trial's build leaves out, said with
where to set them in the caller's words (``missing_message``): a config's path and its
command-line override (``data.init_args.root``, ``--data.init_args.root=...``), the Python
API's keyword (``data_init_args={'root': ...}``), and the space key that searches it.

A Hydra ``_target_`` node, and a ``class_path`` node holding nodes, are built by
``config.calls.call``, whose error names the node's own path (``data.root``).

Example:
    >>> class Data:
    ...     def __init__(self, root: str, batch_size: int = 32) -> None: ...
    >>> print(missing_message("data", Data, {"batch_size": 8}, {}, config=False))
    data: Data lacks required argument 'root' (data_init_args gives batch_size); give it \
in data_init_args={'root': ...}, or search it: a space key 'data.root'
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from lightning_nas.config.calls import LINK_NOTE, missing_args

__all__ = ["missing_message"]


def missing_message(section: str, target: Any, fixed: Mapping[str, Any],
                    searched: Mapping[str, Any], config: bool, search: bool = True) -> str | None:
    """Why building the class ``target`` of ``section`` (``"model"`` or ``"data"``) fails
    when it lacks required arguments, and where to set them; None when it lacks none (or is
    no class, or its signature cannot be read).

    Args:
        section: ``"model"`` or ``"data"``.
        target: the class a trial builds.
        fixed: its fixed arguments (a config's ``init_args``, ``model_init_args=``).
        searched: those a trial's architecture gives it (the space's keys, without
            ``data.``).
        config: whether the caller wrote a config (its paths and overrides) rather than
            Python (``Search``'s keywords).
        search: whether the space may search it (a search; not a fit).
    """
    if not inspect.isclass(target):
        return None
    missing = missing_args(target, 0, {**fixed, **searched})
    if not missing:
        return None
    one = len(missing) == 1
    what = ("argument " if one else "arguments ") + ", ".join(map(repr, missing))
    givers = [("the config" if config else f"{section}_init_args") if fixed else "",
              "the search space" if searched else ""]
    givers = [g for g in givers if g] or ["the config" if config else f"{section}_init_args"]
    names = ", ".join([*fixed, *(k for k in searched if k not in fixed)]) or "none"
    given = f"{' and '.join(givers)} {'gives' if len(givers) == 1 else 'give'} {names}"
    keys = [m if section == "model" else f"data.{m}" for m in missing]
    if config:
        paths = [f"{section}.init_args.{m}" for m in missing]
        how = (f"set {' and '.join(paths)} in the config (on the command line: "
               f"{' '.join(f'--{p}=...' for p in paths)}; {LINK_NOTE})")
        space = "a search.space key" if one else "search.space keys"
    else:
        values = ", ".join(f"{m!r}: ..." for m in missing)
        how = f"give {'it' if one else 'them'} in {section}_init_args={{{values}}}"
        space = "a space key" if one else "space keys"
    if search:
        how += (f", or search {'it' if one else 'them'}: {space} "
                f"{', '.join(map(repr, keys))}")
    name = getattr(target, "__qualname__", repr(target))
    return f"{section}: {name} lacks required {what} ({given}); {how}"

"""Calling a config node's target with errors that say what to change: ``call`` (an
argument the target does not take, named with the valid ones; a required one the config
does not give, named with where to set it), ``missing_args`` and ``accepted_kwargs``.

Example:
    >>> call(dict, [], {"a": 1}, "node")
    {'a': 1}
    >>> accepted_kwargs(lambda a, *, b=1, **rest: None)
    (['a', 'b'], True)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from lightning_nas.errors import ConfigError, did_you_mean

__all__ = ["LINK_NOTE", "accepted_kwargs", "call", "missing_args", "partial_may_help"]

#: why a section's argument a LightningCLI project links (``link_arguments``) is missing here
LINK_NOTE = ("the link_arguments of your own LightningCLI are applied only where search.cli "
             "names it: README, LightningCLI configs, 'link_arguments: name your CLI in "
             "search.cli'")


def call(target: Any, args: list[Any], kwargs: dict[str, Any], path: str,
         hydra: bool = False) -> Any:
    """``target(*args, **kwargs)`` for the node at ``path`` (Hydra if ``hydra``): an argument
    neither its signature nor its wrapper's takes is named with the valid ones, a required
    one not given with where to set it (a nested node's may come later: ``_partial_: true``,
    as an optimizer's ``params``; a section's may be a LightningCLI link's)."""
    name = getattr(getattr(target, "func", target), "__qualname__", repr(target))
    unknown = [key for key in kwargs if not _takes(target, key)]
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        names = accepted_kwargs(target)[0]
        raise ConfigError(f"{where}: not an argument of {name}; "
                          f"{did_you_mean(unknown[0], names)}it takes {names}")
    try:
        return target(*args, **kwargs)
    except TypeError as err:
        text, missing = str(err), missing_args(target, len(args), kwargs)
        nested = partial_may_help(path)  # not a section nor a Trainer's: may be called later
        if "missing" not in text or "required" not in text or not (nested or missing):
            raise
        later = ("if it is to be called later with that argument (an optimizer with the "
                 "model's parameters, a scheduler with its optimizer), add `_partial_: true` "
                 "to its node") if nested else ""
        if not missing:
            raise ConfigError(f"{path or 'node'}: {name}: {text}; {later}") from err
        paths = [f"{path + '.' if path else ''}{'' if hydra else 'init_args.'}{m}"
                 for m in missing]
        keys = " and ".join(paths)
        link = (f" (on the command line: {' '.join(f'--{p}=...' for p in paths)}; "
                f"{LINK_NOTE})" if path in ("model", "data") and not hydra else "")
        raise ConfigError(f"{path or 'node'}: {name}: the config does not give required argument"
                          f" {', '.join(map(repr, missing))}; set {keys}{link}"
                          f"{'; or, ' + later if later else ''}") from err


def _takes(target: Any, key: str) -> bool:
    """Whether ``target`` takes keyword ``key`` by its signature or, for a wrapper
    (``functools.wraps``), by the wrapper's own (unreadable signatures: as it is called)."""
    for follow in (True, False):
        try:
            params = inspect.signature(target, follow_wrapped=follow).parameters.values()
        except (TypeError, ValueError):
            return True
        if any(p.kind is p.VAR_KEYWORD or (p.name == key and p.kind in (
                p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)) for p in params):
            return True
    return False


def missing_args(target: Any, n_args: int, kwargs: Mapping[str, Any]) -> list[str]:
    """The required arguments of ``target`` that ``n_args`` values and ``kwargs`` leave out."""
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return []
    given = {p.name for p in params[:n_args]} | set(kwargs)
    return [p.name for p in params if p.default is p.empty and p.name not in given
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def accepted_kwargs(fn: Callable[..., Any]) -> tuple[list[str], bool]:
    """The keyword arguments ``fn`` takes (``self`` left out), and whether it takes ``**kwargs``.

    Example:
        >>> accepted_kwargs(lambda a, *, b=1, **rest: None)
        (['a', 'b'], True)
    """
    params = list(inspect.signature(fn).parameters.values())
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
             and p.name != "self"]
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


#: the nodes built as objects the Trainer takes (its callbacks, loggers, plugins, strategy;
#: a Hydra job config's ``callbacks`` and ``logger`` groups): never a ``functools.partial``
_INSTANCES = ("trainer", "callbacks", "logger")


def partial_may_help(path: str) -> bool:
    """Whether the node at ``path`` may be one to call later (``_partial_: true``, as an
    optimizer's node takes the model's parameters later): a nested node, not a section, nor
    one of the Trainer's (a callback, a logger: the Trainer takes instances, was: advised).

    Example:
        >>> partial_may_help("model.optimizer"), partial_may_help("trainer.callbacks[0]")
        (True, False)
    """
    head = path.split(".", 1)[0].split("[", 1)[0]
    return any(c in path for c in ".[") and head not in _INSTANCES

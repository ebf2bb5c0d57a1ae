"""The arguments a class takes through its ``**kwargs``, as jsonargparse (LightningCLI)
finds them, and as a Python call (Hydra's ``_target_``, ``Search(Class, ...)``) passes them.

``kwargs_chain`` follows ``super().__init__(**kwargs)`` along the bases (with ``forwarded``:
only where the source passes ``**kwargs`` on whole, so Python would too); ``init_kwargs``
and ``init_hints`` are the names and annotations along it; ``resolved_args`` and
``chain_required`` ask jsonargparse, which also follows a call in ``__init__``
(``self.body = WideBackbone(**kwargs)``), and say which of those are required.

Example:
    >>> class A:
    ...     def __init__(self, width: int, lr: float = 0.1): ...
    >>> class B(A):
    ...     def __init__(self, extra: int = 0, **kwargs): super().__init__(**kwargs)
    >>> init_kwargs(B), chain_required(B)
    ((['extra', 'width', 'lr'], False), ['width'])
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
import typing
from collections.abc import Callable
from typing import Any

__all__ = ["chain_required", "forwards_whole", "init_hints", "init_kwargs", "kwargs_chain",
           "resolved_args"]


def kwargs_chain(target: Callable[..., Any], forwarded: bool = False
                 ) -> list[Callable[..., Any]]:
    """The ``__init__`` of class ``target`` and, while one takes ``**kwargs``, those of its
    bases (as jsonargparse follows ``super().__init__(**kwargs)``), up to Lightning's and
    torch's own; a function alone. With ``forwarded`` (a Python call: Hydra's ``_target_``,
    ``Search(Class, model_init_args=...)``), only while an ``__init__`` uses its ``**kwargs``
    solely to pass them whole to ``super().__init__`` (``forwards_whole``), where Python
    itself would pass every such name to the next one (one that pops or keeps a name may
    take it).

    Example:
        >>> class A:
        ...     def __init__(self, lr: float = 0.1): ...
        >>> class B(A):
        ...     def __init__(self, width: int = 4, **kwargs): super().__init__(**kwargs)
        >>> [f.__qualname__ for f in kwargs_chain(B)]
        ['B.__init__', 'A.__init__']
    """
    if not inspect.isclass(target):
        return [target]
    chain: list[Callable[..., Any]] = []
    for cls in target.__mro__:
        if cls is object or cls.__module__.split(".")[0] in ("lightning", "torch"):
            break
        if "__init__" not in vars(cls):
            continue
        chain.append(cls.__init__)
        try:
            kinds = {p.kind for p in inspect.signature(cls.__init__).parameters.values()}
        except (TypeError, ValueError):
            break
        if inspect.Parameter.VAR_KEYWORD not in kinds or (
                forwarded and not forwards_whole(cls.__init__)):
            break
    return chain or [target.__init__]


@functools.lru_cache(maxsize=256)
def forwards_whole(init: Callable[..., Any]) -> bool:
    """Whether the source of ``init`` uses its ``**kwargs`` only as ``**kwargs`` in calls of
    ``super().__init__(...)`` (no pop, no copy kept, no decorator), so that each name it takes
    goes to the next ``__init__`` of the class's bases; False where that cannot be read.
    (``def __init__(self, **kwargs): super().__init__(**kwargs)``: True; with
    ``self.tag = kwargs.pop("tag")`` too: False.)
    """
    if hasattr(init, "__wrapped__"):
        return False
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    except (OSError, TypeError, SyntaxError):
        return False
    fn = tree.body[0] if tree.body else None
    if not isinstance(fn, ast.FunctionDef) or fn.decorator_list or fn.args.kwarg is None:
        return False
    name = fn.args.kwarg.arg
    uses = [n for n in ast.walk(fn) if isinstance(n, ast.Name) and n.id == name]
    passed = {id(kw.value) for call in ast.walk(fn) if isinstance(call, ast.Call)
              and _is_super_init(call.func) for kw in call.keywords if kw.arg is None}
    return bool(uses) and all(id(n) in passed for n in uses)


def _is_super_init(func: ast.expr) -> bool:
    """Whether ``func`` is ``super().__init__``."""
    return (isinstance(func, ast.Attribute) and func.attr == "__init__"
            and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "super" and not func.value.args)


def init_hints(target: Callable[..., Any]) -> dict[str, Any]:
    """The annotations of the arguments of ``target`` (``kwargs_chain``: a base's too, as
    jsonargparse finds an argument passed on through ``**kwargs``)."""
    hints: dict[str, Any] = {}
    for init in kwargs_chain(target):
        try:
            found = typing.get_type_hints(init)
        except Exception:  # noqa: BLE001 - unresolvable annotations: nothing converted
            continue
        for key, hint in found.items():
            hints.setdefault(key, hint)
    hints.pop("return", None)
    return hints


def init_kwargs(target: Callable[..., Any], forwarded: bool = False
                ) -> tuple[list[str], bool]:
    """The keyword arguments ``target`` takes along its ``kwargs_chain`` (a base's too, as
    jsonargparse finds them; ``forwarded``: as a Python call passes them for certain), and
    whether the chain ends in a ``**kwargs`` that may take any name (one passed on to
    Lightning's or torch's own ``__init__``, or not passed on, or not only passed on).

    Example:
        >>> class A:
        ...     def __init__(self, lr: float = 0.1): ...
        >>> class B(A):
        ...     def __init__(self, width: int = 4, **kwargs): super().__init__(**kwargs)
        >>> init_kwargs(B)
        (['width', 'lr'], False)
    """
    names: list[str] = []
    var_kw = False
    for init in kwargs_chain(target, forwarded):
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):  # unreadable: it may take any name
            return names, True
        names += [p.name for p in params if p.name != "self" and p.name not in names
                  and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
    return names, var_kw


@functools.lru_cache(maxsize=256)
def resolved_args(cls: type) -> dict[str, bool] | None:
    """The arguments jsonargparse (LightningCLI) finds for class ``cls``, each with whether
    it is required: its own and those its ``**kwargs`` passes on to, by
    ``super().__init__(**kwargs)`` or by a call in its ``__init__`` (``WideBackbone(**kwargs)``),
    less any that call gives itself; ``None`` without jsonargparse or where it cannot read
    ``cls``."""
    try:
        from jsonargparse import ArgumentParser

        parser = ArgumentParser(exit_on_error=False)
        added = parser.add_class_arguments(cls, fail_untyped=False, sub_configs=True)
    except Exception:  # noqa: BLE001 - no jsonargparse, or it cannot read the class
        return None
    required = {action.dest for action in getattr(parser, "_actions", ())
                if getattr(action, "required", False)}
    return {key.split(".")[0]: key in required for key in added}


def chain_required(cls: Any) -> list[str]:
    """The required arguments of class ``cls`` that its own ``__init__`` does not name but
    its ``**kwargs`` passes on to (a base's, or a class's it calls with them), so building it
    without them fails: as jsonargparse finds them (``resolved_args``), else along
    ``kwargs_chain``; none for a function or a class without ``**kwargs``.

    Example:
        >>> class A:
        ...     def __init__(self, width: int, lr: float = 0.1): ...
        >>> class B(A):
        ...     def __init__(self, extra: int = 0, **kwargs): super().__init__(**kwargs)
        >>> chain_required(B)
        ['width']
    """
    if not inspect.isclass(cls):
        return []
    try:
        own = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return []
    if not any(p.kind is p.VAR_KEYWORD for p in own.values()):
        return []
    found = resolved_args(cls)
    if found is not None:
        return [name for name, required in found.items() if required and name not in own]
    out: list[str] = []
    for init in kwargs_chain(cls)[1:]:
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            break
        out += [p.name for p in params if p.default is p.empty and p.name != "self"
                and p.name not in own and p.name not in out
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return out

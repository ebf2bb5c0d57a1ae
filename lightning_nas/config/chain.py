"""The arguments a class takes through its ``**kwargs``, as jsonargparse (LightningCLI)
finds them, and as a Python call (Hydra's ``_target_``, ``Search(Class, ...)``) passes them.

``kwargs_chain`` follows ``super().__init__(**kwargs)`` along the bases (with ``forwarded``:
only where the source passes ``**kwargs`` on whole, so Python would too); ``init_kwargs``
and ``init_hints`` are the names and annotations along it (``init_kwargs`` less those a
``super().__init__(width=4, **kwargs)`` call gives itself: ``super_gives``); ``resolved_args`` and
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
import itertools
import textwrap
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from lightning_nas.errors import did_you_mean

__all__ = ["chain_required", "forwards_whole", "init_hints", "init_kwargs", "kwargs_chain",
           "name_hint", "resolved_args", "super_gives"]


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
    fn = _init_source(init)
    if fn is None or fn.decorator_list or fn.args.kwarg is None:
        return False
    name = fn.args.kwarg.arg
    uses = [n for n in ast.walk(fn) if isinstance(n, ast.Name) and n.id == name]
    passed = {id(kw.value) for call in _super_calls(fn) for kw in call.keywords
              if kw.arg is None}
    return bool(uses) and all(id(n) in passed for n in uses)


@functools.lru_cache(maxsize=256)
def super_gives(init: Callable[..., Any]) -> tuple[int, frozenset[str]]:
    """What the ``super().__init__(...)`` calls in the source of ``init`` that pass its
    ``**kwargs`` on give the next ``__init__`` themselves: how many arguments by position
    (those before a ``*args``) and which by name, so that a ``**kwargs`` holding one of them
    fails ("got multiple values"); none where the source cannot be read.

    Example:
        >>> class A:
        ...     def __init__(self, width: int, depth: int = 1): ...
        >>> class B(A):
        ...     def __init__(self, **kwargs): super().__init__(4, depth=2, **kwargs)
        >>> super_gives(B.__init__)
        (1, frozenset({'depth'}))
    """
    fn = _init_source(init)
    if fn is None or fn.args.kwarg is None:
        return 0, frozenset()
    calls = [call for call in _super_calls(fn) if any(
        kw.arg is None and isinstance(kw.value, ast.Name) and kw.value.id == fn.args.kwarg.arg
        for kw in call.keywords)]
    positional = [next((i for i, a in enumerate(call.args) if isinstance(a, ast.Starred)),
                       len(call.args)) for call in calls]
    return max(positional, default=0), frozenset(
        kw.arg for call in calls for kw in call.keywords if kw.arg is not None)


def name_hint(target: Any, key: str, valid: Iterable[str]) -> str:
    """What to say of ``key``, refused as no argument of ``target`` (which takes ``valid``):
    that a ``super().__init__(...)`` call along its ``**kwargs`` gives it itself
    (``super_gives``: a value for it would be a second one), else the closest valid name
    (``did_you_mean``); ``"; "``-ended, or ``""``."""
    chain = kwargs_chain(target) if inspect.isclass(target) else []
    for init, after in itertools.pairwise(chain):
        positional, names = super_gives(init)
        try:
            params = [p.name for p in inspect.signature(after).parameters.values()
                      if p.name != "self" and p.kind in (p.POSITIONAL_ONLY,
                                                         p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            break
        if key in names or key in params[:positional]:
            return (f"{init.__qualname__} gives it to {after.__qualname__} itself (its "
                    f"super().__init__ call), so a value for it would be a second one; ")
    return did_you_mean(key, valid)


def _init_source(init: Callable[..., Any]) -> ast.FunctionDef | None:
    """The syntax tree of the function ``init`` (undecorated: a wrapper's source is not its
    own), or None where it cannot be read."""
    if hasattr(init, "__wrapped__"):
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    except (OSError, TypeError, SyntaxError):
        return None
    fn = tree.body[0] if tree.body else None
    return fn if isinstance(fn, ast.FunctionDef) else None


def _super_calls(fn: ast.FunctionDef) -> list[ast.Call]:
    """The ``super().__init__(...)`` calls in ``fn``."""
    return [call for call in ast.walk(fn) if isinstance(call, ast.Call)
            and _is_super_init(call.func)]


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
        except Exception:  # noqa: BLE001 - one does not resolve (a TYPE_CHECKING import):
            found = _each_hint(init)  # the others still do (was: none read, none checked)
        for key, hint in found.items():
            hints.setdefault(key, hint)
    hints.pop("return", None)
    return hints


def _each_hint(init: Callable[..., Any]) -> dict[str, Any]:
    """``typing.get_type_hints`` of each annotation of ``init`` alone: those that resolve.

    Example:
        >>> def f(a: int, b: NoSuchName): ...
        >>> _each_hint(f)
        {'a': <class 'int'>}
    """
    space = getattr(inspect.unwrap(init), "__globals__", {})
    out: dict[str, Any] = {}
    for key, hint in getattr(init, "__annotations__", {}).items():
        try:
            out.update(typing.get_type_hints(types.SimpleNamespace(
                __annotations__={key: hint}, __globals__=space)))
        except Exception:  # noqa: BLE001 - this one does not resolve: left unchecked
            continue
    return out


def init_kwargs(target: Callable[..., Any], forwarded: bool = False
                ) -> tuple[list[str], bool]:
    """The keyword arguments ``target`` takes along its ``kwargs_chain`` (a base's too, as
    jsonargparse finds them; ``forwarded``: as a Python call passes them for certain; not
    one a ``super().__init__`` call gives itself, ``super_gives``: a second value fails), and
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
    for params in _chain_params(kwargs_chain(target, forwarded)):
        if params is None:  # unreadable: it may take any name
            return names, True
        names += [p.name for p in params if p.name not in names
                  and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
    return names, var_kw


def _chain_params(chain: list[Callable[..., Any]]
                  ) -> Iterator[list[inspect.Parameter] | None]:
    """The parameters (less ``self``) of each ``__init__`` of ``chain`` that its ``**kwargs``
    may fill: less those an earlier one's ``super().__init__(...)`` call gives itself
    (``super_gives``); None for one whose signature cannot be read."""
    given: set[str] = set()
    positional = 0
    for init in chain:
        try:
            params = [p for p in inspect.signature(init).parameters.values()
                      if p.name != "self"]
        except (TypeError, ValueError):
            yield None
            return
        by_position = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                            p.POSITIONAL_OR_KEYWORD)]
        given.update(by_position[:positional])
        yield [p for p in params if p.name not in given]
        positional, names = super_gives(init)
        given.update(names)


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
    # jsonargparse (4.53) has no public accessor for which arguments are required: its
    # validate() names them only in the text of a TypeError, and get_defaults() gives None
    # for one as for an Optional's default; its own check (iter_required_keys) reads the
    # argparse actions, as here
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
    for params in itertools.islice(_chain_params(kwargs_chain(cls)), 1, None):
        if params is None:
            break
        out += [p.name for p in params if p.default is p.empty
                and p.name not in own and p.name not in out
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return out

"""The keys of a ``link_arguments`` call that a LightningCLI's config never has: a step past a
``class_path`` node without its ``init_args`` level (``data.batch_size`` where ``data`` is
one, ``model.init_args.net.width`` where the model's ``net`` is one); an argument that
jsonargparse does not find for the node's class (one its ``**kwargs`` takes where they are
not passed on whole), or a key inside a plain ``dict`` argument, which jsonargparse holds
whole (``unfound``). jsonargparse takes such a link, then skips it at every parse (a source
not in the namespace) or instantiation (a target not found) without a word, so the
project's CLI never applies it: ``cli_links`` refuses it, naming the key to write.

Example:
    >>> cfg = {"model": {"class_path": "m.Net", "init_args": {"net": {"class_path": "m.Body"}}}}
    >>> unreached(cfg, "model.init_args.net.width")
    'model.init_args.net'
    >>> unreached(cfg, "model.init_args.net.init_args.width") is None
    True
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lightning_nas.config.calls import accepted_kwargs
from lightning_nas.config.chain import init_hints, resolved_args
from lightning_nas.config.imports import import_object
from lightning_nas.config.nodes import is_node
from lightning_nas.errors import ConfigError, did_you_mean

__all__ = ["NODE_KEYS", "Unfound", "drawn_values", "gives_key", "skipped_said",
           "skipped_source", "unfound", "unfound_said", "unreached"]

#: the keys of a ``class_path`` node: a link's key steps into one by these only
NODE_KEYS = ("class_path", "init_args", "dict_kwargs")


def skipped_source(sources: tuple[str, ...]) -> str | None:
    """The first of a parse-time link's ``sources`` that a CLI in subclass mode has no key
    for: ``data.batch_size``, where the key is ``data.init_args.batch_size``. jsonargparse
    takes such a link, then skips it at every parse (its source is not in the namespace).

    Example:
        >>> skipped_source(("data.init_args.n", "data.batch_size"))
        'data.batch_size'
    """
    for source in sources:
        parts = source.split(".")
        if parts[0] in ("model", "data") and len(parts) > 1 and parts[1] not in NODE_KEYS:
            return source
    return None


def unreached(config: Mapping[str, Any], key: str) -> str | None:
    """The ``class_path`` node of ``config`` that a link's ``key`` (in ``model`` or
    ``data``) steps past without its ``init_args`` level, nested in the section (the
    section's own level is ``skipped_source``'s, and a CLI made for fixed classes writes
    ``model.width``), or None; None too where the config does not give the nodes the key
    goes through.

    Example:
        >>> unreached({"data": {"class_path": "m.Data", "init_args": {
        ...     "aug": {"class_path": "m.Flip"}}}}, "data.aug.p")  # fixed classes
        'data.aug'
    """
    parts = key.split(".")
    if parts[0] not in ("model", "data"):
        return None
    node = config.get(parts[0])
    if isinstance(node, Mapping) and "class_path" in node and len(parts) > 1 and (
            parts[1] not in NODE_KEYS):
        node = node.get("init_args")  # a CLI made for fixed classes: model.width
    for at, part in enumerate(parts[1:], 1):
        if not isinstance(node, Mapping):
            return None
        if "class_path" in node and part not in NODE_KEYS:
            return ".".join(parts[:at])
        node = node.get(part)
    return None


def skipped_said(named: str, link: Any, key: str, node: str, role: str = "source") -> str:
    """The refusal of ``link`` (a ``cli_links.Link``; its CLI as ``named``), whose ``key``
    (its ``role``: source or target) steps past the ``class_path`` node at ``node`` without
    its ``init_args`` level.

    Example:
        >>> said = skipped_said("`search.cli`=m.CLI", "link_arguments(...)",
        ...                     "model.init_args.net.width", "model.init_args.net")
        >>> said.endswith("write model.init_args.net.init_args.width")
        True
    """
    mode = "" if "." in node else " (subclass mode)"
    when = "instantiation" if getattr(link, "apply_on", "parse") == "instantiate" else "parse"
    return (f"{named}: {link}: its {role} {key} is no key of a LightningCLI whose {node} "
            f"is a class_path node{mode}, so jsonargparse skips the link at every {when} "
            f"without a word and your CLI never applies it; write "
            f"{node}.init_args.{key[len(node) + 1:]}")


@dataclass(frozen=True)
class Unfound:
    """Where a link's key leaves the keys jsonargparse finds (``unfound``).

    Args:
        at: the key up to the argument (``model.init_args.options``).
        cls: the import path of the class whose argument it is.
        found: the arguments jsonargparse finds for it, where the argument is none of them;
            None where the key steps into the argument's value, which it holds whole.
        kwargs: whether the class's ``__init__`` takes ``**kwargs`` (said in the refusal).
    """

    at: str
    cls: str
    found: tuple[str, ...] | None = None
    kwargs: bool = False


_MISSING = object()


def unfound(config: Mapping[str, Any], key: str) -> Unfound | None:
    """Where a link's ``key`` (in ``model`` or ``data``) leaves the keys jsonargparse finds
    in ``config``'s ``class_path`` nodes: at an argument it does not find for the node's
    class (``chain.resolved_args``: one that ``**kwargs`` takes where they are not passed on
    whole to a base's or a called class's ``__init__``), or past an argument whose value is
    no ``class_path`` node (a plain ``dict``: jsonargparse holds it whole, no key inside;
    one annotated as a dataclass or another nested group is not judged); None where the
    nodes and classes let it be found, or cannot be read (``unreached`` judges a step past a
    nested node without its ``init_args``).

    Example:
        >>> cfg = {"model": {"class_path": "argparse.Namespace"}}  # its **kwargs kept
        >>> unfound(cfg, "model.init_args.width")
        Unfound(at='model.init_args.width', cls='argparse.Namespace', found=(), kwargs=True)
        >>> unfound({"data": {"class_path": "collections.Counter"}}, "data.init_args.iterable")
    """
    parts = key.split(".")
    if parts[0] not in ("model", "data"):
        return None
    node, at = config.get(parts[0]), 1
    while isinstance(node, Mapping) and isinstance(node.get("class_path"), str) and (
            at < len(parts)):
        if parts[at] == "init_args":
            at += 1
        elif parts[at] in NODE_KEYS or at != 1:  # dict_kwargs; a step past init_args:
            return None  # unreached's (at 1: a CLI made for fixed classes, model.width)
        cls = _class(node["class_path"])
        found = None if cls is None or at >= len(parts) else _found(cls)
        if found is None:
            return None
        arg, here = parts[at], ".".join(parts[:at + 1])
        if arg not in found:
            return Unfound(here, node["class_path"], found, _var_keyword(cls))
        if at + 1 == len(parts):
            return None
        args = node.get("init_args")
        value = args.get(arg, _MISSING) if isinstance(args, Mapping) else _MISSING
        if isinstance(value, Mapping) and "class_path" in value:
            node, at = value, at + 1
            continue
        hint = init_hints(cls).get(arg)
        if _nests(hint):
            return None
        held = isinstance(value, Mapping) or (value in (_MISSING, None) and _whole(hint))
        return Unfound(here, node["class_path"]) if held else None
    return None


def _class(path: str) -> type | None:
    """The class at import ``path``, or None."""
    try:
        cls = import_object(path)
    except ConfigError:
        return None
    return cls if isinstance(cls, type) else None


@functools.lru_cache(maxsize=128)
def _found(cls: type) -> tuple[str, ...] | None:
    """The arguments jsonargparse finds for ``cls`` (None: it cannot read it), once per
    class (each trial's links are checked)."""
    found = resolved_args(cls)
    return None if found is None else tuple(found)


def _var_keyword(cls: type) -> bool:
    """Whether the ``__init__`` of ``cls`` takes ``**kwargs``."""
    try:
        return accepted_kwargs(cls.__init__)[1]
    except (TypeError, ValueError):  # no signature to read
        return False


def _options(hint: Any) -> list[Any]:
    """The types of a Union or Optional ``hint`` but None; ``[hint]`` for another."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return [h for h in typing.get_args(hint) if h is not type(None)]
    return [hint]


def _nests(hint: Any) -> bool:
    """Whether jsonargparse makes an argument of ``hint`` a group of keys (a dataclass, a
    pydantic or attrs class): a link's key may go inside it."""
    return any(isinstance(h, type) and (dataclasses.is_dataclass(h) or hasattr(
        h, "model_fields") or hasattr(h, "__attrs_attrs__")) for h in _options(hint))


def _whole(hint: Any) -> bool:
    """Whether an argument of ``hint`` holds a mapping whole: a ``dict``/``Mapping``
    annotation (in an Optional too), ``Any``, or none."""
    for h in _options(hint):
        origin = typing.get_origin(h) or h
        if not (h is None or h is Any or (isinstance(origin, type) and issubclass(
                origin, collections.abc.Mapping))):
            return False
    return True


def unfound_said(named: str, link: Any, key: str, where: Unfound,
                 role: str = "source") -> str:
    """The refusal of ``link`` (a ``cli_links.Link``; its CLI as ``named``), whose ``key``
    (its ``role``: source or target) leaves the keys jsonargparse finds ``where``.

    Example:
        >>> said = unfound_said("`search.cli`=m.CLI", "link_arguments(...)",
        ...                     "model.init_args.width", Unfound("model.init_args.width",
        ...                                                      "m.Net", ()))
        >>> said.endswith("give Net.__init__ an argument width, or link to one it has")
        True
    """
    when = "instantiation" if getattr(link, "apply_on", "parse") == "instantiate" else "parse"
    fixed = key.split(".")[1] != "init_args"  # a CLI made for fixed classes: model.width
    skips = ("so your CLI does not apply it as a trial would" if fixed else
             f"so jsonargparse skips the link at every {when} without a word and your CLI "
             f"never applies it")
    if where.found is not None:
        arg, name = where.at.rsplit(".", 1)[1], where.cls.rsplit(".", 1)[1]
        finds = f"it finds {', '.join(where.found)}" if where.found else "it finds none"
        follows = ("; it follows **kwargs only where they are passed on whole to a base's "
                   "or a called class's __init__" if where.kwargs else "")
        return (f"{named}: {link}: its {role} {key} is no argument jsonargparse finds of "
                f"{where.cls} ({finds}{follows}), {skips}; "
                f"{did_you_mean(arg, where.found)}give {name}.__init__ an argument {arg}, "
                f"or link to one it has")
    return (f"{named}: {link}: its {role} {key} is a key inside {where.at}, a plain dict "
            f"argument of {where.cls} (no class_path node), which jsonargparse holds whole "
            f"with no key inside it, {skips}; link to {where.at} itself (a compute_fn that "
            f"returns the whole dict), or make it a class_path node")


def drawn_values(spec: Any) -> list[Any] | None:
    """The values a space parameter may draw where it names them (a choice's options, a
    fixed value), or None (a group of keys, a range).

    Example:
        >>> drawn_values({"choice": ["a.B", "a.C"]}), drawn_values({"int": [1, 4]})
        (['a.B', 'a.C'], None)
    """
    if isinstance(spec, Mapping):
        for kind in ("choice", "ordered"):
            if isinstance(spec.get(kind), (list, tuple)) and len(spec) <= 2:
                return list(spec[kind])
        return [spec["fixed"]] if "fixed" in spec and len(spec) == 1 else None
    values = getattr(spec, "values", None)  # a Choice or Ordered from Python
    if isinstance(values, (list, tuple)):
        return list(values)
    return [spec.value] if hasattr(spec, "value") else None


def gives_key(value: Any, rest: list[str]) -> bool:
    """Whether ``value`` (a drawn option: an import path, a ``class_path`` node, a dict)
    gives the key ``rest`` (the target's path below the space key, ``init_args`` levels
    left out).

    Example:
        >>> node = {"class_path": "a.B", "init_args": {"width": 16}}
        >>> gives_key(node, ["width"]), gives_key("a.B", ["width"]), gives_key(node, ["depth"])
        (True, False, False)
    """
    if not rest:
        return True
    if not isinstance(value, Mapping):
        return False
    if is_node(value):
        return any(gives_key(value.get(level), rest) for level in ("init_args", "dict_kwargs"))
    return rest[0] in value and gives_key(value[rest[0]], rest[1:])

"""Why a search space key that names a config node's ``class_path``, ``init_args`` or
``dict_kwargs`` is refused, and what to write instead (``node_key_error``); ``SECTIONS`` and
``is_dotted``, which tell a path into a config from a plain key.

Example:
    >>> is_dotted("model.net.width"), is_dotted("width")
    (True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.config.nodes import ARGS_KEYS

__all__ = ["SECTIONS", "is_dotted", "nested_hint", "node_key_error", "section_hint"]

SECTIONS = ("model", "data", "trainer")


#: LightningCLI's top-level optimizer sections (``config.cli_optim``): a space key may be
#: a path into them too (``optimizer.init_args.lr``)
_OPTIM_SECTIONS = ("optimizer", "lr_scheduler")


def is_dotted(key: str) -> bool:
    """Whether a space key is a path into the config (``model.x``, ``data.y``,
    ``optimizer.lr``, ...)."""
    return "." in key and key.split(".", 1)[0] in (*SECTIONS, *_OPTIM_SECTIONS)


def section_hint(key: str, data: Any = None) -> str:
    """Where a plain space key the model does not take belongs, for its error: an argument
    of the data class ``data`` (``data.batch_size``) or of the Trainer
    (``trainer.max_epochs``), since a plain key is the model's; ``''`` when neither.

    A key whose first part is close to a section's name (``modle.net.width``, or the group
    ``modle`` an override's dots make) may be a path into the config, misspelt.

    Example:
        >>> section_hint("max_epochs")
        'it is a Trainer argument: write trainer.max_epochs; '
        >>> section_hint("widht")
        ''
        >>> section_hint("modle.net.width")  # doctest: +ELLIPSIS
        "did you mean 'model.net.width'? a path into the config starts with model., ...; "
    """
    import difflib
    import inspect

    import lightning.pytorch as pl

    from lightning_nas.config.chain import init_kwargs

    if inspect.isclass(data) and key in init_kwargs(data, forwarded=True)[0]:
        return f"it is one of {data.__name__}'s (the data): write data.{key}; "
    if key != "self" and key in inspect.signature(pl.Trainer.__init__).parameters:
        return f"it is a Trainer argument: write trainer.{key}; "
    head, dot, rest = key.partition(".")
    sections = (*SECTIONS, *_OPTIM_SECTIONS)
    close = difflib.get_close_matches(head, sections, n=1, cutoff=0.75)
    if close and head not in sections:  # was: only the model's arguments listed
        group = "" if dot else "if it is a group of paths into the config, "
        return (f"{group}did you mean '{close[0]}{dot}{rest}'? a path into the config starts "
                f"with {', '.join(f'{name}.' for name in sections)}; ")
    return ""


def nested_hint(cls: Any, key: str, accepted: list[str]) -> str:
    """For a plain key of a Python ``Search(cls, ...)`` that reaches into an argument of
    ``cls`` (``net.hidden``, ``net`` accepted): how that argument's own arguments are
    searched, by its annotation (a group for a dict or a dataclass, a ``class_path`` node for
    an object of another class, both where it cannot tell); ``''`` for another key.

    Example:
        >>> class Model:
        ...     def __init__(self, cfg: dict) -> None: ...
        >>> print(nested_hint(Model, "cfg.width", ["cfg"]))
        it reaches into the argument 'cfg', ... as a group, {'cfg': {'width': ...}}, the dict ...
    """
    import inspect
    import typing

    from lightning_nas.config.chain import init_hints
    from lightning_nas.config.records import dataclass_of

    arg, _, rest = key.partition(".")
    if not rest or arg not in accepted:
        return ""
    inner = "..."
    for part in reversed(rest.split(".")):
        inner = f"{{'{part}': {inner}}}"
    hint = init_hints(cls).get(arg, Any)
    kind = typing.get_origin(hint) or hint
    group = dataclass_of(hint) is not None or inspect.isclass(kind) and issubclass(kind, Mapping)
    node = inspect.isclass(hint) and not group and hint is not object
    forms = [f"as a group, {{'{arg}': {inner}}}, the dict (or dataclass) each trial gets"
             ] if not node else []
    forms += [f"in a class_path node, {{'{arg}': {{'class_path': Fixed('pkg.Class'), "
              f"'init_args': {inner}}}}}, which each trial builds"] if not group else []
    return (f"it reaches into the argument {arg!r}, and from Python a model class takes its "
            f"arguments by name (there is no config for a path): search {arg}'s own arguments "
            f"{' or '.join(forms)}, with a builder arch -> LightningModule, or from a config "
            f"(model.{key}); ")


def node_key_error(key: str, spec: Any) -> str:
    """Why a space key naming a node's ``class_path`` (a Hydra node's ``_target_``),
    ``init_args`` or ``dict_kwargs`` is refused, and what to write instead: a nested node's
    class is chosen with the node whole (its classes as ``class_path`` nodes, or ``_target_``
    ones: a Hydra sweep's ``model.optimizer._target_=...`` was refused as "not an argument
    of SGD"), its arguments set by a group at the node; a section's (``model``, ``data``)
    class is not searched, its arguments are keys of their own (was: the section read as a
    model argument, ``model.model: {...}``).

    Example:
        >>> print(node_key_error("model.net.class_path", {"choice": ["m.A", "m.B"]}))
        space key ... model.net: {choice: [{class_path: m.A}, {class_path: m.B}]} ...
        >>> print(node_key_error("data.class_path", {"choice": ["m.A", "m.B"]}))
        space key 'data.class_path': the class of the data section cannot be searched ...
    """
    node, _, part = key.rpartition(".")
    node = node if is_dotted(key) else ".".join(filter(None, ("model", node)))  # a plain
    short = ".".join(name for name in node.split(".") if name not in ARGS_KEYS)  # key: model's
    if short in SECTIONS:
        section = short
        if part not in ("class_path", "_target_") or section == "trainer":
            return (f"space key {key!r} names the {section} section's {part}; give each "
                    f"argument a key of its own: {section}.<name>: {{choice: [...]}}")
        return (f"space key {key!r}: the class of the {section} section cannot be searched "
                f"(a space key sets the section's arguments, or chooses a nested node's "
                f"class: {section}.<argument>: {{choice: [{{{part}: A}}, {{{part}: "
                f"B}}]}}); run one search per {section} class")
    if short in _OPTIM_SECTIONS:  # LightningCLI's top-level optimizer sections: no group, no
        if part not in ("class_path", "_target_"):  # choice of nodes (cli_optim; was: told
            return (f"space key {key!r} names the {short} section's {part}; give each "  # to
                    f"argument a key of its own: {short}.<name>: {{choice: [...]}}")  # write
        return (f"space key {key!r}: the class of the top-level {short} section cannot be "
                f"searched (a choice of whole {short} nodes is not supported); search one "
                f"class's arguments, {short}.<argument>: {{choice: [...]}}, run one search "
                f"per {short} class, or give the model an {short} argument")  # those forms)
    if part not in ("class_path", "_target_"):
        return (f"space key {key!r} names a node's {part}; give its arguments as a group at "
                f"the node: {short}: {{name: {{choice: [...]}}, ...}}")
    return (f"space key {key!r} names a node's {part}, which a group at the node cannot "
            f"change; choose the node whole, its classes as {part} nodes: {short}: "
            f"{_node_choice(spec, part)} (keys under it, {short}.<name>, still set values in "
            f"the chosen node)")


def _node_choice(spec: Any, part: str = "class_path") -> str:
    """The spec of a ``class_path`` key (any choice kind, as a mapping or a ``Param``)
    rewritten to choose class_path nodes (``part``: ``_target_`` ones, of a Hydra node's
    ``_target_`` key), its kind kept; ``{choice: [...]}`` of placeholder
    classes when its values are not class paths (was: only ``choice`` read, an ``ordered``
    or ``fixed`` key's classes lost).

    Example:
        >>> _node_choice({"ordered": ["m.A", "m.B"]})
        '{ordered: [{class_path: m.A}, {class_path: m.B}]}'
        >>> _node_choice({"fixed": "m.A"}), _node_choice({"int": [1, 4]})
        ('{fixed: {class_path: m.A}}', '{choice: [{class_path: A}, {class_path: B}]}')
    """
    spec = spec.to_dict() if callable(getattr(spec, "to_dict", None)) else spec
    kinds = [kind for kind in ("choice", "ordered", "fixed")
             if isinstance(spec, Mapping) and kind in spec]
    kind = kinds[0] if len(kinds) == 1 else "choice"
    values = spec[kind] if kinds else None
    if kind == "fixed" and isinstance(values, str):
        return f"{{fixed: {{{part}: {values}}}}}"
    names = values if kind != "fixed" and isinstance(values, list) and values and all(
        isinstance(value, str) for value in values) else ["A", "B"]
    kind = kind if names is values else "choice"
    nodes = ", ".join(f"{{{part}: {name}}}" for name in names)
    return f"{{{kind}: [{nodes}]}}"

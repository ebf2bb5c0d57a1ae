"""Where a mapping a config path sets is merged over the mapping there, as LightningCLI sets
it: ``--model.net.hidden='{y: 5}'`` is merged key by key over the value at ``hidden`` where
that is a dataclass (the annotation there, walked from the ``__init__`` of the class the
node holding the argument builds, through dataclass fields, is a dataclass or a ``Union``
of them); a plain ``dict`` (or ``Mapping``, ``Any``) argument's ``--model.opt.sub='{y: 5}'``
replaces the mapping at ``sub``. So too at a node's argument itself: a chosen
``model.net: {hidden: 4}`` is merged over the config's ``net`` mapping, as LightningCLI's
``--model.net='{hidden: 4}'`` after the config. ``over_path`` is what
``config.paths.set_paths`` sets (``record_defaults.step_hint`` each step through a dataclass
field, the class the mapping there builds, or a mapping of dataclasses' values).

Example:
    >>> import dataclasses
    >>> In = dataclasses.make_dataclass("In", [("x", int, 0), ("y", int, 1)])
    >>> Out = dataclasses.make_dataclass("Out", [
    ...     ("hidden", In, dataclasses.field(default_factory=In)),
    ...     ("extra", dict, dataclasses.field(default_factory=dict))])
    >>> from lightning_nas.config.records import field_hint
    >>> field_hint(Out, "hidden").__name__, field_hint(Out, "extra"), field_hint(int, "x")
    ('In', <class 'dict'>, None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.config.chain import init_hints
from lightning_nas.config.imports import import_object
from lightning_nas.config.nodes import ARGS_KEYS, is_node, node_args, target_path
from lightning_nas.config.record_defaults import over_held, step_hint

__all__ = ["over_path"]


def over_path(cfg: Mapping[str, Any], key: str, value: Any) -> Any:
    """``value``, to be set at the config path ``key`` of ``cfg`` (``model.net.hidden``), merged
    key by key over the mapping there (``over_held``) where the annotation at ``key`` (a
    node's argument, or a path inside its value) is a dataclass or a ``Union`` of them, as
    LightningCLI merges it; else ``value`` (a plain ``dict``'s: in place of the mapping
    there, as LightningCLI sets it).

    Example:
        >>> import dataclasses, sys
        >>> In = dataclasses.make_dataclass("In", [("x", int, 0), ("y", int, 1)])
        >>> Out = dataclasses.make_dataclass("Out", [
        ...     ("hidden", In, dataclasses.field(default_factory=In))])
        >>> def build(net: Out = Out(), opt: dict = None): ...
        >>> sys.modules[__name__].build = build  # importable, as a config's class is
        >>> cfg = {"model": {"class_path": f"{__name__}.build", "init_args": {
        ...     "net": {"hidden": {"x": 2}}, "opt": {"sub": {"x": 2}}}}}
        >>> over_path(cfg, "model.net.hidden", {"y": 5}), over_path(cfg, "model.opt.sub", {"y": 5})
        ({'x': 2, 'y': 5}, {'y': 5})
        >>> over_path(cfg, "model.net", {"hidden": {"y": 5}}), over_path(cfg, "model.opt", {})
        ({'hidden': {'x': 2, 'y': 5}}, {})
    """
    held, hint = _held(cfg, key)
    return over_held(held, value, hint)


def _held(cfg: Mapping[str, Any], key: str) -> tuple[Any, Any]:
    """The value at ``key`` in ``cfg`` and its annotation, walked from the class of the node
    holding the argument through dataclass fields (a node's argument itself too: a chosen
    ``model.net`` mapping is set over the config's, as LightningCLI's ``--model.net='{hidden:
    4}'`` after the config; was: in place of it, the config's other fields lost);
    ``(None, None)`` where the walk finds no class or annotation."""
    parts = key.split(".")
    node: Any = cfg.get(parts[0])
    hint: Any = None
    for part in parts[1:]:
        if is_node(node):
            if part in ARGS_KEYS:
                continue  # spelt out: the level a path may leave out
            try:
                hint = init_hints(import_object(target_path(node))).get(part)
            except Exception:  # noqa: BLE001 - not importable: nothing merged
                return None, None
            node = node_args(node).get(part)
        else:  # the class the mapping there builds, a dict's values (was: dataclasses alone)
            hint = step_hint(hint, part, node)
            node = node.get(part) if isinstance(node, Mapping) else None
        if hint is None:
            return None, None
    return node, hint

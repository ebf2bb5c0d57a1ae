"""Space keys into one node of the Trainer's lists of objects (``callbacks``, ``logger``,
``plugins``): ``trainer.callbacks.1.patience`` sets argument ``patience`` of the list's
second node in each trial, as Hydra's ``callbacks.early_stopping.patience=5`` sets it in the
lightning-hydra-template's ``train.py``. A config's mapping of named nodes
(``callbacks: {model_checkpoint: {...}, early_stopping: {...}}``, built into a list in its
order) is searched by the node's name: the key the user wrote is the one stored, shown
and written; ``named_places`` says the node's place in that list of each such key as a
config is read (refusing a name the mapping lacks), kept in the config's ``search`` block
(``PLACES_KEY``, ``config_places``), and ``placed`` puts it in a key only where a trial's
Trainer settings are made (``trial_trainer``, best_config.yaml's node);
``trainer_classes_as_nodes`` makes such a mapping that list as a config is read, and
``node_names`` keeps its nodes' names beside it (``NAMES_KEY`` in the ``search`` block, a
fit's too, or the ``oneshot`` block: ``names_kept``, ``config_names``), for the checks of
a search, a one-shot run and a fit to name a node as written (``config.node_labels``).
No torch, no Lightning at import.

Example:
    >>> node = {"_target_": "lightning.pytorch.callbacks.EarlyStopping", "patience": 3}
    >>> named_places({"trainer.callbacks.stop.patience": {"choice": [3, 5]}},
    ...              {"callbacks": {"ckpt": {"_target_": "m.Ckpt"}, "stop": node}})
    {'trainer.callbacks.stop.patience': 'trainer.callbacks.1.patience'}
    >>> set_at_place([node], "trainer.callbacks.0.patience", 5)[0]["patience"]
    5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.config.node_merge import TRAINER_OBJECTS, is_class
from lightning_nas.config.nodes import ARGS_KEYS, builds_at, is_hydra, is_node, node_args, with_args
from lightning_nas.errors import ConfigError, did_you_mean

__all__ = ["NAMES_KEY", "PLACES_KEY", "class_node", "config_names", "config_places",
           "named_places", "names_kept", "node_names", "node_place",
           "placed", "set_at_place", "trainer_classes_as_nodes", "unplaced"]

#: the key of a loaded config's ``search`` block holding ``named_places`` of its space (no
#: user's key: ``load_config`` sets it, ``search_from_config`` takes it out of the settings)
PLACES_KEY = "node_places"

#: the key of a loaded config's ``search`` block (a fit's too) or ``oneshot`` block holding
#: ``node_names`` of its Trainer's mappings of named nodes (no user's key: ``load_config``
#: sets it, ``names_kept``; ``unplaced`` and ``block_settings`` drop it; a resume does not
#: compare it, so a run stored before it resumes as before)
NAMES_KEY = "node_names"

#: the config blocks that hold lightning-nas's own keys (``PLACES_KEY`` the search's alone)
_BLOCKS = ("search", "oneshot")


def trainer_classes_as_nodes(trainer: Mapping[str, Any]) -> dict[str, Any]:
    """``trainer`` with a class named by its path or name in ``TRAINER_OBJECTS`` (alone or
    in a list) as a ``class_path`` node, as LightningCLI reads ``--trainer.callbacks=
    LearningRateMonitor`` (was: refused, "expected list[Callback] or Callback or null",
    though ``+=`` took the same name).

    A mapping of named nodes there, the lightning-hydra-template's ``callbacks/default.yaml``
    (``{model_checkpoint: {_target_: ...}, early_stopping: {...}}``) or ``logger/csv.yaml``,
    is the list of its nodes in its order, a null one left out, as that template's
    ``train.py`` builds them (``instantiate_callbacks``; was: refused, "expected
    list[Callback] or Callback or null"). An empty one, or one whose every node is null
    (``callbacks.rich_progress_bar=null`` over a file of only that), is an empty list, as
    that ``train.py`` gives: no callbacks of the user's, and no logger (``logger=[]``; was:
    refused so).

    Example:
        >>> trainer_classes_as_nodes({"callbacks": "LearningRateMonitor", "logger": False})
        {'callbacks': {'class_path': 'LearningRateMonitor'}, 'logger': False}
        >>> trainer_classes_as_nodes({"logger": {"csv": {"_target_": "CSVLogger"}, "tb": None}})
        {'logger': [{'_target_': 'CSVLogger'}]}
        >>> trainer_classes_as_nodes({"callbacks": {}, "logger": {"tb": None}})
        {'callbacks': [], 'logger': []}
    """
    out = dict(trainer)
    for key in TRAINER_OBJECTS:
        value = out.get(key)
        if _named_nodes(value):
            value = out[key] = [node for node in value.values() if node is not None]
        if isinstance(value, list):
            out[key] = [class_node(item) for item in value]
        elif isinstance(value, str):
            out[key] = class_node(value)
    return out


def _named_nodes(value: Any) -> bool:
    """Whether ``value`` is a mapping of named nodes (no node itself), each null or a
    ``_target_`` / ``class_path`` node; an empty mapping too."""
    return (isinstance(value, Mapping) and not is_node(value)
            and all(item is None or is_node(item) for item in value.values()))


def class_node(value: Any) -> Any:
    """``value`` as a ``class_path`` node where it names a class by its path or name.

    Example:
        >>> class_node("LearningRateMonitor"), class_node(3)
        ({'class_path': 'LearningRateMonitor'}, 3)
    """
    return {"class_path": value} if isinstance(value, str) and is_class(value, short=True) \
        else value


def node_place(key: str) -> tuple[str, int, list[str]] | None:
    """The Trainer argument, the place in its list and the path in that node a space key
    ``trainer.NAME.PLACE.ARG...`` sets (``init_args`` levels left out; a Hydra sweep's
    ``+``/``++`` too), or None for any other key.

    Example:
        >>> node_place("trainer.callbacks.0.init_args.patience"), node_place("trainer.logger")
        (('callbacks', 0, ['patience']), None)
    """
    parts = str(key).lstrip("+").split(".")
    if len(parts) < 4 or parts[0] != "trainer" or parts[1] not in TRAINER_OBJECTS \
            or not parts[2].isdigit():
        return None
    rest = [part for part in parts[3:] if part not in ARGS_KEYS]
    return (parts[1], int(parts[2]), rest) if rest else None


def set_at_place(held: Any, key: str, value: Any) -> list[Any]:
    """A copy of the Trainer's list ``held`` with ``value`` set at the node and argument
    space key ``key`` names (``node_place``): beside a Hydra node's ``_target_``, into a
    ``class_path`` node's ``init_args``; a mapping or node on the way is descended into
    (under a Hydra node a ``class_path`` mapping is data, as Hydra passes it).

    Raises:
        ConfigError: naming ``key``, where the list has no node at that place.
    """
    name, place, path = node_place(key)  # type: ignore[misc]
    items = list(held) if isinstance(held, list) else [] if held is None else [held]
    if place >= len(items):
        count = f"holds {len(items)} node{'s' * (len(items) != 1)}" + (
            f" (0 to {len(items) - 1})" if items else "")
        raise ConfigError(f"space key {key!r}: trainer.{name} {count}; a key into one of "
                          f"its nodes names its place in the list")
    if not is_node(items[place]):
        raise ConfigError(f"space key {key!r}: trainer.{name}[{place}] is "
                          f"{type(items[place]).__name__} {items[place]!r}, not a config node "
                          f"({{_target_: ...}} or {{class_path: ..., init_args: ...}}), so "
                          f"it has no argument to set; give it as a node")
    items[place] = _set_in(items[place], path, value, hydra=False)
    return items


def _set_in(value: Any, path: list[str], new: Any, hydra: bool) -> Any:
    """``value`` (a node, a mapping or None) with ``new`` at ``path``, copied on the way."""
    if not path:
        return new
    if builds_at(value, hydra):
        args = node_args(value)
        args[path[0]] = _set_in(args.get(path[0]), path[1:], new, is_hydra(value))
        return with_args(value, args)
    out = dict(value) if isinstance(value, Mapping) else {}
    out[path[0]] = _set_in(out.get(path[0]), path[1:], new, hydra)
    return out


def named_places(space: Mapping[str, Any], trainer: Any,
                 model: Any = None) -> dict[str, str]:
    """The place in its list of the node each key of ``space`` names in a mapping of named
    nodes that ``trainer`` (a config's, before the mapping is made its list) holds at
    ``callbacks``, ``logger`` or ``plugins``: ``{key: the key with the node's place for its
    name}`` (its null nodes left out, as the list leaves them out), for ``placed``.
    ``model``: the config's model section, whose own argument ``callbacks`` (or ``logger``)
    a key without ``trainer.`` may set.

    Raises:
        ConfigError: naming the key: a name the mapping lacks (with its names), a null
            node, or ``callbacks.NAME...`` without ``trainer.`` (a Hydra job config's
            top-level group, which a search config holds at ``trainer.callbacks``).
    """
    trainer = trainer if isinstance(trainer, Mapping) else {}
    out: dict[str, str] = {}
    for key in space:
        parts = str(key).split(".")
        named = trainer.get(parts[0]) if parts[0] in TRAINER_OBJECTS else None
        taken = is_node(model) and parts[0] in node_args(model)  # the model's own
        if len(parts) > 2 and _named_nodes(named) and parts[1] in named and not taken:
            raise ConfigError(f"space key {key!r}: a search config's {parts[0]} are "
                              f"trainer.{parts[0]}; write trainer.{key}")
        held = trainer.get(parts[1]) if len(parts) > 3 and parts[0] == "trainer" \
            and parts[1] in TRAINER_OBJECTS else None
        if _named_nodes(held) and not parts[2].isdigit():
            out[str(key)] = f"trainer.{parts[1]}.{_place(key, parts[1], parts[2], held)}." \
                            f"{'.'.join(parts[3:])}"
    return out


def config_places(config: Any) -> dict[str, str]:
    """``named_places`` of a loaded config's space, as ``load_config`` kept them in its
    ``search`` block (none: ``{}``).

    Example:
        >>> config_places({"search": {PLACES_KEY: {"trainer.callbacks.stop.patience":
        ...                                        "trainer.callbacks.1.patience"}}})
        {'trainer.callbacks.stop.patience': 'trainer.callbacks.1.patience'}
        >>> config_places(None)
        {}
    """
    block = config.get("search") if isinstance(config, Mapping) else None
    places = block.get(PLACES_KEY) if isinstance(block, Mapping) else None
    return dict(places) if isinstance(places, Mapping) else {}


def unplaced(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with its ``search`` or ``oneshot`` block as the user gave it:
    ``PLACES_KEY`` and ``NAMES_KEY`` left out, and a block that held nothing else (a fit's
    ``search`` block ``load_config`` made for the names) with them (its settings, what
    ``--print_config`` prints).

    Example:
        >>> unplaced({"search": {"budget": 2, PLACES_KEY: {}}, "model": "m.Net"})
        {'search': {'budget': 2}, 'model': 'm.Net'}
        >>> unplaced({"model": "m.Net", "search": {NAMES_KEY: {"callbacks": ["stop"]}}})
        {'model': 'm.Net'}
    """
    out = dict(config)
    for name in _BLOCKS:
        block = out.get(name)
        if not isinstance(block, Mapping) or not {PLACES_KEY, NAMES_KEY} & set(block):
            continue
        out[name] = {k: v for k, v in block.items() if k not in (PLACES_KEY, NAMES_KEY)}
        if not out[name]:
            del out[name]
    return out


def placed(arch: Mapping[str, Any], places: Mapping[str, str]) -> dict[str, Any]:
    """``arch`` with each key into a named node (``places``, from ``named_places``) as the
    key of the node's place in its list, as a trial's Trainer settings take it.

    Example:
        >>> placed({"trainer.callbacks.stop.patience": 5, "width": 4},
        ...        {"trainer.callbacks.stop.patience": "trainer.callbacks.1.patience"})
        {'trainer.callbacks.1.patience': 5, 'width': 4}
    """
    return {places.get(key, key): value for key, value in arch.items()}


def _place(key: str, name: str, node: str, named: Mapping[str, Any]) -> int:
    """The place of node ``node`` of ``named`` in the list it is built into."""
    if node not in named:
        raise ConfigError(f"space key {key!r}: trainer.{name} has no node named {node!r}; "
                          f"{did_you_mean(node, list(named))}its nodes: "
                          f"{', '.join(map(str, named))}")
    if named[node] is None:
        raise ConfigError(f"space key {key!r}: trainer.{name}.{node} is null, so no trial "
                          f"builds it; give it a node to search its arguments")
    return [k for k, v in named.items() if v is not None].index(node)


def node_names(trainer: Any) -> dict[str, list[str]]:
    """The names of the nodes of each mapping of named nodes ``trainer`` (a config's, before
    ``trainer_classes_as_nodes`` makes it a list) holds at ``callbacks``, ``logger`` or
    ``plugins``, in the order of that list (null nodes left out, as it leaves them out).

    Example:
        >>> node_names({"callbacks": {"ckpt": {"_target_": "m.C"}, "bar": None,
        ...                           "stop": {"_target_": "m.S"}}, "logger": False})
        {'callbacks': ['ckpt', 'stop']}
    """
    trainer = trainer if isinstance(trainer, Mapping) else {}
    return {key: [str(name) for name, node in held.items() if node is not None]
            for key in TRAINER_OBJECTS if _named_nodes(held := trainer.get(key))
            and any(node is not None for node in held.values())}


def names_kept(config: Mapping[str, Any], block: str, trainer: Any) -> dict[str, Any]:
    """``config`` with ``node_names`` of ``trainer`` (its Trainer as written, before
    ``trainer_classes_as_nodes``) kept in its ``block`` (``search``, a fit's too, or
    ``oneshot``; made where it has none) as ``NAMES_KEY``, as ``load_config`` keeps them
    (none: ``config`` as it is; a block that is no mapping is left to its checks).

    Raises:
        ConfigError: where the block gives ``NAMES_KEY`` itself (lightning-nas's own).

    Example:
        >>> names_kept({"oneshot": {"seed": 0}}, "oneshot",
        ...            {"callbacks": {"stop": {"_target_": "m.S"}}})["oneshot"]
        {'seed': 0, 'node_names': {'callbacks': ['stop']}}
    """
    given = config.get(block)
    if isinstance(given, Mapping) and NAMES_KEY in given:
        raise ConfigError(f"{block}.{NAMES_KEY}: lightning-nas's own (the names of the "
                          f"Trainer's named nodes, set as the config is read), not a "
                          f"setting; remove it")
    names = node_names(trainer)
    if not names or not (given is None or isinstance(given, Mapping)):
        return dict(config)
    return {**config, block: {**(given or {}), NAMES_KEY: names}}


def config_names(config: Any) -> dict[str, list[str]]:
    """``node_names`` of a loaded config's Trainer, as ``load_config`` kept them in its
    ``search`` or ``oneshot`` block (none: ``{}``).

    Example:
        >>> config_names({"search": {NAMES_KEY: {"callbacks": ["stop"]}}}), config_names(None)
        ({'callbacks': ['stop']}, {})
        >>> config_names({"oneshot": {NAMES_KEY: {"logger": ["csv"]}}})
        {'logger': ['csv']}
    """
    blocks = [config.get(name) for name in _BLOCKS] if isinstance(config, Mapping) else []
    names = next((block[NAMES_KEY] for block in blocks
                  if isinstance(block, Mapping) and NAMES_KEY in block), None)
    return {str(k): list(v) for k, v in names.items()} if isinstance(names, Mapping) else {}

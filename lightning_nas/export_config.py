"""What ``best_config.yaml`` holds: ``best_config``, a search config as its trial ran it
(the architecture filled in, no ``search`` block, the trials' seed and epochs, the trial
defaults that change scores), and ``model_section``, the ``model`` node of a search from
Python, with what ``best.yaml`` says beside it (``objects_beside``). ``lightning_nas.export``
writes the file (and re-exports ``best_config``).

Example:
    >>> model_section({"class_path": "m.Net", "init_args": {"depth": 2}}, {"width": 8})
    {'class_path': 'm.Net', 'init_args': {'depth': 2, 'width': 8}}
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any

from lightning_nas.config.chain import init_hints
from lightning_nas.config.hparams import written_floats
from lightning_nas.config.imports import import_object
from lightning_nas.config.instance_records import node_fields, rebuilt, unwritten_note
from lightning_nas.config.node_places import config_places, node_place, placed
from lightning_nas.config.paths import kwargs_apart, set_paths
from lightning_nas.config.record_defaults import over_default, over_fields, over_own_defaults
from lightning_nas.config.space_keys import is_dotted
from lightning_nas.errors import ConfigError
from lightning_nas.export_trainer import result_defaults
from lightning_nas.trial_trainer import trial_trainer

__all__ = ["best_config", "model_section", "objects_beside"]


def best_config(config: Mapping[str, Any], arch: Mapping[str, Any], *,
                seed: int | None = None, max_epochs: int | None = None) -> dict[str, Any]:
    """The search config as the trial ran it: ``arch`` filled in, no ``search`` block.

    Plain keys go to ``model.init_args`` (``dict_kwargs``, where LightningCLI takes them,
    when the class takes them only through ``**kwargs``), dotted keys (``model.net.width``,
    ``data.batch_size``, ``trainer.gradient_clip_val``) to their paths;
    ``seed_everything`` is the seed the trials ran with (the search's, which may differ from
    the config's), ``trainer.max_epochs`` the epochs of a complete trial when a
    scheduler set them, and the trial defaults that change a trial's results written out
    (``export_trainer.result_defaults``: ``enable_model_summary: false`` where the model
    summary would run ``forward``, an ``example_input_array``, unless the config set it).
    An int a ``class_path`` node's class gets as a float is written as the float
    (``hparams.written_floats``), as LightningCLI's saved config has it.
    It trains the trial again as is (``LightningCLI`` or ``lightning-nas fit``).

    Args:
        config: the search's config (its ``search`` block dropped).
        arch: the trial's architecture: plain and dotted keys.
        seed: ``seed_everything`` of the trials (None: the config's).
        max_epochs: a complete trial's epochs when a scheduler set them (None: the config's).

    Example:
        >>> cfg = {"seed_everything": 1, "model": "m.Net", "trainer": {"max_epochs": 9},
        ...        "search": {"space": {}}}
        >>> out = best_config(cfg, {"width": 8, "trainer.max_epochs": 4}, seed=0)
        >>> out["seed_everything"], out["model"]["init_args"], out["trainer"], "search" in out
        (0, {'width': 8}, {'max_epochs': 4, 'enable_model_summary': False}, False)
    """
    cfg = copy.deepcopy(dict(config))
    arch = placed(arch, config_places(cfg))  # a key into a named node: at its place
    cfg.pop("search", None)
    if seed is not None:
        cfg["seed_everything"] = seed
    if isinstance(cfg.get("model"), str):
        cfg["model"] = {"class_path": cfg["model"]}
    if isinstance(cfg.get("data"), str):
        cfg["data"] = {"class_path": cfg["data"]}
    if max_epochs is not None:
        cfg["trainer"] = {**(cfg.get("trainer") or {}), "max_epochs": max_epochs}
    # a searched trainer.max_epochs wins, as in the trial; a key into a callback's node
    places = {key: value for key, value in arch.items() if node_place(key) is not None}
    if places:  # (trainer.callbacks.1.patience) set in its list, as the trial's Trainer got it
        cfg["trainer"] = trial_trainer(places, cfg.get("trainer") or {})
    set_paths(cfg, [(key if is_dotted(key) else f"model.{key}", value)
                    for key, value in arch.items()
                    if key not in places])  # what only **kwargs takes: dict_kwargs
    # the trial defaults that change scores (the model summary where it runs forward)
    cfg["trainer"] = {**(cfg.get("trainer") or {}),
                      **result_defaults(cfg.get("trainer") or {}, cfg.get("model"))}
    cfg.update({name: kwargs_apart(cfg[name]) for name in ("model", "data") if name in cfg})
    cfg = written_floats(cfg)  # rate: 1.0 for a float, as the trial got it (was: 1)
    order = ("seed_everything", "model", "data", "trainer", "optimizer",
             "lr_scheduler")  # LightningCLI's order
    return {**{k: cfg[k] for k in order if k in cfg}, **cfg}


def model_section(model: Mapping[str, Any], arch: Mapping[str, Any]) -> dict[str, Any]:
    """``{class_path, init_args}`` of a search from Python: its stored model with the plain
    keys of ``arch`` in ``init_args`` and ``model.*`` keys at their paths; a dataclass
    argument's mapping (a group, or the stored arguments' own) over its signature default's
    fields, as the trial got it (``record_defaults.over_default``; where the class imports); a
    group over an instance the search was given (the store's ``objects``, which replaced
    the default) over the instance's stored fields (``_over_instance``); an instance without a group
    by its fields, where LightningCLI builds it from them (the store's ``dataclasses``,
    ``instance_records.node_fields``; was: left out, so LightningCLI built the signature
    default; else ``objects_beside`` says why it is left out); an int for a float written as
    the float (``hparams.written_floats``)."""
    section = {"class_path": model.get("class_path"),
               "init_args": copy.deepcopy(dict(model.get("init_args") or {}))}
    objects = set(model.get("objects") or {})
    cfg, target = {"model": section}, _imported(model.get("class_path"))
    set_paths(cfg, [(key if is_dotted(key) else f"model.{key}", value)
                    for key, value in arch.items()
                    if not is_dotted(key) or key.startswith("model.")])
    if target is not None:
        records = model.get("dataclasses") or {}
        section["init_args"] = {key: (_over_instance(target, key, value, records.get(key))
                                      if key in arch else value) if key in objects
                                else over_default(target, key, value)
                                for key, value in section["init_args"].items()}
        for key, record in records.items():
            if key not in section["init_args"] and (
                    fields := node_fields(target, key, record)) is not None:
                section["init_args"][key] = fields
    return written_floats(cfg["model"])  # rate: 1.0 for a float, as built (was: 1)


def _over_instance(target: Any, key: str, group: Any, record: Mapping[str, Any] | None) -> Any:
    """The searched ``group`` over the instance the store keeps of ``target``'s argument
    ``key`` (``record``): over its fields, as the trial's build sets it (``over_fields``;
    was: over the annotated dataclass's own defaults, a ``Union``'s first class's); without
    a record (a store written before them), over those defaults, which the group check kept
    the instance's other fields at (it refuses a group that leaves out a field of an
    instance the store keeps no record of).

    Raises:
        ConfigError: the record's class no longer imports or builds it from its fields (a
            class renamed since the search), naming the class and what to do (was: over the
            own defaults too, so the node said fields no trial trained with).
    """
    if not record:
        return over_own_defaults(target, key, group)
    try:
        return over_fields(rebuilt(record), group, init_hints(target).get(key))
    except ConfigError as err:
        paths = [path for path in record.get("classes", {}).values() if path is not None] \
            if "classes" in record else [record.get("class_path")]
        raise ConfigError(
            f"model_init_args[{key!r}]: the store keeps a {' and '.join(map(str, paths))} "
            f"instance there, with the fields {dict(record['init_args'])!r:.120}, but {err}; "
            f"best.yaml's node cannot set the searched {key!r} over those fields (the "
            f"dataclass's own defaults in their place would say fields no trial trained "
            f"with). To fix it, make {' and '.join(map(str, paths))} importable again, taking "
            f"those fields (an alias of a renamed class in its old module, "
            f"OldName = NewName), and export again") from None


def objects_beside(model: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    """What ``best.yaml`` says beside the ``model`` node ``node`` of a search from Python
    (its stored ``model``): ``model_objects``, the objects the node leaves out (by import
    path; null for one without: ``finetune`` asks for it again, but for a dataclass
    instance the store keeps, which it builds again), and ``notes`` saying why the node
    leaves out such an instance (``instance_records.unwritten_note``); nothing without.

    Example:
        >>> objects_beside({"objects": {"act": "math.tanh"}}, {"init_args": {}})
        {'model_objects': {'act': 'math.tanh'}}
    """
    said, records = node.get("init_args") or {}, model.get("dataclasses") or {}
    target = _imported(model.get("class_path"))
    out: dict[str, Any] = {}
    if left := {key: path for key, path in (model.get("objects") or {}).items()
                if not (key in records and key in said)}:
        out["model_objects"] = left
    if notes := [unwritten_note("model", key, target, record)
                 for key, record in records.items() if key not in said]:
        out["notes"] = notes
    return out


def _imported(path: Any) -> Any:
    """The class at the import path ``path``, or None (no path, a builder function, or it
    no longer imports)."""
    try:
        found = import_object(path) if isinstance(path, str) else None
    except Exception:  # noqa: BLE001 - a user's module may raise anything: nothing filled
        return None
    return found if inspect.isclass(found) else None

"""What a resumed search must keep besides its space, monitor and mode: the settings that
decide which architectures are proposed, how each trial trains and which trials are
stopped or rejected, and the model, data and Trainer settings of its trials.

A resume that changes one of them would put trials of two setups in one leaderboard (and
``finetune`` would train the best one with the new setup), or replay into other proposals.
``check_resume`` refuses it before anything is written, naming every difference. The
budget, time limit, failures tolerated, workers, executor and output settings may change.

Example:
    >>> old = {"settings": {"seed": 0}, "trainer": {"max_epochs": 1, "logger": False}}
    >>> new = {"settings": {"seed": 5}, "trainer": {"max_epochs": 1, "logger": True}}
    >>> differences(old, new)
    ['search.seed: 0, now 5']
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from lightning_nas.arch import is_plain
from lightning_nas.config.chain import init_hints
from lightning_nas.config.instance_records import instance_records, rebuilt
from lightning_nas.config.instantiate import import_object, object_path
from lightning_nas.config.records import dataclasses_in, field_hints
from lightning_nas.config.space_groups import space_leaves
from lightning_nas.config.space_paths import space_path
from lightning_nas.errors import ConfigError
from lightning_nas.search.scheduler_settings import RULE_DEFAULTS, rule_settings
from lightning_nas.search.trainer_spelling import as_taken, is_trainer_node
from lightning_nas.store_json import dump_json

__all__ = ["FIXED_SETTINGS", "INPUT_ONLY", "OUTPUT_TRAINER_KEYS", "check_init_args", "check_resume",
           "differences", "is_plain", "object_classes", "plain_part",
           "restore_init", "stored_init", "current_setup", "stored_setup", "searched_out"]

#: search settings a resume keeps: proposals, replay, early stopping and rejections
FIXED_SETTINGS = ("optimizer", "seed", "scheduler", "min_epochs", "max_epochs", "eta",
                  "max_params", "max_flops", "constraints", "retrain_top_k")
#: Trainer settings that change what a trial shows or keeps, not what it trains
OUTPUT_TRAINER_KEYS = ("enable_progress_bar", "enable_model_summary", "logger",
                       "log_every_n_steps", "enable_checkpointing", "default_root_dir")


def _older_constraints(was: list[Any], now: list[Any]) -> list[Any]:
    """``now``, with each object that an older store recorded by its default repr alone
    (``<src.cons.MaxHidden object>``, still with its address in the oldest: no argument
    kept) as it was, if of that class."""
    if len(was) != len(now):
        return now
    return [old if isinstance(old, str) and isinstance(new, str) and re.fullmatch(
        rf"<{re.escape(new.split('(')[0])} object( at 0x[0-9a-fA-F]+)?>", old) else new
        for old, new in zip(was, now, strict=True)]


def plain_part(values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``values`` that are JSON data (objects given from Python, such as
    callbacks or a ``functools.partial``, cannot be stored or compared)."""
    return {k: v for k, v in values.items() if is_plain(v)}


def object_classes(values: Mapping[str, Any]) -> dict[str, Any]:
    """The classes of the entries ``plain_part`` leaves out (objects cannot be compared,
    their classes can), by import path; a list keeps its order and its plain items.

    Example:
        >>> from fractions import Fraction
        >>> object_classes({"max_epochs": 2, "callbacks": [Fraction(1, 2), "x"]})
        {'callbacks': ['fractions.Fraction', 'x']}
    """
    return {k: _classes(v) for k, v in sorted(values.items()) if not is_plain(v)}


def _classes(value: Any) -> Any:
    if is_plain(value):
        return value
    if isinstance(value, Mapping):
        return {str(k): _classes(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_classes(v) for v in value]
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def stored_init(path: str | None, init_args: Mapping[str, Any]) -> dict[str, Any]:
    """What the store keeps of a model's or data's class and arguments: the plain ones, and
    the others under ``objects``, by import path for a module-level function or class (a
    builder), else None (a module, a ``functools.partial``: ``finetune`` asks for them); a
    dataclass instance's class and fields under ``dataclasses`` too
    (``instance_records``: ``finetune`` builds it again, ``best.yaml``'s node says it; was:
    asked for again, and left out of the node).

    Example:
        >>> import functools, math
        >>> stored = stored_init("m.Net", {"lr": 0.1, "act": math.tanh,
        ...                                "opt": functools.partial(max)})
        >>> stored["init_args"], stored["objects"]
        ({'lr': 0.1}, {'act': 'math.tanh', 'opt': None})
    """
    out = {"class_path": path, "init_args": plain_part(init_args)}
    objects = {k: object_path(v) for k, v in sorted(init_args.items())
               if k not in out["init_args"]}
    if records := instance_records({k: init_args[k] for k in objects}):
        out["dataclasses"] = records
    return {**out, "objects": objects} if objects else out


#: init args only Lightning's model summary and the search's cost count read (an input
#: batch, not a hyperparameter): one the store could not keep is left out, not asked for
INPUT_ONLY = ("example_input_array",)


def check_init_args(given: object, name: str) -> None:
    """Raise ``ConfigError`` naming ``{name}_init_args`` when ``given`` is neither None nor a
    mapping (``finetune`` asks it before it reads or writes the run folder).

    Example:
        >>> check_init_args(3, "model")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: model_init_args must be a mapping of keyword ...
    """
    if given is not None and not isinstance(given, Mapping):  # was: dict()'s bare TypeError
        raise ConfigError(f"{name}_init_args must be a mapping of keyword arguments for the "
                          f"{name} class, got {type(given).__name__} {given!r}")


def restore_init(stored: Mapping[str, Any], given: Mapping[str, Any] | None,
                 name: str) -> dict[str, Any]:
    """The init args ``stored_init`` kept, with its objects imported again and its
    dataclass instances built again (``rebuilt``), under ``given`` (an ``INPUT_ONLY``
    object the store could not keep is left out).

    Raises:
        ConfigError: naming the objects that have no import path and are not ``given``, or
            ``given`` when it is no mapping.
    """
    check_init_args(given, name)
    given = dict(given or {})
    records = {k: record for k, record in (stored.get("dataclasses") or {}).items()
               if k not in given}
    objects = {k: path for k, path in (stored.get("objects") or {}).items()
               if not (path is None and k in INPUT_ONLY) and k not in records}
    missing = [k for k, path in objects.items() if path is None and k not in given]
    if missing:  # lightning-nas finetune builds one from a class_path node (was: only the
        # Python keyword named, which the command line has none of)
        cli = " ".join(_cli_form(stored, k) for k in missing)
        raise ConfigError(f"the search gave the {name} objects the store cannot keep "
                          f"({', '.join(missing)}); pass them again: "
                          f"{name}_init_args={{{', '.join(repr(k) + ': ...' for k in missing)}}}"
                          + (f" (lightning-nas finetune: {cli})" if name == "model" else ""))
    imported = {k: import_object(path) for k, path in objects.items()
                if path is not None and k not in given}
    instances = {k: _rebuilt(record, k, name) for k, record in records.items()}
    return {**(stored.get("init_args") or {}), **imported, **instances, **given}


def _cli_form(stored: Mapping[str, Any], key: str) -> str:
    """How ``lightning-nas finetune`` gives the model argument ``key`` of the class
    ``stored`` keeps: a mapping of the fields of the dataclass it is annotated with (a
    ``Union``'s each), which the command line builds there (was: a ``class_path`` node,
    which no dataclass argument takes and nothing imports for a class of ``__main__`` or of
    a function); a ``class_path`` node for another argument.

    Example:
        >>> _cli_form({"class_path": "torch.nn.Linear"}, "bias")
        "--model.bias='{class_path: ..., init_args: {...}}'"
    """
    try:
        hint = init_hints(import_object(stored.get("class_path"))).get(key)
    except Exception:  # noqa: BLE001 - a class that no longer imports: its own error says so
        hint = None
    if not (classes := dataclasses_in(hint)):
        return f"--model.{key}='{{class_path: ..., init_args: {{...}}}}'"
    forms = " or ".join(f"'{{{', '.join(f'{field}: ...' for field in field_hints(cls))}}}'"
                        for cls in classes)
    return (f"--model.{key}={forms}, a mapping of the fields of "
            f"{' or '.join(cls.__name__ for cls in classes)}, which the command line builds "
            f"there; it cannot give an instance of a class it cannot import, one defined in "
            f"__main__ or in a function")


def _rebuilt(record: Mapping[str, Any], key: str, name: str) -> Any:
    """``rebuilt``, its refusal naming ``{name}_init_args[key]`` and how to give it again
    (was: the class and fields alone)."""
    try:
        return rebuilt(record)
    except ConfigError as err:
        fields = ", ".join(f"{field}: ..." for field in record["init_args"])
        cli = f" (lightning-nas finetune: --model.{key}='{{{fields}}}')" * (name == "model")
        raise ConfigError(f"{name}_init_args[{key!r}]: {err}; pass it again: "
                          f"{name}_init_args={{{key!r}: ...}}{cli}") from None


def _json(value: Any) -> Any:
    # as the store reads it back: tuples become lists, a NaN None (was: a NaN argument was
    # compared with the None the store reads, and with itself, as different)
    return json.loads(dump_json(value))


def _flat(value: Any, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    """The leaves of ``value`` by dotted path under ``prefix``. An empty mapping is a leaf
    (an argument given as ``{}`` is not one left out: its default would apply), except an
    empty ``init_args``: no arguments, as when it is left out."""
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            _flat(item, f"{prefix}.{key}", out)
    elif not (isinstance(value, Mapping) and prefix.endswith(".init_args")):
        out[prefix] = value
    return out


def _changes(old: Any, new: Any, prefix: str) -> list[str]:
    """``prefix.key: old, now new`` for each leaf that differs (nested mappings by path; a
    mapping empty on one side and filled on the other by the keys it gained or lost).

    Example:
        >>> _changes({"opts": {}}, {"opts": {"a": 1}}, "model.init_args")
        ["model.init_args.opts.a: 'unset', now 1"]
    """
    was, now = _flat(old, prefix, {}), _flat(new, prefix, {})
    keys = {*was, *now}
    filled = {key for key in keys if {} in (was.get(key), now.get(key))
              and any(other.startswith(f"{key}.") for other in keys)}
    return [f"{key}: {was.get(key, 'unset')!r}, now {now.get(key, 'unset')!r}"
            for key in sorted(keys - filled) if was.get(key, "unset") != now.get(key, "unset")]


def differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What differs between a run's stored setup and this invocation's, one line each.

    Both are ``{"settings": flat settings, "model" and "data": {"class_path",
    "init_args"} (a DataModule object: its class as ``"instance"``), "trainer": {...},
    "trainer_classes": ``object_classes`` of the Trainer arguments, "config": the config or
    None}`` (a Hydra sweep's:
    ``{"settings", "job": its config}``); a part the store lacks (a run of an older
    version) is not compared, nor are ``OUTPUT_TRAINER_KEYS``; a Trainer argument is
    compared as Lightning takes it (``as_taken``: one at its signature default is one left
    out, ``precision: 32`` is ``"32-true"``), and so is one of a Hydra job's node of
    Lightning's Trainer (``is_trainer_node``). A scheduler's
    ``max_epochs`` left out on one side is the ``trainer``'s there (the epochs a trial
    trains).
    """
    current = _json(current)
    out: list[str] = []
    if "settings" in stored:
        was = {k: stored["settings"][k] for k in FIXED_SETTINGS if k in stored["settings"]}
        now = {k: current["settings"][k] for k in was}
        uses = rule_settings(was.get("scheduler"))
        # (under another scheduler now, one the new one does not use either: was, a change
        # to its default, which a search without that scheduler refuses if given)
        used_now = rule_settings(now.get("scheduler", was.get("scheduler")))
        for key, default in RULE_DEFAULTS.items():  # left out (None): the default, which an
            if key in was and (key not in uses or key not in used_now):  # older store kept;
                del was[key], now[key]  # one the scheduler does not use is not compared
            elif key in was:
                was[key], now[key] = (default if v is None else v for v in (was[key], now[key]))
        if "max_epochs" in {*was} & {*uses} and (was["max_epochs"] is None) != (
                now["max_epochs"] is None):
            # left out on one side: the trials train the Trainer's (was: refused as a change)
            was["max_epochs"], now["max_epochs"] = (
                (part.get("trainer") or {}).get("max_epochs") if v is None else v
                for v, part in ((was["max_epochs"], stored), (now["max_epochs"], current)))
        if "scheduler" in was and str(now["scheduler"]).startswith(f"{was['scheduler']}("):
            now["scheduler"] = was["scheduler"]  # an older store kept a rule's class alone
        if isinstance(was.get("constraints"), list) and isinstance(now["constraints"], list):
            now["constraints"] = _older_constraints(was["constraints"], now["constraints"])
        out += _changes(was, now, "search")
    config = stored.get("config") or {}
    for part in ("model", "data"):
        if part in stored:
            out += _changes(stored[part], current[part], part)
        if part in config and current.get("config"):  # paths into it are searched
            out += _changes(config[part], current["config"].get(part), part)
    if "config" in stored and current.get("config") is not None:  # the CLI whose links
        out += _changes(_cli(config), _cli(current["config"]), "search.cli")  # each trial
    if "trainer" in stored:
        out += _trainer_changes(stored["trainer"], current.get("trainer") or {}, "trainer",
                                OUTPUT_TRAINER_KEYS)
    if "trainer_classes" in stored:  # the objects (callbacks) by their classes
        was, now = stored["trainer_classes"], current.get("trainer_classes") or {}
        for key in sorted({*was, *now} - set(OUTPUT_TRAINER_KEYS)):
            out += _changes(was.get(key, "unset"), now.get(key, "unset"), f"trainer.{key}")
    if stored.get("job") is not None:  # a Hydra sweep's config, searched paths left out
        job, now = stored["job"], current.get("job") or {}
        for key in sorted({*job, *now}):
            was, new = job.get(key, "unset"), now.get(key, "unset")
            out += (_trainer_changes(was, new, key) if is_trainer_node(was)
                    and is_trainer_node(new) else _changes(was, new, key))
    return list(dict.fromkeys(out))


def _cli(config: Any) -> Any:
    """A config's ``search.cli`` (None: none), whose ``link_arguments`` its trials apply."""
    search = config.get("search") if isinstance(config, Mapping) else None
    return search.get("cli") if isinstance(search, Mapping) else None


def _trainer_changes(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str,
                     left_out: Sequence[str] = ()) -> list[str]:
    """``_changes`` of each Trainer argument but those ``left_out`` that Lightning takes
    otherwise in ``old`` and ``new`` (``as_taken``: one at its default is one left out;
    was: refused, "trainer.check_val_every_n_epoch: 'unset', now 1"), said as given.

    Example:
        >>> _trainer_changes({"precision": 32}, {"precision": "32-true", "devices": 2}, "t")
        ["t.devices: 'unset', now 2"]
    """
    taken = as_taken(old), as_taken(new)
    return [line for key in sorted({*old, *new} - set(left_out))
            if taken[0].get(key, "unset") != taken[1].get(key, "unset")
            for line in _changes(old.get(key, "unset"), new.get(key, "unset"), f"{prefix}.{key}")]


def check_resume(run_dir: str | Path, stored: Mapping[str, Any],
                 current: Mapping[str, Any], completed: int | None = None,
                 changeable: Sequence[str] = ()) -> None:
    """Raise ``ConfigError`` naming every difference (``differences``) between the run in
    ``run_dir`` and this invocation, but those of the settings ``changeable`` (dotted
    paths, each with what lies under it: the fix of the error that stopped the run); of a
    run that ``completed`` no trial, say that removing it starts anew (as the space's and
    monitor's refusals say; was: a run whose every trial failed with a bad Trainer setting
    was refused without the setting, and no way out)."""
    found = [line for line in differences(stored, current) if not any(
        line.startswith((f"{key}:", f"{key}.")) for key in changeable)]
    if found:
        fresh = f" (it completed no trial: remove {run_dir} to start anew)" * (completed == 0)
        raise ConfigError(f"{run_dir} holds a search whose trials ran with other settings: "
                          f"{'; '.join(found)}. Resume with the settings it ran with, or "
                          f"choose another run_dir{fresh}")


def current_setup(settings: Mapping[str, Any], model: Any, data: Any,
                  trainer: Mapping[str, Any], config: Any) -> dict[str, Any]:
    """A search's setup as the store keeps it and ``differences`` compares it: its flat
    ``settings``, the ``model`` and ``data`` factories' classes and arguments (a DataModule
    object: its class, its arguments cannot be read back), the ``trainer`` arguments and
    the ``config``. Objects given from Python (callbacks, a partial) cannot be stored,
    only their classes compared (``finetune`` asks for them again). A DataModule object's
    plain ``hparams`` (what its ``save_hyperparameters()`` kept) are kept too, as
    ``data_hparams``, for warm starts to read what its trials trained with (not compared)."""
    current = {"settings": dict(settings), "model": stored_init(model.path, model.init_args),
               "data": stored_init(data.path, data.init_args), "trainer": plain_part(trainer),
               "trainer_classes": object_classes(trainer), "config": config}
    if isinstance(data.target, pl.LightningDataModule):
        cls = type(data.target)
        current["data"]["instance"] = f"{cls.__module__}.{cls.__qualname__}"
        current["data_hparams"] = plain_part(dict(data.target.hparams))
    return current


def stored_setup(store: Any, current: Mapping[str, Any], data: Any) -> dict[str, Any]:
    """The setup the run in ``store`` (a ``RunStore``) keeps, to compare with ``current``
    (``current_setup``; ``data``: the data factory's target): of a store written before
    a DataModule's class or the Trainer objects' classes were kept, the names it has; of
    one written before its dataclass instances were kept (``stored_init``), this
    invocation's, not compared."""
    stored = {k: v for k in current if (v := store.get_meta(k)) is not None}
    old = store.get_meta("data_object")  # a store written before "instance": its name
    if "instance" in current["data"] and old and "instance" not in stored.get(
            "data", {"instance": None}):
        stored["data"]["instance"] = (current["data"]["instance"]
                                      if old == type(data).__name__ else f"a {old} object")
    for part in ("model", "data"):  # a store written before its dataclass instances were
        if "dataclasses" in current[part] and "dataclasses" not in stored.get(part, {
                "dataclasses": None}):  # kept: not compared, as then (was: refused)
            stored[part]["dataclasses"] = current[part]["dataclasses"]
    keys = store.get_meta("trainer_objects")  # a store written before their classes
    if "trainer_classes" not in stored and keys is not None:
        stored["trainer_classes"] = {k: current["trainer_classes"].get(k, "an object")
                                     for k in keys}
    return stored


def searched_out(setup: Mapping[str, Any], space: Mapping[str, Any]) -> dict[str, Any]:
    """``setup`` (``current_setup``'s or ``stored_setup``'s) without the fields of each
    dataclass instance it keeps (``stored_init``'s ``dataclasses``) that a group of
    ``space`` (its YAML mapping form) sets there: every trial gets the group's value, so an
    instance that differs only in them trains the same (was: a resume of
    ``NetConfig(hidden=9)`` refused ``model.dataclasses.net.init_args.hidden: 2, now 9``
    where the space searches ``net: {hidden: ...}``). The instance's other fields stay,
    compared as before.

    Example:
        >>> setup = {"model": {"dataclasses": {"net": {"class_path": "m.Net",
        ...                                            "init_args": {"hidden": 2, "depth": 5}}}}}
        >>> space = {"net": {"hidden": {"choice": [4, 8]}}}
        >>> searched_out(setup, space)["model"]["dataclasses"]["net"]["init_args"]
        {'depth': 5}
    """
    out = copy.deepcopy(dict(setup))
    leaves = [leaf.split(".") for key, spec in space.items()
              for leaf in space_leaves(space_path(str(key)), spec)]
    for part, key, *field in (leaf for leaf in leaves if len(leaf) > 2):
        record = ((out.get(part) or {}).get("dataclasses") or {}).get(key)
        fields = record.get("init_args") if isinstance(record, Mapping) else None
        for step in field[:-1]:  # a nested group's field: the mapping it is in
            fields = fields.get(step) if isinstance(fields, Mapping) else None
        if isinstance(fields, dict):
            fields.pop(field[-1], None)
    return out

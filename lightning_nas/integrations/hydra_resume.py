"""What a resumed Hydra sweep must keep of its jobs' config: ``job_setup`` records it,
``setup_differences`` names every change before a resume launches a job.

A job's config is composed from the config files, the command line and the searched
values. A resume that trains its new jobs from edited files would put jobs of two setups
in one leaderboard, so the record holds:

- ``job``: the config as written (interpolations kept: a sweep dir's time differs),
  without the ``hydra`` node, the searched paths (where ``+model.net.dims`` and
  ``optim@model.optimizer`` put theirs) and the command line's value overrides
  (those are compared as override strings; of a mapping merged into the value there,
  ``opt={wd: 0}``, its leaves alone, ``opt.wd``: the file's other keys stay); a config
  group chosen on the command line (``trainer=two``) keeps its subtree, which comes from
  its file;
- ``options``: for each option of each searched config group (``data=synth,synth5``), the
  top-level keys its jobs compose otherwise than ``job`` (the option's subtree, and what
  an option of ``@package _global_`` sets), so an edit of any option's file shows. The
  other searched keys take the first sample's values, of the stored key order on a resume
  (``in_stored_order``): the same params in another order make the same record;
- ``nested``: for a searched group under another searched key's path (``model/backbone``
  beside ``model``, whose subtree ``options`` leaves out of each other's record), each
  option's own subtree at its path, so an edit of a nested option's file shows too.

The command line's overrides are compared by what Hydra composes from them
(``override_changes``: ``db.name='a'`` is ``db.name=a``; was: as written; a key's
overrides in their order, as Hydra applies them: ``a=1 a=2`` is ``a=2``, not ``a=2 a=1``;
a mapping and a dotted path into it as one: ``a={b:1} a.b=2`` is ``a.b=2``), each that
differs named, but those of a Lightning Trainer node's arguments
(``trainer.check_val_every_n_epoch=1``), which ``same_trainer_overrides``
(``hydra_same_overrides``) leaves out where Lightning takes the argument as the same on
both sides (``trainer_spelling.as_taken``), as the search's own resume compares its Trainer.

A warm start reads what each earlier job ran with: ``resolved`` is the sweep's config as
plain data (``job_config``), ``job_values`` what a job's own composed config holds
otherwise (an option's subtree, an interpolation of a searched key: ``depth: ${n}``).

Example:
    >>> setup_differences({"job": {"seed": 1}, "options": {"data": {"a": {"data": {"n": 2}}}}},
    ...                   {"job": {"seed": 1}, "options": {"data": {"a": {"data": {"n": 3}}}}})
    ['data=a: data.n: 2, now 3']
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from lightning_nas.config.paths import get_dotted
from lightning_nas.integrations.hydra_grammar import SweepParams, group_of, path_of
from lightning_nas.integrations.hydra_override_effects import Part, override_parts
from lightning_nas.search.resume import differences
from lightning_nas.space import SearchSpace
from lightning_nas.store import open_run

__all__ = ["in_stored_order", "job_setup", "job_values", "override_changes", "override_values",
           "resolved", "setup_differences"]


def in_stored_order(sweep: SweepParams, run_dir: Path) -> SweepParams:
    """``sweep`` with its keys in the order of the sweep stored in ``run_dir`` where that
    holds the same space in another order (a resume searches the stored order: another
    order proposes otherwise, and samples otherwise, so each option is composed as the
    stored record's was); else ``sweep`` as it is (another space: the store refuses it)."""
    try:
        store = open_run(run_dir)
    except (FileNotFoundError, sqlite3.Error):  # no sweep there yet (or not one to read)
        return sweep
    try:
        stored = store.get_meta("space")
    finally:
        store.close()
    now = sweep.space.to_dict()
    if (not isinstance(stored, dict) or list(stored) == list(now) or set(stored) != set(now)
            or any(json.dumps(stored[k]) != json.dumps(now[k]) for k in now)):
        return sweep
    return dataclasses.replace(sweep, space=SearchSpace.from_dict(stored))


def job_setup(config: DictConfig, loader: Any, sweep: SweepParams,
              jobs: Mapping[str, Mapping[str, DictConfig]]) -> dict[str, Any]:
    """The record of what the sweep's jobs compose (see the module): ``{"job": ...,
    "options": {group: {option: ...}}, "nested": {group: {"path": ..., "options": ...}}}``.

    Args:
        config: the sweep's config (Hydra's, composed without the searched values).
        loader: Hydra's config loader (lists a group's options).
        sweep: the searched space and the command line's other overrides.
        jobs: each searched value's job config (``hydra_options.option_jobs``).
    """
    values = override_values(sweep.passthrough, loader)
    searched = sweep.space.names()
    job = _without(OmegaConf.to_container(config, resolve=False), [*_paths(searched), *values])
    options: dict[str, dict[str, Any]] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, composed in jobs.items():
        if not loader.get_group_options(group_of(key)):  # a Trainer argument's value
            continue
        others, path = [*_paths(n for n in searched if n != key), *values], path_of(key)
        # under another searched key's path (model/backbone under model): left out of
        # `options` with it, so its subtree is kept apart (was: no edit of its files showed)
        hidden = bool(path) and any(path.startswith(f"{p}.") for p in others if p)
        for value, one in composed.items():
            tree = OmegaConf.to_container(one, resolve=False)
            options.setdefault(key, {})[value] = _option(tree, job, others)
            own = get_dotted(tree, path, _MISSING) if hidden else _MISSING
            if own is not _MISSING:
                nested.setdefault(key, {"path": path, "options": {}})["options"][value] = \
                    _without(_at(path, own), [p for p in others if p.startswith(f"{path}.")])
    return {"job": job, "options": options, "nested": nested}


def override_values(overrides: Iterable[str], loader: Any) -> list[str]:
    """The keys of the command line's overrides that set a value (``trainer.max_epochs=2``),
    not a config group's option, which keeps its subtree (``optim@model.optimizer=sgd`` is
    one of group ``optim``): a job record leaves their values out (the overrides are
    compared as they are). A mapping merged into the value there (``opt={wd: 0}``) sets
    the paths of its leaves alone, ``opt.wd``: the keys it leaves out come from the files,
    whose edits a resume names (was: ``opt`` whole left out, so an edited ``opt.lr``
    resumed).

    Example:
        >>> override_values(["opt={wd: 0, n: {a: 1}}", "~opt.lr", "epochs=2"], None)
        ['opt.wd', 'opt.n.a', 'opt.lr', 'epochs']
    """
    parser = OverridesParser.create()
    values = [line for line in overrides if loader is None or not loader.get_group_options(
        group_of(line.split("=", 1)[0].lstrip("+~")))]
    return [path for line in values for path in _set_paths(parser, line)]


def _set_paths(parser: OverridesParser, line: str) -> list[str]:
    """The config paths override ``line`` sets: its key, or the leaves of a mapping it
    merges there (``opt={wd: 0}``: ``opt.wd``)."""
    key = line.split("=", 1)[0].lstrip("+~")
    try:
        override = parser.parse_overrides([line])[0]
    except HydraException:
        return [key]  # (compared as written)
    value = None if override.is_delete() or override.is_sweep_override() else override.value()
    return _leaves(key, value) if isinstance(value, dict) and value else [key]


def _leaves(path: str, value: Mapping[str, Any]) -> list[str]:
    """The dotted paths of the leaves of mapping ``value`` at ``path`` (an empty mapping
    is a leaf)."""
    return [leaf for key, item in value.items() for leaf in (
        _leaves(f"{path}.{key}", item) if isinstance(item, dict) and item
        else [f"{path}.{key}"])]


def override_changes(stored: Sequence[str], current: Sequence[str],
                     same: Collection[str] = (), first: Sequence[str] = (),
                     loader: Any = None) -> list[str]:
    """What differs between the job overrides of a sweep (``stored``) and of its resume
    (``current``), one line per part of the config they set, each side's overrides there
    named: changed, added, removed; the equal ones, and those in ``same``
    (``hydra_same_overrides``), are left out (was: both lists whole, the equal overrides
    too). Each part is compared by what Hydra composes from its overrides
    (``hydra_override_effects``: in their order, the last value winning, a mapping merged
    into the value there, ``~key`` deleting it): ``a=1 a=2`` sets what ``a=2`` sets (was:
    refused), not what ``a=2 a=1`` sets, and ``a={b:1} a.b=2`` what ``a.b=2`` sets (was:
    refused as two keys, and ``a.b=2 a={b:1}``, which sets ``a.b`` to 1, resumed); each value
    as Hydra parses it, of its type: ``name='a'`` sets what ``name=a`` sets (was: compared
    as written, so refused), ``x='1'`` a string, not ``x=1``'s int; a line Hydra does not
    parse is its own part, compared as written. ``loader``: Hydra's config loader, which
    tells a config group's option (``model=c``, its own part) from a value. ``first``: the
    sweep's overrides as it was started, where ``stored`` are an accepted resume's: a part
    they set as ``stored`` does is quoted as written there (was: as the resume spelt it,
    ``model.lr=1e-3`` for ``model.lr=0.001``).

    Example:
        >>> override_changes(["epochs=1", "name=a", "+y=2"], ["name='a'", "epochs=2", "+x=3"])
        ['a job override changed: epochs=1, now epochs=2', 'a job override added: +x=3', \
'a job override removed: +y=2']
        >>> override_changes(["a=1", "a=2"], ["a=2", "a=1"])
        ['a job override changed: a=1 a=2, now a=2 a=1']
        >>> override_changes(["a={b:1}", "a.b=2", "c=1", "c=2"], ["a.b=2", "c=2"])
        []
        >>> override_changes(["lr=1e-3"], ["lr=0.002"], first=["lr=0.001"])
        ['a job override changed: lr=0.001, now lr=0.002']
    """
    parts = override_parts([[line for line in lines if line not in same]
                            for lines in (stored, current)] + [list(first)], loader)

    def said(part: Part, given: Part | None = None) -> str:
        if given is not None and given.effect == part.effect:
            part = given  # (as the sweep was started)
        return " ".join(part.lines)
    sides = [(old, new, given) for old, new, given in parts.values() if old or new]
    return ([f"a job override changed: {said(old, given)}, now {said(new)}"
             for key, (old, new, given) in sorted(parts.items())
             if old and new and old.effect != new.effect]
            + [f"a job override added: {said(new)}" for old, new, _ in sides if not old]
            + [f"a job override removed: {said(old, given)}"
               for old, new, given in sides if not new])


def resolved(config: DictConfig) -> dict[str, Any]:
    """``config`` as JSON data without its ``hydra`` node, each interpolation resolved where
    it resolves here (one only a job resolves kept as written; was: the whole config kept
    as written where one did not resolve)."""
    tree = OmegaConf.to_container(config, resolve=False)
    tree.pop("hydra", None)
    return json.loads(json.dumps(_resolve(config, tree, ""), default=str))


def _resolve(config: DictConfig, node: Any, path: str) -> Any:
    """``node`` (at ``path`` of ``config``, as written) with its interpolations resolved."""
    if isinstance(node, dict):
        return {k: _resolve(config, v, f"{path}.{k}" if path else str(k))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(config, v, f"{path}[{i}]") for i, v in enumerate(node)]
    if not (isinstance(node, str) and "${" in node):
        return node
    try:
        value = OmegaConf.select(config, path, default=node, throw_on_resolution_failure=True)
        return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) \
            else value
    except Exception:  # noqa: BLE001 - one only a job resolves (${hydra:...}), or none
        return node


def job_values(job: DictConfig, config: Mapping[str, Any], sweep: SweepParams,
               loader: Any) -> dict[str, Any]:
    """What the composed ``job`` holds otherwise than ``config`` (the sweep's, ``resolved``),
    by dotted path: a value, or a whole subtree where its keys differ; without the values
    the sweep's keys set (each trial's architecture holds them; a config group's subtree
    is kept). A warm start reads an earlier trial's config from it (was: its options as
    composed beside the first sample's values of the other searched keys, and the config's
    value of a searched key that an option interpolates).

    Example:
        >>> sweep = SweepParams(SearchSpace.from_dict({"n": {"choice": [1, 2]}}))
        >>> job_values(OmegaConf.create({"n": 2, "m": {"d": "${n}", "w": 1}}),
        ...            {"n": 1, "m": {"d": 1, "w": 1}}, sweep, None)
        {'m.d': 2}
    """
    found: dict[str, Any] = {}
    tree = resolved(job)
    for key, value in tree.items():
        _differs(value, config.get(key, _MISSING), str(key), found)
    values = [path_of(k) for k in sweep.space.names()
              if not (loader and loader.get_group_options(group_of(k)))]
    return {k: v for k, v in found.items() if k not in values}


def _differs(new: Any, old: Any, path: str, found: dict[str, Any]) -> None:
    """Put into ``found`` each path under ``path`` where ``new`` differs from ``old``."""
    if isinstance(new, dict) and isinstance(old, dict) and new.keys() == old.keys():
        for key, value in new.items():
            _differs(value, old[key], f"{path}.{key}", found)
    elif new != old:
        found[path] = new


def setup_differences(stored: Mapping[str, Any], current: Mapping[str, Any],
                      searched: Iterable[str] = (), overridden: Iterable[str] = ()) -> list[str]:
    """What differs between two ``job_setup`` records, one line each; an option is compared
    where both records hold it (an older version left out one that did not compose, and
    failed its jobs). ``searched``: the sweep's keys, left out of the stored record too (an
    older version kept the value of a ``+key`` or a ``group@package`` there);
    ``overridden``: the keys either sweep's overrides set (``override_values``), left out of
    both (the overrides are compared as they are; was: a key one sweep overrode and the other
    did not said ``trainer.max_epochs: 3, now 'unset'``)."""
    searched, overridden = list(searched), _paths(overridden)
    job = _without(stored["job"], [*_paths(searched), *overridden])
    kept = _without(current["job"], overridden)
    for path in overridden:  # a mapping an override alone holds on one side (`+a={b: 1}`
        _one_sided(job, kept, path)  # added), or an older version's record left out whole
    found = differences({"job": job}, {"job": kept})
    now = current.get("options") or {}
    for group, options in (stored.get("options") or {}).items():
        for option, parts in options.items():
            if option in now.get(group, {}):
                was = _option(parts, job, _paths(n for n in searched if n != group))
                found += [f"{group}={option}: {line}" for line in
                          differences({"job": was}, {"job": now[group][option]})]
    nested = current.get("nested") or {}  # not held by an older version's record
    for group, record in (stored.get("nested") or {}).items():
        for option, was in record["options"].items():
            if option in nested.get(group, {}).get("options", {}):
                found += [f"{group}={option}: {line}" for line in differences(
                    {"job": was}, {"job": nested[group]["options"][option]})]
    return found


def _option(composed: dict[str, Any], job: Mapping[str, Any],
            paths: list[str]) -> dict[str, Any]:
    """The top-level keys of an option's job config, without ``paths``, that differ from
    ``job`` (the record of one option)."""
    mine = _without(composed, paths)
    return {k: v for k, v in mine.items() if k not in job or job[k] != v}


def _one_sided(one: dict[str, Any], other: dict[str, Any], path: str) -> None:
    """Leave out of ``one`` or ``other`` (job records) the outermost node on the way to the
    overridden ``path`` that the other lacks: what an override alone put there (the
    override is compared as it is), or a mapping an older version's record left out whole
    where an override merged into it."""
    parts = path.split(".")
    for end in range(1, len(parts)):
        prefix = ".".join(parts[:end])
        held = [get_dotted(job, prefix, _MISSING) is not _MISSING for job in (one, other)]
        if held[0] != held[1]:
            parent, _, last = prefix.rpartition(".")
            job = one if held[0] else other
            node = get_dotted(job, parent) if parent else job
            if isinstance(node, dict):
                node.pop(last, None)
            return
        if not held[0]:
            return


def _at(path: str, value: Any) -> dict[str, Any]:
    """``value`` at the dotted ``path`` of an otherwise empty tree."""
    for part in reversed(path.split(".")):
        value = {part: value}
    return value


_MISSING = object()


def _paths(keys: Iterable[str]) -> list[str]:
    """The config paths that searched keys set (``+model.net.dims``: ``model.net.dims``,
    ``optim@model.optimizer``: ``model.optimizer``)."""
    return [path_of(key) for key in keys]


def _without(config: Mapping[str, Any], paths: list[str]) -> dict[str, Any]:
    """``config`` as JSON data without its ``hydra`` node and the ``paths`` (a config
    group's name removes its subtree)."""
    out = json.loads(json.dumps({k: v for k, v in config.items() if k != "hydra"}, default=str))
    for path in paths:
        parent, _, last = path.rpartition(".")
        node = get_dotted(out, parent) if parent else out
        if isinstance(node, dict):
            node.pop(last, None)
    return out

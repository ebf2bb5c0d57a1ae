"""Warm starts: the results of earlier runs, mapped onto this search's space.

``load_priors(sources, space)`` reads the COMPLETED trials of each earlier run directory
(its ``search.db``) and maps each architecture onto the current space (keys that name one
config path another way, ``width``, ``model.width``, ``model.init_args.width``, are one
key): a key the earlier space lacked takes a fill value (``fill[key]``, else
``fill_value(param)``), a key the current space lacks is dropped, and an architecture with
a value outside the current space is skipped. A key the earlier space lacked but its run
had a value for (its config, its model's or data's arguments, its Trainer settings) takes
that value unless ``fill`` names it (``warm_values.py``). A dict one space chooses whole
and the other searches as a group of keys maps key by key, either way (``warm_keys.py``).
Each result keeps its score on its own task (its run's monitor and mode): the loss told is
``-score`` for a maximised monitor, ``score`` otherwise, and ``task`` (the source folder)
tells a strategy which results share a scale.

With several objectives (``objectives``), each result also gets ``losses``, one per
objective, in this search's modes, and its ``loss`` is the first: costs counted for the
mapped architecture in this search (``count``: ``params``, ``flops``) or, for any other
metric, the source trial's value at its best epoch (its monitor's: its score); a trial
that lacks one, or has a NaN or infinite value of one, is skipped (reported per
objective). A source that never logged this search's first objective gives its monitor's
loss for it instead (on its own task, as with one objective; the report says so).

``WarmStartReport`` (``warm_report.py``) says, per source, how many results were read,
used, merged (two mapped to the same architecture: the better one is kept) and skipped
(the trials not COMPLETED by status: a PAUSED one's score is the best of its epochs
before the pause, not a finished trial's, so it is not used; of RUNNING ones whether the
source's search still runs; one of a status this version does not know, which a newer one
wrote, is counted by it and never used), whether it was read
while its search still ran (its ``search.lock`` held: its later results are not used;
``warm_start`` warns of it), the epochs the used ones trained, whether the source ranked
this search's monitor the other way, and which keys were filled or dropped. The search
stores the priors and the report in its own ``search.db`` (tables ``priors`` and meta
``warm_start``) on its first start and reads them from there when it resumes, so a resumed
search sees exactly the priors the first start saw.

Example:
    >>> import tempfile
    >>> from lightning_nas.results import TrialResult, TrialStatus
    >>> from lightning_nas.space import SearchSpace
    >>> from lightning_nas.store import open_search_store
    >>> old = tempfile.mkdtemp()
    >>> store = open_search_store(old, {"space": {}, "monitor": "acc", "mode": "max"})
    >>> for arch, acc in (({"k": 3, "act": "relu"}, 0.9), ({"k": 9, "act": "gelu"}, 0.8)):
    ...     store.finish_trial(TrialResult(store.start_trial(arch), arch,
    ...                                    TrialStatus.COMPLETED, score=acc))
    >>> store.close()
    >>> space = SearchSpace.from_dict({"k": {"choice": [3, 5]}, "w": {"choice": [8, 16]}})
    >>> priors, report = load_priors([old], space)
    >>> [(p.arch, p.loss) for p in priors]
    [({'k': 3, 'w': 8}, -0.9)]
    >>> report.sources[0].dropped, report.sources[0].filled
    (['act'], {'w': 8})
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_nas.arch import arch_key
from lightning_nas.errors import ConfigError, SpaceError
from lightning_nas.numeric import is_number
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.run_folder import search_holder
from lightning_nas.search.objectives import COSTS, Objectives
from lightning_nas.search.warm_keys import (
    config_path,
    flat_arch,
    group_paths,
    holds_dicts,
    join_dicts,
    renamed,
    split_dicts,
)
from lightning_nas.search.warm_report import Prior, SourceReport, WarmStartReport
from lightning_nas.search.warm_sources import check_sources
from lightning_nas.search.warm_values import flat_params, nest, recorded_values, stored_space
from lightning_nas.space import SearchSpace
from lightning_nas.space.params import Choice, Fixed, Float, Int, Ordered, Param
from lightning_nas.store import RunStore, open_run

__all__ = ["Prior", "SourceReport", "WarmStartReport", "check_fill", "check_sources",
           "fill_value", "load_priors"]


def fill_value(param: Param) -> Any:
    """The value a key missing from an earlier space takes: a fixed value; the first value
    of a choice; the middle value of an ordered choice or a stepped integer range; the
    middle of a range (geometric for a log scale, rounded for integers). It is always a
    value of ``param``.

    Example:
        >>> fill_value(Int(16, 64, log=True)), fill_value(Ordered([1, 2, 4]))
        (32, 2)
        >>> fill_value(Int(16, 64, step=16))
        32
    """
    if isinstance(param, Fixed):
        return param.value
    if isinstance(param, Ordered):
        return param.values[(len(param.values) - 1) // 2]
    if isinstance(param, Choice):
        return param.values[0]
    if isinstance(param, Int) and param.step:  # the middle of its values, like an ordered
        return param.low + (param.high - param.low) // param.step // 2 * param.step
    if isinstance(param, (Int, Float)):
        low, high = param.low, param.high  # no overflow for huge bounds, no 0 for tiny ones
        mid = math.exp((math.log(low) + math.log(high)) / 2) if param.log else low / 2 + high / 2
        mid = min(max(mid, low), high)  # rounding error past a bound is that bound
        return int(round(mid)) if isinstance(param, Int) else float(mid)
    raise TypeError(f"no fill value for {param!r}")


def check_fill(space: SearchSpace, fill: Mapping[str, Any] | None,
               name: str = "warm_start_fill") -> None:
    """Raise ``ConfigError`` unless every key of ``fill`` is a (dotted) key of ``space``
    with a value inside it (``name``: the setting, as the user writes it), as a source's
    value maps onto it: ``1`` is a choice's ``1.0`` (``_as_option``; was: refused, though
    a source's ``1`` was mapped so)."""
    params = flat_params(space)
    for key, value in (fill or {}).items():
        if key not in params:
            raise ConfigError(f"{name} key {key!r} is not a key of the search space; "
                              f"keys: {', '.join(params)}")
        if not params[key].contains(_as_option(params[key], value)):
            raise ConfigError(f"{name} {key}={value!r} is outside the space "
                              f"({params[key].describe()})")


Count = Callable[[dict[str, Any]], Mapping[str, float]]


def load_priors(sources: Sequence[str | Path], space: SearchSpace,
                fill: Mapping[str, Any] | None = None, objectives: Objectives | None = None,
                count: Count | None = None, hydra: bool = False,
                goal: tuple[str, str] | None = None) -> tuple[list[Prior], WarmStartReport]:
    """The COMPLETED results of earlier runs, mapped onto ``space``.

    Args:
        sources: run directories (each with a ``search.db``).
        space: the current search space.
        fill: values for keys the earlier spaces lack (default: ``fill_value``).
        objectives: this search's objectives; with several, each prior gets ``losses``.
        count: the costs (``params``, ``flops``) of an architecture of this search,
            counted without training; they win over the source trial's metrics. None: the
            search counts none (an ``objective=`` search: its ``params`` is a value the
            function returns, as any other objective).
        hydra: this search is a Hydra sweep: its keys are paths into the job config (else
            a plain key is a model argument), whatever the sources were.
        goal: this search's monitor and mode: a source that ranked that monitor the other
            way is said to (its results still rank as they did there).

    Raises:
        ConfigError: a source is not a run directory, or ``fill`` names a key the space
            lacks or a value outside it.
    """
    params = flat_params(space)
    check_fill(space, fill)
    fill = {k: _as_option(params[k], v) for k, v in (fill or {}).items()}  # 1: 1.0's option
    check_sources(sources)
    if objectives is not None and not objectives.multi:
        objectives = None
    priors: list[Prior] = []
    report = WarmStartReport()
    for source in sources:
        path = Path(source).resolve()
        live = search_holder(path)  # before its trials are read: what ran then is said
        with open_run(path) as store:
            found, rep = _from_store(store, str(path), space, params, fill, objectives,
                                     count, hydra)
            if live is not None:  # its search holds it (was: said only of one with a
                rep.source_driver = live  # RUNNING trial, by its driver's pid)
        if goal is not None and rep.monitor == goal[0] and rep.mode != goal[1]:
            rep.other_mode = goal[1]  # (was: unsaid; its best is told as its best)
        priors += found
        report.sources.append(rep)
    return priors, report


def _from_store(store: RunStore, source: str, space: SearchSpace, params: dict[str, Param],
                fill: dict[str, Any], objectives: Objectives | None, count: Count | None,
                here_hydra: bool = False) -> tuple[list[Prior], SourceReport]:
    mode = store.get_meta("mode", "max")
    rep = SourceReport(source=source, monitor=store.get_meta("monitor"), mode=mode)
    # a status a newer version wrote is no trial this one can read: counted, never used
    # (was: ValueError, raised after this search's store was made)
    trials = store.known_trials()
    unknown = store.unknown_statuses()
    rep.trials = len(trials) + sum(unknown.values())
    rep.not_completed = sum(unknown.values())
    rep.not_completed_by = {s.lower(): n for s, n in unknown.items()}
    kept: dict[str, Prior] = {}
    epochs: dict[str, int | None] = {}  # the epochs each kept prior's trial trained
    options = store.get_meta("job_options") or {}  # a sweep's searched config groups
    by_option: dict[str, dict[str, Any]] = {}  # their options a trial ran: its values
    jobs = store.get_meta("job_trials") or {}  # the config groups each job composed
    stored = stored_space(store)  # read once per source, not per trial
    groups = None if stored is None else group_paths(stored)
    hydra = rep.swept = store.get_meta("hydra") is not None
    named = {config_path(k, space.params, here_hydra): k for k in params}  # this space's
    # keys as this search means them; the source's as the source meant them (was: both
    # the source's way, so a sweep's model.depth was dropped for a plain search's depth)
    dicts = {path: k for path, k in named.items() if holds_dicts(params[k])}
    src = {} if stored is None else flat_params(stored)
    top = [] if stored is None else list(stored.params)
    inside = {config_path(k, top, hydra): p for k, p in src.items()}
    had = set(renamed(src, top, named, hydra)) | {  # or inside a dict, or around its keys
        k for path, k in named.items() for s, p in inside.items()
        if (path.startswith(f"{s}.") and holds_dicts(p))
        or (path in dicts and s.startswith(f"{path}."))}
    rep.fill_unused = sorted(k for k in fill if k in had)
    first = next(iter(objectives.modes)) if objectives is not None else None
    if first is not None and first != rep.monitor and not (first in COSTS and count) and \
            not any(first in t.metrics for t in trials):  # its monitor stands in for it
        rep.first_from_monitor = first
    for trial in trials:
        if trial.status is not TrialStatus.COMPLETED or trial.score is None:
            rep.not_completed += 1  # by status: a paused trial's score is of fewer epochs
            why = trial.status.value.lower() if trial.score is not None or \
                trial.status is not TrialStatus.COMPLETED else "without a score"
            rep.not_completed_by[why] = rep.not_completed_by.get(why, 0) + 1
            continue
        chosen = {k: str(trial.arch[k]) for k in options if k in trial.arch}
        job = jobs.get(str(trial.trial_id), {})  # its nested groups' options, its values
        if (seen := repr((chosen, job))) not in by_option:  # its own (was: the default's)
            by_option[seen] = recorded_values(store, space, here_hydra, chosen,
                                              job.get("choices", {}), job.get("values"))
        recorded = by_option[seen]
        names = trial.arch if stored is None else top
        # a dict the trial chose, opened into this space's keys, or its group keys joined
        # into the dict this space chooses (was: a fill value for a value the trial had)
        flat = renamed(split_dicts(flat_arch(trial.arch, groups), names, named, hydra), names,
                       named, hydra)
        flat = join_dicts(flat, names, hydra, dicts, set(params), recorded)
        mapped: dict[str, Any] = {}
        filled: dict[str, Any] = {}
        for key in params:
            if key in flat:
                mapped[key] = flat[key]
            elif key not in fill and key in recorded:  # what its trials ran with
                mapped[key] = recorded[key]
                rep.recorded.setdefault(key, mapped[key])
                values = rep.recorded_by_option.setdefault(key, [])
                values += [] if mapped[key] in values else [mapped[key]]
            else:
                mapped[key] = filled[key] = fill[key] if key in fill else fill_value(params[key])
        for key in flat:
            if key not in params and key not in rep.dropped:
                rep.dropped.append(key)
        if len(filled) == len(params):  # nothing of it is the trial's: an architecture it
            rep.unrelated += 1  # never ran, with its score (was: told as a prior)
            continue
        for key, value in filled.items():
            rep.filled.setdefault(key, value)
        mapped = {k: _as_option(params[k], v) for k, v in mapped.items()}
        try:
            arch = space.validate(nest(mapped, space))
        except SpaceError as err:
            rep.out_of_space.append([trial.trial_id, str(err).splitlines()[0]])
            continue
        loss = float(-trial.score if mode == "max" else trial.score)
        losses = _losses(trial, arch, loss, objectives, count, rep.monitor or "monitor",
                         rep.first_from_monitor is None)
        if isinstance(losses, tuple):  # (the report's count: lacking or not_finite, name)
            skipped = getattr(rep, losses[0])
            skipped[losses[1]] = skipped.get(losses[1], 0) + 1
            continue
        prior = Prior(arch, losses[0] if losses else loss, trial.score, source, source,
                      trial.trial_id, losses)  # ranked by this run's first objective
        key = arch_key(arch)
        if key in kept:
            rep.merged += 1
            if prior.loss >= kept[key].loss:
                continue
        kept[key], epochs[key] = prior, trial.epochs
    rep.used = len(kept)
    if rep.not_completed_by.get("running"):  # a source still searched, or one stopped
        rep.source_driver = _driver(store)
    trained = sorted({e for e in epochs.values() if e is not None})  # None: an objective's
    rep.epochs = [trained[0], trained[-1]] if trained else []  # (was: not said at all)
    rep.recorded_by_option = {k: v for k, v in rep.recorded_by_option.items() if len(v) > 1}
    return list(kept.values()), rep


def _as_option(param: Param, value: Any) -> Any:
    """``value`` as the option of a choice (or a fixed value) ``param`` equal to it in value
    and of a numeric kind, as a float range takes an int (``1`` is ``1.0``, ``2.0`` is
    ``2``; ``True`` is no number here), or as the int of an ``int`` range equal to it
    (``4.0`` is ``4``; ``4.5`` stays, not in the space); ``value`` itself otherwise (was: a
    source's int choice outside this space's float choice, a float ``4.0`` outside an int
    range, though equal).

    Example:
        >>> _as_option(Choice([1.0, 2.0]), 1), _as_option(Choice([1.0, 2.0]), True)
        (1.0, True)
        >>> _as_option(Int(1, 8), 4.0), _as_option(Int(1, 8), 4.5)
        (4, 4.5)
    """
    options = param.values if isinstance(param, Choice) else \
        [param.value] if isinstance(param, Fixed) else []
    if not is_number(value) or param.contains(value):
        return value
    if isinstance(param, Int) and math.isfinite(value) and float(value).is_integer():
        return int(value) if param.contains(int(value)) else value
    return next((o for o in options if is_number(o) and o == value), value)


def _driver(store: RunStore) -> str:
    """Of a source with RUNNING trials: ``"stopped"`` where the process that ran its
    search is gone, ``"pid N on HOST"`` where it is alive on this machine (the search is
    still running: its results so far), ``""`` where it cannot be told (another machine,
    this process, a store that names none)."""
    if store.driver_gone():
        return "stopped"
    driver = store.get_meta("driver") or {}
    if driver.get("host") == socket.gethostname() and driver.get("pid") != os.getpid():
        return f"pid {driver['pid']} on {driver['host']}"
    return ""


def _losses(trial: TrialResult, arch: dict[str, Any], loss: float,
            objectives: Objectives | None, count: Count | None, monitor: str,
            own_first: bool = True) -> list[float] | tuple[str, str] | None:
    """A prior's loss per objective, each the trial's value of that objective, in this
    search's mode (``own_first`` false: the first is ``loss``, of the source's ``monitor``,
    which the source logged instead), or why it is skipped: ``("lacking", name)`` for an
    objective that neither ``count`` (an architecture this search's model cannot build
    counts nothing) nor the trial's metrics give, ``("not_finite", name)`` for one that is
    NaN or infinite (nevergrad cannot be told it)."""
    if not math.isfinite(loss):
        return "not_finite", monitor
    if objectives is None:
        return None
    metrics = {monitor: trial.score, **trial.metrics}
    try:
        metrics.update(count(arch) if count is not None else {})
    except Exception:  # noqa: BLE001 - the model rejects it: no cost of another model either
        metrics = {k: v for k, v in metrics.items() if k not in COSTS}
    out = [] if own_first else [loss]  # was: always the monitor's, whatever the first is
    for name, mode in list(objectives.modes.items())[len(out):]:
        if name not in metrics:
            return "lacking", name
        value = float(metrics[name])
        if not math.isfinite(value):
            return "not_finite", name
        out.append(-value if mode == "max" else value)
    return out

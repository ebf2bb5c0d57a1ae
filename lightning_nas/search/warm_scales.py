"""A warm start's sources against how its optimizer takes them (``check_scales``).

The NAS strategies that keep each earlier run's results on its own task (their class's
``priors_on_own_task``: ``TASK_AWARE``, the default first) take sources of any monitor and
mode. Any other optimizer (nevergrad's, ``Reinforce``) is
told each earlier result as a result of this search: with one objective, a source that
scored another monitor, or this monitor the other way, would be told scores of another
scale as this search's (``-val_acc`` as a ``val_loss``; its best as the best here where
this search minimises what it maximised), so it is refused before anything is written
(its trials' logged values of this search's monitor are not used, said so: each is of the
epoch the source's monitor chose);
with several objectives, a source that never logged the first one (its monitor would stand
in for it) is. One that cannot be told an architecture twice (``BO``) refuses sources whose
results map onto one architecture (``check_repeats``): each would be told to it.
A resume reads the priors it stored: it is not checked again.

Example:
    >>> told_as_results("NGOpt"), told_as_results("SurrogateEvolution")
    (True, False)
    >>> TASK_AWARE
    ('SurrogateEvolution', 'RegularizedEvolution', 'LocalSearch')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nevergrad as ng

from lightning_nas.arch import arch_key, format_arch
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from lightning_nas.search.objectives import Objectives
from lightning_nas.search.warm import load_priors
from lightning_nas.search.warm_sources import priors_read
from lightning_nas.space import SearchSpace
from lightning_nas.store import open_run
from lightning_nas.strategies.nas import NAS_OPTIMIZERS
from lightning_nas.strategies.registry import DEFAULT_OPTIMIZER, others, told_again_error

__all__ = ["TASK_AWARE", "check_repeats", "check_scales", "told_as_results"]

#: the strategies that keep each earlier run's results on its own task, by their class's
#: ``priors_on_own_task`` (was: named here apart from it), the default first
TASK_AWARE = tuple(sorted((name for name, cls in NAS_OPTIMIZERS.items()
                           if cls.priors_on_own_task), key=lambda name: name != DEFAULT_OPTIMIZER))


def told_as_results(name: str) -> bool:
    """Whether optimizer ``name`` (of nevergrad's registry) is told a warm start's results
    as results of this search (not on each earlier run's own task)."""
    return not getattr(ng.optimizers.registry.get(name), "priors_on_own_task", False)


def check_scales(sources: Sequence[str | Path], optimizer: str, monitor: str, mode: str,
                 objectives: Objectives | None = None,
                 run_dir: str | Path | None = None) -> None:
    """Raise ``ConfigError`` where ``optimizer`` would be told a source's scores as this
    search's, though they are of another monitor or mode.

    Args:
        sources: the ``warm_start`` folders (checked by ``check_sources`` already).
        optimizer: the search's optimizer, by its registry name.
        monitor: this search's monitor (its first objective).
        mode: its mode, ``"max"`` or ``"min"``.
        objectives: this search's objectives: with several, each prior's losses are the
            source trial's values of them in this search's modes, but where a source never
            logged the first one, its monitor would stand in (a first ``params`` or
            ``flops`` too: a search that counts them takes none first).
        run_dir: this search's folder: a resume, whose priors are stored, is not checked.
    """
    if not sources or not told_as_results(optimizer):
        return
    if run_dir is not None and priors_read(Path(run_dir) / "search.db"):
        return
    multi = objectives is not None and objectives.multi
    first = objectives.names[0] if multi else monitor
    for source in sources:
        with open_run(source) as store:
            theirs, how = store.get_meta("monitor"), store.get_meta("mode", "max")
            done = store.trials(TrialStatus.COMPLETED)
            stands_in = multi and first != theirs and not any(  # (a search that counts
                # costs has none first, check_counted: a first `params` is a value the trials
                # return; was: never refused, though no count stood in for it)
                first in t.metrics for t in done)
            logged = sum(monitor in t.metrics for t in done) if theirs != monitor else 0
        if theirs is None or (not multi and (theirs, how) == (monitor, mode)) or (
                multi and not stands_in):
            continue
        said = (f"never logged this search's first objective {first}: its monitor {theirs} "
                f"({how}) would stand in for it, not on this search's scale" if multi else
                f"scored {theirs} ({how}), not this search's {monitor} ({mode}): its "
                f"scores are not on this search's scale"
                f"{_logged(logged, len(done), monitor, theirs)}")
        raise ConfigError(
            f"optimizer {optimizer!r} is told the warm_start runs' results as results of "
            f"this search, and warm_start source {source} {said}; pick a strategy that keeps "
            f"each run's results on its own task ({', '.join(TASK_AWARE)}), or warm-start "
            f"from runs that " + (f"logged {first}" if multi else f"scored {monitor} ({mode})"))


def _logged(logged: int, completed: int, monitor: str, theirs: str) -> str:
    """Of a source that scored ``theirs`` though its trials (``logged`` of ``completed``)
    logged this search's ``monitor`` too: why that is not used (was: unsaid, as though it
    had never logged it); ``""`` where none did."""
    if not logged:
        return ""
    which = "its trials" if logged == completed else f"{logged} of its {completed} trials"
    return (f"; {which} logged {monitor} too, but with one objective a warm start tells each "
            f"earlier trial's score, of the monitor it scored (its {monitor} is of the epoch "
            f"its {theirs} chose), not another metric it logged")


def check_repeats(sources: Sequence[str | Path], optimizer: str, space: SearchSpace,
                  fill: Mapping[str, Any] | None = None, run_dir: str | Path | None = None,
                  hydra: bool = False, budget: int | None = None,
                  num_workers: int = 1) -> None:
    """Raise ``ConfigError`` where ``optimizer`` is told the sources' results as its own,
    cannot be told an architecture it was told before (``told_again_error``: ``BO``) and
    two sources hold results of one architecture of ``space`` (``load_priors``, as mapped
    with ``fill``; ``hydra``: a sweep's keys); a resume's stored priors are checked
    instead (was: bayes_opt's raw ``NotUniqueError`` once the run folder was written, and
    again by each resume).

    Example:
        >>> check_repeats(["runs/a"], "BO", SearchSpace.from_dict({"k": {"choice": [1, 2]}}))
    """
    if len(sources) < 2 or not told_as_results(optimizer):
        return
    said = told_again_error(optimizer, space, budget, num_workers)
    if said is None:
        return
    if run_dir is not None and priors_read(Path(run_dir) / "search.db"):
        with open_run(run_dir) as store:
            rows = [(p["arch"], p["source"], p["source_trial"]) for p in store.priors()]
    else:
        rows = [(p.arch, p.source, p.source_trial)
                for p in load_priors(sources, space, fill, hydra=hydra)[0]]
    seen: dict[str, tuple[str, int]] = {}
    for arch, source, trial in rows:
        first = seen.setdefault(arch_key(arch), (source, trial))
        if first[0] != source:
            raise ConfigError(
                f"optimizer {optimizer!r} cannot be told an architecture it was told before "
                f"({said}), and warm_start sources {first[0]} and {source} both hold "
                f"{format_arch(arch)} (their trials {first[1]} and {trial}), each told to it "
                f"as a result; warm-start from one of them, or pick another optimizer (e.g. "
                f"{others(optimizer, DEFAULT_OPTIMIZER, 'NGOpt', 'TwoPointsDE')})")

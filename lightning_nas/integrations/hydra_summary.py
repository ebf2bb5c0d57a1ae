"""The last lines a Hydra sweep prints: how it ended, what its run folder holds, what to
run next.

A sweep's run folder holds ``optimization_results.yaml`` and ``search.db`` (its jobs'
folders are Hydra's, under ``hydra.sweep.dir``); the project's task builds the model, so
what trains the best job again is the ``rerun`` line of ``optimization_results.yaml`` (was:
``Wrote .../optimization_results.yaml and .../search.db``, and no word of what next, while
``lightning-nas search`` ends with its files and a ``Next:`` line).

Example:
    >>> print(sweep_written(Path("multirun/x"), {
    ...     "rerun": "python src/train.py x=2 hydra.mode=RUN", "best_trial": 2,
    ...     "best_job_dir": "multirun/x/1"}))  # doctest: +NORMALIZE_WHITESPACE
    Wrote optimization_results.yaml and search.db in multirun/x
    Next: python src/train.py x=2 hydra.mode=RUN (from the folder the sweep was started in)
    trains the best job (trial 2) again; the sweep's run of it is in multirun/x/1
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning_nas.arch import format_arch
from lightning_nas.integrations.hydra_wording import sweep_phrases
from lightning_nas.results import TrialResult, TrialStatus, format_score
from lightning_nas.search.summary import front_line, limit_note
from lightning_nas.store import RunStore

__all__ = ["nothing_completed", "sweep_summary", "sweep_written"]


def sweep_summary(store: RunStore, monitor: str, best: TrialResult | None, run_dir: Path,
                  results: Mapping[str, Any], elapsed: float, stopped: bool = False,
                  resumed: bool = False) -> str:
    """How the sweep ended (``stopped``: on an error), its counts and best job, with several
    objectives its Pareto front (``front_line``, in the sweep's words: ``acc maximize``;
    was: not said, where a search says it), where its scores are over part of the
    validation data ``show``'s ``note:`` line (``limit_note``), then ``sweep_written``;
    ``elapsed`` is this invocation's seconds, said as such where it ``resumed`` a sweep,
    whose counts are the whole sweep's (as a resumed search says it).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "search.db") as s:
        ...     print(sweep_summary(s, "val_acc", None, Path("multirun/x"), {}, 1.5))
        Sweep finished in 1.5s: 0 completed, 0 failed.
        Wrote optimization_results.yaml and search.db in multirun/x
    """
    count = {s: store.count(s) for s in (TrialStatus.COMPLETED, TrialStatus.FAILED,
                                         TrialStatus.REJECTED)}
    rejected = count[TrialStatus.REJECTED]  # by a constraint: never run
    took = f"{elapsed:.1f}s" + (" (this invocation; the counts are the sweep's)" if resumed
                                else "")  # (was: the invocation's time beside the sweep's counts)
    line = (f"Sweep {'stopped' if stopped else 'finished'} in {took}: "
            f"{count[TrialStatus.COMPLETED]} completed, "
            f"{f'{rejected} rejected, ' if rejected else ''}"
            f"{count[TrialStatus.FAILED]} failed.")
    if best is not None:
        line += (f" Best {monitor}={format_score(best.score)} (trial {best.trial_id}): "
                 f"{format_arch(best.arch)}")
    front = sweep_phrases(front_line(store, run_dir))  # "" for one objective
    note = limit_note(store) if best is not None else ""  # (no score: nothing to say of)
    return f"{line}\n{front}{note}{sweep_written(run_dir, results)}"


def sweep_written(run_dir: Path, results: Mapping[str, Any]) -> str:
    """The files the sweep's run folder holds and, where a job completed (``results``: the
    content of ``optimization_results.yaml``), the ``rerun`` line that trains the best job
    again, run from the folder the sweep was started in, where that job's outputs are and,
    where it has one, that ``rerun_alone`` trains it without lightning_nas.

    Example:
        >>> print(sweep_written(Path("multirun/x"), {"best_trial": None}))
        Wrote optimization_results.yaml and search.db in multirun/x
    """
    text = f"Wrote optimization_results.yaml and search.db in {run_dir}"
    if not results.get("rerun"):  # no job completed: nothing to run again
        return text
    folder = results.get("best_job_dir")
    where = f"; the sweep's run of it is in {folder}" if folder else ""
    alone = ("; without lightning_nas: rerun_alone in optimization_results.yaml"
             if results.get("rerun_alone") else "")
    return (f"{text}\nNext: {results['rerun']} (from the folder the sweep was started in) "
            f"trains the best job (trial {results['best_trial']}) again{where}{alone}")


def nothing_completed(store: RunStore, run_dir: Path) -> str:
    """The error a sweep ends with where no job completed, as ``lightning-nas search``
    exits 1 with no completed trial (was: exit status 0 and ``best_value: null``, as if
    the sweep had worked): its counts, and where to look (the failed jobs' errors) or what
    to change (constraints that rejected every proposal).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "search.db") as s:
        ...     print(nothing_completed(s, Path("multirun/x")))
        no job of the sweep completed (0 failed): it has no best job
    """
    rejected, failed = store.count(TrialStatus.REJECTED), store.count(TrialStatus.FAILED)
    said = [f"`lightning-nas show {shlex.quote(str(run_dir))} --status failed` lists their "
            f"errors"] if failed else []
    said += (["every one proposed broke hydra.sweeper.constraints: loosen them or widen "
              "hydra.sweeper.params"] if rejected and not failed else [])
    return (f"no job of the sweep completed ({f'{rejected} rejected, ' if rejected else ''}"
            f"{failed} failed): it has no best job{''.join(f'; {s}' for s in said)}")

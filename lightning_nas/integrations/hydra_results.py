"""``optimization_results.yaml``: what a Hydra sweep writes into its ``run_dir`` at the end
(the Optuna sweeper's file name and keys: ``name``, ``best_params``, ``best_value``), with
what trains the best job again (``rerun``, ``rerun_alone``), its job folder, a DDP split's
``notes``, what its score is over (``limited_validation``, ``precision``: ``scored_under``,
as ``best.yaml`` says them) and, with several objectives, the Pareto front (``solutions``).

Example:
    >>> import tempfile
    >>> from lightning_nas.integrations.hydra_grammar import SweepParams
    >>> from lightning_nas.search.setting_groups import Goal
    >>> from lightning_nas.space import Choice, SearchSpace
    >>> from lightning_nas.store import RunStore
    >>> store = RunStore(tempfile.mkdtemp() + "/search.db")  # no job completed yet
    >>> sweep_results(store, Goal(mode="max"), SweepParams(SearchSpace({"x": Choice([1])})),
    ...               [])
    {'name': 'lightning_nas', 'best_params': None, 'best_value': None, 'best_trial': None}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lightning_nas.integrations.hydra_grammar import SweepParams, task_script
from lightning_nas.integrations.hydra_rerun import alone_line, alone_note, rerun_line, with_threads
from lightning_nas.scored_under import scored_under
from lightning_nas.search.objectives import pareto_front
from lightning_nas.search.setting_groups import Goal
from lightning_nas.split_record import uneven_of
from lightning_nas.store import RunStore

__all__ = ["RESULTS_FILE", "sweep_results"]

#: written to ``run_dir`` at the end of a sweep (the Optuna sweeper's file name)
RESULTS_FILE = "optimization_results.yaml"


def sweep_results(store: RunStore, goal: Goal, sweep: SweepParams,
                  args: Sequence[str]) -> dict[str, Any]:
    """The content of ``optimization_results.yaml`` of the sweep stored in ``store``: its best
    job by ``goal`` (``None`` each where no job completed), the job's ``overrides`` of
    ``sweep``, its ``rerun`` line with the task's config ``args`` (``config_args``) and,
    where its job config's ``trainer`` node limits validation or sets another precision than
    float32, ``limited_validation`` and ``precision`` (``scored_under``)."""
    best = store.best(goal.mode)
    results: dict[str, Any] = {"name": "lightning_nas", "best_params": None,
                               "best_value": None, "best_trial": None}
    folders = store.get_meta("job_dirs", {})  # trial id -> its job's output folder
    if best is not None:
        overrides = list(sweep.overrides(best.arch))
        threads = store.get_meta("job_threads", {}).get(str(best.trial_id))
        results.update(best_params=best.arch, best_value=best.score,
                       best_trial=best.trial_id, overrides=overrides,
                       best_job_dir=folders.get(str(best.trial_id)),
                       rerun=with_threads(rerun_line(task_script(), overrides, args), threads))
        shaped = store.get_meta("job_settings")  # None: the jobs wrote no .hydra folder
        if results["best_job_dir"] and shaped is not None:  # (needs no lightning_nas)
            results["rerun_alone"] = with_threads(alone_line(
                task_script(), results["best_job_dir"], args, shaped,
                store.get_meta("job_group_choices", {}).get(str(best.trial_id))), threads)
            if note := alone_note(shaped):  # what Hydra sets in each run: said
                results["rerun_alone_note"] = note
        if notes := uneven_of(store, best.trial_id):  # its DDP split repeats samples
            results["notes"] = notes  # (as best.yaml's)
        # a job config's limit_val_batches, precision: what its score is over (as best.yaml's;
        # was: unsaid here)
        results.update(scored_under(store, best.arch, best.ranks, best.trial_id))
    if goal.objectives is not None and goal.objectives.multi:
        results["solutions"] = [
            {"trial": t.trial_id, "job_dir": folders.get(str(t.trial_id)), "params": t.arch,
             "values": {n: t.metrics.get(n) for n in goal.objectives.names}}
            for t in pareto_front(store.leaderboard(goal.mode), goal.objectives)]
    return results

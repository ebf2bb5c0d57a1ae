"""A Hydra sweep's jobs in an export and a fine-tune: ``hydra_job``, the ``hydra`` block of
``best.yaml`` (the job's overrides, ``rerun``, ``rerun_alone``, ``job_dir``);
``sweep_refusal``, what ``finetune`` of a sweep's run folder says instead of training (the
project's task builds the model, not lightning_nas): the lines that train the job again
and where they are written.

Example:
    >>> job = {"rerun": "python t.py x=2 hydra.mode=RUN"}
    >>> print(rerun_said("its best job (trial 2)", job, chosen=False))
    train its best job (trial 2) again, from the folder the sweep was started in:
    python t.py x=2 hydra.mode=RUN (optimization_results.yaml's rerun; best.yaml's
    hydra.rerun after `lightning-nas export`)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning_nas.errors import StoreError
from lightning_nas.export_files import load_best
from lightning_nas.store import RunStore

__all__ = ["hydra_job", "rerun_said", "stored_job", "sweep_refusal"]

#: what the sweep wrote where a job's lines are missing (hydra-core gone since it ran)
_SEE_RESULTS = "see optimization_results.yaml of the sweep"


def hydra_job(hydra: Mapping[str, Any], arch: Mapping[str, Any], job_dir: str | None,
              settings: Mapping[str, Any] | None = None,
              choices: Mapping[str, str] | None = None,
              threads: int | None = None) -> dict[str, Any]:
    """The exported trial's Hydra job: its own overrides (the sweep's job overrides, then
    its architecture), the command line that trains it once and ``job_dir``, the folder the
    sweep ran it in (Hydra's output_dir: its logs and checkpoints; null if not recorded);
    with the sweep's ``settings`` (``hydra_rerun.job_settings``: None where its jobs kept no
    config, or a sweep stored before they were kept) and ``job_dir``, ``rerun_alone``: the
    line that trains it from ``job_dir``'s composed config, without lightning_nas, with
    the job's config group ``choices`` (meta ``job_group_choices``), and where it cannot
    carry all, ``rerun_alone_note`` (``hydra_rerun.alone_note``); both lines run with
    ``OMP_NUM_THREADS=threads`` where the sweep set the job's threads (meta ``job_threads``).

    Example:
        >>> hydra_job({"script": "t.py"}, {"x": 2}, None)["rerun"]  # doctest: +SKIP
        'python t.py x=2 hydra.mode=RUN'
    """
    hydra = {**hydra, "job_dir": job_dir}
    try:
        from lightning_nas.integrations.hydra_grammar import format_value
        from lightning_nas.integrations.hydra_rerun import (
            alone_line,
            alone_note,
            rerun_line,
            with_threads,
        )
    except ImportError:  # hydra-core is gone since the sweep ran
        return {**hydra, "rerun": _SEE_RESULTS}
    job = [*hydra.get("overrides", []), *(f"{k}={format_value(v)}" for k, v in arch.items())]
    script, given = hydra.get("script", "<task>.py"), hydra.get("config_args", [])
    out = {**hydra, "overrides": job,
           "rerun": with_threads(rerun_line(script, job, given), threads)}
    if job_dir and settings is not None:  # as optimization_results.yaml's of the best job
        out["rerun_alone"] = with_threads(alone_line(script, job_dir, given, settings,
                                                     choices), threads)
        if note := alone_note(settings):  # what it cannot carry, as the sweep said it
            out["rerun_alone_note"] = note
    return out


def stored_job(store: RunStore, trial: int, arch: Mapping[str, Any]) -> dict[str, Any]:
    """``hydra_job`` of ``trial`` (of architecture ``arch``) of a sweep's run, from the
    run's meta: ``hydra``, its ``job_dirs``, ``job_settings``, ``job_group_choices`` and
    ``job_threads``.

    Example:
        >>> stored_job(store, 2, {"x": 2})["rerun"]  # doctest: +SKIP
        'python t.py x=2 hydra.mode=RUN'
    """
    return hydra_job(store.get_meta("hydra") or {}, arch,
                     (store.get_meta("job_dirs") or {}).get(str(trial)),
                     store.get_meta("job_settings"),
                     (store.get_meta("job_group_choices") or {}).get(str(trial)),
                     (store.get_meta("job_threads") or {}).get(str(trial)))


def rerun_said(which: str, job: Mapping[str, Any], chosen: bool) -> str:
    """How a refusal names the lines that train ``which`` job again: ``rerun`` (the
    project's task with the job's overrides, through the sweep's config group) and, where
    written, ``rerun_alone`` (from the job's own config, without lightning_nas), and where
    they are: best.yaml's ``hydra`` block of a trial ``chosen`` by ``export --trial``; else
    ``optimization_results.yaml`` and, after an export, best.yaml's.

    Example:
        >>> print(rerun_said("trial 1", {"rerun": "python t.py x=1 hydra.mode=RUN",
        ...                              "rerun_alone": "python t.py --config-path j/0/.hydra"},
        ...                  chosen=True))
        train trial 1 again, from the folder the sweep was started in:
        python t.py x=1 hydra.mode=RUN; without lightning_nas:
        python t.py --config-path j/0/.hydra (best.yaml's hydra.rerun and hydra.rerun_alone)
    """
    keys = ["rerun", *(["rerun_alone"] if job.get("rerun_alone") else [])]
    alone = f"; without lightning_nas: {job['rerun_alone']}" if len(keys) > 1 else ""
    in_best = f"best.yaml's {' and '.join(f'hydra.{key}' for key in keys)}"
    where = (in_best if chosen else f"optimization_results.yaml's {' and '.join(keys)}; "
                                     f"{in_best} after `lightning-nas export`")
    return f"train {which} again, from the folder the sweep was started in: " \
           f"{job['rerun']}{alone} ({where})"


def _chosen_job(run_dir: Path) -> tuple[int, Mapping[str, Any]] | None:
    """The trial ``export --trial`` wrote into ``best.yaml`` and its ``hydra`` block (what a
    fine-tune trains); None where none was chosen, or the file is no export's."""
    try:
        best = load_best(run_dir)  # (a dict with a trial number, as an export writes)
    except (OSError, StoreError):
        return None
    if not best.get("chosen"):
        return None
    job = best.get("hydra")
    if not isinstance(job, Mapping) or not isinstance(job.get("rerun"), str) \
            or job["rerun"] == _SEE_RESULTS:
        return None
    return best["trial"], job


def sweep_refusal(run_dir: Path, store: RunStore) -> str:
    """What ``finetune`` of a Hydra sweep's run folder says: the project's task builds the
    model; the lines that train the job a fine-tune would (``best.yaml``'s chosen trial, else
    the best) again, from the run's meta (``hydra``, ``job_dirs``, ``job_settings``), and
    where they are written (was: only "the overrides in optimization_results.yaml (python
    <task>.py <overrides>)", no line itself and no ``rerun_alone``).

    Example:
        >>> sweep_refusal(Path("multirun/x"), store)  # doctest: +SKIP
        "multirun/x is a Hydra sweep: the project's task builds its model; train its best ..."
    """
    head = f"{run_dir} is a Hydra sweep: the project's task builds its model; "
    chosen = _chosen_job(run_dir)
    if chosen is not None:
        trial, job = chosen
        return head + rerun_said(f"trial {trial} (chosen by `lightning-nas export --trial`)",
                                 job, chosen=True)
    best = store.best(store.get_meta("mode", "max"))
    job = None if best is None else stored_job(store, best.trial_id, best.arch)
    if job is None or job["rerun"] == _SEE_RESULTS:  # no job completed, or no hydra-core
        return head + ("train the best job again with optimization_results.yaml's rerun, or "
                       "without lightning_nas its rerun_alone (best.yaml's hydra.rerun and "
                       "hydra.rerun_alone after `lightning-nas export`)")
    return head + rerun_said(f"its best job (trial {best.trial_id})", job, chosen=False)

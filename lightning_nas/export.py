"""Export the best trial of a run: ``best.yaml``, ``best.ckpt`` and a runnable config
(``finetune_run.py`` fine-tunes it with a fresh Trainer).

Example:
    >>> best = export_best("runs/digits")  # doctest: +SKIP
    >>> best["arch"], best["score"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from lightning_nas.config.cli_links import CliLinks
from lightning_nas.config.nodes import is_hydra
from lightning_nas.config.yamlio import dump_yaml, load_yaml
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.export_config import best_config, model_section, objects_beside
from lightning_nas.export_files import (
    discard_staged,
    held_for_export,
    keep_winners_weights,
    kept_checkpoint,
    load_best,
    move_in,
    no_completed,
    staged,
    staged_checkpoint,
)
from lightning_nas.export_header import FIT_DIRECTIVE, config_header, trial_fits
from lightning_nas.export_hydra import stored_job
from lightning_nas.fit_resume import free_dir, output_dir
from lightning_nas.results import TrialStatus, objective_run
from lightning_nas.run_folder import user_path
from lightning_nas.scored_under import scored_under
from lightning_nas.search import random_state
from lightning_nas.search.best_epoch import tie_break_of
from lightning_nas.search.scheduler_settings import scheduler_epochs
from lightning_nas.split_record import uneven_of
from lightning_nas.store import RunStore
from lightning_nas.user_warnings import warn_user
from lightning_nas.wording import counted, id_ranges

__all__ = ["FIT_DIRECTIVE", "best_config", "export_best", "free_dir", "load_best",
           "objective_run", "output_dir", "trial_fits"]

#: what ``best.yaml`` of an ``objective=`` search says in place of its model
OBJECTIVE_NOTE = "the search evaluated an objective function: no model, no checkpoint"
#: why ``export --trial`` refuses a trial of each status but COMPLETED
_NOT_EXPORTED = {
    TrialStatus.PAUSED: "the scheduler paused it after {epochs}, at a rung: a resume of the "
                        "search may promote it and train it to its end",
    TrialStatus.PRUNED: "the scheduler stopped it for good after {epochs}, before its end",
    TrialStatus.REJECTED: "it broke a constraint of the search and was never trained",
    TrialStatus.RUNNING: "it has not ended (its search runs, or was stopped: a resume of the "
                         "search trains it again)",
    TrialStatus.FAILED: "its training failed ({error})",
}


def export_best(run_dir: str | os.PathLike, store: RunStore | None = None,
                trial_id: int | None = None, *, then: str | None = None) -> dict[str, Any]:
    """Write ``best.yaml``, ``best.ckpt`` and (for config runs) ``best_config.yaml``.

    ``best.yaml`` holds ``arch``, ``score``, ``monitor``, ``mode`` (with several objectives,
    ``objectives``: each one's mode, in order), the trial's metrics and the model to build
    it with; ``best_config.yaml`` is the search's LightningCLI config with
    the best architecture in ``model.init_args`` (``dict_kwargs``) and no ``search`` block, so it
    trains the best model as is. An ``objective=`` search trained no model: its ``best.yaml``
    has ``model: null`` and ``objective`` saying so, and no ``best_config.yaml`` is written.
    The folder is held meanwhile (``held_for_export``: a second export waits for this one).

    Args:
        run_dir: the search's run folder.
        store: the run's store, when open already (a search's own export); None opens it.
        trial_id: export this COMPLETED trial instead (e.g. a point of a multi-objective
            run's Pareto front; ``best.yaml`` says ``chosen: true``, ``finetune`` takes it).
        then: what an export refused while a search holds the folder says to do once it is
            gone (None: export again).

    Returns:
        The content of ``best.yaml``.

    Raises:
        ConfigError: ``trial_id`` is no COMPLETED trial of the run, or no whole number (the
            valid ones named); ``store`` is no ``RunStore`` (a trial number given in its place).
        SearchError: the run has no completed trial, or a search holds the folder.
    """
    run_dir = user_path(run_dir, "export_best(run_dir=...)")
    if store is not None and not isinstance(store, RunStore):  # was: AttributeError '_held'
        number = f"; to export trial {store} give trial_id={store}" if type(store) is int else ""
        raise ConfigError(f"export_best(run_dir, store, trial_id): store must be the run's "
                          f"open RunStore or None (export_best opens it), got {store!r}"
                          f"{number}")
    searched = store is not None
    with held_for_export(run_dir, store, then) as store:  # one at a time, no search
        mode, monitor = store.get_meta("mode", "max"), store.get_meta("monitor")
        best = winner = store.best(mode)
        # a search's own export (its end, a resume): over the user's `export --trial` choice
        chosen = _chosen_before(run_dir) if trial_id is None and searched else None
        if trial_id is not None:
            done = [t.trial_id for t in store.trials(TrialStatus.COMPLETED)]
            valid = f"COMPLETED trials: {id_ranges(done) or 'none'}"
            if type(trial_id) is not int:  # was: True exported trial 1, "2" and 2.0 trial 2
                raise ConfigError(f"trial_id must be a trial number (a whole number), or None "
                                  f"for the run's best trial; got {trial_id!r}; {valid}")
            try:
                best = store.get(trial_id)
            except KeyError:  # was: "(trials 1 to 0)" of a run killed before its first trial
                n = len(store)
                ids = f"trials 1 to {n}" if n > 1 else "trial 1 only" if n else "no trial yet"
                raise ConfigError(f"{run_dir} has no trial {trial_id} ({ids}); {valid}") from None
            if best.status is not TrialStatus.COMPLETED:  # why not (was: its status alone)
                why = _NOT_EXPORTED[best.status].format(epochs=counted(best.epochs or 0, "epoch"),
                                                        error=(best.error or "").split("\n")[0])
                raise ConfigError(f"trial {trial_id} is {best.status.value}: {why}; only "
                                  f"COMPLETED trials can be exported; {valid}")
        if best is None:
            raise SearchError(no_completed(run_dir))  # (was: not saying what lists them)
        config, objective = store.get_meta("config"), objective_run(store.get_meta("model"))
        trained = None if config is None or objective else best_config(
            config, best.arch, seed=store.get_meta("seed"),
            max_epochs=scheduler_epochs(store.get_meta("settings") or {}))
        cli = ((config or {}).get("search") or {}).get("cli")  # search.cli's links: the
        links = CliLinks(cli, config) if cli and trained is not None else None  # model
        trained = trained if links is None else links.apply(trained)  # node and best.ckpt
        written = trained if links is None else links.without_targets(trained)  # as its CLI
        # builds them; best_config.yaml without their targets (the CLI sets them)
        out: dict[str, Any] = {
            "trial": best.trial_id, **({"chosen": True} if trial_id is not None else {}),
            "arch": best.arch, "score": best.score,
            "monitor": monitor, "mode": mode,
            # several objectives: which made the front, and their modes (was: the monitor's)
            **({"objectives": objectives} if len(objectives := store.objectives() or {}) > 1
               else {}),
            "epoch": best.epoch, "metrics": best.metrics, "checkpoint": None,
            "model": (trained["model"] if trained is not None
                      else model_section(store.get_meta("model") or {}, best.arch)),
        }
        if trained is None:  # beside the node: a path is no argument it takes, and an
            out.update(objects_beside(store.get_meta("model") or {}, out["model"]))  # instance
        for note in out.get("notes", []):  # the node cannot say: LightningCLI builds another
            warn_user(f"{run_dir / 'best.yaml'}: {note}")
        if objective:  # nothing to build or train again: no model, no best_config.yaml
            out["model"], out["objective"] = None, OBJECTIVE_NOTE
        hydra = store.get_meta("hydra")
        if hydra is not None:  # a Hydra sweep: the project's task builds the model
            out["model"], out["hydra"] = None, stored_job(store, best.trial_id, best.arch)
        if notes := uneven_of(store, best.trial_id):  # a DDP split with repeats: its score
            out["notes"] = [*out.get("notes", []), *notes]  # is not one device's validation
        out.update(scored_under(store, best.arch, best.ranks, best.trial_id))  # limits, precision
        if winner is not None and best.trial_id != winner.trial_id:  # before any copy
            keep_winners_weights(run_dir, winner, best.trial_id, replace=bool(
                best.checkpoint and Path(best.checkpoint).exists()))
        # each file staged beside its place (a name of this export's own), then moved in
        # with best.yaml last: a best.yaml on disk always describes the best.ckpt beside it
        files: list[tuple[Path, Path]] = []
        try:
            held = None  # the trial's checkpoint
            if best.checkpoint and Path(best.checkpoint).exists():
                held = Path(best.checkpoint)
                files.append(staged_checkpoint(run_dir / "best.ckpt", held, None if (
                    trained is None or hydra is not None) else trained.get("model"), out))
            elif kept_checkpoint(run_dir, best.trial_id, best.arch, best.score):
                held = run_dir / "best.ckpt"  # its own, kept (was: removed with trials/)
            out["checkpoint"] = "best.ckpt" if held else None
            if trained is not None:
                fits, resumed = trial_fits(store, run_dir, best.trial_id)
                resumed = resumed and ("gone" if held is None else "replayed"
                                       if random_state.in_checkpoint(held) else "resumed")
                files.append(staged(run_dir / "best_config.yaml", config_header(
                    run_dir, best, monitor, mode,
                    hydra=any(is_hydra(trained.get(k)) for k in ("model", "data")),
                    fits=fits, resumed=resumed, seeded=store.get_meta("seed", 0) is not None,
                    trainer=trained.get("trainer") or {},
                    tie_break=tie_break_of(store.objectives()),
                    objectives=store.objectives(), cli=cli,
                    data_first=links is not None and links.data_first)
                    + dump_yaml(written)))
            files.append(staged(run_dir / "best.yaml", dump_yaml(out)))
        except BaseException:  # no checkpoint-sized copy left on a full disk
            discard_staged(run_dir)
            raise
        try:  # still the search's (its own export), after the copies took their time
            store.check_held()
        except BaseException:
            discard_staged(run_dir)
            raise
        move_in(run_dir, files, keep_checkpoint=out["checkpoint"] is not None)
        if chosen is not None and chosen != best.trial_id:  # the user's choice: said gone
            warn_user(f"{run_dir / 'best.yaml'}: trial {chosen}, chosen by an export --trial, "
                      f"replaced by the run's best, trial {best.trial_id}; lightning-nas "
                      f"export {shlex.quote(str(run_dir))} --trial {chosen} exports it again")
        return out


def _chosen_before(run_dir: Path) -> int | None:
    """The trial an ``export --trial`` wrote to ``run_dir``'s ``best.yaml`` (it says
    ``chosen: true``), which an export of the run's best replaces; None where it holds the
    run's best, is missing or cannot be read (an export writes it anew)."""
    try:
        before = load_yaml((run_dir / "best.yaml").read_text())
    except Exception:  # noqa: BLE001 - damaged or missing: nothing chosen to say
        return None
    if not isinstance(before, dict) or before.get("chosen") is not True:
        return None
    trial = before.get("trial")
    return trial if type(trial) is int else None



def __getattr__(name: str) -> Any:
    """``finetune``, at the import place it had before ``finetune_run.py`` held it (PEP 562:
    imported on first use, as ``finetune_run`` imports this module)."""
    if name == "finetune":
        from importlib import import_module
        return import_module("lightning_nas.finetune_run").finetune
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The user's loggers in a search's trials: a folder (a logger version) per trial for a
configured logger (``logger_defaults``, ``placed_logger``, ``logger_versions``), emptied with
the trial's other folders when the trial starts from scratch again (``clear_trial``), and a
callback that logs through a logger refused without one (``checked_loggers``). A folder per
trial under a ``default_root_dir``, a ``ModelCheckpoint``'s or a profiler's ``dirpath`` of
the user's: ``trial_folders.py``; the folder a user's ``ModelCheckpoint`` keeps across a
promoted trial's segments: ``checkpoint_dirs.py`` (both re-exported here, their earlier
import path); a logger *object*'s copies: ``logger_objects.py``.

Example:
    >>> node = {"class_path": "lightning.pytorch.loggers.CSVLogger"}
    >>> logger_defaults(node, "runs/a/logs", "trials", "trial_0001", "a")["init_args"]
    {'save_dir': 'runs/a/logs', 'name': 'trials', 'version': 'trial_0001'}
"""

from __future__ import annotations

import glob
import hashlib
import re
import shutil
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.callbacks import DeviceStatsMonitor, LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger

from lightning_nas.config.instantiate import accepted_kwargs, import_object
from lightning_nas.config.nodes import is_node, node_args, target_path, with_args
from lightning_nas.errors import ConfigError
from lightning_nas.search.checkpoint_dirs import keep_checkpoint_dirs
from lightning_nas.search.remote_runs import continued_runs, killed_runs
from lightning_nas.search.rule_checks import callbacks_of
from lightning_nas.search.trial_folders import (
    checkpoint_folders,
    placed_checkpoints,
    placed_profiler,
    placed_root,
    profiler_folder,
)
from lightning_nas.search.trial_hold import TRIAL_LOCK, first_run
from lightning_nas.search.wandb_ids import (
    attempt_of,
    dir_kept,
    new_attempt,
    of_w_and_b,
    run_id,
)

__all__ = ["MODULE_FOLDERS", "checked_loggers", "clear_trial", "keep_checkpoint_dirs",
           "logger_defaults", "logger_versions", "placed_checkpoints", "placed_logger",
           "placed_profiler", "placed_root", "shared_versions_quiet"]

#: the file in a trial's folder naming, a line each, the folders ``placed_checkpoints`` gave
#: the ``ModelCheckpoint`` of the module's ``configure_callbacks()`` (``clear_trial`` reads it)
MODULE_FOLDERS = "module_checkpoints.txt"

def logger_defaults(spec: Any, save_dir: str, name: str, version: str,
                    label: str | None = None, segment: str = "", attempt: str = "") -> Any:
    """Fill ``save_dir``/``name`` of logger nodes (``class_path`` specs or Hydra nodes) that
    leave them out (or null), and give each its own ``version``, so every trial of a search
    logs to its own folder: a version the node sets is kept in front of it, and under a
    ``save_dir`` of the user's, which other searches share, ``label`` (the run's
    ``log_label``) too. A W&B logger's (a class taking ``version`` and ``id``: the version
    is the id of a run in its project, which every search logging there shares) always has
    ``label`` in front, an ``id`` it sets is kept as a set ``version`` is, its ``dir`` as a
    ``save_dir`` (``save_dir`` given as None: Lightning's default, ``.``, would win; was:
    every trial's W&B files in the working folder), and a missing ``name`` (the run's) is
    that id (was: ``trial_0001``, and ``logs`` for a fit, in every search: Lightning's
    ``WandbLogger`` resumed the run of that id, a second search's trial writing into the
    first's run). An MLflow logger's (a
    class taking ``run_name`` and ``run_id``, no ``version``: MLflow draws a run's id
    itself, in an experiment other searches share) gets a ``run_name`` of its own, alike,
    one it sets kept in front of the version (was: none, each trial's run named at random
    by MLflow, no trial or search told; one it set, every trial's); a ``run_id`` it sets is
    kept (every trial logs into that run: ``warn_fixed_versions`` says so). ``segment``
    (a resumed segment's ``_resumed_<ns>``) follows the version of each but a W&B logger's,
    whose id is its trial's, so the segment goes on in the trial's run (Lightning's
    ``resume="allow"``; was: a run of its own, the trial's epochs split over runs), and
    ``attempt`` (a trial's trained again from its first epoch, a summary logged again,
    ``_again_<ns>``) follows a W&B logger's version and an MLflow logger's ``run_name``
    alone: that attempt's run is its own, and named so (was, MLflow's: a second run of the
    earlier one's name, none telling which was whole).

    Example:
        >>> node = {"class_path": "lightning.pytorch.loggers.CSVLogger",
        ...         "init_args": {"save_dir": "tb", "version": None}}
        >>> logger_defaults(node, "runs/a/logs", "trials", "trial_0001", "a")["init_args"]
        {'save_dir': 'tb', 'version': 'a_trial_0001', 'name': 'trials'}
    """
    if isinstance(spec, list):
        return [logger_defaults(s, save_dir, name, version, label, segment, attempt)
                for s in spec]
    if not is_node(spec):
        return spec
    accepted, _ = accepted_kwargs(import_object(target_path(spec)).__init__)
    args = node_args(spec)
    run_ids = of_w_and_b(spec)  # W&B: a version is a run's id in its project
    own_dir = args.get("save_dir") is not None or (run_ids and args.get("dir") is not None)
    shared = ("save_dir" in accepted and own_dir) or run_ids  # by other searches
    for key, value in (("save_dir", None if own_dir else save_dir),
                       ("name", None if run_ids else name)):
        if key in accepted and args.get(key) is None and value is not None:
            args[key] = value
    if run_ids:  # W&B takes a save_dir, its default '.' too, over a dir
        args = dir_kept(args)
    if "version" in accepted:
        mine = args.get("version")
        mine = args.get("id") if mine is None and run_ids else mine
        given = [str(mine)] if mine is not None else []
        front = "_".join([*([label] if shared and label else []), *given])
        args["version"] = (run_id(front, version + attempt) if run_ids
                           else "_".join([*([front] if front else []), version]) + segment)
        if run_ids and args.get("name") is None:  # the run's name in W&B: its id
            args["name"] = args["version"]
    elif {"run_name", "run_id"} <= set(accepted):  # MLflow: it draws a run's id itself
        mine = args.get("run_name")
        args["run_name"] = "_".join([*([label] if label else []),
                                     *([str(mine)] if mine is not None else []),
                                     version]) + attempt + segment
    return with_args(spec, args)


def placed_logger(spec: Any) -> Any:
    """The user's ``trainer.logger`` of ``spec`` with the folders ``logger_defaults`` gives
    it: a version per trial (per segment) under the run's ``logs``, or beside ``fit`` and
    ``finetune``'s checkpoint (``own_logs``); under a ``save_dir`` of the user's, there
    labelled by the output folder (its parent's and its own name, and 6 hex digits of its
    resolved path: ``ft_finetune-3f9a0c``), so a fit or fine-tune in another folder of the
    same names never writes into its version (was: ``A/ft`` and ``B/ft``'s fine-tunes both
    wrote ``ft_finetune_logs``, the second deleting the first's ``metrics.csv``). A resumed
    segment's MLflow node continues the run its trial started (``continued_runs``), and its
    W&B node the run of its trial's id (``logger_defaults``), which ends with the attempt's
    ``W_AND_B_ATTEMPT`` (``wandb_ids``) in the trial's folder (a fit's: ``start_own_fit``)."""
    suffix = "" if spec.ckpt_path is None else f"_resumed_{time.time_ns()}"
    attempt = attempt_of(spec.trial_dir)
    if spec.own_logs:  # a resumed fit's too: a version of its own (a CSVLogger's "logs"
        out = Path(spec.trial_dir)  # would delete the earlier epochs' metrics.csv)
        digest = hashlib.sha1(str(out.resolve()).encode(), usedforsecurity=False).hexdigest()
        placed = logger_defaults(spec.trainer["logger"], str(out), "", "logs",
                                 f"{out.parent.name}_{out.name}-{digest[:6]}", suffix, attempt)
    else:
        run = Path(spec.trial_dir).parent.parent
        placed = logger_defaults(spec.trainer["logger"], str(run / "logs"), "trials",
                                 Path(spec.trial_dir).name, spec.log_label or run.name,
                                 suffix, attempt)
    return placed if spec.ckpt_path is None else continued_runs(spec.trial_dir, placed, suffix)



def checked_loggers(trainer: pl.Trainer, callbacks: list[Any], logger: Any) -> pl.Trainer:
    """``trainer``, built with the user's ``callbacks``, once it has a logger for each of
    them that logs through one (``LearningRateMonitor``, ``DeviceStatsMonitor``); else a
    ``ConfigError`` naming the callback and ``trainer.logger`` (its value ``logger``) as it
    is built, before any training (was: Lightning refused it as each trial's training
    started, "Cannot use `LearningRateMonitor` callback with `Trainer` that has no logger").

    Example:
        >>> checked_loggers(pl.Trainer(logger=False), [LearningRateMonitor()], False)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.callbacks[0] (LearningRateMonitor) logs ...
    """
    needy = callbacks_of(callbacks, (LearningRateMonitor, DeviceStatsMonitor))
    if needy and not trainer.loggers:
        raise ConfigError(f"{needy[0][0]} logs to the Trainer's logger, and trainer.logger="
                          f"{logger!r} gives it none, which Lightning refuses when training "
                          f"starts: leave trainer.logger out (a CSV logger in each trial's "
                          f"folder) or set one, or remove the callback")
    return trainer


def shared_versions_quiet(loggers: Any) -> None:
    """Ignore Lightning's "Previous log files in this directory will be deleted" of each
    ``CSVLogger`` among ``loggers`` whose folder holds no ``metrics.csv``, the one file it
    deletes: where a logger of the same list (TensorBoard's) wrote the version first, as in
    each trial's and the summary's (was: said for every trial, none deleted).

    Example:
        >>> import tempfile
        >>> shared_versions_quiet([CSVLogger(tempfile.mkdtemp(), version="trial_0001")])
    """
    for logger in loggers:
        if isinstance(logger, CSVLogger):
            folder = str(logger.log_dir)
            if not get_filesystem(folder).exists(f"{folder.rstrip('/')}/metrics.csv"):
                warnings.filterwarnings("ignore", message=f"Experiment logs directory "
                                        f"{re.escape(folder)} exists and is not empty")


def clear_trial(spec: Any) -> None:
    """Remove what an earlier, interrupted or failed run of a trial that starts from scratch
    (``clear_dir``, no ``ckpt_path``) left: its folder, and the versions the search gave its
    configured loggers (``save_dir/name/version``, and that version's ``_resumed_``
    segments), which are this trial's alone: under the run's ``logs``, or under a
    ``save_dir`` of the user's named by the run's ``log_label`` (without one, a run of an
    older version, they are left), and likewise its folder under a ``default_root_dir`` of
    the user's (``placed_root``), under a user's ``ModelCheckpoint``'s ``dirpath``
    (``placed_checkpoints``), the module's ``configure_callbacks()`` ones among them (those
    its last run named in ``MODULE_FOLDERS``), and under a ``dirpath`` of its Trainer's
    ``profiler`` (``placed_profiler``: Lightning's profiler appends to its report, so a
    re-run's followed the dead run's); not a URL's (s3://). A logger object's
    versions (the next free one) and the folders the user named themselves are never
    removed. A trial that never ran in this run folder (no folder of its own yet, or one
    its run's hold made: ``first_run``) removes nothing: a copy of the run
    folder, which keeps its ``log_label``, may have written those versions (was: every new
    trial cleared them); its lock stays (cleared under it, the folder is not removed). A
    trial trained again with a W&B or MLflow logger node gets ``W_AND_B_ATTEMPT`` in its new
    folder (``wandb_ids.new_attempt``), so its W&B run is its own and its MLflow run named
    apart (the dead attempt's run is a service's, never removed; was: W&B resumed it, both
    attempts' rows in one run, ``trainer/global_step`` from 0 again; MLflow's new run had the
    dead one's name), and the dead attempt's MLflow runs still RUNNING are marked KILLED
    (``killed_runs``)."""
    if not spec.clear_dir or spec.ckpt_path is not None:
        return
    trial_dir = Path(spec.trial_dir)
    if first_run(trial_dir):  # its first run here: nothing of its own to clear
        return
    listed = trial_dir / MODULE_FOLDERS
    module = listed.read_text().splitlines() if listed.is_file() else []
    if spec.trainer.get("logger"):  # the dead attempt's MLflow runs, read before it goes
        killed_runs(trial_dir, placed_logger(spec))
    for path in [p for p in trial_dir.iterdir() if p.name != TRIAL_LOCK]:  # (the lock its
        if path.is_dir() and not path.is_symlink():  # run holds: ``holding_trial``)
            shutil.rmtree(path)
        else:
            path.unlink()
    if not (trial_dir / TRIAL_LOCK).exists():  # not held: the folder goes too, as it did
        trial_dir.rmdir()
    for root in [] if spec.own_logs else [placed_root(spec), *checkpoint_folders(spec),
                                          profiler_folder(spec), *module]:
        if root is not None and spec.log_label is not None and "://" not in str(root):
            folder = Path(str(root)).expanduser()
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
    for version in logger_versions(spec):
        for folder in [version, *version.parent.glob(f"{glob.escape(version.name)}_resumed_*")]:
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
    if not spec.own_logs and spec.trainer.get("logger"):
        new_attempt(trial_dir, spec.trainer["logger"])  # a W&B (MLflow) run of its own


def logger_versions(spec: Any) -> list[Path]:
    """The folders (``save_dir/name/version``, no ``_resumed_<ns>``) of the versions the
    search gives a search trial's configured loggers, its alone: under the run's ``logs``,
    or a ``save_dir`` of the user's named by the run's ``log_label``; none for ``own_logs``.

    Example:
        >>> from types import SimpleNamespace
        >>> logger_versions(SimpleNamespace(own_logs=False, trainer={}))
        []
    """
    if spec.own_logs or not spec.trainer.get("logger"):
        return []
    given, placed = spec.trainer["logger"], placed_logger(replace(spec, ckpt_path=None))
    pairs = zip(given, placed, strict=True) if isinstance(given, list) else [(given, placed)]
    return [Path(str(a["save_dir"]), str(a.get("name") or ""), str(a["version"]))
            for before, after in pairs if (a := node_args(after) if is_node(after) else {})
            and a.get("save_dir") is not None and a.get("version") is not None and not (
                node_args(before).get("save_dir") is not None and spec.log_label is None)]



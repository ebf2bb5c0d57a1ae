"""The user's loggers and checkpoints in a search's trials: a folder (a logger version) per
trial for a configured logger, emptied when the trial starts from scratch again, a folder per
trial under a ``default_root_dir`` of the user's and under a user's ``ModelCheckpoint``'s
``dirpath``, the folder a user's ``ModelCheckpoint`` keeps across a promoted trial's
segments, and a callback that logs through a logger refused without one (a logger *object*'s
copies: ``logger_objects.py``).

Example:
    >>> node = {"class_path": "lightning.pytorch.loggers.CSVLogger"}
    >>> logger_defaults(node, "runs/a/logs", "trials", "trial_0001", "a")["init_args"]
    {'save_dir': 'runs/a/logs', 'name': 'trials', 'version': 'trial_0001'}
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.callbacks import DeviceStatsMonitor, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.profilers import Profiler

from lightning_nas.config.instantiate import accepted_kwargs, import_object
from lightning_nas.config.nodes import is_node, node_args, target_path, with_args
from lightning_nas.errors import ConfigError
from lightning_nas.search.remote_runs import continued_runs, killed_runs
from lightning_nas.search.rule_checks import callbacks_of
from lightning_nas.search.trial_checkpoint import TrialCheckpoint
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


def placed_root(spec: Any) -> Any:
    """The ``default_root_dir`` of ``spec``'s trial: a ``default_root_dir`` of the user's
    gets a folder per trial under it, ``ROOT/trials/<label>_trial_0001`` (``label``: the
    run's ``log_label``, as under a ``save_dir`` of the user's), so a ``ModelCheckpoint``
    without a ``dirpath`` under ``logger: false`` (or a logger without a ``save_dir``) keeps
    each trial's files apart (was: every trial wrote ``ROOT/checkpoints``, ``best.ckpt``,
    ``best-v1.ckpt``, ... side by side). Unset, or a fit's or fine-tune's (``own_logs``: one
    run), it is returned as given.

    Example:
        >>> from types import SimpleNamespace
        >>> spec = SimpleNamespace(trainer={"default_root_dir": "out"}, own_logs=False,
        ...                        trial_dir="runs/a/trials/trial_0001", log_label="a-3f9a0c")
        >>> placed_root(spec)
        'out/trials/a-3f9a0c_trial_0001'
    """
    root = spec.trainer.get("default_root_dir")
    if root is None or spec.own_logs:
        return root
    return _per_trial(spec, root)


def _per_trial(spec: Any, folder: Any) -> str:
    """The folder of ``spec``'s trial under a ``folder`` of the user's (shared by every trial,
    and by other searches): ``folder/trials/<label>_trial_0001``."""
    trial = Path(spec.trial_dir)
    label = spec.log_label or trial.parent.parent.name
    return f"{str(folder).rstrip('/')}/trials/{label}_{trial.name}"  # a URL's too (s3://)


def placed_checkpoints(spec: Any, callbacks: list[Any]) -> list[str]:
    """Give each ``ModelCheckpoint`` among ``callbacks`` (the trial's own copies of the
    user's, built from ``spec.trainer``) with a ``dirpath`` a folder of the trial's under it,
    ``DIRPATH/trials/<label>_trial_0001``, as ``placed_root`` names one (was: every trial
    wrote into ``dirpath`` itself, Lightning's default file names the same for each, told
    apart only by ``-v1``, ``-v2``, none telling its trial, trials in parallel workers
    writing the one folder). A promoted trial's segments write into the one folder (its
    earlier files there are no news). A fit's or fine-tune's (``own_logs``: one run) are
    left as given, and so is the search's own ``TrialCheckpoint``.

    Returns:
        The folders given.

    Example:
        >>> from types import SimpleNamespace
        >>> spec = SimpleNamespace(own_logs=False, trial_dir="runs/a/trials/trial_0001",
        ...                        log_label="a-3f9a0c", ckpt_path=None)
        >>> mine = ModelCheckpoint(dirpath="memory://ck")  # a URL (s3://) is placed alike
        >>> placed_checkpoints(spec, [mine, ModelCheckpoint()])
        ['memory://ck/trials/a-3f9a0c_trial_0001']
    """
    if spec.own_logs:
        return []
    placed = []
    for callback in callbacks:
        if (isinstance(callback, ModelCheckpoint) and not isinstance(callback, TrialCheckpoint)
                and callback.dirpath is not None):
            callback.dirpath = _per_trial(spec, callback.dirpath)  # setup reads it
            placed.append(callback.dirpath)
            if spec.ckpt_path is not None:  # a promoted trial's: its earlier files
                warnings.filterwarnings("ignore", message=f"Checkpoint directory "
                                        f"{re.escape(str(callback.dirpath))} exists")
    return placed


def placed_profiler(spec: Any, profiler: Any) -> Any:
    """``profiler`` (the trial's own copy of the user's ``trainer.profiler``, built) with a
    ``dirpath`` given a folder of the trial's under it, as ``placed_checkpoints`` gives a
    ``ModelCheckpoint``'s (was: every trial appended its report to ``DIRPATH/fit-FILE.txt``,
    none saying its trial). One without a ``dirpath`` writes into the trial's log folder
    (Lightning's ``log_dir``) or prints its report; a fit's or fine-tune's (``own_logs``)
    and a name (``"simple"``) are returned as given.

    Example:
        >>> from types import SimpleNamespace
        >>> from lightning.pytorch.profilers import SimpleProfiler
        >>> spec = SimpleNamespace(own_logs=False, trial_dir="runs/a/trials/trial_0001",
        ...                        log_label="a-3f9a0c")
        >>> placed_profiler(spec, SimpleProfiler(dirpath="prof", filename="perf")).dirpath
        'prof/trials/a-3f9a0c_trial_0001'
    """
    if (isinstance(profiler, Profiler) and not spec.own_logs
            and getattr(profiler, "dirpath", None) is not None):
        profiler.dirpath = _per_trial(spec, profiler.dirpath)  # its setup keeps a given one
    return profiler


def _checkpoint_folders(spec: Any) -> list[str]:
    """The folders ``placed_checkpoints`` gives ``spec``'s trial: one under the ``dirpath``
    of each ``ModelCheckpoint`` (an object or a config node) among its Trainer's callbacks."""
    if spec.own_logs:
        return []
    folders = []
    for _, item in callbacks_of(spec.trainer.get("callbacks"), ModelCheckpoint):
        dirpath = node_args(item).get("dirpath") if is_node(item) else item.dirpath
        if dirpath is not None and not isinstance(item, TrialCheckpoint):
            folders.append(_per_trial(spec, dirpath))
    return folders


def _profiler_folder(spec: Any) -> str | None:
    """The folder ``placed_profiler`` gives ``spec``'s trial under the ``dirpath`` of its
    Trainer's ``profiler`` (an object or a config node), or None."""
    item = spec.trainer.get("profiler")
    dirpath = node_args(item).get("dirpath") if is_node(item) else (
        getattr(item, "dirpath", None) if isinstance(item, Profiler) else None)
    return None if dirpath is None or spec.own_logs else _per_trial(spec, dirpath)


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
    for root in [] if spec.own_logs else [placed_root(spec), *_checkpoint_folders(spec),
                                          _profiler_folder(spec), *module]:
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


def keep_checkpoint_dirs(trainer: pl.Trainer, ckpt_path: str, run_dir: str | Path,
                         callbacks: list[Any] | None = None) -> None:
    """Restore the trial's ``TrialCheckpoint`` from a state in ``ckpt_path`` written at
    another path of its trial folder (the run folder moved or copied since) as this folder's
    (was: Lightning warned "The dirpath has changed" and forgot its best score, so the first
    validation after a promotion, worse, replaced ``best.ckpt`` of a better epoch).

    Give each ``ModelCheckpoint`` of the user's without a ``dirpath`` of its own the one its
    state in ``ckpt_path`` holds (matched by ``state_key``): a resumed segment logs to a new
    version, from which Lightning would derive another folder, forget the callback's best
    (``best_k_models``) and keep a second top-k there. A file that cannot be read is left
    to ``fit``, which fails the trial naming it. A folder outside ``run_dir`` (the run
    folder was moved or copied since: the state holds its old path, absolute or relative to
    the old working folder) is taken at the same place in ``run_dir`` where that holds it,
    the state's files with it, so Lightning restores its best there (was: a copy wrote into
    the original's folder and its top-k removed the original's files); one that is not
    there is taken where it is when it exists (a ``save_dir`` of the user's), else left to
    Lightning, which derives one in ``run_dir``. ``callbacks``: those to restore (default:
    ``trainer.checkpoint_callbacks``; the module's, once its ``fit`` merged them in)."""
    try:  # the trial's own last.ckpt, written by this search (as _trusted)
        states = torch.load(ckpt_path, map_location="cpu", weights_only=False,
                            mmap=True).get("callbacks") or {}
    except Exception:  # noqa: BLE001 - fit reports an unreadable checkpoint
        return
    for callback in trainer.checkpoint_callbacks if callbacks is None else callbacks:
        state = states.get(getattr(callback, "state_key", None))
        if not (isinstance(callback, ModelCheckpoint) and isinstance(state, dict)
                and state.get("dirpath")):
            continue
        if isinstance(callback, TrialCheckpoint):  # the trial's own, in its trial folder
            old, new = str(state["dirpath"]), str(callback.dirpath)
            if old != new and Path(old).name == Path(new).name:  # moved or copied since
                callback.load_state_dict = functools.partial(  # type: ignore[method-assign]
                    _load_moved, callback.load_state_dict, old, new)
            continue
        if callback.dirpath is not None:  # a folder the user named
            continue
        folder = _run_folder_place(str(state["dirpath"]), Path(run_dir))
        if folder is None:
            continue
        if folder != state["dirpath"]:  # the state's files as this run folder's
            callback.load_state_dict = functools.partial(  # type: ignore[method-assign]
                _load_moved, callback.load_state_dict, str(state["dirpath"]), folder)
        callback.dirpath = folder  # its earlier files: no news
        warnings.filterwarnings("ignore", message=f"Checkpoint directory "
                                f"{re.escape(str(callback.dirpath))} exists")


def _run_folder_place(dirpath: str, run_dir: Path) -> str | None:
    """``dirpath`` where it lies in ``run_dir``, else the folder at the same place in
    ``run_dir`` (the longest trailing part of it there), else ``dirpath`` where it exists
    outside (a folder of the user's), else None."""
    run = Path(os.path.abspath(run_dir))
    if Path(os.path.abspath(dirpath)).is_relative_to(run) and Path(dirpath).is_dir():
        return dirpath
    parts = Path(dirpath).parts
    for start in range(len(parts) - 1):
        if not Path(parts[start]).anchor and (run / Path(*parts[start:])).is_dir():
            return str(run / Path(*parts[start:]))
    return dirpath if Path(dirpath).is_dir() else None


def _load_moved(load: Callable[[dict[str, Any]], None], old: str, new: str,
                state: dict[str, Any]) -> None:
    """``load`` (a ``ModelCheckpoint``'s ``load_state_dict``) of ``state`` with its paths
    in ``old`` moved into ``new``."""
    def moved(path: Any) -> Any:
        inside = isinstance(path, str) and Path(path).parent == Path(old)
        return str(Path(new, Path(path).name)) if inside else path

    state = {key: moved(value) for key, value in state.items()}
    state["dirpath"] = new
    if isinstance(state.get("best_k_models"), dict):
        state["best_k_models"] = {moved(k): v for k, v in state["best_k_models"].items()}
    load(state)

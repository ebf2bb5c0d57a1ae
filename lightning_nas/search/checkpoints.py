"""Which trial checkpoints stay on disk.

``checkpoint_complete``: whether a checkpoint file was written to its end.
``drop_checkpoints``: a trial that stopped needs no ``last.ckpt`` (it is only for resuming a
paused trial), nor what a kill of its fit left (``.tie.ckpt``, ``.last.pending.ckpt``, the
``trial.lock`` of a hold no process has), and a pruned or failed one keeps no ``best.ckpt``
either.
``save_for_users``: a trial's checkpoint as a user's Trainer resumes it, without the callback
states of lightning_nas's own (an export's, a fit's and a fine-tune's ``best.ckpt``).
``keep_top_checkpoints``: the best ``keep_top_k`` completed trials by the first objective
keep theirs; with several objectives, so does every point of the Pareto front (each can be
exported: ``export --trial N``), which a search keeps up to date (``FrontPoints``). The
store is updated before a file is removed, so it never points to a missing file.
``remove_if_empty``: the folder of a COMPLETED or PRUNED trial whose checkpoints were
removed goes too where nothing else is in it (no logger's version, no file of the user's).
``kept_checkpoints`` / ``not_kept_reason`` / ``no_checkpoint_reason``: what a run keeps, as
``export`` and a fine-tune say of a trial without a checkpoint (or of one whose kept
checkpoint was moved or deleted since).

Example:
    >>> import tempfile
    >>> from lightning_nas.store import RunStore
    >>> with RunStore(tempfile.mkdtemp() + "/search.db") as store:
    ...     keep_top_checkpoints(store, "max", keep_top_k=3)  # nothing stored: nothing to do
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from lightning_nas.export_hparams import as_lightningcli
from lightning_nas.lock_probe import lock_taken
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search import random_state
from lightning_nas.search.objectives import Objectives, pareto_front
from lightning_nas.search.trial_checkpoint import KILL_LEFTOVERS
from lightning_nas.search.trial_defaults import checkpointing
from lightning_nas.search.trial_hold import TRIAL_LOCK
from lightning_nas.store import RunStore
from lightning_nas.wording import id_ranges

__all__ = ["OWN_STATES", "FrontPoints", "checkpoint_complete", "drop_checkpoints", "epochs_trained",
           "keep_top_checkpoints", "kept_checkpoints", "no_checkpoint_reason", "not_kept_reason",
           "remove_if_empty", "save_for_users", "users_in_place"]

#: the state keys of lightning_nas's own callbacks (``TrialCheckpoint``, ``TrialReporter``,
#: ``PruningCallback``) in a trial's checkpoint: none of them is a user's Trainer's
OWN_STATES = ("lightning_nas.", "TrialReporter{", "PruningCallback{")


def checkpoint_complete(path: Path) -> bool:
    """False for an empty file or a zip checkpoint (``torch.save``'s format) cut off before
    its end-of-archive record; other formats (a custom ``CheckpointIO``) count as whole."""
    with path.open("rb") as f:
        head = f.read(4)
    return bool(head) and (head != b"PK\x03\x04" or zipfile.is_zipfile(path))


def save_for_users(source: Path, target: Path, model: Any = None,
                   extra: Mapping[str, Any] | None = None) -> None:
    """Write the checkpoint ``source`` to ``target`` without the callback states of
    lightning_nas's own (``OWN_STATES``): Lightning asks a user's ``Trainer.fit(model,
    ckpt_path=...)`` (or LightningCLI's ``--ckpt_path``) for every callback a checkpoint
    holds a state of, and no user's Trainer has these. The user's callbacks' states stay;
    that ``source`` held a random state is kept under ``random_state.EXPORTED_KEY``. Nothing
    reads those states from a ``best.ckpt`` written so: a fine-tune loads its weights, a
    resumed trial its own ``last.ckpt``. Of a config run (``model``: its ``model`` section),
    with the model hyperparameters LightningCLI's checkpoint of that config holds
    (``export_hparams.as_lightningcli``), so LightningCLI's ``--ckpt_path`` reads it.
    ``extra``: keys set in it besides (an export's ``exported.stamp``: the trial it holds).

    Example:
        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> torch.save({"state_dict": {}, "callbacks": {"Mine": {"n": 1},
        ...             "TrialReporter{'monitor': 'val_acc', 'mode': 'max'}": {"random": {}}}},
        ...            run / "trial.ckpt")
        >>> save_for_users(run / "trial.ckpt", run / "best.ckpt")
        >>> ckpt = torch.load(run / "best.ckpt")
        >>> ckpt["callbacks"], ckpt[random_state.EXPORTED_KEY]
        ({'Mine': {'n': 1}}, True)
    """
    # the run's own file: hyperparameters (a Path, an Enum) need the full unpickler
    checkpoint = torch.load(source, map_location="cpu", weights_only=False)
    states = checkpoint.get("callbacks") if isinstance(checkpoint, dict) else None
    if isinstance(states, dict):
        own = [key for key in states if str(key).startswith(OWN_STATES)]
        if any(isinstance(states[key], dict) and "random" in states[key] for key in own):
            checkpoint[random_state.EXPORTED_KEY] = True
        checkpoint["callbacks"] = {k: v for k, v in states.items() if k not in own}
    if model is not None and isinstance(checkpoint, dict):
        as_lightningcli(checkpoint, model)
    if extra and isinstance(checkpoint, dict):
        checkpoint.update(extra)
    torch.save(checkpoint, target)


def users_in_place(path: Path, model: Any = None) -> None:
    """``save_for_users`` over ``path`` itself, through a file beside it (``lightning-nas
    fit``'s and ``finetune``'s ``best.ckpt``, which their ``TrialCheckpoint`` wrote, with
    ``model``: a config's model section, ``TrialSpec.cli_model``), so an interrupted rewrite
    leaves the whole file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_for_users(path, tmp, model)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_if_empty(folder: Path) -> None:
    """Remove the trial folder ``folder`` if it holds nothing (was: an empty folder was left
    of each trial whose checkpoints the search removed, with ``trainer.logger: false``); one
    holding anything (a logger's version, a file or folder of the user's), a link and a
    missing one are left as they are. For the driver alone, which runs on rank 0, and for a
    trial that is over: not a running or paused one, nor a failed one, which a resume may
    run again (its folder tells ``clear_trial`` that it ran here).

    Example:
        >>> import tempfile
        >>> trial = Path(tempfile.mkdtemp()) / "trials" / "trial_0001"
        >>> trial.mkdir(parents=True)
        >>> remove_if_empty(trial); trial.exists()
        False
    """
    try:
        if not folder.is_symlink():
            folder.rmdir()  # refused by the system where anything is in it
    except OSError:  # not empty, missing, not a folder
        pass


def drop_checkpoints(store: RunStore, trial_dir: Path, trial: TrialResult,
                     keep_best: bool) -> None:
    """Remove ``trial``'s ``last.ckpt`` and what a kill of its fit left (the held weights of
    an undecided tie, ``TIE_FILE``, and an epoch's ``last.ckpt`` whose training row was not
    logged, ``LAST_PENDING``; was: kept for good in the folder of a trial stored FAILED after
    kills; and the ``TRIAL_LOCK`` file of its killed run's hold, which no process holds: was
    kept for good, naming the dead process; one that a live run holds stays, as that
    run's), and without ``keep_best`` its ``best.ckpt`` (a failed trial's is of the epochs
    before its failure: no result); a COMPLETED or PRUNED trial's folder left empty goes
    too (``remove_if_empty``)."""
    for name in ("last.ckpt", *KILL_LEFTOVERS):
        (trial_dir / name).unlink(missing_ok=True)
    lock = trial_dir / TRIAL_LOCK
    if lock.is_file() and not lock_taken(lock):  # (a live run's hold is that run's)
        lock.unlink(missing_ok=True)
    if not keep_best:
        if trial.checkpoint:
            store.clear_checkpoint(trial.trial_id)
            Path(trial.checkpoint).unlink(missing_ok=True)
        (trial_dir / "best.ckpt").unlink(missing_ok=True)
    if trial.status in (TrialStatus.COMPLETED, TrialStatus.PRUNED):
        remove_if_empty(trial_dir)


class FrontPoints:
    """The Pareto front of a run's scored COMPLETED trials (``RunStore.scored_metrics``):
    read whole at its first use, then kept up to date from each trial that completes
    (``add``), so that a search of thousands of trials does not read and sort every trial's
    metrics after each one (was: about 20 ms a trial at 2000 trials). The front of the
    trials so far and one more is the front of the old front and that one: a point the
    front dominates stays dominated.

    Args:
        store: the run.
        objectives: the objectives the front is of.

    Example:
        >>> import tempfile
        >>> from lightning_nas.store import RunStore
        >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
        >>> front = FrontPoints(store, Objectives({"acc": "max", "size": "min"}))
        >>> for acc, size in ((0.8, 5.0), (0.9, 9.0), (0.7, 6.0)):
        ...     tid = store.start_trial({"size": size})
        ...     store.finish_trial(TrialResult(tid, {"size": size}, TrialStatus.COMPLETED,
        ...                                    score=acc, metrics={"acc": acc, "size": size}))
        ...     front.add(tid)
        >>> sorted(front.ids())
        [1, 2]
    """

    def __init__(self, store: RunStore, objectives: Objectives) -> None:
        self.store, self.objectives = store, objectives
        self._front: list[tuple[int, dict[str, float]]] | None = None  # (id, metrics)

    def ids(self) -> set[int]:
        """The ids of the trials on the front (the store read whole at the first call)."""
        if self._front is None:
            self._front = self._of(self.store.scored_metrics())
        return {tid for tid, _ in self._front}

    def add(self, trial_id: int) -> None:
        """Trial ``trial_id`` was stored just now: on the front if it is a scored COMPLETED
        trial that no point of the front dominates (its metrics as the store reads them)."""
        if self._front is None:  # not read yet: its first read holds it
            return
        trial = self.store.get(trial_id)
        points = [point for point in self._front if point[0] != trial_id]
        if trial.status is TrialStatus.COMPLETED and trial.score is not None:
            points.append((trial_id, trial.metrics))
        self._front = self._of(points)

    def _of(self, points: list[tuple[int, dict[str, float]]]
            ) -> list[tuple[int, dict[str, float]]]:
        return pareto_front(points, self.objectives, metrics=lambda point: point[1])


def keep_top_checkpoints(store: RunStore, mode: str, keep_top_k: int,
                         objectives: Objectives | None = None,
                         front: FrontPoints | None = None,
                         folder_of: Callable[[int], Path] | None = None) -> None:
    """Remove the checkpoints of completed trials outside the best ``keep_top_k`` (by the
    first objective) and, with several ``objectives``, outside the Pareto front (read only when a
    checkpoint outside the best is left: not after every trial of a search without any;
    ``front``: the search's ``FrontPoints`` of ``objectives``, kept up to date, instead of
    the store read whole), and with ``folder_of`` (a trial id's folder) each such trial's
    folder left empty (``remove_if_empty``)."""
    held = store.with_checkpoint(TrialStatus.COMPLETED)
    if not held:  # nothing to remove (an objective= search, checkpoints off)
        return
    keep = {t.trial_id for t in store.leaderboard(mode, k=keep_top_k)}
    # one objective (objectives={"val_acc": "max"}) keeps what its monitor keeps (was: every
    # trial tied at the best score, beyond keep_top_k, as a front's points)
    if objectives is not None and objectives.multi and any(t.trial_id not in keep
                                                           for t in held):
        keep |= (front or FrontPoints(store, objectives)).ids()
    for trial in held:
        if trial.trial_id not in keep:
            store.clear_checkpoint(trial.trial_id)  # store first: no dangling path
            Path(trial.checkpoint).unlink(missing_ok=True)
            if folder_of is not None:
                remove_if_empty(folder_of(trial.trial_id))


def kept_checkpoints(keep_top_k: int | None, objectives: Mapping[str, str] | None,
                     held: Sequence[int]) -> str:
    """What a run keeps checkpoints of, as the note of a trial without one says it: the best
    ``keep_top_k`` (by the first objective) and, with several ``objectives``, every point
    of the Pareto front (was: ``not among search.keep_top_k`` alone); then the COMPLETED
    trials that have one (``held``), which ``export --trial`` exports with it.

    Example:
        >>> kept_checkpoints(1, {"val_acc": "max", "params": "min"}, [1, 2, 4])
        'not among the search.keep_top_k=1 best by val_acc, nor on the Pareto front of \
val_acc max, params min, whose points keep theirs too; trials with one: 1-2, 4'
        >>> kept_checkpoints(3, None, [])
        'not among the search.keep_top_k=3 best; trials with one: none'
    """
    top = "search.keep_top_k" if keep_top_k is None else f"search.keep_top_k={keep_top_k}"
    text = f"not among the {top} best"
    if objectives is not None and len(objectives) > 1:
        spec = ", ".join(f"{name} {mode}" for name, mode in objectives.items())
        text += (f" by {next(iter(objectives))}, nor on the Pareto front of {spec}, whose "
                 f"points keep theirs too")
    return f"{text}; trials with one: {id_ranges(held) or 'none'}"


def not_kept_reason(store: RunStore) -> str:
    """Why a COMPLETED trial of the run in ``store`` has no checkpoint, as ``export`` and a
    fine-tune of it say: the search's ``trainer.enable_checkpointing`` is false, else what
    the run keeps and the trials that have one (``kept_checkpoints``).

    Example:
        >>> import tempfile
        >>> with RunStore(tempfile.mkdtemp() + "/search.db") as store:  # nothing stored yet
        ...     not_kept_reason(store)
        'not among the search.keep_top_k best; trials with one: none'
    """
    if not checkpointing(store.get_meta("trainer") or {}):
        return "the search's trainer.enable_checkpointing is false"
    return kept_checkpoints((store.get_meta("settings") or {}).get("keep_top_k"),
                            store.objectives(), _held(store))


def _held(store: RunStore) -> list[int]:
    """The COMPLETED trials whose kept checkpoint is on disk (one moved or deleted since,
    ``trials/`` cleaned by hand, is not: an export of it has none to copy)."""
    return [t.trial_id for t in store.with_checkpoint(TrialStatus.COMPLETED)
            if Path(str(t.checkpoint)).is_file()]


def no_checkpoint_reason(store: RunStore, trial_id: int) -> str:
    """What COMPLETED trial ``trial_id``'s checkpoint is, where an export has none to copy,
    said after "its checkpoint": the file the search kept, not there now (moved or deleted
    since: was said "was not kept", the trial among "trials with one"), else why it was
    not kept (``not_kept_reason``).

    Example:
        >>> import tempfile
        >>> from lightning_nas.results import TrialResult
        >>> with RunStore(tempfile.mkdtemp() + "/search.db") as store:
        ...     tid = store.start_trial({"k": 3})
        ...     store.finish_trial(TrialResult(tid, {"k": 3}, TrialStatus.COMPLETED, 0.5,
        ...                                    checkpoint="trials/trial_0001/best.ckpt"))
        ...     no_checkpoint_reason(store, tid).split(str(store.path.parent))[1]
        '/trials/trial_0001/best.ckpt is not there (moved or deleted; the search kept it: \
the trials with one now: none)'
    """
    kept = store.get(trial_id).checkpoint
    if kept is not None and not Path(kept).is_file():
        return (f"{kept} is not there (moved or deleted; the search kept it: the trials with "
                f"one now: {id_ranges(_held(store)) or 'none'})")
    return f"was not kept ({not_kept_reason(store)})"


def epochs_trained(ckpt: Mapping[str, Any]) -> int:
    """How many epochs the fit that wrote ``ckpt`` (a loaded checkpoint) had trained: one
    more than its ``epoch`` for one of an epoch's end, its ``epoch`` for one written as the
    fit ended, after Lightning's loop counted the last epoch done (its fit loop's progress:
    every epoch started completed; was: one too many, a resume of a fit killed as it ended
    refused with its own ``max_epochs``).

    Example:
        >>> progress = {"current": {"ready": 2, "completed": 2}}
        >>> ended = {"epoch": 2, "loops": {"fit_loop": {"epoch_progress": progress}}}
        >>> epochs_trained(ended), epochs_trained({"epoch": 1})
        (2, 2)
    """
    epoch = int(ckpt.get("epoch", 0))
    try:
        current = ckpt["loops"]["fit_loop"]["epoch_progress"]["current"]
        ended = current["ready"] == current["completed"] == epoch
    except (KeyError, TypeError):
        ended = False
    return epoch if ended else epoch + 1

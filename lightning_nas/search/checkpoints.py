"""Which trial checkpoints stay on disk.

``checkpoint_complete``: whether a checkpoint file was written to its end.
``drop_checkpoints``: a trial that stopped needs no ``last.ckpt`` (it is only for resuming a
paused trial), and a pruned or failed one keeps no ``best.ckpt`` either.
``keep_top_checkpoints``: the best ``keep_top_k`` completed trials by the first objective
keep theirs; with several objectives, so does every point of the Pareto front (each can be
exported: ``export --trial N``). The store is updated before a file is removed, so it never
points to a missing file.

Example:
    >>> import tempfile
    >>> from lightning_nas.store import RunStore
    >>> with RunStore(tempfile.mkdtemp() + "/search.db") as store:
    ...     keep_top_checkpoints(store, "max", keep_top_k=3)  # nothing stored: nothing to do
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.objectives import Objectives, pareto_front
from lightning_nas.store import RunStore

__all__ = ["checkpoint_complete", "drop_checkpoints", "keep_top_checkpoints"]


def checkpoint_complete(path: Path) -> bool:
    """False for an empty file or a zip checkpoint (``torch.save``'s format) cut off before
    its end-of-archive record; other formats (a custom ``CheckpointIO``) count as whole."""
    with path.open("rb") as f:
        head = f.read(4)
    return bool(head) and (head != b"PK\x03\x04" or zipfile.is_zipfile(path))


def drop_checkpoints(store: RunStore, trial_dir: Path, trial: TrialResult,
                     keep_best: bool) -> None:
    """Remove ``trial``'s ``last.ckpt``, and without ``keep_best`` its ``best.ckpt`` (a
    failed trial's is of the epochs before its failure: no result)."""
    (trial_dir / "last.ckpt").unlink(missing_ok=True)
    if keep_best:
        return
    if trial.checkpoint:
        store.clear_checkpoint(trial.trial_id)
        Path(trial.checkpoint).unlink(missing_ok=True)
    (trial_dir / "best.ckpt").unlink(missing_ok=True)


def keep_top_checkpoints(store: RunStore, mode: str, keep_top_k: int,
                         objectives: Objectives | None = None) -> None:
    """Remove the checkpoints of completed trials outside the best ``keep_top_k`` (by the
    first objective) and, with ``objectives``, outside the Pareto front (read only when a
    checkpoint outside the best is left: not after every trial of a search without any)."""
    held = store.with_checkpoint(TrialStatus.COMPLETED)
    if not held:  # nothing to remove (an objective= search, checkpoints off)
        return
    keep = {t.trial_id for t in store.leaderboard(mode, k=keep_top_k)}
    if objectives is not None and any(t.trial_id not in keep for t in held):
        keep |= {tid for tid, _ in pareto_front(store.scored_metrics(), objectives,
                                                 metrics=lambda point: point[1])}
    for trial in held:
        if trial.trial_id not in keep:
            store.clear_checkpoint(trial.trial_id)  # store first: no dangling path
            Path(trial.checkpoint).unlink(missing_ok=True)

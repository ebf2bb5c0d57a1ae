"""What a trial produced, as plain data: ``TrialStatus`` and ``TrialResult``.

No torch, no Lightning: results cross processes, go into the run store and are read by the
read-only commands (``lightning-nas show``) without importing a training stack.

Example:
    >>> result = TrialResult(trial_id=1, arch={"k": 3}, status=TrialStatus.COMPLETED, score=0.9)
    >>> result.to_dict()["status"]
    'COMPLETED'
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["OBJECTIVE_MODEL", "PROCESS_DIED", "TrialResult", "TrialStatus", "format_score",
           "leaderboard", "objective_run"]

#: the stored model of an ``objective=`` search: the placeholder ``Search`` stands in with
#: (nothing is built; ``best.yaml`` says so instead of naming it)
OBJECTIVE_MODEL = "lightning_nas.search.facade._NoModel"

#: how the error of a trial whose process died begins (no Python error came back from it):
#: ``trial process died (exit code 3)``, ``... (killed by SIGKILL (out of memory?))``
PROCESS_DIED = "trial process died"


def format_score(value: float) -> str:
    """A score as printed: four decimals, or four significant digits where four decimals
    would hide it (a loss of 3.2e-05 is not 0.0000).

    Example:
        >>> format_score(0.99504), format_score(3.2e-05), format_score(0.0), format_score(12.5)
        ('0.9950', '3.2e-05', '0.0000', '12.5000')
    """
    if value != 0 and math.isfinite(value) and abs(value) < 0.01:
        return f"{value:.4g}"
    return f"{value:.4f}"


class TrialStatus(str, enum.Enum):
    """Where a trial stands; stored as its name."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    PRUNED = "PRUNED"
    #: stopped at a rung by a scheduler; may be promoted (resumed) later, by a resume too
    PAUSED = "PAUSED"
    #: violated a constraint (max_params, max_flops, a check): never trained
    REJECTED = "REJECTED"


@dataclass
class TrialResult:
    """What a trial produced. Plain data: it crosses processes and goes into the store.

    ``score`` is the monitored value at the best epoch and ``metrics`` every logged value at
    that epoch; ``curve`` holds the monitored value at each validation (NaN where it was
    not logged).
    """

    trial_id: int
    arch: dict[str, Any]
    status: TrialStatus
    score: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    epoch: int | None = None
    started: float | None = None
    finished: float | None = None
    fit_time: float | None = None
    checkpoint: str | None = None
    error: str | None = None
    curve: list[float] = field(default_factory=list)
    #: the epoch each value of ``curve`` was validated in, counted from 1 (Lightning's
    #: ``current_epoch`` + 1: after epoch 2 with ``check_val_every_n_epoch: 2``); empty
    #: where not known (a store an older version wrote: one value per epoch from epoch 1)
    curve_epochs: list[int] = field(default_factory=list)
    #: epochs trained in all (a resumed trial continues its count)
    epochs: int | None = None
    #: the error would repeat for every trial (e.g. an unlogged monitor): stop the search
    fatal: bool = False
    #: the trial failed while building its model, data or Trainer, or in Lightning's own
    #: checks before the first training step (not stored: the search loop stops when two
    #: trials in a row fail so the same way)
    build_failed: bool = False
    #: where a trial failed, as a stop on two trials that failed the same way says it:
    #: "" in training (a training step had run), else e.g. ``before training started (in
    #: NoData.train_dataloader)``, ``in the objective function`` or, for a Hydra job, ``in
    #: the task function`` (not stored)
    failed_in: str = ""
    #: the error is an objective the trial did not log (or its function did not return;
    #: the monitor, when no validation of a trial that ran to its end logged it):
    #: ``fatal`` only while none of the search's trials completed, a misspelt name; after
    #: one did, the name is right and this architecture fails alone (not stored)
    objective_missing: bool = False
    #: what the trial's run warned of once per search where the search's console may not
    #: show it (a DDP rank's output goes to ``trial.log``): the search warns of it too
    #: (not stored)
    notes: list[str] = field(default_factory=list)
    #: every DDP validation split of this trial that its ranks do not divide (the texts of
    #: ``uneven_splits``, said or not): kept in the store's meta, ``best.yaml``'s ``notes``
    uneven_splits: list[str] = field(default_factory=list)
    #: the ranks its Trainer ran on (its ``world_size``: a searched ``trainer.devices``, or
    #: ``devices: auto``, as it came out; a Hydra job's as its rank 0 wrote it,
    #: ``hydra_split.job_ranks``); None where not known (it failed before its Trainer was
    #: built, a job whose fits validated on different counts or on none, a row an older
    #: version wrote): what a limited validation is said to hold on (``validation_limit``)
    ranks: int | None = None
    #: a fine-tune's starting weights validated before it trained (``validate_start``;
    #: empty when not validated; not stored)
    start_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def took(self) -> float | None:
        """Its training time: ``fit_time`` (a paused and promoted trial's fits summed, not
        the wait between), else the wall time from start to end, else None."""
        if self.fit_time is not None:
            return self.fit_time
        if self.finished is None or self.started is None:
            return None
        return self.finished - self.started

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (status as its name)."""
        out = asdict(self)
        out["status"] = self.status.value
        return out


def leaderboard(trials: Iterable[TrialResult], mode: str,
                objectives: Mapping[str, str] | None = None) -> list[TrialResult]:
    """The COMPLETED trials with a score, best first (``RunStore.leaderboard`` and
    ``SearchResult.leaderboard``, so ``best.yaml`` is the first): by score, ties by the
    later ``objectives`` in order (a trial missing one, or with NaN, after those that have
    it), then the earlier trial.

    Example:
        >>> done = [TrialResult(i, {}, TrialStatus.COMPLETED, 0.9, {"params": p})
        ...         for i, p in ((1, 500), (2, 300))]
        >>> [t.trial_id for t in leaderboard(done, "max", {"acc": "max", "params": "min"})]
        [2, 1]
    """
    ties = list((objectives or {}).items())[1:]

    def key(trial: TrialResult) -> tuple[Any, ...]:
        out: list[Any] = [-trial.score if mode == "max" else trial.score]  # type: ignore[operator]
        for name, by in ties:
            value = trial.metrics.get(name)
            missing = not isinstance(value, (int, float)) or math.isnan(value)
            out += [missing, 0.0 if missing else -value if by == "max" else value]
        return (*out, trial.trial_id)

    return sorted((t for t in trials if t.status is TrialStatus.COMPLETED
                   and t.score is not None), key=key)


def objective_run(stored_model: Mapping[str, Any] | None) -> bool:
    """Whether a run's stored model (its ``model`` meta) is the placeholder of an
    ``objective=`` search, whose trials are one call each, with no epochs.

    Example:
        >>> objective_run({"class_path": OBJECTIVE_MODEL}), objective_run(None)
        (True, False)
    """
    return (stored_model or {}).get("class_path") == OBJECTIVE_MODEL

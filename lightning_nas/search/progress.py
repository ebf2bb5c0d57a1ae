"""Search-level progress: a tqdm bar (trials done / budget, best so far, ETA) on a terminal,
plain lines otherwise.

Example:
    >>> progress = Progress(total=3, enabled=False)
    >>> progress.line("[trial 1 | 1/3 done] val_acc=0.9")
    [trial 1 | 1/3 done] val_acc=0.9
    >>> progress.close()
"""

from __future__ import annotations

import sys
import textwrap
from typing import Any

from lightning_nas.arch import format_arch
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialResult, TrialStatus, format_score
from lightning_nas.search.setting_checks import in_words

__all__ = ["Progress", "scored_by", "trial_line"]


class Progress:
    """One bar for the whole search, in Lightning's tqdm style.

    Args:
        total: the budget (None: no ETA).
        enabled: ``True``, ``False``, or ``"auto"`` (a bar only when stderr is a terminal).
        initial: trials already done (a resumed search).
        file: where the bar is drawn (default: stderr).
    """

    def __init__(self, total: int | None, enabled: bool | str = "auto", initial: int = 0,
                 file: Any = None) -> None:
        if not isinstance(enabled, bool) and enabled != "auto":  # not 1, 0 (as SearchSettings)
            said = in_words("true, false, auto", "True, False or 'auto'")  # (was: a config's)
            raise ConfigError(f"progress can be {said}; got {enabled!r}")
        file = file or sys.stderr
        if enabled == "auto":
            enabled = file.isatty()
        self.bar: Any = None
        if enabled:
            from tqdm.auto import tqdm  # a dependency of Lightning

            self.bar = tqdm(total=total, initial=initial, desc="Search", unit="trial",
                            dynamic_ncols=True, file=file, leave=True)

    def line(self, text: str) -> None:
        """Print a line above the bar (or plainly)."""
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)
        else:
            print(text, flush=True)

    def update(self, done: int, best: float | None, name: str) -> None:
        """Set the trials done and the best value so far."""
        if self.bar is None:
            return
        self.bar.n = done
        if best is not None:
            self.bar.set_postfix_str(f"best {name}={format_score(best)}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        """Finish the bar."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def scored_by(goal: Any, directions: bool = False) -> str:
    """How a search's or sweep's first line says what it scores by: the monitor and its
    mode, or with several objectives each of them (was: the monitor alone); ``directions``
    (a sweep's): each mode as ``hydra.sweeper.direction`` writes it, ``maximize`` or
    ``minimize`` (was: ``max``, ``min``).

    Example:
        >>> from types import SimpleNamespace as N
        >>> scored_by(N(monitor="val_acc", mode="max", objectives=None))
        'val_acc (max)'
        >>> scored_by(N(monitor="val_acc", mode="max", objectives=N(
        ...     names=["val_acc", "params"], modes={"val_acc": "max", "params": "min"})))
        'objectives val_acc (max), params (min)'
        >>> scored_by(N(monitor="score", mode="min", objectives=None), directions=True)
        'score (minimize)'
    """
    said = "{}imize" if directions else "{}"
    if goal.objectives is None or len(goal.objectives.names) < 2:
        return f"{goal.monitor} ({said.format(goal.mode)})"
    return "objectives " + ", ".join(f"{name} ({said.format(goal.objectives.modes[name])})"
                                     for name in goal.objectives.names)


def trial_line(result: TrialResult, monitor: str, stopped: int, budget: int | None,
               best: TrialResult | None, stops: bool = False,
               promoted: int | None = None) -> str:
    """The line a verbose search prints when a trial ends: ``stopped`` of the ``budget``'s
    trials done (completed, pruned or paused, each trial once), its outcome, the best so
    far, its training time (``TrialResult.took``: a promoted trial's fits summed, was the time
    since its first start, waits between invocations included) and architecture. A pruned
    or paused trial's score is the best of the epochs it trained, so where that is not the
    last one the line names its epoch (counted from 0, as ``show``'s ``best_epoch``):
    ``PAUSED @4 val_acc=0.9401 (at epoch 0)``, not the value after 4 epochs. A failure
    that ``stops`` the search reads ``FAILED (see below)``: the search's error says it. A
    trial a scheduler paused after ``promoted`` epochs and promoted says so, ``promoted @2:
    val_acc=0.9``: counted at its pause, it is no new trial done (was: said as one, its
    count that of the line before, or one less where it had left the count while it ran).

    Example:
        >>> done = TrialResult(trial_id=2, arch={"w": 8}, status=TrialStatus.COMPLETED,
        ...                    score=0.9, started=0.0, finished=1.5)
        >>> trial_line(done, "val_acc", 2, 10, done)
        '[trial   2 |  2/10 done] val_acc=0.9000         best=0.9000 (#2)        1.5s  w=8'
        >>> trial_line(done, "val_acc", 3, 10, done, promoted=1)[:52]
        '[trial   2 |  3/10 done] promoted @1: val_acc=0.9000'
    """
    done = f"{stopped:>{len(str(budget or ''))}}{f'/{budget}' if budget else ''}"
    status = result.status
    if status is TrialStatus.FAILED and stops:  # the search's error says it, below
        outcome = "FAILED (see below)"
    elif status is TrialStatus.FAILED:
        first = (result.error or "").splitlines()[0] if result.error else ""
        outcome = f"FAILED ({textwrap.shorten(first, 120, placeholder=' ...')})"
    elif status is TrialStatus.COMPLETED:
        outcome = f"{monitor}={format_score(result.score)}"
    else:  # its best epoch's value, said as such where that is not the epoch it stopped at
        best_at = (f" (at epoch {result.epoch})" if result.epoch is not None
                   and result.epochs is not None and result.epoch != result.epochs - 1 else "")
        outcome = (f"{status.value} @{result.epochs} {monitor}={format_score(result.score)}"
                   f"{best_at}")
    if promoted is not None:
        outcome = f"promoted @{promoted}: {outcome}"
    best_txt = f"best={format_score(best.score)} (#{best.trial_id})" if best else "best=-"
    return (f"[trial {result.trial_id:>3} | {done} done] {outcome:<22} {best_txt:<20} "
            f"{result.took or 0.0:6.1f}s  "
            f"{format_arch(result.arch)}")

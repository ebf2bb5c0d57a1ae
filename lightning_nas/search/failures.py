"""When failed trials stop a search, and how its resume goes on after such a stop.

``FailureWatch`` stops a search (``SearchError``) on a fatal error, on the same error in two
trials in a row while none completed (a user callback's misspelt monitor: every trial would
fail), and once more than ``max_failures`` trials failed. A resume starts with the error of
the last finished trial read back from the store, so that the same error stops it at its
first repeat (not two trials later).

Example:
    >>> import tempfile
    >>> from lightning_nas.store import RunStore
    >>> watch = FailureWatch(RunStore(tempfile.mkdtemp() + "/search.db"), 5, "runs/nas")
    >>> watch.last is None
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning_nas.arch import format_arch
from lightning_nas.errors import SearchError
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.store import RunStore

__all__ = ["FailureWatch", "first_line"]

#: statuses of a trial's result (what the next failure is compared with)
_RESULTS = (TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.PAUSED, TrialStatus.PRUNED)


def first_line(error: str | None) -> str:
    """The first line of a trial's error ("" for none)."""
    return error.splitlines()[0] if error else ""


class FailureWatch:
    """The failure rules of one invocation of a search over ``store``.

    Creating it reads back the last result's error (``last``).

    Args:
        store: the run store.
        max_failures: failed trials tolerated.
        run_dir: the run folder (named in errors).
    """

    def __init__(self, store: RunStore, max_failures: int, run_dir: str | Path) -> None:
        self.store, self.max_failures, self.run_dir = store, max_failures, run_dir
        #: (trial id, first error line, arch) when the last result failed and none completed
        self.last: tuple[int, str, dict[str, Any]] | None = self._last_error()

    def _last_error(self) -> tuple[int, str, dict[str, Any]] | None:
        done = [t for t in self.store.trials() if t.status in _RESULTS]
        if not done or any(t.status is TrialStatus.COMPLETED for t in done):
            return None
        last = max(done, key=lambda t: (t.finished or 0.0, t.trial_id))
        failed = last.status is TrialStatus.FAILED
        return (last.trial_id, first_line(last.error), last.arch) if failed else None

    def failed(self) -> int:
        """The failed trials."""
        return self.store.count(TrialStatus.FAILED)

    def check_count(self) -> None:
        """Raise ``SearchError`` if more than ``max_failures`` trials failed (at a resume:
        e.g. a trial failed by two kills of the search process)."""
        failed = self.failed()
        if failed > self.max_failures:
            raise SearchError(f"{failed} trials of {self.run_dir} failed (max_failures="
                              f"{self.max_failures}); see `lightning-nas show "
                              f"{self.run_dir}`. To go on, raise search.max_failures (the "
                              f"failed architectures stay failed), or start another run_dir")

    def check(self, result: TrialResult, completed: int) -> None:
        """Raise ``SearchError`` on a fatal error, on the same error in two trials in a row
        while none completed (``completed``: the trials completed so far), or once more than
        ``max_failures`` trials failed."""
        failed = result.status is TrialStatus.FAILED
        line = first_line(result.error)
        previous, self.last = self.last, (result.trial_id, line, result.arch) if failed else None
        if not failed:
            return
        if result.fatal:
            raise SearchError(f"trial {result.trial_id} failed with an error every trial would "
                              f"hit: {line}")
        if previous and previous[1] == line and previous[0] != result.trial_id \
                and not completed:
            shared = format_arch({k: v for k, v in result.arch.items() if previous[2].get(k) == v})
            where = ("while building their model, data or Trainer, or in Lightning's checks "
                     "before training" if result.build_failed else "in training")
            first, second = sorted((previous[0], result.trial_id))
            raise SearchError(f"trials {first} and {second} failed the same way {where} "
                              f"(every trial would; unless a value they share is the cause: "
                              f"{shared or 'none'}): {line}")
        count = self.failed()
        if count > self.max_failures:
            raise SearchError(f"{count} trials failed (max_failures={self.max_failures}); "
                              f"last error: {line}. See `lightning-nas show {self.run_dir}` "
                              f"for all errors.")

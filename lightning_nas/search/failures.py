"""When failed trials stop a search, and how its resume goes on after such a stop.

``FailureWatch`` stops a search (``SearchError``) on a fatal error, on the same error in two
trials in a row while none completed (a user callback's misspelt monitor: every trial would
fail), and once more than ``max_failures`` trials failed. A stop of the first two kinds
names its trials in the store (meta ``stopped_by``: the failed trials with that error). The
next invocation, run once the user fixed the cause, runs them again under their ids, as
trials a kill interrupted (each stays FAILED until it starts again). The first of them
that fails as before ends the re-runs (the cause is still there, or lies in those
architectures): the search goes on with new ones, and the first of these that fails the
same way stops it. It starts with the error of the last finished trial read back from the
store, so that a cause still there stops the search at its first repeat. On a stop the
search loop starts no trial and stores those still running before it raises the error.

Example:
    >>> import tempfile
    >>> from lightning_nas.store import RunStore
    >>> watch = FailureWatch(RunStore(tempfile.mkdtemp() + "/search.db"), 5, "runs/nas")
    >>> watch.last, watch.reopened
    (None, [])
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightning_nas.arch import format_arch
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.results import PROCESS_DIED, TrialResult, TrialStatus
from lightning_nas.store import RunStore
from lightning_nas.wording import counted, joined

__all__ = ["MAX_ATTEMPTS", "FailureWatch", "first_line"]

#: runs of a trial that keep killing the search process before it is stored as FAILED
MAX_ATTEMPTS = 2

#: a trial failed by its ``concurrent.futures`` executor's break (``BrokenProcessPool``:
#: one of its processes died, and it failed every trial it held), not by its architecture
_BROKE = re.compile(r"Broken(?:ProcessPool|ThreadPool|Executor): ")

#: statuses of a trial's result (what the next failure is compared with)
_RESULTS = (TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.PAUSED, TrialStatus.PRUNED)


def _let_finish(running: int, after: str = ".") -> str:
    """What a stop says of the ``running`` trials still out ("" for none): they finish;
    a period first where the text it follows, ``after``, ends without one (was: "...
    'str' The 1 other trial running then ...").

    Example:
        >>> _let_finish(1, "TypeError: bad")[:24]
        '. The 1 other trial runn'
    """
    were = "was" if running == 1 else "were"
    stop = "" if after.endswith((".", "!", "?")) else "."
    return (f"{stop} The {counted(running, 'other trial')} running then {were} let finish "
            f"and stored (not killed); no trial started after the stop." if running else "")


def _same_way(first: int, second: int, result: TrialResult, shared: str, line: str,
              running: int, how: str = "") -> str:
    """The stop on trials ``first`` and ``second`` that failed with the same error
    ``line``, ``result`` the later one's, ``shared`` the values of their architectures
    alike, ``how`` what to do to go on (``FailureWatch._how_to_go_on``; was: nothing said).
    Of trials whose process died (``PROCESS_DIED``, or a DDP trial's ``rank 1 died
    (...)``) only the way it ended is known: no Python error came back to say where or why
    (was: "failed the same way in training (every trial would; ...)", though nothing
    showed either).

    Example:
        >>> died = TrialResult(2, {"w": 4}, TrialStatus.FAILED, error="trial process died "
        ...                    "(exit code 3)")
        >>> _same_way(1, 2, died, "w=4", died.error, 0)[:62]
        'the processes of trials 1 and 2 died the same way (exit code 3'
        >>> _same_way(1, 2, died, "w=4", "rank 1 died (exit code 3)", 0)[:57]
        'rank 1 of trials 1 and 2 died the same way (exit code 3) '
    """
    died = re.fullmatch(rf"(?:{PROCESS_DIED}|rank (\d+) died) \((.*)\)", line)
    if died is not None:
        whose = f"rank {died[1]} of" if died[1] else "the processes of"
        return (f"{whose} trials {first} and {second} died the same way ({died[2]}) "
                f"before any trial completed; no Python error came back, so where in the "
                f"trial and why are not known (a crash in native code, an exit of the "
                f"process, or a kill from outside, e.g. the out-of-memory killer). Stopped "
                f"in case every trial does; a value they share may be the cause instead: "
                f"{shared or 'none'}: {line}{how}{_let_finish(running, how or line)}")
    where = ("while building their model, data or Trainer, or in Lightning's checks "
             "before training" if result.build_failed else result.failed_in or "in training")
    return (f"trials {first} and {second} failed the same way {where} (every trial would; "
            f"unless a value they share is the cause: {shared or 'none'}): "
            f"{line}{how}{_let_finish(running, how or line)}")


def first_line(error: str | None) -> str:
    """The first line of a trial's error ("" for none)."""
    return error.splitlines()[0] if error else ""


class FailureWatch:
    """The failure rules of one invocation of a search over ``store``.

    Creating it reads back the last result's error (``last``) and the trials whose error
    stopped the last invocation (``reopened``), to run again: ``waiting`` until started.

    Args:
        store: the run store.
        max_failures: failed trials tolerated.
        run_dir: the run folder (named in errors).
    """

    def __init__(self, store: RunStore, max_failures: int, run_dir: str | Path) -> None:
        self.store, self.max_failures, self.run_dir = store, max_failures, run_dir
        #: (trial id, first error line, arch) when the last result failed and none completed
        self.last: tuple[int, str, dict[str, Any]] | None = self._last_error()
        ids = set(store.get_meta("stopped_by") or [])
        self.reopened = [t for t in store.trials(TrialStatus.FAILED) if t.trial_id in ids]
        self.waiting = {t.trial_id for t in self.reopened}  # FAILED in the store till started
        #: reopened trial id -> its error's first line (what "fails as before" compares)
        self._before = {t.trial_id: first_line(t.error) for t in self.reopened}
        self._started: set[int] = set()
        #: the max_failures stop raised (recounted by ``final``): the error, the trials
        #: running then, the failures counted then
        self._count_stop: tuple[SearchError, int, int] | None = None
        self._last_line = ""  # the last failure's first error line (what the stop names)
        #: trials ``interrupted`` stored FAILED (the search process died in them twice)
        self.died_in: list[TrialResult] = []

    def interrupted(self, isolated: bool,
                    drop: Callable[[TrialResult], None]) -> list[TrialResult]:
        """Trials that were running when an earlier process died; one already re-run
        ``MAX_ATTEMPTS`` times in the search process (it may be what kills it) becomes
        FAILED (``drop`` removes its checkpoints). Trials of executors that isolate them
        (``isolated``: worker processes, Ray) die with the search only when it is killed from
        outside: they are always re-run."""
        out = []
        for trial in self.store.trials(TrialStatus.RUNNING):
            if not isolated and self.store.attempts(trial.trial_id) >= MAX_ATTEMPTS:
                trial.status = TrialStatus.FAILED
                trial.error = (f"the search process died {MAX_ATTEMPTS} times while running "
                               f"this trial (it may be what kills it: out of memory, a crash "
                               f"in native code; a kill from outside counts too); {self._fix}")
                self.store.finish_trial(trial)
                drop(trial)
                self.died_in.append(trial)
            else:
                out.append(trial)
        return out

    @property
    def _fix(self) -> str:
        """How to keep a trial that kills the search from failing it (a Hydra sweep has no
        executor setting: its launcher runs the jobs)."""
        if self.store.get_meta("hydra") is not None:
            return "a Hydra launcher that runs each job in a process of its own isolates them"
        return ("use executor 'process' to isolate trials (a trial whose worker dies is "
                "FAILED alone, and one killed with the search is always re-run)")

    def _last_error(self) -> tuple[int, str, dict[str, Any]] | None:
        done = [t for t in self.store.trials() if t.status in _RESULTS]
        if not done or any(t.status is TrialStatus.COMPLETED for t in done):
            return None
        last = max(done, key=lambda t: (t.finished or 0.0, t.trial_id))
        failed = last.status is TrialStatus.FAILED
        return (last.trial_id, first_line(last.error), last.arch) if failed else None

    def dropped(self, trial_id: int) -> bool:
        """Whether reopened trial ``trial_id`` is no longer to run again (one that ran again
        failed as before) and has not started."""
        return trial_id in self._before and trial_id not in self.waiting \
            and trial_id not in self._started

    def restart(self, trial_id: int) -> None:
        """Start reopened trial ``trial_id`` again (RUNNING, its first attempt)."""
        self._started.add(trial_id)
        self.waiting.discard(trial_id)
        with self.store.transaction():  # a kill leaves it RUNNING (re-run), or waiting
            self.store.restart_trial(trial_id, fresh=True)
            self.store.set_meta("stopped_by", sorted(self.waiting))

    def failed(self) -> int:
        """The failed trials, not counting those waiting to run again."""
        return self.store.count(TrialStatus.FAILED) - len(self.waiting)

    def describe(self) -> str:
        """What the resume does with the reopened trials (one line), or ""."""
        if not self.reopened:
            return ""
        ids = ", ".join(str(t.trial_id) for t in self.reopened)
        one = len(self.reopened) == 1
        return (f"{'Trial' if one else 'Trials'} {ids} {'runs' if one else 'run'} again: "
                f"{'its' if one else 'their'} error stopped the search "
                f"({first_line(self.reopened[-1].error)}); if its cause is still there, "
                f"the search stops again.")

    def check_count(self) -> None:
        """Raise ``SearchError`` if more than ``max_failures`` trials failed (at a resume:
        e.g. a trial failed by two kills of the search process)."""
        failed = self.failed()
        if failed > self.max_failures:
            raise SearchError(f"{counted(failed, 'trial')} of {self.run_dir} failed (max_failures="
                              f"{self.max_failures}); see `lightning-nas show "
                              f"{shlex.quote(str(self.run_dir))}`. To go on, raise "
                              f"search.max_failures (the failed architectures stay failed), or "
                              f"start another run_dir")

    def check(self, result: TrialResult, completed: int, running: int = 0) -> None:
        """Raise ``SearchError`` on a fatal error, on the same error in two trials in a row
        while none completed (``completed``: the trials completed so far), or once more than
        ``max_failures`` trials failed; the first two name their trials in the store. The
        error says that the ``running`` trials still out are let finish and stored first
        (the search loop starts no more, waits for them, then raises it)."""
        failed = result.status is TrialStatus.FAILED
        line = first_line(result.error)
        if failed and _BROKE.match(line):  # the pool's break failed it (the pool's submit
            return  # stops the search, naming it), not its architecture: no rule counts it
        previous, self.last = self.last, (result.trial_id, line, result.arch) if failed else None
        if not failed:
            return
        self._last_line = line
        if self._before.get(result.trial_id) == line:  # run again, and failed as it did:
            # the cause is still there or lies in the architectures; the others stay
            # failures, the search goes on, and a new trial failing so stops it
            self.waiting.clear()  # another one started already takes this branch too
            self.store.set_meta("stopped_by", [])
        elif result.fatal:
            self._stopped_by(line)  # (the trials running may complete: no fresh start
            # offered while they do; was: "remove RUN (no trial completed)" all the same)
            how = self._how_to_go_on([result.trial_id], completed + running, line)
            raise SearchError(f"trial {result.trial_id} failed with an error every trial would "
                              f"hit: {line}{how}{_let_finish(running, how)}")
        elif previous and previous[1] == line and previous[0] != result.trial_id \
                and not completed:
            shared = format_arch({k: v for k, v in result.arch.items() if previous[2].get(k) == v})
            first, second = sorted((previous[0], result.trial_id))
            again = self._stopped_by(line)  # (each named trial runs again once it is
            # fixed; was: the stop said nothing of how to go on)
            how = self._how_to_go_on(again or [first, second], completed + running, line)
            raise SearchError(_same_way(first, second, result, shared, line, running, how))
        if self.failed() > self.max_failures:
            stop = self._count_error(running)
            if self._count_stop is None:  # (a trial let finish fails again: not this stop)
                self._count_stop = (stop, running, self.failed())
            raise stop

    def _how_to_go_on(self, trial_ids: list[int], completed: int, line: str = "") -> str:
        """What a stop by an error says to do (was: nothing, and a fixed monitor's rerun was
        then refused, "holds a search with a different monitor"): fix and resume (the
        ``trial_ids`` run again), and where no trial completed (nor may complete: the
        trials running are counted in ``completed``), how a changed setting starts anew (a
        callback's monitor, the error ``line``: a changed ``trainer.callbacks`` resumes)."""
        from lightning_nas.search.stop_fixes import said_fixes, stop_fixes

        anew = (f"; a changed search setting (a monitor, say) is not resumed: remove "
                f"{self.run_dir} (no trial completed) or choose another run_dir"
                if not completed else "")
        fixes = stop_fixes(line)
        if anew and fixes:
            anew = f"; a changed {said_fixes(fixes)} resumes it"
        ids = joined(sorted(trial_ids))
        runs = f"trial {ids} runs" if len(trial_ids) == 1 else f"trials {ids} run"
        return f". To go on, fix it and run the same search again ({runs} again){anew}"

    def _count_error(self, running: int, after: int = 0) -> SearchError:
        """The max_failures stop: the failed trials counted now, the last one's error;
        ``after`` of them failed among the ``running`` trials let finish after the stop."""
        later = f" {after} of them failed (counted above)." if after else ""
        return SearchError(f"{counted(self.failed(), 'trial')} failed (max_failures="
                           f"{self.max_failures}); last error: {self._last_line}. See "
                           f"`lightning-nas show {shlex.quote(str(self.run_dir))}` for all "
                           f"errors.{_let_finish(running)}{later}")

    def final(self, stop: SearchError | ConfigError) -> SearchError | ConfigError:
        """The error a stop raises once the trials still out were let finish and stored:
        a max_failures stop counts the failures stored then (trials running at the stop
        may have failed after it; was: the count when it was decided, so the message and
        the store disagreed), other stops as they were."""
        if self._count_stop is None or stop is not self._count_stop[0]:
            return stop
        _, running, counted = self._count_stop
        final = self._count_error(running, after=self.failed() - counted)
        final.__cause__, final.__context__ = stop.__cause__, stop.__context__
        return final

    def _stopped_by(self, line: str) -> list[int]:
        """Name the failed trials with the error ``line`` (a fix of its cause, then a
        resume, runs them again), beside those named already: a trial let finish after a
        stop may stop it again with another error (was: it replaced the first's). Returns
        the trials now named, as stored."""
        named = sorted(set(self.store.get_meta("stopped_by") or []) | {
            t.trial_id for t in self.store.trials(TrialStatus.FAILED)
            if first_line(t.error) == line})
        self.store.set_meta("stopped_by", named)
        return named

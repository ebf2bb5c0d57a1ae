"""What the search loop does with a finished trial's result: store it, tell it, keep files.

``TrialResults`` is the part of ``SearchLoop`` (``search/loop.py``) that takes each result
the executor returns: it stores it (with the trial let go of as running, together), records
its curve for the scheduler rule, has the optimizer told (``Proposals.stopped``), keeps or
drops the trial's checkpoints (``keep_top_k``, the Pareto front), checks the stop rules
(``FailureWatch.check``) and says the trial's line. A resume tidies what a kill right after
a result was stored left of its files (``_tidy_checkpoints``).

Example:
    >>> from lightning_nas.search.loop import SearchLoop
    >>> issubclass(SearchLoop, TrialResults)
    True
    >>> TrialStatus.PAUSED in TOLD
    True
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lightning_nas.arch import arch_key
from lightning_nas.errors import ConfigError, SearchError, typed
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.checkpoints import drop_checkpoints, keep_top_checkpoints
from lightning_nas.search.lifetime import stops_deferred
from lightning_nas.search.progress import trial_line
from lightning_nas.search.rule_epochs import record_curve
from lightning_nas.split_record import record_uneven
from lightning_nas.user_warnings import warn_user

if TYPE_CHECKING:
    from lightning_nas.search.checkpoints import FrontPoints
    from lightning_nas.search.costs import Counts
    from lightning_nas.search.failures import FailureWatch
    from lightning_nas.search.progress import Progress
    from lightning_nas.search.proposals import Proposals
    from lightning_nas.search.schedulers import Rule
    from lightning_nas.search.setting_groups import Goal
    from lightning_nas.search.settings import SearchSettings
    from lightning_nas.search.template import TrialTemplate
    from lightning_nas.store import RunStore

__all__ = ["TOLD", "TrialResults"]

#: stored statuses whose loss the optimizer was told
TOLD = (TrialStatus.COMPLETED, TrialStatus.PAUSED, TrialStatus.PRUNED)


class TrialResults:
    """The results part of ``SearchLoop``, which sets the state it reads (its ``__init__``)
    and says its lines (``say``)."""

    settings: SearchSettings
    goal: Goal
    store: RunStore
    template: TrialTemplate
    rule: Rule | None
    costs: Counts
    proposals: Proposals
    failures: FailureWatch
    progress: Progress
    front: FrontPoints | None
    running: dict[int, tuple[dict[str, Any], Any]]
    paused: dict[int, TrialResult]
    again: dict[int, int]
    noted: set[str]
    used: int
    completed: int
    on_trial_end: Callable[[TrialResult], None] | None
    #: the first error the user's ``on_trial_end`` raised (``_trial_end``)
    hook_error: Exception | None = None
    say: Callable[[str], None]

    def _record(self, result: TrialResult, last: bool = True) -> None:
        """Store ``result`` and say it; raise the stop its failure makes (``last``: the
        error the search ends with, none raised before)."""
        arch, candidate = self.running[result.trial_id]
        promoted = self.again.pop(result.trial_id, None)
        earlier = self.store.get(result.trial_id) if candidate is None else None
        if earlier is not None:  # a promoted trial: one trial, one start, its fit time summed
            result.started = earlier.started
            result.fit_time = (result.fit_time or 0.0) + (earlier.fit_time or 0.0)
            if len(result.curve) < len(earlier.curve):  # failed before its epochs were back
                result.curve, result.epochs = earlier.curve, earlier.epochs
                result.curve_epochs = earlier.curve_epochs
        key = arch_key(arch)
        if result.objective_missing and self.completed:  # a completed trial logged it: no
            result.fatal = False  # misspelt name, this architecture's failure (max_failures)
        if not result.fatal:  # (a trial that found the count wrong stops the search)
            result.metrics = {**self.costs(arch, key), **result.metrics}
        why = self.goal.objectives and self.goal.objectives.not_finite(result.metrics)
        if why and result.status in TOLD:  # not to be told; it would stay on the front
            # no score: a failure's (was: its monitor's kept, shown beside the error)
            result.status, result.error, result.score = TrialStatus.FAILED, why, None
        with stops_deferred():  # stored and let go together (was: a stop between counted
            self.store.finish_trial(result)  # its start as a death of the process)
            del self.running[result.trial_id]
        record_uneven(self.store, result.trial_id, result.uneven_splits)  # best.yaml's notes
        if self.rule is not None and result.status is TrialStatus.FAILED:
            self.rule.forget(result.trial_id)  # no rung member (was: ranked last), paused or not
        elif self.rule is not None:
            record_curve(self.rule, result.trial_id, result.curve, result.curve_epochs)
        self.proposals.stopped(result, key, candidate)
        if result.status in (TrialStatus.FAILED, TrialStatus.PRUNED):
            self.used -= result.status is TrialStatus.FAILED  # (a failure uses no budget)
            self._drop(result, False)
        elif result.status is TrialStatus.PAUSED:
            self.paused[result.trial_id] = result
        elif result.status is TrialStatus.COMPLETED:
            self.completed += 1
            self._drop(result, True)
            if self.front is not None:
                self.front.add(result.trial_id)
            keep_top_checkpoints(self.store, self.goal.mode, self.goal.keep_top_k,
                                 self.goal.objectives, self.front, self.template.trial_dir)
        try:
            self.failures.check(result, self.completed, running=len(self.running))
            stop = None
        except (SearchError, ConfigError) as err:
            stop = err
        self._report(result, stops=last and stop is not None, promoted=promoted)
        for note in result.notes:  # said in a rank's trial.log: the console shows it too,
            if note not in self.noted:  # once per search (each trial of fresh ranks notes it)
                self.noted.add(note)
                warn_user(f"trial {result.trial_id}: {note}")
        self._trial_end(result)
        if stop is not None:
            raise stop

    def _trial_end(self, result: TrialResult) -> None:
        """Hand ``result``, stored, to the user's ``on_trial_end``. An error it raises is
        noted with the hook's name (the note shows under its traceback) and kept
        (``hook_error``; a later one's is noted on the first) for ``_raise_hook_error``:
        the search stops once the other results of the same wait are stored and handed to
        the hook (was: they stayed RUNNING, dropped, trained again by a resume)."""
        if self.on_trial_end is None:
            return
        try:
            self.on_trial_end(result)
        except Exception as err:  # noqa: BLE001 - the user's: raised after the wait's results
            if self.hook_error is None:
                self.hook_error = err
                _add_note(err, f"raised by on_trial_end(trial {result.trial_id}'s result), "
                              f"called once the trial was stored ({result.status.value}): "
                              f"the search stopped once the other results that came with it "
                              f"were stored; a resume does not call on_trial_end again for "
                              f"the trials stored before it")
            elif err is not self.hook_error:
                _add_note(self.hook_error, f"on_trial_end(trial {result.trial_id}'s result) "
                                           f"raised too: {typed(err)}")

    def _raise_hook_error(self) -> None:
        """Raise the error the user's ``on_trial_end`` raised (``_trial_end``), if any."""
        if self.hook_error is not None:
            raise self.hook_error

    def _tidy_checkpoints(self) -> None:
        """Remove what a kill right after a trial was stored left of its files (its
        ``last.ckpt``; a pruned one's ``best.ckpt``; a completed one's outside the best
        ``keep_top_k``), as ``_record`` would have; was: kept for good."""
        for old in self.store.trials():
            if old.status in (TrialStatus.COMPLETED, TrialStatus.PRUNED):
                self._drop(old, old.status is TrialStatus.COMPLETED)
        keep_top_checkpoints(self.store, self.goal.mode, self.goal.keep_top_k,
                             self.goal.objectives, self.front, self.template.trial_dir)

    def _drop(self, trial: TrialResult, keep_best: bool) -> None:
        drop_checkpoints(self.store, self.template.trial_dir(trial.trial_id), trial, keep_best)


    def _report(self, result: TrialResult, stops: bool = False,
                promoted: int | None = None) -> None:
        """The trial's line; of one whose error ``stops`` the search, without the error,
        which the stop says (was: on the trial's line and in the stop's error alike). Its
        count: the trials done, each once, a promoted one running again among them (was:
        left out while it ran, so a line of another trial then repeated a count, and the
        count went back); a ``promoted`` trial's line says so (``trial_line``)."""
        if not self.settings.verbose:
            return
        s, best = self.goal, self.store.best(self.goal.mode)
        stopped = (self.completed + self.store.count(TrialStatus.PRUNED) + len(self.paused)
                   + len(self.again))
        self.progress.update(stopped, None if best is None else best.score, s.monitor)
        self.say(trial_line(result, s.monitor, stopped, s.budget, best, stops=stops,
                            promoted=promoted))


def _add_note(err: BaseException, note: str) -> None:
    """Add ``note`` to ``err``, said under its traceback (Python 3.10, where exceptions take
    no notes: kept in ``__notes__`` and said now, on stderr)."""
    if hasattr(err, "add_note"):
        err.add_note(note)
    else:  # pragma: no cover - Python 3.10
        err.__notes__ = [*getattr(err, "__notes__", []), note]
        print(note, file=sys.stderr)

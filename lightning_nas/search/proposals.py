"""The optimizer's side of the search loop: new proposals, and what it was told of each.

``Proposals`` asks the optimizer until a new architecture comes. One already evaluated is
told its loss again at once (a rejected one its violation); one that repeats a running
trial's architecture (a twin) is told with that trial's loss; one that violates the limits
or constraints is stored REJECTED, told its violation, never trained. After
``MAX_REPEATS`` repeats or rejections in a row it gives up (the loop waits for the running
trials, or stops).

It holds what the optimizer was told: each architecture's loss (``seen``), a rejected
one's violation (``violated``), and the failures before any result (``untold``: no scale
yet for "worse than anything", told after the first result). Each trial is told once,
when it first stops (``tell``); a repeat of a failed architecture (``failed``) is told
worse than every loss told by then, its own left out (was: its first loss again, though
worse results had come since). A resume replays the logged asks and tells on the fresh
optimizer (``replay``). The loop reads and changes that state through ``evaluated``,
``known``, ``running``, ``forget`` and ``stopped``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Container
from typing import Any

from lightning_nas.arch import arch_key, format_arch
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.asktell import UNLOGGED, AskTell
from lightning_nas.search.costs import Counts
from lightning_nas.search.objectives import (
    NO_SCALE,
    Constraints,
    told_loss,
    waits_for_a_result,
)
from lightning_nas.search.setting_groups import Goal
from lightning_nas.space import SearchSpace
from lightning_nas.store import RunStore
from lightning_nas.strategies.base import NASOptimizer

__all__ = ["MAX_REPEATS", "Proposals", "gave_up"]

#: consecutive proposals of already-evaluated architectures before the search gives up
MAX_REPEATS = 200


def gave_up(rejected: int) -> str:
    """The line the loop says where ``MAX_REPEATS`` proposals in a row brought nothing to
    train: ``rejected`` new ones broke the limits or constraints, the others repeated
    architectures evaluated or rejected already, each count said apart (was: "... in a
    row that were evaluated already or, 146 of them, broke the limits ...").

    Example:
        >>> print(gave_up(150))  # doctest: +NORMALIZE_WHITESPACE
        The optimizer proposed 200 architectures in a row, none to train: 150 new ones
        broke the limits or constraints (REJECTED), the other 50 were evaluated or
        rejected already; stopping.
    """
    repeats = MAX_REPEATS - rejected
    broke = "broke the limits or constraints (REJECTED)"
    said = (f"each of the {MAX_REPEATS} {broke}" if not repeats else
            f"each of the {MAX_REPEATS} was evaluated or rejected already" if not rejected
            else f"{rejected} new {'one' if rejected == 1 else 'ones'} {broke}, the other "
                 f"{repeats} were evaluated or rejected already")
    return (f"The optimizer proposed {MAX_REPEATS} architectures in a row, none to train: "
            f"{said}; stopping.")


class Proposals:
    """The proposals of one invocation of a search, and the losses told for them.

    Args:
        log: the optimizer's logged asks and tells.
        optimizer: the nevergrad optimizer ``log`` asks and tells.
        space: the search space (proposals are validated against it).
        store: the run store (a rejected proposal is stored in it).
        goal: the search's goal (objectives and mode of the loss told).
        costs: counts a candidate's costs (for the limits and constraints).
        constraints: the limits and constraints a proposal must keep.
        counted: whether trials are trained (no ``objective`` function): see ``told_loss``.
        told_any: whether the store holds a result the optimizer was told.
        say: prints a line when the search is verbose.
    """

    def __init__(self, log: AskTell, optimizer: Any, space: SearchSpace, store: RunStore,
                 goal: Goal, costs: Counts, constraints: Constraints, counted: bool,
                 told_any: bool, say: Callable[[str], None]) -> None:
        self.log, self.optimizer, self.space, self.store = log, optimizer, space, store
        self.goal, self.costs, self.constraints = goal, costs, constraints
        self.counted, self.told_any, self.say = counted, told_any, say
        self.seen: dict[str, Any] = {}  # arch key -> loss told (a list: multi-objective)
        self.violated: dict[str, float] = {}  # arch key -> violation of a REJECTED one
        self.twins: dict[str, list[Any]] = {}  # running arch key -> repeated proposals
        #: failures before any result (no scale yet for "worse than anything"): told after
        #: the first result; arch key -> (the failure, its candidates)
        self.untold: dict[str, tuple[TrialResult, list[Any]]] = {}
        #: the architectures whose last told trial FAILED: a repeat is told ``told_loss``
        #: anew (was: its first loss, though worse results came since); arch key -> failure
        self.failed: dict[str, TrialResult] = {}
        self.rejected = 0  # in the last proposals' streak

    # ----------------------------------------------------------------- resume
    def replay(self, trials: list[TrialResult], waiting: Container[int]) -> None:
        """Replay the optimizer's asks and tells on the fresh optimizer (a store written
        before they were logged: tell its finished trials).

        Args:
            trials: the stored trials.
            waiting: the failed trials to run again (``FailureWatch.waiting``): not told.
        """
        for old in trials:
            if old.status is TrialStatus.REJECTED:  # its amount: the log's (replayed below)
                self.violated[arch_key(old.arch)] = 1.0
            elif old.status is not TrialStatus.RUNNING and old.trial_id not in waiting:
                self._failed(old, arch_key(old.arch))  # as live: its repeats told anew
        if self.log.replay():
            if self.log.diverged_at is not None:
                why = "" if self.log.seeded else (  # (was: no word of why)
                    " (the run has no seed, `seed: null`: its optimizer proposes otherwise in "
                    "each invocation; a run with a seed replays exactly)")
                self.say(f"The optimizer proposed another architecture than before at ask "
                         f"{self.log.diverged_at} of the replay{why}; the search goes on "
                         f"from the stored results, no longer exactly as before.")
            self.seen.update(self.log.seen)
            self.violated.update(self.log.violated)
            for old in trials:  # untold: FAILED (interrupted, or before any result), REJECTED
                if old.status is not TrialStatus.RUNNING and old.trial_id in self.log.pending \
                        and old.trial_id not in waiting:
                    key = arch_key(old.arch)
                    if old.status is TrialStatus.REJECTED:  # its amount, as live
                        self.violated[key] = self.violation(old.arch, key)[0]
                    self.tell(old, key, [self.log.pending_trial(old.trial_id),
                                         *self.log.twins_of(key)])
            return
        if trials:  # a store written before events were logged (was: nothing said)
            self.say(UNLOGGED)
        for old in trials:  # logs the replay: later resumes replay events
            if old.status is TrialStatus.RUNNING or old.trial_id in waiting:
                continue
            loss = self.loss(old)
            candidate = self.log.given(old.arch, old.trial_id)
            if old.status is TrialStatus.REJECTED:
                self.log.tell([candidate], loss, violation=1.0)
            else:
                self.log.tell([candidate], loss)
            self.seen[arch_key(old.arch)] = loss

    # ----------------------------------------------------------------- proposals
    def propose(self) -> tuple[dict[str, Any], Any] | None:
        """Ask until a new architecture comes; repeats are told their score (or wait for
        the running twin's). None after ``MAX_REPEATS`` repeats or rejected in a row."""
        self.rejected = 0
        for _ in range(MAX_REPEATS):
            candidate = self.log.ask()
            arch = self.space.validate(candidate.value)
            key = arch_key(arch)
            if key in self.seen:  # a rejected one is told its violation again
                if key in self.failed:  # worse than every loss told now but its own
                    self.seen[key] = self._told_again(key)
                self.log.repeated(candidate, self.seen[key], violation=self.violated.get(key))
            elif key in self.twins or key in self.untold:  # told with the trial's loss
                self.log.twin(candidate)
                (self.twins[key] if key in self.twins else self.untold[key][1]).append(candidate)
            elif self.feasible(arch, key, candidate):
                return arch, candidate
            else:
                self.rejected += 1
        return None

    def violation(self, arch: dict[str, Any], key: str) -> tuple[float, str]:
        """Count the architecture's costs (if needed); how far it violates the limits, why."""
        costs = self.costs(arch, key)
        return self.constraints.violation(arch, costs) if self.constraints else (0.0, "")

    def feasible(self, arch: dict[str, Any], key: str, candidate: Any) -> bool:
        """Check the candidate (``violation``); a violating one is told to nevergrad as a
        violation, stored REJECTED, never trained."""
        amount, reason = self.violation(arch, key)
        if amount <= 0:
            return True
        with self.store.transaction():
            rejected = TrialResult(trial_id=self.store.start_trial(arch), arch=arch,
                                   status=TrialStatus.REJECTED, error=reason,
                                   metrics=self.costs(arch, key), finished=time.time())
            self.store.finish_trial(rejected)
            if waits_for_a_result(rejected, self.optimizer, self.told_any):  # asked now,
                self.log.started(candidate, rejected.trial_id)  # told with the first result
                self.untold[key] = (rejected, [candidate])
            else:
                self.seen[key] = self.loss(rejected)
                self.log.repeated(candidate, self.seen[key], trial_id=rejected.trial_id,
                                  violation=amount)
        self.violated[key] = amount
        self.say(f"[trial {rejected.trial_id:>3} | rejected] {reason}  {format_arch(arch)}")
        return False

    # ----------------------------------------------------------------- the loop's view
    def evaluated(self) -> set[str]:
        """The keys of the architectures told a loss, or waiting to be (``untold``)."""
        return {*self.seen, *self.untold}

    def known(self, key: str) -> bool:
        """Whether ``key`` was evaluated, waits to be told, or is running (a twin's)."""
        return key in self.seen or key in self.twins or key in self.untold

    def running(self, key: str, twins: list[Any] | None = None) -> None:
        """``key`` starts (or goes on) running; ``twins``: repeated proposals of it that wait
        for its loss (a resume's, from the log)."""
        self.twins.setdefault(key, []).extend(twins or [])

    def forget(self, key: str) -> None:
        """``key``'s told loss is dropped: a failure run again is told again."""
        self.seen.pop(key, None)
        self.failed.pop(key, None)

    def stopped(self, result: TrialResult, key: str, candidate: Any) -> None:
        """A trial of ``key`` stopped: ``candidate`` and its twins are told the result's
        loss (None: told before, at its first stop), and ``key`` no longer runs."""
        if candidate is not None:  # told once: when the trial first stops
            self.tell(result, key, [candidate, *self.twins.get(key, [])])
        self.twins.pop(key, None)

    # ----------------------------------------------------------------- results
    def loss(self, result: TrialResult, seen: list[Any] | None = None) -> Any:
        """What nevergrad is told (``told_loss``): worse than anything seen (``seen``:
        every loss told) for a failure (with nothing seen: ``inf`` for this package's
        strategies, else ``NO_SCALE``)."""
        seen = list(self.seen.values()) if seen is None else seen
        return told_loss(result, self.goal.objectives, self.goal.mode, seen,
                         counted=self.counted,
                         unseen=math.inf if isinstance(self.optimizer, NASOptimizer) else NO_SCALE)

    def tell(self, result: TrialResult, key: str, candidates: list[Any]) -> None:
        """Tell ``candidates`` the result's loss; one that ``waits_for_a_result`` waits in
        ``untold``, told as worse than the first result with it (a rejection: its violation)."""
        if waits_for_a_result(result, self.optimizer, self.told_any):
            self.untold[key] = (result, candidates)
            return
        for k, (told, waiting) in [(key, (result, candidates)), *self.untold.items()]:
            self.seen[k] = self.loss(told)
            self._failed(told, k)
            self.log.tell(waiting, self.seen[k], violation=self.violated.get(k))  # (rejected)
        self.told_any, self.untold = True, {}

    def _failed(self, result: TrialResult, key: str) -> None:
        """``key`` was told ``result``: a FAILED one is ``failed`` (its repeats are told
        anew), any other result (a re-run that completed) is not."""
        if result.status is TrialStatus.FAILED:
            self.failed[key] = result
        else:
            self.failed.pop(key, None)

    def _told_again(self, key: str) -> Any:
        """The loss a repeat of the failed ``key`` is told: worse than every loss told so
        far, its own earlier ones left out (``told_loss``, the rule of its first telling)."""
        return self.loss(self.failed[key], [v for k, v in self.seen.items() if k != key])

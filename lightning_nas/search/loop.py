"""The search loop: keep ``num_workers`` trials running, store and tell their results.

``SearchLoop`` is the state of one invocation of a search: the optimizer (replayed from the
store), the scheduler rule, the trials in flight and the paused ones. It gets the settings
and a ``TrialTemplate`` (each trial's spec); ``Search.run`` makes one and calls ``run``.
What the optimizer proposes and is told (repeats, twins, rejections, the losses told, the
replay at a resume) is its ``Proposals`` (``search/proposals.py``); what it does with a
finished trial's result (store, tell, keep files, say its line) is ``TrialResults``
(``search/loop_results.py``).

The loop, in short::

    while trials run or more may start:
        fill free workers: promote a paused trial (scheduler) or ask a new architecture
        wait for finished trials: store, tell nevergrad (once per trial), update the rule
"""

from __future__ import annotations

import shlex
import signal
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from lightning.pytorch.utilities.exceptions import SIGTERMException

from lightning_nas.arch import arch_key, format_arch
from lightning_nas.errors import ConfigError, NASError, SearchError
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.asktell import AskTell
from lightning_nas.search.budget_left import budget_used, over_budget
from lightning_nas.search.checkpoints import FrontPoints, checkpoint_complete
from lightning_nas.search.costs import Counts, cost_uses
from lightning_nas.search.executor import TrialExecutor
from lightning_nas.search.failures import FailureWatch
from lightning_nas.search.fit_segments import drop_merge_leftovers
from lightning_nas.search.lifetime import sigterm_received, stops_deferred
from lightning_nas.search.loop_results import TOLD, TrialResults
from lightning_nas.search.progress import Progress
from lightning_nas.search.proposals import Proposals, gave_up
from lightning_nas.search.rule_epochs import paused_at, record_curve
from lightning_nas.search.rule_traits import promoted_of
from lightning_nas.search.schedulers import Rule
from lightning_nas.search.settings import SearchSettings
from lightning_nas.search.template import TrialTemplate
from lightning_nas.search.trial_hold import check_not_running, check_trial_folder
from lightning_nas.search.warm_start import warm_start
from lightning_nas.search.warnings_once import warnings_once
from lightning_nas.space import SearchSpace
from lightning_nas.split_record import recorded_uneven
from lightning_nas.store import OBJECTIVES_UP_FRONT, RunStore

__all__ = ["SearchLoop"]

#: statuses of trials done: the progress count (with the promoted trials running again)
_STOPPED = (TrialStatus.COMPLETED, TrialStatus.PRUNED, TrialStatus.PAUSED)


class SearchLoop(TrialResults):
    """One invocation of a search over an open store.

    Args:
        settings: the search's settings.
        space: the search space (proposals are validated against it).
        template: makes the spec of each trial and counts candidates' costs.
        store: the run store (the loop is its only writer).
        executor: where trials run.
        optimizer: a fresh nevergrad optimizer; finished trials are replayed into it. With
            several objectives it is told their number first (``optimizer.num_objectives``),
            where the store says its run began so (``OBJECTIVES_UP_FRONT``).
        rule: the scheduler rule, or None.
        on_trial_end: called with each finished trial's result, after it is stored.
            Once per trial: a resume does not call it for trials stored before. An error it
            raises stops the search once the other results of the same wait are stored (and
            handed to it), noted with its name.
        python: the search was built in Python (``Search(...)`` without a config): what
            it says to do after an interrupt is in Python's words.
    """

    def __init__(self, settings: SearchSettings, space: SearchSpace, template: TrialTemplate,
                 store: RunStore, executor: TrialExecutor, optimizer: Any, rule: Rule | None,
                 on_trial_end: Callable[[TrialResult], None] | None = None,
                 python: bool = False) -> None:
        self.python = python
        self.settings, self.goal, self.space = settings, settings.goal, space
        self.template, self.store, self.executor = template, store, executor
        self.optimizer, self.rule, self.on_trial_end = optimizer, rule, on_trial_end
        objectives = self.goal.objectives
        if objectives is not None and objectives.multi and store.get_meta(OBJECTIVES_UP_FRONT):
            # before its first ask, warm start and replay: ``PymooNSGA2`` spent its first ask
            # on learning the number (trial 1 untold), ``NGOpt`` asked its single-objective
            # choice until its first tell, ``CMA`` kept one made for a single objective; a
            # run an older version began learns it at its first tell still (its replay)
            optimizer.num_objectives = len(objectives.names)
        self.constraints = settings.limits.build()
        self.costs = Counts(template.costs if template.cost_names else None)
        self.uses = cost_uses(self.constraints, self.goal.objectives)  # what they are for
        self.running: dict[int, tuple[dict[str, Any], Any]] = {}  # id -> (arch, candidate)
        self.paused: dict[int, TrialResult] = {}
        #: the trials' notes this search said on its console: an uneven split an earlier
        #: run of it recorded (and said) too, once per search (was: said again by a resume)
        self.noted: set[str] = {note["text"] for note in recorded_uneven(store)}
        #: the Pareto front whose trials keep their checkpoints, kept up to date
        self.front = (FrontPoints(store, objectives) if objectives is not None
                      and objectives.multi else None)
        told_any = any(t.status in TOLD or (t.status is TrialStatus.RUNNING and t.curve)
                       for t in store.trials())
        self.asking = True
        #: why it stopped asking, where not the budget: said in the error of a search
        #: with no completed trial (``none_completed``)
        self.ended: str | None = None
        self.start = time.monotonic()
        self.log = AskTell(optimizer, space, store, settings.goal.optimizer,
                           seeded=settings.goal.seed is not None)
        #: the proposals, and what the optimizer was told of them
        self.proposals = Proposals(self.log, optimizer, space, store, self.goal, self.costs,
                                   self.constraints, not template.objective, told_any, self.say)
        #: the stop rules; the failed trials whose error stopped the last invocation
        self.failures = FailureWatch(store, self.goal.max_failures, settings.run_dir)
        interrupted = self.failures.interrupted(  # first: one it fails is replayed as such
            self.executor.isolates_trials, self._drop_died)
        #: trials running again that a scheduler had paused (promoted), to the epochs they
        #: had then: counted done at their pause, their ends count no new trial
        self.again: dict[int, int] = {}
        self.progress = Progress(self.goal.budget, settings.verbose and settings.progress,
                                 initial=sum(map(store.count, _STOPPED)) + sum(  # a resume's
                                     rule is not None and bool(t.curve) for t in interrupted))
        #: interrupted trials that continue from their ``last.ckpt``: promoted ones, and
        #: those in their first fit (was: trained again from epoch 0)
        self.promoted = {t.trial_id for t in interrupted if self._continues(t)}
        self.interrupted = sorted(interrupted + self.failures.reopened, key=lambda t: t.trial_id)
        check_not_running(interrupted, template.trial_dir)  # none still out in a user's pool
        self.retrain = warm_start(settings, space, store, optimizer,  # None: counts none
                                  template.costs if template.cost_names else None, self.say,
                                  self.worded)  # (an objective= search's params is returned)
        self.retrain_from = len(self.retrain)  # distinct earlier ones within the limits
        self.retrain_left = settings.transfer.retrain_top_k  # of them, trained again first
        self._replay()
        #: budget used (RUNNING trials and reopened failures count: they are re-run)
        self.used = budget_used(store, self.failures.waiting)
        self.completed = store.count(TrialStatus.COMPLETED)
        self.resuming = len(store) > 0

    # ----------------------------------------------------------------- resume
    def _replay(self) -> None:
        """Reload paused trials (and the scheduler rule's curves); replay the optimizer's
        asks and tells on the fresh optimizer (``Proposals.replay``)."""
        trials = self.store.trials()
        for old in trials:
            if old.status is TrialStatus.PAUSED:
                self.paused[old.trial_id] = old
            if self.rule is not None and old.curve and old.status is not TrialStatus.FAILED \
                    and (old.status is not TrialStatus.RUNNING or old.trial_id in self.promoted):
                # at the epochs it validated (an older version's store: one an epoch from
                # 1); a FAILED one: none, as when live
                record_curve(self.rule, old.trial_id, old.curve, old.curve_epochs)
        self.proposals.replay(trials, self.failures.waiting)

    # ----------------------------------------------------------------- the loop
    def run(self) -> None:
        """Run until the budget is used, time is up, or the space is exhausted; a warning
        Python shows once per place is shown once in this process (``warnings_once``: was
        once per trial)."""
        with warnings_once():
            self._run()

    def _run(self) -> None:
        self.failures.check_count()  # a resume (here: its caller exports the best so far)
        if self.resuming:
            pruned = self.store.count(TrialStatus.PRUNED)  # a scheduler's budget counts them
            self.say(f"Resuming {self.settings.run_dir}: {self.completed} completed, "
                     + (f"{pruned} pruned, " if pruned else "")
                     + f"{self.failures.failed()} failed, {len(self.interrupted)} to re-run"
                     # (was: "to re-run" alone, also of one that goes on from its last.ckpt)
                     + (f" ({len(self.promoted)} from its last ended epoch)" if self.promoted
                        else "")
                     # only a scheduler pauses trials (was: "0 paused" without one, a
                     # sweep's too)
                     + (f", {len(self.paused)} paused" if self.rule is not None or self.paused
                        else ""))
            if over := over_budget(self.used, self.goal.budget):  # (was: unsaid)
                self.say(over)
            for trial in self.failures.died_in:  # (was: only counted among the failed)
                self.say(f"Trial {trial.trial_id} is FAILED, not re-run: {trial.error}")
            if self.failures.reopened:
                self.say(self.failures.describe())
            self._tidy_checkpoints()
        # a stop (the optimizer's error, failures: ``FailureWatch.check``, a constraint that
        # raised) starts no more trials; those out finish and are stored (each of a wait's
        # results), then it raises
        stopped: SearchError | ConfigError | None = None
        try:
            while True:
                try:
                    while stopped is None and self.hook_error is None \
                            and len(self.running) < self.executor.num_workers \
                            and self._start_one():
                        pass
                except (SearchError, ConfigError) as err:  # (was: a constraint's killed them)
                    stopped = err
                self._raise_hook_error()  # the user's on_trial_end raised: the search stops
                if not self.running:
                    break
                for result in self.executor.wait():
                    try:
                        self._record(result, last=stopped is None)
                    except SearchError as err:
                        stopped = stopped or err
                self._raise_hook_error()  # each result of the wait stored first
                if sigterm_received():  # a fit that took it after its last check ended
                    raise SystemExit(128 + signal.SIGTERM)  # as usual (was: the search went on)
        except (KeyboardInterrupt, SystemExit) as err:  # Ctrl-C (run_trial's), or SIGTERM
            for trial_id in self.running:  # a user's interrupt is not a crash of the trial
                self.store.uncount_attempt(trial_id)
            self.progress.close()
            completed = self.store.count(TrialStatus.COMPLETED)  # one stored as it came too
            run_dir = str(self.settings.run_dir)
            if self.python:  # (was: a command's words, to a notebook too)
                again = ("call .run() again (this Search, or one of its settings on this "
                         "run_dir)")
                export = f"lightning_nas.export_best({run_dir!r})"
            else:
                again, export = "run the same command again", \
                    f"`lightning-nas export {shlex.quote(run_dir)}`"
            # the export once a trial completed (was: only the resume said)
            export = f", or {export} for the best so far" if completed else ""
            pruned, paused = (self.store.count(s) for s in (TrialStatus.PRUNED,
                                                            TrialStatus.PAUSED))
            self.say(f"Interrupted: {completed} completed, "  # as the resume line counts
                     + (f"{pruned} pruned, " if pruned else "")  # (was: the paused left out)
                     + (f"{paused} paused, " if paused or self.rule is not None
                        and self.rule.pauses else "")
                     + f"{len(self.running)} running ({self._resumed_how()}); {again} to "
                     f"resume{export}.")
            if isinstance(err, SIGTERMException) or getattr(err, "code", 0) == signal.SIGTERM \
                    or sigterm_received():  # Lightning's (status 0), Ray's (1) SIGTERM exit
                raise SystemExit(143) from err
            raise
        except Exception:  # an error of the search (a file where a trial's folder goes):
            try:  # the process lives, so its trials' starts are no deaths (was: counted,
                for trial_id in self.running:  # and a third run stored the trial FAILED,
                    self.store.uncount_attempt(trial_id)  # "the search process died 2 times")
            except (sqlite3.Error, NASError):  # a store that refuses writes: its error is
                pass  # the one said
            raise
        # trials still paused stay PAUSED (last.ckpt kept): a resume may promote them
        self.progress.close()
        if stopped is not None:  # (a max_failures stop: the failures stored by now)
            raise self.failures.final(stopped)

    def _time_up(self) -> bool:
        """Whether ``time_limit`` has passed: no trial starts, new or promoted."""
        limit = self.goal.time_limit
        if limit is None or time.monotonic() - self.start < limit:
            return False
        if self.asking:
            self.say(f"Time limit of {limit:g}s reached.")
            self.ended = f"the time limit of {limit:g}s was reached"
        self.asking = False
        return True

    def _may_ask(self) -> bool:
        s = self.goal
        if s.budget is not None and self.used >= s.budget:
            return False
        self._time_up()
        # failures before any result wait in ``untold``; a promoted trial is seen and running
        done = self.proposals.evaluated() | {arch_key(a) for a, _ in self.running.values()}
        if self.asking and len(done) >= self.space.size():
            self.say(f"All {int(self.space.size())} architectures of the space are evaluated.")
            self.ended = f"all {int(self.space.size())} architectures of the space are evaluated"
            self.asking = False
        return self.asking

    def _start_one(self) -> bool:
        """Start one trial: an interrupted one, a promotion, or a new proposal."""
        while self.interrupted and self.failures.dropped(self.interrupted[0].trial_id):
            old = self.interrupted.pop(0)  # not run again: a failure, told as the replay would
            self.used -= 1
            key, pending = arch_key(old.arch), self.log.pending_trial(old.trial_id)
            if pending is not None:
                self.proposals.tell(old, key, [pending, *self.log.twins_of(key)])
        if self.interrupted:
            old = self.interrupted.pop(0)
            last, known = None, None
            if old.trial_id in self.promoted and self.rule is not None and old.curve:
                self._continue(old, attempt=True)  # it goes on as its promotion did
                return True
            if old.trial_id in self.promoted:  # on from its last epoch's end: no scheduler,
                # or before its first pause (was: from epoch 0); none of its epochs stored:
                # a pause or stop its last.ckpt holds is kept (PruningCallback's epochs_known)
                last, known = str(self.template.trial_dir(old.trial_id) / "last.ckpt"), 0
            reopened = old.trial_id in self.failures.waiting  # its error stopped the search
            with stops_deferred():  # (was: a stop before it was held counted a start of it)
                if reopened:
                    self.failures.restart(old.trial_id)
                    self.proposals.forget(arch_key(old.arch))  # told its failure: told again
                else:
                    self.store.restart_trial(old.trial_id)
                candidate = self.log.pending_trial(old.trial_id)
                if candidate is None and (reopened or not (self.rule is not None and old.curve)):
                    candidate = self.log.given(old.arch, old.trial_id)  # else told at its pause
                elif candidate is None:  # promoted, its last.ckpt unusable: from epoch 0
                    self.again[old.trial_id] = paused_at(old)
                self._hold(old.trial_id, old.arch, candidate,  # its twins (before a told
                           self.log.twins_of(arch_key(old.arch)))  # failure of its count's build)
            self._submit(old.trial_id, old.arch, candidate, ckpt_path=last, known_epochs=known)
            return True
        promoted = None
        if self.rule is not None and self.paused and not self._time_up():
            promoted = promoted_of(self.rule, {k: t.epochs for k, t in self.paused.items()})
        if promoted is not None:
            self._continue(self.paused.pop(promoted))
            return True
        if not self._may_ask():
            return False
        while self.retrain and self.retrain_left > 0:  # warm start: earlier best, again
            again = self.retrain.pop(0)
            arch = self.space.validate(again.arch)
            key = arch_key(arch)
            if self.proposals.known(key):  # trained already
                self.retrain_left -= 1
                continue
            amount, reason = self.proposals.violation(arch, key)
            if amount > 0:  # never trained, as a proposal would not be
                self.say(f"[warm start] not trained again: {reason}  {format_arch(arch)}")
                self.retrain_from -= 1  # (said above)
                continue
            self.retrain_left -= 1
            with stops_deferred(), self.store.transaction():  # a kill leaves the trial with
                trial_id = self.store.start_trial(arch)  # its event, or neither
                retrained = self.store.get_meta("retrained") or {}  # show says it (was:
                retrained[str(trial_id)] = [again.source, again.source_trial]  # the priors
                self.store.set_meta("retrained", retrained)  # table alone had it)
                candidate = self.log.given(arch, trial_id)
                self._hold(trial_id, arch, candidate)
            self._submit(trial_id, arch, candidate)
            self.used += 1
            return True
        if self.retrain_left > 0:  # was: cut short without a word
            said = (f"[warm start] retrain_top_k={self.settings.transfer.retrain_top_k}, and "
                    f"the earlier runs gave {self.retrain_from} distinct "
                    f"architectures within the limits: no more to train again")
            if self.store.get_meta("retrain_said") != said:  # once per run, unless it
                self.say(said)  # changed (was: again by each resume)
                self.store.set_meta("retrain_said", said)
            self.retrain_left = 0
        proposal = self.proposals.propose()
        if proposal is None:  # only repeats or rejected: wait for running trials, or stop
            if not self.running:
                self.say(said := gave_up(self.proposals.rejected))
                self.ended = said[0].lower() + said[1:].removesuffix("; stopping.")
                self.asking = False
            return False
        arch, candidate = proposal
        with stops_deferred(), self.store.transaction():
            trial_id = self.store.start_trial(arch)
            self.log.started(candidate, trial_id)
            self._hold(trial_id, arch, candidate)
        self._submit(trial_id, arch, candidate)
        self.used += 1
        return True

    def _continue(self, trial: TrialResult, attempt: bool = False) -> None:
        """Run a paused (promoted) trial on from its ``last.ckpt`` (``attempt``: a crash)."""
        with stops_deferred():
            self.store.resume_trial(trial.trial_id, attempt=attempt)
            self._hold(trial.trial_id, trial.arch, None)
        self.again[trial.trial_id] = paused_at(trial)
        # the epochs it trained (was: its curve's length, which every k epochs' validation
        # makes fewer: its last.ckpt's pause, read as a later one, stopped it again at once)
        self._submit(trial.trial_id, trial.arch, None, known_epochs=paused_at(trial),
                     ckpt_path=str(self.template.trial_dir(trial.trial_id) / "last.ckpt"),
                     trained=trial.fit_time or 0.0)

    def _continues(self, trial: TrialResult) -> bool:
        """Whether a trial that was running when the process died continues from its latest
        ``last.ckpt``: any, a promoted one (RUNNING with the curve of its epochs before its
        pause) or one in its first fit, with a scheduler or without (was: a first fit
        trained again from epoch 0); not when that file is missing (no epoch ended;
        ``enable_checkpointing: false``) or was cut off mid-write (it trains from epoch 0)."""
        last = self.template.trial_dir(trial.trial_id) / "last.ckpt"
        if not last.is_file():
            return False
        if not checkpoint_complete(last):
            self.say(f"Trial {trial.trial_id}'s {last.name} was cut off mid-write; the trial "
                     f"trains again from its first epoch.")
            return False
        return True

    def _resumed_how(self) -> str:
        """How a resume takes the running trials on: from their latest ``last.ckpt`` where
        an epoch ended (was: "re-run on resume" of each)."""
        lasts = [self.template.trial_dir(trial_id) / "last.ckpt" for trial_id in self.running]
        going_on = sum(last.is_file() and checkpoint_complete(last) for last in lasts)
        if not going_on:
            return "re-run on resume"
        if going_on == len(self.running) == 1:
            return "on resume it goes on from its last ended epoch"
        return f"re-run on resume, {going_on} from its last ended epoch"

    def _drop_died(self, trial: TrialResult) -> None:
        """Remove the files of a trial stored FAILED after kills: its checkpoints, what the
        kills left in its folder, and the hidden versions of a merge of its logs one cut
        off, its loggers' too (``drop_merge_leftovers``: was kept for good)."""
        self._drop(trial, False)
        drop_merge_leftovers(self.template.spec(trial.trial_id, trial.arch, dry=True))

    def _hold(self, trial_id: int, arch: dict[str, Any], candidate: Any,  # as running
              twins: list[Any] | None = None) -> None:  # (twins: Proposals.running's)
        self.proposals.running(arch_key(arch), twins)
        self.running[trial_id] = (arch, candidate)

    def _submit(self, trial_id: int, arch: dict[str, Any], candidate: Any,
                ckpt_path: str | None = None, known_epochs: int | None = None,
                trained: float = 0.0) -> None:
        if self.template.objective is None:  # (an objective's trials have no folder)
            check_trial_folder(self.template.trial_dir(trial_id), trial_id)
        key = arch_key(arch)
        counted = self.costs(arch, key)  # (counted here after a resume)
        if key in self.costs.unbuilt:  # its model raised when built to count: failed so
            return self._record(self.costs.failed(trial_id, arch, key))
        self.store.note_fit(trial_id, self.executor.cpu_threads, resumed=ckpt_path is not None)
        if self.executor.isolates_trials:  # a kill of the search is not its doing
            self.store.started_elsewhere(trial_id)
        rule = None if self.rule is None else self.rule.snapshot()
        spec = self.template.spec(trial_id, arch, rule=rule, ckpt_path=ckpt_path,
                                  known_epochs=known_epochs)
        spec.trained = trained  # its stored fits' seconds: its checkpoints add the fit's
        if self.template.cost_names:  # compared once the trial's Trainer set the model up
            spec.counted_params, spec.counted_costs = counted["params"], tuple(counted)
            spec.count_uses = self.uses
        self.executor.submit(spec)

    # ----------------------------------------------------------------- output
    def worded(self, text: str) -> str:
        """``text``, a line or warning of the search, in its user's words: a search's own
        (a Hydra sweep's loop words it as a sweep's, ``hydra.sweeper.<key>``)."""
        return text

    def say(self, text: str) -> None:
        """Print when the search is verbose (above the progress bar, if any), ``worded``."""
        if self.settings.verbose:
            self.progress.line(self.worded(text))

"""The callback that stops a run a scheduler rule judges weak.

``PruningCallback`` stops a run that a scheduler rule (``lightning_nas.search.schedulers``)
judges weak; it works in any Trainer. A search adds one to each trial's Trainer when it has
a scheduler. It is also importable from ``lightning_nas`` and, as before, from
``lightning_nas.search.callbacks``.

Example:
    >>> from lightning_nas.search.schedulers import MedianRule
    >>> callback = PruningCallback(MedianRule(), monitor="val_acc", trial_key="run-1")
    >>> callback.state_key
    "PruningCallback{'monitor': 'val_acc', 'key': 'run-1'}"
"""

from __future__ import annotations

import inspect
from collections.abc import Hashable, Mapping
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.trainer.states import TrainerFn

from lightning_nas.errors import ConfigError, MonitorError, check_mode
from lightning_nas.search.monitor_errors import EVERY_EPOCH, logged_metrics
from lightning_nas.search.rule_checks import (
    check_epoch_interval,
    check_rule_mode,
    check_validates_each_epoch,
    split_callbacks,
)
from lightning_nas.search.rule_epochs import judged_epochs
from lightning_nas.search.rule_traits import rule_name
from lightning_nas.search.runner_checks import spawns_ranks
from lightning_nas.search.scheduler_settings import check_judges_before
from lightning_nas.search.schedulers import Decision, Rule
from lightning_nas.search.validation_logs import ValidationLogs

__all__ = ["PruningCallback", "ran_to_its_end"]

#: the rule object a search's ``search.scheduler`` name stands for
_RULES = {"asha": "ASHARule(min_epochs=..., max_epochs=..., eta=...)",
          "hyperband": "HyperbandRule(min_epochs=..., max_epochs=..., eta=...)",
          "median": "MedianRule(min_epochs=..., min_trials=...)"}


class PruningCallback(pl.Callback):
    """Asks a rule after each validation whether the run goes on (the epochs trained then:
    2 and 4 with ``check_val_every_n_epoch=2``); stops it with
    ``trainer.should_stop = True`` (never by raising). A validation that did not log the
    monitor at an epoch the rule judges (``rule_epochs.judged_epochs``: between ASHA's
    rungs it may leave it out) raises ``MonitorError`` (naming the logged keys when none
    ever logged it), and
    ``setup`` refuses, with a ``ConfigError``, a rule of the other mode, a Trainer the rule
    cannot judge (``rule_checks.check_validates_each_epoch``), or, in a plain fit, a rule
    that would first judge at the Trainer's ``max_epochs`` or later
    (``scheduler_settings.check_judges_before``, as a search refuses it). Under DDP, rank 0
    decides and the decision is broadcast, so every rank stops at the same epoch.

    Args:
        rule: a ``Rule`` (``MedianRule``, ``ASHARule``, ...), shared by the runs it judges.
        monitor: the logged metric to judge.
        trial_key: this run's name in the rule (runs are compared by key): one per run. A
            plain fit from epoch 0 whose rule holds values of it already is refused
            (``_check_key``), read from the rule's ``values`` mapping (``{epoch: {key:
            value}}``, as the built-in rules keep theirs); a rule of your own that keeps
            its values otherwise, or none, is not checked (``Rule`` has no public way to
            ask which keys it holds): give each run its own key, or ``forget`` it first.
        epochs_known: the epochs of this run its search has stored; a fit resumed from a
            checkpoint written after the callback stopped the run later than that stops
            again before training (``on_train_start``).
        mode: which values of ``monitor`` are better, ``"max"`` or ``"min"``: it must be the
            rule's. Left out, the monitor's name says it (``val_loss``: min, ``val_acc``: max,
            ``objectives.mode_for``), and a name that says neither is not checked.
        in_search: whether a search made it for a trial: its refusals then say to search
            without a scheduler, else to leave the callback out.

    Example:
        >>> from lightning_nas.search.schedulers import MedianRule
        >>> rule = MedianRule(min_epochs=1, min_trials=1)
        >>> callback = PruningCallback(rule, monitor="val_acc", trial_key="run-1")
        >>> callback.decision is None
        True
    """

    def __init__(self, rule: Rule, monitor: str = "val_acc", trial_key: Hashable = 0,
                 epochs_known: int | None = None, mode: str | None = None,
                 in_search: bool = False) -> None:
        if mode is not None:
            check_mode(mode)
        _check_rule(rule)
        if not isinstance(monitor, str) or not monitor.strip():
            raise ConfigError(f"PruningCallback's monitor must name a logged metric, such as "
                              f"'val_acc', got {monitor!r}")
        if not isinstance(trial_key, Hashable):  # the rule keeps values by it
            raise ConfigError(f"PruningCallback's trial_key names the run in the rule: give a "
                              f"number or a string, got {trial_key!r}")
        self.rule, self.monitor, self.trial_key, self.mode = rule, monitor, trial_key, mode
        #: epochs of this run its search has stored (a promotion resumes after them)
        self.epochs_known, self.in_search = epochs_known, in_search
        self.decision: Decision | None = None
        self.stopped_epoch: int | None = None
        self._restored: str | None = None  # the decision a checkpoint holds
        self._validation = ValidationLogs()
        self._validated: int | None = None  # the epoch (from 0) the last validation ran in

    @property
    def state_key(self) -> str:
        return f"PruningCallback{{'monitor': '{self.monitor}', 'key': '{self.trial_key}'}}"

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Refuse a rule whose ``mode`` is not the monitor's (it would stop the best runs), a
        Trainer that does not validate at each epoch the rule judges at (once per epoch, or
        every ``k`` epochs where ``k`` divides each of ASHA's rungs; the rule judges by epoch),
        that ignores a stop until its ``min_epochs`` / ``min_steps``, or that has an
        ``EarlyStopping`` callback, the Trainer's or the module's ``configure_callbacks()``
        (a trial it ends would count as complete), or, in a plain fit (a search checked
        its rule against its trials' epochs), a rule that judges no epoch before the
        Trainer's ``max_epochs`` (was: the fit trained to its end, stopped by nothing), or
        a strategy under which its rule cannot compare it with the other runs
        (``_check_spawned``). Each fit starts with no decision: one callback given to the
        fit of a paused run promoted (a Trainer's second ``fit``, or a new Trainer's from the
        checkpoint) judges it at its next rungs (was: the last fit's ``PAUSE`` was kept, and
        the promoted fit was judged nowhere, its values never reaching the rule)."""
        if stage == "fit":  # (a checkpoint's state is loaded after setup)
            self.decision = self.stopped_epoch = self._restored = self._validated = None
            check_rule_mode(self.rule, self.monitor, self.mode)
            if not self.in_search:
                _check_spawned(trainer)
                name = rule_name(self.rule)
                check_judges_before(self.rule, trainer.max_epochs, name,
                                    "leave the PruningCallback out",
                                    trainer.check_val_every_n_epoch)
            own, module = split_callbacks(trainer.callbacks, pl_module)
            check_validates_each_epoch(
                {"check_val_every_n_epoch": trainer.check_val_every_n_epoch,
                 "val_check_interval": trainer.val_check_interval,
                 "min_epochs": trainer.fit_loop.min_epochs,
                 "min_steps": trainer.fit_loop.min_steps, "callbacks": own}, self.rule, module,
                alone=not self.in_search)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Refuse, before the epoch trains, an integer ``val_check_interval`` across epochs
        (``check_val_every_n_epoch=None``) that is not the epoch's training batches: the
        validations would not come at the epochs' ends the rule judges
        (``rule_checks.check_epoch_interval``; a ``BatchSettingError``)."""
        check_epoch_interval(trainer.check_val_every_n_epoch, trainer.val_check_interval,
                             trainer.num_training_batches, self.rule, alone=not self.in_search)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """A fit resumed from a checkpoint written after this callback stopped the run
        again, later than the epochs its search stored (the process died before the search
        heard of it), keeps that decision: it stops before training, as the run did. In a
        plain fit that does not resume from a checkpoint, a rule that holds values of
        ``trial_key`` already is refused (``_check_key``)."""
        if not self.in_search:
            _check_key(self.rule, self.trial_key, trainer)
        stopped, known = self.stopped_epoch, self.epochs_known
        if (self._restored is not None and stopped is not None and known is not None
                and known < stopped == trainer.current_epoch):
            self.decision = Decision(self._restored)
            trainer.should_stop = True

    def on_validation_epoch_start(self, trainer: pl.Trainer,
                                  pl_module: pl.LightningModule) -> None:
        self._validation.start(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Judge the run by the monitored value after the epochs trained; not in the sanity
        check, nor in a ``trainer.validate()`` call, which trains no epoch (was: judged
        as the next epoch, its value recorded at an epoch the run never trained)."""
        if trainer.state.fn != TrainerFn.FITTING or trainer.sanity_checking:
            return
        self._validated = trainer.current_epoch
        if self.decision is not None:
            return
        epochs = trainer.current_epoch + 1  # epochs completed when this validation ran
        judged = judged_epochs(self.rule, self.trial_key, epochs)
        if judged is None and self.monitor not in self._validation.logged(trainer):
            return  # an epoch the rule does not judge at (between ASHA's rungs): its curve
            # holds null there, as without a scheduler (was: refused, as at any epoch)
        value = logged_metrics(trainer, self.monitor, EVERY_EPOCH)[self.monitor]  # every rank
        if self.monitor not in self._validation.logged(trainer):
            raise MonitorError(
                f"the rule judges each run by {self.monitor!r} {judged}, but the "
                f"validation of epoch {trainer.current_epoch} did not log it (what an earlier "
                f"validation logged is still in callback_metrics); log it in every "
                f"validation it judges, or search without a scheduler")
        decision = Decision.CONTINUE
        if trainer.is_global_zero:
            decision = _decision(self.rule, self.trial_key, epochs,
                                 self.rule.decide(self.trial_key, epochs, value))
        decision = Decision(trainer.strategy.broadcast(decision.value, src=0))
        if decision is not Decision.CONTINUE:
            self.decision, self.stopped_epoch = decision, epochs
            trainer.should_stop = True

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """In a plain fit, an epoch the rule judges at that ended without the validation due
        in it (no val_dataloader, no ``validation_step``, ``limit_val_batches=0``) raises
        ``MonitorError``, as Lightning's ``EarlyStopping`` raises at such an epoch's end
        (was: the rule judged nothing, and the run trained to its end). A search's trials
        are FAILED for it at their end (``fit_trial``)."""
        if self.in_search or self.decision is not None or trainer.should_stop:
            return
        epochs, every = trainer.current_epoch + 1, trainer.check_val_every_n_epoch
        judged = judged_epochs(self.rule, self.trial_key, epochs)
        if judged is None or (every is not None and epochs % every) \
                or self._validated == trainer.current_epoch:
            return
        raise MonitorError(
            f"the rule judges each run by {self.monitor!r} {judged}, but epoch "
            f"{trainer.current_epoch} ended without a validation (no val_dataloader, no "
            f"validation_step, or limit_val_batches=0), so the rule would judge the run by "
            f"nothing; give the fit validation data, or leave the PruningCallback out")

    def early_stop_error(self, trainer: pl.Trainer) -> str | None:
        """The error of a trial of a search that the model or another callback stopped
        before its end (``trainer.should_stop``), not this callback's rule: under a scheduler
        a complete trial trains to ``max_epochs``, so it is FAILED; None for one that ran to
        its end or that the rule stopped. ``fit_trial`` stores it, and ``TrialReporter``
        logs such a trial's ``hp_metric`` NaN, no score (was: its best, then FAILED).

        Example:
            >>> from lightning_nas.search.schedulers import MedianRule
            >>> trainer = pl.Trainer(max_epochs=2, logger=False)
            >>> PruningCallback(MedianRule()).early_stop_error(trainer).split(" by ")[0]
            'stopped after 0 of max_epochs 2 epochs'
        """
        if self.decision is not None or ran_to_its_end(trainer):
            return None
        return (f"stopped after {trainer.current_epoch} of max_epochs {trainer.max_epochs} "
                f"epochs by the model or a callback (trainer.should_stop), not by the "
                f"scheduler: under a scheduler a complete trial trains to max_epochs (the "
                f"scheduler stops weak trials itself)")

    def state_dict(self) -> dict[str, Any]:
        return {"stopped_epoch": self.stopped_epoch,
                "decision": None if self.decision is None else self.decision.value}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.stopped_epoch = state_dict.get("stopped_epoch")
        self._restored = state_dict.get("decision")


def ran_to_its_end(trainer: pl.Trainer) -> bool:
    """Whether ``trainer`` trained its ``max_steps`` or ``max_epochs``.

    Example:
        >>> ran_to_its_end(pl.Trainer(max_epochs=2, logger=False))
        False
    """
    steps, epochs = trainer.max_steps, trainer.max_epochs
    return ((steps is not None and 0 < steps <= trainer.global_step)
            or (epochs is not None and 0 < epochs <= trainer.current_epoch))


def _check_spawned(trainer: pl.Trainer) -> None:
    """Refuse, in a plain fit, a strategy that runs the fit in processes it starts
    (``ddp_spawn``, ``ddp_fork``): rank 0 would judge the run by a copy of the rule there,
    whose values never come back to the rule the other runs share (was: no run was ever
    compared, so none was stopped, and the callback's ``decision`` stayed None)."""
    if spawns_ranks(trainer.strategy):  # its start_method (runner_checks)
        raise ConfigError(
            f"PruningCallback's rule is an object of this process, but the Trainer's strategy "
            f"({type(trainer.strategy).__name__} as ddp_spawn, ddp_fork or ddp_notebook "
            f"make it) runs the fit in processes it starts: rank 0 would judge the run by a "
            f"copy of the rule, whose values never come back, so the rule would compare no two "
            f"runs (and the callback's decision here would stay None); use strategy='ddp' "
            f"(its rank 0 is this process), or leave the PruningCallback out")


def _check_key(rule: Rule, key: Hashable, trainer: pl.Trainer) -> None:
    """Refuse, in a plain fit that starts at epoch 0 (not resumed from a checkpoint,
    ``trainer.ckpt_path``, nor a Trainer's second fit, which goes on from its epochs), a
    ``rule`` that holds values of ``key`` already: an earlier run's, which this run's
    would replace, so the rule would compare no two runs (was: every run took the default
    ``trial_key`` 0, and none was stopped). Every rank raises where rank 0's rule holds them
    (the others' rules are asked nothing, and hold none)."""
    values = getattr(rule, "values", None)  # the built-in rules': {epoch: {key: value}}
    fresh = trainer.ckpt_path is None and trainer.current_epoch == 0  # (a second fit of
    # the same Trainer goes on from its epochs, as one from a checkpoint)
    held = fresh and isinstance(values, Mapping) and any(
        isinstance(at, Mapping) and key in at for at in values.values())
    if trainer.strategy.reduce_boolean_decision(held, all=False):
        raise ConfigError(
            f"PruningCallback's rule holds values of trial_key={key!r} already, an earlier "
            f"run's: a run's values would replace them, so the rule would compare no two "
            f"runs; give each run a trial_key of its own (PruningCallback(rule, monitor, "
            f"trial_key=run)), or call rule.forget({key!r}) first to run it again")


def _decision(rule: Rule, key: Hashable, epochs: int, said: object) -> Decision:
    """What ``rule.decide(key, epochs, value)`` returned, ``said``, as a ``Decision`` (its
    name, ``"STOP"``, is one: ``Decision`` is a str enum).

    Raises:
        ConfigError: for anything else (a rule of one's own whose ``decide`` returns None:
            was, ``AttributeError: 'NoneType' object has no attribute 'value'``, naming no
            rule), naming the rule, the call and the decisions there are.

    Example:
        >>> from lightning_nas.search.schedulers import MedianRule
        >>> _decision(MedianRule(), 1, 2, "PAUSE")
        <Decision.PAUSE: 'PAUSE'>
    """
    try:
        return Decision(said)
    except (ValueError, TypeError):
        raise ConfigError(
            f"rule {type(rule).__name__}'s decide({key!r}, {epochs}, value) returned "
            f"{said!r}, not a Decision: return Decision.CONTINUE, Decision.PAUSE or "
            f"Decision.STOP (lightning_nas.search.schedulers.Decision)") from None


def _check_rule(rule: object) -> None:
    """Refuse a ``rule`` that is no rule object (one with a ``decide`` method): a scheduler's
    name, a rule class, None (was: accepted, and the first epoch's end raised Python's
    ``AttributeError: 'str' object has no attribute 'decide'``, after training).

    Example:
        >>> _check_rule("median")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: PruningCallback's rule must be a rule object ...
    """
    if not inspect.isclass(rule) and callable(getattr(rule, "decide", None)):
        return
    if inspect.isclass(rule):
        got, build = f"the class {rule.__name__}", f"build one: {rule.__name__}(...)"
    elif isinstance(rule, str) and rule.strip().lower() in _RULES:
        got = f"{rule!r}, a search's search.scheduler name"
        build = f"build the rule it names: {_RULES[rule.strip().lower()]}"
    else:
        got, build = repr(rule), f"build one, e.g. {_RULES['median']}"
    raise ConfigError(f"PruningCallback's rule must be a rule object (ASHARule, HyperbandRule "
                      f"or MedianRule from lightning_nas.search.schedulers, or another Rule), "
                      f"got {got}; {build}")

"""A search's rule checked against the Trainer settings its trials run with: ``rule_for``
makes the rule a search's ``EarlyStopping`` settings name and checks it against its
Trainer; ``check_rule_trainer`` is that pair of checks (validation every epoch the rule
judges, ``rule_checks.check_validates_each_epoch``, then a validated epoch it judges before
a trial's last, ``scheduler_settings.check_judges_before``), which the checks of searched
Trainer values run for each value too (``space_values``).

Example:
    >>> from lightning_nas.search.schedulers import MedianRule
    >>> check_rule_trainer({"check_val_every_n_epoch": 2}, MedianRule(min_epochs=1), 4)
    >>> check_rule_trainer({"check_val_every_n_epoch": 4}, MedianRule(min_epochs=1), 4)
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: scheduler 'MedianRule' judges a trial at the epochs ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lightning_nas.errors import ConfigError
from lightning_nas.search.rule_checks import check_validates_each_epoch
from lightning_nas.search.rule_traits import rule_name
from lightning_nas.search.scheduler_settings import check_judges_before, rule_of
from lightning_nas.search.schedulers import Rule
from lightning_nas.search.setting_checks import in_words

if TYPE_CHECKING:
    from lightning_nas.search.setting_groups import EarlyStopping

__all__ = ["check_rule_trainer", "rule_for"]


def check_rule_trainer(trainer: Mapping[str, Any], scheduler: Any, epochs: int | None,
                       instead: str = "search without a scheduler", *,
                       rungs_too: bool = False) -> None:
    """Refuse ``trainer``, a trial's Trainer arguments, that ``scheduler`` (a name, or a
    rule) cannot judge trials under: validation other than every epoch it judges
    (``check_validates_each_epoch``), and, for a rule with ``epochs``, a trial's last epoch
    (None: not known, this check left out), no validated epoch it judges before its own
    ``max_epochs`` or that (``check_judges_before``, under the Trainer's
    ``check_val_every_n_epoch``).

    Args:
        trainer: the Trainer arguments (a searched value's among the others too).
        scheduler: the search's scheduler name, or its rule.
        epochs: a trial's last epoch (the search's ``max_epochs`` or the Trainer's).
        instead: the other way out, said by ``check_judges_before``.
        rungs_too: say ``instead`` in ``check_validates_each_epoch``'s message too (else
            its own).

    Example:
        >>> from lightning_nas.search.schedulers import ASHARule
        >>> check_rule_trainer({"check_val_every_n_epoch": 3}, ASHARule(1, 9, eta=3), 9)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: scheduler 'ASHARule' judges each trial at its rungs, ...

    Raises:
        ConfigError: as those checks do.
    """
    check_validates_each_epoch(trainer, scheduler, instead=instead if rungs_too else None)
    if isinstance(scheduler, Rule) and epochs is not None:
        check_judges_before(scheduler, getattr(scheduler, "max_epochs", None) or epochs,
                            rule_name(scheduler), instead,
                            every=trainer.get("check_val_every_n_epoch", 1))


def rule_for(stopping: EarlyStopping, mode: str, trainer: Mapping[str, Any]) -> Rule | None:
    """The rule a search's ``EarlyStopping`` settings name (``None``: no scheduler), its
    ``max_epochs`` the Trainer's where the settings give none, checked against the Trainer
    (``check_rule_trainer``).

    Args:
        stopping: the search's ``settings.early_stopping``.
        mode: the search's ``goal.mode``.
        trainer: the search's Trainer arguments that trials run with (``unsearched``: the
            config's value of a searched key is none; was: judged all the same).

    Example:
        >>> from lightning_nas.search.setting_groups import EarlyStopping
        >>> rule_for(EarlyStopping(), "max", {"max_epochs": 4}) is None
        True

    Raises:
        ConfigError: as ``make_rule`` and ``check_rule_trainer`` do, and for a rule whose
            trials have no epoch limit (``trainer.max_epochs: -1`` without a
            ``search.max_epochs``; was: accepted under ``median``, its first trial never
            ended).
    """
    epochs = stopping.max_epochs or trainer.get("max_epochs")
    rule = rule_of(stopping, mode, trainer)
    if rule is not None:  # the rule: its rungs say which check_val_every_n_epoch works,
        check_rule_trainer(trainer, rule, epochs)  # and whether one validates it judges
    if rule is not None and epochs == -1:  # (asha and hyperband say they need max_epochs)
        # the checks above refuse every other end of a fit: the trials the rule does not
        # stop, the first one at least (judged against no others), would train for ever
        name = rule_name(rule)
        # in the words the settings were given in, as make_rule's (was: a config's, always)
        endless = in_words("trainer.max_epochs=-1", 'trainer={"max_epochs": -1}')
        none = in_words("no search.max_epochs", "no max_epochs= given to the search")
        ours = in_words("search.max_epochs", "the search's max_epochs=")
        theirs = in_words("trainer.max_epochs", 'trainer={"max_epochs": ...}')
        raise ConfigError(
            f"scheduler {name!r} stops weak trials, but {endless} (Lightning's 'no limit') "
            f"and {none} end the others: with a scheduler no max_steps, max_time, "
            f"EarlyStopping or Timer with a duration may end a trial, so the first one "
            f"(judged against no others) "
            f"would train for ever; give {ours} (the epochs of a complete trial) or {theirs} "
            f"a number")
    return rule

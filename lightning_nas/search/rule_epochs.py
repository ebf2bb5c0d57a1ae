"""A scheduler rule and the epochs of a trial's values: ``record_curve`` records a trial's
curve into the rule at the epochs Lightning validated it (``record(key, curve, epochs)``),
and what a rule needs of a validation every ``k`` epochs
(``trainer.check_val_every_n_epoch: k``), the errors ``rule_checks.check_validates_each_epoch``
raises: each epoch the rule judges at validated (``rungs_missed``, ``rungs_unknown``: the
rungs a ``k`` misses and the values of ``k`` that work, or a rule whose rungs are not known)
and, in a search, a ``record`` that takes each value's epoch (``check_record_epochs``); the
epochs a paused trial had trained (``paused_at``); the epochs whose value a rule's decisions
need (``judged_epochs``: ASHA's rungs, median's epochs from ``min_epochs`` on).

Example:
    >>> from lightning_nas.search.schedulers import MedianRule
    >>> class Old(MedianRule):
    ...     def record(self, key, curve):
    ...         super().record(key, curve)
    >>> takes_epochs(Old()), takes_epochs(MedianRule())
    (False, True)
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Hashable, Sequence

from lightning_nas.errors import ConfigError
from lightning_nas.numeric import is_int
from lightning_nas.results import TrialResult
from lightning_nas.search.schedulers import ASHARule, MedianRule, Rule
from lightning_nas.search.setting_checks import in_words

__all__ = ["check_record_epochs", "judged_epochs", "paused_at", "record_curve", "rungs_missed",
           "rungs_unknown", "takes_epochs"]


def paused_at(trial: TrialResult) -> int:
    """The epochs a paused trial had trained (its line's ``promoted @N`` once promoted): its
    ``epochs``, else (an older version's store) its curve's length.

    Example:
        >>> from lightning_nas.results import TrialStatus
        >>> paused_at(TrialResult(trial_id=1, arch={}, status=TrialStatus.PAUSED,
        ...                       curve=[0.5, 0.6], epochs=4))
        4
    """
    return trial.epochs if trial.epochs is not None else len(trial.curve)


def judged_epochs(rule: Rule, key: Hashable, epochs: int) -> str | None:
    """What ``rule`` judges trial ``key`` by, in a message's words (``at its rungs, after
    epochs 1, 3``; ``after every epoch``), where its ``decide`` after ``epochs`` epochs
    needs the monitored value; None where it does not: an ``ASHARule``'s (or
    ``HyperbandRule``'s) ``decide`` between the rungs of ``rungs_of(key)``, a
    ``MedianRule``'s before its ``min_epochs``. A rule whose class overrides ``decide`` may
    judge after any epoch: always needed.

    Example:
        >>> rule = ASHARule(min_epochs=1, max_epochs=3, eta=3)
        >>> judged_epochs(rule, 1, 2) is None, judged_epochs(rule, 1, 3)
        (True, 'at its rungs, after epochs 1, 3')
    """
    decide = type(rule).decide
    if decide is ASHARule.decide and isinstance(rule, ASHARule):
        rungs = rule.rungs_of(key)
        return (f"at its rungs, after epochs {', '.join(map(str, rungs))}"
                if epochs in rungs else None)
    if decide is MedianRule.decide and isinstance(rule, MedianRule) \
            and epochs < rule.min_epochs:
        return None
    return "after every epoch"


def takes_epochs(rule: Rule) -> bool:
    """Whether ``rule.record`` can be called as ``record(key, curve, epochs)`` (its own
    override's signature read: an override written before ``epochs`` takes two arguments);
    True where no signature can be read.

    Example:
        >>> from lightning_nas.search.schedulers import ASHARule
        >>> takes_epochs(ASHARule(max_epochs=9))
        True
    """
    return _record_takes(rule, 1, [], [])


def _record_takes(rule: Rule, *args: object) -> bool:
    """Whether ``rule.record(*args)`` binds to its signature (True where none is read)."""
    try:
        inspect.signature(rule.record).bind(*args)
    except ValueError:  # no signature to read: taken as it says it takes them
        return True
    except TypeError:
        return False
    return True


def check_record_epochs(rule: object, every: object, instead: str) -> None:
    """Refuse a rule object whose ``record`` takes no ``epochs`` (``takes_epochs``) under
    ``check_val_every_n_epoch=every`` above 1: the search records each trial's curve with
    the epochs it validated (2, 4, ...), which such a ``record`` cannot take (was: a
    ``TypeError`` once the first trial had trained); read as one value per epoch from epoch
    1, its epoch-4 value would be ranked at epoch 2. ``instead``: the other way out (``search
    without a scheduler``). Other rules and ``every`` pass.

    Example:
        >>> from lightning_nas.search.schedulers import MedianRule
        >>> check_record_epochs(MedianRule(), 2, "search without a scheduler")

    Raises:
        ConfigError: naming the rule's class, its ``record``, the setting and what to do.
    """
    if not isinstance(rule, Rule) or not is_int(every) or every <= 1 or takes_epochs(rule):
        return
    name, where = type(rule).__name__, type(rule).record.__qualname__
    raise ConfigError(
        f"rule {name}'s record(key, curve) ({where}) takes no epochs, but "
        f"trainer.check_val_every_n_epoch={every} validates after epochs {every}, {2 * every},"
        f" ... only: the search records each trial's values with the epochs they were "
        f"validated at, as record(key, curve, epochs); accept epochs=None as a third "
        f"parameter (def record(self, key, curve, epochs=None), passing it on to "
        f"super().record), or leave check_val_every_n_epoch out (1), or {instead} "
        f"(scheduler='none')")  # (a rule object is given from Python alone)


def rungs_missed(name: str, rule: Rule, every: int, missed: list[int], instead: str,
                 alone: bool) -> ConfigError:
    """The error for ``check_val_every_n_epoch=every`` under ``rule`` that judges at the
    ``missed`` epochs (rungs) it does not validate: the values that would validate them."""
    rungs = rule.all_rungs() if isinstance(rule, ASHARule) else missed  # (was: its rungs,
    # not those of a subclass's rungs_of)
    common = math.gcd(*rungs)
    works = [str(k) for k in range(1, common + 1) if common % k == 0]
    one = len(missed) == 1
    listed = works[0] if len(works) == 1 else f"{', '.join(works[:-1])} or {works[-1]}"
    return ConfigError(
        f"scheduler {name!r} judges each trial at its rungs, after epochs "
        f"{', '.join(map(str, rungs))}, but trainer.check_val_every_n_epoch={every} validates "
        f"after epochs {every}, {2 * every}, ... only: {'rung' if one else 'rungs'} "
        f"{', '.join(map(str, missed))} {'is' if one else 'are'} not validated; give "
        f"check_val_every_n_epoch {listed} (a divisor of every rung), or {instead}"
        + ("" if alone else in_words(" (search.scheduler: none)", " (scheduler='none')")))


def rungs_unknown(name: str, rule: ASHARule, every: int, instead: str,
                  alone: bool) -> ConfigError:
    """The error for ``check_val_every_n_epoch=every`` under ``rule``, whose class overrides
    ``rungs_of`` but lists its rungs in no ``all_rungs`` of its own
    (``rule_traits.lists_its_rungs``): which epochs it judges at is not known before
    training (was: checked against its ``rungs``, which its ``rungs_of`` need not give)."""
    cls = type(rule).__name__
    listed = ", ".join(map(str, rule.all_rungs()))
    return ConfigError(
        f"scheduler {name!r} judges each trial at the rungs its rungs_of gives "
        f"({type(rule).rungs_of.__qualname__}), but lists them in no all_rungs of its own "
        f"({type(rule).all_rungs.__qualname__} lists ASHA's rungs {listed}), so "
        f"trainer.check_val_every_n_epoch={every} cannot be checked against them: a rung it "
        f"does not validate would judge no trial; give {cls} an all_rungs() that returns "
        f"every epoch its rungs_of gives, or leave check_val_every_n_epoch out (1), or "
        f"{instead}" + ("" if alone else in_words(" (search.scheduler: none)",
                                                  " (scheduler='none')")))


def record_curve(rule: Rule, key: Hashable, curve: Sequence[float],
                 epochs: Sequence[int] | None) -> None:
    """``rule.record`` a trial's ``curve`` at ``epochs``, passed only where they are not
    one value an epoch from epoch 1: a rule whose ``record`` override takes ``(key, curve)``
    alone (as it did before ``epochs``) is asked as before (was: a ``TypeError`` in every
    search with such a rule); a search refuses such a rule before training where its trials
    validate every ``k`` epochs, ``k`` above 1 (``check_record_epochs``; was: a
    ``TypeError`` here once the first trial had trained). One whose ``epochs`` has no
    default is given them (None for a store an older version wrote) in every case.

    Example:
        >>> from lightning_nas.search.schedulers import MedianRule
        >>> class Seen(MedianRule):
        ...     def record(self, key, curve):
        ...         super().record(key, curve)
        >>> rule = Seen()
        >>> record_curve(rule, 1, [0.5, 0.7], [1, 2])
        >>> rule.values
        {1: {1: 0.5}, 2: {1: 0.7}}
    """
    if epochs and list(epochs) != list(range(1, len(curve) + 1)):
        rule.record(key, curve, epochs)
    elif _record_takes(rule, key, curve):
        rule.record(key, curve)
    else:  # an override whose epochs has no default (was: a TypeError once a trial ended)
        rule.record(key, curve, list(epochs) or None)

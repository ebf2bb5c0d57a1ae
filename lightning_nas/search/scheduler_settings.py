"""The ``search.scheduler`` setting and the rule it makes: which settings a scheduler uses.

``make_rule`` turns ``search.scheduler`` (a name of ``SCHEDULERS``, or a rule object of
``lightning_nas.search.schedulers``) with ``min_epochs``, ``max_epochs`` and ``eta`` into
the search's rule (a copy of a rule object), refusing one that would first decide at the
last epoch (``check_judges_before``, which a ``PruningCallback`` in a plain fit asks of its
Trainer's ``max_epochs`` too); ``scheduler_name`` reads a name in any case; ``rule_settings`` /
``check_rule_settings`` say which of those settings a scheduler uses and refuse the others;
``scheduler_epochs`` reads a stored run's complete trial epochs.

Example:
    >>> make_rule("asha", max_epochs=9).rungs
    [1, 3, 9]
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lightning_nas.errors import ConfigError, did_you_mean
from lightning_nas.numeric import is_int
from lightning_nas.search.rule_traits import lists_its_rungs
from lightning_nas.search.schedulers import (
    ASHARule,
    HyperbandRule,
    MedianRule,
    Rule,
)
from lightning_nas.search.setting_checks import in_words, said_in_config

if TYPE_CHECKING:
    from lightning_nas.search.setting_groups import EarlyStopping

__all__ = [
    "RULE_DEFAULTS",
    "SCHEDULERS",
    "check_judges_before",
    "check_rule_settings",
    "make_rule",
    "not_a_scheduler",
    "rule_of",
    "rule_settings",
    "scheduler_epochs",
    "scheduler_name",
]

SCHEDULERS = ("none", "asha", "hyperband", "median")
#: ``search.min_epochs`` and ``search.eta`` when left out (None)
RULE_DEFAULTS = {"min_epochs": 1, "eta": 3}
#: where a rule of one's own comes from
_RULE = "lightning_nas.search.schedulers.Rule"


def scheduler_name(name: str) -> str:
    """``name`` as the ``SCHEDULERS`` value it names, in any case (as optimizer names are
    read).

    Raises:
        ConfigError: for a name of none of them, with the closest one and the valid ones.

    Example:
        >>> scheduler_name("ASHA")
        'asha'
    """
    if name.lower() in SCHEDULERS:
        return name.lower()
    raise ConfigError(f"unknown scheduler {name!r}; {did_you_mean(name.lower(), SCHEDULERS)}"
                      f"valid schedulers: {', '.join(SCHEDULERS)}")


def not_a_scheduler(value: object) -> ConfigError:
    """The error for a ``search.scheduler`` that is neither a name of ``SCHEDULERS`` nor a
    rule object: a config's (a ``class_path`` or ``_target_`` node, which no config builds
    there) is told that a rule of one's own is given from Python, a rule class to build one
    (was: the valid names alone, so a user with a rule of their own did not learn the way).

    Example:
        >>> print(not_a_scheduler(MedianRule))
        `scheduler` must be one of none, asha, hyperband, median, or a rule object (an \
instance of a subclass of lightning_nas.search.schedulers.Rule), got the class MedianRule; \
build one: scheduler=MedianRule(...)
    """
    from lightning_nas.config.nodes import is_node, target_path

    names = ", ".join(SCHEDULERS)
    if isinstance(value, type) and issubclass(value, Rule):
        return ConfigError(f"`scheduler` must be one of {names}, or a rule object (an instance "
                           f"of a subclass of {_RULE}), got the class {value.__name__}; build "
                           f"one: scheduler={value.__name__}(...)")
    if said_in_config():  # a config names its scheduler: a rule object comes from Python
        path = target_path(value) if is_node(value) else None
        cls = path.rsplit(".", 1)[-1] if isinstance(path, str) and path else "MyRule"
        return ConfigError(f"`scheduler` must be one of {names}, got {value!r}: a config names "
                           f"its scheduler; a rule of your own, an instance of a subclass of "
                           f"{_RULE}, is given from Python: Search(..., scheduler={cls}(...))")
    return ConfigError(f"`scheduler` must be one of {names}, or a rule object (an instance of "
                       f"a subclass of {_RULE}: scheduler=MedianRule(...)), got {value!r}")


def scheduler_epochs(settings: Mapping[str, object]) -> object:
    """The epochs of a complete trial when a run's scheduler set them (its stored flat
    ``settings``: ``max_epochs`` with a ``scheduler``), else None (the Trainer's).

    Example:
        >>> scheduler_epochs({"scheduler": "asha", "max_epochs": 9})
        9
        >>> scheduler_epochs({"scheduler": "none", "max_epochs": 9}) is None
        True
    """
    if settings.get("scheduler", "none") in (None, "none"):
        return None
    return settings.get("max_epochs")


def rule_settings(scheduler: object) -> tuple[str, ...]:
    """The settings of ``min_epochs``, ``max_epochs`` and ``eta`` that ``scheduler`` (a name,
    a rule object or a stored one's repr) uses: a rule object brings its own rungs, and its
    ``max_epochs`` is checked against the trials'.

    Example:
        >>> rule_settings("median"), rule_settings("none"), rule_settings(MedianRule())
        (('min_epochs', 'max_epochs'), (), ('max_epochs',))
    """
    if scheduler in (None, "none"):
        return ()
    if scheduler in ("asha", "hyperband"):
        return "min_epochs", "max_epochs", "eta"
    return ("min_epochs", "max_epochs") if scheduler == "median" else ("max_epochs",)


def check_rule_settings(scheduler: str | Rule, **given: int | None) -> None:
    """Refuse the settings among ``given`` (``min_epochs``, ``max_epochs``, ``eta``; None: left
    out) that ``scheduler`` does not use (``rule_settings``): they would be ignored. One error
    names them all, each with its ``--search.KEY=null`` (within ``config_words``; from
    Python, ``KEY=None``), and a ``max_epochs`` with where the Trainer's is set
    (``trainer.max_epochs``; from Python, ``trainer={"max_epochs": N}``).

    Example:
        >>> check_rule_settings("median", min_epochs=2, max_epochs=None, eta=None)
        >>> check_rule_settings("none", min_epochs=1, eta=2)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: `min_epochs` (1) is the epochs a scheduler ...
    """
    what = {"min_epochs": "the epochs a scheduler trains a trial before it first judges it",
            "max_epochs": "a scheduler's complete trial",
            "eta": "the reduction factor of scheduler asha or hyperband"}
    bad = {key: value for key, value in given.items()
           if value is not None and key not in rule_settings(scheduler)}
    if not bad:
        return
    said = [f"`{key}` ({value}) is {what[key]}" for key, value in bad.items()]
    said = ", ".join(said[:-1]) + " and " + said[-1] if len(said) > 1 else said[0]
    them = "it" if len(bad) == 1 else "them"
    config = said_in_config()  # (was: --search.KEY=null from Python too)
    flags = (" ".join(f"--search.{key}=null" for key in bad) if config
             else ", ".join(f"{key}=None" for key in bad))
    if isinstance(scheduler, Rule):  # (a MedianRule has no eta)
        builds = ", ".join(f"{k}={v}" for k, v in bad.items() if hasattr(scheduler, k))
        lacks = " or ".join(k for k in bad if not hasattr(scheduler, k))
        own = "it has none" if len(bad) == 1 else f"it has no {lacks}"
        own = f"build it with {builds}" + (f" ({own})" if lacks else "") if builds else own
        raise ConfigError(f"{said}, but scheduler {type(scheduler).__name__} is a rule "
                          f"object, which keeps its own: {own}, and leave "
                          f"{' and '.join(f'`{key}`' for key in bad)} out")
    if scheduler == "median":
        file = "a file's: " if config else ""
        raise ConfigError(f"{said}; scheduler 'median' has none (it stops a trial worse than "
                          f"the median of the others): leave {them} out ({file}{flags}), "
                          f"or use scheduler asha or hyperband")
    epochs = ""  # a config's words, or the Python API's (was: trainer.max_epochs from Python)
    if "max_epochs" in bad:
        epochs = (": set trainer.max_epochs instead" if config else
                  f": set trainer={{\"max_epochs\": {bad['max_epochs']}}} instead")
    file = "a file's, when the command line turns the scheduler off: " if config else ""
    raise ConfigError(f"{said}, and no scheduler is set: nothing uses {them} (every trial "
                      f"trains the Trainer's max_epochs{epochs}); leave {them} out ({file}"
                      f"{flags}), or set a scheduler"
                      + (" (asha or hyperband)" if "eta" in bad else ""))


def make_rule(scheduler: str | Rule | None, *, min_epochs: int | None = None,
              max_epochs: int | None = None, eta: int | None = None, mode: str = "max",
              min_trials: int = 2) -> Rule | None:
    """The rule for ``search.scheduler`` (None for ``none``); a ``Rule`` given as it is.
    ``min_epochs`` and ``eta`` left out (None) are ``RULE_DEFAULTS``'.

    Raises:
        ConfigError: for an unknown name (listing the valid ones), bad settings, a
            ``Rule`` whose ``mode`` is not the search's or whose ``max_epochs`` is not
            ``max_epochs`` (the epochs trials train), or a rule that would first decide
            at or after ``max_epochs`` (it would stop nothing): its ``min_epochs``, or an
            ``ASHARule`` subclass's ``all_rungs``, none below ``max_epochs``.
    """
    min_epochs = RULE_DEFAULTS["min_epochs"] if min_epochs is None else min_epochs
    eta = RULE_DEFAULTS["eta"] if eta is None else eta
    if isinstance(scheduler, Rule) and scheduler.mode != mode:
        # a rule judges which trials are better: the other way round it stops the best
        raise ConfigError(f"scheduler {type(scheduler).__name__} has mode={scheduler.mode!r} "
                          f"but the search's mode is {mode!r}; build it with mode={mode!r}")
    last = getattr(scheduler, "max_epochs", None)
    ours, theirs = _epoch_keys()
    if isinstance(scheduler, Rule) and isinstance(last, int) and last != max_epochs:
        # trials train max_epochs: the rule's last rung would be judged never, or too early
        endless = "; -1 is Lightning's 'no limit'" if max_epochs == -1 else ""
        trials = (f"neither {ours} nor {theirs} is set"
                  if max_epochs is None else f"the search's trials train max_epochs="
                  f"{max_epochs} ({ours}, else {theirs}{endless})")
        # a rule of the trials' epochs where it can be built (was: max_epochs=-1 said too)
        fix = (f"build it with max_epochs={max_epochs}, or "
               if isinstance(max_epochs, int) and max_epochs > 0 else "")
        # search.max_epochs first (was: trainer.max_epochs alone, which a given one overrides;
        # a config's words from Python too)
        ours, theirs = _epoch_keys(last)
        raise ConfigError(f"scheduler {type(scheduler).__name__} has max_epochs={last} (its "
                          f"last rung) but {trials}; {fix}make the trials train {last}: "
                          f"{ours} (or, where it is not set, {theirs})")
    if scheduler is None or isinstance(scheduler, Rule):  # a copy: the values of this search
        # alone (was: one object given to two searches judged the second by the first's)
        return _decides_before_the_end(copy.deepcopy(scheduler), max_epochs, "a rule object")
    scheduler = scheduler_name(scheduler)
    if scheduler == "none":
        return None
    if scheduler == "median":
        rule: Rule = MedianRule(min_epochs=min_epochs, min_trials=min_trials, mode=mode)
    elif not isinstance(max_epochs, int) or max_epochs < 1:
        endless = " (Lightning's 'no limit': a complete trial trains a number of epochs)"
        raise ConfigError(f"scheduler {scheduler!r} needs max_epochs ({ours} or {theirs}), "
                          f"got {max_epochs!r}"
                          + (endless if max_epochs == -1 else ""))
    else:
        cls = ASHARule if scheduler == "asha" else HyperbandRule
        # min_epochs above max_epochs named as at max_epochs (was: the rule's own check)
        _never_stops(min_epochs, max_epochs, scheduler)
        rule = cls(min_epochs=min_epochs, max_epochs=max_epochs, eta=eta, mode=mode)
    rule.setting = scheduler  # a trial's checks name it so (its copy goes with the trial)
    return _decides_before_the_end(rule, max_epochs, scheduler)


def rule_of(stopping: EarlyStopping, mode: str, trainer: Mapping[str, Any]) -> Rule | None:
    """``make_rule`` of a search's ``EarlyStopping`` settings (``stopping``: its
    ``scheduler``, ``min_epochs``, ``max_epochs``, ``eta``) and ``mode``, its
    ``max_epochs`` the Trainer's (``trainer``) where the settings give none.

    Example:
        >>> from lightning_nas.search.setting_groups import EarlyStopping
        >>> rule_of(EarlyStopping(scheduler="asha", eta=2), "max", {"max_epochs": 4}).rungs
        [1, 2, 4]
    """
    return make_rule(stopping.scheduler, min_epochs=stopping.min_epochs,
                     max_epochs=stopping.max_epochs or trainer.get("max_epochs"),
                     eta=stopping.eta, mode=mode)


def _epoch_keys(value: int | None = None) -> tuple[str, str]:
    """The search's and the Trainer's ``max_epochs`` as this user gives them, set to
    ``value`` where one is given: a config's ``search.max_epochs: 3`` and
    ``trainer.max_epochs: 3`` (``config_words``), else the Python API's (``Search``'s
    ``max_epochs=3`` and ``trainer={"max_epochs": 3}``).

    Example:
        >>> _epoch_keys(3)
        ("the search's max_epochs=3", 'trainer={"max_epochs": 3}')
        >>> _epoch_keys()
        ("the search's max_epochs=", 'trainer={"max_epochs": ...}')
    """
    if value is None:
        return in_words("search.max_epochs", "the search's max_epochs="), in_words(
            "trainer.max_epochs", 'trainer={"max_epochs": ...}')
    return (in_words(f"search.max_epochs: {value}", f"the search's max_epochs={value}"),
            in_words(f"trainer.max_epochs: {value}", f'trainer={{"max_epochs": {value}}}'))


def _decides_before_the_end(rule: Rule | None, max_epochs: int | None, name: str) -> Rule | None:
    """``rule``, unless it first decides at a trial's last epoch or later: a verdict there
    stops nothing, so it would never stop a trial (``min_epochs >= max_epochs``, or an
    ``ASHARule`` subclass's rungs, ``all_rungs``, none below it; was: its ``min_epochs``
    alone, so one whose ``rungs_of`` judges at the last epoch, or past it, was taken)."""
    name = type(rule).__name__ if name == "a rule object" else name
    check_judges_before(rule, getattr(rule, "max_epochs", None) or max_epochs, name)
    return rule


def check_judges_before(rule: Rule | None, last: object, name: str,
                        instead: str = "search without a scheduler", every: object = 1) -> None:
    """Refuse ``rule`` (of scheduler ``name``) where it first decides at a run's last epoch,
    ``last``, or later: its ``min_epochs``, or an ``ASHARule`` subclass's rungs
    (``all_rungs``), none below it, or, validated every ``every`` epochs
    (``check_val_every_n_epoch``) by a rule that judges the validated epochs alone
    (``Rule.missed_by``: ``[]``), the first of them from its ``min_epochs`` on (was: taken,
    and a median rule under ``check_val_every_n_epoch`` equal to ``max_epochs`` judged no
    trial). Rungs past ``last`` beside one below it are taken (a ``PruningCallback`` in a
    fit shorter than its rule's ``max_epochs`` judges at those it reaches). ``instead``:
    the other way out, for the message.

    Example:
        >>> check_judges_before(ASHARule(min_epochs=2, max_epochs=8, eta=2), 4, "asha")
        >>> check_judges_before(MedianRule(min_epochs=4), 4, "median")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: scheduler 'median' with min_epochs=4 would never ...

    Raises:
        ConfigError: naming the rule, its first epoch or rungs, ``last`` and ``instead``.
    """
    _never_stops(getattr(rule, "min_epochs", None), last, name, instead)
    if isinstance(rule, ASHARule) and lists_its_rungs(rule):  # (rungs_of alone: not known)
        _never_judges(rule, last, name, instead)
    if isinstance(rule, Rule) and is_int(every) and every > 1 and rule.missed_by(every) == []:
        _never_validated(getattr(rule, "min_epochs", 1), every, last, name, instead)


def _never_validated(first: object, every: int, last: object, name: str, instead: str) -> None:
    """Refuse a rule of scheduler ``name`` that judges the epochs validated every ``every``
    epochs from epoch ``first`` on, where the first of them comes at or after a run's last
    epoch, ``last``.

    Example:
        >>> _never_validated(1, 2, 4, "median", "search without a scheduler")
        >>> _never_validated(1, 4, 4, "median", "search without a scheduler")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: scheduler 'median' judges a trial at the epochs ...
    """
    first = first if isinstance(first, int) and first >= 1 else 1
    judged = -(-first // every) * every  # the first validated epoch from ``first`` on
    if not isinstance(last, int) or last < 1 or judged < last or first >= last:
        return  # (min_epochs at or past the end: _never_stops says it)
    past = "" if judged == last else "past "
    between = f"epoch {first}" if first == last - 1 else f"an epoch from {first} to {last - 1}"
    raise ConfigError(f"scheduler {name!r} judges a trial at the epochs it validates from "
                      f"min_epochs={first} on, but trainer.check_val_every_n_epoch={every} "
                      f"validates after epochs {every}, {2 * every}, ... only: the first of "
                      f"them from epoch {first} on, {judged}, is {past}a trial's last epoch "
                      f"(max_epochs={last}), where a verdict stops nothing, so it would never "
                      f"stop a trial; give check_val_every_n_epoch a value that validates "
                      f"{between} (1 does), or {instead}")


def _never_judges(rule: ASHARule, last: object, name: str,
                  instead: str = "search without a scheduler") -> None:
    """Refuse ``rule`` of scheduler ``name`` where none of its rungs (``all_rungs``) comes
    before a trial's last epoch, ``last``.

    Example:
        >>> class Late(ASHARule):
        ...     def rungs_of(self, key):
        ...         return [6]
        ...     def all_rungs(self):
        ...         return [6]
        >>> _never_judges(ASHARule(max_epochs=6), 6, "asha")
        >>> _never_judges(Late(max_epochs=6), 6, "Late")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: scheduler 'Late' judges trials at rung 6 ...
    """
    rungs = rule.all_rungs()
    if not isinstance(last, int) or last < 1 or any(rung < last for rung in rungs):
        return
    listed = f"{'rung' if len(rungs) == 1 else 'rungs'} {', '.join(map(str, rungs))}" \
        if rungs else "no rung"
    cls = type(rule).__name__
    raise ConfigError(f"scheduler {name!r} judges trials at {listed} "
                      f"({type(rule).all_rungs.__qualname__}), none before a trial's last "
                      f"epoch (max_epochs={last}): a verdict there or later stops nothing, so "
                      f"it would never stop a trial; give {cls} a rung below {last} (in its "
                      f"rungs_of and all_rungs), or {instead}")


def _never_stops(first: object, last: object, name: str,
                 instead: str = "search without a scheduler") -> None:
    """Refuse a rule of scheduler ``name`` that first decides at epoch ``first``, at or
    after a trial's last, ``last``."""
    if isinstance(first, int) and isinstance(last, int) and 0 < last <= first:
        raise ConfigError(f"scheduler {name!r} with min_epochs={first} would never stop a "
                          f"trial before its end (max_epochs={last}); give min_epochs below "
                          f"max_epochs, or {instead}")

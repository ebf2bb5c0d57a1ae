"""Multi-fidelity scheduling over epochs: stop (or pause) weak trials early.

A *rule* sees the monitored value of a trial after each epoch and answers ``CONTINUE``,
``PAUSE`` (stop now; the trial may be promoted later and resumes from its checkpoint) or
``STOP`` (pruned for good). The search driver gives each trial a snapshot of the rule and
promotes paused trials (``lightning_nas.search.callbacks.PruningCallback`` asks a rule from
inside any Trainer); a FAILED trial's values are no member of any ranking (``forget``).

- ``ASHARule``: asynchronous successive halving. Rungs at ``min_epochs * eta**k`` epochs
  (and ``max_epochs``); at a rung a trial goes on only if its value is in the top
  ``1/eta`` of the values seen at that rung (the first trial always goes on), else it is
  paused. A paused trial is promoted when it enters that top fraction as more trials
  report, and resumes from its checkpoint; one left paused at the end stays PAUSED (a resume
  may promote it).
- ``HyperbandRule``: brackets of ASHA with different first rungs (``min_epochs * eta**b``),
  trials assigned to brackets in turn, more trials to the aggressive brackets.
- ``MedianRule``: stop a trial whose value at an epoch is worse than the median of the
  earlier trials' values at that epoch (after ``min_epochs``).

Example:
    >>> rule = ASHARule(min_epochs=1, max_epochs=9, eta=3)
    >>> rule.rungs
    [1, 3, 9]
    >>> rule.decide(1, 1, 0.9), rule.decide(2, 1, 0.5)
    (<Decision.CONTINUE: 'CONTINUE'>, <Decision.PAUSE: 'PAUSE'>)
"""

from __future__ import annotations

import copy
import enum
import inspect
import math
import statistics
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence

from lightning_nas.errors import ConfigError, check_mode

__all__ = [
    "RULE_DEFAULTS",
    "SCHEDULERS",
    "ASHARule",
    "Decision",
    "HyperbandRule",
    "MedianRule",
    "Rule",
    "check_rule_settings",
    "make_rule",
    "rule_settings",
    "scheduler_epochs",
]

SCHEDULERS = ("none", "asha", "hyperband", "median")
#: ``search.min_epochs`` and ``search.eta`` when left out (None)
RULE_DEFAULTS = {"min_epochs": 1, "eta": 3}


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


class Decision(str, enum.Enum):
    """What a rule says after an epoch."""

    CONTINUE = "CONTINUE"
    PAUSE = "PAUSE"
    STOP = "STOP"


class Rule(ABC):
    """Decides, from the monitored values seen so far, whether a trial goes on.

    Args:
        mode: ``"max"`` or ``"min"`` (which values are better).
    """

    #: the ``search.scheduler`` name it was made from by ``make_rule`` (None: an object's)
    setting: str | None = None

    def __init__(self, mode: str = "max") -> None:
        check_mode(mode)
        self.mode = mode

    def __repr__(self) -> str:
        """The class and the ``__init__`` settings the rule keeps, e.g.
        ``ASHARule(min_epochs=1, max_epochs=9, eta=3, mode='max')`` (the search stores it
        and a resume compares it)."""
        names: list[str] = []  # the class's and its bases' (a subclass passing **kwargs on)
        for cls in type(self).__mro__:
            if cls is Rule or not issubclass(cls, Rule):
                break
            names += [name for name, p in inspect.signature(cls.__init__).parameters.items()
                      if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                      and hasattr(self, name) and name not in names]
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({settings})"

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.mode == "max" else a < b

    @abstractmethod
    def decide(self, key: Hashable, epoch: int, value: float) -> Decision:
        """Record ``value`` of trial ``key`` after ``epoch`` epochs and decide."""

    def record(self, key: Hashable, curve: Sequence[float]) -> None:
        """Record a trial's values (one per epoch, from epoch 1), e.g. when resuming."""
        for epoch, value in enumerate(curve, start=1):
            self._observe(key, epoch, value)

    @abstractmethod
    def _observe(self, key: Hashable, epoch: int, value: float) -> None:
        """Store a value without deciding."""

    def forget(self, key: Hashable) -> None:  # noqa: B027 - a rule may keep no values
        """Drop trial ``key``'s values: a failed trial is ranked at no rung or epoch."""

    def snapshot(self) -> Rule:
        """A copy to hand to a trial (it records its own values into the copy)."""
        return copy.deepcopy(self)

    def promotion(self, paused: Mapping[Hashable, int]) -> Hashable | None:
        """Which paused trial (``{key: epochs reached}``) to resume now, if any."""
        return None

    def first_epochs(self, key: Hashable) -> int | None:
        """Epochs before a new trial's first decision (None: decide every epoch)."""
        return None

    @property
    def pauses(self) -> bool:
        """Whether the rule pauses trials to promote later (it has a ``promotion``): a
        promoted trial continues from its ``last.ckpt``."""
        return type(self).promotion is not Rule.promotion


class MedianRule(Rule):
    """Stop a trial worse than the median of earlier trials at the same epoch.

    Args:
        min_epochs: never stop before this many epochs.
        min_trials: other trials that must have reached the epoch before it can stop.
        mode: ``"max"`` or ``"min"``.
    """

    def __init__(self, min_epochs: int = 1, min_trials: int = 2, mode: str = "max") -> None:
        super().__init__(mode)
        if min_epochs < 1 or min_trials < 1:
            raise ConfigError(f"need min_epochs >= 1 and min_trials >= 1, got {min_epochs}, "
                              f"{min_trials}")
        self.min_epochs, self.min_trials = min_epochs, min_trials
        self.values: dict[int, dict[Hashable, float]] = {}  # epoch -> key -> value

    def _observe(self, key: Hashable, epoch: int, value: float) -> None:
        if math.isfinite(value):
            self.values.setdefault(epoch, {})[key] = value

    def forget(self, key: Hashable) -> None:
        for values in self.values.values():
            values.pop(key, None)

    def decide(self, key: Hashable, epoch: int, value: float) -> Decision:
        others = [v for k, v in self.values.get(epoch, {}).items() if k != key]
        self._observe(key, epoch, value)
        if epoch < self.min_epochs or len(others) < self.min_trials:
            return Decision.CONTINUE
        if not math.isfinite(value) or self._better(statistics.median(others), value):
            return Decision.STOP
        return Decision.CONTINUE


class ASHARule(Rule):
    """Asynchronous successive halving over epochs (see the module docstring).

    Args:
        min_epochs: the first rung.
        max_epochs: the last rung (a trial that reaches it is complete).
        eta: reduction factor: the top ``1/eta`` of a rung goes on.
        mode: ``"max"`` or ``"min"``.
    """

    def __init__(self, min_epochs: int = 1, max_epochs: int = 27, eta: int = 3,
                 mode: str = "max") -> None:
        super().__init__(mode)
        if min_epochs < 1 or max_epochs < min_epochs or eta < 2:
            raise ConfigError(f"need 1 <= min_epochs <= max_epochs and eta >= 2, got "
                              f"min_epochs={min_epochs}, max_epochs={max_epochs}, eta={eta}")
        self.min_epochs, self.max_epochs, self.eta = min_epochs, max_epochs, eta
        self.rungs = self._rungs(min_epochs)
        self.values: dict[int, dict[Hashable, float]] = {r: {} for r in self.rungs}

    def _rungs(self, first: int) -> list[int]:
        rungs, r = [], first
        while r < self.max_epochs:
            rungs.append(r)
            r *= self.eta
        return [*rungs, self.max_epochs]

    def rungs_of(self, key: Hashable) -> list[int]:
        """The rungs trial ``key`` is judged at."""
        return self.rungs

    def _observe(self, key: Hashable, epoch: int, value: float) -> None:
        if epoch in self.rungs_of(key) and math.isfinite(value):  # NaN: a failure, no member
            self.values.setdefault(epoch, {})[key] = value

    def forget(self, key: Hashable) -> None:
        for values in self.values.values():
            values.pop(key, None)

    def _group(self, key: Hashable, rung: int) -> Hashable:
        """What ``key`` is ranked among at ``rung`` (``_rivals``), as a key: the rung."""
        return rung

    def _rivals(self, key: Hashable, rung: int) -> dict[Hashable, float]:
        """The values ``key``'s value at ``rung`` is ranked among: the whole rung's."""
        return self.values.get(rung, {})

    def _cut(self, values: Mapping[Hashable, float]) -> float:
        """The worst value in the top ``1/eta`` of ``values`` (not empty)."""
        ranked = sorted(values.values(), reverse=self.mode == "max")
        return ranked[max(1, len(ranked) // self.eta) - 1]

    def promotable(self, key: Hashable, rung: int) -> bool:
        """Whether ``key``'s value at ``rung`` is in the top ``1/eta`` of that rung."""
        values = self._rivals(key, rung)
        return key in values and not self._better(self._cut(values), values[key])

    def decide(self, key: Hashable, epoch: int, value: float) -> Decision:
        self._observe(key, epoch, value)
        rungs = self.rungs_of(key)
        if epoch not in rungs or epoch >= rungs[-1]:
            return Decision.CONTINUE
        return Decision.CONTINUE if self.promotable(key, epoch) else Decision.PAUSE

    def promotion(self, paused: Mapping[Hashable, int]) -> Hashable | None:
        """The promotable one at the highest rung with the best value; of tied ones the
        lowest key (an int: a search's trial number), in any order of ``paused`` (was: the
        first listed, and a resumed search lists them by trial, not in the order paused)."""
        best = None
        cuts: dict[Hashable, tuple[dict[Hashable, float], float | None]] = {}  # each rung
        # (bracket) ranked once per call (was: once per paused trial)
        for key, epochs in paused.items():  # highest rung first, then best value
            if epochs not in self.rungs_of(key):
                continue
            group = self._group(key, epochs)
            if group not in cuts:
                rivals = self._rivals(key, epochs)
                cuts[group] = (rivals, self._cut(rivals) if rivals else None)
            rivals, cut = cuts[group]
            if key in rivals and not self._better(cut, rivals[key]):
                value = self.values[epochs][key]
                tie = -key if isinstance(key, (int, float)) else 0  # (a rule's own keys)
                rank = (epochs, value if self.mode == "max" else -value, tie)
                if best is None or rank > best[0]:
                    best = (rank, key)
        return None if best is None else best[1]

    def first_epochs(self, key: Hashable) -> int | None:
        return self.rungs_of(key)[0]


class HyperbandRule(ASHARule):
    """Hyperband over epochs: ASHA brackets whose first rungs are ``min_epochs * eta**b``.

    Trial ``key`` (an int: trials are numbered 1, 2, ...) goes to a bracket by a fixed
    cycle that gives the bracket starting at ``min_epochs * eta**b`` a share of new trials
    proportional to ``eta**(s_max - b) / (s_max - b + 1)``, as Hyperband sizes its brackets,
    the brackets interleaved along the cycle.
    """

    def __init__(self, min_epochs: int = 1, max_epochs: int = 27, eta: int = 3,
                 mode: str = "max") -> None:
        super().__init__(min_epochs, max_epochs, eta, mode)
        firsts = self.rungs  # the last bracket trains every trial to max_epochs
        s_max = len(firsts) - 1
        self.brackets = [self._rungs(first) for first in firsts]
        counts = [math.ceil((s_max + 1) / (s_max - b + 1) * eta ** (s_max - b))
                  for b in range(len(firsts))]
        self.cycle = _interleaved(counts)

    def bracket_of(self, key: Hashable) -> int:
        """The bracket of trial ``key``."""
        index = key if isinstance(key, int) else hash(key)
        return self.cycle[(index - 1) % len(self.cycle)]

    def rungs_of(self, key: Hashable) -> list[int]:
        return self.brackets[self.bracket_of(key)]

    def _group(self, key: Hashable, rung: int) -> Hashable:
        return rung, self.bracket_of(key)

    def _rivals(self, key: Hashable, rung: int) -> dict[Hashable, float]:
        """The values of ``key``'s bracket at ``rung``: promotion is judged inside it."""
        bracket = self.bracket_of(key)
        return {k: v for k, v in self.values.get(rung, {}).items()
                if self.bracket_of(k) == bracket}


def _interleaved(counts: list[int]) -> list[int]:
    """Indices ``b`` each ``counts[b]`` times, spread over the list (smooth weighted round
    robin), so any run of trials meets every bracket in proportion, not the first bracket
    alone for its whole share.

    Example:
        >>> _interleaved([3, 1])
        [0, 0, 1, 0]
    """
    total, credit, out = sum(counts), [0] * len(counts), []
    for _ in range(total):
        credit = [c + n for c, n in zip(credit, counts, strict=True)]
        pick = max(range(len(counts)), key=lambda b: (credit[b], -b))
        credit[pick] -= total
        out.append(pick)
    return out


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
    names them all, each with its ``--search.KEY=null``.

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
    flags = " ".join(f"--search.{key}=null" for key in bad)
    if isinstance(scheduler, Rule):  # (a MedianRule has no eta)
        builds = ", ".join(f"{k}={v}" for k, v in bad.items() if hasattr(scheduler, k))
        lacks = " or ".join(k for k in bad if not hasattr(scheduler, k))
        own = "it has none" if len(bad) == 1 else f"it has no {lacks}"
        own = f"build it with {builds}" + (f" ({own})" if lacks else "") if builds else own
        raise ConfigError(f"{said}, but scheduler {type(scheduler).__name__} is a rule "
                          f"object, which keeps its own: {own}, and leave "
                          f"{' and '.join(f'`{key}`' for key in bad)} out")
    if scheduler == "median":
        raise ConfigError(f"{said}; scheduler 'median' has none (it stops a trial worse than "
                          f"the median of the others): leave {them} out (a file's: {flags}), "
                          f"or use scheduler asha or hyperband")
    epochs = ": set trainer.max_epochs instead" if "max_epochs" in bad else ""
    raise ConfigError(f"{said}, and no scheduler is set: nothing uses {them} (every trial "
                      f"trains the Trainer's max_epochs{epochs}); leave {them} out (a file's, "
                      f"when the command line turns the scheduler off: "
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
            at or after ``max_epochs`` (it would stop nothing).
    """
    min_epochs = RULE_DEFAULTS["min_epochs"] if min_epochs is None else min_epochs
    eta = RULE_DEFAULTS["eta"] if eta is None else eta
    if isinstance(scheduler, Rule) and scheduler.mode != mode:
        # a rule judges which trials are better: the other way round it stops the best
        raise ConfigError(f"scheduler {type(scheduler).__name__} has mode={scheduler.mode!r} "
                          f"but the search's mode is {mode!r}; build it with mode={mode!r}")
    last = getattr(scheduler, "max_epochs", None)
    if isinstance(scheduler, Rule) and isinstance(last, int) and last != max_epochs:
        # trials train max_epochs: the rule's last rung would be judged never, or too early
        trials = ("neither search.max_epochs nor trainer.max_epochs is set"
                  if max_epochs is None else f"the search's trials train max_epochs="
                  f"{max_epochs} (search.max_epochs, else trainer.max_epochs)")
        fix = "" if max_epochs is None else f"build it with max_epochs={max_epochs}, or "
        raise ConfigError(f"scheduler {type(scheduler).__name__} has max_epochs={last} (its "
                          f"last rung) but {trials}; {fix}set trainer.max_epochs: {last}")
    if scheduler is None or isinstance(scheduler, Rule):  # a copy: the values of this search
        # alone (was: one object given to two searches judged the second by the first's)
        return _decides_before_the_end(copy.deepcopy(scheduler), max_epochs, "a rule object")
    if scheduler not in SCHEDULERS:
        raise ConfigError(f"unknown scheduler {scheduler!r}; valid: {', '.join(SCHEDULERS)}")
    if scheduler == "none":
        return None
    if scheduler == "median":
        rule: Rule = MedianRule(min_epochs=min_epochs, min_trials=min_trials, mode=mode)
    elif not isinstance(max_epochs, int) or max_epochs < 1:
        raise ConfigError(f"scheduler {scheduler!r} needs max_epochs (search.max_epochs or "
                          f"trainer.max_epochs), got {max_epochs!r}")
    else:
        cls = ASHARule if scheduler == "asha" else HyperbandRule
        rule = cls(min_epochs=min_epochs, max_epochs=max_epochs, eta=eta, mode=mode)
    rule.setting = scheduler  # a trial's checks name it so (its copy goes with the trial)
    return _decides_before_the_end(rule, max_epochs, scheduler)


def _decides_before_the_end(rule: Rule | None, max_epochs: int | None, name: str) -> Rule | None:
    """``rule``, unless it first decides at a trial's last epoch or later: a verdict there
    stops nothing, so it would never stop a trial (``min_epochs >= max_epochs``)."""
    first = getattr(rule, "min_epochs", None)
    last = getattr(rule, "max_epochs", None) or max_epochs
    if isinstance(first, int) and isinstance(last, int) and 0 < last <= first:
        name = type(rule).__name__ if name == "a rule object" else name
        raise ConfigError(f"scheduler {name!r} with min_epochs={first} would never stop a "
                          f"trial before its end (max_epochs={last}); give min_epochs below "
                          f"max_epochs, or search without a scheduler")
    return rule


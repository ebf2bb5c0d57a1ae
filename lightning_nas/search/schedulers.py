"""Multi-fidelity scheduling over epochs: stop (or pause) weak trials early.

A *rule* sees the monitored value of a trial after each epoch and answers ``CONTINUE``,
``PAUSE`` (stop now; the trial may be promoted later and resumes from its checkpoint) or
``STOP`` (pruned for good). The search driver gives each trial a snapshot of the rule and
promotes paused trials (``lightning_nas.search.pruning.PruningCallback`` asks a rule from
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

The rule a search's ``search.scheduler`` names (``make_rule``) and the settings each
scheduler uses are in ``lightning_nas.search.scheduler_settings``.
"""

from __future__ import annotations

import copy
import enum
import inspect
import math
import statistics
import zlib
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence

from lightning_nas.search.rule_arguments import (
    check_at_least,
    check_rule_mode,
    check_rung_order,
    whole_numbers,
)
from lightning_nas.search.rule_traits import lists_its_rungs

__all__ = [
    "ASHARule",
    "Decision",
    "HyperbandRule",
    "MedianRule",
    "Rule",
]


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
        check_rule_mode(self, mode)
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

    def record(self, key: Hashable, curve: Sequence[float],
               epochs: Sequence[int] | None = None) -> None:
        """Record a trial's values, e.g. when resuming: ``curve[i]`` at ``epochs[i]``, the
        epochs trained when Lightning validated it (``check_val_every_n_epoch: 2``: 2, 4,
        ...); without ``epochs`` (a store an older version wrote), one value per epoch from
        epoch 1 (was: always so, and with validation every 2 epochs a trial's epoch-4 value
        was ranked at rung 2).

        Example:
            >>> rule = ASHARule(min_epochs=2, max_epochs=4, eta=2)
            >>> rule.record(1, [0.6, 0.9], [2, 4])
            >>> rule.values
            {2: {1: 0.6}, 4: {1: 0.9}}
        """
        at = range(1, len(curve) + 1) if not epochs else epochs
        for epoch, value in zip(at, curve, strict=True):
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

    def missed_by(self, every: int) -> list[int] | None:
        """The epochs this rule judges trials at that a validation every ``every`` epochs
        (``check_val_every_n_epoch``) does not reach: ``[]`` where it judges validated
        epochs alone; None where that is not known (a rule of another kind may judge after
        any epoch: every epoch must validate)."""
        return [] if every == 1 else None

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
        min_epochs, min_trials = whole_numbers(self, min_epochs=min_epochs, min_trials=min_trials)
        check_at_least(self, 1,
                       min_epochs=(min_epochs, "the epochs before it may stop a trial"),
                       min_trials=(min_trials, "the other trials that must have reached an "
                                               "epoch before it judges there"))
        self.min_epochs, self.min_trials = min_epochs, min_trials
        self.values: dict[int, dict[Hashable, float]] = {}  # epoch -> key -> value

    def _observe(self, key: Hashable, epoch: int, value: float) -> None:
        if math.isfinite(value):
            self.values.setdefault(epoch, {})[key] = value

    def forget(self, key: Hashable) -> None:
        for values in self.values.values():
            values.pop(key, None)

    def missed_by(self, every: int) -> list[int] | None:
        """None missed: it compares trials at the same epoch, whichever epochs validate."""
        return []

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
        min_epochs, max_epochs, eta = whole_numbers(self, min_epochs=min_epochs,
                                                    max_epochs=max_epochs, eta=eta)
        check_at_least(self, 1, min_epochs=(min_epochs, "its first rung"),
                       max_epochs=(max_epochs, "its last rung: a complete trial's epochs"))
        check_at_least(self, 2,
                       eta=(eta, "the reduction factor: the top 1/eta of a rung goes on"))
        check_rung_order(self, min_epochs, max_epochs)
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
        """The rungs trial ``key`` is judged at (a subclass that judges at others than
        ``rungs`` lists them all in ``all_rungs`` too)."""
        return self.rungs

    def all_rungs(self) -> list[int]:
        """Every epoch ``rungs_of`` gives for any trial, sorted: ``rungs``. A subclass whose
        ``rungs_of`` gives others overrides it as well: a validation every ``k`` epochs is
        checked against it before training (``missed_by``).

        Example:
            >>> ASHARule(min_epochs=1, max_epochs=4, eta=2).all_rungs()
            [1, 2, 4]
        """
        return list(self.rungs)

    def missed_by(self, every: int) -> list[int] | None:
        """The rungs of ``all_rungs`` that are no multiple of ``every``: a trial is ranked
        there by no value; None for ``every`` above 1 where the rungs are not known: a class
        that overrides ``rungs_of`` but not ``all_rungs`` (was: ``rungs`` checked, so one
        judging at epoch 3 was taken with a validation every 2 epochs, and judged no trial
        there).

        Example:
            >>> ASHARule(min_epochs=1, max_epochs=4, eta=2).missed_by(2)
            [1]
        """
        if not lists_its_rungs(self):
            return [] if every == 1 else None
        return [rung for rung in self.all_rungs() if rung % every]

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


class HyperbandRule(ASHARule):
    """Hyperband over epochs: ASHA brackets whose first rungs are ASHA's rungs
    (``min_epochs * eta**b`` below ``max_epochs``, and ``max_epochs`` itself).

    Example:
        >>> HyperbandRule(min_epochs=1, max_epochs=6, eta=2).brackets
        [[1, 2, 4, 6], [2, 4, 6], [4, 6], [6]]

    Trial ``key`` (an int: trials are numbered 1, 2, ...) goes to a bracket by a fixed
    cycle that gives the bracket starting at ``min_epochs * eta**b`` a share of new trials
    proportional to ``eta**(s_max - b) / (s_max - b + 1)``, as Hyperband sizes its brackets,
    the brackets interleaved along the cycle.

    Args:
        min_epochs: the first rung of the first bracket.
        max_epochs: the last rung of every bracket (a trial that reaches it is complete).
        eta: reduction factor: the top ``1/eta`` of a rung goes on.
        mode: ``"max"`` or ``"min"``.
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
        """The bracket of trial ``key`` (another key than an int, ``"run-1"``: by a checksum
        of its ``repr``, the same in every process; was: ``hash``, which differs between
        processes for a string, so a rule resumed or shared elsewhere moved runs)."""
        index = key if isinstance(key, int) else zlib.crc32(repr(key).encode())
        return self.cycle[(index - 1) % len(self.cycle)]

    def rungs_of(self, key: Hashable) -> list[int]:
        return self.brackets[self.bracket_of(key)]

    def all_rungs(self) -> list[int]:
        """Every bracket's rungs: ASHA's (each bracket starts at one of them)."""
        return sorted({rung for bracket in self.brackets for rung in bracket})

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


"""``NASOptimizer``: the base of the NAS strategies, a nevergrad optimizer over genotypes
that keeps the told and pending sets and never proposes an architecture twice while
another is left.

Example:
    >>> issubclass(NASOptimizer, ng.optimization.base.Optimizer)
    True
"""

from __future__ import annotations

import collections
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import nevergrad as ng
from nevergrad.optimization import base

from lightning_nas.errors import ConfigError
from lightning_nas.strategies.codec import Codec, Geno, candidate_of
from lightning_nas.strategies.transfer import rank_priors

__all__ = ["CLIPPED", "NEAR_STEPS", "NASOptimizer", "Setting"]

#: nevergrad's ceiling for one objective's loss: an ``inf`` told (a candidate rejected before
#: any result) reaches a strategy as this, plus the violation's penalty (several objectives:
#: as ``inf``)
CLIPPED = 5.0e20
#: genotypes ``random_new`` looks at, one-leaf step by step, for a new one after random misses
NEAR_STEPS = 100_000


@dataclass(frozen=True)
class Setting:
    """The valid values of a strategy's setting (a class attribute a subclass changes, or an
    instance's, checked as it is set): a number (``kind`` int, or float: any real number)
    within ``low`` .. ``high`` (``open_low``: above ``low``), or with ``many`` a non-empty
    tuple of them.

    Example:
        >>> Setting(int, 1).said(), Setting(float, 0, 1, many=True).said()
        ('an int >= 1', 'a non-empty tuple of numbers in [0, 1]')
        >>> Setting(int, 1).accepts(0), Setting(float, 0, open_low=True).accepts(0.5)
        (False, True)
    """

    kind: type
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    many: bool = False

    def said(self) -> str:
        """The valid values in words."""
        what = ("int" if self.kind is int else "number") + ("s" if self.many else "")
        if self.low is not None and self.high is not None:
            bound = f" in {'(' if self.open_low else '['}{self.low}, {self.high}]"
        elif self.low is not None:
            bound = f" {'>' if self.open_low else '>='} {self.low}"
        else:
            bound = ""
        return f"a non-empty tuple of {what}{bound}" if self.many else \
            f"{'an' if self.kind is int else 'a'} {what}{bound}"

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is valid."""
        if self.many:
            return isinstance(value, (tuple, list)) and bool(value) and all(
                Setting(self.kind, self.low, self.high, self.open_low).accepts(v) for v in value)
        kinds = (int,) if self.kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return self.high is None or value <= self.high


class NASOptimizer(base.Optimizer):
    """Base of the NAS strategies: genotypes, the told and pending sets, proposals.

    Subclasses implement ``_propose()`` (a genotype, preferably neither told nor pending)
    and ``_observe(geno, loss, asked)``. Every tell, asked or not, reaches ``_observe``.
    """

    #: whether ``tell_priors`` keeps each earlier run's results on its own task (ranked
    #: there); False: told as results of this search, as any nevergrad optimizer is
    #: (``Reinforce``), so a source of another monitor or mode is refused
    priors_on_own_task = False

    #: the strategy's settings (class attributes a subclass changes) and their valid values,
    #: checked when it is made (``check_settings``)
    settings: ClassVar[Mapping[str, Setting]] = {}

    def __init__(self, parametrization: Any, budget: int | None = None,
                 num_workers: int = 1) -> None:
        self.check_settings()
        super().__init__(parametrization, budget=budget, num_workers=num_workers)
        self.codec = Codec(self.parametrization)
        self.told: dict[Geno, float] = {}  # genotype -> best loss told
        self.pending: dict[str, Geno] = {}  # candidate uid -> genotype asked, not told
        self.history: list[tuple[Geno, float]] = []  # first tell of each genotype, in order
        #: results of earlier searches: (genotype, loss on its task, task), as told
        self.priors: list[tuple[Geno, float, str]] = []
        #: every loss of each prior (``priors`` keeps the first), in the same order
        self.prior_losses: list[tuple[float, ...]] = []
        self.prior_ranking: list[Geno] = []  # best first, the tasks' rankings interleaved
        self._priors_told = 0  # how many of ``priors`` the default ``_use_priors`` told

    @classmethod
    def check_settings(cls) -> None:
        """Raise ``ConfigError`` naming the class, the setting, its value and its valid
        values where a setting of ``settings`` is invalid (was: ``RegularizedEvolution``'s
        ``sample_size = 0`` crashed at its first tournament, mid-search, and its
        ``population_size = 0`` made it random search, said nowhere)."""
        for attr in cls.settings:
            _check_setting(cls, attr, getattr(cls, attr))

    def __setattr__(self, name: str, value: Any) -> None:
        """A setting of ``settings`` set on an instance is checked as a class's is (was:
        taken as set: ``opt.sample_size = 0`` crashed at the first tournament)."""
        if name in type(self).settings:
            _check_setting(self, name, value)
        super().__setattr__(name, value)

    # ----------------------------------------------------------------- nevergrad hooks
    def _internal_ask_candidate(self) -> ng.p.Parameter:
        geno = self._propose()
        candidate = candidate_of(self.parametrization, self.codec.decode(geno))
        self.pending[candidate.uid] = geno
        return candidate

    def _internal_tell_candidate(self, candidate: ng.p.Parameter, loss: float) -> None:
        geno = self.pending.pop(candidate.uid, None)
        self._record(self.codec.encode(candidate.value) if geno is None else geno,
                     self._primary(candidate, loss), True)

    def _internal_tell_not_asked(self, candidate: ng.p.Parameter, loss: float) -> None:
        self._record(self.codec.encode(candidate.value), self._primary(candidate, loss), False)

    def _primary(self, candidate: ng.p.Parameter, loss: float) -> float:
        """The loss a strategy learns from. With several objectives: the first one's (the
        objective that picks the best trial) plus the penalty nevergrad added for a
        constraint violation; nevergrad's own scalar there is the candidate's gain in
        hypervolume (0.0 until its reference point is set), which does not rank candidates."""
        if self.num_objectives <= 1:
            return loss
        return float(candidate.losses[0]) + max(0.0, float(loss) - float(candidate.loss))

    def _record(self, geno: Geno, loss: float, asked: bool) -> None:
        loss = float(loss)
        if math.isnan(loss):
            loss = math.inf
        first = geno not in self.told
        if first:
            self.told[geno] = loss
            self.history.append((geno, loss))
        else:
            self.told[geno] = min(self.told[geno], loss)
        self._observe(geno, loss, asked, first)

    # ----------------------------------------------------------------- warm start
    def tell_priors(self, priors: Sequence[tuple[dict[str, Any], float | Sequence[float],
                                                 str]]) -> None:
        """Learn from results of earlier searches before the first ask.

        Each prior is ``(architecture, loss on its own task, task)``, a loss per objective
        with several; losses of different tasks are on different scales. The priors are
        ranked within their task (ties on the first loss by the later ones in order, as
        the best trial's; was: by the first alone, then the order given) and the rankings
        interleaved (``prior_ranking``: each task's best, then each task's second, ...);
        ``_use_priors`` decides what the strategy does with them, learning from the first
        loss (``priors``). The default (used by ``Reinforce``) tells them as they are, like
        any nevergrad optimizer. A second call adds its priors to the first's: the same
        state as one call with both lists (was: the ranking held the second call's alone,
        and the default told the first call's priors again).
        """
        for arch, loss, task in priors:
            losses = [math.inf if math.isnan(float(x)) else float(x)
                      for x in (loss if isinstance(loss, (list, tuple)) else [loss])]
            self.priors.append((self.codec.encode(arch), losses[0], task))
            self.prior_losses.append(tuple(losses))
        ranked = [(geno, losses, task) for (geno, _, task), losses
                  in zip(self.priors, self.prior_losses, strict=True)]
        self.prior_ranking = list(dict.fromkeys(rank_priors(ranked)))
        self._use_priors()

    def _use_priors(self) -> None:
        for geno, loss, _ in self.priors[self._priors_told:]:
            self._record(geno, loss, False)
        self._priors_told = len(self.priors)

    def next_prior(self) -> Geno | None:
        """The best-ranked prior architecture neither told nor pending, or None."""
        pending = self._pending_set()
        for geno in self.prior_ranking:
            if geno not in self.told and geno not in pending:
                return geno
        return None

    # ----------------------------------------------------------------- for subclasses
    def _propose(self) -> Geno:
        raise NotImplementedError

    def _observe(self, geno: Geno, loss: float, asked: bool, first: bool) -> None:
        """Learn from a result (``first``: the first time this genotype is told)."""

    def is_new(self, geno: Geno) -> bool:
        """Neither told nor pending."""
        return geno not in self.told and geno not in self._pending_set()

    def _pending_set(self) -> set[Geno]:
        return set(self.pending.values())

    def exhausted(self) -> bool:
        """Every architecture of a finite space is told or pending."""
        return len(self.told) + len(self._pending_set() - set(self.told)) >= self.codec.size

    def random_new(self, tries: int = 100) -> Geno:
        """A random genotype neither told nor pending; after ``tries`` random misses (a
        nearly exhausted space), the nearest new one by one-leaf steps from the last miss;
        that miss itself only when no new one is found (``NEAR_STEPS`` looked at)."""
        geno = self.codec.random(self._rng)
        for _ in range(tries):
            if self.is_new(geno):
                return geno
            geno = self.codec.random(self._rng)
        return self._nearest_new(geno) or geno

    def _nearest_new(self, start: Geno) -> Geno | None:
        """A new genotype reached from ``start`` by one-leaf steps, breadth first."""
        if self.exhausted():
            return None
        told, pending = self.told, self._pending_set()
        seen, queue = {start}, collections.deque([start])
        while queue and len(seen) < NEAR_STEPS:
            for near in self.codec.neighbours(queue.popleft(), self._rng):
                if near not in told and near not in pending:
                    return near
                if near not in seen:
                    seen.add(near)
                    queue.append(near)
        return None

    def mutate_new(self, parent: Geno, tries: int = 50) -> Geno:
        """A new mutation of ``parent`` (one leaf, more after failed tries), else random."""
        pending = self._pending_set()
        for t in range(tries):
            child = self.codec.mutate(parent, self._rng, n=1 + t // 10)
            if child not in self.told and child not in pending:
                return child
        return self.random_new()

    def best(self, k: int = 1) -> list[tuple[Geno, float]]:
        """The ``k`` best told genotypes with their losses, best first."""
        return sorted(self.told.items(), key=lambda item: item[1])[:k]

    def told_values(self) -> list[dict[str, Any]]:
        """Architecture values told so far, in the order first told."""
        return [self.codec.decode(g) for g, _ in self.history]


def _check_setting(owner: Any, attr: str, value: Any) -> None:
    """Raise ``ConfigError`` where ``value`` is no valid value of ``owner``'s (a strategy
    class or instance) setting ``attr``, naming the class (and the strategy it subclasses),
    the setting, the value, its valid values and the settings as ``owner`` has them."""
    cls = owner if isinstance(owner, type) else type(owner)
    setting = cls.settings[attr]
    if setting.accepts(value):
        return
    strategy = next((c.__name__ for c in cls.__mro__[1:] if c is not NASOptimizer and
                     c.__module__.startswith("lightning_nas.strategies.")), None)
    said = ", ".join(f"{a} = {value if a == attr else getattr(owner, a)!r}"
                     for a in cls.settings)
    raise ConfigError(f"strategy {cls.__name__}{f' (a {strategy})' if strategy else ''}: "
                      f"{attr} = {value!r} is invalid, it must be {setting.said()} (its "
                      f"settings: {said})")

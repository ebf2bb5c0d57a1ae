"""What a warm start imported: each earlier result mapped onto the current space
(``Prior``), and per source what was read, used, merged, skipped, filled and dropped
(``SourceReport``, ``WarmStartReport``: stored as meta ``warm_start``).

Example:
    >>> rep = SourceReport("runs/a", "acc", "max", trials=3, used=2, not_completed=1)
    >>> rep.describe()
    'warm start from runs/a (acc, max): 2 of 3 trials used; skipped: 1 not completed'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from lightning_nas.wording import counted, unknown_status

__all__ = ["Prior", "SourceReport", "WarmStartReport"]


@dataclass(frozen=True)
class Prior:
    """One result of an earlier run, mapped onto the current space.

    Args:
        arch: the architecture in the current space.
        loss: what a minimising optimizer is told (``-score`` when its run maximised;
            with several objectives, the first of ``losses``).
        score: the monitor's value in its run.
        task: which results share a scale (the source run's folder).
        source: the source run's folder; ``source_trial`` its trial id there.
        losses: with several objectives, one loss per objective (the trial's value of it,
            in this search's mode; the first is ``loss``).
    """

    arch: dict[str, Any]
    loss: float
    score: float | None
    task: str
    source: str
    source_trial: int
    losses: list[float] | None = None

    def row(self) -> dict[str, Any]:
        """The store's row of this prior."""
        return asdict(self)


@dataclass
class SourceReport:
    """What one source run gave: counts, filled and dropped keys, skipped trials."""

    source: str
    monitor: str | None = None
    mode: str | None = None
    trials: int = 0
    used: int = 0
    not_completed: int = 0
    merged: int = 0
    lacking: dict[str, int] = field(default_factory=dict)  # objective -> trials without it
    #: objective -> trials whose value of it is NaN or infinite
    not_finite: dict[str, int] = field(default_factory=dict)
    filled: dict[str, Any] = field(default_factory=dict)
    #: keys the earlier space lacked, at the value its run had (its config or init args)
    recorded: dict[str, Any] = field(default_factory=dict)
    #: of those, keys whose value differed by the trials' config-group options: each value
    recorded_by_option: dict[str, list[Any]] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    out_of_space: list[list[Any]] = field(default_factory=list)  # [trial id, reason]
    #: trials of which no key of this space came (each would be all fill values)
    unrelated: int = 0
    #: ``warm_start_fill`` keys this source's trials had: their own values were taken
    fill_unused: list[str] = field(default_factory=list)
    #: this search's first objective, which the source never logged: its monitor stands in
    first_from_monitor: str | None = None
    #: the fewest and most epochs the used results trained there (their fidelity; empty
    #: where none says: an ``objective`` function's trials)
    epochs: list[int] = field(default_factory=list)
    #: the not completed trials by status (lower case: ``paused``, ``running``, ...)
    not_completed_by: dict[str, int] = field(default_factory=dict)
    #: with running trials: ``"stopped"`` (its search's process is gone), ``"pid N on
    #: HOST"`` (it is still running), ``""`` (not known); whatever its trials, the holder
    #: of its ``search.lock`` where its search held it when read (``live``)
    source_driver: str | None = None
    #: this search's mode, where the source ranked this search's monitor the other way
    other_mode: str | None = None
    #: whether the source is a Hydra sweep's run folder (its store's meta ``hydra``)
    swept: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceReport:
        """The report of one source as stored (``asdict``, in meta ``warm_start``), by any
        version: a key this version does not know (a newer one's) is ignored, a key it
        lacks (an older one's) takes its default (was: ``TypeError: ... unexpected keyword
        argument``, of a newer version's store).

        Example:
            >>> SourceReport.from_dict({"source": "runs/a", "used": 2, "newer": 1}).used
            2
        """
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def live(self) -> bool:
        """Whether the source's search was still running when it was read."""
        return self.source_driver not in (None, "", "stopped")

    @property
    def completed(self) -> int:
        """The source's trials that had completed (with a score) when it was read."""
        return self.trials - self.not_completed

    def still_being(self) -> str:
        """How a source read while its run went on is said (``live_warning``, ``describe``,
        ``show`` and the report): ``still being swept`` (a Hydra sweep's run folder) or
        ``still being searched``.

        Example:
            >>> SourceReport("runs/a", swept=True).still_being()
            'still being swept'
        """
        return f"still being {'swept' if self.swept else 'searched'}"

    def live_warning(self) -> str:
        """What a search warm-started from a source still being searched (a Hydra sweep's:
        swept) is warned of, before its first trial: its later results are not used.

        Example:
            >>> print(SourceReport("runs/a", trials=3, used=2, not_completed=1,
            ...                    source_driver="pid 4242 on host").live_warning())
            ... # doctest: +NORMALIZE_WHITESPACE
            warm_start source runs/a is still being searched (pid 4242 on host): it is read
            as it is now, 2 trials of it completed so far, 2 used as priors; the trials it
            completes later are not used, by this search or its resume (it keeps these
            priors): to use them, start this search once that one has ended
        """
        used = f"{self.used} used as a prior" if self.used == 1 else \
            f"{self.used} used as priors"
        return (f"warm_start source {self.source} is {self.still_being()} "
                f"({self.source_driver}): it is read as it is now, "
                f"{counted(self.completed, 'trial')} of it completed so far, {used}; the "
                f"trials it completes later are not used, by this search or its resume (it "
                f"keeps these priors): to use them, start this search once that one has "
                f"ended")

    def empty_warning(self) -> str:
        """What a search warm-started from a source that gives it no prior is warned of,
        before its first trial, with why (was: said only among a verbose search's lines).

        Example:
            >>> print(SourceReport("runs/a", trials=2, not_completed=2,
            ...                    not_completed_by={"failed": 2}).empty_warning())
            ... # doctest: +NORMALIZE_WHITESPACE
            warm_start source runs/a gives this search no prior (2 of its 2 trials skipped:
            2 not completed (2 failed)): it starts as if that source were not given; check
            the folder and this search's space, or leave it out of warm_start
        """
        why = (f"{self.trials} of its {counted(self.trials, 'trial')} skipped: "
               f"{', '.join(self.skipped())}" if self.trials else "it holds no trial")
        return (f"warm_start source {self.source} gives this search no prior ({why}): it "
                f"starts as if that source were not given; check the folder and this "
                f"search's space, or leave it out of warm_start")

    def trained(self) -> str:
        """The epochs the used results trained, ``""`` where unknown.

        Example:
            >>> SourceReport("runs/a", epochs=[2, 4]).trained()
            '2 to 4 epochs'
        """
        if not self.epochs:
            return ""
        low, high = self.epochs
        return counted(high, "epoch") if low == high else f"{low} to {high} epochs"

    def skipped(self, reasons: bool = True) -> list[str]:
        """Why trials were not used, one phrase per cause (``reasons``: the first trials
        outside this space with why, as the search says it; False: the counts, as ``show``
        says them).

        Example:
            >>> SourceReport("runs/a", out_of_space=[[3, "width=219"]]).skipped(False)
            ['1 outside this space']
        """
        skipped = []
        if self.not_completed:
            skipped.append(f"{self.not_completed} not completed" + self._statuses(reasons))
        if self.out_of_space:
            why = "; ".join(f"#{t}: {r}" for t, r in self.out_of_space[:3])
            more = f"; ... {len(self.out_of_space) - 3} more" if len(self.out_of_space) > 3 else ""
            skipped.append(f"{len(self.out_of_space)} outside this space"
                           + (f" ({why}{more})" if reasons else ""))
        if self.unrelated:
            skipped.append(f"{self.unrelated} sharing no key with this space" + (
                " (every key would be a fill value: an architecture the trial never ran)"
                if reasons else ""))
        if self.lacking:
            skipped.append(", ".join(f"{n} without objective {k!r}"
                                     for k, n in self.lacking.items()))
        if self.not_finite:
            skipped.append(", ".join(f"{n} with objective {k!r} NaN or infinite"
                                     for k, n in self.not_finite.items()))
        if self.merged:
            skipped.append(f"{self.merged} merged into a better one with the same mapped "
                           f"architecture")
        return skipped

    def _statuses(self, reasons: bool) -> str:
        """The not completed trials by status, `` (2 paused, 1 failed)`` (``reasons``: what
        a paused one's score is, whether a running one's search stopped; one still running
        is said by ``describe``)."""
        said = []
        order = ("paused", "pruned", "failed", "rejected", "running")
        for status, n in sorted(self.not_completed_by.items(), key=lambda kv: (
                order.index(kv[0]) if kv[0] in order else len(order), kv[0])):
            said.append(f"{n} {status}")
            if reasons and status == "paused":
                said[-1] += " at a rung: scores of fewer epochs"
            elif reasons and status == "running" and self.source_driver == "stopped":
                said[-1] += " when its search stopped"
            elif reasons and status not in order and status != "without a score":
                said[-1] += f": {unknown_status()}"
        return f" ({', '.join(said)})" if said else ""  # (a report before: none)

    def keys(self) -> list[str]:
        """The keys this space added (with the value each prior took) and dropped, one
        phrase for each kind (``describe``; ``show`` and the HTML report too).

        Example:
            >>> SourceReport("runs/a", filled={"w": 32}, dropped=["extra"]).keys()
            ['keys added with w=32', 'keys dropped: extra']
        """
        said = []
        if self.recorded:
            said.append("keys added with the earlier run's values " + ", ".join(
                f"{k}={' or '.join(map(repr, self.recorded_by_option[k]))} (by each trial's "
                f"config-group options)" if k in self.recorded_by_option else f"{k}={v!r}"
                for k, v in self.recorded.items()))
        if self.filled:
            said.append("keys added with " + ", ".join(f"{k}={v!r}"
                                                       for k, v in self.filled.items()))
        if self.dropped:
            said.append("keys dropped: " + ", ".join(self.dropped))
        return said

    def ranked(self) -> str:
        """Of a source that ranked this search's monitor the other way (``other_mode``):
        that its results rank as they did there (``describe``; ``show`` and the HTML report
        too, was: not said there); ``""`` of any other.

        Example:
            >>> SourceReport("runs/a", monitor="acc", mode="max", other_mode="min").ranked()
            'acc was maximised there and is minimised here: its results rank as they did \
there (its best is its highest acc)'
        """
        if not self.other_mode:  # its best is told as its best, on its own task
            return ""
        words = {"max": ("maximised", "highest"), "min": ("minimised", "lowest")}
        return (f"{self.monitor} was {words[self.mode][0]} there and is "
                f"{words[self.other_mode][0]} here: its results rank as they did there "
                f"(its best is its {words[self.mode][1]} {self.monitor})")

    def scale(self) -> list[str]:
        """What its results' losses are of (``describe``; ``show`` and the HTML report too,
        was: said at the search's start alone): a ranking the other way (``ranked``), its
        monitor standing in for this search's first objective, which it never logged.

        Example:
            >>> SourceReport("runs/a", monitor="acc", mode="max",
            ...              first_from_monitor="latency").scale()  # doctest: +ELLIPSIS
            ["first objective 'latency' not logged there: its monitor acc (max) stands ..."]
        """
        said = [self.ranked()] if self.other_mode else []
        if self.first_from_monitor:
            said.append(f"first objective {self.first_from_monitor!r} not logged there: its "
                        f"monitor {self.monitor} ({self.mode}) stands in, on its own task")
        return said

    def describe(self) -> str:
        """One paragraph for the search's output."""
        trained = f"; its results trained {self.trained()}" if self.epochs else ""
        text = (f"warm start from {self.source} ({self.monitor}, {self.mode}{trained}): "
                f"{self.used} of {counted(self.trials, 'trial')} used")
        if skipped := self.skipped():
            text += "; skipped: " + ", ".join(skipped)
        # (was: said of a RUNNING trial only; of none, a finished search's; "its search is
        # still running" of a sweep's run folder too)
        if self.live:
            text += (f"; read while it is {self.still_being()} ({self.source_driver}): its "
                     f"results so far, those it completes later are not used")
        text += "".join(f"; {phrase}" for phrase in self.scale() + self.keys())
        if self.fill_unused:
            text += ("; warm_start_fill not used for " + ", ".join(self.fill_unused)
                     + " (its trials had them)")
        return text


@dataclass
class WarmStartReport:
    """The reports of every source, in the order given."""

    sources: list[SourceReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON data (stored as meta ``warm_start``)."""
        return {"sources": [asdict(s) for s in self.sources]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WarmStartReport:
        """The report stored by ``to_dict``, by any version (``SourceReport.from_dict``: a
        key this version does not know is ignored)."""
        return cls([SourceReport.from_dict(s) for s in data.get("sources", [])])

    def describe(self) -> str:
        """One line per source."""
        return "\n".join(s.describe() for s in self.sources)

    @property
    def used(self) -> int:
        """Results used, over every source."""
        return sum(s.used for s in self.sources)

"""``AskTell``: the optimizer's asks and tells, numbered and logged in the run store, so that
a resumed search replays them and goes on exactly as if it had not stopped.

Every candidate gets a number in the order it was made: ``ask`` (proposed by the
optimizer) or ``given`` (spawned from a known architecture: a re-trained prior, or an
architecture whose replay diverged). Events are logged with the store's table ``events``:

- ``ask`` / ``given``: candidate ``n``, the trial it started (or None: a repeat or a twin
  of a running trial), its architecture key;
- ``tell``: candidate ``n`` was told ``loss`` (and a constraint ``violation``).

A repeat (an architecture already evaluated, told its loss again at once) logs its ask
and tell in one transaction; an ask that starts a trial is logged with the trial's id
once the trial is in the store. So a kill between two writes never leaves an ask whose
effect the store does not show.

``replay(events)`` makes the same calls on a fresh optimizer with the same seed and the
same priors: the same proposals come back (each checked against the logged key), so the
optimizer's state, random state included, is what it was when the search stopped. An
optimizer that is not deterministic (or not seeded) diverges: from there on the logged
architectures are told as not asked (the search goes on, no longer exactly); one that
cannot be told what it did not propose (``EDA``) refuses the resume (``ConfigError``).

An error raised inside the optimizer's ``ask`` or ``tell`` (nevergrad's "Over the budget"
of a sequence optimizer asked more than ``budget`` times, its ``MetaModel`` under a numpy
it does not support) stops the search as a ``SearchError`` that names the optimizer, the
call and its number (counted from the replay's first, so a resume says the same).

Example:
    >>> import tempfile
    >>> from lightning_nas.space import SearchSpace
    >>> from lightning_nas.store import RunStore
    >>> from lightning_nas.strategies import make_optimizer
    >>> space = SearchSpace.from_dict({"k": {"choice": [1, 2, 3, 4]}})
    >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
    >>> first = AskTell(make_optimizer("RandomSearch", space, seed=0), space, store)
    >>> c = first.ask()
    >>> first.started(c, trial_id=1)
    >>> first.tell([c], 0.5)
    >>> again = AskTell(make_optimizer("RandomSearch", space, seed=0), space, store)
    >>> again.replay() and again.ask().value == first.ask().value
    True
"""

from __future__ import annotations

import json
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import nevergrad as ng

from lightning_nas.arch import arch_key
from lightning_nas.errors import ConfigError, NASError, OptimizerError
from lightning_nas.results import TrialStatus
from lightning_nas.space import SearchSpace
from lightning_nas.store import RunStore
from lightning_nas.strategies.base import NASOptimizer
from lightning_nas.strategies.codec import candidate_of
from lightning_nas.strategies.registry import optimizer_failed, replay_refused, tells_not_asked

__all__ = ["UNLOGGED", "AskTell"]

#: what a resume of a store written before the asks were logged says, once: its stored
#: trials are told as given, so the fresh optimizer's state, random state included, is not
#: the stopped run's (was: said nothing)
UNLOGGED = ("This run was written by a version that did not log the optimizer's asks; the "
            "search goes on from the stored results, but cannot make the choices the "
            "uninterrupted run would have.")


class AskTell:
    """Numbered, logged asks and tells of one optimizer.

    Args:
        optimizer: a nevergrad optimizer (priors already told, if any).
        space: validates the proposals.
        store: where events are logged.
        name: the optimizer's registry name (for errors; default: its class name).
        seeded: whether the search seeds the optimizer (for the error of a replay that
            diverged).
    """

    def __init__(self, optimizer: Any, space: SearchSpace, store: RunStore,
                 name: str | None = None, seeded: bool = True) -> None:
        self.optimizer, self.space, self.store = optimizer, space, store
        self.name, self.seeded = name or type(optimizer).__name__, seeded
        self.count = 0
        self.calls = {"ask": 0, "tell": 0}  # the optimizer's asks and tells made
        self._number: dict[str, int] = {}  # candidate uid -> its number
        self.diverged_at: int | None = None  # the candidate whose replay diverged
        self.seen: dict[str, Any] = {}  # replayed: arch key -> the loss last told
        self.violated: dict[str, float] = {}  # replayed: arch key -> its violation told
        #: replayed candidates asked, not told: trial id (twins: -number-1) -> (cand, key)
        self.pending: dict[int, tuple[Any, str]] = {}

    # ----------------------------------------------------------------- live
    def ask(self) -> Any:
        """A new candidate from the optimizer (its event is logged by ``started``,
        ``repeated`` or ``twin``)."""
        return self._numbered(self._call("ask", self.optimizer.ask))

    def given(self, arch: dict[str, Any], trial_id: int) -> Any:
        """A candidate for a known architecture (not asked), starting trial ``trial_id``."""
        candidate = self._numbered(candidate_of(self.optimizer.parametrization, arch))
        self.store.log_events([self._event("given", candidate, trial_id, arch_key(arch))])
        return candidate

    def started(self, candidate: Any, trial_id: int) -> None:
        """``candidate`` (asked) started trial ``trial_id``."""
        key = arch_key(self.space.validate(candidate.value))
        self.store.log_events([self._event("ask", candidate, trial_id, key)])

    def twin(self, candidate: Any) -> None:
        """``candidate`` repeats a running trial's architecture: told when that one ends."""
        key = arch_key(self.space.validate(candidate.value))
        self.store.log_events([self._event("ask", candidate, None, key)])

    def repeated(self, candidate: Any, loss: Any, trial_id: int | None = None,
                 violation: float | None = None) -> None:
        """Tell ``candidate`` its ``loss`` at once (an evaluated architecture, or a
        rejected one: ``trial_id`` and ``violation``); ask and tell logged together."""
        key = arch_key(self.space.validate(candidate.value))
        self._tell(candidate, loss, violation)
        self.store.log_events([self._event("ask", candidate, trial_id, key),
                               self._tell_event(candidate, loss, violation)])

    def tell(self, candidates: list[Any], loss: Any, violation: float | None = None) -> None:
        """Tell each of ``candidates`` (a trial's and its twins') the trial's ``loss``."""
        for candidate in candidates:
            self._tell(candidate, loss, violation)
        self.store.log_events([self._tell_event(c, loss, violation) for c in candidates])

    # ----------------------------------------------------------------- resume
    def replay(self) -> bool:
        """Replay the store's events on this (fresh) optimizer; the candidates of trials
        still running or of their twins stay asked, not told (``pending``). Returns whether
        the store had events (stores written before events were logged have none)."""
        events = self.store.events()
        made: dict[int, tuple[Any, str]] = {}  # number -> (candidate, arch key)
        for event in events:
            n = event["ask"]
            if event["kind"] == "tell":
                candidate, key = made[n]
                self._tell(candidate, event["loss"], event["violation"])
                self.seen[key] = event["loss"]
                if event["violation"]:  # a rejected one: told its violation again
                    self.violated[key] = event["violation"]
                self.pending = {t: c for t, c in self.pending.items() if c[0] is not candidate}
                continue
            made[n] = (self._replayed(event), event["arch_key"])
            self.pending[event["trial_id"] if event["trial_id"] is not None else -n - 1] = made[n]
        return bool(events)

    def twins_of(self, key: str) -> list[Any]:
        """The replayed candidates waiting for a running trial with architecture ``key``
        (removed from ``pending``)."""
        twins = [t for t, (_, k) in self.pending.items() if t < 0 and k == key]
        return [self.pending.pop(t)[0] for t in twins]

    def pending_trial(self, trial_id: int) -> Any | None:
        """The replayed candidate of a trial still running (removed from ``pending``)."""
        entry = self.pending.pop(trial_id, None)
        return None if entry is None else entry[0]

    def _replayed(self, event: dict[str, Any]) -> Any:
        arch = json.loads(event["arch_key"])
        if event["kind"] == "ask" and self.diverged_at is None:
            candidate = self._call("ask", self.optimizer.ask)
            if arch_key(self.space.validate(candidate.value)) == event["arch_key"]:
                return self._numbered(candidate)
            self.diverged_at = event["ask"]
            self._check_not_asked()
        return self._numbered(candidate_of(self.optimizer.parametrization, arch))

    def _check_not_asked(self) -> None:
        """Refuse a replay that diverged (its candidates from here on are told as not asked)
        with an optimizer that cannot be told what it did not propose: a ``ConfigError``
        before any trial (was: its ``TellNotAskedNotSupportedError`` at a later tell, said
        as an error of the optimizer itself)."""
        try:
            takes = tells_not_asked(self.name, self.space, getattr(self.optimizer, "budget", None),
                                    getattr(self.optimizer, "num_workers", 1))
        except Exception:  # noqa: BLE001 - not told here: its tell says what it raises
            return
        if not takes:
            raise ConfigError(replay_refused(self.name, self.diverged_at, self.seeded,
                                             str(self.store.path.parent)))

    # ----------------------------------------------------------------- helpers
    def _numbered(self, candidate: Any) -> Any:
        self._number[candidate.uid] = self.count
        self.count += 1
        return candidate

    def _tell(self, candidate: Any, loss: Any, violation: float | None) -> None:
        with warnings.catch_warnings():  # the inf a strategy of ours is told for a failure
            warnings.filterwarnings(  # before any result (nevergrad clips it to 5e20)
                "ignore", category=ng.errors.LossTooLargeWarning, message=".* inf in tell")
            if isinstance(self.optimizer, NASOptimizer):  # with several objectives: an inf
                # in nevergrad's hypervolume bounds, whose scalar they do not learn from; its
                # inf for finite losses worse in each than the first ones (was: said)
                warnings.filterwarnings("ignore", category=RuntimeWarning,
                                        module=r"nevergrad\.optimization\.multiobjective")
                warnings.filterwarnings("ignore", category=ng.errors.BadLossWarning,
                                        message="Updating fitness with (nan|inf) value")
            if violation is None:
                self._call("tell", lambda: self.optimizer.tell(candidate, loss))
            else:
                self._call("tell", lambda: self.optimizer.tell(
                    candidate, loss, constraint_violation=[violation]))

    def _call(self, kind: str, call: Callable[[], Any]) -> Any:
        """The optimizer's ``ask`` or ``tell`` (``kind``); an error it raises stops the
        search (``OptimizerError``: the optimizer, its call, what to do)."""
        self.calls[kind] += 1
        try:
            return call()
        except NASError:  # said already (a NAS strategy's SpaceError)
            raise
        except Exception as err:  # noqa: BLE001 - raised inside the optimizer: any error
            # its frames' objects go now: a recast optimizer among them (MetaModel's inner
            # one) stops its thread when deleted, which would keep the process from exiting
            traceback.clear_frames(err.__traceback__)
            completed = self.store.count(TrialStatus.COMPLETED)
            raise OptimizerError(optimizer_failed(
                self.name, f"{kind} {self.calls[kind]}", err,
                getattr(self.optimizer, "budget", None), completed)) from err

    def _event(self, kind: str, candidate: Any, trial_id: int | None, key: str
               ) -> dict[str, Any]:
        return {"kind": kind, "ask": self._number[candidate.uid], "trial_id": trial_id,
                "arch_key": key}

    def _tell_event(self, candidate: Any, loss: Any, violation: float | None
                    ) -> dict[str, Any]:
        return {"kind": "tell", "ask": self._number[candidate.uid], "loss": loss,
                "violation": violation}

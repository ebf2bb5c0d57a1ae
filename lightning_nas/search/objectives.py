"""Several objectives, and what nevergrad is told of a trial.

- ``Objectives({"val_acc": "max", "params": "min"})``: what a search optimizes. The first
  is the *primary* one (the monitor of trials, checkpoints and schedulers); nevergrad is
  told all of them (it keeps a Pareto front by hypervolume); ``pareto_front`` returns the
  non-dominated trials, ``front_rows`` a run's front as rows.
- ``told_loss`` / ``waits_for_a_result``: the loss nevergrad is told for a trial's result
  (a failed or rejected one's worse than any seen), and when.

What a metric's name says (``mode_for``, ``contrary_modes``, ``misspelt_cost``, ``COSTS``)
lives in ``search/metric_names.py``, the constraints on candidates (``Constraints``,
``constraint_record``) in ``search/constraints.py``; both are re-exported here, their
earlier import path.

Example:
    >>> obj = Objectives({"val_acc": "max", "params": "min"})
    >>> obj.losses({"val_acc": 0.9, "params": 1000.0})
    [-0.9, 1000.0]
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lightning_nas import errors
from lightning_nas.errors import ConfigError, SearchError, check_mode, did_you_mean
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.constraints import Constraints, constraint_record
from lightning_nas.search.metric_names import COSTS, contrary_modes, misspelt_cost, mode_for

if TYPE_CHECKING:
    from lightning_nas.store import RunStore

__all__ = ["COSTS", "NO_SCALE", "Constraints", "Objectives", "constraint_record",
           "contrary_modes", "function_metrics",
           "front_rows", "misspelt_cost", "mode_for", "pareto_front", "told_loss",
           "waits_for_a_result"]

#: a failure's loss before any result gives a scale, where it cannot wait (Cobyla, SQP: their
#: next ask waits for it): nevergrad's cap, to which it clips a larger loss (``inf`` hung
#: Cobyla; was: 1.0, better than a ``val_loss`` of 2.0: the failed architecture its best)
NO_SCALE = 5.0e20


class Objectives:
    """Objective names with ``"max"`` or ``"min"``, in order (the first is primary).

    Raises:
        ConfigError: for an empty mapping, a name that is no non-blank string (a YAML key
            ``1`` or ``null``), or a mode that is not max/min.
    """

    def __init__(self, objectives: Mapping[str, str]) -> None:
        errors.check_objectives_mapping(objectives, "objectives must map metric names to max/min")
        for name, mode in objectives.items():
            if not isinstance(name, str) or not name.strip():  # (was: 3, None: an
                # AttributeError from the words check; "": trial 1 trained, then stopped)
                raise ConfigError(f"objective name {name!r} names no metric: each name is a "
                                  f"metric the model logs (self.log) or a counted cost "
                                  f"({' / '.join(COSTS)}), got {dict(objectives)!r}")
            check_mode(mode, f"objectives.{name}")
        self.modes = dict(objectives)

    @property
    def names(self) -> list[str]:
        """Objective names, primary first."""
        return list(self.modes)

    @property
    def multi(self) -> bool:
        """More than one objective."""
        return len(self.modes) > 1

    def costs(self) -> list[str]:
        """The objectives that are costs lightning_nas can count (``params``, ``flops``)."""
        return [n for n in self.modes if n in COSTS]

    def losses(self, metrics: Mapping[str, float]) -> list[float]:
        """Values to minimize, one per objective (KeyError if one is missing)."""
        return [-float(metrics[n]) if m == "max" else float(metrics[n])
                for n, m in self.modes.items()]

    def not_finite(self, metrics: Mapping[str, float]) -> str | None:
        """Why ``metrics`` cannot be told (an objective missing, NaN or infinite), or None:
        the values an ``objective=`` function or a Hydra task returned, which have no epoch
        (a trained trial's are checked at each validation; was: said "at the best epoch").

        Example:
            >>> both = Objectives({"acc": "max", "cost": "min"})
            >>> both.not_finite({"acc": 1.0, "cost": -math.inf})
            "objective 'cost' is -inf"
        """
        bad = [f"{n!r} is {metrics[n]}" if n in metrics else f"{n!r} not logged"
               for n in self.modes if n not in metrics or not math.isfinite(float(metrics[n]))]
        return f"objective {', '.join(bad)}" if bad else None

    def to_dict(self) -> dict[str, str]:
        """The mapping form."""
        return dict(self.modes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Objectives) and list(self.modes.items()) == list(
            other.modes.items())

    def __hash__(self) -> int:
        return hash(tuple(self.modes.items()))

    def __repr__(self) -> str:
        return f"Objectives({self.modes!r})"


def function_metrics(returned: Any, monitor: str,
                     objectives: Sequence[str] = ()) -> dict[str, float] | str:
    """The metrics an ``objective=`` function returned, as floats, or why they are none: a
    return that is no mapping (a bare number, a string, a tuple of numbers: was ``dict``'s
    error), or a value that is text (``"0.5"``, a bug of the function: was taken as the
    number 0.5), no number (None: was ``float``'s error, naming no metric), or a bool for the
    ``monitor`` or one of the other ``objectives`` (a score from ``True``: a bug too), as a
    Hydra task's values are read. A bool of a metric that is no objective (``"converged":
    True``) is stored as 1.0 or 0.0, as Lightning's ``self.log`` stores it.

    Example:
        >>> function_metrics({"acc": 0.5, "converged": True}, "acc")
        {'acc': 0.5, 'converged': 1.0}
        >>> function_metrics({"acc": "0.5"}, "acc")[:55]
        "the objective function returned 'acc' as str '0.5', not"
    """
    metrics = None
    if not isinstance(returned, (str, bytes)) and hasattr(returned, "__iter__"):
        with contextlib.suppress(TypeError, ValueError):
            metrics = dict(returned)  # pairs too, as before
    if metrics is None:
        return (f"the objective function returned {type(returned).__name__} {returned!r:.60}, "
                f"not a mapping of metric names to numbers; return a dict, e.g. "
                f"{{{monitor!r}: 0.9}}")
    scored = {monitor, *objectives}
    numbers: dict[str, float] = {}
    for name, value in metrics.items():
        refused = isinstance(value, (str, bytes)) or (isinstance(value, bool) and name in scored)
        if not refused:
            try:
                numbers[name] = float(value)
            except (TypeError, ValueError, RuntimeError):  # None, a tensor of 2 elements
                refused = True
        if refused:
            return (f"the objective function returned {name!r} as {type(value).__name__} "
                    f"{value!r:.60}, not a number; return each "
                    f"{'objective' if isinstance(value, bool) else 'metric'} as a number")
    return numbers


def pareto_front(points: Sequence[Any], objectives: Objectives,
                 metrics: Callable[[Any], Mapping[str, float]] = lambda t: t.metrics) -> list:
    """The non-dominated ``points`` (trials), in their order.

    A point dominates another when it is at least as good in every objective and better in
    one; points missing an objective are left out (one with a NaN objective dominates none
    and none dominates it). In ``O(n log n + n * front)``: in sorted order, where only points
    before a point can dominate it, a point is checked against the front so far (with two
    objectives its last point alone: the one with the least second loss).
    """
    scored, front = [], set()
    for i, point in enumerate(points):
        try:
            loss = objectives.losses(metrics(point))
        except (KeyError, TypeError, ValueError):
            continue
        if any(math.isnan(v) for v in loss):
            front.add(i)
        else:
            scored.append((loss, i))
    scored.sort()  # a dominating point sorts strictly before the points it dominates
    kept: list[list[float]] = []
    for loss, i in scored:
        if not any(all(o <= v for o, v in zip(other, loss, strict=True)) and other != loss
                   for other in (kept[-1:] if len(loss) <= 2 else kept)):
            kept.append(loss)
            front.add(i)
    return [points[i] for i in sorted(front)]


def front_rows(store: RunStore) -> list[dict[str, Any]]:
    """The Pareto front of a multi-objective run as rows (empty otherwise): ``trial``, each
    objective (one named ``trial`` or ``arch`` as ``NAME (objective)``, as the leaderboard
    names its columns; was: it replaced the trial number, or lost its values to the
    architecture), ``arch``; best first on the first objective (``lightning-nas show``, the
    report and the summary at a search's end).

    Example:
        >>> import tempfile
        >>> from lightning_nas.store import RunStore
        >>> front_rows(RunStore(tempfile.mkdtemp() + "/search.db"))  # one objective: none
        []
    """
    spec = store.objectives()
    if not spec or len(spec) < 2:
        return []
    objectives = Objectives(spec)
    front = pareto_front(store.leaderboard(store.get_meta("mode", "max")), objectives)
    front.sort(key=lambda t: objectives.losses(t.metrics))
    columns = {f"{n} (objective)" if n in ("trial", "arch") else n: n for n in objectives.names}
    return [{"trial": t.trial_id, **{c: t.metrics.get(n) for c, n in columns.items()},
             "arch": t.arch} for t in front]


def told_loss(result: TrialResult, objectives: Objectives | None, mode: str,
              seen: Sequence[Any], counted: bool = True, unseen: float = NO_SCALE) -> Any:
    """What nevergrad is told for ``result``: its score (negated for ``max``), or with
    several objectives one loss per objective; a failed or rejected trial is worse than
    every loss in ``seen`` (by 1; with several objectives, per objective), ``unseen`` when
    none is (``NO_SCALE``; ``math.inf`` for this package's strategies, which rank it below
    any result whatever its scale: 1.0 was below losses above 1, so a rejected architecture
    was a strategy's best in ``mode: min``, with several objectives too).

    Example:
        >>> done = TrialResult(trial_id=1, arch={}, status=TrialStatus.COMPLETED, score=0.9)
        >>> told_loss(done, None, "max", [])
        -0.9
        >>> failed = TrialResult(trial_id=2, arch={}, status=TrialStatus.FAILED)
        >>> told_loss(failed, None, "max", [-0.9, 2.5])
        3.5
        >>> both = Objectives({"val_loss": "min", "params": "min"})
        >>> told_loss(failed, both, "min", [], unseen=math.inf)
        [inf, inf]

    Raises:
        SearchError: an objective the result neither logged nor counted (``counted``:
            the search counts ``params`` and ``flops``).
    """
    ok = result.status not in (TrialStatus.FAILED, TrialStatus.REJECTED)
    if objectives is not None and objectives.multi:
        if ok:
            try:
                return objectives.losses(result.metrics)
            except KeyError as err:
                names = sorted({*result.metrics, *(COSTS if counted else ())})
                raise SearchError(f"objective {err} is neither logged nor counted; "
                                  f"{did_you_mean(str(err.args[0]), names)}logged or "
                                  f"counted: {names}") from None
        vectors = [v for v in seen if isinstance(v, list)]
        return [max((v[i] + 1.0 for v in vectors), default=unseen)
                for i in range(len(objectives.names))]
    if ok and result.score is not None:
        return -result.score if mode == "max" else result.score
    return max((v + 1.0 for v in seen if not isinstance(v, list)), default=unseen)


def waits_for_a_result(result: TrialResult, optimizer: Any, told_any: bool) -> bool:
    """Whether a failure or rejection is told to ``optimizer`` only once the first result
    (``told_any``: one was told) gives ``told_loss`` a scale to be worse than. Before any
    result a failure waits, and so does a rejection to nevergrad's own optimizers (this
    package's strategies take its ``inf`` at once), as ``told_loss`` would make up a loss
    with no scale (was: 1.0, with several objectives ``[1.0, ...]``, which nevergrad put on
    its Pareto front and into its hypervolume bounds, unpenalized). An optimizer whose next
    ask waits for its last candidate's tell (nevergrad's ``no_parallelization``: Cobyla, SQP)
    is told at once, ``NO_SCALE`` (was: the search hung at its next ask).

    Example:
        >>> failed = TrialResult(trial_id=1, arch={}, status=TrialStatus.FAILED)
        >>> waits_for_a_result(failed, object(), told_any=False)
        True
    """
    from lightning_nas.strategies.base import NASOptimizer

    if told_any or getattr(optimizer, "no_parallelization", False):
        return False
    return result.status is TrialStatus.FAILED or (
        result.status is TrialStatus.REJECTED and not isinstance(optimizer, NASOptimizer))

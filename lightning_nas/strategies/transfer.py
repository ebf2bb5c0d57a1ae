"""``tell_priors``: give an optimizer the results of earlier searches before its first ask.

The NAS strategies of this package use them as their docstrings say
(``NASOptimizer.tell_priors``): ``SurrogateEvolution`` models the earlier tasks as related
ones, ``RegularizedEvolution`` and ``LocalSearch`` start from the earlier best
architectures. Any other nevergrad optimizer is told each prior as it is (its loss on its
own task, as if evaluated here): the simple baseline. With several objectives any other
optimizer is told each prior's losses as they are; the NAS strategies learn from its first
loss (the objective that picks the best trial), as with one objective, and rank the priors
they start from by all of them in order (ties on the first by the next).

Example:
    >>> from lightning_nas.space import SearchSpace
    >>> from lightning_nas.strategies import make_optimizer
    >>> space = SearchSpace.from_dict({"k": {"choice": [1, 2, 3]}})
    >>> opt = make_optimizer("SurrogateEvolution", space, budget=3, seed=0)
    >>> tell_priors(opt, [({"k": 3}, -0.9, "earlier"), ({"k": 1}, -0.5, "earlier")])
    >>> opt.ask().value  # the earlier best first
    {'k': 3}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from lightning_nas.strategies.codec import candidate_of

__all__ = ["rank_priors", "tell_priors"]

T = TypeVar("T")


def rank_priors(priors: Sequence[tuple[T, float | Sequence[float], str]]) -> list[T]:
    """The priors' architectures ranked within their task (lowest loss first; with a loss
    per objective, ties on the first go by the later ones in order, as the best trial's
    do; then by the order given) and the tasks' rankings interleaved: each task's best,
    then each task's second, ...

    Example:
        >>> rank_priors([("a", 0.3, "t1"), ("b", 0.1, "t1"), ("c", 5.0, "t2")])
        ['b', 'c', 'a']
        >>> rank_priors([("a", [-0.9, 800.0], "t"), ("b", [-0.9, 300.0], "t")])
        ['b', 'a']
    """
    by_task: dict[str, list[tuple[tuple[float, ...], T]]] = {}
    for item, loss, task in priors:
        key = tuple(loss) if isinstance(loss, (list, tuple)) else (loss,)
        by_task.setdefault(task, []).append((key, item))
    ranked = [[item for _, item in sorted(rows, key=lambda r: r[0])] for rows in by_task.values()]
    return [rows[rank] for rank in range(max(map(len, ranked), default=0))
            for rows in ranked if rank < len(rows)]


def tell_priors(optimizer: Any,
                priors: Sequence[tuple[dict[str, Any], float | list[float], str]]) -> None:
    """Tell ``optimizer`` the results of earlier searches.

    Args:
        optimizer: a nevergrad optimizer over the search space.
        priors: ``(architecture, loss on its own task, task)`` each; lower losses are better.
            A list of losses (several objectives) is told as it is to any other optimizer
            (nevergrad's Pareto handling); the NAS strategies' transfer models learn from its
            first loss, so they use these priors as priors, as with one objective (told as
            evaluations here, they would never evaluate an earlier architecture again), and
            break ties on it by the later losses when they rank the priors.
    """
    if callable(getattr(optimizer, "tell_priors", None)):  # the NAS strategies
        optimizer.tell_priors(priors)  # (ranked by all losses, learnt from the first)
        return
    for arch, loss, _ in priors:
        optimizer.tell(candidate_of(optimizer.parametrization, arch), loss)

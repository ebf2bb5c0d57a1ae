"""Limits no architecture can meet, refused before a search starts.

A search whose every proposal breaks ``max_params``, ``max_flops`` or a constraint trains
nothing: it stores REJECTED trials until its optimizer has proposed ``MAX_REPEATS`` of them
in a row. Where the space is finite and small (at most ``ENUMERATED`` architectures), every
architecture is checked before the run folder is written, and limits none of them meets are
a ``ConfigError`` naming the one that comes closest (``check_some_meets``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from lightning_nas.arch import format_arch
from lightning_nas.errors import ConfigError
from lightning_nas.search.objectives import Constraints
from lightning_nas.search.space_values import with_value
from lightning_nas.space.params import Choice, Fixed, Int
from lightning_nas.space.search_space import SearchSpace
from lightning_nas.wording import counted

__all__ = ["ENUMERATED", "check_some_meets", "every_arch"]

#: the most architectures a space may hold for its limits to be checked on each of them
ENUMERATED = 64


def every_arch(space: SearchSpace, most: int = ENUMERATED) -> list[dict[str, Any]] | None:
    """Every architecture of ``space``, or None where it holds more than ``most`` (a float
    range: infinitely many).

    Example:
        >>> space = SearchSpace.from_dict({"w": {"choice": [4, 8]}, "d": {"int": [1, 2]}})
        >>> every_arch(space)
        [{'w': 4, 'd': 1}, {'w': 4, 'd': 2}, {'w': 8, 'd': 1}, {'w': 8, 'd': 2}]
        >>> every_arch(SearchSpace.from_dict({"lr": {"float": [0.1, 0.2]}})) is None
        True
    """
    if space.size() > most:
        return None
    paths: list[tuple[str, ...]] = []
    options: list[list[Any]] = []

    def walk(inner: SearchSpace, prefix: tuple[str, ...]) -> None:
        for key, param in inner.params.items():
            if isinstance(param, SearchSpace):
                walk(param, (*prefix, key))
                continue
            paths.append((*prefix, key))
            options.append([param.value] if isinstance(param, Fixed) else list(param.values)
                           if isinstance(param, Choice) else list(param._values())
                           if isinstance(param, Int) else [])

    walk(space, ())
    if any(not values for values in options):  # a kind of range this does not list
        return None
    base = space.sample(seed=0)
    out = []
    for combination in itertools.product(*options):
        arch = base
        for path, value in zip(paths, combination, strict=True):
            arch = with_value(arch, path, value)
        out.append(arch)
    return out


def check_some_meets(space: SearchSpace, limits: Constraints,
                     costs: Callable[[dict[str, Any]], dict[str, float]]) -> None:
    """Refuse ``limits`` that no architecture of a finite ``space`` of at most
    ``ENUMERATED`` architectures meets, before anything is written; stops at the first that
    meets them (``costs``: ``TrialTemplate.costs``, counted on the meta device). An
    architecture whose model does not build, or whose costs cannot be counted, is taken
    to meet them (its trial fails as a search's would), and so is one a constraint raises
    for (the search stops there, naming it), so nothing is refused.

    Raises:
        ConfigError: every architecture breaks the limits; names the one that breaks them
            least and why, and what to change.
    """
    archs = every_arch(space) if limits else None
    if not archs:
        return
    closest: tuple[float, str, dict[str, Any]] | None = None
    for arch in archs:
        try:
            amount, reason = limits.violation(arch, costs(arch))
        except Exception:  # noqa: BLE001 - its trial fails, or the search stops naming
            return  # the constraint that raised, as it would have without this check
        if amount <= 0:
            return
        if closest is None or amount < closest[0]:
            closest = (amount, reason, arch)
    assert closest is not None
    fixes = [f"raise max_{name}" for name in limits.needs()]
    fixes += ["loosen the constraints"] if limits.checks else []
    raise ConfigError(
        f"no architecture of the space meets the limits: each of its "
        f"{counted(len(archs), 'architecture')} breaks them (the least at "
        f"{format_arch(closest[2])}: {closest[1]}); {', '.join(fixes)} or widen the space")

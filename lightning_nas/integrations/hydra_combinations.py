"""``compose_any``: a searched value's job composed beside the first sample's values of the
other searched keys, or where that does not compose or a check refuses it, beside other
combinations of their values (at most ``COMBINATIONS``), and what was tried, worded for
the error of a value that works with none (``hydra_options``, ``hydra_trainer``).

Example:
    >>> from lightning_nas.space import SearchSpace
    >>> space = SearchSpace.from_dict({"a": {"choice": [1, 2]}, "b": {"choice": [3, 4]}})
    >>> archs, every = _combinations(space, {"a": 1})
    >>> [arch["b"] for arch in archs], every
    ([4, 3], True)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from omegaconf import DictConfig

from lightning_nas.errors import ConfigError
from lightning_nas.integrations.hydra_grammar import SweepParams
from lightning_nas.space import SearchSpace
from lightning_nas.space.params import Choice, Fixed, Float, Int

__all__ = ["COMBINATIONS", "Check", "EveryJob", "compose_any"]

#: the most combinations of the other searched keys' values a value is composed with
#: before it is refused (the first sample's, then others; each composition takes a while)
COMBINATIONS = 32

#: checks a composed job (raises ``ConfigError`` where it cannot run); ``where``: its values
Check = Callable[[DictConfig, str], None]


class EveryJob(ConfigError):
    """``check_target_arguments``' refusal where no other value of the searched keys can
    change it: no other combination of their values is tried."""


def compose_any(config: DictConfig, loader: Any, sweep: SweepParams,
                fixed: Mapping[str, Any], check: Check | None
                ) -> DictConfig | tuple[BaseException, list[str], str]:
    """The job config of the first of ``_combinations(fixed)`` that composes and that
    ``check`` passes; else the first one's error, its overrides and what else was tried
    (``, also with ...``: the clause an error message ends with)."""
    archs, every = _combinations(sweep.space, fixed)
    errors: list[tuple[BaseException, list[str]]] = []
    for arch in archs:
        overrides = sweep.overrides(arch)
        try:
            job = loader.load_sweep_config(config, overrides)
            if check is not None:
                check(job, " ".join(f"{k}={v}" for k, v in fixed.items()))
            return job
        except Exception as err:  # noqa: BLE001 - Hydra's composition errors, check's
            errors.append((err, overrides))
            if isinstance(err, EveryJob):  # no other value changes it
                return err, overrides, ""
    others = [k for k in sweep.space.params if k not in fixed]
    keys = f"{'other ' * bool(fixed)}searched key{'s' * (len(others) > 1)} {', '.join(others)}"
    if len(archs) == 1:
        also = ""
    elif every:
        what = "combination of the values" if len(others) > 1 else "value"
        also = (f", also with every other {what} of the {keys} "
                f"({len(archs) - 1} tried)")
    else:
        also = (f", also with the {len(archs) - 1} other combinations of the values of the "
                f"{keys} tried (each key's values in turn, then two keys' at "
                f"a time, ...; a range's ends; at most {COMBINATIONS} in all: not every one)")
    return errors[0][0], errors[0][1], also  # the first sample's


def _combinations(space: SearchSpace, fixed: Mapping[str, Any]
                  ) -> tuple[list[dict[str, Any]], bool]:
    """At most ``COMBINATIONS`` architectures of ``space`` holding ``fixed``: the first
    sample's values of the other keys, then those with one other key's value changed
    (the keys in turn, each its next value), then two keys', ...; and whether they are
    every combination of the other keys' values."""
    base = {**space.sample(seed=0), **fixed}
    others = [k for k in base if k not in fixed]
    values, every = {}, True
    for key in others:
        listed, complete = _values(space.params[key])
        values[key] = [v for v in listed if v != base[key]]
        every = every and complete
    archs = [base]
    # one key changed: the keys in turn, each its next value (was: the first key's every
    # value first, which used up the combinations where it has many, the others unchanged)
    for picked in itertools.zip_longest(*(values[k] for k in others), fillvalue=_NONE):
        for key, value in zip(others, picked, strict=True):
            if value is not _NONE:
                if len(archs) == COMBINATIONS:
                    return archs, False
                archs.append({**base, key: value})
    for count in range(2, len(others) + 1):
        for keys in itertools.combinations(others, count):
            for picked in itertools.product(*(values[k] for k in keys)):
                if len(archs) == COMBINATIONS:
                    return archs, False
                archs.append({**base, **dict(zip(keys, picked, strict=True))})
    return archs, every


_NONE = object()


def _values(param: Any) -> tuple[list[Any], bool]:
    """The values of a searched key that ``_combinations`` tries, and whether they are all
    of its values (a range's ends, where it has more than ``COMBINATIONS``)."""
    if isinstance(param, Choice):
        return list(param.values), True
    if isinstance(param, Fixed):
        return [param.value], True
    if isinstance(param, Int) and param.size() <= COMBINATIONS:
        return list(range(int(param.low), int(param.high) + 1, param.step or 1)), True
    if isinstance(param, (Int, Float)):
        return [param.low, param.high], False
    return [], False

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

__all__ = ["COMBINATIONS", "Check", "EveryJob", "also_with", "compose_any", "same_held",
           "tried_words"]

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
    (``tried_words``; ``also_with`` and ``same_held`` put it in an error message)."""
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
    return errors[0][0], errors[0][1], tried_words(sweep.space, fixed, archs, every)


def tried_words(space: SearchSpace, fixed: Mapping[str, Any], archs: list[dict[str, Any]],
                every: bool) -> str:
    """What ``archs`` (``_combinations(space, fixed)``: the first sample's values of the
    other keys first) tried besides the first, said for a user: how many, of which keys'
    values, and whether that is every combination; ``""`` where they are the first alone.
    (Was: "the 31 other combinations of the values of the ... tried (each key's values in
    turn, then two keys' at a time, ...; a range's ends ...)", whichever values were.)

    Example:
        >>> space = SearchSpace.from_dict({"a": {"choice": [1, 2]},
        ...                                "b": {"float": [0.0, 1.0]}})
        >>> print(tried_words(space, {"a": 1}, *_combinations(space, {"a": 1})))
        2 other values of the other searched key b (its range's ends; not every one: a
        range of floats, or of more than 32 integers, is tried at its ends)
    """
    others = [k for k in space.params if k not in fixed]
    keys = f"{'other ' * bool(fixed)}searched key{'s' * (len(others) > 1)} {', '.join(others)}"
    count, base = len(archs) - 1, archs[0]
    if count < 1:
        return ""
    if every:
        what = "combination of the values" if len(others) > 1 else "value"
        return f"every other {what} of the {keys} ({count} tried)"
    took, kept = [], []
    for key in others:
        listed, complete = _values(space.params[key])
        total = len([v for v in listed if v != base[key]])
        changed = len({repr(a[key]) for a in archs[1:] if a[key] != base[key]})
        if not changed:
            kept.append(key)
        elif not complete:
            took.append(f"{key} its range's end{'s' * (changed > 1)}")
        else:
            took.append(f"{key} {'its' if changed == total else f'{changed} of its'} "
                        f"{total} other value{'s' * (total > 1)}")
    at_once = max(sum(a[k] != base[k] for k in others) for a in archs[1:])
    how = ("one key changed at a time: " if at_once == 1 else
           f"up to {at_once} keys changed at a time: ") if len(others) > 1 else ""
    said = ", ".join(took) + "".join(f", {k} kept the first sample's value" for k in kept)
    if len(others) == 1:
        said = said.split(" ", 1)[1]  # (the key is named already)
    limit = (f"at most {COMBINATIONS} combinations are tried" if len(archs) == COMBINATIONS
             else f"a range of floats, or of more than {COMBINATIONS} integers, is tried at "
                  f"its ends")
    what = "combinations of the values" if len(others) > 1 else "values"
    return f"{count} other {what} of the {keys} ({how}{said}; not every one: {limit})"


def also_with(tried: str) -> str:
    """``compose_any``'s ``tried`` as the clause a composition error goes on with.

    Example:
        >>> also_with("every other value of the other searched key x (8 tried)")
        ', also with every other value of the other searched key x (8 tried)'
    """
    return f", also with {tried}" if tried else ""


def same_held(err: BaseException | str, tried: str) -> str:
    """A check's refusal (a sentence of its own, with what to do) and ``compose_any``'s
    ``tried``, said after it (was: its ``, also with ...`` clause appended to the
    refusal's advice).

    Example:
        >>> print(same_held("it starts two processes; sweep with devices=1", "every other "
        ...                 "value of the other searched key x (1 tried)"))
        it starts two processes; sweep with devices=1. The same held with every other value
        of the other searched key x (1 tried).
    """
    text = str(err)
    return f"{text.rstrip('.')}. The same held with {tried}." if tried else text


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

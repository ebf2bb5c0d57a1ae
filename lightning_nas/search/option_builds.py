"""``check_option_builds``: before any trial trains, each value a space key may take (each
option of a choice, each bound of an int or float range; a group's keys too, ``trainer.``
keys left out) built into the model once, its parameters on the meta device, a ``data.*``
key's into the DataModule too (its constructor only), beside sampled architectures that
build: a value that builds beside none of them is a ``ConfigError`` naming the space key,
the value (and which bound) and the error (every trial drawing it would fail).

Example:
    >>> from lightning_nas.space import SearchSpace
    >>> _built_values(SearchSpace.from_dict({"act": {"choice": ["relu", "tanh"]},
    ...                                      "depth": {"int": [1, 3]},
    ...                                      "trainer.max_epochs": {"choice": [1, 2]}}))
    {('act',): [('relu', None), ('tanh', None)], ('depth',): [(1, 'low'), (3, 'high')]}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from lightning_nas.config.instantiate import short
from lightning_nas.errors import ConfigError, one_line
from lightning_nas.search.dry_builds import attempt_build, global_state_kept
from lightning_nas.search.meta_build import parameters_on_meta
from lightning_nas.search.space_values import space_options, value_at, with_value
from lightning_nas.space import Choice, Float, Int, SearchSpace
from lightning_nas.wording import counted

if TYPE_CHECKING:
    from lightning_nas.search.facade import Search

__all__ = ["check_option_builds"]


def check_option_builds(search: Search, archs: list[dict[str, Any]]) -> None:
    """Build each value a space key (not a ``trainer.`` key's) may take once, beside the
    other keys' values of the first of ``archs`` that builds, trying the other ``archs``
    where it fails: each option of a choice and each bound of an int or float range (a
    group's keys too). A model key builds the model, its parameters on the meta device; a
    ``data.*`` key builds the data (its constructor only: no ``prepare_data`` or ``setup``,
    nothing downloaded). An architecture the model rejects is a failed trial (so is a value
    of a space of one key), but a value that builds beside none of them is a mistake every
    trial drawing it would hit.

    A range bound is built on the meta device only (nothing allocated for its weights):
    a bound too big for a trial's memory is the user's to size, not a build error, and
    a model that does not build on the meta device has its bounds left to its trials (on
    CPU, a huge bound could take the memory a trial's device has). An error of memory
    (a large buffer, made for real) is no build error either.

    Example:
        ``activation: {choice: [relu, swish]}`` of a model whose activations are
        ``{"relu": ..., "tanh": ...}[activation]``: ``space key 'activation' may take
        'swish': KeyError: 'swish'; found building the model ...``; ``depth: {int: [0, 4]}``
        of a model refusing depth 0: ``space key 'depth' may take 0 (its low bound): ...
        narrow the range ...``.

    Raises:
        ConfigError: naming the space key, the value (and which bound) and the error.
    """
    def error(arch: dict[str, Any], data: bool, meta_only: bool = False) -> Any:
        with global_state_kept():
            if data:  # a DataModule's constructor: no weights to put on meta
                return attempt_build(lambda: search.template.data.build(arch), False)
            if meta_only:
                return _meta_error(lambda: search.template.model.build(arch))
            return attempt_build(lambda: search.template.model.build(arch), True)

    values = _built_values(search.space)
    if len(space_options(search.space)) < 2:
        return  # one key: a value is an architecture, a failed trial
    has_data = search.template.data.target is not None  # else data.* keys reach the model
    building = {False: [arch for arch in archs if error(arch, False) is None]}
    if has_data and any(path[0].startswith("data.") for path in values):
        building[True] = [arch for arch in archs if error(arch, True) is None]
    on_meta = bool(building[False]) and error(building[False][0], False, True) is None
    # the model for every value (a data.* one too, as before), the data for a data.* one's
    for path, options in values.items():
        for value, bound in options:
            for data in (False, True)[:1 + (has_data and path[0].startswith("data."))]:
                _check_one(path, value, bound, data, building[data], on_meta, error)


def _check_one(path: tuple[str, ...], value: Any, bound: str | None, data: bool,
               found: list[dict[str, Any]], on_meta: bool, error: Any) -> None:
    """``check_option_builds`` of one value: the model's (or the data's) build beside
    the architectures ``found`` to build."""
    if not found or any(value_at(arch, path) == value for arch in found):
        return  # none builds (dry_build said so); built (or a failed trial) already
    if bound is not None and not (data or on_meta):
        return  # a bound is built on meta only
    first = error(with_value(found[0], path, value), data, bound is not None)
    if first is None or bound is not None and _out_of_memory(first) or any(
            error(with_value(arch, path, value), data, bound is not None) is None
            for arch in found[1:]):
        return
    what = "the data (its constructor only)" if data else "the model"
    raise ConfigError(
        f"space key {'.'.join(path)!r} may take {short(value)}"
        f"{'' if bound is None else f' (its {bound} bound)'}: {one_line(first)}; "
        f"found building {what} beside the other keys' values of "
        f"{counted(len(found), 'sampled architecture')} before any training (every "
        f"trial drawing it would fail"
        f"{'' if bound is None else '; narrow the range to values that build'}; no "
        f"folder was made)")


def _meta_error(build: Any) -> BaseException | None:
    """What ``build`` raises with its parameters on the meta device (no CPU retry), or None."""
    try:
        with parameters_on_meta():
            build()
    except Exception as err:  # noqa: BLE001 - a user's constructor may raise anything
        return err
    return None


def _out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` says memory ran out (a buffer too big, made for real)."""
    return isinstance(error, MemoryError | torch.OutOfMemoryError) or isinstance(
        error, RuntimeError) and "alloc" in str(error).lower()


def _built_values(space: Any, prefix: tuple[str, ...] = ()
                  ) -> dict[tuple[str, ...], list[tuple[Any, str | None]]]:
    """Each value to build by its key's path (in a group too), ``trainer.`` keys left out:
    a choice's options (None beside each), a range's bounds (``"low"``, ``"high"``)."""
    out: dict[tuple[str, ...], list[tuple[Any, str | None]]] = {}
    for key, param in space.params.items():
        if not prefix and key.startswith("trainer."):
            continue
        if isinstance(param, SearchSpace):
            out.update(_built_values(param, (*prefix, key)))
        elif isinstance(param, Choice):
            out[(*prefix, key)] = [(value, None) for value in param.values]
        elif isinstance(param, Int | Float):
            out[(*prefix, key)] = [(param.low, "low"), (param.high, "high")]
    return out

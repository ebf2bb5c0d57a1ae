"""The values a search may give its space keys, as the checks before training see them:
``space_options`` lists each key's values to check (in a group too), ``with_value`` puts
one into an architecture, and ``check_trainer_combinations`` refuses searched Trainer
values that each let validation run but not together (``trainer.max_epochs`` 1 with
``trainer.check_val_every_n_epoch`` 2: every trial drawing both would train for nothing);
``trainer_ranges`` gives each searched Trainer integer range whole, for the rule's checks
(``rule_ranges.check_rule_range``).

Example:
    >>> from lightning_nas.space import SearchSpace
    >>> space = SearchSpace.from_dict({"w": {"int": [4, 8]}, "head": {"k": {"choice": [1, 2]}}})
    >>> space_options(space)
    {('w',): [4, 8], ('head', 'k'): [1, 2]}
    >>> with_value({"w": 4, "head": {"k": 1}}, ("head", "k"), 2)
    {'w': 4, 'head': {'k': 2}}
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lightning_nas.config.node_places import node_place
from lightning_nas.config.trainer_checks import (
    check_search_trainer,
    check_trainer_kwargs,
    check_validation_runs,
)
from lightning_nas.errors import ConfigError
from lightning_nas.numeric import is_number
from lightning_nas.search.rule_ranges import check_rule_range
from lightning_nas.search.rule_trainer import check_rule_trainer
from lightning_nas.space import Choice, Fixed, Int, SearchSpace
from lightning_nas.trial_trainer import trial_trainer

__all__ = ["COMBINATIONS", "ModuleCallbacks", "check_choices_alone", "check_trainer_combinations",
           "check_trainer_values", "option_keys", "said_key", "space_options",
           "trainer_options", "trainer_ranges", "unsearched", "value_at", "with_value"]

#: the module's ``configure_callbacks()``: its callbacks (None: not known yet), or what
#: gives a trial's for searched Trainer values over the others (``TrialCallbacks``)
ModuleCallbacks = Sequence[Any] | Callable[[Mapping[str, Any]], Sequence[Any] | None] | None

#: searched Trainer value combinations checked one by one; past it, each argument's
#: extreme values only (smallest, smallest positive and largest number of each type)
COMBINATIONS = 4096


def space_options(space: SearchSpace,
                  prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], list[Any]]:
    """Each space key's values to check, by its path (a key of a group: the group's key,
    then the keys inside it): a choice's options, a range's bounds, a fixed value."""
    out: dict[tuple[str, ...], list[Any]] = {}
    for key, param in space.params.items():
        path = (*prefix, key)
        if isinstance(param, SearchSpace):
            out.update(space_options(param, path))
        else:
            out[path] = ([param.value] if isinstance(param, Fixed) else list(param.values)
                         if isinstance(param, Choice) else [param.low, param.high])
    return out


def check_choices_alone(space: SearchSpace, path: tuple[str, ...],
                        error_of: Callable[[dict[str, Any]], str | None]) -> None:
    """For a value refused at ``path`` (a choice of a space key of its own, not a group's nor
    a ``trainer.`` key's; nothing for others): refuse naming every option of it that fails
    alone (``error_of`` an architecture of that key only), where two or more do (was: only
    the option the seed's sample drew, the others met one run at a time). The caller asks
    only where the config's own values pass (``error_of({})`` None).

    Example:
        >>> space = SearchSpace.from_dict({"width": {"choice": ["small", 8, "big"]}})
        >>> check_choices_alone(space, ("width",),
        ...                     lambda arch: None if arch.get("width", 8) == 8 else "no")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: space key 'width' may take 'small', 'big': no
    """
    key = path[0]
    param = space.params.get(key) if len(path) == 1 else None
    if not isinstance(param, Choice) or key.startswith("trainer."):
        return
    bad = [(value, text) for value in param.values
           if (text := error_of({key: value})) is not None]
    if len(bad) > 1:
        raise ConfigError(f"space key {key!r} may take "
                          f"{', '.join(repr(value) for value, _ in bad)}: {bad[0][1]}")


def value_at(arch: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` of ``arch``."""
    return arch[path[0]] if len(path) == 1 else value_at(arch[path[0]], path[1:])


def with_value(arch: Mapping[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of ``arch`` holding ``value`` at ``path`` (groups along it copied too)."""
    inner = value if len(path) == 1 else with_value(arch[path[0]], path[1:], value)
    return {**arch, path[0]: inner}


def trainer_options(options: Mapping[tuple[str, ...], list[Any]],
                    trainer: Mapping[str, Any] | None = None,
                    places: Mapping[str, str] | None = None) -> dict[str, list[Any]]:
    """The searched Trainer arguments (space keys ``trainer.NAME``) by their name; a key
    into one node of a list of ``trainer``'s (``trainer.callbacks.1.patience``, or by the
    node's name at its place in ``places``: ``config.node_places``) gives the whole list
    each of its values makes (``trial_trainer``), checked as a searched list
    (``option_keys`` says each one's key and value).

    Example:
        >>> node = {"class_path": "m.Stop", "init_args": {"patience": 3}}
        >>> trainer_options({("trainer.callbacks.0.patience",): [5]}, {"callbacks": [node]})
        {'callbacks': [[{'class_path': 'm.Stop', 'init_args': {'patience': 5}}]]}
    """
    out: dict[str, list[Any]] = {}
    for key, values in _trainer_keys(options):
        place = node_place(places.get(key, key) if places else key)
        if place is None:
            out[key.split(".", 1)[1]] = values
        else:  # (several keys into one list: each one's lists)
            out.setdefault(place[0], []).extend(
                trial_trainer({key: value}, trainer or {}, places)[place[0]]
                for value in values)
    return out


def option_keys(options: Mapping[tuple[str, ...], list[Any]],
                places: Mapping[str, str] | None = None) -> dict[str, list[tuple[str, Any]]]:
    """The space key and value that gave each of ``trainer_options``' values, by Trainer
    argument: a list's (``callbacks``) by the key into its node as the user wrote it.

    Example:
        >>> option_keys({("trainer.callbacks.0.patience",): [3, 5]})["callbacks"]
        [('trainer.callbacks.0.patience', 3), ('trainer.callbacks.0.patience', 5)]
    """
    out: dict[str, list[tuple[str, Any]]] = {}
    for key, values in _trainer_keys(options):
        name = key.split(".", 2)[1]
        if node_place(places.get(key, key) if places else key) is None:
            out[name] = [(key, value) for value in values]
        else:
            out.setdefault(name, []).extend((key, value) for value in values)
    return out


def said_key(name: str, value: Any, keys: Mapping[str, Sequence[tuple[str, Any]]] | None,
             arch: Mapping[str, Any]) -> tuple[str, Any]:
    """The space key and value to name for ``value`` of searched Trainer argument ``name`` in
    a trial of ``arch``: the one key of ``keys`` (``option_keys``) into it that ``arch``
    holds, with its value there, else ``trainer.NAME`` and ``value``.

    Example:
        >>> said_key("callbacks", [{}], {"callbacks": [("trainer.callbacks.stop.patience", 3)]},
        ...          {"trainer.callbacks.stop.patience": 3})
        ('trainer.callbacks.stop.patience', 3)
    """
    held = list(dict.fromkeys(key for key, _ in (keys or {}).get(name, ()) if key in arch))
    return (held[0], arch[held[0]]) if len(held) == 1 else (f"trainer.{name}", value)


def _trainer_keys(options: Mapping[tuple[str, ...], list[Any]]
                  ) -> list[tuple[str, list[Any]]]:
    """The space keys ``trainer.NAME...`` of ``options`` with their values."""
    return [(path[0], values) for path, values in options.items()
            if len(path) == 1 and path[0].startswith("trainer.")]


def trainer_ranges(space: SearchSpace) -> dict[str, range]:
    """The searched Trainer arguments given an integer range (space keys ``trainer.NAME``
    of ``{"int": [low, high]}``, with its ``step``) by name: all the values it may take
    (``space_options`` gives its bounds alone).

    Example:
        >>> trainer_ranges(SearchSpace.from_dict({"w": {"int": [1, 4]},
        ...     "trainer.check_val_every_n_epoch": {"int": [1, 9], "step": 2}}))
        {'check_val_every_n_epoch': range(1, 10, 2)}
    """
    return {key.split(".", 1)[1]: range(param.low, param.high + 1, param.step or 1)
            for key, param in space.params.items()
            if key.startswith("trainer.") and isinstance(param, Int)}


def unsearched(trainer: Mapping[str, Any], searched: Mapping[str, Any]) -> dict[str, Any]:
    """The Trainer arguments of ``trainer`` no space key searches: a searched one's config
    value is one no trial runs with, so no check of what trials run may judge it.

    Example:
        >>> unsearched({"max_epochs": 1, "check_val_every_n_epoch": 3}, {"max_epochs": [3, 4]})
        {'check_val_every_n_epoch': 3}
    """
    return {key: value for key, value in trainer.items() if key not in searched}


def check_trainer_values(trainer: Mapping[str, Any], searched: Mapping[str, list[Any]],
                         monitor: str, scheduler: Any = None,
                         module_callbacks: ModuleCallbacks = None, *,
                         epochs: int | None = None,
                         ranges: Mapping[str, range] | None = None,
                         held: Mapping[str, Any] | None = None,
                         keys: Mapping[str, Sequence[tuple[str, Any]]] | None = None) -> None:
    """Raise ``ConfigError`` for a value a searched Trainer argument may take (``searched``:
    each space key ``trainer.NAME``'s values by name) that fails as a fixed setting would
    over the unsearched ``trainer`` (a ``scheduler``'s rungs: validation every epoch; the
    search's rule, made, with ``epochs``, a trial's last epoch, the search's ``max_epochs``
    or the Trainer's: a validated epoch it judges before that, ``check_judges_before``;
    was not asked of a searched ``check_val_every_n_epoch``, so trials drawing 4 of 4
    epochs were never judged), or for values that fail together
    (``check_trainer_combinations``). ``ranges``: the searched integer ranges
    (``trainer_ranges``), whose every value the rule's checks see (``check_rule_range``;
    was: their bounds alone, so a rule that could judge 1 and 3 took a range 1..3 whose 2 it
    cannot), the others their bounds (``searched``); a choice's options each, after their
    other checks (``check_rule_range`` too: where every option is refused, the ways out of
    the whole choice, as a range's; was: the first option's refusal alone).
    ``module_callbacks``:
    what the module's ``configure_callbacks()`` returns, whose accumulation scheduler counts
    for an int ``val_check_interval`` against ``max_steps`` as for the unsearched settings;
    None before the model is built leaves that comparison out (was: counted without it, so
    a working interval was refused and one that never validates taken); a callable gives
    them for the searched values of a trial (a module that reads its Trainer: each value's).
    Unsearched settings the rule refuses alone (``trainer.min_epochs: 3``) are refused as
    they are, first (was: as each searched value's refusal, a range's as one no value of
    which is taken). ``held``: the config's Trainer settings, the searched ones too, over
    whose node a searched node is merged as each trial's is (``trial_trainer``; was: checked
    alone, so ``{init_args: {static_graph: true}}`` over a strategy's node, which
    LightningCLI merges, was refused). ``keys``: the space key and value of each of
    ``searched``'s values (``option_keys``), which a refusal names (a list's: the key into
    its node the user wrote; was: ``space key 'trainer.callbacks'`` and the whole list).

    Example:
        >>> check_trainer_values({}, {"limit_val_batches": [0, 1]}, "val_acc")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: space key 'trainer.limit_val_batches' may take 0: ...
    """
    ranges = dict(ranges or {})
    if scheduler is not None:  # the unsearched settings alone, named as rule_for names them
        check_rule_trainer(trainer, scheduler, epochs)  # (was: blamed on each searched value)
    for name, options in searched.items():
        said = list((keys or {}).get(name, ())) or [(f"trainer.{name}", v) for v in options]
        for value, (key, shown) in zip(options, said, strict=True):
            built = trial_trainer({f"trainer.{name}": value}, held or {})[name]
            setting = {**trainer, name: built}
            try:
                check_trainer_kwargs({name: built})
                check_validation_runs(setting, monitor, _of(module_callbacks, {name: built}))
                check_search_trainer({name: built})
            except ConfigError as err:
                raise ConfigError(f"space key {key!r} may take {shown!r}: {err}") from None
        if scheduler is not None:  # a range's every value, a choice's every option
            check_rule_range(trainer, name, ranges.get(name, options), scheduler, epochs)
    check_trainer_combinations(trainer, searched, monitor, module_callbacks)


def check_trainer_combinations(trainer: Mapping[str, Any], searched: Mapping[str, list[Any]],
                               monitor: str, module_callbacks: ModuleCallbacks = ()) -> None:
    """Raise ``ConfigError`` when searched Trainer values that each let validation run
    (checked before) run none together: every combination of the searched values over
    ``trainer`` is checked, or, past ``COMBINATIONS``, those of each argument's extreme
    values, with ``module_callbacks`` as ``check_validation_runs`` takes them. The error
    names the fewest searched values that run no validation.

    Example:
        >>> check_trainer_combinations({}, {"max_epochs": [1, 3],
        ...                                 "check_val_every_n_epoch": [1, 2]}, "val_acc")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: space keys 'trainer.max_epochs' and ...
    """
    names = list(searched)  # one of a single value too: ``trainer`` lacks it
    if len(names) < 2:
        return
    options = [searched[name] for name in names]
    if math.prod(len(values) for values in options) > COMBINATIONS:
        options = [_extremes(values) for values in options]
    for combination in itertools.product(*options):
        setting = dict(zip(names, combination, strict=True))
        if _refusal(trainer, setting, monitor, module_callbacks) is None:
            continue
        for name in names:  # the fewest searched values that still run no validation
            fewer = {k: v for k, v in setting.items() if k != name}
            if _refusal(trainer, fewer, monitor, module_callbacks) is not None:
                setting = fewer
        keys = _listed([f"'trainer.{name}'" for name in setting])
        values = _listed([repr(value) for value in setting.values()])
        raise ConfigError(f"space keys {keys} may take {values} in one trial: "
                          f"{_refusal(trainer, setting, monitor, module_callbacks)}")


def _refusal(trainer: Mapping[str, Any], setting: Mapping[str, Any], monitor: str,
             module_callbacks: ModuleCallbacks) -> str | None:
    """What ``check_validation_runs`` says against ``setting`` over ``trainer``, or None."""
    try:
        check_validation_runs({**trainer, **setting}, monitor,
                              _of(module_callbacks, setting))
    except ConfigError as err:
        return str(err)
    return None


def _of(module_callbacks: ModuleCallbacks,
        setting: Mapping[str, Any]) -> Sequence[Any] | None:
    """The module's callbacks in a trial whose searched Trainer values are ``setting``."""
    return module_callbacks(setting) if callable(module_callbacks) else module_callbacks


def _listed(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def _extremes(values: list[Any]) -> list[Any]:
    """``values`` with only the smallest, smallest positive and largest number of each
    numeric type (the values that decide whether validation runs), others all kept."""
    out = [value for value in values if not is_number(value)]
    for kind in (int, float):
        ordered = sorted(v for v in values if is_number(v) and type(v) is kind)
        positive = [v for v in ordered if v > 0]
        out += list(dict.fromkeys(ordered[:1] + positive[:1] + ordered[-1:]))
    return out

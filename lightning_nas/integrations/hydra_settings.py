"""The settings of ``hydra/sweeper: lightning_nas`` as ``SearchSettings``, checked.

``search_settings`` turns ``HydraSweep``'s settings (``LightningNASSweeperConf``'s fields,
as plain data) into the ``SearchSettings`` of ``lightning-nas search``: the score is the
sweep's ``monitor``, else the job config's ``optimized_metric`` (the lightning-hydra-
template's), else ``score``; its way (``direction``: Optuna's ``maximize``/``minimize`` or
``max``/``min``) is said or read from its name; ``objectives`` map several scores to theirs
(a ``direction`` beside them must be the first one's); ``constraints`` are import paths,
``_target_`` nodes or callables. A wrong setting is named as the sweep's user writes it
(``hydra.sweeper.budget``).

Example:
    >>> from omegaconf import OmegaConf
    >>> from lightning_nas.integrations.hydra_sweeper import HydraSweep
    >>> config = OmegaConf.create({"hydra": {"sweep": {"dir": "multirun"}},
    ...                            "optimized_metric": "val/acc"})
    >>> goal = search_settings(HydraSweep(budget=5).settings, config).goal
    >>> goal.monitor, goal.mode, goal.budget
    ('val/acc', 'max', 5)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig

from lightning_nas.config.instantiate import instantiate
from lightning_nas.errors import ConfigError, check_objectives_mapping, mode_said
from lightning_nas.integrations.hydra_config import DIRECTIONS
from lightning_nas.run_folder import run_dir_path
from lightning_nas.search.objectives import mode_for
from lightning_nas.search.setting_checks import config_words
from lightning_nas.search.settings import SearchSettings
from lightning_nas.search.warm_keys import fill_keys

__all__ = ["optimized_metric", "search_settings", "sweep_words"]


def search_settings(settings: Mapping[str, Any], config: DictConfig,
                    keys: Sequence[str] = ()) -> SearchSettings:
    """The sweeper's settings as ``SearchSettings`` (checked: a wrong one fails here).

    Args:
        settings: ``HydraSweep.settings``: every field of ``LightningNASSweeperConf``, as
            plain data.
        config: the sweep's config (``hydra.sweep.dir``, ``optimized_metric``).
        keys: the space's, as ``warm_start_fill``'s keys are named (``lr`` is ``++lr``).

    Returns:
        The settings of the search the sweep runs.

    Raises:
        ConfigError: a wrong setting, named as ``hydra.sweeper.<key>``.
    """
    s = settings
    if isinstance(s["monitor"], str) and not s["monitor"].strip():
        # refused as `lightning-nas search` refuses it (was: optimized_metric, silently)
        raise ConfigError(f"`hydra.sweeper.monitor` must name the score the task returns, "
                          f"got {s['monitor']!r}; leave it out (null) to store the config's "
                          f"optimized_metric")
    objectives = s["objectives"]
    if objectives:
        check_objectives_mapping(objectives, "hydra.sweeper.objectives must map names to "
                                             "maximize or minimize")
        objectives = {name: _mode(d, f"objectives.{name}") for name, d in objectives.items()}
        _check_direction(s["direction"], s["objectives"])
        _check_monitor(s["monitor"], s["objectives"])
    # '' is refused as `lightning-nas search` refuses it (was: the sweep dir, silently)
    run_dir = config.hydra.sweep.dir if s["run_dir"] is None else s["run_dir"]
    monitor = s["monitor"] or optimized_metric(config) or "score"
    # several objectives: the first is the monitor (a `monitor` given must be it)
    given = {**({"monitor": s["monitor"]} if s["monitor"] else {}),
             **({"mode": _mode(s["direction"], "direction")} if s["direction"] else {})}
    goal = ({"objectives": objectives, **given}  # a direction must be the first one's
            if objectives else
            {"monitor": monitor, "mode": _named_mode(monitor) if s["direction"] is None
             else _mode(s["direction"], "direction")})
    try:
        with config_words():  # null, as the sweep's config writes it (not Python's None)
            return SearchSettings.from_options(
                optimizer=s["optimizer"], budget=s["budget"], time_limit=s["time_limit"],
                **goal, seed=s["seed"], max_failures=s["max_failures"],
                num_workers=s["num_workers"],
                constraints=[_constraint(c, f"hydra.sweeper.constraints[{i}]")
                             for i, c in enumerate(_constraint_list(s["constraints"]))],
                # as given (one path alone is a list of it, a number refused, naming the key;
                # was list(...): a path's characters, or "'int' object is not iterable")
                warm_start=[] if s["warm_start"] is None else s["warm_start"],
                retrain_top_k=s["retrain_top_k"],
                warm_start_fill=fill_keys(s["warm_start_fill"], keys, keys, hydra=True,
                                          name="hydra.sweeper.warm_start_fill") or None,
                run_dir=run_dir_path(run_dir).absolute(), verbose=bool(s["verbose"]),
                progress=False)
    except ConfigError as err:  # `budget` must be ...: the key as this user writes it
        raise ConfigError(sweep_words(str(err), settings)) from None


#: a search's words in its optimizer's and warm start's refusals, as a sweep's (``sweep_words``)
_SWEEP_CHECKS = (
    (r"(^|; )optimizer '", r"\1hydra.sweeper.optimizer '"),
    (r"\bpick another optimizer\b", "pick another hydra.sweeper.optimizer"),
    (r"\bpick a strategy\b", "pick a hydra.sweeper.optimizer"),
    (r"\bthis search\b", "this sweep"),
    (r"\bor warm-start from runs that\b", "or give hydra.sweeper.warm_start runs that"),
    # a warm start's scale refusal: a mode as a sweep's direction is written (was: (min))
    (r"scored (.+?) \((max|min)\), not this sweep's (.+?) \((max|min)\): its scores",
     r"scored \1 (\2imize), not this sweep's \3 (hydra.sweeper.direction: \4imize): its "
     r"scores"),
    (r"runs that scored (.+) \((max|min)\)$", r"runs that scored \1 (\2imize)"),
    (r"its monitor (.+?) \((max|min)\) would stand in", r"its monitor \1 (\2imize) would "
     r"stand in"),
    # a small space none of whose architectures the constraints let run (``check_some_meets``)
    (r"^no architecture of the space meets the limits: ", "no architecture of the sweep's "
     "space (hydra.sweeper.params and the command line's sweeps) meets "
     "hydra.sweeper.constraints: "),
    (r"; loosen the constraints or widen the space$",
     "; loosen hydra.sweeper.constraints or widen hydra.sweeper.params"),
)


def sweep_words(text: str, settings: Mapping[str, Any] | Sequence[str]) -> str:
    """A refused setting as a sweep's user names it: `budget` is `hydra.sweeper.budget`, a
    warm start's folders ``hydra.sweeper.warm_start`` and the sweep's own folder its
    ``hydra.sweeper.run_dir`` or ``hydra.sweep.dir``, its optimizer
    ``hydra.sweeper.optimizer``, the search the sweep and a warm start's modes its
    directions, ``(maximize)``, ``(hydra.sweeper.direction: minimize)`` (was, for all but
    the first: Search's words, ``warm_start source ...``, ``this search's own run_dir``,
    ``optimizer 'NGOpt' ... results of this search``, ``(max)``).

    Example:
        >>> sweep_words("warm_start source runs/a does not exist; give folders ...", ["budget"])
        'hydra.sweeper.warm_start source runs/a does not exist; give folders ...'
        >>> sweep_words("give `warm_start` too (or drop warm_start_fill)", ["warm_start"])
        'give `hydra.sweeper.warm_start` too (or drop hydra.sweeper.warm_start_fill)'
        >>> sweep_words("`budget` must be ...", ["budget"])
        '`hydra.sweeper.budget` must be ...'
        >>> sweep_words("optimizer 'EDA' ... of this search; pick a strategy ...", [])
        "hydra.sweeper.optimizer 'EDA' ... of this sweep; pick a hydra.sweeper.optimizer ..."
        >>> sweep_words("scored a (max), not this search's a (min): its scores", [])
        "scored a (maximize), not this sweep's a (hydra.sweeper.direction: minimize): its scores"
    """
    text = re.sub(r"`(\w+)`", lambda m: f"`hydra.sweeper.{m[1]}`" if m[1] in settings
                  else m[0], text)
    text = re.sub(r"(?<![.\w`])(warm_start_fill|warm_start)\b", r"hydra.sweeper.\1", text)
    text = text.replace("a resume of a search that", "a resume of a sweep that")  # (was: a
    # search's words, "or drop warm_start_fill", "a resume of a search that re-trains them")
    text = re.sub(r"names this search's own run_dir (.*): a search cannot",
                  r"names this sweep's own run folder \1 (hydra.sweeper.run_dir, else "
                  r"hydra.sweep.dir): a sweep cannot", text)
    for phrase, said in _SWEEP_CHECKS:  # an optimizer's and a warm start's refusals
        text = re.sub(phrase, said, text)  # (was: "optimizer 'NGOpt'", "this search")
    return text


def optimized_metric(config: DictConfig) -> str | None:
    """The config's ``optimized_metric`` (the name of what a task returning a float
    returns, in the lightning-hydra-template's shape), if it names one.

    Args:
        config: the sweep's (or a job's) config.

    Returns:
        The name, or None where the config names none.
    """
    name = config.get("optimized_metric")
    return name if isinstance(name, str) and name else None


# ----------------------------------------------------------------- helpers
def _named_mode(monitor: str) -> str:
    """The mode ``monitor``'s name says, for a sweep without ``direction``: Optuna's and
    Nevergrad's sweepers minimise then, so neither way is taken without a word."""
    try:
        return mode_for(monitor)
    except ConfigError:
        raise ConfigError(f"hydra.sweeper.direction is not set and the score's name "
                          f"{monitor!r} does not say which way is better; set "
                          f"hydra.sweeper.direction: maximize or minimize (Optuna's and "
                          f"Nevergrad's sweepers minimize when it is not set), or name the "
                          f"score (optimized_metric: val/loss is minimized, val/acc "
                          f"maximized)") from None


def _mode(direction: Any, name: str) -> str:
    """``max`` or ``min`` from Optuna's ``maximize``/``minimize`` (or ours)."""
    if isinstance(direction, (list, tuple)) and name == "direction":  # Optuna's several
        # objectives (was: Hydra's "Cannot convert 'ListConfig' to string", typed str)
        named = ", ".join(f"name{i}: {d}" for i, d in enumerate(direction, 1))
        raise ConfigError(f"hydra.sweeper.direction takes one direction (maximize or "
                          f"minimize), got {direction!r}; for several objectives (the Optuna "
                          f"sweeper's list of directions) name each with its direction: "
                          f"hydra.sweeper.objectives='{{{named or 'name1: maximize'}}}' (in "
                          f"the file, objectives: {{{named or 'name1: maximize'}}}) and "
                          f"hydra.sweeper.direction=null (the objectives say each direction); "
                          f"the task returns a dict holding them, or a tuple of their values "
                          f"in that order")
    if isinstance(direction, (list, tuple)):
        raise ConfigError(f"hydra.sweeper.{name} takes one direction, got {direction!r}; for "
                          f"several objectives give hydra.sweeper.objectives: {{name: "
                          f"maximize|minimize, ...}} and return a dict from the task (or a tuple "
                          f"of their values, in that order)")
    # a mapping, too (was: TypeError, unhashable type: 'dict')
    if not isinstance(direction, str) or direction not in DIRECTIONS:
        raise ConfigError(f"hydra.sweeper.{name} can be {', '.join(DIRECTIONS)}; got "
                          f"{direction!r}{mode_said(direction, DIRECTIONS)}")  # (was: no
        # did-you-mean, as Search's mode and the one-shot side say)
    return DIRECTIONS[direction]


def _check_direction(direction: Any, objectives: Mapping[str, str]) -> None:
    """A ``direction`` beside ``objectives`` must be the first one's (it is the one ranked):
    named as this user wrote it, with how to clear it (``mode`` is no sweeper key)."""
    if direction is None:
        return
    first, its = next(iter(objectives.items()))
    if _mode(direction, "direction") != _mode(its, f"objectives.{first}"):
        raise ConfigError(f"hydra.sweeper.direction={direction} disagrees with the first "
                          f"objective ({first}: {its}), which is the one ranked; set "
                          f"hydra.sweeper.direction=null (or leave it out: the objectives say "
                          f"each direction), or list the objectives with a {direction} one "
                          f"first")


def _check_monitor(monitor: str | None, objectives: Mapping[str, str]) -> None:
    """A ``monitor`` beside ``objectives`` must be the first one (it is the one ranked):
    named as this user wrote it (was: ``monitor='b' disagrees ...; leave monitor and mode
    out``, and ``mode`` is no sweeper key)."""
    first = next(iter(objectives))
    if monitor is not None and monitor != first:
        raise ConfigError(f"hydra.sweeper.monitor={monitor} is not the first objective "
                          f"({first}), which is the one ranked and stored as the score; set "
                          f"hydra.sweeper.monitor=null (or leave it out: the first objective "
                          f"is the monitor), or list the objectives with {monitor} first")


def _constraint_list(given: Any) -> list[Any]:
    """``hydra.sweeper.constraints`` as a list: one import path or node alone is a list of it
    (as ``lightning-nas search`` reads ``search.constraints``), None an empty one.

    Raises:
        ConfigError: for anything else, naming ``hydra.sweeper.constraints``.
    """
    if given is None:
        return []
    if isinstance(given, (str, Mapping)):
        return [given]
    if not isinstance(given, (list, tuple)):
        raise ConfigError(f"hydra.sweeper.constraints must be a list of import paths or "
                          f"_target_ nodes of callables arch -> bool, got {given!r}")
    return list(given)


def _constraint(spec: Any, path: str) -> Callable[[dict[str, Any]], Any]:
    """A constraint from an import path, a ``_target_`` node or a callable: a node of a
    function alone (``{_target_: src.cons.small}``) is that function; any other node is
    built as Hydra builds it (a class with its arguments, a factory's result), by
    lightning_nas's ``instantiate``: a wrong or missing argument is named at ``path``
    (``hydra.sweeper.constraints[0].limt``), as ``lightning-nas search`` names it."""
    try:
        if isinstance(spec, str):
            built = get_object(spec)
        elif isinstance(spec, Mapping):
            target = get_object(spec["_target_"]) if set(spec) == {"_target_"} else None
            built = target if callable(target) and not isinstance(target, type) else (
                instantiate(spec, path))
        else:
            built = spec
    except ConfigError:  # names the key and the valid ones
        raise
    except Exception as err:  # noqa: BLE001 - import and instantiation errors
        raise ConfigError(f"hydra.sweeper.constraints: cannot load {spec!r}: {err}") from err
    if not callable(built):  # was: "constraints must be callables ..., got 3.14", unnamed
        raise ConfigError(f"{path}={spec!r} is no callable arch -> bool: give an import path "
                          f"(src.cons.small) or a _target_ node of one")
    return built

"""The checks ``Search`` runs before any trial trains, once its arguments are checked
(``facade_arguments``): everything that can be checked of its settings, space, model, data
and Trainer, ending in a dry build of a trial's model, data and Trainer (``check_search``),
with every value a space key may take checked as a fixed setting is (``check_space_values``)
and built into the model (``option_builds.check_option_builds``).

Nothing trains and nothing is written; each refusal is a ``ConfigError`` naming what to
change.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl

from lightning_nas.config.cli_optim import check_optimizer_given
from lightning_nas.config.node_labels import names_said
from lightning_nas.config.node_places import config_names, node_place
from lightning_nas.config.option_clashes import check_option_clashes, space_choices
from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.config.trainer_checks import (
    check_search_trainer,
    check_trainer_kwargs,
    check_trainer_space_keys,
    check_validation_runs,
)
from lightning_nas.errors import ConfigError
from lightning_nas.search.costs import check_counting
from lightning_nas.search.executor import FuturesExecutor, InlineExecutor, TrialExecutor
from lightning_nas.search.executors import check_devices_per_trial, executor_for
from lightning_nas.search.limit_checks import check_some_meets
from lightning_nas.search.logger_dirs import check_trainer_dirs
from lightning_nas.search.logger_objects import (
    check_mlflow_run_ids,
    check_w_and_b_objects,
    warn_fixed_versions,
)
from lightning_nas.search.nas_logged import check_nas_logged
from lightning_nas.search.no_validation import check_validates
from lightning_nas.search.option_builds import check_option_builds
from lightning_nas.search.ray_executor import RayExecutor
from lightning_nas.search.rule_checks import endless_text
from lightning_nas.search.rule_trainer import rule_for
from lightning_nas.search.runner_checks import check_nodes, check_sendable, check_trial_processes
from lightning_nas.search.scheduler_settings import rule_of
from lightning_nas.search.schedulers import Rule
from lightning_nas.search.space_values import (
    check_choices_alone,
    check_trainer_values,
    option_keys,
    space_options,
    trainer_options,
    trainer_ranges,
    unsearched,
    value_at,
    with_value,
)
from lightning_nas.search.stopping_checks import warn_stopping_monitor
from lightning_nas.search.thread_trials import warn_shared_random_state
from lightning_nas.search.trainer_spelling import check_trainer_option_clashes
from lightning_nas.search.trial_callbacks import TrialCallbacks, check_module_stops
from lightning_nas.search.warm import check_fill
from lightning_nas.search.warm_scales import check_repeats, check_scales
from lightning_nas.search.warm_sources import prior_count
from lightning_nas.search.workers import ProcessExecutor
from lightning_nas.strategies import check_optimizer_runs
from lightning_nas.user_warnings import warn_user
from lightning_nas.validation_limit import batch_count_limit

if TYPE_CHECKING:
    from lightning_nas.search.facade import Search

__all__ = ["DRY_BUILD_ARCHS", "arch_error", "check_own_loaders", "check_search",
           "check_space_values", "trial_names", "warn_endless_trials"]

#: how a model with no optimizer gets one, from Python (True) or a config
_OPTIM_FIX = {True: "define {name}.configure_optimizers, or search from a LightningCLI config "
                    "with a top-level `optimizer:` section (lightning-nas search)",
              False: "define {name}.configure_optimizers, or add a top-level `optimizer:` "
                     "section (optimizer: Adam, or a class_path node), which LightningCLI "
                     "makes the model's configure_optimizers"}
#: sampled architectures a dry build tries before a model or data error is a config error
DRY_BUILD_ARCHS = 5


def check_search(search: Search) -> None:
    """Everything that can be checked before a trial trains, then a dry build of a
    trial's model, data and Trainer (nothing trains, nothing is written); a node of a
    config's mapping of named callbacks named as written (``trial_names``; was: by its
    place in the list, ``trainer.callbacks[1] (EarlyStopping)``).

    Args:
        search: the ``Search`` being made (its settings, space, factories, Trainer
            arguments and template set).

    Raises:
        ConfigError: naming what to change.
    """
    with names_said(trial_names(search)):
        _check_search(search)


def _train_one(search: Search) -> str:
    """How to train a space's one architecture instead of searching it: a config search's
    ``lightning-nas fit``; from Python, where no config file exists, a Lightning Trainer or
    the objective function (was: ``lightning-nas fit`` there too)."""
    if not search.python:
        return "or train it with lightning-nas fit"
    if search.objective is not None:
        return "or call the objective function with it"
    target = search.model.target
    name = target.rsplit(".", 1)[-1] if isinstance(target, str) else getattr(
        target, "__name__", "YourModel")
    return f"or train it with a Lightning Trainer, Trainer.fit({name}(**arch), ...)"


def _check_search(search: Search) -> None:
    """``check_search``'s checks."""
    # the keys' names first: a misspelt key of a one-architecture space is named as such
    # (was: "the space holds a single architecture ({'widht': 16})", the typo found later)
    search.model.check(search.space.names(), _data_class(search.data.target))
    search.data.check(search.space.names(), search.model)
    if search.objective is None:  # no optimizer: every trial's fit would fail (was: trials
        # 1 and 2 failed with Lightning's "No `configure_optimizers()`", the search stopped)
        check_optimizer_given(_data_class(search.model.target), search.template.cli_optim,
                              _OPTIM_FIX[search.python])
    check_trainer_space_keys(search.space.names())
    search.space.check_searchable(_train_one(search))
    search.settings.goal.warn_contrary()
    objectives = search.settings.goal.objectives
    # an objective named like a counted cost (FLOPs) is no misspelling where the model logs
    # it: one it does not log is stopped at trial 1's first validation, naming the cost
    # (monitor_errors.check_objectives; was: refused here, a metric logged as FLOPs too)
    executor = search.settings.execution.executor  # a TrialExecutor says its workers
    workers = (executor.num_workers if isinstance(executor, TrialExecutor)
               else search.settings.execution.num_workers)
    check_optimizer_runs(search.settings.goal.optimizer, search.space,
                         search.settings.goal.budget, workers,
                         warm=bool(search.settings.transfer.warm_start),
                         objectives=len(objectives.names) if objectives else 1,
                         retrain=search.settings.transfer.retrain_top_k,
                         priors=prior_count(search.settings.transfer.warm_start,
                                            search.settings.run_dir))
    check_trainer_kwargs(search.trainer)
    options, places = space_options(search.space), search.template.places  # trainer.* keys
    searched = trainer_options(options, search.trainer, places)
    check_devices_per_trial(executor, workers, search.settings.execution.devices_per_trial,
                            search.trainer, search.settings.execution.ray,  # CPU trials,
                            searched.get("devices", ()))  # GPUs beyond a worker's
    # (a searched key's config value: no trial runs with it, was refused all the same); an
    # int val_check_interval against max_steps once the module says its callbacks, below
    check_validation_runs(unsearched(search.trainer, searched), search.settings.goal.monitor,
                          None)
    check_search_trainer(search.trainer)
    if (uneven := batch_count_limit(search.space.names(), unsearched(search.trainer,
                                                                     searched))) is not None:
        warn_user(uneven)  # each architecture's batches: its own part of the data
    if search.objective is None:  # seeded trials at once in threads: not reproducible
        warn_shared_random_state(executor, workers, search.settings.goal.seed,
                                 search.trainer, searched)
    check_fill(search.space, search.settings.transfer.warm_start_fill)
    check_scales(search.settings.transfer.warm_start, search.settings.goal.optimizer,
                 search.settings.goal.monitor, search.settings.goal.mode,
                 objectives, search.settings.run_dir)
    check_repeats(search.settings.transfer.warm_start, search.settings.goal.optimizer,
                  search.space, search.settings.transfer.warm_start_fill,
                  search.settings.run_dir, budget=search.settings.goal.budget,
                  num_workers=workers)
    archs = [search.space.sample(seed=(search.settings.goal.seed or 0) + i)
             for i in range(DRY_BUILD_ARCHS)]
    if search.objective is None:  # (was: each trial waited for the other nodes, 30 min)
        check_nodes(search.trainer, searched)
    # DDP trials: rank processes of their own (the config's Trainer or a searched one)
    ranks = check_trial_processes(search.trainer, searched)
    search.model.check_groups(archs[0])
    search.data.check_groups(archs[0])
    check_space_values(search, archs[0])
    if search.objective is None:  # [3, '3'] for an int: one model, two trials (was: taken)
        choices = space_choices(search.space.params)  # a group's too (was: top-level)
        check_option_clashes(choices, archs[0], search.model, search.data)
        check_trainer_option_clashes(choices)  # precision [32, "32-true"] (was: taken)
    limits = search.settings.limits.build()
    limits.violation(archs[0], {})  # a constraint that raises
    # a ProcessExecutor object of the user's, as executor="process" (was: not checked, its
    # workers started, then a raw "cannot pickle" TypeError, the run folder written)
    elsewhere = isinstance(executor, ProcessExecutor) or isinstance(executor, str) and not \
        isinstance(executor_for(search.settings.execution, search.trainer), InlineExecutor)
    if elsewhere and "logger" not in searched:  # its copies cannot attach to its run
        check_w_and_b_objects(search.trainer, "process" if isinstance(
            executor, ProcessExecutor) else executor)
    if search.objective is None:  # one MLflow run for every trial: each trial's params;
        check_mlflow_run_ids(search.trainer, searched.get("logger"),  # a folder none writes
                             option_keys(options, places).get("logger"))
        check_trainer_dirs(search.trainer, searched,  # default_root_dir, dirpath too
                           keys=option_keys(options, places))
    # a RayExecutor object of the user's sends each trial too (was: not checked, Ray's
    # "Could not serialize the put value TrialSpec(...)" once its local cluster had started);
    # so does a ProcessPoolExecutor (was: each trial FAILED with the pickling error), whose
    # start method (a fork takes __main__'s objects) is its own: the pickling alone checked
    by_value = executor == "ray" or isinstance(executor, RayExecutor) or _process_pool(executor)
    if ranks is not None or elsewhere or by_value:
        check_sendable(search.template.spec(0, search.space.sample(seed=0), dry=True), ranks,
                       by_value=by_value)  # Ray's cloudpickle: __main__ by value
    rule = rule_for(search.settings.early_stopping, search.settings.goal.mode,
                    unsearched(search.trainer, searched))
    # trials that run here or in local worker processes: the Trainer is built here too
    local = executor in ("auto", "inline", "process")
    model, data = search.template.dry_build(archs, searched, trainer=local,
                                            keys=option_keys(options, places))
    # a GradientAccumulationScheduler the module's configure_callbacks() returns replaces
    # the Trainer's (was: the config's callbacks alone: a working interval refused, one
    # that never validates taken), asked as each trial's fit asks it: attached to its
    # Trainer where it reads it (was: asked alone, it raised and said none)
    asked = TrialCallbacks(model, search.template.spec(0, archs[0], dry=True) if local
                           else None)
    own = asked()
    check_validation_runs(unsearched(search.trainer, searched), search.settings.goal.monitor,
                          own)  # a searched value's too, as each trial counts it (was: not)
    check_trainer_values(unsearched(search.trainer, searched), searched,
                         search.settings.goal.monitor, module_callbacks=asked,
                         held=search.trainer, keys=option_keys(options, places))
    if model is not None and search.objective is None:  # what NASModule logs, known now
        check_nas_logged(model, search.settings.goal.monitor,
                         objectives.names[1:] if objectives else (), search.trainer)
    if model is not None and search.objective is None and search.data.target is None:
        check_own_loaders(model)  # no data: the model's own loaders
    if model is not None and search.objective is None:  # a fit that skips validation
        check_validates(model, data, search.settings.goal.monitor)  # as built (a hook set
        # in __init__ counts, as Lightning counts it; was: its class judged, such data refused)
    if model is not None:  # each choice's options, each range's bounds, beside values
        check_option_builds(search, archs)  # that build
    # each trial's callbacks: a searched list's every value (a key into one node's argument,
    # trainer.callbacks.early_stopping.patience, gives one list per value; was: neither
    # warning where any key under trainer.callbacks was searched)
    lists = searched.get("callbacks", [search.trainer.get("callbacks")])
    if model is not None:  # a trial that may never end (searched values: each trial's own)
        epochs = search.template.max_epochs  # a scheduler's search.max_epochs: the trials'
        trainer = search.trainer if epochs is None else {**search.trainer, "max_epochs": epochs}
        ends = {key: values for key, values in searched.items() if key in _LIMITS
                and (key != "max_epochs" or epochs is None)}  # (a scheduler's: fixed)
        warn_endless_trials(trainer, ends, lists, own or [])
    if search.objective is None:  # on another metric: where every trial's does (a value
        # the user searched, early_stopping.monitor: {choice: [...]}, is meant)
        said = [warn_stopping_monitor({**search.trainer, "callbacks": c},
                                      search.settings.goal.monitor, search.settings.goal.mode,
                                      None if model is None else own or [], say=False)
                for c in lists]
        for text in (t for t in said[0] if all(t in other for other in said[1:])):
            warn_user(text)
    if search.objective is None:  # a logger's one folder for every trial; a searched
        # trainer.logger's: each value's (was: none checked)
        warn_fixed_versions(search.trainer, str(search.run_dir / "logs"), searched.get("logger"),
                            option_keys(options, places).get("logger"))
    if rule is not None and model is not None:  # its own EarlyStopping would end trials
        check_module_stops(asked, search.settings.early_stopping.scheduler, searched)
    if search.template.cost_names:  # counting works: check it now
        check_counting(search.template.costs, archs, limits,
                       search.settings.goal.objectives)
    check_some_meets(search.space, limits, search.template.costs)  # a finite space's


def _process_pool(executor: Any) -> bool:
    """Whether ``executor`` (a search's setting) is a ``ProcessPoolExecutor``, given as it
    is or wrapped in a ``FuturesExecutor``: its trials are pickled to its processes."""
    return isinstance(executor, ProcessPoolExecutor) or (
        isinstance(executor, FuturesExecutor)
        and isinstance(executor.executor, ProcessPoolExecutor))


def trial_names(search: Search) -> dict[str, list[str]]:
    """The names a search's config gave the nodes of its Trainer lists (a mapping of named
    nodes at ``trainer.callbacks``, ``logger``, ``plugins``: ``config.node_places.
    node_names``) where each trial's list is the config's (a key into one node's argument
    keeps it), for its checks to name a node as written; not a list the space searches
    whole (its values are lists of their own, said by their places)."""
    places = search.template.places
    keyed = option_keys(space_options(search.space), places)
    return {name: names for name, names in config_names(search.config).items()
            if all(node_place(places.get(key, key)) for key, _ in keyed.get(name, ()))}


#: the Trainer arguments that end a fit (``warn_endless_trials``)
_LIMITS = ("max_epochs", "max_steps", "max_time")


def warn_endless_trials(trainer: Mapping[str, Any], limits: Mapping[str, list[Any]],
                        lists: list[Any], module_callbacks: object = None) -> bool:
    """Warn once (and return True) when some trial of the search would never end
    (``rule_checks.warn_endless``): ``trainer`` with each combination of the searched
    values of ``limits`` (``max_epochs``, ``max_steps``, ``max_time``: their options by
    name) and each of ``lists`` (the trials' callbacks), the warning ending with the
    searched values that make it so (was: nothing said whenever one was searched, though
    the trials given ``max_epochs=-1`` and nothing else that ends them train for ever).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as said:
        ...     warnings.simplefilter("always")
        ...     warn_endless_trials({}, {"max_epochs": [5, -1]}, [None])
        True
        >>> str(said[0].message)[-66:]
        'add one of them (the trials of the searched trainer.max_epochs=-1)'
    """
    for values in itertools.product(*limits.values()):
        given = dict(zip(limits, values, strict=True))
        for callbacks in lists:
            said = endless_text({**trainer, **given, "callbacks": callbacks}, module_callbacks)
            if said is not None:  # (said once: its text is every such trial's)
                option = ", ".join(f"trainer.{key}={value!r}" for key, value in given.items())
                warn_user(f"{said} (the trials of the searched {option})" if given else said)
                return True
    return False


def check_own_loaders(model: Any) -> None:
    """Refuse, before training, a search given no data whose model lacks a loader a trial
    needs, ``train_dataloader`` or ``val_dataloader`` (was: trials 1 and 2 failed with
    Lightning's "`train_dataloader` must be implemented", the run folder written).

    Example:
        >>> import lightning.pytorch as pl
        >>> check_own_loaders(pl.LightningModule())
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: no data was given (data= from Python, a data ...
    """
    from lightning.pytorch.utilities.model_helpers import is_overridden

    missing = [f"{hook}()" for hook in ("train_dataloader", "val_dataloader")
               if not is_overridden(hook, model)]
    if missing:
        raise ConfigError(
            f"no data was given (data= from Python, a data section in a config), so trials "
            f"train on the model's own dataloaders, and {type(model).__name__} has no "
            f"{' or '.join(missing)}: give data a LightningDataModule (its class, an instance "
            f"or an import path), or define {'them' if len(missing) > 1 else 'it'} on the model")


def _data_class(target: Any) -> Any:
    """The class of a search's data (a config section's, a class, an instance's), for the
    error of a plain space key that is its argument; None for a callable or no data. The
    model's class alike (a config section's, a class)."""
    if isinstance(target, ConfigBuilder):
        try:
            return target.target()
        except ConfigError:  # a class that does not import: the data's own check says so
            return None
    return target if inspect.isclass(target) else type(target) if isinstance(
        target, pl.LightningDataModule) else None


def check_space_values(search: Search, arch: dict[str, Any]) -> None:
    """Every value a space key may take (each option of a choice, the bounds of a
    range; in a group too), set into ``arch``, is checked as a fixed setting is: a
    Trainer argument as the Trainer's, a model or data argument against its annotation;
    then the searched Trainer values together. No trial fails for a value the search
    chose (``limit_val_batches: {choice: [0, 1]}``), and the winner trains again with
    ``lightning-nas fit``, which checks the same.

    Args:
        search: the ``Search`` being made.
        arch: a sampled architecture, the values of the other keys.

    Raises:
        ConfigError: naming the space key and the value it may take.
    """
    values = space_options(search.space)
    said = arch_error(search, arch)
    own = arch_error(search, {})  # the config's own values, no space key's
    if said is not None and said == own:  # was: blamed a space key, whatever it took
        raise ConfigError(f"the config's own value (no space key's): {said}")
    if said is not None:  # the sample itself: blame the key whose value it is
        # (one whose other values fit, else a key or group that fails alone, the group
        # named with its dict: was not named, "model.head={'act': 'gelu'}: expected ...")
        path = next((p for p, options in values.items() if any(
            arch_error(search, with_value(arch, p, v)) is None for v in options)),
            next((p[:1] for p in values if arch_error(search, {p[0]: arch[p[0]]})), None))
        if path is not None and own is None:  # a choice's options that fail: all at once
            check_choices_alone(search.space, path, functools.partial(arch_error, search))
        raise ConfigError(said if path is None else f"space key {'.'.join(path)!r} may "
                          f"take {value_at(arch, path)!r}: {said}")
    scheduler = search.settings.early_stopping.scheduler
    scheduler = None if scheduler in (None, "none") else scheduler
    searched = trainer_options(values, search.trainer, search.template.places)
    if scheduler is not None and "max_epochs" in searched:
        name = type(scheduler).__name__ if isinstance(scheduler, Rule) else scheduler
        raise ConfigError(f"space key 'trainer.max_epochs' is searched, but scheduler "
                          f"{name!r} sets every trial's epochs (its rungs, up to "
                          f"search.max_epochs or trainer.max_epochs); search it without "
                          f"a scheduler")
    for path, options in values.items():
        key = ".".join(path)  # a key of a group: checked as its dotted form is
        for value in options if not (len(path) == 1 and key.startswith("trainer.")) else ():
            if (said := arch_error(search, with_value(arch, path, value))) is not None:
                if own is None:  # a choice's options that fail: all at once
                    check_choices_alone(search.space, path,
                                        functools.partial(arch_error, search))
                raise ConfigError(f"space key {key!r} may take {value!r}: {said}")
    # each as a fixed setting is, then together; the module's accumulation scheduler once
    # the dry build has made the module (check_search)
    epochs = None  # a trial's last epoch, for a rule made (the search's or the Trainer's)
    if scheduler is not None:  # its rule, whose rungs judge a searched
        # check_val_every_n_epoch (one not made yet: rule_for says why, after these checks)
        try:
            scheduler = rule_of(search.settings.early_stopping, search.settings.goal.mode,
                                unsearched(search.trainer, searched)) or scheduler
            epochs = search.template.max_epochs or search.trainer.get("max_epochs")
        except ConfigError:
            pass
    check_trainer_values(unsearched(search.trainer, searched), searched,
                         search.settings.goal.monitor, scheduler, None, epochs=epochs,
                         ranges=trainer_ranges(search.space),  # each value of a range
                         held=search.trainer, keys=option_keys(values, search.template.places))


def arch_error(search: Search, arch: dict[str, Any]) -> str | None:
    """What the model's or the data's annotations say against ``arch``, or None.

    Args:
        search: the ``Search`` being made (an ``objective=`` search checks none).
        arch: the architecture to check.

    Returns:
        The ``ConfigError``'s message, or None when the annotations accept ``arch``.
    """
    if search.objective is not None:
        return None
    try:
        search.model.check_arch(arch)
        search.data.check_arch(arch)
    except ConfigError as err:
        return str(err)
    return None

"""The values of a sweep's searched config groups (and of its searched Trainer arguments),
each composed once before the first job, as its jobs compose it.

An option of a config group may set anything: an ``experiment`` option of ``# @package
_global_`` may set ``trainer: {devices: 2, strategy: ddp}``. So before the first job:

- ``check_group_options``: every searched option of a config group exists;
- ``check_composes``: a job of the space composes and passes ``check`` (a misspelt key is
  named with the closest one and those at its level);
- ``check_target_arguments``: each searched key under a ``_target_`` node (added with
  ``+``/``++`` or set by the file), and each other command-line override, is an argument
  of that target (the sweeper's ``check``; the first job's other keys: warned of);
- ``option_jobs``: each value of a searched config group or Trainer argument composed
  and checked (``check_one_process_per_job``: no job's Trainer re-runs the command line)
  once, beside the first sample's values of the other searched keys, or where those do not
  work (an option that interpolates ``${n}``, or needs a key another searched option
  sets), the first of at most ``COMBINATIONS`` others that does (each other key's values
  one at a time, then two at a time, ...): one that works with none is refused (each job
  that picked it would fail), naming the values it was composed with; one that works with
  some is left to the check of each job's own composed config, which the sweeper runs
  before that job is launched (FAILED unlaunched where it does not work);

``hydra_resume.job_setup`` records what each option composes from the same jobs.

Example:
    >>> check_one_process_per_job(OmegaConf.create({"trainer": {"devices": 1}}), "BasicLauncher")
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Iterator
from typing import Any

from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf

from lightning_nas.config.calls import accepted_kwargs
from lightning_nas.config.chain import init_kwargs, name_hint
from lightning_nas.config.instantiate import import_object
from lightning_nas.config.nodes import HYDRA_KEYS
from lightning_nas.errors import ConfigError, did_you_mean, one_line
from lightning_nas.integrations.hydra_combinations import (
    Check,
    EveryJob,
    also_with,
    compose_any,
    same_held,
)
from lightning_nas.integrations.hydra_grammar import SweepParams, group_of, path_of
from lightning_nas.search.runner_checks import needs_own_process, spawns_ranks
from lightning_nas.space.params import Choice
from lightning_nas.user_warnings import warn_user

__all__ = ["check_composes", "check_group_options", "check_one_process_per_job",
           "check_target_arguments", "check_tasks_per_node", "group_choices", "option_jobs"]

#: launchers whose jobs may get their ranks from outside (SLURM tasks), not by re-running
_RANKS_FROM_OUTSIDE = ("SlurmLauncher",)


def check_group_options(sweep: SweepParams, loader: Any) -> None:
    """Every searched option of a config group must exist (``optim@model.optimizer`` and
    ``+extra`` are the groups ``optim`` and ``extra``).

    Raises:
        ConfigError: naming the key, the missing option, the closest one and the options.
    """
    for key, param in sweep.space.params.items():
        if not isinstance(param, Choice):
            continue
        group = group_of(key)
        options = loader.get_group_options(group)
        missing = [v for v in param.values if options and str(v) not in options]
        if missing:
            raise ConfigError(f"sweep parameter {key!r}: {missing[0]!r} is not an option of "
                              f"config group {group}; {did_you_mean(str(missing[0]), options)}"
                              f"its options: {', '.join(options)}")


def check_composes(config: DictConfig, loader: Any, sweep: SweepParams,
                   check: Check | None = None) -> DictConfig:
    """A job config of the space (the first sample's, or where it does not compose or
    ``check`` refuses it, another's: ``compose_any``): the overrides must compose with the
    config (what ``validate_batch_is_legal`` checks for each job of a batch), before
    anything is stored.

    Raises:
        ConfigError: for a searched key the config lacks (a misspelt one), naming it, the
            closest key at its level and the keys there; else Hydra's error (or
            ``check``'s), naming the values it was composed with.
    """
    found = compose_any(config, loader, sweep, {}, check)
    if isinstance(found, DictConfig):
        return found
    err, overrides, tried = found
    if isinstance(err, ConfigError):  # check's: the job composed, and cannot run
        raise ConfigError(same_held(err, tried)) from None
    missing = _missing_key(config, loader, sweep)
    if missing is not None:  # Hydra's "use +key" would fail every job in the model
        raise ConfigError(missing) from None
    raise ConfigError(f"the sweep's overrides {overrides} do not compose with the "
                      f"config{also_with(tried)}: {err}") from err


def option_jobs(config: DictConfig, loader: Any, sweep: SweepParams,
                check: Check | None = None) -> dict[str, dict[str, DictConfig]]:
    """``{key: {value: job config}}`` for each searched choice that picks a config group's
    option or sets a Trainer argument (``trainer.devices``, ``+trainer.strategy``): each
    composed beside the first sample's values of the other searched keys, or where that
    does not compose or ``check`` refuses it, beside the first other combination of their
    values that works (``compose_any``; was: refused, though its jobs with other values
    work, and the per-job check before each launch fails those that do not).

    Args:
        config: the sweep's config (Hydra's, composed without the searched values).
        loader: Hydra's config loader.
        sweep: the searched space and the command line's other overrides.
        check: run on each composed job with the value (``experiment=two``).

    Raises:
        ConfigError: for a value whose job composes with none of the combinations tried (its
            defaults name a missing file, a command-line override sets a key its file
            lacks, ...) or that ``check`` refuses with each, naming it, the first job's
            overrides and Hydra's (or ``check``'s) error, and the combinations tried.
    """
    jobs: dict[str, dict[str, DictConfig]] = {}
    for key, param in sweep.space.params.items():
        group = group_of(key)
        if not isinstance(param, Choice) or not (
                group == "trainer" or group.startswith("trainer.")
                or loader.get_group_options(group)):
            continue
        for value in param.values:
            found = compose_any(config, loader, sweep, {key: value}, check)
            if isinstance(found, DictConfig):
                jobs.setdefault(key, {})[str(value)] = found
                continue
            err, overrides, tried = found
            if isinstance(err, ConfigError):  # check's: it composed, and cannot run
                raise ConfigError(same_held(err, tried)) from None
            raise ConfigError(
                f"sweep parameter {key!r}: {key}={value} does not compose with the "
                f"config, so every job that picked it would fail: {_said(err)}"
                f"{also_with(tried)} (the job's overrides: {overrides}); fix it, or leave it "
                f"out of the search") \
                from None
    return jobs


def _missing_key(config: DictConfig, loader: Any, sweep: SweepParams) -> str | None:
    """The error for the first searched key (not ``+``: an override sets a key there) that
    the first sample's job config lacks, with the options it picks; ``None`` if none."""
    arch = sweep.space.sample(seed=0)
    groups = {k: v for k, v in arch.items() if loader.get_group_options(group_of(k))}
    try:
        tree = OmegaConf.to_container(loader.load_sweep_config(config, sweep.overrides(groups)),
                                      resolve=False)
    except Exception:  # noqa: BLE001 - an option or another override fails: Hydra's error
        return None
    own = {"hydra": tree.pop("hydra", None) or {}}  # Hydra's node (was: "the config has no
    for key in (k for k in arch if k not in groups and not k.startswith("+")):  # key 'hydra'")
        node, where = (own, "") if key.startswith("hydra.") else (tree, "the config")
        for part in key.split("."):
            if not isinstance(node, dict):
                break
            if part not in node:
                names, takes_any = _arguments(node)
                if part in names:  # an argument that the file leaves at its default
                    return (f"sweep parameter {key!r}: {where} does not set {part!r} (an "
                            f"argument of {node['_target_']}); search +{key} to add it")
                valid = [str(k) for k in dict.fromkeys([*node, *names]) if k not in HYDRA_KEYS]
                add = (f" ({where} takes any key: +{key} adds it)" if takes_any else
                       "" if "_target_" in node else  # (a key its target takes: above)
                       f"; search +{key} to add it as a new key")  # (was: no word of +)
                return (f"sweep parameter {key!r}: {where} has no key {part!r}; "
                        f"{did_you_mean(part, valid)}accepted: {', '.join(valid) or 'none'}{add}")
            node = node[part]
            where = part if where in ("the config", "") else f"{where}.{part}"
    return None


def _arguments(node: dict[str, Any]) -> tuple[list[str], bool]:
    """The keyword arguments of what a ``_target_`` node builds, and whether it takes
    ``**kwargs``; none where there is no such node (or it does not import here)."""
    try:
        # a base's too, where its **kwargs are passed on whole to super().__init__
        return init_kwargs(import_object(node["_target_"]), forwarded=True)
    except Exception:  # noqa: BLE001 - no _target_, or one only a job imports
        return [], False


def check_target_arguments(job: DictConfig, sweep: SweepParams, loader: Any,
                           warn_file: bool = False) -> None:
    """Each searched key of ``job`` (a composed job config) under a ``_target_`` node,
    added with ``+``/``++`` or set by the config, must be an argument of the node's target,
    which Hydra's ``instantiate`` passes it to (was: each job failed building the node):
    the target's keyword arguments (a class's along its ``**kwargs`` passed on whole, as
    Python calls it; ``_partial_`` nodes alike), any name where it takes ``**kwargs``. So
    must each other override of the command line (``+model.net.foo=3``; was: launched). A
    node under a ``_recursive_: false`` one is not built by Hydra and is not checked, nor
    are Hydra's own (``hydra.``); a target that does not import here is warned of.

    Args:
        job: a composed job config; ``loader``: Hydra's config loader.
        sweep: the searched space and the command line's other overrides.
        warn_file: also warn of each other key of each ``_target_`` node of ``job`` that
            its target does not take (not refused: the task may leave a node unbuilt).

    Raises:
        ConfigError: naming the key (or override), the argument, the target, the closest
            argument and those the target takes.
    """
    tree = OmegaConf.to_container(job, resolve=False)
    lines = {line.split("=", 1)[0]: line for line in sweep.passthrough if "=" in line}
    for key in [*sweep.space.params, *(k for k in lines if k not in sweep.space.params)]:
        if "@" in key or key.startswith("~") or loader.get_group_options(group_of(key)) \
                or path_of(key).split(".")[0] == "hydra":
            continue  # a config group's option, a deletion, Hydra's own
        found = _owner(tree, path_of(key).split("."))
        if found is None:
            continue
        where, part = found
        said = f"sweep parameter {key!r}" if key in sweep.space.params else \
            f"command-line override {lines[key]!r}"
        wrong, target = _refusal(job, where, part)
        if isinstance(wrong, BaseException):
            warn_user(f"{said} not checked: the _target_ of {where}, {target}, does not "
                      f"import here ({one_line(wrong)}); each job that builds {where} "
                      f"fails where it does not import")
        if not isinstance(wrong, str):
            continue
        # the same in every job where no searched value sets the node, its _target_ (an
        # interpolation) or a config group's option (which may set anything)
        fixed = "${" not in str(_tree_target(tree, where)) and not any(
            k != key and (loader.get_group_options(group_of(k)) or f"{where}.".startswith(
                f"{path_of(k)}.")) for k in sweep.space.params)
        raise (EveryJob if fixed else ConfigError)(f"{said}: {wrong}")
    given = {path_of(k) for k in [*sweep.space.params, *lines]}
    for where, part in _node_keys(tree) if warn_file else ():
        wrong, _ = _refusal(job, where, part)
        if isinstance(wrong, str) and f"{where}.{part}" not in given:
            warn_user(f"config key '{where}.{part}': {wrong} (not refused: the task "
                      f"function may leave {where} unbuilt)")


def _refusal(job: DictConfig, where: str, part: str) -> tuple[str | BaseException | None, Any]:
    """Why ``part`` is not an argument of the ``_target_`` of the node at ``where``
    (``None`` where it is one, or the node has no target name), or the error where the
    target does not import here; and the target."""
    target = OmegaConf.select(job, f"{where}._target_", default=None,
                              throw_on_resolution_failure=False)
    if not isinstance(target, str):
        return None, target
    built, names, any_name = _takes(target)
    if isinstance(built, BaseException) or part in names or any_name:
        return (built if isinstance(built, BaseException) else None), target
    hint = name_hint(built, part, names) if inspect.isclass(built) else \
        did_you_mean(part, names)
    return (f"{part!r} is not an argument of {target} (the _target_ of {where}), so every "
            f"job would fail to build {where}; {hint}it takes {names}"), target


def _node_keys(tree: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """``(path, key)`` for each key (Hydra's own left out) of each ``_target_`` node that
    Hydra builds in ``tree`` (not the root, nor ``hydra``, nor under ``_recursive_: false``)."""
    items = tree.items() if isinstance(tree, dict) else \
        enumerate(tree) if isinstance(tree, list) else ()
    for name, value in items:
        path = f"{where}.{name}" if where else str(name)
        if path == "hydra":
            continue
        if isinstance(value, dict) and "_target_" in value:
            yield from ((path, str(k)) for k in value if k not in HYDRA_KEYS)
            if value.get("_recursive_") is False:
                continue
        yield from _node_keys(value, path)


def _tree_target(tree: Any, where: str) -> Any:
    """The ``_target_`` of the node at dotted ``where`` of ``tree``, as written."""
    for part in where.split("."):
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree.get("_target_") if isinstance(tree, dict) else None


@functools.lru_cache(maxsize=64)
def _takes(target: str) -> tuple[Any, list[str], bool]:
    """What ``target`` names (found as Hydra's ``instantiate`` finds it; the error where it
    does not import), the keyword arguments it takes and whether it takes any name (a
    ``**kwargs``, or a signature that cannot be read); once per target."""
    quiet = logging.getLogger("hydra.utils")  # its error line: a key's warning says it, and
    was, quiet.disabled = quiet.disabled, True  # a file's node the task may never build
    try:
        built = get_method(target)
    except Exception as err:  # noqa: BLE001 - Hydra's ImportError, the module's own
        return err, [], True
    finally:
        quiet.disabled = was
    try:  # a class's along its **kwargs passed on whole, as Python calls it
        names, any_name = (init_kwargs(built, forwarded=True) if inspect.isclass(built)
                           else accepted_kwargs(built))
    except (TypeError, ValueError):  # no signature to read: it may take any name
        return built, [], True
    return built, names, any_name


def _owner(tree: Any, parts: list[str]) -> tuple[str, str] | None:
    """The deepest ``_target_`` node that Hydra builds on the path ``parts`` (its dotted
    path) and the argument of it that the path names; ``None`` where there is none."""
    node, found = tree, None
    for depth, part in enumerate(parts):
        if not isinstance(node, dict):
            break
        if "_target_" in node:
            found = (".".join(parts[:depth]), part)
            if node.get("_recursive_") is False:  # its nodes reach it unbuilt
                break
        node = node.get(part)
    return None if found is None or found[1] in HYDRA_KEYS or not found[0] else found


def _said(err: BaseException) -> str:
    """Hydra's composition error on one line, without the config search path it lists."""
    return " ".join(str(err).split("Config search path:")[0].split())


def check_one_process_per_job(job: DictConfig, launcher: str, where: str = "") -> None:
    """A job whose Trainer starts several processes (``trainer.devices: 2``, DDP) is refused
    before any job runs, unless SLURM starts the ranks (``launcher``, the launcher's class
    name): Lightning's launcher starts the other ranks by re-running the command line, and
    under ``-m`` that line is the whole sweep, which would start again in every rank.
    A strategy that spawns (or forks) its ranks from inside ``fit`` on one node
    (``ddp_spawn``, the lightning-hydra-template's ``trainer=ddp_sim``) re-runs nothing:
    its ranks are the job's children and rank 0's metrics come back to it, so it passes
    (was: refused, for a reason it does not have). ``where`` names the searched value
    whose jobs these are (``experiment=two``).

    Raises:
        ConfigError: naming the Trainer settings, why, and what to do instead.
    """
    if launcher in _RANKS_FROM_OUTSIDE:
        return
    settings = _process_settings(job)
    if settings is None or not needs_own_process(settings):
        return
    if spawns_ranks(settings.get("strategy")) and int(settings.get("num_nodes") or 1) == 1:
        return  # the job's fit starts its ranks (several nodes: the others are not started)
    shown = ", ".join(f"trainer.{k}={v!r}" for k, v in settings.items())
    raise ConfigError(
        f"{shown}{f' (the jobs of {where})' if where else ''} starts several processes "
        f"per job; Lightning starts the other ranks by re-running the command line, which "
        f"under a Hydra multirun is the whole sweep (Lightning issue #11300), so the "
        f"{launcher} cannot run these jobs. Sweep with trainer.devices=1, or with "
        f"trainer.strategy=ddp_spawn on one node (its ranks are the job's children), or "
        f"search with `lightning-nas search` (its DDP trials run on rank processes of their "
        f"own)")


def check_tasks_per_node(config: DictConfig, launcher: str) -> None:
    """``hydra.launcher.tasks_per_node`` above 1 on ``submitit_local`` (``launcher``: the
    launcher's class name, ``LocalLauncher``) is refused before any job runs: each task runs
    the whole job, into the same folder (several writers of one job's results; was: run).
    Where the job's Trainer starts several processes (``config``'s ``trainer``), the
    message says how its ranks are meant to run instead.

    Example:
        >>> check_tasks_per_node(OmegaConf.create({"hydra": {"launcher": {
        ...     "tasks_per_node": 1}}}), "LocalLauncher")

    Raises:
        ConfigError: naming the setting and what works.
    """
    tasks = OmegaConf.select(config, "hydra.launcher.tasks_per_node", default=1)
    if launcher != "LocalLauncher" or not isinstance(tasks, int) or tasks <= 1:
        return
    settings = _process_settings(config)
    ranks = settings is not None and needs_own_process(settings)
    raise ConfigError(
        f"hydra.launcher.tasks_per_node={tasks} on submitit_local runs each job {tasks} times "
        f"at once, each the whole job into the same folder (its results written by "
        f"{tasks} processes); set hydra.launcher.tasks_per_node=1"
        + (" (the job's Trainer starts its DDP ranks itself: on one machine with "
           "trainer.strategy=ddp_spawn, its ranks the job's children; a task per rank is "
           "how SLURM runs them: hydra/launcher=submitit_slurm with tasks_per_node = "
           "trainer.devices)" if ranks else
           "; several jobs at once: hydra.sweeper.num_workers"))


def _process_settings(job: DictConfig) -> dict[str, Any] | None:
    """The job's ``trainer`` settings that say how many processes it starts
    (``accelerator``, ``devices``, ``num_nodes``, ``strategy``); None where it has no
    ``trainer`` node or one of them is an interpolation only the job resolves."""
    trainer = job.get("trainer")
    if not isinstance(trainer, DictConfig):
        return None
    settings: dict[str, Any] = {}
    for key in ("accelerator", "devices", "num_nodes", "strategy"):
        try:  # these keys alone: others may hold what only a job resolves (output dir)
            value = trainer.get(key)
        except Exception:  # noqa: BLE001 - an interpolation only the job can resolve
            return None
        if value is not None:
            settings[key] = (OmegaConf.to_container(value, resolve=True)
                             if OmegaConf.is_config(value) else value)
    return settings


def group_choices(config: DictConfig) -> dict[str, Any]:
    """The option of each config group the config composed (``hydra.runtime.choices``),
    Hydra's own groups left out."""
    try:
        choices = OmegaConf.to_container(config.hydra.runtime.choices, resolve=False)
    except Exception:  # noqa: BLE001 - a config without Hydra's node
        return {}
    return {k: v for k, v in choices.items() if not k.startswith("hydra/")}

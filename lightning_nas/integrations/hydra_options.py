"""The values of a sweep's searched config groups (and of its searched Trainer arguments),
each composed once before the first job, as its jobs compose it.

An option of a config group may set anything: an ``experiment`` option of ``# @package
_global_`` may set ``trainer: {devices: 2, strategy: ddp}``. So before the first job:

- ``check_group_options``: every searched option of a config group exists;
- ``check_composes``: the first sample's job composes (a misspelt key is named with the
  closest one and those at its level);
- ``option_jobs``: each value of a searched config group or Trainer argument composed
  once, the other searched keys at the first sample's values (one that does not compose
  is refused: each job that picked it would fail);
- ``check_one_process_per_job``: no such job's Trainer starts several processes (each of
  ``option_jobs``'s, and the first sample's); since a value's job may compose otherwise
  with other values of the other keys, the sweeper runs it again on each job's own
  composed config before that job is launched;

``hydra_resume.job_setup`` records what each option composes from the same jobs.

Example:
    >>> check_one_process_per_job(OmegaConf.create({"trainer": {"devices": 1}}), "BasicLauncher")
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from lightning_nas.config.chain import init_kwargs
from lightning_nas.config.instantiate import import_object
from lightning_nas.config.nodes import HYDRA_KEYS
from lightning_nas.errors import ConfigError, did_you_mean
from lightning_nas.integrations.hydra_grammar import SweepParams, group_of
from lightning_nas.search.runner import needs_own_process
from lightning_nas.space.params import Choice

__all__ = ["check_composes", "check_group_options", "check_one_process_per_job",
           "group_choices", "option_jobs"]

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


def check_composes(config: DictConfig, loader: Any, sweep: SweepParams) -> DictConfig:
    """The first sample's job config: its overrides must compose with the config (what
    ``validate_batch_is_legal`` checks for each job of a batch), before anything is stored.

    Raises:
        ConfigError: for a searched key the config lacks (a misspelt one), naming it, the
            closest key at its level and the keys there; else Hydra's error.
    """
    overrides = sweep.overrides(sweep.space.sample(seed=0))
    try:
        return loader.load_sweep_config(config, overrides)
    except Exception as err:  # noqa: BLE001 - Hydra's composition errors
        missing = _missing_key(config, loader, sweep)
        if missing is not None:  # Hydra's "use +key" would fail every job in the model
            raise ConfigError(missing) from None
        raise ConfigError(f"the sweep's overrides {overrides} do not compose with the "
                          f"config: {err}") from err


def option_jobs(config: DictConfig, loader: Any,
                sweep: SweepParams) -> dict[str, dict[str, DictConfig]]:
    """``{key: {value: job config}}`` for each searched choice that picks a config group's
    option or sets a Trainer argument (``trainer.devices``, ``+trainer.strategy``); the
    other searched keys take the first sample's values.

    Args:
        config: the sweep's config (Hydra's, composed without the searched values).
        loader: Hydra's config loader.
        sweep: the searched space and the command line's other overrides.

    Raises:
        ConfigError: for a value whose job does not compose (its defaults name a missing
            file, a command-line override sets a key its file lacks, ...), naming it, the
            job's overrides and Hydra's error.
    """
    base, jobs = sweep.space.sample(seed=0), {}
    for key, param in sweep.space.params.items():
        group = group_of(key)
        if not isinstance(param, Choice) or not (
                group == "trainer" or group.startswith("trainer.")
                or loader.get_group_options(group)):
            continue
        for value in param.values:
            overrides = sweep.overrides({**base, key: value})
            try:
                composed = loader.load_sweep_config(config, overrides)
            except Exception as err:  # noqa: BLE001 - Hydra's composition errors
                raise ConfigError(
                    f"sweep parameter {key!r}: {key}={value} does not compose with the "
                    f"config, so every job that picked it would fail: "
                    f"{_said(err)} (the job's overrides: {overrides}); fix "
                    f"it, or leave it out of the search") from None
            jobs.setdefault(key, {})[str(value)] = composed
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
    tree.pop("hydra", None)
    for key in (k for k in arch if k not in groups and not k.startswith("+")):
        node, where = tree, "the config"
        for part in key.split("."):
            if not isinstance(node, dict):
                break
            if part not in node:
                names, takes_any = _arguments(node)
                if part in names:  # an argument that the file leaves at its default
                    return (f"sweep parameter {key!r}: {where} does not set {part!r} (an "
                            f"argument of {node['_target_']}); search +{key} to add it")
                valid = [str(k) for k in dict.fromkeys([*node, *names]) if k not in HYDRA_KEYS]
                add = f" ({where} takes any key: +{key} adds it)" if takes_any else ""
                return (f"sweep parameter {key!r}: {where} has no key {part!r}; "
                        f"{did_you_mean(part, valid)}accepted: {', '.join(valid)}{add}")
            node = node[part]
            where = part if where == "the config" else f"{where}.{part}"
    return None


def _arguments(node: dict[str, Any]) -> tuple[list[str], bool]:
    """The keyword arguments of what a ``_target_`` node builds, and whether it takes
    ``**kwargs``; none where there is no such node (or it does not import here)."""
    try:
        # a base's too, where its **kwargs are passed on whole to super().__init__
        return init_kwargs(import_object(node["_target_"]), forwarded=True)
    except Exception:  # noqa: BLE001 - no _target_, or one only a job imports
        return [], False


def _said(err: BaseException) -> str:
    """Hydra's composition error on one line, without the config search path it lists."""
    return " ".join(str(err).split("Config search path:")[0].split())


def check_one_process_per_job(job: DictConfig, launcher: str, where: str = "") -> None:
    """A job whose Trainer starts several processes (``trainer.devices: 2``, DDP) is refused
    before any job runs, unless SLURM starts the ranks (``launcher``, the launcher's class
    name): Lightning's launcher starts the other ranks by re-running the command line, and
    under ``-m`` that line is the whole sweep, which would start again in every rank.
    ``where`` names the searched value whose jobs these are (``experiment=two``).

    Raises:
        ConfigError: naming the Trainer settings, why, and what to do instead.
    """
    if launcher in _RANKS_FROM_OUTSIDE:
        return
    trainer = job.get("trainer")
    if not isinstance(trainer, DictConfig):
        return
    settings: dict[str, Any] = {}
    for key in ("accelerator", "devices", "num_nodes", "strategy"):
        try:  # these keys alone: others may hold what only a job resolves (output dir)
            value = trainer.get(key)
        except Exception:  # noqa: BLE001 - an interpolation only the job can resolve
            return
        if value is not None:
            settings[key] = (OmegaConf.to_container(value, resolve=True)
                             if OmegaConf.is_config(value) else value)
    if not needs_own_process(settings):
        return
    shown = ", ".join(f"trainer.{k}={v!r}" for k, v in settings.items())
    raise ConfigError(
        f"{shown}{f' (the jobs of {where})' if where else ''} starts several processes "
        f"per job; Lightning starts the other ranks by re-running the command line, which "
        f"under a Hydra multirun is the whole sweep (Lightning issue #11300), so the "
        f"{launcher} cannot run these jobs. Sweep with trainer.devices=1, or search with "
        f"`lightning-nas search` (its DDP trials run on rank processes of their own)")


def group_choices(config: DictConfig) -> dict[str, Any]:
    """The option of each config group the config composed (``hydra.runtime.choices``),
    Hydra's own groups left out."""
    try:
        choices = OmegaConf.to_container(config.hydra.runtime.choices, resolve=False)
    except Exception:  # noqa: BLE001 - a config without Hydra's node
        return {}
    return {k: v for k, v in choices.items() if not k.startswith("hydra/")}

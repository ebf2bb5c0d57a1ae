"""``ComposedJobs``: each job of a sweep composed once where its launcher composes it in the
sweep's process. The sweeper composes every job before its batch is launched (its check:
a job that does not compose, or that the check refuses, is FAILED unlaunched), and Hydra's
basic launcher composes it again, with the same config loader, the same sweep config and
the same overrides. So the launcher is set up with a Hydra context whose loader
(``LauncherLoader``) hands it the sweeper's composition of the job instead: a copy taken
before the check read it, with the sweep config's resolver cache copied again as Hydra's
``load_sweep_config`` ends. It does so only where nothing Hydra composes from can have
changed since (the config files, the ``ConfigStore``, the working directory, the
environment): no job started since it was composed (``job_started``: the basic launcher
runs a batch's jobs one after the other, and a job may change any of them, so the next
job of the batch is composed again). A launcher that composes in another process
(joblib, submitit, Ray) pickles its context: there the loader is Hydra's own, which
composes each job as before.

The sweeper's own checks before the first job (``check_composes``, ``option_jobs``) compose
through ``sweep_loader()``: a job already composed in this sweep from the same sweep config
and the same overrides, with no job started since, is not composed again (the first
sample's job is a searched option's job too; a searched option's is the first job's check),
each caller given its own copy. They ask it for a config group's options
(``get_group_options``, ``list_groups``: Hydra builds a caching repository of the whole
search path, a deep copy, for each question) once per question until a job starts, as a
job is composed once. Asked with no primary config (the sweeper's checks ask so), they are
the options on the sweep's own search path: its primary config's ``hydra.searchpath`` and
the command line's (``primary``; was: Hydra's without them, so an option found in such a
folder was refused as none, though Hydra composes it). What is kept lives in the sweep's
``ComposedJobs`` alone (``setup`` makes one per sweep, and a sweep starts with nothing
kept): a later sweep, a resume, reads the config files as they are then.

Example:
    >>> composed = ComposedJobs(loader=None)
    >>> composed.held()
    0
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from hydra.core.config_loader import ConfigLoader
from hydra.core.object_type import ObjectType
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import HydraContext
from omegaconf import DictConfig, OmegaConf

__all__ = ["ComposedJobs", "LauncherLoader", "SweepLoader", "primary_of"]


class ComposedJobs:
    """The jobs the sweeper composed since the last job started, for the launcher.

    Args:
        loader: Hydra's config loader (the sweep's ``hydra_context.config_loader``).
        primary: the sweep's primary config name and Hydra overrides (``primary_of``), whose
            ``hydra.searchpath`` adds folders to a group's options; ``(None, ())``: none.
    """

    def __init__(self, loader: Any,
                 primary: tuple[str | None, tuple[str, ...]] = (None, ())) -> None:
        self.loader, self.primary = loader, primary
        self._jobs: dict[tuple[str, ...], tuple[DictConfig, DictConfig]] = {}
        self._made: dict[tuple[str, ...], tuple[DictConfig, DictConfig]] = {}
        self._options: dict[tuple[Any, ...], list[str]] = {}

    def __getstate__(self) -> dict[str, Any]:  # (TimedTask's, to another process: none)
        return {"loader": self.loader, "primary": self.primary, "_jobs": {}, "_made": {},
                "_options": {}}

    def held(self) -> int:
        """How many composed jobs wait for the launcher."""
        return len(self._jobs)

    def compose(self, config: DictConfig, overrides: Sequence[str]) -> DictConfig:
        """The job of ``overrides`` composed by Hydra (``load_sweep_config``), a copy of it
        kept for the launcher's composition of the same job.

        Raises:
            Exception: Hydra's, where the overrides do not compose (nothing is kept).
        """
        job = self.load_sweep_config(config, overrides)
        self._jobs[tuple(overrides)] = (config, copy.deepcopy(job))
        return job

    def load_sweep_config(self, config: DictConfig, overrides: Sequence[str]) -> DictConfig:
        """The job of ``overrides`` on ``config`` as Hydra's ``load_sweep_config`` composes
        it: composed once (until a job starts), each call given a copy of it with
        ``config``'s resolver cache copied as Hydra's ends.

        Raises:
            Exception: Hydra's, where the overrides do not compose (nothing is kept).
        """
        held = self._made.get(tuple(overrides))
        if held is None or held[0] is not config:
            held = (config, self.loader.load_sweep_config(config, list(overrides)))
            self._made[tuple(overrides)] = held
        job = copy.deepcopy(held[1])
        OmegaConf.copy_cache(from_config=config, to_config=job)
        return job

    def take(self, config: DictConfig, overrides: Sequence[str]) -> DictConfig | None:
        """The kept composition of ``overrides`` on ``config`` (once), with ``config``'s
        resolver cache copied as ``load_sweep_config`` copies it; None where none is kept."""
        held = self._jobs.pop(tuple(overrides), None)
        if held is None or held[0] is not config:
            return None
        OmegaConf.copy_cache(from_config=config, to_config=held[1])
        return held[1]

    def group_options(self, group_name: str,
                      results_filter: ObjectType | None = ObjectType.CONFIG,
                      config_name: str | None = None,
                      overrides: Sequence[str] | None = None) -> list[str]:
        """Hydra's ``get_group_options`` of these arguments, asked once (until a job
        starts), each call given a copy of the list; with no ``config_name`` and no
        ``overrides``, those of the sweep's primary config (its search path)."""
        if config_name is None and not overrides:
            config_name, overrides = self.primary
        key = (group_name, results_filter, config_name, tuple(overrides or ()))
        if key not in self._options:
            self._options[key] = list(self.loader.get_group_options(
                group_name, results_filter, config_name, list(overrides or ())))
        return list(self._options[key])

    def job_started(self) -> None:
        """A job started: it may change what the next job composes (or which options a
        config group has), so nothing kept is handed out (called by the task function's
        wrapper, ``TimedTask``, and as a sweep starts)."""
        self._jobs.clear()
        self._made.clear()
        self._options.clear()

    def launcher_context(self, hydra_context: HydraContext) -> HydraContext:
        """``hydra_context`` whose loader hands the launcher the kept compositions."""
        return HydraContext(config_loader=LauncherLoader(self.loader, self),
                            callbacks=hydra_context.callbacks)

    def sweep_loader(self) -> SweepLoader:
        """Hydra's loader for the sweeper's checks, composing each job once (``SweepLoader``)."""
        return SweepLoader(self.loader, self)


def primary_of(config: DictConfig) -> tuple[str | None, tuple[str, ...]]:
    """The sweep's primary config name and its command line's ``hydra.searchpath``
    overrides: what Hydra reads a job's search path from, beside the loader's own.

    Args:
        config: the sweep's config (``setup``'s).

    Example:
        >>> from omegaconf import OmegaConf
        >>> primary_of(OmegaConf.create({"hydra": {"job": {"config_name": "train"},
        ...     "overrides": {"hydra": ["hydra.searchpath=[pkg://x]", "hydra.mode=RUN"]}}}))
        ('train', ('hydra.searchpath=[pkg://x]',))
    """
    name = OmegaConf.select(config, "hydra.job.config_name", default=None)
    given = OmegaConf.select(config, "hydra.overrides.hydra", default=None)
    # as written: an override may hold a job's interpolation (``hydra.sweep.subdir=job_
    # ${hydra.job.num}``), which reading it from the config would resolve (and fail)
    given = [] if given is None else OmegaConf.to_container(given, resolve=False)
    parsed = OverridesParser.create().parse_overrides([str(o) for o in given])
    return (str(name) if name else None,
            tuple(o.input_line for o in parsed if o.get_key_element() == "hydra.searchpath"))


def _hydras(loader: Any) -> Any:
    """``LauncherLoader``'s pickled form: Hydra's own loader (in another process)."""
    return loader


class LauncherLoader(ConfigLoader):
    """Hydra's config loader for the launcher: ``load_sweep_config`` returns the job
    ``composed`` kept where it may, else composes it; everything else is Hydra's.

    Args:
        loader: Hydra's config loader.
        composed: the sweeper's compositions.
    """

    def __init__(self, loader: Any, composed: ComposedJobs) -> None:
        self.loader, self.composed = loader, composed

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        return _hydras, (self.loader,)

    def __getattr__(self, name: str) -> Any:  # ConfigLoaderImpl's own (repository, ...)
        if name in ("loader", "composed"):
            raise AttributeError(name)
        return getattr(self.loader, name)

    def load_sweep_config(self, master_config: DictConfig,
                          sweep_overrides: list[str]) -> DictConfig:
        """The kept composition of the job, or Hydra's."""
        job = self.composed.take(master_config, sweep_overrides)
        return job if job is not None else self.loader.load_sweep_config(master_config,
                                                                        sweep_overrides)

    def load_configuration(self, *args: Any, **kwargs: Any) -> DictConfig:
        """Hydra's."""
        return self.loader.load_configuration(*args, **kwargs)

    def get_search_path(self) -> Any:
        """Hydra's."""
        return self.loader.get_search_path()

    def get_sources(self) -> Any:
        """Hydra's."""
        return self.loader.get_sources()

    def list_groups(self, parent_name: str) -> Any:
        """Hydra's."""
        return self.loader.list_groups(parent_name)

    def get_group_options(self, *args: Any, **kwargs: Any) -> Any:
        """Hydra's."""
        return self.loader.get_group_options(*args, **kwargs)

    def compute_defaults_list(self, *args: Any, **kwargs: Any) -> Any:
        """Hydra's."""
        return self.loader.compute_defaults_list(*args, **kwargs)


class SweepLoader(LauncherLoader):
    """Hydra's config loader for the sweeper's checks: ``load_sweep_config`` composes a job
    once until a job starts (``ComposedJobs.load_sweep_config``), each call given a copy,
    and a config group's options are asked once until then (``ComposedJobs.group_options``);
    everything else is Hydra's.

    Args:
        loader: Hydra's config loader.
        composed: the sweep's compositions.
    """

    def load_sweep_config(self, master_config: DictConfig,
                          sweep_overrides: list[str]) -> DictConfig:
        """The job composed once in this sweep (a copy)."""
        return self.composed.load_sweep_config(master_config, sweep_overrides)

    def get_group_options(self, group_name: str,
                          results_filter: ObjectType | None = ObjectType.CONFIG,
                          config_name: str | None = None,
                          overrides: list[str] | None = None) -> list[str]:
        """The group's options, asked once in this sweep (a copy)."""
        return self.composed.group_options(group_name, results_filter, config_name, overrides)

    def list_groups(self, parent_name: str) -> list[str]:
        """The groups under ``parent_name``, asked once in this sweep (a copy)."""
        return self.composed.group_options(parent_name, ObjectType.GROUP)

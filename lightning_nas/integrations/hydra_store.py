"""The run store of a Hydra sweep: ``open_sweep_store`` opens (or resumes) ``search.db``
in the sweep's ``run_dir``, a resume refused where its jobs would run with other settings,
job overrides or config than the sweep's before (``hydra_resume``), and records what a
resume, a warm start, an export's ``rerun_alone`` and the results read of the sweep: its
settings, job config as written and as composed, config-group options and choices, the
task, script, launcher and overrides it was started with (meta ``hydra``).

Example (what ``HydraSweep.sweep`` calls once its checks passed)::

    store = open_sweep_store(settings, sweep, option_jobs(...), config, loader,
                             "BasicLauncher", "hydra.sweep.dir")
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

from lightning_nas.errors import ConfigError
from lightning_nas.integrations.hydra_grammar import SweepParams, config_args, task_script
from lightning_nas.integrations.hydra_options import group_choices
from lightning_nas.integrations.hydra_rerun import job_settings
from lightning_nas.integrations.hydra_resume import (
    job_setup,
    override_changes,
    override_values,
    resolved,
    setup_differences,
)
from lightning_nas.integrations.hydra_same_overrides import same_as_composed, same_trainer_overrides
from lightning_nas.integrations.hydra_wording import sweep_phrases
from lightning_nas.search.resume import differences
from lightning_nas.search.settings import SearchSettings
from lightning_nas.store import RunStore, open_search_store
from lightning_nas.versions import package_versions

__all__ = ["open_sweep_store"]


def open_sweep_store(settings: SearchSettings, sweep: SweepParams,
                     jobs: Mapping[str, Mapping[str, DictConfig]], config: DictConfig,
                     loader: Any, launcher: str, folder_key: str) -> RunStore:
    """The sweep's run store, held by this process (a second sweep meanwhile is refused); a
    resumed one must hold the same space, monitor and objectives, and its jobs the same
    settings, overrides and config.

    Args:
        settings: the sweep's settings (``hydra_settings.search_settings``).
        sweep: its parsed ``params`` and command line.
        jobs: ``option_jobs``, what each searched option composes.
        config: the sweep's Hydra config.
        loader: Hydra's config loader.
        launcher: the launcher's class name.
        folder_key: how the sweep's user names the folder (``hydra.sweep.dir`` or
            ``hydra.sweeper.run_dir``), in a refusal.
    """
    goal = settings.goal
    objectives = None if goal.objectives is None else goal.objectives.to_dict()
    # the job config as written and each searched config-group option's (an edited file)
    setup = job_setup(config, loader, sweep, jobs)

    def check(store: RunStore) -> None:  # on search.db as it is: a refusal writes nothing
        hydra = store.get_meta("hydra") or {}
        stored = store.get_meta("settings")
        found = (differences({"settings": stored}, {"settings": settings.flat()})
                 if stored else [])
        # the overrides the stored job records were made beside (the last accepted
        # invocation's; an older store: the sweep's own), compared with them
        made = store.get_meta("job_record_overrides", hydra.get("overrides"))
        if stored and store.get_meta("job_config_raw") is not None:
            overridden = override_values([*made, *sweep.passthrough],
                                         loader) \
                if made is not None else []  # (an older store: as before)
            found += setup_differences({"job": store.get_meta("job_config_raw"),
                                        "options": store.get_meta("job_options"),
                                        "nested": store.get_meta("job_nested_options")},
                                       setup, sweep.space.names(), overridden)
        # a Trainer argument Lightning takes as the same on both sides: no change
        same = same_trainer_overrides(
            made, sweep.passthrough, [store.get_meta("job_config_raw") or {}, setup["job"]],
            loader) if made is not None else set()
        if made is not None:  # a part one side alone overrides, set as the other composes
            same |= same_as_composed(  # it (a file's value spelt out): no change
                made, sweep.passthrough, [store.get_meta("job_config_raw") or {}, setup["job"]],
                [store.get_meta("job_choices") or {}, group_choices(config)], loader)
        if made is not None:  # each that differs, named as the sweep was started
            found += override_changes(made, sweep.passthrough, same, hydra["overrides"],
                                      loader)
        found = [re.sub(r"^search\.", "hydra.sweeper.", f) for f in found]
        if found:  # one leaderboard never mixes jobs of two setups
            raise ConfigError(f"{settings.run_dir} holds a sweep whose jobs ran with other "
                              f"settings: {'; '.join(found)}. Resume with the settings it "
                              f"ran with, or choose another {folder_key}")

    try:
        store = open_search_store(settings.run_dir, {
            "space": sweep.space.to_dict(), "monitor": goal.monitor, "mode": goal.mode,
            "objectives": objectives, **settings.transfer.fixed()},
            run_dir_key=folder_key, hold=True,  # a second sweep meanwhile: refused
            check=check)
    except ConfigError as err:  # another space or mode: said as a sweep's user says it
        worded = sweep_phrases(str(err))
        if worded == str(err):
            raise
        raise ConfigError(worded) from None
    store.set_meta("seed", goal.seed)
    store.set_meta("versions", package_versions())
    store.set_driver()
    # a later warm start reads a key its space lacked here: the job config as its jobs
    # compose it (interpolations resolved where they resolve here), the config groups'
    # options by name beside it (a group's name is also the key of its subtree)
    choices = group_choices(config)
    # the overrides as the sweep was started (a resume takes them by value: a later
    # refusal quotes these; was: the last accepted resume's spelling, model.lr=1e-3),
    # and those the job records below leave out (a resume's, where it gave others)
    given = (store.get_meta("hydra") or {}).get("overrides", list(sweep.passthrough))
    store.set_meta("job_record_overrides", list(sweep.passthrough))
    store.set_meta("job_config", resolved(config))
    store.set_meta("job_config_raw", setup["job"])
    store.set_meta("job_options", setup["options"])
    store.set_meta("job_nested_options", setup["nested"])
    store.set_meta("job_choices", choices)
    store.set_meta("hydra", {"task": config.hydra.job.name, "script": task_script(),
                             "config_args": config_args(config),
                             "sweep_dir": str(config.hydra.sweep.dir),
                             "launcher": launcher,
                             "overrides": given})
    store.set_meta("job_settings", job_settings(  # an export's rerun_alone, the results'
        config, loader))
    return store


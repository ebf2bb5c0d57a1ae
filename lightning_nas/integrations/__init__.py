"""Integrations with other tools: the Hydra sweeper ``hydra/sweeper: lightning_nas``.

Hydra finds the sweeper through the ``hydra_plugins.lightning_nas_sweeper`` namespace
package, which only imports from here:

- ``hydra_config``: ``LightningNASSweeperConf``, the sweeper's settings (stored in Hydra's
  ``ConfigStore``; imports nothing heavy, since Hydra scans plugins at every start);
- ``hydra_grammar``: Hydra's sweep grammar (``choice``, ``range``, ``interval``, tags) as a
  ``SearchSpace``, and an architecture back as a job's overrides;
- ``hydra_executor``: ``HydraLauncherExecutor``, the search loop's executor that runs each
  batch of trials as Hydra jobs through the project's launcher;
- ``hydra_job_file``: ``lightning_nas_job.json``, what each job writes into its folder as it
  ends (times, threads, what it returned), read back by the sweep;
- ``hydra_composed``: each job composed once: the launcher (in the sweep's process) is
  handed the sweeper's check's composition of the job; the checks compose a job, and ask
  a config group's options, once until a job starts;
- ``hydra_options``: each value of a searched config group (or Trainer argument) composed
  once before the first job: its options exist, no job starts several processes by
  re-running the command line (a spawning strategy, ``ddp_spawn``, passes);
- ``hydra_schema``: a structured config's types, each searched value checked against its
  key's before the first job;
- ``hydra_resume``: what a resumed sweep must keep of its jobs' config (config files and
  config-group options included), and its differences named;
- ``hydra_same_overrides``: the job overrides that resume's comparison leaves out, as Hydra
  composes the same jobs from them (a Trainer argument's default, a file's value spelt out);
- ``hydra_settings``: the sweeper's settings (objectives, direction, constraints, ...) as
  the ``SearchSettings`` of ``lightning-nas search``, checked;
- ``hydra_sweeper``: ``HydraSweep``, the sweep itself: the run store, the loop;
- ``hydra_results``: ``optimization_results.yaml``, what it writes at the end;
- ``hydra_summary``: its last lines: counts, files, the ``rerun`` line of the best job;
- ``hydra_rerun``: that line, each override with only the quotes Hydra and the shell need,
  and ``rerun_alone``, the job's from its own ``.hydra`` config, without lightning_nas;
- ``hydra_wording``: a search's messages in a sweep's words (``hydra.sweeper.<key>``);
- ``hydra_errors``: a sweep's errors as Hydra prints its own, one line without a traceback.

Names load on first use.

Example:
    >>> from lightning_nas.integrations import LightningNASSweeperConf
    >>> LightningNASSweeperConf().budget
    20
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lightning_nas._lazy import lazy_exports

if TYPE_CHECKING:
    from lightning_nas.integrations.hydra_config import LightningNASSweeperConf
    from lightning_nas.integrations.hydra_executor import HydraLauncherExecutor
    from lightning_nas.integrations.hydra_grammar import SweepParams, format_value, parse_params
    from lightning_nas.integrations.hydra_sweeper import HydraSweep

_EXPORTS = {
    "LightningNASSweeperConf": "lightning_nas.integrations.hydra_config",
    "HydraLauncherExecutor": "lightning_nas.integrations.hydra_executor",
    "SweepParams": "lightning_nas.integrations.hydra_grammar",
    "format_value": "lightning_nas.integrations.hydra_grammar",
    "parse_params": "lightning_nas.integrations.hydra_grammar",
    "HydraSweep": "lightning_nas.integrations.hydra_sweeper",
}

__all__ = ["HydraLauncherExecutor", "HydraSweep", "LightningNASSweeperConf", "SweepParams",
           "format_value", "parse_params"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

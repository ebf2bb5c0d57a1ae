"""The settings of the Hydra sweeper ``hydra/sweeper: lightning_nas``, as the structured
config that ``hydra_plugins.lightning_nas_sweeper`` stores in Hydra's ``ConfigStore``.

This module imports nothing heavy (no torch, Lightning or nevergrad): Hydra imports every
plugin's modules each time an application starts.

A project that sweeps with the Optuna sweeper switches by changing its ``hparams_search``
file only::

    # @package _global_
    defaults:
      - override /hydra/sweeper: lightning_nas
    optimized_metric: val/acc_best
    hydra:
      mode: MULTIRUN
      sweeper:
        optimizer: SurrogateEvolution
        budget: 20
        direction: maximize
        params:
          model.optimizer.lr: tag(log, interval(0.0001, 0.1))
          data.batch_size: choice(32, 64, 128, 256)

Example:
    >>> from omegaconf import OmegaConf
    >>> conf = OmegaConf.structured(LightningNASSweeperConf)
    >>> conf._target_
    'hydra_plugins.lightning_nas_sweeper.lightning_nas_sweeper.LightningNASSweeper'
    >>> conf.budget, conf.direction, conf.num_workers
    (20, None, 1)
    >>> SWEEPER_KEYS[:3]
    ('optimizer', 'budget', 'direction')
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omegaconf import DictConfig

__all__ = ["DIRECTIONS", "FROM_OTHER_SWEEPERS", "FROM_SEARCH", "SWEEPER_KEYS", "SWEEPER_NAME",
           "SWEEPER_TARGET", "LightningNASSweeperConf", "sweeper_node"]

#: the name users write in ``override /hydra/sweeper: <name>``
SWEEPER_NAME = "lightning_nas"
#: the sweeper class Hydra instantiates (plugins must live under ``hydra_plugins``)
SWEEPER_TARGET = "hydra_plugins.lightning_nas_sweeper.lightning_nas_sweeper.LightningNASSweeper"
#: ``direction`` (and ``objectives`` values) as Optuna's sweeper words them, or ours
DIRECTIONS = {"maximize": "max", "minimize": "min", "max": "max", "min": "min"}
#: settings of the Optuna and Nevergrad sweepers: ``{their key: (sweeper, ours)}`` (several
#: of ours: Nevergrad's ``optim`` block holds what are top-level settings here)
FROM_OTHER_SWEEPERS = {"n_trials": ("Optuna", "budget"), "n_jobs": ("Optuna", "num_workers"),
                       "sampler": ("Optuna", "optimizer seed"), "storage": ("Optuna", "run_dir"),
                       "study_name": ("Optuna", "run_dir"),
                       # (was: unknown, naming none of ours, and not beside the others)
                       "search_space": ("Optuna", "params"),
                       "custom_search_space": ("Optuna", "params constraints"),
                       "parametrization": ("Nevergrad", "params"),
                       "optim": ("Nevergrad", "optimizer budget num_workers seed direction")}
_EARLY = ("a sweep stops no job early (the launcher owns the job processes): that needs "
          "lightning-nas search (README, 'Limits of a sweeper')")
_LAUNCHER = ("a sweep's jobs run on the project's Hydra launcher (hydra/launcher: basic, "
             "joblib, submitit, Ray), which says where and how; num_workers jobs are handed to "
             "it at once")
#: settings of ``lightning-nas search`` a sweep has not: ``{its key: what a sweep does}``
FROM_SEARCH = {**dict.fromkeys(("scheduler", "min_epochs", "max_epochs", "eta"), _EARLY),
               **dict.fromkeys(("executor", "ray", "threads_per_trial", "devices_per_trial",
                                "max_trials_per_worker"), _LAUNCHER),
               "mode": "a sweep's is direction (maximize or minimize)",
               "keep_top_k": "a job's checkpoints are the task's own (its callbacks)",
               **dict.fromkeys(("max_params", "max_flops"), (
                   "the task builds the model, so lightning_nas cannot count it; bound the "
                   "searched params with hydra.sweeper.constraints")),
               "progress": "a sweep prints one line per job (verbose)",
               "cli": ("a Hydra project's task builds its own objects: link values there "
                       "(${model.x} interpolations, or in the task's code)"),
               # (was: unknown, naming no params)
               "space": ("a sweep searches hydra.sweeper.params, in Hydra's sweep grammar "
                         "({choice: [1, 2]} is choice(1, 2), {float: [0.001, 0.1], log: "
                         "true} is tag(log, interval(0.001, 0.1)))")}


@dataclass
class LightningNASSweeperConf:
    """Settings of ``hydra/sweeper: lightning_nas``.

    Args:
        optimizer: any name of nevergrad's optimizer registry, including lightning_nas's
            NAS strategies (``SurrogateEvolution``, ``RegularizedEvolution``, ...).
        budget: jobs to complete (failed and rejected ones do not count).
        direction: ``maximize`` or ``minimize`` (``max`` / ``min`` too) the task's return
            value; not set, the score's name says it (``val/loss``: minimize, ``val/acc``:
            maximize) or the sweep is refused (Optuna's and Nevergrad's sweepers minimize
            then; lightning-nas does not guess). Optuna's list of several
            (``[maximize, minimize]``) is refused: name them in ``objectives``.
        monitor: the name the score is stored under (``lightning-nas show``); default: the
            config's ``optimized_metric``, else ``score``. Another name than
            ``optimized_metric`` needs a task that returns a dict holding it (a float is
            ``optimized_metric``'s value: the first one stops the sweep).
        objectives: several objectives ``{name: maximize|minimize}``; the task function
            then returns a dict holding them, or a list or tuple of their values in this
            order (as for the Optuna sweeper), and the first is the one ranked; null (as
            left out): one, ``monitor``.
        seed: seeds the optimizer (the same seed proposes the same jobs).
        num_workers: jobs handed to the Hydra launcher at once (a batch ends when its
            slowest job does).
        run_dir: where ``search.db`` and ``optimization_results.yaml`` go; default: the
            sweep dir. Running the same command on the same folder resumes the sweep.
        max_failures: the sweep stops once more jobs failed.
        time_limit: seconds after which no new batch starts.
        constraints: callables ``arch -> bool`` (import paths, or ``_target_`` nodes: a
            function's alone is the function, a class's builds the object), checked
            before a job is launched; a rejected candidate is never run. One alone (not
            in a list) is read as a list of it.
        verbose: one line per job and a summary.
        warm_start: run folders of earlier sweeps (or ``lightning-nas search`` runs) whose
            completed results feed the optimizer first; never counted in ``budget``; one
            folder alone is a list of it; null (as left out): none.
        retrain_top_k: run the ``k`` best earlier architectures first (counted).
        warm_start_fill: values for the keys (paths into the job config) the earlier
            runs' spaces lack, as ``lightning-nas search``'s ``warm_start_fill``; a
            dotted key is one key (``hydra.sweeper.warm_start_fill='{model.depth: 2}'``);
            null (as left out): none.
        params: the search space in Hydra's sweep grammar, as the Optuna and Nevergrad
            sweepers read it (``choice``, ``range``, ``interval``, ``int(...)``,
            ``tag(log, ...)``, ``tag(ordered, ...)``), or the Nevergrad sweeper's range
            (``{lower, upper, log, integer}``); a plain value is fixed, a YAML list refused
            (``choice(...)`` searches its values, ``'[...]'`` fixes it).
    """

    _target_: str = SWEEPER_TARGET
    # Hydra builds the sweeper's nested `_target_` nodes before the sweeper sees them (a
    # constraint function called with no argument, Optuna's sampler imported): the sweeper
    # reads its nodes itself (a constraint node is built, another sweeper's key is named)
    _recursive_: bool = False
    optimizer: str = "SurrogateEvolution"
    budget: int | None = 20
    # Any, None when left out: Optuna's several objectives, a list of directions, reach the
    # sweeper, whose error shows `objectives` (was: str, Hydra's bare "Cannot convert
    # 'ListConfig' to string" composing)
    direction: Any = None
    monitor: str | None = None
    # Any, None when left out: a file's list (another tool's [{name: acc, mode: max}])
    # reaches the sweeper, whose error shows the mapping it means (was: a default {}, and
    # Hydra's bare "Cannot merge DictConfig with ListConfig" composing); null (a file's
    # cleared for one sweep) is none, and +hydra.sweeper.objectives.acc=maximize on the
    # command line makes the mapping, as over a file's null (was: typed Optional[dict],
    # OmegaConf failed to merge a command-line dict over a file's null); the sweeper checks
    # the values (hydra_settings)
    objectives: Any = None
    seed: int | None = 0
    num_workers: int = 1
    run_dir: str | None = None
    max_failures: int = 5
    time_limit: float | None = None
    # Any, None when left out: one import path or node alone is one constraint, as
    # `lightning-nas search` reads it (was: list[Any], and Hydra's "AnyNode is not a
    # ListConfig" composing a path alone; a default [] would not merge with a node alone)
    constraints: Any = None
    verbose: bool = True
    # Any, as objectives: null composes (and one path alone, a list of it, as in
    # lightning-nas search; was: list[str], Hydra's "str is not a ListConfig")
    warm_start: Any = field(default_factory=list)
    retrain_top_k: int = 0
    warm_start_fill: Any = field(default_factory=dict)
    params: dict[str, Any] | None = None


#: the settings a sweep takes under ``hydra.sweeper``, in the dataclass's order: its fields
#: but ``_target_`` and ``_recursive_`` (Hydra's, for instantiating the sweeper)
SWEEPER_KEYS = tuple(f.name for f in fields(LightningNASSweeperConf)
                     if not f.name.startswith("_"))


def sweeper_node() -> DictConfig:
    """``LightningNASSweeperConf`` as Hydra stores it: typed, with its defaults, but open
    (not struct), so that an unknown key (``n_trials: 3``, ``hydra.sweeper.budgt=3``)
    reaches ``HydraSweep``, whose error names it, the closest setting and the valid ones;
    a closed node fails composing with Hydra's ``Key 'budgt' not in
    'LightningNASSweeperConf'``, naming none.

    Example:
        >>> node = sweeper_node()
        >>> node.budgt = 3  # kept for HydraSweep to refuse by name
        >>> node.budget, node.budgt
        (20, 3)
    """
    from omegaconf import OmegaConf  # Hydra has imported it already

    node = OmegaConf.structured(LightningNASSweeperConf)
    OmegaConf.set_struct(node, False)
    return node

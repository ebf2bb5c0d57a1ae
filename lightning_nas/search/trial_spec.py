"""``TrialSpec``: everything one trial needs (the architecture, the model and data, the
Trainer settings, the monitor and the search's extras), picklable when the model and data
are import paths, so other processes (DDP ranks, workers, Ray actors) can receive it.

Example:
    >>> spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir="runs/nas/trials/1",
    ...                  model="mypkg.models.Net")
    >>> spec.monitor, spec.mode, spec.seed
    ('val_acc', 'max', 0)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrialSpec"]


@dataclass
class TrialSpec:
    """Everything needed to run one trial, picklable when model/data are import paths."""

    trial_id: int
    arch: dict[str, Any]
    trial_dir: str
    model: Any
    model_init_args: dict[str, Any] = field(default_factory=dict)
    data: Any = None
    data_init_args: dict[str, Any] = field(default_factory=dict)
    trainer: dict[str, Any] = field(default_factory=dict)
    monitor: str = "val_acc"
    mode: str = "max"
    seed: int | None = 0
    checkpoint: bool = True
    quiet: bool = True
    #: a checkpoint whose ``state_dict`` initialises the model (fine-tuning)
    init_weights: str | None = None
    #: the trial and epoch ``init_weights`` holds, as ``best.yaml`` names them: a file that
    #: says it holds others is refused as it loads (``exported.check_loaded``)
    init_weights_of: dict[str, Any] | None = None
    #: validate those weights before training (``start_score``): ``start_metrics``
    validate_start: bool = False
    #: a checkpoint whose optimizer and LR-scheduler states the fit continues
    #: (``optimizer_state.RestoreOptimizerState``: a fine-tune's ``optimizer_state='restore'``)
    restore_optimizer: str | None = None
    #: empty ``trial_dir`` first (off in the ranks of a multi-process trial)
    clear_dir: bool = True
    #: a scheduler rule (a snapshot): a ``PruningCallback`` asks it after each validation
    rule: Any = None
    #: resume training from this checkpoint (Lightning ``ckpt_path``): a promoted trial
    ckpt_path: str | None = None
    #: the epochs of a promoted trial its search has stored (``PruningCallback``)
    known_epochs: int | None = None
    #: the seconds a promoted trial trained in the fits its search stored (``TrialReporter``)
    trained: float = 0.0
    #: a function ``arch -> {metric: value}`` evaluated instead of training (tabular
    #: benchmarks, cheap proxies); no Trainer, no folder
    objective: Any = None
    #: the user's logger writes into ``trial_dir`` itself (``fit``, ``finetune``), not
    #: into a version per trial under the run's ``logs``
    own_logs: bool = False
    #: metrics besides the monitor the search reads (objectives): checked after epoch one
    #: (an ``objective=`` function: in what it returns)
    logged: tuple[str, ...] = ()
    #: the later objectives it logs with their modes: break ties on the monitor, in order
    tie_break: tuple[tuple[str, str], ...] = ()
    #: the run's label in logger versions under a ``save_dir`` of the user's (meta
    #: ``log_label``; None: the run folder's name, as a run of an older version had it)
    log_label: str | None = None
    #: the parameters the search counted before training (None: it counts no cost), and
    #: what it counts them for: compared once the Trainer set the model up (``ParamsCheck``)
    counted_params: float | None = None
    count_uses: str = ""
    #: the costs the search counted and stores in the trial's metrics (``LoggedCostCheck``)
    counted_costs: tuple[str, ...] = ()
    #: LightningCLI's ``optimizer`` / ``lr_scheduler`` nodes: the model's configure_optimizers
    cli_optim: dict[str, Any] = field(default_factory=dict)
    #: the import path of the project's LightningCLI subclass (``search.cli``): its own
    #: ``configure_optimizers`` returns those nodes' optimizers (``cli_optim.apply_optim``)
    cli: str | None = None
    #: a fit's or fine-tune's settings (``fit_resume.fit_record``), kept in its checkpoints;
    #: it writes ``last.ckpt`` at each epoch's end, to resume from (``--ckpt_path``)
    record: dict[str, Any] | None = None
    #: a fit's or fine-tune's model section as its config names it (a ``class_path`` node of
    #: a config run): its ``best.ckpt`` gets the hyperparameters LightningCLI's checkpoint of
    #: that config holds (``export_hparams.as_lightningcli``); None: left as it trained
    cli_model: Any = None
    #: when the spec was made (``time.time()``: a search makes it as it submits the trial):
    #: of two runs of one trial in its folder, the later one's (a resume's) waits for the
    #: earlier one's (a stopped search's, that a pool started late) to end
    #: (``trial_hold.holding_trial``)
    submitted: float = field(default_factory=time.time)
    #: a DDP rank's process (``ranks.execute_spec``): a SIGTERM to it alone kills it
    #: (``rank_sigterm.SigtermKillsRank``), not Lightning's handler that waits for the others
    rank_process: bool = False
    #: a worker process's trial (``worker_entry``): it keeps what it trained in its folder's
    #: ``progress.json`` (``rank_progress``), for the record of a worker that dies in it
    notes_progress: bool = False

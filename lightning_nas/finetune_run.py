"""Fine-tune the best trial of a run (``export.py``'s ``best.yaml`` and ``best.ckpt``): its
architecture built again and trained with a fresh Trainer, or an interrupted fine-tune resumed.

Example:
    >>> result = finetune("runs/digits", max_epochs=20)  # doctest: +SKIP
    >>> result.score  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import os
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from lightning_nas.config.accumulation import unbuilt_callbacks
from lightning_nas.config.cli_links import CliLinks
from lightning_nas.config.cli_optim import optim_sections, with_arch
from lightning_nas.config.factories import DataFactory, ModelFactory
from lightning_nas.config.instantiate import check_init_args as check_args
from lightning_nas.config.node_labels import names_said
from lightning_nas.config.node_places import config_places
from lightning_nas.config.overrides import split_overrides
from lightning_nas.config.paths import set_paths
from lightning_nas.config.section_builder import ConfigBuilder, links_over_trainer
from lightning_nas.config.trainer_checks import (
    check_finetune_epochs,
    check_trainer_kwargs,
    check_validation_runs,
)
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.export import export_best, objective_run
from lightning_nas.export_files import load_best
from lightning_nas.export_header import trial_fits
from lightning_nas.export_hydra import sweep_refusal
from lightning_nas.finetune_inputs import (
    best_weights,
    check_weights_fit,
    finetune_arch,
    paired_best,
)
from lightning_nas.finetune_start import warn_if_below_start
from lightning_nas.finetune_trainer import (
    given_trainer,
    kept_limits,
    search_names,
    trainer_arch,
)
from lightning_nas.fit_resume import (
    check_resume,
    fit_record,
    out_folder,
    recorded_epochs,
    resume_point,
    undo_fit,
)
from lightning_nas.fit_resume_words import check_ckpt_path
from lightning_nas.results import TrialResult
from lightning_nas.run_folder import user_path
from lightning_nas.search.best_epoch import tie_break_of
from lightning_nas.search.checkpoints import no_checkpoint_reason
from lightning_nas.search.executor import torch_threads
from lightning_nas.search.exported import MixedPairError
from lightning_nas.search.logger_dirs import check_trainer_dirs
from lightning_nas.search.monitor_errors import check_monitor_reached
from lightning_nas.search.optimizer_state import (
    OptimizerStateError,
    check_holds_state,
    check_optimizer_state,
)
from lightning_nas.search.ranks import close_rank_groups
from lightning_nas.search.resume import check_init_args, restore_init
from lightning_nas.search.runner import run_trial
from lightning_nas.search.scheduler_settings import scheduler_epochs
from lightning_nas.search.setting_groups import Goal
from lightning_nas.search.template import check_fit_builds
from lightning_nas.search.trial import TrialSpec
from lightning_nas.search.trial_callbacks import check_fit_callbacks
from lightning_nas.store import open_run
from lightning_nas.trial_trainer import trial_trainer
from lightning_nas.user_warnings import warn_user

__all__ = ["finetune"]

#: what a fine-tune refused on a folder a search holds says to do once it is gone
_FINETUNE_THEN = ("then fine-tune again (a search exports its best trial itself when it ends: "
                  "best.yaml, which a fine-tune trains)")


def finetune(run_dir: str | os.PathLike, *, max_epochs: int | None = None,
             trainer: Mapping[str, Any] | None = None, from_checkpoint: bool = True,
             model: Any = None, data: Any = None, seed: int | None = None,
             out_dir: str | os.PathLike | None = None,
             model_init_args: Mapping[str, Any] | None = None,
             threads: int | None = None, ckpt_path: str | os.PathLike | None = None,
             optimizer_state: str = "fresh", trainer_overrides: Sequence[str] = ()
             ) -> TrialResult:
    """Build the best architecture again and train it with a fresh Trainer.

    Args:
        run_dir: a finished (or interrupted) search's run directory; its ``best.yaml`` is
            written again when it is not the current best's (a resume stopped before its
            export), unless ``export --trial`` chose it.
        max_epochs: epochs of the fine-tune (default: the best trial's epochs), a positive
            integer, or -1 (no limit) when ``trainer`` gives ``max_steps`` or ``max_time``
            that limits it (``max_steps: -1`` and ``max_time: None`` are none);
            the search's ``max_steps`` and ``max_time`` are dropped with it unless
            ``trainer`` gives them.
        trainer: Trainer settings that override the search's; required for those the
            search was given as objects (callbacks, a logger), which the store cannot keep.
            A ``max_epochs`` here keeps the search's ``max_steps`` and ``max_time`` (warned
            of, where they limit it: they may end it before those epochs).
        from_checkpoint: start from the best trial's weights (``best.ckpt``), not scratch.
        model, data: the model and data of the search, needed when the search was given
            objects that cannot be imported by path (e.g. defined in ``__main__``).
        seed: seed of the fine-tune, an integer >= 0 below 2**32 (default: the search's).
        out_dir: where its checkpoint and logs go (default: ``RUN_DIR/finetune``, or a free
            ``finetune_1``, ``finetune_2``, ...: a new fine-tune never overwrites one).
        model_init_args: model arguments over the search's; required for those the search
            was given as objects (a backbone, a ``functools.partial``), which the store
            cannot keep.
        threads: torch threads of the fine-tune and of each DDP rank (default: from
            scratch the trial's latest fit's, ``trial_fits``, as CPU sums in its order; from
            the checkpoint the process's own, and a DDP rank's ``OMP_NUM_THREADS``'s, else
            the count Lightning gives a rank).
        ckpt_path: ``"last"`` or a checkpoint file of an interrupted fine-tune's folder
            (``fit_resume.resume_point``): it goes on there with the settings it was started
            with (checked before training; ``max_epochs`` by default its own), its weights
            its checkpoint's (the run's ``best.ckpt`` may be gone).
        optimizer_state: ``"fresh"`` (a new optimizer and LR scheduler at the initial
            learning rate) or ``"restore"``: those of the checkpoint it starts from,
            continued as they were at its best epoch (checked before training: a
            checkpoint without them, another optimizer or its settings, are refused).
        trainer_overrides: ``lightning-nas finetune``'s ``--trainer.*`` overrides
            (``["--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.patience=5"]``),
            after ``trainer``, merged over the search's settings as LightningCLI merges
            them over ``best_config.yaml`` (``finetune_trainer.given_trainer``); a list
            (one string is refused, naming the list to give).

    Returns:
        The fine-tune as a ``TrialResult`` (score, metrics, checkpoint; from a checkpoint,
        ``start_metrics``: its weights validated before training, as the fine-tune validates,
        on one process: under plain DDP rank 0's, on its own device; a best epoch worse
        than that start is said in a warning).
    """
    run_dir = user_path(run_dir, "finetune(run_dir=...)")
    Goal(seed=seed)  # checked as Search's (integer >= 0, below 2**32): before any folder
    if threads is not None and (type(threads) is not int or threads < 1):  # True is no count
        raise ConfigError(f"threads must be a whole number >= 1 (torch threads of the "
                          f"fine-tune), or None for the default: from scratch the trial's "
                          f"own count, from the checkpoint this process's; got {threads!r}")
    if trainer is not None and not isinstance(trainer, Mapping):  # was: a TypeError of dict()
        raise ConfigError(f"trainer must map Trainer arguments to values (those over the "
                          f"search's), or None; got {trainer!r}")
    if not isinstance(from_checkpoint, bool):  # was: any truthy value, "no" too, loaded it
        raise ConfigError(f"from_checkpoint must be True (start from best.ckpt) or False "
                          f"(fresh weights); got {from_checkpoint!r}")
    check_optimizer_state(optimizer_state, from_checkpoint)
    check_ckpt_path(ckpt_path, "fine-tune")  # (was: a bare TypeError of another type)
    own, pairs = trainer, split_overrides(trainer_overrides, name="trainer_overrides")
    trainer = given_trainer(own, pairs)  # as typed, for the checks before the run is read
    # max_steps -1 and max_time None are Lightning's "no limit" (was: any max_steps or
    # max_time key counted as a limit, so -1 beside max_steps=-1 trained for ever)
    check_finetune_epochs(max_epochs, trainer)
    if max_epochs is not None and "max_epochs" in (trainer or {}):  # was: max_epochs won
        raise ConfigError(f"max_epochs={max_epochs} and trainer={{'max_epochs': "
                          f"{trainer['max_epochs']!r}}} both set the fine-tune's epochs; give one")
    if ckpt_path is not None:  # the interrupted fine-tune's folder and checkpoint
        out, ckpt_path = resume_point(ckpt_path, run_dir / "finetune", None if out_dir is None
                                      else user_path(out_dir), "fine-tune", str(run_dir))
        if max_epochs is None and "max_epochs" not in (trainer or {}):
            max_epochs = recorded_epochs(ckpt_path)
    else:
        # was: checked after best.yaml was exported again: before the store is read
        out = out_folder(out_dir, run_dir / "finetune", "fine-tune")
    check_init_args(model_init_args, "model")
    with open_run(run_dir) as store:
        if store.get_meta("hydra") is not None:
            raise ConfigError(sweep_refusal(run_dir, store))
        stored_model, stored_data = store.get_meta("model") or {}, store.get_meta("data") or {}
        trainer_cfg = dict(store.get_meta("trainer") or {})
        complete_epochs = scheduler_epochs(store.get_meta("settings") or {})
        trainer_objects = store.get_meta("trainer_objects") or []
        monitor, mode = store.get_meta("monitor"), store.get_meta("mode", "max")
        tie_break = tie_break_of(store.objectives())  # its best epoch as a trial's
        seed = store.get_meta("seed") if seed is None else seed
        config, data_object = store.get_meta("config"), store.get_meta("data_object")
        current = getattr(store.best(mode), "trial_id", None)
    if objective_run(stored_model):
        raise ConfigError(f"{run_dir} searched an objective function (Search(..., "
                          f"objective=...)), not a model: it has no model to build and no "
                          f"checkpoint to fine-tune; build your model of its best "
                          f"architecture (best.yaml's arch) and train it")
    if current is None:  # was: export's "has no completed trial to export"
        raise SearchError(f"{run_dir} has no completed trial to fine-tune; `lightning-nas "
                          f"show {shlex.quote(str(run_dir))}` lists its trials")
    best = load_best(run_dir) if (run_dir / "best.yaml").exists() else None
    if best is None or not best.get("chosen") and best["trial"] != current:
        best = export_best(run_dir, then=_FINETUNE_THEN)  # none yet, or a stale one (a
        # resume stopped early); was: a refusal said "then export again" to a fine-tune
    if from_checkpoint and ckpt_path is None:  # best.ckpt holds its trial's weights (or a
        best = paired_best(run_dir, best)  # pair an export replaced meanwhile: read again)
    # the setup the trial trained with: its searched Trainer arguments, a scheduler's epochs
    trainer_cfg = trial_trainer(best["arch"], trainer_cfg, config_places(config))
    if complete_epochs is not None:
        trainer_cfg["max_epochs"] = complete_epochs
    searched = dict(trainer_cfg)  # the trial's (its validation schedule)
    trainer = given_trainer(own, pairs, trainer_cfg, trainer_objects)  # (was: overrides set
    trainer_cfg.update(trainer or {})  # in place of the search's, `+=` refused)
    # a config run's: best.ckpt as LightningCLI saves best_config.yaml's model (as_lightningcli)
    cli_model = best["model"] if config is not None and model is None else None
    built = model is None and stored_model.get("class_path") is None and config is not None
    if built:  # a config whose space names paths into it: built from it, as the search did,
        section = {"model": copy.deepcopy(config["model"])}  # model_init_args set in it
        set_paths(section, [(f"model.{k}", v) for k, v in (model_init_args or {}).items()])
        links = CliLinks((config.get("search") or {}).get("cli"), config)  # the search's
        model = ConfigBuilder(section["model"], "model", plain_keys=True, links=links)
        if data is None and isinstance(config.get("data"), Mapping):
            data = ConfigBuilder(config["data"], "data", plain_keys=False, links=links)
        if complete_epochs is not None:  # a link from max_epochs: the trial's (its weights'
            links_over_trainer([model, data], {"max_epochs": complete_epochs})  # shapes)
    model = model if model is not None else stored_model.get("class_path")
    wanted: list[str] = []  # what must be given again: all of it in one error (was: one per call)
    if model is None:  # (was: raised alone, the data and Trainer objects asked at the next call)
        wanted.append("the search's model has no import path (defined in __main__ or "
                      "locally?); pass model= to finetune()")
    if data is None and stored_data.get("class_path") is None and (
            stored_data.get("init_args") or data_object):
        given = f" (a {data_object} object)" if data_object else ""
        wanted.append(f"the search's data{given} has no import path; pass data= to "
                      f"finetune() (from the command line, search with data given as a "
                      f"class or import path)")
    if missing := [key for key in trainer_objects if key not in (trainer or {})]:
        # the search trained with them: leaving them out would change the training
        trainer_wanted = ", ".join(f"{key!r}: ..." for key in missing)
        wanted.append(f"the search gave the Trainer objects the store cannot keep "
                      f"({', '.join(missing)}); pass them again, or what the fine-tune "
                      f"uses instead: trainer={{{trainer_wanted}}}")
    try:
        init_args = restore_init(stored_model, None if built else model_init_args, "model")
    except ConfigError as err:
        wanted.append(str(err))
    if wanted:
        raise ConfigError("; and ".join(wanted))
    try:
        data_args = {} if data is not None else restore_init(stored_data, None, "data")
    except ConfigError as err:
        raise ConfigError(f"{err}; or pass data= to finetune()") from None
    factory = ModelFactory(model, init_args)  # a path that no longer imports: said first
    target = model.target() if built else factory.target if factory.is_class else None
    if target is not None and model_init_args:  # a key it does not take, named with those
        check_args(target, dict(model_init_args), "model", nested=False)  # it takes
    data_factory = DataFactory(stored_data.get("class_path") if data is None else data,
                               data_args)
    if max_epochs is not None:  # the search's step or time limit would cut it short
        trainer_cfg["max_epochs"] = max_epochs
        for key in ("max_steps", "max_time"):
            if key not in (trainer or {}):
                trainer_cfg.pop(key, None)
    with names_said(search_names(config, searched, trainer_cfg)):  # the config's names
        # of its named nodes: trainer.callbacks.ckpt (was: trainer.callbacks[1])
        check_trainer_kwargs(trainer_cfg)
        check_trainer_dirs(trainer_cfg, whose="the fine-tune's")  # (was: once it wrote there)
        check_validation_runs(trainer_cfg, monitor, unbuilt_callbacks(target))
        with open_run(run_dir) as store:  # a monitor logged after a warm-up: reached?
            trial = store.get(best["trial"])  # (no best.ckpt: why)
            not_kept = no_checkpoint_reason(store, trial.trial_id)
        check_monitor_reached(monitor, trial.curve, trial.curve_epochs, trial.epochs,
                              trial.trial_id, trainer_cfg, searched)
        if max_epochs is None and (kept := kept_limits(trainer, trainer_cfg, trial.epochs)):
            warn_user(kept)  # the search's step or time limit may cut it short (was: silent)
        if from_checkpoint and ckpt_path is not None and best.get("checkpoint"):  # a resume:
            weights = str(run_dir / best["checkpoint"])  # named in its record, not read (was:
            # required, so a resume without it was refused, saying --from_scratch, refused too)
        else:
            weights = (best_weights(run_dir, best, trial.checkpoint, not_kept) if from_checkpoint
                       else None)
        restore = weights if optimizer_state == "restore" else None
        if restore is not None and ckpt_path is None:  # a resume continues its last.ckpt's
            check_holds_state(restore, f"trial {best['trial']}'s {restore}")
        arch = finetune_arch(best, model_init_args)  # LightningCLI's optimizer: the best trial's
        arch = trainer_arch(arch, searched, trainer_cfg, best["trial"])  # as it trains (was:
        # a searched trainer.* value given again named with the trial's value)
        factory.check_groups(arch)  # the search's checks of its groups over the init_args it
        data_factory.check_groups(arch)  # builds with (was: skipped: a dict or another class)
        spec = TrialSpec(trial_id=best["trial"], arch=arch,
                         trial_dir=str(out),
                         model=model, model_init_args=init_args,
                         data=data if data is not None else stored_data.get("class_path"),
                         data_init_args=data_args,
                         trainer=trainer_cfg, monitor=monitor, mode=mode, seed=seed,
                         init_weights=weights, clear_dir=False, own_logs=True,
                         init_weights_of={"trial": best["trial"], "epoch": best.get("epoch")},
                         validate_start=weights is not None and ckpt_path is None,
                         restore_optimizer=restore,
                         cli_optim=with_arch(optim_sections(config or {}), arch),
                         cli=((config or {}).get("search") or {}).get("cli"),
                         tie_break=tie_break, cli_model=cli_model)
        spec.record = fit_record(spec, "fine-tune")  # in its checkpoints: a resume checks it
        if ckpt_path is not None:
            check_resume(spec, ckpt_path, "fine-tune")  # its optimizer_state as it started
            spec.ckpt_path = str(ckpt_path)
            spec.restore_optimizer = None  # Lightning restores the state of its last.ckpt
            spec.init_weights = None  # and its weights (was: best.ckpt's loaded first, replaced)
        built, _ = check_fit_builds(spec, "the fine-tune")  # before its folder is made, as a
        # search
        check_fit_callbacks(spec, built)  # its module's configure_callbacks(), asked as fit asks
        check_weights_fit(built, spec.init_weights, best, model_init_args, run_dir)  # the shapes
    if threads is None and not from_checkpoint:  # a replay: the trial's (per rank too)
        with open_run(run_dir) as store:
            threads = trial_fits(store, run_dir, best["trial"])[0][-1]
    undo_out = undo_fit(out) if ckpt_path is None else lambda: None  # a refusal's folder
    try:  # a DDP Trainer trains on rank processes of its own, never by re-running the caller
        with torch_threads(threads):
            result = run_trial(spec)
    finally:
        close_rank_groups()
    first = (result.error or "\n").splitlines()[0]
    for error in (OptimizerStateError, MixedPairError):  # raised when fit started (when
        said = f"{error.__name__}: "  # the weights loaded), on each rank (DDP: "rank 0
        if said in first:  # failed the trial: ...") nothing trained
            undo_out()
            raise error(first.split(said, 1)[1])
    warn_if_below_start(best, result, weights, {**init_args, **arch},  # said, and what to try
                        restored=optimizer_state == "restore", folder=out)
    return result

"""``lightning-nas oneshot``: train a config's supernet once, export the best subnet and
fine-tune it. ``oneshot.algorithm`` picks the search: ``spos`` (the ``OneShotNAS``
callback: a random path per step, then nevergrad over the subnets), ``darts`` or ``gdas``
(``DifferentiableNAS`` around the config's model, bilevel on its train/val split).

The ``oneshot:`` block's keys and their checks are in ``oneshot/setting_checks.py``;
``check_oneshot`` (``oneshot/run_checks.py``) makes them with the model's, data's and
Trainer's checks.

``run_oneshot(ckpt_path=...)`` resumes a run from its epoch-end checkpoint
(``oneshot/resume.py``); from the one of its last epoch, a run killed in its final search,
export or fine-tune runs only what is left (``_finished``; ``oneshot/fit_end.py``).
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import yaml
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from torch import nn

from lightning_nas.config.env_seed import unused_seed
from lightning_nas.config.instantiate import instantiate
from lightning_nas.group_exit import groups_made_here, launcher_variables_of_one
from lightning_nas.lock_probe import lock_taken
from lightning_nas.numeric import is_int
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.derive import derived_text
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.endless import endless_said
from lightning_nas.oneshot.exported import write_outputs
from lightning_nas.oneshot.finetune import accuracy_text, finetune_subnet
from lightning_nas.oneshot.resume import (
    LAST,
    check_resume,
    epochs_held,
    held_text,
    resolve_ckpt_path,
    training_end,
)
from lightning_nas.oneshot.resume_read import check_resumed_supernet
from lightning_nas.oneshot.run_checkpoint import epoch_end_checkpoint
from lightning_nas.oneshot.run_checks import (
    DRAWN_SEED,
    NET_ATTR,
    check_oneshot,
    checked_parts,
    checked_settings,
)
from lightning_nas.oneshot.run_notes import add_notes
from lightning_nas.oneshot.run_outputs import ClearOutputs, wrote_line
from lightning_nas.oneshot.scoring import network_of
from lightning_nas.oneshot.seed import SharedSeed, adopt_differentiable, adopt_spos
from lightning_nas.oneshot.setting_checks import DEFAULT_RUN_DIR
from lightning_nas.oneshot.tau_resume import CLI_TAU_EPOCHS
from lightning_nas.oneshot.trainer_checks import (
    check_user_checkpoints,
    fit_or_refuse,
    warn_endless_run,
)
from lightning_nas.results import format_score
from lightning_nas.run_folder import LOCK_FILE, holding, user_path
from lightning_nas.search.callback_monitors import CallbackMonitors
from lightning_nas.search.lifetime import DISTRIBUTED_VARIABLES, environ
from lightning_nas.search.quiet import LoggingInterval, quiet_lightning
from lightning_nas.search.remote_runs import RunsHeld, runs_ended
from lightning_nas.search.trial import SEED_VARIABLES, TrialSpec
from lightning_nas.search.trial_callbacks import TrialCallbacks
from lightning_nas.search.trial_defaults import checkpointing, with_trial_defaults
from lightning_nas.search.uneven_split import UnevenSplitCheck
from lightning_nas.search.wandb_ids import kept_dirs
from lightning_nas.spos_scored import scored_text
from lightning_nas.user_warnings import warn_rank_zero
from lightning_nas.wording import counted

__all__ = ["finetune_trainer", "resumable", "run_oneshot"]

#: Trainer settings of the search that the fine-tune does not take (``finetune_trainer``)
_NOT_FINETUNED = frozenset({
    "max_epochs", "min_epochs", "max_steps", "min_steps", "max_time", "callbacks", "logger",
    "enable_checkpointing", "default_root_dir", "check_val_every_n_epoch", "val_check_interval",
    "num_sanity_val_steps"})


def _callbacks(trainer_kwargs: dict[str, Any], clear: ClearOutputs, *search: pl.Callback
               ) -> list[pl.Callback]:
    """The user's callbacks, the clearing of outputs, the search's, and, unless
    checkpointing is off, the epoch-end checkpoint a resume reads, whose file is put in
    place by its ``placing`` first of all (before SPOS's final search, a user's epoch start)."""
    if not checkpointing(trainer_kwargs):
        return [*trainer_kwargs.get("callbacks", []), clear, *search]
    checkpoint = epoch_end_checkpoint(clear.run_dir)
    return [checkpoint.placing, *trainer_kwargs.get("callbacks", []), clear, *search, checkpoint]


def _spos(opts: dict[str, Any], module: pl.LightningModule, datamodule: Any,
          trainer_kwargs: dict[str, Any], clear: ClearOutputs, ckpt_path: Path | None,
          drawn: bool) -> tuple[Any, Any, nn.Module, list[str], str, bool]:
    run_dir = clear.run_dir
    keys = ("optimizer", "num_candidates", "search_every_n_epochs", "calibration_batches",
            "num_classes", "mode", "net_attr", "seed")
    callback = OneShotNAS(**{k: opts[k] for k in keys}, export_dir=str(run_dir))
    callback.key_prefix = "oneshot."  # its errors name the command's keys
    shared = [SharedSeed(opts["seed"], adopt_spos(callback))] if drawn else []
    trainer_kwargs["callbacks"] = _callbacks(trainer_kwargs, clear, *shared, callback)
    trainer = pl.Trainer(**trainer_kwargs)
    fit_or_refuse(trainer, module, datamodule, ckpt_path)
    scored = scored_text(callback.history, callback.num_candidates) or "no subnet scored"
    return callback.best_arch, callback.best_score, callback.subnet, callback.frozen, (
        f"One-shot search: {scored}; best "
        f"{format_score(callback.best_score)} with shared weights: {callback.best_arch}"
        f"{wrote_line(run_dir, 'best_arch.yaml', 'history.json', 'subnet.pt')}"
    ), trainer.is_global_zero


def _own_callbacks(module: pl.LightningModule, trainer_cfg: Mapping[str, Any]) -> list[Any]:
    """What ``module.configure_callbacks()`` returns, asked as the fit asks it: alone, else
    attached to a Trainer of the run's settings, built in a temporary folder, nothing
    trained (``search.trial_callbacks``; was: ``[]`` where it read ``self.trainer``, so its
    ``ModelCheckpoint`` and ``EarlyStopping`` were not checked); ``[]`` where it raises
    attached too (the fit says its error)."""
    spec = TrialSpec(trial_id=0, arch={}, trial_dir="oneshot", model=None,
                     trainer=dict(trainer_cfg))
    return TrialCallbacks(module, spec)() or []


def _searched(algorithm: str, opts: dict[str, Any], module: pl.LightningModule,
              trainer_cfg: Mapping[str, Any], run_dir: Path) -> pl.LightningModule:
    """The module a run fits: SPOS the config's, DARTS/GDAS a ``DifferentiableNAS`` around
    it (which clips: manual optimization)."""
    if algorithm == "spos":
        return module
    keys = ("algorithm", "arch_lr", "arch_weight_decay", "warmup_epochs", "top_k", "tau_max",
            "tau_min", "tau_schedule", "tau_epochs", "calibration_batches", "num_classes", "mode",
            "net_attr", "seed")
    clip = {"gradient_clip_val": trainer_cfg.get("gradient_clip_val"),
            "gradient_clip_algorithm": trainer_cfg.get("gradient_clip_algorithm") or "norm"}
    nas = DifferentiableNAS(module, **{k: opts[k] for k in keys}, export_dir=str(run_dir),
                            **clip)
    nas.tau_epochs_setting = CLI_TAU_EPOCHS  # a resume's advice names the command's key
    nas.key_prefix = "oneshot."  # and its errors (oneshot.num_classes)
    return nas


def _differentiable(opts: dict[str, Any], nas: DifferentiableNAS, datamodule: Any,
                    trainer_kwargs: dict[str, Any], clear: ClearOutputs,
                    ckpt_path: Path | None, drawn: bool
                    ) -> tuple[Any, Any, nn.Module, list[str], str, bool]:
    run_dir = clear.run_dir
    # the module clips (``_searched``): the Trainer must not see either setting
    for key in ("gradient_clip_val", "gradient_clip_algorithm"):
        trainer_kwargs.pop(key, None)
    shared = [SharedSeed(opts["seed"], adopt_differentiable(nas))] if drawn else []
    trainer_kwargs["callbacks"] = _callbacks(trainer_kwargs, clear, *shared)
    trainer = pl.Trainer(**trainer_kwargs)
    fit_or_refuse(trainer, nas, BilevelData(datamodule), ckpt_path)
    score = "n/a" if nas.best_score is None else format_score(nas.best_score)
    return nas.best_arch, nas.best_score, nas.subnet, nas.frozen, (
        f"{opts['algorithm'].upper()} search: {derived_text(nas.best_arch, nas.scored)}; "
        f"{score} with shared weights"
        f"{wrote_line(run_dir, 'best_arch.yaml', 'subnet.pt', 'alphas.json', 'alphas.png')}"
    ), trainer.is_global_zero


def finetune_trainer(trainer_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The search's Trainer settings the fine-tune of its winner keeps: hardware, strategy,
    precision, ``limit_*`` batches, clipping, accumulation, determinism. Not its length
    (``finetune_epochs`` sets it), validation schedule (the fine-tune validates after each
    epoch, so its metrics are its last epoch's), callbacks, logger or checkpoints.

    Example:
        >>> finetune_trainer({"devices": 2, "limit_val_batches": 3, "max_steps": 50,
        ...                   "callbacks": []})
        {'devices': 2, 'limit_val_batches': 3}
    """
    return {key: value for key, value in trainer_kwargs.items() if key not in _NOT_FINETUNED}


def _finished(run_dir: Path, ckpt_path: Path, end: tuple[str, str] | None,
              finetune_epochs: int, verbose: bool) -> dict[str, Any] | None:
    """A resume from a checkpoint of the run's training's end (``end``: the bound it
    reached, ``training_end``) whose outputs are all there has nothing left to do: the
    finished run's outputs as ``run_oneshot`` returns them (said, exit 0; was: an error
    that advised training again; for a run bounded by ``max_steps``, its final search,
    export and fine-tune run again). None for a checkpoint with training left, or one whose
    run lacks an output (it was killed in its final search, export or fine-tune): the
    resume runs what is left (``oneshot/fit_end.py``; was: refused, "nothing is left to
    train", so the run was trained again)."""
    if end is None:
        return None
    outputs = ("best_arch.yaml", "subnet.pt", "subnet_finetuned.pt", "finetune.json")
    if any(not (run_dir / name).is_file()  # (was: best_arch.yaml alone, written first:
           for name in outputs[:2 + 2 * bool(finetune_epochs)]):  # beside no subnet.pt)
        return None
    last = (f"{ckpt_path} is of the run's "
            f"{'last epoch' if end[0] == 'max_epochs' else 'training end'} ({end[1]})")
    raise_bound = ("longer duration of the Timer in --trainer.callbacks" if end[0] == "Timer"
                   else f"higher --trainer.{end[0]}")  # the user's own Timer: its duration
    train_on = (" A resume keeps its stop: to train longer, start a new run."
                if end[0] == "stopped" else f" Resume with a {raise_bound} to train on.")
    best = yaml.safe_load((run_dir / "best_arch.yaml").read_text()) or {}
    tuned = run_dir / "finetune.json"
    if verbose and rank_zero_only.rank == 0:
        print(f"Nothing left to train: {last}; {run_dir} holds the finished run's outputs "
              f"(best_arch.yaml{', finetune.json' * tuned.is_file()}).{train_on}", flush=True)
    return {"arch": best.get("arch"), "score": best.get("score"),
            "algorithm": best.get("algorithm"), "run_dir": str(run_dir),
            "finetune": json.loads(tuned.read_text()).get("metrics") if tuned.is_file()
            else None}


def _drawn(cfg: Mapping[str, Any]) -> bool:
    """Whether the run's seed is drawn (``seed_everything`` true or false, no
    ``oneshot.seed``): a resume takes its checkpoint's."""
    return (isinstance(cfg.get("seed_everything"), bool)
            and (cfg.get("oneshot") or {}).get("seed") is None)


def _stored(cfg: Mapping[str, Any]) -> bool:
    """Whether a resume takes its checkpoint's seed: no ``oneshot.seed``, no integer
    ``seed_everything`` (a drawn one, or ``PL_GLOBAL_SEED``'s, which another invocation
    may not set; was: no key and null took 0 and were refused against a run seeded so)."""
    return (not is_int(cfg.get("seed_everything"))
            and (cfg.get("oneshot") or {}).get("seed") is None)


def resumable(cfg: Mapping[str, Any], ckpt_path: str | Path = LAST) -> bool:
    """Whether ``run_oneshot(cfg, ckpt_path=ckpt_path)`` would take the checkpoint: the
    config's checks and the checkpoint's against it (before a Trainer or the model is built),
    then against the supernet the config builds, as the resume makes them (warnings unsaid:
    a refused run's hint asks, ``resume_hint``). False while a live run holds the run folder
    (``search.lock``; was: True, and the hint advised resuming a run that is still running).

    Example:
        >>> resumable({"model": "m.Net", "oneshot": {"run_dir": "runs/no_such_run"}})
        False
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            algorithm, opts, trainer_cfg = checked_settings(cfg)
            run_dir = user_path(opts.pop("run_dir") or DEFAULT_RUN_DIR)
            path = resolve_ckpt_path(ckpt_path, run_dir)  # (a file: it raises where none)
            if path is None or lock_taken(run_dir / LOCK_FILE):
                return False
            opts, _, shapes = check_resume(path, algorithm, opts, _stored(cfg), trainer_cfg)
            model, _ = checked_parts(cfg, trainer_cfg, algorithm)  # (was: before the above)
            module = model.build({})
            network_of(module, opts["net_attr"], NET_ATTR)
            check_resumed_supernet(path, _searched(algorithm, opts, module, trainer_cfg,
                                                   run_dir), shapes)
    except Exception:  # noqa: BLE001 - any refusal: not resumable (the run's error stands)
        return False
    return True


def run_oneshot(cfg: Mapping[str, Any], verbose: bool = True,
                ckpt_path: str | Path | None = None) -> dict[str, Any]:
    """Search the config's supernet with ``oneshot.algorithm``, export the best subnet into
    ``oneshot.run_dir`` and fine-tune it for ``oneshot.finetune_epochs``.

    Args:
        cfg: the config (model, data, trainer, ``oneshot:``).
        verbose: print what the run found and wrote (rank 0 only).
        ckpt_path: resume an interrupted run from this checkpoint, or ``"last"``: the run
            folder's ``checkpoints/last.ckpt``, written at each training epoch's end.

    Returns:
        ``{"arch", "score", "algorithm", "finetune": metrics or None, "run_dir"}``.
    """
    algorithm, opts, model, data, trainer_cfg = check_oneshot(cfg)
    run_dir = user_path(opts.pop("run_dir") or DEFAULT_RUN_DIR)
    finetune_epochs, finetune_lr = opts.pop("finetune_epochs"), opts.pop("finetune_lr")
    ckpt_path = resolve_ckpt_path(ckpt_path, run_dir)
    drawn = _drawn(cfg)  # true, false: a drawn seed, which ranks take from rank 0
    end = None  # the bound of its training a resumed run reached (training_end)
    if ckpt_path is not None:
        opts, stored, shapes = check_resume(ckpt_path, algorithm, opts, _stored(cfg),
                                            trainer_cfg)
        if _stored(cfg) and (said := unused_seed(stored["seed"], cfg, false_draws=True)):
            warn_rank_zero(f"--ckpt_path {ckpt_path}: resuming with seed {stored['seed']}, the "
                           f"seed its search ran with (the checkpoint's); this invocation "
                           f"gives {said}: a resume keeps its run's seed (to search with "
                           f"another, give a new oneshot.run_dir)")  # (was: without a word)
        end = training_end(stored, trainer_cfg)
        if end is not None:  # a misspelt net_attr: said, not passed over (was: exit 0)
            network_of(model.build({}), opts["net_attr"], NET_ATTR)
        done = _finished(run_dir, ckpt_path, end, finetune_epochs, verbose)
        if done is not None:  # nothing left to train: the finished run's outputs stand
            return done
    with quiet_lightning(), warnings.catch_warnings(), ExitStack() as held:
        # the run's own checkpoints/ holds last.ckpt: a resume reads it, a new run replaces it
        warnings.filterwarnings("ignore", message=r"Checkpoint directory .* is not empty")
        # the seed for launched ranks; seed_everything's variables kept while the run trains
        # (its DDP ranks read them), then restored, as Search.run and finetune restore them,
        # and so are those Lightning's launcher sets in this process (LOCAL_RANK, ...)
        held.enter_context(environ({DRAWN_SEED: str(opts["seed"])}, kept=SEED_VARIABLES))
        held.enter_context(launcher_variables_of_one(DISTRIBUTED_VARIABLES))  # (of one rank)
        held.enter_context(groups_made_here())  # a one-device DDP fit's group: destroyed
        # the W&B run of a logger node, ended as the run ends, reinit: create_new's too
        # (RunsHeld), as a search's trial's (was: left open in the caller's process)
        runs = held.enter_context(runs_ended(trainer_cfg.get("logger")))
        pl.seed_everything(opts["seed"], workers=True, verbose=False)  # as LightningCLI
        module = model.build({})
        network_of(module, opts["net_attr"], NET_ATTR)  # a misspelt net_attr: said before training
        own = _own_callbacks(module, trainer_cfg)  # its configure_callbacks(): the fit adds
        warn_endless_run(trainer_cfg, own)  # (was: trained for ever)
        check_user_checkpoints(trainer_cfg, run_dir, own)  # (was: its last.ckpt taken)
        held.enter_context(endless_said())  # said: not again as the fit starts
        searched = _searched(algorithm, opts, module, trainer_cfg, run_dir)
        if ckpt_path is not None:  # (was: Lightning's load_state_dict traceback, in the fit)
            check_resumed_supernet(ckpt_path, searched, shapes)
        datamodule = data.build()
        clear = ClearOutputs(run_dir)
        # a second run meanwhile is refused; this one, refused before it trained, leaves the
        # folder as it was (was: a new folder holding search.lock, or a search.lock added)
        held.enter_context(holding(run_dir, "then run it again (or resume a stopped run: "
                                            "--ckpt_path last)",
                                   undone=lambda: not clear.cleared))
        if ckpt_path is not None and verbose and rank_zero_only.rank == 0:
            left = ("; its training is done: running its final search and export"
                    f"{', then the fine-tune' * bool(finetune_epochs)}"
                    if end is not None else "")
            print(f"Resuming the {algorithm} search from {ckpt_path} ("
                  f"{held_text(epochs_held(stored) or 0, stored['batches'])} done, seed "
                  f"{opts['seed']}){left}",
                  flush=True)
        if "logger" in trainer_cfg:  # a W&B node's dir where W&B writes (was: '.')
            trainer_cfg = {**trainer_cfg, "logger": kept_dirs(trainer_cfg["logger"])}
        trainer_kwargs = with_trial_defaults(instantiate(trainer_cfg), logger=False,
                                             default_root_dir=str(run_dir))
        if end is not None and end[0] == "stopped":  # a callback (EarlyStopping) stopped it:
            trainer_kwargs["max_epochs"] = epochs_held(stored)  # its training's end, where
            # the fit runs its final search alone (fit_end.end_fit; was: trained one more epoch)
        # a DDP validation split the ranks do not divide: said once per run (rank 0)
        uneven = UnevenSplitCheck(None, scored="oneshot")
        search = _spos if algorithm == "spos" else _differentiable
        # the monitors' check first: at a validation's end, before an EarlyStopping checks
        # LoggingInterval: Lightning's log_every_n_steps warning, which quiet_lightning
        # silences, said once (was: never, a logger's rows lacking every training step)
        ordered = [CallbackMonitors(), *trainer_kwargs.get("callbacks", []), uneven,
                   RunsHeld(runs), LoggingInterval()]
        arch, score, subnet, frozen, message, rank_zero = search(opts, searched, datamodule, {
            **trainer_kwargs, "callbacks": ordered}, clear, ckpt_path, drawn)
        # under DDP only rank 0 prints and writes; the uneven split it said is in
        # best_arch.yaml's notes, written with the file (met_notes: the exporter's Trainer)
        verbose = verbose and rank_zero
        out = {"arch": arch, "score": score, "algorithm": algorithm, "finetune": None,
               "run_dir": str(run_dir)}
        if verbose:
            print(message, flush=True)
        if finetune_epochs:
            tuned, metrics = finetune_subnet(
                subnet, datamodule, finetune_epochs,
                trainer={**finetune_trainer(trainer_kwargs), "callbacks": [uneven]},
                num_classes=opts["num_classes"], lr=finetune_lr, frozen=frozen)
            # the epochs it trained (trainer.fast_dev_run, which trained one, is refused
            # before the run: oneshot/trainer_checks.py)
            trained = tuned.current_epoch
            if rank_zero:  # plain torch.nn, float32 as subnet.pt; the json (show) last
                tuned_json = json.dumps({"epochs": trained, "finetune_epochs": finetune_epochs,
                                         "lr": finetune_lr, "metrics": metrics}, indent=1)
                write_outputs(run_dir, {"subnet_finetuned.pt": functools.partial(
                    torch.save, tuned.net.cpu().float())})
                # a split its Trainer met, the search's not: noted before finetune.json is
                # there (was: after, so a kill between left its metrics without the note)
                add_notes(run_dir, uneven.met)
                write_outputs(run_dir, {"finetune.json": lambda p: p.write_text(tuned_json)})
            out["finetune"] = metrics
            if verbose:
                of = f" (of finetune_epochs={finetune_epochs})" * (trained != finetune_epochs)
                print(f"Fine-tuned {counted(trained, 'epoch')}{of}: "
                      f"{accuracy_text(metrics)}; wrote "
                      f"{run_dir / 'subnet_finetuned.pt'}", flush=True)
    return out

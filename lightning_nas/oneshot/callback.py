"""One-shot NAS: a callback that trains a weight-sharing supernet inside one
``Trainer.fit`` (a random path per step) and searches its subnets with nevergrad.

Add ``OneShotNAS`` to an ordinary Trainer; the LightningModule's network holds choice
modules (``lightning_nas.oneshot.choices``). Each training step rank 0 samples a path uniformly
and broadcasts it before the forward pass (single-path one-shot). At the end of training,
and every ``search_every_n_epochs`` if set, rank 0 asks nevergrad for subnets; every rank
evaluates each one with the shared weights (BatchNorm statistics recalibrated on a few
training batches, a torchmetrics metric synced across ranks), and rank 0 tells the score.
A search leaves the supernet as it was (BatchNorm statistics, active path, mode, torch's
random state). The exported winner is calibrated again on the very batches it was scored
with, so ``subnet.pt`` scores what ``best_arch.yaml`` says (under DDP the score counts
the validation samples Lightning's ``DistributedSampler`` repeats to even out the ranks:
up to ``devices - 1``, so a fresh validation on one device may differ by that much).
The history, the sampler's random state and torch's live in ``state_dict``, so
``trainer.fit(ckpt_path=...)`` resumes the search; from a checkpoint saved at an epoch's end
it goes on exactly as the uninterrupted fit (the same shuffles, paths and searches), and from
the checkpoint of the fit's end (killed in its final search) it runs the final search and
export alone when the fit ends (``oneshot/fit_end.py``; was: "this fit trained nothing").

This module holds the callback's hooks through a fit; its parts are mixins of their own: the
subnet search (``oneshot.spos_search``), the final search and export at the fit's end
(``oneshot.spos_export``) and the checkpoint state (``oneshot.spos_state``).

Example:
    >>> callback = OneShotNAS(num_candidates=20, num_classes=10)
    >>> callback.best_arch is None
    True
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import torch
import torchmetrics
from torch import nn

from lightning_nas.errors import check_number
from lightning_nas.group_exit import destroy_group_at_exit
from lightning_nas.oneshot.choices import get_path, set_path, space_of
from lightning_nas.oneshot.endless import warn_endless_fit
from lightning_nas.oneshot.exported import check_export_saves
from lightning_nas.oneshot.fit_end import end_fit, training_ends
from lightning_nas.oneshot.random_state import preserved_rng, set_rng_state
from lightning_nas.oneshot.records import (
    restarts_after_last_batch,
    restarts_mid_epoch,
    write_record,
)
from lightning_nas.oneshot.resume import built_rates, check_resumed_rates, recount_repeated_epoch
from lightning_nas.oneshot.scoring import Forward, default_forward, metric_mode
from lightning_nas.oneshot.seed_range import SEED_MAX, check_seed_range
from lightning_nas.oneshot.spos_batches import check_first_batch, check_sanity_batch
from lightning_nas.oneshot.spos_checks import (
    check_one_search,
    check_spos_arguments,
    check_val_data,
    warn_supernet_stage,
)
from lightning_nas.oneshot.spos_export import SposExport
from lightning_nas.oneshot.spos_search import SposSearch
from lightning_nas.oneshot.spos_state import SposState
from lightning_nas.oneshot.sync_norms import check_norms_kept, choice_norms
from lightning_nas.space import SearchSpace
from lightning_nas.strategies.registry import check_optimizer_name, check_optimizer_runs

__all__ = ["SEED_MAX", "OneShotNAS"]


class OneShotNAS(SposSearch, SposExport, SposState, pl.Callback):
    """Single-path one-shot search over the choice modules of the trained LightningModule.

    Args:
        optimizer: nevergrad optimizer that searches the subnets (registry name); one
            that cannot run a search (its package missing: ``SMAC3``, ``AX``) is a
            ``ConfigError`` when the fit sets up, before training.
        num_candidates: subnets evaluated by the final search.
        search_every_n_epochs: also search (``num_candidates`` subnets) after every ``n``
            epochs; the history keeps the epoch of each evaluation.
        calibration_batches: training batches that recompute BatchNorm statistics for each
            subnet before it is scored (0: keep the supernet's statistics, under DDP rank
            0's on every rank); the first ones of the train dataloader, taken once per
            search (per rank under DDP, where the statistics are averaged over the ranks),
            at most as many as a training epoch runs (``limit_train_batches``).
        num_classes: classes of the default metric, plain accuracy (the fraction of correct
            predictions: torchmetrics ``average="micro"``, as the fine-tune's ``val_acc``);
            inferred from the predictions when None.
        metric: a factory ``() -> torchmetrics.Metric`` instead of accuracy.
        mode: ``"max"`` or ``"min"`` for the metric; None: the metric's
            ``higher_is_better`` (``max`` for accuracy).
        forward: ``(module, batch) -> (predictions, targets)`` (default: ``module(x), y``).
        net_attr: attribute of the LightningModule that holds the network to export (None:
            ``net`` if it has one, else the whole module); a name it lacks is a
            ``ConfigError`` before training.
        export_dir: where rank 0 writes ``best_arch.yaml`` and ``subnet.pt`` at the end,
            ``history.json`` by the end of each epoch that searched (``oneshot.records``)
            (None: write nothing, nor does a ``fast_dev_run``, as Lightning writes no
            checkpoint); a value that is no folder path, or a file's, is a
            ``ConfigError`` when the callback is made.
        seed: seeds the path sampler and nevergrad (``seed + epoch`` each search): 0 to
            ``SEED_MAX`` (2**31 - 1).
        record_paths: keep the path of every training batch in ``paths`` (for checks): a
            path is drawn per batch, so under ``accumulate_grad_batches`` several per
            optimizer step.
    """

    def __init__(self, optimizer: str = "RandomSearch", num_candidates: int = 30,
                 search_every_n_epochs: int | None = None, calibration_batches: int = 5,
                 num_classes: int | None = None,
                 metric: Callable[[], torchmetrics.Metric] | None = None,
                 mode: str | None = None,
                 forward: Forward = default_forward, net_attr: str | None = None,
                 export_dir: str | None = None, seed: int = 0,
                 record_paths: bool = False) -> None:
        check_optimizer_name(optimizer)
        mode = metric_mode(metric, mode, "OneShotNAS")
        check_number(num_candidates, "num_candidates", 1, integer=True)  # (was: 2.5 crashed
        check_number(calibration_batches, "calibration_batches", 0, integer=True)  # after fit)
        check_spos_arguments(search_every_n_epochs, export_dir, num_classes, forward)
        check_seed_range(seed, "seed", SEED_MAX, "seed + epoch seeds each search's optimizer, "
                         "which takes seeds below 2**32")
        self.optimizer, self.num_candidates = optimizer, num_candidates
        self._ended = self._recorded = False  # in this fit: on_train_end ran; history.json
        self.search_every_n_epochs = search_every_n_epochs
        self.calibration_batches, self.num_classes = calibration_batches, num_classes
        self.metric_factory, self.mode, self.forward = metric, mode, forward
        self.net_attr, self.export_dir, self.seed = net_attr, export_dir, seed
        #: how errors name its settings: ``""``, or ``"oneshot."`` (the command's keys)
        self.key_prefix = ""
        self.history: list[dict[str, Any]] = []
        self.rng = random.Random(seed)
        self.space: SearchSpace | None = None
        self._norms: list[str] = []  # its ChoiceBatchNorm2d layers (setup)
        self.best_arch: dict[str, Any] | None = None
        self.best_score: float | None = None
        self.subnet: nn.Module | None = None
        #: the subnet's submodules the user froze (``export_checked``; ``finetune_subnet``)
        self.frozen: list[str] = []
        self.paths: list[dict[str, Any]] = []  # the path of each training step (this rank)
        self.record_paths = record_paths
        self._device = torch.device("cpu")
        self._loaded_rng: dict[str, Any] | None = None  # the checkpoint's torch random state
        self._loaded_epochs: int | None = None  # the epochs it holds (fit_end.saved_epochs)
        # Lightning's repeat of the checkpoint's epoch end pending; the next epoch's start state
        self._repeated_end = False
        self._epoch_rng: dict[str, Any] | None = None
        self._end_rng: dict[str, Any] | None = None  # this epoch's end's, resumed after its batches
        self._resume_rates = self._rates = None  # optimizers' rates: a checkpoint's, built
        self._backwards: list[int] | None = None  # this fit's first step, backward passes
        self._calibrated: dict[str, Any] | None = None  # the last search's calibration draw

    @property
    def state_key(self) -> str:
        return f"OneShotNAS{{'optimizer': '{self.optimizer}', 'seed': {self.seed}}}"

    # ----------------------------------------------------------------- training
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit" and trainer.current_epoch == 0 and trainer.global_step == 0:
            self._new_search()  # a new Trainer's fit (a checkpoint's state comes after)
        check_one_search(trainer, pl_module, OneShotNAS)  # (one would override the other)
        warn_supernet_stage(stage, get_path(pl_module), self.best_arch)  # (was: unsaid)
        network = self.network(pl_module)  # a misspelt net_attr: said before training
        check_export_saves(trainer, self.export_dir, network, self.key_prefix)
        self.space = space_of(pl_module)
        self._norms = choice_norms(pl_module)  # before a DDP strategy's sync_batchnorm swap
        # an optimizer that cannot run a search (a missing package: SMAC3, AX, Pymoo*) is
        # said now, on a throwaway copy asked as a search asks it (was: after training)
        check_optimizer_runs(self.optimizer, self.space, budget=self.num_candidates)

    def _new_search(self) -> None:
        """The search state of a new callback: a fit of a new Trainer searches its own
        supernet as a new ``OneShotNAS`` would (was: the last fit's history and best kept,
        so its final search, taken for run, did not: it exported the last fit's best arch
        and score from another supernet)."""
        self.history, self.paths = [], []
        self.rng = random.Random(self.seed)
        self.best_arch = self.best_score = self.subnet = None
        self.frozen = []
        self._loaded_rng = self._loaded_epochs = self._epoch_rng = self._end_rng = None
        self._repeated_end, self._calibrated = False, None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._backwards = None  # until training starts (a fit resumed at its end has none)
        check_norms_kept(pl_module, self._norms, "OneShotNAS")
        # the optimizers as the module built them: Lightning restores the checkpoint's
        # param_groups over them after this hook (was: another lr taken and ignored)
        optimizers = trainer.optimizers
        check_resumed_rates(self._resume_rates, optimizers, ["the weight optimizer's "]
                            if len(optimizers) == 1 else
                            [f"optimizer {i}'s " for i in range(len(optimizers))])
        self._resume_rates, self._rates = None, built_rates(optimizers)
        self._ended = self._recorded = False
        self._device = pl_module.device  # whose random state a checkpoint keeps
        destroy_group_at_exit(backend="gloo")  # a gloo DDP fit: its group ends before exit
        warn_endless_fit(trainer, "OneShotNAS")  # max_epochs=-1 alone (was: said nothing)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        end_fit(trainer, self._ended, "OneShotNAS",  # resumed at its end: the final search
                functools.partial(self._final, trainer, pl_module), self._loaded_rng,
                self._loaded_epochs, functools.partial(self._write_history, trainer))

    def on_sanity_check_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """A ``LayerChoice`` candidate that does not fit the network is said before the sanity
        check runs the active path, on its first validation batch (one the default forward
        cannot read is said at the first training batch): ``spos_batches``."""
        check_sanity_batch(trainer, pl_module, self.forward)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Validation data the searches could not read, a choice module the forward never
        calls, or a ``num_classes`` that does not fit the data, is said now, not after
        training.

        Lightning restarts a fit with a ``max_steps`` from an epoch-end checkpoint at that
        epoch's end, runs its end hooks again and draws the next data order after a first
        (was: that epoch's search ran twice, the epochs after it on another data order)."""
        # automatic optimization: a training_step that returns None skips the backward
        # pass (manual optimization may call loss.backward() itself, which no hook sees)
        self._backwards = [trainer.global_step, 0] if pl_module.automatic_optimization else None
        self._repeated_end = bool(getattr(trainer.fit_loop, "restarted_on_epoch_end", False))
        self._epoch_rng = self._loaded_rng if self._repeated_end else None
        # saved after the validation of the epoch's last batch, before its end (a
        # ModelCheckpoint under check_val_every_n_epoch > 1 or val_check_interval < 1): its
        # end at the checkpoint's random state, as the uninterrupted fit's (was: the state
        # Lightning left making the training iterator: other calibration batches and scores)
        self._end_rng = self._loaded_rng if restarts_after_last_batch(trainer) else None
        check_val_data(trainer, pl_module, self._catch_up_due(trainer),
                       self.search_every_n_epochs)
        check_first_batch(trainer, pl_module, self.forward, self._metric,  # (spos_batches)
                          self.num_classes if self.metric_factory is None else None,
                          f"{self.key_prefix}num_classes")
        if self._catch_up_due(trainer):
            # at the random state the uninterrupted fit searched at: the checkpoint's (since
            # restored, Lightning has drawn from it making the training iterator)
            with preserved_rng(pl_module.device):
                if self._loaded_rng is not None:
                    set_rng_state(self._loaded_rng)
                self.search(trainer, pl_module, trainer.current_epoch + self._repeated_end)
        self._loaded_rng = None
        if restarts_mid_epoch(trainer):  # no epoch start before this epoch's end: the
            self._write_history(trainer)  # checkpoint's record now (oneshot.records)

    def _catch_up_due(self, trainer: pl.Trainer) -> bool:
        """Whether a fit resumed from the last checkpoint of a finished one (to a higher
        ``max_epochs``) runs the search after the epoch it resumes from at its start: that
        epoch was due one, which the finished fit ran as its final search, after the
        checkpoint."""
        n, epoch = self.search_every_n_epochs, trainer.current_epoch + self._repeated_end
        return bool(n and epoch and epoch % n == 0 and not training_ends(trainer, epoch)
                    and all(row["epoch"] != epoch for row in self.history))

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        arch = self.space.sample(rng=self.rng) if trainer.is_global_zero else None
        arch = trainer.strategy.broadcast(arch, src=0)
        set_path(pl_module, arch)
        if self.record_paths:
            self.paths.append(arch)

    def on_after_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._backwards is not None:  # Lightning's hook runs only after a backward pass
            self._backwards[1] += 1

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._epoch_rng is not None:  # after Lightning's repeat of the checkpoint's epoch
            set_rng_state(self._epoch_rng)  # end: the state the next epoch started from
            self._epoch_rng = None
        if not self._recorded:  # a resume's, the checkpoint's (once the command removed
            self._write_history(trainer)  # the killed run's outputs: oneshot.records)
        self._recorded = True

    def _write_history(self, trainer: pl.Trainer) -> None:
        """``history.json`` as the history holds it, on disk now (none while it is empty)."""
        if self.history:
            write_record(trainer, self.export_dir, "history.json", self.history)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._end_rng is not None:  # resumed after this epoch's last batch (on_train_start)
            set_rng_state(self._end_rng)
            self._end_rng = None
        if self._repeated_end:  # the checkpoint's epoch end again: its search ran before the
            self._repeated_end = False  # checkpoint, or as on_train_start's catch-up
            recount_repeated_epoch(trainer)  # (was: counted twice, one epoch fewer trained)
            return
        n = self.search_every_n_epochs
        epoch = trainer.current_epoch + 1
        if n and epoch % n == 0 and not training_ends(trainer, epoch):
            self.search(trainer, pl_module, epoch)  # on disk by the epoch's end (was: at
            write_record(trainer, self.export_dir, "history.json", self.history)  # the run's)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._final(trainer, pl_module, trainer.current_epoch)

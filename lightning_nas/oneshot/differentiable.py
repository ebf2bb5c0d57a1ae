"""Differentiable one-shot NAS (DARTS, GDAS): a LightningModule around a supernet built from
the choice modules of ``lightning_nas.oneshot.choices``, unchanged.

- One architecture logit vector per decision of ``space_of(supernet)`` (``alphas``, an
  ``nn.ParameterDict``: checkpointed, all-reduced under DDP like every parameter, and kept
  out of the weight optimizer); what the module answers of them (probabilities, derived
  architectures, mixing weights, ``history``) comes from its base ``ArchLogits``
  (``oneshot.arch_logits``).
- Every forward is mixed with the weights ``oneshot.arch_weights`` computes from the
  logits: DARTS all values, GDAS one sampled value per decision at temperature ``tau``
  (the buffer ``tau``, set each epoch). Widths and kernel sizes of ``ChoiceConv2d`` /
  ``ChoiceLinear`` take part as masks (``oneshot.mixed``).
- First-order bilevel optimization by manual optimization: per training step the logits
  take a step on a held-out ("arch") batch, then the weights on a training batch (the two
  optimizers: ``oneshot.differentiable_optim``; BatchNorm statistics: the training
  batches'). The batches come from ``BilevelData(datamodule)`` (``oneshot.bilevel``):
  its train loader zips the datamodule's train loader (an epoch) with its validation loader
  (cycled) in a ``CombinedLoader``, so Lightning moves both to the device and gives each
  rank its shard under DDP. The datamodule's batch hooks see the arch batches as training ones
  (``trainer.training``): train-only augmentation belongs in the training set's transforms.
- Validation (``oneshot.differentiable_eval``) runs the mixed supernet (DARTS) or the argmax
  path (GDAS): a module's own ``validation_step`` and epoch hooks (logged; ``val_loss`` its,
  else of ``loss`` or its ``training_step``) and, with ``num_classes`` / ``metric``,
  ``val_acc``; per epoch ``alpha/<decision>/<value>`` (softmax) is logged, the logits go to
  ``history`` (in ``export_dir``'s ``alphas.json`` by its end: ``oneshot.records``).
- ``trainer.test`` / ``trainer.predict`` run the architecture found: the export ``subnet``
  after the search, else the argmax path (``oneshot.differentiable_eval``).
- A wrapped LightningModule's lifecycle and validation hooks run as in a plain fit, after the
  search's own; those of the optimization it drives are warned of (``oneshot.wrapped_hooks``).
- At the end of training the ``top_k`` most probable architectures are scored with the
  shared weights after BatchNorm calibration (``oneshot.scoring``) and the best is exported
  by ``export_subnet``, calibrated on the same batches (``subnet``, ``best_arch``,
  ``best_score``; files in ``export_dir``: see ``oneshot.derive``).
- State: logits, both optimizers, the weights' lr schedulers, ``tau``, ``history`` and
  torch's random state are in the checkpoint: ``trainer.fit(ckpt_path=...)`` continues the
  same search (``BilevelData`` sets the random state before the resumed run's training
  iterators: one resumed from an epoch's end draws the same shuffles and ends as an
  uninterrupted one; GDAS's noise depends on ``(seed, epoch, batch)`` alone:
  ``arch_weights.noise_key``). One resumed from the checkpoint of its end runs the final
  search and export alone (``oneshot/fit_end.py``).

The loss: a ``lightning_nas.module.LOSSES`` name or a callable ``(preds, target)``; None with a
LightningModule reuses its ``training_step`` (``self.log`` dropped; its first
``configure_optimizers`` optimizer, with its lr schedulers, stepped as Lightning would:
``oneshot.weight_schedulers``, when ``optimizer`` is None). Batches are ``(x, y, ...)``. GDAS
leaves candidates unused: under DDP, ``ddp_find_unused_parameters_true``.

This module holds the LightningModule's construction and its hooks through a fit; its parts
are mixins of their own: the optimizers and training step (``oneshot.differentiable_step``),
the final search and export (``oneshot.differentiable_export``), the checkpoint state
(``oneshot.differentiable_state``), beside the logits (``oneshot.arch_logits``), validation,
test and prediction (``oneshot.differentiable_eval``), the wrapped module's hooks
(``oneshot.wrapped_hooks``) and the lr schedulers' steps (``oneshot.weight_schedulers``).

Example:
    >>> from torch import nn
    >>> from lightning_nas.oneshot.choices import ChoiceLinear, LayerChoice
    >>> net = nn.Sequential(ChoiceLinear(8, [4, 16], label="hidden"),
    ...                     LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act"),
    ...                     ChoiceLinear(16, 3, label="out"))
    >>> nas = DifferentiableNAS(net, algorithm="gdas", num_classes=3)
    >>> sorted(nas.probabilities())
    ['act', 'hidden']
    >>> sorted(nas.derived_arch())
    ['act', 'hidden']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import lightning.pytorch as pl
import torch
import torchmetrics
from torch import nn

from lightning_nas.group_exit import destroy_group_at_exit
from lightning_nas.module import LOSSES
from lightning_nas.oneshot.arch_logits import ArchLogits
from lightning_nas.oneshot.arch_weights import initial_logits
from lightning_nas.oneshot.bilevel import BilevelData
from lightning_nas.oneshot.checks import (
    CLIP_ALGORITHMS,
    check_clip_val,
    check_manual_trainer,
    check_tau_epochs,
    check_training_start,
)
from lightning_nas.oneshot.choices import space_of
from lightning_nas.oneshot.differentiable_args import (
    DEFAULT_LR,
    DEFAULT_WEIGHT_DECAY,
    check_arguments,
    relaxable_choices,
)
from lightning_nas.oneshot.differentiable_eval import EvalSteps
from lightning_nas.oneshot.differentiable_export import DerivedExport
from lightning_nas.oneshot.differentiable_state import CheckpointState
from lightning_nas.oneshot.differentiable_step import BilevelStep
from lightning_nas.oneshot.endless import warn_endless_fit
from lightning_nas.oneshot.exported import check_export_saves
from lightning_nas.oneshot.records import restarts_mid_epoch, write_record
from lightning_nas.oneshot.resume import recount_repeated_epoch
from lightning_nas.oneshot.scoring import network_of
from lightning_nas.oneshot.sync_norms import check_norms_kept, choice_norms
from lightning_nas.oneshot.tau_resume import TAU_EPOCHS, check_tau_schedule, check_tau_settings
from lightning_nas.oneshot.weight_schedulers import ScheduleSteps, WeightSchedule
from lightning_nas.oneshot.wrapped import check_automatic
from lightning_nas.oneshot.wrapped_hooks import WrappedHooks

__all__ = ["CLIP_ALGORITHMS", "DifferentiableNAS", "check_clip_val"]

class DifferentiableNAS(BilevelStep, DerivedExport, CheckpointState, ArchLogits, EvalSteps,
                        WrappedHooks, ScheduleSteps):
    """DARTS or GDAS over the choice modules of ``supernet`` (see the module docstring).

    Args:
        supernet: an ``nn.Module`` with choice modules, or a LightningModule holding one.
        algorithm: ``"darts"`` or ``"gdas"``.
        loss: a ``LOSSES`` name or ``(preds, target) -> loss``; None: the LightningModule's
            ``training_step``, else cross-entropy.
        num_classes: classes of the accuracy metric (``val_acc``, and the export's score):
            plain accuracy, the fraction of correct predictions (torchmetrics
            ``average="micro"``, as the fine-tune's ``val_acc``).
        metric: a factory ``() -> torchmetrics.Metric`` instead of accuracy (logged as
            ``val_metric``).
        mode: ``"max"`` or ``"min"`` for the metric (which of the ``top_k`` wins); None:
            the metric's ``higher_is_better`` (``max`` for accuracy).
        net_attr: attribute of a LightningModule supernet holding the network to export
            (None: ``net`` if it has one, else the whole module); a name it lacks is a
            ``ConfigError``.
        optimizer: weight optimizer, a ``torch.optim`` name; None: the LightningModule's
            own, else Adam.
        lr, weight_decay: of a named weight optimizer, or the Adam of a network without
            one (above 0, at least 0); other values than the defaults beside a
            LightningModule's own optimizer are a ``ConfigError`` when the fit sets up.
        arch_lr, arch_weight_decay: Adam (betas 0.5, 0.999) on the logits, as in DARTS
            (above 0, at least 0; a resume keeps these, and the weight optimizer's, settings).
        gradient_clip_val: clip the weights' gradients, in the optimizer step (after a
            ``16-mixed`` scaler unscaled them); the Trainer's ``gradient_clip_val`` (as
            ``accumulate_grad_batches``) is a ``ConfigError`` as the fit starts. None or
            0: no clipping; below 0 is a ``ConfigError`` (``check_clip_val``).
        gradient_clip_algorithm: ``"norm"`` (their total norm) or ``"value"`` (each entry).
        tau_max, tau_min, tau_schedule, tau_epochs: GDAS temperature from ``tau_max`` in the
            first epoch to ``tau_min`` in epoch ``tau_epochs`` (default: ``max_epochs``; a
            schedule of one epoch stays at ``tau_max``); beside DARTS, other values than
            the defaults are a ``ConfigError``.
        warmup_epochs: epochs that train only the weights (a ``max_epochs`` or
            ``max_steps`` that ends training within them is a ``ConfigError`` when training
            starts; logits that never stepped, at its end: ``oneshot.checks``).
        top_k: architectures (most probable first) scored at the end; the best is exported.
        calibration_batches: training batches of the BatchNorm calibration (at most as
            many as a training epoch runs, ``limit_train_batches``).
        export_dir: where rank 0 writes the export, and ``alphas.json`` by each epoch's
            end (``oneshot.records``) (None, or a ``fast_dev_run``: nothing); a value that
            is no folder path, or a file's, is a ``ConfigError`` when it is made.
        seed: seeds the logits' initial values and the Gumbel noise: 0 to 2**32 - 1
            (``seed_range.WIDE_SEED_MAX``; another value is a ``ConfigError``, as for
            ``OneShotNAS``, whose range ends at 2**31 - 1).
    """

    def __init__(self, supernet: nn.Module, algorithm: str = "darts",
                 loss: str | Callable[..., torch.Tensor] | None = None,
                 num_classes: int | None = None,
                 metric: Callable[[], torchmetrics.Metric] | None = None,
                 mode: str | None = None,
                 net_attr: str | None = None, optimizer: str | None = None,
                 lr: float = DEFAULT_LR, weight_decay: float = DEFAULT_WEIGHT_DECAY,
                 arch_lr: float = 3e-3, arch_weight_decay: float = 1e-3,
                 gradient_clip_val: float | None = None, gradient_clip_algorithm: str = "norm",
                 tau_max: float = 10.0, tau_min: float = 0.1,
                 tau_schedule: str = "exponential", tau_epochs: int | None = None,
                 warmup_epochs: int = 0, top_k: int = 1, calibration_batches: int = 5,
                 export_dir: str | None = None, seed: int = 0) -> None:
        super().__init__()
        mode = check_arguments(  # each named, with what it must be (was: many not)
            supernet, algorithm=algorithm, loss=loss, num_classes=num_classes, metric=metric,
            mode=mode, optimizer=optimizer, lr=lr, weight_decay=weight_decay, arch_lr=arch_lr,
            arch_weight_decay=arch_weight_decay, gradient_clip_val=gradient_clip_val,
            gradient_clip_algorithm=gradient_clip_algorithm, tau_max=tau_max, tau_min=tau_min,
            tau_schedule=tau_schedule, tau_epochs=tau_epochs, warmup_epochs=warmup_epochs,
            top_k=top_k, calibration_batches=calibration_batches, export_dir=export_dir,
            seed=seed)
        self.save_hyperparameters(ignore=["supernet", "metric"] + (
            [] if loss is None or isinstance(loss, str) else ["loss"]))
        self.automatic_optimization = False
        check_automatic(supernet)  # its training_step is the loss: no optimizer of its own
        self.supernet = supernet
        _ = self.network  # a misspelt net_attr: said now
        self._norms = choice_norms(supernet)  # before a DDP strategy's sync_batchnorm swap
        space = space_of(supernet)
        self.choices = relaxable_choices(space)  # a range: refused, naming it
        self._keys = {label: label.replace(".", "__") for label in self.choices}
        self.alphas = initial_logits(
            {self._keys[label]: len(values) for label, values in self.choices.items()}, seed)
        self.start_logits = {k: p.detach().clone() for k, p in self.alphas.items()}  # seeded
        self.register_buffer("tau", torch.tensor(float(tau_max)))
        lightning_supernet = isinstance(supernet, pl.LightningModule)
        if loss is None and not lightning_supernet:
            loss = "cross_entropy"
        self.loss_fn = LOSSES[loss] if isinstance(loss, str) else loss
        self.metric_name = "val_metric" if metric is not None else "val_acc"
        self.val_metric = metric() if metric is not None else (
            torchmetrics.classification.MulticlassAccuracy(num_classes=num_classes,
                                                           average="micro")
            if num_classes else None)
        self.history: list[dict[str, Any]] = []
        self._ended = self._recorded = False  # in this fit: on_train_end ran; alphas.json
        self.best_arch: dict[str, Any] | None = None
        self.best_score: float | None = None
        self.subnet: nn.Module | None = None
        self.frozen: list[str] = []  # its submodules the user froze (oneshot.exported)
        self.scored: list[dict[str, Any]] = []
        self._resume_rng: dict[str, Any] | None = None
        self._resume_epochs: int | None = None  # the epochs the checkpoint holds
        self._resume_tau_epochs: int | None = None  # a checkpoint's GDAS schedule length
        self._resume_tau: Mapping[str, Any] | None = None  # and its other settings
        self._resume_groups = self._rates = None  # optimizers' rates: a checkpoint's, built
        self._saved_schedules: int | None = None  # the lr schedulers a checkpoint holds
        self._schedules: list[WeightSchedule] = []  # the weight optimizer's lr schedulers
        self._plateau_due: int | None = None  # the batch whose plateau step waits
        self._epoch_stepped = False  # this epoch's last batch ran (its schedulers stepped)
        #: what a resume's schedule warning names (``lightning-nas oneshot``: its key)
        self.tau_epochs_setting = TAU_EPOCHS
        #: how errors name its settings: as arguments (``""``), or ``lightning-nas oneshot``'s
        #: keys (``"oneshot."``: ``oneshot.num_classes``)
        self.key_prefix = ""

    @property
    def network(self) -> nn.Module:
        """The network that is exported (``supernet.<net_attr>`` of a LightningModule)."""
        if isinstance(self.supernet, pl.LightningModule):
            return network_of(self.supernet, self.hparams.net_attr)
        return self.supernet

    # ----------------------------------------------------------------- training
    def setup(self, stage: str) -> None:
        """A new Trainer's fit records its own epochs (a checkpoint's history comes after;
        was: the last fit's entries kept, each epoch twice in ``alphas.json``)."""
        if stage == "fit" and self.trainer.current_epoch == 0 and self.trainer.global_step == 0:
            self.history, self.scored = [], []
        super().setup(stage)  # the wrapped module's own (oneshot.wrapped_hooks), and so below

    def configure_callbacks(self) -> Any:
        """The wrapped module's callbacks (``WrappedHooks``); first, as a fit attaches them
        before Lightning's checks, a Trainer that clips or accumulates is refused saying
        what works (``check_manual_trainer``; was: "switch to automatic optimization")."""
        if self.trainer.state.fn == "fit":
            check_manual_trainer(self.trainer)
        return super().configure_callbacks()

    def on_fit_start(self) -> None:
        check_automatic(self.supernet)  # set after it was wrapped: said before any step
        check_norms_kept(self.supernet, self._norms, "DifferentiableNAS")
        check_export_saves(self.trainer, self.hparams.export_dir, self.network, self.key_prefix)
        self._ended = self._recorded = False  # alphas.json written in this fit: at its epochs
        self._plateau_due, self._epoch_stepped = None, False  # (a stopped fit's: not here)
        destroy_group_at_exit(backend="gloo")  # a gloo DDP fit: its group ends before exit
        warn_endless_fit(self.trainer, "DifferentiableNAS")  # (was: said nothing)
        if self.hparams.algorithm == "gdas":  # the keys as written (lightning-nas oneshot
            # checks its config's before anything is built; a Timer callback is seen here)
            check_tau_epochs(self.hparams.tau_epochs, {"max_epochs": self.trainer.max_epochs},
                             self.key_prefix)
        data = self.trainer.datamodule
        if self._resume_rng is not None and isinstance(data, BilevelData):
            data.resume_rng = self._resume_rng  # set before each training iterator Lightning
        self._resume_rng = None  # makes while resuming, until the first training batch
        if self.trainer.ckpt_path is None:  # no resume: no checkpoint's schedule to compare
            self._resume_tau_epochs = self._resume_tau = None
        super().on_fit_start()  # (unhonoured hooks warned of first)

    def on_train_start(self) -> None:
        check_training_start(self)  # warmup against the training's length, num_classes
        # a resume's schedule against the checkpoint's, where epochs are left to anneal:
        # Lightning skips on_train_start in a fit resumed at its training's end, whose final
        # search alone runs (was: checked in on_fit_start, so that resume warned too)
        if self.hparams.algorithm == "gdas":
            check_tau_schedule(self._resume_tau_epochs, self._tau_epochs(),
                               self.trainer.max_epochs, self.tau_epochs_setting)
            check_tau_settings(self._resume_tau, self.hparams, self.tau_epochs_setting)
        self._resume_tau_epochs = self._resume_tau = None
        if restarts_mid_epoch(self.trainer):  # no epoch start before this epoch's end: the
            self._write_alphas()  # checkpoint's record now (oneshot.records)
        super().on_train_start()

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self._step_plateau_due()  # after the last batch's validation, as Lightning steps
        data = self.trainer.datamodule
        if isinstance(data, BilevelData):
            data.resume_rng = None

    def _tau_epochs(self) -> int:
        """The epochs GDAS's temperature decays over (``tau_epochs``, else ``max_epochs``)."""
        return self.hparams.tau_epochs or self.trainer.max_epochs or 1

    def on_train_epoch_start(self) -> None:
        self.tau.fill_(self.temperature(self.current_epoch, self._tau_epochs()))
        if not self._recorded:  # a resume's, the checkpoint's (once the command removed
            self._write_alphas()  # the killed run's outputs)
        self._recorded = True
        super().on_train_epoch_start()

    def _write_alphas(self) -> None:
        """``alphas.json`` as the history holds it, on disk now (``oneshot.records``; none
        while it is empty)."""
        if self.history:
            write_record(self.trainer, self.hparams.export_dir, "alphas.json",
                         self.alpha_history())

    def on_train_epoch_end(self) -> None:
        recount_repeated_epoch(self.trainer)  # a resume bounded by max_steps: counted once
        self._record()
        if self.trainer.global_step:  # on disk by the epoch's end (was: at the run's); not
            self._write_alphas()  # of a fit stopped before its first step (check_stepped)
        for label, probs in self.probabilities().items():
            for value, p in zip(self.choices[label], probs, strict=True):
                self.log(f"alpha/{label}/{value}", p, sync_dist=True)  # (the same on every
        if self.hparams.algorithm == "gdas":  # rank: said so, no warning to sync them)
            self.log("tau", float(self.tau), sync_dist=True)
        super().on_train_epoch_end()
        self._step_epoch_end()  # the weights' schedulers: after its hooks, metrics logged

"""What ``OneShotNAS`` checks of its fit before training, beside the first batch's checks
(``oneshot.checks``): one one-shot search per fit (``check_one_search``: a second
``OneShotNAS``, or one on a ``DifferentiableNAS``, would override the paths the other sets),
and validation data its searches can read (``check_val_data``); and, when it is made, the
arguments it would read only later (``check_spos_arguments``); ``warn_supernet_stage``: a
``trainer.validate`` / ``test`` / ``predict`` with the callback runs the supernet's path.

Example:
    >>> from lightning_nas.oneshot.callback import OneShotNAS
    >>> import lightning.pytorch as pl
    >>> trainer = pl.Trainer(callbacks=[OneShotNAS(seed=0), OneShotNAS(seed=7)], logger=False)
    >>> check_one_search(trainer, pl.LightningModule(), OneShotNAS)
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: this fit holds 2 one-shot searches: ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl

from lightning_nas.errors import PYTHON_NULL, ConfigError, check_number
from lightning_nas.oneshot.scoring import loaders
from lightning_nas.run_folder import check_export_dir
from lightning_nas.user_warnings import warn_rank_zero
from lightning_nas.wording import counted

__all__ = ["check_one_search", "check_spos_arguments", "check_val_data", "warn_supernet_stage"]


def check_spos_arguments(search_every_n_epochs: object, export_dir: object,
                         num_classes: object = None, forward: object = None) -> None:
    """Raise ``ConfigError`` naming the ``OneShotNAS`` argument that could not work, before
    any fit: ``search_every_n_epochs`` (an integer >= 1 or None), ``export_dir`` (a folder
    path or None: ``run_folder.check_export_dir``; was: ``export_dir=3`` trained, then
    failed writing the export), ``num_classes`` (an integer >= 2 or None; was: ``"3"``
    refused at the fit's start as "num_classes=3 does not fit ..., set num_classes=3") and
    ``forward`` (a callable or None; was: a bare TypeError at the fit's start)."""
    if search_every_n_epochs is not None:
        check_number(search_every_n_epochs, "search_every_n_epochs", 1, integer=True,
                     nullable=True, null=PYTHON_NULL)  # (was: "or null", YAML's word)
    check_export_dir(export_dir, "OneShotNAS(export_dir=...)")
    if num_classes is not None:
        check_number(num_classes, "num_classes", 2, integer=True, nullable=True,
                     null=PYTHON_NULL)
    if forward is not None and not callable(forward):
        raise ConfigError(f"forward must be a callable (module, batch) -> (predictions, "
                          f"targets), got {forward!r}")


def check_one_search(trainer: pl.Trainer, pl_module: pl.LightningModule,
                     kind: type[pl.Callback]) -> None:
    """Raise ``ConfigError`` naming them when a fit with a ``OneShotNAS`` (``kind``) holds
    another one-shot search: a second ``OneShotNAS`` on the Trainer, or a
    ``DifferentiableNAS`` as the module. Each sets the supernet's path (DARTS/GDAS: its
    mixing) at every training step, so one overrides the other's: the paths a
    ``OneShotNAS`` records never trained, yet each would search and export. (Two of one
    optimizer and seed, one ``state_key``, Lightning refuses when the Trainer is built.)"""
    from lightning_nas.oneshot.differentiable import DifferentiableNAS

    searches = [c for c in trainer.callbacks if isinstance(c, kind)]
    said = [c.state_key for c in searches]
    darts = isinstance(pl_module, DifferentiableNAS)
    if darts:
        said.append(f"the module, DifferentiableNAS(algorithm={pl_module.hparams.algorithm!r})")
    if len(said) < 2:
        return
    raise ConfigError(
        f"this fit holds {len(said)} one-shot searches: {'; '.join(said)}; each sets the "
        f"supernet's path at every training step, so one overrides the other's (the paths a "
        f"OneShotNAS records never train, yet each would search and export"
        + ("); DifferentiableNAS searches itself: fit it without OneShotNAS" if darts else
           "); keep one OneShotNAS on the Trainer (run each search in a fit of its own)"))


def check_val_data(trainer: pl.Trainer, pl_module: pl.LightningModule, search_now: bool,
                   every: int | None) -> None:
    """Refuse, before training, a fit whose searches would find no validation data.

    A search reads the Trainer's validation loaders once the sanity check or a validation
    set them up, else a datamodule's or the module's ``val_dataloader()``. Loaders passed to
    ``trainer.fit(val_dataloaders=...)`` are read only the first way (no public Lightning
    API gives them earlier), so there the first search must come after a validation.

    Raises:
        ConfigError: the fit has no validation data, or the searches could not read it.
    """
    limit, mod, dm = trainer.limit_val_batches, type(pl_module), trainer.datamodule
    none = (f"this fit has none (limit_val_batches={limit}, "
            f"{counted(len(loaders(trainer.val_dataloaders)), 'val dataloader')})")
    fix = "give the module or datamodule a val_dataloader"
    if trainer.val_dataloaders is not None:  # set up already (by the sanity check)
        if any(trainer.num_val_batches):
            return
        problem = none
    elif limit == 0:
        problem = none
    elif (dm is not None and type(dm).val_dataloader is not pl.LightningDataModule.val_dataloader
          or mod.val_dataloader is not pl.LightningModule.val_dataloader):
        return  # (read from there)
    elif mod.validation_step is pl.LightningModule.validation_step:
        problem = ("this fit has none it can read: the module has no validation_step and "
                   "no val_dataloader, nor a datamodule with one (without validation_step "
                   "Lightning never sets up loaders passed to trainer.fit(val_dataloaders=...))")
    elif not trainer.enable_validation:  # no loader given to fit() either
        problem = none
    elif _searches_before_validating(trainer, search_now, every):
        problem = ("the validation dataloaders passed to trainer.fit() can be read only once "
                   "Lightning's sanity check or first validation has set them up, and the "
                   "first search comes before that (num_sanity_val_steps="
                   f"{trainer.num_sanity_val_steps}, check_val_every_n_epoch="
                   f"{trainer.check_val_every_n_epoch}, search_every_n_epochs={every})")
        fix = f"keep the sanity check (num_sanity_val_steps > 0), or {fix}"
    else:
        return
    raise ConfigError(f"OneShotNAS scores subnets on the validation data, and {problem}; {fix}")


def _searches_before_validating(trainer: pl.Trainer, now: bool, every: int | None) -> bool:
    """Whether the fit's first search (``now``: at its start) may come before its first
    validation, counted in training batches from now (a validation due at the batch that
    ends training or an epoch runs before the search; ``max_time`` and a time-based
    ``val_check_interval`` are not foreseen)."""
    epoch, batches = trainer.current_epoch, trainer.num_training_batches
    if now or not batches or trainer.val_check_batch is None:  # (None: time-based)
        return now
    per_val, first_val = trainer.check_val_every_n_epoch, trainer.val_check_batch
    if per_val:  # in epochs e with (e + 1) % per_val == 0, after val_check_batch of their
        skipped = (epoch // per_val + 1) * per_val - 1 - epoch  # batches (else: across epochs)
        first_val = min(first_val, batches) + (skipped * batches if skipped else 0)
    last = trainer.max_epochs if trainer.max_epochs is not None and trainer.max_epochs >= 0 \
        else math.inf
    search = (min(last, (epoch // every + 1) * every if every else math.inf) - epoch) * batches
    if trainer.max_steps >= 0:  # (an optimizer step per accumulate_grad_batches batches)
        acc = trainer.accumulate_grad_batches
        full, rest = divmod(trainer.max_steps - trainer.global_step,
                            math.ceil(batches / acc) if batches < math.inf else math.inf)
        search = min(search, full * batches + rest * acc)
    return first_val > search


def warn_supernet_stage(stage: str, path: Mapping[str, Any],
                        best_arch: Mapping[str, Any] | None) -> None:
    """Warn that ``trainer.validate`` / ``test`` / ``predict`` (``stage``) runs the supernet
    on the ``path`` it holds (after a fit, the last training batch's random path), with the
    supernet's BatchNorm statistics, not the search's winner ``best_arch`` (was: said
    nothing, and ``trainer.test()`` after the fit gave a random subnet's ``test_acc``).

    Example:
        >>> warn_supernet_stage("fit", {"op": "relu"}, None)  # the fit's own: nothing said
    """
    stage = str(getattr(stage, "value", stage))  # (Lightning's TrainerFn)
    if stage not in ("validate", "test", "predict"):
        return
    winner = (f"{dict(best_arch)}: that is OneShotNAS.subnet, a plain torch.nn network "
              f"calibrated as scored (subnet.pt in export_dir); {stage} it in a "
              f"LightningModule of its own" if best_arch else
              "(no search of this callback has run yet)")
    warn_rank_zero(f"OneShotNAS: trainer.{stage}() runs the supernet on the path it holds, "
                   f"{dict(path)} (after a fit, the last training batch's random path), with "
                   f"the supernet's BatchNorm statistics, not the search's winner {winner}")

"""The end of a one-shot fit (``OneShotNAS``, ``DifferentiableNAS``) resumed from a
checkpoint of its training's end.

A search runs its final search and export in ``on_train_end``. A fit resumed from a
checkpoint saved after its last epoch (``max_epochs`` or ``max_steps`` reached: the run
folder's ``last.ckpt`` of a run killed in its final search, export or fine-tune) trains
nothing, and Lightning skips ``on_train_end``; ``end_fit``, called in ``on_fit_end``, runs it
then, on the restored weights and search state, at the random state the checkpoint kept,
with the training samplers at the last epoch's shuffle and the validation loaders set up as
Lightning sets them up in a fit, and the epochs counted as the uninterrupted fit counts
them when it ends: the same final search and export as that fit's (was: refused, "this fit
trained nothing", so the whole run was trained again).

Example:
    >>> import lightning.pytorch as pl
    >>> training_over(pl.Trainer(max_epochs=3, logger=False))  # not fitted: epoch 0 of 3
    False
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import lightning.pytorch as pl

from lightning_nas.oneshot.scoring import check_trained, loaders, set_rng_state

__all__ = ["end_fit", "training_ends", "training_over"]


def training_over(trainer: pl.Trainer) -> bool:
    """Whether ``trainer``'s training is at its end: ``max_epochs`` epochs done, or
    ``max_steps`` steps (-1: no bound)."""
    epochs = trainer.max_epochs
    return (epochs is not None and 0 <= epochs <= trainer.current_epoch) or (
        0 <= trainer.max_steps <= trainer.global_step)


def training_ends(trainer: pl.Trainer, epoch: int) -> bool:
    """Whether the fit ends after ``epoch`` (counted from 1), so ``on_train_end``'s final
    search covers it: ``max_epochs`` reached, ``max_steps`` reached (training bounded by
    steps alone has ``max_epochs`` -1), or a callback asked to stop."""
    if trainer.max_epochs is not None and 0 <= trainer.max_epochs <= epoch:
        return True
    return 0 <= trainer.max_steps <= trainer.global_step or trainer.should_stop


def _last_epoch_samplers(trainer: pl.Trainer) -> None:
    """Set the training loaders' samplers (a ``DistributedSampler`` under DDP) to the last
    epoch's shuffle, as Lightning set them for it: the final search calibrates on the first
    batches of that epoch's order."""
    train = trainer.train_dataloader
    flat = getattr(train, "flattened", None)  # a CombinedLoader (BilevelData's: both parts)
    for loader in loaders(flat if flat is not None else train):
        for sampler in (getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
            if callable(getattr(sampler, "set_epoch", None)):
                sampler.set_epoch(max(trainer.current_epoch - 1, 0))


def end_fit(trainer: pl.Trainer, ended: bool, who: str, on_train_end: Callable[[], None],
            rng: Mapping[str, Any] | None) -> None:
    """In ``on_fit_end`` of ``who``: where ``on_train_end`` did not run (``ended`` False)
    because the fit was resumed from a checkpoint of its training's end
    (``training_over``), run it now (the final search and export, as the uninterrupted fit
    ran them), at the checkpoint's random state ``rng`` (None: as it is); torch's random
    state is left there, where the uninterrupted fit left it after its final search. Any
    other fit that ended untrained is ``check_trained``'s ``ConfigError``.

    Args:
        trainer: the fit's Trainer.
        ended: whether ``on_train_end`` ran in this fit.
        who: the search, as the error names it.
        on_train_end: the search's ``on_train_end``.
        rng: the random state the checkpoint kept (``scoring.rng_state``).
    """
    if ended or trainer.ckpt_path is None or not training_over(trainer):
        check_trained(trainer, ended, who)
        return
    progress = trainer.fit_loop.epoch_progress.current  # a checkpoint saved at an epoch's
    # end counts it processed, not completed: Lightning evens them out when max_epochs
    # stops the fit, not max_steps (the epoch a search is of, as the uninterrupted fit's)
    progress.completed = max(progress.completed, progress.processed)
    if trainer.val_dataloaders is None:  # the loaders (DDP: sharded) a fit validates on
        trainer.fit_loop.epoch_loop.val_loop.setup_data()
    _last_epoch_samplers(trainer)
    if rng is not None:
        set_rng_state(rng)
    on_train_end()

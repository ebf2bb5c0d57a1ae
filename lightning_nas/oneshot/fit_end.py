"""The end of a one-shot fit (``OneShotNAS``, ``DifferentiableNAS``) resumed from a
checkpoint of its training's end.

A search runs its final search and export in ``on_train_end``. A fit resumed from a
checkpoint saved after its last epoch (``max_epochs`` or ``max_steps`` reached, or
``max_time`` spent, which Lightning's restored ``Timer`` stops the fit at: the run
folder's ``last.ckpt`` of a run killed in its final search, export or fine-tune) trains
nothing, and Lightning skips ``on_train_end``; ``end_fit``, called in ``on_fit_end``, runs it
then, on the restored weights and search state, at the random state the checkpoint kept,
with the training samplers at the last epoch's shuffle and the validation loaders set up as
Lightning sets them up in a fit, and the epochs counted as the uninterrupted fit counts
them when it ends: the same final search and export as that fit's (was: refused, "this fit
trained nothing", so the whole run was trained again).

That count is the checkpoint's own (``saved_epochs``: its ``epoch``, + 1 when saved during
training, as the search's state says), not the Trainer's ``current_epoch`` (its completed
epochs as restored: Lightning counts the epoch in progress once it ends, and of a fit it
stops at ``max_steps`` not at all; was: read by setting the fit loop's progress, which
took a checkpoint saved mid-epoch at ``max_steps`` for one of the epoch before, whose
search had run, so the final search did not).

Example:
    >>> import lightning.pytorch as pl
    >>> training_over(pl.Trainer(max_epochs=3, logger=False))  # not fitted: epoch 0 of 3
    False
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Timer

from lightning_nas.config.instantiate import import_object, instantiate
from lightning_nas.config.nodes import is_node, node_args, target_path
from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.random_state import set_rng_state
from lightning_nas.oneshot.scoring import loaders
from lightning_nas.wording import counted

__all__ = ["check_stepped", "check_trained", "end_fit", "saved_epochs", "time_bound", "time_spent",
           "training_ends", "training_over"]


def time_spent(max_time: Any, elapsed: float | None) -> bool:
    """Whether ``elapsed`` seconds of training (a ``Timer``'s, as a checkpoint keeps it) spent
    ``max_time`` (the Trainer's setting: ``"DD:HH:MM:SS"``, a dict, a ``timedelta``; or a
    ``Timer``, its duration; None: no bound), as Lightning's ``Timer`` decides it when a fit
    resumed from that checkpoint starts (it stops the fit before any step).

    Example:
        >>> time_spent("00:00:00:04", 4.2), time_spent({"seconds": 5}, 4.2)
        (True, False)
        >>> time_spent(Timer(duration=None), 4.2)  # a Timer that bounds nothing
        False
    """
    if max_time is None or elapsed is None:
        return False
    timer = copy.deepcopy(max_time) if isinstance(max_time, Timer) else Timer(duration=max_time)
    timer.load_state_dict({"time_elapsed": {"train": elapsed}})
    left = timer.time_remaining()
    return left is not None and left <= 0


def time_bound(trainer_cfg: Mapping[str, Any]) -> tuple[Any, str, str] | None:
    """What bounds a run's training time (``trainer_cfg``: its Trainer settings), as
    Lightning picks it: a ``Timer`` of ``callbacks`` (Lightning then ignores ``max_time``),
    else ``max_time``: the bound, its kind (``"Timer"``, ``"max_time"``) and how a resume
    says it. None for neither.
    (Was: ``max_time`` alone read, so a run bounded by the user's own ``Timer`` was not
    known to have ended, and one beside ``max_time`` was read against the wrong bound.)

    Example:
        >>> time_bound({"max_time": "00:00:01:00"})
        ('00:00:01:00', 'max_time', 'max_time=00:00:01:00')
        >>> node = {"class_path": "lightning.pytorch.callbacks.Timer",
        ...         "init_args": {"duration": "00:00:00:05"}}
        >>> time_bound({"max_time": "00:00:01:00", "callbacks": [node]})[1:]
        ('Timer', "the Timer callback's duration=00:00:00:05")
    """
    callbacks = trainer_cfg.get("callbacks")
    for entry in callbacks if isinstance(callbacks, list) else [callbacks]:
        if isinstance(entry, str):  # a bare class path, as the config may give it
            entry = {"class_path": entry}
        if isinstance(entry, Timer):
            left = entry.time_remaining()  # its duration: it has not run
            said = None if left is None else timedelta(seconds=left)
        elif is_node(entry):
            try:
                target = import_object(target_path(entry))
            except ConfigError:  # the Trainer's checks say so
                continue
            if not (isinstance(target, type) and issubclass(target, Timer)):
                continue
            said = node_args(entry).get("duration")
            entry = instantiate(entry, "trainer.callbacks")
        else:
            continue
        return entry, "Timer", f"the Timer callback's duration={said}"
    limit = trainer_cfg.get("max_time")
    return None if limit is None else (limit, "max_time", f"max_time={limit}")


def _time_spent(trainer: pl.Trainer) -> tuple[str, str] | None:
    """``max_time`` spent (the Trainer's ``Timer``) as what ended a fit untrained, or None."""
    for timer in (c for c in trainer.callbacks if isinstance(c, Timer)):
        left = timer.time_remaining()
        if left is not None and left <= 0:
            trained = timer.time_elapsed()
            return (f"max_time spent ({timedelta(seconds=int(trained))} trained of "
                    f"{timedelta(seconds=int(trained + left))})",
                    "raise max_time (or the duration of your own Timer callback)")
    return None


def _untrained(trainer: pl.Trainer) -> tuple[str, str]:
    """What ended ``trainer``'s fit before it trained (``check_trained``), and what to change:
    ``max_steps`` or ``max_epochs`` reached, ``max_time`` spent (the Trainer's ``Timer``), no
    training batches, or ``trainer.should_stop`` set before the first epoch (by a callback:
    Lightning's fit loop then starts no epoch)."""
    resumed = trainer.ckpt_path is not None  # (was: a fresh fit's max_steps=0 "resumed")
    if 0 <= trainer.max_steps <= trainer.global_step:
        return ((f"step {trainer.global_step} of max_steps={trainer.max_steps}: resumed from a "
                 f"checkpoint of its last step?", "resume from an earlier checkpoint, or raise "
                 "max_steps") if resumed else
                (f"max_steps={trainer.max_steps} trains no step", "raise max_steps"))
    epochs = trainer.max_epochs
    if epochs is not None and 0 <= epochs <= trainer.current_epoch:
        return ((f"epoch {trainer.current_epoch} of max_epochs={epochs}: resumed from a "
                 f"checkpoint of its last epoch?", "resume from an earlier checkpoint, or "
                 "raise max_epochs") if resumed else
                (f"max_epochs={epochs} trains no epoch", "raise max_epochs"))
    spent = _time_spent(trainer)
    if spent is not None:
        return spent
    if trainer.limit_train_batches == 0 or trainer.num_training_batches == 0:
        why = ("limit_train_batches=0" if trainer.limit_train_batches == 0
               else "an empty train_dataloader")
        return (f"no training batches ({why})", "give it training batches "
                "(limit_train_batches above 0, a train_dataloader that is not empty)")
    if trainer.should_stop:
        return ("trainer.should_stop was set before its first training epoch (by a callback)",
                "see which of the Trainer's callbacks stops the fit as it starts")
    return ("its training loop never ran", "resume from an earlier checkpoint")


def check_trained(trainer: pl.Trainer, ended: bool, who: str) -> None:
    """At the end of a fit, raise ``ConfigError`` when training never ran to its end
    (``ended``: ``on_train_end`` ran), naming what ended it (``_untrained``; was: named
    ``max_epochs`` whatever stopped it, a callback's ``should_stop``, a spent ``max_time``,
    no training batches): Lightning skips ``on_train_end``, where ``who`` searches and
    exports, so the fit would end without a word and without an export.

    Example:
        >>> check_trained(pl.Trainer(max_epochs=3, logger=False), True, "OneShotNAS")
    """
    if not ended:
        where, fix = _untrained(trainer)
        raise ConfigError(f"this fit trained nothing ({where}), so {who}'s final search and "
                          f"export did not run; {fix}")


def check_stepped(trainer: pl.Trainer, who: str,
                  backwards: Sequence[int] | None = None) -> None:
    """Before ``who``'s final search and export (``on_train_end``, or ``end_fit``'s), raise
    ``check_trained``'s ``ConfigError`` when the supernet never took a training step (its
    ``global_step`` 0, counted over the fit and any checkpoint it resumed): Lightning calls
    ``on_train_end`` after a fit a callback stopped in ``on_train_start`` or as its first
    epoch started, or whose module's ``on_train_batch_start`` returned -1 on each epoch's
    first batch (was: SPOS searched and exported a subnet of the untrained supernet, its
    history at epoch 0, without a word; DARTS/GDAS said only that the logits had not moved).
    ``backwards``: the ``global_step`` this fit started at and the backward passes it ran
    since (``on_after_backward``), rank 0's: steps without any are a ``training_step`` that
    returned None for every batch, which Lightning counts as optimizer steps (was: the
    untrained supernet searched and exported as if trained).

    Example:
        >>> trainer = pl.Trainer(max_epochs=3, logger=False)
        >>> trainer.should_stop = True
        >>> try:
        ...     check_stepped(trainer, "OneShotNAS")
        ... except ConfigError as err:
        ...     print(str(err)[:70])
        this fit trained nothing (trainer.should_stop was set before its first
    """
    first, passes = trainer.strategy.broadcast(backwards or (0, 1), src=0)
    if trainer.global_step > first and not passes:
        steps = counted(trainer.global_step - first, "optimizer step")
        raise ConfigError(
            f"this fit trained nothing ({counted(trainer.current_epoch, 'epoch')} ran {steps} "
            f"without a backward pass: the LightningModule's training_step returned None for "
            f"every batch?), so {who}'s final search and export did not run; return the loss "
            f"from training_step (None skips the batch's backward pass and update)")
    if trainer.global_step > 0:
        return
    why = _time_spent(trainer)
    if why is None and trainer.should_stop:
        why = ("trainer.should_stop was set before its first training step (by a callback)",
               "see which of the Trainer's callbacks stops the fit as it starts")
    if why is None:
        why = (f"{counted(trainer.current_epoch, 'epoch')} ran without a training step (the "
               f"LightningModule's on_train_batch_start returned -1 on each epoch's first "
               f"batch?)", "train at least one batch of an epoch (on_train_batch_start "
               "returns -1 to skip the rest of an epoch)")
    raise ConfigError(f"this fit trained nothing ({why[0]}), so {who}'s final search and "
                      f"export did not run; {why[1]}")


def training_over(trainer: pl.Trainer) -> bool:
    """Whether ``trainer``'s training is at its end: ``max_epochs`` epochs done,
    ``max_steps`` steps (-1: no bound), or its ``max_time`` spent (the Trainer's ``Timer``,
    restored from the checkpoint: it stopped the fit before any step; was: not read, so a
    run bounded by ``max_time`` alone resumed at its end was refused, "this fit trained
    nothing")."""
    epochs = trainer.max_epochs
    left = [c.time_remaining() for c in trainer.callbacks if isinstance(c, Timer)]
    return (epochs is not None and 0 <= epochs <= trainer.current_epoch) or (
        0 <= trainer.max_steps <= trainer.global_step) or any(
        t is not None and t <= 0 for t in left)


def training_ends(trainer: pl.Trainer, epoch: int) -> bool:
    """Whether the fit ends after ``epoch`` (counted from 1), so ``on_train_end``'s final
    search covers it: ``max_epochs`` reached, ``max_steps`` reached (training bounded by
    steps alone has ``max_epochs`` -1), or a callback asked to stop once the Trainer's
    ``min_epochs`` and ``min_steps`` are met (before, Lightning trains on; was: taken for
    the end, so the searches of the epochs it trained on did not run)."""
    if trainer.max_epochs is not None and 0 <= trainer.max_epochs <= epoch:
        return True
    if 0 <= trainer.max_steps <= trainer.global_step:
        return True
    loop = trainer.fit_loop
    return trainer.should_stop and (loop.min_epochs or 0) <= epoch and (
        loop.epoch_loop.min_steps or 0) <= trainer.global_step


def saved_epochs(checkpoint: Mapping[str, Any], ended: bool) -> int | None:
    """The epochs of a fit a checkpoint holds, as the fit's final search counts them when
    its training ends: the checkpoint's ``epoch`` (the Trainer's ``current_epoch`` when it
    was saved), + 1 for one saved during training (the epoch in progress, which the fit
    counts once it ends, whole or stopped by ``max_steps``); ``ended``: saved after the
    search's ``on_train_end`` (``Trainer.save_checkpoint`` after the fit), as the search's
    state in it says. None for a checkpoint without an ``epoch``.

    Example:
        >>> saved_epochs({"epoch": 2}, ended=False), saved_epochs({"epoch": 3}, ended=True)
        (3, 3)
    """
    epoch = checkpoint.get("epoch")
    return epoch + (not ended) if isinstance(epoch, int) else None


def _last_epoch_samplers(trainer: pl.Trainer, epochs: int) -> None:
    """Set the training loaders' samplers (a ``DistributedSampler`` under DDP) to the last
    epoch's shuffle (of ``epochs``), as Lightning set them for it: the final search
    calibrates on the first batches of that epoch's order."""
    train = trainer.train_dataloader
    flat = getattr(train, "flattened", None)  # a CombinedLoader (BilevelData's: both parts)
    for loader in loaders(flat if flat is not None else train):
        for sampler in (getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
            if callable(getattr(sampler, "set_epoch", None)):
                sampler.set_epoch(max(epochs - 1, 0))


def end_fit(trainer: pl.Trainer, ended: bool, who: str, final: Callable[[int], None],
            rng: Mapping[str, Any] | None, epochs: int | None,
            record: Callable[[], None] | None = None) -> None:
    """In ``on_fit_end`` of ``who``: where ``on_train_end`` did not run (``ended`` False)
    because the fit was resumed from a checkpoint of its training's end
    (``training_over``), run its final search and export now (``final``, given the epochs
    its search is of), as the uninterrupted fit ran them, at the checkpoint's random state
    ``rng`` (None: as it is); torch's random state is left there, where the uninterrupted
    fit left it after its final search. Any other fit that ended untrained is
    ``check_trained``'s ``ConfigError``. Before the final search, ``record`` writes the
    search's record file again from the checkpoint's state (``oneshot.records``): the command
    removed the killed run's outputs as this fit ended, so a kill in the final search kept
    none on disk (was: written with the export alone).

    Args:
        trainer: the fit's Trainer.
        ended: whether ``on_train_end`` ran in this fit.
        who: the search, as the error names it.
        final: the search's ``on_train_end``, given the epochs done.
        rng: the random state the checkpoint kept (``random_state.rng_state``).
        epochs: the epochs the checkpoint holds (``saved_epochs``; None: one that does not
            say, counted as one saved during training).
        record: writes the search's record file (``history.json``, ``alphas.json``), or None.
    """
    if ended or trainer.ckpt_path is None or not training_over(trainer):
        check_trained(trainer, ended, who)
        return
    if record is not None:
        record()
    if epochs is None:
        epochs = trainer.current_epoch + 1
    if trainer.val_dataloaders is None:  # the loaders (DDP: sharded) a fit validates on: no
        trainer.fit_loop.epoch_loop.val_loop.setup_data()  # public Lightning API sets them up
    _last_epoch_samplers(trainer, epochs)
    if rng is not None:
        set_rng_state(rng)
    final(epochs)

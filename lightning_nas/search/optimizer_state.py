"""A fine-tune's optimizer state (``finetune(optimizer_state=...)``, ``lightning-nas finetune
--optimizer_state``): ``fresh`` (the default) builds the optimizer and LR scheduler anew at
the initial learning rate; ``restore`` continues those of the checkpoint it starts from, as
they were at the trial's best epoch (Adam's moments and step count, the scheduler's epoch),
as Lightning's ``ckpt_path`` restores them, while the fine-tune counts its own epochs.

``RestoreOptimizerState`` loads them when fit starts (the optimizers built, nothing trained),
with the weights a ``WeightAveraging`` callback's checkpoint holds beside its average,
after checking that the fine-tune's optimizers are the checkpoint's: their number, their
settings (an SGD where Adam was, another ``lr``) and their parameter groups, and the number
of LR schedulers. Each difference is an ``OptimizerStateError`` before the first step.

Example:
    >>> check_optimizer_state("restore", from_checkpoint=True)
    >>> check_optimizer_state("keep", from_checkpoint=True)
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: optimizer_state='keep' is not one of 'fresh', 'restore' ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
import torch

from lightning_nas.errors import ConfigError
from lightning_nas.search.exported import check_loaded

__all__ = ["OPTIMIZER_STATES", "OptimizerStateError", "RestoreOptimizerState",
           "check_holds_state", "check_optimizer_state", "optimizer_differences"]

#: the values of ``optimizer_state``: the first is the default
OPTIMIZER_STATES = ("fresh", "restore")

#: what to give instead, as a message says it
_FRESH = "--optimizer_state fresh (from Python optimizer_state='fresh')"


class OptimizerStateError(ConfigError):
    """A fine-tune cannot restore its checkpoint's optimizer state (found before training)."""


def check_optimizer_state(value: Any, from_checkpoint: bool) -> None:
    """Refuse a ``value`` that is not one of ``OPTIMIZER_STATES``, and ``restore`` without
    the checkpoint (``from_checkpoint=False``, ``--from_scratch``)."""
    if value not in OPTIMIZER_STATES:
        raise ConfigError(f"optimizer_state={value!r} is not one of "
                          f"{', '.join(map(repr, OPTIMIZER_STATES))} (fresh: a new optimizer "
                          f"and LR scheduler at the initial learning rate; restore: the "
                          f"checkpoint's, continued)")
    if value == "restore" and not from_checkpoint:
        raise ConfigError("optimizer_state='restore' needs the checkpoint it restores from: "
                          "fresh weights (--from_scratch; from Python from_checkpoint=False) "
                          "start a fresh optimizer; leave one of the two out")


def check_holds_state(path: str, said: str) -> None:
    """Refuse a checkpoint (``path``; ``said``: how a message names it) without optimizer
    state: one saved weights-only (``ModelCheckpoint(save_weights_only=True)``) or written
    by other code than ``Trainer.fit`` (a one-shot run's exported subnet)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    if not (isinstance(ckpt, Mapping) and ckpt.get("optimizer_states")):
        raise OptimizerStateError(
            f"{said} holds no optimizer state (saved weights-only, or not by a Trainer's "
            f"fit), so optimizer_state='restore' has nothing to continue; fine-tune it with "
            f"{_FRESH}, perhaps with a lower learning rate (--model.lr=...)")


def _settings(group: Mapping[str, Any]) -> dict[str, Any]:
    """A parameter group's settings as a message compares them: its ``initial_lr`` (set by
    an LR scheduler) as ``lr``, the scheduled ``lr`` left out; no parameters."""
    out = {k: v for k, v in group.items() if k not in ("params", "initial_lr")}
    if "initial_lr" in group:
        out["lr"] = group["initial_lr"]
    return out


def optimizer_differences(optimizers: Sequence[torch.optim.Optimizer],
                          saved: Sequence[Mapping[str, Any]], schedulers: int,
                          saved_schedulers: int) -> list[str]:
    """What differs between the fine-tune's ``optimizers`` (and its number of LR
    ``schedulers``) and the checkpoint's (``saved``: its ``optimizer_states``), each as
    ``what: value here, value in the checkpoint``; empty when its state fits them."""
    if len(optimizers) != len(saved):
        return [f"{len(optimizers)} optimizer(s) here, {len(saved)} in the checkpoint"]
    differ = []
    for i, (opt, state) in enumerate(zip(optimizers, saved, strict=True)):
        name, groups = f"optimizer {i} ({type(opt).__name__})", state["param_groups"]
        if len(opt.param_groups) != len(groups):
            differ.append(f"{name}: {len(opt.param_groups)} parameter group(s) here, "
                          f"{len(groups)} in the checkpoint")
            continue
        for j, (group, old) in enumerate(zip(opt.param_groups, groups, strict=True)):
            here, there = _settings(group), _settings(old)
            at = f"{name}, parameter group {j}"
            if set(here) != set(there):
                new, old_keys = sorted(set(here) - set(there)), sorted(set(there) - set(here))
                differ.append(f"{at}: {type(opt).__name__} here, whose settings "
                              f"{', '.join(new) or '(none)'} the checkpoint's optimizer "
                              f"lacks (it has {', '.join(old_keys) or 'none'} instead): "
                              f"another optimizer class")
            elif changed := [k for k in sorted(here) if here[k] != there[k]]:
                differ += [f"{at}: {k}={here[k]!r} here, {k}={there[k]!r} in the checkpoint"
                           for k in changed]
            if len(group["params"]) != len(old["params"]):
                differ.append(f"{at}: {len(group['params'])} parameters here, "
                              f"{len(old['params'])} in the checkpoint")
    if schedulers != saved_schedulers:
        differ.append(f"{schedulers} LR scheduler(s) here, {saved_schedulers} in the "
                      f"checkpoint")
    return differ


class RestoreOptimizerState(pl.Callback):
    """Load the optimizer and LR-scheduler states of the checkpoint at ``path`` (``said``:
    how a message names it) into the fine-tune's when fit starts, as Lightning's
    ``ckpt_path`` restores them (``Strategy.load_optimizer_state_dict``, each scheduler's
    ``load_state_dict``); an ``OptimizerStateError`` first where they do not fit, and a
    ``MixedPairError`` where the file says it holds another trial or epoch than
    ``expected`` (``exported.check_loaded``: replaced since the fine-tune read it)."""

    def __init__(self, path: str, said: str, expected: Mapping[str, Any] | None = None
                 ) -> None:
        self.path, self.said, self.expected = path, said, expected

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        ckpt = torch.load(self.path, map_location="cpu", weights_only=False)
        check_loaded(ckpt, self.expected, self.path)
        saved = ckpt.get("optimizer_states") or []
        saved_schedulers = ckpt.get("lr_schedulers") or []
        configs = trainer.lr_scheduler_configs
        if differ := optimizer_differences(trainer.optimizers, saved, len(configs),
                                           len(saved_schedulers)):
            raise OptimizerStateError(
                f"optimizer_state='restore': the fine-tune's optimizer is not the one whose "
                f"state {self.said} holds ({'; '.join(differ)}); fine-tune with the trial's "
                f"optimizer and its settings, or with {_FRESH}")
        trainer.strategy.load_optimizer_state_dict(ckpt)
        for config, state in zip(configs, saved_schedulers, strict=True):
            config.scheduler.load_state_dict(state)
        _restore_averaging(trainer, pl_module, ckpt)


def _restore_averaging(trainer: pl.Trainer, pl_module: pl.LightningModule,
                       ckpt: dict[str, Any]) -> None:
    """Where a ``WeightAveraging`` callback (``EMAWeightAveraging``) wrote the checkpoint,
    its ``state_dict`` is the average (what validated and was scored, which the fine-tune
    loaded) and ``current_model_state`` the weights training reached: the fine-tune's
    ``WeightAveraging`` callbacks take both back as Lightning's ``ckpt_path`` gives them
    (their ``on_load_checkpoint``), so the optimizer's state goes on with the weights it
    trained (was: the average trained with it, and averaged anew from there). Their own
    step count starts with the fine-tune's, as its steps do."""
    averaging = getattr(pl.callbacks, "WeightAveraging", None)  # (Lightning 2.6 on)
    if averaging is None or "current_model_state" not in ckpt \
            or "averaging_state" not in ckpt:
        return
    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(callback, averaging):
            callback.on_load_checkpoint(trainer, pl_module, ckpt)

"""Fine-tune an exported subnet from its inherited weights with a fresh Trainer.

Example:
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from lightning.pytorch import LightningDataModule
    >>> pairs = TensorDataset(torch.randn(32, 8, 8), torch.randint(0, 10, (32,)))
    >>> datamodule = LightningDataModule.from_datasets(pairs, pairs, batch_size=16)
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    >>> module, metrics = finetune_subnet(net, datamodule, max_epochs=1, num_classes=10,
    ...                                   trainer={"accelerator": "cpu", "devices": 1})
    >>> sorted(metrics), module.training
    (['train_loss', 'val_acc', 'val_loss'], False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
from torch import nn

from lightning_nas.errors import ConfigError, check_number
from lightning_nas.group_exit import destroy_group_at_exit
from lightning_nas.module import NASModule
from lightning_nas.numeric import is_int
from lightning_nas.results import format_score

__all__ = ["accuracy_text", "check_finetune_length", "check_finetune_schedule",
           "finetune_subnet", "submodules_named"]

#: the validation schedule of a fine-tune: after each epoch (Lightning's defaults)
_SCHEDULE = {"check_val_every_n_epoch": 1, "val_check_interval": 1.0}


def check_finetune_schedule(trainer: dict[str, Any] | None) -> None:
    """Refuse Trainer settings that have a fine-tune validate on another schedule than after
    each epoch: its metrics would mix the last epoch's ``train_loss`` with an earlier
    validation's (``check_val_every_n_epoch=2``), or a validation within the epoch
    (``val_check_interval``; an integer 1 is every batch, not 1.0, the whole epoch).
    ``lightning-nas oneshot`` drops the search's schedule for its
    fine-tune (``finetune_trainer``); this names the one a Python caller gave.

    Raises:
        ConfigError: naming each such setting and the values to leave (or write).

    Example:
        >>> check_finetune_schedule({"accelerator": "cpu", "check_val_every_n_epoch": 1})
        >>> check_finetune_schedule({"check_val_every_n_epoch": 2})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: finetune_subnet validates after each epoch, so \
that its metrics are its last epoch's: trainer.check_val_every_n_epoch=2 has it validate on \
another schedule; leave check_val_every_n_epoch (1) and val_check_interval (1.0) out
    """
    given = trainer or {}
    bad = [f"trainer.{key}={given[key]!r}" for key, default in _SCHEDULE.items()
           if key in given and (type(given[key]) is not type(default) or given[key] != default)]
    if bad:
        raise ConfigError(
            f"finetune_subnet validates after each epoch, so that its metrics are its last "
            f"epoch's: {', '.join(bad)} {'have' if len(bad) > 1 else 'has'} it validate on "
            f"another schedule; leave check_val_every_n_epoch (1) and val_check_interval "
            f"(1.0) out")


def check_finetune_length(max_epochs: object, lr: object,
                          trainer: dict[str, Any] | None = None) -> None:
    """Refuse a fine-tune that would train nothing: ``max_epochs`` not an integer >= 1 (-1,
    Lightning's "no limit", only beside a ``trainer`` ``max_steps`` >= 1 or ``max_time``)
    or an ``lr`` not above 0 (was: taken; ``max_epochs=0`` returned the network untouched
    with no metrics, ``lr=0`` an untouched network with a fine-tune's metrics).

    Raises:
        ConfigError: naming the argument, its value and the values it takes.

    Example:
        >>> check_finetune_length(2, 1e-3)
        >>> check_finetune_length(-1, 1e-3, {"max_steps": 50})
        >>> check_finetune_length(0, 1e-3)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: finetune_subnet: max_epochs must be an integer >= 1 \
(or -1 with trainer max_steps or max_time), got 0
    """
    given = trainer or {}
    steps = given.get("max_steps")
    bounded = given.get("max_time") is not None or (is_int(steps) and steps >= 1)
    integer = is_int(max_epochs)
    if not integer or not (max_epochs >= 1 or (max_epochs == -1 and bounded)):
        raise ConfigError(f"finetune_subnet: max_epochs must be an integer >= 1 (or -1 with "
                          f"trainer max_steps or max_time), got {max_epochs!r}")
    try:
        check_number(lr, "lr", 0, strict=True)
    except ConfigError as error:
        raise ConfigError(f"finetune_subnet: {error}") from None


def finetune_subnet(subnet: nn.Module, datamodule: pl.LightningDataModule, max_epochs: int,
                    trainer: dict[str, Any] | None = None, num_classes: int | None = None,
                    lr: float = 1e-3, metrics: dict[str, str] | None = None,
                    frozen: Sequence[str] = (), **module_kwargs: Any
                    ) -> tuple[pl.LightningModule, dict[str, float]]:
    """Train an exported subnet further, from its inherited weights, with a fresh Trainer.

    Args:
        subnet: the exported network (``OneShotNAS.subnet`` or ``torch.load(subnet.pt)``).
        datamodule: the data.
        max_epochs: epochs of the fine-tune: an integer >= 1 (-1 with a ``trainer``
            ``max_steps`` or ``max_time``); another is a ``ConfigError``, before training.
        trainer: more Trainer arguments (progress bar and model summary are off). The
            fine-tune validates after each epoch: ``check_val_every_n_epoch`` other than 1
            and ``val_check_interval`` other than 1.0 are refused (``ConfigError``, before
            training), as the metrics returned are one epoch's.
        num_classes: classes of the default metric (accuracy, logged as ``val_acc``).
        lr: learning rate (Adam), above 0 (else a ``ConfigError``, before training).
        metrics: passed to ``NASModule``.
        frozen: names of the subnet's submodules the user froze, kept in eval mode: the
            search's (``OneShotNAS.frozen``, ``DifferentiableNAS.frozen``,
            ``best_arch.yaml``'s ``frozen``, which ``lightning-nas show`` prints; a subnet
            from ``torch.load(subnet.pt)`` is all in eval mode and cannot tell them, so
            pass the file's); a name the subnet does not hold is a ``ConfigError``, before
            training.
        **module_kwargs: passed to ``NASModule`` (loss, optimizer, ...).

    The subnet is trained in training mode, whatever its mode (``torch.load(subnet.pt)``
    is in eval mode, and Lightning keeps a module's mode: was, dropout off and BatchNorm
    frozen through the fine-tune), except its ``frozen`` submodules, put back in eval mode
    after its ``.train()`` (Lightning keeps them so through each validation; was: all
    trained, a frozen BatchNorm's statistics too).

    Returns:
        The trained ``NASModule``, in eval mode (ready for inference, as
        ``subnet_finetuned.pt`` is saved; ``.train()`` to train it further), and the logged
        metrics after the last epoch, its validation of the weights returned (an epoch that
        ``max_steps`` cuts short, which Lightning does not validate, is validated once more
        when the fit ends); under DDP
        the same on every rank (its losses and metrics are synced as logged, and any other
        value is averaged over the ranks). A datamodule with several validation loaders
        gives each loader's metrics as Lightning names them (``val_acc/dataloader_idx_0``,
        ...). A fine-tune in a process group has it destroyed when the process exits
        (``lightning_nas.group_exit``), so that no rank aborts at exit.
    """
    check_finetune_schedule(trainer)
    check_finetune_length(max_epochs, lr, trainer)
    frozen_modules = submodules_named(subnet, frozen)
    subnet.train()
    for submodule in frozen_modules:
        submodule.eval()
    module = NASModule(subnet, metrics=metrics, num_classes=num_classes, lr=lr,
                       **module_kwargs)
    validated = _LastValidation()
    kwargs = {"enable_progress_bar": False, "enable_model_summary": False, "logger": False,
              "enable_checkpointing": False, **(trainer or {}), "max_epochs": max_epochs}
    kwargs["callbacks"] = [*_as_list(kwargs.get("callbacks")), validated]
    fit = pl.Trainer(**kwargs)
    fit.fit(module, datamodule=datamodule)
    destroy_group_at_exit()  # gloo's workers may hold the last all_reduce below at exit
    metrics = _reduced(fit)
    if validated.step != fit.global_step:  # trained on after its last validation: an epoch
        # max_steps cut short, which Lightning does not validate (was: that earlier
        # validation's metrics returned beside the weights trained after it)
        fit.validate(module, datamodule=datamodule, verbose=False)
        metrics.update(_reduced(fit))  # its validation over the fit's, train_loss kept
    module.eval()  # trained: ready for inference (subnet_finetuned.pt)
    return module, metrics


class _LastValidation(pl.Callback):
    """The global step of a fit's last validation (not its sanity check): None before one."""

    def __init__(self) -> None:
        self.step: int | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.step = trainer.global_step


def submodules_named(network: nn.Module, names: Sequence[str]) -> list[nn.Module]:
    """The submodules of ``network`` that ``names`` name (``finetune_subnet``'s ``frozen``).

    Raises:
        ConfigError: naming the first name ``network`` does not hold, and its submodules.

    Example:
        >>> submodules_named(nn.Sequential(nn.Linear(2, 2)), ["0"])
        [Linear(in_features=2, out_features=2, bias=True)]
        >>> submodules_named(nn.Sequential(nn.Linear(2, 2)), ["1"])
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: finetune_subnet: frozen: '1' is no submodule of \
the subnet (Sequential); its submodules: '0'
    """
    if isinstance(names, str):  # one name, not its letters
        names = [names]
    held = dict(network.named_modules())
    for name in names:
        if not name or name not in held:
            valid = ", ".join(repr(key) for key in list(held)[1:21])
            more = ", ..." if len(held) > 21 else ""
            raise ConfigError(f"finetune_subnet: frozen: {name!r} is no submodule of the subnet "
                              f"({type(network).__name__}); its submodules: {valid}{more}")
    return [held[name] for name in names]


def _as_list(callbacks: Any) -> list[Any]:
    """A Trainer's ``callbacks`` argument as a list (one callback, a list, or None)."""
    if callbacks is None:
        return []
    return list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]


def _reduced(fit: pl.Trainer) -> dict[str, float]:
    """``fit``'s callback metrics as floats; under DDP averaged over the ranks (the same
    keys in order on every rank)."""
    metrics = {}
    for key, value in fit.callback_metrics.items():
        if fit.world_size > 1:
            value = fit.strategy.reduce(value.detach().float().to(fit.strategy.root_device),
                                        reduce_op="mean")
        metrics[key] = float(value)
    return metrics


def accuracy_text(metrics: dict[str, float]) -> str:
    """The fine-tune's accuracy as ``lightning-nas oneshot`` prints it: ``val_acc=...``, or
    each validation loader's (``val_acc/dataloader_idx_0=..., ...``), as ``show`` prints
    scores (``format_score``: a value below 0.01 is not 0.0000).

    Example:
        >>> accuracy_text({"val_loss": 0.3, "val_acc/dataloader_idx_0": 0.9,
        ...                "val_acc/dataloader_idx_1": 3.2e-05})
        'val_acc/dataloader_idx_0=0.9000, val_acc/dataloader_idx_1=3.2e-05'
    """
    return ", ".join(f"{key}={format_score(value)}" for key, value in metrics.items()
                     if key.split("/")[0] == "val_acc") or "val_acc=nan"

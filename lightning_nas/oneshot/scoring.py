"""Score a subnet of a supernet with the shared weights: recalibrate its BatchNorm statistics
on a few training batches, then evaluate a torchmetrics metric on the validation data.

Scoring leaves no trace on the supernet: its BatchNorm buffers are saved before the
calibration and restored after (``preserved_batchnorm``), and a search keeps torch's
random state as it was (``oneshot.random_state.preserved_rng``). The calibration batches
are taken once per search (``take_calibration_batches``), so every candidate and the export
are calibrated on the same batches in the same order: a subnet calibrated again for export
gets exactly the statistics it was scored with.

Example:
    >>> import torch
    >>> preds, target = default_forward(torch.nn.Identity(), (torch.ones(2, 3), torch.zeros(2)))
    >>> preds.shape
    torch.Size([2, 3])
    >>> bn = torch.nn.BatchNorm1d(3)
    >>> with preserved_batchnorm(bn):
    ...     calibrate_batchnorm(bn, default_forward, [(torch.randn(4, 3) + 5, None)])
    ...     bool(bn.running_mean.mean() > 1)
    True
    >>> bn.running_mean.tolist(), int(bn.num_batches_tracked)
    ([0.0, 0.0, 0.0], 0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import lightning.pytorch as pl
import torch
import torchmetrics
from lightning.pytorch.strategies import Strategy
from torch import nn

from lightning_nas.errors import MODES, ConfigError, did_you_mean, mode_hint, typed
from lightning_nas.oneshot.sync_norms import running_norms, share_statistics
from lightning_nas.train_modes import kept_modes
from lightning_nas.wording import counted

__all__ = [
    "Forward",
    "calibrate_batchnorm",
    "calibration_count",
    "check_num_classes",
    "default_forward",
    "loaders",
    "metric_mode",
    "network_of",
    "preserved_batchnorm",
    "score_subnet",
    "step_batch",
    "take_calibration_batches",
    "val_loaders",
    "validation_stage",
]

#: ``(module, batch) -> (predictions, targets)``
Forward = Callable[[nn.Module, Any], tuple[torch.Tensor, torch.Tensor]]


def default_forward(module: nn.Module, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(predictions, targets)`` of a batch ``(x, y)``: ``module(x), y``."""
    return module(batch[0]), batch[1]


def loaders(value: Any) -> list[Any]:
    """A Trainer's dataloaders (one, a list, or None) as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def val_loaders(trainer: pl.Trainer) -> list[tuple[Any, float]]:
    """The validation dataloaders subnets are scored on, each with the number of its batches
    taken (``limit_val_batches``): the Trainer's, once the sanity check or a validation set
    them up; before that (no sanity check, validation not run yet, or a module without
    ``validation_step``, whose fit never sets them up) the datamodule's ``val_dataloader()``,
    else the module's (unsharded under DDP: each rank scores all, the same synced score).
    Loaders passed to ``fit(val_dataloaders=...)`` are known only once set up (no public
    Lightning API gives them earlier; ``OneShotNAS`` refuses a fit whose first search would
    come before that)."""
    if trainer.val_dataloaders is not None:
        limits = list(trainer.num_val_batches or [])
        return [(loader, limits[i] if i < len(limits) else math.inf)
                for i, loader in enumerate(loaders(trainer.val_dataloaders))]
    module, data, limit = trainer.lightning_module, trainer.datamodule, trainer.limit_val_batches
    if limit == 0:
        return []
    if data is not None and type(data).val_dataloader is not pl.LightningDataModule.val_dataloader:
        source = data.val_dataloader()
    elif type(module).val_dataloader is not pl.LightningModule.val_dataloader:
        source = module.val_dataloader()
    else:
        return []
    out = []
    for loader in loaders(source):
        try:
            length = len(loader)
        except TypeError:  # an iterable dataset without a length: all of it (as Lightning)
            length = math.inf
        out.append((loader, min(length, limit) if isinstance(limit, int)
                    else length if length == math.inf else max(1, int(length * limit))))
    return out


def network_of(module: nn.Module, net_attr: str | None = None, key: str = "net_attr"
               ) -> nn.Module:
    """The network of ``module`` that is exported: ``module.<net_attr>``; with ``net_attr``
    None, ``module.net`` if it is an ``nn.Module``, else ``module`` itself. ``key``: how
    an error names the setting (``lightning-nas oneshot``: ``oneshot.net_attr``).

    Raises:
        ConfigError: ``net_attr`` names no ``nn.Module`` attribute of ``module`` (the error
            lists those it has).

    Example:
        >>> network_of(nn.Sequential(nn.ReLU()), "nett")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: net_attr 'nett': Sequential has no nn.Module ...
    """
    from lightning_nas.oneshot.choices import choice_modules

    if net_attr is None:
        net = getattr(module, "net", None)
        net = net if isinstance(net, nn.Module) else module
    else:
        net = getattr(module, str(net_attr), None)
    if not isinstance(net, nn.Module):
        names = [name for name, _ in module.named_children()]
        raise ConfigError(f"{key} {net_attr!r}: {type(module).__name__} has no nn.Module "
                          f"attribute of that name; {did_you_mean(str(net_attr), names)}its "
                          f"nn.Module attributes: {', '.join(names) or 'none'}")
    if net is not module and not any(choice_modules(net)) and any(choice_modules(module)):
        # the export would drop every searched op (was: a SpaceError after training)
        holding = [name for name, child in module.named_children() if any(choice_modules(child))]
        raise ConfigError(f"{key} {net_attr or 'net'!r}: {type(net).__name__} holds no "
                          f"choice module, so its export would leave the search out; the "
                          f"choice modules are in: {', '.join(holding) or 'the module itself'}")
    inside = {m.label for m in choice_modules(net)} if net is not module else set()
    if labels := list(dict.fromkeys(m.label for m in choice_modules(module)
                                    if inside and m.label not in inside)):
        # each is in every architecture, unknown to the export (was: a SpaceError after
        # training, "architecture keys do not match the space")
        where = [name for name, child in module.named_children()
                 if any(m.label in labels for m in choice_modules(child))]
        raise ConfigError(f"{key} {net_attr or 'net'!r}: the decision"
                          f"{'s' if len(labels) > 1 else ''} {', '.join(map(repr, labels))} "
                          f"{'are' if len(labels) > 1 else 'is'} outside {type(net).__name__} "
                          f"(in {', '.join(where) or 'the module itself'}), so its export "
                          f"cannot take the architecture found; give {key} the part that holds "
                          f"every choice module, or move them into it")
    return net


def metric_mode(metric: Any, mode: str | None, who: str) -> str:
    """The mode a subnet's score is judged by: ``mode`` as given, else the ``metric``'s
    ``higher_is_better`` (``max`` for the default score, accuracy). A mode against the
    metric's direction, or ``min`` without a metric, would pick the worst subnet.

    Example:
        >>> from torchmetrics.regression import MeanSquaredError
        >>> metric_mode(None, None, "OneShotNAS"), metric_mode(MeanSquaredError, None, "X")
        ('max', 'min')
        >>> metric_mode(None, "min", "OneShotNAS")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: OneShotNAS(mode='min') without a metric ...

    Raises:
        ConfigError: for a mode that is not max or min (listing those the metric takes),
            one against the metric's ``higher_is_better``, no mode beside a metric that
            does not say it, or a metric instance given for its factory.
    """
    if metric is None:
        # a bad mode's error lists the modes taken here (was: "can be max, min", min refused)
        if mode not in (None, *MODES):  # (was: no did-you-mean, for 'MAX' either)
            raise ConfigError(f"{who}(mode={mode!r}): mode can be 'max' or None; "
                              f"{mode_hint(mode, ['max'])}without metric= the score is "
                              f"accuracy, higher is better ('min' takes a metric= where "
                              f"lower is better)")
        if mode == "min":  # the valid ones too (was: none listed)
            raise ConfigError(f"{who}(mode='min') without a metric would pick the subnet of "
                              f"the lowest accuracy (the default score, higher is better); "
                              f"give metric= (a loss or an error rate) with mode='min', or "
                              f"leave mode out (without metric=, mode can be 'max' or None)")
        return "max"
    if isinstance(metric, torchmetrics.Metric):  # (was: "metric() raised TypeError: ...
        name = type(metric).__name__  # update() missing 2 required positional arguments")
        raise ConfigError(f"{who}(metric={name}()) takes a factory that builds the metric, "
                          f"not a metric: give metric=lambda: {name}(...) or the class (each "
                          f"subnet is scored by a metric of its own)")
    try:
        higher = getattr(metric(), "higher_is_better", None)
    except Exception as err:  # noqa: BLE001 - a factory that cannot build: say so now
        raise ConfigError(f"{who}(metric=...) must build a torchmetrics Metric with no "
                          f"arguments; metric() raised {typed(err)}") from err
    name = getattr(metric, "__name__", type(metric).__name__)
    if mode not in (None, *MODES):  # only the modes this metric takes (was: max, min)
        valid = list(MODES) if higher is None else ["max" if higher else "min"]
        taken = "'max' or 'min'" if higher is None else f"{valid[0]!r} or None"
        said = ("does not say whether higher is better" if higher is None
                else f"has higher_is_better={higher}")
        raise ConfigError(f"{who}(metric={name}, mode={mode!r}): mode can be {taken}; "
                          f"{mode_hint(mode, valid)}the metric {said}")
    if mode is None:
        if higher is None:
            raise ConfigError(f"{who}(metric={name}) needs mode='max' or 'min': the metric "
                              f"does not say whether higher is better (higher_is_better is "
                              f"None)")
        return "max" if higher else "min"
    if higher is not None and higher != (mode == "max"):
        raise ConfigError(f"{who}(metric={name}, mode={mode!r}) would pick the worst subnet: "
                          f"the metric's higher_is_better is {higher}; give mode="
                          f"{'max' if higher else 'min'!r} or leave mode out")
    return mode


def check_num_classes(preds: torch.Tensor, target: torch.Tensor,
                      num_classes: int | None, key: str = "num_classes") -> None:
    """Raise ``ConfigError`` when ``num_classes`` does not fit a batch: the network predicts
    another number of classes or a target is a class beyond it. ``key``: how the error
    names the setting (``lightning-nas oneshot``: ``oneshot.num_classes``).

    Example:
        >>> check_num_classes(torch.zeros(2, 10), torch.tensor([0, 9]), 3)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: num_classes=3 does not fit the data: the network ...
    """
    if num_classes is None or preds.ndim < 2 or not torch.is_floating_point(preds):
        return
    width = int(preds.shape[-1])
    top = int(target.max()) + 1 if target.numel() and not torch.is_floating_point(target) else 0
    if width != num_classes or top > num_classes:
        raise ConfigError(f"{key}={num_classes} does not fit the data: the network "
                          f"predicts {counted(width, 'class', 'classes')} and the targets reach "
                          f"class {top - 1}; "
                          f"set {key}={max(width, top)}")


@contextmanager
def preserved_batchnorm(module: nn.Module) -> Iterator[None]:
    """Restore, on exit, the running statistics (``running_mean``, ``running_var``,
    ``num_batches_tracked``) and momentum of every BatchNorm of ``module``."""
    saved = [(m, m.momentum, {name: buf.clone() for name, buf in m.named_buffers(recurse=False)})
             for m in running_norms(module)]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, momentum, buffers in saved:
                m.momentum = momentum
                for name, value in buffers.items():
                    getattr(m, name).copy_(value)


def step_batch(trainer: pl.Trainer, batch: Any, dataloader_idx: int = 0) -> Any:
    """A batch as Lightning's loops hand it to a step: through the batch-transfer hooks (of
    loader ``dataloader_idx``), on the device, and its floating tensors in the precision's
    dtype (``64-true``: double, ``bf16-true``: bfloat16), so a network trained in that
    precision can run it."""
    return trainer.precision_plugin.convert_input(
        trainer.strategy.batch_to_device(batch, dataloader_idx=dataloader_idx))


@contextmanager
def validation_stage(trainer: pl.Trainer) -> Iterator[None]:
    """The Trainer in its validating stage (``trainer.validating``), its stage restored on
    exit: validation batches a search reads reach the batch-transfer hooks as in Lightning's
    validation, so a hook that transforms training batches only (``if
    self.trainer.training``, as Lightning's docs augment on the device) leaves them as they
    are (was: a search in the training stage scored subnets on augmented validation
    batches, a score the exported subnet does not reach on the validation data)."""
    stage = trainer.state.stage
    trainer.validating = True
    try:
        yield
    finally:
        trainer.state.stage = stage


def calibration_count(trainer: pl.Trainer, batches: int) -> int:
    """How many training batches a calibration of ``batches`` takes: at most as many as a
    training epoch runs (``trainer.num_training_batches``, which ``limit_train_batches``
    holds; was: ``batches`` whatever the limit, so a fit limited to 2 batches calibrated on
    5, 3 of them data its training never read). A loader without a length: ``batches``.

    Example:
        >>> trainer = pl.Trainer(limit_train_batches=2, logger=False)
        >>> calibration_count(trainer, 5)  # before a fit sets the loaders up: as given
        5
    """
    limit = trainer.num_training_batches
    return batches if limit == math.inf else max(0, min(batches, int(limit)))


def take_calibration_batches(trainer: pl.Trainer, batches: int) -> list[Any]:
    """The first ``calibration_count(trainer, batches)`` training batches, on the device:
    taken once per search, so every candidate (and the export) is calibrated on the same
    batches in the same order (they are held in memory while the search runs)."""
    out: list[Any] = []
    batches = calibration_count(trainer, batches)
    if batches <= 0:
        return out
    for loader in loaders(trainer.train_dataloader):
        for batch in loader:
            out.append(step_batch(trainer, batch))
            if len(out) >= batches:
                return out
    return out


@torch.no_grad()
def calibrate_batchnorm(module: nn.Module, forward: Forward, batches: Sequence[Any],
                        strategy: Strategy | None = None) -> None:
    """Recompute the running statistics of every BatchNorm of ``module`` as a plain average
    over ``batches`` (nothing is learnt: no gradients).

    Only the BatchNorm layers run in train mode; the rest of the network runs in eval mode
    (no dropout), so the same batches always give the same statistics. With a multi-process
    ``strategy`` every rank ends with the same statistics: those of all ranks' batches
    (averaged over the ranks), or without ``batches`` (no calibration) the ones rank 0
    holds, which its checkpoint and export keep (was: each rank kept its own, updated by its
    own last training batches, so a synced score mixed several subnets' statistics and
    rank 0's export scored another value). The module's train/eval mode is kept.

    A BatchNorm in eval mode while ``module`` is in training mode is frozen (the user's
    ``.eval()``, which Lightning keeps through training): its statistics are left as they
    are (was: recalibrated, so the scored and exported subnet normalized with statistics
    its training never used). With ``module`` in eval mode (a validation) none can be told
    frozen: all are recalibrated.
    """
    norms = running_norms(module)
    if module.training:  # frozen ones keep their statistics
        norms = [m for m in norms if m.training]
    if not norms:
        return
    if batches:
        momenta = [m.momentum for m in norms]
        try:
            with kept_modes(module):
                module.eval()
                for m in norms:
                    m.reset_running_stats()
                    m.momentum = None  # a plain average over the calibration batches
                    m.train()
                with strategy.precision_plugin.train_step_context() if strategy is not None \
                        else nullcontext():  # the autocast of mixed precision, as training runs
                    for batch in batches:
                        forward(module, batch)
        finally:
            for m, momentum in zip(norms, momenta, strict=True):
                m.momentum = momentum
    if strategy is not None:  # one set on every rank (none: rank 0's)
        share_statistics(module, strategy, averaged=bool(batches))


@torch.no_grad()
def score_subnet(trainer: pl.Trainer, pl_module: pl.LightningModule, forward: Forward,
                 metric: Callable[[torch.Tensor], torchmetrics.Metric],
                 calibration: int | Sequence[Any]) -> float:
    """The metric of the active subnet on the validation data (``val_loaders``: the
    batches the Trainer validates, ``limit_val_batches`` holds), in eval mode, after
    recalibrating BatchNorm; synced over ranks by torchmetrics (same value on every rank).
    The supernet's BatchNorm statistics and train/eval mode are restored afterwards.

    Args:
        metric: makes the metric from the first batch's predictions.
        calibration: the calibration batches (see ``take_calibration_batches``), or how many
            training batches to take.
    """
    if isinstance(calibration, int):
        calibration = take_calibration_batches(trainer, calibration)
    scorer = None
    with kept_modes(pl_module), preserved_batchnorm(pl_module):
        calibrate_batchnorm(pl_module, forward, calibration, trainer.strategy)
        pl_module.eval()
        with validation_stage(trainer):  # the hooks see validation, as it runs
            for i, (loader, limit) in enumerate(val_loaders(trainer)):
                for j, batch in enumerate(loader):
                    if j >= limit:  # the Trainer's limit_val_batches
                        break
                    with trainer.precision_plugin.val_step_context():
                        preds, target = forward(pl_module, step_batch(trainer, batch, i))
                    if scorer is None:
                        scorer = metric(preds).to(preds.device)
                    scorer.update(preds, target)
    if scorer is None:  # (loaders passed to fit() are read once Lightning set them up)
        unread = trainer.val_dataloaders is None and trainer.enable_validation
        raise ConfigError("OneShotNAS needs validation data to score subnets" + (
            ": the validation dataloaders passed to trainer.fit() are not set up yet (no "
            "sanity check or validation ran before this search); give the module or "
            "datamodule a val_dataloader" if unread else ""))
    return float(scorer.compute())

"""What ``DifferentiableNAS`` takes from the network it wraps: the weight optimizer (a
``torch.optim`` name, or the first optimizer of a LightningModule's
``configure_optimizers``), and the ``self.log`` that its ``training_step`` calls while it
is the search's loss (dropped); ``own_hook`` runs its own hooks (its ``validation_step``
and validation epoch hooks in the search's validation, its lifecycle hooks for
``oneshot.wrapped_hooks``), their ``self.log`` calls logged by the search;
``dropped_parts`` says what its ``configure_optimizers`` returns beside the optimizer taken;
``check_automatic`` refuses a LightningModule of manual optimization, whose
``training_step`` steps optimizers itself instead of returning a loss; ``step_loss`` is
the loss its ``training_step`` returned (None, a batch skipped, refused).

Example:
    >>> optimizer_class("sgd").__name__
    'SGD'
"""

from __future__ import annotations

import inspect
from collections.abc import Collection, Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from lightning_nas.errors import ConfigError, unknown

__all__ = ["check_automatic", "drop_log", "dropped_parts", "first_optimizer",
           "optimizer_class", "own_call", "own_hook", "step_loss"]


def check_automatic(supernet: nn.Module) -> None:
    """Raise ``ConfigError`` when ``supernet`` is a LightningModule of manual optimization
    (``automatic_optimization = False``): ``DifferentiableNAS`` drives the optimization
    (the module's ``training_step`` is the loss of its two steps), which such a module's
    step would take over (was: autograd's "does not require grad" in the sanity check, or
    "backward through the graph a second time"). SPOS (``OneShotNAS``), a callback that
    leaves the optimization to the module, takes it."""
    if isinstance(supernet, pl.LightningModule) and not supernet.automatic_optimization:
        raise ConfigError(
            f"{type(supernet).__name__} sets automatic_optimization=False, but "
            f"DifferentiableNAS (DARTS, GDAS) drives the optimization itself: the module's "
            f"training_step is the loss of its architecture and weight steps (it must return "
            f"the loss, not step optimizers), and its configure_optimizers gives the weight "
            f"optimizer; use automatic optimization, or search with SPOS (the OneShotNAS "
            f"callback, oneshot.algorithm: spos), which leaves the optimization to the module")


def step_loss(module: nn.Module, out: Any, batch_idx: int) -> torch.Tensor:
    """The loss of ``module``'s ``training_step`` output ``out`` (a tensor, or a dict's
    ``"loss"``) for ``DifferentiableNAS``'s steps.

    Raises:
        ConfigError: ``out`` is None (a plain fit's skipped batch) or a dict without
            ``"loss"``, naming the module and the batch (was: Lightning's "`self.log(val_loss,
            None)` was called" in the sanity check, or "'NoneType' object has no attribute
            'backward'" at the first step).

    Example:
        >>> float(step_loss(nn.Linear(1, 1), {"loss": torch.tensor(0.5)}, 0))
        0.5
    """
    loss = out.get("loss") if isinstance(out, Mapping) else out
    if loss is None:
        got = "None" if out is None else f"a dict without a 'loss' key ({sorted(out)})"
        raise ConfigError(
            f"{type(module).__name__}.training_step returned {got} for batch {batch_idx}, but "
            f"DifferentiableNAS (DARTS, GDAS) takes it as the loss of its architecture and "
            f"weight steps, and cannot skip a batch; return the loss (a tensor, or a dict with "
            f"a 'loss' key), or pass loss= (e.g. 'cross_entropy') to score the module's output "
            f"instead")
    return loss


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    """The ``torch.optim`` class ``name`` (case-insensitive); an unknown name is a
    ``ConfigError`` listing the valid ones."""
    table = {n.lower(): c for n, c in vars(torch.optim).items()
             if isinstance(c, type) and issubclass(c, torch.optim.Optimizer)
             and c is not torch.optim.Optimizer}
    if name.lower() not in table:
        raise unknown("optimizer", name, sorted(table), listing="optimizers")
    return table[name.lower()]


def drop_log(*args: Any, **kwargs: Any) -> None:
    """``self.log`` of a wrapped LightningModule's ``training_step`` (``log_dict`` calls it)."""


def first_optimizer(value: Any) -> torch.optim.Optimizer | None:
    """The optimizer of a ``configure_optimizers`` result (the first one; schedulers are
    dropped)."""
    if isinstance(value, torch.optim.Optimizer):
        return value
    if isinstance(value, Mapping):
        return first_optimizer(value.get("optimizer"))
    if isinstance(value, (list, tuple)) and value:
        return first_optimizer(value[0])
    return None


def dropped_parts(value: Any, kept: Collection[Any] = ()) -> list[str]:
    """What a ``configure_optimizers`` result holds beside its first optimizer (the one
    ``first_optimizer`` takes) and the lr schedulers ``kept`` (those of that optimizer,
    which ``DifferentiableNAS`` steps), in its order: ``"the optimizer Adam"``, ``"the lr
    scheduler StepLR"``.

    Example:
        >>> sgd = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)
        >>> step = torch.optim.lr_scheduler.StepLR(sgd, 1)
        >>> dropped_parts({"optimizer": sgd, "lr_scheduler": step})
        ['the lr scheduler StepLR']
        >>> dropped_parts({"optimizer": sgd, "lr_scheduler": step}, kept=[step])
        []
    """
    parts: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, torch.optim.Optimizer):
            parts.append(f"the optimizer {type(item).__name__}")
        elif isinstance(item, (torch.optim.lr_scheduler.LRScheduler,
                               torch.optim.lr_scheduler.ReduceLROnPlateau)):
            if not any(item is each for each in kept):
                parts.append(f"the lr scheduler {type(item).__name__}")
        elif isinstance(item, Mapping):
            for key in ("optimizer", "lr_scheduler", "scheduler"):
                walk(item.get(key))
        elif isinstance(item, (list, tuple)):
            for each in item:
                walk(each)

    walk(value)
    return parts[1:] if parts and parts[0].startswith("the optimizer") else parts


def own_hook(wrapper: pl.LightningModule, name: str, *args: Any,
             dataloader_idx: int | None = None) -> set[str]:
    """Run the wrapped LightningModule's own hook ``name`` with ``args`` (its
    ``validation_step``, validation epoch hooks, and the lifecycle and validation hooks
    ``oneshot.wrapped_hooks`` passes on; nothing if it does not override it) with its
    ``self.log`` calls logged by ``wrapper``, as in a plain fit, except the metric the
    wrapper logs itself (``val_metric``'s name); return the keys it logged (``own_call``:
    and what the hook returned)."""
    return own_call(wrapper, name, *args, dataloader_idx=dataloader_idx)[0]


def own_call(wrapper: pl.LightningModule, name: str, *args: Any,
             dataloader_idx: int | None = None) -> tuple[set[str], Any]:
    """``own_hook``: the keys the hook logged, and what it returned (None where the module
    does not override it)."""
    module = wrapper.supernet
    if not isinstance(module, pl.LightningModule) or (
            getattr(type(module), name) is getattr(pl.LightningModule, name)):
        return set(), None
    skip = {wrapper.metric_name} if getattr(wrapper, "val_metric", None) is not None else ()
    logged: set[str] = set()

    def log(key: str, value: Any, *more: Any, **kwargs: Any) -> None:
        logged.add(key)
        if key not in skip:
            wrapper.log(key, value, *more, **kwargs)

    hook = getattr(module, name)
    if dataloader_idx is not None and "dataloader_idx" in inspect.signature(hook).parameters:
        args = (*args, dataloader_idx)
    module.log = log  # type: ignore[method-assign]
    try:
        returned = hook(*args)
    finally:
        del module.log
    return logged, returned

"""What ``OneShotNAS`` checks of its fit's first batches before it trains: a ``LayerChoice``
candidate that does not fit the network, on the first validation batch before the sanity
check runs the active path (``check_sanity_batch``), and the first training batch through
``forward`` as a search runs it (``check_first_batch``: each choice module called, each
candidate fitting, the decision values it reads, the targets against the metric and
``num_classes``), so that none of them is said only after training.

Both run in eval mode with torch's random state kept, and leave the module's mode as it was.

Example:
    >>> import inspect
    >>> list(inspect.signature(check_first_batch).parameters)  # OneShotNAS.on_train_start's
    ['trainer', 'pl_module', 'forward', 'metric', 'num_classes', 'key']
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import lightning.pytorch as pl
import torch
import torchmetrics

from lightning_nas.oneshot.candidate_shapes import check_candidate_shapes
from lightning_nas.oneshot.checks import (
    DEFAULT_LAYOUT,
    SPOS_HINT,
    check_choices_called,
    check_pair,
    check_targets,
)
from lightning_nas.oneshot.random_state import preserved_rng
from lightning_nas.oneshot.scoring import (
    Forward,
    check_num_classes,
    default_forward,
    loaders,
    step_batch,
    val_loaders,
)
from lightning_nas.oneshot.value_checks import check_decision_values
from lightning_nas.train_modes import kept_modes

__all__ = ["check_first_batch", "check_sanity_batch"]

_WHO = "OneShotNAS"


def check_sanity_batch(trainer: pl.Trainer, pl_module: pl.LightningModule,
                       forward: Forward) -> None:
    """Each ``LayerChoice`` candidate of ``pl_module`` against its first validation batch
    (``check_candidate_shapes``), before the sanity check runs the active path; nothing
    without validation data, or with the default ``forward`` and a batch it cannot read
    (said at the first training batch, ``check_first_batch``)."""
    with kept_modes(pl_module), preserved_rng(pl_module.device), torch.no_grad():
        batch = next((next(iter(loader), None) for loader, _ in val_loaders(trainer)), None)
        if batch is None or forward is default_forward and not (
                isinstance(batch, (list, tuple)) and len(batch) >= 2):
            return
        pl_module.eval()
        run = functools.partial(forward, pl_module, step_batch(trainer, batch))
        with trainer.precision_plugin.val_step_context():
            check_candidate_shapes(pl_module, run, _WHO)


def check_first_batch(trainer: pl.Trainer, pl_module: pl.LightningModule, forward: Forward,
                      metric: Callable[[torch.Tensor], torchmetrics.Metric],
                      num_classes: int | None = None, key: str = "num_classes") -> None:
    """The first training batch through ``forward`` as a search runs it: each choice module
    called, each candidate fitting (as at the sanity check), the decision values read, the
    targets against ``metric`` (made from the predictions) and, where given (with the
    default metric), ``num_classes`` against the predictions.

    Args:
        trainer: the fit's Trainer (its ``train_dataloader`` set up).
        pl_module: the supernet.
        forward: ``OneShotNAS``'s forward (``default_forward``: ``module(x), y``).
        metric: ``OneShotNAS``'s metric factory, given the predictions.
        num_classes: the classes of the default metric to check, or None.
        key: how an error names ``num_classes`` (``OneShotNAS.key_prefix``'s).
    """
    with kept_modes(pl_module), preserved_rng(pl_module.device), torch.no_grad():
        for loader in loaders(trainer.train_dataloader)[:1]:
            batch = next(iter(loader), None)
            if batch is None:
                return
            batch = step_batch(trainer, batch)
            default = forward is default_forward
            if default:  # (was: a bare KeyError 0 on a dict)
                check_pair(batch, _WHO, SPOS_HINT)
            pl_module.eval()
            run = functools.partial(forward, pl_module, batch)
            with trainer.precision_plugin.val_step_context():
                preds, target = check_candidate_shapes(pl_module, functools.partial(
                    check_choices_called, pl_module, run, _WHO), _WHO)
                check_decision_values(pl_module, run, _WHO)  # was: a crash
            if num_classes is not None:
                check_num_classes(preds, target, num_classes, key)
            check_targets(  # (was: a crash after training)
                preds, target, metric(preds), _WHO,
                DEFAULT_LAYOUT if default else "as OneShotNAS(forward=...) returned them",
                SPOS_HINT if default else "give a forward that returns targets the "
                "metric takes")

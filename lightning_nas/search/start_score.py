"""The validation of a fine-tune's starting weights before it trains (``validate_start``):
the score it starts from, measured as the fine-tune measures its epochs.

A fine-tune loads the checkpoint's weights only; its optimizer (Adam's moments) and its LR
scheduler start afresh, at the initial learning rate, so its best epoch may score below the
weights it started from. This score is what it is compared with (``finetune_start``).

Example:
    >>> from lightning_nas.search.trial import TrialSpec
    >>> spec = TrialSpec(trial_id=1, arch={}, trial_dir="runs/x/finetune", model="m.Net",
    ...                  trainer={"max_epochs": 3, "callbacks": [], "limit_val_batches": 2})
    >>> validation_settings(spec)["limit_val_batches"], "callbacks" in validation_settings(spec)
    (2, False)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy, SingleDeviceStrategy

from lightning_nas.search import random_state
from lightning_nas.search.rank_shares import ShareLimit

if TYPE_CHECKING:
    from lightning_nas.search.trial import TrialSpec

__all__ = ["one_device_settings", "validate_start", "validation_settings"]

#: precision plugins that convert no layer of the model (a cast of all of it, or autocast)
_PLAIN_PRECISION = ("Precision", "MixedPrecision", "HalfPrecision", "DoublePrecision")

#: Trainer settings the start's validation leaves out: it writes nothing (no logger, no
#: checkpoint, no folder of its own) and calls no callback of the user's (a callback object
#: given to the fine-tune is the fit's: an extra validation would change its state)
_LEFT_OUT = ("callbacks", "logger", "enable_checkpointing", "default_root_dir",
             "enable_progress_bar", "enable_model_summary", "profiler")
#: what a plain DDP fine-tune's settings say of its processes, left out on one device
_PROCESSES = ("devices", "strategy", "num_nodes", "sync_batchnorm", "accelerator")


def validation_settings(spec: TrialSpec) -> dict[str, Any]:
    """The fine-tune's Trainer settings for the validation of its starting weights: the same
    devices, precision, ``limit_val_batches`` and the rest, with no logger, checkpoint,
    progress bar, model summary or callbacks."""
    return {**{k: v for k, v in spec.trainer.items() if k not in _LEFT_OUT},
            "logger": False, "enable_checkpointing": False, "enable_progress_bar": False,
            "enable_model_summary": False}


def one_device_settings(spec: TrialSpec, device: torch.device, replicas: int = 1,
                        limit: float | None = None) -> dict[str, Any]:
    """``validation_settings`` on one ``device`` (a DDP rank's own: ``root_device``), with
    Lightning's default strategy, no sampler splitting the validation set, and
    ``limit_val_batches`` the DDP fit's (``limit``: Lightning's, which ``overfit_batches``
    and ``fast_dev_run`` set too, left out here; None: the settings'): an integer times
    ``replicas`` (the DDP fit's ranks), the samples its ranks validate together until they
    reach their shares' ends (``rank_shares``; ``ShareLimit`` counts them on the loaders).

    Example:
        >>> from lightning_nas.search.trial import TrialSpec
        >>> spec = TrialSpec(trial_id=1, arch={}, trial_dir="f", model="m.Net", trainer={
        ...     "devices": 2, "strategy": "ddp", "precision": "bf16-mixed", "limit_val_batches": 3})
        >>> one = one_device_settings(spec, torch.device("cuda", 1), replicas=2)
        >>> one["accelerator"], one["devices"], one["strategy"], one["precision"]
        ('cuda', [1], 'auto', 'bf16-mixed')
        >>> one["limit_val_batches"]  # each of the 2 ranks' 3 batches
        6
        >>> spec.trainer["overfit_batches"] = 2  # Lightning's limit: 2 batches a rank
        >>> one = one_device_settings(spec, torch.device("cpu"), replicas=2, limit=2)
        >>> one["limit_val_batches"], one["overfit_batches"]
        (4, 0.0)
    """
    settings = {k: v for k, v in validation_settings(spec).items() if k not in _PROCESSES}
    if limit is None:
        limit = settings.get("limit_val_batches")
    else:  # Lightning's own: these two would set it again
        settings.update(limit_val_batches=limit, overfit_batches=0.0, fast_dev_run=False)
    if type(limit) is int:  # True is no count
        settings["limit_val_batches"] = limit * replicas
    devices = 1 if device.index is None else [device.index]
    return {**settings, "accelerator": device.type, "devices": devices, "strategy": "auto"}


def _plain_ddp(trainer: pl.Trainer) -> bool:
    """Whether ``trainer`` is a DDP Trainer on one node (``ddp``, ``ddp_spawn``,
    ``ddp_fork``/``ddp_notebook``, a ``DDPStrategy`` object) whose precision converts no
    layer: the whole model fits one of its devices. Sharded or model-converting strategies
    (FSDP, DeepSpeed) and several nodes are not."""
    return (isinstance(trainer.strategy, DDPStrategy)
            and not isinstance(trainer.strategy, DeepSpeedStrategy) and trainer.num_nodes == 1
            and type(trainer.precision_plugin).__name__ in _PLAIN_PRECISION)


def _plain(trainer: pl.Trainer) -> bool:
    """Whether ``trainer`` validates on one device, as is or under autocast, without
    wrapping or converting the model's layers (FSDP, DeepSpeed, bitsandbytes, Transformer
    Engine), which the fine-tune's own Trainer does again."""
    return (trainer.world_size == 1 and isinstance(trainer.strategy, SingleDeviceStrategy)
            and type(trainer.precision_plugin).__name__ in _PLAIN_PRECISION)


def validate_start(spec: TrialSpec, model: pl.LightningModule, datamodule: Any,
                   build_trainer: Callable[[TrialSpec, list[pl.Callback]], pl.Trainer]
                   ) -> dict[str, float]:
    """Validate ``model`` (the fine-tune's starting weights, loaded) on ``datamodule`` with a
    Trainer of its own (``validation_settings``, built by ``build_trainer``: the trial's
    ``build_trainer``) before the fine-tune's Trainer is built.

    The random state (torch, NumPy, ``random``) is set back afterwards: a DataLoader draws
    its seed from torch's generator, and the fine-tune must train as it would without this
    validation. A validation that fails, or logs nothing finite, gives ``{}`` (the caller
    then compares with the search's stored score); so does one with a strategy or precision
    that shards, wraps or converts the model (``_plain``: it would be done twice), or on
    several nodes. A plain DDP fine-tune (``_plain_ddp``) validates on rank 0 alone, on its
    own device (``one_device_settings``: each rank's share would be a part of the set, its
    metrics unsynced), before any process group exists, over the samples its ranks validate
    together under the fit's ``limit_val_batches`` as Lightning set it (``overfit_batches``
    too; ``rank_shares``: each rank's count read from the loaders by ``ShareLimit``, times
    the ranks; where no one count fits, an integer times the ranks or the fraction of each
    whole loader; ``{}`` where that would not be the ranks' samples of a loader on a plain
    ``BatchSampler``, which Lightning validates in batches of 1 there: ``NoShareMatch``);
    under ``use_distributed_sampler: false`` each rank validates the loaders as they are,
    so one device does too, under the fit's ``limit_val_batches`` (a sampler of the user's
    that needs the process group fails it: ``{}``); the other ranks give ``{}`` (rank 0
    reports).

    Returns:
        The metrics ``Trainer.validate`` returned (one loader's, or every loader's with its
        ``/dataloader_idx_N`` suffix), as floats.
    """
    state = random_state.capture()
    try:
        trainer = build_trainer(dataclasses.replace(
            spec, trainer=validation_settings(spec), ckpt_path=None), [])
        if _plain_ddp(trainer):  # a group already joined: a metric of the user's would sync
            if trainer.global_rank != 0 or torch.distributed.is_initialized():
                return {}
            # each rank validates the whole loader where Lightning puts no sampler in: one
            # device validates what one rank does (was: the ranks' batches dealt out)
            dealt = spec.trainer.get("use_distributed_sampler") is not False
            replicas = trainer.distributed_sampler_kwargs["num_replicas"] if dealt else 1
            limit = trainer.limit_val_batches  # Lightning's: overfit_batches sets it too
            whole = not dealt or type(limit) is float and limit >= 1
            trainer = build_trainer(dataclasses.replace(spec, trainer=one_device_settings(
                spec, trainer.strategy.root_device, replicas, limit), ckpt_path=None),
                [] if whole else [ShareLimit(limit, replicas)])
        if not _plain(trainer):
            return {}
        found = trainer.validate(model, datamodule=datamodule, verbose=False)
    except Exception:  # noqa: BLE001 - the fine-tune itself says what is wrong, if anything
        return {}  # (ShareLimit's NoShareMatch too: no start score, the search's stands in)
    finally:
        random_state.restore(state)
    metrics = {key: float(value) for entry in found for key, value in entry.items()}
    return {key: value for key, value in metrics.items() if math.isfinite(value)}

"""``lightning-nas oneshot``: train a config's supernet with ``OneShotNAS`` in one
``Trainer.fit``, export the best subnet and fine-tune it.

Example:
    >>> sorted(ONESHOT_KEYS)[:3]
    ['calibration_batches', 'finetune_epochs', 'finetune_lr']
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from lightning_nas.config.factories import DataFactory, ModelFactory, check_trainer_kwargs
from lightning_nas.config.instantiate import instantiate
from lightning_nas.config.load import block_settings, config_seed, section_target
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.finetune import finetune_subnet
from lightning_nas.search.trial import TRIAL_TRAINER_DEFAULTS, quiet_lightning

__all__ = ["ONESHOT_KEYS", "run_oneshot"]

#: keys of the ``oneshot:`` block: ``OneShotNAS`` arguments plus where to write and the
#: fine-tune of the winner
ONESHOT_KEYS: dict[str, Any] = {
    "optimizer": "RandomSearch", "num_candidates": 30, "search_every_n_epochs": None,
    "calibration_batches": 5, "num_classes": None, "mode": "max", "net_attr": "net",
    "seed": None, "run_dir": None, "finetune_epochs": 0, "finetune_lr": 1e-3,
}


def run_oneshot(cfg: Mapping[str, Any], verbose: bool = True) -> dict[str, Any]:
    """Train the config's supernet with ``OneShotNAS``, export the best subnet into
    ``oneshot.run_dir`` and fine-tune it for ``oneshot.finetune_epochs``.

    Returns:
        ``{"arch", "score", "finetune": metrics or None, "run_dir"}``.
    """
    opts = block_settings(cfg, "oneshot", ONESHOT_KEYS)
    opts["seed"] = config_seed(cfg, opts["seed"])
    run_dir = Path(opts.pop("run_dir") or "runs/oneshot")
    finetune_epochs, finetune_lr = opts.pop("finetune_epochs"), opts.pop("finetune_lr")
    model, model_args = section_target(cfg.get("model"), "model")
    data, data_args = section_target(cfg.get("data"), "data")
    trainer_cfg = dict(cfg.get("trainer") or {})
    check_trainer_kwargs(trainer_cfg)
    callback = OneShotNAS(**opts, export_dir=str(run_dir))
    with quiet_lightning():
        pl.seed_everything(opts["seed"], verbose=False)
        module = ModelFactory(model, model_args).build({})
        datamodule = DataFactory(data, data_args).build()
        trainer_kwargs = {**TRIAL_TRAINER_DEFAULTS, "logger": False,
                          "default_root_dir": str(run_dir), **instantiate(trainer_cfg)}
        trainer_kwargs["callbacks"] = [*trainer_kwargs.get("callbacks", []), callback]
        pl.Trainer(**trainer_kwargs).fit(module, datamodule=datamodule)
        out = {"arch": callback.best_arch, "score": callback.best_score, "finetune": None,
               "run_dir": str(run_dir)}
        if verbose:
            print(f"One-shot search: {len(callback.history)} subnets scored; best "
                  f"{callback.best_score:.4f} with shared weights: {callback.best_arch}\n"
                  f"Wrote {run_dir / 'best_arch.yaml'} and {run_dir / 'subnet.pt'}", flush=True)
        if finetune_epochs:
            tuned, metrics = finetune_subnet(
                callback.subnet, datamodule, finetune_epochs,
                trainer={k: v for k, v in trainer_kwargs.items()
                         if k in ("accelerator", "devices", "precision")},
                num_classes=opts["num_classes"], lr=finetune_lr)
            torch.save(tuned.net.cpu(), run_dir / "subnet_finetuned.pt")  # plain torch.nn
            out["finetune"] = metrics
            if verbose:
                print(f"Fine-tuned {finetune_epochs} epochs: "
                      f"val_acc={metrics.get('val_acc', float('nan')):.4f}; wrote "
                      f"{run_dir / 'subnet_finetuned.pt'}", flush=True)
    return out

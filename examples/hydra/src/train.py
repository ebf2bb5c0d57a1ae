"""Train one model from the config; return the metric a sweep optimizes.

    python examples/hydra/src/train.py                                  # one run
    python examples/hydra/src/train.py -m hparams_search=nas            # lightning_nas sweep
    python examples/hydra/src/train.py -m hparams_search=optuna         # Optuna's, to compare

The shape is the lightning-hydra-template's ``src/train.py``: instantiate data, model,
callbacks and Trainer from the config, fit, and return ``cfg.optimized_metric`` as a float.

Example:
    >>> import torch
    >>> metric_value({"val/acc_best": torch.tensor(0.5)}, "val/acc_best")
    0.5
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import hydra
import lightning.pytorch as pl
from omegaconf import DictConfig

__all__ = ["main", "metric_value", "train"]

#: the repository, so that ``_target_: examples.hydra.src...`` imports from any folder
ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit the configured model on the configured data; return the logged metrics."""
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule: pl.LightningDataModule = hydra.utils.instantiate(cfg.data)
    model: pl.LightningModule = hydra.utils.instantiate(cfg.model)
    callbacks = [hydra.utils.instantiate(c) for c in (cfg.get("callbacks") or {}).values()
                 if c is not None and "_target_" in c]
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks,
                                                  logger=False)
    trainer.fit(model=model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    return {k: float(v) for k, v in trainer.callback_metrics.items()}


def metric_value(metrics: dict[str, Any], name: str | None) -> float | None:
    """The value of metric ``name`` (None when no metric is optimized)."""
    if not name:
        return None
    if name not in metrics:
        raise KeyError(f"metric {name!r} was not logged (logged: {sorted(metrics)}); check "
                       f"`optimized_metric` in the hparams_search config")
    return float(metrics[name])


@hydra.main(version_base="1.3", config_path="../configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """The task function: what every job of a sweep runs."""
    return metric_value(train(cfg), cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()

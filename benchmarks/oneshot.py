"""One-shot NAS on digits, in one run: (a) its cost against training one fixed subnet,
(b) its fine-tuned winner against a multi-trial search of equal total epochs, (c) how well
the supernet ranks subnets (Kendall tau against stand-alone training of 10 random ones).

Run:  python benchmarks/oneshot.py [--epochs 15] [--finetune 10] [--candidates 30]
Last line: JSON with ``cost_ratio`` (one-shot search wall / one fixed mid-sized subnet's
training wall, same epochs), ``acc_gap`` (multi-trial best val_acc minus the one-shot
subnet's after fine-tuning) and ``kendall_tau``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lightning.pytorch as pl  # noqa: E402

from examples.digits.data import DigitsDataModule  # noqa: E402
from examples.oneshot_digits.model import DigitsSupernet, build_standalone  # noqa: E402
from lightning_nas import NASModule, Search  # noqa: E402
from lightning_nas.oneshot.callback import OneShotNAS  # noqa: E402
from lightning_nas.oneshot.choices import space_of  # noqa: E402
from lightning_nas.oneshot.finetune import finetune_subnet  # noqa: E402
from lightning_nas.search.trial import quiet_lightning  # noqa: E402

TRAINER = {"accelerator": "cpu", "devices": 1, "logger": False, "enable_progress_bar": False,
           "enable_model_summary": False, "enable_checkpointing": False}
MID = {"conv1": 32, "conv1_kernel": 3, "act1": "relu", "conv2": 32, "conv2_kernel": 3,
       "act2": "relu", "blocks": 1}


def train_standalone(arch: dict, epochs: int, seed: int = 0) -> tuple[float, float]:
    """(val_acc after ``epochs``, wall seconds) of ``arch`` trained from scratch."""
    pl.seed_everything(seed, verbose=False)
    t0 = time.perf_counter()
    module = NASModule(build_standalone(arch), num_classes=10, lr=3e-3)
    trainer = pl.Trainer(max_epochs=epochs, **TRAINER)
    trainer.fit(module, datamodule=DigitsDataModule())
    return float(trainer.callback_metrics["val_acc"]), time.perf_counter() - t0


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-a of two score lists (ties count as neither)."""
    n, s = len(a), 0
    for i in range(n):
        for j in range(i + 1, n):
            s += ((a[i] > a[j]) - (a[i] < a[j])) * ((b[i] > b[j]) - (b[i] < b[j]))
    return 2 * s / (n * (n - 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--finetune", type=int, default=10)
    parser.add_argument("--candidates", type=int, default=30)
    parser.add_argument("--rank_subnets", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    with quiet_lightning(), tempfile.TemporaryDirectory() as tmp:
        # (a) the one-shot search against one fixed mid-sized subnet, same epochs
        pl.seed_everything(0, verbose=False)
        t0 = time.perf_counter()
        supernet = DigitsSupernet()
        callback = OneShotNAS(num_candidates=args.candidates, num_classes=10, seed=0)
        pl.Trainer(max_epochs=args.epochs, callbacks=[callback], **TRAINER).fit(
            supernet, datamodule=DigitsDataModule())
        oneshot_wall = time.perf_counter() - t0
        _, fixed_wall = train_standalone(MID, args.epochs)
        # (b) fine-tuned winner against multi-trial of equal total epochs
        pl.seed_everything(0, verbose=False)
        _, metrics = finetune_subnet(callback.subnet, DigitsDataModule(), args.finetune,
                                     trainer={"accelerator": "cpu"}, num_classes=10, lr=3e-3)
        oneshot_acc = metrics["val_acc"]
        total = args.epochs + args.finetune
        per_trial = 5
        multi = Search(NASModule, space_of(supernet),
                       model_init_args={"builder": "examples.oneshot_digits.model."
                                                   "build_standalone",
                                        "num_classes": 10, "lr": 3e-3},
                       data=DigitsDataModule, trainer={"max_epochs": per_trial,
                                                       "accelerator": "cpu"},
                       optimizer="NGOpt", budget=total // per_trial, run_dir=Path(tmp) / "mt",
                       verbose=False).run()
        # (c) ranking: RandomSearch's first subnets of the final search are uniformly drawn;
        # their shared-weight scores against training each alone for the same epochs
        ranked = callback.history[:args.rank_subnets]
        archs, shared = [h["arch"] for h in ranked], [h["score"] for h in ranked]
        alone = [train_standalone(a, args.epochs)[0] for a in archs]
    tau = kendall_tau(shared, alone)
    print(f"one-shot: {args.epochs} supernet epochs + {args.candidates} subnets scored in "
          f"{oneshot_wall:.1f}s; one fixed subnet {args.epochs} epochs: {fixed_wall:.1f}s")
    print(f"one-shot winner {callback.best_arch} fine-tuned {args.finetune} epochs: "
          f"val_acc {oneshot_acc:.4f}; multi-trial {total // per_trial} x {per_trial} epochs "
          f"best {multi.best.score:.4f}")
    print("supernet vs stand-alone val_acc of random subnets:")
    for a, s, t in zip(archs, shared, alone, strict=True):
        print(f"  {s:.4f}  {t:.4f}  {a}")
    print(json.dumps({"cost_ratio": round(oneshot_wall / fixed_wall, 3),
                      "acc_gap": round(multi.best.score - oneshot_acc, 4),
                      "kendall_tau": round(tau, 3),
                      "oneshot_acc": round(oneshot_acc, 4),
                      "multitrial_acc": round(multi.best.score, 4)}))


if __name__ == "__main__":
    main()

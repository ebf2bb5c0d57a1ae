"""What the search machinery costs beside training: lightning_nas vs a hand-written loop.

Both loops train the same 20 architectures of the digits example (nevergrad RandomSearch,
same seed, so the same proposals) for the same epochs, each with a fresh Trainer, a
ModelCheckpoint on ``val_acc`` and a CSV logger, in this one process. The order is
A B B A (hand, lnas, lnas, hand) after one untimed warm-up trial, and figures are sums over
both rounds, so warm-up and drift hit both loops alike.

Run:  python benchmarks/overhead.py [--trials 20] [--epochs 2]
Last line: JSON with ``lnas_ratio``, ``handwritten_ratio`` (wall time / time inside
``trainer.fit``) and ``vs_handwritten`` (lightning_nas wall / hand-written wall).
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
import nevergrad as ng  # noqa: E402
import numpy as np  # noqa: E402
from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402
from lightning.pytorch.loggers import CSVLogger  # noqa: E402

from examples.digits.data import DigitsDataModule  # noqa: E402
from examples.digits.model import DigitsCNN  # noqa: E402
from lightning_nas import Search, SearchSpace  # noqa: E402
from lightning_nas.search.trial import quiet_lightning  # noqa: E402

SPACE = SearchSpace.from_yaml("""
kernel_size: {choice: [3, 5, 7]}
stride: {choice: [1, 2, 3]}
pool_size: {choice: [2, 3, 4]}
num_layers: {choice: [2, 3, 4]}
activation: {choice: [relu, sigmoid]}
width: {int: [16, 64], log: true}
lr: {float: [1.0e-3, 3.0e-2], log: true}
""")


def handwritten(trials: int, epochs: int, root: Path) -> tuple[float, float, list[dict]]:
    """The loop a user would write: ask, fresh Trainer, fit, read the score, tell."""
    param = SPACE.to_nevergrad()
    param.random_state = np.random.RandomState(0)
    opt = ng.optimizers.registry["RandomSearch"](param, budget=trials)
    fit_time, archs = 0.0, []
    start = time.perf_counter()
    for i in range(trials):
        cand = opt.ask()
        arch = cand.value
        pl.seed_everything(0, workers=True, verbose=False)
        ckpt = ModelCheckpoint(dirpath=root / f"t{i}", monitor="val_acc", mode="max")
        trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1,
                             enable_progress_bar=False, enable_model_summary=False,
                             logger=CSVLogger(root / f"t{i}", name="", version="logs"),
                             callbacks=[ckpt], default_root_dir=root / f"t{i}")
        t0 = time.perf_counter()
        trainer.fit(DigitsCNN(**arch), datamodule=DigitsDataModule())
        fit_time += time.perf_counter() - t0
        opt.tell(cand, -float(ckpt.best_model_score))
        archs.append(arch)
    return time.perf_counter() - start, fit_time, archs


def lnas(trials: int, epochs: int, root: Path) -> tuple[float, float, list[dict]]:
    """The same search through lightning_nas (store, checks, export included)."""
    start = time.perf_counter()
    result = Search(DigitsCNN, SPACE, data=DigitsDataModule,
                    trainer={"max_epochs": epochs, "accelerator": "cpu", "devices": 1},
                    optimizer="RandomSearch", budget=trials, seed=0, run_dir=root,
                    verbose=False).run()
    wall = time.perf_counter() - start
    return wall, sum(t.fit_time for t in result.trials), [t.arch for t in result.trials]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    totals = {"hand": [0.0, 0.0], "lnas": [0.0, 0.0]}
    with tempfile.TemporaryDirectory() as tmp, quiet_lightning():
        root = Path(tmp)
        handwritten(1, 1, root / "warmup")
        for round_, name in enumerate(("hand", "lnas", "lnas", "hand")):
            fn = handwritten if name == "hand" else lnas
            wall, fit, archs = fn(args.trials, args.epochs, root / f"{name}{round_}")
            totals[name][0] += wall
            totals[name][1] += fit
            print(f"{name:5s} round {round_}: wall {wall:7.2f}s  fit {fit:7.2f}s  "
                  f"outside fit {1000 * (wall - fit) / args.trials:6.1f} ms/trial")
            if round_ == 0:
                first_archs = archs
            elif archs != first_archs:
                raise SystemExit("the two loops trained different architectures")
    result = {
        "trials": args.trials, "epochs": args.epochs,
        "lnas_ratio": round(totals["lnas"][0] / totals["lnas"][1], 4),
        "handwritten_ratio": round(totals["hand"][0] / totals["hand"][1], 4),
        "vs_handwritten": round(totals["lnas"][0] / totals["hand"][0], 4),
        "lnas_ms_per_trial_outside_fit": round(
            1000 * (totals["lnas"][0] - totals["lnas"][1]) / (2 * args.trials), 1),
        "hand_ms_per_trial_outside_fit": round(
            1000 * (totals["hand"][0] - totals["hand"][1]) / (2 * args.trials), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""SPOS, DARTS and GDAS on the digits supernet, over seeds: what a search costs against one
training of a fixed subnet, and how its fine-tuned winner does on a test split no search
saw, against the best of a multi-trial search over the same space's subnets.

Data: scikit-learn's 1797 digits. A fixed 20% (359 samples, permutation seed 12345, the
same for every seed) is the test split; of the rest, 25% is the validation split (359) and
the remainder trains (1079). Every search selects on the validation split only (DARTS and
GDAS train their architecture logits on it, SPOS scores subnets on it, the multi-trial
search keeps its best-val_acc checkpoint); only the final figures read the test split.

Per seed (it seeds the supernet, the searches, the fine-tunes and every training):
- ``one training``: the fixed mid-sized subnet (``MID``) trained ``--epochs`` (15) epochs
  from scratch, wall clock. An untimed warm-up (``warm_up``: 1 epoch of every timed side)
  runs before the first seed, so no side's walls count import or first-call time.
- SPOS (``OneShotNAS``: ``--spos_epochs`` supernet epochs, ``--candidates`` subnets scored),
  DARTS and GDAS (``DifferentiableNAS``: ``--darts_epochs`` / ``--gdas_epochs`` epochs, each
  step one logit update on a validation batch and one weight update on a training batch,
  Adam on the logits with ``--arch_lr``; GDAS tau 10 -> 0.1), then the winner (argmax)
  exported with BatchNorm calibration and fine-tuned ``--finetune`` epochs (Adam 3e-3).
  ``cost_<algo>`` = wall of (supernet training + derivation + export + fine-tune) / one
  training. A mixed DARTS step runs every value of every decision for two batches: an
  epoch costs about 6x an epoch of ``MID`` (GDAS about 3x), hence the fewer epochs.
- ``test_<algo>``: test accuracy of the fine-tuned winner at its fine-tune's best-val_acc
  checkpoint, as the multi-trial side's best trial is its best-val_acc checkpoint.
- multi-trial: ``lightning_nas.Search`` (``--mt_optimizer``, ``--trials`` trials of
  ``--per_trial`` epochs) over the stand-alone subnets of the same space;
  ``test_multitrial`` is its best trial's best checkpoint on the test split,
  ``cost_multitrial`` its wall / one training.
- ``gap_<algo>`` = ``test_multitrial - test_<algo>`` (positive: the multi-trial best is
  better).

Run:   python benchmarks/oneshot_darts.py [--seeds 5] [--seed_start 0] [--epochs 15]
           [--finetune 10] [--spos_epochs 15] [--darts_epochs 4] [--gdas_epochs 7] [--arch_lr 0.01]
           [--candidates 30] [--trials 10] [--per_trial 15] [--mt_optimizer NGOpt]
           [--algorithms spos,darts,gdas]
Check: python benchmarks/oneshot_darts.py --quick   (1-epoch everything, 1 seed)
Prints each seed's figures, then each figure over the seeds as ``median [min, max]  mean ±
std (n)``, a verdict per target (gap <= 0.01, a winner better than the multi-trial best
within; was said ``|gap|``; and cost <= 3, for DARTS and GDAS, on the means), and a last
line of JSON: ``settings``, each figure's mean over the seeds (what the verdicts and the
README's table use) and ``<name>_spread`` for each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lightning.pytorch as pl  # noqa: E402
from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402

from benchmarks.oneshot import MID, MULTI_INIT, TRAINER  # noqa: E402  (the same subnet and trials)
from benchmarks.spread import check_arguments, describe, over_seeds, quick_defaults, spread  # noqa: E402
from examples.oneshot_digits.model import DigitsSupernet, build_standalone  # noqa: E402
from lightning_nas import NASModule, Search  # noqa: E402
from lightning_nas.config.factories import ModelFactory  # noqa: E402
from lightning_nas.errors import ConfigError  # noqa: E402
from lightning_nas.oneshot.callback import OneShotNAS  # noqa: E402
from lightning_nas.oneshot.choices import space_of  # noqa: E402
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS  # noqa: E402
from lightning_nas.oneshot.finetune import finetune_subnet  # noqa: E402
from lightning_nas.search.trial import quiet_lightning  # noqa: E402
from lightning_nas.strategies import check_optimizer_name  # noqa: E402

ALGORITHMS = ("spos", "darts", "gdas")
#: the held-out test split: its share of the digits and the permutation that picks it
TEST_FRACTION, SPLIT_SEED = 0.2, 12345


class HeldOutDigits(pl.LightningDataModule):
    """The digits with a fixed test split (``test_fraction`` of all, permutation
    ``split_seed``); train/val from the rest (``val_fraction`` of the rest)."""

    def __init__(self, batch_size: int = 64, test_fraction: float = TEST_FRACTION,
                 val_fraction: float = 0.25, split_seed: int = SPLIT_SEED) -> None:
        super().__init__()
        self.batch_size, self.test_fraction = batch_size, test_fraction
        self.val_fraction, self.split_seed = val_fraction, split_seed

    def setup(self, stage: str | None = None) -> None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
        y = torch.tensor(digits.target, dtype=torch.long)
        order = torch.from_numpy(np.random.RandomState(self.split_seed).permutation(len(y)))
        n_test = int(round(self.test_fraction * len(y)))
        rest = order[n_test:]
        n_val = int(round(self.val_fraction * len(rest)))
        parts = {"test": order[:n_test], "val": rest[:n_val], "train": rest[n_val:]}
        for name, index in parts.items():
            setattr(self, f"{name}_set", TensorDataset(x[index], y[index]))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=self.batch_size)


@torch.no_grad()
def split_accuracy(model: torch.nn.Module, split: str = "test") -> float:
    """Accuracy of ``model`` (eval mode) on the held-out test split (or ``split="val"``)."""
    data = HeldOutDigits()
    data.setup()
    model.eval()
    correct = total = 0
    loader = data.test_dataloader() if split == "test" else data.val_dataloader()
    for x, y in loader:
        correct += int((model(x).argmax(dim=1) == y).sum())
        total += len(y)
    return correct / total


def test_accuracy(model: torch.nn.Module) -> float:
    """Accuracy of ``model`` (eval mode) on the held-out test split."""
    return split_accuracy(model, "test")


def one_training(epochs: int, seed: int) -> float:
    """Wall seconds of training ``MID`` from scratch for ``epochs`` epochs."""
    pl.seed_everything(seed, verbose=False)
    t0 = time.perf_counter()
    module = NASModule(build_standalone(MID), num_classes=10, lr=3e-3)
    pl.Trainer(max_epochs=epochs, **TRAINER).fit(module, datamodule=HeldOutDigits())
    return time.perf_counter() - t0


class EpochScores(pl.Callback):
    """Each validation epoch's ``val_acc`` (the sanity check's left out), in order."""

    def __init__(self) -> None:
        self.scores: list[float] = []

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule
                                ) -> None:
        if not trainer.sanity_checking:
            self.scores.append(float(trainer.callback_metrics["val_acc"]))


def one_shot(algorithm: str, seed: int, args: argparse.Namespace, root: Path) -> dict:
    """Search, derive, export and fine-tune with ``algorithm``: wall, arch, the fine-tune's
    ``val_epochs``, and the ``val`` and ``test`` accuracy of its best-val_acc checkpoint."""
    pl.seed_everything(seed, verbose=False)
    t0 = time.perf_counter()
    if algorithm == "spos":
        callback = OneShotNAS(num_candidates=args.candidates, num_classes=10, seed=seed)
        pl.Trainer(max_epochs=args.spos_epochs, callbacks=[callback], **TRAINER).fit(
            DigitsSupernet(), datamodule=HeldOutDigits())
        arch, subnet = callback.best_arch, callback.subnet
    else:
        nas = DifferentiableNAS(DigitsSupernet(), algorithm=algorithm, num_classes=10,
                                arch_lr=args.arch_lr, seed=seed)
        epochs = args.darts_epochs if algorithm == "darts" else args.gdas_epochs
        pl.Trainer(max_epochs=epochs, **TRAINER).fit(nas, datamodule=BilevelData(HeldOutDigits()))
        arch, subnet = nas.best_arch, nas.subnet
    search_wall = time.perf_counter() - t0
    pl.seed_everything(seed, verbose=False)
    # the fine-tune's best-val_acc checkpoint, as the multi-trial side's best trial is its
    # best-val_acc checkpoint (was: the fine-tune's last epoch against that best)
    kept = ModelCheckpoint(dirpath=root / f"ft_{algorithm}{seed}", monitor="val_acc",
                           mode="max")
    scores = EpochScores()
    tuned, _ = finetune_subnet(subnet, HeldOutDigits(), args.finetune,
                               trainer={"accelerator": "cpu", "callbacks": [kept, scores],
                                        "enable_checkpointing": True},
                               num_classes=10, lr=3e-3)
    wall = time.perf_counter() - t0
    state = torch.load(kept.best_model_path, map_location="cpu", weights_only=False)
    tuned.load_state_dict(state["state_dict"])
    val = split_accuracy(tuned, "val")
    if abs(val - float(kept.best_model_score)) > 1e-4:
        raise SystemExit(f"the {algorithm} fine-tune's best checkpoint scores val_acc "
                         f"{val:.4f}, not the {float(kept.best_model_score):.4f} it logged")
    return {"arch": arch, "search_s": search_wall, "wall_s": wall, "val": val,
            "val_epochs": scores.scores, "test": split_accuracy(tuned, "test")}


def multi_trial(seed: int, args: argparse.Namespace, root: Path) -> dict:
    """The multi-trial search's best trial (best-val_acc checkpoint): wall and test accuracy."""
    t0 = time.perf_counter()
    result = Search(NASModule, space_of(DigitsSupernet()), model_init_args=MULTI_INIT,
                    data=HeldOutDigits(), trainer={"max_epochs": args.per_trial,
                                                   "accelerator": "cpu"},
                    optimizer=args.mt_optimizer, budget=args.trials, seed=seed,
                    run_dir=root / f"mt{seed}", verbose=False).run()
    wall = time.perf_counter() - t0
    assert result.best is not None and result.best.checkpoint is not None
    best = ModelFactory(NASModule, MULTI_INIT).build(result.best.arch)
    state = torch.load(result.best.checkpoint, map_location="cpu", weights_only=False)
    best.load_state_dict(state["state_dict"])
    return {"arch": result.best.arch, "wall_s": wall, "val": float(result.best.score),
            "test": test_accuracy(best)}


def warm_up(args: argparse.Namespace, root: Path) -> list[str]:
    """One untimed run of each timed side at 1 epoch (the fixed subnet's training, each of
    ``args.algorithms`` with its fine-tune, a 1-trial multi-trial search), so the first
    seed's walls hold no one-time start-up costs on either side of a cost ratio; returns
    the sides it ran (was: the fixed subnet's training alone, so the first seed's searches
    paid their first-call costs and the training they are divided by did not)."""
    once = argparse.Namespace(**{**vars(args), "candidates": 2, "trials": 1, **dict.fromkeys(
        ("finetune", "spos_epochs", "darts_epochs", "gdas_epochs", "per_trial"), 1)})
    one_training(1, 0)
    for algorithm in args.algorithms:
        one_shot(algorithm, 0, once, root / "warm_up")
    multi_trial(0, once, root / "warm_up")
    return ["one training", *args.algorithms, "multi-trial"]


def one_seed(seed: int, args: argparse.Namespace, root: Path) -> dict[str, float]:
    """Every figure of one seed (see the module docstring)."""
    fixed = one_training(args.epochs, seed)
    runs = {algorithm: one_shot(algorithm, seed, args, root)
            for algorithm in args.algorithms}
    multi = multi_trial(seed, args, root)
    print(f"seed {seed}: one training ({args.epochs} epochs of {MID}) {fixed:.1f}s; "
          f"multi-trial {args.trials} x {args.per_trial} epochs {multi['wall_s']:.1f}s, "
          f"val {multi['val']:.4f} test {multi['test']:.4f}: {multi['arch']}", flush=True)
    row = {"one_training_s": fixed, "test_multitrial": multi["test"],
           "cost_multitrial": multi["wall_s"] / fixed}
    for algorithm, run in runs.items():
        print(f"  {algorithm}: {run['search_s']:.1f}s search + fine-tune = "
              f"{run['wall_s']:.1f}s ({run['wall_s'] / fixed:.2f}x); val {run['val']:.4f} "
              f"test {run['test']:.4f}: {run['arch']}", flush=True)
        row[f"cost_{algorithm}"] = run["wall_s"] / fixed
        row[f"test_{algorithm}"] = run["test"]
        row[f"gap_{algorithm}"] = multi["test"] - run["test"]
    return row


def main(argv: list[str] | None = None) -> dict:
    """Parse the arguments, run every seed, print the figures, verdicts and JSON."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--seeds", type=int, default=5, help="seeds S..S+N-1")
    parser.add_argument("--seed_start", type=int, default=0, help="the first seed S")
    parser.add_argument("--epochs", type=int, default=15, help="epochs of one training")
    parser.add_argument("--finetune", type=int, default=10)
    parser.add_argument("--spos_epochs", type=int, default=15)
    parser.add_argument("--darts_epochs", type=int, default=4)
    parser.add_argument("--gdas_epochs", type=int, default=7)
    parser.add_argument("--arch_lr", type=float, default=0.01)
    parser.add_argument("--candidates", type=int, default=30, help="SPOS subnets scored")
    parser.add_argument("--trials", type=int, default=10, help="multi-trial budget")
    parser.add_argument("--per_trial", type=int, default=15, help="epochs per trial")
    parser.add_argument("--mt_optimizer", default="NGOpt")
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    parser.add_argument("--quick", action="store_true",
                        help="1 epoch everywhere, 1 seed (a flag given beside it wins)")
    args = parser.parse_args(argv)
    check_arguments(parser, args, {flag: 1 for flag in (
        "--seeds", "--epochs", "--finetune", "--spos_epochs", "--darts_epochs",
        "--gdas_epochs", "--candidates", "--trials", "--per_trial")})
    given, args.algorithms = args.algorithms, [a for a in args.algorithms.split(",") if a]
    if not args.algorithms:  # (was: taken, the warm-up and the multi-trial side alone ran)
        parser.error(f"--algorithms {given!r} names no algorithm; give some of "
                     f"{', '.join(ALGORITHMS)} joined by commas")
    if set(args.algorithms) - set(ALGORITHMS):
        parser.error(f"--algorithms: choose from {', '.join(ALGORITHMS)}")
    try:  # (was: checked by the multi-trial search, after the warm-up trained every side)
        check_optimizer_name(args.mt_optimizer)
    except ConfigError as err:
        parser.error(f"--mt_optimizer {args.mt_optimizer}: {err}")
    quick_defaults(parser, args, argv, {"seeds": 1, "candidates": 3, "trials": 2, **dict.fromkeys(
        ("epochs", "finetune", "spos_epochs", "darts_epochs", "gdas_epochs", "per_trial"), 1)})
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    rows = []
    with quiet_lightning(), tempfile.TemporaryDirectory() as tmp:
        warm_up(args, Path(tmp))  # untimed: first-call costs are no seed's, on any side
        for seed in range(args.seed_start, args.seed_start + args.seeds):
            rows.append(one_seed(seed, args, Path(tmp)))
    settings = {k: v for k, v in vars(args).items() if k != "quick"}
    print(over_seeds(args.seeds, str(settings)))
    result: dict = {"settings": settings}
    for name in rows[0]:
        values = [r[name] for r in rows]
        print("  " + describe(name, values, 4))
        result[name] = round(statistics.fmean(values), 4)
    for name in rows[0]:
        result[f"{name}_spread"] = spread([r[name] for r in rows])
    for algorithm in [a for a in args.algorithms if a != "spos"]:
        gap, cost = result[f"gap_{algorithm}"], result[f"cost_{algorithm}"]
        ok = gap <= 0.01  # better than the multi-trial best counts as within
        print(f"  {algorithm}: within 1 point of the multi-trial best: "
              f"{'yes' if ok else 'NO'} (mean gap {gap:+.4f}); cost <= 3x one training: "
              f"{'yes' if cost <= 3 else 'NO'} ({cost:.2f}x)")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

"""One-shot NAS on digits, repeated over seeds: (a) its cost against training one fixed
subnet, (b) its fine-tuned winner against a multi-trial search of equal total epochs, on a
held-out test split, (c) how well the supernet ranks subnets (Kendall tau against
stand-alone training of 20 of the subnets it scored).

Every seed (default 5: 0..4) seeds the supernet's training and path sampler, the one-shot
search, the fine-tune, the multi-trial search and every stand-alone training. The data is
``DigitsDataModule(test_fraction=0.2)`` for all of them: the validation split (the same as
the example's) is what both searches select on, and the test split (359 samples, carved
from the training part) is seen by neither search nor any training.

- ``cost_ratio`` = (supernet training + subnet search + the winner's fine-tune) wall /
  wall of training one fixed mid-sized subnet for the same ``--epochs``;
  ``cost_ratio_search`` leaves the fine-tune out (the earlier definition). An untimed
  warm-up (``warm_up``: one epoch of each side) runs before the first seed, so the one-time
  start-up costs (first Trainer, first data set-up, first forward) count on neither side.
- ``acc_gap`` = test accuracy of the multi-trial search's best trial (its best-val_acc
  checkpoint) minus test accuracy of the fine-tuned one-shot winner (the fine-tune's
  best-val_acc checkpoint: each side is the checkpoint it selects by validation);
  ``acc_gap_val`` is the same on the validation split (the earlier definition), which both
  searches selected on.
- ``kendall_tau`` = Kendall's tau-a between the supernet's shared-weight val_acc of the
  first ``--rank_subnets`` (default 20) subnets of the final search (RandomSearch: drawn
  uniformly) and their val_acc trained alone for ``--epochs``.

Run:  python benchmarks/oneshot.py [--epochs 15] [--finetune 10] [--candidates 30]
          [--rank_subnets 20] [--per_trial 5] [--seeds 5]
Quick check:  python benchmarks/oneshot.py --quick   (2 + 1 epochs, 4 candidates, 3 subnets
          ranked, 1-epoch trials, 1 seed)
Each figure is printed per seed and as ``median [min, max]  mean ± std (n)``.
Last line: JSON with ``cost_ratio`` (median over seeds), ``acc_gap`` and ``kendall_tau``
(means over seeds), the other figures, and ``<name>_spread`` for each.
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

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lightning.pytorch as pl  # noqa: E402
from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402

from benchmarks.spread import (  # noqa: E402
    check_arguments,
    check_test_fraction,
    describe,
    over_seeds,
    parse_seeds,
    quick_defaults,
    spread,
)
from examples.digits.data import DigitsDataModule  # noqa: E402
from examples.oneshot_digits.model import DigitsSupernet, build_standalone  # noqa: E402
from lightning_nas import NASModule, Search  # noqa: E402
from lightning_nas.config.factories import ModelFactory  # noqa: E402
from lightning_nas.oneshot.callback import OneShotNAS  # noqa: E402
from lightning_nas.oneshot.choices import space_of  # noqa: E402
from lightning_nas.oneshot.finetune import finetune_subnet  # noqa: E402
from lightning_nas.search.trial import quiet_lightning  # noqa: E402

TRAINER = {"accelerator": "cpu", "devices": 1, "logger": False, "enable_progress_bar": False,
           "enable_model_summary": False, "enable_checkpointing": False}
MID = {"conv1": 32, "conv1_kernel": 3, "act1": "relu", "conv2": 32, "conv2_kernel": 3,
       "act2": "relu", "blocks": 1}
#: the multi-trial search's model: a NASModule around the stand-alone subnet builder
MULTI_INIT = {"builder": "examples.oneshot_digits.model.build_standalone", "num_classes": 10,
              "lr": 3e-3}
#: share of the digits held out as the test split (seen by neither search)
TEST_FRACTION = 0.2


def data(test_fraction: float = TEST_FRACTION) -> DigitsDataModule:
    """The digits with the held-out test split (validation split as in the example)."""
    return DigitsDataModule(test_fraction=test_fraction)


@torch.no_grad()
def split_accuracy(model: torch.nn.Module, datamodule: DigitsDataModule,
                  split: str = "test") -> float:
    """Accuracy of ``model`` (eval mode) on the datamodule's held-out test split (or on
    ``split="val"``)."""
    datamodule.setup("test")
    model.eval()
    correct = total = 0
    loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
    for x, y in loader:
        correct += int((model(x).argmax(dim=1) == y).sum())
        total += len(y)
    return correct / total


def train_standalone(arch: dict, epochs: int, seed: int = 0,
                     test_fraction: float = TEST_FRACTION) -> tuple[float, float]:
    """(val_acc after ``epochs``, wall seconds) of ``arch`` trained from scratch."""
    pl.seed_everything(seed, verbose=False)
    t0 = time.perf_counter()
    module = NASModule(build_standalone(arch), num_classes=10, lr=3e-3)
    trainer = pl.Trainer(max_epochs=epochs, **TRAINER)
    trainer.fit(module, datamodule=data(test_fraction))
    return float(trainer.callback_metrics["val_acc"]), time.perf_counter() - t0


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-a of two score lists (ties count as neither)."""
    n, s = len(a), 0
    for i in range(n):
        for j in range(i + 1, n):
            s += ((a[i] > a[j]) - (a[i] < a[j])) * ((b[i] > b[j]) - (b[i] < b[j]))
    return 2 * s / (n * (n - 1))


def warm_up(args: argparse.Namespace) -> None:
    """One untimed epoch of each timed side (supernet + 2 subnets scored, fine-tune, the
    fixed subnet), so the first seed's walls hold no one-time start-up costs."""
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=2, num_classes=10, seed=0)
    pl.Trainer(max_epochs=1, callbacks=[callback], **TRAINER).fit(
        DigitsSupernet(), datamodule=data(args.test_fraction))
    finetune_subnet(callback.subnet, data(args.test_fraction), 1,
                    trainer={"accelerator": "cpu"}, num_classes=10, lr=3e-3)
    train_standalone(MID, 1, 0, args.test_fraction)


def one_seed(seed: int, args: argparse.Namespace, root: Path) -> dict[str, float]:
    """Every figure of one seed (see the module docstring)."""
    # (a) the one-shot search, then its winner's fine-tune, against one fixed subnet
    pl.seed_everything(seed, verbose=False)
    t0 = time.perf_counter()
    supernet = DigitsSupernet()
    callback = OneShotNAS(num_candidates=args.candidates, num_classes=10, seed=seed)
    pl.Trainer(max_epochs=args.epochs, callbacks=[callback], **TRAINER).fit(
        supernet, datamodule=data(args.test_fraction))
    search_wall = time.perf_counter() - t0
    pl.seed_everything(seed, verbose=False)
    t0 = time.perf_counter()
    # the fine-tune's best-val_acc epoch, as the multi-trial side's best checkpoint (was: its
    # last epoch, against the other side's best of every trial's epochs)
    kept = ModelCheckpoint(dirpath=root / f"ft{seed}", monitor="val_acc", mode="max")
    finetuned, _ = finetune_subnet(callback.subnet, data(args.test_fraction), args.finetune,
                                   trainer={"accelerator": "cpu", "callbacks": [kept],
                                            "enable_checkpointing": True},
                                   num_classes=10, lr=3e-3)
    finetune_wall = time.perf_counter() - t0
    _, fixed_wall = train_standalone(MID, args.epochs, seed, args.test_fraction)
    state = torch.load(kept.best_model_path, map_location="cpu", weights_only=False)
    finetuned.load_state_dict(state["state_dict"])
    oneshot_val = split_accuracy(finetuned, data(args.test_fraction), "val")
    if abs(oneshot_val - float(kept.best_model_score)) > 1e-4:
        raise SystemExit(f"the fine-tune's best checkpoint scores val_acc {oneshot_val:.4f}, "
                         f"not the {float(kept.best_model_score):.4f} it logged")
    oneshot_test = split_accuracy(finetuned, data(args.test_fraction))
    # (b) multi-trial search of equal total epochs; its best trial's checkpoint on test
    total = args.epochs + args.finetune
    t0 = time.perf_counter()
    multi = Search(NASModule, space_of(supernet), model_init_args=MULTI_INIT,
                   data=DigitsDataModule, data_init_args={"test_fraction": args.test_fraction},
                   trainer={"max_epochs": args.per_trial, "accelerator": "cpu"},
                   optimizer="NGOpt", budget=max(1, total // args.per_trial), seed=seed,
                   run_dir=root / f"mt{seed}", verbose=False).run()
    multi_wall = time.perf_counter() - t0
    assert multi.best is not None and multi.best.checkpoint is not None
    best = ModelFactory(NASModule, MULTI_INIT).build(multi.best.arch)
    state = torch.load(multi.best.checkpoint, map_location="cpu", weights_only=False)
    best.load_state_dict(state["state_dict"])
    multi_test = split_accuracy(best, data(args.test_fraction))
    reloaded_val = split_accuracy(best, data(args.test_fraction), "val")
    if abs(reloaded_val - float(multi.best.score)) > 1e-4:
        raise SystemExit(f"the multi-trial best checkpoint scores val_acc {reloaded_val:.4f}, "
                         f"not the {multi.best.score:.4f} the search recorded")
    # (c) ranking: RandomSearch's first subnets of the final search are uniformly drawn;
    # their shared-weight scores against training each alone for the same epochs
    ranked = callback.history[:args.rank_subnets]
    archs, shared = [h["arch"] for h in ranked], [h["score"] for h in ranked]
    alone = [train_standalone(a, args.epochs, seed, args.test_fraction)[0] for a in archs]
    tau = kendall_tau(shared, alone)
    print(f"seed {seed}: one-shot {args.epochs} supernet epochs + {args.candidates} subnets "
          f"{search_wall:.1f}s + fine-tune {args.finetune} epochs {finetune_wall:.1f}s; one "
          f"fixed subnet {args.epochs} epochs {fixed_wall:.1f}s; multi-trial "
          f"{len(multi.trials)} x {args.per_trial} epochs {multi_wall:.1f}s")
    print(f"  one-shot winner {callback.best_arch}: val_acc {oneshot_val:.4f} test_acc "
          f"{oneshot_test:.4f}; multi-trial best {multi.best.arch}: val_acc "
          f"{multi.best.score:.4f} test_acc {multi_test:.4f}")
    print(f"  supernet vs stand-alone val_acc of {len(archs)} subnets: kendall_tau {tau:.3f}")
    for a, sh, al in zip(archs, shared, alone, strict=True):
        print(f"    {sh:.4f}  {al:.4f}  {a}")
    return {
        "cost_ratio": (search_wall + finetune_wall) / fixed_wall,
        "cost_ratio_search": search_wall / fixed_wall,
        "acc_gap": multi_test - oneshot_test,
        "acc_gap_val": float(multi.best.score) - oneshot_val,
        "kendall_tau": tau,
        "oneshot_test_acc": oneshot_test, "multitrial_test_acc": multi_test,
        "oneshot_acc": oneshot_val, "multitrial_acc": float(multi.best.score),
        "oneshot_wall_s": search_wall + finetune_wall, "fixed_wall_s": fixed_wall,
        "multitrial_wall_s": multi_wall,
    }


#: headline figures whose JSON value is the median over seeds (the others: the mean)
MEDIAN_FIGURES = ("cost_ratio", "cost_ratio_search", "oneshot_wall_s", "fixed_wall_s",
                  "multitrial_wall_s")


def main(argv: list[str] | None = None) -> dict:
    """Parse arguments, run every seed, print the figures and their spread, and the JSON."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--finetune", type=int, default=10)
    parser.add_argument("--candidates", type=int, default=30)
    parser.add_argument("--rank_subnets", type=int, default=20,
                        help="subnets of the Kendall tau (at least 20 for a reported figure)")
    parser.add_argument("--per_trial", type=int, default=5,
                        help="epochs per multi-trial trial (budget: total epochs // this)")
    parser.add_argument("--seeds", default=None,
                        help="how many seeds (0..N-1; default 5, --quick 1), or a range such "
                             "as 100-104")
    parser.add_argument("--test_fraction", type=float, default=TEST_FRACTION)
    parser.add_argument("--quick", action="store_true",
                        help="check the script end to end in well under a minute (a flag given "
                             "beside it wins)")
    args = parser.parse_args(argv)
    check_arguments(parser, args, {"--epochs": 1, "--finetune": 1, "--candidates": 1,
                                   "--per_trial": 1}, seeds=["--seeds"])
    quick_defaults(parser, args, argv, {"epochs": 2, "finetune": 1, "candidates": 4,
                                        "rank_subnets": 3, "per_trial": 1})
    args.seeds = args.seeds or ("1" if args.quick else "5")
    if not 2 <= args.rank_subnets <= args.candidates:
        parser.error("--rank_subnets must be between 2 and --candidates")
    check_test_fraction(parser, args.test_fraction)
    total = args.epochs + args.finetune
    if args.per_trial > total:  # (was: one trial of --per_trial epochs, more than the other
        # side's, silently: the budget is max(1, total // per_trial))
        parser.error(f"--per_trial {args.per_trial} is more than the one-shot side's {total} "
                     f"epochs (--epochs {args.epochs} + --finetune {args.finetune}): the "
                     f"multi-trial search runs total // --per_trial trials of --per_trial "
                     f"epochs; give --per_trial {total} or less")
    if args.rank_subnets < 20 and not args.quick:
        print(f"note: kendall_tau over {args.rank_subnets} subnets; report figures over >= 20")
    seeds = parse_seeds(args.seeds)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    rows = []
    with quiet_lightning(), tempfile.TemporaryDirectory() as tmp:
        warm_up(args)  # untimed: imports and first-call costs are not the first seed's
        for seed in seeds:
            rows.append(one_seed(seed, args, Path(tmp)))
    print(over_seeds(len(seeds), f"{args.epochs} supernet epochs, {args.finetune} fine-tune, "
                     f"{args.candidates} candidates, {args.rank_subnets} subnets ranked, "
                     f"test split {args.test_fraction}"))
    result: dict = {"epochs": args.epochs, "finetune": args.finetune,
                    "candidates": args.candidates, "rank_subnets": args.rank_subnets,
                    "seeds": len(seeds), "test_fraction": args.test_fraction}
    for name in rows[0]:
        values = [r[name] for r in rows]
        print("  " + describe(name, values, 1 if name.endswith("_s") else 4))
        center = statistics.median if name in MEDIAN_FIGURES else statistics.fmean
        result[name] = round(center(values), 4)
    for name in rows[0]:
        result[f"{name}_spread"] = spread([r[name] for r in rows])
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

"""Early stopping of weak trials: the digits example with ``scheduler=none`` and with
``scheduler=asha`` (or another), the same proposed architectures (RandomSearch, same seed),
5 seeds, in one run.

The data is the example's with a held-out test split (``test_fraction=0.2``, carved from
the training part; the validation split is the example's): both searches select on
``val_acc``, and the best trial of each (its best-``val_acc`` checkpoint) is then scored on
the test split, which neither search nor any training saw.

- ``epochs_ratio`` = total epochs trained without / with the scheduler (summed over the
  seeds, as before); the per-seed ratios give its spread.
- ``acc_drop`` = best ``val_acc`` without minus with the scheduler (mean over seeds, as a
  fraction): what the scheduler costs in the figure the search optimises.
- ``acc_drop_test`` = the same two best trials' test accuracy, without minus with: what it
  costs on data neither search saw.

Run:  python benchmarks/multifidelity.py [--scheduler asha] [--budget 20] [--seeds 5]
          [--max_epochs 15]
Quick check:  python benchmarks/multifidelity.py --quick   (budget 4, 3 epochs, 1 seed)
An untimed warm-up (a 2-trial search of each side, 2 epochs a trial or ``--min_epochs`` + 1)
runs before the first seed, and
each seed's two searches alternate which runs first, so neither side pays the process's
first-call costs or always runs on the cooler machine.
Each seed checks that its two searches trained the same work (``same_work``: the same
architectures in the same order, and the scheduler's trials scoring at each epoch they
validated what the same trials scored then without it), prints it, and else stops the run:
a comparison of other work is void.
Each figure is printed per seed and as ``median [min, max]  mean ± std (n)``.
Last line: JSON with ``epochs_ratio``, ``acc_drop``, ``acc_drop_test``, ``wall_ratio`` and
``<name>_spread`` for each.
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
from typing import Any

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.spread import (  # noqa: E402
    check_arguments,
    check_test_fraction,
    describe,
    over_seeds,
    parse_seeds,
    quick_defaults,
    spread,
)
from lightning_nas import Search  # noqa: E402
from lightning_nas.config.factories import DataFactory, ModelFactory  # noqa: E402
from lightning_nas.errors import ConfigError  # noqa: E402
from lightning_nas.search.scheduler_settings import make_rule  # noqa: E402
from lightning_nas.wording import counted  # noqa: E402

#: share of the digits held out as the test split (seen by neither search)
TEST_FRACTION = 0.2


def config() -> dict[str, Any]:
    """The digits example's search config."""
    return yaml.safe_load((ROOT / "examples" / "digits" / "search.yaml").read_text())


@torch.no_grad()
def split_accuracy(checkpoint: str, arch: dict[str, Any], cfg: dict[str, Any],
                   data_init_args: dict[str, Any]) -> tuple[float, float]:
    """(val accuracy, test accuracy) of the model of ``arch`` with the weights of
    ``checkpoint``, in eval mode, measured with the model's own ``val_acc`` metric (the
    example's ``MulticlassAccuracy``, macro-averaged), so the two figures are alike."""
    model = ModelFactory(cfg["model"]["class_path"], cfg["model"].get("init_args")).build(arch)
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model.load_state_dict(state["state_dict"])
    model.eval()
    datamodule = DataFactory(cfg["data"]["class_path"], data_init_args).build(arch)
    datamodule.setup("test")
    out = []
    for loader in (datamodule.val_dataloader(), datamodule.test_dataloader()):
        metric = model.val_acc.clone()
        metric.reset()
        for x, y in loader:
            metric.update(model(x), y)
        out.append(float(metric.compute()))
    return out[0], out[1]


def run(scheduler: str, seed: int, budget: int, root: Path, eta: int, min_epochs: int,
        max_epochs: int | None = None, test_fraction: float = TEST_FRACTION) -> dict:
    """One search of the digits example; its epochs, best val_acc, best trial's test
    accuracy, wall seconds and its trials in order, each as ``(arch, {epoch: val_acc})``
    (``same_work`` compares two searches' trials)."""
    cfg = config()
    trainer = dict(cfg["trainer"])
    if max_epochs is not None:
        trainer["max_epochs"] = max_epochs
    data_init_args = {**(cfg["data"].get("init_args") or {}), "test_fraction": test_fraction}
    # the settings the scheduler uses (the others are refused): none without one, no eta
    # for median
    uses = {} if scheduler == "none" else {"min_epochs": min_epochs} if \
        scheduler == "median" else {"min_epochs": min_epochs, "eta": eta}
    t0 = time.perf_counter()
    result = Search(cfg["model"]["class_path"], cfg["search"]["space"],
                    data=cfg["data"]["class_path"], data_init_args=data_init_args,
                    trainer=trainer, optimizer="RandomSearch", budget=budget,
                    seed=seed, scheduler=scheduler, **uses,
                    run_dir=root / f"{scheduler}-{seed}", verbose=False).run()
    wall = time.perf_counter() - t0
    best = result.best
    assert best is not None and best.checkpoint is not None
    val, test = split_accuracy(best.checkpoint, best.arch, cfg, data_init_args)
    if abs(val - best.score) > 1e-4:
        raise SystemExit(f"the best checkpoint of {scheduler} seed {seed} scores val_acc "
                         f"{val:.4f}, not the {best.score:.4f} the search recorded")
    trials = sorted(result.trials, key=lambda t: t.trial_id)
    return {"epochs": sum(t.epochs or 0 for t in result.trials),
            "best": best.score, "test": test, "wall": wall,
            # in trial order, each with its monitored value at each epoch it validated
            "trials": [(t.arch, dict(zip(t.curve_epochs or range(1, len(t.curve) + 1),
                                         t.curve, strict=True))) for t in trials]}


def same_work(full: list[tuple[dict, dict[int, float]]],
              fast: list[tuple[dict, dict[int, float]]], scheduler: str) -> str:
    """The line that says both searches trained the same work: the same architectures in
    the same order (``full`` without the scheduler, ``fast`` with it, each trial as ``(arch,
    {epoch: val_acc})``), and each of ``fast``'s trials scored at each epoch it validated
    what the same trial scored at that epoch in ``full`` (every trial is seeded, and a
    promoted trial resumes its random state: alike to the last bit); else ``SystemExit``
    naming the first difference: the comparison is void then (was: the architectures
    compared sorted, so another order, or trials trained otherwise, passed).

    Example:
        >>> same_work([({"width": 16}, {1: 0.5, 2: 0.75})], [({"width": 16}, {1: 0.5})],
        ...           "asha")
        "same work on both sides: 1 architecture in the same order, asha's 1 validation ..."
        >>> same_work([({"width": 16}, {1: 0.5})], [({"width": 16}, {1: 0.25})], "asha")
        Traceback (most recent call last):
        ...
        SystemExit: the two searches trained otherwise: trial 1 ({'width': 16}) scored 0.25 ...
    """
    if len(full) != len(fast):
        raise SystemExit(f"the two searches trained otherwise: none ran {len(full)} trials, "
                         f"{scheduler} {len(fast)}")
    checked = 0
    for number, ((arch, values), (other, scored)) in enumerate(zip(full, fast, strict=True),
                                                              start=1):
        if arch != other:
            raise SystemExit(f"the two searches trained otherwise: trial {number}: none "
                             f"trained {arch}, {scheduler} {other}")
        for epoch, value in scored.items():
            if epoch not in values:
                raise SystemExit(f"the two searches trained otherwise: trial {number} "
                                 f"({arch}) validated after epoch {epoch} with {scheduler}, "
                                 f"which the full side did not")
            if value != values[epoch]:
                raise SystemExit(f"the two searches trained otherwise: trial {number} "
                                 f"({arch}) scored {value} after epoch {epoch} with "
                                 f"{scheduler}, {values[epoch]} without")
            checked += 1
    return (f"same work on both sides: {counted(len(full), 'architecture')} in the same "
            f"order, {scheduler}'s {counted(checked, 'validation')} scored as without it")


def check_scheduler(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse, as argparse's usage error before any run, a scheduler that the search would
    refuse with these ``--min_epochs``, ``--eta`` and ``--max_epochs`` (the example's
    ``max_epochs`` where none is given): the scheduler side's ``ConfigError``, which came
    after the warm-up's plain search had trained (was: a traceback then)."""
    max_epochs = args.max_epochs or config()["trainer"]["max_epochs"]
    try:
        make_rule(args.scheduler, min_epochs=args.min_epochs, max_epochs=max_epochs,
                  eta=args.eta, mode="max")
    except ConfigError as err:
        parser.error(f"--min_epochs {args.min_epochs}: {err}")


def warm_up(args: argparse.Namespace, root: Path, trials: int = 2) -> dict[str, dict]:
    """Untimed, before the first seed: a search of ``trials`` trials of each side (without
    and with ``args.scheduler``), so that the process's first-call costs (imports, the
    first Trainer, the data's first load) are paid here, not by the first seed's search; its
    trials train 2 epochs, or ``args.min_epochs`` + 1, so that the scheduler has an epoch to
    stop one at (was: 2 always, and any ``--min_epochs`` from 2 on, valid beside the
    example's 15 epochs, ended the warm-up in the scheduler's ``ConfigError``). Returns
    each side's ``run``."""
    epochs = max(2, args.min_epochs + 1)
    return {scheduler: run(scheduler, 0, budget=trials, root=root / "warm_up", eta=args.eta,
                           min_epochs=args.min_epochs, max_epochs=epochs,
                           test_fraction=args.test_fraction)
            for scheduler in ("none", args.scheduler)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse arguments, run every seed, print the figures and their spread, and the JSON."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--scheduler", default="asha", choices=["asha", "hyperband", "median"])
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--seeds", default=None,
                        help="how many seeds (0..N-1; default 5, --quick 1), or a range such "
                             "as 100-104")
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--min_epochs", type=int, default=1)
    parser.add_argument("--max_epochs", type=int, default=None,
                        help="epochs of a full trial (default: the example's, 15)")
    parser.add_argument("--test_fraction", type=float, default=TEST_FRACTION)
    parser.add_argument("--quick", action="store_true",
                        help="check the script end to end: budget 4, 3 epochs, 1 seed (a flag "
                             "given beside it wins)")
    args = parser.parse_args(argv)
    check_arguments(parser, args, {"--budget": 1, "--eta": 2, "--min_epochs": 1,
                                   "--max_epochs": 1}, seeds=["--seeds"])
    quick_defaults(parser, args, argv, {"budget": 4, "max_epochs": 3})
    check_scheduler(parser, args)
    check_test_fraction(parser, args.test_fraction)
    seeds = parse_seeds(args.seeds or ("1" if args.quick else "5"))
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        kwargs = {"root": Path(tmp), "eta": args.eta, "min_epochs": args.min_epochs,
                  "test_fraction": args.test_fraction}
        warm_up(args, Path(tmp))  # untimed: the process's first-call costs
        for index, seed in enumerate(seeds):
            # each seed's two searches in alternating order (was: none first, always)
            order = ("none", args.scheduler) if index % 2 == 0 else (args.scheduler, "none")
            done = {name: run(name, seed, budget=args.budget, max_epochs=args.max_epochs,
                              **kwargs) for name in order}
            full, fast = done["none"], done[args.scheduler]
            print(f"seed {seed}: " + same_work(full["trials"], fast["trials"], args.scheduler),
                  flush=True)
            rows.append((full, fast))
            print(f"seed {seed}: none {full['epochs']:4d} epochs best val {full['best']:.4f} "
                  f"test {full['test']:.4f} ({full['wall']:.0f}s) | {args.scheduler} "
                  f"{fast['epochs']:4d} epochs best val {fast['best']:.4f} test "
                  f"{fast['test']:.4f} ({fast['wall']:.0f}s)")
    per_seed = {
        "epochs_ratio": [f["epochs"] / s["epochs"] for f, s in rows],
        "acc_drop": [f["best"] - s["best"] for f, s in rows],
        "acc_drop_test": [f["test"] - s["test"] for f, s in rows],
        "wall_ratio": [f["wall"] / s["wall"] for f, s in rows],
    }
    print(over_seeds(len(seeds), f"budget {args.budget}, {args.scheduler}, eta {args.eta}, "
                     f"test split {args.test_fraction}"))
    for name, values in per_seed.items():
        print("  " + describe(name, values, 4))
    epochs_none = sum(f["epochs"] for f, _ in rows)
    epochs_fast = sum(s["epochs"] for _, s in rows)
    result: dict[str, Any] = {
        "scheduler": args.scheduler, "budget": args.budget, "seeds": len(seeds),
        "eta": args.eta, "min_epochs": args.min_epochs, "max_epochs": args.max_epochs,
        "test_fraction": args.test_fraction,
        "epochs_none": epochs_none, "epochs_scheduler": epochs_fast,
        "epochs_ratio": round(epochs_none / epochs_fast, 3),
        "acc_drop": round(statistics.fmean(per_seed["acc_drop"]), 4),
        "acc_drop_test": round(statistics.fmean(per_seed["acc_drop_test"]), 4),
        "wall_ratio": round(sum(f["wall"] for f, _ in rows) / sum(s["wall"] for _, s in rows),
                            3),
        "val_acc_none": round(statistics.fmean(f["best"] for f, _ in rows), 4),
        "val_acc_scheduler": round(statistics.fmean(s["best"] for _, s in rows), 4),
        "test_acc_none": round(statistics.fmean(f["test"] for f, _ in rows), 4),
        "test_acc_scheduler": round(statistics.fmean(s["test"] for _, s in rows), 4),
    }
    for name, values in per_seed.items():
        result[f"{name}_spread"] = spread(values)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

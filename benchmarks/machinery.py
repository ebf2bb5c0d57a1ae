"""What the search machinery costs per trial, and how that grows with the trials stored.

An ``objective=`` search trains nothing (``objective(arch)`` returns the metrics at once), so
the time between two trials' ends is the machinery's alone: ask, checks, store, tell,
checkpoint bookkeeping, the verbose line (printed to nowhere). Each round runs a search of
``--trials`` trials (nevergrad RandomSearch over two floats) with one objective (``val_loss``),
one with two conflicting objectives (``val_loss`` and ``cost``: many trials on the Pareto
front) and one whose score saturates (``val_acc`` = min(1, 2x): half the trials tie at the
best, as a validation accuracy that reaches 1.0 does), and takes the median ms per trial of
its first and of its last 100 trials (``--window``). ``--rounds`` rounds (default 5) rotate
which search runs first.

Run:  python benchmarks/machinery.py [--trials 500] [--window 100] [--rounds 5]
Quick check:  python benchmarks/machinery.py --quick   (200 trials, window 50, 2 rounds)
Every figure is computed per round and printed as ``median [min, max]  mean ± std (n)``.
Last line: JSON with ``single_first_ms``, ``single_last_ms``, ``multi_first_ms``,
``multi_last_ms``, ``tied_first_ms`` and ``tied_last_ms`` (medians over the rounds), each with
``<name>_spread``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.spread import check_arguments, describe, spread  # noqa: E402
from lightning_nas import Search  # noqa: E402

SPACE = {"x": {"float": [0.0, 1.0]}, "y": {"float": [0.0, 1.0]}}
OBJECTIVES = {"single": {"val_loss": "min"}, "multi": {"val_loss": "min", "cost": "min"},
              "tied": {"val_acc": "max"}}


def objective(arch: dict) -> dict[str, float]:
    """Two conflicting metrics (a lower ``val_loss`` costs more) and a saturating one."""
    return {"val_loss": arch["x"] + 0.01 * arch["y"], "cost": 1.0 - arch["x"] + 0.01 * arch["y"],
            "val_acc": min(1.0, 2.0 * arch["x"])}


def per_trial_ms(kind: str, trials: int, run_dir: Path) -> list[float]:
    """The ms between consecutive trial ends of one ``objective=`` search (verbose, to
    nowhere: its per-trial line and best-so-far are part of the cost)."""
    ends: list[float] = []
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        Search(None, SPACE, objective=objective, objectives=OBJECTIVES[kind], budget=trials,
               optimizer="RandomSearch", seed=0, run_dir=run_dir, verbose=True,
               on_trial_end=lambda _: ends.append(time.perf_counter())).run()
    return [1000 * (b - a) for a, b in zip(ends, ends[1:], strict=False)]


def main(argv: list[str] | None = None) -> dict:
    """Parse arguments, run the rounds, print each round, the spreads and the JSON line."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--trials", type=int, default=None, help="trials per search (500)")
    parser.add_argument("--window", type=int, default=None,
                        help="trials at the start and at the end whose median is taken (100)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (5; --quick 2)")
    parser.add_argument("--quick", action="store_true",
                        help="check the script end to end: 200 trials, window 50, 2 rounds (a "
                             "flag given beside it wins)")
    args = parser.parse_args(argv)
    check_arguments(parser, args, {"--trials": 1, "--window": 1, "--rounds": 1})
    args.trials = args.trials or (200 if args.quick else 500)
    args.window = args.window or (50 if args.quick else 100)
    args.rounds = args.rounds or (2 if args.quick else 5)
    if args.trials < 2 * args.window + 1:
        parser.error(f"--trials must be at least 2 * --window + 1 = {2 * args.window + 1}, "
                     f"got {args.trials}")  # (was: exit status 1, without the usage)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    per_round: dict[str, list[float]] = {f"{kind}_{end}_ms": [] for kind in OBJECTIVES
                                         for end in ("first", "last")}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            order = list(OBJECTIVES)[round_ % 3:] + list(OBJECTIVES)[:round_ % 3]
            for kind in order:
                ms = per_trial_ms(kind, args.trials, Path(tmp) / f"{kind}{round_}")
                first = statistics.median(ms[:args.window])
                last = statistics.median(ms[-args.window:])
                per_round[f"{kind}_first_ms"].append(first)
                per_round[f"{kind}_last_ms"].append(last)
                print(f"round {round_} {kind:6s}: {sum(ms) / 1000:7.1f}s in all; median "
                      f"{first:7.2f} ms/trial (first {args.window}), {last:7.2f} ms/trial "
                      f"(last {args.window})", flush=True)
    print(f"per-round figures, {args.rounds} rounds of {args.trials} trials per search:")
    for name, values in per_round.items():
        print("  " + describe(name, values, 2))
    result: dict = {"trials": args.trials, "window": args.window, "rounds": args.rounds}
    for name, values in per_round.items():
        result[name] = spread(values, 2)["median"]
    for name, values in per_round.items():
        result[f"{name}_spread"] = spread(values, 2)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

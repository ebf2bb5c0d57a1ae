"""NAS strategies on NAS-Bench-201 (tabular): mean +- std of the chosen architecture's accuracy.

Each run evaluates ``--budget`` distinct architectures of the NB201 cell space (a table
lookup each), scored by ``<dataset>_valid_acc_12ep`` (the search signal of the NB201
paper's baselines); the architecture chosen is the one with the best score (ties: the first
evaluated), and what is reported is its 200-epoch test accuracy. Every strategy runs with
the same seeds 0..S-1 in the same invocation.

Two paths run a search:

- ``fast`` (default for the table): ask/tell directly, with the driver's rules (an
  architecture already evaluated is not evaluated again, its loss is told again; 200 such
  repeats in a row stop the run); no store.
- ``driver`` (``--driver``): ``Search(None, space, objective=..., ...).run()``, the real
  driver with its SQLite store in a temporary run_dir. ``tests/test_nb201.py`` checks that
  both paths choose the same architectures.

``ms_per_trial`` is always measured through the real driver and store: the median time
between consecutive ``on_trial_end`` calls over 500 trials (ask + lookup + store + tell).

Run:  python benchmarks/nb201.py --dataset cifar10 --budget 100 --seeds 30 \\
          [--table PATH] [--strategy NAME] [--all] [--driver]
The table is ``--table PATH`` if given, else ``$LIGHTNING_NAS_NB201``, else
``../shared/benchmarks/nb201.csv`` next to the repository (``find_table`` in
``lightning_nas.benchmarks.nb201``; the README says where the table comes from).
Last line: JSON with ``strategy``, ``mean``, ``std``, ``baselines`` (the other strategies'
mean and std), ``ms_per_trial``, ``dataset``, ``budget``, ``seeds``, ``path``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning_nas import Search  # noqa: E402
from lightning_nas.arch import arch_key  # noqa: E402
from lightning_nas.benchmarks.nb201 import NB201, find_table  # noqa: E402
from lightning_nas.search.loop import MAX_REPEATS  # noqa: E402
from lightning_nas.strategies.nas import NAS_OPTIMIZERS  # noqa: E402
from lightning_nas.strategies.registry import DEFAULT_OPTIMIZER, make_optimizer  # noqa: E402

__all__ = ["PAPER", "measure_ms_per_trial", "run_benchmark", "run_driver", "run_fast"]

#: published figures (200-epoch test accuracy, mean+-std) beside the table
PAPER = {
    "cifar10": [("NB201 paper: random search", "93.70 ± 0.36"), ("NB201 paper: REA",
                "93.92 ± 0.30"), ("NB201 paper: REINFORCE", "93.85"), ("NB201 paper: BOHB",
                "93.61"), ("nevergrad NGOpt (reported)", "93.93 ± 0.28"),
                ("nevergrad DiscreteOnePlusOne (reported)", "93.86"), ("optimum", "94.37")],
    "cifar100": [("optimum", "73.51")],
    "imagenet16": [("optimum", "47.31")],
}


def run_fast(bench: NB201, dataset: str, strategy: str, budget: int, seed: int
             ) -> dict[str, Any]:
    """One search by ask/tell with the driver's rules, no store; the chosen architecture's
    metrics plus ``evaluated`` (distinct architectures) and ``asks``."""
    objective = bench.objective(dataset)
    opt = make_optimizer(strategy, bench.space, budget, num_workers=1, seed=seed)
    seen: dict[str, float] = {}
    best: tuple[float, dict[str, float]] | None = None
    asks, repeats = 0, 0
    while len(seen) < budget and repeats < MAX_REPEATS:
        candidate = opt.ask()
        asks += 1
        arch = bench.space.validate(candidate.value)
        key = arch_key(arch)
        if key in seen:
            opt.tell(candidate, seen[key])
            repeats += 1
            continue
        repeats = 0
        metrics = objective(arch)
        score = metrics["valid_acc_12ep"]
        seen[key] = -score
        opt.tell(candidate, -score)
        if best is None or score > best[0]:
            best = (score, metrics)
    assert best is not None
    return {**best[1], "evaluated": len(seen), "asks": asks}


def run_driver(bench: NB201, dataset: str, strategy: str, budget: int, seed: int
               ) -> dict[str, Any]:
    """One search through ``Search(...).run()`` (driver + SQLite store in a temp dir)."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Search(None, bench.space, objective=bench.objective(dataset),
                        monitor="valid_acc_12ep", mode="max", optimizer=strategy,
                        budget=budget, seed=seed, run_dir=tmp, verbose=False).run()
    assert result.best is not None
    done = [t for t in result.trials if t.score is not None]
    return {**result.best.metrics, "evaluated": len(done), "asks": None}


def measure_ms_per_trial(bench: NB201, strategy: str, trials: int = 500,
                         dataset: str = "cifar10", seed: int = 0) -> dict[str, float]:
    """Bookkeeping cost per trial through the real driver and store on the lookup objective:
    median, mean and 90th percentile (ms) of the time between consecutive trial ends."""
    stamps: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        Search(None, bench.space, objective=bench.objective(dataset), monitor="valid_acc_12ep",
               optimizer=strategy, budget=trials, seed=seed, run_dir=tmp, verbose=False,
               on_trial_end=lambda _: stamps.append(time.perf_counter())).run()
    gaps = sorted(1000 * (b - a) for a, b in zip(stamps, stamps[1:], strict=False))
    return {"median": statistics.median(gaps), "mean": statistics.fmean(gaps),
            "p90": gaps[int(0.9 * (len(gaps) - 1))], "trials": len(stamps)}


def run_benchmark(table: str | Path | None, dataset: str = "cifar10", budget: int = 100,
                  seeds: int = 30, strategies: list[str] | None = None,
                  path: str = "fast") -> dict[str, dict[str, Any]]:
    """Every strategy with seeds ``0..seeds-1``: mean and std of the chosen architecture's
    ``test_acc_200ep`` (and ``valid_acc_12ep``), the values, and seconds taken; ``table``
    None looks the table up with ``find_table``."""
    bench = NB201(table)
    run = run_fast if path == "fast" else run_driver
    out: dict[str, dict[str, Any]] = {}
    for name in strategies or [DEFAULT_OPTIMIZER, "RandomSearch", "NGOpt"]:
        t0 = time.perf_counter()
        runs = [run(bench, dataset, name, budget, seed) for seed in range(seeds)]
        tests = [r["test_acc_200ep"] for r in runs]
        out[name] = {
            "mean": statistics.fmean(tests),
            "std": statistics.pstdev(tests) if len(tests) > 1 else 0.0,
            "valid_mean": statistics.fmean(r["valid_acc_12ep"] for r in runs),
            "evaluated_min": min(r["evaluated"] for r in runs),
            "tests": tests, "seconds": time.perf_counter() - t0,
        }
    return out


def _table(results: dict[str, dict[str, Any]], dataset: str, budget: int, seeds: int) -> str:
    lines = [f"NB201 {dataset}: chosen = best valid_acc_12ep of {budget} distinct archs; "
             f"test_acc_200ep mean ± std over {seeds} seeds",
             f"{'strategy':<42} {'test_acc_200ep':>16} {'valid_12ep':>11} {'s':>7}"]
    for name, r in sorted(results.items(), key=lambda item: -item[1]["mean"]):
        lines.append(f"{name:<42} {r['mean']:>8.2f} ± {r['std']:<5.2f} "
                     f"{r['valid_mean']:>11.3f} {r['seconds']:>7.1f}")
    for name, value in PAPER.get(dataset, []):
        lines.append(f"{name:<42} {value:>16}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse arguments, run, print the table and the JSON line; return the JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="cifar10", choices=["cifar10", "cifar100",
                                                                 "imagenet16"])
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--table", default=None,
                        help="the NB201 CSV (default: $LIGHTNING_NAS_NB201, else "
                             "../shared/benchmarks/nb201.csv next to the repository)")
    parser.add_argument("--strategy", default=DEFAULT_OPTIMIZER)
    parser.add_argument("--all", action="store_true", help="every strategy of this package")
    parser.add_argument("--driver", action="store_true",
                        help="run every search through Search(...).run() and its store")
    parser.add_argument("--overhead_trials", type=int, default=500)
    args = parser.parse_args(argv)
    names = [args.strategy, "RandomSearch", "NGOpt"]
    if args.all:
        names += [n for n in NAS_OPTIMIZERS if n not in names]
    path = "driver" if args.driver else "fast"
    table = find_table(args.table)
    results = run_benchmark(table, args.dataset, args.budget, args.seeds, names, path)
    print(_table(results, args.dataset, args.budget, args.seeds))
    ms = (measure_ms_per_trial(NB201(table), args.strategy, args.overhead_trials)
          if args.overhead_trials > 0 else {"median": math.nan})
    print(f"ms_per_trial ({args.strategy}, driver + SQLite store, {args.overhead_trials} "
          f"trials): median {ms['median']:.2f}" +
          (f", mean {ms['mean']:.2f}, p90 {ms['p90']:.2f}" if "mean" in ms else ""))
    main_result = results[args.strategy]
    summary = {
        "strategy": args.strategy, "dataset": args.dataset, "budget": args.budget,
        "seeds": args.seeds, "path": path,
        "mean": round(main_result["mean"], 4), "std": round(main_result["std"], 4),
        "baselines": {n: {"mean": round(r["mean"], 4), "std": round(r["std"], 4)}
                      for n, r in results.items() if n != args.strategy},
        "ms_per_trial": None if math.isnan(ms["median"]) else round(ms["median"], 3),
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()

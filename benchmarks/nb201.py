"""NAS strategies on NAS-Bench-201 (tabular): mean +- std of the chosen architecture's accuracy.

Each run evaluates ``--budget`` distinct architectures of the NB201 cell space (a table
lookup each), scored by ``<dataset>_valid_acc_12ep`` (the search signal of the NB201
paper's baselines); the architecture chosen is the one with the best score (ties: the first
evaluated), and what is reported is its 200-epoch test accuracy. The search sees only what
``NB201.objective`` returns (the signal and the costs: ``valid_acc_12ep``, ``params_m``,
``flops_m``); the 200-epoch test accuracy of the chosen architecture is looked up with
``NB201.lookup`` after the search. Every strategy runs with the same seeds in the same
invocation: ``--seeds 30`` is seeds ``--seed_start .. --seed_start+29`` (default 0..29),
``--seeds 100-129`` a range (which takes no ``--seed_start``). ``--heldout_seeds`` (default
``100-129``, the seeds the defaults were not tuned on, unless ``--seeds`` names some of them;
``''`` leaves them out) runs a second seed set and prints both columns side by side.

Two paths run a search:

- ``fast`` (default for the table): ask/tell directly, with the driver's rules (an
  architecture already evaluated is not evaluated again, its loss is told again; 200 such
  repeats in a row stop the run); no store.
- ``driver`` (``--driver``): ``Search(None, space, objective=..., ...).run()``, the real
  driver with its SQLite store in a temporary run_dir. ``tests/test_nb201.py`` checks that
  both paths choose the same architectures.

``ms_per_trial`` is always measured through the real driver and store, on ``--dataset``:
the median time between consecutive ``on_trial_end`` calls over 500 trials (ask + lookup +
store + tell), in ``--overhead_rounds`` rounds (default 5, seeds 0..4); the figure is the
median of the rounds' medians, printed with its range.

Run:  python benchmarks/nb201.py --dataset cifar10 --budget 100 --seeds 30 \\
          [--seed_start 0] [--heldout_seeds 100-129] [--table PATH] [--strategy NAME] \\
          [--all] [--driver] [--overhead_trials 500] [--overhead_rounds 5]
Quick check:  python benchmarks/nb201.py --budget 15 --seeds 2 --heldout_seeds '' \\
          --overhead_trials 30 --overhead_rounds 2
The table is ``--table PATH`` if given, else ``$LIGHTNING_NAS_NB201``, else
``../shared/benchmarks/nb201.csv`` next to the repository (``find_table`` in
``lightning_nas.benchmarks.nb201``; the README says where the table comes from).
The table prints each strategy's test_acc_200ep as ``median [min, max]  mean ± std`` (the
std is the population std over the seeds, as in the NB201 papers; n in the header).
Last line: JSON with ``strategy``, ``mean``, ``std`` (population std over the seeds),
``median``, ``min``, ``max``, ``test_acc_200ep_spread`` (the shared spread of
``benchmarks/spread.py``: median, min, max, mean, sample std, n), ``baselines`` (the other
strategies' mean and std, and their ``test_acc_200ep_spread``), ``ms_per_trial`` (and
``ms_per_trial_spread``), ``dataset``, ``budget``, ``seeds`` (how many), ``seed_range``,
``path``, and (unless ``--heldout_seeds ''``) a ``heldout`` object with the same figures on
those seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.nb201_warm import evaluations  # noqa: E402
from benchmarks.spread import (  # noqa: E402
    HELDOUT_SEEDS,
    check_arguments,
    describe,
    heldout_seeds,
    parse_seeds,
    spread,
)
from lightning_nas import Search  # noqa: E402
from lightning_nas.benchmarks.nb201 import NB201, check_table, find_table  # noqa: E402
from lightning_nas.errors import ConfigError  # noqa: E402
from lightning_nas.strategies.nas import NAS_OPTIMIZERS  # noqa: E402
from lightning_nas.strategies.registry import (  # noqa: E402
    DEFAULT_OPTIMIZER,
    check_optimizer_name,
    make_optimizer,
)
from lightning_nas.wording import counted  # noqa: E402

__all__ = ["PAPER", "measure_ms_per_trial", "run_benchmark", "run_driver", "run_fast",
           "seed_label"]

#: published figures (200-epoch test accuracy, mean+-std) beside the table
PAPER = {
    "cifar10": [("NB201 paper: random search", "93.70 ± 0.36"), ("NB201 paper: REA",
                "93.92 ± 0.30"), ("NB201 paper: REINFORCE", "93.85"), ("NB201 paper: BOHB",
                "93.61"), ("nevergrad NGOpt (reported)", "93.93 ± 0.28"),
                ("nevergrad DiscreteOnePlusOne (reported)", "93.86"), ("optimum", "94.37")],
    "cifar100": [("optimum", "73.51")],
    "imagenet16": [("optimum", "47.31")],
}


def _chosen(bench: NB201, dataset: str, arch: dict[str, Any], seen: dict[str, float]
            ) -> dict[str, Any]:
    """The table's metrics of the chosen architecture, looked up after the search, what the
    search saw of it, and ``arch``."""
    return {**bench.lookup(arch, dataset), **seen, "arch": dict(arch)}


def run_fast(bench: NB201, dataset: str, strategy: str, budget: int, seed: int
             ) -> dict[str, Any]:
    """One search by ask/tell with the driver's rules, no store; the chosen architecture's
    metrics (its test accuracies looked up after the search) plus ``evaluated`` (distinct
    architectures) and ``asks``."""
    opt = make_optimizer(strategy, bench.space, budget, num_workers=1, seed=seed)
    best: tuple[float, dict[str, Any]] | None = None
    evaluated = 0
    for arch, score in evaluations(opt, bench, dataset, budget):
        evaluated += 1
        if best is None or score > best[0]:
            best = (score, arch)
    assert best is not None
    metrics = bench.objective(dataset)(best[1])
    return {**_chosen(bench, dataset, best[1], metrics), "evaluated": evaluated,
            "asks": opt.num_ask}


def run_driver(bench: NB201, dataset: str, strategy: str, budget: int, seed: int
               ) -> dict[str, Any]:
    """One search through ``Search(...).run()`` (driver + SQLite store in a temp dir); the
    chosen architecture's test accuracies are looked up after the search."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Search(None, bench.space, objective=bench.objective(dataset),
                        monitor="valid_acc_12ep", mode="max", optimizer=strategy,
                        budget=budget, seed=seed, run_dir=tmp, verbose=False).run()
    assert result.best is not None
    done = [t for t in result.trials if t.score is not None]
    return {**_chosen(bench, dataset, result.best.arch, result.best.metrics),
            "evaluated": len(done), "asks": None}


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


def seed_label(seeds: list[int]) -> str:
    """``"0-29"`` for a contiguous range; runs of seeds joined by commas otherwise
    (``"100-129,200-299"``)."""
    runs: list[list[int]] = []
    for seed in seeds:
        if runs and seed == runs[-1][-1] + 1:
            runs[-1].append(seed)
        else:
            runs.append([seed])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def run_benchmark(table: str | Path | None, dataset: str = "cifar10", budget: int = 100,
                  seeds: int | list[int] = 30, strategies: list[str] | None = None,
                  path: str = "fast") -> dict[str, dict[str, Any]]:
    """Every strategy with the same seeds (an int ``S``: ``0..S-1``; or a list): mean and
    (population) std, median, min and max of the chosen architecture's ``test_acc_200ep``
    (looked up after each search), the mean ``valid_acc_12ep``, the values, and seconds
    taken; ``table`` None looks the table up with ``find_table``."""
    bench = NB201(table)
    run = run_fast if path == "fast" else run_driver
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    out: dict[str, dict[str, Any]] = {}
    for name in strategies or [DEFAULT_OPTIMIZER, "RandomSearch", "NGOpt"]:
        t0 = time.perf_counter()
        runs = [run(bench, dataset, name, budget, seed) for seed in seed_list]
        tests = [r["test_acc_200ep"] for r in runs]
        out[name] = {
            "mean": statistics.fmean(tests),
            "std": statistics.pstdev(tests) if len(tests) > 1 else 0.0,
            "median": statistics.median(tests), "min": min(tests), "max": max(tests),
            "n": len(tests),
            "valid_mean": statistics.fmean(r["valid_acc_12ep"] for r in runs),
            "evaluated_min": min(r["evaluated"] for r in runs),
            "tests": tests, "seconds": time.perf_counter() - t0,
        }
    return out


def _table(results: dict[str, dict[str, Any]], dataset: str, budget: int, seeds: list[int],
           heldout: dict[str, dict[str, Any]] | None = None,
           heldout_seeds: list[int] | None = None) -> str:
    """The strategies' test_acc_200ep (median [min, max]  mean ± std, n), best mean first;
    with ``heldout`` a second column for the held-out seeds."""
    def cell(r: dict[str, Any]) -> str:
        return (f"{r['median']:6.2f} [{r['min']:.2f}, {r['max']:.2f}]  {r['mean']:6.2f} ± "
                f"{r['std']:<4.2f}")

    label = seed_label(seeds)
    lines = [f"NB201 {dataset}: chosen = best valid_acc_12ep of {budget} distinct archs; "
             f"its test_acc_200ep (looked up after the search): median [min, max]  mean ± std "
             f"(population) over seeds {label} (n={len(seeds)})"
             + (f" and held-out seeds {seed_label(heldout_seeds)} (n={len(heldout_seeds)})"
                if heldout and heldout_seeds else ""),
             f"{'strategy':<42} {'seeds ' + label:>37} {'valid_12ep':>11} {'s':>7}"
             + (f" {'seeds ' + seed_label(heldout_seeds):>37} {'valid_12ep':>11}"
                if heldout and heldout_seeds else "")]
    for name, r in sorted(results.items(), key=lambda item: -item[1]["mean"]):
        line = f"{name:<42} {cell(r):>37} {r['valid_mean']:>11.3f} {r['seconds']:>7.1f}"
        if heldout and name in heldout:
            line += f" {cell(heldout[name]):>37} {heldout[name]['valid_mean']:>11.3f}"
        lines.append(line)
    for name, value in PAPER.get(dataset, []):
        lines.append(f"{name:<42} {value:>37}")
    return "\n".join(lines)


def _summary(results: dict[str, dict[str, Any]], strategy: str, seeds: list[int]
             ) -> dict[str, Any]:
    """One seed set's JSON: the strategy's figures (population std, as the table) and
    ``test_acc_200ep_spread``; the baselines' mean, std and spread."""
    main_result = results[strategy]
    return {
        "seeds": len(seeds), "seed_range": seed_label(seeds),
        **{k: round(main_result[k], 4) for k in ("mean", "std", "median", "min", "max")},
        "test_acc_200ep_spread": spread(main_result["tests"]),
        "baselines": {n: {"mean": round(r["mean"], 4), "std": round(r["std"], 4),
                          "test_acc_200ep_spread": spread(r["tests"])}
                      for n, r in results.items() if n != strategy},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse arguments, run, print the table and the JSON line; return the JSON object."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--dataset", default="cifar10", choices=["cifar10", "cifar100",
                                                                 "imagenet16"])
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--seeds", default="30",
                        help="how many seeds (from --seed_start), or a range such as 100-129")
    parser.add_argument("--seed_start", type=int, default=None,
                        help="first seed when --seeds is a count (default 0; refused beside "
                             "a range or a list)")
    parser.add_argument("--heldout_seeds", default=None,
                        help=f"also run these seeds and print them beside the others (default "
                             f"{HELDOUT_SEEDS}, which the defaults were not tuned on, unless "
                             f"--seeds names some of them; '' for none)")
    parser.add_argument("--table", default=None,
                        help="the NB201 CSV (default: $LIGHTNING_NAS_NB201, else "
                             "../shared/benchmarks/nb201.csv next to the repository)")
    parser.add_argument("--strategy", default=DEFAULT_OPTIMIZER)
    parser.add_argument("--all", action="store_true", help="every strategy of this package")
    parser.add_argument("--driver", action="store_true",
                        help="run every search through Search(...).run() and its store")
    parser.add_argument("--overhead_trials", type=int, default=500,
                        help="trials of each ms_per_trial round (0: no ms_per_trial)")
    parser.add_argument("--overhead_rounds", type=int, default=5,
                        help="rounds of the ms_per_trial measurement (seeds 0..R-1)")
    parser.add_argument("--warm_start", default=None, metavar="SOURCE_DATASET",
                        choices=["cifar10", "cifar100", "imagenet16"],
                        help="warm starts: search SOURCE_DATASET, then --dataset warm, cold and "
                             "with the simple baselines (benchmarks/nb201_warm.py)")
    parser.add_argument("--budgets", default="10,20,30,50",
                        help="--warm_start: target budgets (comma-separated)")
    parser.add_argument("--source_budget", type=int, default=100)
    parser.add_argument("--top_k", default="1,5,10",
                        help="--warm_start: the top-k-first baselines (comma-separated)")
    parser.add_argument("--plain", default="NGOpt",
                        help="--warm_start: the nevergrad optimizer of the tell-all baseline")
    args = parser.parse_args(argv)
    _check_arguments(parser, args)
    if args.warm_start:
        return _warm_main(args)
    import torch  # the driver imports it anyway; one thread, like the other benchmarks

    torch.set_num_threads(1)
    names = list(dict.fromkeys([args.strategy, "RandomSearch", "NGOpt"]))
    if args.all:
        names += [n for n in NAS_OPTIMIZERS if n not in names]
    path = "driver" if args.driver else "fast"
    table = find_table(args.table)
    seeds = parse_seeds(args.seeds, args.seed_start or 0)
    held, note = heldout_seeds(args.heldout_seeds, seeds, args.seeds)
    if note:
        print(note)
    results = run_benchmark(table, args.dataset, args.budget, seeds, names, path)
    heldout_seeds_ = held or None
    heldout = (run_benchmark(table, args.dataset, args.budget, heldout_seeds_, names, path)
               if heldout_seeds_ else None)
    print(_table(results, args.dataset, args.budget, seeds, heldout, heldout_seeds_))
    rounds = []
    if args.overhead_trials > 0:
        bench = NB201(table)
        rounds = [measure_ms_per_trial(bench, args.strategy, args.overhead_trials,
                                       args.dataset, seed=r)
                  for r in range(args.overhead_rounds)]
        medians = [r["median"] for r in rounds]
        print(describe(f"ms_per_trial ({args.strategy} on {args.dataset}, driver + SQLite store, "
                       f"{args.overhead_trials} trials a round, median of each round)",
                       medians, 2)
              + f"; mean {statistics.fmean(r['mean'] for r in rounds):.2f} (of the rounds' "
                f"means), p90 {statistics.median(r['p90'] for r in rounds):.2f} (median of "
                f"the rounds' p90)")
    summary = {
        "strategy": args.strategy, "dataset": args.dataset, "budget": args.budget,
        "path": path, **_summary(results, args.strategy, seeds),
        "ms_per_trial": (round(statistics.median(r["median"] for r in rounds), 3)
                         if rounds else None),
        "ms_per_trial_spread": (spread([r["median"] for r in rounds], 3) if rounds else None),
    }
    if heldout is not None and heldout_seeds_ is not None:
        summary["heldout"] = _summary(heldout, args.strategy, heldout_seeds_)
    print(json.dumps(summary))
    return summary


def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every argument, before any search: a bad one is argparse's usage error naming it
    (was: a traceback, or a bare ``AssertionError`` for ``--budget 0``; a seed list of no
    seed, ``--seed_start`` beside a range, an NB201 table without its columns)."""
    check_arguments(parser, args, {"--budget": 1, "--source_budget": 1, "--overhead_rounds": 1},
                    seeds=["--seeds", "--heldout_seeds"], none_if_empty=["--heldout_seeds"])
    try:
        if args.overhead_trials == 1 or args.overhead_trials < 0:  # one trial: no gap
            raise ValueError(f"--overhead_trials must be 0 (no ms_per_trial) or at least 2, "
                             f"got {args.overhead_trials}")
        for name in ("budgets", "top_k"):
            text = getattr(args, name)
            numbers = [n.strip() for n in text.split(",")]
            if not all(n.isdigit() and int(n) >= 1 for n in numbers):  # (was: int()'s error)
                raise ValueError(f"--{name} takes numbers of at least 1, got {text!r}")
        check_optimizer_name(args.strategy)
        check_optimizer_name(args.plain)
    except (ValueError, ConfigError) as err:
        parser.error(str(err))
    try:
        check_table(args.table)
    except FileNotFoundError as err:
        parser.error(str(err))
    except ConfigError as err:  # was: its traceback, when the search began
        parser.error(f"--table {err}")


def _warm_main(args: argparse.Namespace) -> dict[str, Any]:
    """``--warm_start SOURCE``: the warm-start table(s) and JSON line."""
    import torch

    from benchmarks.nb201_warm import (
        disagreements,
        pool_results,
        proxy_agreement,
        run_warm_benchmark,
        warm_table,
    )

    torch.set_num_threads(1)
    if args.dataset == args.warm_start:
        raise SystemExit("--warm_start names the target --dataset; choose another target")
    bench = NB201(find_table(args.table))
    budgets = [int(b) for b in args.budgets.split(",")]
    top_k = [int(k) for k in args.top_k.split(",")]
    summary: dict[str, Any] = {"source": args.warm_start, "target": args.dataset,
                               "source_budget": args.source_budget, "budgets": budgets}
    sets = [("seeds", parse_seeds(args.seeds, args.seed_start or 0))]
    held, note = heldout_seeds(args.heldout_seeds, sets[0][1], args.seeds)
    if note:
        print(note)
    if held:
        sets.append(("heldout", held))
    every = []
    for name, seeds in sets:
        results = run_warm_benchmark(bench, args.warm_start, args.dataset, seeds, budgets,
                                     args.source_budget, top_k, args.plain)
        every.append(results)
        print(warm_table(results, budgets, f"NB201 {args.warm_start} (budget "
                         f"{args.source_budget}) -> {args.dataset}, {name} {seed_label(seeds)} "
                         f"(n={len(seeds)})"))
        summary[name] = _warm_summary(results, budgets, seeds)
    seeds = [seed for _, chunk in sets for seed in chunk]
    pooled = pool_results(*every)
    if len(every) > 1:
        print(warm_table(pooled, budgets, f"all seeds {seed_label(seeds)} (n={len(seeds)})"))
        summary["all"] = _warm_summary(pooled, budgets, seeds)
    summary["disagreements"] = [disagreements(pooled, f"top-{k} first", budgets[0])
                                for k in top_k]
    for d in summary["disagreements"]:
        print(_describe_disagreement(d))
    agree = proxy_agreement(bench, args.warm_start, args.dataset, seeds, args.source_budget)
    print(f"Among the source search's {agree['k']} best architectures (mean over "
          f"{agree['seeds']} seeds), Spearman with the target's test_acc_200ep: the "
          f"target's valid_acc_12ep {agree['target_signal']:.3f}, the source's "
          f"{agree['source_signal']:.3f} (and the two validations with each other "
          f"{agree['signals']:.3f}); target test of the source's best minus that of "
          f"the {agree['k']} best's best by target validation: {agree['gap']:+.3f} ± "
          f"{agree['gap_se']:.3f}")
    summary["proxy_agreement"] = agree
    print(json.dumps(summary))
    return summary


def _describe_disagreement(d: dict[str, Any], shown: int = 3) -> str:
    """``disagreements`` in words, with its largest pairs."""
    pairs = d["pairs"]
    text = (f"warm vs {d['other']} at {d['budget']} queries ({counted(d['seeds'], 'seed')}): "
            f"the same choice in {d['same']}; warm's validates higher in {d['higher_valid']}, "
            f"tests better in {d['better']}, worse in {d['worse']}, over "
            f"{counted(len(pairs), 'distinct pair')} of choices (mean difference "
            f"{d['mean']:+.3f})" + ("; largest:" if pairs else ""))
    for pair in pairs[:shown]:  # (was: "1 seeds", and "largest:" before no pair)
        (w, wv), (o, ov) = pair["warm"], pair["other"]
        text += (f"\n  warm {w:.2f} [{wv:.2f}] vs {o:.2f} [{ov:.2f}] in "
                 f"{counted(pair['seeds'], 'seed')}: {pair['share']:+.3f}")
    return text


def _warm_summary(results: dict[str, Any], budgets: list[int], seeds: list[int]
                  ) -> dict[str, Any]:
    """One seed set's JSON: per method and budget, mean, std and mean valid accuracy."""
    return {"range": seed_label(seeds), **{
        method: {str(b): {"mean": round(r[b]["mean"], 3), "std": round(r[b]["std"], 3),
                          "valid": round(r[b]["valid"], 3)} for b in budgets}
        for method, r in results.items()}}


if __name__ == "__main__":
    main()

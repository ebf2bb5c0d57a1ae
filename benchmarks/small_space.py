"""The default strategy against Optuna's TPE on small categorical tables: how often each
finds the best architecture.

A table lists every architecture of a small space with its search signal (``val_acc``) and
a held-out ``test_acc``: ``benchmarks/digits_space.csv`` (432 DigitsCNN architectures,
built by ``benchmarks/digits_space.py``) and, with ``--nb201``, a subspace of NAS-Bench-201
that has nothing to do with the digits: every one of the six edges restricted to
``--nb201_ops`` (default ``nor_conv_3x3, nor_conv_1x1, skip_connect``: 3^6 = 729 cells),
scored by ``<dataset>_valid_acc_12ep``, reported by ``<dataset>_test_acc_200ep``.

Every knob is a categorical parameter on both sides: a ``choice`` parameter of
``SearchSpace.from_dict`` for this package's strategies (``--ordered`` makes the numeric
knobs ``ordered`` instead, on this package's side only; a knob of one value, in a
sub-table, is ``fixed``) and ``suggest_categorical`` for Optuna. Both sides run the same
way, with the same seeds: a run evaluates ``--budget`` (default 20) distinct architectures
(score: the table's ``val_acc``, maximized); a proposal of an architecture already
evaluated is answered from the cache with its value (nevergrad: told again; Optuna: the
trial is told the cached value) and not counted; 200 such proposals in a row end the run
(the driver's rule). The architecture chosen is the best ``val_acc``
found (ties: the first evaluated). Its rank is 1 + the number of architectures of the
whole table with a strictly higher ``val_acc`` (ties share the better rank); a run hits
the top-1 if that rank is 1, the top-3 if it is at most 3.

Strategies: ``--strategy`` (default ``DEFAULT_OPTIMIZER``, via ``make_optimizer(name,
space, budget, seed=seed)``), Optuna's ``TPESampler(seed=seed)`` with its defaults
(``n_startup_trials=10``, independent per knob), ``--baselines`` (default
``RandomSearch``, nevergrad) and, exactly computed, uniform sampling of ``--budget``
distinct architectures. Optuna is imported when installed; else, with
``--optuna-python PATH`` (an interpreter that has optuna), the TPE half runs in that
interpreter (this script with ``--tpe-only``, which prints JSON); else it is skipped with a
message.

Run:  python benchmarks/small_space.py [--table benchmarks/digits_space.csv] [--budget 20] \\
          [--seeds 30] [--heldout_seeds 100-129] [--strategy NAME] [--baselines RandomSearch] \\
          [--optuna-python PATH] [--ordered] [--nb201 [--nb201_table PATH] \\
          [--dataset cifar10] [--nb201_ops nor_conv_3x3,nor_conv_1x1,skip_connect]]
A missing digits table or NB201 table is skipped with a message. A run of the default
strategy takes about a second (its model fits), so one table with both seed sets takes a
minute or two on one busy core.
Prints, for each table and each strategy, over ``--seeds`` (default 0-29) and
``--heldout_seeds`` (default 100-129, unless ``--seeds`` names some of them): the top-1
and top-3 hit rates ± their standard error over the seeds (uniform: exact), the median
rank of the chosen architecture, its mean ± std (sample std over the seeds) and the
chosen's ``test_acc`` mean ± std (for the uniform line: the std of that exact
distribution).
Last line: JSON with ``strategy``, ``budget``, ``ordered``, ``tpe`` (optuna's version
and its interpreter's numpy and Python, which TPE's draws depend on, also printed as
``TPE: ...``; or why it was skipped) and, per table (``digits``, ``nb201``), ``table``,
``archs``, ``best_ties`` and per seed set (``seeds``, ``heldout``) ``range``, ``n`` and
``results``: per strategy ``top1``, ``top1_se``, ``top3``, ``top3_se`` (None: exact),
``median_rank``, ``rank_mean``, ``rank_std``, ``test_mean``, ``test_std``,
``evaluated_min`` and ``asks_mean`` (a skipped table: ``{"skipped": reason}``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Standard library only at the top: ``--tpe-only`` runs in an interpreter that may have
# optuna but not this package; nevergrad and lightning_nas are imported where used.
from benchmarks.small_table import METRIC_COLUMNS, NB201_OPS, Key, Table, nb201_table  # noqa: E402
from benchmarks.spread import (  # noqa: E402
    HELDOUT_SEEDS,
    check_arguments,
    check_python,
    heldout_seeds,
    parse_seeds,
    spread,
)
from lightning_nas.wording import counted  # noqa: E402

__all__ = ["MAX_REPEATS", "METRIC_COLUMNS", "Table", "compare", "nb201_table",
           "run_nevergrad", "run_tpe", "summarize", "tpe_runs", "uniform"]

#: proposals of evaluated architectures in a row that end a run (the driver's MAX_REPEATS)
MAX_REPEATS = 200
DEFAULT_TABLE = Path(__file__).resolve().parent / "digits_space.csv"
TPE_SKIPPED = ("skipped: optuna not installed (pip install optuna in the benchmark's "
               "environment, or --optuna-python PATH)")

def run_nevergrad(table: Table, name: str, budget: int, seed: int, ordered: bool = False
                  ) -> dict[str, Any]:
    """One run of strategy ``name`` (``make_optimizer``): the keys evaluated, in order, and
    how many asks it took."""
    from lightning_nas.space import SearchSpace
    from lightning_nas.strategies.registry import make_optimizer

    space = SearchSpace.from_dict(table.space_dict(ordered))
    opt = make_optimizer(name, space, budget, seed=seed)
    seen: dict[Key, float] = {}
    asks = repeats = 0
    while len(seen) < budget and repeats < MAX_REPEATS:
        candidate = opt.ask()
        asks += 1
        key = table.key(space.validate(candidate.value))
        if key in seen:
            opt.tell(candidate, -seen[key])
            repeats += 1
            continue
        repeats = 0
        seen[key] = table.val(key)
        opt.tell(candidate, -seen[key])
    return {"seed": seed, "evaluated": list(seen), "asks": asks}


def run_tpe(table: Table, budget: int, seed: int) -> dict[str, Any]:
    """One run of Optuna's ``TPESampler(seed=seed)`` (defaults otherwise), one
    ``suggest_categorical`` per knob, by ask and tell, with the same rules as
    ``run_nevergrad``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    seen: dict[Key, float] = {}
    asks = repeats = 0
    while len(seen) < budget and repeats < MAX_REPEATS:
        trial = study.ask()
        asks += 1
        key = tuple(trial.suggest_categorical(n, list(vals)) for n, vals in table.knobs.items())
        if key in seen:
            study.tell(trial, seen[key])
            repeats += 1
            continue
        repeats = 0
        seen[key] = table.val(key)
        study.tell(trial, seen[key])
    return {"seed": seed, "evaluated": list(seen), "asks": asks}


def tpe_runs(table: Table, seeds: Sequence[int], budget: int,
             optuna_python: str | None = None) -> tuple[list[dict[str, Any]] | None, str]:
    """TPE runs of every seed: in ``optuna_python`` when given (this script with
    ``--tpe-only``; was: ignored without a word where optuna also imports here, though the
    TPE rows depend on the interpreter's numpy), else in this process if optuna imports;
    ``(None, why)`` if neither."""
    if not optuna_python:
        try:
            import optuna
        except ImportError:
            return None, TPE_SKIPPED
        return ([run_tpe(table, budget, s) for s in seeds],
                f"optuna {optuna.__version__} ({_versions()})")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        table.to_csv(path)
        proc = subprocess.run(
            [optuna_python, str(Path(__file__).resolve()), "--tpe-only", "--table", str(path),
             "--budget", str(budget), "--seeds", ",".join(map(str, seeds)) + ","],
            capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"{optuna_python} --tpe-only failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    runs = [{**r, "evaluated": [tuple(k) for k in r["evaluated"]]} for r in out["runs"]]
    return runs, f"optuna {out['optuna']} ({out.get('versions', '?')}; {optuna_python})"


def _versions() -> str:
    """``numpy X, Python Y`` of this interpreter: TPE's draws depend on numpy's version."""
    import numpy

    return f"numpy {numpy.__version__}, Python {sys.version.split()[0]}"


def summarize(table: Table, runs: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Hit rates, ranks and test accuracy of the chosen architectures of ``runs``."""
    ranks, tests, evaluated, asks = [], [], [], []
    for run in runs:
        chosen = None
        for key in run["evaluated"]:  # the best val; ties: the first evaluated
            if chosen is None or table.val(key) > table.val(chosen):
                chosen = key
        ranks.append(table.rank(chosen))
        tests.append(table.test(chosen))
        evaluated.append(len(run["evaluated"]))
        asks.append(run["asks"])
    r, t = spread(ranks, 3), spread(tests, 6)
    hits = {k: [float(x <= k) for x in ranks] for k in (1, 3)}  # a rate's standard error:
    se = {k: spread(h, 9)["std"] / math.sqrt(len(h)) for k, h in hits.items()}  # over seeds
    return {"top1": sum(x == 1 for x in ranks) / len(ranks), "top1_se": se[1],
            "top3": sum(x <= 3 for x in ranks) / len(ranks), "top3_se": se[3],
            "median_rank": r["median"], "rank_mean": r["mean"], "rank_std": r["std"],
            "test_mean": t["mean"], "test_std": t["std"], "evaluated_min": min(evaluated),
            "asks_mean": statistics.fmean(asks), "ranks": ranks, "tests": tests}


def uniform(table: Table, budget: int) -> dict[str, Any]:
    """The same figures for ``budget`` distinct architectures drawn uniformly, computed
    exactly (std: of that distribution)."""
    n = len(table)
    total = math.comb(n, budget)
    groups: dict[float, list[float]] = {}
    for val, test in table.rows.values():
        groups.setdefault(val, []).append(test)
    above, dist = 0, []  # (probability, rank, mean test, mean test^2) per val, best first
    for val in sorted(groups, reverse=True):
        tests = groups[val]
        p = (math.comb(n - above, budget) - math.comb(n - above - len(tests), budget)) / total
        dist.append((p, above + 1, statistics.fmean(tests),
                     statistics.fmean(t * t for t in tests)))
        above += len(tests)
    def moments(i: int) -> tuple[float, float]:
        mean = sum(d[0] * d[i] for d in dist)
        second = sum(d[0] * (d[i] ** 2 if i == 1 else d[3]) for d in dist)
        return mean, math.sqrt(max(second - mean * mean, 0.0))
    cumulative, median = 0.0, dist[-1][1]
    for p, rank, _, _ in dist:
        cumulative += p
        if cumulative >= 0.5:
            median = rank
            break
    rank_mean, rank_std = moments(1)
    test_mean, test_std = moments(2)
    return {"top1": sum(d[0] for d in dist if d[1] == 1), "top1_se": None,  # exact
            "top3": sum(d[0] for d in dist if d[1] <= 3), "top3_se": None,
            "median_rank": float(median),
            "rank_mean": rank_mean, "rank_std": rank_std, "test_mean": test_mean,
            "test_std": test_std, "evaluated_min": min(budget, n), "asks_mean": None}


def compare(table: Table, seeds: Sequence[int], budget: int, strategy: str,
            baselines: Sequence[str], tpe: list[dict[str, Any]] | None, tpe_label: str,
            ordered: bool = False) -> dict[str, dict[str, Any]]:
    """Every strategy's summary on ``seeds`` (``tpe``: TPE's runs, or None if skipped)."""
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys([strategy, *baselines]):
        label = name + (" (ordered)" if ordered else "")
        out[label] = summarize(table, [run_nevergrad(table, name, budget, s, ordered)
                                       for s in seeds])
    if tpe is not None:
        out[f"TPESampler ({tpe_label.split(' (')[0]})"] = summarize(table, tpe)
    out[f"uniform, {budget} distinct (exact)"] = uniform(table, budget)
    return out


def _label(seeds: Sequence[int]) -> str:
    seeds = list(seeds)
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) > 1:
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def _figures(r: dict[str, Any]) -> dict[str, Any]:
    keys = ("top1", "top1_se", "top3", "top3_se", "median_rank", "rank_mean", "rank_std",
            "test_mean", "test_std", "evaluated_min", "asks_mean")
    return {k: (round(r[k], 4) if isinstance(r[k], float) else r[k]) for k in keys}


def _print_table(table: Table, sets: list[tuple[list[int], dict[str, dict[str, Any]]]],
                 budget: int, kinds: str) -> None:
    top = max(v for v, _ in table.rows.values())
    top_tests = sorted(t for v, t in table.rows.values() if v == top)
    pct = max(t for _, t in table.rows.values()) > 1.5  # accuracies in % (NB201)
    d = 2 if pct else 4
    print(f"\n{table.name}: {len(table)} archs, knobs as {kinds}; chosen = best val_acc of "
          f"{budget} distinct archs; rank by val_acc among all {len(table)} (ties share the "
          f"better rank)")
    tests = [t for _, t in table.rows.values()]
    print(f"best val_acc {top:.{d}f} ({counted(table.best_ties(), 'arch')}, test_acc "
          f"{' / '.join(f'{t:.{d}f}' for t in top_tests)}); best test_acc {max(tests):.{d}f}; "
          f"median test_acc {statistics.median(tests):.{d}f}")
    head = f"{'top-1 ± se':>14} {'top-3 ± se':>14} {'rank med':>8} {'rank mean ± std':>16} " \
           f"{'test_acc mean ± std':>20} {'asks':>6}"
    print(f"{'':<36}" + "   ".join(f"{'seeds ' + _label(s) + f' (n={len(s)})':^83}"
                                    for s, _ in sets))
    print(f"{'strategy':<36}" + "   ".join(head for _ in sets))
    for name in sets[0][1]:
        cells = []
        for _, results in sets:
            r = results[name]
            asks = "" if r["asks_mean"] is None else f"{r['asks_mean']:.1f}"
            rates = " ".join(f"{r[k]:>6.3f} ± {r[k + '_se']:<5.3f}" if r[k + "_se"] is not None
                             else f"{r[k]:>6.3f} (exact)" for k in ("top1", "top3"))
            cells.append(f"{rates} {r['median_rank']:>8.1f} "
                         f"{r['rank_mean']:>7.2f} ± {r['rank_std']:<6.2f} "
                         f"{r['test_mean']:>9.{d}f} ± {r['test_std']:<{8}.{d}f} {asks:>6}")
        print(f"{name:<36}" + "   ".join(cells))


def _run_table(table: Table, args: argparse.Namespace, seed_sets: list[list[int]],
               tpe_note: list[str]) -> dict[str, Any]:
    sets = []
    for seeds in seed_sets:
        tpe, label = tpe_runs(table, seeds, args.budget, args.optuna_python)
        tpe_note[0] = label
        sets.append((seeds, compare(table, seeds, args.budget, args.strategy,
                                    args.baselines, tpe, label, args.ordered)))
    kinds = "ordered (numbers) / choice" if args.ordered and any(
        "ordered" in spec for spec in table.space_dict(True).values()) else "choice"
    _print_table(table, sets, args.budget, kinds)
    out: dict[str, Any] = {"table": table.name, "archs": len(table),
                           "best_ties": table.best_ties()}
    for tag, (seeds, results) in zip(("seeds", "heldout"), sets, strict=False):
        out[tag] = {"range": _label(seeds), "n": len(seeds),
                    "results": {n: _figures(r) for n, r in results.items()}}
    return out


def _load_tables(parser: argparse.ArgumentParser, args: argparse.Namespace
                 ) -> dict[str, Table | str]:
    """The digits table and, with ``--nb201``, the NB201 one (or why each is skipped); a
    table that is no whole product, or smaller than ``--budget``, is argparse's usage error
    (was: a traceback, the latter after every strategy had run)."""
    from lightning_nas.errors import NASError

    out: dict[str, Table | str] = {}
    try:
        out["digits"] = (Table.from_csv(args.table) if Path(args.table).is_file() else
                         f"no table at {args.table} (build it: python "
                         f"benchmarks/digits_space.py --workers N)")
        if args.nb201:
            try:
                out["nb201"] = nb201_table(args.nb201_table, args.dataset,
                                           args.nb201_ops.split(","))
            except FileNotFoundError as err:
                out["nb201"] = str(err)
        for table in out.values():
            if isinstance(table, Table) and len(table) < args.budget:
                raise ValueError(f"--budget {args.budget} is more than the "
                                 f"{counted(len(table), 'architecture')} of {table.name}; "
                                 f"choose at most {len(table)}")
    except (ValueError, NASError) as err:  # NASError: an unknown op or dataset
        parser.error(str(err))
    return out


def _check_strategies(parser: argparse.ArgumentParser, args: argparse.Namespace,
                      baselines: str) -> None:
    """Refuse, as argparse's usage error before any run, an unknown ``--strategy`` or
    ``--baselines`` name (was: a ``ConfigError`` traceback, exit status 1, at its first
    run) and an ``--optuna-python`` that cannot import optuna (was: a ``RuntimeError``, or
    a ``FileNotFoundError`` for a missing path, once this package's runs were done)."""
    from lightning_nas.errors import ConfigError
    from lightning_nas.strategies import check_optimizer_name

    for flag, names, said in (("--strategy", [args.strategy], args.strategy),
                              ("--baselines", args.baselines, baselines)):
        try:
            for name in names:
                check_optimizer_name(name)
        except ConfigError as err:
            parser.error(f"{flag} {said}: {err}")
    if args.optuna_python:
        check_python(parser, "--optuna-python", args.optuna_python, "optuna",
                     "give a Python with optuna installed, or leave --optuna-python out (the "
                     "TPE half runs here where optuna imports, else it is skipped)")


def _tpe_only(args: argparse.Namespace) -> None:
    import optuna

    table = Table.from_csv(args.table)
    runs = [run_tpe(table, args.budget, s)
            for s in parse_seeds(args.seeds, args.seed_start or 0)]
    print(json.dumps({"optuna": optuna.__version__, "versions": _versions(), "runs": runs}))


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    """Parse arguments, run, print the tables and the JSON line; return the JSON object."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--table", default=str(DEFAULT_TABLE),
                        help="the digits table (benchmarks/digits_space.py builds it)")
    parser.add_argument("--budget", type=int, default=20,
                        help="distinct architectures evaluated per run")
    parser.add_argument("--seeds", default="30",
                        help="how many seeds (from --seed_start), or a range such as 0-29")
    parser.add_argument("--seed_start", type=int, default=None,
                        help="first seed when --seeds is a count (default 0; refused beside "
                             "a range or a list)")
    parser.add_argument("--heldout_seeds", default=None,
                        help=f"a second set of seeds, printed beside the first (default "
                             f"{HELDOUT_SEEDS} unless --seeds names some of them; '' for none)")
    parser.add_argument("--strategy", default=None,
                        help="this package's strategy (default: DEFAULT_OPTIMIZER)")
    parser.add_argument("--baselines", default="RandomSearch",
                        help="comma-separated nevergrad strategies also run ('' for none)")
    parser.add_argument("--optuna-python", "--optuna_python", dest="optuna_python",
                        default=None, help="an interpreter with optuna, for the TPE half "
                                           "(default: this one, where optuna imports)")
    parser.add_argument("--ordered", action="store_true",
                        help="numeric knobs as `ordered` (this package's side only)")
    parser.add_argument("--nb201", action="store_true",
                        help="also the NAS-Bench-201 subspace of --nb201_ops")
    parser.add_argument("--nb201_table", default=None,
                        help="the NB201 CSV (default: find_table's search)")
    parser.add_argument("--dataset", default="cifar10", help="NB201 dataset")
    parser.add_argument("--nb201_ops", default=",".join(NB201_OPS))
    parser.add_argument("--tpe-only", "--tpe_only", dest="tpe_only", action="store_true",
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    check_arguments(parser, args, {"--budget": 1}, seeds=["--seeds", "--heldout_seeds"],
                    none_if_empty=["--heldout_seeds"])
    if args.tpe_only:
        _tpe_only(args)
        return None
    import torch  # lightning_nas imports it anyway; one thread, like the other benchmarks

    torch.set_num_threads(1)
    from lightning_nas.strategies.registry import DEFAULT_OPTIMIZER

    args.strategy = args.strategy or DEFAULT_OPTIMIZER
    given, args.baselines = args.baselines, [b for b in args.baselines.split(",") if b.strip()]
    _check_strategies(parser, args, given)
    seed_sets = [parse_seeds(args.seeds, args.seed_start or 0)]
    held, note = heldout_seeds(args.heldout_seeds, seed_sets[0], args.seeds)
    if note:
        print(note)
    if held:
        seed_sets.append(held)
    tpe_note = [TPE_SKIPPED]
    summary: dict[str, Any] = {"strategy": args.strategy, "budget": args.budget,
                               "ordered": args.ordered}
    tables: dict[str, Any] = {}
    loaded = _load_tables(parser, args)  # every table and the budget, before any run
    for key, table in loaded.items():
        if isinstance(table, str):
            print(f"{'digits' if key == 'digits' else 'NB201'}: skipped: {table}")
            tables[key] = {"skipped": table}
        else:
            tables[key] = _run_table(table, args, seed_sets, tpe_note)
    print(f"TPE: {tpe_note[0]}")
    summary["tpe"] = tpe_note[0]
    summary.update(tables)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()

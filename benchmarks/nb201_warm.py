"""Warm starts on NAS-Bench-201: a search of the source data set feeds a search of the
target, against a cold search and the simple baselines; ``benchmarks/nb201.py
--warm_start SOURCE`` runs it.

Per seed ``s``: the default strategy searches the source data set (``--source_budget``,
default 100 distinct architectures, seed ``s``, scored by the source's
``valid_acc_12ep``); its results are the priors (``-valid_acc_12ep`` as losses, one task).
Then each method searches the target data set with seed ``s`` up to the largest budget,
and after each distinct evaluation the chosen architecture (best target
``valid_acc_12ep`` so far; ties: the first) is noted, so one run gives every budget. What
is reported is the chosen architecture's target ``test_acc_200ep`` (looked up after the
search; no search sees it), mean ± std over the seeds, at each budget.

Methods, all through the fast ask/tell path of ``benchmarks/nb201.py`` (the driver's
rules: a repeat is told its loss again and not counted; 200 repeats in a row stop):

- ``warm``: the default strategy told the priors (``tell_priors``: its task-aware model);
- ``cold``: the default strategy, no priors;
- ``tell-all <name>``: a plain nevergrad optimizer (``nb201.py --plain``, default ``NGOpt``) told
  every prior as it is, as if evaluated on the target;
- ``top-<k> first``: the source's ``k`` best architectures evaluated first (by source
  score), then the default strategy (told those results, no priors), for each
  ``--top_k``.

``--seeds`` and ``--heldout_seeds`` as in ``nb201.py`` (with both, a third table pools
them); the target's table column comes from the same table. Then ``proxy_agreement``: how
well the target's and the source's validation accuracies rank the target's test accuracy
among the source search's 10 best, which decides whether evaluating more of them helps;
and ``disagreements`` of warm with each top-k-first baseline at the first budget: where
the two choose differently, by pair of chosen architectures.
Last line: JSON with, per seed set (and ``all``), per method, per budget, the mean and std
of the test accuracy and the mean of the chosen's target ``valid_acc_12ep``,
``proxy_agreement`` and ``disagreements``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, too

from benchmarks.spread import not_a_script, spearman  # noqa: E402

# run as a script, it says what runs it before the imports below (was: after them, torch and
# nevergrad, 8 s on 2 cores to print one line; before that, nothing at all, exit status 0)
if __name__ == "__main__":
    not_a_script("benchmarks/nb201_warm.py is the warm-start half of benchmarks/nb201.py; "
                 "run `python benchmarks/nb201.py --warm_start SOURCE --dataset TARGET` (its "
                 "--help lists the options)")
    sys.exit(0)  # (--help; anything else exits 1 in not_a_script)

from lightning_nas.arch import arch_key  # noqa: E402
from lightning_nas.benchmarks.nb201 import NB201  # noqa: E402
from lightning_nas.search.proposals import MAX_REPEATS  # noqa: E402
from lightning_nas.strategies.registry import DEFAULT_OPTIMIZER, make_optimizer  # noqa: E402
from lightning_nas.strategies.transfer import tell_priors  # noqa: E402

__all__ = ["disagreements", "evaluations", "pool_results", "proxy_agreement",
           "run_warm_benchmark", "trace", "warm_table"]

Prior = tuple[dict[str, Any], float, str]


def evaluations(opt: Any, bench: NB201, dataset: str, budget: int,
                first: Sequence[dict[str, Any]] = ()) -> Iterator[tuple[dict[str, Any], float]]:
    """Ask/tell ``opt`` with the driver's rules until ``budget`` distinct architectures are
    evaluated (a repeat is told its loss again, 200 repeats in a row stop); yields each
    new ``(arch, valid_acc_12ep)``. ``first`` are evaluated before the optimizer's own
    proposals (told as not asked)."""
    objective = bench.objective(dataset)
    seen: dict[str, float] = {}
    queue, repeats = list(first), 0
    while len(seen) < budget and repeats < MAX_REPEATS:
        if queue:
            arch = bench.space.validate(queue.pop(0))
            candidate = opt.parametrization.spawn_child(new_value=arch)
        else:
            candidate = opt.ask()
            arch = bench.space.validate(candidate.value)
        key = arch_key(arch)
        if key in seen:
            opt.tell(candidate, seen[key])
            repeats += 1
            continue
        repeats = 0
        valid = objective(arch)["valid_acc_12ep"]
        seen[key] = -valid
        opt.tell(candidate, -valid)
        yield arch, valid


def trace(bench: NB201, dataset: str, strategy: str, budget: int, seed: int,
          priors: Sequence[Prior] = (), first: Sequence[dict[str, Any]] = ()
          ) -> list[tuple[float, float]]:
    """One search of ``dataset``; after each distinct evaluation, the chosen architecture's
    ``(test_acc_200ep, valid_acc_12ep)``. ``priors`` are told first; ``first`` are
    architectures evaluated before the optimizer's own proposals (told as not asked)."""
    opt = make_optimizer(strategy, bench.space, budget, seed=seed)
    if priors:
        tell_priors(opt, list(priors))
    best: tuple[float, float] | None = None  # (valid, test) of the chosen
    out: list[tuple[float, float]] = []
    for arch, valid in evaluations(opt, bench, dataset, budget, first):
        if best is None or valid > best[0]:
            best = (valid, bench.lookup(arch, dataset)["test_acc_200ep"])
        out.append((best[1], best[0]))
    return out


_SOURCES: dict[tuple[NB201, str, int, int], list[Prior]] = {}


def _source(bench: NB201, dataset: str, budget: int, seed: int) -> list[Prior]:
    """The default strategy's results on the source: ``(arch, -valid, task)`` in order
    (computed once per table, data set, budget and seed)."""
    key = (bench, dataset, budget, seed)  # the table itself: an id could be reused
    if key not in _SOURCES:
        opt = make_optimizer(DEFAULT_OPTIMIZER, bench.space, budget, seed=seed)
        _SOURCES[key] = [(arch, -valid, dataset)
                         for arch, valid in evaluations(opt, bench, dataset, budget)]
    return _SOURCES[key]


def proxy_agreement(bench: NB201, source: str, target: str, seeds: Sequence[int],
                    source_budget: int = 100, k: int = 10) -> dict[str, Any]:
    """How well each search signal ranks the target's test accuracy among the source
    search's ``k`` best architectures (what the top-k-first baselines and a warm search
    choose among), per seed: Spearman of the target's ``valid_acc_12ep`` with its
    ``test_acc_200ep`` (``target_signal``), of the source's ``valid_acc_12ep`` with the
    target's ``test_acc_200ep`` (``source_signal``), and of the two validation accuracies
    (``signals``: what a search can see); and ``gap``, the target test accuracy of the
    source's best minus that of the ``k`` best's best by target validation. Means over the
    seeds (constant lists skipped), and the gap's standard error."""
    target_rho, source_rho, signals, gaps = [], [], [], []
    for seed in seeds:
        top = sorted(_source(bench, source, source_budget, seed), key=lambda p: p[1])[:k]
        valid = [bench.lookup(arch, target)["valid_acc_12ep"] for arch, _, _ in top]
        test = [bench.lookup(arch, target)["test_acc_200ep"] for arch, _, _ in top]
        target_rho.append(spearman(valid, test))
        source_rho.append(spearman([-loss for _, loss, _ in top], test))
        signals.append(spearman([-loss for _, loss, _ in top], valid))
        gaps.append(test[0] - test[max(range(len(top)), key=valid.__getitem__)])

    def mean(values: list[float]) -> float:  # nan when every list was constant
        kept = [v for v in values if v == v]
        return statistics.fmean(kept) if kept else float("nan")

    se = statistics.stdev(gaps) / len(gaps) ** 0.5 if len(gaps) > 1 else 0.0
    return {"k": k, "seeds": len(gaps), "target_signal": mean(target_rho),
            "source_signal": mean(source_rho), "signals": mean(signals),
            "gap": statistics.fmean(gaps), "gap_se": se}


def run_warm_benchmark(bench: NB201, source: str, target: str, seeds: Sequence[int],
                       budgets: Sequence[int], source_budget: int = 100,
                       top_k: Sequence[int] = (1, 5, 10), plain: str = "NGOpt"
                       ) -> dict[str, Any]:
    """Every method on every seed; per method and budget: test accuracy mean, std, the
    values (``tests``), the chosen's mean target valid accuracy and its values
    (``valids``), in seed order; ``seconds`` per method."""
    horizon = max(budgets)
    runs: dict[str, list[list[tuple[float, float]]]] = {}
    seconds: dict[str, float] = {}

    for seed in seeds:
        priors = _source(bench, source, source_budget, seed)
        ranked = [arch for arch, _, _ in sorted(priors, key=lambda p: p[1])]
        methods = {"warm": (DEFAULT_OPTIMIZER, priors, []), "cold": (DEFAULT_OPTIMIZER, [], []),
                   f"tell-all {plain}": (plain, priors, [])}
        methods.update({f"top-{k} first": (DEFAULT_OPTIMIZER, [], ranked[:k]) for k in top_k})
        for name, (strategy, told, first) in methods.items():
            t0 = time.perf_counter()
            runs.setdefault(name, []).append(
                trace(bench, target, strategy, horizon, seed, told, first))
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0
    out: dict[str, Any] = {}
    for name, traces in runs.items():
        out[name] = {"seconds": seconds[name]}
        for b in budgets:
            tests = [t[min(b, len(t)) - 1][0] for t in traces]
            valids = [t[min(b, len(t)) - 1][1] for t in traces]
            out[name][b] = {"mean": statistics.fmean(tests), "std": statistics.pstdev(tests),
                            "valid": statistics.fmean(valids), "tests": tests,
                            "valids": valids}
    return out


def pool_results(*results: dict[str, Any]) -> dict[str, Any]:
    """``run_warm_benchmark`` results of several seed sets as one (per method and budget,
    the values joined and mean, std and mean valid accuracy recomputed over them).

    Example:
        >>> a = {"warm": {"seconds": 1.0, 10: {"tests": [1.0], "valids": [2.0]}}}
        >>> b = {"warm": {"seconds": 2.0, 10: {"tests": [3.0, 5.0], "valids": [5.0, 5.0]}}}
        >>> pooled = pool_results(a, b)["warm"]
        >>> pooled[10]["mean"], pooled[10]["valid"], pooled["seconds"]
        (3.0, 4.0, 3.0)
    """
    out: dict[str, Any] = {}
    for name in results[0]:
        rows = [r[name] for r in results]
        out[name] = {"seconds": sum(r["seconds"] for r in rows)}
        for b in (k for k in rows[0] if k != "seconds"):
            tests = [t for r in rows for t in r[b]["tests"]]
            valids = [v for r in rows for v in r[b]["valids"]]
            out[name][b] = {"mean": statistics.fmean(tests), "std": statistics.pstdev(tests),
                            "valid": statistics.fmean(valids), "tests": tests,
                            "valids": valids}
    return out


def disagreements(results: dict[str, Any], other: str, budget: int) -> dict[str, Any]:
    """Where ``warm`` and ``other`` choose differently at ``budget``, paired by seed: how
    many seeds choose the same architecture, in how many warm's choice tests better or
    worse and validates higher (the target ``valid_acc_12ep`` both choose by), and the
    distinct pairs of choices (an architecture is known by its target
    ``(test_acc_200ep, valid_acc_12ep)``) with their seeds and their share of the mean
    difference, largest first. Seeds are not independent draws here: many reach the same
    pair, so a few pairs can carry the whole difference.

    Example:
        >>> r = {"warm": {10: {"tests": [72.0, 71.0, 71.0], "valids": [60.0, 59.0, 59.0]}},
        ...      "top-1 first": {10: {"tests": [72.0, 72.0, 72.0], "valids": [60.0] * 3}}}
        >>> d = disagreements(r, "top-1 first", 10)
        >>> d["same"], d["worse"], d["pairs"][0]["seeds"], d["pairs"][0]["share"]
        (1, 2, 2, -0.6666666666666666)
    """
    warm, them = results["warm"][budget], results[other][budget]
    seeds = len(warm["tests"])
    pairs: dict[tuple[float, ...], int] = {}
    for w, wv, o, ov in zip(warm["tests"], warm["valids"], them["tests"], them["valids"],
                            strict=True):
        if (w, wv) != (o, ov):
            pairs[(w, wv, o, ov)] = pairs.get((w, wv, o, ov), 0) + 1
    diffs = [w - o for w, o in zip(warm["tests"], them["tests"], strict=True)]
    rows = [{"warm": [w, wv], "other": [o, ov], "seeds": n, "share": (w - o) * n / seeds}
            for (w, wv, o, ov), n in pairs.items()]
    rows.sort(key=lambda r: -abs(r["share"]))
    return {"other": other, "budget": budget, "seeds": seeds,
            "same": seeds - sum(pairs.values()), "better": sum(d > 0 for d in diffs),
            "worse": sum(d < 0 for d in diffs),
            "higher_valid": sum(w > o for w, o in zip(warm["valids"], them["valids"],
                                                      strict=True)),
            "mean": statistics.fmean(diffs), "pairs": rows}


def warm_table(results: dict[str, Any], budgets: Sequence[int], label: str) -> str:
    """Methods by row, budgets by column: ``mean ± std`` of the test accuracy (and, in
    brackets, the chosen's mean target valid accuracy)."""
    lines = [f"{label}: test_acc_200ep of the chosen, mean ± std [mean valid_acc_12ep]",
             f"{'method':<22}" + "".join(f"{'budget ' + str(b):>24}" for b in budgets)]
    for name, r in results.items():
        lines.append(f"{name:<22}" + "".join(
            f"{r[b]['mean']:>10.2f} ± {r[b]['std']:<4.2f} [{r[b]['valid']:5.2f}]"
            for b in budgets))
    warm = results["warm"]
    lines.append("warm minus each method, paired by seed: mean difference ± its standard error")
    for name, r in results.items():
        if name == "warm":
            continue
        cells = []
        for b in budgets:
            diffs = [w - o for w, o in zip(warm[b]["tests"], r[b]["tests"], strict=True)]
            se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else 0.0
            cells.append(f"{statistics.fmean(diffs):>+10.3f} ± {se:<5.3f}  ")
        lines.append(f"{'- ' + name:<22}" + "".join(f"{c:>24}" for c in cells))
    return "\n".join(lines)


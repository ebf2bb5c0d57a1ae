"""The spread of a repeated benchmark figure: median, range, mean, std and n.

Every benchmark in this folder repeats its measurement (rounds or seeds) and prints each
headline figure as ``median [min, max]  mean ± std  (n=...)``; its JSON line keeps the
headline name for the central value (so earlier figures stay comparable) and adds
``<name>_spread`` with the whole summary.

Example:
    >>> s = spread([1.0, 3.0, 2.0])
    >>> s["median"], s["min"], s["max"], s["n"]
    (2.0, 1.0, 3.0, 3)
    >>> describe("ratio", [1.0, 3.0, 2.0], digits=2)
    'ratio: median 2.00 [1.00, 3.00]  mean 2.00 ± 1.00  (n=3)'
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["HELDOUT_SEEDS", "SEED_FORMS", "alternating_rounds", "check_arguments",
           "check_python", "check_test_fraction", "describe", "heldout_seeds", "not_a_script",
           "over_seeds", "parse_seeds", "quick_defaults", "report_figures", "run_json",
           "same_trials", "spearman", "spread"]

#: what a seed list may be, as a usage error says it
SEED_FORMS = ("give a count of at least 1 (30), a range low-high (100-129) or seeds and "
              "ranges joined by commas (0,5,100-129)")


def spread(values: Sequence[float], digits: int = 4) -> dict[str, float | int]:
    """``median``, ``min``, ``max``, ``mean``, ``std`` (sample std, 0 for one value) and
    ``n`` of ``values``, rounded to ``digits``."""
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("spread of no values")
    std = statistics.stdev(vals) if len(vals) > 1 else 0.0
    out: dict[str, float | int] = {
        k: round(v, digits) for k, v in (("median", statistics.median(vals)),
                                         ("min", min(vals)), ("max", max(vals)),
                                         ("mean", statistics.fmean(vals)), ("std", std))}
    out["n"] = len(vals)
    return out


def describe(name: str, values: Sequence[float], digits: int = 3, unit: str = "") -> str:
    """One line: ``name: median M [min, max]  mean m ± s  (n=N)``."""
    s = spread(values, digits + 2)
    f = f"{{:.{digits}f}}{unit}"
    return (f"{name}: median {f.format(s['median'])} [{f.format(s['min'])}, "
            f"{f.format(s['max'])}]  mean {f.format(s['mean'])} ± {f.format(s['std'])}  "
            f"(n={s['n']})")


def report_figures(figures: Mapping[str, Sequence[float]], digits: int = 2) -> dict[str, Any]:
    """Print each figure's ``describe`` line, then the JSON summary (each figure's median,
    and its ``spread`` as ``NAME_spread``), and return that summary.

    Example:
        >>> summary = report_figures({"wall": [1.0, 3.0]})  # doctest: +ELLIPSIS
        wall: median 2.00 [1.00, 3.00]  mean 2.00 ± 1.41  (n=2)
        {"wall": 2.0, "wall_spread": {...}}
        >>> summary["wall"]
        2.0
    """
    for name, values in figures.items():
        print(describe(name, values, digits=digits))
    summary: dict[str, Any] = {}
    for name, values in figures.items():
        summary[name] = spread(values)["median"]
        summary[f"{name}_spread"] = spread(values)
    print(json.dumps(summary))
    return summary


def alternating_rounds(rounds: int,
                       run_side: Callable[[str, Path], Mapping[str, float]]) -> dict[str, Any]:
    """Measure two sides, ``old`` and ``new``, ``rounds`` times each, the one that goes first
    alternating (old then new, new then old, ...) so that a drift of the machine falls on
    both alike: ``run_side(side, folder)`` (a fresh folder of its own under a temporary
    one) gives its figures; each round's are printed as they come, then ``report_figures``
    of each ``SIDE_FIGURE``.

    Example:
        >>> summary = alternating_rounds(2, lambda side, folder: {"wall": len(side)})
        ... # doctest: +ELLIPSIS
        round 0 old: wall 3.00
        round 0 new: wall 3.00
        round 1 new: wall 3.00
        round 1 old: wall 3.00
        old_wall: ...
        >>> summary["new_wall"]
        3.0
    """
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for side in (("old", "new") if r % 2 == 0 else ("new", "old")):
                got = run_side(side, Path(tmp, f"{side}{r}"))
                for key, value in got.items():
                    figures.setdefault(f"{side}_{key}", []).append(value)
                print(f"round {r} {side}: " + ", ".join(
                    f"{k} {v:.2f}" for k, v in got.items()), flush=True)
    return report_figures(figures)


def run_json(argv: Sequence[str], env: Mapping[str, str], what: str) -> dict[str, Any]:
    """Run ``argv`` (a benchmark's own process for one side or round) with ``env`` and
    return the JSON object its last line of stdout prints; exit naming ``what`` with the
    end of its stderr where it fails.

    Example:
        >>> import os, sys
        >>> run_json([sys.executable, "-c", "print('{\\"x\\": 1}')"], os.environ, "x")
        {'x': 1}
    """
    out = subprocess.run(list(argv), env=dict(env), capture_output=True, text=True,
                         check=False)
    if out.returncode:
        raise SystemExit(f"{what} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def same_trials(one: Sequence[tuple[dict, float | None]],
                other: Sequence[tuple[dict, float | None]], sides: tuple[str, str]) -> str:
    """The line that says two sides of a comparison trained the same architectures, in the
    same order, to the same scores (each side's trials as ``(arch, score)`` in the order
    proposed; ``sides`` names them), or ``SystemExit`` naming the first trial that differs:
    the comparison is void then (every trial is seeded, so two sides that train alike
    score alike, to the last bit).

    Example:
        >>> same_trials([({"width": 16}, 0.75)], [({"width": 16}, 0.75)], ("one", "other"))
        'same trials on both sides: 1 architecture in the same order, the same scores'
        >>> same_trials([({"width": 16}, 0.75)], [({"width": 32}, 0.5)], ("one", "other"))
        Traceback (most recent call last):
        ...
        SystemExit: the two sides' trials differ: trial 1: one {'width': 16} scored 0.75, ...
    """
    from lightning_nas.wording import counted  # plain text, no training stack

    name, other_name = sides
    if len(one) != len(other):
        raise SystemExit(f"the two sides' trials differ: {name} ran {len(one)} trials, "
                         f"{other_name} {len(other)}")
    for number, (mine, theirs) in enumerate(zip(one, other, strict=True), start=1):
        if tuple(mine) != tuple(theirs):
            raise SystemExit(f"the two sides' trials differ: trial {number}: {name} "
                             f"{mine[0]} scored {mine[1]}, {other_name} {theirs[0]} scored "
                             f"{theirs[1]}")
    return (f"same trials on both sides: {counted(len(one), 'architecture')} in the same "
            f"order, the same scores")


def over_seeds(n: int, settings: str) -> str:
    """The header of a script's spreads: ``over 1 seed (...)``, ``over 5 seeds (...)``.

    Example:
        >>> over_seeds(1, "budget 4")
        'over 1 seed (budget 4):'
    """
    from lightning_nas.wording import counted  # plain text, no training stack

    return f"over {counted(n, 'seed')} ({settings}):"


def parse_seeds(text: str, start: int = 0) -> list[int]:
    """Seeds from ``"30"`` (``start .. start+29``), ``"100-129"`` (inclusive), ``"0,5,7"``
    or ranges and seeds joined by commas (``"100-129,200-299"``).

    Raises:
        ValueError: for a count below 1, an empty range (``"5-2"``), a list of no seed
            (``","``) or text that is none of the forms.

    Example:
        >>> parse_seeds("3"), parse_seeds("3", start=100), parse_seeds("100-102")
        ([0, 1, 2], [100, 101, 102], [100, 101, 102])
        >>> parse_seeds("1-2,7")
        [1, 2, 7]
    """
    seeds = _parsed_seeds(str(text).strip(), start)
    if min(seeds) < 0:  # was: taken, and numpy's default_rng(-1) raised inside a run
        raise ValueError(f"seeds must be at least 0 (numpy and nevergrad take none below), "
                         f"got {min(seeds)} in {str(text).strip()!r}")
    return seeds


def _parsed_seeds(text: str, start: int) -> list[int]:
    """``parse_seeds`` before its check that every seed is at least 0."""
    try:
        if "," in text:
            seeds = [seed for part in text.split(",") if part.strip()
                     for seed in (_parsed_seeds(part.strip(), 0)
                                  if "-" in part.strip().lstrip("-")
                                  else [int(part)])]
            if not seeds:  # was: no seed at all, and a StatisticsError after every run
                raise ValueError(f"no seeds in {text!r}")
            return seeds
        if "-" in text.lstrip("-"):
            lo, hi = (int(s) for s in text.split("-", 1))
            if hi < lo:
                raise ValueError(f"empty seed range {text!r}")
            return list(range(lo, hi + 1))
        count = int(text)
    except ValueError as err:
        if "invalid literal" not in str(err):
            raise
        raise ValueError(f"{text!r} is not a count, a range or seeds and ranges joined by "
                         f"commas") from None
    if count < 1:
        raise ValueError(f"a count of seeds must be at least 1, got {text!r}")
    return list(range(start, start + count))


#: the default held-out seeds of ``nb201.py`` and ``small_space.py``, which their defaults
#: were not tuned on (they were chosen on seeds 0-29)
HELDOUT_SEEDS = "100-129"


def heldout_seeds(given: str | None, seeds: Sequence[int], seeds_text: str
                  ) -> tuple[list[int], str]:
    """The held-out seeds to run beside ``seeds`` and a note to print (or ``""``): those
    ``given`` (``""``: none), or by default ``HELDOUT_SEEDS``, unless ``seeds`` (given as
    ``seeds_text``) names some of them: then none, and the note says so (was: those seeds
    ran twice, once as held out).

    Example:
        >>> heldout_seeds(None, [0, 1], "2")[0][:2], heldout_seeds("", [0], "1")
        ([100, 101], ([], ''))
        >>> heldout_seeds(None, [100], "100")[1].split(":")[0]
        'held-out seeds 100-129 left out'
    """
    if given is not None:
        return (parse_seeds(given) if given else []), ""
    default = parse_seeds(HELDOUT_SEEDS)
    if set(default) & set(seeds):
        return [], (f"held-out seeds {HELDOUT_SEEDS} left out: --seeds {seeds_text} names some "
                    f"of them (--heldout_seeds runs others)")
    return default, ""


def _is_count(text: str) -> bool:
    """Whether a seed list is a count (``"30"``), not a range or a comma list."""
    return "," not in text and "-" not in text.strip().lstrip("-")


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace,
                    least: Mapping[str, int] | None = None, seeds: Sequence[str] = (),
                    none_if_empty: Sequence[str] = ()) -> None:
    """Check a script's counts and seed lists right after ``parse_args``, before any run
    (and before ``--quick`` or a default fills one in): the first bad one is argparse's
    usage error (exit status 2) naming the flag, its value and what it must be (was: 0
    taken as "the default", a traceback, or ``--seed_start`` ignored).

    Args:
        parser: the script's parser (its ``error`` says what is wrong).
        args: what it parsed.
        least: flag -> the least value it takes (``{"--rounds": 1}``); a flag left at a
            ``None`` default passes.
        seeds: the flags of seed lists (``parse_seeds``); a ``None`` one passes. With
            ``--seeds`` among them, a ``--seed_start`` that was given (not ``None``) needs
            ``--seeds`` to be a count: a range or a list has its own first seed.
        none_if_empty: those of ``seeds`` whose ``''`` means no seeds at all.

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser(prog="bench")
        >>> _ = parser.add_argument("--rounds", type=int, default=None)
        >>> check_arguments(parser, parser.parse_args(["--rounds", "2"]), {"--rounds": 1})
        >>> check_arguments(parser, parser.parse_args(["--rounds", "0"]), {"--rounds": 1})
        Traceback (most recent call last):
        SystemExit: 2
    """
    def value(flag: str) -> Any:
        return getattr(args, flag.lstrip("-").replace("-", "_"))

    for flag, low in (least or {}).items():
        if value(flag) is not None and value(flag) < low:
            parser.error(f"{flag} must be at least {low}, got {value(flag)}")
    for flag in seeds:
        text = value(flag)
        if text is None or (text == "" and flag in none_if_empty):
            continue
        try:
            parse_seeds(text)
        except ValueError as err:
            parser.error(f"{flag} {text}: {err}; {SEED_FORMS}")
    start = getattr(args, "seed_start", None)
    if start is not None and start < 0:  # was: seeds from -1 ran (and numpy refused them)
        parser.error(f"--seed_start must be at least 0, got {start}")
    if ("--seeds" in seeds and start is not None and value("--seeds") is not None
            and not _is_count(value("--seeds"))):
        parser.error(f"--seed_start {start} goes only with a count of --seeds, not with "
                     f"{value('--seeds')!r}: leave --seed_start out (the list names its own "
                     f"seeds) or give --seeds as a count")


def check_test_fraction(parser: argparse.ArgumentParser, fraction: float) -> None:
    """Refuse, as argparse's usage error before any run, a ``--test_fraction`` that
    ``DigitsDataModule`` refuses or that holds out no digit: both sides of ``oneshot.py``
    and ``multifidelity.py`` are scored on that test split after their training (was: a
    ``RuntimeError`` there, every training of the first seed, or the warm-up's, lost).

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser(prog="bench")
        >>> check_test_fraction(parser, 0.2)
        >>> check_test_fraction(parser, 0.0)
        Traceback (most recent call last):
        SystemExit: 2
    """
    from examples.digits.data import DigitsDataModule  # the data of both scripts

    try:
        data = DigitsDataModule(test_fraction=fraction)
    except ValueError as err:
        parser.error(f"--test_fraction {fraction}: {err}")
    data.setup()
    if data.test_set is None:
        parser.error(f"--test_fraction {fraction} holds out no digit: the test split both sides "
                     f"are scored on needs at least one (the default 0.2 holds out 359 of the "
                     f"1797)")


def check_python(parser: argparse.ArgumentParser, flag: str, python: str, module: str,
                 fix: str) -> None:
    """Refuse, as argparse's usage error before any run, an interpreter given by ``flag``
    that cannot import ``module`` (or does not start), naming it, why and ``fix`` (was:
    in ``small_space.py``, a ``RuntimeError`` or a ``FileNotFoundError`` once the other
    half's runs were done).

    Example:
        >>> import argparse, sys
        >>> check_python(argparse.ArgumentParser(prog="bench"), "--py", sys.executable,
        ...              "json", "give another")
        >>> check_python(argparse.ArgumentParser(prog="bench"), "--py", "/nonexistent/py",
        ...              "json", "give another")
        Traceback (most recent call last):
        SystemExit: 2
    """
    try:
        probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True,
                               text=True)
    except OSError as err:
        probe = subprocess.CompletedProcess([python], 1, "", str(err))
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["no reason given"])[-1]
        parser.error(f"{flag} {python} cannot import {module} ({why}): {fix}")


def quick_defaults(parser: argparse.ArgumentParser, args: argparse.Namespace,
                   argv: Sequence[str] | None, values: Mapping[str, Any]) -> None:
    """With ``--quick``, set each of ``values`` (a ``dest`` -> its quick value) on ``args``
    unless its flag was given: an explicit ``--trials 5`` beside ``--quick`` wins (was:
    ``--quick`` silently replaced it). Which flags were given is read by parsing ``argv``
    again into a namespace that already holds a marker for each (argparse sets a default
    only where the namespace has none).

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser(prog="bench")
        >>> _ = parser.add_argument("--trials", type=int, default=20)
        >>> _ = parser.add_argument("--epochs", type=int, default=2)
        >>> _ = parser.add_argument("--quick", action="store_true")
        >>> args = parser.parse_args(["--quick", "--trials", "5"])
        >>> quick_defaults(parser, args, ["--quick", "--trials", "5"], {"trials": 3, "epochs": 1})
        >>> args.trials, args.epochs
        (5, 1)
    """
    if not getattr(args, "quick", False):
        return
    marker = object()
    probe = parser.parse_args(argv, argparse.Namespace(**dict.fromkeys(values, marker)))
    for dest, value in values.items():
        if getattr(probe, dest) is marker:
            setattr(args, dest, value)


def _ranks(values: list[float]) -> list[float]:
    """Ranks (1 = smallest), ties sharing their mean rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (ties: mean ranks); nan when a side is constant.

    Example:
        >>> spearman([1, 2, 3], [10, 30, 20]), spearman([1, 2, 3], [3, 2, 1])
        (0.5, -1.0)
    """
    ra, rb = _ranks(a), _ranks(b)
    ma, mb = statistics.fmean(ra), statistics.fmean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    var = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return cov / var if var else float("nan")


def not_a_script(how: str) -> None:
    """What a helper module of the benchmarks does when run as a script: ``--help`` prints
    ``how`` (what runs it instead), anything else exits with it (status 1).

    Example:
        >>> not_a_script("run benchmarks/overhead.py")  # doctest: +SKIP
    """
    import sys

    if sys.argv[1:] in (["-h"], ["--help"]):
        print(how)
    else:
        sys.exit(how)


if __name__ == "__main__":  # was: nothing at all, exit status 0
    not_a_script("benchmarks/spread.py holds the helpers imported by the benchmark scripts "
                 "(the spread of a repeated figure, seed lists, Spearman, the check that two "
                 "sides trained the same trials); nothing to run: run a script, e.g. "
                 "`python benchmarks/overhead.py --help`")

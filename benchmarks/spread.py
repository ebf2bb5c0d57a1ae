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

import statistics
from collections.abc import Sequence

__all__ = ["describe", "parse_seeds", "spread"]


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


def parse_seeds(text: str, start: int = 0) -> list[int]:
    """Seeds from ``"30"`` (``start .. start+29``), ``"100-129"`` (inclusive), ``"0,5,7"``
    or ranges and seeds joined by commas (``"100-129,200-299"``).

    Example:
        >>> parse_seeds("3"), parse_seeds("3", start=100), parse_seeds("100-102")
        ([0, 1, 2], [100, 101, 102], [100, 101, 102])
        >>> parse_seeds("1-2,7")
        [1, 2, 7]
    """
    text = str(text).strip()
    if "," in text:
        return [seed for part in text.split(",") if part.strip()
                for seed in (parse_seeds(part) if "-" in part.strip().lstrip("-")
                             else [int(part)])]
    if "-" in text.lstrip("-"):
        lo, hi = (int(s) for s in text.split("-", 1))
        if hi < lo:
            raise ValueError(f"empty seed range {text!r}")
        return list(range(lo, hi + 1))
    count = int(text)
    if count < 1:
        raise ValueError(f"need at least one seed, got {text!r}")
    return list(range(start, start + count))

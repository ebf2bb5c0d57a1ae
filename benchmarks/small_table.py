"""The small categorical tables of ``benchmarks/small_space.py``: every architecture of a
small space with its search signal (``val_acc``) and a held-out ``test_acc``, read from a
CSV (``benchmarks/digits_space.csv``, built by ``benchmarks/digits_space.py``) or taken
from NAS-Bench-201 (``nb201_table``: a subspace of a few operations on every edge).

Standard library only at the top: ``small_space.py --tpe-only`` imports it in an
interpreter that may have optuna but not this package.

Example:
    >>> table = Table({"w": [8, 16]}, {(8,): (0.5, 0.4), (16,): (0.7, 0.6)})
    >>> table.rank((16,)), table.rank((8,)), table.best_ties()
    (1, 2, 1)
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["METRIC_COLUMNS", "NB201_OPS", "Key", "Table", "nb201_table"]

#: columns of a table that are not knobs
METRIC_COLUMNS = ("index", "val_acc", "test_acc", "params", "seconds")
NB201_OPS = ("nor_conv_3x3", "nor_conv_1x1", "skip_connect")

Key = tuple[Any, ...]


def _parse(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class Table:
    """Every architecture of a small categorical space with its ``val_acc`` (the search
    signal) and ``test_acc``; the space is the product of each knob's values and the
    table must hold every architecture of it.

    Args:
        knobs: knob name -> its values (numbers sorted, else in order of appearance).
        rows: architecture key (the knobs' values in ``knobs``' order) -> (val, test).
        name: what the table is called in the printout.
    """

    def __init__(self, knobs: dict[str, list[Any]], rows: dict[Key, tuple[float, float]],
                 name: str = "table") -> None:
        self.knobs, self.rows, self.name = knobs, rows, name
        size = math.prod(len(v) for v in knobs.values())
        if len(rows) != size:
            raise ValueError(f"{name}: {len(rows)} architectures, but its knobs' values make "
                             f"{size}: a table must hold the whole product (digits_space.py "
                             f"--limit K builds one for K = 1, 2, 4, 8, 16, 24, 48, 72, 144, "
                             f"288 or 432)")
        self._sorted = sorted(v for v, _ in rows.values())

    @classmethod
    def from_csv(cls, path: str | Path) -> Table:
        """A table from a CSV with ``val_acc``, ``test_acc`` and knob columns (every column
        not in ``METRIC_COLUMNS`` is a knob)."""
        path = Path(path)
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            fields = list(reader.fieldnames or ())
            missing = {"val_acc", "test_acc"} - set(fields)
            if missing:
                raise ValueError(f"{path}: missing columns {sorted(missing)}")
            names = [c for c in fields if c not in METRIC_COLUMNS]
            values: dict[str, list[Any]] = {n: [] for n in names}
            rows: dict[Key, tuple[float, float]] = {}
            for row in reader:
                key = tuple(_parse(row[n]) for n in names)
                for n, v in zip(names, key, strict=True):
                    if v not in values[n]:
                        values[n].append(v)
                if key in rows:
                    raise ValueError(f"{path}: architecture {key} listed twice")
                rows[key] = (float(row["val_acc"]), float(row["test_acc"]))
        for vals in values.values():
            if all(isinstance(v, int | float) for v in vals):
                vals.sort()
        return cls(values, rows, path.name)

    def to_csv(self, path: str | Path) -> None:
        """Write the table in the format ``from_csv`` reads."""
        with Path(path).open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["index", *self.knobs, "val_acc", "test_acc"])
            for i, (key, (val, test)) in enumerate(self.rows.items()):
                writer.writerow([i, *key, repr(val), repr(test)])

    def __len__(self) -> int:
        return len(self.rows)

    def key(self, arch: dict[str, Any]) -> Key:
        """The key of an architecture dict."""
        return tuple(arch[n] for n in self.knobs)

    def val(self, key: Key) -> float:
        return self.rows[key][0]

    def test(self, key: Key) -> float:
        return self.rows[key][1]

    def rank(self, key: Key) -> int:
        """1 + the number of architectures with a strictly higher ``val_acc``."""
        return 1 + len(self._sorted) - bisect.bisect_right(self._sorted, self.val(key))

    def space_dict(self, ordered: bool = False) -> dict[str, Any]:
        """``SearchSpace.from_dict``'s spec: every knob a ``choice`` (``ordered``: numeric
        knobs ``ordered``); a knob of one value (a sub-table) is ``fixed``."""
        def spec(vals: list[Any]) -> dict[str, Any]:
            if len(vals) == 1:
                return {"fixed": vals[0]}
            numeric = all(isinstance(v, int | float) for v in vals)
            return {"ordered" if ordered and numeric else "choice": list(vals)}
        return {n: spec(vals) for n, vals in self.knobs.items()}

    def best_ties(self) -> int:
        """How many architectures share the best ``val_acc``."""
        return len(self._sorted) - bisect.bisect_left(self._sorted, self._sorted[-1])




def nb201_table(path: str | None = None, dataset: str = "cifar10",
                ops: Sequence[str] = NB201_OPS) -> Table:
    """The NB201 subspace of ``ops`` on every edge: ``valid_acc_12ep`` as ``val_acc`` and
    ``test_acc_200ep`` as ``test_acc`` of ``dataset``."""
    import itertools

    from lightning_nas.benchmarks.nb201 import EDGES, NB201

    bench = NB201(path)
    rows = {}
    for key in itertools.product(ops, repeat=len(EDGES)):
        m = bench.lookup(dict(zip(EDGES, key, strict=True)), dataset)
        rows[key] = (m["valid_acc_12ep"], m["test_acc_200ep"])
    return Table({e: list(ops) for e in EDGES}, rows,
                 f"NB201 {dataset} subspace {{{', '.join(ops)}}}^6")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.spread import not_a_script

    not_a_script("benchmarks/small_table.py holds the tables of benchmarks/small_space.py; "
                 "run `python benchmarks/small_space.py --help`")

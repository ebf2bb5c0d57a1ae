"""NAS-Bench-201 as a tabular benchmark: its space, arch <-> NB201 string, a lookup objective.

The table is a CSV with one row per NB201 cell (15,625), e.g. the offline file described in
``benchmarks/README`` of the shared data: columns ``index``, ``arch`` (the NB201 string
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``), ``<dataset>_valid_acc_12ep``,
``<dataset>_test_acc_12ep``, ``<dataset>_test_acc_200ep``, ``params_m_<dataset>`` and
``flops_m_<dataset>`` for the datasets ``cifar10``, ``cifar100`` and ``imagenet16``
(ImageNet16-120). It is read with the ``csv`` module: no pandas needed.

An architecture is a dict of the six edges of the cell, named ``edge_<to>_<from>`` in the
order of the NB201 string, each one of ``OPS``. The search signal is the 12-epoch
validation accuracy (what the NB201 paper's baselines searched on); what is reported is
the 200-epoch test accuracy of the architecture chosen.

A benchmark search goes through the ordinary driver, store and resume: the objective is a
``Search(objective=...)`` function objective, so each lookup is a trial stored in the run
directory's SQLite file. The objective returns only what a real search may see: the search
signal (``valid_acc_12ep``) and the costs (``params_m``, ``flops_m``); the test accuracies
are looked up with ``NB201.lookup`` after the search.

Example:
    >>> from lightning_nas.benchmarks.nb201 import NB201, arch_to_str, str_to_arch
    >>> arch = str_to_arch("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+"
    ...                    "|skip_connect~0|none~1|skip_connect~2|")
    >>> arch["edge_1_0"], arch["edge_3_2"]
    ('nor_conv_3x3', 'skip_connect')
    >>> str_to_arch(arch_to_str(arch)) == arch
    True
    >>> bench = NB201()  # doctest: +SKIP
    >>> bench.lookup(arch, "cifar10")["test_acc_200ep"]  # doctest: +SKIP
    93.91
    >>> from lightning_nas import Search  # doctest: +SKIP
    >>> result = Search(None, bench.space, objective=bench.objective("cifar10"),
    ...                 monitor="valid_acc_12ep", optimizer="SurrogateEvolution",
    ...                 budget=100, run_dir="runs/nb201").run()  # doctest: +SKIP
    >>> bench.lookup(result.best.arch, "cifar10")["test_acc_200ep"]  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning_nas.errors import ConfigError, SpaceError
from lightning_nas.run_folder import user_path
from lightning_nas.space import Choice, SearchSpace
from lightning_nas.wording import counted

__all__ = [
    "COSTS",
    "DATASETS",
    "EDGES",
    "METRICS",
    "NB201",
    "OBJECTIVE_METRICS",
    "OPS",
    "NB201Objective",
    "SIGNAL",
    "TABLE_ENV",
    "arch_to_str",
    "check_table",
    "default_table",
    "find_table",
    "nb201_space",
    "str_to_arch",
]

#: the five operations of an edge
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: (to node, from node) of the six edges, in the order of the NB201 string
_EDGE_NODES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
#: the architecture keys, in the order of the NB201 string
EDGES = tuple(f"edge_{to}_{src}" for to, src in _EDGE_NODES)
#: dataset names of the table (``ImageNet16-120`` is ``imagenet16``)
DATASETS = ("cifar10", "cifar100", "imagenet16")
#: the table's columns of one dataset (what ``NB201.lookup`` returns, with ``index``)
METRICS = ("valid_acc_12ep", "test_acc_12ep", "test_acc_200ep", "params_m", "flops_m")
#: the search signal: the one accuracy a search may see
SIGNAL = "valid_acc_12ep"
#: the costs of a cell, which a search may see too (constraints, several objectives)
COSTS = ("params_m", "flops_m")
#: what ``NB201Objective`` returns: the search signal and the costs, nothing else
OBJECTIVE_METRICS = (SIGNAL, *COSTS)
_ALIASES = {"imagenet16-120": "imagenet16", "imagenet": "imagenet16", "cifar-10": "cifar10",
            "cifar-100": "cifar100"}


def nb201_space() -> SearchSpace:
    """The NB201 cell space: six ``choice`` parameters over ``OPS`` (15,625 cells).

    Example:
        >>> int(nb201_space().size())
        15625
    """
    return SearchSpace({edge: Choice(list(OPS)) for edge in EDGES})


def arch_to_str(arch: Mapping[str, Any]) -> str:
    """The NB201 string of an architecture.

    Example:
        >>> arch_to_str({e: "none" for e in EDGES})
        '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|'
    """
    ops = []
    for edge, (to, src) in zip(EDGES, _EDGE_NODES, strict=True):
        op = arch[edge]
        if op not in OPS:
            raise SpaceError(f"{edge}={op!r} is not an NB201 operation; expected one of {OPS}")
        ops.append((to, f"{op}~{src}"))
    nodes = ["|" + "|".join(o for t, o in ops if t == to) + "|" for to in (1, 2, 3)]
    return "+".join(nodes)


def str_to_arch(text: str) -> dict[str, str]:
    """The architecture of an NB201 string.

    Raises:
        SpaceError: naming what does not fit the NB201 format.

    Example:
        >>> str_to_arch("|none~0|+|none~0|none~1|+|none~0|none~1|avg_pool_3x3~2|")["edge_3_2"]
        'avg_pool_3x3'
    """
    nodes = text.strip().split("+")
    if len(nodes) != 3:
        raise SpaceError(f"an NB201 string has 3 nodes separated by '+', got {text!r}")
    arch: dict[str, str] = {}
    for to, node in enumerate(nodes, start=1):
        parts = [p for p in node.strip("|").split("|")]
        if len(parts) != to:
            raise SpaceError(f"node {to} of {text!r} must have {counted(to, 'edge')}, got "
                             f"{node!r}")
        for src, part in enumerate(parts):
            op, _, source = part.partition("~")
            if op not in OPS or source != str(src):
                raise SpaceError(f"bad edge {part!r} in {text!r}: expected <op>~{src} with op "
                                 f"one of {OPS}")
            arch[f"edge_{to}_{src}"] = op
    return {edge: arch[edge] for edge in EDGES}


def _dataset(name: str) -> str:
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in DATASETS:
        raise ConfigError(f"unknown NB201 dataset {name!r}; choose one of {DATASETS}")
    return key


#: the environment variable that names the table
TABLE_ENV = "LIGHTNING_NAS_NB201"


def default_table() -> Path:
    """``shared/benchmarks/nb201.csv`` in the folder that holds this repository."""
    return Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "nb201.csv"


def find_table(path: str | os.PathLike | None = None) -> Path:
    """The NB201 table: ``path`` if given, else ``$LIGHTNING_NAS_NB201``, else
    ``default_table()``.

    Raises:
        FileNotFoundError: naming the place looked at and which of the three named it
            (the first given: no other is tried), and how to point at the table.
    """
    given = path or os.environ.get(TABLE_ENV)
    place = user_path(given or default_table())
    if place.is_file():
        return place
    source = ("the path given" if path else f"from ${TABLE_ENV}" if given else
              "the default place, next to the repository")  # (was: not said)
    raise FileNotFoundError(f"no NB201 table at {place} ({source}); pass its path (--table "
                            f"PATH) or set {TABLE_ENV} (see the README: NAS strategies and "
                            f"NAS-Bench-201)")


def _check_columns(path: Path, columns: list[str] | None) -> None:
    """A ``ConfigError`` naming the NB201 columns the header of ``path`` lacks, if any."""
    need = {"index", "arch"} | {f"{d}_{SIGNAL}" for d in DATASETS}
    missing = need - set(columns or ())
    if missing:
        raise ConfigError(f"{path} is not an NB201 table: missing columns {sorted(missing)}; "
                          f"it needs the columns index, arch and <dataset>_{SIGNAL} for "
                          f"every dataset of {DATASETS} (see the README: NAS strategies and "
                          f"NAS-Bench-201)")


def check_table(path: str | os.PathLike | None = None) -> Path:
    """``find_table(path)``, its header checked (not its rows): what a script checks before
    it runs.

    Raises:
        FileNotFoundError: as ``find_table``.
        ConfigError: naming the NB201 columns the table lacks.

    Example:
        >>> check_table("results.csv")  # doctest: +SKIP
        Traceback (most recent call last):
        ConfigError: results.csv is not an NB201 table: missing columns [...]; it needs ...
    """
    place = find_table(path)
    with place.open(newline="") as f:
        _check_columns(place, next(csv.reader(f), None))
    return place


class NB201:
    """The NB201 table, loaded from a CSV file.

    Args:
        path: the CSV file (default: ``find_table()``: ``$LIGHTNING_NAS_NB201``, else
            ``shared/benchmarks/nb201.csv`` beside the repository).

    Example:
        >>> bench = NB201()  # doctest: +SKIP
        >>> len(bench), bench.index(bench.arch(6111))  # doctest: +SKIP
        (15625, 6111)
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = find_table(path)
        self.space = nb201_space()
        self._rows: dict[str, dict[str, float]] = {}  # NB201 string -> numeric columns
        self._strings: dict[int, str] = {}
        with self.path.open(newline="") as f:
            reader = csv.DictReader(f)
            _check_columns(self.path, list(reader.fieldnames or ()))
            for row in reader:
                text = row.pop("arch")
                index = int(row.pop("index"))
                self._strings[index] = text
                self._rows[text] = {k: float(v) for k, v in row.items()}
                self._rows[text]["index"] = index

    def __len__(self) -> int:
        return len(self._rows)

    def arch(self, index: int) -> dict[str, str]:
        """The architecture of NB201 index ``index``."""
        return str_to_arch(self._strings[index])

    def index(self, arch: Mapping[str, Any] | str) -> int:
        """The NB201 index of an architecture (or of its NB201 string)."""
        return int(self._row(arch)["index"])

    def _row(self, arch: Mapping[str, Any] | str) -> dict[str, float]:
        text = arch if isinstance(arch, str) else arch_to_str(arch)
        try:
            return self._rows[text]
        except KeyError:
            raise SpaceError(f"{text!r} is not in {self.path}") from None

    def lookup(self, arch: Mapping[str, Any] | str, dataset: str = "cifar10") -> dict[str, float]:
        """The metrics of an architecture on ``dataset``: ``valid_acc_12ep``,
        ``test_acc_12ep``, ``test_acc_200ep`` (accuracies in %), ``params_m`` (millions),
        ``flops_m`` (MFLOPs), and ``index``.

        Args:
            arch: an architecture of ``nb201_space()``, or its NB201 string.
            dataset: ``cifar10``, ``cifar100`` or ``imagenet16`` (``DATASETS``; any case,
                aliases such as ``imagenet16-120`` too).

        Raises:
            SpaceError: ``arch`` is not in the table.
            ConfigError: an unknown ``dataset``, naming the valid ones.
        """
        ds, row = _dataset(dataset), self._row(arch)
        out = {m: row[f"{ds}_{m}"] for m in ("valid_acc_12ep", "test_acc_12ep",
                                             "test_acc_200ep")}
        out["params_m"], out["flops_m"] = row[f"params_m_{ds}"], row[f"flops_m_{ds}"]
        out["index"] = row["index"]
        return out

    def objective(self, dataset: str = "cifar10") -> NB201Objective:
        """A ``Search(objective=...)`` function: arch -> the search signal and the costs
        (``OBJECTIVE_METRICS``) of ``lookup(arch, dataset)``.

        Args:
            dataset: the dataset looked up, as ``lookup``'s.
        """
        return NB201Objective(self, _dataset(dataset))

    def best(self, dataset: str = "cifar10", metric: str = "test_acc_200ep") -> tuple[int, float]:
        """(index, value) of the architecture with the highest ``metric`` on ``dataset``."""
        ds = _dataset(dataset)
        column = f"{ds}_{metric}" if metric not in ("params_m", "flops_m") else f"{metric}_{ds}"
        text = max(self._rows, key=lambda t: self._rows[t][column])
        return int(self._rows[text]["index"]), self._rows[text][column]


class NB201Objective:
    """``arch -> {valid_acc_12ep, params_m, flops_m}`` of one dataset of an ``NB201`` table
    (picklable).

    It returns only what a real search may see: the search signal and the costs. The test
    accuracies (``test_acc_12ep``, ``test_acc_200ep``) are not returned, so neither the
    strategy nor the store ever holds them; a benchmark looks them up with
    ``NB201.lookup`` after the search.

    Example:
        >>> objective = NB201().objective()  # doctest: +SKIP
        >>> objective({e: "nor_conv_3x3" for e in EDGES})  # doctest: +SKIP
        {'valid_acc_12ep': 69.078, 'params_m': 1.531546, 'flops_m': 222.860992}
    """

    def __init__(self, bench: NB201, dataset: str) -> None:
        self.bench, self.dataset = bench, dataset

    def __call__(self, arch: Mapping[str, Any]) -> dict[str, float]:
        """The search signal and the costs of ``arch`` (``OBJECTIVE_METRICS``)."""
        row = self.bench.lookup(arch, self.dataset)
        return {m: row[m] for m in OBJECTIVE_METRICS}

    def __repr__(self) -> str:
        return f"NB201Objective({str(self.bench.path)!r}, {self.dataset!r})"

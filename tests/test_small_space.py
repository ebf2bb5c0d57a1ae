"""Tests of ``benchmarks/digits_space.py`` (the digits table) and ``benchmarks/small_space.py``
(hit rates of the strategies on a small table).

The digits tests train three tiny architectures for real (in this process and in two
spawned workers); the small-space tests run this package's default strategy and nevergrad's
RandomSearch on a 27-architecture synthetic table and check the figures against a hand
count. The TPE half runs only where optuna imports, or with ``$LIGHTNING_NAS_OPTUNA_PYTHON``
naming an interpreter that has it.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import re
import statistics
from pathlib import Path

import pytest
import torch

from benchmarks import digits_space, small_space
from lightning_nas.search.proposals import MAX_REPEATS
from lightning_nas.strategies.registry import DEFAULT_OPTIMIZER
from lightning_nas.wording import counted


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or ()), list(reader)


def test_digits_space_builds_a_deterministic_table(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert len(digits_space.architectures()) == 432
    # two epochs, not the default six: every arch trained far above chance all the same
    one = digits_space.main(["--limit", "3", "--epochs", "2", "--out", str(tmp_path / "a.csv")])
    # spawned: a fork of this process (threads, signal handlers an earlier test's Ray or
    # Lightning left) may hang the pool: seen once, a forked worker left in the queue's lock
    two = digits_space.main(["--limit", "3", "--epochs", "2", "--workers", "2",
                             "--start_method", "spawn", "--out", str(tmp_path / "b.csv")])
    # the workers' one thread is theirs: was OMP_NUM_THREADS=1 left set in the caller's
    # process (and in every process it started after)
    assert "OMP_NUM_THREADS" not in os.environ
    out = capsys.readouterr().out
    assert json.loads(out.strip().splitlines()[-1]) == two
    assert one["archs"] == two["archs"] == 3
    # what the accuracies depend on besides the code: printed and in the JSON
    capability = torch.backends.cpu.get_cpu_capability()
    assert one["cpu_capability"] == capability and one["torch"] == torch.__version__
    assert f"torch {torch.__version__}, CPU capability {capability}" in out
    # was: "with 1 worker(s)", "shared by 1 arch(s)"
    assert " with 1 worker, 2 epochs each" in out and " with 2 workers, 2 epochs each" in out
    ties = [int(n) for n in re.findall(r"best val_acc \S+ shared by (\d+) archs?;", out)]
    assert len(ties) == 2 and all(f"shared by {counted(n, 'arch')};" in out for n in ties)
    fields, rows = _read(tmp_path / "a.csv")
    assert tuple(fields) == digits_space.COLUMNS
    assert [int(r["index"]) for r in rows] == [0, 1, 2]
    for row, arch in zip(rows, digits_space.architectures()[:3], strict=True):
        assert {k: str(v) for k, v in arch.items()} == {k: row[k] for k in arch}
        for split in ("val_acc", "test_acc"):
            assert 0.0 <= float(row[split]) <= 1.0
        assert float(row["val_acc"]) > 0.3  # trained: far above chance (0.1)
        assert int(row["params"]) > 0 and float(row["seconds"]) > 0
    # the same numbers again, here in two spawned workers
    _, again = _read(tmp_path / "b.csv")
    keep = ("index", *digits_space.SPACE, "val_acc", "test_acc", "params")
    assert [{k: r[k] for k in keep} for r in again] == [{k: r[k] for k in keep} for r in rows]


# ----------------------------------------------------------------- small_space.py
VALUES = {"a": [0, 1, 2], "b": ["x", "y", "z"], "c": [0.1, 0.2, 0.3]}


def _synthetic(tmp_path: Path) -> Path:
    """27 architectures; val grows with every knob, from 0 to 1; (0, x, 0.1), the worst,
    is set to 1.0 too: two tie for the best val, far apart; test = val - 0.001 * index, so
    the two tied bests have different tests."""
    path = tmp_path / "synthetic.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["index", "a", "b", "c", "val_acc", "test_acc"])
        for i, (a, b, c) in enumerate(itertools.product(*VALUES.values())):
            val = (a + "xyz".index(b) + round(c * 10) - 1) / 6
            if (a, b, c) == (0, "x", 0.1):
                val = 1.0
            writer.writerow([i, a, b, c, round(val, 6), round(val - 0.001 * i, 6)])
    return path


def _hand(table_rows: dict, runs: list[dict]) -> tuple[float, float, list[int]]:
    """Top-1 and top-3 hit rates and ranks, counted by hand."""
    ranks = []
    for run in runs:
        best = max(table_rows[k][0] for k in run["evaluated"])
        ranks.append(1 + sum(v > best for v, _ in table_rows.values()))
    return (sum(r == 1 for r in ranks) / len(runs), sum(r <= 3 for r in ranks) / len(runs),
            ranks)


def test_table_reads_knobs_and_ranks_ties_as_the_better_rank(tmp_path):
    table = small_space.Table.from_csv(_synthetic(tmp_path))
    assert table.knobs == VALUES and len(table) == 27
    assert table.rank((2, "z", 0.3)) == table.rank((0, "x", 0.1)) == 1
    assert table.best_ties() == 2
    # the next val, 5/6, is shared by the three archs one step from (2, z, 0.3)
    assert {table.rank(k) for k in [(1, "z", 0.3), (2, "y", 0.3), (2, "z", 0.2)]} == {3}
    assert table.rank((0, "x", 0.2)) == 25  # val 1/6, the lowest, shared by three archs
    assert small_space.MAX_REPEATS == MAX_REPEATS
    bad = tmp_path / "partial.csv"
    bad.write_text("\n".join(_synthetic(tmp_path).read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(ValueError, match="whole product"):
        small_space.Table.from_csv(bad)


@pytest.mark.parametrize("name", [DEFAULT_OPTIMIZER, "RandomSearch"])
def test_nevergrad_runs_match_a_hand_count(tmp_path, name):
    table = small_space.Table.from_csv(_synthetic(tmp_path))
    runs = [small_space.run_nevergrad(table, name, 14, seed) for seed in range(3)]
    for run in runs:
        assert len(run["evaluated"]) == len(set(run["evaluated"])) == 14
        assert run["asks"] >= 14
    top1, top3, ranks = _hand(table.rows, runs)
    summary = small_space.summarize(table, runs)
    assert (summary["top1"], summary["top3"], summary["ranks"]) == (top1, top3, ranks)
    assert summary["median_rank"] == sorted(ranks)[1]
    # each hit rate's standard error over the seeds (was: the rates alone, no spread)
    for rate, best in (("top1", 1), ("top3", 3)):
        hits = [float(r <= best) for r in ranks]
        assert summary[f"{rate}_se"] == pytest.approx(
            statistics.stdev(hits) / math.sqrt(len(hits)))
    # the same seed proposes the same architectures
    assert small_space.run_nevergrad(table, name, 14, 0) == runs[0]


def test_whole_space_budget_finds_the_best_and_stops_on_repeats(tmp_path):
    table = small_space.Table.from_csv(_synthetic(tmp_path))
    run = small_space.run_nevergrad(table, "RandomSearch", 30, seed=0)
    assert sorted(run["evaluated"], key=str) == sorted(table.rows, key=str)
    assert run["asks"] >= 27 + MAX_REPEATS
    summary = small_space.summarize(table, [run])
    assert summary["top1"] == summary["top3"] == 1.0
    first = next(k for k in run["evaluated"] if table.val(k) == 1.0)  # ties: first evaluated
    assert summary["tests"] == [table.test(first)]


def test_uniform_is_exact_on_hand_cases(tmp_path):
    table = small_space.Table.from_csv(_synthetic(tmp_path))
    whole = small_space.uniform(table, 27)
    assert whole["top1"] == pytest.approx(1.0) and whole["rank_mean"] == pytest.approx(1.0)
    one = small_space.uniform(table, 1)  # one draw: each arch with probability 1/27
    ranks = [table.rank(k) for k in table.rows]
    assert one["top1"] == pytest.approx(2 / 27)
    assert one["top3"] == pytest.approx(sum(r <= 3 for r in ranks) / 27)
    assert one["rank_mean"] == pytest.approx(sum(ranks) / 27)
    assert one["test_mean"] == pytest.approx(sum(t for _, t in table.rows.values()) / 27)
    # two draws: miss both tied bests with probability C(25, 2) / C(27, 2)
    assert small_space.uniform(table, 2)["top1"] == pytest.approx(
        1 - math.comb(25, 2) / math.comb(27, 2))


def _optuna_python() -> str | None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        return os.environ.get("LIGHTNING_NAS_OPTUNA_PYTHON")
    return "in-process"


def test_main_prints_the_table_and_json(tmp_path, capsys):
    path = _synthetic(tmp_path)
    out = small_space.main(["--table", str(path), "--budget", "12", "--seeds", "2",
                            "--heldout_seeds", "5-6", "--optuna-python", ""])
    text = capsys.readouterr().out
    assert json.loads(text.strip().splitlines()[-1]) == out
    digits = out["digits"]
    assert digits["archs"] == 27 and digits["best_ties"] == 2
    assert " (2 archs, test_acc " in text  # was: "(2 arch(s), test_acc"
    assert (digits["seeds"]["range"], digits["heldout"]["range"]) == ("0-1", "5-6")
    names = set(digits["seeds"]["results"])
    assert {DEFAULT_OPTIMIZER, "RandomSearch", "uniform, 12 distinct (exact)"} <= names
    for name, figures in digits["seeds"]["results"].items():
        assert 0.0 <= figures["top1"] <= figures["top3"] <= 1.0
        assert figures["evaluated_min"] == 12
        exact = name.endswith("(exact)")  # uniform sampling: exact, no spread over seeds
        assert (figures["top1_se"] is None) == (figures["top3_se"] is None) == exact
    # the hit rates print with their standard error beside them (was: the rates alone)
    assert re.search(r"top-3 ± se", text), text
    default = digits["seeds"]["results"][DEFAULT_OPTIMIZER]
    assert f"{default['top3']:.3f} ± {default['top3_se']:.3f}" in text, text
    if _optuna_python() != "in-process":
        assert "skipped: optuna not installed" in text and out["tpe"].startswith("skipped")


@pytest.mark.skipif(_optuna_python() is None,
                    reason="optuna not importable and $LIGHTNING_NAS_OPTUNA_PYTHON unset")
def test_tpe_half_follows_the_same_rules(tmp_path):
    table = small_space.Table.from_csv(_synthetic(tmp_path))
    python = _optuna_python()
    runs, label = small_space.tpe_runs(table, [0, 1], 14,
                                       None if python == "in-process" else python)
    assert label.startswith("optuna ")
    # the versions TPE's draws depend on, of the interpreter that ran it
    assert ("numpy " in label and ", Python 3." in label), label
    assert [r["seed"] for r in runs] == [0, 1]
    for run in runs:
        assert len(run["evaluated"]) == len(set(run["evaluated"])) == 14
        assert all(k in table.rows for k in run["evaluated"])
    top1, top3, ranks = _hand(table.rows, runs)
    summary = small_space.summarize(table, runs)
    assert (summary["top1"], summary["top3"], summary["ranks"]) == (top1, top3, ranks)


@pytest.mark.parametrize("argv, said", [
    (["--budget", "28"], "--budget 28 is more than the 27 architectures of synthetic.csv"),
    (["--budget", "0"], "--budget must be at least 1, got 0"),
    (["--nb201", "--nb201_ops", "skip_connect", "--budget", "2"],
     "--budget 2 is more than the 1 architecture of "),
    (["--nb201", "--nb201_ops", "conv,skip_connect"], "edge_1_0='conv' is not an NB201 op"),
])
def test_a_budget_the_table_cannot_give_is_refused_before_any_run(argv, said, tmp_path, capsys):
    # was: ZeroDivisionError in the exact uniform line, after every strategy had run (the
    # README's digits_space.py --limit 8 table, with the default --budget 20)
    path = _synthetic(tmp_path)
    if "--nb201" in argv:
        from lightning_nas.benchmarks.nb201 import find_table

        try:
            find_table()
        except FileNotFoundError as err:
            pytest.skip(str(err))
    with pytest.raises(SystemExit) as exit_:
        small_space.main(["--table", str(path), "--seeds", "1", "--heldout_seeds", "",
                          "--optuna-python", "", *argv])
    captured = capsys.readouterr()
    assert exit_.value.code == 2 and f": error: {said}" in captured.err, captured.err
    assert "SurrogateEvolution" not in captured.out  # no run began


def test_a_table_that_is_not_a_whole_product_is_refused_as_a_usage_error(tmp_path, capsys):
    path = _synthetic(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")  # 26 of the 27
    with pytest.raises(SystemExit) as exit_:  # was: a ValueError traceback
        small_space.main(["--table", str(path), "--seeds", "1", "--heldout_seeds", ""])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "26 architectures, but its knobs' values make 27" in err


def test_which_digits_space_limits_make_a_table_and_the_refusal_says_so(tmp_path):
    # the first K architectures of digits_space.py --limit K are a whole product only for
    # some K; 216 and 360 are multiples of 72 that are not (was: "K a multiple of 72")
    archs = digits_space.architectures()
    whole = []
    for k in range(1, len(archs) + 1):
        rows = {tuple(a.values()): (0.5, 0.5) for a in archs[:k]}
        knobs = {n: list(dict.fromkeys(a[n] for a in archs[:k])) for n in digits_space.SPACE}
        try:
            small_space.Table(knobs, rows, "t")
        except ValueError as err:
            refusal = str(err)
        else:
            whole.append(k)
    assert whole == [1, 2, 4, 8, 16, 24, 48, 72, 144, 288, 432]
    assert "multiple of 72" not in refusal
    assert "--limit K builds one for K = 1, 2, 4, 8, 16, 24, 48, 72, 144, 288 or 432" in refusal

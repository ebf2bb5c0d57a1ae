"""Tests of ``lightning_nas.benchmarks.nb201`` (the NB201 table) and ``benchmarks/nb201.py``.

The table tests need the offline NB201 CSV (``$LIGHTNING_NAS_NB201``, else
``shared/benchmarks/nb201.csv`` beside the repository) and are skipped with the reason
without it; the string tests need nothing.
"""

from __future__ import annotations

import re

import pytest

from lightning_nas import Search
from lightning_nas.benchmarks.nb201 import (
    COSTS,
    EDGES,
    NB201,
    OBJECTIVE_METRICS,
    OPS,
    SIGNAL,
    arch_to_str,
    find_table,
    nb201_space,
    str_to_arch,
)
from lightning_nas.errors import ConfigError, SpaceError
from tests.helpers_benchmarks import NB201_TABLE, NB201_WHY, load_script

needs_table = pytest.mark.skipif(NB201_TABLE is None, reason=NB201_WHY)

BEST_C10 = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
            "|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


@pytest.fixture(scope="module")
def bench() -> NB201:
    return NB201(NB201_TABLE)


def test_space_has_six_edges_of_five_ops():
    space = nb201_space()
    assert space.size() == 15625
    assert space.names() == list(EDGES)
    assert all(space.params[e].values == list(OPS) for e in EDGES)


def test_string_round_trip_and_edge_order():
    arch = str_to_arch(RESNET)
    assert arch == {"edge_1_0": "nor_conv_3x3", "edge_2_0": "none",
                    "edge_2_1": "nor_conv_3x3", "edge_3_0": "skip_connect",
                    "edge_3_1": "none", "edge_3_2": "skip_connect"}
    assert arch_to_str(arch) == RESNET
    with pytest.raises(SpaceError, match="3 nodes"):
        str_to_arch("|none~0|")
    with pytest.raises(SpaceError, match="bad edge"):
        str_to_arch("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(SpaceError, match="not an NB201 operation"):
        arch_to_str({**arch, "edge_1_0": "conv"})


@needs_table
def test_known_rows(bench):
    assert len(bench) == 15625
    assert bench.index(BEST_C10) == 6111 and arch_to_str(bench.arch(6111)) == BEST_C10
    assert bench.index(str_to_arch(RESNET)) == 11472
    best = bench.lookup(bench.arch(6111), "cifar10")
    assert best["test_acc_200ep"] == pytest.approx(94.3733)
    assert bench.best("cifar10") == (6111, pytest.approx(94.3733))
    assert bench.best("cifar100")[0] == 9930 and bench.best("imagenet16")[0] == 857
    resnet = bench.lookup(RESNET, "cifar10")
    assert resnet["test_acc_200ep"] == pytest.approx(93.91, abs=0.01)
    assert resnet["valid_acc_12ep"] == pytest.approx(83.742)
    assert resnet["params_m"] == pytest.approx(0.559386)
    assert bench.lookup(RESNET, "ImageNet16-120")["test_acc_200ep"] == pytest.approx(44.23,
                                                                                     abs=0.01)
    assert bench.best("cifar10", "valid_acc_12ep") == (13714, pytest.approx(84.892))


@needs_table
def test_every_row_round_trips(bench):
    for index in range(len(bench)):
        arch = bench.arch(index)
        assert nb201_space().validate(arch) == arch
        assert bench.index(arch) == index


@needs_table
def test_objective_returns_only_the_signal_and_the_costs(bench):
    assert (SIGNAL, COSTS) == ("valid_acc_12ep", ("params_m", "flops_m"))
    for dataset in ("cifar10", "cifar100", "imagenet16"):
        metrics = bench.objective(dataset)(str_to_arch(RESNET))
        assert tuple(metrics) == OBJECTIVE_METRICS == (SIGNAL, *COSTS)
        row = bench.lookup(RESNET, dataset)
        assert metrics == {k: row[k] for k in OBJECTIVE_METRICS}
        assert not any(k.startswith("test_") for k in metrics)


@needs_table
def test_objective_through_the_driver(bench, tmp_path):
    objective = bench.objective("cifar100")
    assert bench.lookup(RESNET, "cifar100")["test_acc_200ep"] == pytest.approx(70.89, abs=0.01)
    result = Search(None, bench.space, objective=objective, monitor="valid_acc_12ep",
                    optimizer="SurrogateEvolution", budget=20, seed=0, run_dir=tmp_path,
                    verbose=False).run()
    assert len(result.trials) == 20
    for trial in result.trials:
        row = bench.lookup(trial.arch, "cifar100")
        assert trial.metrics == {k: row[k] for k in OBJECTIVE_METRICS}  # no test accuracy
        assert trial.score == trial.metrics["valid_acc_12ep"]
    with pytest.raises(ConfigError, match="unknown NB201 dataset"):
        bench.objective("mnist")


def test_missing_table_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no NB201 table"):
        NB201(tmp_path / "nb201.csv")


@needs_table
def test_benchmark_script_fast_path_equals_driver(bench):
    script = load_script("nb201.py")
    for name in ("SurrogateEvolution", "RandomSearch"):
        for seed in (0, 1):
            fast = script.run_fast(bench, "cifar10", name, 12, seed)
            real = script.run_driver(bench, "cifar10", name, 12, seed)
            assert fast["index"] == real["index"]
            assert fast["evaluated"] == real["evaluated"] == 12
            # the test accuracy is looked up after the search, for the chosen architecture
            assert fast["test_acc_200ep"] == bench.lookup(fast["arch"])["test_acc_200ep"]
            assert real["test_acc_200ep"] == bench.lookup(real["arch"])["test_acc_200ep"]


@needs_table
def test_benchmark_script_short_run(capsys):
    script = load_script("nb201.py")
    summary = script.main(["--dataset", "cifar10", "--budget", "15", "--seeds", "2",
                           "--heldout_seeds", "", "--table", str(NB201_TABLE), "--overhead_trials",
                           "30", "--overhead_rounds", "2"])
    out = capsys.readouterr().out.strip().splitlines()
    assert "REA" in "\n".join(out) and '"strategy"' in out[-1]
    assert summary["strategy"] == "SurrogateEvolution"
    assert set(summary["baselines"]) == {"RandomSearch", "NGOpt"}
    assert 80 < summary["mean"] <= 94.38
    assert summary["min"] <= summary["median"] <= summary["max"]
    assert summary["seeds"] == 2 and summary["seed_range"] == "0-1"
    assert summary["ms_per_trial"] > 0 and summary["ms_per_trial_spread"]["n"] == 2
    assert any(line.startswith("ms_per_trial (SurrogateEvolution on cifar10,") for line in out)
    # the shared format: median [min, max]  mean ± std, and <name>_spread in the JSON
    spread = summary["test_acc_200ep_spread"]
    assert spread["n"] == 2 and spread["mean"] == pytest.approx(summary["mean"], abs=1e-4)
    assert (spread["median"], spread["min"], spread["max"]) == pytest.approx(
        (summary["median"], summary["min"], summary["max"]), abs=1e-4)
    assert all(r["test_acc_200ep_spread"]["n"] == 2 for r in summary["baselines"].values())
    row = next(line for line in out if line.startswith("SurrogateEvolution"))
    assert re.search(r"\d\.\d\d \[\d+\.\d\d, \d+\.\d\d\]\s+\d+\.\d\d ± \d", row), row


@needs_table
def test_benchmark_script_runs_held_out_seeds(bench):
    script = load_script("nb201.py")
    assert script.seed_label(list(range(100, 130))) == "100-129"
    by_start = script.run_benchmark(bench.path, "cifar10", 10, [100, 101], ["RandomSearch"])
    summary = script.main(["--budget", "10", "--seeds", "2", "--seed_start", "100",
                           "--strategy", "RandomSearch", "--table", str(NB201_TABLE),
                           "--heldout_seeds", "0-1", "--overhead_trials", "0"])
    assert summary["seed_range"] == "100-101" and summary["heldout"]["seed_range"] == "0-1"
    assert summary["mean"] == pytest.approx(by_start["RandomSearch"]["mean"], abs=1e-4)
    assert summary["ms_per_trial"] is None
    range_form = script.main(["--budget", "10", "--seeds", "100-101", "--strategy",
                              "RandomSearch", "--table", str(NB201_TABLE), "--overhead_trials", "0",
                              "--heldout_seeds", ""])
    assert range_form["mean"] == summary["mean"]


@pytest.mark.parametrize("argv, said", [
    (["--budget", "0"], "--budget must be at least 1, got 0"),
    (["--seeds", "5-2"], "--seeds 5-2: empty seed range '5-2'"),  # (was: not naming --seeds)
    (["--strategy", "SurrogateEvolutio"], "unknown optimizer 'SurrogateEvolutio'"),
    (["--warm_start", "cifar10", "--dataset", "cifar100", "--plain", "NGOp"],
     "unknown optimizer 'NGOp'"),
    (["--warm_start", "cifar10", "--dataset", "cifar100", "--budgets", "0,5"],
     "--budgets takes numbers of at least 1"),
    # was: a StatisticsError (no gap between trial ends) after every search had run
    (["--overhead_trials", "1"], "--overhead_trials must be 0 (no ms_per_trial) or at least 2"),
    (["--overhead_rounds", "0"], "--overhead_rounds must be at least 1, got 0"),  # was: 1 ran
])
def test_benchmark_script_names_a_bad_argument_before_any_search(argv, said, tmp_path, capsys):
    # was: a traceback (an AssertionError alone for --budget 0), some after a search ran
    table = tmp_path / "t.csv"
    table.write_text("index,arch\n")
    with pytest.raises(SystemExit) as exit_:
        load_script("nb201.py").main([*argv, "--table", str(table)])
    assert exit_.value.code == 2 and f": error: {said}" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # the table is checked too, before any search
        load_script("nb201.py").main(["--table", str(tmp_path / "nope.csv")])
    assert "no NB201 table at" in capsys.readouterr().err


def test_find_table_names_where_it_looked_and_how_to_point_at_it(tmp_path, monkeypatch):
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match=f"no NB201 table at {missing}.*LIGHTNING_NAS"):
        find_table(missing)
    monkeypatch.setenv("LIGHTNING_NAS_NB201", str(missing))
    with pytest.raises(FileNotFoundError, match=str(missing)):
        find_table()
    table = tmp_path / "t.csv"
    table.write_text("index,arch\n")
    monkeypatch.setenv("LIGHTNING_NAS_NB201", str(table))
    assert find_table() == table


def test_seed_sets_join_ranges_and_seeds():
    from benchmarks.spread import parse_seeds

    script = load_script("nb201.py")
    seeds = parse_seeds("100-102,7,200-201")
    assert seeds == [100, 101, 102, 7, 200, 201]
    assert script.seed_label(seeds) == "100-102,7,200-201"
    assert script.seed_label([0, 5, 6]) == "0,5-6"
    with pytest.raises(ValueError, match="empty seed range"):
        parse_seeds("5-3,1")


@needs_table
def test_warm_start_benchmark_pools_its_seed_sets():
    script = load_script("nb201.py")
    summary = script.main(["--warm_start", "cifar10", "--dataset", "cifar100", "--table",
                           str(NB201_TABLE), "--seeds", "1", "--heldout_seeds", "100-101",
                           "--budgets", "6,1", "--source_budget", "12", "--top_k", "1,3"])
    methods = {"warm", "cold", "tell-all NGOpt", "top-1 first", "top-3 first"}
    assert summary["seeds"]["range"] == "0" and summary["heldout"]["range"] == "100-101"
    assert summary["all"]["range"] == "0,100-101"
    for name in ("seeds", "heldout", "all"):
        assert methods <= set(summary[name])
    for method in methods:  # the pooled mean is the mean over all three seeds
        pooled = summary["all"][method]["6"]["mean"]
        parts = summary["seeds"][method]["6"]["mean"] + 2 * summary["heldout"][method]["6"]["mean"]
        assert pooled == pytest.approx(parts / 3, abs=2e-3)
    # the warm search evaluates the source's best first, as top-1 first does
    for name in ("seeds", "heldout"):
        assert summary[name]["warm"]["1"] == summary[name]["top-1 first"]["1"]
        assert summary[name]["warm"]["6"]["valid"] >= summary[name]["warm"]["1"]["valid"]
    assert any(d["pairs"] for d in summary["disagreements"])  # these seeds do disagree
    for d, name in zip(summary["disagreements"], ("top-1 first", "top-3 first"), strict=True):
        assert d["other"] == name and d["budget"] == 6 and d["seeds"] == 3  # the first budget
        assert d["same"] + sum(p["seeds"] for p in d["pairs"]) == 3
        assert d["better"] + d["worse"] <= 3 - d["same"] and d["higher_valid"] <= 3 - d["same"]
        warm, them = summary["all"]["warm"]["6"]["mean"], summary["all"][name]["6"]["mean"]
        assert sum(p["share"] for p in d["pairs"]) == pytest.approx(d["mean"])
        assert d["mean"] == pytest.approx(warm - them, abs=2e-3)
    agree = summary["proxy_agreement"]
    assert agree["seeds"] == 3 and agree["k"] == 10
    for key in ("target_signal", "source_signal", "signals"):
        assert -1 <= agree[key] <= 1
    from benchmarks.nb201_warm import proxy_agreement

    alone = proxy_agreement(NB201(NB201_TABLE), "cifar10", "cifar100", [0, 100], 12, k=1)
    assert alone["gap"] == 0 and alone["seeds"] == 2  # the source's best is the 1 best's best


def test_a_missing_table_says_which_setting_named_it(tmp_path, monkeypatch):
    # was: "no NB201 table at X; pass its path (--table PATH) or set LIGHTNING_NAS_NB201"
    # whether X came from the path, the variable (already set) or the default place
    missing = tmp_path / "nope.csv"
    monkeypatch.setenv("LIGHTNING_NAS_NB201", str(missing))
    with pytest.raises(FileNotFoundError, match=r"\(from \$LIGHTNING_NAS_NB201\)"):
        find_table()
    with pytest.raises(FileNotFoundError, match=r"\(the path given\)"):
        find_table(tmp_path / "other.csv")
    monkeypatch.delenv("LIGHTNING_NAS_NB201")
    try:
        find_table()
    except FileNotFoundError as err:  # no table beside this checkout
        assert "(the default place" in str(err)


def test_warm_start_disagreements_read_with_singulars_and_no_empty_list():
    said = load_script("nb201.py")._describe_disagreement({
        "other": "top-1 first", "budget": 5, "seeds": 1, "same": 0, "higher_valid": 1,
        "better": 1, "worse": 0, "mean": 0.057,
        "pairs": [{"warm": [72.76, 60.92], "other": [72.65, 60.62], "seeds": 1,
                   "share": 0.057}]})
    # was: "(1 seeds)", "over 1 distinct pairs", "in 1 seeds"
    assert "(1 seed)" in said and "over 1 distinct pair of choices" in said
    assert "in 1 seed:" in said
    none = load_script("nb201.py")._describe_disagreement({
        "other": "top-5 first", "budget": 5, "seeds": 2, "same": 2, "higher_valid": 0,
        "better": 0, "worse": 0, "mean": 0.0, "pairs": []})
    # was: "... over 0 distinct pairs of choices (mean difference +0.000); largest:"
    assert not none.endswith("largest:") and "\n" not in none, none

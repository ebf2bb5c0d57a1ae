"""Searches with several objectives and their Pareto front: the front of a known toy
objective, shown, exported, reported and kept with its checkpoints; objectives named like
a column; a failure or a non-finite or missing objective told and resumed; the header;
a mode contrary to the objective's name. Real nevergrad, real stores, real Trainers where
checkpoints are kept."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import random
import sqlite3

import pytest
import torch

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.errors import SearchError
from lightning_nas.export import load_best
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.checkpoints import keep_top_checkpoints
from lightning_nas.search.objectives import Objectives, contrary_modes, pareto_front
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_objectives import SPACE


def test_a_mode_contrary_to_the_name_is_found_and_turned_or_silent_names_are_not():
    assert contrary_modes({"val_loss": "max", "val/acc": "min", "val_acc": "max",
                           "val_score": "max", "neg_loss": "max", "params": "max"}) == [
        "'val_loss' is maximised, but its name says lower is better (mode: min)",
        "'val/acc' is minimised, but its name says higher is better (mode: max)"]


def test_pareto_front_of_a_known_toy_objective(tmp_path):
    def toy(arch):  # accuracy grows with size, size costs: every x is a trade-off but
        x, waste = arch["x"], arch["waste"]  # waste > 0 is dominated by waste = 0
        return {"acc": x / 10 - 0.05 * waste, "size": float(x + waste)}

    space = {"x": {"int": [1, 10]}, "waste": {"choice": [0, 1, 2]}}
    objectives = {"acc": "max", "size": "min"}
    result = Search(None, space, objective=toy, objectives=objectives, budget=30,
                    optimizer="RandomSearch", seed=0, run_dir=tmp_path, verbose=False).run()
    evaluated = [t for t in result.trials if t.status is TrialStatus.COMPLETED]
    front = result.pareto_front()
    brute = []  # brute force over what was evaluated
    for t in evaluated:
        a, s = t.metrics["acc"], t.metrics["size"]
        if not any(o.metrics["acc"] >= a and o.metrics["size"] <= s and
                   (o.metrics["acc"], o.metrics["size"]) != (a, s) for o in evaluated):
            brute.append(t.trial_id)
    assert sorted(t.trial_id for t in front) == sorted(brute)
    assert all(t.arch["waste"] == 0 for t in front) and len(front) >= 3
    assert result.monitor == "acc"  # the first objective is the monitor


def test_show_prints_the_front_and_export_picks_a_point(tmp_path, capsys):
    def toy(arch):
        return {"val_acc": arch["x"] / 10, "size": float(arch["x"])}

    space = {"x": {"int": [1, 6]}, "y": {"choice": [0, 1]}}
    Search(None, space, objective=toy, objectives={"val_acc": "max", "size": "min"},
           budget=12, run_dir=tmp_path, verbose=False).run()
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    front = json.loads(capsys.readouterr().out)["pareto_front"]
    accs = [p["val_acc"] for p in front]  # best first by the primary objective
    assert front and accs == sorted(accs, reverse=True) and len(set(accs)) == 6
    assert main(["show", str(tmp_path)]) == 0  # in the order given: the primary first
    assert "Pareto front (val_acc max, size min)" in capsys.readouterr().out
    assert main(["show", str(tmp_path), "--format", "csv", "--top", "3"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0])[:4] == ["rank", "trial", "score", "size"]  # each objective a column
    assert all(float(r["size"]) == 10 * float(r["score"]) for r in rows) and len(rows) == 3
    assert main(["show", str(tmp_path), "--status", "all", "--format", "csv", "--top", "50"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 12 and all(float(r["size"]) == 10 * float(r["score"]) for r in rows)
    pick = front[0]["trial"]
    assert main(["export", str(tmp_path), "--trial", str(pick)]) == 0
    with RunStore(tmp_path / "search.db") as store:
        assert store.get(pick).arch == json.loads(json.dumps(front[0]["arch"]))


def test_show_of_several_objectives_names_them_and_which_the_best_is_best_by(tmp_path,
                                                                             capsys):
    # was: "monitor acc (max); best 0.4000 (trial 1)", as of a search of one objective,
    # and the JSON summary named neither the objectives nor what its best is best by
    def toy(arch):
        return {"acc": arch["x"] / 10, "size": float(arch["x"])}

    result = Search(None, {"x": {"int": [1, 6]}}, objective=toy, budget=4, verbose=False,
                    objectives={"acc": "max", "size": "min"}, run_dir=tmp_path).run()
    assert main(["show", str(tmp_path)]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert head.endswith(
        f"; objectives acc (max), size (min); best acc {result.best.score:.4f} (trial "
        f"{result.best.trial_id}: the best by the first objective, ties by the later ones; "
        f"the Pareto front below)"), head
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert (summary["objectives"], summary["best_trial"]) == (
        {"acc": "max", "size": "min"}, result.best.trial_id)
    assert result.best in result.pareto_front()  # the one best.yaml and result.best name
    assert load_best(tmp_path)["trial"] == result.best.trial_id


def test_best_yaml_of_several_objectives_names_them_and_their_modes(tmp_path):
    # was: monitor and mode alone, so a reader of best.yaml could not tell which metrics
    # made the front its trial is on (show, report and best_config.yaml's header name them)
    def toy(arch):
        return {"acc": arch["x"] / 10, "size": float(arch["x"])}

    space = {"x": {"int": [1, 6]}}
    for name, goal in (("two", {"objectives": {"acc": "max", "size": "min"}}),
                       ("one", {"objectives": {"acc": "max"}}), ("monitor", {"monitor": "acc"})):
        Search(None, space, objective=toy, budget=3, run_dir=tmp_path / name, verbose=False,
               **goal).run()
    assert load_best(tmp_path / "two")["objectives"] == {"acc": "max", "size": "min"}
    assert main(["export", str(tmp_path / "two"), "--trial", "2"]) == 0  # a chosen point
    best = load_best(tmp_path / "two")
    assert (best["trial"], best["chosen"], best["objectives"]) == (2, True, {"acc": "max",
                                                                             "size": "min"})
    assert list(best)[:7] == ["trial", "chosen", "arch", "score", "monitor", "mode",
                              "objectives"]
    for name in ("one", "monitor"):  # one objective: as it was
        assert "objectives" not in load_best(tmp_path / name), name


@pytest.mark.parametrize("column", ["epochs", "status", "trial", "notes"])
def test_an_objective_named_like_a_column_keeps_its_own_values(tmp_path, capsys, column):
    # was, for `notes`: the CSV's and JSON's notes column (a trial's notes) replaced the
    # objective's values with "" (the text table showed them)
    def toy(arch):
        return {"acc": arch["x"] / 10, column: float(arch["x"] + 100)}

    Search(None, {"x": {"int": [1, 6]}}, objective=toy,
           objectives={"acc": "max", column: "min"}, budget=3, run_dir=tmp_path,
           verbose=False).run()
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["leaderboard"]
    assert [r[f"{column} (objective)"] - 100 for r in rows] == [r["arch"]["x"] for r in rows]
    assert all(r[column] != r[f"{column} (objective)"] for r in rows)
    assert main(["show", str(tmp_path), "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [float(r[f"{column} (objective)"]) for r in table] == [
        r[f"{column} (objective)"] for r in rows]


def test_pareto_front_function_on_points():
    objectives = Objectives({"a": "max", "b": "min"})
    points = [{"a": a, "b": b} for a, b in itertools.product([1, 2, 3], [1, 2, 3])]
    front = pareto_front(points, objectives, metrics=lambda p: p)
    assert front == [{"a": 3, "b": 1}]


def _front_by_every_pair(points, objectives):
    """The front as defined: every point compared with every other."""
    scored = []
    for point in points:
        try:
            scored.append((point, objectives.losses(point)))
        except (KeyError, TypeError, ValueError):
            continue
    return [p for p, loss in scored
            if not any(all(o <= v for o, v in zip(other, loss, strict=True))
                       and other != loss
                       for _, other in scored)]


def test_pareto_front_is_the_front_of_every_pair_compared():
    # the front is found in sorted order (was: every pair compared, O(n^2) per trial);
    # same points in the same order, with ties, duplicates, NaN, inf and missing values
    rng = random.Random(0)
    odd = [0.0, -0.0, 2.5, math.inf, -math.inf, math.nan, True, "3", "x", None]
    for _ in range(1500):
        names = ["a", "b", "c", "d"][:rng.randint(1, 4)]
        objectives = Objectives({n: rng.choice(["max", "min"]) for n in names})
        points = [{n: rng.choice(odd) if rng.random() < 0.15 else rng.randint(0, 3)
                   for n in names if rng.random() > 0.05} for _ in range(rng.randint(0, 30))]
        points += [rng.choice(points) for _ in range(3 if points else 0)]  # the same objects
        front = pareto_front(points, objectives, metrics=lambda p: p)
        assert [id(p) for p in front] == [id(p) for p in _front_by_every_pair(
            points, objectives)], (objectives, points)


def test_a_search_without_checkpoints_reads_no_board_after_each_trial(tmp_path):
    # an objective= search keeps no checkpoint, yet each trial's end read every completed
    # trial and compared all pairs for the front: O(n^2) per trial, 585 s for 1000 trials
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("objectives", {"acc": "max", "size": "min"})
        for i in range(3):
            tid = store.start_trial({"x": i})
            store.finish_trial(TrialResult(tid, {"x": i}, TrialStatus.COMPLETED, i / 10,
                                           {"acc": i / 10, "size": float(i)}))
    with sqlite3.connect(tmp_path / "search.db") as db:  # a row that cannot be read
        db.execute("UPDATE trials SET metrics = 'not JSON' WHERE id = 1")
    with RunStore(tmp_path / "search.db") as store:
        keep_top_checkpoints(store, "max", 1, Objectives({"acc": "max", "size": "min"}))
        assert store.count(TrialStatus.COMPLETED) == 3


def test_report_of_a_two_objective_run_has_the_front(tmp_path, capsys):
    pytest.importorskip("matplotlib")

    def toy(arch):
        return {"acc": arch["x"] / 10, "size": float(arch["x"])}

    Search(None, {"x": {"int": [1, 9]}}, objective=toy,
           objectives={"acc": "max", "size": "min"}, budget=6, run_dir=tmp_path,
           verbose=False).run()
    assert main(["report", str(tmp_path)]) == 0
    pareto = tmp_path / "report" / "pareto.png"
    assert pareto.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'href="pareto.png"' in (tmp_path / "report" / "report.html").read_text()


def test_every_point_of_the_front_keeps_its_checkpoint(tmp_path, tiny_trainer):
    # keep_top_k ranked by the first objective only: the front's other points lost their
    # weights, and `export --trial N` of them had no best.ckpt
    result = Search(TinyNet, SPACE, data=BlobData, trainer=tiny_trainer, budget=5, seed=3,
                    objectives={"val_acc": "max", "params": "min"}, keep_top_k=1,
                    optimizer="RandomSearch", run_dir=tmp_path, verbose=False).run()
    front = {t.trial_id for t in result.pareto_front()}
    assert len(front) >= 2
    for t in result.trials:
        kept = (tmp_path / "trials" / f"trial_{t.trial_id:04d}" / "best.ckpt").exists()
        assert kept == (t.trial_id in front or t.trial_id == result.best.trial_id), t


def _fails_small_x(arch):
    if arch["x"] < 4:  # a broken part of the space, where a search may well start
        raise RuntimeError(f"x={arch['x']} is broken")
    return {"val_loss": 2.0 + arch["x"] / 10}


def test_a_failure_before_any_result_is_told_as_worse_than_the_results(tmp_path):
    # was: told 1.0 (worst seen + 1, with nothing seen), below every real val_loss (>= 2.4):
    # the optimizer took the broken architecture for the best one
    space = {"x": {"int": [0, 9]}, "y": {"choice": [0, 1, 2]}}

    def search(run_dir, budget, objective=_fails_small_x):
        return Search(None, space, objective=objective, monitor="val_loss", budget=budget,
                      seed=5, optimizer="RandomSearch", max_failures=20, run_dir=run_dir,
                      verbose=False)

    search(tmp_path / "full", 6).run()
    with RunStore(tmp_path / "full" / "search.db") as store:
        status = {t.trial_id: t.status for t in store.trials()}
        told = [(e["ask"], e["loss"]) for e in store.events() if e["kind"] == "tell"]
        asked = {e["ask"]: e["trial_id"] for e in store.events() if e["kind"] == "ask"}
    failed = [loss for n, loss in told if status.get(asked.get(n)) is TrialStatus.FAILED]
    real = [loss for n, loss in told if status.get(asked.get(n)) is TrialStatus.COMPLETED]
    assert failed and real and status[1] is TrialStatus.FAILED  # the search starts broken
    assert min(failed) > max(real)
    # a search stopped while its failures wait for a result to be told goes on as the
    # uninterrupted one
    calls = []

    def stops_at_the_second_call(arch):
        calls.append(arch)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return _fails_small_x(arch)

    with pytest.raises(KeyboardInterrupt):
        search(tmp_path / "resumed", 6, stops_at_the_second_call).run()
    search(tmp_path / "resumed", 6).run()
    with RunStore(tmp_path / "resumed" / "search.db") as resumed, \
            RunStore(tmp_path / "full" / "search.db") as full:
        assert ([(t.arch, t.status, t.score) for t in resumed.trials()]
                == [(t.arch, t.status, t.score) for t in full.trials()])


def test_a_non_finite_objective_fails_its_trial(tmp_path, capsys):
    # was: COMPLETED, told NaN, on the Pareto front for good (nothing dominates NaN), and
    # `show --format json` printed a bare NaN, which is no JSON
    def toy(arch):
        return {"acc": arch["x"] / 10, "size": float("nan") if arch["x"] == 2 else arch["x"]}

    result = Search(None, {"x": {"choice": [1, 2, 3]}}, objective=toy, budget=3,
                    objectives={"acc": "max", "size": "min"}, optimizer="RandomSearch",
                    run_dir=tmp_path, verbose=False).run()
    broken = [t for t in result.trials if t.arch["x"] == 2]
    assert broken and broken[0].status is TrialStatus.FAILED
    assert broken[0].error == "objective 'size' is nan"
    assert all(t.arch["x"] != 2 for t in result.pareto_front())
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)  # valid JSON
    assert [f["trial"] for f in shown["failures"]] == [broken[0].trial_id]


@pytest.mark.parametrize("returned, error", [
    ({"acc": "0.2", "size": 2}, "the objective function returned 'acc' as str '0.2', not a "
                                "number; return each metric as a number"),
    ({"acc": 0.2, "size": True}, "the objective function returned 'size' as bool True, not a "
                                 "number; return each objective as a number"),
    ("0.2", "the objective function returned str '0.2', not a mapping of metric names to "
            "numbers; return a dict, e.g. {'acc': 0.9}"),
    # was: "TypeError: float() argument must be a string or a real number, not 'NoneType'"
    # and "ValueError: only one element tensors can be converted to Python scalars", naming
    # no metric, said as an error in the objective function
    # was: "TypeError: cannot convert dictionary update sequence element #0 to a sequence",
    # said as an error in the objective function
    ((0.2, 2), "the objective function returned tuple (0.2, 2), not a mapping of metric names "
               "to numbers; return a dict, e.g. {'acc': 0.9}"),
    ({"acc": 0.2, "size": None}, "the objective function returned 'size' as NoneType None, "
                                 "not a number; return each metric as a number"),
    ({"acc": torch.tensor([0.2, 0.3]), "size": 2},
     "the objective function returned 'acc' as Tensor tensor([0.2000, 0.3000]), not a number; "
     "return each metric as a number"),
])
def test_a_function_value_that_is_no_number_fails_its_trial(tmp_path, returned, error):
    # was: "0.2" taken as the number 0.2 (and True as 1.0), a bug of the user's function
    # scored; a whole "0.2" failed as "ValueError: dictionary update sequence element #0 ..."
    def toy(arch):
        return returned if arch["x"] == 2 else {"acc": arch["x"] / 10, "size": arch["x"]}

    result = Search(None, {"x": {"choice": [1, 2, 3]}}, objective=toy, budget=3,
                    objectives={"acc": "max", "size": "min"}, optimizer="RandomSearch",
                    run_dir=tmp_path, verbose=False).run()
    broken = [t for t in result.trials if t.arch["x"] == 2]
    assert broken and broken[0].status is TrialStatus.FAILED
    assert broken[0].error == error and broken[0].score is None


def test_a_bool_a_function_returns_beside_its_objectives_is_stored_as_0_or_1(tmp_path):
    # a metric that is no objective, as Lightning's self.log("converged", True) stores it
    # (was: the trial FAILED, "the objective function returned 'converged' as bool True,
    # not a number", its work lost); a bool for an objective stays refused (above)
    def toy(arch):
        return {"acc": arch["x"] / 10, "size": arch["x"], "converged": arch["x"] == 2}

    result = Search(None, {"x": {"choice": [1, 2]}}, objective=toy, budget=2,
                    objectives={"acc": "max", "size": "min"}, optimizer="RandomSearch",
                    run_dir=tmp_path, verbose=False).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    assert sorted((t.arch["x"], t.metrics["converged"]) for t in result.trials) == [
        (1, 0.0), (2, 1.0)]
    assert all(type(t.metrics["converged"]) is float for t in result.trials)


def test_a_function_that_returns_no_mapping_stops_the_search_naming_the_function(tmp_path):
    # was: "trials 1 and 2 failed the same way in training (...)": nothing trains there
    with pytest.raises(SearchError, match=r"trials 1 and 2 failed the same way in what the "
                                          r"objective function returned \(every trial "):
        Search(None, {"x": {"choice": [1, 2, 3]}}, objective=lambda arch: None, budget=3,
               optimizer="RandomSearch", run_dir=tmp_path, verbose=False).run()


def test_an_infinite_objective_of_a_function_fails_without_a_score(tmp_path, capsys):
    # was: FAILED with its monitor's value as its score (`show --status failed` listed
    # 2.0000 beside the error) and "objective cost=-inf at the best epoch" of a function,
    # which has no epochs
    def toy(arch):
        return {"acc": 2.0, "cost": -math.inf if arch["x"] == 2 else float(arch["x"])}

    result = Search(None, {"x": {"choice": [1, 2]}}, objective=toy, budget=2,
                    objectives={"acc": "max", "cost": "min"}, optimizer="RandomSearch",
                    run_dir=tmp_path, verbose=False).run()
    broken = [t for t in result.trials if t.arch["x"] == 2]
    assert [(t.status, t.score, t.error) for t in broken] == [
        (TrialStatus.FAILED, None, "objective 'cost' is -inf")]
    assert main(["show", str(tmp_path), "--status", "failed", "--format", "json"]) == 0
    assert [row["score"] for row in json.loads(capsys.readouterr().out)["trials"]] == [None]


def test_an_objective_function_that_leaves_out_an_objective_fails_and_the_run_resumes(
        tmp_path):
    # was: the trial was stored COMPLETED without 'cost', the search stopped telling it, and
    # every resume stopped the same way, with the function fixed too
    def some(arch):
        return {"acc": arch["x"] / 10}

    def every(arch):
        return {"acc": arch["x"] / 10, "cost": float(arch["x"])}

    space, objectives = {"x": {"choice": [1, 2]}}, {"acc": "max", "cost": "min"}
    with pytest.raises(SearchError, match=r"objective 'cost' was not returned; the "
                                          r"objective returned \['acc'\]"):
        Search(None, space, objective=some, objectives=objectives, budget=2,
               run_dir=tmp_path, verbose=False).run()
    with RunStore(tmp_path / "search.db") as store:
        assert [t.status for t in store.trials()] == [TrialStatus.FAILED]
    result = Search(None, space, objective=every, objectives=objectives, budget=2,
                    run_dir=tmp_path, verbose=False).run()
    assert sorted(t.metrics["cost"] for t in result.trials
                  if t.status is TrialStatus.COMPLETED) == [1.0, 2.0]


def test_a_nas_strategy_with_several_objectives_says_no_inf_nevergrad_made_itself(tmp_path):
    # was: "BadLossWarning: Updating fitness with inf value" in a default search with two
    # objectives: nevergrad's hypervolume scalar is inf for finite losses worse in each than
    # the first ones, and the NAS strategies learn from the first loss, not that scalar
    import warnings

    def worse_in_both(arch):
        return {"acc": -float(arch["x"]), "size": float(arch["x"])}

    for seed in range(3):
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            result = Search(None, {"x": {"choice": list(range(8))}}, objective=worse_in_both,
                            objectives={"acc": "max", "size": "min"}, budget=8, seed=seed,
                            run_dir=tmp_path / str(seed), verbose=False).run()
        assert result.best.arch == {"x": 0}
        assert not [w for w in said if "Updating fitness" in str(w.message)], seed


def test_the_header_of_a_search_with_several_objectives_names_them_all(tmp_path, capsys):
    # was: `Searching toy in ...: ..., val_acc (max)`: the search read as one of val_acc
    # alone, though size was told to the optimizer and makes the Pareto front
    def toy(arch):
        return {"val_acc": arch["x"] / 10, "size": float(arch["x"])}

    Search(None, {"x": {"int": [1, 6]}}, objective=toy,
           objectives={"val_acc": "max", "size": "min"}, budget=2, run_dir=tmp_path / "two",
           progress=False).run()
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith("Searching toy in ")
    assert header.endswith("architectures, objectives val_acc (max), size (min)")
    Search(None, {"x": {"int": [1, 6]}}, objective=toy, monitor="val_acc", mode="max",
           budget=2, run_dir=tmp_path / "one", progress=False).run()
    assert capsys.readouterr().out.splitlines()[0].endswith("architectures, val_acc (max)")


@pytest.mark.parametrize("column", ["trial", "arch"])
def test_an_objective_named_like_a_front_column_keeps_its_own_values(tmp_path, capsys, column):
    # was: the front's rows were {"trial": id, **objectives, "arch": arch}: an objective
    # named "trial" replaced the trial number (export --trial of it picked another trial),
    # one named "arch" lost its values to the architecture
    def toy(arch):
        return {"acc": arch["x"] / 10, column: float(10 - arch["x"] + 100)}

    Search(None, {"x": {"int": [1, 6]}}, objective=toy,
           objectives={"acc": "max", column: "max"}, budget=3, seed=0, run_dir=tmp_path,
           verbose=False).run()
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    front = json.loads(capsys.readouterr().out)["pareto_front"]
    with RunStore(tmp_path / "search.db") as store:
        stored = {t.trial_id: t for t in store.trials()}
    assert len(front) == 3
    for row in front:
        trial = stored[row["trial"]]
        assert row["arch"] == trial.arch and row["acc"] == trial.metrics["acc"]
        assert row[f"{column} (objective)"] == trial.metrics[column]
    assert main(["show", str(tmp_path)]) == 0
    assert f"{column} (objective)" in capsys.readouterr().out.split("Pareto front")[1]

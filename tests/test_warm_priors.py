"""What a warm start tells the optimizer and says: provenance recorded and no prior counted
as a trial, the results it did not use and the keys it added or dropped (``show``,
``report``), the earlier best as the start of evolution and local search, and each
objective of a prior (NaN or infinite ones skipped, costs counted in this search). Real
stores, real nevergrad; an objective (nothing trains)."""

from __future__ import annotations

import html
import json
import math
import warnings

import pytest

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.results import TrialStatus
from lightning_nas.search.objectives import Objectives
from lightning_nas.search.warm import WarmStartReport, load_priors
from lightning_nas.space import SearchSpace
from lightning_nas.store import open_run
from lightning_nas.strategies import make_optimizer
from lightning_nas.strategies.transfer import tell_priors
from tests.helpers_store import sql
from tests.helpers_warm import SPACE, score
from tests.helpers_warm import Stop as _Stop
from tests.helpers_warm import search as _search
from tests.helpers_warm import stop_after as _stop_after


def test_warm_search_counts_no_prior_and_records_provenance(tmp_path, capsys):
    _search(tmp_path / "source", 16).run()
    result = _search(tmp_path / "warm", 5, warm_start=[str(tmp_path / "source")],
                     verbose=True).run()
    out = capsys.readouterr().out
    assert "warm start from" in out and "16 of 16 trials used" in out
    assert len(result.trials) == 5  # priors never count against the budget
    assert all(t.status is TrialStatus.COMPLETED for t in result.trials)
    with open_run(tmp_path / "warm") as store:
        priors = store.priors()
        assert len(priors) == 16
        assert {p["source"] for p in priors} == {str((tmp_path / "source").resolve())}
        assert sorted(p["source_trial"] for p in priors) == list(range(1, 17))
        assert store.get_meta("warm_start")["sources"][0]["used"] == 16
    # the default strategy evaluates the earlier best first
    source_best = open_run(tmp_path / "source").best("max")
    assert result.trials[0].arch == source_best.arch
    assert main(["show", str(tmp_path / "warm")]) == 0
    assert f"warm start: 16 of 16 results of {(tmp_path / 'source').resolve()}" in \
        capsys.readouterr().out


def test_show_says_why_a_warm_starts_other_results_were_not_used(tmp_path, capsys):
    # was: "9 of 12 results of ... used" alone, though the store keeps why the others were
    # skipped (the search said it at its start)
    _search(tmp_path / "source", 12).run()
    outside = sum(t.arch["a"] == 3 for t in open_run(tmp_path / "source").trials())
    assert outside
    _search(tmp_path / "warm", 2, {**SPACE, "a": {"choice": [0, 1, 2]}},
            warm_start=[str(tmp_path / "source")]).run()
    assert main(["show", str(tmp_path / "warm")]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines()
                if line.startswith("warm start:"))
    assert line.endswith(f"results of {(tmp_path / 'source').resolve()} (not counted in the "
                         f"budget); skipped: {outside} outside this space"), line
    assert main(["show", str(tmp_path / "warm"), "--format", "json"]) == 0
    source = json.loads(capsys.readouterr().out)["summary"]["warm_start"][0]
    assert source["used"] == 12 - outside
    assert source["skipped"] == [f"{outside} outside this space"]
    # which results, and why (was: the count alone, the trials said at the start only)
    assert [t for t, _ in source["out_of_space"]] == sorted(
        t.trial_id for t in open_run(tmp_path / "source").trials() if t.arch["a"] == 3)
    assert source["out_of_space"][0][1] == ("architecture value a=3 is not in the space: "
                                            "expected one of [0, 1, 2]")
    # the HTML report says it too (was: no word of the warm start)
    assert main(["report", str(tmp_path / "warm")]) == 0
    page = (tmp_path / "warm" / "report" / "report.html").read_text()
    assert f"<p>{html.escape(line)}</p>" in page


@pytest.mark.parametrize("optimizer", ["RegularizedEvolution", "LocalSearch"])
def test_evolution_and_local_search_start_from_the_earlier_best(tmp_path, optimizer):
    _search(tmp_path / "source", 16).run()
    top = [t.arch for t in open_run(tmp_path / "source").leaderboard("max", k=3)]
    result = _search(tmp_path / "warm", 3, warm_start=[str(tmp_path / "source")],
                     optimizer=optimizer).run()
    first = [t.arch for t in result.trials]
    assert first[0] == top[0]
    if optimizer == "RegularizedEvolution":  # the first population: the earlier best
        assert first == top


def test_other_optimizers_are_told_priors_as_they_are():
    space = SearchSpace.from_dict(SPACE)
    opt = make_optimizer("NGOpt", space, budget=5, seed=0)
    tell_priors(opt, [({"a": 1, "b": 2, "c": 4}, -0.9, "t"), ({"a": 0, "b": 0, "c": 1}, 0.1, "t")])
    assert opt.num_tell == 2 and opt.num_ask == 0


def _sized(arch: dict) -> dict:
    return {**score(arch), "size": float(arch["a"] * arch["c"])}


def _unsized_a0(arch: dict) -> dict:
    """A source run that logged ``size`` only where ``a`` is not 0."""
    out = _sized(arch)
    return {k: v for k, v in out.items() if k != "size" or arch["a"]}


def _nan_size_a3(arch: dict) -> dict:
    """A source run whose ``size`` is NaN where ``a`` is 3."""
    return {**_sized(arch), **({"size": math.nan} if arch["a"] == 3 else {})}


def test_a_prior_with_a_nan_or_infinite_objective_is_skipped_and_said(tmp_path):
    # was: used, and told to nevergrad as NaN (BadLossWarning: its Pareto front took it)
    from nevergrad.common.errors import BadLossWarning, LossTooLargeWarning

    _search(tmp_path / "source", 12, seed=9, objective=_nan_size_a3).run()
    nan = [t for t in open_run(tmp_path / "source").trials() if t.arch["a"] == 3]
    assert nan and all(t.status is TrialStatus.COMPLETED for t in nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BadLossWarning)
        warnings.simplefilter("error", LossTooLargeWarning)
        _search(tmp_path / "warm", 4, warm_start=[str(tmp_path / "source")], optimizer="NGOpt",
                objective=_sized, objectives={"acc": "max", "size": "min"}, verbose=True).run()
    with open_run(tmp_path / "warm") as store:
        report = store.get_meta("warm_start")["sources"][0]
        priors = store.priors()
    assert report["not_finite"] == {"size": len(nan)} and report["used"] == len(priors)
    assert all(math.isfinite(v) for p in priors for v in p["losses"])
    assert {p["source_trial"] for p in priors}.isdisjoint(t.trial_id for t in nan)
    text = WarmStartReport.from_dict({"sources": [report]}).describe()
    assert f"skipped: {len(nan)} with objective 'size' NaN or infinite" in text
    # the monitor itself (a store another tool wrote): skipped, never told
    with sql(tmp_path / "source" / "search.db") as db:
        db.execute("UPDATE trials SET score = ? WHERE id = 1", (math.inf,))
    priors, report = load_priors([tmp_path / "source"], SearchSpace.from_dict(SPACE))
    assert report.sources[0].not_finite == {"acc": 1} and 1 not in {
        p.source_trial for p in priors}


@pytest.mark.parametrize("optimizer", ["SurrogateEvolution", "NGOpt"])
def test_several_objectives_take_each_priors_losses_and_resume_exactly(tmp_path, optimizer):
    _search(tmp_path / "source", 14, seed=9, objective=_unsized_a0).run()
    source = open_run(tmp_path / "source").trials()
    warm = {"warm_start": [str(tmp_path / "source")], "optimizer": optimizer,
            "objective": _sized, "objectives": {"acc": "max", "size": "min"}}
    straight = _search(tmp_path / "straight", 10, **warm).run()
    with open_run(tmp_path / "straight") as store:
        report = store.get_meta("warm_start")["sources"][0]
        priors = store.priors()
    unsized = [t for t in source if t.arch["a"] == 0]
    assert report["lacking"] == {"size": len(unsized)} and unsized
    assert report["used"] + report["merged"] + len(unsized) == 14
    by_trial = {t.trial_id: t for t in source}
    for prior in priors:  # the monitor on its own task, then the source's size
        old = by_trial[prior["source_trial"]]
        assert prior["losses"] == [-old.score, old.metrics["size"]]
    with pytest.raises(_Stop):
        _search(tmp_path / "stopped", 10, on_trial_end=_stop_after(4), **warm).run()
    resumed = _search(tmp_path / "stopped", 10, **warm).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in straight.trials]
    assert len(resumed.pareto_front()) >= 1


def _with_lat(arch: dict) -> dict:
    return {**score(arch), "lat": float(arch["c"])}


def test_each_objective_of_a_prior_is_its_trials_value_of_that_objective(tmp_path):
    # was: the first loss was always the source's monitor, so with objectives lat (min),
    # acc (max) every prior was told [-acc, -acc] and retrain_top_k=1 retrained the
    # earlier architecture with the best acc, not the best lat
    _search(tmp_path / "source", 8, objective=_with_lat).run()  # acc only, lat logged
    source = {t.trial_id: t for t in open_run(tmp_path / "source").trials()}
    warm = Search(None, SPACE, objectives={"lat": "min", "acc": "max"}, budget=1, seed=3,
                  run_dir=tmp_path / "warm", objective=_with_lat, verbose=False,
                  warm_start=[tmp_path / "source"], retrain_top_k=1, optimizer="NGOpt").run()
    with open_run(tmp_path / "warm") as store:
        priors = store.priors()
        rep = WarmStartReport.from_dict(store.get_meta("warm_start")).sources[0]
    assert len(priors) == 8
    for prior in priors:
        old = source[prior["source_trial"]]
        assert prior["losses"] == [old.metrics["lat"], -old.score]
        assert prior["loss"] == old.metrics["lat"] and prior["score"] == old.score
    assert warm.trials[0].metrics["lat"] == min(t.metrics["lat"] for t in source.values())
    assert rep.first_from_monitor is None
    # a source that never logged this search's first objective: its monitor stands in
    # (on its own task, as with one objective), and the report says so
    objectives = Objectives({"size": "min", "acc": "max"})
    priors, report = load_priors([tmp_path / "source"], SearchSpace.from_dict(SPACE),
                                 objectives=objectives)
    assert report.sources[0].first_from_monitor == "size" and len(priors) == 8
    assert all(p.losses == [-p.score, -p.score] and p.loss == -p.score for p in priors)
    assert ("first objective 'size' not logged there: its monitor acc (max) stands in"
            in report.describe())


def test_costs_of_priors_are_counted_in_this_search_never_taken_from_the_source(tmp_path):
    def with_params(arch: dict) -> dict:
        return {**score(arch), "params": 1.0}  # the source's model: another size

    def count(arch: dict) -> dict:
        if arch["a"] == 0:
            raise ValueError("this model cannot be built with a=0")
        return {"params": 100.0 * arch["a"] + arch["c"]}

    _search(tmp_path / "source", 10, objective=with_params).run()
    priors, report = load_priors([tmp_path / "source"], SearchSpace.from_dict(SPACE),
                                 objectives=Objectives({"acc": "max", "params": "min"}),
                                 count=count)
    unbuilt = [t for t in open_run(tmp_path / "source").trials() if t.arch["a"] == 0]
    assert unbuilt and report.sources[0].lacking == {"params": len(unbuilt)}
    assert f"{len(unbuilt)} without objective 'params'" in report.describe()
    assert priors and all(p.losses == [p.loss, 100.0 * p.arch["a"] + p.arch["c"]]
                          for p in priors)


def test_show_and_report_say_the_keys_a_warm_start_added_and_dropped(tmp_path, capsys):
    # was: the counts alone; the keys this space added (with which value) and dropped were
    # said by the search at its start only (they are in the store's meta warm_start)
    _search(tmp_path / "source", 4, {**SPACE, "extra": {"choice": ["x", "y"]}}).run()
    space = {**SPACE, "w": {"int": [16, 64], "step": 16}}
    _search(tmp_path / "warm", 1, space, warm_start=[str(tmp_path / "source")]).run()
    assert main(["show", str(tmp_path / "warm")]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines()
                if line.startswith("warm start:"))
    assert line.endswith("(not counted in the budget); keys added with w=32; keys dropped: "
                         "extra"), line
    assert main(["show", str(tmp_path / "warm"), "--format", "json"]) == 0
    source = json.loads(capsys.readouterr().out)["summary"]["warm_start"][0]
    assert (source["filled"], source["recorded"], source["dropped"]) == ({"w": 32}, {},
                                                                         ["extra"])
    assert main(["report", str(tmp_path / "warm")]) == 0
    page = (tmp_path / "warm" / "report" / "report.html").read_text()
    assert f"<p>{html.escape(line)}</p>" in page

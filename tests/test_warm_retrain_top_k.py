"""A warm start's ``retrain_top_k``: the earlier best architectures trained first, within the
budget, distinct and within the limits, ranked as the best trial is, their costs counted,
and neither a failed one trained again on resume nor one asked again counted twice. Real
stores, real nevergrad; real Trainers where costs are counted."""

from __future__ import annotations

import html
import itertools
import json
import math
from pathlib import Path

import pytest

from lightning_nas import Search
from lightning_nas.arch import arch_key
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.store import open_run, open_search_store
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_warm import Stop as _Stop
from tests.helpers_warm import score
from tests.helpers_warm import search as _search
from tests.helpers_warm import stop_after as _stop_after


def test_retrain_top_k_trains_the_earlier_best_first_within_the_budget(tmp_path):
    _search(tmp_path / "source", 12).run()
    top = [t.arch for t in open_run(tmp_path / "source").leaderboard("max", k=2)]
    result = _search(tmp_path / "warm", 4, warm_start=[str(tmp_path / "source")],
                     retrain_top_k=2, optimizer="RandomSearch").run()
    assert [t.arch for t in result.trials[:2]] == top and len(result.trials) == 4


def test_retrain_top_k_above_the_earlier_architectures_says_so(tmp_path, capsys):
    # was: cut short to the architectures there were without a word
    _search(tmp_path / "source", 2).run()
    result = _search(tmp_path / "warm", 4, warm_start=[str(tmp_path / "source")],
                     retrain_top_k=3, optimizer="RandomSearch", verbose=True).run()
    out = capsys.readouterr().out
    assert out.count("[warm start] retrain_top_k=3, and the earlier runs gave 2 distinct "
                     "architectures within the limits: no more to train again") == 1
    assert len(result.trials) == 4
    best = open_run(tmp_path / "source").leaderboard("max", k=1)[0].arch
    _search(tmp_path / "warm2", 4, warm_start=[str(tmp_path / "source")], retrain_top_k=2,
            optimizer="RandomSearch", verbose=True,
            constraints=[lambda arch: arch != best]).run()
    out = capsys.readouterr().out  # the one over a constraint is not counted as given
    assert "[warm start] not trained again: " in out
    assert "the earlier runs gave 1 distinct architectures within the limits" in out


def test_retrain_top_k_trains_k_distinct_architectures_that_meet_the_limits(tmp_path):
    # was: the best prior of two sources (the same architecture) took both places of
    # retrain_top_k=2, and a retrained architecture skipped the limits proposals meet
    _search(tmp_path / "s1", 12).run()
    _search(tmp_path / "s2", 12).run()  # the same search: the same best
    ranked = [t.arch for t in open_run(tmp_path / "s1").leaderboard("max", k=3)]
    result = _search(tmp_path / "warm", 3, warm_start=[str(tmp_path / "s1"),
                                                       str(tmp_path / "s2")],
                     retrain_top_k=2, optimizer="RandomSearch").run()
    assert [t.arch for t in result.trials[:2]] == ranked[:2]
    forbidden = ranked[0]
    limited = _search(tmp_path / "limited", 3, warm_start=[str(tmp_path / "s1")],
                      retrain_top_k=2, optimizer="RandomSearch",
                      constraints=[lambda arch: arch != forbidden]).run()
    assert [t.arch for t in limited.trials[:2]] == ranked[1:3]  # the next ones instead
    assert forbidden not in [t.arch for t in limited.trials]


def test_retrain_top_k_breaks_ties_by_the_later_objectives_as_the_best_trial_does(tmp_path):
    # was: two earlier results tied on the first objective were retrained earliest first,
    # where show and best.yaml put the one with the better later objective first
    calls = itertools.count()

    def tied(arch: dict) -> dict:  # a=1 and a=2 tie on acc; the later trial is smaller
        return {"acc": 0.9 if arch["a"] in (1, 2) else 0.5, "size": 100.0 - next(calls)}

    kw = {"objective": tied, "objectives": {"acc": "max", "size": "min"},
          "optimizer": "RandomSearch"}
    _search(tmp_path / "source", 4, space={"a": {"choice": [0, 1, 2, 3]}}, **kw).run()
    with open_run(tmp_path / "source") as store:
        ranked = [t.arch for t in store.leaderboard("max")]
        tied_first = [t.arch for t in store.trials() if t.arch["a"] in (1, 2)][0]
    assert ranked[1] == tied_first  # the earlier of the tied ranks second
    warm = _search(tmp_path / "warm", 2, space={"a": {"choice": [0, 1, 2, 3]}}, **kw,
                   warm_start=[str(tmp_path / "source")], retrain_top_k=2).run()
    assert [t.arch for t in warm.trials] == ranked[:2]


def test_retrained_architectures_get_their_costs_counted(tmp_path, tiny_trainer):
    # was: several objectives with a cost and retrain_top_k stopped after the first
    # retrained trial ("objective 'params' is neither logged nor a cost"), on every resume
    space = {"width": {"choice": [4, 8, 16]}}
    Search(TinyNet, space, data=BlobData, trainer=tiny_trainer, budget=2,
           run_dir=tmp_path / "source", verbose=False).run()
    result = Search(TinyNet, space, data=BlobData, trainer=tiny_trainer, budget=2,
                    objectives={"val_acc": "max", "params": "min"}, retrain_top_k=1,
                    warm_start=[str(tmp_path / "source")], run_dir=tmp_path / "warm",
                    verbose=False).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    assert all(t.metrics["params"] > 0 for t in result.trials)


def test_a_retrained_architecture_that_failed_is_not_trained_again_on_resume(tmp_path):
    # was: a failure before any result waits (untold) to be told; the resume replayed it
    # there, and retrain_top_k skipped only told or running architectures: trained twice
    _search(tmp_path / "source", 12).run()
    top = [t.arch for t in open_run(tmp_path / "source").leaderboard("max", k=2)]
    calls = []

    def failing_best(arch: dict) -> dict:
        calls.append(arch)
        if arch == top[0]:
            raise RuntimeError("this architecture is broken")
        return score(arch)

    warm = {"warm_start": [str(tmp_path / "source")], "retrain_top_k": 2,
            "optimizer": "RandomSearch", "objective": failing_best}
    with pytest.raises(_Stop):
        _search(tmp_path / "warm", 4, on_trial_end=_stop_after(1), **warm).run()
    result = _search(tmp_path / "warm", 4, **warm).run()
    assert calls.count(top[0]) == 1 and calls[1] == top[1]
    assert [t.arch for t in result.trials][:2] == top
    assert [t.status for t in result.trials][:2] == [TrialStatus.FAILED, TrialStatus.COMPLETED]


def test_a_retrained_architecture_asked_again_is_a_repeat_not_a_trial(tmp_path, tiny_trainer):
    # was: the retrained prior was stored and keyed as the source had it, but nevergrad's
    # round trip of a log-scale float holds it an ulp off (0.24067051877668927 comes back
    # 0.2406705187766893): the default strategy's ask of that point trained it again
    lr = 0.24067051877668927
    space = {"width": {"choice": [4, 8]}, "lr": {"float": [0.01, 0.5], "log": True}}
    with open_search_store(tmp_path / "source", {"space": space, "monitor": "val_acc",
                                                 "mode": "max"}) as store:
        for arch, acc in (({"width": 8, "lr": lr}, 0.9), ({"width": 4, "lr": 0.1}, 0.5)):
            store.finish_trial(TrialResult(store.start_trial(arch), arch,
                                           TrialStatus.COMPLETED, score=acc))

    def search(run_dir: Path, **kw) -> Search:
        return Search(TinyNet, space, data=BlobData, trainer={**tiny_trainer, "max_epochs": 1},
                      budget=2, seed=3, retrain_top_k=1, warm_start=[str(tmp_path / "source")],
                      run_dir=run_dir, verbose=False, **kw)

    straight = search(tmp_path / "straight").run()
    first, second = (t.arch for t in straight.trials)
    assert first["width"] == 8 and math.isclose(first["lr"], lr, rel_tol=1e-12)
    assert not (second["width"] == 8 and math.isclose(second["lr"], lr, rel_tol=1e-9))
    with open_run(tmp_path / "straight") as store:  # the repeat: asked, told, not counted
        assert [e["kind"] for e in store.events() if e["arch_key"] == arch_key(first)] == \
            ["given", "ask"]
    with pytest.raises(_Stop):  # stopped after the retrained trial, resumed: the same
        search(tmp_path / "stopped", on_trial_end=_stop_after(1)).run()
    resumed = search(tmp_path / "stopped").run()
    assert [t.arch for t in resumed.trials] == [first, second]


def test_show_and_report_say_which_trials_were_retrained_from_which_source_trial(
        tmp_path, capsys):
    # was: nothing in show, its JSON or report.html said which trials re-trained priors
    from lightning_nas.cli import main

    _search(tmp_path / "source", 6).run()
    source = str((tmp_path / "source").resolve())
    top = open_run(tmp_path / "source").leaderboard("max", k=2)
    _search(tmp_path / "warm", 3, warm_start=[source], retrain_top_k=2,
            optimizer="RandomSearch").run()
    assert main(["show", str(tmp_path / "warm"), "--format", "json"]) == 0
    retrained = json.loads(capsys.readouterr().out)["summary"]["retrained"]
    assert retrained == [{"trial": 1, "source": source, "source_trial": top[0].trial_id},
                         {"trial": 2, "source": source, "source_trial": top[1].trial_id}]
    line = (f"warm start: re-trained trial 1 (trial {top[0].trial_id} "
            f"of {source}), trial 2 (trial {top[1].trial_id} of {source})")
    assert main(["show", str(tmp_path / "warm")]) == 0
    assert line in capsys.readouterr().out.splitlines()
    pytest.importorskip("matplotlib")
    assert main(["report", str(tmp_path / "warm")]) == 0
    assert f"<p>{html.escape(line)}</p>" in \
        (tmp_path / "warm" / "report" / "report.html").read_text()


def test_an_optimizer_that_cannot_be_told_an_architecture_twice_refuses_retrain_top_k(
        tmp_path):
    # was: accepted; the re-trained best, told to BO as a prior first, was trained, and its
    # tell failed (bayes_opt's NotUniqueError) after the first trial, the search stopped as
    # "an error of the optimizer itself"
    pytest.importorskip("bayes_opt", reason="nevergrad's BO needs bayes-optimization")
    from lightning_nas.errors import ConfigError

    _search(tmp_path / "source", 4, seed=9).run()
    warm = {"warm_start": [str(tmp_path / "source")], "optimizer": "BO"}
    with pytest.raises(ConfigError) as err:
        _search(tmp_path / "warm", 3, retrain_top_k=1, **warm)
    said = str(err.value)
    assert said.startswith("optimizer 'BO' cannot be told an architecture it was told "
                           "before (NotUniqueError: "), said
    assert said.endswith("and `retrain_top_k`=1 trains warm_start results it is told first "
                         "again; pick another optimizer (e.g. SurrogateEvolution, NGOpt, "
                         "TwoPointsDE) or `retrain_top_k`: 0"), said
    assert not (tmp_path / "warm").exists()
    assert len(_search(tmp_path / "plain", 3, **warm).run().trials) == 3  # without: fine

"""Warm starts (``search.warm_start``) and exact resume: real stores, real nevergrad, real
Trainers for the end-to-end case, a real ``kill -9`` for the resume."""

from __future__ import annotations

import html
import importlib.util
import itertools
import json
import math
import re
import signal
import textwrap
import time
import warnings
import zlib
from pathlib import Path

import pytest

from lightning_nas import Search
from lightning_nas.arch import arch_key
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.objectives import Objectives
from lightning_nas.search.warm import WarmStartReport, fill_value, load_priors
from lightning_nas.space import SearchSpace
from lightning_nas.space.params import Choice, Fixed, Float, Int, Ordered
from lightning_nas.store import RunStore, open_run, open_search_store
from lightning_nas.strategies import make_optimizer
from lightning_nas.strategies.transfer import tell_priors
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

SPACE = {"a": {"choice": [0, 1, 2, 3]}, "b": {"choice": [0, 1, 2, 3]},
         "c": {"ordered": [1, 2, 4, 8]}}


def score(arch: dict) -> dict:
    """A deterministic score with structure (a, b matter most) and a little noise."""
    noise = zlib.crc32(repr(sorted(arch.items())).encode()) % 100 / 1000
    return {"acc": arch["a"] * 0.3 + (arch["b"] == 2) * 0.5 + arch.get("c", 1) / 80 + noise}


def _search(run_dir: Path, budget: int, space: dict = SPACE, **kw) -> Search:
    kw.setdefault("verbose", False)
    kw.setdefault("objective", score)
    return Search(None, space, monitor="acc", mode="max", budget=budget,
                  seed=kw.pop("seed", 3), run_dir=run_dir, **kw)


def test_priors_from_another_space_are_mapped_and_reported(tmp_path):
    source = tmp_path / "source"
    _search(source, 12, {**SPACE, "extra": {"choice": ["x", "y"]}}).run()
    target = {"a": {"choice": [0, 1, 2]}, "b": SPACE["b"], "d": {"choice": [0.0, 0.5]},
              "c": SPACE["c"]}
    priors, report = load_priors([source], SearchSpace.from_dict(target))
    rep = report.sources[0]
    trials = open_run(source).trials()
    outside = [t for t in trials if t.arch["a"] == 3]
    assert rep.trials == 12 and rep.dropped == ["extra"] and rep.filled == {"d": 0.0}
    assert [t for t, _ in rep.out_of_space] == [t.trial_id for t in outside]
    assert all("a=3" in reason for _, reason in rep.out_of_space)
    # 'extra' dropped: archs equal but for it merge, the better kept
    assert rep.used + rep.merged + len(outside) == 12 and len(priors) == rep.used
    by_trial = {t.trial_id: t for t in trials}
    for prior in priors:
        old = by_trial[prior.source_trial]
        assert prior.arch == {"a": old.arch["a"], "b": old.arch["b"], "d": 0.0,
                              "c": old.arch["c"]}
        assert prior.loss == -old.score and prior.source == str(source.resolve())
    text = report.describe()
    assert "keys added with d=0.0" in text and "keys dropped: extra" in text
    assert f"{len(outside)} outside this space" in text
    # a fill for a key the source had is not used, and said (was: without a word)
    _, again = load_priors([source], SearchSpace.from_dict(target), {"b": 1, "d": 0.5})
    assert again.sources[0].fill_unused == ["b"] and again.sources[0].filled == {"d": 0.5}
    assert "warm_start_fill not used for b (its trials had them)" in again.describe()


def test_a_source_sharing_no_key_with_the_space_gives_no_prior_and_says_so(tmp_path):
    # was: each of its trials became a prior of fill values alone, an architecture nobody
    # trained told with another task's score
    _search(tmp_path / "source", 3).run()
    priors, report = load_priors([tmp_path / "source"],
                                 SearchSpace.from_dict({"x": {"choice": [1, 2]}}))
    rep = report.sources[0]
    assert priors == [] and rep.unrelated == 3 and rep.filled == {}
    assert "3 sharing no key with this space" in rep.describe()
    shared, report = load_priors([tmp_path / "source"], SearchSpace.from_dict(
        {"a": SPACE["a"], "x": {"choice": [1, 2]}}))  # one key shared: taken, x filled
    assert len(shared) == 3 and report.sources[0].unrelated == 0
    assert report.sources[0].filled == {"x": 1}


def test_a_dict_valued_choice_is_one_value_and_a_group_is_keys(tmp_path):
    # a choice's dict value was flattened like a group: 'extra.k' dropped, 'extra' filled,
    # and earlier results attached to architectures that never ran
    space = {"extra": {"choice": [{"k": 1}, {"k": 2}, {"k": 3}]}, "a": {"choice": [0, 1]},
             "g": {"b": {"choice": [0, 1, 2, 3]}}}
    source = tmp_path / "source"
    _search(source, 6, space, objective=lambda arch: {"acc": arch["extra"]["k"] / 10}).run()
    priors, report = load_priors([source], SearchSpace.from_dict(space))
    rep = report.sources[0]
    assert (rep.used, rep.merged, rep.dropped, rep.filled) == (6, 0, [], {})
    runs = {t.trial_id: t.arch for t in open_run(source).trials()}
    assert all(p.arch == runs[p.source_trial] for p in priors)


def test_a_choice_of_dicts_and_a_group_of_its_keys_map_onto_each_other(tmp_path):
    # was: every prior got the fill value extra.k=1 (or extra={'k': 1}) for the value its
    # trial ran with, and retrain_top_k trained an architecture the scores never belonged to
    dicts = {"extra": {"choice": [{"k": 1}, {"k": 2}, {"k": 3}]}, "a": {"choice": [0, 1]}}
    group = {"extra": {"k": {"choice": [1, 2, 3]}}, "a": {"choice": [0, 1]}}
    def objective(arch: dict) -> dict:
        return {"acc": arch["extra"]["k"] / 10 + arch["a"] / 100}

    for name, first, then in (("d2g", dicts, group), ("g2d", group, dicts)):
        source = tmp_path / name / "source"
        _search(source, 6, first, objective=objective).run()
        runs = {t.trial_id: t.arch for t in open_run(source).trials()}
        warm = _search(tmp_path / name / "warm", 1, then, objective=objective,
                       warm_start=[source], retrain_top_k=1, optimizer="NGOpt").run()
        with open_run(tmp_path / name / "warm") as store:
            priors = store.priors()
            rep = WarmStartReport.from_dict(store.get_meta("warm_start")).sources[0]
        assert (rep.used, rep.merged, rep.filled, rep.dropped) == (6, 0, {}, []), name
        assert sorted((p["source_trial"], p["arch"]) for p in priors) == sorted(runs.items())
        assert warm.trials[0].arch == {"extra": {"k": 3}, "a": 1}  # the earlier best
    # in a config: a chosen optimizer node, and the lr searched in the node the run had
    from lightning_nas.results import TrialResult
    from lightning_nas.store import open_search_store

    def sgd(lr: float) -> dict:
        return {"class_path": "torch.optim.SGD", "init_args": {"lr": lr}}

    nodes = {"model.optimizer": {"choice": [sgd(0.1), sgd(0.3)]}}
    config = {"model": {"class_path": "m.Net", "init_args": {"optimizer": sgd(0.05)}}}
    for name, space, key in (("nodes", nodes, "model.optimizer"),
                             ("lr", {"model.optimizer.lr": {"choice": [0.1, 0.3]}},
                              "model.optimizer.lr")):
        store = open_search_store(tmp_path / name, {"space": space, "monitor": "acc",
                                                    "mode": "max"})
        store.set_meta("config", config)
        for lr, acc in ((0.1, 0.2), (0.3, 0.9)):
            arch = {key: sgd(lr) if name == "nodes" else lr}
            store.finish_trial(TrialResult(store.start_trial(arch), arch,
                                           TrialStatus.COMPLETED, score=acc))
        store.close()
    lr = SearchSpace.from_dict({"model.optimizer.init_args.lr": {"choice": [0.1, 0.3]}})
    priors, report = load_priors([tmp_path / "nodes"], lr, fill={
        "model.optimizer.init_args.lr": 0.1})
    assert [(p.arch, p.score) for p in priors] == [
        ({"model.optimizer.init_args.lr": 0.1}, 0.2),
        ({"model.optimizer.init_args.lr": 0.3}, 0.9)]
    rep = report.sources[0]
    assert (rep.filled, rep.recorded, rep.dropped) == ({}, {}, ["model.optimizer.class_path"])
    assert rep.fill_unused == ["model.optimizer.init_args.lr"]
    priors, report = load_priors([tmp_path / "lr"], SearchSpace.from_dict(nodes))
    assert [(p.arch, p.score) for p in priors] == [({"model.optimizer": sgd(0.1)}, 0.2),
                                                   ({"model.optimizer": sgd(0.3)}, 0.9)]
    rep = report.sources[0]
    assert (rep.used, rep.filled, rep.recorded, rep.dropped) == (2, {}, {}, [])


def test_a_key_the_earlier_space_lacked_takes_the_value_its_run_had(tmp_path):
    from lightning_nas.results import TrialResult
    from lightning_nas.store import open_search_store

    store = open_search_store(tmp_path / "old", {"space": {}, "monitor": "acc", "mode": "max"})
    store.set_meta("config", {"data": {"class_path": "d.Data", "init_args": {"batch_size": 64}},
                              "model": {"class_path": "m.Net", "init_args": {
                                  "head": {"class_path": "m.Head", "init_args": {"w": 48}}}}})
    store.set_meta("model", {"class_path": "m.Net", "init_args": {"dropout": 0.2}})
    for k, acc in ((3, 0.9), (5, 0.8)):
        store.finish_trial(TrialResult(store.start_trial({"k": k}), {"k": k},
                                       TrialStatus.COMPLETED, score=acc))
    store.close()
    space = SearchSpace.from_dict({"k": {"choice": [3, 5]},
                                   "data.batch_size": {"choice": [32, 64]},
                                   "dropout": {"choice": [0.1, 0.2]},
                                   "model.head.w": {"choice": [32, 48]}})
    priors, report = load_priors([tmp_path / "old"], space)
    # was the first value of each choice (batch_size 32, dropout 0.1, w 32): runs never run
    assert [p.arch for p in priors] == [
        {"k": k, "data.batch_size": 64, "dropout": 0.2, "model.head.w": 48} for k in (3, 5)]
    assert report.sources[0].recorded == {"data.batch_size": 64, "dropout": 0.2,
                                          "model.head.w": 48}
    assert "keys added with the earlier run's values data.batch_size=64" in report.describe()
    priors, _ = load_priors([tmp_path / "old"], space, fill={"dropout": 0.1})  # fill wins
    assert {p.arch["dropout"] for p in priors} == {0.1}
    narrow = SearchSpace.from_dict({"k": {"choice": [3, 5]},
                                    "data.batch_size": {"choice": [16, 32]}})
    priors, report = load_priors([tmp_path / "old"], narrow)  # 64 is not in it: skipped
    assert not priors and len(report.sources[0].out_of_space) == 2
    with RunStore(tmp_path / "old" / "search.db") as store:  # a model left at its default
        store.set_meta("model", {"class_path": "tests.helpers.TinyNet", "init_args": {}})
        store.set_meta("config", None)
    act = SearchSpace.from_dict({"k": {"choice": [3, 5]},
                                 "activation": {"choice": ["tanh", "relu"]}})
    priors, report = load_priors([tmp_path / "old"], act)
    assert {p.arch["activation"] for p in priors} == {"relu"}  # TinyNet's, not "tanh"
    with RunStore(tmp_path / "old" / "search.db") as store:  # and data left at its default
        store.set_meta("data", {"class_path": "tests.helpers.BlobData", "init_args": {}})
    batch = SearchSpace.from_dict({"k": {"choice": [3, 5]},
                                   "data.batch_size": {"choice": [32, 64]}})
    priors, report = load_priors([tmp_path / "old"], batch)
    # was 32 (the choice's first value) for data: only a model argument took its default
    assert {p.arch["data.batch_size"] for p in priors} == {64}  # BlobData's
    assert report.sources[0].recorded == {"data.batch_size": 64}


class SavedData(BlobData):
    """``BlobData`` that keeps its arguments (``save_hyperparameters``)."""

    def __init__(self, n: int = 256, batch_size: int = 64) -> None:
        super().__init__(n=n, batch_size=batch_size)
        self.save_hyperparameters()


def test_a_datamodule_objects_saved_arguments_are_what_its_trials_ran_with(tmp_path):
    # was: a run given SavedData(batch_size=16) mapped its trials to data.batch_size=64, the
    # first value of the choice, which they never trained with (given its class: 16)
    for name, data in (("saved", SavedData(n=64, batch_size=16)),
                       ("plain", BlobData(n=64, batch_size=16))):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=data, trainer={"max_epochs": 1},
               budget=2, optimizer="RandomSearch", run_dir=tmp_path / name, verbose=False).run()
    space = SearchSpace.from_dict({"width": {"choice": [4, 8]},
                                   "data.batch_size": {"choice": [64, 16, 32]}})
    priors, report = load_priors([tmp_path / "saved", tmp_path / "plain"], space)
    by_source = {p.source: p.arch["data.batch_size"] for p in priors}
    assert by_source == {str(tmp_path / "saved"): 16, str(tmp_path / "plain"): 64}
    saved, plain = report.sources
    assert saved.recorded == {"data.batch_size": 16} and not saved.filled
    assert "keys added with the earlier run's values data.batch_size=16" in saved.describe()
    # no saved arguments: the default rule (a choice's first value), reported as such
    assert plain.filled == {"data.batch_size": 64} and not plain.recorded
    assert "keys added with data.batch_size=64" in plain.describe()


def test_trainer_max_epochs_of_an_earlier_run_with_a_scheduler_is_its_schedulers(tmp_path):
    from lightning_nas import SearchSettings
    from lightning_nas.results import TrialResult
    from lightning_nas.store import open_search_store

    def source(name: str, **options) -> Path:
        store = open_search_store(tmp_path / name, {"space": {}, "monitor": "acc",
                                                    "mode": "max"})
        store.set_meta("trainer", {"max_epochs": 1})
        store.set_meta("settings", SearchSettings.from_options(**options).flat())
        store.finish_trial(TrialResult(store.start_trial({"k": 3}), {"k": 3},
                                       TrialStatus.COMPLETED, score=0.9, epochs=3))
        store.close()
        return tmp_path / name

    space = SearchSpace.from_dict({"k": {"choice": [3, 5]},
                                   "trainer.max_epochs": {"choice": [1, 3]}})
    # was 1 (the Trainer's): its complete trials trained the scheduler's 3 epochs
    priors, report = load_priors([source("asha", scheduler="asha", max_epochs=3)], space)
    assert [p.arch for p in priors] == [{"k": 3, "trainer.max_epochs": 3}]
    assert report.sources[0].recorded == {"trainer.max_epochs": 3}
    priors, _ = load_priors([source("plain")], space)  # no scheduler: the Trainer's
    assert [p.arch for p in priors] == [{"k": 3, "trainer.max_epochs": 1}]


def test_keys_that_name_one_config_path_another_way_are_one_key(tmp_path):
    # was: 'width' and 'model.width' were other keys: the earlier 'width' dropped and every
    # prior given the config's width 16, an architecture never trained, with its score
    from lightning_nas.results import TrialResult
    from lightning_nas.store import open_search_store

    config = {"model": {"class_path": "tests.helpers.TinyNet", "init_args": {"width": 16}}}
    for name, key in (("plain", "width"), ("dotted", "model.width")):
        space = {key: {"choice": [4, 32]}, "data.n": {"choice": [64, 96]}}
        store = open_search_store(tmp_path / name, {"space": space, "monitor": "acc",
                                                    "mode": "max"})
        store.set_meta("config", config)
        for width, n, acc in ((4, 64, 0.2), (32, 96, 0.9)):
            arch = {key: width, "data.n": n}
            store.finish_trial(TrialResult(store.start_trial(arch), arch,
                                           TrialStatus.COMPLETED, score=acc))
        store.close()
    for key in ("width", "model.width", "model.init_args.width"):
        space = SearchSpace.from_dict({key: {"choice": [4, 16, 32]},
                                       "data.init_args.n": {"choice": [64, 96]}})
        for name in ("plain", "dotted"):
            priors, report = load_priors([tmp_path / name], space, fill={key: 16})
            assert [(p.arch, p.score) for p in priors] == [
                ({key: 4, "data.init_args.n": 64}, 0.2),
                ({key: 32, "data.init_args.n": 96}, 0.9)], (key, name)
            rep = report.sources[0]
            assert (rep.filled, rep.recorded, rep.dropped) == ({}, {}, [])
            assert rep.fill_unused == [key]  # its trials had the key, by another name
    # 'data.width' is another path: not the model's width, so no key is shared (was: each
    # trial a prior of the fill value alone, data.width 16, which none of them ran)
    space = SearchSpace.from_dict({"data.width": {"choice": [4, 16, 32]}})
    priors, report = load_priors([tmp_path / "plain"], space, fill={"data.width": 16})
    assert report.sources[0].dropped == ["width", "data.n"]
    assert priors == [] and report.sources[0].unrelated == 2


def test_fill_values():
    assert fill_value(Fixed(3)) == 3 and fill_value(Choice(["x", "y"])) == "x"
    assert fill_value(Ordered([1, 2, 4, 8])) == 2
    assert fill_value(Float(1e-4, 1e-2, log=True)) == pytest.approx(1e-3)
    # was 40 (outside the space: every prior skipped), inf and 0.0 (outside their ranges)
    for param in (Int(16, 64, step=16), Int(0, 7, step=7), Int(1, 2**53, log=True),
                  Float(1e300, 1.7e308), Float(1e-300, 1e-200, log=True)):
        assert param.contains(fill_value(param)), param.describe()
    assert fill_value(Int(16, 64, step=16)) == 32


def test_a_stepped_int_key_the_earlier_space_lacked_keeps_every_prior(tmp_path):
    # was: filled with 40, outside {16, 32, 48, 64}: every prior skipped, a cold start
    _search(tmp_path / "source", 6).run()
    space = {**SPACE, "w": {"int": [16, 64], "step": 16}}
    _search(tmp_path / "warm", 2, space, warm_start=[str(tmp_path / "source")]).run()
    with open_run(tmp_path / "warm") as store:
        report = store.get_meta("warm_start")["sources"][0]
        assert {p["arch"]["w"] for p in store.priors()} == {32}
    assert (report["used"], report["out_of_space"], report["filled"]) == (6, [], {"w": 32})


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


@pytest.mark.parametrize("damage, said", [
    ("DROP TABLE trials", "no such table: trials"),
    ("UPDATE trials SET arch = '{bad' WHERE id = 1", "a trial: JSONDecodeError"),
    ("UPDATE trials SET score = 'abc' WHERE id = 1", "a trial: TypeError: trial 1 holds"),
])
def test_a_source_whose_trials_cannot_be_read_is_refused_before_the_store_is_made(
        tmp_path, damage, said):
    # was: only its meta was read before: the new search's store was made, then the source's
    # trials raised ("no such table", a raw JSONDecodeError or TypeError), leaving a store
    # with no priors and no trial, whose retry with a good source was refused
    import sqlite3

    _search(tmp_path / "source", 2).run()
    with sqlite3.connect(tmp_path / "source" / "search.db") as db:
        db.execute(damage)
    with pytest.raises(ConfigError, match=rf"warm_start source .*source is not a run "
                                          rf"directory \(its search.db cannot be read: "
                                          rf"{re.escape(said)}"):
        _search(tmp_path / "warm", 2, warm_start=[str(tmp_path / "source")])
    assert not (tmp_path / "warm").exists()


def test_bad_warm_start_settings_fail_before_any_trial(tmp_path):
    with pytest.raises(ConfigError, match="missing does not exist; give folders of earlier"):
        _search(tmp_path / "warm", 3, warm_start=[str(tmp_path / "missing")])
    assert not (tmp_path / "warm").exists()
    with pytest.raises(ConfigError, match="retrain_top_k"):
        _search(tmp_path / "w2", 3, retrain_top_k=2)
    # was: accepted, and nothing filled
    with pytest.raises(ConfigError, match="`warm_start_fill` fills keys of the `warm_start` "
                                          "runs' results; give `warm_start` too"):
        _search(tmp_path / "w2", 3, warm_start_fill={"a": 1})
    with pytest.raises(ConfigError, match="`retrain_top_k`=4 is more than `budget`=3"):
        _search(tmp_path / "w2", 3, retrain_top_k=4, warm_start=[str(tmp_path / "missing")])
    _search(tmp_path / "source", 3).run()
    with pytest.raises(ConfigError, match="own run_dir"):
        _search(tmp_path / "source", 4, warm_start=[str(tmp_path / "source")])
    with pytest.raises(ConfigError, match="names the folder .*source/ twice"):  # counted twice
        _search(tmp_path / "w1", 3, warm_start=[str(tmp_path / "source"),
                                                 f"{tmp_path / 'source'}/"])
    with pytest.raises(ConfigError, match="warm_start_fill key 'zz'.*keys: a, b, c"):
        _search(tmp_path / "w3", 3, warm_start=[str(tmp_path / "source")],
                warm_start_fill={"zz": 1})
    # was: nevergrad's bare TellNotAskedNotSupportedError, after the run folder was written
    with pytest.raises(ConfigError, match="optimizer 'EDA' cannot be told results it did not "
                                          "propose, so it cannot take the warm_start runs'"):
        _search(tmp_path / "w6", 3, warm_start=[str(tmp_path / "source")], optimizer="EDA")
    assert not (tmp_path / "w6").exists()
    _search(tmp_path / "w6", 2, optimizer="EDA").run()  # cold: fine
    if importlib.util.find_spec("bayes_optim") is None:  # a missing package is said as such
        with pytest.raises(ConfigError, match="optimizer 'PCABO' needs a package that is not "
                                              "installed"):  # (was a raw ModuleNotFoundError)
            _search(tmp_path / "w7", 3, warm_start=[str(tmp_path / "source")],
                    optimizer="PCABO")
    _search(tmp_path / "w4", 2, warm_start=[str(tmp_path / "source")]).run()
    _search(tmp_path / "w5", 2).run()
    # the user's setting is named (was: the store's key warm_start_sources)
    with pytest.raises(ConfigError, match=r"a different warm_start \(stored \[.*source'\], now "
                                          r"\[.*w5'\]\); resume with the same warm_start,"):
        _search(tmp_path / "w4", 3, warm_start=[str(tmp_path / "w5")]).run()
    with pytest.raises(ConfigError, match="started without warm_start; resume with the same"):
        _search(tmp_path / "source", 4, warm_start=[str(tmp_path / "w4")]).run()



def test_a_warm_start_fill_key_may_name_the_space_keys_config_path_another_way(tmp_path):
    # was: "warm_start_fill key 'model.c' is not a key of the search space; keys: a, b, c"
    # (model.c and model.init_args.c, which a warm start reads as c, and a sweep's fill
    # takes its keys' +/++ forms), and '+c' the same, naming no form this search takes
    _search(tmp_path / "source", 3, {"a": SPACE["a"], "b": SPACE["b"]}).run()
    warm = {"warm_start": [str(tmp_path / "source")], "optimizer": "NGOpt"}
    for folder, key in (("path", "model.c"), ("args", "model.init_args.c")):
        search = _search(tmp_path / folder, 1, warm_start_fill={key: 4}, **warm)
        assert search.settings.transfer.warm_start_fill == {"c": 4}
        search.run()
        with open_run(tmp_path / folder) as store:
            priors = store.priors()
            assert store.get_meta("warm_start")["sources"][0]["filled"] == {"c": 4}
        assert len(priors) == 3 and all(p["arch"]["c"] == 4 for p in priors)
    _search(tmp_path / "args", 2, warm_start_fill={"c": 4}, **warm).run()  # the same fill
    for fill, error in (({"+c": 4}, r"warm_start_fill key '\+c': \+ and \+\+ are the forms of "
                                     r"Hydra's overrides, which a sweep's hydra.sweeper."
                                     r"warm_start_fill takes; name the key as the space does: "
                                     r"'c'"),
                        ({"c": 4, "model.c": 2}, r"warm_start_fill names the space key 'c' "
                                                 r"twice \('c' and 'model.c'\); give it once")):
        with pytest.raises(ConfigError, match=f"^{error}$"):
            _search(tmp_path / "bad", 1, warm_start_fill=fill, **warm)
    assert not (tmp_path / "bad").exists()

def test_a_resume_with_another_warm_start_fill_is_refused_before_anything_runs(tmp_path):
    # was: accepted without a word, the stored priors keeping the fill of the first start
    _search(tmp_path / "source", 4, {"a": SPACE["a"], "b": SPACE["b"]}).run()
    warm = {"warm_start": [str(tmp_path / "source")], "optimizer": "NGOpt"}
    _search(tmp_path / "warm", 2, warm_start_fill={"c": 1}, **warm).run()
    with open_run(tmp_path / "warm") as store:
        priors = store.priors()
    for fill, now in (({"c": 8}, "c: 1, now 8"), (None, "c: 1, now 'unset'")):
        with pytest.raises(ConfigError, match=rf"a different warm_start_fill \({now}\); "
                                              r"resume with the same warm_start_fill"):
            _search(tmp_path / "warm", 3, warm_start_fill=fill, **warm).run()
    with open_run(tmp_path / "warm") as store:
        assert len(store.trials()) == 2 and store.priors() == priors
    _search(tmp_path / "warm", 3, warm_start_fill={"c": 1}, **warm).run()
    _search(tmp_path / "warm", 4, optimizer="NGOpt").run()  # left out: the stored priors
    # a run stored by an older version, which kept no fill, resumes
    with RunStore(tmp_path / "warm" / "search.db") as store:
        store._db.execute("DELETE FROM meta WHERE key = 'warm_start_fill'")
    _search(tmp_path / "warm", 5, warm_start_fill={"c": 8}, **warm).run()
    with open_run(tmp_path / "warm") as store:
        assert len(store.trials()) == 5 and store.priors() == priors


def test_a_source_whose_search_db_holds_no_search_is_refused_and_left_as_it_is(tmp_path):
    # was: accepted; the error came after this run's folder was written, and opening the
    # source for writing created the run tables in it (an empty file grew to 28 KB)
    import sqlite3

    for name in ("empty", "other", "garbage"):
        (tmp_path / name).mkdir()
    (tmp_path / "empty" / "search.db").touch()
    with sqlite3.connect(tmp_path / "other" / "search.db") as db:  # someone else's data
        db.execute("CREATE TABLE notes (text TEXT)")
    (tmp_path / "garbage" / "search.db").write_text("not a database")
    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    for name, why in (("empty", "its search.db holds no search"),
                      ("other", "its search.db holds no search"),
                      ("garbage", "its search.db cannot be read: file is not a database")):
        with pytest.raises(ConfigError, match=f"warm_start source .*{name} is not a run "
                                              f"directory \\({why}\\)"):
            _search(tmp_path / "warm", 3, warm_start=[str(tmp_path / name)])
        assert not (tmp_path / "warm").exists()
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == files


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
    with RunStore(tmp_path / "source" / "search.db") as store:
        store._db.execute("UPDATE trials SET score = ? WHERE id = 1", (math.inf,))
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


class _Stop(Exception):
    pass


def _stop_after(n: int):
    seen = []

    def on_trial_end(result):
        seen.append(result)
        if len(seen) == n:
            raise _Stop

    return on_trial_end


@pytest.mark.parametrize("optimizer", ["SurrogateEvolution", "RegularizedEvolution",
                                       "LocalSearch", "Reinforce", "NGOpt"])
def test_warm_started_search_stopped_and_resumed_makes_the_same_choices(tmp_path, optimizer):
    _search(tmp_path / "source", 14, seed=9).run()
    warm = {"warm_start": [str(tmp_path / "source")], "optimizer": optimizer}
    straight = _search(tmp_path / "straight", 12, **warm).run()
    with pytest.raises(_Stop):
        _search(tmp_path / "stopped", 12, on_trial_end=_stop_after(5), **warm).run()
    resumed = _search(tmp_path / "stopped", 12, **warm).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in straight.trials]


def test_a_warm_started_search_resumes_after_its_source_moved(tmp_path):
    # was: refused, "warm_start source ... is not a run directory", though a resume reads
    # the priors from its own store (the README's promise)
    _search(tmp_path / "source", 8, seed=9).run()
    warm = {"warm_start": [str(tmp_path / "source")]}
    straight = _search(tmp_path / "straight", 10, **warm).run()
    with pytest.raises(_Stop):
        _search(tmp_path / "stopped", 10, on_trial_end=_stop_after(4), **warm).run()
    (tmp_path / "source").rename(tmp_path / "moved")
    resumed = _search(tmp_path / "stopped", 10, **warm).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in straight.trials]
    with pytest.raises(ConfigError, match="source does not exist"):  # a new search reads it
        _search(tmp_path / "new", 10, **warm)


def test_a_warm_started_search_resumes_in_a_copy_of_its_project(tmp_path, monkeypatch):
    # was: refused, "different warm_start_sources (stored ['/.../proj/runs/src'], now
    # ['/.../copy/runs/src'])", though run folders may be moved or copied
    import shutil

    (tmp_path / "proj").mkdir()
    monkeypatch.chdir(tmp_path / "proj")
    _search(Path("runs/src"), 8, seed=9).run()
    warm = {"warm_start": ["runs/src"]}
    straight = _search(Path("runs/straight"), 10, **warm).run()
    with pytest.raises(_Stop):
        _search(Path("runs/warm"), 10, on_trial_end=_stop_after(4), **warm).run()
    shutil.copytree(tmp_path / "proj", tmp_path / "copy")
    monkeypatch.chdir(tmp_path / "copy")  # the same command, in the copy
    resumed = _search(Path("runs/warm"), 10, **warm).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in straight.trials]
    # a run moved elsewhere while its source stayed resumes too (by the source's own path)
    with pytest.raises(_Stop):
        _search(Path("runs/again"), 10, on_trial_end=_stop_after(4), **warm).run()
    (tmp_path / "copy" / "runs" / "again").rename(tmp_path / "again")
    resumed = _search(tmp_path / "again", 10,
                      warm_start=[str(tmp_path / "copy" / "runs" / "src")]).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in straight.trials]
    with pytest.raises(ConfigError, match="a different warm_start"):  # another source
        _search(Path("runs/warm"), 10, warm_start=["runs/straight"]).run()


KILLED = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from tests.test_warm import _search, score

    def slow(arch):
        time.sleep(0.4)
        return score(arch)

    from lightning_nas import Search
    Search(None, {space!r}, objective=slow, monitor="acc", mode="max", budget=10, seed=3,
           run_dir={run_dir!r}, verbose=False, warm_start=[{source!r}]).run()
""")


def test_kill_9_of_a_warm_started_search_resumes_exactly(tmp_path, launcher):
    source = tmp_path / "source"
    _search(source, 14, seed=9).run()
    straight = _search(tmp_path / "straight", 10, warm_start=[str(source)]).run()
    script = tmp_path / "run.py"
    root = str(Path(__file__).resolve().parents[1])
    script.write_text(KILLED.format(root=root, space=SPACE, run_dir=str(tmp_path / "killed"),
                                    source=str(source)))
    launcher.launch([], tmp_path / "run.log", script)  # ``python run.py``, imports paid once
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill once 4 trials finished, the 5th running
        try:
            with open_run(tmp_path / "killed") as store:
                if store.count(TrialStatus.COMPLETED) >= 4 and \
                        store.count(TrialStatus.RUNNING) == 1:
                    break
        except FileNotFoundError:  # no search.db, or one still without its search
            pass
        time.sleep(0.05)
    assert launcher.kill() == -signal.SIGKILL, (tmp_path / "run.log").read_text()
    with open_run(tmp_path / "killed") as store:
        assert store.count(TrialStatus.COMPLETED) < 10
    resumed = _search(tmp_path / "killed", 10, warm_start=[str(source)]).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in straight.trials]
    assert [t.status for t in resumed.trials] == [TrialStatus.COMPLETED] * 10


def test_real_trainer_warm_start_from_other_keys_with_two_objectives(tmp_path, tiny_trainer):
    source_space = {"width": {"choice": [4, 8, 16]}, "activation": {"choice": ["relu", "tanh"]}}
    Search(TinyNet, source_space, data=BlobData, trainer=tiny_trainer, budget=3, seed=0,
           run_dir=tmp_path / "source", verbose=False).run()
    target_space = {"width": {"choice": [8, 16, 32]}, "lr": {"float": [0.02, 0.3], "log": True}}
    result = Search(TinyNet, target_space, data=BlobData, trainer=tiny_trainer, budget=2,
                    seed=0, run_dir=tmp_path / "target", verbose=False,
                    objectives={"val_acc": "max", "params": "min"},
                    warm_start=[str(tmp_path / "source")]).run()
    with open_run(tmp_path / "target") as store:
        report = store.get_meta("warm_start")["sources"][0]
        priors = store.priors()
    source = open_run(tmp_path / "source").trials()
    # lr: TinyNet's default, which the source's trials ran with
    assert report["dropped"] == ["activation"] and report["recorded"] == {"lr": 0.05}
    assert report["used"] + report["merged"] + len(report["out_of_space"]) == 3
    assert {t for t, _ in report["out_of_space"]} == \
        {t.trial_id for t in source if t.arch["width"] == 4}
    assert all(p["arch"]["lr"] == 0.05 for p in priors)
    for prior in priors:  # params counted for the mapped architecture, in this search's model
        params = sum(p.numel() for p in TinyNet(**prior["arch"]).parameters())
        assert prior["losses"] == [prior["loss"], float(params)]
    assert len(result.trials) == 2 and result.best is not None


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

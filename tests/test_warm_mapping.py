"""Warm-start priors from an earlier run of another space (``search.warm_start``), mapped
onto this one: keys it shares, keys it lacked (the value its run had, a fill, a saved
datamodule's or scheduler's value), a dict-valued choice and a group of its keys, and keys
that name one config path another way. Real stores, real nevergrad; real Trainers for the
end-to-end case."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from lightning_nas.search.warm import WarmStartReport, fill_value, load_priors
from lightning_nas.space import SearchSpace
from lightning_nas.space.params import Choice, Fixed, Float, Int, Ordered
from lightning_nas.store import RunStore, open_run
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_warm import SPACE
from tests.helpers_warm import search as _search


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
    # was 40 (outside the space: every prior skipped), inf and 0.0 (outside their ranges);
    # the widest float ranges a space takes (Float(1e300, 1.7e308) and Float(1e-300, 1e-200,
    # log=True) are refused now: nevergrad overflows them, test_space_ranges.py)
    for param in (Int(16, 64, step=16), Int(0, 7, step=7), Int(1, 2**53, log=True),
                  Float(0.0, 1.7976931348623157e308), Float(-1.7e308, 0.0),
                  Float(5e-324, 1.0, log=True), Float(1.0, 1.7e308, log=True)):
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


def _store_source(folder, archs_scores):
    """A source run folder whose completed trials are ``archs_scores`` (acc, max)."""
    from lightning_nas.results import TrialResult
    from lightning_nas.store import open_search_store
    store = open_search_store(folder, {"space": {}, "monitor": "acc", "mode": "max"})
    for arch, acc in archs_scores:
        store.finish_trial(TrialResult(store.start_trial(arch), arch, TrialStatus.COMPLETED,
                                       score=acc))
    store.close()


def test_an_int_choice_maps_onto_an_equal_float_choice_and_back(tmp_path):
    # was: skipped as "not in the space" (1 is not 1.0 in a choice), though an int range's
    # 4 maps onto a float range's 4.0
    _store_source(tmp_path / "s", [({"k": 1, "w": 2.0, "r": 4}, 0.9),
                                   ({"k": 3, "w": 1.0, "r": 4}, 0.8),  # k=3: outside
                                   ({"k": True, "w": 1.0, "r": 4}, 0.7)])  # True is no 1.0
    space = SearchSpace.from_dict({"k": {"choice": [1.0, 2.0]}, "w": {"ordered": [1, 2]},
                                   "r": {"float": [0.0, 8.0]}})
    priors, report = load_priors([tmp_path / "s"], space)
    rep = report.sources[0]
    assert [p.arch for p in priors] == [{"k": 1.0, "w": 2, "r": 4.0}]
    assert type(priors[0].arch["k"]) is float and type(priors[0].arch["w"]) is int
    assert rep.used == 1 and [t for t, _ in rep.out_of_space] == [2, 3]
    assert "k=3 is not in the space" in rep.out_of_space[0][1]
    assert "k=True is not in the space" in rep.out_of_space[1][1]


def test_an_integral_float_maps_onto_an_int_range_as_onto_an_int_choice(tmp_path):
    # was: a source's 4.0 skipped as outside an int range ("4.0 is not in the space"),
    # though taken by an int choice or ordered key; 4.5 is still outside
    _store_source(tmp_path / "s", [({"n": 4.0, "w": 2.0}, 0.9),
                                   ({"n": 4.5, "w": 1.0}, 0.8),  # no int
                                   ({"n": 9.0, "w": 1.0}, 0.7)])  # beyond the range
    space = SearchSpace.from_dict({"n": {"int": [1, 8]}, "w": {"ordered": [1, 2]}})
    priors, report = load_priors([tmp_path / "s"], space)
    rep = report.sources[0]
    assert [p.arch for p in priors] == [{"n": 4, "w": 2}]
    assert type(priors[0].arch["n"]) is int
    assert [t for t, _ in rep.out_of_space] == [2, 3]
    assert "n=4.5 is not in the space" in rep.out_of_space[0][1]
    assert "n=9.0 is not in the space" in rep.out_of_space[1][1]
    priors, report = load_priors([tmp_path / "s"], SearchSpace.from_dict(
        {"n": {"int": [1, 8]}, "w": {"ordered": [1, 2]}, "d": {"int": [1, 8]}}), {"d": 2.0})
    assert report.sources[0].filled == {"d": 2} and type(priors[0].arch["d"]) is int


def test_a_fill_of_an_int_takes_the_equal_float_option_as_a_source_value_does(tmp_path):
    # was: refused, "warm_start_fill k=1 is outside the space (one of [1.0, 2.0])", though
    # a source's k=1 maps onto the option 1.0; True is still no number
    _store_source(tmp_path / "s", [({"w": 2}, 0.9)])
    space = SearchSpace.from_dict({"k": {"choice": [1.0, 2.0]}, "w": {"ordered": [1, 2]}})
    priors, report = load_priors([tmp_path / "s"], space, {"k": 1})
    assert [p.arch for p in priors] == [{"k": 1.0, "w": 2}]
    assert type(priors[0].arch["k"]) is float and report.sources[0].filled == {"k": 1.0}
    with pytest.raises(ConfigError, match=r"^warm_start_fill k=True is outside the space "
                                          r"\(one of \[1\.0, 2\.0\]\)$"):
        load_priors([tmp_path / "s"], space, {"k": True})

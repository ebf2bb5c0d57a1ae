"""Warm starts from Hydra sweeps (``search/warm.py``, ``search/warm_keys.py``): real sweeps
run in-process through Hydra's own sweep runner (``helpers_hydra_sweep.multirun``), their
real stores read by a second real sweep."""

from __future__ import annotations

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import DictConfig  # noqa: E402

from lightning_nas.search.warm import load_priors  # noqa: E402
from lightning_nas.search.warm_report import SourceReport  # noqa: E402
from lightning_nas.space import SearchSpace  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402


def _priors(run: str) -> tuple[list[dict], dict]:
    """The priors a sweep's store holds and its first source's report."""
    with RunStore(run) as store:
        return store.priors(), store.get_meta("warm_start")["sources"][0]


def test_a_key_the_sweep_lacked_takes_the_value_of_each_trials_config_group_option(tmp_path):
    # was: every earlier trial took the default option's (a's) depth 1, also those that ran
    # deep (depth 3): priors of configurations that never ran
    def task(cfg: DictConfig) -> float:
        return -abs(cfg.x - 7) - cfg.model.depth / 10

    for sweep in ("first", "second"):  # an option's value as a user writes it: interpolated
        (tmp_path / sweep / "conf" / "model").mkdir(parents=True)
        (tmp_path / sweep / "conf" / "model" / "deep.yaml").write_text(
            "name: deep\ndepth: ${deep_depth}\n")
    first = multirun(tmp_path / "first", task, {"budget": 4, "params": {
        "x": "range(0, 12)", "model": "choice(a, deep)"}}, deep_depth=3)
    ran = {t.trial_id: t.arch["model"] for t in first}
    assert set(ran.values()) == {"a", "deep"}
    trials = multirun(tmp_path / "second", task, {
        "budget": 1, "warm_start": [str(tmp_path / "first" / "run")], "params": {
            "x": "range(0, 12)", "model": "choice(a, deep)",
            "model.depth": "choice(1, 2, 3)"}}, deep_depth=3)
    assert len(trials) == 1
    priors, source = _priors(tmp_path / "second" / "run" / "search.db")
    assert len(priors) == len(first)
    for prior in priors:  # each trial's own option: a has depth 1, deep 3
        model = ran[prior["source_trial"]]
        assert (prior["arch"]["model"], prior["arch"]["model.depth"]) == \
            (model, 3 if model == "deep" else 1)
    depths = source["recorded_by_option"]["model.depth"]  # the report says both
    assert sorted(depths) == [1, 3]
    assert (f"keys added with the earlier run's values model.depth={depths[0]} or "
            f"{depths[1]} (by each trial's config-group options)") in \
        SourceReport.from_dict(source).describe()
    assert source["filled"] == {} and source["dropped"] == []


def test_a_key_added_with_plus_or_plus_plus_is_one_key(tmp_path):
    # was: +model.dims (the earlier sweep) and ++model.dims (this one) were two keys: the
    # first dropped, the second filled with [1, 2] for trials that ran [3, 4]
    def task(cfg: DictConfig) -> float:
        return -abs(cfg.x - 7) - sum(cfg.model.dims) / 10

    first = multirun(tmp_path / "first", task, {"budget": 4, "params": {
        "x": "range(0, 12)", "+model.dims": "choice([1, 2], [3, 4])"}}, net={"dims": [3, 4]})
    ran = {t.trial_id: t.arch["+model.dims"] for t in first}
    assert [3, 4] in ran.values() and [1, 2] in ran.values()
    trials = multirun(tmp_path / "second", task, {
        "budget": 1, "warm_start": [str(tmp_path / "first" / "run")], "params": {
            "x": "range(0, 12)", "++model.dims": "choice([1, 2], [3, 4])"}})
    assert len(trials) == 1
    priors, source = _priors(tmp_path / "second" / "run" / "search.db")
    assert len(priors) == len(first)
    assert all(p["arch"]["++model.dims"] == ran[p["source_trial"]] for p in priors)
    assert (source["dropped"], source["filled"], source["recorded"]) == ([], {}, {})
    # the path without a + is the same key too
    space = SearchSpace.from_dict({"x": {"int": [0, 11]},
                                   "model.dims": {"choice": [[1, 2], [3, 4]]}})
    found, report = load_priors([tmp_path / "first" / "run"], space, hydra=True)
    assert {p.source_trial: p.arch["model.dims"] for p in found} == ran
    assert (report.sources[0].dropped, report.sources[0].filled) == ([], {})
    # a ++key the earlier sweep lacked takes the value its job config had (not a fill value)
    space = SearchSpace.from_dict({"x": {"int": [0, 11]},
                                   "++net.dims": {"choice": [[1, 2], [3, 4]]}})
    found, report = load_priors([tmp_path / "first" / "run"], space, hydra=True)
    assert found and all(p.arch["++net.dims"] == [3, 4] for p in found)
    assert (report.sources[0].recorded, report.sources[0].filled) == (
        {"++net.dims": [3, 4]}, {})


def test_a_nested_group_a_searched_option_chose_takes_each_trials_own_option(tmp_path):
    # was: model/backbone (chosen by the defaults of the searched model option) took the
    # config's option r1 for every earlier trial, also those whose model (e) chose r2:
    # priors of configurations that never ran, and no word of those outside this space
    def task(cfg: DictConfig) -> float:
        return -abs(cfg.x - 7) - cfg.model.backbone.width / 10

    for sweep in ("first", "second"):
        backbone = tmp_path / sweep / "conf" / "model" / "backbone"
        backbone.mkdir(parents=True)
        for option, width in (("r1", 1), ("r2", 3), ("r3", 5)):
            (backbone / f"{option}.yaml").write_text(f"width: {width}\n")
        for option, chosen in (("c", "r1"), ("e", "r2")):
            (backbone.parent / f"{option}.yaml").write_text(
                f"defaults:\n  - backbone: {chosen}\nname: {option}\n")
    defaults = [{"model": "c"}, {"override hydra/sweeper": "lightning_nas"}, "_self_"]
    first = multirun(tmp_path / "first", task, {"budget": 4, "params": {
        "x": "range(0, 12)", "model": "choice(c, e)"}}, defaults=defaults)
    ran = {t.trial_id: t.arch["model"] for t in first}
    assert set(ran.values()) == {"c", "e"}
    multirun(tmp_path / "second", task, {
        "budget": 1, "warm_start": [str(tmp_path / "first" / "run")], "params": {
              "x": "range(0, 12)", "model": "choice(c, e)", "model/backbone": "choice(r1, r3)"}},
        defaults=defaults)
    priors, source = _priors(tmp_path / "second" / "run" / "search.db")
    # the trials of c ran r1 and are used; those of e ran r2, outside this space: skipped
    assert sorted(p["source_trial"] for p in priors) == sorted(
        t for t, model in ran.items() if model == "c")
    assert all(p["arch"]["model/backbone"] == "r1" for p in priors)
    assert sorted(t for t, _ in source["out_of_space"]) == sorted(
        t for t, model in ran.items() if model == "e")
    assert all("model/backbone='r2' is not in the space" in why
               for _, why in source["out_of_space"])
    assert f"{len(ran) - len(priors)} outside this space" in \
        SourceReport.from_dict(source).describe()


def test_a_key_under_a_nested_group_searched_with_its_parent_takes_its_trials_value(tmp_path):
    # was: model/backbone searched beside model left model.backbone out of every option's
    # record, so a key under it that this sweep adds (model.backbone.width) took a fill
    # value for every earlier trial, whatever backbone the trial ran
    def task(cfg: DictConfig) -> float:
        return -abs(cfg.x - 7) - cfg.model.backbone.width / 10

    for sweep in ("first", "second"):
        backbone = tmp_path / sweep / "conf" / "model" / "backbone"
        backbone.mkdir(parents=True)
        for option, width in (("r1", 1), ("r2", 3)):
            (backbone / f"{option}.yaml").write_text(f"width: {width}\n")
        for option in ("c", "e"):
            (backbone.parent / f"{option}.yaml").write_text(
                f"defaults:\n  - backbone: r1\nname: {option}\n")
    defaults = [{"model": "c"}, {"override hydra/sweeper": "lightning_nas"}, "_self_"]
    params = {"x": "range(0, 12)", "model": "choice(c, e)", "model/backbone": "choice(r1, r2)"}
    first = multirun(tmp_path / "first", task, {"budget": 6, "params": params}, defaults=defaults)
    ran = {t.trial_id: t.arch["model/backbone"] for t in first}
    assert set(ran.values()) == {"r1", "r2"}
    multirun(tmp_path / "second", task, {
        "budget": 1, "warm_start": [str(tmp_path / "first" / "run")],
        "params": {**params, "model.backbone.width": "choice(1, 2, 3)"}}, defaults=defaults)
    priors, source = _priors(tmp_path / "second" / "run" / "search.db")
    assert len(priors) == len(first)
    assert all(p["arch"]["model.backbone.width"] == {"r1": 1, "r2": 3}[ran[p["source_trial"]]]
               for p in priors)
    assert source["filled"] == {} and sorted(source["recorded_by_option"][
        "model.backbone.width"]) == [1, 3]


def test_a_value_interpolating_a_searched_key_takes_each_trials_own(tmp_path):
    # was: an option's subtree was read as composed for the first sample, and resolved with
    # the config's value of the searched key it interpolates: deep's depth ${n} was 3 (the
    # config's n) also for the trials that ran n=2, and the config's steps ${x} was 0 for all
    def task(cfg: DictConfig) -> float:
        return -abs(cfg.x - 7) - cfg.model.depth / 10

    for sweep in ("first", "second"):
        (tmp_path / sweep / "conf" / "model").mkdir(parents=True)
        (tmp_path / sweep / "conf" / "model" / "deep.yaml").write_text(
            "name: deep\ndepth: ${n}\n")
    params = {"x": "range(0, 12)", "n": "choice(2, 3)", "model": "choice(a, deep)"}
    first = multirun(tmp_path / "first", task, {"budget": 8, "params": params}, n=3,
                     steps="${x}")
    ran = {t.trial_id: t.arch for t in first}
    assert {a["n"] for a in ran.values() if a["model"] == "deep"} == {2, 3}
    multirun(tmp_path / "second", task, {
        "budget": 1, "warm_start": [str(tmp_path / "first" / "run")], "params": {
              **params, "model.depth": "choice(1, 2, 3)", "steps": "range(0, 12)"}},
        n=3, steps="${x}")
    priors, source = _priors(tmp_path / "second" / "run" / "search.db")
    assert len(priors) == len(first)
    for prior in priors:  # what each job ran: a has depth 1, deep its own n
        arch = ran[prior["source_trial"]]
        assert prior["arch"]["model.depth"] == (arch["n"] if arch["model"] == "deep" else 1)
        assert prior["arch"]["steps"] == arch["x"]
    assert sorted(source["recorded_by_option"]["model.depth"]) == [1, 2, 3]
    assert source["filled"] == {} and source["dropped"] == []


def test_a_value_another_searched_option_sets_takes_each_trials_own(tmp_path):
    # was: model=a's subtree was read as composed beside the first sample's experiment:
    # its depth was that experiment's for every trial of a, also those that ran the other
    def task(cfg: DictConfig) -> float:
        return -abs(cfg.x - 7) - cfg.model.depth / 10

    for sweep in ("first", "second"):
        (tmp_path / sweep / "conf" / "experiment").mkdir(parents=True)
        for name, sets in (("plain", "lr: 1\n"), ("deep", "model:\n  depth: 5\n")):
            (tmp_path / sweep / "conf" / "experiment" / f"{name}.yaml").write_text(
                f"# @package _global_\n{sets}")
    defaults = [{"model": "a"}, "_self_", {"experiment": "plain"},
                {"override hydra/sweeper": "lightning_nas"}]
    params = {"x": "range(0, 12)", "model": "choice(a, b)",
              "experiment": "choice(plain, deep)"}
    first = multirun(tmp_path / "first", task, {"budget": 8, "params": params}, lr=0,
                     defaults=defaults)
    ran = {t.trial_id: t.arch for t in first}
    assert {a["experiment"] for a in ran.values() if a["model"] == "a"} == {"plain", "deep"}
    multirun(tmp_path / "second", task, {
        "budget": 1, "warm_start": [str(tmp_path / "first" / "run")], "params": {
              **params, "model.depth": "choice(1, 5)"}}, lr=0, defaults=defaults)
    priors, _ = _priors(tmp_path / "second" / "run" / "search.db")
    assert len(priors) == len(first)
    assert all(p["arch"]["model.depth"] == (5 if ran[p["source_trial"]]["experiment"] == "deep"
                                            else 1) for p in priors)


def test_a_bad_warm_start_folder_is_named_as_the_sweeps_setting(tmp_path):
    # was: "warm_start source ... does not exist" and "names this search's own run_dir",
    # Search's words, where the sweep's user wrote hydra.sweeper.warm_start
    ran: list[int] = []
    (tmp_path / "notrun").mkdir()
    own = tmp_path / "bad" / "run"
    for folder, message in (
            (tmp_path / "missing", "source .*missing does not exist; give folders of earlier"),
            (tmp_path / "notrun", r"source .*notrun is not a run directory \(no search.db\)"),
            (own, r"names this sweep's own run folder .*run \(hydra.sweeper.run_dir, else "
                  r"hydra.sweep.dir\): a sweep cannot start from its own results; give "
                  r"folders of earlier searches$")):
        with pytest.raises(Exception, match=f"^hydra.sweeper.warm_start {message}"):
            multirun(tmp_path / "bad", lambda cfg: ran.append(1) or 1.0, {
                "budget": 1, "warm_start": [str(folder)], "params": {"x": "range(0, 3)"}})
    assert not ran and not own.exists()


def test_an_optimizer_that_cannot_take_a_warm_start_is_named_with_the_sweeps_setting(tmp_path):
    # was: "... cannot take the warm_start runs' results; ... or drop warm_start"
    multirun(tmp_path / "first", lambda cfg: -abs(cfg.x - 1), {
        "budget": 2, "params": {"x": "range(0, 3)"}})
    ran: list[int] = []
    with pytest.raises(Exception, match=r"optimizer 'EDA' cannot be told results it did not "
                                        r"propose, so it cannot take the hydra.sweeper."
                                        r"warm_start runs' results; .* or drop "
                                        r"hydra.sweeper.warm_start$"):
        multirun(tmp_path / "bad", lambda cfg: ran.append(1) or 1.0, {
            "budget": 2, "optimizer": "EDA", "warm_start": [str(tmp_path / "first" / "run")],
            "params": {"x": "range(0, 3)"}})
    assert not ran and not (tmp_path / "bad" / "run").exists()

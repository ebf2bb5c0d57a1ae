"""``null`` for a ``hydra.sweeper`` setting whose default it stands for (``warm_start``,
``warm_start_fill``, ``objectives``: none), in the sweeper's file or on the command line,
is the setting left out; the settings whose null would mean nothing keep Hydra's refusal,
naming the key; those three, untyped to take null, are checked by the sweeper. Real sweeps,
in-process through Hydra's own sweep runner."""

from __future__ import annotations

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from lightning_nas.errors import ConfigError  # noqa: E402
from lightning_nas.results import TrialStatus  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402

SWEEP = {"budget": 3, "params": {"x": "range(0, 12)"}}


def _ran(folder) -> tuple[list[dict], list[dict], dict]:
    """The archs a sweep's store holds in trial order, its priors and stored settings
    (but its own ``run_dir``)."""
    with RunStore(folder / "run" / "search.db") as store:
        settings = {k: v for k, v in store.get_meta("settings").items() if k != "run_dir"}
        return [t.arch for t in store.trials()], store.priors(), settings


@pytest.mark.parametrize("where", ["file", "command-line"])
def test_a_null_warm_start_is_no_warm_start_as_leaving_it_out(tmp_path, where):
    # was: Hydra's "field 'hydra.sweeper.warm_start' is not Optional" before the sweep
    # (warm_start_fill alike), in the file and on the command line
    def task(cfg) -> float:
        return -abs(cfg.x - 7)

    multirun(tmp_path / "out", task, SWEEP)
    nulls = {"warm_start": None, "warm_start_fill": None}
    if where == "file":
        trials = multirun(tmp_path / "null", task, {**SWEEP, **nulls})
    else:
        trials = multirun(tmp_path / "null", task, SWEEP, (
            "hydra.sweeper.warm_start=null", "hydra.sweeper.warm_start_fill=null"))
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 3
    # the same sweep: the same proposals, no priors, the same stored settings
    assert _ran(tmp_path / "null") == _ran(tmp_path / "out")
    # so the sweep resumes with the keys left out (budget 4: one more job)
    trials = multirun(tmp_path / "null", task, {**SWEEP, "budget": 4})
    assert len(trials) == 4
    assert _ran(tmp_path / "null")[0][:3] == _ran(tmp_path / "out")[0]


def test_a_null_objectives_is_one_objective_and_clears_a_files_on_the_command_line(tmp_path):
    # was: "field 'hydra.sweeper.objectives' is not Optional": a file's objectives could
    # not be cleared for one sweep, as hydra.sweeper.direction=null clears a direction
    def task(cfg) -> dict[str, float]:
        return {"acc": -abs(cfg.x - 7), "cost": float(cfg.x)}

    two = {**SWEEP, "objectives": {"acc": "maximize", "cost": "minimize"}}
    trials = multirun(tmp_path / "line", task, two, ("hydra.sweeper.objectives=null",
                                                     "hydra.sweeper.monitor=acc"))
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 3
    with RunStore(tmp_path / "line" / "run" / "search.db") as store:
        assert store.get_meta("objectives") is None
        assert (store.get_meta("monitor"), store.get_meta("mode")) == ("acc", "max")
    trials = multirun(tmp_path / "file", task, {**SWEEP, "objectives": None, "monitor": "acc"})
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 3
    assert _ran(tmp_path / "file")[0] == _ran(tmp_path / "line")[0]


@pytest.mark.parametrize("override", ["hydra.sweeper.objectives={acc: maximize, cost: minimize}",
                                      "+hydra.sweeper.objectives.acc=maximize"])
def test_objectives_on_the_command_line_over_a_files_null(tmp_path, override):
    # was, once null was taken (typed Optional[dict]): OmegaConf's "'NoneType' object has no
    # attribute 'get'" or "Unexpected type for root: NoneType" composing the override
    def task(cfg) -> dict[str, float]:
        return {"acc": -abs(cfg.x - 7), "cost": float(cfg.x)}

    trials = multirun(tmp_path, task, {**SWEEP, "objectives": None}, (override,))
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 3
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert list(store.get_meta("objectives")) == (
            ["acc", "cost"] if "cost" in override else ["acc"])


def test_one_warm_start_folder_alone_is_a_list_of_it_and_a_wrong_type_is_named(tmp_path):
    # warm_start, warm_start_fill and objectives are untyped (to take null and a dict over
    # a file's null), so the sweeper checks them: a path alone is one source (as in
    # lightning-nas search; was: Hydra's refusal, and after the untyping list(path), its
    # characters); a number is refused naming the key (was: "'int' object is not iterable")
    def task(cfg) -> float:
        return -abs(cfg.x - 7)

    multirun(tmp_path / "first", task, SWEEP)
    trials = multirun(tmp_path / "second", task, {**SWEEP, "budget": 1},
                      (f"hydra.sweeper.warm_start={tmp_path / 'first' / 'run'}",))
    assert len(trials) == 1
    assert len(_ran(tmp_path / "second")[1]) == 3  # the first sweep's 3 results
    for override, said in (
            ("hydra.sweeper.warm_start=3", "`hydra.sweeper.warm_start` must be a list of run "
                                           "directories, got 3"),
            ("hydra.sweeper.warm_start_fill=3", "`hydra.sweeper.warm_start_fill` must map "
                                                "space keys to values, got 3"),
            ("hydra.sweeper.objectives=acc", "hydra.sweeper.objectives must map names to "
                                             "maximize or minimize, got 'acc'"),
            ("hydra.sweeper.objectives={acc: 3}", "hydra.sweeper.objectives.acc can be "
                                                  "maximize, minimize, max, min; got 3")):
        with pytest.raises(ConfigError) as info:
            multirun(tmp_path / "bad", task, SWEEP, (override,))
        assert str(info.value).startswith(said)
    assert not (tmp_path / "bad" / "run").exists()


@pytest.mark.parametrize("key", ["optimizer", "num_workers", "max_failures", "retrain_top_k",
                                 "verbose"])
def test_a_null_that_would_mean_nothing_is_refused_naming_the_key(tmp_path, key):
    # kept: null is no value of these (an unlimited max_failures, say, is no default), so
    # Hydra refuses it before the sweep, naming the key, as lightning-nas search refuses
    # `search.<key>: null`
    ran = []
    with pytest.raises(Exception, match=rf"hydra\.sweeper\.{key}") as info:  # noqa: PT011
        multirun(tmp_path, lambda cfg: ran.append(1) or 1.0, SWEEP, (f"hydra.sweeper.{key}=null",))
    assert "is not Optional" in str(info.value) + str(info.value.__cause__)
    assert not ran


def test_several_warm_start_folders_go_as_a_list_and_hydra_refuses_the_comma_form(tmp_path):
    # the README's advice: the list form takes both runs; the comma form is refused by Hydra
    # itself while it reads the command line (a sweep over its own settings), before the
    # sweeper could say anything, and nothing is run or written
    from hydra.errors import ConfigCompositionException

    def task(cfg) -> float:
        return -abs(cfg.x - 7)

    first, second = tmp_path / "first" / "run", tmp_path / "second" / "run"
    multirun(tmp_path / "first", task, SWEEP)
    multirun(tmp_path / "second", task, {**SWEEP, "seed": 1})
    trials = multirun(tmp_path / "both", task, {**SWEEP, "budget": 1},
                      (f"hydra.sweeper.warm_start=[{first},{second}]",))
    assert len(trials) == 1 and len(_ran(tmp_path / "both")[1]) == 6  # 3 results of each
    with pytest.raises(ConfigCompositionException, match="Sweeping over Hydra's "
                                                         "configuration is not supported"):
        multirun(tmp_path / "comma", task, SWEEP, (f"hydra.sweeper.warm_start={first},{second}",))
    assert not (tmp_path / "comma" / "run").exists()  # the sweeper never ran


def test_a_warm_start_setting_without_warm_start_is_refused_in_the_sweeps_words(tmp_path):
    # was: "... give `hydra.sweeper.warm_start` too (or drop warm_start_fill)" and "(a
    # resume of a search that re-trains them: the same hydra.sweeper.warm_start ...)"
    for override, said in (
            ("hydra.sweeper.warm_start_fill={x: 1}",
             "`hydra.sweeper.warm_start_fill` fills keys of the `hydra.sweeper.warm_start` "
             "runs' results; give `hydra.sweeper.warm_start` too (or drop "
             "hydra.sweeper.warm_start_fill)"),
            ("hydra.sweeper.retrain_top_k=1",
             "`hydra.sweeper.retrain_top_k` re-trains the best results of "
             "`hydra.sweeper.warm_start` runs; give `hydra.sweeper.warm_start` too (a resume "
             "of a sweep that re-trains them: the same hydra.sweeper.warm_start it ran with)")):
        with pytest.raises(ConfigError) as info:
            multirun(tmp_path, lambda cfg: 1.0, SWEEP, (override,))
        assert str(info.value) == said
    assert not (tmp_path / "run").exists()

"""What a Hydra sweep optimises (``helpers_hydra_sweep.multirun``, in-process): the
monitor and its direction, several objectives (a dict or a tuple returned), and
constraints (a path, a function's or a class's node, their arguments) checked before any
job and on resume."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import DictConfig  # noqa: E402

from lightning_nas.cli import main as cli  # noqa: E402
from lightning_nas.errors import ConfigError, SearchError  # noqa: E402
from lightning_nas.integrations.hydra_executor import job_result  # noqa: E402
from lightning_nas.results import TrialResult, TrialStatus  # noqa: E402
from lightning_nas.search.proposals import MAX_REPEATS  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402


def test_an_empty_monitor_is_refused_as_lightning_nas_search_refuses_it(tmp_path):
    # was: '' silently meant the config's optimized_metric, where `lightning-nas search`
    # refuses an empty monitor
    calls = []
    for direction in ("maximize", None):
        with pytest.raises(ConfigError, match=r"`hydra.sweeper.monitor` must name the score "
                                              r"the task returns, got ''"):
            multirun(tmp_path, lambda cfg: calls.append(cfg.x) or 1.0,
                     {"budget": 2, "monitor": "", "params": {"x": "choice(1, 2)"}},
                     direction=direction, optimized_metric="val/acc")
    assert not calls and not (tmp_path / "run").exists()


def test_a_direction_contrary_to_the_scores_name_is_warned_of_before_any_job(tmp_path):
    warned = []  # at each job: was the sweep's warning said already?

    def task(cfg: DictConfig) -> float:
        warned.append(any("'val/loss' is maximised" in str(w.message) for w in said))
        return float(cfg.x)

    with pytest.warns(UserWarning, match=r"'val/loss' is maximised, but its name says lower "
                                         r"is better \(mode: min\)") as said:
        trials = multirun(tmp_path, task, {"budget": 2, "params": {"x": "choice(1, 2)"}},
                          direction="maximize", optimized_metric="val/loss")
    assert warned == [True, True]  # before the first job
    assert max(trials, key=lambda t: t.score).arch == {"x": 2}  # taken as given


def test_without_direction_the_scores_name_says_it_or_the_sweep_is_refused(tmp_path):
    # was: maximize by default, where Optuna's and Nevergrad's sweepers minimize: a project
    # that switched sweepers and returned a loss had its highest loss chased without a word
    calls = []

    def task(cfg: DictConfig) -> float:
        calls.append(cfg.x)
        return float(cfg.x)

    sweep = {"budget": 1, "params": {"x": "choice(1, 2)"}}
    with pytest.raises(ConfigError, match=r"hydra.sweeper.direction is not set and the "
                                          r"score's name 'score' does not say which way is "
                                          r"better; set hydra.sweeper.direction: maximize or "
                                          r"minimize"):
        multirun(tmp_path / "a", task, sweep, direction=None)
    assert not calls and not (tmp_path / "a" / "run" / "search.db").exists()
    for metric, best in (("val/loss", 1), ("val/acc_best", 2)):
        folder = tmp_path / metric.replace("/", "_")
        trials = multirun(folder, task, {**sweep, "budget": 2}, direction=None,
                          optimized_metric=metric)
        assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2
        results = yaml.safe_load((folder / "run" / "optimization_results.yaml").read_text())
        assert results["best_params"] == {"x": best}, metric


def multiple_of_four(arch: dict[str, Any]) -> bool:
    """A constraint the sweeper loads by its import path."""
    return arch["x"] % 4 == 0


def test_an_objective_a_job_does_not_return_fails_it_alone_once_a_job_completed(tmp_path):
    # as a search's trial (was: the sweep stopped at the first such job, whatever had
    # completed); before any job completed it stops the sweep: a misspelt name
    calls = []

    def task(cfg: DictConfig) -> dict[str, float]:
        calls.append(cfg.x)
        return {"acc": float(cfg.x), **({"cost": 1.0} if len(calls) == 1 else {})}

    sweeper = {"budget": 5, "max_failures": 2, "optimizer": "RandomSearch",
               "params": {"x": "range(0, 99)"}}
    objectives = ("+hydra.sweeper.objectives.acc=maximize",
                  "+hydra.sweeper.objectives.cost=minimize")
    with pytest.raises(SearchError, match=r"3 trials failed \(max_failures=2\); last error: "
                                          r"the task function returned no \['cost'\]"):
        multirun(tmp_path / "later", task, sweeper, overrides=objectives)
    with RunStore(tmp_path / "later" / "run" / "search.db") as store:
        assert [t.status for t in store.trials()] == [TrialStatus.COMPLETED,
                                                      *[TrialStatus.FAILED] * 3]
    calls[:] = [0, 0]  # no job returns it: the first one stops the sweep
    with pytest.raises(SearchError, match=r"the task function returned no \['cost'\]"):
        multirun(tmp_path / "first", task, sweeper, overrides=objectives)
    assert len(calls) == 3


def test_a_dict_without_the_score_is_fatal_only_until_a_job_completed():
    # as a search's trial whose monitor was never logged (was: fatal whatever had
    # completed); the loop makes it fail alone once a job completed (the test above)
    missing = job_result(2, {"x": 1}, {"loss": 0.3}, "acc", ["acc", "loss"])
    assert (missing.fatal, missing.objective_missing) == (True, True)
    assert "returned no ['acc']" in missing.error
    nothing = job_result(3, {"x": 1}, None, "acc")  # no dict, no number: every job's error
    assert (nothing.fatal, nothing.objective_missing) == (True, False)


def test_a_bool_a_task_returns_beside_its_objectives_is_stored_as_0_or_1():
    # as Lightning's self.log("converged", True) and an objective= function's (was: left
    # out of the trial's metrics without a word); a bool score is still no number
    done = job_result(1, {"x": 1}, {"acc": 0.5, "converged": True, "note": "text"}, "acc")
    assert done.metrics == {"acc": 0.5, "converged": 1.0}
    assert ("returned acc=True, which is not a number"
            in job_result(2, {"x": 1}, {"acc": True}, "acc").error)


@pytest.mark.parametrize(("value", "said"), [(None, "None"), ("high", "'high'")])
def test_an_objective_a_task_returns_as_no_number_is_named_with_its_value(value, said):
    # was: "the task function returned no ['score']" although the key was there
    result = job_result(2, {"x": 1}, {"score": value, "loss": 0.3}, "score", ["score", "loss"])
    assert (result.fatal, result.objective_missing) == (True, True)
    assert result.error.startswith(f"the task function returned score={said}, which is not a "
                                   f"number (numbers it returned: ['loss']); return a dict "
                                   f"holding ['score', 'loss']")
    assert "returned no" not in result.error
    both = job_result(3, {"x": 1}, {"loss": None}, "score", ["score", "loss"]).error
    assert both.startswith("the task function returned no ['score'] and loss=None, which is "
                           "not a number (numbers it returned: [])")


def test_constraints_and_several_objectives(tmp_path, capsys):
    calls = []

    def task(cfg: DictConfig) -> dict[str, float]:
        calls.append(cfg.x)
        return {"acc": 1.0 - 1.0 / (1 + cfg.x), "cost": float(cfg.x), "note": "text"}

    trials = multirun(tmp_path, task, {  # objectives from the command line (was: an error)
        "budget": 3, "constraints": [f"{__name__}.multiple_of_four"],
        "params": {"x": "range(0, 12)"}},
        overrides=("+hydra.sweeper.objectives.acc=maximize",
                   "+hydra.sweeper.objectives.cost=minimize"))
    done = [t for t in trials if t.status is TrialStatus.COMPLETED]
    rejected = [t for t in trials if t.status is TrialStatus.REJECTED]
    assert sorted(t.arch["x"] for t in done) == sorted(calls) == [0, 4, 8]
    assert rejected and all(t.arch["x"] % 4 for t in rejected)  # never launched
    out = capsys.readouterr().out  # the summary counts them (was: "3 completed, 0 failed.")
    assert f"3 completed, {len(rejected)} rejected, 0 failed." in out
    # the first line names both objectives, as a search's does (was: "acc (max)" alone), in
    # the sweep's words (was: "acc (max), cost (min)")
    assert "architectures, objectives acc (maximize), cost (minimize)\n" in out, out
    assert all(set(t.metrics) == {"acc", "cost"} and t.score == t.metrics["acc"] for t in done)
    results = yaml.safe_load((tmp_path / "run" / "optimization_results.yaml").read_text())
    assert sorted(s["params"]["x"] for s in results["solutions"]) == [0, 4, 8]  # all optimal
    capsys.readouterr()
    assert cli(["show", str(tmp_path / "run"), "--format", "json"]) == 0
    assert '"acc"' in capsys.readouterr().out


def test_constraints_no_job_of_a_small_space_meets_are_refused_before_any_job(tmp_path):
    # as `lightning-nas search` refuses them (exit 2, nothing written); was: every
    # candidate stored as REJECTED, "0 completed, 2 rejected" and exit status 0
    calls = []
    with pytest.raises(ConfigError) as info:
        multirun(tmp_path, lambda cfg: calls.append(cfg.x) or 1.0,
                 {"budget": 2, "params": {"x": "choice(1, 2)"},
                  "constraints": ["operator.not_"]})
    assert str(info.value) == (
        "no architecture of the sweep's space (hydra.sweeper.params and the command line's "
        "sweeps) meets hydra.sweeper.constraints: each of its 2 architectures breaks them "
        "(the least at x=1: not_ rejected it); loosen hydra.sweeper.constraints or widen "
        "hydra.sweeper.params")
    assert not calls and not (tmp_path / "run" / "search.db").exists()


def test_a_sweep_whose_every_proposal_is_rejected_ends_in_an_error(tmp_path, capsys):
    # as `lightning-nas search` ends (exit status 1, "with no completed trial"); was: "0
    # completed, 200 rejected", best_value: null and exit status 0, as if it had worked
    with pytest.raises(SearchError) as info:
        multirun(tmp_path, lambda cfg: 1.0, {
            "budget": 2, "optimizer": "RandomSearch", "params": {"x": "interval(0, 1)"},
            "constraints": ["operator.not_"]})
    assert str(info.value) == (
        f"no job of the sweep completed ({MAX_REPEATS} rejected, 0 failed): it has no best "
        f"job; every one proposed broke hydra.sweeper.constraints: loosen them or widen "
        f"hydra.sweeper.params")
    out = capsys.readouterr().out  # its summary and files, before the error
    assert f": 0 completed, {MAX_REPEATS} rejected, 0 failed.\nWrote " in out
    # the loop's stop in the sweep's words (was: "... or, 200 of them, broke the limits or
    # constraints", and a sweep has no limits)
    assert (f"The optimizer proposed {MAX_REPEATS} architectures in a row, none to run: each "
            f"of the {MAX_REPEATS} broke hydra.sweeper.constraints (REJECTED); stopping.\n"
            in out)
    results = yaml.safe_load((tmp_path / "run" / "optimization_results.yaml").read_text())
    assert results["best_value"] is None


def test_a_sweep_of_several_objectives_tells_the_optimizer_their_number_first(tmp_path):
    # was: NGOpt learnt it at its first tell: job 1 came from the optimizer it chose for a
    # single objective (Cobyla here), not from DE, its choice for several
    from lightning_nas.space import SearchSpace
    from lightning_nas.store import OBJECTIVES_UP_FRONT
    from lightning_nas.strategies import make_optimizer

    def task(cfg: DictConfig) -> dict[str, float]:
        return {"acc": cfg.x - cfg.y, "cost": cfg.x + cfg.y}

    trials = multirun(tmp_path, task, {
        "budget": 3, "seed": 0, "optimizer": "NGOpt",
        "params": {"x": "interval(0, 1)", "y": "interval(0, 1)"}},
        overrides=("+hydra.sweeper.objectives.acc=maximize",
                   "+hydra.sweeper.objectives.cost=minimize"), y=0)
    with RunStore(tmp_path / "run" / "search.db") as store:
        space = SearchSpace.from_dict(store.get_meta("space"))
        assert store.get_meta(OBJECTIVES_UP_FRONT) is True

    def first(up_front: bool) -> dict[str, Any]:
        optimizer = make_optimizer("NGOpt", space, budget=3, seed=0)
        if up_front:
            optimizer.num_objectives = 2
        return space.validate(optimizer.ask().value)

    assert first(False) != first(True)  # (this space tells them apart)
    assert trials[0].arch == first(True)


class AtMost:
    """A constraint object with an argument, built from a ``_target_`` node."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, arch: dict[str, Any]) -> bool:
        return arch["x"] <= self.limit


def test_constraint_nodes_of_a_function_or_a_class_and_params_nodes_reach_the_sweeper(tmp_path):
    # was: Hydra built the sweeper's nodes first: a function node was called with no
    # argument (TypeError "multiple_of_four() missing 1 required positional argument")
    seen: list[Any] = []
    for folder, node, allowed in (
            ("function", {"_target_": f"{__name__}.multiple_of_four"}, {0, 4, 8}),
            ("class", {"_target_": f"{__name__}.AtMost", "limit": 2}, {0, 1, 2})):
        seen.clear()
        trials = multirun(tmp_path / folder, lambda cfg: seen.append(cfg.node) or float(cfg.x), {
            "budget": 2, "constraints": [node], "params": {
                "x": "range(0, 12)", "node": {"_target_": f"{__name__}.AtMost", "limit": 1}}},
            node=None)
        done = [t.arch["x"] for t in trials if t.status is TrialStatus.COMPLETED]
        assert len(done) == 2 and set(done) <= allowed, folder
        # a rejected one names it with its arguments (was: '<...AtMost object at 0x...>')
        assert {t.error for t in trials if t.status is TrialStatus.REJECTED} <= {
            "multiple_of_four rejected it" if folder == "function" else
            f"{__name__}.AtMost(limit=2) rejected it"}, folder
        # a params node is a value the jobs get as written (was: built by Hydra, a dict)
        assert dict(seen[0]) == {"_target_": f"{__name__}.AtMost", "limit": 1}


def test_a_constraint_nodes_wrong_or_missing_argument_is_named_before_any_job(tmp_path):
    # was: Hydra's "Error in call to target '...AtMost': TypeError(...unexpected keyword
    # argument 'limt')", where lightning-nas search names the key and the valid ones
    ran = []
    good = {"_target_": f"{__name__}.AtMost", "limit": 8}
    for folder, node, message in (
            ("typo", {"_target_": f"{__name__}.AtMost", "limt": 16},
             "hydra.sweeper.constraints[1].limt: not an argument of AtMost; did you mean "
             "'limit'? it takes ['limit']"),
            ("missing", {"_target_": f"{__name__}.AtMost"},
             "hydra.sweeper.constraints[1]: AtMost: the config does not give required "
             "argument 'limit'; set hydra.sweeper.constraints[1].limit")):
        with pytest.raises(ConfigError) as info:
            multirun(tmp_path / folder, lambda cfg: ran.append(1) or 1.0, {
                "budget": 1, "params": {"x": "range(0, 9)"}, "constraints": [good, node]})
        assert str(info.value).startswith(message), str(info.value)
        assert not (tmp_path / folder / "run").exists()
    assert not ran
    partial = {"_target_": f"{__name__}.below", "_partial_": True, "limit": 2}
    trials = multirun(tmp_path / "partial", lambda cfg: float(cfg.x), {
        "budget": 2, "params": {"x": "range(0, 9)"}, "constraints": [good, partial]})
    assert all(t.arch["x"] < 2 for t in trials if t.status is TrialStatus.COMPLETED)


def test_a_constraint_that_is_no_callable_is_named_before_any_job(tmp_path):
    # was: "constraints must be callables arch -> bool/float, got 3.141592653589793",
    # naming no key, where lightning-nas search names search.constraints[i]
    ran = []
    with pytest.raises(ConfigError, match=r"^hydra.sweeper.constraints\[1\]='math.pi' is no "
                                          r"callable arch -> bool"):
        multirun(tmp_path, lambda cfg: ran.append(1) or 1.0,
                 {"budget": 1, "params": {"x": "range(0, 9)"},
                  "constraints": [f"{__name__}.multiple_of_four", "math.pi"]})
    assert not ran and not (tmp_path / "run").exists()


def test_one_constraint_alone_not_in_a_list_is_read_as_lightning_nas_search_reads_it(
        tmp_path):
    # was: Hydra's "AnyNode is not a ListConfig, list or tuple" composing the config, where
    # lightning-nas search reads one import path (or node) alone as a list of it
    for folder, alone in (("path", f"{__name__}.multiple_of_four"),
                          ("node", {"_target_": f"{__name__}.AtMost", "limit": 2})):
        trials = multirun(tmp_path / folder, lambda cfg: float(cfg.x), {
            "budget": 2, "params": {"x": "range(0, 12)"}, "constraints": alone})
        done = {t.arch["x"] for t in trials if t.status is TrialStatus.COMPLETED}
        assert len(done) == 2 and done <= ({0, 4, 8} if folder == "path" else {0, 1, 2})
    with pytest.raises(ConfigError, match=r"^hydra.sweeper.constraints must be a list of "
                                          r"import paths or _target_ nodes .*, got 3"):
        multirun(tmp_path / "number", lambda cfg: 1.0,
                 {"budget": 1, "params": {"x": "range(0, 9)"}, "constraints": 3})


def below(arch: dict[str, Any], limit: int) -> bool:
    """A constraint with an argument bound by a ``_partial_`` node."""
    return arch["x"] < limit


def test_resuming_with_a_constraint_object_of_other_arguments_is_refused(tmp_path):
    # was: stored as '<tests.test_hydra_sweeper.AtMost object>': a resume with limit 4 was
    # taken, and trials of both limits shared the leaderboard
    def sweep(limit: int, budget: int) -> list[TrialResult]:
        return multirun(tmp_path, lambda cfg: float(cfg.x), {
            "budget": budget, "params": {"x": "range(0, 9)"},
            "constraints": [{"_target_": f"{__name__}.AtMost", "limit": limit}]})

    sweep(8, 1)
    with pytest.raises(ConfigError, match=rf"hydra\.sweeper\.constraints: \['{__name__}\."
                                          rf"AtMost\(limit=8\)'\], now \['{__name__}\.AtMost"
                                          rf"\(limit=4\)'\]"):
        sweep(4, 2)
    assert len(sweep(8, 2)) >= 2  # the same one resumes


def test_a_direction_against_the_first_objective_is_refused(tmp_path):
    # was: dropped without a word (a monitor against it was refused); then refused as
    # "mode='max' disagrees ...; leave monitor and mode out", and `mode` is no sweeper key
    def task(cfg: DictConfig) -> dict[str, float]:
        return {"loss": float(cfg.x), "acc": 1.0 / (1 + cfg.x)}

    sweeper = {"budget": 1, "params": {"x": "range(0, 4)"}, "direction": "maximize"}
    with pytest.raises(ConfigError) as info:  # the file's direction, objectives on the line
        multirun(tmp_path, task, sweeper,
                 ("hydra.sweeper.objectives={loss:minimize,acc:maximize}",))
    assert str(info.value).startswith(
        "hydra.sweeper.direction=maximize disagrees with the first objective (loss: minimize)")
    assert "set hydra.sweeper.direction=null" in str(info.value)
    assert "mode" not in str(info.value)
    assert not (tmp_path / "run" / "search.db").exists()
    trials = multirun(tmp_path, task, sweeper,  # as the error says: fine
                      ("hydra.sweeper.objectives={loss:minimize,acc:maximize}",
                       "hydra.sweeper.direction=null"))
    assert [t.score for t in trials] == [t.metrics["loss"] for t in trials]
    multirun(tmp_path / "acc", task, {**sweeper, "objectives": {"acc": "maximize",
                                                                "loss": "minimize"}})


def test_optunas_list_of_directions_is_refused_naming_the_objectives_form(tmp_path):
    # was: Hydra's bare "Cannot convert 'ListConfig' to string" composing (the field was
    # typed str), naming neither objectives nor what to write: Optuna's several objectives
    # (the lightning-hydra-template's) are `direction: [maximize, minimize]`
    calls = []

    def task(cfg: DictConfig) -> tuple[float, float]:
        calls.append(cfg.x)
        return float(cfg.x), 1.0 / (1 + cfg.x)

    sweeper = {"budget": 1, "params": {"x": "range(0, 4)"}}
    for given, overrides in (({"direction": ["maximize", "minimize"]}, ()),  # the file's
                             ({}, ("hydra.sweeper.direction=[maximize,minimize]",))):
        with pytest.raises(ConfigError) as info:
            multirun(tmp_path, task, {**sweeper, **given}, overrides, direction=None)
        said = str(info.value)
        assert said.startswith("hydra.sweeper.direction takes one direction (maximize or "
                               "minimize), got ['maximize', 'minimize']"), said
        assert "hydra.sweeper.objectives='{name1: maximize, name2: minimize}'" in said
        assert "hydra.sweeper.direction=null" in said
    assert not calls and not (tmp_path / "run" / "search.db").exists()
    trials = multirun(tmp_path, task, sweeper,  # as the error says: fine
                      ("hydra.sweeper.objectives={name1: maximize, name2: minimize}",),
                      direction=None)
    assert [t.metrics for t in trials] == [{"name1": float(calls[0]),
                                            "name2": 1.0 / (1 + calls[0])}]


def test_a_monitor_that_is_not_the_first_objective_is_refused_naming_the_sweepers_keys(
        tmp_path):
    # was: "monitor='acc' disagrees ...; leave monitor and mode out", and `mode` is no
    # sweeper key
    def task(cfg: DictConfig) -> dict[str, float]:
        return {"loss": float(cfg.x), "acc": 1.0 / (1 + cfg.x)}

    sweeper = {"budget": 1, "params": {"x": "range(0, 4)"}, "monitor": "acc",
               "objectives": {"loss": "minimize", "acc": "maximize"}}
    with pytest.raises(ConfigError) as info:
        multirun(tmp_path, task, sweeper, sort_keys=False)
    assert str(info.value).startswith(
        "hydra.sweeper.monitor=acc is not the first objective (loss)")
    assert "set hydra.sweeper.monitor=null" in str(info.value)
    assert "mode" not in str(info.value)
    assert not (tmp_path / "run" / "search.db").exists()
    trials = multirun(tmp_path, task, sweeper, ("hydra.sweeper.monitor=null",),  # as it says
                      sort_keys=False)
    assert [t.score for t in trials] == [t.metrics["loss"] for t in trials]
    multirun(tmp_path / "first", task, {**sweeper, "monitor": "loss"}, sort_keys=False)


TWO = ("+hydra.sweeper.objectives.acc=maximize", "+hydra.sweeper.objectives.cost=minimize")


def test_a_tuple_or_list_returned_is_the_objectives_in_their_order(tmp_path):
    # as the Optuna sweeper reads it (was: "returned (0.5, 3.0); return the score (acc) as a
    # float, or a dict", the sweep stopped at its first job)
    for folder, kind in (("tuple", tuple), ("list", list)):
        trials = multirun(tmp_path / folder, lambda cfg, kind=kind: kind(
            [cfg.x / 10, float(cfg.x)]), {"budget": 3, "params": {"x": "range(1, 9)"}},
            overrides=TWO)
        assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 3
        assert all(t.metrics == {"acc": t.arch["x"] / 10, "cost": float(t.arch["x"])}
                   and t.score == t.arch["x"] / 10 for t in trials)
    # one objective: a list of one value is the score
    trials = multirun(tmp_path / "one", lambda cfg: [cfg.x / 10],
                      {"budget": 2, "params": {"x": "range(1, 9)"}})
    assert all(t.status is TrialStatus.COMPLETED and t.score == t.arch["x"] / 10
               for t in trials)


@pytest.mark.parametrize(("returned", "sweeper", "overrides", "said"), [
    ((0.5, 2.0), {}, (), r"the task function returned \(0.5, 2.0\), 2 values, but the sweep "
                         r"has one objective \(score\); return one float, or list 2 names "
                         r"in hydra.sweeper.objectives"),
    ([0.5, 1.0, 2.0], {}, TWO, r"the task function returned \[0.5, 1.0, 2.0\], 3 values, but "
                               r"the sweep has 2 objectives \(hydra.sweeper.objectives: acc, "
                               r"cost\); return one number per objective, in that order"),
    ((0.5,), {}, TWO, r"returned \(0.5,\), 1 value, but the sweep has 2 objectives"),
    ((0.5, "low"), {}, TWO, r"the task function returned \(0.5, 'low'\): its value 2 \(cost\) "
                            r"is 'low', not a number"),
    ((None, 1.0), {}, TWO, r"returned \(None, 1.0\): its value 1 \(acc\) is None, not a number"),
])
def test_a_tuple_that_does_not_fit_the_objectives_stops_the_sweep_naming_both(
        tmp_path, returned, sweeper, overrides, said):
    calls = []
    with pytest.raises(SearchError, match=said):
        multirun(tmp_path, lambda cfg: calls.append(1) or returned,
                 {"budget": 3, "params": {"x": "range(1, 9)"}, **sweeper}, overrides=overrides)
    assert len(calls) == 1  # at the first job: none completed, nothing told
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert store.count(TrialStatus.COMPLETED) == 0


def test_a_nan_in_a_returned_tuple_fails_that_job_alone(tmp_path):
    # as a NaN float or a NaN in a dict: the job FAILED, the sweep goes on
    def task(cfg: DictConfig) -> tuple[float, float]:
        return (math.nan if cfg.x == 2 else cfg.x / 10, math.nan if cfg.x == 3 else 1.0)

    trials = multirun(tmp_path, task, {"budget": 9, "max_failures": 5, "optimizer": "RandomSearch",
                                       "params": {"x": "choice(1, 2, 3, 4, 5, 6)"}},
                      overrides=TWO)
    failed = {t.arch["x"]: t.error for t in trials if t.status is TrialStatus.FAILED}
    assert sorted(failed) == [2, 3]
    assert failed[2] == "acc is nan" and failed[3] == "objective 'cost' is nan"
    assert sum(t.status is TrialStatus.COMPLETED for t in trials) == 4  # the space, run whole


@pytest.mark.parametrize(("objectives", "said"), [
    ([{"name": "acc", "mode": "max"}], "[{'mode': 'max', 'name': 'acc'}]; write a mapping, "
     "e.g. objectives: {val_acc: max, params: min} (this list as one: objectives: "
     "{acc: max})"),
    ("acc", "'acc'; write a mapping, e.g. objectives: {val_acc: max, params: min}"),
])
def test_objectives_that_are_no_mapping_are_refused_with_an_example(tmp_path, objectives, said):
    # was: "hydra.sweeper.objectives must map names to maximize or minimize, got [...]",
    # no word of how a mapping is written
    ran = []
    with pytest.raises(ConfigError) as info:
        multirun(tmp_path, lambda cfg: ran.append(1) or {"acc": 1.0},
                 {"budget": 2, "params": {"x": "choice(1, 2)"}, "objectives": objectives})
    assert str(info.value) == ("hydra.sweeper.objectives must map names to maximize or "
                               f"minimize, got {said}")
    assert not ran and not (tmp_path / "run").exists()

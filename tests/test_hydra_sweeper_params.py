"""The Hydra sweeper's params (``helpers_hydra_sweep.multirun``, in-process, and
``hydra_grammar.parse_params``): a params key given nested on the command line, a space in
``lightning-nas search`` syntax refused with its sweep grammar, and an ``int`` interval
whose cast ends widen it warned of before any job."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import DictConfig  # noqa: E402

from lightning_nas.errors import SpaceError  # noqa: E402
from lightning_nas.integrations.hydra_grammar import format_value, parse_params  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402


def test_a_params_key_given_nested_on_the_command_line_is_refused_before_any_job(tmp_path):
    # was: hydra.sweeper.params.m.k=5 made a key 'm' ({k: 5}) beside the file's 'm.k': every
    # job ran k=5 while the stored and told architecture claimed the searched value too
    calls = []

    def task(cfg: DictConfig) -> float:
        calls.append(cfg.m.k)
        return float(cfg.m.k)

    with pytest.raises(SpaceError, match=r"hydra.sweeper.params: space keys 'm' \({'k': 5}\) "
                                         r"and 'm.k' both set 'm.k'.*write it as a plain "
                                         r"override, <key>.<sub>=VALUE"):
        multirun(tmp_path, task, {"budget": 2, "params": {"m.k": "choice(1, 2)"}},
                 overrides=("hydra.sweeper.params.m.k=5",), m={"k": 0})
    assert not calls and not (tmp_path / "run" / "search.db").exists()


@pytest.mark.parametrize(("spec", "grammar"), [
    ({"choice": [1, 2, 3]}, "choice(1, 2, 3)"),
    ({"ordered": [4, 2, 8]}, "tag(ordered, choice(4, 2, 8))"),
    ({"float": [0.001, 0.1], "log": True}, "tag(log, interval(0.001, 0.1))"),
    ({"float": [0.1, 1.0]}, "interval(0.1, 1.0)"),
    ({"int": [1, 5]}, "int(interval(1, 5))"),
    ({"int": [16, 512], "log": True}, "tag(log, int(interval(16, 512)))"),
    ({"int": [8, 64], "step": 8}, "range(8, 65, 8)"),
    ({"fixed": 3}, "3"),
])
def test_a_param_in_lightning_nas_search_syntax_is_refused_with_its_sweep_grammar(
        tmp_path, spec, grammar):
    # was: fixed, the jobs ran with y = {'float': [0.1, 1.0]} beside a searched x (alone:
    # "the space holds a single architecture", or "has keys of the Nevergrad sweeper's range")
    ran = []
    with pytest.raises(SpaceError) as info:
        multirun(tmp_path, lambda cfg: ran.append(1) or 1.0,
                 {"params": {"x": "range(0, 9)", "y": spec}}, y=0)
    assert str(info.value).startswith(
        f"params key 'y': {format_value(spec)} is lightning-nas search's space syntax "
        f"(search.space); "
        f"hydra.sweeper.params are written in Hydra's sweep grammar: y: {grammar}")
    assert not ran and not (tmp_path / "run").exists()


def test_a_lightning_nas_space_under_the_sweeper_names_params(tmp_path):
    # was: "unknown hydra.sweeper setting 'space'; valid keys: ...", no word of params
    with pytest.raises(Exception) as info:  # noqa: PT011 - Hydra wraps the sweeper's
        multirun(tmp_path, lambda cfg: 1.0, {"params": {"x": "range(0, 9)"},
                                             "space": {"y": {"choice": [1, 2]}}})
    assert ("unknown hydra.sweeper setting 'space': of lightning-nas search, not of a sweep; "
            "a sweep searches hydra.sweeper.params, in Hydra's sweep grammar ({choice: [1, "
            "2]} is choice(1, 2), {float: [0.001, 0.1], log: true} is tag(log, "
            "interval(0.001, 0.1))). valid keys: ") in str(info.value)
    assert not (tmp_path / "run").exists()


def test_an_int_interval_whose_cast_ends_widen_it_is_warned_of_before_any_job(tmp_path):
    # Hydra's int(...) truncates the ends: int(interval(0.5, 3.2)) searches 0..3, 0 below
    # the lower end as written (was: no word of it; measured: the jobs ran x=1, 3, 2, 0);
    # as Hydra's Optuna and Nevergrad sweepers do, the sweep searches what the grammar gives
    calls, warned = [], []

    def task(cfg: DictConfig) -> float:
        calls.append(cfg.x)
        warned.append(any("int(interval(0.5, 3.2))" in str(w.message) for w in said))
        return float(cfg.x)

    with pytest.warns(UserWarning, match=re.escape(
            "sweep parameter 'x': int(interval(0.5, 3.2)) searches 0..3: Hydra's int(...) "
            "truncates the ends as written (0.5 to 0), which puts 0 below the lower end; "
            "write int(interval(1, 3)) for 1..3")) as said:
        trials = multirun(tmp_path, task, {"budget": 4, "params": {"x": "int(interval(0.5, 3.2))"}})
    assert sorted(calls) == [0, 1, 2, 3] and warned == [True] * 4  # before the first job
    assert sorted(t.arch["x"] for t in trials) == [0, 1, 2, 3]  # searched as the grammar says


@pytest.mark.parametrize(("params", "arguments", "said"), [
    ({"x": "tag(log, int(interval(1.5, 16.9)))"}, [],
     "'x': tag(log, int(interval(1.5, 16.9))) searches 1..16: Hydra's int(...) truncates the "
     "ends as written (1.5 to 1), which puts 1 below the lower end; write "
     "tag(log, int(interval(2, 16))) for 2..16"),
    ({"x": "choice(1, 2)"}, ["x=int(interval(-9.5,-2.5))"],  # the command line's wins
     "'x': int(interval(-9.5,-2.5)) searches -9..-2: Hydra's int(...) truncates the ends as "
     "written (-2.5 to -2), which puts -2 above the upper end; write int(interval(-9, -3)) "
     "for -9..-3"),
    ({"x": {"lower": 0.5, "upper": 3.2, "integer": True}}, [],  # the Nevergrad sweeper's
     "'x': int(interval(0.5,3.2)) searches 0..3: Hydra's int(...) truncates the ends as "
     "written (0.5 to 0), which puts 0 below the lower end; write int(interval(1, 3)) for 1..3"),
    ({"x": "int(interval(0.2, 1.8))"}, [],
     "'x': int(interval(0.2, 1.8)) searches 0..1: Hydra's int(...) truncates the ends as "
     "written (0.2 to 0), which puts 0 below the lower end; the ends as written hold one "
     "integer: give 1 as a plain value"),
])
def test_each_way_of_writing_a_widened_int_interval_is_named(params, arguments, said):
    assert parse_params(params, arguments).widened == (f"sweep parameter {said}",)


@pytest.mark.parametrize("text", ["int(interval(1, 3))", "int(interval(-0.5, 3.7))",
                                  "int(interval(1.0, 3.9))", "interval(0.5, 3.2)",
                                  "tag(log, int(interval(16, 512)))", "choice(0.5, 3)",
                                  "int(range(1, 4))"])
def test_an_int_interval_the_cast_does_not_widen_is_not_warned_of(text):
    assert parse_params({"x": text}).widened == ()  # the integers within the ends as written


def test_a_params_key_into_a_named_callback_node_sets_its_argument_in_each_job(tmp_path):
    # the lightning-hydra-template's top-level `callbacks:` group, each node built by the
    # project's train.py: the job's EarlyStopping takes the searched patience, as Hydra's own
    # `callbacks.early_stopping.patience=5` sets it (the same key as `lightning-nas search`'s
    # `trainer.callbacks.early_stopping.patience`)
    from hydra.utils import instantiate

    built = []

    def task(cfg: DictConfig) -> float:
        built.extend(instantiate(node) for node in cfg.callbacks.values() if node)
        return float(built[-1].patience)

    stopping = {"_target_": "lightning.pytorch.callbacks.EarlyStopping", "monitor": "val/acc",
                "mode": "max", "patience": 9}
    trials = multirun(tmp_path, task, {"budget": 2, "params": {
        "callbacks.early_stopping.patience": "choice(3, 5)"}}, callbacks={
            "early_stopping": stopping, "rich_progress_bar": None})
    assert sorted(t.arch["callbacks.early_stopping.patience"] for t in trials) == [3, 5]
    assert [t.score for t in trials] == [t.arch["callbacks.early_stopping.patience"]
                                         for t in trials]
    assert sorted(b.patience for b in built) == [3, 5]


@pytest.mark.parametrize(("head", "resolved", "heads"), [
    ("${m.hidden}", "4", {4}),
    ("choice(${m.hidden}, 2)", "choice(4, 2)", {4, 2}),
])
def test_a_param_interpolating_a_searched_key_is_warned_of_before_any_job(
        tmp_path, head, resolved, heads):
    # Hydra resolves hydra.sweeper.params once, against the sweep's config (m.hidden: 4),
    # not each job's: every job's m.head came from 4, whatever m.hidden it searched (was:
    # no word of it; measured: a job ran m.hidden=8 with m.head=4)
    seen, warned = [], []

    def task(cfg: DictConfig) -> float:
        seen.append((cfg.m.hidden, cfg.m.head))
        warned.append(any("hydra.sweeper.params.m.head" in str(w.message) for w in said))
        return float(cfg.m.hidden)

    with pytest.warns(UserWarning, match=re.escape(
            f"hydra.sweeper.params.m.head: {head} interpolates the searched m.hidden, but "
            f"Hydra resolves the sweeper's params once, against the sweep's config "
            f"({resolved}), not against each job's: no job's m.head follows the m.hidden it "
            f"searched. Write the interpolation in the config itself (m.head: ${{m.hidden}}) "
            f"or as a plain override on the command line ('m.head=${{m.hidden}}'), not among "
            f"the params")) as said:
        multirun(tmp_path, task, {"budget": 4, "optimizer": "RandomSearch",
                                  "params": {"m.hidden": "choice(4, 8)", "m.head": head}},
                 m={"hidden": 4, "head": 0})
    assert warned and all(warned)  # before the first job
    assert {h for _, h in seen} == heads and 8 in {d for d, _ in seen}  # as the records say


@pytest.mark.parametrize("where", ["config", "command line"])
def test_an_interpolation_written_as_the_warning_says_follows_the_searched_key(tmp_path, where):
    # the advice of the warning above: each job resolves it against its own config; an
    # interpolation of a key that is not searched, or of the key itself, is not warned of
    import warnings

    seen = []

    def task(cfg: DictConfig) -> float:
        seen.append((cfg.m.hidden, cfg.m.head))
        return float(cfg.m.hidden)

    in_config = where == "config"
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        multirun(tmp_path, task, {"budget": 2, "params": {
            "m.hidden": "choice(${m.hidden}, 8)", "m.base": "${m.hidden_default}"}},
                 () if in_config else ("m.head=${m.hidden}",),
                 m={"hidden": 4, "head": "${m.hidden}" if in_config else 0, "base": 0,
                    "hidden_default": 4})
    assert sorted(seen) == [(4, 4), (8, 8)]
    assert not [w for w in said if "hydra.sweeper.params" in str(w.message)]

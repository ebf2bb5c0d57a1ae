"""Hydra's sweep grammar as a search space (``lightning_nas.integrations.hydra_grammar``),
architectures back as overrides, and the sweeper's config as Hydra composes it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.override_parser.overrides_parser import OverridesParser  # noqa: E402
from hydra.core.plugins import Plugins  # noqa: E402
from hydra.plugins.sweeper import Sweeper  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from lightning_nas.errors import ConfigError, SpaceError  # noqa: E402
from lightning_nas.integrations.hydra_config import (  # noqa: E402
    SWEEPER_TARGET,
    LightningNASSweeperConf,
)
from lightning_nas.integrations.hydra_grammar import format_value, parse_params  # noqa: E402
from lightning_nas.integrations.hydra_settings import search_settings  # noqa: E402
from lightning_nas.integrations.hydra_sweeper import HydraSweep  # noqa: E402
from lightning_nas.space import Choice, Fixed, Float, Int, Ordered  # noqa: E402
from lightning_nas.strategies import DEFAULT_OPTIMIZER  # noqa: E402
from tests.launcher import pythonpath  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "hydra" / "configs"


def _space(params: dict, arguments: tuple[str, ...] = ()) -> dict:
    return parse_params(params, arguments).space.params


# ----------------------------------------------------------------- grammar -> space kinds
@pytest.mark.parametrize(("text", "param"), [
    ("choice(relu, gelu)", Choice(["relu", "gelu"])),
    ("relu,gelu", Choice(["relu", "gelu"])),
    ("choice(256, 32, 64.5)", Ordered([32, 64.5, 256])),           # numbers: ordered, sorted
    ("tag(ordered, choice(s, m, l))", Ordered(["s", "m", "l"])),    # as given
    ("choice(true, false)", Choice([True, False])),                # booleans are not numbers
    ("choice([1, 2], [3])", Choice([[1, 2], [3]])),
    ("range(1, 5)", Ordered([1, 2, 3, 4])),
    ("range(8, 0, -4)", Ordered([8, 4])),
    ("interval(0.0001, 0.1)", Float(0.0001, 0.1)),
    ("interval(1, 3)", Float(1.0, 3.0)),                           # Hydra's interval is float
    ("int(interval(16, 512))", Int(16, 512)),
    ("tag(log, interval(1e-4, 1e-1))", Float(1e-4, 1e-1, log=True)),
    ("tag(log, int(interval(16, 512)))", Int(16, 512, log=True)),
    ("0.5", Fixed(0.5)),
    ("adam", Fixed("adam")),
    ("'quoted, with a comma'", Fixed("quoted, with a comma")),
])
def test_each_sweep_maps_to_its_space_kind(text, param):
    assert _space({"model.x": text}) == {"model.x": param}


def test_plain_yaml_values_are_fixed_and_keys_keep_their_order():
    space = _space({"b.lr": 0.01, "a.n": 3, "c.act": None, "d.on": True, "e.l": "[1, 2]",
                    "f.m": {"a": 1}})
    assert list(space) == ["b.lr", "a.n", "c.act", "d.on", "e.l", "f.m"]
    assert [p.value for p in space.values()] == [0.01, 3, None, True, [1, 2], {"a": 1}]


def test_the_nevergrad_sweepers_range_is_a_range_and_a_yaml_list_is_refused():
    # was: both fixed, so every job trained the list (or failed on the mapping)
    space = _space({"lr": {"lower": 0.001, "upper": 0.1, "log": True},
                    "width": {"lower": 8, "upper": 64, "integer": True}})
    assert space == {"lr": Float(0.001, 0.1, log=True), "width": Int(8, 64)}
    with pytest.raises(SpaceError, match=r"params key 'width': a list is either a choice of "
                                         r"its values or one fixed value; write choice\(8, 16\)"
                                         r" to search it, or the string '\[8,16\]' to fix it"):
        _space({"width": [8, 16]})
    with pytest.raises(SpaceError, match="a range takes lower, upper, log, integer, not step"):
        _space({"lr": {"lower": 0.1, "upper": 1.0, "step": 0.1}})


def test_a_mapping_with_range_keys_that_is_not_a_range_is_refused_naming_the_key():
    # was: {lowr, upper, log} was a fixed mapping; every job failed on it in the task
    with pytest.raises(SpaceError, match=r"params key 'lr': \{lowr:0.001,upper:0.1,log:true\} "
                                         r"has keys of the Nevergrad sweeper's range but is "
                                         r"not one: a range takes lower, upper, log, integer, "
                                         r"not lowr \(did you mean 'lower'\?\); it lacks "
                                         r"lower\. To fix such a mapping as one value, write "
                                         r"it as the string '\{lowr:0.001,upper:0.1,log:true\}'"):
        _space({"lr": {"lowr": 0.001, "upper": 0.1, "log": True}})
    with pytest.raises(SpaceError, match=r"params key 'opt.lr': .* it lacks lower and upper"):
        _space({"opt": {"name": "adam", "lr": {"log": True}}})  # nested too
    # a mapping without range keys is fixed, as before; one with them, fixed as a string
    assert _space({"m": {"lowr": 1, "name": "a"}, "r": "{log:true}"}) == {
        "m": Fixed({"lowr": 1, "name": "a"}), "r": Fixed({"log": True})}


def test_a_nested_mapping_that_searches_is_searched_by_its_dotted_keys():
    # was: fixed as the literal text: every job got opt.name='choice(adam, sgd)'
    space = _space({"opt": {"name": "choice(adam, sgd)", "beta": "interval(0.8, 0.99)",
                            "eps": 1e-8, "sched": {"gamma": {"lower": 0.1, "upper": 0.9}}},
                    "fixed": {"a": 1, "b": "adam"}})
    assert space == {"opt.name": Choice(["adam", "sgd"]), "opt.beta": Float(0.8, 0.99),
                     "opt.eps": Fixed(1e-8), "opt.sched.gamma": Float(0.1, 0.9),
                     "fixed": Fixed({"a": 1, "b": "adam"})}  # nothing searched: one value


def test_a_key_given_both_dotted_and_nested_is_refused_naming_it():
    # was: the later one kept, the other dropped without a word: a command line's
    # hydra.sweeper.params.m.k='choice(30,40)' beside a file's m.k and a nested m.j lost to
    # the file's m.k, so the jobs searched what the command line had replaced
    for params in ({"m": {"j": "choice(5, 6)", "k": "choice(30, 40)"}, "m.k": "choice(1, 2)"},
                   {"m.k": "choice(1, 2)", "m": {"k": "choice(30, 40)"}}):
        with pytest.raises(SpaceError, match=r"hydra.sweeper.params gives 'm.k' twice, as a "
                                             r"dotted key and nested \('choice\(.*give it once"):
            parse_params(params)


def test_config_groups_and_add_prefixes_are_keys():
    space = _space({"model": "choice(digits, cnn)", "+extra.k": "choice(1, 2)",
                    "db@backup": "choice(a, b)"})
    assert list(space) == ["model", "+extra.k", "db@backup"]


def test_command_line_overrides_win_over_the_config_file():
    sweep = parse_params({"data.batch_size": "choice(32, 64)", "model.lr": "interval(0.1, 1)"},
                         ["hparams_search=nas", "data.batch_size=16",
                          "model.lr=tag(log, interval(0.01, 1))", "model.depth=range(1, 4)",
                          "trainer.max_epochs=1"])
    assert sweep.space.params == {"data.batch_size": Fixed(16),
                                  "model.lr": Float(0.01, 1.0, log=True),
                                  "model.depth": Ordered([1, 2, 3])}
    # the other arguments go to every job as written, before the architecture's values
    assert sweep.passthrough == ("hparams_search=nas", "trainer.max_epochs=1")
    assert sweep.overrides({"data.batch_size": 16, "model.lr": 0.05, "model.depth": 2}) == [
        "hparams_search=nas", "trainer.max_epochs=1", "data.batch_size=16", "model.lr=0.05",
        "model.depth=2"]


def test_an_add_override_on_the_command_line_replaces_the_params_key():
    sweep = parse_params({"x": "choice(1, 2)"}, ["+x=3"])
    assert sweep.space.params == {"+x": Fixed(3)}


# ----------------------------------------------------------------- errors name the key
@pytest.mark.parametrize(("params", "arguments", "message"), [
    ({"model.lr": "interval(1)"}, (), r"(?s)sweep parameter 'model\.lr': .*interval"),
    ({"model.act": "choice()"}, (), r"(?s)sweep parameter 'model\.act': .*empty choice"),
    ({"model.lr": "tag(log, interval(0, 1))"}, (), r"'model\.lr': `float` with log.*low > 0"),
    ({"model.w": "int(interval(8, 8))"}, (), r"'model\.w': `int` needs low < high"),
    ({"model.w": "tag(log, choice(1, 2))"}, (), r"'model\.w': tag 'log' applies to interval"),
    ({"model.w": "tag(ordered, interval(1, 2))"}, (), r"'model\.w': tag 'ordered' applies"),
    ({"model.w": "tag(fast, choice(1, 2))"}, (), r"'model\.w': unknown tag 'fast'; "
                                                 r"valid tags: log, ordered"),
    ({"model.w": "range(5, 5)"}, (), r"'model\.w': range\(5, 5\) holds no value"),
    # was: ValueError "range() arg 3 must not be zero", naming no key, with a traceback
    ({"model.w": "range(1, 5, 0)"}, (), r"'model\.w': range\(1, 5, 0\): its step is 0"),
    ({"model.w": "choice(1, 1)"}, (), r"'model\.w': `ordered` values must be distinct"),
    ({"model.w": "choice(1, 2)"}, ("data.bs=choice(1,",), r"sweep parameter 'data\.bs'"),
    ({"model.w": "choice(1, 2)"}, ("~model.w",), r"'~model\.w': a deletion"),
])
def test_grammar_errors_name_the_key(params, arguments, message):
    with pytest.raises(SpaceError, match=message):
        parse_params(params, arguments)


def test_nothing_to_search_says_what_to_give():
    with pytest.raises(SpaceError, match="nothing to search: give hydra.sweeper.params"):
        parse_params(None, ["trainer.max_epochs=1"])


# ----------------------------------------------------------------- arch -> overrides
@pytest.mark.parametrize("value", [
    0, -3, 0.1, 1e-05, 0.30000000000000004, 1e20, float("inf"), True, False, None, "relu",
    "a b", "it's", "back\\slash", "${x}", "3", "true", "null", "a,b", "choice(1,2)",
    [1, "x", [2.5, None]], {"k": 1, "j": ["a"]},
])
def test_formatted_values_parse_back_to_themselves(value):
    parsed = OverridesParser.create().parse_overrides([f"key={format_value(value)}"])[0]
    assert not parsed.is_sweep_override()
    back = parsed.value()
    assert back == value and type(back) is type(value)


def test_an_object_that_is_not_data_cannot_be_an_override():
    with pytest.raises(SpaceError, match="cannot be written as a Hydra override"):
        format_value(object())


# ----------------------------------------------------------------- the plugin and its config
def test_hydra_discovers_the_sweeper_plugin():
    names = [f"{c.__module__}.{c.__name__}" for c in Plugins.instance().discover(Sweeper)]
    assert SWEEPER_TARGET in names


def test_the_default_optimizer_is_lightning_nas_default():
    assert LightningNASSweeperConf().optimizer == DEFAULT_OPTIMIZER


def test_the_example_config_composes_with_the_sweeper_and_its_space():
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=["hparams_search=nas"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_ == SWEEPER_TARGET and cfg.optimized_metric == "val/acc_best"
    assert (sweeper.optimizer, sweeper.budget, sweeper.direction) == (
        "SurrogateEvolution", 20, "maximize")
    params = OmegaConf.to_container(sweeper.params)
    space = parse_params(params).space.params
    assert space == {"model.optimizer.lr": Float(0.0001, 0.1),
                     "data.batch_size": Ordered([32, 64, 128, 256]),
                     "model.net.lin1_size": Ordered([64, 128, 256]),
                     "model.net.lin2_size": Int(16, 512, log=True),
                     "model.net.lin3_size": Ordered([32, 64, 128, 256])}
    # the searched keys exist in the composed config: model and data nodes stay plain
    for key in space:
        assert OmegaConf.select(cfg, key) is not None, key


def test_unknown_sweeper_settings_and_directions_are_named():
    with pytest.raises(ConfigError, match="unknown hydra.sweeper setting 'budgt'; did you "
                                          "mean 'budget'"):
        HydraSweep(budgt=3)
    sweep = HydraSweep(direction="maximise", params={"x": "choice(1, 2)"})
    sweep.config = OmegaConf.create({"hydra": {"sweep": {"dir": "unused"}}})
    with pytest.raises(ConfigError, match="direction can be maximize, minimize, max, min; "
                                          "got 'maximise'"):
        search_settings(sweep.settings, sweep.config)
    # a mapping too (was: TypeError: unhashable type: 'dict')
    for key, bad in (("direction", {"max": 1}), ("objectives", {"acc": {"x": 1}})):
        sweep = HydraSweep(params={"x": "choice(1, 2)"}, **{key: bad})
        sweep.config = OmegaConf.create({"hydra": {"sweep": {"dir": "unused"}}})
        named = "direction" if key == "direction" else "objectives.acc"
        with pytest.raises(ConfigError, match=rf"hydra.sweeper.{named} can be maximize, "
                                              rf"minimize, max, min; got \{{'"):
            search_settings(sweep.settings, sweep.config)
    # a setting's error names it as the sweep's user writes it (was: `budget` must be ...)
    for key, bad in (("budget", 0), ("max_failures", -1)):
        sweep = HydraSweep(direction="maximize", params={"x": "choice(1, 2)"}, **{key: bad})
        sweep.config = OmegaConf.create({"hydra": {"sweep": {"dir": "unused"}}})
        with pytest.raises(ConfigError, match=rf"`hydra.sweeper.{key}` must be"):
            search_settings(sweep.settings, sweep.config)


def test_every_optuna_sweeper_key_left_in_a_switched_file_is_named_at_once():
    # was: search_space and custom_search_space (keys of the Optuna sweeper 1.2) were
    # "unknown hydra.sweeper setting 'search_space'; valid keys: ...", naming none of ours,
    # and only after the other Optuna keys had been removed
    with pytest.raises(ConfigError) as info:
        HydraSweep(n_trials=3, search_space={"lr": {"type": "float", "low": 0.1, "high": 1}},
                   custom_search_space="src.space.configure")
    text = str(info.value)
    assert "'n_trials'; did you mean 'budget' (the Optuna sweeper's n_trials)?" in text
    assert "'search_space'; did you mean 'params' (the Optuna sweeper's search_space)?" in text
    assert ("'custom_search_space'; did you mean 'params', 'constraints' (the Optuna "
            "sweeper's custom_search_space)?") in text


# ----------------------------------------------------------------- the rerun line, as started
#: a task in a package (``app.train``), run as ``python -m app.train`` or as a console script
APP = """import json, os, pathlib, hydra
from hydra.core.hydra_config import HydraConfig
@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg):
    out = pathlib.Path(HydraConfig.get().runtime.output_dir, "ran.json")
    out.write_text(json.dumps({"x": cfg.x, "cwd": os.getcwd()}))
    return float(cfg.x)
if __name__ == "__main__":
    main()
"""
#: what pip writes for ``[project.scripts] train_command = "app.train:main"``
ENTRY_POINT = """#!{python}
import re, sys
from app.train import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit(main())
"""
#: the sweep's process, forked warm by the tests' launcher (``tests.launcher``), started as
#: Python starts it: ``python -m app.train`` (runpy's module run: ``__main__`` the module,
#: its ``__spec__`` set, ``sys.argv[0]`` its file) or the console script's file run as
#: ``__main__`` (``sys.argv[0]`` its path, as the PATH found it); was a fresh ``python`` each
#: (a cold ``import lightning``). The rerun line still starts a fresh one
STARTER = """import runpy, sys
how, target = sys.argv[1:3]
sys.argv = [target, *sys.argv[3:]]
if how == "module":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    runpy.run_path(target, run_name="__main__")
"""


@pytest.mark.slow
@pytest.mark.parametrize("started", ["module", "console script"])
def test_the_rerun_line_starts_the_task_as_the_sweep_was_started(tmp_path, launcher,
                                                               started):
    # was: `python -m app.train -m` gave `python app/train.py ...`, which fails where the
    # task imports from its package, and a console script (the template's train_command)
    # gave `python '<task>.py' ...`, which runs nothing; and the Hydra overrides of the
    # sweep's command line that shape a job (hydra.job.chdir=True) were left out of it
    import json
    import os
    import shlex
    import subprocess
    import sys

    import yaml

    (tmp_path / "app" / "conf").mkdir(parents=True)
    for package in ("app", "app/conf"):  # (a task in a module reads pkg://app.conf)
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "app" / "train.py").write_text(APP)
    (tmp_path / "app" / "conf" / "config.yaml").write_text(yaml.safe_dump({
        "defaults": ["_self_", {"override hydra/sweeper": "lightning_nas"}], "x": 0,
        "hydra": {"job": {"chdir": False}, "run": {"dir": "rerun"},
                  "sweep": {"dir": "sweep", "subdir": "${hydra.job.num}"},
                  "sweeper": {"budget": 2, "direction": "maximize",
                              "params": {"x": "range(0, 9)"}}}}))
    (tmp_path / "bin").mkdir()
    command = tmp_path / "bin" / "train_command"
    command.write_text(ENTRY_POINT.format(python=sys.executable))
    command.chmod(0o755)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "1",
           "PYTHONPATH": pythonpath(tmp_path, root),
           "PATH": os.pathsep.join([str(tmp_path / "bin"), os.environ.get("PATH", "")])}
    (tmp_path / "starter.py").write_text(STARTER)
    how = ["module", "app.train"] if started == "module" else ["script", str(command)]
    log, err = tmp_path / "sweep.log", tmp_path / "sweep.err"
    code = launcher.run([*how, "-m", "hydra.job.chdir=True", "hydra.sweeper.seed=3"], log,
                        tmp_path / "starter.py", 600, tmp_path, err,
                        {key: env[key] for key in ("OMP_NUM_THREADS", "HYDRA_FULL_ERROR",
                                                   "PYTHONPATH", "PATH")})
    assert code == 0, log.read_text()[-2000:] + err.read_text()[-2000:]
    results = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    words = shlex.split(results["rerun"])
    assert words[:3] == (["python", "-m", "app.train"] if started == "module"
                         else ["train_command", "--config-name", "config"])
    # what shapes the job, not what shapes the sweep (hydra.sweeper.*, hydra.sweep.*)
    assert "hydra.job.chdir=True" in words and not any("sweep" in w for w in words)
    again = subprocess.run(["bash", "-c", results["rerun"]], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    ran = json.loads((tmp_path / "rerun" / "ran.json").read_text())
    assert ran == {"x": results["best_params"]["x"], "cwd": str(tmp_path / "rerun")}


# ----------------------------------------------------------------- int(...) truncated ends
@pytest.mark.parametrize(("text", "said"), [
    ("int(interval(0.5, 0.9))",
     "int(interval(0.5, 0.9)) is refused as Hydra's int(...) truncates its ends as written "
     "(0.5 to 0 and 0.9 to 0): `int` needs low < high, got [0, 0]; the ends as written hold "
     "no integer: write interval(0.5, 0.9) to search floats, or whole ends a < b"),
    ("int(interval(-0.5, 0.5))",
     "int(interval(-0.5, 0.5)) is refused as Hydra's int(...) truncates its ends as written "
     "(-0.5 to 0 and 0.5 to 0): `int` needs low < high, got [0, 0]; the ends as written "
     "hold one integer: give 0 as a plain value"),
    ("tag(log, int(interval(1.5, 1.7)))",
     "tag(log, int(interval(1.5, 1.7))) is refused as Hydra's int(...) truncates its ends as "
     "written (1.5 to 1 and 1.7 to 1): `int` needs low < high, got [1, 1]; the ends as "
     "written hold no integer: write tag(log, interval(1.5, 1.7)) to search floats, or "
     "whole ends a < b"),
    ("tag(log, int(interval(0.5, 3)))",
     "tag(log, int(interval(0.5, 3))) is refused as Hydra's int(...) truncates its ends as "
     "written (0.5 to 0): `int` with log: true needs low > 0, got 0; write "
     "tag(log, int(interval(1, 3))) for 1..3"),
])
def test_an_int_interval_refused_for_its_truncated_ends_names_them(text, said):
    # was: "sweep parameter 'x': `int` needs low < high, got [0, 0]", not saying that
    # Hydra's int(...) made 0.5 and 0.9 both 0
    with pytest.raises(SpaceError) as refused:
        parse_params({"x": text})
    assert str(refused.value) == f"sweep parameter 'x': {said}"


@pytest.mark.parametrize(("text", "said"), [
    ("int(interval(8, 8))", "`int` needs low < high, got [8, 8]; for the one value 8, give 8 "
                            "as a plain value"),
    ("tag(log, int(interval(8, 8)))", "`int` needs low < high, got [8, 8]; for the one value "
                                      "8, give 8 as a plain value"),
    ("interval(0.5, 0.5)", "`float` needs low < high, got [0.5, 0.5]; for the one value 0.5, "
                           "give 0.5 as a plain value"),
])
def test_an_interval_of_equal_ends_says_to_give_the_one_value(text, said):
    # was: "sweep parameter 'x': `int` needs low < high, got [8, 8]", not saying that one
    # value is a plain value in Hydra's grammar
    with pytest.raises(SpaceError) as refused:
        parse_params({"x": text})
    assert str(refused.value) == f"sweep parameter 'x': {said}"
    plain = said.rsplit("give ", 1)[1].split(" ")[0]  # what it says to give is one value
    assert parse_params({"x": plain}).space.params["x"].value == float(plain)


def test_an_int_interval_refused_as_written_keeps_its_refusal():
    with pytest.raises(SpaceError) as refused:  # no end truncated: nothing more to say
        parse_params({"x": "int(interval(3, 1))"})
    assert str(refused.value) == ("sweep parameter 'x': `int` needs low < high, got [3, 1]: "
                                  "low=3 (the first bound) is above high=1 (the second); "
                                  "give the lower bound first")


@pytest.mark.parametrize(("key", "bad", "named"), [
    ("direction", "maximise", "direction"), ("direction", "MAX", "direction"),
    ("objectives", {"acc": "maximum"}, "objectives.acc"),
])
def test_a_bad_direction_lists_the_valid_ones_with_did_you_mean(key, bad, named):
    # was: "hydra.sweeper.direction can be maximize, minimize, max, min; got 'maximise'", no
    # did-you-mean where Search(mode=...) and the one-shot side (errors.mode_hint) say one
    sweep = HydraSweep(params={"x": "choice(1, 2)"}, **{key: bad})
    sweep.config = OmegaConf.create({"hydra": {"sweep": {"dir": "unused"}}})
    with pytest.raises(ConfigError) as err:
        search_settings(sweep.settings, sweep.config)
    got = bad if key == "direction" else bad["acc"]
    assert str(err.value) == (f"hydra.sweeper.{named} can be maximize, minimize, max, min; got "
                              f"{got!r}: did you mean 'max'?")


@pytest.mark.parametrize(("key", "bad", "said"), [
    ("budget", 0, "`hydra.sweeper.budget` must be a positive integer or null, got 0"),
    ("seed", -1, "`hydra.sweeper.seed` must be an integer from 0 to 4294967295 (2**32 - 1) "
                 "or null, got -1"),
])
def test_a_sweep_setting_that_may_be_null_says_null_not_pythons_none(key, bad, said):
    # a Search(...) from Python says "None (null in YAML)"; a sweep's config writes null
    sweep = HydraSweep(direction="maximize", params={"x": "choice(1, 2)"}, **{key: bad})
    sweep.config = OmegaConf.create({"hydra": {"sweep": {"dir": "unused"}}})
    with pytest.raises(ConfigError) as err:
        search_settings(sweep.settings, sweep.config)
    assert str(err.value) == said


def test_a_cost_name_may_be_the_first_objective_a_task_returns():
    # a sweep counts nothing (max_params is refused): `params` is a score its task returns
    # (was: "'params' is counted, not logged: list a logged metric first")
    sweep = HydraSweep(objectives={"params": "minimize", "acc": "maximize"},
                       params={"x": "choice(1, 2)"})
    sweep.config = OmegaConf.create({"hydra": {"sweep": {"dir": "unused"}}})
    goal = search_settings(sweep.settings, sweep.config).goal
    assert (goal.monitor, goal.mode, goal.objectives.names) == ("params", "min",
                                                               ["params", "acc"])

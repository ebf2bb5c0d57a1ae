"""The config options a Hydra sweep composes (``helpers_hydra_sweep.multirun``,
in-process): searched options of config groups that do not compose or do not exist, keys
and fixed overrides a node's target does not take, and an option tried beside the other
keys' values before it is refused. Trainers that start several processes:
``test_hydra_sweeper_processes.py``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from lightning_nas.errors import ConfigError, SpaceError  # noqa: E402
from lightning_nas.integrations.hydra_grammar import parse_params  # noqa: E402
from lightning_nas.results import TrialStatus  # noqa: E402
from tests.helpers_hydra_sweep import TRAIN, example_args, multirun, run_forked  # noqa: E402


def test_a_searched_option_that_does_not_compose_is_refused_before_any_job(tmp_path):
    # was: left out when the options were composed before the first job, then every job
    # that picked it FAILED mid-sweep ("In 'model/broken': Could not find 'nosuch/x'")
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "broken.yaml").write_text("defaults:\n  - /nosuch: x\n")
    (tmp_path / "conf" / "model" / "c.yaml").write_text("name: c\n")  # no depth
    ran = []
    for params, overrides, option, error in (
            ({"model": "choice(a, b, broken)"}, (), "broken",
             r"In 'model/broken': Could not find 'nosuch/x'"),
            ({"model": "choice(c, a)", "x": "range(0, 9)"}, ("model.depth=2",), "c",
             r"Could not override 'model.depth'")):
        assert parse_params(params, overrides).space.sample(seed=0)["model"] != option
        with pytest.raises(ConfigError, match=rf"sweep parameter 'model': model={option} does "
                                              rf"not compose with the config, so every job "
                                              rf"that picked it would fail: {error}.* \(the "
                                              rf"job's overrides: .*\"model='{option}'\".*\]\); "
                                              rf"fix it, or leave it out of the search") as info:
            multirun(tmp_path, lambda cfg: ran.append(1) or 1.0, {"budget": 3, "params": params},
                     overrides)
        assert "\n" not in str(info.value) and "Config search path" not in str(info.value)
    assert not ran and not (tmp_path / "run" / "search.db").exists()
    # the options that compose are searched
    trials = multirun(tmp_path, lambda cfg: ran.append(cfg.model.name) or 1.0,
                      {"budget": 2, "params": {"model": "choice(a, b)"}})
    assert sorted(t.arch["model"] for t in trials) == sorted(ran) == ["a", "b"]


def test_every_searched_option_of_a_config_group_must_exist_before_any_job(tmp_path):
    # was: checked for the first sample only; a misspelt option ran as a FAILED job
    ran = []
    params = {"model": "choice(a, b, bb)"}
    assert parse_params(params).space.sample(seed=0)["model"] != "bb"
    with pytest.raises(ConfigError, match=r"sweep parameter 'model': 'bb' is not an option of "
                                          r"config group model; did you mean 'b'\? its "
                                          r"options: a, b"):
        multirun(tmp_path, lambda cfg: ran.append(1) or 1.0, {"budget": 3, "params": params})
    assert not ran and not (tmp_path / "run" / "search.db").exists()


def test_a_group_searched_with_a_package_or_a_plus_is_checked_as_a_plain_one(tmp_path):
    # was: `optim@model.optimizer=choice(...)` and `+extra=choice(...)` skipped every check
    # of an option: a misspelt one FAILED each job that drew it, an edited option file was
    # resumed without a word, a `+trainer.*` value starting several processes ran
    ran = []
    for folder in ("extra", "model"):
        (tmp_path / "conf" / folder).mkdir(parents=True)
    (tmp_path / "conf" / "extra" / "one.yaml").write_text("e: 1\n")
    (tmp_path / "conf" / "model" / "c.yaml").write_text("name: c\ndepth: 1\n")
    defaults = [{"model": "a"}, {"model@sub": "a"}, {"override hydra/sweeper": "lightning_nas"},
                "_self_"]
    for key, bad, good, group in (("model@sub", "bb", "a", "model"),
                                  ("+extra", "onee", "one", "extra")):
        params = {"x": "range(0, 9)", key: f"choice({bad}, {good})"}
        assert parse_params(params).space.sample(seed=0)[key] == good  # the first job's
        with pytest.raises(ConfigError, match=rf"sweep parameter '{re.escape(key)}': '{bad}' "
                                              rf"is not an option of config group {group}; "
                                              rf"did you mean"):
            multirun(tmp_path, lambda cfg: ran.append(1) or 1.0,
                     {"budget": 3, "params": params}, defaults=defaults)
    params = {"x": "choice(1, 2)", "+trainer.devices": "choice(2, auto)"}
    assert parse_params(params).space.sample(seed=0)["+trainer.devices"] == "auto"
    with pytest.raises(ConfigError, match=r"trainer.devices=2.*starts several processes"):
        multirun(tmp_path, lambda cfg: ran.append(1) or 1.0, {"budget": 1, "params": params},
                 trainer={"accelerator": "cpu"})
    assert not ran and not (tmp_path / "run" / "search.db").exists()

    params = {"x": "range(0, 9)", "model@sub": "choice(a, c)"}
    multirun(tmp_path, lambda cfg: float(cfg.x), {"budget": 1, "params": params},
             defaults=defaults)
    (tmp_path / "conf" / "model" / "c.yaml").write_text("name: c\ndepth: 2\n")
    with pytest.raises(ConfigError, match=r"jobs ran with other settings: model@sub=c: "
                                          r"sub.depth: 1, now 2\. Resume with"):
        multirun(tmp_path, lambda cfg: float(cfg.x), {"budget": 2, "params": params},
                 defaults=defaults)


def test_a_config_groups_options_on_the_hydra_searchpath_are_searched(tmp_path):
    # was: refused before the first job, "'e' is not an option of config group model; its
    # options: a, b", though Hydra composes model=e from a folder of hydra.searchpath (the
    # config's or the command line's; Hydra's basic sweeper ran it): the sweeper asked
    # Hydra for a group's options without the primary config that names the folders
    ext = tmp_path / "ext"
    for group, option, text in (("model", "e", "name: e\ndepth: 3\n"),
                                ("extra", "one", "v: 1\n"), ("extra", "two", "v: 2\n")):
        (ext / group).mkdir(parents=True, exist_ok=True)
        (ext / group / f"{option}.yaml").write_text(text)
    params = {"model": "choice(a, e)", "+extra": "choice(one, two)"}
    for n, (overrides, settings) in enumerate((((f"hydra.searchpath=[file://{ext}]",), {}),
                                               ((), {"searchpath": [f"file://{ext}"]}))):
        ran: list[tuple[str, int]] = []
        trials = multirun(tmp_path, lambda cfg, ran=ran: ran.append(
                              (cfg.model.name, cfg.extra.v)) or 1.0, {"budget": 4, "params": params,
                                   "run_dir": str(tmp_path / f"run{n}")},
                          overrides, hydra=settings)
        assert sorted(ran) == [("a", 1), ("a", 2), ("e", 1), ("e", 2)], overrides
        assert all(t.status is TrialStatus.COMPLETED for t in trials)
        # a group found there alone is checked as a group: a misspelt option named
        with pytest.raises(ConfigError, match=r"sweep parameter '\+extra': 'twoo' is not an "
                                              r"option of config group extra; did you mean "
                                              r"'two'\? its options: one, two"):
            multirun(tmp_path, lambda cfg: 1.0, {"budget": 2, "params": {
                "+extra": "choice(one, twoo)"}, "run_dir": str(tmp_path / "bad")},
                overrides, hydra=settings)


def test_a_misspelt_key_fails_before_anything_runs(tmp_path):
    # was: Hydra's "Could not override 'net.widht'. To append to your config use
    # +net.widht=4" in a long chained traceback; following it failed every job in the model
    # (then: a key of a plain node named the keys there, with no word of adding it with +)
    net = {"_target_": "tests.helpers.TinyNet", "width": 8, "depth": 1}
    for params, error in (
            ({"nosuch": "choice(1, 2)"}, "'nosuch': the config has no key 'nosuch'; accepted: "
                                         "model, net, x; search +nosuch to add it as a new "
                                         "key"),
            ({"net.widht": "choice(4, 8)"}, "'net.widht': net has no key 'widht'; did you mean "
                                            "'width'? accepted: depth, width, activation, lr, "),
            ({"model": "choice(a, b)", "model.dept": "choice(1, 2)"},
             "'model.dept': model has no key 'dept'; did you mean 'depth'? accepted: name, "
             "depth; search +model.dept to add it as a new key"),
            ({"nett.width": "choice(4, 8)"}, "'nett.width': the config has no key 'nett'; did "
                                             "you mean 'net'?"),
            ({"net.lr": "choice(0.1, 0.2)"}, "'net.lr': net does not set 'lr' (an argument of "
                                             "tests.helpers.TinyNet); search +net.lr to add it"),
            # Hydra's own node (was: "the config has no key 'hydra'; accepted: model, net, x")
            ({"hydra.job.env_set.TAG": "choice(a, b)"},
             "'hydra.job.env_set.TAG': hydra.job.env_set has no key 'TAG'; accepted: none; "
             "search +hydra.job.env_set.TAG to add it as a new key"),
            ({"hydra.job.chdr": "choice(true, false)"},
             "'hydra.job.chdr': hydra.job has no key 'chdr'; did you mean 'chdir'? accepted: ")):
        with pytest.raises(ConfigError, match=f"^{re.escape(f'sweep parameter {error}')}") as info:
            multirun(tmp_path, lambda cfg: 1.0, {"budget": 1, "params": params}, net=net)
        assert "\n" not in str(info.value) and info.value.__cause__ is None
        assert not (tmp_path / "run" / "search.db").exists()
    multirun(tmp_path / "plus", lambda cfg: float(cfg.net.lr),  # as the message says
             {"budget": 1, "params": {"+net.lr": "choice(0.1, 0.2)"}}, net=net)
    # a misspelt range key (was: a fixed mapping; the jobs launched and failed on it)
    with pytest.raises(SpaceError, match=r"params key 'x': .*not lowr \(did you mean 'lower'"):
        multirun(tmp_path, lambda cfg: 1.0, {"params": {"x": {"lowr": 1, "upper": 9},
                                                            "model": "choice(a, b)"}})
    assert not (tmp_path / "run" / "search.db").exists()


def test_a_key_its_nodes_target_does_not_take_is_refused_before_any_job(tmp_path):
    # was: an added key (+/++), or one the file sets, that the node's _target_ does not
    # take composed, and every job failed building the node (Hydra's InstantiationException)
    # until the sweep stopped after two of them
    from hydra.utils import instantiate

    ran = []

    def task(cfg: DictConfig) -> float:
        ran.append(1)
        for node in ("net", "opt", "free", "outer"):
            instantiate(cfg[node])
        return float(cfg.x)

    nodes = {"net": {"_target_": "tests.helpers.TinyNet", "width": 8, "size": 2},
             "opt": {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1},
             "free": {"_target_": "builtins.dict"},  # **kwargs: any key
             "outer": {"_target_": "builtins.dict", "_recursive_": False,  # built raw
                       "inner": {"_target_": "tests.helpers.TinyNet"}}}
    takes = ("it takes ['width', 'activation', 'lr', 'depth', 'fail_width', 'nan_width', "
             "'die_width', 'sleep']")  # whatever x is: no other job composed, none named
    for params, error in (
            ({"+net.widht": "choice(4, 8)"}, "'+net.widht': 'widht' is not an argument of "
                                             "tests.helpers.TinyNet (the _target_ of net), so "
                                             "every job would fail to build net; did you mean "
                                             f"'width'? {takes}"),
            ({"++net.foo": "choice(1, 2)"}, "'++net.foo': 'foo' is not an argument of "
                                            "tests.helpers.TinyNet (the _target_ of net)"),
            ({"net.size": "choice(1, 2)"}, "'net.size': 'size' is not an argument of "
                                           "tests.helpers.TinyNet"),  # set in the file
            ({"+opt.momentm": "choice(0.5, 0.9)"}, "'+opt.momentm': 'momentm' is not an "
                                                   "argument of torch.optim.SGD (the _target_ "
                                                   "of opt), so every job would fail to build "
                                                   "opt; did you mean 'momentum'? it takes "
                                                   "['params', 'lr', 'momentum', ")):
        with pytest.raises(ConfigError, match=f"^{re.escape(f'sweep parameter {error}')}") \
                as info:
            multirun(tmp_path, task, {"budget": 2, "params": {"x": "choice(1, 2)", **params}},
                     **nodes)
        assert "also with" not in str(info.value)
        assert not ran and not (tmp_path / "run" / "search.db").exists()
    # a config group's option whose target does not take the key: refused by name
    (tmp_path / "conf" / "kind").mkdir(parents=True)
    (tmp_path / "conf" / "kind" / "net.yaml").write_text("_target_: tests.helpers.TinyNet\n")
    (tmp_path / "conf" / "kind" / "free.yaml").write_text("_target_: builtins.dict\n")
    with pytest.raises(ConfigError, match=r"^sweep parameter '\+kind.foo': 'foo' is not an "
                                          r"argument of tests.helpers.TinyNet \(the _target_ "
                                          r"of kind\).*\. The same held with every other "
                                          r"value of the other searched key \+kind.foo \(1 "
                                          r"tried\)\.$"):
        multirun(tmp_path, task, {"budget": 2, "params": {"kind": "choice(free, net)",
                                                          "+kind.foo": "choice(1, 2)"}},
                 defaults=[{"model": "a"}, {"kind": "free"}, "_self_",
                           {"override hydra/sweeper": "lightning_nas"}], **nodes)
    assert not ran and not (tmp_path / "run" / "search.db").exists()
    del nodes["net"]["size"]
    with pytest.warns(UserWarning, match=r"sweep parameter '\+gone.k' not checked: the "
                                         r"_target_ of gone, nosuch_module.Thing, does not "
                                         r"import here \(ImportError: "):
        trials = multirun(tmp_path, task, {"budget": 2, "params": {  # what the targets take
            "+net.depth": "choice(1, 2)", "+opt.momentum": "choice(0.5, 0.9)",
            "+free.anything": "choice(1, 2)", "+outer.inner.nosuch": "choice(1, 2)",
            "+gone.k": "choice(1, 2)"}}, gone={"_target_": "nosuch_module.Thing"}, **nodes)
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2 and len(ran) == 2


def test_a_fixed_override_its_nodes_target_does_not_take_is_refused_before_any_job(tmp_path):
    # was: a command-line override beside the sweep (+net.foo=3) under a _target_ node whose
    # target does not take it was not checked (only searched keys were): every job failed
    # building the node until two failures stopped the sweep; a file's key alike, unsaid
    from hydra.utils import instantiate

    ran = []

    def task(cfg: DictConfig) -> float:
        ran.append(1)
        for node in ("net", "free", "outer"):
            instantiate(cfg[node])
        return float(cfg.x)

    nodes = {"net": {"_target_": "tests.helpers.TinyNet", "width": 8, "size": 2},
             "free": {"_target_": "builtins.dict"},  # **kwargs: any key
             "outer": {"_target_": "builtins.dict", "_recursive_": False,  # built raw
                       "inner": {"_target_": "tests.helpers.TinyNet", "bad": 1}},
             "data_only": {"_target_": "tests.helpers.TinyNet", "nosuch": 1}}  # never built
    for override, error in (("+net.widht=4", "'widht' is not an argument of tests.helpers."
                                             "TinyNet (the _target_ of net), so every job "
                                             "would fail to build net; did you mean 'width'?"),
                            ("net.size=3", "'size' is not an argument of tests.helpers."
                                           "TinyNet"),  # the file's key, set on the line
                            ("++data_only.nosuch=2", "'nosuch' is not an argument of tests."
                                                     "helpers.TinyNet (the _target_ of "
                                                     "data_only)")):
        said = f"command-line override {override!r}: {error}"
        with pytest.raises(ConfigError, match=f"^{re.escape(said)}"):
            multirun(tmp_path, task, {"budget": 2, "params": {"x": "choice(1, 2)"}},
                     (override,), **nodes)
        assert not ran and not (tmp_path / "run" / "search.db").exists()
    # the file's own keys are warned of, not refused: a task function may not build a node
    # (data_only); what the targets take, and a node under _recursive_: false, pass
    del nodes["net"]["size"]
    with pytest.warns(UserWarning, match=r"^config key 'data_only.nosuch': 'nosuch' is not an "
                                         r"argument of tests.helpers.TinyNet \(the _target_ of "
                                         r"data_only\), so every job would fail to build "
                                         r"data_only; .*\(not refused: the task function may "
                                         r"leave data_only unbuilt\)$") as said:
        trials = multirun(tmp_path, task, {"budget": 2, "params": {"x": "choice(1, 2)"}},
                          ("+net.depth=2", "+free.anything=1", "+outer.inner.nosuch=1",
                           "hydra.job.chdir=False"), **nodes)
    # that key alone (not Hydra's own nodes, nor those under outer)
    assert len([w for w in said if "config key" in str(w.message)]) == 1
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2 and len(ran) == 2


@pytest.mark.slow
def test_the_examples_fixed_override_its_target_does_not_take_is_refused(tmp_path, launcher):
    # was: python train.py -m hparams_search=nas +model.net.foo=3 launched every job, each
    # failing to build model.net (DenseNet takes no foo), until two failures stopped it
    run = tmp_path / "sweep"
    done = run_forked(launcher, tmp_path, TRAIN, example_args(run, "+model.net.foo=3")[2:])
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert ("ConfigError: command-line override '+model.net.foo=3': 'foo' is not an argument "
            "of examples.hydra.src.models.components.dense_net.DenseNet (the _target_ of "
            "model.net), so every job would fail to build model.net; it takes ['input_size', "
            "'lin1_size', 'lin2_size', 'lin3_size', 'output_size']") in done.stderr
    assert not run.exists()


@pytest.mark.slow
def test_an_option_that_works_with_other_values_of_the_other_keys_is_left_to_each_job(
        tmp_path):
    # was: each option was composed and checked beside the first sample's values of the
    # other keys only, so one that failed there was refused for the whole sweep, although
    # its jobs with other values work (and each job is composed and checked before launch)
    ran = []
    (tmp_path / "devices" / "conf" / "experiment").mkdir(parents=True)
    for name, devices in (("one", 1), ("many", "${n}")):  # many: only n=1 runs
        (tmp_path / "devices" / "conf" / "experiment" / f"{name}.yaml").write_text(
            f"# @package _global_\ntrainer:\n  devices: {devices}\n")
    defaults = [{"model": "a"}, "_self_", {"experiment": "one"},
                {"override hydra/sweeper": "lightning_nas"}]
    params = {"experiment": "choice(one, many)", "n": "choice(1, 2)"}
    assert parse_params(params).space.sample(seed=0) == {"experiment": "many", "n": 2}

    def task(cfg: DictConfig) -> float:
        ran.append((HydraConfig.get().runtime.choices.experiment, cfg.n))
        return float(cfg.n)

    trials = multirun(tmp_path / "devices", task, {"budget": 4, "params": params}, n=1,
                      defaults=defaults, trainer={"accelerator": "cpu", "devices": 1})
    assert len(trials) == 4 and ("many", 1) in ran and ("many", 2) not in ran
    [refused] = [t for t in trials if t.status is TrialStatus.FAILED]
    assert refused.arch == {"experiment": "many", "n": 2}
    assert "trainer.devices=2 (the jobs of experiment='many' n=2) starts" in refused.error
    # experiment=plain composes only beside model=a: c has no depth, which deep sets
    conf = tmp_path / "compose" / "conf"
    for folder in ("experiment", "model"):
        (conf / folder).mkdir(parents=True)
    (conf / "model" / "c.yaml").write_text("name: c\n")
    (conf / "experiment" / "plain.yaml").write_text("# @package _global_\nlr: 1\n")
    (conf / "experiment" / "deep.yaml").write_text("# @package _global_\nmodel:\n  depth: 5\n")
    defaults = [{"model": "a"}, "_self_", {"experiment": "plain"},
                {"override hydra/sweeper": "lightning_nas"}]
    params = {"experiment": "choice(plain, deep)", "model": "choice(a, c)",
              "model.depth": "choice(1, 2)"}
    assert parse_params(params).space.sample(seed=0)["model"] == "c"
    trials = multirun(tmp_path / "compose", lambda cfg: float(cfg.model.depth),
                      {"budget": 8, "params": params}, defaults=defaults)
    assert len(trials) == 8
    for trial in trials:  # every combination: those of plain and c fail, unlaunched
        bad = trial.arch["experiment"] == "plain" and trial.arch["model"] == "c"
        assert (trial.status is TrialStatus.FAILED) == bad
        assert not bad or "Could not override 'model.depth'" in trial.error
    # an option that composes with no value of the other keys is refused before any job,
    # naming the values it was composed with (each value of a short range, a long one's ends)
    (tmp_path / "broken" / "conf" / "model").mkdir(parents=True)
    (tmp_path / "broken" / "conf" / "model" / "broken.yaml").write_text(
        "defaults:\n  - /nosuch: x\n")
    ran.clear()
    for x, tried in (("range(0, 9)", "also with every other value of the other searched "
                                     "key x (8 tried)"),
                     ("range(0, 99)", "also with 31 other values of the other searched key "
                                      "x (31 of its 98 other values; not every one: at most "
                                      "32 combinations are tried)")):
        params = {"model": "choice(a, broken)", "x": x}
        with pytest.raises(ConfigError, match=rf"model=broken does not compose with the "
                                              rf"config, so every job that picked it would "
                                              rf"fail: In 'model/broken': Could not find "
                                              rf"'nosuch/x', {re.escape(tried)}.* \(the job's "
                                              rf"overrides: \[\"model='broken'\", 'x=\d+'\]\)"):
            multirun(tmp_path / "broken", lambda cfg: ran.append(1) or 1.0,
                     {"budget": 2, "params": params})
    assert not ran and not (tmp_path / "broken" / "run" / "search.db").exists()


def _experiments(tmp_path: Path) -> list[Any]:
    """Options ``one`` (one device) and ``many`` (``${n}`` devices) of group ``experiment``;
    the config's defaults."""
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    for name, devices in (("one", 1), ("many", "${n}")):
        (tmp_path / "conf" / "experiment" / f"{name}.yaml").write_text(
            f"# @package _global_\ntrainer:\n  devices: {devices}\n")
    return [{"model": "a"}, "_self_", {"experiment": "one"},
            {"override hydra/sweeper": "lightning_nas"}]


def test_an_option_is_composed_beside_other_values_of_every_other_key_before_it_is_refused(
        tmp_path):
    # was: each other combination changed the first other key's values first: a's 98 other
    # values used up the 32 combinations tried, n kept its first value (2), and
    # experiment=many was refused for the whole sweep, though its jobs with n=1 work
    ran = []
    defaults = _experiments(tmp_path)
    params = {"a": "range(0, 99)", "experiment": "choice(one, many)",
              "n": "tag(ordered, choice(2, 1))"}
    assert parse_params(params).space.sample(seed=0) == {"a": 49, "experiment": "many", "n": 2}

    def task(cfg: DictConfig) -> float:
        ran.append((HydraConfig.get().runtime.choices.experiment, cfg.n))
        return float(cfg.a)

    trials = multirun(tmp_path, task, {"budget": 6, "params": params, "optimizer": "RandomSearch"},
                      n=1, a=0, defaults=defaults, trainer={"accelerator": "cpu", "devices": 1})
    assert ("many", 2) not in ran and len(ran) == 6
    assert all("starts several processes" in t.error for t in trials
               if t.status is TrialStatus.FAILED)


def test_a_refused_option_says_which_values_of_the_other_keys_it_was_tried_with(tmp_path):
    # was: "... (its DDP trials run on rank processes of their own), also with the 31 other
    # combinations of the values of the other searched keys x, y, z tried (each key's values
    # in turn, then two keys' at a time, ...; a range's ends; ...)": the advice ran on into
    # it, and the 31 were x's values alone (y and z kept theirs, no two keys changed, x a
    # list of values, not a range's ends)
    (tmp_path / "conf" / "trainer").mkdir(parents=True)
    for name, devices in (("one", "devices: 1"), ("ddp", "devices: 2\nstrategy: ddp")):
        (tmp_path / "conf" / "trainer" / f"{name}.yaml").write_text(
            f"_target_: lightning.pytorch.Trainer\naccelerator: cpu\n{devices}\n")
    defaults = [{"model": "a"}, {"trainer": "one"}, {"override hydra/sweeper": "lightning_nas"},
                "_self_"]
    ran = []
    params = {"trainer": "choice(one, ddp)", "x": "range(0, 99)", "y": "interval(0, 1)",
              "z": "choice(a, b, c)"}
    with pytest.raises(ConfigError) as info:
        multirun(tmp_path, lambda cfg: ran.append(1) or 1.0, {"budget": 2, "params": params},
                 defaults=defaults, y=0.0, z="a")
    assert str(info.value).startswith(
        "trainer.accelerator='cpu', trainer.devices=2, trainer.strategy='ddp' (the jobs of "
        "trainer=ddp) starts several processes per job; ")
    assert str(info.value).endswith(
        "(its DDP trials run on rank processes of their own). The same held with 31 other "
        "combinations of the values of the other searched keys x, y, z (one key changed at a "
        "time: x 27 of its 98 other values, y its range's ends, z its 2 other values; not "
        "every one: at most 32 combinations are tried).")
    assert not ran and not (tmp_path / "run" / "search.db").exists()

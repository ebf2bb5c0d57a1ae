"""A job config's top-level ``search:`` node beside a Hydra sweep (real Hydra multiruns,
in-process through Hydra's own sweep runner): ``lightning-nas search``'s settings there are
refused before the first job, each named with where it goes; a ``search`` of the
project's own reaches the jobs as written."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import OmegaConf  # noqa: E402

from lightning_nas.errors import ConfigError  # noqa: E402
from lightning_nas.results import TrialStatus  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402

SWEEP = {"budget": 2, "params": {"x": "choice(1, 2, 3)"}}


def test_a_search_block_of_lightning_nas_search_is_refused_before_any_job(tmp_path):
    # was: passed to the jobs silently; the sweep ran with its default budget (20) and
    # optimizer, while the user believed budget 2, RandomSearch and ASHA applied
    ran = []
    block = {"budget": 2, "optimizer": "RandomSearch", "mode": "max", "scheduler": "asha",
             "space": {"x": {"choice": [1, 2, 3]}}}  # (the file's keys sorted)
    with pytest.raises(ConfigError) as info:
        multirun(tmp_path, lambda cfg: ran.append(cfg.x) or 1.0, {"params": SWEEP["params"]},
                 search=block)
    text = str(info.value)
    assert text.startswith("the job config's top-level `search:` node holds lightning-nas "
                           "search's settings 'budget', 'mode', 'optimizer', 'scheduler', "
                           "'space', which a Hydra sweep does not read (its settings are "
                           "hydra.sweeper's; the node would only reach the jobs): ")
    assert "move search.budget to hydra.sweeper.budget; " in text
    assert "move search.optimizer to hydra.sweeper.optimizer; " in text
    assert "move search.mode to hydra.sweeper.direction (maximize or minimize); " in text
    assert "search.scheduler is of lightning-nas search, not of a sweep: a sweep stops " in text
    assert "move search.space to hydra.sweeper.params, in Hydra's sweep grammar" in text
    assert not ran and not (tmp_path / "run").exists()


def test_a_search_node_with_other_keys_too_is_warned_of_and_reaches_the_jobs(tmp_path):
    seen = []  # each job: the node it got, and whether the warning was said before it

    def task(cfg):
        seen.append((OmegaConf.to_container(cfg.search),
                     any("top-level `search:` node" in str(w.message) for w in said)))
        return float(cfg.x)

    with pytest.warns(UserWarning, match=r"holds lightning-nas search's setting 'seed', which "
                                         r"a Hydra sweep does not read .*: move search.seed "
                                         r"to hydra.sweeper.seed\. Not refused: the node also "
                                         r"holds key 'beam_width', so it may be the task's "
                                         r"own") as said:
        trials = multirun(tmp_path, task, SWEEP, search={"beam_width": 4, "seed": 7})
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2
    assert seen == [({"beam_width": 4, "seed": 7}, True)] * 2


#: a node of the project's own: a value, other keys, nothing, or a _target_ node the task
#: builds (lightning-nas oneshot's block has no _target_)
OWN_BLOCKS = [
    pytest.param("search", "beam", id="search-string"),
    pytest.param("search", 3, id="search-number"),
    pytest.param("search", {"beam_width": 4, "depth": 2}, id="search-other-keys"),
    pytest.param("search", {}, id="search-empty"),
    pytest.param("search", {"_target_": "src.beam.Search", "budget": 3}, id="search-target"),
    pytest.param("oneshot", "spos", id="oneshot-string"),
    pytest.param("oneshot", {"width": 3}, id="oneshot-other-keys"),
    pytest.param("oneshot", {}, id="oneshot-empty"),
    pytest.param("oneshot", {"_target_": "lightning_nas.oneshot.OneShotNAS",
                             "num_candidates": 5}, id="oneshot-target"),
]


@pytest.mark.parametrize(("block", "value"), OWN_BLOCKS)
def test_a_block_of_the_projects_own_reaches_the_jobs_without_a_word(tmp_path, block, value):
    seen = []
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        trials = multirun(tmp_path, lambda cfg: seen.append(
            OmegaConf.to_container(cfg, resolve=True)[block]) or float(cfg.x),
            SWEEP, **{block: value})
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2
    assert seen == [value] * 2
    assert not [w for w in said if f"`{block}:`" in str(w.message)]


def test_a_search_node_the_sweep_searches_is_the_projects_own(tmp_path):
    # its keys are lightning-nas search's names, but the sweep searches one: the task reads it
    seen = []
    trials = multirun(tmp_path, lambda cfg: seen.append(cfg.search.budget) or 1.0,
                      {"budget": 2, "params": {"search.budget": "choice(1, 2, 3)"}},
                      search={"budget": 1, "seed": 0})
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2
    assert sorted(seen) == sorted({t.arch["search.budget"] for t in trials})


def test_a_search_block_set_on_the_command_line_is_refused_and_one_swept_there_is_not(
        tmp_path):
    # was (the first version of this check): any command-line override under search, a
    # fixed +search.budget=3 too, made the node the project's own and passed it silently
    ran = []
    with pytest.raises(ConfigError, match=r"setting 'budget', .*: move search.budget to "
                                          r"hydra.sweeper.budget$"):
        multirun(tmp_path / "fixed", lambda cfg: ran.append(1) or 1.0, SWEEP,
                 ("+search.budget=3",))
    assert not ran
    trials = multirun(tmp_path / "swept", lambda cfg: ran.append(cfg.search.budget) or 1.0,
                      {"budget": 2}, ("search.budget=1,2",), search={"budget": 1})
    assert sorted(ran) == sorted(t.arch["search.budget"] for t in trials) == [1, 2]


# ----------------------------------------------------------------- a oneshot: block
ONESHOT = {"algorithm": "spos", "num_candidates": 5, "run_dir": "runs/os"}


def test_a_oneshot_block_of_lightning_nas_oneshot_is_refused_before_any_job(tmp_path):
    # was: passed to the jobs silently; the sweep trained 2 plain jobs, no supernet searched
    ran = []
    with pytest.raises(ConfigError) as info:
        multirun(tmp_path, lambda cfg: ran.append(cfg.x) or 1.0, SWEEP, oneshot=ONESHOT)
    text = str(info.value)
    assert text.startswith("the job config's top-level `oneshot:` node holds lightning-nas "
                           "oneshot's settings 'algorithm', 'num_candidates', 'run_dir', "
                           "which a Hydra sweep does not read (the node would only reach the "
                           "jobs): a one-shot search is one training run, not a sweep: ")
    assert ("add lightning_nas.oneshot.OneShotNAS to the trainer's callbacks (callbacks: "
            "{oneshot: {_target_: lightning_nas.oneshot.OneShotNAS, ...}}) and run the task "
            "once, without -m") in text
    assert "oneshot.run_dir is the callback's export_dir" in text
    assert not ran and not (tmp_path / "run").exists()
    # darts and gdas are no callback: the message says what they are, and the fine-tune
    with pytest.raises(ConfigError) as info:
        multirun(tmp_path, lambda cfg: ran.append(cfg.x) or 1.0, SWEEP,
                 oneshot={"algorithm": "gdas", "tau_max": 5.0, "finetune_epochs": 3})
    text = str(info.value)
    assert ("oneshot.algorithm gdas is lightning_nas.oneshot.DifferentiableNAS(model, "
            "algorithm='gdas'), a LightningModule that wraps the model") in text
    assert "oneshot.finetune_epochs is finetune_subnet(callback.subnet, ...)'s" in text
    assert not ran


def test_a_oneshot_node_with_other_keys_too_is_warned_of_and_reaches_the_jobs(tmp_path):
    seen = []
    with pytest.warns(UserWarning, match=r"`oneshot:` node holds lightning-nas oneshot's "
                                         r"setting 'num_candidates', .*\. Not refused: the "
                                         r"node also holds key 'width', so it may be the "
                                         r"task's own"):
        trials = multirun(tmp_path, lambda cfg: seen.append(
            OmegaConf.to_container(cfg.oneshot)) or float(cfg.x), SWEEP,
            oneshot={"num_candidates": 5, "width": 3})
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2
    assert seen == [{"num_candidates": 5, "width": 3}] * 2


def test_a_oneshot_node_the_sweep_searches_is_the_projects_own_but_not_one_set(tmp_path):
    ran = []
    trials = multirun(tmp_path / "params", lambda cfg: ran.append(cfg.oneshot.top_k) or 1.0,
                      {"budget": 2, "params": {"oneshot.top_k": "choice(1, 2, 3)"}},
                      oneshot={"top_k": 1, "arch_lr": 0.1})
    assert sorted(ran) == sorted(t.arch["oneshot.top_k"] for t in trials)
    trials = multirun(tmp_path / "swept", lambda cfg: ran.append(cfg.oneshot.top_k) or 1.0,
                      {"budget": 2}, ("oneshot.top_k=1,2",), oneshot={"top_k": 1})
    assert sorted(t.arch["oneshot.top_k"] for t in trials) == [1, 2]
    ran.clear()
    with pytest.raises(ConfigError, match=r"oneshot's setting 'top_k', "):
        multirun(tmp_path / "fixed", lambda cfg: ran.append(1) or 1.0, SWEEP,
                 ("+oneshot.top_k=3",))
    assert not ran

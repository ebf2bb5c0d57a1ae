"""A Hydra sweep's jobs whose Trainer starts several processes
(``helpers_hydra_sweep.multirun``, in-process): refused before any job, set or by a searched
group option or another choice, and a strategy that spawns its ranks (``ddp_spawn``) swept
(the session's sweep, ``tests.helpers_hydra_spawn``)."""

from __future__ import annotations

import shutil

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from lightning_nas.cli import main as cli  # noqa: E402
from lightning_nas.errors import ConfigError  # noqa: E402
from lightning_nas.integrations.hydra_grammar import parse_params  # noqa: E402
from lightning_nas.results import TrialStatus  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402
from tests.helpers_hydra_spawn import EVEN, SPAWN, spawn_sweep_of  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402

#: the session's ``ddp_spawn`` sweep, shared with ``test_hydra_split_job``
spawn_sweep = pytest.fixture(name="spawn_sweep")(spawn_sweep_of)


def test_a_job_whose_trainer_starts_several_processes_is_refused_before_any_job(tmp_path):
    calls = []

    def task(cfg: DictConfig) -> float:
        calls.append(cfg.x)
        return 1.0

    # the other keys may hold what only a job resolves (lightning-hydra-template's output dir)
    ddp = {"accelerator": "cpu", "devices": 2, "strategy": "ddp",
           "default_root_dir": "${hydra:runtime.output_dir}"}
    with pytest.raises(ConfigError, match=r"trainer.devices=2.*starts several processes per "
                                          r"job.*re-running the command line.*lightning-nas"):
        multirun(tmp_path, task, {"budget": 1, "params": {"x": "choice(1, 2)"}}, trainer=ddp)
    assert not calls and not (tmp_path / "run" / "search.db").exists()
    # a searched device count is checked for each value (was: for the first sample only)
    params = {"x": "choice(1, 2)", "trainer.devices": "choice(2, auto)"}  # auto: 1 CPU
    assert parse_params(params).space.sample(seed=0)["trainer.devices"] == "auto"
    with pytest.raises(ConfigError, match=r"trainer.devices=2.*starts several processes"):
        multirun(tmp_path, task, {"budget": 1, "params": params}, trainer={**ddp, "devices": 1})
    assert not calls and not (tmp_path / "run" / "search.db").exists()
    # one device per job sweeps as usual
    trials = multirun(tmp_path, task, {"budget": 1, "params": {"x": "choice(1, 2)"}},
                      trainer={**ddp, "devices": 1})
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] and len(calls) == 1


@pytest.mark.slow
def test_a_job_whose_strategy_spawns_its_ranks_is_swept(spawn_sweep, tmp_path):
    # the lightning-hydra-template's trainer=ddp_sim: its ranks are child processes that the
    # job's own fit starts, no re-run of the command line (was: refused before the first
    # job, "Lightning starts the other ranks by re-running the command line", while
    # Hydra's basic sweeper runs these jobs). The session's ddp_spawn sweep
    # (tests.helpers_hydra_spawn, shared with test_hydra_split_job; was a sweep of its own):
    # x=EVEN validates on 16 samples, which the 2 ranks divide; the others on 17, which not
    trials = spawn_sweep["resumed"]
    assert [status for _, status in trials] == ["COMPLETED"] * 4, spawn_sweep["errors_resumed"]
    run = shutil.copytree(spawn_sweep["folder"] / "run", tmp_path / "run")  # (export writes)
    with RunStore(run / "search.db") as store:
        folders, uneven = store.get_meta("job_dirs"), store.get_meta("uneven_splits")
    # the odd split's jobs are said once, recorded and noted in best.yaml; the even one's not
    # (was: nothing, as the sweep never sees a job's Trainer)
    odd = [trial_id for trial_id, x in spawn_sweep["x"].items() if x != EVEN]
    [even] = [trial_id for trial_id, x in spawn_sweep["x"].items() if x == EVEN]
    text = ("the validation set holds 17 samples, which the 2 ranks do not divide: "
            "Lightning's DistributedSampler repeats 1 of them (18 scored, the repeats counted "
            "again), so a job's score (what its task returns, synced over the ranks) differs "
            "slightly from a validation on one device; for exact scores, use a validation set "
            "divisible by 2, or trainer.use_distributed_sampler=False with a sampler of your "
            "own, or validate on one device")
    assert spawn_sweep["said_first"] + spawn_sweep["said_resumed"] == [f"trial {odd[0]}: {text}"]
    assert uneven == {text: odd}
    results = yaml.safe_load((run / "optimization_results.yaml").read_text())
    assert results.get("notes") == ([text] if results["best_trial"] in odd else None)
    for trial_id, notes in ((odd[0], [text]), (even, None)):
        assert cli(["export", str(run), "--trial", str(trial_id)]) == 0
        assert yaml.safe_load((run / "best.yaml").read_text()).get("notes") == notes
    assert len(set(folders.values())) == 4
    for trial_id, _ in trials:  # each job's score
        assert spawn_sweep["scores"][trial_id] == spawn_sweep["returned"][folders[str(trial_id)]]
    # both ranks in that job's own folder (the jobs of the template's way: x=4 and EVEN)
    recorded = [trial_id for trial_id, x in spawn_sweep["x"].items() if x in (4, EVEN)]
    assert sorted(spawn_sweep["ranks"]) == sorted(folders[str(i)] for i in recorded)
    for trial_id in recorded:
        ranks = spawn_sweep["ranks"][folders[str(trial_id)]]
        assert [(r["rank"], r["world_size"]) for r in ranks] == [(0, 2), (1, 2)]
        assert {r["hparams"]["width"] for r in ranks} == {spawn_sweep["x"][trial_id]}
    # several nodes need their other processes started from outside: refused as before
    with pytest.raises(ConfigError, match=r"trainer.num_nodes=2.*starts several processes.*"
                                          r"Sweep with trainer.devices=1, or with "
                                          r"trainer.strategy=ddp_spawn on one node"):
        multirun(tmp_path / "nodes", lambda cfg: 1.0, {"budget": 1, "params": {
            "x": "choice(4, 8)"}}, trainer={**SPAWN, "num_nodes": 2})


def test_a_searched_group_option_that_starts_several_processes_is_refused_before_any_job(
        tmp_path):
    # was: checked for `trainer` keys only; an experiment option of `@package _global_`
    # setting devices 2 ran its DDP job, whose rank 1 re-ran the whole sweep (killed)
    ran = []
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    for name, devices in (("one", 1), ("two", 2)):
        (tmp_path / "conf" / "experiment" / f"{name}.yaml").write_text(
            f"# @package _global_\ntrainer:\n  devices: {devices}\n  strategy: ddp\n")
    defaults = [{"model": "a"}, "_self_", {"experiment": None},  # after _self_: it wins
                {"override hydra/sweeper": "lightning_nas"}]
    params = {"x": "choice(1, 2)", "experiment": "choice(two, one)"}
    assert parse_params(params).space.sample(seed=0)["experiment"] == "one"  # the first job's
    with pytest.raises(ConfigError, match=r"trainer.devices=2, trainer.strategy='ddp' \(the "
                                          r"jobs of experiment=two\) starts several processes"):
        multirun(tmp_path, lambda cfg: ran.append(1) or 1.0, {"budget": 2, "params": params},
                 defaults=defaults, trainer={"accelerator": "cpu", "devices": 1})
    assert not ran and not (tmp_path / "run" / "search.db").exists()


def test_a_job_that_another_choice_makes_start_several_processes_is_never_launched(tmp_path):
    # was: each option was composed once, the other keys at the first sample's values
    # (n=1): experiment=many passed, and its job with n=2 (devices 2) was launched, whose
    # rank 1 re-runs the whole sweep; now each job is composed and checked before launch
    ran = []
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    for name, devices in (("one", 1), ("many", "${n}")):
        (tmp_path / "conf" / "experiment" / f"{name}.yaml").write_text(
            f"# @package _global_\ntrainer:\n  devices: {devices}\n")
    defaults = [{"model": "a"}, "_self_", {"experiment": "one"},
                {"override hydra/sweeper": "lightning_nas"}]
    params = {"experiment": "choice(one, many)", "n": "tag(ordered, choice(2, 1))"}
    assert parse_params(params).space.sample(seed=0)["n"] == 1  # the options' composition

    def task(cfg: DictConfig) -> float:
        ran.append((HydraConfig.get().runtime.choices.experiment, cfg.n))
        return float(cfg.n)

    trials = multirun(tmp_path, task, {"budget": 4, "params": params}, n=1,
                      defaults=defaults, trainer={"accelerator": "cpu", "devices": 1})
    assert len(trials) == 4 and ("many", 2) not in ran and len(ran) == 3
    [refused] = [t for t in trials if t.status is TrialStatus.FAILED]
    assert refused.arch == {"experiment": "many", "n": 2}
    assert ("trainer.devices=2 (the jobs of experiment='many' n=2) starts several processes "
            "per job") in refused.error


def test_sync_batchnorm_under_ddp_on_cpu_is_refused_before_any_job(tmp_path):
    # was: swept; each ddp_spawn job failed in DDP's setup ("SyncBatchNorm layers only work
    # with GPU modules"), as a plain search refuses before training (check_sync_batchnorm)
    ran = []
    spawn = {"accelerator": "cpu", "devices": 2, "strategy": "ddp_spawn", "sync_batchnorm": True}
    for trainer, params in ((spawn, {}), ({**spawn, "sync_batchnorm": False},
                                          {"trainer.sync_batchnorm": "choice(false, true)"})):
        with pytest.raises(ConfigError, match=r"trainer.sync_batchnorm=True needs CUDA devices"
                                              r".*trainer.strategy='ddp_spawn'"):
            multirun(tmp_path, lambda cfg: ran.append(1) or 1.0,
                     {"budget": 1, "params": {"x": "choice(1, 2)", **params}}, trainer=trainer)
        assert not ran and not (tmp_path / "run" / "search.db").exists()

"""A Hydra sweep resumed (``helpers_hydra_sweep.multirun``, in-process, and a sweep of its
own process killed with -9): another space, settings, overrides, direction or edited
config file refused in the sweep's words; job folders never reused; the params or sweeps
in another order; a sweep without a seed."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from typing import Any

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from lightning_nas.errors import ConfigError, SearchError  # noqa: E402
from lightning_nas.integrations.hydra_grammar import parse_params  # noqa: E402
from lightning_nas.results import TrialResult, TrialStatus  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402
from tests.helpers_hydra_sweep import multirun, run_forked  # noqa: E402


def test_resuming_with_another_space_is_refused(tmp_path):
    multirun(tmp_path, lambda cfg: float(cfg.x), {"budget": 1, "params": {"x": "choice(1, 2)"}})
    with pytest.raises(ConfigError,
                       match="holds a sweep with a different space.*hydra.sweeper.run_dir"):
        multirun(tmp_path, lambda cfg: float(cfg.x), {"budget": 1, "params": {"x": "choice(1, 3)"}})


def test_resuming_with_other_settings_or_job_overrides_is_refused(tmp_path):
    def sweep(seed: int, epochs: int, budget: int = 1) -> list[TrialResult]:
        return multirun(tmp_path, lambda cfg: float(cfg.x), {
            "budget": budget, "seed": seed, "params": {"x": "range(0, 9)"}},
            (f"epochs={epochs}",), epochs=1)

    sweep(seed=0, epochs=1)
    # each override that differs named alone (was: "the job overrides: ['epochs=1'], now
    # ['epochs=2']", both lists whole)
    with pytest.raises(ConfigError, match=r"jobs ran with other settings: hydra.sweeper.seed: "
                                          r"0, now 5; a job override changed: epochs=1, now "
                                          r"epochs=2\. Resume"):
        sweep(seed=5, epochs=2, budget=2)
    assert len(sweep(seed=0, epochs=1, budget=2)) == 2  # the same setup resumes
    results = yaml.safe_load((tmp_path / "run" / "optimization_results.yaml").read_text())
    assert results["rerun"].endswith(" hydra.mode=RUN") and "epochs=1" in results["rerun"]


def test_a_resume_that_overrides_a_key_the_first_sweep_did_not_names_the_overrides(tmp_path):
    # was: "...: epochs: 1, now 'unset'; the job overrides: [], now ['epochs=2']": the job's
    # record leaves an overridden value out, so the key read as removed, not as now 2
    def sweep(*overrides: str, budget: int = 1) -> list[TrialResult]:
        return multirun(tmp_path, lambda cfg: float(cfg.x), {
            "budget": budget, "seed": 0, "params": {"x": "range(0, 9)"}}, overrides, epochs=1)

    sweep()
    with pytest.raises(ConfigError) as info:
        sweep("epochs=2", budget=2)
    assert "other settings: a job override added: epochs=2. Resume" in str(info.value)
    assert "unset" not in str(info.value)
    # the file's own value spelt out composes the same jobs: resumed (was refused, "a job
    # override added: epochs=1"; test_an_override_that_sets_what_the_files_compose_...)
    assert len(sweep("epochs=1", budget=2)) == 2
    assert len(sweep(budget=3)) == 3  # the same setup resumes


def test_a_resume_compares_the_job_overrides_by_their_values_and_names_each_change(tmp_path):
    # by the values Hydra parses: quoted or not, in another order, the same (was refused:
    # "the job overrides: ['+extra=2', ...], now ["model.name='c'", ...]"); a refusal names
    # what differs alone, each (was: both lists whole, the equal overrides too)
    depths: list[int] = []

    def task(cfg: DictConfig) -> float:
        depths.append(cfg.model.depth)
        return float(cfg.x)

    def sweep(*overrides: str, budget: int = 1) -> list[TrialResult]:
        return multirun(tmp_path, task, {
            "budget": budget, "seed": 0, "params": {"x": "range(0, 9)"}}, overrides, epochs=1)

    sweep("model.name=c", "epochs=1", "+extra=2", "+keep=k", "model.depth=3", "model.depth=2")
    assert depths == [2]  # Hydra applies a key's overrides in their order: the last wins
    assert len(sweep("+keep='k'", "model.depth=3", "+extra=2", "model.name='c'", 'epochs=1',
                     "model.depth=2", budget=2)) == 2
    # '1' is a string, 1 an int: another value; each quoted as the sweep was started (was:
    # as the last accepted resume spelt it, model.name='c')
    with pytest.raises(ConfigError) as info:
        sweep("model.name='d'", "epochs='1'", '+keep="k"', "+other=3", "model.depth=3",
              "model.depth=2", budget=3)
    said = str(info.value)
    assert ("jobs ran with other settings: a job override changed: epochs=1, now epochs='1'; "
            "a job override changed: model.name=c, now model.name='d'; a job override added: "
            "+other=3; a job override removed: +extra=2. Resume") in said, said
    assert "keep" not in said and "depth" not in said, said
    # a key's overrides in another order: another value (was: compared as a set, resumed)
    with pytest.raises(ConfigError, match=r"other settings: a job override changed: "
                                          r"model.depth=3 model.depth=2, now model.depth=2 "
                                          r"model.depth=3\. Resume"):
        sweep("model.name=c", "epochs=1", "+extra=2", "+keep=k", "model.depth=2",
              "model.depth=3", budget=3)
    assert depths == [2, 2]
    # the last of a key's values alone composes the same jobs: resumed (was refused: "a job
    # override changed: model.depth=3 model.depth=2, now model.depth=2")
    assert len(sweep("model.name=c", "epochs=1", "+extra=2", "+keep=k", "model.depth=2",
                     budget=3)) == 3
    assert depths == [2, 2, 2]


def test_a_resume_refused_for_its_settings_leaves_an_older_versions_store_as_it_was(tmp_path):
    # a refused resume writes nothing (was: the store of an older version was migrated,
    # its column added, before the changed seed was refused)
    def sweep(seed: int, budget: int = 1) -> list[TrialResult]:
        return multirun(tmp_path, lambda cfg: float(cfg.x), {
            "budget": budget, "seed": seed, "params": {"x": "range(0, 9)"}})

    sweep(seed=0)
    db = tmp_path / "run" / "search.db"
    with sqlite3.connect(db) as old:  # as a version before the `epochs` column left it
        old.execute("ALTER TABLE trials DROP COLUMN epochs")
    old.close()
    before, mtime = db.read_bytes(), db.stat().st_mtime_ns
    with pytest.raises(ConfigError, match=r"jobs ran with other settings: hydra.sweeper.seed"):
        sweep(seed=5, budget=2)
    assert (db.read_bytes(), db.stat().st_mtime_ns) == (before, mtime)
    assert len(sweep(seed=0, budget=2)) == 2  # the same setup resumes


def test_a_config_file_edited_before_the_resume_is_refused(tmp_path):
    # was: accepted; the jobs after the resume ran another setup into the same leaderboard
    def sweep(budget: int, **config: Any) -> list[TrialResult]:
        return multirun(tmp_path, lambda cfg: float(cfg.x),
                        {"budget": budget, "params": {"x": "range(0, 9)"}}, **config)

    sweep(1, lr=0.1, out="${hydra:runtime.output_dir}")
    with pytest.raises(ConfigError, match=r"jobs ran with other settings: lr: 0.1, now 0.2\. "
                                          r"Resume with the settings it ran with"):
        sweep(2, lr=0.2, out="${hydra:runtime.output_dir}")
    # the searched key's default in the file is no setup: it resumes
    assert len(sweep(2, lr=0.1, out="${hydra:runtime.output_dir}", x=5)) == 2


def test_a_config_file_edited_under_a_mapping_the_command_line_merges_is_refused(tmp_path):
    # `opt={wd: 0}` merges into the file's `opt`, whose other keys still come from the file
    # (was: the whole `opt` left out of the record, so `opt.lr` edited resumed quietly)
    def sweep(budget: int, lr: float) -> list[TrialResult]:
        return multirun(tmp_path, lambda cfg: float(cfg.x), {
            "budget": budget, "seed": 0, "params": {"x": "range(0, 9)"}}, ("opt={wd: 0}",),
            opt={"lr": lr, "wd": 1})

    sweep(1, 0.1)
    with pytest.raises(ConfigError, match=r"other settings: opt\.lr: 0\.1, now 0\.2\. "):
        sweep(2, 0.2)
    assert len(sweep(2, 0.1)) == 2  # the file as it was: resumes


def test_an_edited_config_group_file_is_refused_when_its_group_is_chosen_or_searched(tmp_path):
    # was: accepted; the key of a group chosen on the command line (model=c) or searched was
    # left out whole, so its file's values were never compared and jobs of 1 and 2 epochs
    # shared a leaderboard
    def sweep(folder: str, budget: int, params: dict[str, Any], *overrides: str) -> None:
        option = tmp_path / folder / "conf" / "model" / "c.yaml"
        if not option.exists():
            option.parent.mkdir(parents=True)
            option.write_text("name: c\ndepth: 1\n")
        multirun(tmp_path / folder, lambda cfg: float(cfg.x) + cfg.model.depth,
                 {"budget": budget, "params": {"x": "range(0, 9)", **params}}, overrides)

    def edit(folder: str, depth: int) -> None:
        (tmp_path / folder / "conf" / "model" / "c.yaml").write_text(f"name: c\ndepth: {depth}\n")

    for folder, params, overrides, shown in (
            ("chosen", {}, ("model=c",), "model.depth"),
            ("searched", {"model": "choice(a, c)"}, (), "model=c: model.depth")):
        sweep(folder, 1, params, *overrides)
        edit(folder, 2)
        with pytest.raises(ConfigError, match=rf"jobs ran with other settings: {shown}: 1, "
                                              rf"now 2\. Resume with"):
            sweep(folder, 2, params, *overrides)
        with RunStore(tmp_path / folder / "run" / "search.db") as store:
            assert len(store) == 1
        edit(folder, 1)  # as it was: resumes
        sweep(folder, 2, params, *overrides)
        with RunStore(tmp_path / folder / "run" / "search.db") as store:
            assert store.count(TrialStatus.COMPLETED) == 2


def test_an_edited_nested_option_file_is_refused_on_resume(tmp_path):
    # was: accepted; model/backbone's options were recorded without the model subtree (the
    # path of the searched model), so nothing of their files was compared on a resume
    backbone = tmp_path / "conf" / "model" / "backbone"
    backbone.mkdir(parents=True)
    for option, chosen in (("c", "r1"), ("e", "r2")):
        (backbone.parent / f"{option}.yaml").write_text(
            f"defaults:\n  - backbone: {chosen}\nname: {option}\n")

    def sweep(budget: int, width: int) -> None:
        (backbone / "r1.yaml").write_text("width: 1\n")
        (backbone / "r2.yaml").write_text(f"width: {width}\n")
        multirun(tmp_path, lambda cfg: float(cfg.x) + cfg.model.backbone.width, {
            "budget": budget, "params": {"x": "range(0, 9)", "model": "choice(c, e)",
                                           "model/backbone": "choice(r1, r2)"}},
            defaults=[{"model": "c"}, {"override hydra/sweeper": "lightning_nas"}, "_self_"])

    sweep(1, width=3)
    with pytest.raises(ConfigError, match=r"jobs ran with other settings: model/backbone=r2: "
                                          r"model.backbone.width: 3, now 4\. Resume with"):
        sweep(2, width=4)
    sweep(2, width=3)  # as it was: resumes
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert store.count(TrialStatus.COMPLETED) == 2


def test_a_resumed_sweep_never_reuses_a_job_folder(tmp_path):
    # was: the first job of a resume was numbered by the trial count; a trial re-run after a
    # kill took a new number, so the next resume launched a new trial into an old job folder
    jobs: dict[int, int] = {}  # hydra.job.num (the job's folder) -> x

    def task(cfg: DictConfig) -> float:
        assert HydraConfig.get().job.num not in jobs, "a job folder used twice"
        jobs[HydraConfig.get().job.num] = cfg.x
        return float(cfg.x)

    def sweep(budget: int) -> dict[int, int]:
        trials = multirun(tmp_path, task, {"budget": budget, "params": {"x": "range(0, 9)"}})
        return {t.trial_id: t.arch["x"] for t in trials}

    sweep(2)
    with RunStore(tmp_path / "run" / "search.db") as store:
        store.set_status(2, TrialStatus.RUNNING)  # killed while job 1 trained trial 2
    sweep(2)  # trial 2 runs again, as job 2
    trials = sweep(3)  # trial 3: job 3 (was: job 2 again)
    assert jobs == {0: trials[1], 1: trials[2], 2: trials[2], 3: trials[3]}


def test_a_resumed_sweeps_line_counts_no_paused_jobs(tmp_path, capsys):
    # was: "Resuming RUN: 1 completed, 0 failed, 0 to re-run, 0 paused", and no job of a
    # sweep can pause (it has no scheduler)
    for budget in (1, 2):
        multirun(tmp_path, lambda cfg: float(cfg.x), {"budget": budget,
                                                      "params": {"x": "range(0, 9)"}})
    assert f"Resuming {tmp_path / 'run'}: 1 completed, 0 failed, 0 to re-run\n" in \
        capsys.readouterr().out


def test_a_sweep_stopped_by_its_optimizer_exports_on_resume_too(tmp_path):
    # was: the resume's replay told the optimizer again outside the export: the same error,
    # said with "the best exported", and no optimization_results.yaml written
    from tests.helpers_optimizers import TellFailsOnBigLosses  # noqa: F401 - registers it

    sweeper = {"params": {"x": "range(0, 6)"}, "optimizer": "TellFailsOnBigLosses",
               "budget": 12, "seed": 0}
    results = tmp_path / "run" / "optimization_results.yaml"
    for _ in range(2):  # the sweep, then its resume (failing as it replays the log)
        with pytest.raises(SearchError, match="optimizer 'TellFailsOnBigLosses' failed at its "
                                              "tell"):
            multirun(tmp_path, lambda cfg: float(cfg.x), sweeper, direction="minimize")
        assert yaml.safe_load(results.read_text())["best_value"] in range(6)
        results.unlink()


def test_a_resume_with_the_params_in_another_order_proposes_as_the_uninterrupted_sweep(
        tmp_path):
    # was: the space was accepted as the same one, but its new key order gave nevergrad
    # another parametrization: "proposed another architecture than before at ask 0 of the
    # replay", and other architectures than the uninterrupted sweep from then on
    ordered = {"a": "int(interval(0, 9))", "b": "choice(w, x, y, z)", "c": "int(interval(0, 20))"}

    def sweep(folder: str, budget: int, params: dict[str, str]) -> list[tuple[Any, ...]]:
        trials = multirun(tmp_path / folder, lambda cfg: float(
            (cfg.a * 7 + "wxyz".index(cfg.b) * 3 + cfg.c) % 11 / 11),
            {"budget": budget, "seed": 0, "params": params}, sort_keys=False, a=0, b=0, c=0)
        return [(t.arch["a"], t.arch["b"], t.arch["c"]) for t in trials]

    uninterrupted = sweep("fresh", 4, ordered)
    sweep("resumed", 2, ordered)
    assert sweep("resumed", 4, dict(reversed(ordered.items()))) == uninterrupted


@pytest.mark.slow
def test_a_resume_with_the_sweeps_in_another_order_is_no_edited_config(tmp_path):
    # was: refused, "jobs ran with other settings: model=a: model.extra: [1, 2], now [3, 4]":
    # each option was composed at the first sample of the new order (the other searched
    # keys at other values), and a `+key`'s or `group@package`'s value stayed in its record
    for folder, searched, files in (
            ("plus", "+model.extra=choice([1,2],[3,4])", {}),
            ("package", "+optim@model.opt=choice(p,q)", {"optim/p": "lr: 1", "optim/q": "lr: 2"}),
            ("global", "+exp=choice(e1,e2)", {"exp/e1": "# @package _global_\nepochs: 1",
                                             "exp/e2": "# @package _global_\nepochs: 2"})):
        order = ["model=choice(a,b)", "x=range(0,9)", searched]
        key = searched.split("=", 1)[0]
        assert (parse_params({}, order).space.sample(seed=0)[key]
                != parse_params({}, order[::-1]).space.sample(seed=0)[key])
        for name, text in files.items():
            (tmp_path / folder / "conf" / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / folder / "conf" / f"{name}.yaml").write_text(f"{text}\n")
        multirun(tmp_path / folder, lambda cfg: float(cfg.x), {"budget": 1}, tuple(order),
                 epochs=0)
        trials = multirun(tmp_path / folder, lambda cfg: float(cfg.x), {"budget": 2},
                          tuple(order[::-1]), epochs=0)
        assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2, folder
    # a store of the version before: each option's record held the `+key`'s value; resumes
    order = ["model=choice(a,b)", "x=range(0,9)", "+model.extra=choice([1,2],[3,4])"]
    multirun(tmp_path / "older", lambda cfg: float(cfg.x), {"budget": 1}, tuple(order))
    with RunStore(tmp_path / "older" / "run" / "search.db") as store:
        options = store.get_meta("job_options")
        for record in options["model"].values():
            record["model"]["extra"] = [1, 2]
        store.set_meta("job_options", options)
    trials = multirun(tmp_path / "older", lambda cfg: float(cfg.x), {"budget": 2}, tuple(order))
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2


def test_a_resumed_sweep_without_a_seed_says_why_it_parts_from_its_replay_once(tmp_path, capsys):
    # was: "The optimizer proposed another architecture than before at ask 0 of the replay;
    # the search goes on ...", no word of why (hydra.sweeper.seed: null)
    sweeper = {"params": {"x": "interval(0, 1)"}, "seed": None, "optimizer": "RandomSearch"}
    multirun(tmp_path, lambda cfg: float(cfg.x), {**sweeper, "budget": 2})
    capsys.readouterr()
    trials = multirun(tmp_path, lambda cfg: float(cfg.x), {**sweeper, "budget": 4})
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 4
    out = capsys.readouterr().out
    said = ("The optimizer proposed another architecture than before at ask 0 of the replay "
            "(the sweep has no seed, `hydra.sweeper.seed: null`: its optimizer proposes "
            "otherwise in each invocation; a sweep with a seed replays exactly); the search "
            "goes on from the stored results, no longer exactly as before.")
    assert out.count(said) == 1, out  # once, not per job
    assert "seed" not in out.replace(said, "")  # no other line of it


def test_a_resume_without_a_seed_that_its_optimizer_refuses_names_the_sweeps_keys(tmp_path):
    # was: "the run has no seed (`seed: null`) ...; a search with a seed (`seed: 0`,
    # `Search(..., seed=0)`, or `seed_everything: true` ...); ... search in a new run_dir
    # with another optimizer ... (`warm_start: [...]`)": keys a sweep has not
    sweeper = {"params": {"x": "interval(0, 1)"}, "seed": None, "optimizer": "EDA"}
    multirun(tmp_path, lambda cfg: float(cfg.x), {**sweeper, "budget": 2})
    ran = []
    with pytest.raises(ConfigError) as info:
        multirun(tmp_path, lambda cfg: ran.append(1) or 1.0, {**sweeper, "budget": 4})
    run = tmp_path / "run"
    assert str(info.value) == (
        f"cannot resume {run} with optimizer 'EDA': the sweep has no seed "
        f"(`hydra.sweeper.seed: null`), so the replay of its optimizer proposed other "
        f"architectures than the run did (from ask 0 of the replay on), and 'EDA' cannot be "
        f"told the results of architectures it did not propose; a sweep with a seed "
        f"(`hydra.sweeper.seed`, 0 when left out) replays exactly and resumes; to go on from "
        f"this run's results, sweep into another hydra.sweep.dir with another "
        f"hydra.sweeper.optimizer (e.g. SurrogateEvolution, NGOpt, TwoPointsDE) warm-started "
        f"from it (`hydra.sweeper.warm_start=[{run}]`); nothing was trained")
    assert not ran


def test_a_resume_with_another_direction_or_space_is_refused_in_the_sweeps_words(tmp_path,
                                                                                  launcher):
    # was: "holds a search with a different mode (stored 'max', now 'min'); resume with the
    # same mode, or choose another hydra.sweeper.run_dir" (a sweep has direction, and its
    # folder is hydra.sweep.dir where run_dir is not set)
    ran = []
    params = {"params": {"x": "range(0, 9)"}, "budget": 2}
    multirun(tmp_path, lambda cfg: 1.0, params)
    with pytest.raises(ConfigError) as info:
        multirun(tmp_path, lambda cfg: ran.append(1) or 1.0, params, direction="minimize")
    assert str(info.value) == (
        f"{tmp_path / 'run'} holds a sweep with a different hydra.sweeper.direction (stored "
        f"'maximize', now 'minimize'); resume with the same direction, or choose another "
        f"hydra.sweeper.run_dir")
    assert not ran
    # the sweep dir (run_dir not set), as the example's sweep: a process of its own (forked
    # by the launcher), a kill -9 after its first job, resumed with another range of a
    # searched key
    (tmp_path / "app" / "conf").mkdir(parents=True)
    (tmp_path / "app" / "app.py").write_text(
        "import os, signal\nfrom pathlib import Path\nimport hydra\n\n\n"
        "@hydra.main(version_base=None, config_path='conf', config_name='config')\n"
        "def main(cfg):\n"
        "    if Path('ran').exists():  # the second job\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    Path('ran').touch()\n"
        "    return float(cfg.x)\n\n\nmain()\n")
    (tmp_path / "app" / "conf" / "config.yaml").write_text(yaml.safe_dump({
        "defaults": [{"override hydra/sweeper": "lightning_nas"}, "_self_"], "x": 0,
        "hydra": {"sweeper": {"direction": "maximize", "budget": 3,
                                             "params": {"x": "range(0, 9)"}}}}))
    sweep = tmp_path / "sweep"

    def run(*overrides: str) -> subprocess.CompletedProcess:
        return run_forked(launcher, tmp_path, tmp_path / "app" / "app.py",
                          ["-m", f"hydra.sweep.dir={sweep}", *overrides])

    killed = run()  # kill -9 in its second job
    assert killed.returncode == -9, killed.stdout + killed.stderr
    again = run("x=range(0, 5)")
    assert again.returncode == 1
    assert (f"{sweep} holds a sweep with a different space (hydra.sweeper.params and the "
            f"command line's sweeps) (x: {{'ordered': [0, 1, 2, 3, 4, 5, 6, 7, 8]}}, now "
            f"{{'ordered': [0, 1, 2, 3, 4]}}); resume with the same params, or choose another "
            f"hydra.sweep.dir") in again.stderr, again.stderr


def test_a_trainer_node_argument_spelt_at_its_default_is_no_edit_on_resume(tmp_path):
    # a Lightning Trainer node's argument at its Trainer.__init__ default is the argument
    # left out, as in lightning-nas search (was: refused, "trainer.check_val_every_n_epoch:
    # 'unset', now 1"); another value is still an edited config
    def sweep(budget: int, *overrides: str, **trainer: Any) -> list[TrialResult]:
        return multirun(tmp_path, lambda cfg: float(cfg.x),
                        {"budget": budget, "params": {"x": "range(0, 9)"}}, overrides,
                        trainer={"_target_": "lightning.pytorch.Trainer", "max_epochs": 1,
                                 **trainer})

    sweep(1)
    with pytest.raises(ConfigError, match=r"jobs ran with other settings: trainer\."
                                          r"check_val_every_n_epoch: 'unset', now 2\. Resume"):
        sweep(2, check_val_every_n_epoch=2)
    assert len(sweep(2, check_val_every_n_epoch=1, precision=None)) == 2
    # so on the command line: the default, or the file's value, spelt out (old code:
    # "the job overrides: [], now ['+trainer.check_val_every_n_epoch=1', ...]"); the
    # overrides of other values, or of other keys, are compared by what they set
    for changed in ("+trainer.check_val_every_n_epoch=2", "model.depth=2"):
        with pytest.raises(ConfigError, match=re.escape(
                f"jobs ran with other settings: a job override added: {changed}. Resume")):
            sweep(3, changed)
    assert len(sweep(3, "+trainer.check_val_every_n_epoch=1", "trainer.max_epochs=1")) == 3
    # and the other way round: a sweep that overrode them, resumed without
    assert len(sweep(4)) == 4


def test_an_override_that_sets_what_the_files_compose_is_no_change_on_resume(tmp_path):
    # Hydra composes the same jobs from a value the file holds spelt out on the command line,
    # and from the option the defaults choose named (was: refused, "a job override added:
    # epochs=1", as a Trainer node's argument alone was taken); another value still is one
    def sweep(budget: int, *overrides: str) -> list[TrialResult]:
        return multirun(tmp_path, lambda cfg: float(cfg.x), {
            "budget": budget, "seed": 0, "params": {"x": "range(0, 9)"}}, overrides,
            epochs=1, opt={"lr": 0.001, "wd": 0})

    sweep(1)
    assert len(sweep(2, "epochs=1", "model=a", "opt.lr=1e-3", "opt={wd: 0}")) == 2
    assert len(sweep(3)) == 3  # and left out again
    for changed in ("epochs=2", "model=b", "+opt.new=1", "opt={wd: 1}", "~epochs"):
        with pytest.raises(ConfigError) as info:
            sweep(4, changed)
        assert f"a job override added: {changed}. Resume" in str(info.value)

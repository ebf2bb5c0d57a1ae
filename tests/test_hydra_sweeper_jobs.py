"""The jobs of a Hydra sweep (``helpers_hydra_sweep.multirun``, in-process): failures and
``max_failures``, SIGTERM and Ctrl-C, a task that returns no score or another metric's,
dedup and a small space, each job's own time, the rerun line of a job, and warm starts
from an earlier sweep."""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import DictConfig  # noqa: E402

from lightning_nas.errors import SearchError  # noqa: E402
from lightning_nas.results import TrialStatus  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402
from tests.helpers_ctrl_c import handled, terminal_ctrl_c  # noqa: E402
from tests.helpers_hydra_sweep import TIMEOUT, multirun  # noqa: E402


def test_too_many_failures_stop_the_sweep(tmp_path):
    def task(cfg: DictConfig) -> float:
        raise ValueError(f"x={cfg.x} diverged")

    with pytest.raises(SearchError, match=r"3 trials failed \(max_failures=2\); last error"):
        multirun(tmp_path, task, {"budget": 5, "max_failures": 2, "params": {"x": "range(0, 9)"}})
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert store.count(TrialStatus.FAILED) == 3
        assert "ValueError: x=" in store.trials()[0].error


def test_a_sweep_stopped_by_max_failures_writes_the_results_so_far(tmp_path, capsys):
    # was: no optimization_results.yaml although jobs had completed
    def task(cfg: DictConfig) -> float:
        if cfg.x % 2:
            raise ValueError(f"x={cfg.x} diverged")
        return float(cfg.x)

    with pytest.raises(SearchError, match=r"2 trials failed \(max_failures=1\)"):
        multirun(tmp_path, task, {"budget": 9, "max_failures": 1, "seed": 0,
                                  "optimizer": "RandomSearch", "params": {"x": "range(0, 9)"}})
    with RunStore(tmp_path / "run" / "search.db") as store:
        best = store.best("max")
    assert best is not None  # the seed completes a job before the second failure
    results = yaml.safe_load((tmp_path / "run" / "optimization_results.yaml").read_text())
    assert results["best_trial"] == best.trial_id and results["best_value"] == best.score
    assert "Sweep stopped in " in capsys.readouterr().out


def test_a_resume_stopped_by_max_failures_names_the_sweepers_setting(tmp_path):
    # was: "To go on, raise search.max_failures ..., or start another run_dir": keys a sweep
    # has not (search.max_failures=9 on the command line is a job override, refused)
    def task(cfg: DictConfig) -> float:
        raise ValueError(f"x={cfg.x} diverged")

    sweep = {"budget": 3, "max_failures": 0, "params": {"x": "range(0, 9)"}}
    with pytest.raises(SearchError, match=r"1 trial failed \(max_failures=0\)"):
        multirun(tmp_path, task, sweep)
    with pytest.raises(SearchError, match=r"To go on, raise hydra.sweeper.max_failures \(the "
                                          r"failed architectures stay failed\), or choose "
                                          r"another hydra.sweeper.run_dir"):  # (it is set)
        multirun(tmp_path, task, sweep)
    results = multirun(tmp_path, lambda cfg: float(cfg.x), {**sweep, "max_failures": 1})
    assert [t.status for t in results].count(TrialStatus.COMPLETED) == 3  # as it said


def test_sigterm_in_a_job_that_runs_in_the_sweeps_process_stops_it_with_143(tmp_path):
    # was: the sweep left SIGTERM to Lightning's handler where jobs run in its process (the
    # basic launcher), so one outside a fit killed the sweep at once, the job counted as a
    # crash (here the test's own handler, which raises, made it an ordinary FAILED job)
    import signal

    def not_the_sweeps(signum, frame):
        raise RuntimeError("the sweep did not handle SIGTERM")

    def task(cfg: DictConfig) -> float:
        os.kill(os.getpid(), signal.SIGTERM)
        return 1.0

    with handled(signal.SIGTERM, not_the_sweeps), pytest.raises(SystemExit) as info:
        multirun(tmp_path, task, {"budget": 2, "params": {"x": "range(0, 20)"}})
    assert info.value.code == 143
    with RunStore(tmp_path / "run" / "search.db") as store:  # re-run on resume
        assert [t.status for t in store.trials()] == [TrialStatus.RUNNING]
        assert store.attempts(1) == 0


def test_ctrl_c_in_a_fit_or_between_jobs_ends_the_sweep_with_130_and_no_traceback(
        tmp_path, capsys):
    # was: Ctrl-C outside a fit left the sweep as KeyboardInterrupt, whose 100-line traceback
    # Python printed under "Interrupted: ..."; in a fit Lightning's handler ends it with
    # exit(1), which read as an error (lightning-nas search ends both with 130)
    import lightning.pytorch as pl
    from lightning.pytorch.demos.boring_classes import BoringModel

    class CtrlC(pl.Callback):
        def on_train_batch_start(self, *args: Any) -> None:
            raise KeyboardInterrupt

    def in_a_fit(cfg: DictConfig) -> float:
        pl.Trainer(max_epochs=1, callbacks=[CtrlC()], logger=False, accelerator="cpu",
                   devices=1, enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False).fit(BoringModel())
        return 1.0

    def in_the_task(cfg: DictConfig) -> float:
        raise KeyboardInterrupt

    for name, task in (("fit", in_a_fit), ("task", in_the_task)):
        with terminal_ctrl_c(), pytest.raises((SystemExit, KeyboardInterrupt)) as info:
            multirun(tmp_path / name, task, {"budget": 2, "params": {"x": "range(0, 20)"}})
        assert info.type is SystemExit and info.value.code == 130, name
        assert info.value.__suppress_context__  # no traceback of the interrupt
        assert ("Interrupted: 0 completed, 1 running (re-run on resume); run the same "
                "command again to resume.") in capsys.readouterr().out
        with RunStore(tmp_path / name / "run" / "search.db") as store:  # re-run on resume
            assert [t.status for t in store.trials()] == [TrialStatus.RUNNING]


def test_a_task_that_returns_no_score_stops_at_once(tmp_path):
    with pytest.raises(SearchError, match=r"returned None; return the score \(score\)") as info:
        multirun(tmp_path, lambda cfg: None, {"budget": 5, "params": {"x": "range(0, 9)"}})
    # in the sweep's words (was: "run the same search again ...; a changed search setting (a
    # monitor, say) is not resumed: remove ... or choose another run_dir", a search's key)
    assert str(info.value).endswith(
        f". To go on, fix it and run the same command again (trial 1 runs again); a changed "
        f"sweep setting (hydra.sweeper.monitor, say) is not resumed: remove {tmp_path / 'run'} "
        f"(no trial completed) or choose another hydra.sweeper.run_dir"), str(info.value)


def test_a_float_returned_for_another_metric_than_the_monitor_stops_the_sweep(tmp_path):
    # was: the float (the task's optimized_metric, val/acc) was stored as hydra.sweeper.monitor
    # (val/loss) and minimised: the least accurate job was the best
    calls = []

    def task(cfg: DictConfig) -> Any:
        calls.append(cfg.x)
        metrics = {"val/acc": cfg.x / 10, "val/loss": 1 - cfg.x / 10}
        return metrics if cfg.returns == "dict" else metrics[cfg.optimized_metric]

    for folder, sweeper in (("monitor", {"monitor": "val/loss"}),
                            ("objectives", {"objectives": {"val/loss": "minimize"}})):
        with pytest.raises(SearchError, match=r"returned a float, which is the config's "
                                              r"optimized_metric \(val/acc\), but the sweep's "
                                              r"score is val/loss.*return a dict holding "
                                              r"\['val/loss'\]"):
            multirun(tmp_path / folder, task, {"budget": 3, "params": {"x": "range(1, 9)"},
                                               **sweeper}, direction=None,
                     optimized_metric="val/acc", returns="float")
        assert len(calls) == 1  # the first job stops it: none is told, none completed
        with RunStore(tmp_path / folder / "run" / "search.db") as store:
            assert store.count(TrialStatus.COMPLETED) == 0
        calls.clear()
    trials = multirun(tmp_path / "dict", task, {"budget": 2, "monitor": "val/loss",
                                                "params": {"x": "range(1, 9)"}},
                      direction=None, optimized_metric="val/acc", returns="dict")
    assert all(t.score == t.metrics["val/loss"] == 1 - t.arch["x"] / 10 for t in trials)


def test_a_sweep_of_one_job_says_one_job(tmp_path, capsys):
    # was: "budget 1 jobs, 1 job(s) per batch"
    multirun(tmp_path, lambda cfg: float(cfg.x), {"budget": 1, "params": {"x": "choice(1, 2)"}})
    header = capsys.readouterr().out.splitlines()[0]
    assert ", budget 1 job, 1 job per batch on " in header, header


def test_each_architecture_runs_once_and_a_small_space_ends_the_sweep(tmp_path, capsys):
    calls = []

    def task(cfg: DictConfig) -> float:
        calls.append(cfg.x)
        return 1.0 / (1 + abs(cfg.x - 2))

    trials = multirun(tmp_path, task, {"budget": 6, "num_workers": 2, "direction": "minimize",
                                       "params": {"x": "choice(1, 2, 3)"}})
    assert sorted(calls) == [1, 2, 3]
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 3
    assert "All 3 architectures of the space are evaluated" in capsys.readouterr().out
    results = yaml.safe_load((tmp_path / "run" / "optimization_results.yaml").read_text())
    assert results["best_params"] == {"x": 1} or results["best_params"] == {"x": 3}


def test_each_job_keeps_its_own_time_in_a_batch(tmp_path):
    # was: every trial of a batch got the batch's start and end (two 0.3 s jobs run one
    # after the other by the basic launcher were stored as 0.6 s each, at the same times)
    ran: dict[int, tuple[float, float]] = {}  # x -> when its job's task began and ended

    def task(cfg: DictConfig) -> float:
        began = time.time()
        time.sleep(0.3)
        ran[cfg.x] = (began, time.time())
        return float(cfg.x)

    trials = multirun(tmp_path, task, {"budget": 2, "num_workers": 2,
                                       "params": {"x": "choice(1, 2)"}})
    first, second = sorted(trials, key=lambda t: t.started)
    # each trial's times hold its own job's run and not the other's (no bound on how long
    # a job took: was `< 0.5` s, which a loaded machine's pause could break)
    for trial, other in ((first, second), (second, first)):
        began, ended = ran[trial.arch["x"]]
        assert trial.started <= began and ended <= trial.finished
        assert not trial.started <= ran[other.arch["x"]][0] < trial.finished
    assert first.finished <= second.started  # one after the other, as they ran


def test_the_rerun_line_quotes_overrides_for_the_shell(tmp_path):
    multirun(tmp_path, lambda cfg: float(cfg.x), {"budget": 1, "params": {"x": "choice(1, 2)"}},
             ("+note='a, b'",))
    results = yaml.safe_load((tmp_path / "run" / "optimization_results.yaml").read_text())
    # was: joined with spaces, so a shell split "+note='a, b'" and dropped its quotes
    assert "+note='a, b'" in shlex.split(results["rerun"])


def test_the_rerun_line_writes_a_config_groups_choice_as_typed(tmp_path, capsys):
    # was: Hydra's quotes quoted again for the shell, 'model='"'"'b'"'"'', in the rerun
    # line and the "Next:" line; the job's own overrides keep Hydra's quotes
    multirun(tmp_path, lambda cfg: float(cfg.model.name == "b"),
             {"budget": 2, "params": {"model": "choice(a, b)"}})
    results = yaml.safe_load((tmp_path / "run" / "optimization_results.yaml").read_text())
    best = results["best_params"]["model"]
    assert results["overrides"] == [f"model='{best}'"]
    assert results["rerun"].endswith(f" model={best} hydra.mode=RUN"), results["rerun"]
    assert f"Next: {results['rerun']} (from the folder" in capsys.readouterr().out


def test_the_rerun_line_trains_the_config_the_sweep_ran(tmp_path, launcher):
    # was: the rerun line dropped --config-name and --config-dir, so it trained the
    # script's default config (another data set) and not the best job
    app = """import json, pathlib, hydra
from hydra.core.hydra_config import HydraConfig
@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg):
    out = pathlib.Path(HydraConfig.get().runtime.output_dir, "ran.json")
    out.write_text(json.dumps({"name": cfg.name, "n": cfg.data.n, "x": cfg.x}))
    return float(cfg.x)
main()
"""
    (tmp_path / "app.py").write_text(app)
    for folder, text in (("conf/data/a.yaml", "n: 1\n"), ("extra/data/b.yaml", "n: 7\n")):
        (tmp_path / folder).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / folder).write_text(text)
    for name in ("config", "other"):
        (tmp_path / "conf" / f"{name}.yaml").write_text(yaml.safe_dump({
            "defaults": ["_self_", {"data": "a"}, {"override hydra/sweeper": "lightning_nas"}],
            "name": name, "x": 0, "hydra": {
                "job": {"chdir": False}, "run": {"dir": "rerun"},
                "sweep": {"dir": "sweep", "subdir": "${hydra.job.num}"},
                "sweeper": {"budget": 2, "direction": "maximize",
                            "params": {"x": "range(0, 9)"}}}}))
    # ``python app.py ...`` twice, forked from the launcher (imports paid once, not by two
    # fresh interpreters); sys.argv is ["app.py", ...] as python gives it
    launcher.launch(["--config-name", "other", "--config-dir", "extra", "-m", "data=b"],
                    tmp_path / "sweep.log", Path("app.py"), cwd=tmp_path)
    assert launcher.wait(TIMEOUT) == 0, (tmp_path / "sweep.log").read_text()[-3000:]
    results = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert shlex.split(results["rerun"])[2:6] == ["--config-name", "other", "--config-dir",
                                                  str(tmp_path / "extra")]
    python, script, *argv = shlex.split(results["rerun"])  # as a shell splits it
    assert python == "python"
    launcher.launch(argv, tmp_path / "rerun.log", Path(script), cwd=tmp_path)
    assert launcher.wait(TIMEOUT) == 0, (tmp_path / "rerun.log").read_text()[-3000:]
    ran = json.loads((tmp_path / "rerun" / "ran.json").read_text())
    assert ran == {"name": "other", "n": 7, "x": results["best_params"]["x"]}
    from lightning_nas.export import export_best

    assert export_best(tmp_path / "sweep")["hydra"]["rerun"] == results["rerun"]  # the same


def test_a_config_node_that_fails_to_build_in_two_jobs_stops_the_sweep(tmp_path):
    from hydra.utils import instantiate

    with pytest.raises(SearchError, match=r"trials 1 and 2 failed the same way.*"
                                          r"InstantiationException: Error in call to target"):
        multirun(tmp_path, lambda cfg: instantiate({"_target_": "math.sqrt", "nosuch": cfg.x}),
                 {"budget": 5, "max_failures": 9, "params": {"x": "range(0, 9)"}})


def test_two_jobs_whose_task_function_fails_the_same_way_say_where(tmp_path):
    # was: "trials 1 and 2 failed the same way in training", though the sweep sees no
    # training in a job (this task function trains nothing)
    def task(cfg):
        raise FileNotFoundError("no such file: data/train.csv")

    with pytest.raises(SearchError, match=r"trials 1 and 2 failed the same way in the task "
                                          r"function \(every trial would; .*\): "
                                          r"FileNotFoundError: no such file"):
        multirun(tmp_path, task, {"budget": 5, "max_failures": 9,
                                  "params": {"x": "range(0, 9)"}})


def test_the_same_error_twice_says_how_to_go_on_and_the_same_command_does(tmp_path):
    # was: "trials 1 and 2 failed the same way in the task function (...): FileNotFoundError:
    # no such file: data/train.csv", and nothing said what to do next
    fixed: list[bool] = []

    def task(cfg: DictConfig) -> float:
        if not fixed:
            raise FileNotFoundError("no such file: data/train.csv")
        return float(cfg.x)

    sweeper = {"budget": 3, "max_failures": 9, "params": {"x": "range(0, 9)"}}
    with pytest.raises(SearchError) as info:
        multirun(tmp_path, task, sweeper)
    assert str(info.value).endswith(
        f"FileNotFoundError: no such file: data/train.csv. To go on, fix it and run the same "
        f"command again (trials 1 and 2 run again); a changed sweep setting "
        f"(hydra.sweeper.monitor, say) is not resumed: remove {tmp_path / 'run'} (no trial "
        f"completed) or choose another hydra.sweeper.run_dir"), str(info.value)
    fixed.append(True)  # the cause fixed, the same command: both trials run again
    trials = multirun(tmp_path, task, sweeper)
    assert [(t.trial_id, t.status) for t in trials] == [
        (i, TrialStatus.COMPLETED) for i in (1, 2, 3)]


def test_a_sweep_warm_started_from_an_earlier_sweep(tmp_path):
    def task(cfg: DictConfig) -> float:
        return -abs(cfg.x - 7) + (cfg.model.name == "b")

    first = multirun(tmp_path / "first", task, {"budget": 3, "params": {"x": "range(0, 12)"}},
                     lr=0.3)
    earlier_best = max(first, key=lambda t: t.score).arch["x"]
    trials = multirun(tmp_path / "second", task, {
        "budget": 1, "warm_start": [str(tmp_path / "first" / "run")],
        "params": {"x": "range(0, 12)", "model": "choice(a, b)", "lr": "choice(0.1, 0.3)",
                   "model.depth": "choice(3, 2, 1)"}},
        lr=0.1)
    assert len(trials) == 1  # the 3 earlier results are not counted (else: none to run)
    # filled with what the earlier jobs ran with (was: lr 0.1, a setup they never ran; and
    # model.depth missing: the group's option name stood in for its whole subtree)
    assert trials[0].arch == {"x": earlier_best, "model": "a", "lr": 0.3, "model.depth": 1}
    with RunStore(tmp_path / "second" / "run" / "search.db") as store:
        assert len(store.priors()) == 3
        source = store.get_meta("warm_start")["sources"][0]
        assert source["recorded"] == {"model": "a", "lr": 0.3, "model.depth": 1}
        assert source["filled"] == {}


def test_a_sweeps_warm_start_fill_fills_the_keys_the_earlier_runs_lacked(tmp_path):
    # was: "unknown hydra.sweeper setting 'warm_start_fill'; did you mean 'warm_start'?"
    def task(cfg: DictConfig) -> float:
        return -abs(cfg.x - 7) + cfg.lr

    multirun(tmp_path / "first", task, {"budget": 2, "params": {"x": "range(0, 12)"}}, lr=0.3)
    warm = {"budget": 2, "warm_start": [str(tmp_path / "first" / "run")], "params": {
        "x": "range(0, 12)", "lr": "choice(0.1, 0.3)", "model.depth": "choice(3, 2, 1)"}}
    ran = []
    for bad, message in (("{zz: 1}", "key 'zz' is not a key of the search space; keys: lr, "
                                     "model.depth, x"),
                         ("{lr: 0.2}", r"lr=0.2 is outside the space \(one of \[0.1, 0.3\]")):
        with pytest.raises(Exception, match=f"hydra.sweeper.warm_start_fill {message}"):
            multirun(tmp_path / "bad", lambda cfg: ran.append(1) or 1.0, warm,
                     (f"hydra.sweeper.warm_start_fill={bad}",), lr=0.3)
    assert not ran and not (tmp_path / "bad" / "run").exists()
    fill = "hydra.sweeper.warm_start_fill={model.depth: 2, lr: 0.1}"  # dotted: one key
    trials = multirun(tmp_path / "second", task, warm, (fill,), lr=0.3)
    assert len(trials) == 2
    with RunStore(tmp_path / "second" / "run" / "search.db") as store:
        priors = store.priors()
        source = store.get_meta("warm_start")["sources"][0]
    assert len(priors) == 2 and all(p["arch"]["lr"] == 0.1 and p["arch"]["model.depth"] == 2
                                    for p in priors)
    assert (source["filled"], source["recorded"]) == ({"model.depth": 2, "lr": 0.1}, {})
    # a resume with another fill is refused (the stored priors keep this one)
    with pytest.raises(Exception, match=r"a different hydra.sweeper.warm_start_fill \(lr: 0.1, now "
                                          r"0.3\)"):
        multirun(tmp_path / "second", task, {**warm, "budget": 3},
                 ("hydra.sweeper.warm_start_fill={model.depth: 2, lr: 0.3}",), lr=0.3)


def test_a_warm_start_fill_key_names_a_plus_key_by_its_path(tmp_path):
    # was: "warm_start_fill key 'lr' is not a key of the search space; keys: ++lr, ..."
    # (and '+lr' too): a ++key (or a key searched as model.depth, filled as ++model.depth)
    # could be filled only as the space spelt it
    def task(cfg: DictConfig) -> float:
        return -abs(cfg.x - 7) + cfg.get("lr", 0.0)

    multirun(tmp_path / "first", task, {"budget": 3, "params": {"x": "range(0, 12)"}})
    warm = {"budget": 1, "warm_start": [str(tmp_path / "first" / "run")], "params": {
        "x": "range(0, 12)", "++lr": "choice(0.1, 0.3)", "model.depth": "choice(1, 2, 3)"}}
    for folder, fill in (("plain", "{lr: 0.3, ++model.depth: 2}"),
                         ("plus", "{+lr: 0.3, +model.depth: 2}")):
        multirun(tmp_path / folder, task, warm, (f"hydra.sweeper.warm_start_fill={fill}",))
        with RunStore(tmp_path / folder / "run" / "search.db") as store:
            priors = store.priors()
            source = store.get_meta("warm_start")["sources"][0]
        assert len(priors) == 3 and all(
            (p["arch"]["++lr"], p["arch"]["model.depth"]) == (0.3, 2) for p in priors)
        assert source["filled"] == {"++lr": 0.3, "model.depth": 2}
    # one space key named twice is refused, naming both
    with pytest.raises(Exception, match=r"names the space key '\+\+lr' twice \('lr' and "
                                        r"'\+\+lr'\)"):
        multirun(tmp_path / "twice", task, warm,
                 ("hydra.sweeper.warm_start_fill={lr: 0.3, ++lr: 0.1}",))
    assert not (tmp_path / "twice" / "run").exists()
    # a key as lightning-nas search names model.depth (its model argument 'depth', or
    # model.init_args.depth): the first names the sweep's key (was: "not a key of the
    # search space", naming no form), the second is that key, as a warm start reads it
    with pytest.raises(Exception, match=r"hydra.sweeper.warm_start_fill key 'depth' is the "
                                        r"config path depth in a sweep, no key of its space "
                                        r"\(every key is a path into the job config; "
                                        r"lightning-nas search reads 'depth' as model.depth\): "
                                        r"write 'model.depth'"):
        multirun(tmp_path / "search", task, warm,
                 ("hydra.sweeper.warm_start_fill={lr: 0.3, depth: 2}",))
    assert not (tmp_path / "search" / "run").exists()
    multirun(tmp_path / "args", task, warm,
             ("hydra.sweeper.warm_start_fill={lr: 0.3, model.init_args.depth: 2}",))
    with RunStore(tmp_path / "args" / "run" / "search.db") as store:
        assert store.get_meta("warm_start")["sources"][0]["filled"] == {"++lr": 0.3,
                                                                      "model.depth": 2}


def test_a_job_that_raises_is_failed_and_the_sweep_goes_on(tmp_path):
    calls = []

    def task(cfg: DictConfig) -> float:
        calls.append(cfg.x)
        if len(calls) == 1:
            raise RuntimeError("the first job fails")
        return float(cfg.x)

    trials = multirun(tmp_path, task, {"budget": 3, "params": {"x": "range(0, 20)"}})
    assert [t.status for t in trials] == [TrialStatus.FAILED] + [TrialStatus.COMPLETED] * 3
    assert "RuntimeError: the first job fails" in trials[0].error
    assert [t.arch["x"] for t in trials] == calls  # each trial is the job that ran
    assert [t.score for t in trials[1:]] == [float(x) for x in calls[1:]]

"""Trials on an existing Ray cluster given by address: a real two-node cluster on the
loopback address (Ray's own ``cluster_utils.Cluster``: the module's one-node cluster with a
node added, ``two_nodes``); and Ray's other cases on a one-node cluster that the module's
tests share (``one_node``: connected as a user's ``ray.init``; ``one_node_address``: for a
search that connects itself), started once per module. What is said of an address nobody
answers at, of a refused connection and of a module the actors lack, with no cluster:
``test_ray_cluster_errors``."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lightning_nas import Search
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.search.progress import trial_line
from lightning_nas.search.ray_executor import RayExecutor
from lightning_nas.store import RunStore
from lightning_nas.user_warnings import console_warnings
from tests.conftest import TINY_TRAINER
from tests.helpers_config import HeardStream
from tests.helpers_ctrl_c import handled, kernel_handler
from tests.helpers_executors import LateDeathNet, nap
from tests.helpers_models import TinyNet
from tests.helpers_ray import (
    LOOPBACK,
    SPACE,
    NodeNet,
    added_node,
    connect,
    cpus_held,
    free_port,
    loads_torch,
    loopback_cluster,
    ray_folder,
    trial_actors,
)

ray = pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def two_nodes(_one_node, monkeypatch) -> Iterator[object]:
    """The module's one-node cluster with a worker node of one CPU added, both on the
    loopback address only; the worker node removed at the end (was: a two-node cluster of
    its own, a head node started and shut down for the one test; seconds)."""
    cluster, folder = _one_node
    monkeypatch.setenv("RAY_TMPDIR", folder)
    with added_node(cluster):
        yield cluster


@pytest.fixture(scope="module")
def _one_node() -> Iterator[tuple[object, str]]:
    """A head node of one CPU on the loopback address only, and its Ray temp folder: one
    per module (per pytest-xdist worker that runs its tests) for the tests that start no
    cluster of another shape (was: a cluster, or a local Ray, started by each; seconds)."""
    with pytest.MonkeyPatch.context() as patch, ray_folder(patch) as folder, \
            loopback_cluster(1) as cluster:
        yield cluster, folder


@pytest.fixture
def one_node(_one_node, monkeypatch) -> Iterator[object]:
    """The module's one-node cluster, Ray connected to it as a user's ``ray.init`` would
    (``log_to_driver`` off) once an earlier test's actors have let its CPU go; disconnected
    at the end."""
    cluster, folder = _one_node
    monkeypatch.setenv("RAY_TMPDIR", folder)
    try:
        connect(cluster.address)
        yield cluster
    finally:
        ray.shutdown()


@pytest.fixture
def one_node_address(_one_node, monkeypatch) -> str:
    """The address of the module's one-node cluster, for a search that connects itself."""
    cluster, folder = _one_node
    monkeypatch.setenv("RAY_TMPDIR", folder)
    return cluster.address


#: a project's module, importable from the search's current folder only
PROJECT_MODULE = '''
import os
import time
from pathlib import Path

from lightning_nas.user_warnings import warn_user
from tests.helpers_ray import ThreadNet


class ProjectNet(ThreadNet):  # (threads.json: the torch threads its trial trained with)
    def on_fit_start(self) -> None:  # the package's warning, made on the trial's actor
        warn_user("fit on an actor")
        # the search process writes "heard" as it says the warning: wait for it (20 s at
        # most), and note whether it came while the trial still ran
        folder = Path(self.trainer.default_root_dir)
        deadline = time.monotonic() + 20
        while not (folder / "heard").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        (folder / "heard_in_fit.txt").write_text(str((folder / "heard").exists()))

    def on_fit_end(self) -> None:
        path = Path(self.trainer.default_root_dir) / "flag.txt"
        path.write_text(os.environ.get("LNAS_FLAG", "unset"))
'''


@pytest.mark.slow  # a two-node cluster and a search: about a minute on two cores
def test_trials_run_on_both_nodes_of_an_existing_cluster(tmp_path, two_nodes, tiny_trainer,
                                                          monkeypatch):
    monkeypatch.chdir(REPO)  # workers import tests.*
    address = two_nodes.address
    assert address.startswith(f"{LOOPBACK}:")
    nodes = {two_nodes.head_node.node_id, *(n.node_id for n in two_nodes.worker_nodes)}
    assert len(nodes) == 2
    # two CPUs in all, but no node has the two of one trial: refused before the store
    with pytest.raises(ConfigError, match=r"search\.ray\.num_cpus=2.*CPU 1, GPU 0; CPU 1"):
        Search(NodeNet, SPACE, data="tests.helpers.BlobData", trainer=tiny_trainer,
               executor="ray", ray={"address": address, "num_cpus": 2}, run_dir=tmp_path,
               verbose=False).run()
    assert not ray.is_initialized() and not (tmp_path / "search.db").exists()
    # two trials (was four): the second starts while the first trains, on the other node
    result = Search(NodeNet, SPACE, data="tests.helpers.BlobData", trainer=tiny_trainer,
                    budget=2, executor="ray", num_workers=2, optimizer="RandomSearch", seed=1,
                    ray={"address": address, "num_cpus": 1}, run_dir=tmp_path,
                    verbose=False).run()
    assert not ray.is_initialized()  # the search connected, and disconnected at its end
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    where = [json.loads((tmp_path / "trials" / f"trial_{t.trial_id:04d}" / "where.json")
                        .read_text()) for t in result.trials]
    assert {w["node"] for w in where} == nodes  # one actor per one-CPU node, both used
    assert all(w["pid"] != os.getpid() for w in where)
    # the driver is the store's only writer: no trial process has its file open
    assert not any(w["store_open"] for w in where)
    with RunStore(tmp_path / "search.db") as store:
        rows = store.trials()
    assert [(t.trial_id, t.status, t.score) for t in rows] == [
        (t.trial_id, TrialStatus.COMPLETED, t.score) for t in result.trials]
    assert all(t.score is not None for t in rows)


@pytest.mark.slow  # a node added to the module's cluster: about ten seconds on two cores
def test_trials_of_accelerator_auto_that_reserve_no_gpu_on_a_cluster_with_gpus_are_refused(
        tmp_path, _one_node, tiny_trainer, monkeypatch):
    # was: accepted, and Ray (2.60) hides no GPU from an actor that reserves none, so each
    # trial's Lightning 'auto' trained on the GPUs of its node, all of them, reserved by no
    # trial: trials at once shared them (a GPU trial of a process worker gets its own)
    cluster, folder = _one_node
    monkeypatch.setenv("RAY_TMPDIR", folder)
    with added_node(cluster, num_gpus=2):  # (a node that says it has two GPUs)
        for trainer in ({**tiny_trainer, "accelerator": "auto"},
                        {k: v for k, v in tiny_trainer.items() if k != "accelerator"}):
            with pytest.raises(ConfigError, match=r"trainer\.accelerator='auto' trains a "
                                                  r"trial on the GPUs its Ray actor sees.*"
                                                  r"search\.ray\.num_gpus=0.*cluster has 2 "
                                                  r"GPUs.*accelerator: gpu.*accelerator: cpu.*"
                                                  r"search\.ray\.num_gpus \(the GPUs"):
                Search(TinyNet, SPACE, data="tests.helpers.BlobData", trainer=trainer,
                       budget=1, executor="ray", run_dir=tmp_path / "run", verbose=False,
                       ray={"address": cluster.address, "num_cpus": 0.5}).run()
            assert not ray.is_initialized() and not (tmp_path / "run").exists()


@pytest.fixture
def user_ray_search(request, shared_run) -> tuple[Path, dict]:
    """One search of one trial of a project's ``ProjectNet`` (``PROJECT_MODULE``, importable
    from the search's current folder only, as ``lnas_ray_project``) on the module's cluster,
    connected as a user's ``ray.init`` (the test's own, ``one_node``, where it has one; else
    one made and closed here): two workers of half a CPU each, ``threads_per_trial=2`` (the
    default would be 1), a ``runtime_env`` of its own and a relative ``run_dir`` (``run``,
    in the project's folder, as a config's ``runs/...``). Its run folder, and
    (JSON) the CPUs its actors held when the trial had ended, whether Ray was still
    initialised after it and the lines of the search process's stderr (it ran under
    ``console_warnings``, as ``lightning-nas search`` does) that said the trial's warning
    (``fit on an actor``), and whether that warning was said while the trial still ran
    (``heard_in_fit``: the trial waits up to 20 s for the search process to say it).
    Made once per test session (conftest's ``shared_run``: the
    pytest-xdist worker that asks first makes it, on its ``_one_node``) for the three tests
    that assert on it (was: two searches, one of them on a connection of its own)."""
    def make(folder: Path) -> dict:
        cluster, ray_tmp = request.getfixturevalue("_one_node")
        project = folder / "project"
        project.mkdir()
        (project / "lnas_ray_project.py").write_text(PROJECT_MODULE)
        held: list[float] = []

        def cpus_held(result) -> None:  # trial 1 is done, the search's actors still alive
            held.append(ray.cluster_resources()["CPU"]
                        - ray.available_resources().get("CPU", 0))

        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("RAY_TMPDIR", ray_tmp)
            # the cluster started elsewhere: only the search's current folder has the module
            patch.chdir(project)
            patch.syspath_prepend(str(project))
            patch.setenv("PYTHONPATH", os.pathsep.join(  # workers import tests.* from it
                p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
            net = importlib.import_module("lnas_ray_project").ProjectNet
            own = not ray.is_initialized()
            if own:  # as a user's ray.init (an earlier test's actors let its CPU go first)
                connect(cluster.address)
            run = project / "run"  # (run_dir="run", from the project's folder)
            err = HeardStream(run / "trials" / "trial_0001", "fit on an actor")
            try:
                with console_warnings("search"), contextlib.redirect_stderr(err):
                    search = Search(net, SPACE, data="tests.helpers.BlobData",
                                    trainer=dict(TINY_TRAINER),
                                    budget=1, executor="ray", num_workers=2,
                                    threads_per_trial=2, on_trial_end=cpus_held,
                                    run_dir="run", verbose=False,
                                    ray={"address": cluster.address,  # its own address
                                         "num_cpus": 0.5, "runtime_env": {
                                             "env_vars": {"LNAS_FLAG": "1"}}})
                    search.run()
                heard = run / "trials" / "trial_0001" / "heard_in_fit.txt"
                return {"held": held, "initialised_after": ray.is_initialized(),
                        "warned": [line for line in err.getvalue().splitlines()
                                   if "fit on an actor" in line],
                        "heard_in_fit": heard.read_text()}
            finally:
                if own:
                    ray.shutdown()

    folder, made = shared_run("ray_user_search", make)
    return folder / "project" / "run", made


@pytest.mark.slow  # a search on a cluster: about twenty seconds on two cores
def test_threads_per_trial_sets_a_ray_trials_torch_threads(user_ray_search):
    # was: ignored beside search.ray.num_cpus, trials trained (and were recorded) with
    # num_cpus torch threads (here at least 1: was 1, threads_per_trial 2)
    run, _ = user_ray_search
    with RunStore(run / "search.db") as store:  # (the trials its result had)
        (trial,) = store.trials()
        fits = store.fits(trial.trial_id)
    assert trial.status is TrialStatus.COMPLETED, trial.error
    threads = json.loads((run / "trials" / f"trial_{trial.trial_id:04d}" / "threads.json")
                         .read_text())
    assert threads == {"torch": 2, "omp": "2"}
    assert fits == [2]  # the count best_config.yaml names


@pytest.mark.slow  # a search on a cluster: about twenty seconds on two cores
def test_a_ray_search_of_a_relative_run_dir_keeps_its_trials_files_in_it(user_ray_search):
    # was: a trial's actor wrote its relative trial folder into the actor's current folder
    # (Ray's, not the search's): best.yaml said "checkpoint: null", the trial's checkpoints
    # and logs were elsewhere, and a resume or a promotion found no last.ckpt
    run, _ = user_ray_search  # (run_dir="run", from the project's folder)
    best = yaml.safe_load((run / "best.yaml").read_text())
    trial = run / "trials" / f"trial_{best['trial']:04d}"
    assert best["checkpoint"] is not None and (run / best["checkpoint"]).is_file(), best
    assert (trial / "best.ckpt").is_file() and (trial / "threads.json").is_file()


@pytest.mark.slow  # a cluster: about twenty seconds on two cores
def test_a_runtime_env_the_cluster_cannot_build_is_one_error_before_the_run_folder(
        tmp_path, one_node_address, tiny_trainer):
    # was: two FAILED trials stored, "trials 1 and 2 failed the same way in training
    # (every trial would; unless a value they share is the cause: ...)"
    env = {"pip": ["nonexistent-pkg-zzz"]}
    with handled(signal.SIGTERM, signal.SIG_IGN):  # (a script's handler)
        found = kernel_handler(signal.SIGTERM)
        with pytest.raises(ConfigError, match=r"search\.ray\.runtime_env=\{'pip': "
                                              r"\['nonexistent-pkg-zzz'\]\} cannot be set up "
                                              r"on the Ray cluster: .+\. Fix it or leave it out"):
            Search(TinyNet, SPACE, data="tests.helpers.BlobData", trainer=tiny_trainer,
                   budget=2, executor="ray", num_workers=2, run_dir=tmp_path / "run",
                   verbose=False, ray={"address": one_node_address, "num_cpus": 0.5,
                                       "runtime_env": env}).run()  # (both fit its CPU)
        # the handler found, beneath Python's too (was: Ray's, the default action beneath)
        assert (signal.getsignal(signal.SIGTERM), kernel_handler(signal.SIGTERM)) == (
            signal.SIG_IGN, found)
    assert not ray.is_initialized()
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # a one-node cluster and a trial: about half a minute on two cores
def test_a_ray_the_user_initialised_refuses_what_cannot_apply_and_gets_the_import_path(
        tmp_path, one_node, user_ray_search, tiny_trainer):
    # was: search.ray (address, every ray.init key) silently ignored, and the workers did
    # not get the driver's current folder and PYTHONPATH: a project's module failed to
    # import only in its trials, stored as FAILED
    run = tmp_path / "run"  # (one_node: ray.init(address=its address, log_to_driver=False))
    elsewhere = f"{LOOPBACK}:{free_port()}"
    for options, message in [
            ({"address": elsewhere}, rf"search\.ray\.address='{elsewhere}' is a ray\.init "
                                     rf"argument, and Ray is already initialised in this "
                                     rf"process \(connected to '{one_node.address}'\)"),
            ({"log_to_driver": True}, r"search\.ray\.log_to_driver=True is a ray\.init "
                                      r"argument.*Drop search\.ray\.log_to_driver")]:
        with pytest.raises(ConfigError, match=message):
            Search(TinyNet, SPACE, data="tests.helpers.BlobData", trainer=tiny_trainer,
                   budget=1, executor="ray", ray=options, run_dir=run, verbose=False).run()
        assert ray.is_initialized() and not run.exists()
    # its own address, and a runtime_env: applied to each trial's actor, where the project's
    # module (importable from the search's current folder only) imports
    run, made = user_ray_search
    assert made["initialised_after"]  # the user's connection is theirs: left as it was
    with RunStore(run / "search.db") as store:
        (trial,) = store.trials()
    assert trial.status is TrialStatus.COMPLETED, trial.error
    assert (run / "trials" / f"trial_{trial.trial_id:04d}" / "flag.txt").read_text() == "1"


#: a project's module the search's script finds through its own sys.path only
HIDDEN_MODULE = '''
from tests.helpers import TinyNet


class HiddenNet(TinyNet):
    pass
'''


@pytest.mark.slow  # a local cluster, four actors: about a minute on two cores
def test_a_module_the_ray_actors_cannot_import_and_an_actor_that_dies_are_each_one_line(
        tmp_path, one_node, tiny_trainer, monkeypatch):
    # was: every trial FAILED with "Ray error: \x1b[36mray::_RayTrialActor.run()\x1b[39m
    # (pid=..., actor_id=...)", another first line each time, so the search never stopped
    # on the same error twice; the cause (No module named ...) deep inside each error
    monkeypatch.chdir(REPO)  # workers import tests.*
    hidden = tmp_path / "mods"
    hidden.mkdir()
    (hidden / "lnas_hidden_mod.py").write_text(HIDDEN_MODULE)
    monkeypatch.syspath_prepend(str(hidden))  # the driver's path only, as sys.path.insert
    net = importlib.import_module("lnas_hidden_mod").HiddenNet  # (one_node: Ray of 1 CPU)
    executor = RayExecutor(num_workers=2, num_cpus=0.5)  # two actors, as the search's
    try:
        search = Search(net, SPACE, data="tests.helpers.BlobData", trainer=tiny_trainer,
                        budget=2, executor=executor, run_dir=tmp_path / "run", verbose=False)
        # started without a probe (submit starts it so): each trial's error starts with
        # the cause, alike on either actor
        earlier = trial_actors()  # an earlier test's, killed, may still be exiting
        executor.start()
        # which answered without importing torch (was: torch and Lightning imported by
        # each actor as it started, seconds each, though a trial's modules may not import)
        assert [loads_torch(pid) for pid in trial_actors() - earlier] == [False]
        for trial_id in (1, 2):
            executor.submit(search.template.spec(trial_id, search.space.sample(seed=trial_id)))
        results = [*executor.wait(), *executor.wait()]
        assert [r.status for r in results] == [TrialStatus.FAILED] * 2
        first = "Ray error: ModuleNotFoundError: No module named 'lnas_hidden_mod'"
        assert [r.error.splitlines()[0] for r in results] == [first, first]
        assert not any("\x1b" in r.error for r in results)  # no terminal colours

        # a trial that kills its actor (on one of the two, alive and idle: was a test of its
        # own, an actor and a connection of its own) is FAILED on a line of its own; was:
        # "FAILED (trial process died (Ray actor: The actor died unexpectedly before
        # finishing this task.)": the error's first line opened a parenthesis that only
        # Ray's message, lines below, closed
        dying = Search(TinyNet, {"width": {"choice": [4, 8]}}, data="tests.helpers.BlobData",
                       trainer=tiny_trainer, model_init_args={"die_width": 4},  # os._exit(3)
                       run_dir=tmp_path / "dying", verbose=False)
        executor.submit(dying.template.spec(3, {"width": 4}))
        (died,) = executor.wait()
        assert died.status is TrialStatus.FAILED
        first = died.error.splitlines()[0]
        assert first == ("trial process died (Ray actor: The actor died unexpectedly before "
                         "finishing this task)"), died.error
        assert "actor_id: " in died.error  # Ray's own message follows, whole
        line = trial_line(died, "val_acc", 1, 1, None)
        assert f"FAILED ({first}) " in line and line.count("(") == line.count(")"), line

        # a trial still running on the other actor (of a search that stopped while it ran,
        # the executor the user's, not shut down)
        naps = Search(None, {"nap": {"choice": [0, 0.01]}}, objective=nap, budget=1,
                      executor=executor, run_dir=tmp_path / "naps", verbose=False)
        executor.submit(naps.template.spec(4, {"nap": 600}))

        # the search sends its actors a trial's spec as they start: refused before the run
        folder = re.escape(str(hidden))
        with pytest.raises(ConfigError, match=rf"cannot import module 'lnas_hidden_mod' \(here "
                                              rf"from .+\).*PYTHONPATH={folder}\).*nothing ran"):
            search.run()
        assert not (tmp_path / "run").exists()
        # that start (a second search's with the same executor) ended the earlier actors:
        # was 0.5, the napping trial's actor, its handle dropped, ran on until its trial's end
        assert cpus_held(timeout=30) == 0

        # a search with a user's executor ends the actors it started as it ends: was 0.5,
        # its actor held its CPU until the executor's shutdown (or the next start)
        assert [t.status for t in naps.run().trials] == [TrialStatus.COMPLETED]
        assert cpus_held(timeout=30) == 0
    finally:
        executor.shutdown()
        ray.shutdown()


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.slow  # a local cluster, three actors started: about a minute on two cores
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")
def test_a_ray_actor_that_died_between_trials_is_replaced_and_the_next_trial_runs(
        tmp_path, one_node, tiny_trainer, monkeypatch):
    # was: the next trial given to an actor that died while idle (killed for memory, its
    # node's trouble) failed at once, "trial process died (Ray actor: ...)", counted as a
    # failed trial though it never started; now it runs on a new actor, counted once
    monkeypatch.chdir(REPO)  # workers import tests.*
    killed: list[int] = []

    def kill_its_actor(result) -> None:  # after trial 1 is stored: its actor is idle
        if result.trial_id == 1:
            where = tmp_path / "trials" / "trial_0001" / "where.json"
            killed.append(json.loads(where.read_text())["pid"])
            os.kill(killed[0], signal.SIGKILL)
            while _running(killed[0]):  # gone before the search gives it trial 2
                time.sleep(0.05)

    result = Search(NodeNet, SPACE, data="tests.helpers.BlobData",
                    trainer={**tiny_trainer, "max_epochs": 1}, budget=2, executor="ray",
                    num_workers=1, ray={"num_cpus": 1}, optimizer="RandomSearch",
                    on_trial_end=kill_its_actor, run_dir=tmp_path, verbose=False).run()
    assert [(t.trial_id, t.status) for t in result.trials] == [
        (1, TrialStatus.COMPLETED), (2, TrialStatus.COMPLETED)], [t.error for t in result.trials]
    where = json.loads((tmp_path / "trials" / "trial_0002" / "where.json").read_text())
    assert killed and where["pid"] != killed[0]  # on the new actor


@pytest.mark.slow  # a local cluster, two actors started: about half a minute on two cores
def test_a_trial_whose_ray_actor_died_keeps_the_epochs_and_curve_it_trained(
        tmp_path, one_node, tiny_trainer, monkeypatch):
    # the actor dies (os._exit, as a segfault or the out-of-memory killer) as epoch 3
    # starts, after epochs 1 and 2 trained and validated: the FAILED record keeps them, as a
    # worker process's does (was: epochs None, no curve)
    monkeypatch.chdir(REPO)  # workers import tests.*
    search = Search(LateDeathNet, {"width": {"choice": [8, 16]}}, data="tests.helpers.BlobData",
                    trainer={**tiny_trainer, "max_epochs": 4}, budget=1, executor="ray",
                    num_workers=1, ray={"num_cpus": 1}, model_init_args={"death_epoch": 2},
                    max_failures=1, run_dir=tmp_path, verbose=False)
    with pytest.raises(SearchError):  # no trial completed
        search.run()
    with RunStore(tmp_path / "search.db") as store:
        trial = store.trials()[0]
    assert trial.error.splitlines()[0].startswith("trial process died (Ray actor: ")
    assert (trial.epochs, trial.curve_epochs, len(trial.curve)) == (2, [1, 2], 2)
    assert not (tmp_path / "trials" / "trial_0001" / "progress.json").exists()


@pytest.mark.slow  # a local cluster: about twenty seconds on two cores
def test_a_cluster_too_small_for_the_workers_counts_one_trial_and_one_actor(one_node,
                                                                            monkeypatch):
    # was: "the Ray cluster fits 1 trial(s) at once" and "1 Ray actor(s) of the trials did
    # not answer"; the actors are given no time to start (a timeout of 0 s) so that the one
    # the cluster fits has not answered yet
    from lightning_nas.search import ray_executor

    monkeypatch.setattr(ray_executor, "START_TIMEOUT", 0.0)  # (one_node: Ray of 1 CPU)
    executor = RayExecutor(num_workers=2, num_cpus=1)
    try:
        with pytest.warns(UserWarning) as record:
            executor.start()
    finally:
        executor.shutdown()
        ray.shutdown()
    said = [str(w.message) for w in record]
    assert any(m.startswith("the Ray cluster fits 1 trial at once (search.ray.num_cpus=1, "
                            "num_gpus=0) but num_workers=2: ") for m in said), said
    assert any(m.startswith("1 Ray actor of the trials did not answer within 0 s ")
               and m.endswith("the search goes on and its trials start when it does")
               for m in said), said


@pytest.mark.slow  # a search on a cluster: about twenty seconds on two cores
def test_a_ray_search_with_fewer_trials_than_workers_starts_only_the_actors_it_needs(
        user_ray_search):
    # was: RayExecutor.start started all num_workers actors and waited for them: a budget-1
    # search with two workers held two actors' resources (and paid two imports of
    # Lightning), one of them never given a trial
    run, made = user_ray_search
    with RunStore(run / "search.db") as store:  # (the trials its result had)
        assert [t.status for t in store.trials()] == [TrialStatus.COMPLETED]
    assert made["held"] == [0.5]  # one actor of half a CPU (was: 1.0, two of them)


@pytest.mark.slow  # a search on a cluster: about twenty seconds on two cores
def test_a_warning_made_on_a_ray_actor_is_the_commands_line(user_ray_search):
    # was: none on the search's console (the actor warned in Python's form, into its own
    # log: ".../lnas_ray_project.py:9: UserWarning: fit on an actor")
    _, made = user_ray_search
    assert made["warned"] == ["lightning-nas search: warning: fit on an actor"]
    # as it was made, while the trial ran (was: "False": with the trial's result, at its end)
    assert made["heard_in_fit"] == "True"

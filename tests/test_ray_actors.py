"""Ray actors started after the first that cannot start: a real two-node cluster on the
loopback address whose second node cannot set up the trials' ``runtime_env`` (a runtime_env
plugin of Ray's own plugin interface that fails on a node started with ``LNAS_BAD_NODE``,
as a node of a heterogeneous cluster without what the plugin needs), and actors that die
as they start, before they answer."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightning_nas import Search
from lightning_nas.errors import SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.search.ray_executor import RayExecutor, _RayTrialActor
from lightning_nas.store import RunStore
from tests.helpers import TinyNet

ray = pytest.importorskip("ray")

SPACE = {"width": {"choice": [4, 8, 16, 32]}, "lr": {"float": [0.05, 0.3]}}
LOOPBACK = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]

#: a runtime_env plugin (Ray's ``RAY_RUNTIME_ENV_PLUGINS``) that each node's runtime env
#: agent loads: it sets up on a node, except on one started with ``LNAS_BAD_NODE`` set
PLUGIN = '''
import os

from ray._private.runtime_env.plugin import RuntimeEnvPlugin


class NodeCheckPlugin(RuntimeEnvPlugin):
    name = "lnas_node_check"

    async def create(self, uri, runtime_env, context, logger):
        if os.environ.get("LNAS_BAD_NODE"):
            raise RuntimeError("this node lacks what lnas_node_check needs")
        return 0
'''


class FirstOnlyActor(_RayTrialActor):
    """The trials' actor, of which only the first to start starts: each later one raises as
    it starts (as one whose node lacks a module it imports), so it dies before it answers."""

    def __init__(self, threads: int) -> None:
        started = Path(os.environ["LNAS_STARTED"])
        if started.exists():
            raise RuntimeError("this actor cannot start here")
        started.touch()
        super().__init__(threads)


@pytest.fixture
def mixed_nodes(monkeypatch) -> Iterator[object]:
    """A head node that sets up ``{"lnas_node_check": ...}`` and a worker node that
    cannot, one CPU each, on the loopback address only."""
    from ray.cluster_utils import Cluster

    folder = tempfile.mkdtemp(prefix="lnas-ray-", dir="/tmp")  # short: Ray's socket paths
    plugins = Path(folder) / "plugins"
    plugins.mkdir()
    (plugins / "lnas_node_plugin.py").write_text(PLUGIN)
    monkeypatch.setenv("RAY_TMPDIR", folder)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_RUNTIME_ENV_PLUGINS",
                       json.dumps([{"class": "lnas_node_plugin.NodeCheckPlugin"}]))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(  # the agents import the plugin
        p for p in (str(plugins), str(REPO), os.environ.get("PYTHONPATH")) if p))
    local = {"num_cpus": 1, "node_ip_address": LOOPBACK, "include_log_monitor": False}
    cluster = Cluster(initialize_head=True,
                      head_node_args={**local, "include_dashboard": False})
    try:
        monkeypatch.setenv("LNAS_BAD_NODE", "1")  # the worker node's processes only
        cluster.add_node(**local)
        monkeypatch.delenv("LNAS_BAD_NODE")
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow  # a two-node cluster and two searches: about a minute on two cores
def test_a_later_ray_actor_that_cannot_start_stops_the_search_and_fails_no_trial(
        tmp_path, mixed_nodes, tiny_trainer, monkeypatch):
    # was: the first actor (on the head node) answered, so the search started; the second,
    # placed on the node that cannot set its runtime_env up, failed trial 2 with "Ray error:
    # RuntimeError: this node lacks what lnas_node_check needs", stored FAILED as the
    # architecture's failure, and the next trials were given to the same actor
    monkeypatch.chdir(REPO)  # workers import tests.*
    ray_options = {"address": mixed_nodes.address, "num_cpus": 1,
                   "runtime_env": {"lnas_node_check": {"check": True}}}
    run = tmp_path / "run"

    def search(workers: int) -> Search:
        return Search(TinyNet, SPACE, data="tests.helpers.BlobData", trainer=tiny_trainer,
                      budget=3, executor="ray", num_workers=workers,
                      optimizer="RandomSearch", seed=1, ray=ray_options, run_dir=run,
                      verbose=False)

    with pytest.raises(SearchError, match=r"a Ray actor started for trial 2 cannot start "
                                          r"on the cluster: .*this node lacks what "
                                          r"lnas_node_check needs.*resume") as stop:
        search(2).run()
    assert "search.ray.runtime_env=" in str(stop.value)
    assert not ray.is_initialized()
    with RunStore(run / "search.db") as store:
        stored = {t.trial_id: t.status for t in store.trials()}
    assert stored[1] is TrialStatus.COMPLETED  # the trial on the head node: kept
    assert TrialStatus.FAILED not in stored.values(), stored
    assert stored[2] is TrialStatus.RUNNING  # not run: a resume runs it

    # the node taken out of the cluster, the same command resumes: nothing was lost
    (bad,) = mixed_nodes.worker_nodes
    mixed_nodes.remove_node(bad)
    result = search(1).run()
    assert [(t.trial_id, t.status) for t in result.trials] == [
        (i, TrialStatus.COMPLETED) for i in (1, 2, 3)], [t.error for t in result.trials]


@pytest.mark.slow  # a local cluster and a search: about half a minute on two cores
def test_a_later_ray_actor_that_dies_before_it_answers_stops_the_search_and_fails_no_trial(
        tmp_path, tiny_trainer, monkeypatch):
    # was: the trial given to it ran again on a new actor, which died the same way, and was
    # then stored FAILED, "trial process died (Ray actor: ...)" and "(It did not run: its
    # actor, and the new one started for it, died before it started; ...)"
    monkeypatch.chdir(REPO)  # workers import tests.*
    folder = tempfile.mkdtemp(prefix="lnas-ray-", dir="/tmp")
    monkeypatch.setenv("RAY_TMPDIR", folder)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    env = {"env_vars": {"LNAS_STARTED": str(tmp_path / "started")}}
    executor = RayExecutor(num_workers=2, num_cpus=0.5, init={"runtime_env": env})
    executor._remote = ray.remote(num_cpus=0.5)(FirstOnlyActor)  # its actors, this class
    run = tmp_path / "run"
    try:
        with pytest.raises(SearchError, match=r"a Ray actor started for trial 2 cannot start "
                                              r"on the cluster: .*see `ray status`.*resume"):
            Search(TinyNet, SPACE, data="tests.helpers.BlobData", trainer=tiny_trainer,
                   budget=2, executor=executor, optimizer="RandomSearch", seed=1,
                   run_dir=run, verbose=False).run()
    finally:
        executor.shutdown()
        ray.shutdown()
        shutil.rmtree(folder, ignore_errors=True)
    with RunStore(run / "search.db") as store:
        stored = {t.trial_id: t.status for t in store.trials()}
    assert stored == {1: TrialStatus.COMPLETED, 2: TrialStatus.RUNNING}, stored

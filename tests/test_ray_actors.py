"""Ray actors started after the first that cannot start, on a real two-node cluster on the
loopback address whose second node cannot set up the trials' ``runtime_env`` (a runtime_env
plugin of Ray's own plugin interface that fails, or stalls, on a node started with
``LNAS_BAD_NODE``, as a node of a heterogeneous cluster without what the plugin needs, or one
with a long ``pip`` install): an actor whose ``runtime_env`` fails there, and one whose node
is lost while its ``runtime_env`` is still being set up, so that it dies before it answers."""

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
from lightning_nas.store import RunStore
from tests.helpers_models import TinyNet
from tests.helpers_ray import NO_PRESTART

ray = pytest.importorskip("ray")

SPACE = {"width": {"choice": [4, 8, 16, 32]}, "lr": {"float": [0.05, 0.3]}}
LOOPBACK = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]
#: a node of one CPU on the loopback address only
LOCAL = {"num_cpus": 1, "node_ip_address": LOOPBACK, "include_log_monitor": False}

#: a runtime_env plugin (Ray's ``RAY_RUNTIME_ENV_PLUGINS``) that each node's runtime env
#: agent loads: it sets up on a node, except on one started with ``LNAS_BAD_NODE`` set (there
#: it fails, after ``{"lnas_node_check": {"stall": seconds}}`` if given)
PLUGIN = '''
import asyncio
import os

from ray._private.runtime_env.plugin import RuntimeEnvPlugin


class NodeCheckPlugin(RuntimeEnvPlugin):
    name = "lnas_node_check"

    async def create(self, uri, runtime_env, context, logger):
        if os.environ.get("LNAS_BAD_NODE"):  # after "stall" seconds, if given
            await asyncio.sleep(float((runtime_env.get(self.name) or {}).get("stall", 0)))
            raise RuntimeError("this node lacks what lnas_node_check needs")
        return 0
'''


@pytest.fixture(scope="module")
def _good_head() -> Iterator[tuple[object, dict[str, str]]]:
    """A head node of one CPU, on the loopback address only, whose runtime env agent sets
    ``{"lnas_node_check": ...}`` up, and the environment its nodes were started with (no
    idle workers started ahead: ``NO_PRESTART``): one per module (per pytest-xdist worker
    that runs its tests; was: one per test)."""
    from ray.cluster_utils import Cluster

    folder = tempfile.mkdtemp(prefix="lnas-ray-", dir="/tmp")  # short: Ray's socket paths
    plugins = Path(folder) / "plugins"
    plugins.mkdir()
    (plugins / "lnas_node_plugin.py").write_text(PLUGIN)
    env = {"RAY_TMPDIR": folder, "RAY_USAGE_STATS_ENABLED": "0", **NO_PRESTART,
           "RAY_RUNTIME_ENV_PLUGINS": json.dumps([{"class": "lnas_node_plugin.NodeCheckPlugin"}]),
           "PYTHONPATH": os.pathsep.join(  # the agents import the plugin
               p for p in (str(plugins), str(REPO), os.environ.get("PYTHONPATH")) if p)}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        cluster = Cluster(initialize_head=True, head_node_args={**LOCAL,
                                                                "include_dashboard": False})
    try:
        yield cluster, env
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def mixed_nodes(_good_head, monkeypatch) -> Iterator[object]:
    """The module's head node, and a worker node of one CPU (on the loopback address only)
    that cannot set ``{"lnas_node_check": ...}`` up, added for the test and gone after it."""
    cluster, env = _good_head
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LNAS_BAD_NODE", "1")  # the worker node's processes only
    cluster.add_node(**LOCAL)
    monkeypatch.delenv("LNAS_BAD_NODE")
    try:
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for node in list(cluster.worker_nodes):  # (a test may have removed it)
            cluster.remove_node(node)


@pytest.mark.slow  # a two-node cluster and a search: about half a minute on two cores
def test_a_later_ray_actor_that_cannot_start_stops_the_search_and_fails_no_trial(
        tmp_path, mixed_nodes, tiny_trainer, monkeypatch):
    # was: the first actor (on the head node) answered, so the search started; the second,
    # placed on the node that cannot set its runtime_env up, failed trial 2 with "Ray error:
    # RuntimeError: this node lacks what lnas_node_check needs", stored FAILED as the
    # architecture's failure, and the next trials were given to the same actor
    monkeypatch.chdir(REPO)  # workers import tests.*
    ray_options = {"address": mixed_nodes.address, "num_cpus": 1,
                   "runtime_env": {"lnas_node_check": {"check": True}}}
    run, trainer = tmp_path / "run", {**tiny_trainer, "max_epochs": 1}  # (was 2 epochs)
    with pytest.raises(SearchError, match=r"a Ray actor started for trial 2 cannot start "
                                          r"on the cluster: .*this node lacks what "
                                          r"lnas_node_check needs.*resume") as stop:
        Search(TinyNet, SPACE, data="tests.helpers.BlobData", trainer=trainer, budget=3,
               executor="ray", num_workers=2, optimizer="RandomSearch", seed=1,
               ray=ray_options, run_dir=run, verbose=False).run()
    assert "search.ray.runtime_env=" in str(stop.value)
    assert not ray.is_initialized()
    with RunStore(run / "search.db") as store:
        stored = {t.trial_id: t.status for t in store.trials()}
    assert stored[1] is TrialStatus.COMPLETED  # the trial on the head node: kept
    assert TrialStatus.FAILED not in stored.values(), stored
    assert stored[2] is TrialStatus.RUNNING  # not run: a resume runs it
    # (that resume, the same command once the node is gone, is the next test's; was run
    # here too: a third search, its actor and two trials)


@pytest.mark.slow  # a two-node cluster and two searches: about a minute on two cores
def test_a_later_ray_actor_that_dies_before_it_answers_stops_the_search_and_fails_no_trial(
        tmp_path, mixed_nodes, tiny_trainer, monkeypatch):
    # was (before the SearchError): the trial given to it stored FAILED, "trial process
    # died (Ray actor: ...)", though it never ran; this test injected a failing actor class
    # through RayExecutor's private _remote, now the actor's node is lost (as a preempted
    # node is) while it sets its runtime_env up
    monkeypatch.chdir(REPO)  # workers import tests.*
    ray_options = {"address": mixed_nodes.address, "num_cpus": 1,
                   "runtime_env": {"lnas_node_check": {"stall": 300}}}
    (bad,) = mixed_nodes.worker_nodes
    run, trainer = tmp_path / "run", {**tiny_trainer, "max_epochs": 1}  # (was 2 epochs)

    def lose_the_node(result) -> None:  # trial 1 is stored, trial 2's actor still starting
        if result.trial_id == 1:
            mixed_nodes.remove_node(bad)

    def search(workers: int, on_trial_end=None) -> Search:
        return Search(TinyNet, SPACE, data="tests.helpers.BlobData", trainer=trainer,
                      budget=2, executor="ray", num_workers=workers,
                      optimizer="RandomSearch", seed=1, ray=ray_options, run_dir=run,
                      on_trial_end=on_trial_end, verbose=False)

    with pytest.raises(SearchError, match=r"a Ray actor started for trial 2 cannot start "
                                          r"on the cluster: .*see `ray status`.*resume"):
        search(2, lose_the_node).run()
    assert not ray.is_initialized()
    with RunStore(run / "search.db") as store:
        stored = {t.trial_id: t.status for t in store.trials()}
    assert stored == {1: TrialStatus.COMPLETED, 2: TrialStatus.RUNNING}, stored

    # the node gone, the same command resumes: trial 2 runs on the head node
    result = search(1).run()
    assert [(t.trial_id, t.status) for t in result.trials] == [
        (i, TrialStatus.COMPLETED) for i in (1, 2)], [t.error for t in result.trials]

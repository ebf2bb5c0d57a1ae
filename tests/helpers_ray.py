"""Ray for the tests: trial models that record where and how they ran, a Ray temp folder of
a test's own, a cluster on the loopback address (Ray's ``cluster_utils.Cluster``), and a
connection to one that waits until the trials of an earlier test have let its CPUs go.

Example:
    >>> from tests.helpers_ray import LOOPBACK, free_port
    >>> 0 < free_port() < 65536 and LOOPBACK == "127.0.0.1"
    True
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers_models import TinyNet
from tests.launcher import stat

__all__ = ["LOOPBACK", "NO_PRESTART", "SPACE", "NodeNet", "ThreadNet", "added_node", "connect",
           "cpus_held", "free_port", "loads_torch", "loopback_cluster", "no_prestart",
           "ray_folder", "trial_actors"]

LOOPBACK = "127.0.0.1"
#: the space of the Ray tests' searches (``test_ray_cluster``, ``test_ray_cluster_errors``)
SPACE = {"width": {"choice": [4, 8, 16, 32]}, "lr": {"float": [0.05, 0.3]}}
#: each node's settings: one CPU, on the loopback address only
_NODE = {"num_cpus": 1, "node_ip_address": LOOPBACK, "include_log_monitor": False}
#: Ray's settings (read by each node's raylet from its environment) that start no idle
#: Python workers ahead of use, at a node's start and at its first driver's connection (one
#: per CPU, about half a CPU-second each): a search's actors never run in them, since each
#: actor's ``runtime_env`` (``PYTHONPATH`` among its ``env_vars``) differs from the job's
NO_PRESTART = {"RAY_enable_worker_prestart": "0", "RAY_prestart_worker_first_driver": "0"}
#: seconds a test waits for the CPUs an earlier test's actors held (killed: Ray frees them)
FREE_TIMEOUT = 120.0


class NodeNet(TinyNet):
    """``TinyNet`` that writes where its trial ran (Ray node, process, and whether the
    process has the run store's file open) to ``<trial dir>/where.json``."""

    def on_fit_end(self) -> None:
        import ray

        fds = Path("/proc/self/fd")
        links = [os.path.realpath(fd) for fd in fds.iterdir()] if fds.exists() else []
        record = {"node": ray.get_runtime_context().get_node_id(), "pid": os.getpid(),
                  "store_open": any("search.db" in link for link in links)}
        path = Path(self.trainer.default_root_dir) / "where.json"
        path.write_text(json.dumps(record))


class ThreadNet(TinyNet):
    """``TinyNet`` that writes the torch threads (and ``OMP_NUM_THREADS``) its trial
    trained with to ``<trial dir>/threads.json``."""

    def on_train_start(self) -> None:
        import torch

        record = {"torch": torch.get_num_threads(), "omp": os.environ.get("OMP_NUM_THREADS")}
        path = Path(self.trainer.default_root_dir) / "threads.json"
        path.write_text(json.dumps(record))


def free_port() -> int:
    """A TCP port of the loopback address that nothing listens on now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def no_prestart(monkeypatch: pytest.MonkeyPatch) -> None:
    """``NO_PRESTART`` set in this process's environment (a Ray node started from it, or a
    local Ray a search starts, reads it) until ``monkeypatch`` undoes it."""
    for key, value in NO_PRESTART.items():
        monkeypatch.setenv(key, value)


@contextmanager
def ray_folder(monkeypatch: pytest.MonkeyPatch, folder: str | None = None) -> Iterator[str]:
    """``RAY_TMPDIR`` set to ``folder`` (by default a new one, removed at the end), Ray's
    usage stats off and no idle workers started ahead (``NO_PRESTART``): short (Ray's socket
    paths have a length limit), and a cluster's address file there does not redirect other
    ``ray.init()`` calls."""
    own = folder is None
    folder = folder or tempfile.mkdtemp(prefix="lnas-ray-", dir="/tmp")
    monkeypatch.setenv("RAY_TMPDIR", folder)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    no_prestart(monkeypatch)
    try:
        yield folder
    finally:
        if own:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def loopback_cluster(nodes: int) -> Iterator[Any]:
    """A head and ``nodes - 1`` worker nodes of one CPU each, on the loopback address only
    (``RAY_TMPDIR`` set by the caller); Ray disconnected and the cluster shut down at the
    end."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={**_NODE, "include_dashboard": False})
    try:
        for _ in range(nodes - 1):
            cluster.add_node(**_NODE)
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


@contextmanager
def added_node(cluster: Any, num_gpus: int = 0) -> Iterator[Any]:
    """A worker node of one CPU on the loopback address added to ``cluster`` (a
    ``loopback_cluster``), removed at the end, once the cluster sees it gone: a cluster of
    more nodes for one test, without starting and stopping a head node of its own (seconds).
    ``num_gpus``: the GPUs it says it has (Ray takes the count as given, with no GPU here).

    Example:
        >>> with added_node(cluster) as node:  # doctest: +SKIP
        ...     len(cluster.list_all_nodes())
        2
    """
    node = cluster.add_node(**_NODE, num_gpus=num_gpus)  # (waits until it is alive)
    try:
        yield node
    finally:
        cluster.remove_node(node)
        cluster.wait_for_nodes()


def connect(address: str) -> None:
    """``ray.init`` to the cluster at ``address`` (as a user would, ``log_to_driver`` off),
    then wait until all its CPUs are free: an earlier test's actors, killed, let theirs go
    a moment later (or, dropped unkilled, once Ray collects them).

    Raises:
        RuntimeError: they were not free within ``FREE_TIMEOUT`` seconds.
    """
    import ray

    from lightning_nas.search.ray_checks import keep_loopback

    with keep_loopback(ray, LOOPBACK):
        ray.init(address=address, log_to_driver=False)
    if cpus_held():
        raise RuntimeError(f"the cluster's CPUs were still held after {FREE_TIMEOUT:g} s: "
                           f"{ray.available_resources()} of {ray.cluster_resources()}")


def cpus_held(at_most: float = 0.0, timeout: float = FREE_TIMEOUT) -> float:
    """The CPUs that actors hold on the cluster Ray is connected to, once they are at most
    ``at_most`` or ``timeout`` seconds have passed (a killed actor lets its CPUs go a
    moment later; one still running a call holds them on).

    Example:
        >>> cpus_held(at_most=0.5, timeout=30)  # doctest: +SKIP
        0.5
    """
    import ray

    deadline = time.monotonic() + timeout
    while True:
        held = ray.cluster_resources().get("CPU", 0) - ray.available_resources().get("CPU", 0)
        if held <= at_most or time.monotonic() > deadline:
            return held
        time.sleep(0.1)


def trial_actors() -> set[int]:
    """The pids of this machine's Ray trial actors (``ray::RayTrialActor...``) that are
    descendants of this process (a cluster it started: ``loopback_cluster``, Ray's
    ``cluster_utils.Cluster``)."""
    parents: dict[int, int] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        fields = stat(int(proc.name))
        if len(fields) > 1 and fields[0] != "Z":
            parents[int(proc.name)] = int(fields[1])
    ours, mine = set(), os.getpid()
    for pid in parents:
        up, seen = pid, set()
        while up in parents and up not in seen and up != mine:
            seen.add(up)
            up = parents[up]
        if up != mine:
            continue
        try:
            name = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if name.startswith(b"ray::RayTrialActor"):
            ours.add(pid)
    return ours


def loads_torch(pid: int) -> bool:
    """Whether process ``pid`` has torch's library loaded (it imported torch)."""
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()

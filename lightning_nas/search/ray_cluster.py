"""The cluster side of ``RayExecutor`` (``search.ray_executor``): its mixin ``RayCluster``.

Before the first actor starts, ``RayExecutor.start`` connects to the cluster (``_connect``:
``ray.init`` with ``search.ray``'s arguments, a cluster given by address reached first with a
plain connection) or, with Ray initialised in the process already, refuses a ``ray.init``
argument that would not apply (``_check_live``); builds each actor's ``runtime_env`` (the
current folder and ``PYTHONPATH`` on the workers' ``PYTHONPATH``: ``_runtime_env``); and
checks that one trial's ``num_cpus``/``num_gpus`` fit on one of the cluster's nodes
(``_check_resources``, ``_trials_on``).

Example:
    >>> from lightning_nas.search.ray_executor import RayExecutor
    >>> issubclass(RayExecutor, RayCluster)
    True
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from lightning_nas.errors import ConfigError
from lightning_nas.search.lifetime import sigterm_kept
from lightning_nas.search.ray_checks import (
    check_gpus_reserved,
    check_reachable,
    keep_loopback,
    same_cluster,
    split_address,
    unconnected,
)
from lightning_nas.search.trial import TrialSpec
from lightning_nas.user_warnings import warn_user
from lightning_nas.wording import counted

__all__ = ["RayCluster"]


class RayCluster:
    """The connection to the Ray cluster and its checks before the actors start (see the
    module docstring), for ``RayExecutor``, which sets the attributes below.

    Attributes:
        init_kwargs: ``search.ray``'s ``ray.init`` arguments.
        num_workers, num_cpus, num_gpus: the actors at most and each trial's resources.
        probe: a trial's spec, or None.
    """

    _ray: Any
    init_kwargs: dict[str, Any]
    num_workers: int
    num_cpus: float
    num_gpus: float
    probe: TrialSpec | None
    _owns_ray: bool

    def _check_live(self) -> None:
        """Ray is initialised in this process already (the user's ``ray.init``): the
        search runs its trials on that connection, so a ``ray.init`` argument of
        ``search.ray`` would not apply; one other than ``runtime_env`` (each actor's) and
        an ``address`` or ``namespace`` the connection has is refused."""
        context = self._ray.get_runtime_context()
        live = context.gcs_address
        for key, value in self.init_kwargs.items():
            if key in ("runtime_env", "ignore_reinit_error") \
                    or (key == "address" and same_cluster(value, live)) \
                    or (key == "namespace" and value == context.namespace):
                continue
            raise ConfigError(
                f"search.ray.{key}={value!r} is a ray.init argument, and Ray is already "
                f"initialised in this process (connected to {live!r}): the search runs its "
                f"trials on that connection, where {key} does not apply. Drop "
                f"search.ray.{key} (num_cpus, num_gpus and runtime_env still apply to each "
                f"trial), or call ray.shutdown() before the search")

    def _runtime_env(self) -> dict[str, Any]:
        """Each actor's ``runtime_env``: ``search.ray.runtime_env`` with the current folder
        and ``PYTHONPATH`` (after those of the job's own ``runtime_env``) on
        ``PYTHONPATH``, unless it sets one, so that a project's modules import there."""
        runtime_env = dict(self.init_kwargs.get("runtime_env") or {})
        env_vars = dict(runtime_env.get("env_vars") or {})
        job = dict((self._ray.get_runtime_context().runtime_env or {}).get("env_vars") or {})
        parts = [job.get("PYTHONPATH", ""), os.getcwd(), os.environ.get("PYTHONPATH", "")]
        env_vars.setdefault("PYTHONPATH", os.pathsep.join(p for p in parts if p))
        runtime_env["env_vars"] = env_vars
        return runtime_env

    def _connect(self) -> None:
        """``ray.init`` with the ``init`` arguments; a cluster given by address (its
        ``address``, else Ray's ``RAY_ADDRESS``) is reached first with a plain connection,
        so that a wrong address fails at once (was: for ``RAY_ADDRESS``, Ray's minutes of
        retries)."""
        ray = self._ray
        kwargs = dict(self.init_kwargs)
        address, named = kwargs.get("address"), "search.ray.address"
        if address is None and os.environ.get("RAY_ADDRESS"):  # (ray.init reads it then)
            address, named = os.environ["RAY_ADDRESS"], "RAY_ADDRESS"
        where = split_address(address) if isinstance(address, str) else None
        if where is not None:
            check_reachable(address, *where, named=named)
        kwargs.pop("runtime_env", None)  # each actor's (start)
        kwargs.setdefault("log_to_driver", False)
        try:  # (the SIGTERM handler that ray.init replaces is put back: sigterm_kept)
            with sigterm_kept(), keep_loopback(ray, where[0] if where else ""):
                ray.init(**kwargs)
        except BaseException as err:  # a SIGTERM or a Ctrl-C in it too: what it started ends
            with sigterm_kept():
                ray.shutdown()
            if isinstance(err, (ConnectionError, TimeoutError)):
                raise unconnected(address, err, named) from err
            if isinstance(err, (TypeError, ValueError)):  # a value only ray.init checks
                raise ConfigError(f"ray.init refused search.ray "
                                  f"({', '.join(self.init_kwargs)}): {err}") from err
            raise
        self._owns_ray = True

    def _check_resources(self) -> None:
        """Check the trials that fit on the cluster at once: one trial must fit on one node,
        fewer than ``num_workers`` at once is a warning (the other actors, once started, wait
        for resources, e.g. for an autoscaler); and that trials of ``accelerator='auto'``
        reserve the GPUs of a cluster that has some (``check_gpus_reserved``)."""
        nodes = [n.get("Resources", {}) for n in self._ray.nodes() if n.get("Alive")]
        check_gpus_reserved(self.probe, self.num_gpus, sum(r.get("GPU", 0) for r in nodes))
        fits = sum(self._trials_on(resources) for resources in nodes)
        if fits == 0:
            have = "; ".join(f"CPU {r.get('CPU', 0):g}, GPU {r.get('GPU', 0):g}"
                             for r in nodes) or "no nodes"
            raise ConfigError(
                f"no node of the Ray cluster has the resources of one trial "
                f"(search.ray.num_cpus={self.num_cpus:g}, num_gpus={self.num_gpus:g}); its "
                f"nodes have: {have}. Lower search.ray.num_cpus/num_gpus or add nodes")
        if fits < self.num_workers:
            warn_user(f"the Ray cluster fits {counted(fits, 'trial')} at once "
                      f"(search.ray.num_cpus={self.num_cpus:g}, num_gpus="
                      f"{self.num_gpus:g}) but num_workers={self.num_workers}: the other "
                      f"workers wait until the cluster has room")

    def _trials_on(self, resources: Mapping[str, float]) -> int:
        """How many trials fit on a node with ``resources`` at once."""
        counts = [math.floor(resources.get(name, 0.0) / need + 1e-9)
                  for name, need in (("CPU", self.num_cpus), ("GPU", self.num_gpus)) if need > 0]
        return min(counts) if counts else self.num_workers

"""``RayExecutor``: trials as calls on reused Ray actors, on a local or an existing cluster.

Example:
    >>> RayExecutor(num_workers=2, num_cpus=1).num_workers  # doctest: +SKIP
    2
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialResult
from lightning_nas.search.executor import TrialExecutor, failed_result
from lightning_nas.search.runner import run_trial
from lightning_nas.search.trial import TrialSpec

__all__ = ["RayExecutor"]


class _RayTrialActor:
    """Ray actor that runs trials; reused across trials like a process worker."""

    def __init__(self, threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))

    def run(self, spec: TrialSpec) -> TrialResult:
        return run_trial(spec)


class RayExecutor(TrialExecutor):
    """Trials as calls on Ray actors (one per worker, reused), with CPU/GPU resources.

    Args:
        num_workers: actors, i.e. trials at once.
        num_cpus: CPUs each trial reserves (also its torch threads).
        num_gpus: GPUs each trial reserves (Ray sets ``CUDA_VISIBLE_DEVICES`` per actor).
        init: keyword arguments of ``ray.init`` (e.g. ``address: auto``) when Ray is not
            initialised yet; by default a local cluster. The current folder is put on the
            workers' ``PYTHONPATH`` so configs' class paths import there too.
    """

    def __init__(self, num_workers: int = 2, num_cpus: float = 1, num_gpus: float = 0,
                 init: Mapping[str, Any] | None = None) -> None:
        try:
            import ray
        except ImportError as err:
            raise ConfigError("executor 'ray' needs Ray: pip install 'lightning-nas[ray]'") \
                from err
        self._ray = ray
        self.num_workers = num_workers
        self.num_cpus, self.num_gpus = num_cpus, num_gpus
        self.init_kwargs = dict(init or {})
        self._actors: list[Any] = []
        self._running: dict[Any, tuple[int, TrialSpec, float]] = {}
        self._owns_ray = False

    def start(self) -> None:
        ray = self._ray
        if not ray.is_initialized():
            kwargs = dict(self.init_kwargs)
            runtime_env = dict(kwargs.pop("runtime_env", {}) or {})
            env_vars = dict(runtime_env.get("env_vars", {}))
            env_vars.setdefault("PYTHONPATH", os.pathsep.join(
                [os.getcwd(), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
            runtime_env["env_vars"] = env_vars
            kwargs.setdefault("log_to_driver", False)
            ray.init(runtime_env=runtime_env, **kwargs)
            self._owns_ray = True
        while len(self._actors) < self.num_workers:
            self._actors.append(self._new_actor())

    def _new_actor(self) -> Any:
        remote = self._ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus)
        return remote(_RayTrialActor).remote(int(max(1, self.num_cpus)))

    def submit(self, spec: TrialSpec) -> None:
        if not self._actors:
            self.start()
        busy = {i for i, _, _ in self._running.values()}
        index = next(i for i in range(self.num_workers) if i not in busy)
        ref = self._actors[index].run.remote(spec)
        self._running[ref] = (index, spec, time.time())

    def wait(self) -> list[TrialResult]:
        ready, _ = self._ray.wait(list(self._running), num_returns=1)
        results = []
        for ref in ready:
            index, spec, started = self._running.pop(ref)
            try:
                results.append(self._ray.get(ref))
            except self._ray.exceptions.RayActorError as err:
                results.append(failed_result(spec, f"trial process died (Ray actor: {err})",
                                             started))
                self._actors[index] = self._new_actor()
            except self._ray.exceptions.RayError as err:
                results.append(failed_result(spec, f"Ray error: {err}", started))
        return results

    def shutdown(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors, self._running = [], {}
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False

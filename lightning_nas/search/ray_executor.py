"""``RayExecutor``: trials as calls on reused Ray actors, on a local or an existing cluster.

``start`` connects to the cluster (``search.ray.address``; with Ray initialised in the
process already, it refuses a ``ray.init`` argument that would not apply), checks that one
trial's ``num_cpus``/``num_gpus`` fit on one of its nodes, starts one actor and waits until
it answers (its ``runtime_env`` built, the trial code imported, and ``probe``, a trial's spec,
unpickled: every module a trial uses imported there) before the search writes anything, so an
unreachable or too small cluster, or an actor that cannot start or import the trials'
modules, is one ``ConfigError`` that nothing is lost by. The other actors (up to
``num_workers``) start as trials are submitted to them, so a search with fewer trials to run
than workers holds no more of the cluster than those trials need; one of them that cannot
start (its ``runtime_env`` not set up on its node, or not scheduled) stops the search with
a ``SearchError``: its trial was not run, and a resume runs it.

The checks of ``search.ray`` and of the cluster before the actors start, and the wording of
Ray's errors, are those of ``ray_checks``; the actor, and the error of a trial whose actor
died, those of ``ray_actor``. The connection to the cluster and its checks are the mixin
``ray_cluster.RayCluster``'s; the trials' calls on the actors (``submit``, ``wait``) the mixin
``ray_calls.RayCalls``'s.

Example:
    >>> RayExecutor(num_workers=2, num_cpus=1).num_workers  # doctest: +SKIP
    2
"""

from __future__ import annotations

import inspect
import math
import os
import re
from collections.abc import Mapping
from typing import Any

from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.numeric import is_number
from lightning_nas.search.executor import TrialExecutor
from lightning_nas.search.lifetime import sigterm_kept
from lightning_nas.search.ray_actor import RayTrialActor
from lightning_nas.search.ray_calls import RayCalls
from lightning_nas.search.ray_checks import PER_TRIAL, cannot_import, check_init, gist
from lightning_nas.search.ray_cluster import RayCluster
from lightning_nas.search.trial import TrialSpec
from lightning_nas.user_warnings import warn_user
from lightning_nas.wording import counted

__all__ = ["RayExecutor"]

#: seconds to wait for the first actor to answer before the search goes on without it (a
#: ``runtime_env`` is built first); if it fails in that time, the search stops
START_TIMEOUT = 300.0


class RayExecutor(RayCalls, RayCluster, TrialExecutor):
    """Trials as calls on Ray actors (one per worker, reused), with CPU/GPU resources.

    ``start`` starts the first actor and waits for it to answer; each other actor starts
    when a trial is first submitted to it, so only as many start as trials run at once
    (a budget-1 search with two workers starts one), and an actor that died is replaced
    when the next trial needs it. An actor that cannot start (its ``runtime_env`` not set
    up on the node Ray placed it on, not scheduled, dead before it first answered) runs no
    trial: ``wait`` returns the results of the trials running elsewhere, then raises a
    ``SearchError`` naming the cause (``submit`` raises it meanwhile); the trial given to it
    is not a failure of its architecture, and stays for a resume to run (was: FAILED, and
    the next trials were given to the same actor).

    Args:
        num_workers: actors at most, i.e. trials at once.
        num_cpus: CPUs each trial reserves.
        num_gpus: GPUs each trial reserves (Ray sets ``CUDA_VISIBLE_DEVICES`` per actor).
        init: keyword arguments of ``ray.init`` (e.g. ``address: auto``; by default a local
            cluster); with Ray initialised already, only those its connection has. Its
            ``runtime_env`` is each actor's, with the current folder and ``PYTHONPATH`` put
            on the workers' ``PYTHONPATH`` so configs' class paths import there too.
        threads: each trial's torch threads (default: ``num_cpus``, at least 1).

    Attributes:
        probe: a trial's spec (``Search.run`` sets a dry one before ``start``): the first
            actor unpickles it as it starts, so a module of the trials it cannot import
            (found through the driver's ``sys.path`` only) is a ``ConfigError`` there.
    """

    isolates_trials = True

    def __init__(self, num_workers: int = 2, num_cpus: float = 1, num_gpus: float = 0,
                 init: Mapping[str, Any] | None = None, threads: int | None = None) -> None:
        try:
            import ray
        except ImportError as err:
            raise ConfigError("executor 'ray' needs Ray: pip install 'lightning-nas[ray]'") \
                from err
        self._ray = ray
        self.init_kwargs = dict(init or {})
        check_init(self.init_kwargs, inspect.signature(ray.init).parameters)
        for key, value in zip(PER_TRIAL, (num_cpus, num_gpus), strict=True):
            if not is_number(value) or not 0 <= value < math.inf:
                raise ConfigError(f"search.ray.{key} must be a number >= 0 (the "
                                  f"{key[4:].upper()[:-1]}s each trial reserves, e.g. 1 or "
                                  f"0.5), got {value!r}")
        try:  # Ray's own checks of the values (no cluster is needed for them)
            self._remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(RayTrialActor)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"search.ray.num_cpus={num_cpus!r}/num_gpus={num_gpus!r} "
                              f"refused by Ray: {err}") from err
        self.num_workers = num_workers
        self.num_cpus, self.num_gpus = num_cpus, num_gpus
        self.cpu_threads = threads or int(max(1, num_cpus))  # each actor's torch threads
        self._actors: list[Any] = []  # one slot per worker once started; None: not running
        self._answered: list[bool] = []  # per slot: its actor answered a call (it started)
        self._not_started: SearchError | None = None  # an actor that cannot start: raised
        self._actor_env: dict[str, Any] = {}
        self._cwd: str | None = None  # the actors' current folder: the search's (start)
        self._running = {}  # a trial's result ref -> its call (``RayCalls``)
        self._relay: Any = None  # the trials' warnings as made (``ray_relay``), if a console
        self._owns_ray = False
        self.probe: TrialSpec | None = None

    def start(self) -> None:
        """End an earlier start's actors (``end_actors``), connect to the cluster (or start a
        local one), check that one trial fits on one of its nodes, start the first actor and
        wait until it answers (the others start as trials are submitted to them).

        Raises:
            ConfigError: the cluster's address does not answer, no node has the
                ``num_cpus``/``num_gpus`` of one trial, or the first actor cannot start (its
                ``runtime_env`` not built, the trial code or a module ``probe`` needs not
                imported).
        """
        ray = self._ray
        self.end_actors()  # an earlier search's (fresh ones import the code as it is now)
        if ray.is_initialized():
            self._check_live()
        else:
            self._connect()
        try:
            self._check_resources()
            self._actor_env, self._cwd = self._runtime_env(), os.getcwd()  # (the actors')
            try:
                first = self._new_actor()
            except (TypeError, ValueError) as err:  # e.g. a working_dir that is not there
                raise ConfigError(f"search.ray.runtime_env="
                                  f"{self.init_kwargs.get('runtime_env')!r} refused by Ray: "
                                  f"{err}") from err
            self._actors = [first] + [None] * (self.num_workers - 1)
            self._answered = [False] * self.num_workers
            self._answered[0] = self._await_actors([first]) == 1
        except ConfigError:
            self.shutdown()
            raise

    def _await_actors(self, actors: list[Any]) -> int:
        """Wait (at most ``START_TIMEOUT`` seconds, then warn and go on) until ``actors``
        answer a call: an actor builds ``search.ray.runtime_env``, imports the trial code
        and unpickles ``probe`` as it starts, so what fails there is one ``ConfigError``
        before the run folder is written. Returns how many answered."""
        ray = self._ray
        probe = None if self.probe is None else ray.put(self.probe)  # sent once, for all
        pings = [actor.ping.remote(probe) for actor in actors]
        count = len(pings)
        ready, _ = ray.wait(pings, num_returns=count, timeout=START_TIMEOUT)
        for ref in ready:
            try:
                ray.get(ref)
            except ray.exceptions.RuntimeEnvSetupError as err:
                raise ConfigError(
                    f"search.ray.runtime_env={self.init_kwargs.get('runtime_env')!r} cannot "
                    f"be set up on the Ray cluster: {gist(err)}. Fix it or leave it out "
                    f"(nothing ran, nothing was written)") from err
            except ray.exceptions.RayError as err:
                missing = re.search(r"No module named '([^']+)'", gist(err))
                if missing:
                    raise ConfigError(cannot_import(missing[1])) from err
                raise ConfigError(
                    f"the Ray actors that run the trials cannot start on the cluster: "
                    f"{gist(err)}. Its nodes must import lightning_nas and the project's "
                    f"modules (the current folder and PYTHONPATH are put on their path; "
                    f"search.ray.runtime_env can install packages)") from err
        if len(ready) < count:  # a busy cluster, a long pip install: they wait, as before
            late = count - len(ready)
            theirs = "its trials start when it does" if late == 1 else ("their trials start "
                                                                        "when they do")
            warn_user(f"{counted(late, 'Ray actor')} of the trials did not answer within "
                      f"{START_TIMEOUT:g} s (the cluster busy, see `ray status`, or "
                      f"search.ray.runtime_env still building); the search goes on and "
                      f"{theirs}")
        return len(ready)

    def _new_actor(self) -> Any:
        return self._remote.options(runtime_env=self._actor_env).remote(self.cpu_threads,
                                                                        self._cwd)

    def end_actors(self) -> None:
        """Kill the actors started (a trial running on one is abandoned: a resume runs it),
        Ray still connected: ``start`` first, so a second search with the executor starts
        fresh ones (was: the earlier ones dropped unkilled, one running a trial ran on), and
        a search's end, for a user's executor's.

        Example:
            >>> executor.end_actors()  # doctest: +SKIP
        """
        for actor in self._actors if self._ray.is_initialized() else ():  # (else gone
            if actor is not None:  # with the connection: a job's actors end with it)
                self._ray.kill(actor)
        if self._relay is not None and self._ray.is_initialized():
            self._ray.kill(self._relay)
        self._actors, self._answered, self._running, self._relay = [], [], {}, None
        self._not_started = None  # (a user's executor may start again)

    def shutdown(self) -> None:
        self.end_actors()
        if self._owns_ray:
            with sigterm_kept():  # (a SIGTERM's default action left beneath it)
                self._ray.shutdown()
            self._owns_ray = False

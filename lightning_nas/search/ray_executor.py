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
died, those of ``ray_actor``.

Example:
    >>> RayExecutor(num_workers=2, num_cpus=1).num_workers  # doctest: +SKIP
    2
"""

from __future__ import annotations

import inspect
import math
import os
import re
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.numeric import is_number
from lightning_nas.results import TrialResult
from lightning_nas.search.executor import TrialExecutor, failed_result
from lightning_nas.search.lifetime import sigterm_kept
from lightning_nas.search.progress_file import died_progress
from lightning_nas.search.ray_actor import RayTrialActor, actor_died
from lightning_nas.search.ray_checks import (
    ANSI,
    PER_TRIAL,
    cannot_import,
    check_gpus_reserved,
    check_init,
    check_reachable,
    gist,
    keep_loopback,
    same_cluster,
    split_address,
    unconnected,
)
from lightning_nas.search.ray_relay import POLL, RayRelay, take_said
from lightning_nas.search.relayed import say_relayed
from lightning_nas.search.trial import TrialSpec
from lightning_nas.user_warnings import console_command, warn_user
from lightning_nas.wording import counted

__all__ = ["RayExecutor"]

#: seconds to wait for the first actor to answer before the search goes on without it (a
#: ``runtime_env`` is built first); if it fails in that time, the search stops
START_TIMEOUT = 300.0


class _Call(NamedTuple):
    """A trial submitted to actor ``index``: its spec, its start, the ``ping`` sent ahead
    of it (``alive``) and whether it runs again, its first actor dead before it started."""

    index: int
    spec: TrialSpec
    started: float
    alive: Any = None
    rerun: bool = False


class RayExecutor(TrialExecutor):
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
        self._running: dict[Any, _Call] = {}  # a trial's result ref -> its call
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

    def _trials_on(self, resources: Mapping[str, float]) -> int:
        """How many trials fit on a node with ``resources`` at once."""
        counts = [math.floor(resources.get(name, 0.0) / need + 1e-9)
                  for name, need in (("CPU", self.num_cpus), ("GPU", self.num_gpus)) if need > 0]
        return min(counts) if counts else self.num_workers

    def _new_actor(self) -> Any:
        return self._remote.options(runtime_env=self._actor_env).remote(self.cpu_threads,
                                                                        self._cwd)

    def submit(self, spec: TrialSpec) -> None:
        """Run ``spec``'s trial on an idle actor, or on one started for it when none is
        (``start`` first, if it was not called).

        Raises:
            SearchError: an actor started earlier could not start (no trial starts after
                that; ``wait`` raises it too, once the trials running are back).
        """
        if self._not_started is not None:
            raise self._not_started
        if not self._actors:
            self.start()
        busy = {call.index for call in self._running.values()}
        free = [i for i in range(self.num_workers) if i not in busy]
        if not free:
            raise RuntimeError("all Ray actors are busy; wait() for a result first")
        index = next((i for i in free if self._actors[i] is not None), free[0])
        if self._actors[index] is None:  # no idle actor: one more is started, for it
            self._actors[index], self._answered[index] = self._new_actor(), False
        self._call(_Call(index, spec, time.time()))

    def _call(self, call: _Call) -> None:
        """Run ``call``'s trial on its actor, after a ``ping`` that answers only if the
        actor is alive when the trial is to start (an actor runs its calls in order)."""
        actor, command = self._actors[call.index], console_command()
        if command and self._relay is None:  # (no CPU: it fits a cluster the trials fill)
            self._relay = self._ray.remote(num_cpus=0)(RayRelay).options(
                runtime_env=self._actor_env).remote()
        call = call._replace(alive=actor.ping.remote())
        self._running[actor.run.remote(call.spec, command,
                                       self._relay if command else None)] = call

    def _say_sent(self) -> None:
        """Say the warnings the trials' actors sent to the relay since the last look."""
        said = None if self._relay is None else take_said(self._relay)
        if said is None:  # none, or the relay dead: each trial's come with its result
            self._relay = None
        say_relayed(said or [])

    def wait(self) -> list[TrialResult]:
        """Block until a trial has finished; return those results. A trial whose actor had
        died before it started (while idle: killed for memory, its node lost) runs again on
        a new actor, once, and is not returned until it finishes (was: FAILED, counted as
        a failed trial that never ran).

        Raises:
            SearchError: an actor cannot start (``_cannot_start``), once no trial that
                runs elsewhere is left (their results are returned first).
        """
        ray = self._ray
        results: list[TrialResult] = []
        while not results:
            if not self._running and self._not_started is not None:
                raise self._not_started  # the trials left are those it was given
            ready, _ = ray.wait(list(self._running), num_returns=1,
                                timeout=None if self._relay is None else POLL)
            self._say_sent()  # as they are made (was: with each trial's result)
            for ref in ready:
                call = self._running.pop(ref)
                try:
                    result, said = ray.get(ref)
                    self._answered[call.index] = True
                    say_relayed(said)  # the trial's warnings, as this process's own
                    results.append(result)
                except (ray.exceptions.RuntimeEnvSetupError,
                        ray.exceptions.ActorUnschedulableError) as err:
                    self._cannot_start(call, err)
                except ray.exceptions.RayActorError as err:
                    answered, self._actors[call.index] = self._answered[call.index], None
                    if not self._died_before(call):  # (replaced when a trial needs it)
                        results.append(died_progress(failed_result(  # with what it trained
                            call.spec, actor_died(err, call.rerun), call.started), call.spec))
                    elif not answered:  # it never started: a new one would not either
                        self._cannot_start(call, err)
                    else:  # it died while idle: not the trial's doing
                        self._actors[call.index] = self._new_actor()
                        self._answered[call.index] = False
                        self._call(call._replace(rerun=True))
                except ray.exceptions.RayError as err:  # first line: the cause, alike
                    # for each trial it fails (Ray's names the actor's pid and id), no colours
                    results.append(failed_result(
                        call.spec, f"Ray error: {gist(err)}\n{ANSI.sub('', str(err))}",
                        call.started))
        return results

    def _cannot_start(self, call: _Call, err: BaseException) -> None:
        """Keep the ``SearchError`` of ``call``'s actor, which cannot start (its
        ``runtime_env`` not set up on its node, not scheduled, dead before it answered):
        not the trial's failure, so it is not returned; ``wait`` and ``submit`` raise it."""
        self._actors[call.index] = None
        if self._not_started is not None:
            return
        env = self.init_kwargs.get("runtime_env")
        where = (f"search.ray.runtime_env={env!r} cannot be set up on the node Ray placed it "
                 f"on"
                 if isinstance(err, self._ray.exceptions.RuntimeEnvSetupError) else
                 "see `ray status` and the logs of the node Ray placed it on")
        self._not_started = SearchError(
            f"a Ray actor started for trial {call.spec.trial_id} cannot start on the "
            f"cluster: {gist(err)} ({where}). The trial did not run and is not counted as "
            f"failed; no more trials start, those running finish and are stored. Fix the "
            f"node (or take it out of the cluster), then run the same command again to "
            f"resume: it runs trial {call.spec.trial_id}")
        if self._running:  # said now: the search stops only once they are back
            left = len(self._running)
            warn_user(f"{self._not_started} (the search stops once the "
                      f"{counted(left, 'trial')} running {'is' if left == 1 else 'are'} "
                      f"back)")

    def _died_before(self, call: _Call) -> bool:
        """Whether ``call``'s actor was dead before its trial started: its ``ping`` failed
        too (unknown, e.g. no answer within a minute: not, and the trial is FAILED)."""
        try:
            self._ray.get(call.alive, timeout=60)
        except self._ray.exceptions.RayActorError:
            return True
        except self._ray.exceptions.RayError:  # GetTimeoutError among them
            return False
        return False

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

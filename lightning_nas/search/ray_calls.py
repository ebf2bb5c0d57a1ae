"""The trials' side of ``RayExecutor`` (``search.ray_executor``): its mixin ``RayCalls``.

``submit`` runs a trial on an idle actor, or on one started for it where none is idle, after a
``ping`` that answers only if the actor is alive when the trial is to start; ``wait`` returns
the results of the trials that finished (the warnings they sent to the relay said as they
come). A trial whose actor died while idle runs again on a new actor, once (``_died_before``);
an actor that cannot start (its ``runtime_env`` not set up on its node, not scheduled, dead
before it first answered) runs no trial: its ``SearchError`` (``_cannot_start``) is raised by
``submit``, and by ``wait`` once the trials running elsewhere are back.

Example:
    >>> from lightning_nas.search.ray_executor import RayExecutor
    >>> issubclass(RayExecutor, RayCalls)
    True
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from lightning_nas.errors import SearchError
from lightning_nas.results import TrialResult
from lightning_nas.search.executor import failed_result
from lightning_nas.search.progress_file import died_progress
from lightning_nas.search.ray_actor import actor_died
from lightning_nas.search.ray_checks import ANSI, gist
from lightning_nas.search.ray_relay import POLL, RayRelay, take_said
from lightning_nas.search.relayed import say_relayed
from lightning_nas.search.trial import TrialSpec
from lightning_nas.user_warnings import console_command, warn_user
from lightning_nas.wording import counted

__all__ = ["RayCalls"]


class _Call(NamedTuple):
    """A trial submitted to actor ``index``: its spec, its start, the ``ping`` sent ahead
    of it (``alive``) and whether it runs again, its first actor dead before it started."""

    index: int
    spec: TrialSpec
    started: float
    alive: Any = None
    rerun: bool = False


class RayCalls:
    """The trials' calls on the actors of ``RayExecutor`` (see the module docstring), which
    sets the attributes below and starts the actors (``start``, ``_new_actor``).

    Attributes:
        init_kwargs: ``search.ray``'s ``ray.init`` arguments.
        num_workers: the actors at most.
    """

    _ray: Any
    init_kwargs: dict[str, Any]
    num_workers: int
    _actors: list[Any]
    _answered: list[bool]
    _not_started: SearchError | None
    _actor_env: dict[str, Any]
    _running: dict[Any, _Call]
    _relay: Any

    start: Any  # (RayExecutor's)
    _new_actor: Any

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

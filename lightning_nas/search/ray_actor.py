"""``RayTrialActor``, the Ray actor that ``RayExecutor`` runs trials on, and the wording of a
trial whose actor died (``actor_died``).

The actor's process imports this module only (no torch, no Lightning) to start and answer
a ``ping``: a ``probe`` (a trial's spec) imports what the trials' modules import as it is
unpickled, and the first trial imports the trial code (``run_trial``) and sets the actor's
torch threads. So an actor whose trials' modules cannot be imported says so in a second,
not after seconds of imports (was: torch and Lightning imported by every actor as it
started).

Example:
    >>> actor_died(RuntimeError("The actor died.\\n\\tpid: 7")).splitlines()
    ['trial process died (Ray actor: The actor died)', '\\tpid: 7']
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from lightning_nas.results import PROCESS_DIED
from lightning_nas.search.ray_checks import ANSI

if TYPE_CHECKING:
    from lightning_nas.results import TrialResult
    from lightning_nas.search.relayed import Relayed
    from lightning_nas.search.trial_spec import TrialSpec

__all__ = ["RayTrialActor", "actor_died"]


def actor_died(err: BaseException, rerun: bool = False) -> str:
    """The error of a trial whose actor died while it ran: its first line ``trial process
    died (Ray actor: ...)`` with the first line of Ray's message, parentheses closed (was:
    closed only at the end of Ray's message, lines below, so the FAILED line left one open),
    then the rest of Ray's message (the actor's id and pid, why Ray thinks it died);
    ``rerun``: the trial was given a new actor, its first dead before it started.

    Example:
        >>> actor_died(RuntimeError("died.\\n\\tpid: 7"), rerun=True).splitlines()[1][:23]
        '(It ran on a new actor:'
    """
    first, *rest = ANSI.sub("", str(err)).strip().splitlines() or [type(err).__name__]
    again = ["(It ran on a new actor: the one it was given first had died before it "
             "started.)"] if rerun else []
    return "\n".join([f"{PROCESS_DIED} (Ray actor: {first.rstrip('.')})", *again, *rest])


class RayTrialActor:
    """Ray actor that runs trials; reused across trials like a process worker.

    Args:
        threads: each trial's torch threads (and ``OMP_NUM_THREADS`` for its DDP ranks).
        cwd: the search process's current folder: the actor works there, where that folder
            is on its node (a shared file system), so a relative ``run_dir`` (and a relative
            path of the user's) names what it names in the search process, as in a worker
            process (was: Ray's folder, the raylet's, where each trial's files went unseen).

    Example:
        >>> ray.remote(num_cpus=1)(RayTrialActor).remote(1, os.getcwd())  # doctest: +SKIP
    """

    def __init__(self, threads: int, cwd: str | None = None) -> None:
        self.threads = max(1, threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)  # (Ray set num_cpus) for DDP ranks
        if cwd is not None and os.path.isdir(cwd):
            os.chdir(cwd)

    def run(self, spec: TrialSpec, command: str | None = None,
            relay: Any = None) -> tuple[TrialResult, Relayed]:
        """Run ``spec``'s trial here (``run_trial``), with the actor's torch threads; under
        the search process's console (``command``) its warnings are sent to ``relay`` (a
        ``ray_relay.RayRelay``) as they are made, which the search process says them from
        as it waits (was: they came back with the trial's result, at its end; before that,
        said in Python's form into the actor's log), or, with no relay, come back so. The
        trial keeps what it trained in its folder as it trains (``progress_file``), for the
        record of an actor that dies in it (was: epochs None, no curve)."""
        import torch

        from lightning_nas.search.progress_file import note_progress, take_progress
        from lightning_nas.search.ray_relay import sender
        from lightning_nas.search.relayed import run_relayed

        torch.set_num_threads(self.threads)
        noted = note_progress(spec)
        done = run_relayed(spec, command, None if relay is None else sender(relay))
        if noted:  # the result holds it
            take_progress(spec.trial_dir)
        return done

    def ping(self, probe: TrialSpec | None = None) -> bool:
        """Answer once the actor is up and has unpickled ``probe`` (a trial's spec: the
        modules of its model, data, callbacks imported); ``RayExecutor.start`` waits for it."""
        return True

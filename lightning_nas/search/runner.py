"""Run a trial where its Trainer needs it: here, or on other processes.

A trial whose Trainer uses several processes (``strategy="ddp"``, ``devices=2``) must not
run inside the search driver or a worker: Lightning's launcher would re-execute the *current
command* once per rank. On one machine such trials run on a long-lived group of rank
processes (``lightning_nas.search.ranks``) that is reused trial after trial; over several
nodes each trial runs ``python -m lightning_nas.search.runner TRIAL_DIR/spec.pkl``, the
command the launcher re-executes. Either way every rank reads the same spec (the
architecture the driver chose), trains, and rank 0 writes ``result.json``; the driver is
never re-run. Whether a trial needs processes of its own, and the checks of its strategy and
of what it sends to them, are ``search/runner_checks.py``'s.

Example:
    >>> needs_own_process({"accelerator": "cpu", "devices": 2, "strategy": "ddp"})
    True
    >>> needs_own_process({"max_epochs": 3})
    False
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

from lightning_nas.devices import device_count
from lightning_nas.results import PROCESS_DIED, TrialResult, TrialStatus
from lightning_nas.search.checkpoints import checkpoint_complete, users_in_place
from lightning_nas.search.exit_gc import freeze_for_exit
from lightning_nas.search.fit_segments import end_own_fit, start_own_fit
from lightning_nas.search.lifetime import (
    child_env,
    ctrl_c_raised,
    describe_exit,
    die_with_parent,
    kill_group,
    parent_alive,
)
from lightning_nas.search.progress_file import PROGRESS, read_progress
from lightning_nas.search.rank_failures import blamed_where, fresh_failure
from lightning_nas.search.rank_zygote import zygote_for
from lightning_nas.search.ranks import execute_fresh, run_in_group
from lightning_nas.search.rendezvous import Rendezvous
from lightning_nas.search.runner_checks import needs_own_process
from lightning_nas.search.trial import TrialSpec, fit_trial
from lightning_nas.search.trial_hold import holding_trial
from lightning_nas.search.trial_logs import clear_trial

__all__ = ["FRESH_RANKS", "run_in_own_process", "run_on_ranks", "run_trial"]

#: set to ``1``, every multi-process trial starts fresh processes (``run_in_own_process``)
FRESH_RANKS = "LIGHTNING_NAS_FRESH_RANKS"
#: the search's pid, for the trial process ``run_in_own_process`` starts (rank 0 alone reads it)
_PARENT = "LIGHTNING_NAS_TRIAL_PARENT"
_LOG_TAIL = 3000


def _prepare(spec: TrialSpec) -> Path:
    """Make the trial's folder ready for other processes; return its ``spec.pkl``."""
    trial_dir = Path(spec.trial_dir)
    clear_trial(spec)  # a promotion keeps its folder (last.ckpt)
    trial_dir.mkdir(parents=True, exist_ok=True)
    for earlier in [trial_dir / "result.json", trial_dir / PROGRESS,
                    *trial_dir.glob("rank*.error"),
                    *trial_dir.glob("rank*.died"), *trial_dir.glob("rank*.where")]:
        earlier.unlink(missing_ok=True)  # a promotion's earlier segment
    spec_path = trial_dir / "spec.pkl"
    spec_path.write_bytes(pickle.dumps(spec))
    return spec_path


def _collect(spec: TrialSpec, started: float, failure: str, ranks_failed: bool) -> TrialResult:
    """Rank 0's ``result.json`` (a failed one led by ``failure`` when a rank failed), or a
    FAILED result saying ``failure`` and ending with the end of ``trial.log``, with the
    epochs and curve rank 0 trained up to then (``rank_progress``). ``failure``
    (``rank 1 failed the trial: RuntimeError: boom``) is the error's first line alone: the
    line a user reads first, the same in every trial that fails the same way."""
    trial_dir = Path(spec.trial_dir)
    result_path = trial_dir / "result.json"
    progress = read_progress(trial_dir)
    (trial_dir / PROGRESS).unlink(missing_ok=True)  # read: the result holds it
    if result_path.exists():
        data = json.loads(result_path.read_text())
        data["status"] = TrialStatus(data["status"])
        data["started"] = started  # the trial's time includes starting its processes
        if ranks_failed:  # the cause, then rank 0's echo; a failing rank fails the trial
            echo = data["error"] or "completed its part"
            first, _, rest = echo.partition("\n")
            data["error"] = (f"{failure}\n{rest}".rstrip("\n")  # rank 0's own, said once
                             if failure == f"rank 0 failed the trial: {first}" else  # (was:
                             f"{failure}\nrank 0: {echo}")  # its line twice)
            data["status"] = TrialStatus.FAILED
            data.update(blamed_where(trial_dir, failure) or {})  # (was: rank 0's)
        return TrialResult(**data)
    tail = (trial_dir / "trial.log").read_text(errors="replace")[-_LOG_TAIL:]
    return TrialResult(trial_id=spec.trial_id, arch=dict(spec.arch), status=TrialStatus.FAILED,
                       started=started, finished=time.time(),
                       error=f"{failure}\nno result was reported; end of "
                             f"{trial_dir / 'trial.log'}:\n{tail}",
                       **progress,  # (was: epochs None, no curve)
                       **(blamed_where(trial_dir, failure) or {}))


def run_in_own_process(spec: TrialSpec) -> TrialResult:
    """Run ``spec`` through ``python -m lightning_nas.search.runner`` and wait for it.

    Lightning's launcher starts the other ranks (several nodes). On one node they meet on
    a store this process serves while the trial runs (``rendezvous``; was: on the port
    Lightning's launcher chose free, which another process could take before rank 0 bound
    it: the trial FAILED, ``EADDRINUSE``). Any rank that is still
    alive when rank 0 ends is killed with its process group. A rank other than 0 that
    fails prints its error into ``trial.log`` and fails the trial, named as a group names
    it (``rank 1 failed the trial: RuntimeError: ...``, ``rank 1 died (exit code 3)``:
    ``execute_fresh``). A process that dies without a
    result gives a FAILED result with its exit code and the end of its output
    (``trial.log`` in the trial folder).
    """
    spec_path, started = _prepare(spec), time.time()
    one_node = int(spec.trainer.get("num_nodes", 1)) == 1  # else the cluster's port
    with open(spec_path.parent / "trial.log", "wb") as log, \
            (Rendezvous() if one_node else contextlib.nullcontext()) as meeting:
        command = [sys.executable, "-m", "lightning_nas.search.runner", str(spec_path)]
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                env={**child_env(), **(meeting.env if meeting else {}),
                                     _PARENT: str(os.getpid())},
                                start_new_session=True)
        try:
            code = proc.wait()
        finally:  # killed and reaped: an interrupt's rewrite of best.ckpt comes after rank 0
            kill_group(proc)
            proc.wait()
    failure = fresh_failure(spec_path.parent)
    if failure is not None:
        return _collect(spec, started, failure, True)
    return _collect(spec, started, f"{PROCESS_DIED} ({describe_exit(code)})", False)


def run_on_ranks(spec: TrialSpec) -> TrialResult:
    """Run ``spec`` on this thread's long-lived group of rank processes (``ranks``), one
    rank per device; the group is started on the first such trial and reused (its ranks
    forked from a zygote: ``rank_zygote``)."""
    spec_path, started = _prepare(spec), time.time()
    world_size = device_count(spec.trainer.get("devices", "auto"))
    if world_size == -1:
        import torch

        world_size = torch.cuda.device_count()
    with open(spec_path.parent / "trial.log", "wb") as log:
        failure = run_in_group(spec_path, spec.trainer, world_size, log, zygote_for)
    return _collect(spec, started, failure or "rank 0 wrote no result", failure is not None)


def run_trial(spec: TrialSpec) -> TrialResult:
    """Run a trial here, or on other processes when its Trainer starts several: on one
    machine a reused group of ranks (``run_on_ranks``), over nodes (or with the environment
    variable ``LIGHTNING_NAS_FRESH_RANKS=1``) fresh processes started by Lightning's launcher
    (``run_in_own_process``).

    This is the function executors and workers call for every trial. Ctrl-C in a trial
    that trains here raises ``KeyboardInterrupt`` (not Lightning's ``SystemExit(1)``). A
    fit's or fine-tune's checkpoint (``own_logs``) is the user's: it keeps no callback state
    of lightning_nas's own (``users_in_place``; a search's export writes its ``best.ckpt``
    so), and of a config (``spec.cli_model``) the ``_class_path`` LightningCLI's
    ``--ckpt_path`` reads, an interrupted one's ``best.ckpt`` too; a completed one keeps no
    ``last.ckpt`` (``end_own_fit``), nor the mark of an unfinished one (``start_own_fit``).
    A search's trial holds its folder while it runs (``holding_trial``): one whose folder
    another run of it holds (a stopped search's, that a pool of the user's started late)
    trains nothing there, FAILED naming that run; one whose folder a run of a spec made
    earlier holds (a resume's, the stopped search's run started late) waits for it to end,
    saying so as it starts waiting (for as long as that run lasts).
    """
    if spec.own_logs or spec.objective is not None:  # a fit's, a fine-tune's; no folder
        return _run(spec)
    with holding_trial(spec.trial_dir, spec.submitted, spec.trial_id) as other:
        if other is None:
            return _run(spec)
    now = time.time()
    return TrialResult(trial_id=spec.trial_id, arch=dict(spec.arch), status=TrialStatus.FAILED,
                       started=now, finished=now, error=f"{spec.trial_dir} is held by another "
                       f"run of trial {spec.trial_id} ({other}): it trained nothing there")


def _run(spec: TrialSpec) -> TrialResult:
    """``run_trial``'s work, its folder held (a search's trial) or no hold needed."""
    start_own_fit(spec)  # until it completes: a kill before an epoch ended is not "finished"
    try:
        if not needs_own_process(spec.trainer):
            with ctrl_c_raised():
                result = fit_trial(spec)
        elif int(spec.trainer.get("num_nodes", 1)) > 1 or os.environ.get(FRESH_RANKS) == "1":
            result = run_in_own_process(spec)
        else:
            result = run_on_ranks(spec)
    except BaseException:  # Ctrl-C: the folder's best.ckpt is the user's all the same
        best = Path(spec.trial_dir) / "best.ckpt"
        if spec.own_logs and best.is_file() and checkpoint_complete(best):
            with contextlib.suppress(Exception):  # never in place of the interrupt
                users_in_place(best, spec.cli_model)
        raise
    if spec.own_logs and result.checkpoint and Path(result.checkpoint).is_file():
        users_in_place(Path(result.checkpoint), spec.cli_model)
    end_own_fit(spec, result)  # no last.ckpt once complete; a resumed one's logs merged
    return result


def _main(spec_path: Path) -> int:
    """What a trial's own process, and every rank Lightning's launcher starts from it, runs:
    die with the process that started it (Linux ``PR_SET_PDEATHSIG``: a search killed with
    ``kill -9`` or SIGTERM leaves none training), then ``execute_fresh``."""
    die_with_parent()
    parent = os.environ.pop(_PARENT, None)  # popped: the ranks rank 0 starts inherit none
    if parent is not None and not parent_alive(int(parent)):  # it died while this started
        return 0
    return execute_fresh(spec_path)


if __name__ == "__main__":
    _code = _main(Path(sys.argv[1]))
    freeze_for_exit()  # each of a trial's processes: no sweep of the heap at exit (seconds)
    sys.exit(_code)

"""A trial's hold on its folder (``trial_hold``): real processes, real ``flock``s."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.runner import run_trial
from lightning_nas.search.trial_hold import (
    TRIAL_LOCK,
    check_not_running,
    holding_trial,
    trial_holder,
)
from tests.helpers_callbacks import HOLD_AT, EpochLog
from tests.helpers_fork import forked_hold
from tests.helpers_search import tiny_spec


def test_a_child_forked_while_a_trial_holds_its_folder_holds_nothing_of_it(tmp_path):
    # a trial forks a child that outlives it (a DataLoader's worker, persistent_workers):
    # the child shared the trial's open lock file, so after a kill of the trial's process
    # its folder stayed held, and a resume refused the trial as still running ("another
    # process"); and a child that left the holding block removed the live trial's lock file
    folder = tmp_path / "trial_0001"
    with forked_hold(lambda: holding_trial(folder)) as hold:
        hold.child_leaves()  # the trial holds its folder as before
        assert (folder / TRIAL_LOCK).exists()
        assert trial_holder(folder) == hold.holder
        hold.holder_dies()  # the trial dies; its child lives on
        assert trial_holder(folder) is None


def test_a_resumes_run_of_a_trial_waits_for_a_stopped_searchs_run_of_it_saying_so_then_runs(
        tmp_path, monkeypatch):
    # a stopped search's trial that the user's pool starts just after a resume's check that
    # none still runs (its call queue; a pool's process still importing): the resume's run
    # of it found the folder held and was stored FAILED, naming that run, though the trial
    # only ran elsewhere. Now the later run (made later: a resume's) waits for the earlier
    # to end, then runs; the earlier, finding a later one's hold, trains nothing (test_trial).
    # It says so once, as it starts waiting (was: not a word, a hung earlier run hung it)
    trainer = {"max_epochs": 1, "accelerator": "cpu", "devices": 1}
    stale = tiny_spec(tmp_path, {"width": 4}, trainer={**trainer, "callbacks": [EpochLog()]})
    epochs = Path(stale.trial_dir) / "epochs.jsonl"
    monkeypatch.setenv(HOLD_AT, "epoch 0")  # the pool's run holds there (forked: inherits)
    with ProcessPoolExecutor(1, mp_context=mp.get_context("fork")) as pool:
        worker = pool.submit(os.getpid).result()
        monkeypatch.delenv(HOLD_AT)
        pool.submit(run_trial, stale)
        until = time.monotonic() + 300
        while not epochs.exists() and time.monotonic() < until:
            time.sleep(0.02)
        assert trial_holder(stale.trial_dir) is not None
        resumed = tiny_spec(tmp_path, {"width": 4}, trainer=trainer)
        ends = threading.Timer(0.5, os.kill, (worker, signal.SIGKILL))  # the earlier run ends
        ends.start()
        try:
            with pytest.warns(UserWarning) as said:
                result = run_trial(resumed)
        finally:
            ends.join()
    assert result.status is TrialStatus.COMPLETED, result.error
    waits = [str(w.message) for w in said if " waits for " in str(w.message)]
    assert waits == [f"trial 1 waits for pid {worker} on {socket.gethostname()}, a stopped "
                     f"search's run of it, to end: it runs in {stale.trial_dir}; as long as it "
                     f"runs, this one waits (stop that process if it hangs)"]
    assert not epochs.exists()  # the earlier run's files cleared: trained again here


def test_a_resume_waits_a_moment_for_a_trial_that_a_killed_searchs_worker_still_holds(
        tmp_path):
    # the workers a search's fork server forked die with the server, which ends once it
    # tore down its imports: a second or two after a kill -9 of the search they still held
    # their trials' folders, so a resume started at once (a job scheduler's restart, a
    # retry loop) was refused: "2 trials of this search are still running, ... out in your
    # executor"; now it waits for them to be let go (up to HELD_WAIT), then runs them
    folder = tmp_path / "trial_0001"
    interrupted = [TrialResult(trial_id=1, arch={"width": 4}, status=TrialStatus.RUNNING)]
    with contextlib.ExitStack() as held:
        assert held.enter_context(holding_trial(folder)) is None
        ends = threading.Timer(0.5, held.close)  # the orphaned worker dies
        ends.start()
        start = time.monotonic()
        check_not_running(interrupted, lambda trial_id: folder)
        assert time.monotonic() - start >= 0.4
        ends.join()
    assert trial_holder(folder) is None

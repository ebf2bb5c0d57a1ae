"""A trial's hold on its folder (``trial_hold``): real processes, real ``flock``s."""

from __future__ import annotations

import os
import signal

from lightning_nas.lock_probe import this_process
from lightning_nas.search.trial_hold import TRIAL_LOCK, holding_trial, trial_holder


def test_a_child_forked_while_a_trial_holds_its_folder_holds_nothing_of_it(tmp_path):
    # a trial forks a child that outlives it (a DataLoader's worker, persistent_workers):
    # the child shared the trial's open lock file, so after a kill of the trial's process
    # its folder stayed held, and a resume refused the trial as still running ("another
    # process"); and a child that left the holding block removed the live trial's lock file
    folder = tmp_path / "trial_0001"
    said, say = os.pipe()  # to the test: the trial's holder and its child's pid; "left"
    go_trial, trial_goes = os.pipe()
    go_child, child_goes = os.pipe()
    trial = os.fork()
    if trial == 0:  # the trial's process
        try:
            for fd in (said, trial_goes, child_goes):  # (the test's ends: EOF as it ends)
                os.close(fd)
            with holding_trial(folder):
                child = os.fork()
                if child == 0:  # its child: leaves the block at the test's word, lives on
                    os.read(go_child, 1)
                else:
                    os.write(say, f"{this_process()}\n{child}\n".encode())
                    os.read(go_trial, 1)
                    os._exit(0)  # killed mid-trial: its hold not let go
            os.write(say, b"left\n")
            os.read(go_child, 1)  # alive until the test ends it
        finally:
            os._exit(0)
    for fd in (say, go_trial, go_child):
        os.close(fd)
    lines = os.fdopen(said)
    holder, child = lines.readline().strip(), int(lines.readline())
    try:
        assert holder == f"pid {trial} on {this_process().split(' on ', 1)[1]}"
        os.write(child_goes, b"x")
        assert lines.readline().strip() == "left"  # the child left the block: the trial
        assert (folder / TRIAL_LOCK).exists()  # holds its folder as before
        assert trial_holder(folder) == holder
        os.write(trial_goes, b"x")  # the trial dies; its child lives on
        os.waitpid(trial, 0)
        assert trial_holder(folder) is None
    finally:
        os.kill(child, signal.SIGKILL)
        for fd in (trial_goes, child_goes):
            os.close(fd)
        lines.close()

"""Asking whether a run folder is held by a search (``search_holder``, a warm start's
question about its sources) without holding it: real ``flock`` locks, real processes."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import threading

from lightning_nas.lock_probe import holder_gone, lock_taken
from lightning_nas.run_folder import LOCK_FILE, hold_folder, search_holder


def _dead_pid() -> int:
    """The pid of a process of this machine that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_folder_held_by_a_search_names_its_holder_and_others_none(tmp_path):
    assert search_holder(tmp_path) is None  # no search.lock: nothing made either
    assert not (tmp_path / LOCK_FILE).exists()
    held = hold_folder(tmp_path, "then run it again")
    assert lock_taken(tmp_path / LOCK_FILE)
    assert search_holder(tmp_path) == f"pid {os.getpid()} on " \
                                      f"{socket.gethostname()}"
    held.close()
    assert search_holder(tmp_path) is None  # its search ended: the file stays, unheld
    held = hold_folder(tmp_path, "then export again", kind="export")
    assert search_holder(tmp_path) is None  # an export is no running search
    held.close()


def test_a_search_waits_for_an_unnamed_holder_instead_of_naming_the_gone_one(tmp_path):
    # was: "... is being searched by another process (pid N on host): wait for it to end,
    # or stop it", N the last search, long gone, while a warm start's probe held the lock
    # for an instant (or a new holder had not written its name yet)
    dead = f"pid {_dead_pid()} on {socket.gethostname()}"
    assert holder_gone(dead)
    (tmp_path / LOCK_FILE).write_text(f"{dead}\n")
    # a holder that has not named itself yet (a new search between its lock and its name;
    # a probe, for an instant): its file still names the gone one
    unnamed = open(tmp_path / LOCK_FILE)  # noqa: SIM115 - closed by the timer below
    fcntl.flock(unnamed.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert search_holder(tmp_path) == "another process"
    threading.Timer(0.5, unnamed.close).start()
    held = hold_folder(tmp_path, "then run it again")
    assert (tmp_path / LOCK_FILE).read_text().startswith(f"pid {os.getpid()} ")
    held.close()

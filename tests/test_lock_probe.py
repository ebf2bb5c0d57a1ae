"""Asking whether a run folder is held by a search (``search_holder``, a warm start's
question about its sources) without holding it: real ``flock`` locks, real processes."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from lightning_nas import lock_probe
from lightning_nas.errors import SearchError
from lightning_nas.lock_probe import holder_gone, lock_taken, naming
from lightning_nas.run_folder import LOCK_FILE, hold_folder, holding, search_holder
from tests.helpers_fork import forked_hold


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


def _export_paused_after_its_flock(folder: Path, locked, go) -> None:
    """An export of ``folder`` (``hold_folder``), paused between its ``flock`` on
    ``search.lock`` and its name there until ``go`` is set (or half a second has passed),
    then ended: the process forked by ``_export_in_its_gap``."""
    def pause(frame, event, arg):  # just after its flock: it checks the file it locked
        if event == "call" and frame.f_code is lock_probe.same_file.__code__:
            locked.set()
            go.wait(0.5)  # where another process may read the lock (old code: in the gap)
        return None

    sys.settrace(pause)
    held = hold_folder(folder, "then export again", kind="export")
    sys.settrace(None)
    held.close()


@contextmanager
def _export_in_its_gap(folder: Path) -> Iterator[Any]:
    """``folder``'s ``search.lock`` naming the finished search of a live process (a notebook
    that ran it) while an export in a process of its own has taken the lock and not named
    itself yet: yields the event that lets that export go on (set by the caller once it
    has asked, else after half a second)."""
    (folder / LOCK_FILE).write_text(f"pid {os.getppid()} on {socket.gethostname()}\n")
    assert not holder_gone((folder / LOCK_FILE).read_text())  # live, and not this process
    fork = multiprocessing.get_context("fork")  # (the imports done: no cold interpreter)
    locked, go = fork.Event(), fork.Event()
    export = fork.Process(target=_export_paused_after_its_flock, args=(folder, locked, go))
    export.start()
    try:
        assert locked.wait(60)
        yield go
    finally:
        go.set()
        export.join(60)
    assert export.exitcode == 0


def test_an_export_waits_for_another_process_s_export_that_has_not_named_itself(tmp_path):
    # was: refused as "being searched by another process (pid N on host): wait for it to
    # end, or stop it", N the live process whose search had ended, its name still there
    # while another process's export had taken the lock and not named itself yet (two
    # `lightning-nas export` at once after a notebook's search)
    with _export_in_its_gap(tmp_path) as go:
        try:
            held = hold_folder(tmp_path, "then export again", kind="export")
        finally:
            go.set()
    assert (tmp_path / LOCK_FILE).read_text() == f"pid {os.getpid()} on " \
                                                 f"{socket.gethostname()}\nexport\n"
    held.close()


def test_a_warm_start_says_no_search_holds_a_folder_another_process_exports(tmp_path):
    # was: the search named by the last holder (a live process's, ended) said to hold it
    # while another process's export had taken the lock and not named itself yet
    with _export_in_its_gap(tmp_path) as go:
        try:
            holder = search_holder(tmp_path)
        finally:
            go.set()
    assert holder is None


def _reader_holding_naming(folder: Path, inside, written, seen) -> None:
    """A reader of ``folder``'s ``search.lock`` under ``naming`` (as ``search_holder`` reads
    it), holding it until ``written`` is set (or half a second has passed): puts what it
    read on entering and on leaving into ``seen``. The process forked by the test below."""
    with naming(folder):
        first = (folder / LOCK_FILE).read_text()
        inside.set()
        written.wait(0.5)  # where a write-back not under ``naming`` happens (old code)
        seen.put((first, (folder / LOCK_FILE).read_text()))


def test_a_one_shot_run_refused_writes_the_earlier_holder_back_under_naming(tmp_path):
    # was: the earlier holder's name written back into search.lock without ``naming``, so
    # a reader holding it (search_holder, lock_taken then the name) read it changing
    earlier = f"pid {_dead_pid()} on {socket.gethostname()}\n"
    (tmp_path / LOCK_FILE).write_text(earlier)
    fork = multiprocessing.get_context("fork")  # (the imports done: no cold interpreter)
    inside, written, seen = fork.Event(), fork.Event(), fork.Queue()
    reader = fork.Process(target=_reader_holding_naming,
                          args=(tmp_path, inside, written, seen))
    try:
        with pytest.raises(RuntimeError, match="refused before training"):
            with holding(tmp_path, "then run it again", undone=lambda: True):
                reader.start()
                assert inside.wait(60)
                raise RuntimeError("refused before training")
        written.set()  # the write-back is done (new code: once the reader let naming go)
        first, last = seen.get(timeout=60)
    finally:
        written.set()
        reader.join(60)
    assert reader.exitcode == 0
    ours = f"pid {os.getpid()} on {socket.gethostname()}\noneshot\n"
    assert (first, last) == (ours, ours)  # unchanged while the reader held naming
    assert (tmp_path / LOCK_FILE).read_text() == earlier  # then the earlier holder's name
    assert not lock_taken(tmp_path / LOCK_FILE)


def test_a_stale_looking_lock_is_waited_for_with_a_word_then_refused_saying_so(tmp_path,
                                                                               monkeypatch):
    # was: a silent wait of EXPORT_WAIT seconds, then "... is being searched by another
    # process (pid N on host): wait for it to end, or stop it", N a process long gone,
    # where search.lock was held by an open file no holder named (a process that inherited
    # it, an older version's probe): nothing said what was waited for, or what holds it
    from lightning_nas import run_folder

    monkeypatch.setattr(run_folder, "EXPORT_WAIT", 0.3)
    monkeypatch.setattr(run_folder, "WAIT_NOTICE", 0.0)
    dead = f"pid {_dead_pid()} on {socket.gethostname()}"
    (tmp_path / LOCK_FILE).write_text(f"{dead}\n")
    with open(tmp_path / LOCK_FILE) as stale:  # held, named by no one
        fcntl.flock(stale.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.warns(UserWarning, match=rf"waits up to 0.3s for {LOCK_FILE} .* held by "
                                             rf"a process that has not named itself"):
            with pytest.raises(SearchError) as refused:
                hold_folder(tmp_path, "then run it again")
    said = str(refused.value)
    assert f"({dead}, which has ended)" in said and "fuser" in said, said
    assert "wait for it to end, or stop it" not in said


def _folder_free(folder: Path) -> bool:
    """Whether no open file holds ``folder``'s own ``flock`` (``naming``'s) now."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_a_child_forked_while_naming_is_held_holds_nothing_of_it(tmp_path):
    # was: a child forked inside ``naming`` (a DataLoader's workers forked by one thread while
    # another asked who holds a run folder) kept the folder's flock after its parent let it
    # go, or died: every other ``naming`` of the folder, in any process, waited NAMING_WAIT
    # (5 s) for it, then went on without it, for as long as the child lived
    with forked_hold(lambda: naming(tmp_path)) as hold:
        hold.child_leaves()
        hold.holder_dies()
        assert _folder_free(tmp_path)


def test_a_child_forked_as_a_holder_takes_the_folder_holds_nothing_of_it(tmp_path):
    # was: a child forked by another thread between a holder's flock on search.lock and its
    # ``keep`` (``held_locks``) kept the lock after the holder let it go: the folder stayed
    # held for as long as the child lived (a resume refused, "being searched ...")
    locked, forked, held = threading.Event(), threading.Event(), []

    def pause(frame, event, arg):  # just after its flock: it checks the file it locked
        if event == "call" and frame.f_code is lock_probe.same_file.__code__:
            locked.set()
            forked.wait(60)
        return None

    def take() -> None:
        sys.settrace(pause)
        try:
            held.append(hold_folder(tmp_path, "then run it again"))
        finally:
            sys.settrace(None)

    taker = threading.Thread(target=take)
    taker.start()
    assert locked.wait(60)
    stay, ends = os.pipe()
    child = os.fork()
    if child == 0:  # lives on till the test ends (a DataLoader's worker)
        os.close(ends)
        os.read(stay, 1)
        os._exit(0)
    os.close(stay)
    try:
        forked.set()
        taker.join(60)
        held[0].close()  # the holder lets the folder go; its child lives on
        assert not lock_taken(tmp_path / LOCK_FILE)
        assert _folder_free(tmp_path)
    finally:
        os.close(ends)
        os.waitpid(child, 0)


def test_a_child_forked_while_another_thread_holds_naming_takes_it_at_once(tmp_path):
    # was: its first ``naming`` (a trial's hold in a worker forked from the search, a probe)
    # waited for ever: the lock among the threads was copied held by the other thread, which
    # the child has not
    other = tmp_path / "other"
    other.mkdir()
    inside, done = threading.Event(), threading.Event()

    def hold() -> None:
        with naming(tmp_path):
            inside.set()
            done.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(60)
    said, say = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(said)
        with naming(other):
            os.write(say, b"x")
        os._exit(0)
    os.close(say)
    try:
        assert select.select([said], [], [], 5)[0] == [said]  # (old code: nothing in 5 s)
    finally:
        done.set()
        holder.join(60)
        os.close(said)
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)

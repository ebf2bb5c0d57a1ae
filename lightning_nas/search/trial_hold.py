"""A trial's hold on its folder while it runs, and a resume's question about it.

A trial that runs holds an exclusive ``flock`` on ``trial.lock`` in its folder
(``holding_trial``): one open file, named with its process (``pid 4242 on host``), removed as
the trial ends. The system lets the lock go however the process ends: a killed trial leaves
no lock held, at most the file, which the trial's next run takes over (``first_run``: whether
a folder holds anything of an earlier run). A search that stopped with trials out in a
``concurrent.futures`` executor of the user's cannot stop them: they run to their ends in
their folders while the store keeps them RUNNING. ``check_not_running`` refuses a resume,
before anything trains, that would run such a trial again in the folder it still writes
(was: cleared and trained again there under the live one, two writers of one folder's
checkpoints, logs and metrics). A run of a trial that finds its folder held (a trial of a
stopped search that a pool started late) trains nothing there, unless that run is of a spec
made earlier (``submitted``, named in the lock file): then it waits for that run to end and
runs (a resume's run of a trial whose stopped search's run a pool started just after the
resume's check: was FAILED, naming that run, though the trial had only run elsewhere). It
waits as long as that run lasts (a search has no trial timeout to bound it by), and says so
as it starts waiting, naming that run's process (was: no word, a hung run hung it unseen).

A process forked while it holds a trial (a DataLoader's workers, ``persistent_workers``, a
user's own ``os.fork``) does not hold it: ``flock`` locks the open file, which a fork shares,
so a child that outlived a killed trial kept its lock, and a resume refused the trial as
still running though its owner was dead. The child's copy of the descriptor is pointed at
``/dev/null`` as it starts (``held_locks``, as for a run folder's ``search.lock``): closed,
never unlocked, and a child that leaves the ``holding_trial`` block removes nothing of the
parent's.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "trial_0001"
    >>> with holding_trial(folder) as holder:
    ...     holder is None, trial_holder(folder) == this_process()
    (True, True)
    >>> trial_holder(folder) is None, (folder / TRIAL_LOCK).exists()
    (True, False)
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from lightning_nas.errors import SearchError, StoreError
from lightning_nas.held_locks import keep, let_go
from lightning_nas.lock_probe import holder_gone, lock_taken, same_file, this_process
from lightning_nas.results import TrialResult
from lightning_nas.store_errors import lock_held
from lightning_nas.user_warnings import warn_user

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["HELD_WAIT", "TRIAL_LOCK", "check_not_running", "check_trial_folder", "first_run",
           "holding_trial", "trial_holder"]

#: the file in a trial's folder whose lock the trial holds while it runs
TRIAL_LOCK = "trial.lock"
#: seconds a resume waits for trials still held to be let go before it refuses them
#: (``check_not_running``): the workers a killed search's fork server forked hold theirs
#: until the server, which ends once it tore down its imports, dies (1-2 s measured)
HELD_WAIT = 10.0
#: its second line where the hold made the folder (``first_run``: nothing earlier in it)
_MADE = "made"
#: its third line's first word, before the holder's ``submitted`` time
_SUBMITTED = "submitted"


@contextmanager
def holding_trial(trial_dir: str | os.PathLike, submitted: float | None = None,
                  trial_id: int | None = None) -> Iterator[str | None]:
    """Hold ``trial_dir`` (made if missing) for the block: yields None, or the holder
    (``pid 4242 on host``; ``another process`` while it has not named itself) of another
    run of the trial that holds it, whose folder this run must leave alone. Where that run
    names a ``submitted`` time (its spec's) earlier than this run's, this run waits for it
    to end instead, then holds the folder: for as long as it runs (a search has no trial
    timeout to bound it by), said once as it starts waiting (``warn_user``: ``trial 3 waits
    for pid 4242 on host, a stopped search's run of it, to end: ...``, ``trial_id`` named).
    Nothing is held where the file system takes no lock (Windows, some network mounts: not
    checked).

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with holding_trial(folder) as first, holding_trial(folder) as second:
        ...     first is None, second == this_process()
        (True, True)
    """
    held = _take(Path(trial_dir), submitted, trial_id) if fcntl is not None else None
    if isinstance(held, str):  # another run's
        yield held
        return
    try:  # (held kept: ``held_locks``, by ``_take`` as it opened it)
        yield None
    finally:
        if held is not None:  # removed while held: a trial's folder keeps no file of it
            if let_go(held):  # (not in a forked child: the hold is its parent's)
                (Path(trial_dir) / TRIAL_LOCK).unlink(missing_ok=True)
            held.close()


def _take(folder: Path, submitted: float | None,
          trial_id: int | None) -> IO[str] | str | None:
    """``folder``'s ``trial.lock`` (the folder made if missing) taken and named, waited for
    where an earlier run holds it (``_earlier``; said once, naming trial ``trial_id``): the
    open file; or the holder of another run that holds it; or None where the file system
    takes no lock (the file and folder this made removed again: the folder as it was)."""
    lock = folder / TRIAL_LOCK
    made, new = not folder.exists(), not lock.exists()
    folder.mkdir(parents=True, exist_ok=True)
    said = False
    while True:
        # named before its flock: a child another thread forks meanwhile holds none of it
        held = keep(open(lock, "a"))  # noqa: SIM115 - kept open while held
        try:
            fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if not lock_held(err):
                held.close()
                with contextlib.suppress(OSError):
                    if new:
                        lock.unlink()
                    if made:
                        folder.rmdir()
                return None
            earlier = _earlier(lock, submitted)
            if earlier is None:
                held.close()
                return trial_holder(folder) or "another process"
            if not said:  # (was: no word, and a hung earlier run hung this one unseen)
                said = True
                name = "a trial" if trial_id is None else f"trial {trial_id}"
                warn_user(f"{name} waits for {earlier}, a stopped search's run of it, to "
                          f"end: it runs in {folder}; as long as it runs, this one waits "
                          f"(stop that process if it hangs)")
            try:  # an earlier run's (a stopped search's): until it ends
                fcntl.flock(held.fileno(), fcntl.LOCK_EX)
            except BaseException:
                held.close()
                raise
        if same_file(held, lock):
            break
        held.close()  # the file of a run that let it go as this one took it: take again
    held.truncate(0)  # the holder, for the message of a resume refused meanwhile
    held.write(f"{this_process()}\n{_MADE if made else ''}\n"
               + ("" if submitted is None else f"{_SUBMITTED} {submitted!r}\n"))
    held.flush()
    return held


def _earlier(lock: Path, submitted: float | None) -> str | None:
    """The run holding ``lock`` (``pid 4242 on host``) where it names a ``submitted`` time
    earlier than this run's, else None (and where either is not known: a run of an older
    version, one not named yet)."""
    if submitted is None:
        return None
    for _ in range(50):  # (a holder names itself an instant after it took the lock)
        try:
            lines = lock.read_text().splitlines()
        except OSError:
            return None
        if lines and lines[0].strip():  # named, in one write with its time
            word, _, value = (lines[2:3] or [""])[0].partition(" ")
            try:
                earlier = word == _SUBMITTED and float(value) < submitted
            except ValueError:
                return None
            return lines[0].strip() if earlier else None
        time.sleep(0.01)
    return None


def first_run(trial_dir: str | os.PathLike) -> bool:
    """Whether ``trial_dir`` holds nothing of an earlier run of its trial: there is none, or
    it holds only the lock of a hold that made it (an empty folder: an earlier run's).

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp()) / "trial_0001"
        >>> first_run(folder)
        True
        >>> with holding_trial(folder):
        ...     first_run(folder)
        True
        >>> first_run(folder)  # the folder its run left (empty here)
        False
    """
    folder = Path(trial_dir)
    if not folder.is_dir():
        return True
    if [p.name for p in folder.iterdir()] != [TRIAL_LOCK]:
        return False
    try:
        return (folder / TRIAL_LOCK).read_text().splitlines()[1:2] == [_MADE]
    except OSError:
        return False


def trial_holder(trial_dir: str | os.PathLike) -> str | None:
    """The process (``pid 4242 on host``; ``another process`` while it has not named itself)
    that runs the trial of ``trial_dir`` now, None where none does (its ``trial.lock`` not
    held: ended, killed, or never run).

    Example:
        >>> trial_holder("runs/no_such_run/trials/trial_0001") is None
        True
    """
    lock = Path(trial_dir) / TRIAL_LOCK
    if not lock_taken(lock):
        return None
    try:
        holder = lock.read_text().partition("\n")[0].strip()
    except OSError:
        holder = ""
    return holder if holder and not holder_gone(holder) else "another process"


def check_trial_folder(folder: Path, trial_id: int) -> None:
    """Raise ``StoreError`` where a file stands where trial ``trial_id``'s ``folder`` (or
    the ``trials`` folder holding it) goes, before the trial is given to a worker: the
    search stops at once, the trial left to run again (was: SQLite's ``File exists`` from
    the trial's start, or a worker process ended by ``Not a directory`` and the search with
    it).

    Example:
        >>> import tempfile
        >>> trials = Path(tempfile.mkdtemp())
        >>> (trials / "trial_0002").write_text("notes")
        5
        >>> check_trial_folder(trials / "trial_0002", 2)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lightning_nas.errors.StoreError: .../trial_0002 is a file, where trial 2's folder goes...
    """
    for path in (folder.parent, folder):
        if path.exists() and not path.is_dir():
            raise StoreError(f"{path} is a file, where trial {trial_id}'s folder goes: move "
                             f"it out of the run folder, then run the same search again "
                             f"(trial {trial_id} runs then)")


def check_not_running(trials: Iterable[TrialResult],
                      trial_dir: Callable[[int], Path]) -> None:
    """Refuse a resume that would run one of ``trials`` (RUNNING in the store, to run again)
    in the folder (``trial_dir(trial_id)``) it still runs in, a process holding it.

    A trial still held is waited for first, up to ``HELD_WAIT`` seconds (said after 1 s):
    the workers of a search killed a moment ago die a second or two after it, with its fork
    server (was: a resume started at once, a job scheduler's restart, was refused, the
    trials said to be out in the user's executor).

    Raises:
        SearchError: naming each such trial, its folder and its process, and what to do.

    Example:
        >>> check_not_running([], lambda trial_id: Path("runs/a/trials"))  # none: nothing
    """
    running = [(t.trial_id, trial_dir(t.trial_id)) for t in trials]
    start, said = time.monotonic(), False
    while True:
        held = [(i, folder, who) for i, folder in running if (who := trial_holder(folder))]
        waited = time.monotonic() - start
        if not held or waited >= HELD_WAIT:
            break
        if waited >= 1.0 and not said:
            said = True
            warn_user(f"{', '.join(f'trial {i}' for i, _, _ in held)} of this search "
                      f"{'is' if len(held) == 1 else 'are'} still held ("
                      f"{', '.join(sorted({who for _, _, who in held}))}): waiting up to "
                      f"{HELD_WAIT:g} s for {'it' if len(held) == 1 else 'them'} to be let go "
                      f"(the workers of a search killed a moment ago end with it)")
        time.sleep(0.05)
    if not held:
        return
    lines = "\n".join(f"  trial {i}: {who}, in {folder}" for i, folder, who in held)
    raise SearchError(
        f"{'a trial' if len(held) == 1 else f'{len(held)} trials'} of this search "
        f"{'is' if len(held) == 1 else 'are'} still running, writing into "
        f"{'its folder' if len(held) == 1 else 'their folders'}:\n{lines}\n"
        f"The search stopped with {'it' if len(held) == 1 else 'them'} out in your executor "
        f"(a concurrent.futures pool runs a started trial to its end; its result is "
        f"dropped), and a resume runs such a trial again, in that same folder. Nothing was "
        f"trained: wait for it to end (for a pool of yours: pool.shutdown(wait=True)), or "
        f"stop that process; then resume, and the trial is run again.")

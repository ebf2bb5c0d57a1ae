"""Folders and files the user names, and a run folder's hold.

``user_path`` expands a leading ``~`` (``~/nas/digits``, ``~user/runs``) as the shell and
Lightning's callbacks and loggers do, so a run's own files and the Lightning files of its
trials land in one folder. Every setting, argument and command-line value that takes a path
goes through it: a search's ``run_dir`` and ``warm_start`` folders, a one-shot run's
``run_dir``, its ``--ckpt_path`` and ``export_dir``, a Hydra sweep's ``run_dir``, config,
space and table files, and the folders ``show``, ``report``, ``export``, ``finetune`` and
``fit`` read and write. ``new_folder`` is ``user_path`` for the folders a run makes (a
search's and a one-shot run's ``run_dir``, a fit's and a fine-tune's ``--out``): one whose
path holds a control character (a newline, a carriage return) is refused before anything is
made, as ``best_config.yaml``'s header and the commands a run prints name it on one line.
``check_export_dir`` refuses, when it is made, the ``export_dir`` of a ``OneShotNAS`` or
``DifferentiableNAS`` that could not be written when training ends.

``hold_folder`` holds a run folder for one process (a lock on its ``search.lock``, which
names the holder and what it does): a search (``open_search_store(hold=True)``), a Hydra sweep
and a one-shot run (``holding``) take it, so a second run started on the folder meanwhile is
refused before it writes anything, whichever kind either is (a one-shot run refused before
it trained leaves the folder as it was: ``holding(undone=...)``); an export takes it too
(``kind="export"``), and whoever comes while an export holds it waits for it (``EXPORT_WAIT``).
A holder names itself under ``lock_probe.naming`` (and a one-shot run refused before it
trained writes the earlier holder's name back under it), and the name is read under it, so
no thread or process reads the name the last holder left before the new one has written its,
nor a name half written back. A process forked from a holder (a DataLoader's workers)
holds nothing of it (``held_locks``: was, outliving a killed run, the folder's holder).

Example:
    >>> import os
    >>> user_path("~/nas/digits") == Path(os.path.expanduser("~")) / "nas" / "digits"
    True
    >>> user_path("runs/a")
    PosixPath('runs/a')
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.held_locks import keep, kept, let_go
from lightning_nas.lock_probe import holder_gone, lock_taken, naming, same_file, this_process
from lightning_nas.store_errors import lock_held, unlockable
from lightning_nas.user_warnings import warn_user

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["CONTROL", "EXPORT_WAIT", "LOCK_FILE", "WAIT_NOTICE", "check_export_dir",
           "file_in_place", "hold_folder", "holding", "lock_kind", "new_folder", "run_dir_path",
           "search_holder", "user_path"]

#: the file in a run folder whose lock its holder keeps
LOCK_FILE = "search.lock"
#: seconds a process waits for an export holding a run folder (it copies a checkpoint and
#: writes two small files) before it is refused
EXPORT_WAIT = 60.0
#: seconds of that wait after which it is said, once, what is waited for (a warning)
WAIT_NOTICE = 1.0
#: control characters (newline, carriage return, tab, ...) and the line and paragraph
#: separators YAML reads as line breaks: none of them in a folder a run makes
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: what launchers set to a process's rank: torchrun, Lightning's own, SLURM, LSF
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "GROUP_RANK", "NODE_RANK", "SLURM_PROCID",
                   "JSM_NAMESPACE_RANK")


def user_path(path: str | os.PathLike, key: str | None = None) -> Path:
    """``path`` as a ``Path`` with a leading ``~`` or ``~user`` expanded (a literal ``~``
    folder in the current one is written ``./~``).

    Args:
        path: the path the user gave.
        key: the argument or setting that took it, named in the error for a value that is
            no path (None: Python's bare ``TypeError``).

    Raises:
        ConfigError: where ``key`` is given and ``path`` is no ``str`` or ``os.PathLike``
            (was: ``export_best(3)``'s "expected str, bytes or os.PathLike object, not int").

    Example:
        >>> user_path(3, "load_best(run_dir=...)")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: load_best(run_dir=...) must be a path (str or ...
    """
    if key is not None and not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"{key} must be a path (str or os.PathLike), got "
                          f"{type(path).__name__} {path!r}")
    return Path(path).expanduser()


def new_folder(path: str | os.PathLike, key: str) -> Path:
    """``user_path`` of a folder a run makes, ``key`` naming its setting in the message.

    Raises:
        ConfigError: where it is no path, or its path holds a control character
            (``CONTROL``: was taken, and the header of ``best_config.yaml``, which names the
            folder, spanned lines: the file was other YAML, or none).

    Example:
        >>> new_folder("runs/a\\nseed_everything: 7", "`run_dir`")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: `run_dir` must be a folder path of printable ...
    """
    user_path(path, key)  # no path (out_dir=3): refused, naming key (was: a bare TypeError)
    text = os.fspath(path)
    found = CONTROL.search(str(text))
    if found:
        raise ConfigError(f"{key} must be a folder path of printable characters (letters, "
                          f"digits, spaces, punctuation), without control characters (a "
                          f"newline, a carriage return, a tab); got {text!r}, which holds "
                          f"{found.group()!r}")
    return user_path(path)


def run_dir_path(value: object) -> Path:
    """A search's ``run_dir`` as ``new_folder`` takes it.

    Raises:
        ConfigError: for a value that is no path, or an empty one (was taken: ``Path("")``
            is the current folder, which the search filled with its files, or, from a
            config, ``runs/nas`` in place of ``runs/<config name>``).

    Example:
        >>> run_dir_path("")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: `run_dir` must be a folder path, got '' (empty: ...
    """
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigError(f"`run_dir` must be a folder path, got {value!r}")
    if not os.fspath(value).strip():
        raise ConfigError(f"`run_dir` must be a folder path, got {value!r} (empty: write '.' "
                          f"for the current folder, or null for the default, "
                          f"runs/<config name>, from Python runs/nas)")
    return new_folder(value, "`run_dir`")


def check_export_dir(value: object, key: str) -> None:
    """Raise ``ConfigError`` naming ``key`` unless ``value`` is None or a folder path a
    one-shot search can write its export into when training ends: a non-empty path of
    printable characters (``new_folder``) with no file in its place (``file_in_place``).
    Checked when the search is made (was: ``export_dir=3``, or a file's path, trained, then
    failed writing).

    Example:
        >>> check_export_dir(3, "OneShotNAS(export_dir=...)")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: OneShotNAS(export_dir=...) must be a folder path ...
    """
    if value is None:
        return
    if not isinstance(value, (str, os.PathLike)) or not str(os.fspath(value)).strip():
        raise ConfigError(f"{key} must be a folder path (None: write nothing), got {value!r}")
    blocked = file_in_place(new_folder(value, key))
    if blocked is not None:
        raise ConfigError(f"{key} {os.fspath(value)!r} cannot be a folder: {blocked} is a "
                          f"file; the export (best_arch.yaml, subnet.pt) is written into a "
                          f"folder there when training ends (give another path)")


def file_in_place(folder: Path) -> Path | None:
    """The file that stands where ``folder``, or a folder above it, would be (a run could
    make no folder there), or None.

    Example:
        >>> file_in_place(Path("runs/no_such_run")) is None
        True
    """
    return next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)


def hold_folder(folder: str | os.PathLike, then: str, kind: str = "search") -> IO[str] | None:
    """Hold ``folder`` (created if missing) for this process until the returned file is
    closed or the process ends, however it ends (the system releases the lock); None
    without POSIX locks (Windows: not checked). While an export holds it, or a process that
    has not named itself in ``search.lock`` (a stale-looking lock), wait for it to let go
    (up to ``EXPORT_WAIT`` seconds; said once, a warning naming it, after ``WAIT_NOTICE``
    seconds; was: a silent wait); any other holder is refused at once.

    Args:
        folder: the run folder.
        then: what to do once the holder is gone, for the refusal's message.
        kind: what holds it, written in ``search.lock`` for the message of a process
            refused meanwhile: ``"search"`` (a search, a Hydra sweep), ``"oneshot"`` (a
            one-shot run: it stays written, so a search refuses the folder of one that has
            not finished, ``lock_kind``) or ``"export"``.

    Raises:
        SearchError: when another process, or another search or export of this process,
            holds it, naming the holder (pid and host); or one that has not named itself
            still holds it after ``EXPORT_WAIT`` seconds, saying so and how to find it
            (was: the last holder named, a process long gone, "wait for it to end").
        StoreError: when the folder's file system takes no lock (``unlockable``).
    """
    if fcntl is None:
        return None
    folder = user_path(folder)
    started = time.monotonic()
    said = False
    while True:
        folder.mkdir(parents=True, exist_ok=True)
        # a holder is named before another thread or process reads it (was: the name the
        with naming(folder):  # last holder left, a live process's finished search: refused)
            held, holder, holder_kind = _take(folder, kind)
        if held is not None:  # (a process forked from this one holds none of it: held_locks)
            return keep(held)
        if holder is None:  # a lock file its holder removed (``holding``): the one there now
            continue
        # an export ends in seconds (a holder not yet named, its file naming the last one,
        # gone: one not using ``naming``, an older version's or where the folder takes no
        # flock, that just took it, or such a version's probe)
        unnamed = not holder or holder_gone(holder)
        if holder_kind == "export" or unnamed:
            waited = time.monotonic() - started
            if waited < EXPORT_WAIT:
                if not said and waited >= WAIT_NOTICE:  # (was: a silent wait)
                    said = True
                    warn_user(_waiting(folder, holder, unnamed))
                time.sleep(0.05)
                continue
        if unnamed:  # (was: "being searched by another process (pid N ...)", N long gone)
            raise SearchError(_stale(folder, holder, then)) from None
        raise SearchError(_refusal(folder, holder, holder_kind, kind, then)) from None


def _take(folder: Path, kind: str) -> tuple[IO[str] | None, str | None, str]:
    """``search.lock`` taken and named as held for ``kind`` (the file, ``""``, ``""``), or
    (None, the holder it names, what that does) where another holds it, or (None, None,
    ``""``) where the file taken was one its holder removed (``holding``): to take again."""
    # named before its flock: a child another thread forks meanwhile holds none of it
    held = keep(open(folder / LOCK_FILE, "a"))  # noqa: SIM115 - kept open while held
    try:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        let_go(held)
        held.close()
        if not lock_held(err):  # was: any refusal "being searched by another process"
            raise unlockable(folder, err) from None
        return (None, *_holder(folder))
    if not same_file(held, folder / LOCK_FILE):
        let_go(held)
        held.close()
        return None, None, ""
    held.truncate(0)  # the holder, for the message of a process refused meanwhile
    # what it does on a line of its own, a search's left out (as an older version reads it)
    held.write(f"{this_process()}\n" + ("" if kind == "search" else f"{kind}\n"))
    held.flush()
    return held, "", ""


def _holder(folder: Path) -> tuple[str, str]:
    """The holder ``search.lock`` names (``""`` while it is not named yet) and what it
    does (``"search"`` where it does not say: an older version's)."""
    try:
        lines = (folder / LOCK_FILE).read_text().splitlines()
    except OSError:
        lines = []
    holder = lines[0].strip() if lines else ""
    return holder, (lines[1].strip() if len(lines) > 1 and lines[1].strip() else "search")


def lock_kind(folder: Path) -> str | None:
    """What the last holder of ``folder``'s ``search.lock`` did (``hold_folder``'s
    ``kind``: ``"search"`` where it does not say), None where there is no ``search.lock``.

    Example:
        >>> lock_kind(Path("runs/no_such_run")) is None
        True
    """
    lock = folder / LOCK_FILE
    return _holder(folder)[1] if lock.is_file() else None


def search_holder(folder: Path) -> str | None:
    """The holder (``pid 4242 on host``; ``another process`` while it is not named yet) of
    the search or Hydra sweep that holds ``folder`` now (its ``search.lock``, taken by no
    one here: ``lock_taken``), None where none does (an export or a one-shot run holds it,
    or nothing).

    Example:
        >>> search_holder(Path("runs/no_such_run")) is None
        True
    """
    with naming(folder):  # its holder named (was: the last one's name, before it was)
        if not lock_taken(folder / LOCK_FILE):
            return None
        holder, kind = _holder(folder)
    if kind != "search":
        return None
    return holder if holder and not holder_gone(holder) else "another process"


def _named_last(holder: str) -> str:
    """Who ``search.lock`` names, where its holder has not named itself there."""
    return f"the last one named there ({holder}, which has ended) holds nothing" if holder \
        else "no one is named there"


def _waiting(folder: Path, holder: str, unnamed: bool) -> str:
    """What a process waiting for ``folder``'s holder says as it has waited ``WAIT_NOTICE``
    seconds: the export it waits for, or a holder that has not named itself."""
    lock = folder / LOCK_FILE
    what = (f"held by a process that has not named itself ({_named_last(holder)})"
            if unnamed else f"held by an export ({holder})")
    return (f"{folder}: waits up to {EXPORT_WAIT:g}s for {LOCK_FILE} there, {what}, to be "
            f"let go; `fuser -v {lock}` names the process that holds it")


def _stale(folder: Path, holder: str, then: str) -> str:
    """The refusal of ``folder`` whose ``search.lock`` is held, after ``EXPORT_WAIT``
    seconds, by a process that has not named itself: a process that inherited its open
    file, a run of an older version, or a stale lock of a network file system."""
    lock = folder / LOCK_FILE
    return (f"{folder} is held by a process that has not named itself in {LOCK_FILE} (still "
            f"after {EXPORT_WAIT:g}s; {_named_last(holder)}): a process that inherited its "
            f"open file, or a run of an older version; `fuser -v {lock}` names it: stop it; "
            f"{then}")


def _refusal(folder: Path, holder: str, holder_kind: str, kind: str, then: str) -> str:
    """The message of a ``kind`` refused on ``folder``, which ``holder`` holds for a
    ``holder_kind``: another process (wait for it or stop it), or this one (was: "another
    process", naming this process's own pid). A one-shot run is said as a search is."""
    kind, holder_kind = ("search" if k == "oneshot" else k for k in (kind, holder_kind))
    doing = "exported" if holder_kind == "export" else "searched"
    wait = f" (still after {EXPORT_WAIT:g}s)" if holder_kind == "export" else ""
    if holder == this_process():  # a search or export in another thread of this process
        both = "search" if kind == holder_kind == "search" else "search or export"
        other = "another" if kind == holder_kind else "an" if holder_kind == "export" else "a"
        return (f"{folder} is being {doing} by {other} {holder_kind} in this process (pid "
                f"{os.getpid()}){wait}: one {both} per run folder at a time; wait for it to "
                f"end; {then}")
    stop = ", or stop it" if holder_kind == "search" else ""
    return (f"{folder} is being {doing} by another process ({holder}){wait}: wait for it to "
            f"end{stop}; {then}")


@contextmanager
def holding(folder: str | os.PathLike, then: str,
            undone: Callable[[], bool] | None = None) -> Iterator[None]:
    """``hold_folder`` (``kind="oneshot"``) for a block of a one-shot run, released when it
    ends (an error too), by the first process of a run only: the other ranks of a DDP run
    (each started with the same command by Lightning's launcher, ``torchrun`` or SLURM) are
    processes of the same run.

    Args:
        folder: the run folder.
        then: what to do once the holder is gone, for the refusal's message.
        undone: asked when the block ends in an error: True where the run wrote nothing
            (refused before it trained), so the hold leaves the folder as it was: the
            ``search.lock`` it made is removed, and so are the folders it made (those still
            empty); one that was there stays.
    """
    first = all(os.environ.get(name, "0") == "0" for name in _RANK_VARIABLES)
    folder = user_path(folder)
    made: list[Path] = []  # the folders the hold makes, the deepest first
    for path in (folder, *folder.parents):
        if path.exists() or path.is_symlink():
            break
        made.append(path)
    lock = folder / LOCK_FILE
    lock_made = not (lock.exists() or lock.is_symlink())
    try:  # an earlier holder's words, put back where this run is undone
        earlier = "" if lock_made else lock.read_text()
    except OSError:
        earlier = ""
    held = hold_folder(folder, then, kind="oneshot") if first else None
    try:
        yield
    except BaseException:
        # (a child forked in the block leaves it alone: the hold is its parent's, not kept)
        if held is not None and undone is not None and kept(held) and undone():
            # under ``naming``, as every holder names itself (was: written without it, so a
            with naming(folder):  # reader holding it read the name changing, half written)
                if lock_made:  # removed while held: whoever takes the folder next makes one
                    lock.unlink(missing_ok=True)
                else:  # what its earlier holder wrote (was: this run's "oneshot", which made
                    held.truncate(0)  # a search refuse the folder as an unfinished run's)
                    held.write(earlier)
                held.close()
            held = None
            for path in made:  # (was: a refused run left a new folder holding search.lock)
                try:
                    path.rmdir()
                except OSError:  # not empty: what another process wrote meanwhile stays
                    break
        raise
    finally:
        if held is not None:
            held.close()

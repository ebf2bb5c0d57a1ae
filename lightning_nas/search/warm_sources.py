"""The folders a warm start names, checked before anything is written (``check_sources``).

Each must be an earlier search's run folder (a ``search.db`` that holds a search and whose
trials can be read), other than this search's own, named once (a copy of a folder named
before it, the same search, is refused: its results would count twice). A folder given by mistake is
refused saying what to give instead: a file of a run (``search.db``, ``best.yaml``) names
the folder that holds it; a folder that holds run folders names them; a relative path that
is missing names the current folder it was looked for in (several folders in one string: to
give them as a list); this search's own folder says how to resume it; a one-shot run's
folder says it holds no scored trials; a Hydra sweep's job folders (``.hydra/``) name the
sweep's run folder, where its ``search.db`` is when ``hydra.sweeper.run_dir`` is not the
sweep's ``hydra.sweep.dir``.

Example:
    >>> check_sources(["runs/no_such_run"])
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: warm_start source runs/no_such_run does not exist ...
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from lightning_nas.errors import ConfigError, StoreError, typed
from lightning_nas.folder_lookup import close_folder, runs_within
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.store import RunStore, open_run
from lightning_nas.wording import counted

__all__ = ["check_sources", "prior_count", "priors_read", "sweep_run_folder"]

EARLIER = "give folders of earlier searches"


def check_sources(sources: Sequence[str | Path], run_dir: str | Path | None = None) -> None:
    """Raise ``ConfigError`` unless every source is an earlier run's folder other than
    ``run_dir`` (this search's own), each named once.

    Args:
        sources: the ``warm_start`` folders, as the user gave them.
        run_dir: this search's run folder (None: not checked against it).

    Raises:
        ConfigError: naming the source and what to give instead.
    """
    own = None if run_dir is None else Path(run_dir).resolve()
    # a resume reads its priors from its own store, never from the sources again: one
    # that moved or disappeared since does not stop it (the README's promise)
    read = own is not None and priors_read(own / "search.db")
    named: dict[Path, str | Path] = {}
    searches: dict[tuple[Any, Any], tuple[str | Path, int]] = {}  # a search: where, trials
    for source in sources:
        path = Path(source).resolve()
        if path in named:  # its results would count twice
            raise ConfigError(f"warm_start names the folder {source} twice (also as "
                              f"{named[path]}); give each earlier run once")
        named[path] = source
        if path == own:  # (was: "run the same command again to resume it instead", which
            raise ConfigError(_own(source, path))  # was refused the same way again)
        if not read:
            _check_source(Path(source))
            _check_copy(source, searches)


def _check_copy(source: str | Path, searches: dict[tuple[Any, Any], tuple[str | Path, int]],
                ) -> None:
    """Raise ``ConfigError`` where ``source`` holds the search of a folder named before it
    (a copy: the store's ``created`` and ``log_label`` are the same; was: read twice, each
    result told twice); else note it in ``searches``."""
    with open_run(source) as store:
        which, trials = (store.get_meta("created"), store.get_meta("log_label")), len(store)
    if which[0] is None:  # a store of a version that kept no start time: not told apart
        return
    if which in searches:
        first, before = searches[which]
        counts = f", {counted(trials, 'trial')} in each" if trials == before else \
            f": {counted(before, 'trial')} in {first}, {trials} in {source}"
        raise ConfigError(f"warm_start source {source} is a copy of {first} (the same "
                          f"search{counts}): its results would count twice; give one of "
                          f"them")
    searches[which] = (source, trials)


def _own(source: str | Path, path: Path) -> str:
    """The refusal of this search's own folder ``path`` as a source: for a folder that
    holds a search, how to resume it."""
    said = f"warm_start names this search's own run_dir {source}: a search cannot start " \
           f"from its own results"
    if not (path / "search.db").is_file():
        return f"{said}; {EARLIER}"
    return (f"{said}; to resume it, leave {source} out of warm_start (the same warm_start "
            f"it ran with, or none: a resume reads the results it stored)")


def _check_source(source: Path) -> None:
    """Raise ``ConfigError`` unless ``source`` is the folder of an earlier search."""
    if source.is_file():  # was: "is not a run directory (no search.db)", as of a folder
        holder = source.parent
        raise ConfigError(f"warm_start source {source} is a file, not a run folder" + (
            f": give the folder that holds it, {holder}" if _no_search(
                holder / "search.db") is None else f"; {EARLIER}"))
    if not source.exists():  # was: "(no search.db)", as of a folder
        parts = [p for p in re.split(r"[,\s]+", str(source)) if p]
        if len(parts) > 1 and all(Path(p).is_dir() for p in parts):  # one string of several
            raise ConfigError(f"warm_start source {source} does not exist; it names "
                              f"{len(parts)} folders that do: give them as a list, "
                              f"[{', '.join(parts)}]")  # (was: "does not exist" alone)
        close = close_folder(source)
        where = "" if source.is_absolute() else \
            f" (relative to the current folder {Path.cwd()})"  # (was: unsaid)
        raise ConfigError(f"warm_start source {source} does not exist{where}; "
                          f"{f'did you mean {close}? ' if close else ''}{EARLIER}")
    why = _no_search(source / "search.db")
    if why == "no search.db" and (source / "best_arch.yaml").is_file():
        raise ConfigError(f"warm_start source {source} is a one-shot run folder "
                          f"(best_arch.yaml, no search.db): it holds one architecture, "
                          f"not the scored trials a warm start takes; {EARLIER}")
    if why == "no search.db":
        sweep = sweep_run_folder(source)
        if sweep is not None:  # (was: "not a run directory (no search.db)")
            what = "a job" if (source / ".hydra").is_dir() else "the jobs"
            raise ConfigError(f"warm_start source {source} holds {what} of a Hydra sweep, "
                              f"not its results: give the sweep's run folder "
                              f"(hydra.sweeper.run_dir), {sweep}")
        within = runs_within(source)  # the folder that holds the runs: they are named
        if within:
            raise ConfigError(f"warm_start source {source} is not a run directory ({why})"
                              f"{within}")
    if why is not None:
        raise ConfigError(f"warm_start source {source} is not a run directory ({why}); "
                          f"{EARLIER}")


def sweep_run_folder(folder: Path) -> Path | None:
    """The run folder (``search.db``) of the lightning_nas sweep whose job ``folder`` is (it
    holds ``.hydra/hydra.yaml``) or whose jobs it holds (its ``hydra.sweep.dir``); None
    where it is neither, or that run folder holds no ``search.db``.

    Example:
        >>> sweep_run_folder(Path("runs/no_such_run")) is None
        True
    """
    jobs = [folder] if (folder / ".hydra").is_dir() else sorted(
        p for p in folder.iterdir() if (p / ".hydra").is_dir()) if folder.is_dir() else []
    for job in jobs[:3]:  # a few: a job of a sweep says what all of them do
        try:
            hydra = (yaml.safe_load((job / ".hydra" / "hydra.yaml").read_text()) or {})["hydra"]
            run_dir = hydra["sweeper"].get("run_dir") or hydra["sweep"]["dir"]
            run = Path(hydra["runtime"]["cwd"]) / Path(run_dir).expanduser()
        except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
            continue  # not Hydra's, another sweeper's, a single run's: not said
        if (run / "search.db").is_file() and run.resolve() != folder.resolve():
            return run
    return None


def _no_search(db: Path) -> str | None:
    """Why ``db`` is not the store of an earlier search (None when it is one). It is read
    as it is: opening it for writing would create tables in the user's file."""
    if not db.is_file():
        return "no search.db"
    try:
        with RunStore(db, read_only=True) as store:
            if store.get_meta("space") is not None or store.get_meta("monitor") is not None:
                _readable(store.trials(TrialStatus.COMPLETED))  # what load_priors reads:
                return None  # (was: read after this search's store was made, which a
                # failure left half-written, its retry refused)
    except StoreError as err:  # not SQLite, or damaged: SQLite's words (the source is named)
        return f"its search.db cannot be read: {err.__cause__ or err}"
    except sqlite3.DatabaseError as err:  # no meta table, or no trials table
        if "no such table: meta" not in str(err):
            return f"its search.db cannot be read: {err}"
    except (ValueError, TypeError) as err:  # a trial's JSON or score damaged
        return f"its search.db cannot be read: a trial: {typed(err)}"
    return "its search.db holds no search"


def _readable(trials: Sequence[TrialResult]) -> None:
    """Raise ``TypeError`` for a completed trial whose score or arch is not what a store
    writes (a damaged file: a prior's loss and keys come from them)."""
    for trial in trials:
        if not isinstance(trial.arch, dict) or not (
                trial.score is None or isinstance(trial.score, (int, float))):
            raise TypeError(f"trial {trial.trial_id} holds arch {trial.arch!r}, score "
                            f"{trial.score!r}")


def priors_read(db: Path) -> bool:
    """Whether the run store ``db`` holds the priors of its warm start already."""
    try:
        with open_run(db.parent) as store:
            return store.get_meta("warm_start") is not None
    except FileNotFoundError:  # no store yet (a new search), or one that holds no search
        return False


def prior_count(sources: Sequence[str | Path], run_dir: str | Path | None = None) -> int:
    """How many results a warm start tells its optimizer first, at most: the priors a
    resume stored in ``run_dir``, else the ``sources``' completed trials (before they are
    mapped onto the space; a source that cannot be read counts none: ``check_sources``
    refuses it).

    Example:
        >>> prior_count([])
        0
    """
    if sources and run_dir is not None:
        try:
            with open_run(Path(run_dir)) as store:
                if store.get_meta("warm_start") is not None:
                    return len(store.priors())
        except FileNotFoundError:  # a new search
            pass
    total = 0
    for source in sources:
        try:
            with open_run(source) as store:
                total += store.count(TrialStatus.COMPLETED)
        except (FileNotFoundError, StoreError, sqlite3.DatabaseError):
            pass
    return total

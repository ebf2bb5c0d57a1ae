"""Whether an existing run store holds the search an invocation describes: a resume
must keep the space, monitor, mode and objectives (``check_same_search``); folders are
compared as the run stored them, so a moved or copied run folder still resumes.

Example:
    >>> import tempfile
    >>> from lightning_nas.store import open_search_store
    >>> run = tempfile.mkdtemp()
    >>> open_search_store(run, {"monitor": "val_acc", "mode": "max"}).close()
    >>> try:
    ...     open_search_store(run, {"monitor": "val_loss", "mode": "max"})
    ... except ConfigError as err:
    ...     print(str(err).split(" holds ")[1].split(";")[0])
    a search with a different monitor (stored 'val_acc', now 'val_loss')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_nas.errors import ConfigError, StoreError
from lightning_nas.numeric import is_number
from lightning_nas.results import TrialStatus
from lightning_nas.run_folder import file_in_place, lock_kind
from lightning_nas.store_json import dump_json
from lightning_nas.store_paths import FOLDER_KEYS, relative_folders, same_folders
from lightning_nas.wording import counted, unknown_status

if TYPE_CHECKING:
    from lightning_nas.store import RunStore

__all__ = ["AS_THEN", "NEWER_KEYS", "ONESHOT_WRITES", "SEARCH_WRITES", "check_known_statuses",
           "check_new_run_folder", "check_same_search", "check_search_folder", "oneshot_writes",
           "unfinished_oneshot"]

#: ``fixed`` keys that a store written by an older version lacks: not compared there
NEWER_KEYS = ("warm_start_fill",)
#: ``fixed`` keys that the first releases never wrote, with what their stores then meant
#: (a search without objectives): compared as that value
AS_THEN: dict[str, Any] = {"objectives": None}


#: what a search writes into its run folder, which a new search there would empty or replace
SEARCH_WRITES = ("trials", "logs", "best.yaml", "best.ckpt", "best_config.yaml")


#: what a one-shot run writes into its run folder and a search never does: its epoch-end
#: checkpoint, and its outputs but ``best_arch.yaml`` (``oneshot.run_outputs.RUN_OUTPUTS``; a folder
#: holding that is a finished run's) and ``report/`` (a search's report is there too)
ONESHOT_WRITES = ("checkpoints/last.ckpt", "history.json", "subnet.pt", "alphas.json",
                  "alphas.png", "finetune.json", "subnet_finetuned.pt")


#: a version folder a search's loggers write under its ``logs/``: a trial's (``trial_0001``,
#: a segment's ``trial_0001_resumed_<ns>``) or the summary, after a version the node sets
_SEARCH_VERSION = re.compile(r"(?:^|_)(?:trial_\d+(?:_resumed_\d+)?|summary)$")


def check_new_run_folder(run_dir: Path, run_dir_key: str = "run_dir",
                         store: str = "no search.db") -> None:
    """Raise ``ConfigError`` when ``run_dir``, which holds no ``search.db`` (a new search;
    ``store`` says so: or one that holds no search, an empty file),
    holds any of ``SEARCH_WRITES`` the search did not write (was: its ``trials/trial_0001/``
    was removed, its ``best.yaml`` replaced, without a word); an empty folder of them (a
    ``trials`` linked to another disk) and other files are let be. A ``logs/`` counts only
    where it holds a search's logger versions (``_search_logs``), which the new search's
    would write into again (a ``CSVLogger`` deletes the ``metrics.csv`` it finds there):
    what else a logger wrote there, or the folders an attempt that died before its
    ``search.db`` made, hold no search (was: any ``logs/`` not empty refused the folder)."""
    found = [f"{name}/" if (run_dir / name).is_dir() else name for name in SEARCH_WRITES
             if (_search_logs(run_dir / name) if name == "logs" else _holds(run_dir / name))]
    if found:
        raise ConfigError(f"`{run_dir_key}` {str(run_dir)!r} holds {', '.join(found)} but "
                          f"{store}: a new search would remove or replace them (it writes "
                          f"{', '.join(SEARCH_WRITES)}); pick an empty or new `{run_dir_key}`, "
                          f"or remove them")


def check_search_folder(run_dir: Path, run_dir_key: str = "run_dir",
                        no_search: bool = False) -> bool:
    """Raise ``ConfigError`` when a search may not write into ``run_dir``: a file in its
    place (or above it), a one-shot run folder (finished: ``best_arch.yaml``; or not: its
    ``search.lock`` says ``oneshot``, or it holds what only a one-shot run writes,
    ``oneshot_writes``), a new search's folder holding what a search
    writes (``check_new_run_folder``). Nothing is written (``--print_config`` checks it too).
    ``no_search``: its ``search.db`` holds no search (an empty file), so the search is a
    new one (was: a 0-byte ``search.db`` let a new search replace the ``best.*`` and
    ``trials/`` beside it).

    Returns:
        Whether the search is new (no ``search.db`` there, or ``no_search``).
    """
    blocked = file_in_place(run_dir)
    if blocked is not None:
        raise ConfigError(f"`{run_dir_key}` {str(run_dir)!r} cannot be a folder: {blocked} is a "
                          f"file; a search writes search.db, trials/ and best.* into a folder "
                          f"there (give another path)")
    new = no_search or not (run_dir / "search.db").exists()
    store = "a search.db that holds no search" if no_search else "no search.db"
    if new and (run_dir / "best_arch.yaml").is_file():
        raise ConfigError(f"`{run_dir_key}` {str(run_dir)!r} is a one-shot run folder "
                          f"(best_arch.yaml, {store}); give a search another folder")
    # (was: taken, the run no longer resumed; an older version's search.lock says no kind)
    locked = new and lock_kind(run_dir) == "oneshot"
    held = oneshot_writes(run_dir) if new else []
    if locked or held:
        last = run_dir / "checkpoints" / "last.ckpt"
        finish = (f"finish it with `lightning-nas oneshot CONFIG --oneshot.run_dir {run_dir} "
                  f"--ckpt_path last` ({last} is there)" if last.is_file() else
                  "run it again with `lightning-nas oneshot`")
        said = ("its search.lock says oneshot" if locked else
                f"it holds {', '.join(held)}")
        raise ConfigError(f"`{run_dir_key}` {str(run_dir)!r} holds a one-shot run that has not "
                          f"finished ({said}, no best_arch.yaml: running, or stopped before "
                          f"its end; {store}); {finish}, or give a search another folder")
    if new:  # a new search deletes nothing it did not write
        check_new_run_folder(run_dir, run_dir_key, store)
    return new


def oneshot_writes(run_dir: Path) -> list[str]:
    """The files of ``ONESHOT_WRITES`` (or their ``.NAME.partial``, a write cut short) that
    ``run_dir`` holds: a one-shot run's folder, whatever its ``search.lock`` says (an older
    version's names no kind), and none a search writes.

    Example:
        >>> oneshot_writes(Path("runs/no_such_run"))
        []
    """
    return [name for name in ONESHOT_WRITES
            if any((run_dir / part).is_file() for part in (name, _partial(name)))]


def unfinished_oneshot(run_dir: Path, shown: str) -> str | None:
    """What ``export`` and ``finetune`` say of ``run_dir`` (``shown`` as given) where it
    holds a one-shot run that has not finished (no ``search.db``, no ``best_arch.yaml``;
    its ``search.lock`` says ``oneshot``, or it holds what only a one-shot run writes), else
    None (was: "not a run directory (no search.db)", where ``show`` names the run).

    Example:
        >>> unfinished_oneshot(Path("runs/no_such_run"), "runs/no_such_run") is None
        True
    """
    if (run_dir / "search.db").exists() or (run_dir / "best_arch.yaml").is_file():
        return None
    if lock_kind(run_dir) != "oneshot" and not oneshot_writes(run_dir):
        return None
    last = run_dir / "checkpoints" / "last.ckpt"
    finish = (f"finish it with `lightning-nas oneshot CONFIG --oneshot.run_dir {shown} "
              f"--ckpt_path last` ({last} is there)" if last.is_file() else
              "run it again with `lightning-nas oneshot CONFIG`")
    return (f"{shown} holds a one-shot run that has not finished (no search.db, no "
            f"best_arch.yaml: running, or stopped before its end); {finish}: its end writes "
            f"its export (subnet.pt, best_arch.yaml), which `lightning-nas show` and "
            f"`report` read")


def _partial(name: str) -> str:
    """Where ``write_outputs`` writes ``name`` first: ``.subnet.pt.partial``."""
    folder, _, file = name.rpartition("/")
    return f"{folder}/.{file}.partial" if folder else f".{file}.partial"


def _holds(path: Path) -> bool:
    """Whether ``path`` holds anything: a file (or a broken link), or a folder not empty."""
    if path.is_dir():
        return any(path.iterdir())
    return path.exists() or path.is_symlink()


def _search_logs(logs: Path) -> bool:
    """Whether ``logs`` holds a file in a version folder a search's loggers write
    (``_SEARCH_VERSION``): ``logs/<name>/<version>``, or ``logs/<version>`` for a logger
    whose ``name`` is empty."""
    if not logs.is_dir():
        return logs.exists() or logs.is_symlink()  # a file in its place: replaced
    versions = [*logs.glob("*"), *logs.glob("*/*")]
    return any(v.is_dir() and _SEARCH_VERSION.search(v.name) and any(
        f.is_file() for f in v.rglob("*")) for v in versions)


def _one_goal(objectives: Any, monitor: Any, mode: Any) -> Any:
    """``None`` for ``objectives`` of one that is ``{monitor: mode}`` (a search with it
    ranks, keeps and resumes as one given ``monitor`` and ``mode``), else ``objectives``."""
    if isinstance(objectives, Mapping) and dict(objectives) == {monitor: mode}:
        return None
    return objectives


def check_same_search(store: RunStore, run_dir: Path, fixed: Mapping[str, Any],
                      run_dir_key: str = "run_dir") -> None:
    """Raise ``ConfigError`` (``store`` closed) naming the first of ``fixed`` (see
    ``open_search_store``) that differs from what the search in ``store`` holds; first a
    ``StoreError`` for a store a newer version wrote (``check_known_statuses``)."""
    check_known_statuses(store, run_dir, run_dir_key)
    missing = object()
    for key, new in fixed.items():
        old = store.get_meta(key, missing)
        if old is missing and key in NEWER_KEYS:  # a store of an older version: resumes
            continue
        if old is missing and key in AS_THEN:  # was: refused whatever a resume passed
            old = AS_THEN[key]
        if key == "objectives" and isinstance(old, Mapping):
            old = store.objectives()  # the monitor first, as the earliest stores did not
        if key == "objectives":  # one objective ranks as its monitor and mode do (was:
            old = _one_goal(old, store.get_meta("monitor"), store.get_meta("mode"))
            new = _one_goal(new, fixed.get("monitor"), fixed.get("mode"))  # refused)
        if key in FOLDER_KEYS and same_folders(old, store.get_meta(f"{key}_relative"), new,
                                                relative_folders(new, run_dir)):
            continue
        if key == "warm_start_fill" and _same_fill(old, new, fixed.get("space")):  # 1, 1.0
            continue
        if _typed(old) != _typed(new) or (  # 1, 1.0 and True are other values of a space
                key == "objectives" and isinstance(old, Mapping)  # order: the tells
                and isinstance(new, Mapping) and list(old) != list(new)):
            done = store.count(TrialStatus.COMPLETED)
            store.close()
            name = FOLDER_KEYS.get(key, key)
            held = (f"a search started without {name}" if old is missing else
                    f"a search with a different {name} ({_what_differs(old, new)}"
                    f"{_not_here(new, name) if key in FOLDER_KEYS else ''})")
            fresh = "" if done else f" (it completed no trial: remove {run_dir} to start anew)"
            raise ConfigError(f"{run_dir} holds {held}; resume with the same {name}, or "
                              f"choose another {run_dir_key}{fresh}")
    _check_priors_read(store, run_dir, fixed, run_dir_key)


def check_known_statuses(store: RunStore, run_dir: Path, run_dir_key: str = "run_dir") -> None:
    """Raise ``StoreError`` (``store`` closed) for a store holding trials of a status this
    version does not know: a newer version wrote it, and only that version resumes it (was:
    ``ValueError: 'STOPPED' is not a valid TrialStatus`` once the search had opened it to
    write). The stores' schema has no version number: such a status is how it shows.

    Example:
        >>> import tempfile
        >>> from lightning_nas.store import RunStore
        >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
        >>> check_known_statuses(store, Path("runs/a"))  # none: nothing said
    """
    unknown = store.unknown_statuses()
    if not unknown:
        return
    wrote = (store.get_meta("versions") or {}).get("lightning-nas")
    # a Hydra sweep's folder: `finetune` refuses it (its task builds its model)
    readers = ("`lightning-nas show` and `export`" if store.get_meta("hydra") is not None
               else "`lightning-nas show`, `export` and `finetune`")
    store.close()
    names = ", ".join(f"{n} {status.lower()}" for status, n in unknown.items())
    raise StoreError(
        f"{run_dir} holds {counted(sum(unknown.values()), 'trial')} of "
        f"{unknown_status(len(unknown), _this_version())}: {names}; resume it with the "
        f"version that wrote it{f' (its last: {wrote})' if wrote else ''}, "
        f"or choose another {run_dir_key}; {readers} read its other trials")


def _this_version() -> str:
    """This lightning-nas's version, as a refusal names it."""
    try:
        return metadata.version("lightning-nas")
    except metadata.PackageNotFoundError:  # a source tree not installed
        return "unknown version"


def _check_priors_read(store: RunStore, run_dir: Path, fixed: Mapping[str, Any],
                       run_dir_key: str) -> None:
    """Raise ``ConfigError`` (``store`` closed) for a resume without ``warm_start`` of a
    run whose first start stopped before it stored its priors (was: it ran with none,
    without a word, where a resume without warm_start reads the stored ones)."""
    sources = store.get_meta("warm_start_sources")
    if not sources or "warm_start_sources" in fixed or store.get_meta("warm_start") is not None:
        return
    done = store.count(TrialStatus.COMPLETED)
    store.close()
    fresh = "" if done else f" (it completed no trial: remove {run_dir} to start anew)"
    raise ConfigError(f"{run_dir} holds a search started with `warm_start: "
                      f"[{', '.join(sources)}]` that stopped before it read their results "
                      f"(it stored no priors); resume with that warm_start to read them "
                      f"now, or choose another {run_dir_key}{fresh}")


def _not_here(folders: Any, name: str) -> str:
    """Of folders (absolute paths) a resume names that do not exist: that a relative one is
    of the current folder (a search resumed from another folder than it started in; was:
    told to give the same ``warm_start``, which it did), or "" where all exist.

    Example:
        >>> _not_here(["/no_such_folder"], "warm_start")[:38]
        ': /no_such_folder does not exist, a re'
    """
    missing = [str(f) for f in folders if isinstance(f, str) and not Path(f).exists()] \
        if isinstance(folders, list) else []
    if not missing:
        return ""
    return (f": {', '.join(missing)} {'does' if len(missing) == 1 else 'do'} not exist, a "
            f"relative {name} folder being of the current folder, {Path.cwd()}: run the "
            f"command from the folder the search was started in, or leave {name} out, as a "
            f"resume reads the results it stored")


def _what_differs(old: Any, new: Any) -> str:
    """The keys of two mappings that differ (``key: stored, now new``; ``unset`` for a key
    one lacks), or both values whole when they are no mappings or differ in order alone.

    Example:
        >>> _what_differs({"a": {"choice": [1, 2]}, "b": 1}, {"a": {"choice": [1, 3]}, "b": 1})
        "a: {'choice': [1, 2]}, now {'choice': [1, 3]}"
    """
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        changed = [f"{key}: {old.get(key, 'unset')!r}, now {new.get(key, 'unset')!r}"
                   for key in dict.fromkeys([*old, *new])
                   if key not in old or key not in new or _typed(old[key]) != _typed(new[key])]
        if changed:
            return "; ".join(changed)
    return f"stored {old!r}, now {new!r}"


def _same_fill(old: Any, new: Any, space: Any) -> bool:
    """Whether two ``warm_start_fill`` mappings fill the same keys with the same values as a
    fill maps onto its space (``space``: its ``to_dict()``), where a number is matched by
    equal number (``1`` fills a ``[1.0, 2.0]`` choice with ``1.0``; ``True`` is no number):
    ``{"c": 1}`` and ``{"c": 1.0}`` are one fill (was: refused as a different one), but for
    a key whose options hold both (``[1, 1.0]``)."""
    if not isinstance(old, Mapping) or not isinstance(new, Mapping) or set(old) != set(new):
        return False
    return all(_typed(old[k]) == _typed(new[k]) or (
        is_number(old[k]) and is_number(new[k]) and old[k] == new[k]
        and not _both_options(_spec(space, k), old[k], new[k])) for k in old)


def _spec(space: Any, key: str) -> Any:
    """The entry of the (dotted) space key ``key`` in a space's ``to_dict()``; None if none."""
    if isinstance(space, Mapping) and key in space:
        return space[key]
    head, _, rest = key.partition(".")
    return _spec(space[head], rest) if rest and isinstance(space, Mapping) \
        and head in space else None


def _both_options(spec: Any, one: Any, other: Any) -> bool:
    """Whether a space entry ``spec`` lists ``one`` and ``other`` as two options."""
    lists = [v for v in spec.values() if isinstance(v, list)] if isinstance(spec, Mapping) \
        else []
    return any({_typed(one), _typed(other)} <= {_typed(v) for v in values} for values in lists)


def _typed(value: Any) -> str:
    """``value`` as JSON with sorted keys: equal for the same values in another key order,
    not for ``1`` against ``1.0`` or ``True``; a NaN as the store writes it (None)."""
    return dump_json(value, sort_keys=True, default=str)

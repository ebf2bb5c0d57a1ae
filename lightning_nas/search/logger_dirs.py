"""A folder no trial's Trainer could write under, refused before any training: a logger's,
``default_root_dir``, a ``ModelCheckpoint``'s or profiler's ``dirpath``
(``check_trainer_dirs``).

``check_logger_dirs`` reads the ``save_dir`` (a W&B logger's ``dir`` too) of each logger of
a search's ``trainer.logger`` (a fit's, a fine-tune's, a one-shot search's too), config
node or object, and refuses one that is a file, lies under a file, or lies in a folder this
process cannot write, naming its key as written (``trainer.logger[1].init_args.save_dir``)
and the reason (was: two trials failed "before training started" with the
``NotADirectoryError`` of the path alone, then the search stopped; a logger object's raised
out of the search; a fit, a fine-tune and a one-shot search failed on it once the Trainer
wrote, the model and data built). ``check_trainer_dirs`` adds ``trainer.default_root_dir``
and the ``dirpath`` of each ``ModelCheckpoint`` of ``trainer.callbacks`` and of
``trainer.profiler`` (was: a file there taken, every trial of a search FAILED on a
checkpoint's or a profiler's, a fit, a fine-tune and a one-shot search failed with
Lightning's ``FileExistsError`` once a checkpoint was saved, or on the profiler's report
once training was done).
``unwritable`` says why of one path. A remote folder (``s3://...``) is its filesystem's to
refuse.

Example:
    >>> import tempfile
    >>> unwritable(tempfile.mkdtemp()) is None
    True
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import Logger
from lightning.pytorch.profilers import Profiler

from lightning_nas.config.imports import import_object
from lightning_nas.config.node_labels import node_label
from lightning_nas.config.node_merge import merge_objects
from lightning_nas.config.nodes import is_node, target_path
from lightning_nas.errors import ConfigError

__all__ = ["check_logger_dirs", "check_trainer_dirs", "space_keys_of", "unwritable"]

#: the arguments a logger node names its folder by (W&B's ``dir`` beside ``save_dir``)
_KEYS = ("save_dir", "dir")
#: the Trainer arguments whose objects of a class write under a ``dirpath``: what they write
#: (of whose files, ``{}``)
_WRITERS = (("callbacks", ModelCheckpoint, "{} checkpoints"),
            ("profiler", Profiler, "{} reports"))
#: what each refusal asks for and says, after what writes under the folder
_ASK = ("give a folder it can write (one that exists, or that can be made); found before "
        "any training (no folder was made)")


def unwritable(path: str | os.PathLike[str]) -> str | None:
    """Why no logger can make and write folder ``path`` (``~`` is the home folder), or
    None: it is a file, it lies under a file, or the nearest folder of it that exists
    takes no new file from this process (tried with a temporary file, removed at once:
    the permissions, a read-only file system; was root, which writes anywhere, refused by
    the mode alone). A remote path (``s3://``) is not checked.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile() as f:
        ...     unwritable(f.name), unwritable(f.name + "/logs").split("' ")[-1]
        ('it is a file, not a folder', 'is a file, so no folder can be made in it')
    """
    if "://" in str(path):
        return None
    folder = Path(os.path.expanduser(str(path))).absolute()
    if folder.exists() and not folder.is_dir():
        return "it is a file, not a folder"
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{str(existing)!r} is a file, so no folder can be made in it"
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".lnas-probe-"):
            pass
    except OSError as err:
        where = "" if existing == folder else f": no folder can be made in {str(existing)!r}"
        return f"it cannot be written{where} ({err.strerror or type(err).__name__})"
    return None


def check_logger_dirs(trainer: Mapping[str, Any], searched: Sequence[Any] | None = None,
                      logs: str = "each trial's logs",
                      said: Sequence[tuple[str, Any]] | None = None) -> None:
    """Refuse, before training, a logger of ``trainer``'s ``logger`` whose folder
    ``unwritable`` says no logger can write: a node's ``save_dir`` (or ``dir``) as
    written, a logger object's ``save_dir``. ``searched``: the values the searched
    ``trainer.logger`` may take, each checked as a trial merges it over ``trainer``'s,
    named by the space key and value in ``said`` (``space_values.option_keys``: a key into
    one node, ``trainer.logger.0.save_dir``) where given (was: ``trainer.logger`` and the
    whole merged value); ``logs``: what the logger writes there, as the message says it (a
    search's trials'; ``"the fit's logs"``, ``"the fine-tune's logs"``, ``"the one-shot
    search's logs"``).

    Raises:
        ConfigError: naming the key (``trainer.logger[0].init_args.save_dir``), its value
            and the reason.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile() as f:
        ...     check_logger_dirs({"logger": {"class_path": "CSVLogger",
        ...                                   "init_args": {"save_dir": f.name}}})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.logger.init_args.save_dir='...': it is a file, ...
    """
    for said_as, _, why in _unwritable(trainer, "logger", searched, said, _folders):
        raise ConfigError(f"{said_as}: {why}; the logger writes {logs} under it: {_ASK}")


def check_trainer_dirs(trainer: Mapping[str, Any],
                       searched: Mapping[str, Sequence[Any]] | None = None,
                       whose: str = "each trial's",
                       keys: Mapping[str, Sequence[tuple[str, Any]]] | None = None) -> None:
    """Refuse, before training, a folder the Trainer of settings ``trainer`` writes under
    that ``unwritable`` says none can: a logger's (``check_logger_dirs``), its
    ``default_root_dir`` (where Lightning puts what names no folder of its own: a
    ``ModelCheckpoint``'s without a ``dirpath`` under no logger, a profiler's, its default
    logger's; a search's trials each a folder under it), and the ``dirpath`` of each
    ``ModelCheckpoint`` (or subclass) of its ``callbacks`` and of its ``profiler``, a
    node's as written or an object's. ``searched``: the values each searched Trainer
    argument may take (``space_values.trainer_options``), each checked in place of
    ``trainer``'s as a trial takes it, named by its space key and value in ``keys``
    (``option_keys``: a key into a node of the list, ``trainer.callbacks.0.dirpath``)
    where given; ``whose``: whose files, as the message says it (``"the fit's"``, ``"the
    fine-tune's"``, ``"the one-shot search's"``).

    Raises:
        ConfigError: naming the key (``trainer.default_root_dir``,
            ``trainer.callbacks[0].init_args.dirpath``, ``trainer.callbacks.ckpt.dirpath``,
            ``trainer.profiler.init_args.dirpath``), its value and the reason.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile() as f:
        ...     check_trainer_dirs({"default_root_dir": f.name + "/out"}, whose="the fit's")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.default_root_dir='.../out': '...' is a file, ...
    """
    searched = searched or {}
    check_logger_dirs(trainer, searched.get("logger"), f"{whose} logs",
                      (keys or {}).get("logger"))
    roots = searched.get("default_root_dir")
    for root in [trainer.get("default_root_dir")] if roots is None else roots:
        why = unwritable(root) if isinstance(root, (str, os.PathLike)) else None
        if why is not None:
            key = (f"trainer.default_root_dir={str(root)!r}" if roots is None else
                   f"space key 'trainer.default_root_dir' may take {str(root)!r}")
            raise ConfigError(f"{key}: {why}; the Trainer writes under it {whose} files "
                              f"that name no folder of their own (a ModelCheckpoint's without "
                              f"a dirpath under no logger, a profiler's): {_ASK}")
    for name, kind, writes in _WRITERS:
        _check_nodes(trainer, name, kind, searched.get(name), (keys or {}).get(name),
                     writes.format(whose))


def _check_nodes(trainer: Mapping[str, Any], name: str, kind: type,
                 searched: Sequence[Any] | None, said: Sequence[tuple[str, Any]] | None,
                 writes: str) -> None:
    """``check_trainer_dirs``' check of the ``dirpath`` of each object of class ``kind``
    (a node or an object) at Trainer argument ``name`` (one, or a list), or of each value
    ``searched`` it may take (``said``: the space key and value that gave each), which
    ``writes`` what the message says (``"each trial's checkpoints"``)."""
    def dirpaths(item: Any, place: str) -> Iterator[tuple[str, str | os.PathLike[str]]]:
        return _dirpaths(item, place, kind)

    for said_as, item, why in _unwritable(trainer, name, searched, said, dirpaths):
        raise ConfigError(f"{said_as}: {why}; the {_class_name(item)} writes {writes} under "
                          f"it: {_ASK}")


def _unwritable(trainer: Mapping[str, Any], name: str, searched: Sequence[Any] | None,
                said: Sequence[tuple[str, Any]] | None,
                folders: Callable[[Any, str], Iterable[tuple[str, str | os.PathLike[str]]]]
                ) -> Iterator[tuple[str, Any, str]]:
    """Each folder ``folders(item, place)`` names in Trainer argument ``name`` (one item, or
    a list), or in each value ``searched`` it may take (``said``: the space key and value
    that gave each), that cannot be written: ``(the key and folder as a message says them,
    the item, why)``; the logger's and the ``dirpath`` checks' one walk."""
    given = trainer.get(name)
    values = [given] if searched is None else [merge_objects(given, v) for v in searched]
    for value, (space_key, taken) in zip(values, space_keys_of(values, said, name), strict=True):
        listed = isinstance(value, (list, tuple))
        for i, item in enumerate(value if listed else [value]):
            place = node_label(f"trainer.{name}", i) if listed else f"trainer.{name}"
            for key, folder in folders(item, place):
                why = unwritable(folder)
                if why is not None:
                    space = ("" if searched is None else
                             f"space key {space_key!r} may take {taken!r}: ")
                    yield f"{space}{key}={str(folder)!r}", item, why


def space_keys_of(values: Sequence[Any], said: Sequence[tuple[str, Any]] | None,
          name: str) -> list[tuple[str, Any]]:
    """The space key and value that gave each of ``values`` of Trainer argument ``name``:
    ``said`` where it names one each, else ``trainer.NAME`` and the value itself (the
    refusals of a searched logger's or callback's folder, run id or version name the key
    that points into its node: ``trainer.logger.0.save_dir``).

    Example:
        >>> space_keys_of(["a", "b"], None, "logger")
        [('trainer.logger', 'a'), ('trainer.logger', 'b')]
    """
    said = list(said or [])
    if len(said) != len(values):  # (the values themselves, as the space key took them)
        said = [(f"trainer.{name}", value) for value in values]
    return said


def _folders(item: Any, place: str, keys: Sequence[str] = _KEYS, kind: type = Logger,
             attribute: str = "save_dir") -> Iterator[tuple[str, str | os.PathLike[str]]]:
    """``(key as written, folder)`` of each folder logger ``item`` (at ``place``) names: a
    class-path node's ``init_args`` (``place.init_args.save_dir``), a Hydra node's own keys
    (``place.save_dir``), a logger object's ``save_dir``; of another ``kind`` of object, by
    its ``keys`` and ``attribute``."""
    if is_node(item):
        nested = isinstance(item.get("init_args"), Mapping)
        args, prefix = (item["init_args"], f"{place}.init_args") if nested else (item, place)
        for key in keys:
            if isinstance(args.get(key), (str, os.PathLike)):
                yield f"{prefix}.{key}", args[key]
    elif isinstance(item, kind):
        try:
            folder = getattr(item, attribute)
        except Exception:  # noqa: BLE001 - a folder it cannot say: Lightning says why
            return
        if isinstance(folder, (str, os.PathLike)):
            yield f"{place} (a {type(item).__name__} object)'s {attribute}", folder


def _dirpaths(item: Any, place: str, kind: type) -> Iterator[tuple[str, str | os.PathLike[str]]]:
    """``_folders`` of ``item`` (at ``place``) if it is a node or object of class ``kind``
    (or a subclass): its ``dirpath``. A node whose class does not import is left to the
    checks of the Trainer's own arguments."""
    if is_node(item):
        try:
            cls = import_object(target_path(item))
        except ConfigError:
            return
        if not (isinstance(cls, type) and issubclass(cls, kind)):
            return
    yield from _folders(item, place, ("dirpath",), kind, "dirpath")

def _class_name(item: Any) -> str:
    """The class name of callback ``item``, a node's (its path's last part) or an object's."""
    return str(target_path(item)).rsplit(".", 1)[-1] if is_node(item) else type(item).__name__

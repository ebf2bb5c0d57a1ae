"""A logger *object* the user gives a search (not a config node): each trial builds its
Trainer from a copy of it (``instantiate`` deep-copies it; worker processes and Ray actors
get it pickled in the trial's spec, never one shared live object), and the copy logs where
the object says. A TensorBoard or CSV logger's copy gets the next free version in the search
process (``pin_versions``); a folder that is the same for every copy, a fixed version or a
logger of the user's own class with a fixed ``log_dir`` (``root_dir``, ``save_dir``), is
warned of before training (``warn_fixed_versions``): Lightning's ``Logger`` has no public
way to move an object's folder. So is a config node of such a class whose ``__init__``
takes no ``version``: every trial's logger is built alike; and a W&B logger object that
logs every trial into one remote run (``_one_run``). An MLflow logger, node or object, with
a ``run_id`` is refused (``check_mlflow_run_ids``): MLflow never changes a run's param. The
checks before training build the Trainer with a stand-in for a W&B object (``unstarted``),
whose copy would start its run; a W&B object is refused where trials run in other processes
(``check_w_and_b_objects``): their copies cannot attach to its run.

Example:
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> [pin_versions(CSVLogger(root)).version for _ in range(2)]
    [0, 1]
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Sequence
from typing import Any

from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.loggers import (
    CSVLogger,
    Logger,
    MLFlowLogger,
    TensorBoardLogger,
    WandbLogger,
)

from lightning_nas.config.instantiate import accepted_kwargs, import_object, instantiate
from lightning_nas.config.node_merge import merge_objects
from lightning_nas.config.nodes import is_node, node_args, target_path
from lightning_nas.errors import ConfigError
from lightning_nas.search.logger_dirs import space_keys_of
from lightning_nas.search.trial_logs import logger_defaults
from lightning_nas.user_warnings import warn_user

__all__ = ["check_mlflow_run_ids", "check_w_and_b_objects", "pin_versions", "unstarted",
           "warn_fixed_versions"]

#: where a logger of the user's own class logs, in the order read (Lightning's ``Logger``)
_FOLDERS = ("log_dir", "root_dir", "save_dir")


def pin_versions(logger: Any) -> Any:
    """``logger`` (a Trainer's ``logger`` setting) with a copy of each TensorBoard or CSV
    logger *object* in it whose version is picked now, its folder made: called in the
    search process for one trial at a time, so every trial gets the next free version of
    its own (trials in parallel workers picked theirs at the same moment, the same one).
    Only these loggers, whose version is a folder found by listing their root, read
    through their public ``log_dir``; other objects, and config nodes (a version per trial
    by ``logger_defaults``), are returned as they are.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> [pin_versions(TensorBoardLogger(root)).version for _ in range(2)]
        [0, 1]
    """
    if isinstance(logger, list):
        return [pin_versions(item) for item in logger]
    if not isinstance(logger, (TensorBoardLogger, CSVLogger)):
        return logger
    logger = copy.deepcopy(logger)  # the user's object keeps its version unpicked
    log_dir = str(logger.log_dir)  # picks the version (or a fixed one)
    get_filesystem(log_dir).makedirs(log_dir, exist_ok=True)
    return logger


def unstarted(logger: Any) -> Any:
    """``logger`` (a Trainer's ``logger`` setting) for a check that builds a Trainer before
    training (``TrialTemplate.dry_build``, ``check_trainer_builds``): each W&B logger
    *object* in it stood in for by a CSV logger that logs nothing, since the build copies
    it and Lightning's ``WandbLogger`` starts its run as it is copied (``__getstate__``;
    was: the search's check started the object's run before any trial, kept where a later
    check refused the search). A Trainer takes any logger; config nodes (a W&B one starts
    no run as it is built) and other objects are returned as they are.

    Example:
        >>> unstarted([{"class_path": "lightning.pytorch.loggers.WandbLogger"}])
        [{'class_path': 'lightning.pytorch.loggers.WandbLogger'}]
    """
    if isinstance(logger, (list, tuple)):
        return [unstarted(item) for item in logger]
    if not isinstance(logger, WandbLogger):
        return logger
    return _StandIn(logger)


def check_w_and_b_objects(trainer: dict[str, Any], executor: str) -> None:
    """Refuse, before training, a W&B logger *object* in ``trainer``'s ``logger`` where
    ``executor`` (``"process"``, ``"ray"``, or ``"auto"`` that picked worker processes) runs
    trials in other processes: its run starts in the search process as the first trial's
    spec is pickled (Lightning's ``WandbLogger.__getstate__``), and a worker's copy attaches
    to it only where that worker was started after it, with W&B's service (was: taken, and
    a trial whose worker started before it FAILED, ``UsageError: Unable to attach to run
    <id>``, others completed, as spawn order fell; its copies all logging into one run).
    A W&B config node, each trial's run its own, and inline trials work.

    Args:
        trainer: the Trainer arguments every trial gets (its ``logger`` read).
        executor: the search's executor setting, a name.

    Raises:
        ConfigError: naming the logger, the executor and what works.

    Example:
        >>> check_w_and_b_objects({"logger": CSVLogger(".")}, "process")  # not W&B: taken
    """
    given = trainer.get("logger")
    items = given if isinstance(given, (list, tuple)) else [given]
    for i, item in enumerate(items):
        if not isinstance(item, WandbLogger):
            continue
        where = f"trainer.logger{f'[{i}]' if isinstance(given, (list, tuple)) else ''}"
        place = "Ray" if executor == "ray" else "worker processes"
        raise ConfigError(
            f"{where} ({type(item).__name__}) is a W&B logger object, and "
            f"executor={executor!r} runs trials in {place}: a trial's copy of the object "
            f"attaches to the object's one run, started in the search process, which a "
            f"{'Ray actor' if executor == 'ray' else 'worker started before it'} cannot "
            f"(W&B's 'Unable to attach to run'), so trials fail as workers happen to start; "
            f"give the logger as a config node ({{'class_path': "
            f"'{_class_path(type(item))}', 'init_args': {{...}}}}, without an id): each "
            f"trial then logs to a run of its own, in any executor; or keep the object with "
            f"executor='inline' (every trial then logs into its one run)")


def check_mlflow_run_ids(trainer: dict[str, Any], searched: Sequence[Any] | None = None,
                        said: Sequence[tuple[str, Any]] | None = None) -> None:
    """Refuse, before training, an MLflow logger in ``trainer``'s ``logger`` that sends every
    trial into one run: a config node with a ``run_id``, or an object holding one (given, or
    its run started; read without starting one). MLflow never changes a param of a run, so
    every trial after the first failed as it logged its architecture there (was: a warning,
    then ``MlflowException: Changing param values is not allowed``, trial after trial).
    ``searched``: the values space key ``trainer.logger`` may take, each checked as a trial
    merges it over ``trainer``'s (``warn_fixed_versions``' ``searched``), named by the
    space key and value in ``said`` (``space_values.option_keys``: a key into one node,
    ``trainer.logger.0.run_id``) where given (was: ``trainer.logger`` and the whole merged
    value).

    Raises:
        ConfigError: naming the logger, its run id and what works.

    Example:
        >>> check_mlflow_run_ids({"logger": {"class_path": "lightning.pytorch.loggers."
        ...                                  "MLFlowLogger"}})  # a run per trial: taken
    """
    given = trainer.get("logger")
    values = [given] if searched is None else [merge_objects(given, v) for v in searched]
    keys = space_keys_of(values, said, "logger")
    for value, (space_key, taken) in zip(values, keys, strict=True):
        items = value if isinstance(value, (list, tuple)) else [value]
        for i, item in enumerate(items):
            node = is_node(item) and _node_run(item) is not None
            run_id = node_args(item).get("run_id") if node else (
                getattr(item, "_run_id", None) if isinstance(item, MLFlowLogger) else None)
            if run_id is None:
                continue
            where = f"trainer.logger{f'[{i}]' if isinstance(value, (list, tuple)) else ''}"
            name = target_path(item).rsplit(".", 1)[-1] if node else type(item).__name__
            space = "" if searched is None else f"space key {space_key!r} may take {taken!r}: "
            raise ConfigError(
                f"{space}{where} ({name}) has run_id {run_id!r}: every trial would log into "
                f"that one MLflow run, which never changes a logged param, so every trial "
                f"after the first would fail logging its architecture (MlflowException: "
                f"Changing param values is not allowed); "
                + ("leave its run_id out" if node else
                   f"give the logger as a config node ({{'class_path': "
                   f"'{_class_path(type(item))}', 'init_args': {{...}}}}, without a run_id)")
                + ": each trial then logs to a run of its own, named by the run folder's "
                  "label and the trial")


class _StandIn(CSVLogger):
    """A CSV logger that logs nothing in the place of W&B logger object ``logger``, holding
    its class and its attributes but its run (``_experiment``), so that pickling it (the
    checks that a trial's spec reaches worker processes, ``check_sendable``, and Ray's
    actors, its probe) pickles what a trial's copy of ``logger`` sends, without starting a
    run (was: a plain CSV logger: a W&B object pickle refuses, an attribute of the user's,
    taken, each trial then failing as it was sent)."""

    def __init__(self, logger: WandbLogger) -> None:
        super().__init__(logger.save_dir or ".", name="", version="unstarted")
        self.held = (type(logger), {key: value for key, value in vars(logger).items()
                                    if key != "_experiment"})


def _users_own(cls: type) -> bool:
    """Whether ``cls``, a ``Logger``, is a class of the user's built on Lightning's
    ``Logger`` itself (not on one of Lightning's loggers)."""
    return next(c for c in cls.__mro__ if c.__module__.startswith("lightning.")) is Logger


def _one_folder(item: Any) -> tuple[str, str] | None:
    """``(property, folder)``: where every copy of ``item``, a logger object of the user's
    own class (``_users_own``: a TensorBoard or CSV logger's version is checked apart,
    Lightning's others log to a service's runs), logs, the first of its ``log_dir``,
    ``root_dir`` and ``save_dir`` that is set, when two copies read the same; else None (it
    keeps no folder, picks one per copy, or cannot say)."""
    if not (isinstance(item, Logger) and _users_own(type(item))):
        return None
    try:
        first, second = copy.deepcopy(item), copy.deepcopy(item)
        for key in _FOLDERS:
            folder = getattr(first, key)
            if folder is not None or getattr(second, key) is not None:
                return (key, str(folder)) if folder == getattr(second, key) else None
    except Exception:  # noqa: BLE001 - a copy or folder it cannot give: Lightning says it
        return None
    return None


def _class_path(cls: type) -> str:
    """``cls``'s path for a config node: Lightning's loggers' as ``lightning.pytorch.loggers``
    exports them."""
    loggers = importlib.import_module("lightning.pytorch.loggers")
    if getattr(loggers, cls.__name__, None) is cls:
        return f"lightning.pytorch.loggers.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def _one_run(item: Any) -> str | None:
    """Which remote run every copy of ``item``, a W&B logger object, logs into, read without
    starting one (no ``experiment``: it starts it): always (Lightning's ``WandbLogger``
    starts its run as it is copied or pickled, ``__getstate__``, and each copy takes that
    run's id), named where it holds an id (its ``version``: given, or the run's it
    started); else None (an MLflow object holding a ``run_id``: ``check_mlflow_run_ids``
    refuses it)."""
    if isinstance(item, WandbLogger):
        held = item.version  # the run's id, or the id given (Lightning's: starts nothing)
        return ("one W&B run" + (f", {held!r}" if held is not None else "") + " (each copy of "
                "a WandbLogger object takes the id of the run the object holds, or starts as "
                "it is copied or pickled)")
    return None


def _node_run(node: Any) -> str | None:
    """The one run the loggers a config ``node`` of an MLflow logger class builds log
    into: the ``run_id`` it sets, every trial's (``logger_defaults`` gives each a
    ``run_name``); else None."""
    try:
        target = import_object(target_path(node))
    except Exception:  # noqa: BLE001 - the Trainer's build check names what is wrong
        return None
    run_id = node_args(node).get("run_id")
    if not (isinstance(target, type) and issubclass(target, MLFlowLogger)) or run_id is None:
        return None
    return f"one MLflow run, {run_id!r} (its run_id, which each trial's logger is given)"


def _node_folder(node: Any, save_dir: str) -> tuple[str, str] | None:
    """``_one_folder`` of the logger a config ``node`` of the user's own class builds for
    every trial alike: one whose ``__init__`` takes no ``version`` (``logger_defaults``
    gives each trial's its own), built as a trial builds it (a ``save_dir`` it takes and
    leaves out: ``save_dir``); else None (one that cannot be built: the Trainer's build
    check says why)."""
    try:
        target = import_object(target_path(node))
        if not (isinstance(target, type) and issubclass(target, Logger)
                and _users_own(target)) or "version" in accepted_kwargs(target.__init__)[0]:
            return None
        return _one_folder(instantiate(logger_defaults(node, save_dir, "trials", "trial")))
    except Exception:  # noqa: BLE001 - the Trainer's build check names what is wrong
        return None


def warn_fixed_versions(trainer: dict[str, Any], save_dir: str = "logs",
                        searched: Sequence[Any] | None = None,
                        said: Sequence[tuple[str, Any]] | None = None) -> list[str]:
    """Warn of each logger in ``trainer``'s ``logger`` that logs every trial into one
    folder: a TensorBoard or CSV logger *object* whose version is fixed (given, or picked by
    reading its ``log_dir``), which ``pin_versions`` keeps (a CSV logger's ``metrics.csv``
    replaced trial by trial, event files of all trials in one TensorBoard run, a
    ``ModelCheckpoint`` without a ``dirpath`` writing there too), and one of the user's own
    class whose folder is the same for every copy (``_one_folder``: was said by nothing,
    every trial's lines in one file), or a config node of one that takes no ``version``
    (``_node_folder``); and a W&B logger object, whose copies all log into one remote run
    (``_one_run``: read without starting a run; was: said by nothing). A config node's
    version (an MLflow one's ``run_name``) is each trial's own (``logger_defaults``).

    Args:
        trainer: the Trainer arguments every trial gets (its ``logger`` read).
        save_dir: the run's ``logs`` folder (a node's ``save_dir`` where it leaves it out).
        searched: the values space key ``trainer.logger`` may take, where it is searched:
            each is checked as a trial merges it over ``trainer``'s (``merge_objects``, as
            LightningCLI; was: as given), its warnings naming the key and the value (was:
            none checked); ``trainer``'s own ``logger``, which no trial then uses, is not.
        said: the space key and value that gave each of ``searched`` (``option_keys``: a
            key into one node, ``trainer.logger.0.root``), which its warnings name (was:
            ``trainer.logger`` and the whole value).

    Returns:
        The warnings' texts.

    Example:
        >>> import tempfile, warnings
        >>> with warnings.catch_warnings(record=True):
        ...     warnings.simplefilter("always")
        ...     said = warn_fixed_versions({"logger": CSVLogger(tempfile.mkdtemp(), version=2)})
        >>> said[0][:64]
        'trainer.logger (CSVLogger) has version 2: every trial writes int'
    """
    given = trainer.get("logger")
    texts = _fixed_versions(given, save_dir) if searched is None else [
        f"space key {space_key!r} may take {taken!r}: {text}"
        for value, (space_key, taken) in zip(searched, space_keys_of(searched, said, "logger"),
                                             strict=True)
        for text in _fixed_versions(merge_objects(given, value), save_dir)]  # the trial's
    for text in texts:
        warn_user(text)
    return texts


def _fixed_versions(given: Any, save_dir: str) -> list[str]:
    """``warn_fixed_versions``' texts of ``given``, a Trainer's ``logger`` setting."""
    items = given if isinstance(given, (list, tuple)) else [given]
    said = []
    for i, item in enumerate(items):
        where = f"trainer.logger{f'[{i}]' if isinstance(given, (list, tuple)) else ''}"
        # the version it was given or picked (``version`` would pick one: no public reader)
        version = getattr(item, "_version", None)
        if isinstance(item, (TensorBoardLogger, CSVLogger)) and version is not None:
            said.append(
                f"{where} ({type(item).__name__}) has version {version!r}: every trial writes "
                f"into one folder, {copy.deepcopy(item).log_dir} (a CSV logger's metrics.csv "
                f"replaced by each trial's, a TensorBoard run holding all trials' events, a "
                f"ModelCheckpoint without a dirpath writing there too); leave version out and "
                f"each trial logs to a version of its own (the next free one), or give the "
                f"logger as a config node ({{'class_path': ..., 'init_args': ...}}): each "
                f"trial's version then has yours in front")
        elif (run := _one_run(item)) is not None:
            said.append(
                f"{where} ({type(item).__name__}) logs every trial into {run}, all trials' "
                f"metrics mixed there (parallel trials' at the same time); give the logger "
                f"as a config node ({{'class_path': '{_class_path(type(item))}', "
                f"'init_args': {{...}}}}, without an id): each "
                f"trial then logs to a run of its own, named by the run folder's label and "
                f"the trial")
        elif (folder := _one_folder(item)) is not None:
            key, path = folder
            said.append(
                f"{where} ({type(item).__name__}) logs into one folder, {path} (its {key}), "
                f"for every trial: each trial's Trainer gets a copy of the object (a pickled "
                f"one in worker processes), which logs where the object says, so all trials' "
                f"logs mix there (parallel trials' at the same time); give the logger as a "
                f"config node ({{'class_path': '{type(item).__module__}."
                f"{type(item).__qualname__}', 'init_args': {{...}}}}) of a class whose "
                f"__init__ takes a `version` (each trial then gets its own, trial_0001, ...), "
                f"or make the object's {key} a new folder for each copy")
        elif is_node(item) and (folder := _node_folder(item, save_dir)) is not None:
            key, path = folder
            said.append(
                f"{where} ({target_path(item).rsplit('.', 1)[-1]}) logs into one folder, "
                f"{path} (its {key}), for every trial: its __init__ takes no `version`, "
                f"which the search gives each trial's logger its own of, so every trial's "
                f"logger is built alike and all trials' logs mix there; add a `version` "
                f"argument to its __init__ (each trial then gets its own, trial_0001, ...), "
                f"or make its {key} a new folder for each logger built")
    return said

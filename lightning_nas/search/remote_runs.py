"""The remote runs of a trial's loggers: a W&B run a trial's (or the summary's) logger
starts in its process, ended as the trial ends (``runs_ended``): Lightning's ``WandbLogger``
builds no run of its own while one is in progress in its process ("There is a wandb run
already in progress ... will reuse this run"), and ends none (its ``finalize`` leaves it),
so each later trial of a search process or worker logged into the first trial's run,
whatever id its config node gave it; a node's ``reinit: create_new`` (W&B's own setting,
also in its ``settings``) leaves ``wandb.run`` unset, so each logger's own run is ended too
(``RunsHeld``). And the MLflow run a trial's logger started, written
in its folder as training starts (``RunRecord``), which a resumed segment of the trial
continues (``continued_runs``): MLflow draws a run's id itself, and Lightning's
``MLFlowLogger`` continues a run only by its ``run_id``; and which the trial's next attempt,
trained again from its first epoch, marks KILLED where a dead process left it RUNNING
(``killed_runs``).

Example:
    >>> with runs_ended(None):  # wandb not imported: nothing to end
    ...     pass
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.loggers import MLFlowLogger, WandbLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from lightning_nas.config.instantiate import import_object, instantiate
from lightning_nas.config.nodes import is_node, node_args, target_path, with_args

__all__ = ["MLFLOW_RUNS", "RunRecord", "RunsHeld", "continued_runs", "hold_runs",
           "killed_runs", "runs_ended"]

#: the file in a trial's folder naming the MLflow run of each of its loggers built from a
#: config node (JSON: its place in ``trainer.logger``, 0 alone, to the run's id)
MLFLOW_RUNS = "mlflow_runs.json"


def _run_id() -> str | None:
    """The id of the W&B run in progress in this process (None: none, or wandb never
    imported, which no logger then used)."""
    return getattr(getattr(sys.modules.get("wandb"), "run", None), "id", None)


@contextlib.contextmanager
def runs_ended(given: Any) -> Iterator[list[Any]]:
    """End, as the block ends (raising or not), the W&B runs started in this process within
    it: the one a trial's logger built from a config node started, found as ``wandb.run``,
    and each run added to the list the block is given (``hold_runs``: a logger's own run,
    which ``reinit: create_new`` leaves out of ``wandb.run``; was: left open, so a later
    ``wandb.init`` in the process returned it). A run in progress before the block (the
    user's own, which Lightning's logger reused) is left, and so is the run of a
    ``WandbLogger`` object in ``given`` (the Trainer's ``logger`` setting): each copy of the
    object logs into it (``warn_fixed_versions`` says so), and a copy of a later trial would
    attach to it.

    Example:
        >>> with runs_ended([]) as held:
        ...     held
        []
    """
    before = _run_id()
    held: list[Any] = []
    try:
        yield held
    finally:
        items = given if isinstance(given, (list, tuple)) else [given]
        kept = {before} | {item.version for item in items if isinstance(item, WandbLogger)}
        for run in [*held, getattr(sys.modules.get("wandb"), "run", None)]:
            if run is not None and run.id not in kept:
                kept.add(run.id)  # (wandb.run: the held one too, where it is global)
                run.finish()


def hold_runs(loggers: Any, held: list[Any]) -> None:
    """Add the W&B run of each ``WandbLogger`` among ``loggers`` (a Trainer's ``loggers``,
    whose runs have started: Lightning starts one as it logs the hyperparameters) to
    ``held``, the list ``runs_ended`` gave, which ends them.

    Example:
        >>> held = []
        >>> hold_runs([], held)
        >>> held
        []
    """
    held += [logger.experiment for logger in loggers if isinstance(logger, WandbLogger)]


class RunsHeld(pl.Callback):
    """Hold, as fit starts on rank 0 (the run of each W&B logger started there, as the
    hyperparameters are logged), the W&B runs of the Trainer's loggers in ``held``, the
    list ``runs_ended`` gave (``hold_runs``).

    Example:
        >>> RunsHeld([]).held
        []
    """

    def __init__(self, held: list[Any]) -> None:
        self.held = held

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Hold the runs (the other ranks' loggers start none)."""
        if trainer.is_global_zero:
            hold_runs(trainer.loggers, self.held)


class RunRecord(pl.Callback):
    """Write ``MLFLOW_RUNS`` in ``folder`` (the trial's) as training starts, on rank 0: the
    id of the run of each ``MLFlowLogger`` among the Trainer's loggers, by its place (its
    ``run_id``: the run is started there, as Lightning starts it to log the
    hyperparameters), for ``continued_runs``.

    Example:
        >>> RunRecord("runs/a/trials/trial_0001").folder
        'runs/a/trials/trial_0001'
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Write the runs (none: nothing)."""
        if not trainer.is_global_zero:  # the other ranks' loggers start no run
            return
        runs = {str(place): logger.run_id for place, logger in enumerate(trainer.loggers)
                if isinstance(logger, MLFlowLogger)}
        if runs:
            Path(self.folder, MLFLOW_RUNS).write_text(json.dumps(runs))


def continued_runs(folder: str, placed: Any, segment: str = "") -> Any:
    """``placed`` (a resumed segment's ``trainer.logger``, its nodes given their folders)
    with each node of an ``MLFlowLogger`` class that sets no ``run_id`` given the run its
    trial's earlier segment started, which ``RunRecord`` wrote in ``folder`` for its place
    in the list (0 alone), so the trial's epochs go on in one run (was: each segment a run
    of its own), and its ``run_name`` that run's, without the ``segment``
    (``_resumed_<ns>``) that ``logger_defaults`` put after it (was: a name the run never
    had). Without a record (an older run folder's) it is returned as given.

    Example:
        >>> continued_runs("no/such/folder", {"class_path": "x.Y"})
        {'class_path': 'x.Y'}
    """
    path = Path(folder, MLFLOW_RUNS)
    if not path.is_file():
        return placed
    runs = json.loads(path.read_text())
    items = placed if isinstance(placed, list) else [placed]
    continued = []
    for place, item in enumerate(items):
        if (is_node(item) and str(place) in runs and node_args(item).get("run_id") is None
                and _of_mlflow(item)):
            args = node_args(item)
            name = args.get("run_name")
            item = with_args(item, {**args, "run_id": runs[str(place)], "run_name": (
                name.removesuffix(segment) if isinstance(name, str) and segment else name)})
        continued.append(item)
    return continued if isinstance(placed, list) else continued[0]


def killed_runs(folder: str | Path, placed: Any) -> list[str]:
    """Mark KILLED, on rank 0, each MLflow run that ``RunRecord`` wrote in ``folder`` (the
    trial's, before a new attempt trains it again from its first epoch and empties it) that
    is still RUNNING: its attempt's process died (SIGKILL) and never ended it (was: RUNNING
    for ever beside the new attempt's ``_again_`` run). ``placed``: the trial's
    ``trainer.logger``, its nodes given their folders; the node at a run's place, given the
    run's ``run_id``, builds the logger whose client (its tracking URI) marks it. A run the
    store no longer has is left.

    Returns:
        The ids of the runs it marked.

    Example:
        >>> killed_runs("no/such/folder", {"class_path": "x.Y"})
        []
    """
    path = Path(folder, MLFLOW_RUNS)
    if not path.is_file() or rank_zero_only.rank != 0:
        return []
    from mlflow.exceptions import MlflowException

    runs, killed = json.loads(path.read_text()), []
    for place, item in enumerate(placed if isinstance(placed, list) else [placed]):
        run = runs.get(str(place))
        if run is None or not is_node(item) or not _of_mlflow(item):
            continue
        logger = instantiate(with_args(item, {**node_args(item), "run_id": run}))
        try:  # (its experiment: the client, the run looked up, none started)
            client = logger.experiment
            if client.get_run(run).info.status == "RUNNING":
                client.set_terminated(run, "KILLED")
                killed.append(run)
        except MlflowException:  # removed from its store since: nothing to mark
            continue
    return killed


def _of_mlflow(node: Any) -> bool:
    """Whether config ``node`` builds an ``MLFlowLogger`` (or a subclass)."""
    try:
        target = import_object(target_path(node))
    except Exception:  # noqa: BLE001 - the Trainer's build check names what is wrong
        return False
    return isinstance(target, type) and issubclass(target, MLFlowLogger)

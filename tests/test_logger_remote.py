"""A W&B or MLflow logger *object* (not a config node) given to a search: each trial's
Trainer gets a copy of it, and a copy logs into the object's remote run where the object
holds one: a W&B object always (Lightning's ``WandbLogger`` starts its run as it is copied
or pickled, and each copy takes that run's id), an MLflow one with a ``run_id`` (given, or
its run started). A W&B object's is said before training, without starting a run, and
refused where trials run in worker processes or on Ray (their copies cannot attach to its
run); an MLflow one's is refused (MLflow never changes a run's param); the classes need
wandb or mlflow installed (each test skips without), and no network (W&B offline, MLflow
in a local folder).

Example:
    >>> _said({"logger": None})
    []
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from lightning_nas.errors import ConfigError
from lightning_nas.search.logger_objects import check_mlflow_run_ids, warn_fixed_versions

__all__: list[str] = []


def _said(trainer: dict[str, Any]) -> list[str]:
    """The warnings ``warn_fixed_versions`` gives of ``trainer``'s loggers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return warn_fixed_versions(trainer)


@pytest.mark.parametrize("init", [{"id": "fixed"}, {"version": "fixed"}, {}])
def test_a_w_and_b_logger_object_is_said_before_training_without_starting_a_run(
        tmp_path, wandb_offline, init):
    # was: no word: every trial's copy logged into the object's one W&B run (its id, or the
    # run its first copy started)
    import wandb
    from lightning.pytorch.loggers import WandbLogger

    logger = WandbLogger(project="nas", save_dir=str(tmp_path), offline=True, **init)
    said = _said({"logger": [logger]})
    assert len(said) == 1, said
    assert said[0].startswith("trainer.logger[0] (WandbLogger) logs every trial into one W&B "
                              "run"), said[0]
    assert ("'fixed'" in said[0]) == bool(init), said[0]  # the id it holds, named
    assert "'class_path': 'lightning.pytorch.loggers.WandbLogger'" in said[0]
    assert wandb.run is None and logger.version == init.get("id", init.get("version"))


def test_an_mlflow_logger_object_with_a_run_id_is_refused_before_training(mlflow_uri):
    # was: a warning, then every trial's copy logged into the one MLflow run, and every trial
    # after the first FAILED ("MlflowException: Changing param values is not allowed")
    from lightning.pytorch.loggers import MLFlowLogger
    from mlflow.tracking import MlflowClient

    given = {"logger": [MLFlowLogger(tracking_uri=mlflow_uri, run_id="0123abcd")]}
    with pytest.raises(ConfigError, match=r"trainer.logger\[0\] \(MLFlowLogger\) has run_id "
                       r"'0123abcd': every trial would log into that one MLflow run") as err:
        check_mlflow_run_ids(given)
    assert "'class_path': 'lightning.pytorch.loggers.MLFlowLogger'" in str(err.value)
    assert _said(given) == []  # refused, not said
    assert MlflowClient(mlflow_uri).get_experiment_by_name("lightning_logs") is None  # no run
    check_mlflow_run_ids({"logger": MLFlowLogger(tracking_uri=mlflow_uri)})  # a run per copy


def test_each_trial_of_a_w_and_b_node_logs_to_a_run_of_its_own_in_one_process(
        tmp_path, wandb_offline):
    # was: Lightning's WandbLogger reuses the run in progress in its process ("There is a
    # wandb run already in progress"), which no trial ended: trial 2 and the summary logged
    # into trial 1's run
    import torch
    import wandb

    from lightning_nas import Search
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    torch.set_num_threads(1)
    node = {"class_path": "lightning.pytorch.loggers.WandbLogger",
            "init_args": {"project": "nas", "offline": True, "dir": str(tmp_path / "wb")}}
    search = Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData(n=64), budget=2,
                    seed=0, verbose=False, run_dir=tmp_path / "run", executor="inline",
                    trainer={"max_epochs": 1, "limit_train_batches": 2, "logger": node})
    search.run()
    runs = sorted(p.name.split("-", 3)[3] for p in (tmp_path / "wb" / "wandb").glob(
        "offline-run-*"))  # offline-run-<time>-<id>, the id <label>_trial_0001
    assert [run.split("_", 1)[1] for run in runs] == ["summary", "trial_0001",
                                                      "trial_0002"], runs
    assert wandb.run is None  # each ended


@pytest.mark.parametrize("reinit", [{"reinit": "create_new"}, {"settings": {
    "class_path": "wandb.Settings", "init_args": {"reinit": "create_new"}}}])
def test_a_w_and_b_node_creating_new_runs_has_each_run_ended(tmp_path, wandb_offline, reinit):
    # was: wandb.init(reinit="create_new") leaves wandb.run unset, so no trial's run (nor
    # the summary's) was ended: all stayed open in the process, and a wandb.init() of the
    # user's after the search returned the search's last run (W&B's "return_previous")
    import wandb

    folder = tmp_path / "wb"
    folder.mkdir()
    node = {"class_path": "lightning.pytorch.loggers.WandbLogger",
            "init_args": {"project": "nas", "offline": True, "save_dir": str(folder),
                          **reinit}}
    _search(tmp_path, node).run()
    runs = sorted(p.name.split("-", 3)[3] for p in (folder / "wandb").glob("offline-run-*"))
    assert [run.split("_", 1)[1] for run in runs] == ["summary", "trial_0001",
                                                      "trial_0002"], runs
    mine = wandb.init(project="mine", mode="offline", dir=str(folder))
    try:
        assert mine.id not in runs, mine.id  # a run of its own: the search's were ended
    finally:
        mine.finish()


def _search(tmp_path, logger: Any, budget: int = 2) -> Any:
    """A search of ``budget`` trials of one epoch logging to ``logger`` (W&B offline, no
    network), its checks before training done (``Search()``)."""
    import torch

    from lightning_nas import Search
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    torch.set_num_threads(1)
    return Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData(n=64), budget=budget,
                  seed=0, verbose=False, run_dir=tmp_path / "run", executor="inline",
                  trainer={"max_epochs": 1, "limit_train_batches": 2, "logger": logger})


@pytest.mark.parametrize("node", [True, False])
def test_the_checks_before_training_start_no_w_and_b_run(tmp_path, wandb_offline, node):
    # was: the object's run started by the Trainer's build check in Search() (a copy of the
    # object: Lightning's WandbLogger starts its run as it is copied), before any trial, and
    # kept if a later check refused the search (a node's started none: kept so)
    import wandb
    from lightning.pytorch.loggers import WandbLogger

    folder = tmp_path / "wb"
    folder.mkdir()
    logger = ({"class_path": "lightning.pytorch.loggers.WandbLogger",
               "init_args": {"project": "nas", "offline": True, "dir": str(folder)}} if node
              else WandbLogger(project="nas", offline=True, save_dir=str(folder)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search = _search(tmp_path, logger)
        assert wandb.run is None and not list(folder.rglob("offline-run-*"))
        if not node:
            assert logger.version is None  # no run held
            search.run()  # the trials' copies then log into one run, the first's
            runs = list(folder.rglob("offline-run-*"))
            assert len(runs) == 1 and runs[0].name.endswith(f"-{logger.version}"), runs
    finally:
        wandb.finish()  # the object's run (the search leaves it: the user's)


@pytest.mark.parametrize(("executor", "where"), [("process", "worker processes"),
                                               ("ray", "Ray")])
@pytest.mark.parametrize("picklable", [True, False])
def test_a_w_and_b_object_is_refused_before_training_where_trials_run_in_other_processes(
        tmp_path, wandb_offline, executor, where, picklable):
    # was: taken; its run started as the first trial's spec was pickled, after the first
    # worker was spawned without W&B's service: that trial FAILED ("UsageError: Unable to
    # attach to run <id>"), the other completed, as spawn order fell (and an object pickle
    # refuses, "cannot be sent to worker processes")
    import threading

    import wandb
    from lightning.pytorch.loggers import WandbLogger

    from lightning_nas import Search
    from lightning_nas.errors import ConfigError
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    folder = tmp_path / "wb"
    folder.mkdir()
    logger = WandbLogger(project="nas", offline=True, save_dir=str(folder))
    if not picklable:
        logger.guard = threading.Lock()  # the user's: pickle cannot send it
    with warnings.catch_warnings(), pytest.raises(ConfigError) as refused:
        warnings.simplefilter("ignore")
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData(n=64), budget=2, seed=0,
               verbose=False, run_dir=tmp_path / "run", executor=executor, num_workers=2,
               trainer={"max_epochs": 1, "logger": logger})
    said = str(refused.value)
    assert said.startswith(f"trainer.logger (WandbLogger) is a W&B logger object, and "
                           f"executor={executor!r} runs trials in {where}"), said
    assert "'class_path': 'lightning.pytorch.loggers.WandbLogger'" in said  # what works
    assert "a run of its own" in said and "executor='inline'" in said
    assert wandb.run is None and not list(folder.rglob("offline-run-*"))  # none started
    assert not (tmp_path / "run").exists()  # before training: nothing written


def test_the_stand_in_for_a_w_and_b_object_pickles_what_a_trials_copy_sends(
        tmp_path, wandb_offline):
    # the check that a DDP trial's spec reaches its processes (check_sendable) pickles the
    # stand-in (was: a plain CSV logger: a W&B object pickle refuses, taken)
    import pickle
    import threading

    import wandb
    from lightning.pytorch.loggers import WandbLogger

    from lightning_nas.search.logger_objects import unstarted

    logger = WandbLogger(project="nas", offline=True, save_dir=str(tmp_path))
    logger.guard = threading.Lock()  # the user's: pickle cannot send it
    with pytest.raises(TypeError, match="cannot pickle '_thread.lock'"):
        pickle.dumps(unstarted(logger))
    del logger.guard
    assert pickle.loads(pickle.dumps(unstarted(logger))).held[0] is WandbLogger
    assert wandb.run is None and logger.version is None  # no run started


@pytest.mark.parametrize("reinit", [{}, {"reinit": "create_new"}])
def test_a_one_shot_run_ends_the_w_and_b_run_of_its_logger_node(
        tmp_path, wandb_offline, monkeypatch, reinit):
    # was: left open in the process, as a search's trials' were (RunsHeld, runs_ended): a
    # wandb.init() of the user's after run_oneshot returned the one-shot run's
    import json

    import torch
    import wandb

    from lightning_nas.cli import main
    from tests.helpers_oneshot_fit import TINY_CLI
    from tests.launcher import ROOT

    torch.set_num_threads(1)
    monkeypatch.chdir(ROOT)
    folder = tmp_path / "wb"
    folder.mkdir()
    node = {"class_path": "lightning.pytorch.loggers.WandbLogger",
            "init_args": {"project": "nas", "offline": True, "save_dir": str(folder),
                          **reinit}}
    assert main([*TINY_CLI, f"--oneshot.run_dir={tmp_path / 'run'}",
                 f"--trainer.logger={json.dumps(node)}"]) == 0
    runs = [p.name.split("-", 3)[3] for p in (folder / "wandb").glob("offline-run-*")]
    assert len(runs) == 1, runs  # the one-shot run logged to it
    assert wandb.run is None
    mine = wandb.init(project="mine", mode="offline", dir=str(folder))
    try:
        assert mine.id not in runs, mine.id  # a run of its own: the one-shot's was ended
    finally:
        mine.finish()


def test_a_one_shot_runs_w_and_b_node_writes_into_its_dir(tmp_path, wandb_offline, monkeypatch):
    # was: Lightning's default save_dir, '.', taken over the node's dir (as a search's
    # trials' were before logger_defaults): the run's W&B files in the working folder
    import json

    import torch

    from lightning_nas.cli import main
    from tests.helpers_oneshot_fit import TINY_CLI
    from tests.launcher import ROOT

    torch.set_num_threads(1)
    here, folder = tmp_path / "cwd", tmp_path / "wb"
    for made in (here, folder):
        made.mkdir()
    monkeypatch.chdir(here)
    node = {"class_path": "lightning.pytorch.loggers.WandbLogger",
            "init_args": {"project": "nas", "offline": True, "dir": str(folder)}}
    assert main([TINY_CLI[0], str(ROOT / TINY_CLI[1]), *TINY_CLI[2:],
                 f"--oneshot.run_dir={tmp_path / 'run'}",
                 f"--trainer.logger={json.dumps(node)}"]) == 0
    assert not list(here.iterdir())  # nothing in the working folder
    assert len(list((folder / "wandb").glob("offline-run-*"))) == 1

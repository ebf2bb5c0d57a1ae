"""A W&B or MLflow logger *object* (not a config node) given to a search: each trial's
Trainer gets a copy of it, and a copy logs into the object's remote run where the object
holds one: a W&B object always (Lightning's ``WandbLogger`` starts its run as it is copied
or pickled, and each copy takes that run's id), an MLflow one with a ``run_id`` (given, or
its run started). That is said before training, without starting a run; the classes need
wandb or mlflow installed (each test skips without), and no network (W&B offline, MLflow in
a local folder).

Example:
    >>> _said({"logger": None})
    []
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from lightning_nas.search.logger_objects import warn_fixed_versions

__all__: list[str] = []


def _said(trainer: dict[str, Any]) -> list[str]:
    """The warnings ``warn_fixed_versions`` gives of ``trainer``'s loggers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return warn_fixed_versions(trainer)


@pytest.mark.parametrize("init", [{"id": "fixed"}, {"version": "fixed"}, {}])
def test_a_w_and_b_logger_object_is_said_before_training_without_starting_a_run(
        tmp_path, monkeypatch, init):
    # was: no word: every trial's copy logged into the object's one W&B run (its id, or the
    # run its first copy started)
    wandb = pytest.importorskip("wandb")
    from lightning.pytorch.loggers import WandbLogger

    monkeypatch.setenv("WANDB_MODE", "offline")
    logger = WandbLogger(project="nas", save_dir=str(tmp_path), offline=True, **init)
    said = _said({"logger": [logger]})
    assert len(said) == 1, said
    assert said[0].startswith("trainer.logger[0] (WandbLogger) logs every trial into one W&B "
                              "run"), said[0]
    assert ("'fixed'" in said[0]) == bool(init), said[0]  # the id it holds, named
    assert "'class_path': 'lightning.pytorch.loggers.WandbLogger'" in said[0]
    assert wandb.run is None and logger.version == init.get("id", init.get("version"))


def test_an_mlflow_logger_object_with_a_run_id_is_said_before_training(tmp_path, monkeypatch):
    # was: no word: every trial's copy logged into the one MLflow run
    pytest.importorskip("mlflow")
    from lightning.pytorch.loggers import MLFlowLogger
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # mlflow 3 refuses it unless
    uri = f"file:{tmp_path / 'mlruns'}"
    said = _said({"logger": MLFlowLogger(tracking_uri=uri, run_id="0123abcd")})
    assert len(said) == 1, said
    assert said[0].startswith("trainer.logger (MLFlowLogger) logs every trial into one MLflow "
                              "run, '0123abcd'"), said[0]
    assert "'class_path': 'lightning.pytorch.loggers.MLFlowLogger'" in said[0]
    assert MlflowClient(uri).get_experiment_by_name("lightning_logs") is None  # no run
    assert _said({"logger": MLFlowLogger(tracking_uri=uri)}) == []  # a run per copy

"""A logger *object* of the user's own class (built on Lightning's ``Logger``) given to a
search: each trial gets a copy of it (in parallel workers, a pickled one), which logs where
the object says; one whose folder is the same for every copy is said before training.

Example:
    >>> FolderLogger("/tmp/x").log_dir
    '/tmp/x/v0'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from lightning.pytorch.loggers import CSVLogger, Logger
from lightning.pytorch.utilities import rank_zero_only

from lightning_nas import Search
from lightning_nas.results import TrialStatus
from lightning_nas.search.logger_objects import warn_fixed_versions
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

__all__ = ["FolderLogger", "QuietLogger", "VersionedLogger"]

SPACE = {"width": {"choice": [4, 8]}}


class FolderLogger(Logger):
    """A user's logger with a folder of its own, ``root/v0``: each call appends a line to
    ``metrics.txt`` there."""

    def __init__(self, root: str) -> None:
        super().__init__()
        self._root = root

    @property
    def name(self) -> str:
        return "mine"

    @property
    def version(self) -> int:
        return 0

    @property
    def root_dir(self) -> str:
        return self._root

    @property
    def log_dir(self) -> str:
        return os.path.join(self._root, "v0")

    @property
    def save_dir(self) -> str:
        return self._root

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        os.makedirs(self.log_dir, exist_ok=True)
        with open(os.path.join(self.log_dir, "metrics.txt"), "a") as f:
            f.write(f"{sorted(metrics)}\n")

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        os.makedirs(self.log_dir, exist_ok=True)
        with open(os.path.join(self.log_dir, "metrics.txt"), "a") as f:
            f.write(f"width={getattr(params, 'get', lambda k: None)('width')}\n")


class QuietLogger(FolderLogger):
    """A user's logger that keeps no folder (it prints, or sends to a service)."""

    @property
    def root_dir(self) -> None:
        return None

    @property
    def log_dir(self) -> None:
        return None

    @property
    def save_dir(self) -> None:
        return None

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        pass

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass


class VersionedLogger(FolderLogger):
    """A user's logger whose ``__init__`` takes a ``version``: its folder ``root/version``."""

    def __init__(self, root: str, version: str | None = None) -> None:
        super().__init__(root)
        self._given = version

    @property
    def version(self) -> str:
        return self._given or "v0"

    @property
    def log_dir(self) -> str:
        return os.path.join(self._root, self.version)


def _search(tmp_path: Path, logger: Any) -> Search:
    return Search(TinyNet, SPACE, data=BlobData(n=64), budget=2, seed=0, verbose=False,
                  run_dir=tmp_path / "run",
                  trainer={"max_epochs": 1, "limit_train_batches": 2, "logger": logger})


def test_a_logger_object_of_the_users_own_with_one_folder_is_said_before_training(tmp_path):
    # was: no word of the search's: both trials' copies appended to root/v0/metrics.txt
    torch.set_num_threads(1)
    root = tmp_path / "mine"
    with pytest.warns(UserWarning) as said:
        search = _search(tmp_path, [CSVLogger(str(tmp_path / "csv")), FolderLogger(str(root))])
    texts = [str(w.message) for w in said if "(FolderLogger)" in str(w.message)]
    assert len(texts) == 1, [str(w.message) for w in said]
    assert texts[0].startswith(f"trainer.logger[1] (FolderLogger) logs into one folder, "
                               f"{root / 'v0'} (its log_dir), for every trial"), texts[0]
    assert "'class_path': 'tests.test_logger_objects.FolderLogger'" in texts[0]
    assert not (tmp_path / "run" / "trials").exists()  # said before any training
    result = search.run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    lines = (root / "v0" / "metrics.txt").read_text().splitlines()
    assert {"width=4", "width=8"} <= set(lines), lines  # both trials' in the one file


def test_a_logger_object_without_a_folder_is_not_said(tmp_path, recwarn):
    _search(tmp_path, QuietLogger("unused"))
    assert not [w for w in recwarn if "QuietLogger" in str(w.message)]


def test_a_logger_node_of_the_users_own_class_without_a_version_is_said_before_training(
        tmp_path):
    # was: no word: each trial's logger, built from the one node, logged into root/v0
    root = tmp_path / "mine"
    node = {"class_path": "tests.test_logger_objects.FolderLogger",
            "init_args": {"root": str(root)}}
    with pytest.warns(UserWarning) as said:
        _search(tmp_path, node)
    texts = [str(w.message) for w in said if "(FolderLogger)" in str(w.message)]
    assert len(texts) == 1, [str(w.message) for w in said]
    assert texts[0].startswith(f"trainer.logger (FolderLogger) logs into one folder, "
                               f"{root / 'v0'} (its log_dir), for every trial: its __init__ "
                               f"takes no `version`"), texts[0]


def test_a_logger_node_of_the_users_own_class_with_a_version_logs_each_trial_apart(
        tmp_path, recwarn):
    torch.set_num_threads(1)
    root = tmp_path / "mine"
    node = {"class_path": "tests.test_logger_objects.VersionedLogger",
            "init_args": {"root": str(root)}}
    result = _search(tmp_path, node).run()
    assert not [w for w in recwarn if "(VersionedLogger)" in str(w.message)]
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    assert sorted(p.name for p in root.iterdir()) == ["summary", "trial_0001", "trial_0002"]


@pytest.mark.parametrize("listed", [False, True])
def test_a_searched_logger_value_of_the_users_own_class_is_said_before_training(
        tmp_path, listed):
    # was: no word (the logger checks skipped a searched trainer.logger): each trial drawing
    # it logged into root/v0
    root = tmp_path / "mine"
    node = {"class_path": "tests.test_logger_objects.FolderLogger",
            "init_args": {"root": str(root)}}
    value = [{"class_path": "lightning.pytorch.loggers.CSVLogger"}, node] if listed else node
    space = {**SPACE, "trainer.logger": {"choice": [
        {"class_path": "lightning.pytorch.loggers.TensorBoardLogger"}, value]}}
    with pytest.warns(UserWarning) as said:
        Search(TinyNet, space, data=BlobData(n=64), budget=2, seed=0, verbose=False,
               run_dir=tmp_path / "run", trainer={"max_epochs": 1, "logger": False})
    texts = [str(w.message) for w in said if "(FolderLogger)" in str(w.message)]
    assert len(texts) == 1, [str(w.message) for w in said]
    where = "trainer.logger[1]" if listed else "trainer.logger"
    assert texts[0].startswith(f"space key 'trainer.logger' may take {value!r}: {where} "
                               f"(FolderLogger) logs into one folder, {root / 'v0'} (its "
                               f"log_dir), for every trial"), texts[0]
    assert not (tmp_path / "run" / "trials").exists()  # said before any training


def test_the_config_logger_a_searched_logger_replaces_is_not_said(tmp_path):
    node = {"class_path": "tests.test_logger_objects.FolderLogger",
            "init_args": {"root": str(tmp_path / "mine")}}
    csv = {"class_path": "lightning.pytorch.loggers.CSVLogger"}
    assert warn_fixed_versions({"logger": node}, str(tmp_path), [csv, False]) == []
    with pytest.warns(UserWarning):
        assert len(warn_fixed_versions({"logger": csv}, str(tmp_path), [csv, node])) == 1


def test_a_searched_logger_is_checked_as_merged_over_the_configs(tmp_path):
    # was: checked as given (a FolderLogger node without its root: no word), where each
    # trial merges it over the config's node, as LightningCLI merges it: root kept, every
    # trial drawing it logging into root/v0
    root = tmp_path / "mine"
    node = {"class_path": "tests.test_logger_objects.FolderLogger",
            "init_args": {"root": str(root)}}
    bare = {"class_path": node["class_path"]}
    with pytest.warns(UserWarning):
        said = warn_fixed_versions({"logger": node}, str(tmp_path), [bare])
    assert len(said) == 1
    assert said[0].startswith(f"space key 'trainer.logger' may take {bare!r}: trainer.logger "
                              f"(FolderLogger) logs into one folder, {root / 'v0'}"), said


def test_a_searched_key_into_a_logger_node_is_said_by_its_space_key(tmp_path):
    # was: "space key 'trainer.logger' may take [{...the whole merged list...}]"
    root = tmp_path / "mine"
    node = {"class_path": "tests.test_logger_objects.FolderLogger",
            "init_args": {"root": str(tmp_path / "other")}}
    space = {**SPACE, "trainer.logger.0.root": {"choice": [str(root)]}}
    with pytest.warns(UserWarning) as said:
        Search(TinyNet, space, data=BlobData(n=64), budget=2, seed=0, verbose=False,
               run_dir=tmp_path / "run", trainer={"max_epochs": 1, "logger": [node]})
    texts = [str(w.message) for w in said if "(FolderLogger)" in str(w.message)]
    assert len(texts) == 1, [str(w.message) for w in said]
    assert texts[0].startswith(f"space key 'trainer.logger.0.root' may take {str(root)!r}: "
                               f"trainer.logger[0] (FolderLogger) logs into one folder, "
                               f"{root / 'v0'}"), texts[0]


def test_each_trials_version_of_a_logger_object_names_its_trial(tmp_path):
    # was: nothing tied a copy's `version_N` to its trial (its hyperparameters the
    # architecture alone, which a trial trained again, or another trial, shares)
    torch.set_num_threads(1)
    result = _search(tmp_path, CSVLogger(str(tmp_path / "csv"))).run()
    versions = sorted((tmp_path / "csv" / "lightning_logs").iterdir())
    logged = [yaml.safe_load((v / "hparams.yaml").read_text()) for v in versions]
    assert [h.get("search_trial") for h in logged] == [1, 2]
    arch = {t.trial_id: t.arch["width"] for t in result.trials}
    assert [h["width"] for h in logged] == [arch[1], arch[2]]

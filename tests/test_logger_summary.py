"""Where a search's summary (``logs/search/summary``: each trial's score, the best
architecture, ``hp_metric``) is logged: to the config's ``trainer.logger``, the one every
trial logged to; where the space searches ``trainer.logger``, to each distinct logger the
trials were given (the config's, which no trial then used, gets none).

Example:
    >>> _csv("a")["init_args"]
    {'save_dir': 'a'}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_nas import Search
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

__all__: list[str] = []


def _csv(save_dir: str) -> dict[str, Any]:
    """A ``CSVLogger`` node writing under ``save_dir``."""
    return {"class_path": "lightning.pytorch.loggers.CSVLogger",
            "init_args": {"save_dir": save_dir}}


def _summaries(root: Path) -> list[str]:
    """The summary versions under ``root`` (``<label>_summary`` folders of ``search``)."""
    return sorted(p.name.split("_", 1)[1] for p in (root / "search").glob("*_summary"))


def test_the_summary_of_a_searched_logger_goes_to_each_logger_the_trials_used(tmp_path):
    # was: to the config's trainer.logger alone (cfg/search/<label>_summary), which no
    # trial logged to; the folders holding the trials' versions had no summary
    torch.set_num_threads(1)
    folders = {side: tmp_path / side for side in ("a", "b", "cfg")}
    space = {"width": {"choice": [4, 8]},
             "trainer.logger": {"choice": [_csv(str(folders["a"])), _csv(str(folders["b"]))]}}
    result = Search(TinyNet, space, data=BlobData(n=64), budget=4, seed=0, verbose=False,
                    run_dir=tmp_path / "run",
                    trainer={"max_epochs": 1, "limit_train_batches": 2,
                             "logger": _csv(str(folders["cfg"]))}).run()
    used = {t.arch["trainer.logger"]["init_args"]["save_dir"] for t in result.trials}
    assert used == {str(folders["a"]), str(folders["b"])}, used  # both drawn
    for side in "ab":
        assert _summaries(folders[side]) == ["summary"], sorted(folders[side].rglob("*"))
        (metrics,) = (folders[side] / "search").glob("*_summary/metrics.csv")
        assert "best_so_far" in metrics.read_text()
    assert not folders["cfg"].exists()  # no trial logged there: no summary either


def test_the_summary_of_two_searched_w_and_b_loggers_logs_a_run_in_each_project(
        tmp_path, monkeypatch):
    # one run in progress at a time: Lightning's WandbLogger reuses it, so the second
    # project's summary would log into the first's run
    wandb = pytest.importorskip("wandb")
    torch.set_num_threads(1)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    nodes = []
    for project in "ab":
        (tmp_path / project).mkdir()
        nodes.append({"class_path": "lightning.pytorch.loggers.WandbLogger",
                      "init_args": {"project": project, "offline": True,
                                    "dir": str(tmp_path / project)}})
    space = {"width": {"choice": [4, 8]}, "trainer.logger": {"choice": nodes}}
    result = Search(TinyNet, space, data=BlobData(n=64), budget=4, seed=0, verbose=False,
                    run_dir=tmp_path / "run", executor="inline",
                    trainer={"max_epochs": 1, "limit_train_batches": 2}).run()
    assert len({t.arch["trainer.logger"]["init_args"]["project"] for t in result.trials}) == 2
    for project in "ab":
        runs = [p.name.split("-", 3)[3] for p in (tmp_path / project / "wandb").glob(
            "offline-run-*")]  # offline-run-<time>-<id>
        assert [run for run in runs if run.endswith("_summary")], (project, runs)
    assert wandb.run is None  # each ended

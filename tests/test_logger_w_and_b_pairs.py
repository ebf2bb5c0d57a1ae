"""Two W&B loggers in one ``trainer.logger`` list: Lightning's ``WandbLogger`` logs into the
W&B run in progress in its process ("There is a wandb run already in progress ... will
reuse this run"), so both would log into the run the first one started, the other's
project, name and id never used. A search, a searched logger value and a fit refuse it
before training, naming both; a W&B logger beside another kind is taken. Nothing here
starts a run (the object test skips without wandb).

Example:
    >>> _w_and_b("a")["init_args"]
    {'project': 'a'}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.config.trainer_checks import check_trainer_kwargs
from lightning_nas.errors import ConfigError
from tests.helpers_data import BlobData
from tests.helpers_logger_nodes import WANDB, fit_argv
from tests.helpers_models import TinyNet

__all__: list[str] = []

CSV = {"class_path": "lightning.pytorch.loggers.CSVLogger"}

#: what the refusal says of the loggers at places 0 and 2
BOTH = r"trainer\.logger\[0\] and trainer\.logger\[2\] are both W&B loggers \(WandbLogger\)"


def _w_and_b(project: str) -> dict[str, Any]:
    """A W&B logger node of ``project``."""
    return {**WANDB, "init_args": {"project": project}}


def _search(tmp_path: Path, space: dict[str, Any], logger: Any) -> Search:
    return Search(TinyNet, {"width": {"choice": [4, 8]}, **space}, data=BlobData(n=64),
                  budget=2, seed=0, verbose=False, run_dir=tmp_path / "run",
                  trainer={"max_epochs": 1, "limit_train_batches": 2, "logger": logger})


def test_two_w_and_b_nodes_in_one_logger_list_are_refused_before_training(tmp_path):
    # was: taken; each trial's second W&B logger logged into the run its first started
    # (offline: one run folder, in project 'a''s dir), project 'b' never used
    with pytest.raises(ConfigError, match=BOTH) as refused:
        _search(tmp_path, {}, [_w_and_b("a"), CSV, _w_and_b("b")])
    said = str(refused.value)
    assert "{'project': 'b'}" in said and "keep one W&B logger" in said, said
    assert not (tmp_path / "run").exists()  # before anything is written


def test_a_searched_logger_value_holding_two_w_and_b_nodes_is_refused(tmp_path):
    logger = {"choice": [[_w_and_b("a"), CSV, _w_and_b("b")], [_w_and_b("a"), CSV]]}
    with pytest.raises(ConfigError, match=r"space key 'trainer\.logger' may take \[.*" + BOTH):
        _search(tmp_path, {"trainer.logger": logger}, CSV)
    assert not (tmp_path / "run").exists()


def test_a_fit_with_two_w_and_b_nodes_is_refused_before_training(tmp_path, capsys):
    argv = fit_argv(tmp_path, [_w_and_b("a"), CSV, _w_and_b("b")], max_epochs=1)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "trainer.logger[0] and trainer.logger[2] are both W&B loggers" in err, err
    assert not Path(argv[-1]).exists()


def test_one_w_and_b_logger_beside_another_kind_is_taken():
    check_trainer_kwargs({"logger": [_w_and_b("a"), CSV]})
    check_trainer_kwargs({"logger": _w_and_b("a")})


def test_a_w_and_b_object_beside_a_w_and_b_node_is_refused(tmp_path, wandb_offline):
    # the object's run starts as it is copied; the node's logger then logs into it
    import wandb
    from lightning.pytorch.loggers import WandbLogger

    mine = WandbLogger(project="a", save_dir=str(tmp_path), offline=True)
    with pytest.raises(ConfigError, match=BOTH):
        check_trainer_kwargs({"logger": [mine, CSV, _w_and_b("b")]})
    assert wandb.run is None  # the check started no run

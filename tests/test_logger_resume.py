"""A TensorBoard logger of the user's in a fit resumed after an interrupt (``lightning-nas
fit --ckpt_path last``): alone, the resumed epochs are a second run beside ``logs``
(``logs_resumed_<ns>``), the step going on; beside a CSV logger in the same version, its
event files join ``logs/`` with the merged CSV rows, none of them replaced by another of the
same name (tensorboardX names a file by the second and the host).

Example:
    >>> CTRL_C.split("class_path: ")[1].split(",")[0]
    'tests.test_cli.CtrlCAtEpoch'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from lightning_nas.cli import main
from lightning_nas.search.fit_segments import merge_logs
from tests.helpers_events import folder_scalars

pytest.importorskip("tensorboardX")

__all__ = ["CTRL_C"]

CTRL_C = "--trainer.callbacks=[{class_path: tests.test_cli.CtrlCAtEpoch, init_args: {epoch: 1}}]"
_TB = {"class_path": "lightning.pytorch.loggers.TensorBoardLogger"}
_CSV = {"class_path": "lightning.pytorch.loggers.CSVLogger"}


def _resumed_fit(tmp_path: Path, logger: Any) -> Path:
    """The folder of a fit of 3 epochs logging to ``logger``, interrupted as epoch 1 starts
    and resumed with ``--ckpt_path last``."""
    torch.set_num_threads(1)
    config = tmp_path / "fit.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 5,
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {"max_epochs": 3, "accelerator": "cpu", "devices": 1, "logger": logger,
                    "enable_progress_bar": False, "enable_model_summary": False}}))
    out = tmp_path / "fit"
    argv = ["fit", str(config), "--out", str(out)]
    assert main([*argv, CTRL_C]) == 130
    assert main([*argv, "--ckpt_path", "last"]) == 0
    return out


def test_a_resumed_fits_tensorboard_logger_logs_its_epochs_as_a_second_run(tmp_path):
    out = _resumed_fit(tmp_path, _TB)
    (resumed,) = out.glob("logs_resumed_*")  # as the README says: not merged
    assert folder_scalars(out / "logs", "epoch")[-1] == 0  # the interrupted run's epoch
    assert set(folder_scalars(resumed, "epoch")) == {1, 2}  # the step goes on


def test_a_resumed_fits_tensorboard_beside_a_csv_logger_keeps_every_epoch_in_logs(tmp_path):
    # was (tensorboardX, the resume in the same second): the resumed run's event file
    # replaced the first's of the same name as it joined logs/: epoch 0 gone from TensorBoard
    out = _resumed_fit(tmp_path, [_CSV, _TB])
    assert not list(out.glob("logs_resumed_*"))  # merged
    assert sorted(set(folder_scalars(out / "logs", "epoch"))) == [0, 1, 2]


def test_a_merge_keeps_an_event_file_of_the_name_the_first_run_had(tmp_path):
    # was: replaced (shutil.copy2 over it), the first run's epochs lost for TensorBoard
    for version, epoch in (("logs", 0), ("logs_resumed_7", 1)):
        for kind in (CSVLogger, TensorBoardLogger):
            logger = kind(str(tmp_path), name="", version=version)
            logger.log_metrics({"epoch": epoch, "val_acc": 0.5}, step=epoch)
            logger.finalize("success")
    (first,) = (tmp_path / "logs").glob("*tfevents*")
    (second,) = (tmp_path / "logs_resumed_7").glob("*tfevents*")
    second.rename(second.with_name(first.name))  # tensorboardX's name, in the same second
    merge_logs(tmp_path)
    assert folder_scalars(tmp_path / "logs", "epoch") == [0, 1]
    merge_logs(tmp_path)  # once merged, again: nothing more
    assert folder_scalars(tmp_path / "logs", "epoch") == [0, 1]

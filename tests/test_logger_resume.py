"""A TensorBoard logger of the user's in a fit resumed after an interrupt (``lightning-nas
fit --ckpt_path last``): alone, the resumed epochs are a second run beside ``logs``
(``logs_resumed_<ns>``), the step going on; beside a CSV logger in the same version, its
event files join ``logs/`` with the merged CSV rows, none of them replaced by another of the
same name (tensorboardX names a file by the second and the host).

Example:
    >>> _TB["class_path"]
    'lightning.pytorch.loggers.TensorBoardLogger'
"""

from __future__ import annotations

import pytest
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from lightning_nas.search.fit_segments import merge_logs
from tests.helpers_events import folder_scalars
from tests.helpers_logger_nodes import resumed_fit

pytest.importorskip("tensorboardX")

__all__: list[str] = []

_TB = {"class_path": "lightning.pytorch.loggers.TensorBoardLogger"}
_CSV = {"class_path": "lightning.pytorch.loggers.CSVLogger"}


def test_a_resumed_fits_tensorboard_logger_logs_its_epochs_as_a_second_run(tmp_path):
    out = resumed_fit(tmp_path, _TB)
    (resumed,) = out.glob("logs_resumed_*")  # as the README says: not merged
    assert folder_scalars(out / "logs", "epoch")[-1] == 0  # the interrupted run's epoch
    assert set(folder_scalars(resumed, "epoch")) == {1, 2}  # the step goes on


def test_a_resumed_fits_tensorboard_beside_a_csv_logger_keeps_every_epoch_in_logs(tmp_path):
    # was (tensorboardX, the resume in the same second): the resumed run's event file
    # replaced the first's of the same name as it joined logs/: epoch 0 gone from TensorBoard
    out = resumed_fit(tmp_path, [_CSV, _TB])
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

"""A trial's logger where the config says ``logger: true`` or leaves it out: the trial's CSV
logger in its folder (``TRIAL_DIR/logs``), not Lightning's default (a TensorBoardLogger
where tensorboard or tensorboardX is installed), as the README says."""

from __future__ import annotations

from pathlib import Path

import pytest
from lightning.pytorch.loggers import CSVLogger

from lightning_nas.search.trial import TrialSpec, build_trainer
from tests.helpers import TinyNet


@pytest.mark.parametrize("trainer", [{"logger": True}, {}, {"logger": None}])
def test_a_trial_logs_to_a_csv_logger_in_its_folder(tmp_path, trainer):
    spec = TrialSpec(trial_id=1, arch={}, trial_dir=str(tmp_path / "trial"), model=TinyNet,
                     trainer={"max_epochs": 1, "accelerator": "cpu", "devices": 1, **trainer})
    built = build_trainer(spec, [])
    assert [type(logger) for logger in built.loggers] == [CSVLogger]
    assert Path(built.logger.log_dir) == tmp_path / "trial" / "logs"

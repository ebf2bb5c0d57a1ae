"""A trial whose monitor or an objective goes NaN/inf stops at that validation (was: it
trained on to ``max_epochs``, then was FAILED), and what a FAILED trial logs agrees with the
store: ``hp_metric`` NaN, no ``search_score`` (was: a trial a model or a user's callback
stopped early under a scheduler logged its best, then was FAILED).

Example:
    >>> NanFromNet(nan_from=1).hparams.nan_from
    1
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

from lightning_nas.results import TrialStatus
from lightning_nas.search.schedulers import MedianRule
from lightning_nas.search.trial import fit_trial
from tests.helpers_models import TinyNet
from tests.helpers_search import tiny_spec

__all__ = ["NanFromNet"]

TRAINER = {"max_epochs": 4, "accelerator": "cpu", "devices": 1, "limit_train_batches": 2}


class NanFromNet(TinyNet):
    """Logs ``key`` (``val_acc``, or an objective ``sec``) as ``bad`` from epoch
    ``nan_from`` on; ``stop_at``: sets ``trainer.should_stop`` at that epoch's end."""

    def __init__(self, nan_from: int = 1, key: str = "val_acc", bad: str = "nan",
                 stop_at: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        hp = self.hparams
        value = float(hp.bad) if self.current_epoch >= hp.nan_from else 0.5
        self.log(hp.key, torch.tensor(value))

    def on_train_epoch_end(self) -> None:
        if self.hparams.stop_at is not None:
            self.trainer.should_stop = self.current_epoch >= self.hparams.stop_at


def _logged(trial_dir: Path, key: str) -> list[float]:
    """The values of ``key`` in the trial's CSV log (its default logger)."""
    with (trial_dir / "logs" / "metrics.csv").open() as f:
        return [float(row[key]) for row in csv.DictReader(f) if row.get(key)]


@pytest.mark.parametrize(("key", "bad", "logged"), [("val_acc", "nan", ()),
                                                    ("sec", "inf", ("sec",))])
def test_a_trial_that_goes_non_finite_stops_at_that_validation(tmp_path, key, bad, logged):
    # was: it trained on to max_epochs 4 (4 epochs, a curve of 4), then was FAILED
    spec = tiny_spec(tmp_path, {"width": 8}, model=NanFromNet, trainer=TRAINER, logged=logged,
                     model_init_args={"nan_from": 1, "key": key, "bad": bad})
    result = fit_trial(spec)
    what = "monitored" if key == "val_acc" else "objective"
    assert result.status is TrialStatus.FAILED and result.score is None
    assert result.error.startswith(f"{what} {key!r} is {bad} at epoch 1"), result.error
    assert result.epochs == 2 and result.curve_epochs == [1, 2]
    assert len(result.curve) == 2 and not result.fatal
    assert math.isnan(_logged(tmp_path / "t1", "hp_metric")[-1])


def test_a_finite_trial_trains_all_its_epochs(tmp_path):
    spec = tiny_spec(tmp_path, {"width": 8}, model=NanFromNet, trainer=TRAINER,
                     model_init_args={"nan_from": 9})
    result = fit_trial(spec)
    assert result.status is TrialStatus.COMPLETED and result.epochs == 4
    assert _logged(tmp_path / "t1", "hp_metric") == [pytest.approx(result.score)]


def test_a_trial_stopped_early_under_a_scheduler_logs_hp_metric_nan(tmp_path):
    # was: it logged its best as hp_metric (and search_score), then was FAILED: the HParams
    # view ranked a trial the store holds as FAILED
    rule = MedianRule(min_epochs=3, min_trials=1)
    spec = tiny_spec(tmp_path, {"width": 8}, model=NanFromNet, trainer=TRAINER, rule=rule,
                     model_init_args={"nan_from": 9, "stop_at": 1})
    result = fit_trial(spec)
    assert result.status is TrialStatus.FAILED and result.epochs == 2
    assert "by the model or a callback" in result.error
    assert math.isnan(_logged(tmp_path / "t1", "hp_metric")[-1])
    assert "search_score" not in (tmp_path / "t1" / "logs" / "hparams.yaml").read_text()

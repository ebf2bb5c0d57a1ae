"""A monitor that validation logs per batch only, with ``logger=False``: Lightning hands it
to neither ``trainer.logged_metrics`` nor ``trainer.callback_metrics``, so the sanity
check's refusal of a per-batch monitor (it looked in ``logged_metrics``) missed it and the
trial trained all its epochs before failing. It is seen in ``progress_bar_metrics``
(``prog_bar=True``), and the ``_step`` name of one logged per batch and per epoch beside
its ``_epoch`` name in ``callback_metrics``; one logged with neither reaches no public
view of the Trainer, and still fails at the trial's end.

A tiny MLP on blobs, three epochs asked for: every trial is real.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lightning_nas.results import TrialStatus
from lightning_nas.search.trial import TrialSpec, fit_trial
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

TRAINER = {"max_epochs": 3, "accelerator": "cpu", "devices": 1, "logger": False,
           "limit_train_batches": 2, "enable_checkpointing": False}


class Unlogged(TinyNet):
    """``val_acc`` logged with ``logger=False`` and the keywords of ``LOG``; counts its
    training steps in ``steps`` (the class's: the trial builds its own)."""

    LOG: dict = {"on_step": True, "on_epoch": False, "prog_bar": True}
    steps: list[int] = []

    def training_step(self, batch, batch_idx):
        Unlogged.steps.append(batch_idx)
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(-1) == y).float().mean(), logger=False, **self.LOG)


class UnloggedBoth(Unlogged):
    """``on_step=True, on_epoch=True``: ``val_acc_step`` and ``val_acc_epoch``, no logger."""

    LOG = {"on_step": True, "on_epoch": True}


class UnloggedHidden(Unlogged):
    """Per batch only, neither logger nor progress bar: no public view holds it."""

    LOG = {"on_step": True, "on_epoch": False}


def _fit(tmp_path: Path, model: type, monitor: str):
    torch.set_num_threads(1)
    Unlogged.steps.clear()
    spec = TrialSpec(trial_id=1, arch={"width": 4}, trial_dir=str(tmp_path), model=model,
                     data=BlobData, seed=1, monitor=monitor, trainer=TRAINER)
    return fit_trial(spec)


@pytest.mark.parametrize(("model", "monitor", "says"), [
    (Unlogged, "val_acc", "log it with on_epoch=True"),
    (UnloggedBoth, "val_acc_step", "score val_acc_epoch instead"),
], ids=["on-step-prog-bar", "the-step-name"])
def test_a_per_batch_monitor_kept_from_the_logger_is_refused_at_the_sanity_check(
        tmp_path, model, monitor, says):
    result = _fit(tmp_path, model, monitor)
    assert result.status is TrialStatus.FAILED and result.fatal
    assert (f"MonitorError: monitor {monitor!r} is logged per validation batch only"
            in result.error and says in result.error), result.error
    assert not result.curve and Unlogged.steps == []  # nothing trained (was: three epochs)


def test_a_per_batch_monitor_no_view_holds_still_fails_at_the_end(tmp_path):
    # the limit of the check: Lightning keeps it from every public view of the Trainer
    result = _fit(tmp_path, UnloggedHidden, "val_acc")
    assert result.status is TrialStatus.FAILED and result.fatal
    assert "monitor 'val_acc' was not logged" in result.error, result.error
    assert len(Unlogged.steps) == 6

"""``PruningCallback`` and ``TrialReporter`` in real trials: a weak run stopped, a rule whose
mode is not the monitor's refused, a paused and promoted trial that trains on as an
uninterrupted one, a trial stopped before its monitor is logged failing alone, and
``best.ckpt`` within an accumulation window."""

from __future__ import annotations

import re
from typing import Any

import lightning.pytorch as pl
import pytest
import torch

from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from lightning_nas.search.callbacks import TrialReporter
from lightning_nas.search.pruning import PruningCallback
from lightning_nas.search.schedulers import Decision, MedianRule, Rule
from lightning_nas.search.trial import TrialSpec, fit_trial
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_search_callbacks import LaterAcc, fit_scripted, median_rule


def test_pruning_callback_stops_a_weak_run_in_a_real_trainer():
    rule = median_rule()
    for epoch in (1, 2, 3):
        rule.decide("strong", epoch, 0.9)  # an earlier run, better at every epoch
    pruning = PruningCallback(rule, monitor="val_acc", trial_key="weak")
    reporter = TrialReporter(monitor="val_acc", mode="max")
    trainer = fit_scripted([reporter, pruning])
    assert pruning.decision is Decision.STOP
    assert pruning.stopped_epoch == 1
    assert pruning.state_dict() == {"stopped_epoch": 1, "decision": "STOP"}
    assert trainer.current_epoch == 1  # stopped after its first epoch
    assert len(reporter.history) == 1


def test_pruning_callback_refuses_a_rule_whose_mode_is_not_the_monitors(tmp_path):
    # was: a MedianRule (mode max by default) judging val_loss stopped the lowest losses
    kw = {"max_epochs": 2, "accelerator": "cpu", "devices": 1, "logger": False,
          "enable_checkpointing": False, "enable_progress_bar": False,
          "enable_model_summary": False, "limit_train_batches": 2, "limit_val_batches": 1,
          "default_root_dir": tmp_path}
    for callback, needle in (
            (PruningCallback(median_rule(), monitor="val_loss"), "monitor 'val_loss' says by its "
             "name mode 'min': the rule would stop the best runs; build it with mode='min', "
             "e.g. MedianRule(..., mode='min')"),
            (PruningCallback(median_rule(), monitor="val_acc", mode="min"), "MedianRule has "
             "mode='max', but monitor 'val_acc' is given as mode 'min'")):
        trainer = pl.Trainer(callbacks=[callback], **kw)
        with pytest.raises(ConfigError, match=re.escape(needle)):
            trainer.fit(TinyNet(width=8), datamodule=BlobData())
        assert trainer.global_step == 0  # refused before training
    for callback in (PruningCallback(MedianRule(mode="min"), monitor="val_loss"),
                     PruningCallback(median_rule(), monitor="val_loss", mode="max")):  # as said
        trainer = pl.Trainer(callbacks=[callback], **kw)
        trainer.fit(TinyNet(width=8), datamodule=BlobData())
        assert trainer.current_epoch == 2
    # a search's trials judge by the search's mode, given against the name's too
    from lightning_nas import Search

    done = Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=1,
                  monitor="val_loss", mode="max", scheduler="median", run_dir=tmp_path / "run",
                  trainer={"max_epochs": 2, "limit_train_batches": 2}, verbose=False).run()
    assert [t.status for t in done.trials] == [TrialStatus.COMPLETED], done.trials[0].error


class PlateauNet(TinyNet):
    """SGD with momentum, a ``ReduceLROnPlateau`` on a metric that never improves (the rate
    halves after every epoch but the first) and an epoch-interval ``StepLR`` (times 0.9
    after every epoch)."""

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        self.log("flat", 1.0)

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
        step = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.9)
        return [opt], [{"scheduler": plateau, "monitor": "flat"}, step]


class TrainingState(pl.Callback):
    """Saves what training goes on from at each epoch's start and at the fit's end
    (``state_<epoch>.pt``, ``state_end.pt`` in the trial folder): weights, optimizer state,
    rates, the schedulers' states and the step."""

    def _save(self, trainer: pl.Trainer, name: str) -> None:
        state = {"weights": trainer.lightning_module.state_dict(),
                 "optimizer": trainer.optimizers[0].state_dict(),
                 "schedulers": [c.scheduler.state_dict() for c in trainer.lr_scheduler_configs],
                 "step": trainer.global_step, "epoch": trainer.current_epoch}
        torch.save(state, f"{trainer.default_root_dir}/state_{name}.pt")

    def on_train_epoch_start(self, trainer, pl_module):
        self._save(trainer, str(trainer.current_epoch))

    def on_train_end(self, trainer, pl_module):
        self._save(trainer, "end")


class PauseAfter(Rule):
    """Pauses a trial after each of ``epochs`` (a promotion resumes it)."""

    def __init__(self, *epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def decide(self, key, epoch, value):
        return Decision.PAUSE if epoch in self.epochs else Decision.CONTINUE

    def _observe(self, key, epoch, value):
        pass

    def promotion(self, paused):
        return None


def _assert_same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a} != {b}"


def test_a_paused_and_promoted_trial_trains_on_as_an_uninterrupted_one(tmp_path):
    # was: last.ckpt was written in the epoch-end hooks, before Lightning stepped the
    # ReduceLROnPlateau, which it does not step on a resume from such a checkpoint: each
    # pause lost a step (epochs 2 and 3 trained at lr 0.081 and 0.0729, not 0.0405 and
    # 0.018225); the epoch-interval StepLR, stepped at the epoch's last batch, was right
    def spec(name: str, rule: Rule | None) -> TrialSpec:
        return TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(tmp_path / name),
                         model=PlateauNet, model_init_args={"lr": 0.1}, data=BlobData,
                         data_init_args={"shuffle": False}, rule=rule,
                         trainer={"max_epochs": 4, "callbacks": [TrainingState()]})

    whole = fit_trial(spec("whole", None))
    assert whole.status is TrialStatus.COMPLETED and whole.epochs == 4, whole.error
    paused = spec("paused", PauseAfter(1, 2))
    for epochs in (1, 2):  # paused after epoch 1, promoted, paused after epoch 2, promoted
        result = fit_trial(paused)
        assert result.status is TrialStatus.PAUSED and result.epochs == epochs, result.error
        paused.ckpt_path, paused.clear_dir = str(tmp_path / "paused" / "last.ckpt"), False
        paused.known_epochs = epochs
    result = fit_trial(paused)
    assert result.status is TrialStatus.COMPLETED and result.epochs == 4, result.error
    for name in ("1", "2", "3", "end"):  # each segment starts where the whole run was
        states = [torch.load(tmp_path / run / f"state_{name}.pt", weights_only=False)
                  for run in ("whole", "paused")]
        _assert_same(*states, f"state_{name}")
    assert result.curve == whole.curve
    rates = [torch.load(tmp_path / "whole" / f"state_{e}.pt", weights_only=False)
             ["optimizer"]["param_groups"][0]["lr"] for e in range(4)]
    # the first step sets the plateau's best; it halves the rate from the second on
    assert rates == pytest.approx([0.1, 0.09, 0.1 * 0.9**2 / 2, 0.1 * 0.9**3 / 4])


def test_a_trial_stopped_before_its_monitor_is_logged_fails_alone_not_the_search(tmp_path):
    # was (review): fatal, "an error every trial would hit", though a searched max_epochs
    # or an early stop ended it before the epochs that log the monitor (others log it)
    from lightning.pytorch.callbacks import EarlyStopping

    from lightning_nas.search.trial import TrialSpec, fit_trial

    def trial(name, arch, **trainer):
        spec = TrialSpec(trial_id=1, arch=arch, trial_dir=str(tmp_path / name), model=LaterAcc,
                         model_init_args={"first": 2}, data=BlobData,
                         trainer={"max_epochs": 2, "accelerator": "cpu", "logger": False,
                                  **trainer})
        return fit_trial(spec)

    searched = trial("searched", {"width": 8, "trainer.max_epochs": 2})
    stopped = trial("stopped", {"width": 8}, max_epochs=5, callbacks=[
        EarlyStopping("val_loss", patience=0, mode="max", check_finite=False)])
    full = trial("full", {"width": 8})  # fixed max_epochs 2: every trial ends so
    for result in (searched, stopped, full):
        assert result.status is TrialStatus.FAILED
        assert "monitor 'val_acc' was not logged" in result.error
    assert not searched.fatal and not stopped.fatal and stopped.epochs < 5
    assert full.fatal


class BufferScored(TinyNet):
    """Scored by a buffer that training forwards change and the optimizer does not, as
    BatchNorm's running statistics: ``seen``, the training batches so far; ``val_acc`` is
    ``scores[seen]``. A checkpoint holds the buffer, so a fresh Trainer's ``validate`` of it
    logs the score of the validation it was written at."""

    def __init__(self, width: int = 8, scores: dict[int, float] | None = None) -> None:
        super().__init__(width=width)
        self.scores = dict(scores or {})
        self.register_buffer("seen", torch.tensor(0))

    def training_step(self, batch, batch_idx):
        self.seen += 1
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        self.log("val_acc", self.scores.get(int(self.seen), 0.0))


@pytest.mark.parametrize("scores", [
    {2: 0.5, 4: 0.6, 6: 0.9, 8: 0.7},  # best at the global step best.ckpt was saved at
    {2: 0.9, 4: 0.6, 6: 0.5, 8: 0.7},  # best before the first optimizer step (step 0)
], ids=["same-step", "step-0"])
def test_best_ckpt_is_the_stored_best_validation_within_an_accumulation_window(tmp_path,
                                                                                scores):
    # was: Lightning's ModelCheckpoint skips a validation at the global step it last saved
    # at (or at step 0: "no steps were taken"), so with accumulate_grad_batches 4 and four
    # validations an epoch (after batches 2, 4, 6, 8: steps 0, 1, 1, 2) the stored score
    # was 0.9 while best.ckpt held the 0.7 of batch 8 (validated: 0.7)
    spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(tmp_path / "t"),
                     model=BufferScored, model_init_args={"scores": scores}, data=BlobData,
                     data_init_args={"batch_size": 24, "shuffle": False},
                     trainer={"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                              "logger": False, "accumulate_grad_batches": 4,
                              "val_check_interval": 0.25})
    result = fit_trial(spec)
    assert result.status is TrialStatus.COMPLETED, result.error
    assert result.curve == pytest.approx([scores[2], scores[4], scores[6], scores[8]])
    assert result.score == pytest.approx(0.9) and result.epoch == 0
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    validated = trainer.validate(BufferScored(scores=scores), datamodule=BlobData(batch_size=24),
                                 ckpt_path=result.checkpoint, verbose=False, weights_only=False)
    assert validated[0]["val_acc"] == pytest.approx(result.score)

"""The lr schedulers of a wrapped module's ``configure_optimizers`` under
``DifferentiableNAS`` (DARTS, GDAS): those of its weight optimizer step as Lightning steps
them in a plain fit of the module (interval, frequency, ``ReduceLROnPlateau`` on its
``monitor``), their state in the checkpoint, so a resume goes on as the uninterrupted run."""

from __future__ import annotations

import warnings

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot_fit import plain_trainer

#: the schedules compared, each a factory ``SGD -> configure_optimizers's scheduler part``
SCHEDULES = {
    "epoch": lambda sgd: torch.optim.lr_scheduler.StepLR(sgd, 1, gamma=0.5),
    "step_every_2": lambda sgd: {"scheduler": torch.optim.lr_scheduler.StepLR(sgd, 1, gamma=0.5),
                                 "interval": "step", "frequency": 2},
    # no epoch improves on the first by 10 times: the lr halves from the second on
    "plateau": lambda sgd: {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(
        sgd, mode="max", factor=0.5, patience=0, threshold=10.0), "monitor": "val_acc"},
}


class Scheduled(TinySupernet):
    """``TinySupernet`` whose SGD has the lr scheduler of ``SCHEDULES[schedule]``."""

    def __init__(self, schedule: str = "epoch") -> None:
        super().__init__()
        self.schedule = schedule

    def configure_optimizers(self):
        sgd = torch.optim.SGD(self.parameters(), lr=0.4)
        return {"optimizer": sgd, "lr_scheduler": SCHEDULES[self.schedule](sgd)}


class Rates(pl.Callback):
    """The weight optimizer's lr at each training batch's start."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def _rates(tmp_path, module, data, max_epochs=4, ckpt_path=None, save=None) -> list[float]:
    rates = Rates()
    trainer = plain_trainer(tmp_path, max_epochs=max_epochs, callbacks=[rates],
                            num_sanity_val_steps=0)
    trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    if save is not None:
        trainer.save_checkpoint(save)
    return rates.lrs


@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_the_weights_schedulers_step_as_in_a_plain_fit_and_resume(tmp_path, schedule):
    # was: not stepped (warned of): the weights trained at lr 0.4 throughout
    pl.seed_everything(0, verbose=False)
    plain = _rates(tmp_path, Scheduled(schedule), BlobData())
    assert len(set(plain)) > 2  # the schedule moves
    searched = _rates(tmp_path, DifferentiableNAS(Scheduled(schedule), num_classes=3),
                      BilevelData(BlobData()))
    assert searched == plain
    # a resume from the second epoch's end goes on as the uninterrupted run
    first = _rates(tmp_path, DifferentiableNAS(Scheduled(schedule), num_classes=3),
                   BilevelData(BlobData()), max_epochs=2, save=tmp_path / "two.ckpt")
    rest = _rates(tmp_path, DifferentiableNAS(Scheduled(schedule), num_classes=3),
                  BilevelData(BlobData()), ckpt_path=tmp_path / "two.ckpt")
    assert first + rest == plain


class _Stream(IterableDataset):
    """The training blobs of ``BlobData`` in 64-sample batches, with no length."""

    def __init__(self, data: BlobData) -> None:
        self.x, self.y = data.train_set.tensors

    def __iter__(self):
        for start in range(0, len(self.x), 64):
            yield self.x[start:start + 64], self.y[start:start + 64]


class StreamData(BlobData):
    """``BlobData`` whose training loader has no length (an ``IterableDataset``)."""

    def train_dataloader(self) -> DataLoader:
        return DataLoader(_Stream(self), batch_size=None)


def test_epoch_schedulers_step_at_the_epoch_end_of_a_loader_without_length(tmp_path):
    # was: never stepped (the epoch's last batch never equals num_training_batches, inf),
    # where a plain fit steps them after each epoch
    plain = _rates(tmp_path, Scheduled("epoch"), StreamData(), max_epochs=3)
    assert plain == [0.4] * 3 + [0.2] * 3 + [0.1] * 3
    searched = _rates(tmp_path, DifferentiableNAS(Scheduled("epoch"), num_classes=3),
                      BilevelData(StreamData()), max_epochs=3)
    assert searched == plain


@pytest.mark.parametrize(("part", "said"), [
    (lambda sgd: torch.optim.lr_scheduler.ReduceLROnPlateau(sgd),
     "Bad.configure_optimizers: the lr scheduler ReduceLROnPlateau needs a 'monitor'"),
    (lambda sgd: {"scheduler": torch.optim.lr_scheduler.StepLR(sgd, 1), "interval": "batch"},
     "StepLR's interval 'batch'; valid values: epoch, step"),
    (lambda sgd: {"scheduler": torch.optim.lr_scheduler.StepLR(sgd, 1), "frequency": 0},
     "StepLR's frequency 0 must be an integer >= 1"),
])
def test_a_scheduler_lightning_would_refuse_is_refused_before_training(part, said):
    class Bad(TinySupernet):
        def configure_optimizers(self):
            sgd = torch.optim.SGD(self.parameters(), lr=0.4)
            return {"optimizer": sgd, "lr_scheduler": part(sgd)}

    with pytest.raises(ConfigError, match=said):
        DifferentiableNAS(Bad(), num_classes=3).configure_optimizers()


def test_its_lr_scheduler_step_steps_them_and_a_monitor_never_logged_is_named(tmp_path):
    # was: its lr_scheduler_step was not called (warned of), nor a scheduler stepped
    class OwnStep(Scheduled):
        def lr_scheduler_step(self, scheduler, metric) -> None:
            self.stepped.append(metric)
            scheduler.step(metric)

    module = OwnStep("plateau")
    module.stepped = []
    trainer = plain_trainer(tmp_path, max_epochs=2, num_sanity_val_steps=0)
    trainer.fit(DifferentiableNAS(module, num_classes=3), datamodule=BilevelData(BlobData()))
    assert len(module.stepped) == 2 and all(float(m) >= 0 for m in module.stepped)

    class NotLogged(Scheduled):
        def configure_optimizers(self):
            sgd = torch.optim.SGD(self.parameters(), lr=0.4)
            return {"optimizer": sgd, "monitor": "val_f1",
                    "lr_scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(sgd)}

    with pytest.raises(ConfigError, match="ReduceLROnPlateau steps on 'val_f1', which is not "
                                          "logged; logged: .*val_acc"):
        plain_trainer(tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=1).fit(
            DifferentiableNAS(NotLogged(), num_classes=3), datamodule=BilevelData(BlobData()))


def test_a_checkpoint_without_scheduler_states_warns_that_the_schedule_restarts(tmp_path):
    # was: resumed without a word, the schedule from its start (a checkpoint written before
    # the schedulers' state was saved holds an empty list of them)
    _rates(tmp_path, DifferentiableNAS(Scheduled("epoch"), num_classes=3),
           BilevelData(BlobData()), max_epochs=1, save=tmp_path / "one.ckpt")
    old = torch.load(tmp_path / "one.ckpt", weights_only=False)
    old["lr_schedulers"] = []
    torch.save(old, tmp_path / "old.ckpt")
    with pytest.warns(UserWarning, match=r"old\.ckpt holds no state of the weight optimizer's "
                                         r"lr scheduler StepLR: its schedule restarts"):
        _rates(tmp_path, DifferentiableNAS(Scheduled("epoch"), num_classes=3),
               BilevelData(BlobData()), max_epochs=2, ckpt_path=tmp_path / "old.ckpt")
    with warnings.catch_warnings(record=True) as said:  # its states there: no word
        warnings.simplefilter("always")
        _rates(tmp_path, DifferentiableNAS(Scheduled("epoch"), num_classes=3),
               BilevelData(BlobData()), max_epochs=2, ckpt_path=tmp_path / "one.ckpt")
    assert not [w for w in said if "schedule restarts" in str(w.message)]

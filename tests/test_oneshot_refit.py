"""A ``OneShotNAS`` callback given to another Trainer's fit (the same instance, a new
supernet) runs a search of its own, as a new callback of its settings would: its final
search, history and export are of that fit's supernet, while a fit that goes on with the
same Trainer (a higher ``max_epochs``) goes on with its search. A ``DifferentiableNAS``
fitted again by a new Trainer records that fit's epochs alone (``alphas.json``)."""

from __future__ import annotations

import json

import lightning.pytorch as pl

from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot_fit import cpu_trainer, val_accuracy


def _callback() -> OneShotNAS:
    return OneShotNAS(num_candidates=4, num_classes=3, calibration_batches=1, seed=0)


def _fit(tmp_path, callback: OneShotNAS, lr: float, max_epochs: int = 2) -> pl.Trainer:
    pl.seed_everything(0, verbose=False)
    trainer = cpu_trainer(tmp_path, [callback], max_epochs=max_epochs, enable_checkpointing=False)
    trainer.fit(TinySupernet(lr=lr), datamodule=BlobData())
    return trainer


def test_a_callback_fitted_again_by_a_new_trainer_searches_that_fits_supernet(tmp_path):
    # was: the second fit's final search did not run (the history's last search was of the
    # same epoch, the first fit's), so it exported the first fit's best arch with the
    # first supernet's score (0.578) from the second supernet, where it scored 0.906
    reused = _callback()
    _fit(tmp_path / "first", reused, lr=0.05)
    _fit(tmp_path / "second", reused, lr=0.5)
    fresh = _callback()
    _fit(tmp_path / "fresh", fresh, lr=0.5)
    assert reused.history == fresh.history
    assert (reused.best_arch, reused.best_score) == (fresh.best_arch, fresh.best_score)
    data = BlobData()
    data.setup()
    assert val_accuracy(reused.subnet, data) == reused.best_score


def test_a_fit_that_goes_on_with_the_same_trainer_goes_on_with_its_search(tmp_path):
    callback = OneShotNAS(num_candidates=2, num_classes=3, calibration_batches=1, seed=0,
                          search_every_n_epochs=1)
    trainer = _fit(tmp_path, callback, lr=0.05)
    trainer.fit_loop.max_epochs = 3
    trainer.fit(trainer.lightning_module, datamodule=BlobData())
    assert sorted({row["epoch"] for row in callback.history}) == [1, 2, 3]


def test_a_differentiable_search_fitted_again_by_a_new_trainer_records_that_fits_epochs(
        tmp_path):
    # was: the first fit's entries kept before the second's, each epoch twice in
    # alphas.json: epochs [1, 2, 1, 2]
    pl.seed_everything(0, verbose=False)
    nas = DifferentiableNAS(TinySupernet(), num_classes=3, calibration_batches=1,
                            export_dir=str(tmp_path / "out"))
    for name in ("first", "second"):
        cpu_trainer(tmp_path / name, [], max_epochs=2, enable_checkpointing=False).fit(
            nas, datamodule=BilevelData(BlobData()))
    alphas = json.loads((tmp_path / "out" / "alphas.json").read_text())
    assert [entry["epoch"] for entry in alphas["history"]] == [1, 2]
    assert alphas["history"] == nas.history and nas.history[-1]["probs"] == nas.probabilities()

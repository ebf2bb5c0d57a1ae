"""Stopping weak trials early beside the Trainer settings that bound a fit's length: a
scheduler whose trials could never end is refused before the first trial, a scheduler's own
``search.max_epochs`` is no endless fit, a real ASHA search over ``limit_train_batches``
promotes trials that train what an uninterrupted fit does, and a ``max_steps`` that ends
every fit before its first validation is named."""

from __future__ import annotations

import random
import re
import warnings

import pytest
import torch.nn.functional as F

from lightning_nas import Search
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.search.schedulers import ASHARule, MedianRule
from lightning_nas.search.trial import TrialSpec, fit_trial
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

SPACE = {"width": {"choice": [4, 16]}, "lr": {"choice": [0.01, 0.3]}}


@pytest.mark.parametrize("scheduler", ["median", MedianRule(min_epochs=1)])
def test_median_under_a_trainer_without_an_epoch_limit_is_refused_before_training(
        tmp_path, scheduler):
    # was: accepted with a warning; the scheduler refuses max_steps, max_time and
    # EarlyStopping, so a trial median did not stop (the first one: it judges none before
    # two others' values) trained for ever
    name = scheduler if isinstance(scheduler, str) else "MedianRule"
    with pytest.raises(ConfigError, match=re.escape(
            f"scheduler '{name}' stops weak trials, but trainer={{\"max_epochs\": -1}} "
            f"(Lightning's 'no limit') and no max_epochs= given to the search end the "
            f"others")):  # Python's words (a config's: tests/test_fit_words.py)
        Search(TinyNet, SPACE, data=BlobData, trainer={"max_epochs": -1}, budget=2,
               scheduler=scheduler, run_dir=tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("scheduler", "says"), [
    (ASHARule(min_epochs=1, max_epochs=4, eta=2), "scheduler ASHARule has max_epochs=4 (its "
     "last rung) but the search's trials train max_epochs=-1 (the search's max_epochs=, "
     "else trainer={\"max_epochs\": ...}; -1 is Lightning's 'no limit'); make the trials "
     "train 4: the search's max_epochs=4"),
    ("hyperband", "scheduler 'hyperband' needs max_epochs (the search's max_epochs= or "
     "trainer={\"max_epochs\": ...}), got -1 (Lightning's 'no limit': a complete trial "
     "trains a number of epochs)")])
def test_a_rung_schedulers_refusal_of_a_trainer_without_an_epoch_limit_says_what_works(
        tmp_path, scheduler, says):
    # was: "... build it with max_epochs=-1, or make the trials train 4", and an
    # ASHARule(max_epochs=-1) is refused by its own checks
    with pytest.raises(ConfigError, match=re.escape(says)) as refused:
        Search(TinyNet, SPACE, data=BlobData, trainer={"max_epochs": -1}, budget=2,
               scheduler=scheduler, run_dir=tmp_path / "run", verbose=False)
    assert "max_epochs=-1," not in str(refused.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("scheduler", ["asha", "median"])
def test_a_schedulers_max_epochs_over_a_trainer_without_a_limit_is_no_endless_fit(
        tmp_path, scheduler):
    # was: "trainer.max_epochs=-1 is Lightning's 'no limit' ... each trains until a
    # callback of yours stops it, for ever" though every trial trains search.max_epochs
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        result = Search(TinyNet, SPACE, data=BlobData, trainer={"max_epochs": -1}, budget=2,
                        scheduler=scheduler, max_epochs=3, optimizer="RandomSearch", seed=0,
                        run_dir=tmp_path, verbose=False).run()
    assert not [w for w in said if "no limit" in str(w.message)]
    assert [t.epochs for t in result.trials if t.status is TrialStatus.COMPLETED] == [3, 3]


class DrawingNet(TinyNet):
    """Draws from torch (dropout), NumPy and ``random`` as it trains; ``BlobData`` shuffles."""

    def training_step(self, batch, batch_idx):
        import numpy as np

        x, y = batch
        noise = 1.0 + 0.1 * random.random() + 0.1 * float(np.random.rand())
        return F.cross_entropy(self(F.dropout(x, 0.3, self.training)), y) * noise


def test_a_promoted_trial_of_a_search_over_fewer_batches_trains_what_a_straight_fit_does(
        tmp_path):
    # a real ASHA search (rungs 1, 2, 4 epochs of 2 of BlobData's 3 batches): the trial it
    # pauses at rung 1 and promotes later has, at every epoch it trained, the value one
    # fit of its architecture with the search's seed has there
    trainer = {"max_epochs": -1, "limit_train_batches": 2}
    space = {"lr": {"choice": [0.001, 0.01, 0.1, 0.3]}, "width": {"choice": [4, 8, 16]}}
    result = Search(DrawingNet, space, data=BlobData, trainer=trainer, budget=8,
                    scheduler="asha", max_epochs=4, eta=2, seed=1, monitor="val_loss",
                    optimizer="RandomSearch", run_dir=tmp_path / "run", verbose=False).run()
    with RunStore(tmp_path / "run" / "search.db") as store:
        fits = {t.trial_id: len(list((tmp_path / "run" / "trials" / f"trial_{t.trial_id:04d}")
                                     .glob("logs_resumed*"))) for t in store.trials()}
    promoted = [t for t in result.trials if fits[t.trial_id]]
    assert promoted, [(t.trial_id, t.status, t.epochs) for t in result.trials]
    for trial in promoted:
        assert trial.epochs in (2, 4) and len(trial.curve) == trial.epochs
        straight = fit_trial(TrialSpec(
            trial_id=trial.trial_id, arch=dict(trial.arch), model=DrawingNet, data=BlobData,
            trial_dir=str(tmp_path / f"straight_{trial.trial_id}"), seed=1, monitor="val_loss",
            mode="min", trainer={**trainer, "max_epochs": trial.epochs}))
        assert straight.curve == trial.curve
        assert (straight.score, straight.epoch) == (trial.score, trial.epoch)
        assert trial.curve[trial.epoch] == trial.score  # its score is its best epoch's value


def test_max_steps_that_end_every_fit_before_its_first_validation_are_named(tmp_path):
    # was: "no validation ran in the 1 epoch (2 steps) it trained ... (check
    # limit_val_batches, check_val_every_n_epoch, and val_check_interval ...)", not naming
    # max_steps, which cut the epoch (of 3 batches) short: Lightning validates no such epoch
    with pytest.raises(SearchError, match=re.escape(
            "trainer.max_steps=2 ended it in epoch 0, before that epoch's end, and Lightning "
            "does not validate an epoch max_steps cuts short")):
        Search(TinyNet, SPACE, data=BlobData, trainer={"max_epochs": 3, "max_steps": 2},
               budget=2, seed=0, run_dir=tmp_path, verbose=False).run()


def test_max_steps_past_an_epoch_under_check_val_every_n_epoch_asks_for_those_epochs(
        tmp_path):
    # 3 batches an epoch, validated every 2nd: max_steps=4 ends epoch 1 short, after a whole
    # epoch; was: "give max_steps at least an epoch's steps", which 4 already is
    result = fit_trial(TrialSpec(
        trial_id=1, arch={"width": 4, "lr": 0.01}, model=TinyNet, data=BlobData,
        trial_dir=str(tmp_path / "trial"), seed=0, monitor="val_loss", mode="min",
        trainer={"max_epochs": -1, "max_steps": 4, "check_val_every_n_epoch": 2,
                 "logger": False}))
    assert result.status is TrialStatus.FAILED
    assert ("give max_steps at least 2 epochs' steps (check_val_every_n_epoch=2 validates "
            "once every 2 epochs), or val_check_interval") in result.error, result.error


def _no_validation_error(tmp_path, **trainer) -> str:
    """The error of a fit of ``TinyNet`` on ``BlobData`` (3 batches an epoch) that no
    validation scored."""
    result = fit_trial(TrialSpec(
        trial_id=1, arch={"width": 4, "lr": 0.01}, model=TinyNet, data=BlobData,
        trial_dir=str(tmp_path / "trial"), seed=0, monitor="val_loss", mode="min",
        trainer={"logger": False, **trainer}))
    assert result.status is TrialStatus.FAILED
    return result.error


def test_max_steps_under_gradient_accumulation_counts_an_epoch_in_optimizer_steps(tmp_path):
    # 3 batches an epoch, 2 accumulated a step: 2 optimizer steps an epoch; was: "an epoch
    # here is 3 batches" beside "give max_steps at least an epoch's steps" (3 steps: 2 epochs)
    error = _no_validation_error(tmp_path, max_epochs=3, max_steps=1, accumulate_grad_batches=2)
    assert ("(an epoch here is 2 optimizer steps: 3 batches, accumulated 2 a step under "
            "accumulate_grad_batches=2); give max_steps at least an epoch's steps") in error, error


@pytest.mark.parametrize("interval", ["00:00:10:00", {"minutes": 10}])
def test_a_time_val_check_interval_that_never_came_is_named_as_a_time(tmp_path, interval):
    # was: "(check limit_val_batches, check_val_every_n_epoch, and val_check_interval
    # against the batches of an epoch)": a time is no count of batches, and Lightning
    # validates no epoch's end under it
    error = _no_validation_error(tmp_path, max_epochs=1, val_check_interval=interval)
    assert (f"val_check_interval={interval!r} is a time: Lightning validates once that much "
            f"training time has passed since the last validation, not at each epoch's end, "
            f"and it never passed in this trial") in error, error

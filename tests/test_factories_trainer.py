"""Tests of ``config.trainer_checks``: the Trainer's arguments (and its callbacks' and
loggers') checked, and a search that would never validate, or runs ``fast_dev_run`` or
SyncBatchNorm on CPU DDP, refused before training.
"""

from __future__ import annotations

import re

import pytest

from lightning_nas import Search
from lightning_nas.config.trainer_checks import (
    check_search_trainer,
    check_trainer_kwargs,
    check_validation_runs,
)
from lightning_nas.errors import ConfigError
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


# ---------------------------------------------------------------- trainer kwargs
def test_check_trainer_kwargs():
    check_trainer_kwargs({"max_epochs": 2, "logger": False, "limit_train_batches": 2})
    check_trainer_kwargs({})
    with pytest.raises(ConfigError) as info:
        check_trainer_kwargs({"max_epochs": 1, "max_epoch": 3})
    msg = str(info.value)
    assert "unknown Trainer argument 'max_epoch'" in msg
    assert "did you mean 'max_epochs'" in msg
    assert "accelerator" in msg  # lists the valid arguments


def test_counts_the_trainer_takes_unchecked_are_checked():
    # Lightning takes them and fails in the first step (ZeroDivisionError), in every trial
    for kwargs, needle in (({"accumulate_grad_batches": 0}, "=0: must be >= 1"),
                           ({"val_check_interval": 1.5}, "=1.5: a fraction of an epoch in"),
                           ({"val_check_interval": 0}, "=0: a fraction")):
        with pytest.raises(ConfigError, match=needle):
            check_trainer_kwargs(kwargs)
    check_trainer_kwargs({"accumulate_grad_batches": 2, "val_check_interval": 0.25})
    check_trainer_kwargs({"val_check_interval": 30})
    steps = {"val_check_interval": 50, "check_val_every_n_epoch": None, "max_steps": 46}
    with pytest.raises(ConfigError, match="max_steps=46 runs no validation"):
        check_validation_runs(steps, "val_acc")
    check_validation_runs({**steps, "max_steps": 50}, "val_acc")


def test_a_negative_gradient_clip_val_is_refused_set_or_searched_before_any_file(
        tmp_path, tiny_space, tiny_trainer):
    # was: taken (Lightning checks no sign), and torch clips by a negative bound by flipping
    # the gradients' sign: every trial trained uphill without a word
    for value in (-1, -0.5, float("nan")):
        with pytest.raises(ConfigError, match=r"trainer.gradient_clip_val=(-1|-0.5|nan): must "
                                              r"be a number >= 0 \(0 or null: no clipping\)"):
            check_trainer_kwargs({"gradient_clip_val": value})
    check_trainer_kwargs({"gradient_clip_val": 0})
    check_trainer_kwargs({"gradient_clip_val": 0.5})
    check_trainer_kwargs({"gradient_clip_val": None})
    with pytest.raises(ConfigError, match="gradient_clip_val=-1: must be"):
        Search(TinyNet, tiny_space, data=BlobData, run_dir=tmp_path / "set", budget=2,
               trainer={**tiny_trainer, "gradient_clip_val": -1})
    searched = {**tiny_space, "trainer.gradient_clip_val": {"choice": [-1.0, 1.0]}}
    with pytest.raises(ConfigError, match=re.escape(
            "space key 'trainer.gradient_clip_val' may take -1.0: trainer.gradient_clip_val")):
        Search(TinyNet, searched, data=BlobData, run_dir=tmp_path / "searched", budget=2,
               trainer=tiny_trainer)
    assert not list(tmp_path.iterdir())


def test_validation_every_0_epochs_is_refused_set_or_searched_before_any_file(
        tmp_path, tiny_space, tiny_trainer):
    # was: accepted, then every trial died in Lightning with "ZeroDivisionError: integer
    # modulo by zero" after search.db and trials/ were written
    needle = ("trainer.check_val_every_n_epoch=0: must be an integer >= 1 (validate every "
              "that many epochs), or null")
    for value in (0, -1):
        with pytest.raises(ConfigError, match=f"check_val_every_n_epoch={value}: must be"):
            check_trainer_kwargs({"check_val_every_n_epoch": value})
    check_trainer_kwargs({"check_val_every_n_epoch": 2})
    check_trainer_kwargs({"check_val_every_n_epoch": None})
    with pytest.raises(ConfigError, match=re.escape(needle)):
        Search(TinyNet, tiny_space, data=BlobData, run_dir=tmp_path / "set", budget=2,
               trainer={**tiny_trainer, "check_val_every_n_epoch": 0})
    searched = {**tiny_space, "trainer.check_val_every_n_epoch": {"choice": [0, 1]}}
    with pytest.raises(ConfigError, match=re.escape(
            f"space key 'trainer.check_val_every_n_epoch' may take 0: {needle}")):
        Search(TinyNet, searched, data=BlobData, run_dir=tmp_path / "searched", budget=2,
               trainer=tiny_trainer)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("trainer", "needle"), [
    ({"callbacks": [{"class_path": "lightning.pytorch.callbacks.EarlyStopping",
                     "init_args": {"monitor": "val_acc", "patience": "abc"}}]},
     "trainer.callbacks[0].patience='abc': expected int (the annotation of "
     "EarlyStopping.__init__)"),
    ({"logger": {"class_path": "lightning.pytorch.loggers.CSVLogger",
                 "init_args": {"save_dir": "logs", "nme": "x"}}},
     "trainer.logger.nme: not an argument of CSVLogger.__init__; did you mean 'name'?"),
])
def test_the_arguments_of_trainer_callbacks_and_loggers_are_checked(trainer, needle):
    # was: never checked, so `patience: abc` trained until EarlyStopping compared it
    with pytest.raises(ConfigError) as info:
        check_trainer_kwargs(trainer)
    assert needle in str(info.value)


@pytest.mark.parametrize(("trainer", "why"), [
    ({"limit_val_batches": 0}, "trainer.limit_val_batches=0 "),
    ({"limit_val_batches": 0.0, "max_epochs": 3}, "trainer.limit_val_batches=0.0 "),
    ({"check_val_every_n_epoch": 4, "max_epochs": 3},
     "trainer.check_val_every_n_epoch=4 with max_epochs=3 "),
    # was: each trial trained nothing and failed "no validation ran", until max_failures
    ({"limit_train_batches": 0, "max_epochs": 1}, "trainer.limit_train_batches=0 "),
    ({"max_steps": 0}, "trainer.max_steps=0 "),
    # was: taken, each trial failing "no validation ran in the 0 epochs"
    ({"max_time": "00:00:00:00"}, "trainer.max_time='00:00:00:00' "),
    ({"max_time": {"hours": 0}}, r"trainer.max_time=\{'hours': 0\} ")])
def test_a_search_that_never_validates_is_refused_before_training(tmp_path, trainer, why):
    """Before, each trial trained in full and failed, until max_failures stopped the search."""
    with pytest.raises(ConfigError, match=why + "runs no validation, so the monitor 'val_acc' "
                                                "would never be logged"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=trainer,
               budget=2, run_dir=tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()
    check_validation_runs({**trainer, "limit_val_batches": 2, "limit_train_batches": 2,
                           "max_epochs": 4, "max_steps": -1, "max_time": None}, "val_acc")


@pytest.mark.parametrize(("trainer", "space", "needle"), [
    ({"fast_dev_run": True}, {}, "trainer.fast_dev_run=True runs 1 batch of training"),
    ({"fast_dev_run": 3}, {}, "trainer.fast_dev_run=3 runs 3 batches of training"),
    ({}, {"trainer.fast_dev_run": {"choice": [False, 2]}},
     "space key 'trainer.fast_dev_run' may take 2: trainer.fast_dev_run=2 runs 2 batches")])
def test_a_search_with_fast_dev_run_is_refused_before_training(tmp_path, trainer, space, needle):
    # was: every trial trained one batch, was stored COMPLETED on that score with no
    # checkpoint, and used up the budget
    with pytest.raises(ConfigError, match=re.escape(needle)) as info:
        Search(TinyNet, {"width": {"choice": [4, 8]}, **space}, data=BlobData,
               trainer={"max_epochs": 2, **trainer}, budget=2, run_dir=tmp_path / "run")
    assert "limit_train_batches and limit_val_batches" in str(info.value)
    assert not (tmp_path / "run").exists()
    check_search_trainer({"fast_dev_run": False})
    check_search_trainer({"fast_dev_run": 0, "limit_train_batches": 2})


@pytest.mark.parametrize("trainer", [
    {"accelerator": "cpu", "strategy": "ddp", "devices": 2},
    {"accelerator": "cpu", "strategy": "ddp_find_unused_parameters_true", "devices": 1},
    {"accelerator": "cpu", "devices": 2, "strategy": {
        "class_path": "lightning.pytorch.strategies.DDPStrategy"}}])
def test_a_search_with_sync_batchnorm_under_ddp_on_cpu_is_refused_before_training(
        tmp_path, trainer):
    # was: every trial's DDP setup failed with torch's "SyncBatchNorm layers only work with
    # GPU modules", after its processes started, until the search gave up
    with pytest.raises(ConfigError, match=re.escape(
            "trainer.sync_batchnorm=True needs CUDA devices: torch's SyncBatchNorm")):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData,
               trainer={"max_epochs": 1, "sync_batchnorm": True, **trainer}, budget=2,
               run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    check_search_trainer({**trainer, "sync_batchnorm": False})
    check_search_trainer({"accelerator": "cpu", "devices": 1, "sync_batchnorm": True})

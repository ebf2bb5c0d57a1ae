"""Advice in the words of the API the user called: from Python (``Search(...)``,
``SearchSettings``, ``Goal``, ``Progress``) the Python API's (``objectives={...}``,
``trainer={"max_epochs": 5}``, ``True, False or 'auto'``), from a config (``lightning-nas
search``, ``search_from_config``) the config's (``objectives: {...}``,
``trainer.max_epochs``). Real settings, real searches built (nothing trains)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from lightning.pytorch.callbacks import EarlyStopping

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.search.executors import check_devices_per_trial
from lightning_nas.search.from_config import search_from_config
from lightning_nas.search.progress import Progress
from lightning_nas.search.schedulers import ASHARule
from lightning_nas.search.setting_checks import config_words
from lightning_nas.search.settings import Goal, SearchSettings
from tests.helpers import BlobData, TinyNet

SPACE = {"width": {"choice": [4, 8]}}


def _config(run_dir: Path, trainer: dict[str, Any] | None = None,
            **search: Any) -> dict[str, Any]:
    """A tiny search config (TinyNet on the blobs) with ``search`` settings added."""
    return {"model": {"class_path": "tests.helpers.TinyNet"},
            "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 32}},
            "trainer": {"max_epochs": 1, "limit_train_batches": 1, **(trainer or {})},
            "search": {"space": SPACE, "budget": 2, "run_dir": str(run_dir),
                       "verbose": False, **search}}


def _refusal(build: Any) -> str:
    with pytest.raises(ConfigError) as refused:
        build()
    return str(refused.value)


# ------------------------------------------------------------------ the goal's advice
def test_a_cost_as_the_first_objective_is_advised_in_the_words_it_was_given_in(tmp_path):
    # was: "e.g. objectives: {val_acc: max, params: min}" from Python too
    said = _refusal(lambda: SearchSettings.from_options(objectives={
        "params": "min", "val_acc": "max"}).goal.check_counted())
    assert said.endswith('list a logged metric first, e.g. objectives={"val_acc": "max", '
                         '"params": "min"}'), said
    said = _refusal(lambda: search_from_config(_config(
        tmp_path / "run", objectives={"flops": "min", "val_acc": "max"})))
    assert said.endswith("e.g. objectives: {val_acc: max, flops: min}"), said


def test_a_cost_as_the_monitor_is_advised_in_the_words_it_was_given_in(tmp_path):
    said = _refusal(lambda: Goal(monitor="params").check_counted())
    assert said.startswith("`monitor='params'` is counted, not logged"), said
    assert 'e.g. objectives={"val_acc": "max", "params": "min"}, or a limit' in said
    said = _refusal(lambda: search_from_config(_config(tmp_path / "run", monitor="params")))
    assert said.startswith("`monitor: 'params'` is counted, not logged"), said
    assert "e.g. objectives: {val_acc: max, params: min}, or a limit" in said


def test_a_monitor_without_a_mode_is_advised_in_the_words_it_was_given_in(tmp_path):
    said = _refusal(lambda: Search(TinyNet, SPACE, data=BlobData, monitor="val_score",
                                   run_dir=tmp_path / "run"))
    assert said.startswith("`monitor='val_score'` needs a `mode` ('max' or 'min') beside "
                           "it"), said
    said = _refusal(lambda: search_from_config(_config(tmp_path / "run", monitor="val_score")))
    assert said.startswith("`monitor: 'val_score'` needs a `mode` (max or min) beside it"), said
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("optimizer", "python", "config"), [
    (3, "RandomSearch: optimizer='NGOpt'), got 3",
     "RandomSearch: search.optimizer: NGOpt, --search.optimizer=NGOpt), got 3"),
    ({"name": "NGOpt", "budget": 3}, "give its name alone (optimizer='NGOpt')",
     "give its name alone (search.optimizer: NGOpt)"),
    ({"budget": 3}, "`budget` is a setting of the search itself: budget=3 sets the search's "
                    "budget", "--search.budget=3 sets the search's budget")])
def test_an_optimizer_that_is_no_name_is_advised_in_the_words_it_was_given_in(
        tmp_path, optimizer, python, config):
    said = _refusal(lambda: Search(TinyNet, SPACE, data=BlobData, optimizer=optimizer,
                                   run_dir=tmp_path / "run"))
    assert python in said and "search.optimizer" not in said, said
    assert "--search." not in said, said
    said = _refusal(lambda: search_from_config(_config(tmp_path / "run", optimizer=optimizer)))
    assert config in said, said


# ------------------------------------------------------------------ the scheduler's advice
def test_max_epochs_without_a_scheduler_advises_the_trainers_in_the_words_it_was_given_in(
        tmp_path):
    # was: "set trainer.max_epochs instead" to Search(..., max_epochs=5)
    said = _refusal(lambda: Search(TinyNet, SPACE, data=BlobData, max_epochs=5,
                                   run_dir=tmp_path / "run"))
    assert ("every trial trains the Trainer's max_epochs: set trainer={\"max_epochs\": 5} "
            "instead); leave it out (max_epochs=None)") in said, said
    said = _refusal(lambda: search_from_config(_config(tmp_path / "run", max_epochs=5)))
    assert ("every trial trains the Trainer's max_epochs: set trainer.max_epochs instead); "
            "leave it out (a file's, when the command line turns the scheduler off: "
            "--search.max_epochs=null)") in said, said
    assert not (tmp_path / "run").exists()


def test_a_rule_objects_epochs_are_advised_in_the_python_apis_words(tmp_path):
    # was: "make the trials train 3: search.max_epochs: 3 (or, where it is not set,
    # trainer.max_epochs: 3)" to Search(..., trainer={"max_epochs": 9})
    rule = ASHARule(min_epochs=1, max_epochs=3, eta=3)
    said = _refusal(lambda: Search(TinyNet, SPACE, data=BlobData, scheduler=rule,
                                   trainer={"max_epochs": 9}, run_dir=tmp_path / "run"))
    assert said.endswith(
        "but the search's trials train max_epochs=9 (the search's max_epochs=, else "
        "trainer={\"max_epochs\": ...}); build it with max_epochs=9, or make the trials "
        "train 3: the search's max_epochs=3 (or, where it is not set, "
        "trainer={\"max_epochs\": 3})"), said
    said = _refusal(lambda: Search(TinyNet, SPACE, data=BlobData, scheduler="asha",
                                   trainer={"max_epochs": -1}, run_dir=tmp_path / "run"))
    assert "needs max_epochs (the search's max_epochs= or trainer={\"max_epochs\": ...}), " \
           "got -1" in said, said
    said = _refusal(lambda: search_from_config(_config(tmp_path / "run", {"max_epochs": -1},
                                                       scheduler="asha")))
    assert "needs max_epochs (search.max_epochs or trainer.max_epochs), got -1" in said, said


def test_checkpointing_and_validation_under_a_scheduler_are_advised_in_python_words(
        tmp_path):
    said = _refusal(lambda: Search(TinyNet, SPACE, data=BlobData, scheduler="asha",
                                   trainer={"max_epochs": 3, "enable_checkpointing": False},
                                   run_dir=tmp_path / "run"))
    assert "leave it out (or True)," in said, said
    said = _refusal(lambda: Search(TinyNet, SPACE, data=BlobData, scheduler="asha",
                                   trainer={"max_epochs": 3, "check_val_every_n_epoch": 2},
                                   run_dir=tmp_path / "run"))
    assert said.endswith("or search without a scheduler (scheduler='none')"), said
    said = _refusal(lambda: search_from_config(_config(
        tmp_path / "run", {"max_epochs": 3, "check_val_every_n_epoch": 2}, scheduler="asha")))
    assert said.endswith("or search without a scheduler (search.scheduler: none)"), said


def test_an_early_stopping_on_another_metric_is_advised_in_python_words(tmp_path):
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        Search(TinyNet, SPACE, data=BlobData, budget=1, run_dir=tmp_path / "run",
               trainer={"max_epochs": 1, "callbacks": [EarlyStopping("val_loss")]})
    texts = [str(w.message) for w in said if "EarlyStopping" in str(w.message)]
    assert texts and texts[0].endswith("give it monitor='val_acc', mode='max'"), texts
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        Search(TinyNet, SPACE, data=BlobData, budget=1, run_dir=tmp_path / "run",
               trainer={"max_epochs": 1, "callbacks": [EarlyStopping("val_acc")]})
    texts = [str(w.message) for w in said if "EarlyStopping" in str(w.message)]
    assert texts and texts[0].endswith("give it mode='max'"), texts


# ------------------------------------------------------------------ where trials run
def test_devices_per_trial_off_gpus_is_advised_in_the_words_it_was_given_in():
    said = _refusal(lambda: check_devices_per_trial("process", 2, 1, {"accelerator": "cpu"}))
    assert said.endswith("or set trainer={\"accelerator\": \"gpu\"}"), said
    with config_words():
        said = _refusal(lambda: check_devices_per_trial("process", 2, 1,
                                                        {"accelerator": "cpu"}))
    assert said.endswith("or set accelerator: gpu"), said


# ------------------------------------------------------------------ the progress bar
@pytest.mark.parametrize("enabled", ["yes", 1, 0, None])
def test_a_progress_bar_setting_is_refused_in_python_words(enabled):
    # was: "progress can be true, false, auto" (YAML's words) to Progress(enabled="yes"),
    # and 1 or 0 taken (1 == True), which SearchSettings(progress=1) refuses
    said = _refusal(lambda: Progress(total=1, enabled=enabled))
    assert said == f"progress can be True, False or 'auto'; got {enabled!r}"
    with config_words():
        said = _refusal(lambda: Progress(total=1, enabled=enabled))
    assert re.fullmatch(r"progress can be true, false, auto; got .*", said)

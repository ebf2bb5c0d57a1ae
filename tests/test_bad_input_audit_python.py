"""Bad input to ``Search(...)`` for the digits example's classes, one change each: a
``ConfigError`` (or ``SpaceError``) naming the bad key or value and, where there is a set,
the valid ones, raised while ``Search`` is made, before any Trainer exists; nothing written
in a new ``run_dir``, and a finished run's ``search.db`` byte-identical.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from examples.digits.data import DigitsDataModule
from examples.digits.model import DigitsCNN
from lightning_nas import Search
from lightning_nas.errors import ConfigError, SpaceError
from lightning_nas.search.settings import SearchSettings

torch.set_num_threads(1)

SPACE = {"width": {"int": [16, 64]}, "activation": {"choice": ["relu", "sigmoid"]}}
TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "limit_train_batches": 2,
           "limit_val_batches": 2}
SETTINGS = "valid keys: optimizer, budget, time_limit, monitor, mode, objectives, seed"

# id: (the keywords changed, the error's kind, what it says)
CASES: dict[str, tuple[dict[str, Any], type, tuple[str, ...]]] = {
    "option-misspelt": ({"budgt": 3}, ConfigError,
                        ("unknown search setting 'budgt'; did you mean 'budget'?", SETTINGS)),
    "option-misspelt-beside-settings": (
        {"settings": SearchSettings.from_options(budget=3), "budgt": 2}, ConfigError,
        ("unknown search setting 'budgt'",)),
    "settings-dict": ({"settings": {"budget": 3}}, ConfigError,
                      ("settings must be a SearchSettings, got dict {'budget': 3}",)),
    "trainer-key": ({"trainer": {**TRAINER, "max_epoch": 2}}, ConfigError,
                    ("unknown Trainer argument 'max_epoch'; did you mean 'max_epochs'? valid "
                     "arguments: accelerator",)),
    "trainer-list": ({"trainer": [1]}, ConfigError,
                     ("trainer must be a mapping of Trainer keyword arguments",)),
    "trainer-devices-0": ({"trainer": {**TRAINER, "devices": 0}}, ConfigError,
                          ("trainer.devices=0",)),
    "trainer-strategy": ({"trainer": {**TRAINER, "strategy": "dpp"}}, ConfigError,
                         ("trainer.strategy='dpp'", "Example choices: auto, ddp")),
    "trainer-precision": ({"trainer": {**TRAINER, "precision": "15"}}, ConfigError,
                          ("trainer.precision='15': expected 64 or 32 or 16",)),
    "trainer-accelerator": ({"trainer": {**TRAINER, "accelerator": "cpux"}}, ConfigError,
                            ("trainer.accelerator='cpux'", "Available names are")),
    "space-list": ({"space": [1]}, SpaceError, ("a search space must be a non-empty mapping",)),
    "space-kind": ({"space": {"width": {"innt": [1, 2]}}}, SpaceError,
                   ("unknown space kind 'innt' at 'width'; did you mean 'int'? valid kinds: "
                    "choice, ordered, int, float, fixed",)),
    "space-key": ({"space": {"widht": {"int": [16, 64]}}}, ConfigError,
                  ("space key 'widht' is not an argument of DigitsCNN.__init__; did you mean "
                   "'width'? accepted: num_layers",)),
    "space-trainer-key": ({"space": {**SPACE, "trainer.max_epoch": {"choice": [1, 2]}}},
                          ConfigError, ("space key 'trainer.max_epoch' is not a Trainer "
                                        "argument; did you mean 'trainer.max_epochs'?",)),
    "space-reversed": ({"space": {"width": {"int": [64, 16]}}}, SpaceError,
                       ("space key 'width': `int` needs low < high",)),
    # (beside another key: a space of one key takes a value that fails as a failed trial)
    "space-value": ({"space": {**SPACE, "activation": {"choice": ["relu", "gleu"]}}},
                    ConfigError,
                    ("space key 'activation' may take 'gleu'", "valid names: relu, gelu")),
    "model_init_args-key": ({"model_init_args": {"widht": 3}}, ConfigError,
                            ("model init_args key 'widht' is not an argument of DigitsCNN",)),
    "data_init_args-key": ({"data_init_args": {"batch_sise": 3}}, ConfigError,
                           ("data.batch_sise: not an argument of DigitsDataModule.__init__; "
                            "did you mean 'batch_size'?",)),
    "data_init_args-list": ({"data_init_args": [1]}, ConfigError,
                            ("data_init_args must be a mapping",)),
    "model-path": ({"model": "examples.digits.model.DigitCNN"}, ConfigError,
                   ("has no attribute 'DigitCNN'; close names: DigitsCNN",)),
    "model-int": ({"model": 3}, ConfigError, ("model must be a LightningModule class",)),
    "data-int": ({"data": 3}, ConfigError, ("data=3 is of type int",)),
    "datamodule-keyword": ({"datamodule": DigitsDataModule()}, ConfigError,
                           ("Search takes no datamodule=",)),
    "budget-str": ({"budget": "3"}, ConfigError,
                   ("`budget` must be a positive integer or None (null in YAML), got '3'",)),
    "budget-float": ({"budget": 2.5}, ConfigError, ("`budget` must be a positive integer",)),
    "budget-bool": ({"budget": True}, ConfigError, ("`budget` must be a positive integer",)),
    "mode": ({"mode": "maximize"}, ConfigError,
             ("`mode` can be max, min; got 'maximize': did you mean 'max'?",)),
    "optimizer": ({"optimizer": "RandomSerch"}, ConfigError,
                  ("unknown optimizer 'RandomSerch'; close names: RandomSearch",)),
    "optimizer-int": ({"optimizer": 3}, ConfigError, ("`optimizer` must be a registry name",)),
    "scheduler": ({"scheduler": "ash"}, ConfigError,
                  ("unknown scheduler 'ash'; did you mean 'asha'? valid schedulers: none, "
                   "asha, hyperband, median",)),
    "executor": ({"executor": "proces"}, ConfigError,
                 ("unknown executor 'proces'; did you mean 'process'? valid executors: auto, "
                  "inline, process, ray",)),
    "num_workers-neg": ({"num_workers": -1}, ConfigError,
                        ("`num_workers` must be a positive integer, got -1",)),
    "objectives-list": ({"objectives": ["val_acc"]}, ConfigError,
                        ("objectives must map metric names to max/min, got ['val_acc']; "
                         "write a mapping, e.g. objectives: {val_acc: max, params: min}",)),
    "objectives-records": ({"objectives": [{"name": "val_acc", "mode": "max"}]}, ConfigError,
                           ("objectives must map metric names to max/min, got [{'name': "
                            "'val_acc', 'mode': 'max'}]; write a mapping, e.g. objectives: "
                            "{val_acc: max, params: min} (this list as one: objectives: "
                            "{val_acc: max})",)),
    "warm_start-missing": ({"warm_start": "/no/such/run"}, ConfigError,
                           ("warm_start source /no/such/run does not exist",)),
    "seed-neg": ({"seed": -1}, ConfigError,
                 ("`seed` must be an integer from 0 to 4294967295 (2**32 - 1) or None",)),
    "time_limit-neg": ({"time_limit": -1}, ConfigError, ("`time_limit` must be a positive",)),
    "keep_top_k-0": ({"keep_top_k": 0}, ConfigError, ("`keep_top_k` must be a positive",)),
    "monitor-int": ({"monitor": 3}, ConfigError, ("`monitor` must name a logged metric, got 3",)),
    "on_trial_end": ({"on_trial_end": 3}, ConfigError, ("on_trial_end must be callable",)),
    "config-list": ({"config": [1]}, ConfigError, ("config must be a mapping",)),
    "min_epochs-without-scheduler": ({"min_epochs": 2}, ConfigError,
                                     ("`min_epochs` (2) is the epochs a scheduler trains",)),
    "inline-workers": ({"executor": "inline", "num_workers": 2}, ConfigError,
                       ("executor 'inline' runs one trial at a time",)),
}


def _search(run_dir: Path, **changed: Any) -> Search:
    kwargs: dict[str, Any] = dict(model=DigitsCNN, space=SPACE, data=DigitsDataModule,
                                  data_init_args={"batch_size": 64}, trainer=TRAINER,
                                  budget=1, run_dir=str(run_dir), verbose=False)
    kwargs.update(changed)
    return Search(**kwargs)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """The ``search.db`` of a finished one-trial search of the unchanged keywords."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    assert _search(run_dir).run().best is not None
    return run_dir / "search.db"


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_search_keywords_fail_before_any_trainer(case, existing, tmp_path, request):
    changed, kind, said = CASES[case]
    run_dir = tmp_path / "run"
    before = None
    if existing:
        run_dir.mkdir()
        shutil.copyfile(request.getfixturevalue("finished"), run_dir / "search.db")
        before = (run_dir / "search.db").read_bytes()
    with pytest.raises(kind) as raised:
        _search(run_dir, **changed)
    message = str(raised.value)
    assert "\n" not in message, message
    for text in said:
        assert text in message, message
    if before is None:
        assert not run_dir.exists()
    else:
        assert (run_dir / "search.db").read_bytes() == before
        assert {p.name for p in run_dir.iterdir()} == {"search.db"}


def _nas_search(run_dir: Path, **changed: Any) -> Search:
    from lightning_nas import NASModule
    from tests.helpers_data import BlobData
    from tests.helpers_nets import build_mlp

    kwargs: dict[str, Any] = dict(
        model=NASModule, space={"width": {"int": [4, 16]}, "lr": {"float": [0.01, 0.1]}},
        model_init_args={"builder": build_mlp, "num_classes": 3}, data=BlobData(),
        trainer={"max_epochs": 1, "limit_train_batches": 2, "accelerator": "cpu"}, budget=1,
        run_dir=str(run_dir), verbose=False)
    kwargs.update(changed)
    return Search(**kwargs)


@pytest.mark.parametrize(("changed", "said"), [
    ({"monitor": "val_accuracy"},
     "monitor 'val_accuracy' is not logged by NASModule's validation; did you mean 'val_acc'? "
     "it logs: val_loss, val_acc"),
    ({"monitor": "val/acc"}, "monitor 'val/acc' is not logged by NASModule's validation"),
    ({"monitor": "train_loss"},
     "monitor 'train_loss' is not logged by NASModule's validation; did you mean 'val_loss'?"),
    ({"objectives": {"val_acc": "max", "val_f1": "max"}},
     "objective 'val_f1' is not logged by NASModule; did you mean 'val_acc'? it logs: "
     "val_loss, val_acc, train_loss"),
    ({"monitor": "val_f1", "mode": "max",
      "model_init_args": {"builder": "tests.helpers_nets.build_mlp", "num_classes": 3,
                          "metrics": {"acc": "accuracy"}}},
     "(its metrics argument names the val_<name> keys: metrics={'f1': 'f1'} logs val_f1)"),
])
def test_a_metric_nasmodule_never_logs_is_refused_before_training(tmp_path, changed, said):
    # NASModule logs val_loss and val_<name> of its metrics, known before any training (was:
    # trial 1 trained its first epoch, then "monitor 'val_accuracy' was not logged by the
    # validation of epoch 0; did you mean 'val_acc'?", the run folder made)
    with pytest.raises(ConfigError) as raised:
        _nas_search(tmp_path / "run", **changed)
    assert said in str(raised.value), raised.value
    assert "nothing trained" in str(raised.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("changed", [
    {"monitor": "val_acc/dataloader_idx_1"},  # a second validation loader's
    {"objectives": {"val_acc": "max", "train_loss": "min", "params": "min"}},
    # a callback of the Trainer's may log a metric of its own: left to the run
    {"monitor": "val_custom", "mode": "max",
     "trainer": {"max_epochs": 1, "callbacks": [__import__("lightning").pytorch.Callback()]}},
])
def test_what_nasmodule_may_log_is_taken(tmp_path, changed):
    _nas_search(tmp_path / "run", **changed)

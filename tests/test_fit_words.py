"""Advice in the words of the API the user called, for ``fit`` and a scheduler's epoch
limit: from Python (``fit_config``, ``load_fit``, ``fit_spec``, ``Search``) the Python
API's (``monitor='val_score'``, ``mode='max'``, ``trainer={"max_epochs": -1}``), from the
command line or a config (``lightning-nas fit``, ``search_from_config``) the config's
(``--mode``, ``trainer.max_epochs``). Real configs, real searches built (nothing trains)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.fit import fit_config, fit_spec, load_fit
from lightning_nas.search.from_config import search_from_config
from tests.helpers import BlobData, TinyNet

_CFG = {"seed_everything": 5,
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"depth": 1}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1}}

#: what a monitor whose name says no mode is told, from Python and from the command line
_PYTHON = ("monitor='val_score' needs mode='max' or 'min' (the config's mode max is for "
           "val_acc): `monitor='val_score'` needs a `mode` ('max' or 'min') beside it: its "
           "name does not say whether higher is better")
_COMMAND = ("--monitor val_score needs --mode min or max (the config's mode max is for "
            "val_acc): `monitor: 'val_score'` needs a `mode` (max or min) beside it: its "
            "name does not say whether higher is better")


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(_CFG))
    return path


@pytest.mark.parametrize("call", ["fit_config", "load_fit", "fit_spec"])
def test_a_python_fits_monitor_without_a_mode_is_advised_in_pythons_words(
        config, tmp_path, call):
    # was: "--monitor val_score needs --mode min or max (...): `monitor: 'val_score'` needs a
    # `mode` (max or min) ...", the command line's and the config's words, from Python too
    fits = {"fit_config": lambda: fit_config(config, monitor="val_score",
                                             out_dir=tmp_path / "fit"),
            "load_fit": lambda: load_fit(config, monitor="val_score", out_dir=tmp_path / "fit"),
            "fit_spec": lambda: fit_spec(_CFG, out_dir=tmp_path / "fit", monitor="val_score")}
    with pytest.raises(ConfigError) as refused:
        fits[call]()
    assert str(refused.value).startswith(_PYTHON), str(refused.value)
    assert not (tmp_path / "fit").exists()


def test_lightning_nas_fit_keeps_the_command_lines_words(config, tmp_path, capsys):
    assert main(["fit", str(config), "--monitor", "val_score",
                 "--out", str(tmp_path / "fit")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lightning-nas fit: error: {_COMMAND}"), err


def test_a_schedulers_endless_trials_are_advised_in_the_words_they_were_given_in(tmp_path):
    # was: "trainer.max_epochs=-1 ... and no search.max_epochs ... give search.max_epochs
    # ... or trainer.max_epochs a number" from Python too
    with pytest.raises(ConfigError) as refused:
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData,
               trainer={"max_epochs": -1}, budget=2, scheduler="median",
               run_dir=tmp_path / "run", verbose=False)
    said = str(refused.value)
    assert said.startswith("scheduler 'median' stops weak trials, but trainer={\"max_epochs\": "
                           "-1} (Lightning's 'no limit') and no max_epochs= given to the "
                           "search end the others: "), said
    assert said.endswith("; give the search's max_epochs= (the epochs of a complete trial) "
                         "or trainer={\"max_epochs\": ...} a number"), said
    cfg = {**_CFG, "trainer": {**_CFG["trainer"], "max_epochs": -1},
           "search": {"space": {"width": {"choice": [4, 8]}}, "budget": 2,
                      "scheduler": "median", "run_dir": str(tmp_path / "run"),
                      "verbose": False}}
    with pytest.raises(ConfigError, match=re.escape(
            "scheduler 'median' stops weak trials, but trainer.max_epochs=-1 (Lightning's "
            "'no limit') and no search.max_epochs end the others: ")) as refused:
        search_from_config(cfg)
    assert str(refused.value).endswith("; give search.max_epochs (the epochs of a complete "
                                       "trial) or trainer.max_epochs a number")
    # a Timer with a duration is refused beside a scheduler too (was: not named here)
    assert "with a scheduler no max_steps, max_time, EarlyStopping or Timer with a " \
           "duration may end a trial" in str(refused.value)
    assert not (tmp_path / "run").exists()

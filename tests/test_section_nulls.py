"""A whole section, or its ``class_path``, given as null (``--model=null``, ``--data=null``,
``--data.class_path=null``, a later file's ``model: null``), as LightningCLI takes it: the
model is required (refused), the data module may be dropped (``--data=null``: the model's
own dataloaders), a ``class_path`` of null refused; where we refuse what LightningCLI takes
(a later file's ``data: null``, which reads as a section whose keys are commented out), the
error says how to drop the data. Each checked against ``LightningCLI(run=False)``, nothing
trained.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lightning_nas.config.load import load_config
from lightning_nas.errors import ConfigError
from tests.helpers_config import cli_built

CFG = {"model": {"class_path": "tests.helpers_models.TinyNet", "init_args": {"width": 4}},
       "data": {"class_path": "tests.helpers_data.BlobData"},
       "trainer": {"max_epochs": 1, "logger": False}}


def _first(folder: Path) -> Path:
    """``CFG`` written in ``folder``."""
    path = folder / "a.yaml"
    path.write_text(yaml.safe_dump(CFG))
    return path


def _refused_by_lightningcli(path: Path, *args: str) -> None:
    """Assert that LightningCLI refuses the config ``path`` with ``args`` after it."""
    with pytest.raises(SystemExit):
        cli_built(path, *args)


def test_model_null_is_refused_as_lightningcli_refuses_it(tmp_path, capsys):
    # was: --model=null taken, then "the config needs `model` (...): give your LightningCLI
    # config before the file of the `search:` block", of a config that gave it
    first = _first(tmp_path)
    _refused_by_lightningcli(first, "--model=null")
    assert "the following arguments are required: model" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=re.escape(
            "--model=null: the model is required (LightningCLI refuses it too")):
        load_config(first, ["--model=null"], searched=False)
    # null, then a class: the class with its defaults, as LightningCLI takes it
    args = ["--model=null", "--model=tests.helpers_models.TinyNet"]
    assert cli_built(first, *args)["model"]["init_args"]["width"] == 16
    assert load_config(first, args, searched=False)["model"] == "tests.helpers_models.TinyNet"
    later = tmp_path / "b.yaml"
    later.write_text("model: null\n")
    _refused_by_lightningcli(first, "--config", str(later))
    with pytest.raises(ConfigError, match="section 'model' is empty"):
        load_config([first, later], searched=False)


def test_data_null_drops_the_data_module_as_lightningcli_does(tmp_path):
    # already so: LightningCLI and we train on the model's own dataloaders
    first = _first(tmp_path)
    assert cli_built(first, "--data=null")["data"] is None
    assert load_config(first, ["--data=null"], searched=False)["data"] is None


@pytest.mark.parametrize("section", ["model", "data"])
def test_a_class_path_of_null_is_refused_as_lightningcli_refuses_it(tmp_path, section):
    # was: --data.class_path=null dropped the data module without a word (trials on the
    # model's own dataloaders); --model.class_path=null refused as "model must be a
    # LightningModule class ...; got None"
    first = _first(tmp_path)
    _refused_by_lightningcli(first, f"--{section}.class_path=null")
    with pytest.raises(ConfigError, match=re.escape(
            f"{section}.class_path: expected a class's import path, got None")):
        load_config(first, [f"--{section}.class_path=null"], searched=False)
    later = tmp_path / "b.yaml"
    later.write_text(yaml.safe_dump({section: {"class_path": None}}))
    with pytest.raises(ConfigError, match=re.escape(
            f"{section}.class_path: expected a class's import path, got None")):
        load_config([first, later], searched=False)


def test_a_later_files_data_null_is_refused_saying_how_to_drop_the_data(tmp_path):
    # LightningCLI drops the data module there; we refuse it (keys commented out reads the
    # same), naming --data=null, which drops it as LightningCLI does
    first, later = _first(tmp_path), tmp_path / "b.yaml"
    later.write_text("data: null\n")
    assert cli_built(first, "--config", str(later))["data"] is None
    with pytest.raises(ConfigError, match=re.escape(
            "to train on the model's own dataloaders, as LightningCLI does with a later "
            "`data: null`, give --data=null")):
        load_config([first, later], searched=False)


def test_a_later_files_init_args_of_null_is_refused_as_lightningcli_refuses_it(tmp_path):
    # was: the earlier file's arguments dropped without a word (init_args: with its keys
    # commented out reads as null), the model's defaults trained
    first, later = _first(tmp_path), tmp_path / "b.yaml"
    later.write_text(yaml.safe_dump({"model": {"class_path": "tests.helpers_models.TinyNet",
                                               "init_args": None}}))
    _refused_by_lightningcli(first, "--config", str(later))
    with pytest.raises(ConfigError, match=re.escape(
            f"{later}: model.init_args is empty (null: its keys commented out?), and it "
            f"would replace the init_args an earlier config file gives (width) with nothing")):
        load_config([first, later], searched=False)

"""A model or data class's required argument that nothing gives is refused before any
training, saying where to set it in the caller's words: a config's path (and its
command-line override), the Python API's keyword, a space key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lightning_nas import Choice, Search
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from tests.helpers import TinyNet
from tests.helpers_data import BlobData


class RootData(BlobData):
    """``BlobData`` that needs a ``root`` folder (as a dataset's DataModule does)."""

    def __init__(self, root: str, batch_size: int = 32) -> None:
        super().__init__(batch_size=batch_size)
        self.root = root


class NeedsDepth(TinyNet):
    """``TinyNet`` whose ``depth`` has no default."""

    def __init__(self, depth: int, width: int = 8) -> None:
        super().__init__(width=width, depth=depth)


_HERE = "tests.test_required_words"


def _config(tmp_path: Path, model: dict, data: dict) -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({
        "model": model, "data": data,
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1},
        "search": {"space": {"width": {"choice": [8, 16]}}, "optimizer": "RandomSearch",
                   "budget": 1, "run_dir": str(tmp_path / "run")},
    }))
    return path


def _refused(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_a_config_is_told_the_data_argument_path(tmp_path, capsys):
    # was: "data (for width=8): TypeError: RootData.__init__() missing 1 required
    # positional argument: 'root'; found building the data of a trial ..."
    cfg = _config(tmp_path, {"class_path": "tests.helpers.TinyNet"},
                  {"class_path": f"{_HERE}.RootData", "init_args": {"batch_size": 16}})
    err = _refused(["search", str(cfg)], capsys)
    assert ("data: RootData lacks required argument 'root' (the config gives batch_size); "
            "set data.init_args.root in the config (on the command line: "
            "--data.init_args.root=...; the link_arguments of your own LightningCLI are "
            "applied only where search.cli names it: README, LightningCLI configs, "
            "'link_arguments: name your CLI in search.cli'), "
            "or search it: a search.space key 'data.root'; found "
            "building the data of a trial before any training (every trial would fail)"
            ) in err, err
    assert "TypeError" not in err and not (tmp_path / "run").exists()
    err = _refused(["fit", str(cfg), "--out", str(tmp_path / "fit")], capsys)
    assert ("data: RootData lacks required argument 'root' (the config gives batch_size); "
            "set data.init_args.root in the config (on the command line: "
            "--data.init_args.root=...; the link_arguments of your own LightningCLI are "
            "applied only where search.cli names it: README, LightningCLI configs, "
            "'link_arguments: name your CLI in search.cli'); "
            "found building the data of the fit") in err, err
    assert not (tmp_path / "fit").exists()


def test_a_config_is_told_the_model_argument_path(tmp_path, capsys):
    cfg = _config(tmp_path, {"class_path": f"{_HERE}.NeedsDepth"},
                  {"class_path": "tests.helpers.BlobData"})
    err = _refused(["search", str(cfg)], capsys)
    assert ("model: NeedsDepth lacks required argument 'depth' (the search space "
            "gives width); set model.init_args.depth in the config (on the command "
            "line: --model.init_args.depth=...; the link_arguments"
            " of your own LightningCLI are applied only where search.cli names it: README, "
            "LightningCLI configs, 'link_arguments: name your CLI in search.cli'), or search "
            "it: a search.space key 'depth'"
            ) in err, err


def test_python_is_told_the_keyword(tmp_path):
    space = {"width": Choice([8, 16])}
    with pytest.raises(ConfigError) as err:
        Search(TinyNet, space, data=RootData, data_init_args={"batch_size": 16},
               trainer={"max_epochs": 1}, budget=1, run_dir=tmp_path / "a",
               optimizer="RandomSearch")
    assert ("data: RootData lacks required argument 'root' (data_init_args gives "
            "batch_size); give it in data_init_args={'root': ...}, or search it: a space "
            "key 'data.root'; found building the data of a trial") in str(err.value), err.value
    with pytest.raises(ConfigError) as err:
        Search(NeedsDepth, space, data=BlobData, trainer={"max_epochs": 1}, budget=1,
               run_dir=tmp_path / "b", optimizer="RandomSearch")
    assert ("model: NeedsDepth lacks required argument 'depth' (the search space gives "
            "width); give it in model_init_args={'depth': ...}, or search "
            "it: a space key 'depth'") in str(err.value), err.value
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_hydra_node_is_told_its_node_path(tmp_path, capsys):
    # a Hydra node in a search config: its arguments beside _target_ (no init_args level)
    cfg = _config(tmp_path, {"class_path": "tests.helpers.TinyNet"},
                  {"_target_": f"{_HERE}.RootData", "batch_size": 16})
    err = _refused(["search", str(cfg), "--search.space={data.batch_size: {choice: [8, 16]}}"],
                   capsys)
    assert "set data.root" in err and "init_args" not in err, err
    assert re.search(r"error: data \(for data\.batch_size=(8|16)\): RootData: the config "
                     r"does not give required argument 'root'; set data\.root;", err), err


def test_a_section_built_from_the_config_names_its_override(tmp_path, capsys):
    # a data.* space key: the section is built from the config (config.calls.call)
    cfg = _config(tmp_path, {"class_path": "tests.helpers.TinyNet"},
                  {"class_path": f"{_HERE}.RootData", "init_args": {"batch_size": 16}})
    err = _refused(["search", str(cfg), "--search.space={data.batch_size: {choice: [8, 16]}}"],
                   capsys)
    assert ("): RootData: the config does not give required argument 'root'; set "
            "data.init_args.root (on the command line: --data.init_args.root=...; the "
            "link_arguments of your own LightningCLI are applied only where search.cli "
            "names it") in err, err
    # the section said once (was: "data (for data.batch_size=16): data: RootData: ...")
    assert re.search(r"error: data \(for data\.batch_size=(8|16)\): RootData: the config "
                     r"does not give required argument 'root'", err), err

"""``Search(model, space)``'s ``space`` argument: a YAML file named by a path (``str`` or
``os.PathLike``, a leading ``~`` expanded), as a config's ``search.space`` takes one; and
the refusal of a group's value that fails for every sampled architecture, naming its space
key as every other value refused before training is named.

Nothing trains: each ``Search`` is only made (its checks and dry build run).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from lightning_nas import Choice, Search, SearchSpace
from lightning_nas.errors import ConfigError, SpaceError
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

torch.set_num_threads(1)

SPACE_YAML = "width: {choice: [4, 8]}\nlr: {float: [0.01, 0.1], log: true}\n"


def _search(space, run_dir: Path, model=TinyNet) -> Search:
    return Search(model, space, data=BlobData, trainer={"max_epochs": 1, "logger": False},
                  budget=2, run_dir=run_dir, seed=0, verbose=False)


@pytest.mark.parametrize("form", ["str", "path", "relative", "home"])
def test_a_space_file_is_read_as_a_configs_search_space_is(tmp_path, monkeypatch, form):
    # was: "a search space must be a non-empty mapping, got 'space.yaml'", while a config's
    # search.space takes the same file
    (tmp_path / "space.yaml").write_text(SPACE_YAML)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    space = {"str": str(tmp_path / "space.yaml"), "path": tmp_path / "space.yaml",
             "relative": "space.yaml", "home": "~/space.yaml"}[form]
    search = _search(space, tmp_path / "run")
    assert search.space == SearchSpace.from_yaml(tmp_path / "space.yaml")
    assert search.space.to_dict() == {"width": {"choice": [4, 8]},
                                      "lr": {"float": [0.01, 0.1], "log": True}}


@pytest.mark.parametrize("form", ["str", "path", "relative", "home"])
def test_a_missing_space_file_is_refused_naming_it(tmp_path, monkeypatch, form):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "spaces" / "nope.yaml"
    space, said = {
        "str": (str(missing), f"space file {missing} not found"),
        "path": (missing, f"space file {missing} not found"),
        "relative": ("spaces/nope.yaml", f"space file spaces/nope.yaml not found (looked in "
                                         f"the current folder, {tmp_path})"),
        "home": ("~/spaces/nope.yaml", f"space file ~/spaces/nope.yaml not found ({missing})"),
    }[form]
    with pytest.raises(FileNotFoundError, match=re.escape(said)):
        _search(space, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_space_file_that_is_a_folder_or_holds_no_mapping_is_refused_naming_it(tmp_path):
    (tmp_path / "spaces").mkdir()
    with pytest.raises(ConfigError, match=re.escape(
            f"space file {tmp_path / 'spaces'} is a folder; name the YAML file")):
        _search(tmp_path / "spaces", tmp_path / "run")
    (tmp_path / "list.yaml").write_text("[1, 2]\n")
    with pytest.raises(ConfigError, match=re.escape(
            f"space file {tmp_path / 'list.yaml'} must hold a non-empty mapping of space keys "
            f"(width: {{choice: [16, 32]}}), got [1, 2]")):
        _search(str(tmp_path / "list.yaml"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("read", [lambda f, run: _search(str(f), run),
                                  lambda f, run: SearchSpace.from_yaml(f)],
                         ids=["Search", "from_yaml"])
def test_an_interpolation_in_a_space_file_is_refused_as_the_command_lines_is(tmp_path, read):
    # as `--search.space=FILE` refuses it (config.interpolations); was: taken, the choice
    # '${oc.env:W}' searched as written
    space = tmp_path / "space.yaml"
    space.write_text("width: {choice: [4, '${oc.env:W}']}\n")
    with pytest.raises(ConfigError) as info:
        read(space, tmp_path / "run")
    assert str(info.value).startswith(
        f"space file {space}: space.width.choice[1]='${{oc.env:W}}': ${{oc.env:W}} is an "
        f"OmegaConf interpolation, which lightning-nas does not resolve"), info.value
    assert not (tmp_path / "run").exists()
    space.write_text("tag: {choice: [a, '\\${x}']}\n")  # escaped: text, as OmegaConf reads it
    assert SearchSpace.from_yaml(space).params["tag"].values == ["a", r"\${x}"]


@pytest.mark.parametrize("text", ["width: {choice: [4, 8]}", "", "4"])
def test_a_string_that_names_no_file_keeps_its_error_and_points_to_from_yaml(tmp_path, text):
    with pytest.raises(SpaceError, match=re.escape(
            f"a search space must be a non-empty mapping, got {text!r}")) as err:
        _search(text, tmp_path / "run")
    assert "SearchSpace.from_yaml" in str(err.value), err.value
    assert "the path of a YAML file" in str(err.value), err.value
    assert not (tmp_path / "run").exists()


class HeadNet(TinyNet):
    """A dict argument whose annotation takes int values: a group of strings never fits."""

    def __init__(self, head: dict[str, int] | None = None, lr: float = 0.05) -> None:
        super().__init__(lr=lr)


@pytest.mark.parametrize("space", [
    {"head": {"act": Choice(["relu", "gelu"])}, "lr": Choice([0.05, 0.1])},
    {"head": {"act": Choice(["relu", "gelu"]), "w": Choice([1, 2])}},
])
def test_a_groups_value_that_fits_no_architecture_names_its_space_key(tmp_path, space):
    # was: "model.head={'act': 'gelu'}: expected dict[str, int] ...", no space key named
    # (every other value refused before training says "space key ... may take ...")
    with pytest.raises(ConfigError) as err:
        _search(space, tmp_path / "run", model=HeadNet)
    assert re.match(r"space key 'head' may take \{'act': '(relu|gelu)'.*\}: model\.head=\{",
                    str(err.value)), err.value
    assert "expected dict[str, int] or null (the annotation of HeadNet.__init__)" in str(
        err.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("seed", [0, 1])
def test_every_option_of_a_choice_that_fits_no_annotation_is_named_in_one_refusal(
        tmp_path, seed):
    # was: only the option the seed's sample drew, "space key 'width' may take 'big': ..."
    # (seed 0), 'small' (seed 1); a user fixing one met the other at the next run
    with pytest.raises(ConfigError) as err:
        Search(TinyNet, {"width": {"choice": ["small", 8, "big"]}, "lr": {"float": [0.01, 0.1]}},
               data=BlobData, trainer={"max_epochs": 1, "logger": False}, budget=2,
               run_dir=tmp_path / "run", seed=seed, verbose=False)
    assert str(err.value).startswith(
        "space key 'width' may take 'small', 'big': model.width='small': expected int (the "
        "annotation of TinyNet.__init__)"), err.value
    assert not (tmp_path / "run").exists()

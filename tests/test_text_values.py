"""A text given a number's or a bool's annotation, and a text given an ``Enum``'s, in a
config's ``init_args`` or as a searched value: LightningCLI (jsonargparse) reads the first as
YAML reads it (``'3'`` for an ``int`` is 3, ``'yes'`` for a ``bool`` True; ``'3.0'`` for an
``int`` is refused), and takes an ``Enum`` by a member's name alone (its value refused). The
checks accept what LightningCLI builds and the build gives the model the same value (was:
``'3'`` refused, ``expected int``), and refuse what it refuses, naming the key, the value
and what is valid (was: an ``Enum``'s value accepted, and passed to the model as a ``str``).

Each case is checked against LightningCLI itself (``LightningCLI(run=False)``).
"""

from __future__ import annotations

import enum
from typing import Any, Literal, Optional

import lightning.pytorch as pl
import pytest
import torch
from torch import nn

from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.errors import ConfigError
from lightning_nas.search.from_config import search_from_config
from tests.helpers_models import ClassifierSteps
from tests.helpers_records import cli_model

torch.set_num_threads(1)

HERE = __name__


class Act(enum.Enum):
    """An activation whose members' values are not their names."""

    relu = "ReLU"
    tanh = "Tanh"


class Plain(ClassifierSteps, pl.LightningModule):
    """Plain annotated arguments; ``built`` records what each model got."""

    built: list[dict[str, Any]] = []

    def __init__(self, depth: int = 1, rate: float = 0.1, flag: bool = False,
                 act: Act = Act.relu, maybe: Optional[int] = None,  # noqa: UP045
                 lit: Literal[1, 2] = 1) -> None:
        super().__init__()
        Plain.built.append({"depth": depth, "rate": rate, "flag": flag, "act": act,
                            "maybe": maybe, "lit": lit})
        self.layer = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


#: a value of each argument LightningCLI takes as it is: the other option of a space
OTHER = {"depth": 2, "rate": 0.5, "flag": True, "act": "relu", "maybe": 4, "lit": 1}
#: where the text is OTHER's value to the argument (options of one value are refused)
OPPOSITE = {"yes": False}


def _node(init: dict[str, Any]) -> dict[str, Any]:
    return {"class_path": f"{HERE}.Plain", "init_args": init}


def _search(tmp_path, key: str, value: Any):
    return search_from_config({
        "model": _node({}), "data": {"class_path": "tests.helpers_data.BlobData"},
        "trainer": {"max_epochs": 1, "logger": False},
        "search": {"space": {f"model.{key}": {"choice": [value, OPPOSITE.get(value, OTHER[key])]}},
                   "budget": 1,
                   "run_dir": str(tmp_path / "run")}})


def _got(key: str) -> tuple[Any, type]:
    value = Plain.built[-1][key]
    return value, type(value)


@pytest.mark.parametrize(("key", "value"), [
    ("depth", "3"), ("depth", " 3"), ("depth", "0x10"), ("depth", "+3"), ("rate", "1e-3"),
    ("rate", "2.5"), ("flag", "yes"), ("flag", "false"), ("maybe", "3"), ("act", "tanh"),
    ("lit", "2")])
def test_a_text_lightningcli_reads_as_the_annotations_type_is_built_as_it_builds_it(
        tmp_path, key, value):
    cli_model(tmp_path, _node({key: value}))
    want = _got(key)  # LightningCLI's own build
    node = ConfigBuilder(_node({key: value}), "model", plain_keys=True)
    node.check()  # a config's init_args (was: refused, "expected int")
    assert node({}) and _got(key) == want  # (was: passed on as the text)
    search = _search(tmp_path, key, value)  # a searched value
    assert search.model.build({f"model.{key}": value}) and _got(key) == want
    cli_model(tmp_path, search.model.target.config({f"model.{key}": value}))
    assert _got(key) == want  # the trial's config, built by LightningCLI


@pytest.mark.parametrize(("key", "value", "says"), [
    ("depth", "3.0", "model.depth='3.0': expected int"),
    ("depth", "1e3", "model.depth='1e3': expected int"),
    ("rate", "inf", "model.rate='inf': expected float"),
    ("flag", "1", "model.flag='1': expected bool"),
    ("lit", "3", "model.lit='3': expected 1 or 2"),
    ("act", "ReLU", "model.act='ReLU': expected Act (the annotation of Plain.__init__); an Enum is "
                    "given by a member's name: relu, tanh ('ReLU' is the value of Act.relu)"),
    ("act", "RELU", "model.act='RELU': expected Act (the annotation of Plain.__init__); an Enum is "
                    "given by a member's name: relu, tanh"),
    # (was: "expected Act (...)" alone, and "expected int or null (...)" alone)
    ("act", 2, "model.act=2: expected Act (the annotation of Plain.__init__); an Enum is given "
               "by a member's name: relu, tanh"),
    ("maybe", "none", "model.maybe='none': expected int or null (the annotation of "
                      "Plain.__init__); null is written null or ~, not 'none'"),
])
def test_a_value_lightningcli_refuses_is_refused_naming_the_key_and_what_is_valid(
        tmp_path, key, value, says):
    with pytest.raises(SystemExit):  # LightningCLI refuses it
        cli_model(tmp_path, _node({key: value}))
    with pytest.raises(ConfigError) as err:
        ConfigBuilder(_node({key: value}), "model", plain_keys=True).check()
    assert str(err.value).startswith(says), str(err.value)
    with pytest.raises(ConfigError) as err:  # searched: before training
        _search(tmp_path, key, value).run()
    assert f"space key 'model.{key}' may take {value!r}: {says}" in str(err.value)
    assert not (tmp_path / "run" / "trials").exists()


@pytest.mark.parametrize(("section", "says"), [
    ({"_target_": f"{HERE}.Plain", "depth": "3"}, "model.depth='3': expected int (the "
     "annotation of Plain.__init__); Plain.__init__ gets it as written, not read as "
     "LightningCLI reads it: write 3"),
    ({"class_path": f"{HERE}.Plain", "init_args": {"depth": {"_target_": f"{HERE}.Plain",
                                                             "flag": "yes"}}},
     "model.depth.flag='yes': expected bool (the annotation of Plain.__init__); "
     "Plain.__init__ gets it as written, not read as LightningCLI reads it: write True"),
])
def test_a_hydra_nodes_text_is_refused_as_hydra_passes_it_as_written(section, says):
    with pytest.raises(ConfigError) as err:  # (was: accepted, and the model got '3')
        ConfigBuilder(section, "model", plain_keys=True).check()
    assert str(err.value) == says

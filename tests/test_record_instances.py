"""Dataclass groups over a ``model_init_args`` / ``data_init_args`` instance, two edge cases:

* an instance of another class than the one the group's dict builds: a subclass of the
  annotated dataclass (``Wide(NetConfig)``), or an instance where the argument has no
  dataclass annotation. The trial would get the annotated class (or a dict) built from the
  group over the instance's fields, not the user's class, and LightningCLI, which takes no
  subclass of a dataclass, could not build it from ``best.yaml`` either: refused before
  training, naming both classes.
* a ``field(init=False)`` (set in ``__post_init__``): left out of the fields a group is set
  over (an instance's, a signature default's, nested ones too), so the dataclass is built
  from the fields its ``__init__`` takes and computes the others itself.

Factory builds and ``model_section`` are checked on their own; one real one-trial search
checks the trial, ``best.yaml``'s node and LightningCLI's (``run=False``) build of it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
import yaml
from torch import nn

from lightning_nas import Choice, Search
from lightning_nas.config.factories import DataFactory, ModelFactory
from lightning_nas.config.record_defaults import over_default, over_fields, record_default
from lightning_nas.errors import ConfigError
from lightning_nas.export_config import model_section
from tests.helpers_data import BlobData
from tests.helpers_models import ClassifierSteps
from tests.helpers_records import NetConfig, cli_model

HERE = __name__
TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False,
           "enable_progress_bar": False}


@dataclass
class Wide(NetConfig):
    """A subclass of the annotated dataclass, with its own default."""

    hidden: int = 32


@dataclass
class Squared:
    """A field its ``__init__`` does not take, computed in ``__post_init__``."""

    x: int = 2
    sq: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.sq = self.x * self.x


@dataclass
class Holder:
    """A nested dataclass with an ``init=False`` field inside."""

    inner: Squared = field(default_factory=Squared)
    y: int = 1


class Model(ClassifierSteps, pl.LightningModule):
    """Dataclass arguments of each kind; ``loose`` has no annotation."""

    built: list[dict[str, Any]] = []  # the arguments of each model built

    def __init__(self, net: NetConfig = NetConfig(depth=3), loose=None,  # noqa: B008
                 sq: Squared = Squared(x=3), holder: Holder = Holder(y=2),  # noqa: B008
                 nets: dict[str, NetConfig] | None = None) -> None:
        super().__init__()
        Model.built.append({"net": net, "loose": loose, "sq": sq, "holder": holder,
                            "nets": nets})
        self.layer = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


class Trained(Model):
    """``holder`` required: LightningCLI (jsonargparse 4.53) fails on a signature default
    with an ``init=False`` field in a nested dataclass (``No action for key
    "holder.inner.sq" to set its default``), its own copy of the same slip."""

    def __init__(self, holder: Holder, sq: Squared = Squared(x=3)) -> None:  # noqa: B008
        super().__init__(sq=sq, holder=holder)


class AugData(BlobData):
    """A data class with a dataclass argument."""

    def __init__(self, aug: NetConfig = NetConfig(), n: int = 256) -> None:  # noqa: B008
        super().__init__(n=n)
        self.aug = aug


def test_a_group_over_an_instance_of_another_class_is_refused_naming_it():
    factory = ModelFactory(Model, {"net": Wide()})
    with pytest.raises(ConfigError) as err:  # (was: each trial NetConfig(hidden=32, depth=2))
        factory.check_groups({"net": {"depth": 2}})
    message = str(err.value)
    assert "init_args['net'] is a Wide" in message and "NetConfig" in message
    loose = ModelFactory(Model, {"loose": NetConfig()})
    with pytest.raises(ConfigError, match=r"init_args\['loose'\] is a NetConfig.*a dict"):
        loose.check_groups({"loose": {"depth": 2}})  # (was: each trial a dict)
    nets = ModelFactory(Model, {"nets": {"a": NetConfig(), "b": Wide()}})
    with pytest.raises(ConfigError, match=r"init_args\['nets'\]\['b'\] is a Wide"):
        nets.check_groups({"nets": {"a": {"depth": 2}, "b": {"depth": 2}}})  # (was: each
    # trial a NetConfig at 'b'); the annotated class's own instances: merged, as above
    ModelFactory(Model, {"nets": {"a": NetConfig()}}).check_groups({"nets": {"a": {"depth": 2}}})
    data = DataFactory(AugData, {"aug": Wide()})
    with pytest.raises(ConfigError, match=r"data init_args\['aug'\] is a Wide"):
        data.check_groups({"data.aug": {"depth": 2}})
    # the annotated class's own instance: the group over its fields, as before
    plain = ModelFactory(Model, {"net": NetConfig(), "loose": Wide()})
    plain.check_groups({"net": {"depth": 2}})
    assert plain.build({"net": {"depth": 2}}).built[-1]["net"] == NetConfig(hidden=8, depth=2)
    # a subclass instance no group reaches: passed as given
    got = plain.build({}).built[-1]
    assert type(got["loose"]) is Wide and got["loose"] == Wide()
    DataFactory(AugData, {"aug": Wide()}).check_groups({"data.n": 64})


def test_init_false_fields_are_left_out_of_the_fields_a_dataclass_is_built_from():
    assert record_default(Model, "sq") == {"x": 3}  # (was: {'x': 3, 'sq': 9})
    assert record_default(Model, "holder") == {"inner": {"x": 2}, "y": 2}
    assert over_default(Model, "sq", {"x": 4}) == {"x": 4}
    assert over_fields(Holder(inner=Squared(x=5)), {"y": 3}) == {"inner": {"x": 5}, "y": 3}
    built = ModelFactory(Model).build({"sq": {"x": 4}, "holder": {"y": 3}}).built[-1]
    assert built["sq"] == Squared(x=4) and built["sq"].sq == 16
    assert built["holder"] == Holder(inner=Squared(x=2), y=3)
    factory = ModelFactory(Model, {"holder": Holder()})
    factory.check(["holder"])
    factory.check_groups({"holder": {"y": 3}})
    factory.check_arch({"holder": {"y": 3}})
    assert factory.build({"holder": {"y": 3}}).built[-1]["holder"] == Holder(y=3)
    stored = {"class_path": f"{HERE}.Model", "init_args": {}, "objects": {"holder": None}}
    node = model_section(stored, {"sq": {"x": 4}, "holder": {"y": 3}})
    assert node["init_args"] == {"sq": {"x": 4}, "holder": {"inner": {"x": 2}, "y": 3}}


def test_a_search_over_init_false_fields_trains_and_exports_what_lightningcli_builds(tmp_path):
    Model.built.clear()
    run = tmp_path / "run"
    result = Search(Trained, {"sq": {"x": Choice([4, 5])}, "holder": {"y": Choice([3, 4])}},
                    data=BlobData, model_init_args={"holder": Holder()}, trainer=TRAINER,
                    budget=1, run_dir=run, seed=0, verbose=False).run()  # (was: refused)
    x, y = result.best.arch["sq"]["x"], result.best.arch["holder"]["y"]
    trained = {"sq": Squared(x=x), "holder": Holder(y=y)}
    assert {k: Model.built[-1][k] for k in trained} == trained
    assert Model.built[-1]["sq"].sq == x * x
    node = yaml.safe_load((run / "best.yaml").read_text())["model"]
    assert node["init_args"] == {"sq": {"x": x}, "holder": {"inner": {"x": 2}, "y": y}}
    cli_model(tmp_path, node)
    assert {k: Model.built[-1][k] for k in trained} == trained  # LightningCLI's, from it
    assert dataclasses.fields(Squared)[1].init is False

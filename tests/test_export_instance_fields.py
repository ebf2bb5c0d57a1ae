"""A Python search's ``best.yaml`` ``model`` node where ``model_init_args`` gives a dataclass
instance (``model_init_args={"net": NetConfig(hidden=16)}``) and the space searches a group
over it (``{"net": {"hidden": Choice([2, 4])}}``): each trial gets the group over the
instance's fields, which the group check keeps at the dataclass's own defaults
(``NetConfig(hidden=<searched>, depth=1)``), so the node says every field, not the group
alone, which LightningCLI would set over the signature default (``depth=3``): another
network than the trial trained.

An instance without a group is said by its fields too (``test_instance_records``): the node
says both, and ``model_objects`` neither.

``model_section`` is checked on its own; one real one-trial search checks that LightningCLI
(``run=False``) builds the trial's dataclass from the exported node.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
import yaml

from lightning_nas import Choice, Search
from lightning_nas.export_config import model_section
from tests.helpers_data import BlobData
from tests.helpers_models import ClassifierSteps
from tests.helpers_records import NetConfig, Sized, cli_model, deep_layers

HERE = __name__
TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False,
           "enable_progress_bar": False}


class DeepNet(ClassifierSteps, pl.LightningModule):
    """``net``'s signature default sets ``depth`` to 3, not the dataclass's own 1."""

    built: list[dict[str, Any]] = []  # the arguments of each model built

    def __init__(self, net: NetConfig = NetConfig(depth=3),  # noqa: B008
                 size: Sized = Sized(width=5)) -> None:  # noqa: B008
        super().__init__()
        DeepNet.built.append({"net": net, "size": size})
        self.layers = deep_layers(net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def test_model_section_says_a_groups_fields_over_an_instance():
    stored = {"class_path": f"{HERE}.DeepNet", "init_args": {}, "objects": {"net": None}}
    node = model_section(stored, {"net": {"hidden": 4}})
    # the trial's NetConfig(hidden=4, depth=1) (was: {hidden: 4}, which LightningCLI sets
    # over the signature default: depth=3)
    assert node["init_args"]["net"] == {"hidden": 4, "depth": 1}
    # a mapping given (no instance) is still set over the signature default's fields
    plain = model_section({"class_path": f"{HERE}.DeepNet", "init_args": {}},
                          {"net": {"hidden": 4}})
    assert plain["init_args"]["net"] == {"hidden": 4, "depth": 3}
    # a group's required field, set by the group, and a class that no longer imports
    sized = model_section({**stored, "objects": {"size": None}}, {"size": {"width": 2}})
    assert sized["init_args"]["size"] == {"width": 2, "act": "relu"}
    gone = model_section({"class_path": f"{HERE}.Gone", "objects": {"net": None}},
                         {"net": {"hidden": 4}})
    assert gone["init_args"]["net"] == {"hidden": 4}


def test_a_search_exports_the_instance_fields_its_trial_got(tmp_path):
    DeepNet.built.clear()
    run = tmp_path / "run"
    result = Search(DeepNet, {"net": {"hidden": Choice([2, 4])}}, data=BlobData,
                    model_init_args={"net": NetConfig(hidden=16),
                                     "size": Sized(width=5, act="tanh")},
                    trainer=TRAINER, budget=1, run_dir=run, seed=0, verbose=False).run()
    hidden = result.best.arch["net"]["hidden"]
    trained = NetConfig(hidden=hidden, depth=1)  # the group over the instance's fields
    assert DeepNet.built[-1]["net"] == trained  # the trial's (the checks' builds first)
    assert all(args["net"].depth == 1 for args in DeepNet.built)
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["arch"] == {"net": {"hidden": hidden}}  # the space's values, as searched
    node = best["model"]
    assert node["init_args"]["net"] == {"hidden": hidden, "depth": 1}
    # an instance without a group: its fields (was: left out, model_objects {size: null})
    assert node["init_args"]["size"] == {"width": 5, "act": "tanh"}
    assert "model_objects" not in best
    model = cli_model(tmp_path, node)
    assert model.layers[0].weight.shape == (hidden, 8) and len(model.layers) == 3
    assert DeepNet.built[-1] == {"net": trained,  # LightningCLI's own, from the node
                                 "size": Sized(width=5, act="tanh")}

"""An integer given an argument of the model or data annotated ``float`` (``rate: 1``, a
choice ``[1, 2]``), an ``Optional[float]`` or a dataclass's ``float`` field: LightningCLI
(jsonargparse) builds the model with the float (1.0), and its ``save_hyperparameters()``
keeps 1.0. A search builds the same, for a Python search (``Search(model=M, ...)``) and a
config search, and ``best.yaml``'s node, rebuilt by LightningCLI, gives what the trial
trained (was: the model got the int 1). A ``Union[int, float]`` keeps the int, as
jsonargparse takes the first type that fits.

Each case is checked against LightningCLI itself (``LightningCLI(run=False)``); ``1 == 1.0``
in Python, so each value is compared with its type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

import lightning.pytorch as pl
import torch
import yaml
from lightning.pytorch.cli import LightningCLI
from torch import nn

from lightning_nas import Choice, Search
from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.search.from_config import search_from_config
from tests.helpers_data import BlobData
from tests.helpers_models import ClassifierSteps
from tests.helpers_records import cli_model

torch.set_num_threads(1)

HERE = __name__
TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False,
           "enable_progress_bar": False}


@dataclass
class Optim:
    """A dataclass with a ``float`` field."""

    lr: float = 0.1


class Rated(ClassifierSteps, pl.LightningModule):
    """Float arguments; ``built`` records each model's, with their types."""

    built: list[dict[str, Any]] = []

    def __init__(self, rate: float = 0.5, maybe: Optional[float] = None,  # noqa: UP045
                 opt: Optim = Optim(), either: Union[int, float] = 0.5) -> None:  # noqa: B008, UP007
        super().__init__()
        self.save_hyperparameters()
        Rated.built.append({"rate": rate, "maybe": maybe, "lr": opt.lr, "either": either,
                            "saved": self.hparams["rate"], "saved_maybe": self.hparams["maybe"]})
        self.layer = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


class FracData(BlobData):
    """``BlobData`` with a ``float`` argument; ``built`` records each one's, with its type."""

    built: list[tuple[Any, type]] = []

    def __init__(self, frac: float = 0.5) -> None:
        super().__init__(n=64)
        FracData.built.append((frac, type(frac)))


def _typed() -> dict[str, tuple[Any, type]]:
    """The last built model's values (and hyperparameters ``saved``) with their types."""
    return {key: (value, type(value)) for key, value in Rated.built[-1].items()}


def _cli(tmp_path, node: dict[str, Any]) -> dict[str, tuple[Any, type]]:
    cli_model(tmp_path, node)
    return _typed()


def _check(tmp_path, run) -> None:
    """The trial's values are LightningCLI's build of ``best.yaml``'s node (a float each)."""
    trained = _typed()
    best = yaml.safe_load((run / "best.yaml").read_text())
    want = _cli(tmp_path, best["model"])  # best.yaml, rebuilt by LightningCLI
    assert {want[k][1] for k in ("rate", "maybe", "lr", "saved")} == {float}
    assert trained == want  # (was: the trial's (1, int))


def test_lightningcli_builds_a_float_from_an_int_and_so_does_a_configs_init_args(tmp_path):
    init = {"rate": 1, "maybe": 2, "opt": {"lr": 1}, "either": 3}
    node = {"class_path": f"{HERE}.Rated", "init_args": init}
    want = _cli(tmp_path, node)  # LightningCLI's own build
    assert want == {"rate": (1.0, float), "maybe": (2.0, float), "lr": (1.0, float),
                    "either": (3, int), "saved": (1.0, float), "saved_maybe": (2.0, float)}
    ConfigBuilder(node, "model", plain_keys=True)({})
    assert _typed() == want


def test_an_int_for_a_float_is_built_as_lightningcli_builds_it_in_a_config_search(tmp_path):
    data = {"class_path": f"{HERE}.FracData", "init_args": {"frac": 1}}
    (tmp_path / "cli.yaml").write_text(yaml.safe_dump({"data": data}))
    LightningCLI(Rated, run=False, args=["--config", str(tmp_path / "cli.yaml")],
                 save_config_callback=None, trainer_defaults={"logger": False})
    assert FracData.built[-1] == (1.0, float)  # LightningCLI's own build of the data
    run = tmp_path / "run"
    search_from_config({
        "model": {"class_path": f"{HERE}.Rated", "init_args": {"either": 3}},
        "data": data, "trainer": TRAINER,
        "search": {"space": {"model.rate": {"choice": [1, 2]}, "model.maybe": {"choice": [2, 3]},
                             "model.opt.lr": {"choice": [1, 2]}},
                   "budget": 1, "run_dir": str(run), "seed": 0}}).run()
    assert _typed()["either"] == (3, int)  # the Union's first type that fits, as LightningCLI
    assert FracData.built[-1] == (1.0, float)  # the trial's data (was: (1, int))
    _check(tmp_path, run)


def test_an_int_for_a_float_is_built_as_lightningcli_builds_it_in_a_python_search(tmp_path):
    run = tmp_path / "run"
    Search(Rated, {"rate": Choice([1, 2]), "maybe": Choice([2, 3]),
                   "opt": {"lr": Choice([1, 2])}}, data=BlobData, trainer=TRAINER, budget=1,
           run_dir=run, seed=0, verbose=False).run()
    _check(tmp_path, run)

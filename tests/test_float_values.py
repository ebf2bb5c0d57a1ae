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
import pytest
import torch
import yaml
from lightning.pytorch.cli import LightningCLI
from torch import nn

from lightning_nas import Choice, Search, finetune
from lightning_nas.cli import main
from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.search.from_config import search_from_config
from tests.helpers_data import BlobData
from tests.helpers_models import ClassifierSteps
from tests.helpers_records import cli_model
from tests.helpers_runs import assert_scores_as_exported

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


class Layered(ClassifierSteps, pl.LightningModule):
    """A nested module argument (``drop``: a ``Dropout``, whose ``p`` is a ``float``) and a
    ``list[float]``."""

    def __init__(self, drop: nn.Module, sizes: Optional[list[float]] = None) -> None:  # noqa: UP045
        super().__init__()
        self.save_hyperparameters(ignore=["drop"])
        self.drop, self.layer = drop, nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(self.drop(x))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def _with_types(value: Any) -> Any:
    """``value`` with each leaf as ``(leaf, type)``: ``1 == 1.0`` in Python."""
    if isinstance(value, dict):
        return {key: _with_types(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_types(item) for item in value]
    return value, type(value)


def _saved(tmp_path, config: dict[str, Any]) -> dict[str, Any]:
    """The config LightningCLI itself saves (``config.yaml``: its parser's dump) for
    ``config``'s ``model`` and ``data``, nothing trained."""
    path = tmp_path / "saved.yaml"
    path.write_text(yaml.safe_dump({k: config[k] for k in ("model", "data") if k in config}))
    cli = LightningCLI(run=False, args=["--config", str(path)], save_config_callback=None,
                       trainer_defaults={"logger": False})
    return yaml.safe_load(cli.parser.dump(cli.config, skip_none=False, skip_check=True))


def _as_saved(tmp_path, node: dict[str, Any], name: str = "model", **beside: Any) -> None:
    """``node`` (a written config's ``name``) has each value it gives as LightningCLI's
    saved config of it has it, with its type."""
    saved = _saved(tmp_path, {name: node, **beside})[name]["init_args"]
    given = node["init_args"]
    assert _with_types(given) == _with_types({k: _given_part(given[k], saved[k])
                                              for k in given})


def _given_part(given: Any, saved: Any) -> Any:
    """Of ``saved``, the part that ``given`` gives (a mapping's keys; a node's arguments)."""
    if isinstance(given, dict) and isinstance(saved, dict):
        return {k: _given_part(given[k], saved.get(k)) for k in given}
    return saved


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
    _as_saved(tmp_path, best["model"])  # rate: 1.0, as LightningCLI saves it (was: 1)


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
    written = yaml.safe_load((run / "best_config.yaml").read_text())
    _as_saved(tmp_path, written["model"])
    _as_saved(tmp_path, written["data"], "data", model=written["model"])  # frac: 1.0


def test_an_int_for_a_float_is_built_as_lightningcli_builds_it_in_a_python_search(tmp_path):
    run = tmp_path / "run"
    Search(Rated, {"rate": Choice([1, 2]), "maybe": Choice([2, 3]),
                   "opt": {"lr": Choice([1, 2])}}, data=BlobData, trainer=TRAINER, budget=1,
           run_dir=run, seed=0, verbose=False).run()
    _check(tmp_path, run)


def test_a_nested_node_and_a_list_of_floats_are_written_as_lightningcli_saves_them(tmp_path):
    run = tmp_path / "run"
    search_from_config({
        "model": {"class_path": f"{HERE}.Layered",
                  "init_args": {"drop": {"class_path": "torch.nn.Dropout"}, "sizes": [1, 2]}},
        "data": {"class_path": "tests.helpers_data.BlobData"}, "trainer": TRAINER,
        "search": {"space": {"model.drop.p": {"choice": [0, 1]}}, "budget": 1,
                   "run_dir": str(run), "seed": 0}}).run()
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert _with_types(best["model"]["init_args"]["sizes"]) == [(1.0, float), (2.0, float)]
    _as_saved(tmp_path, best["model"])  # p: 0.0 in the nested node (was: 0)
    _as_saved(tmp_path, yaml.safe_load((run / "best_config.yaml").read_text())["model"])


def test_an_exported_and_fine_tuned_run_of_floats_written_so_scores_as_said(tmp_path):
    run = tmp_path / "run"
    search_from_config({
        "model": {"class_path": "tests.helpers_models.TinyNet", "init_args": {"lr": 1}},
        "data": {"class_path": "tests.helpers_data.BlobData"}, "trainer": TRAINER,
        "search": {"space": {"sleep": {"choice": [0]}, "width": {"choice": [4, 8]}},
                   "budget": 1, "run_dir": str(run), "seed": 0}}).run()
    assert main(["export", str(run)]) == 0
    best = assert_scores_as_exported(run)  # best.ckpt scores best.yaml's score
    assert _with_types(best["model"]["init_args"]) == {
        "width": (best["arch"]["width"], int), "sleep": (0.0, float),
        "lr": (1.0, float)}  # (was: (1, int))
    tuned = finetune(run, max_epochs=1, out_dir=tmp_path / "tuned")  # from best.yaml's model
    assert tuned.start_metrics["val_acc"] == pytest.approx(best["score"], abs=1e-6)

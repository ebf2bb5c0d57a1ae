"""Dataclass arguments of the record-default tests: ``NetConfig`` (a project's network
config), ``Wide`` (another, for a ``Union``), ``Sized`` (a required field, which a
signature default gives) and ``DEEP``, a signature default other than the dataclass's own
(``depth=3``); ``cli_model``, what LightningCLI itself (``run=False``) builds from a
``model`` node; ``chosen_search``, the search (nothing trained) that chooses a ``model``
node's value among options (``space_search``: of a space of one's own); ``Plain``, a
model of a ``NetConfig`` and a plain ``dict`` argument that records what each build of it
is given.

Example:
    >>> DEEP
    NetConfig(hidden=8, depth=3)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import yaml
from lightning.pytorch.cli import LightningCLI
from torch import nn

from tests.helpers_models import ClassifierSteps

__all__ = ["DEEP", "NetConfig", "Plain", "Sized", "Wide", "chosen_search", "cli_model",
           "deep_layers", "space_search"]


@dataclasses.dataclass
class NetConfig:
    """A project's network config: one dataclass argument."""

    hidden: int = 8
    depth: int = 1


@dataclasses.dataclass
class Sized:
    """A dataclass with a required field, which the signature default gives."""

    width: int
    act: str = "relu"


@dataclasses.dataclass
class Wide:
    """Another dataclass, sharing the field ``hidden`` with ``NetConfig``: a ``Union``'s."""

    width: int = 4
    hidden: int = 3


#: the signature default: a field other than the dataclass's own default
DEEP = NetConfig(depth=3)


class Plain(ClassifierSteps, pl.LightningModule):
    """``net`` a ``NetConfig``, ``opt`` a plain dict; each build recorded."""

    built: list[tuple[Any, Any]] = []  # the (net, opt) of each model built

    def __init__(self, net: NetConfig = DEEP, opt: dict | None = None) -> None:
        super().__init__()
        Plain.built.append((net, opt))
        self.layer = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def deep_layers(net: NetConfig) -> nn.Sequential:
    """The test models' network from ``net``: ``net.depth`` hidden layers of ``net.hidden``
    units (8 inputs), then 3 outputs; what a trial built shows in its weights.

    Example:
        >>> len(deep_layers(DEEP))  # three hidden layers and their ReLUs, the output
        7
    """
    layers, d = [], 8
    for _ in range(net.depth):
        layers += [nn.Linear(d, net.hidden), nn.ReLU()]
        d = net.hidden
    return nn.Sequential(*layers, nn.Linear(d, 3))


def cli_model(folder: Path, model: dict[str, Any], *args: str) -> Any:
    """The model LightningCLI itself (``run=False``) builds from a config with this
    ``model`` node (written in ``folder``) and the command line's ``args`` after it
    (``--model.net.width=5``), nothing trained."""
    path = folder / "cli.yaml"
    path.write_text(yaml.safe_dump({"model": model}))
    return LightningCLI(run=False, args=["--config", str(path), *args], save_config_callback=None,
                        trainer_defaults={"logger": False, "enable_progress_bar": False}).model


def chosen_search(folder: Path, model: dict[str, Any], key: str, values: list[Any],
                  *overrides: str) -> Any:
    """The search (built, nothing trained; its config written in ``folder``) of ``model``
    on ``tests.helpers_data.BlobData`` whose space chooses ``key`` among ``values``, loaded
    with the command line's ``overrides`` (``--model.net.init_args.lin2=24``): its
    ``model.build(arch)`` builds a trial's model, ``model.target.config(arch)`` is the
    node ``best.yaml`` gives it (``space_search`` of that space)."""
    return space_search(folder, model, {key: {"choice": values}}, *overrides)


def space_search(folder: Path, model: dict[str, Any], space: dict[str, Any],
                 *overrides: str) -> Any:
    """``chosen_search`` of the search space ``space`` (``{"model.net": {"fixed": ...},
    ...}``)."""
    from lightning_nas.config.load import load_config
    from lightning_nas.search.from_config import search_from_config

    path = folder / "nas.yaml"
    path.write_text(yaml.safe_dump({
        "model": model, "data": {"class_path": "tests.helpers_data.BlobData"},
        "search": {"space": space, "budget": 1, "run_dir": str(folder / "run")}}))
    return search_from_config(load_config(path, list(overrides)))

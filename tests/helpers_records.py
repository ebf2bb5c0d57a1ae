"""Dataclass arguments of the record-default tests: ``NetConfig`` (a project's network
config), ``Sized`` (a required field, which a signature default gives) and ``DEEP``, a
signature default other than the dataclass's own (``depth=3``); ``cli_model``, what
LightningCLI itself (``run=False``) builds from a ``model`` node.

Example:
    >>> DEEP
    NetConfig(hidden=8, depth=3)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch.cli import LightningCLI

__all__ = ["DEEP", "NetConfig", "Sized", "cli_model"]


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


#: the signature default: a field other than the dataclass's own default
DEEP = NetConfig(depth=3)


def cli_model(folder: Path, model: dict[str, Any], *args: str) -> Any:
    """The model LightningCLI itself (``run=False``) builds from a config with this
    ``model`` node (written in ``folder``) and the command line's ``args`` after it
    (``--model.net.width=5``), nothing trained."""
    path = folder / "cli.yaml"
    path.write_text(yaml.safe_dump({"model": model}))
    return LightningCLI(run=False, args=["--config", str(path), *args], save_config_callback=None,
                        trainer_defaults={"logger": False, "enable_progress_bar": False}).model

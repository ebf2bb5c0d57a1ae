"""LightningCLI subclasses whose ``link_arguments`` a search takes (``search.cli``), named by
import path (``tests.helpers_cli_links.LinkCLI``), and the model and config they link.

Example:
    >>> per_batch(64, 16)
    4
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.cli import LightningCLI

from tests.helpers_data import BlobData
from tests.helpers_models import ClassesNet, TinyNet

__all__ = ["BackwardsCLI", "ClassesData", "DictSourceCLI", "DictTargetCLI", "FixedLinkCLI",
           "HookedCLI", "InstantiateCLI", "KeptKwargsNet", "LinkCLI", "MisspeltSourceCLI",
           "NestedFixedCLI", "NestedInstantiateCLI", "NestedSourceCLI", "NestedTargetCLI",
           "NestedWholeCLI",
           "NoLinkCLI", "OptionsNet", "PassedKwargsNet", "RaisingCLI", "ReachedNestedCLI",
           "SeenClassesNet", "SeenWidthNet", "SetDefaultsCLI", "SkippedSourceCLI",
           "StepIntervalCLI", "by_zero", "classes_config", "link_config", "nested_config",
           "per_batch"]


def per_batch(n: int, batch_size: int) -> int:
    """The ``compute_fn`` of ``LinkCLI``'s link: batches in the data set."""
    return n // batch_size


class SeenWidthNet(TinyNet):
    """``TinyNet`` that logs the width and depth it was built with (``seen_width``,
    ``seen_depth``): a trial's metrics say what its model received."""

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        self.log("seen_width", float(self.hparams.width))
        self.log("seen_depth", float(self.hparams.depth))


class PassedKwargsNet(SeenWidthNet):
    """``SeenWidthNet`` whose arguments come through ``**kwargs`` passed on whole to its
    base: jsonargparse finds them (``model.init_args.width`` is a key of its config)."""

    def __init__(self, extra: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)


class KeptKwargsNet(SeenWidthNet):
    """``SeenWidthNet`` whose ``width`` and ``lr`` come through ``**kwargs`` it picks from,
    not passed on whole: jsonargparse finds no argument of it, so a link to
    ``model.init_args.width`` is skipped."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{k: v for k, v in kwargs.items() if k in ("width", "lr")})


class OptionsNet(SeenWidthNet):
    """``SeenWidthNet`` whose width is a key of a plain ``dict`` argument, ``options``:
    jsonargparse holds the dict whole, so a link to ``model.init_args.options.width``
    is skipped."""

    def __init__(self, options: dict | None = None, lr: float = 0.05) -> None:
        super().__init__(width=(options or {}).get("width", 16), lr=lr)


class DictTargetCLI(LightningCLI):
    """A link into the plain ``dict`` argument of ``OptionsNet``."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.init_args.batch_size", "model.init_args.options.width")


class DictSourceCLI(LightningCLI):
    """A link from a key of the plain ``dict`` argument of ``OptionsNet``."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("model.init_args.options.width", "data.init_args.n")


class LinkCLI(LightningCLI):
    """Links at parse time: the model's width from the data's ``n`` and ``batch_size``
    (two sources, a ``compute_fn``), its depth from the Trainer's ``max_epochs`` as is."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments(("data.init_args.n", "data.init_args.batch_size"),
                              "model.init_args.width", compute_fn=per_batch)
        parser.link_arguments("trainer.max_epochs", "model.init_args.depth")


class StepIntervalCLI(LightningCLI):
    """A CLI without links whose ``configure_optimizers`` steps the config's scheduler each
    batch (``interval: step``), as LightningCLI's documentation shows overriding it."""

    @staticmethod
    def configure_optimizers(lightning_module, optimizer, lr_scheduler=None):
        if lr_scheduler is None:
            return optimizer
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": lr_scheduler, "interval": "step"}}


class HookedCLI(LightningCLI):
    """A CLI without links whose ``__init__`` and ``before_fit`` do more than LightningCLI's,
    which a search does not run (each trial builds its objects from the config)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, trainer_defaults={"max_epochs": 3}, **kwargs)

    def before_fit(self) -> None:
        self.trainer.logger.log_hyperparams({"hooked": True})


class FixedLinkCLI(LightningCLI):
    """``LinkCLI``'s first link as a CLI made for fixed classes writes it
    (``LightningCLI(SeenWidthNet, BlobData)``: no ``init_args`` level)."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments(("data.n", "data.batch_size"), "model.width",
                              compute_fn=per_batch)


class NoLinkCLI(LightningCLI):
    """A CLI that declares no link."""


class MisspeltSourceCLI(LightningCLI):
    """Links from a data argument that ``BlobData`` does not take."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.init_args.bsize", "model.init_args.width")


class SkippedSourceCLI(LightningCLI):
    """A link at parse time from ``data.batch_size``, a key a CLI of ``class_path`` sections
    (subclass mode) does not have (there it is ``data.init_args.batch_size``): jsonargparse
    takes the link, then skips it at every parse without a word."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.batch_size", "model.init_args.width")


class NestedSourceCLI(LightningCLI):
    """A link from ``model.init_args.net.width``, where the model's ``net`` is a
    ``class_path`` node (``nested_config``): its key is ``model.init_args.net.init_args.width``,
    so jsonargparse skips the link at every parse."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("model.init_args.net.width", "data.init_args.n")


class NestedTargetCLI(LightningCLI):
    """A link to ``model.init_args.net.width`` (``net`` a ``class_path`` node): jsonargparse
    finds no such target and skips the link at every parse."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.init_args.batch_size", "model.init_args.net.width")


class NestedInstantiateCLI(LightningCLI):
    """``NestedTargetCLI``'s link at instantiation, from the built data's ``batch_size``:
    skipped alike."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.batch_size", "model.init_args.net.width",
                              apply_on="instantiate")


class NestedFixedCLI(LightningCLI):
    """``NestedSourceCLI``'s link as a CLI made for fixed classes writes it
    (``LightningCLI(CallableOptNet, BlobData)``), its ``net`` still a ``class_path`` node:
    skipped alike (the key is ``model.net.init_args.width``)."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("model.net.width", "data.n")


class ReachedNestedCLI(LightningCLI):
    """``NestedSourceCLI`` and ``NestedTargetCLI`` with the inner ``init_args`` written:
    jsonargparse applies both."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("model.init_args.net.init_args.depth", "data.init_args.n")
        parser.link_arguments("data.init_args.batch_size",
                              "model.init_args.net.init_args.width")


class NestedWholeCLI(LightningCLI):
    """``ReachedNestedCLI``'s link into the nested ``net`` alone: its ``width`` from the
    data's ``batch_size``, whatever class ``net`` is."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.init_args.batch_size",
                              "model.init_args.net.init_args.width")


def by_zero(n: int) -> int:
    """A ``compute_fn`` that raises."""
    return n // 0


class RaisingCLI(LightningCLI):
    """A link whose ``compute_fn`` raises."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.init_args.n", "model.init_args.width", compute_fn=by_zero)


class ClassesData(BlobData):
    """``BlobData`` whose ``num_classes`` attribute (set in ``__init__``, as jsonargparse
    reads it right after building it) depends on its searched ``n``; its ``__init__`` draws
    a random number (as a random split would)."""

    def __init__(self, n: int = 256, batch_size: int = 64, shuffle: bool = True) -> None:
        super().__init__(n=n, batch_size=batch_size, shuffle=shuffle)
        self.num_classes = n // 16
        self.drawn = torch.rand(1)


class SeenClassesNet(ClassesNet):
    """``ClassesNet`` (``num_classes`` required) that logs the ``num_classes`` it was built
    with (``seen_classes``), a random number its ``__init__`` drew (``model_drawn``) and
    the one its data's did (``data_drawn``): which was built first."""

    def __init__(self, num_classes: int, width: int = 16, lr: float = 0.05) -> None:
        super().__init__(num_classes=num_classes, width=width, lr=lr)
        self.drawn = torch.rand(1)

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        self.log("seen_classes", float(self.num_classes))
        self.log("model_drawn", float(self.drawn))
        self.log("data_drawn", float(self.trainer.datamodule.drawn))


class InstantiateCLI(LightningCLI):
    """A link at instantiation: the model's required ``num_classes`` from the built data's
    attribute."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.num_classes", "model.init_args.num_classes",
                              apply_on="instantiate")


class BackwardsCLI(LightningCLI):
    """A link at instantiation from the model to the data."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("model.width", "data.init_args.n", apply_on="instantiate")


class SetDefaultsCLI(LightningCLI):
    """Sets a default besides its link."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.set_defaults({"trainer.max_epochs": 2})


def classes_config(run_dir: Path) -> dict[str, Any]:
    """``link_config`` of ``SeenClassesNet`` on ``ClassesData`` through ``InstantiateCLI``:
    the model's ``num_classes`` is the searched data's attribute."""
    cfg = link_config(run_dir, cli="tests.helpers_cli_links.InstantiateCLI")
    cfg["model"]["class_path"] = "tests.helpers_cli_links.SeenClassesNet"
    cfg["data"]["class_path"] = "tests.helpers_cli_links.ClassesData"
    return cfg


def link_config(run_dir: Path, **search: Any) -> dict[str, Any]:
    """A config search of ``SeenWidthNet`` on ``BlobData`` whose searched ``data.n`` reaches
    the model's width through ``LinkCLI``: two trials of one batch."""
    return {
        "seed_everything": 7,
        "model": {"class_path": "tests.helpers_cli_links.SeenWidthNet",
                  "init_args": {"lr": 0.1}},
        "data": {"class_path": "tests.helpers.BlobData",
                 "init_args": {"n": 32, "batch_size": 8, "shuffle": False}},
        "trainer": {"max_epochs": 1, "limit_train_batches": 1},
        "search": {"space": {"data.n": {"choice": [32, 64]}}, "optimizer": "RandomSearch",
                   "budget": 2, "run_dir": str(run_dir), "verbose": False,
                   "cli": "tests.helpers_cli_links.LinkCLI", **search},
    }


def nested_config(run_dir: Path, cli: str) -> dict[str, Any]:
    """``link_config`` through ``cli`` of ``CallableOptNet``, whose ``net`` is a nested
    ``class_path`` node (``Body`` of width 4, depth 3)."""
    cfg = link_config(run_dir, cli=f"tests.helpers_cli_links.{cli}")
    cfg["model"] = {"class_path": "tests.helpers.CallableOptNet", "init_args": {"net": {
        "class_path": "tests.helpers.Body", "init_args": {"width": 4, "depth": 3}}}}
    cfg["search"]["space"] = {"data.shuffle": {"choice": [False, True]}}
    return cfg

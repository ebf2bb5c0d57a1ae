"""``lightning_nas.config.node_merge``: a node merged over the config's as LightningCLI
(jsonargparse) merges it, each argument by its annotation: a node at a ``Callable`` that
returns objects (LightningCLI's ``OptimizerCallable``) merged as a module argument's.
Checked against LightningCLI itself (``LightningCLI(run=False)``); nothing trained.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import lightning.pytorch as pl
import torch
from torch import nn

from lightning_nas.config.node_merge import merge_node
from tests.helpers_records import cli_model

torch.set_num_threads(1)

HERE = __name__


class Opted(pl.LightningModule):
    """A model of LightningCLI's ``OptimizerCallable``; the optimizer it makes kept."""

    def __init__(self, optimizer: Callable[[Iterable], torch.optim.Optimizer] = torch.optim.Adam
                 ) -> None:
        super().__init__()
        made = optimizer([nn.Parameter(torch.zeros(1))])
        self.got = (type(made).__name__, {k: made.defaults[k] for k in ("lr", "momentum")
                                          if k in made.defaults})


def test_a_node_at_a_callable_argument_is_merged_as_lightningcli_merges_it(tmp_path):
    # was: an OptimizerCallable argument's node set in place of the config's (SGD at its
    # default lr); LightningCLI merges it as a module argument's, Adam's lr kept, amsgrad
    # dropped (SGD does not take it)
    adam = {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.003, "amsgrad": True}}
    node = {"class_path": f"{HERE}.Opted", "init_args": {"optimizer": adam}}
    sgd = {"class_path": f"{HERE}.Opted", "init_args": {"optimizer": {
        "class_path": "torch.optim.SGD", "init_args": {"momentum": 0.9}}}}
    merged = merge_node(node, sgd)
    assert merged["init_args"]["optimizer"] == {
        "class_path": "torch.optim.SGD", "init_args": {"lr": 0.003, "momentum": 0.9}}
    assert cli_model(tmp_path, node, f"--model={sgd}").got == ("SGD", {"lr": 0.003,
                                                                       "momentum": 0.9})
    assert cli_model(tmp_path, merged).got == ("SGD", {"lr": 0.003, "momentum": 0.9})

"""A search scores each subnet once: architectures that differ only in decisions their path
does not reach (a block's choice beyond its ``Repeat``'s depth, a choice inside a
``LayerChoice`` candidate not taken) are one network, scored once (``oneshot.reached``)."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
import yaml
from torch import nn
from torch.nn import functional as F

from lightning_nas.oneshot.bilevel import BilevelData
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.choices import (
    ChoiceLinear,
    LayerChoice,
    Repeat,
    export_subnet,
    set_path,
)
from lightning_nas.oneshot.differentiable import DifferentiableNAS
from lightning_nas.oneshot.reached import reached_arch
from tests.helpers_data import BlobData
from tests.helpers_oneshot_fit import cpu_trainer


def _block(i: int) -> nn.Module:
    return LayerChoice({"relu": nn.Sequential(nn.Linear(8, 8), nn.ReLU()),
                        "tanh": nn.Sequential(nn.Linear(8, 8), nn.Tanh())}, label=f"op{i}")


class _Conditional(pl.LightningModule):
    """Decisions inside a ``Repeat``'s blocks (``op0``..``op2``) and inside a candidate
    (``w``, in ``cell``'s ``lin``)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            Repeat(_block, [1, 2, 3], label="depth"),
            LayerChoice({"lin": nn.Sequential(ChoiceLinear(8, [4, 8], label="w"), nn.ReLU()),
                         "skip": nn.Identity()}, label="cell"),
            ChoiceLinear(8, 3, label="out"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        return F.cross_entropy(self(batch[0]), batch[1])

    def validation_step(self, batch, batch_idx):
        pass

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def _network(arch: dict) -> dict:
    """The decisions of ``arch`` that its network holds, read by hand."""
    out = {"depth": arch["depth"], "cell": arch["cell"]}
    out.update({f"op{i}": arch[f"op{i}"] for i in range(arch["depth"])})
    return {**out, **({"w": arch["w"]} if arch["cell"] == "lin" else {})}


def test_reached_arch_keeps_the_decisions_the_path_runs():
    net = _Conditional().net
    arch = {"depth": 1, "op0": "tanh", "op1": "relu", "op2": "relu", "cell": "skip", "w": 4}
    set_path(net, arch)
    assert reached_arch(net) == {"depth": 1, "op0": "tanh", "cell": "skip"}
    set_path(net, {**arch, "depth": 3, "cell": "lin"})
    assert reached_arch(net) == _network({**arch, "depth": 3, "cell": "lin"})


def test_a_search_scores_each_network_once(tmp_path):
    # was: 30 asked, 23 scored and listed, of 15 networks: architectures that differed only
    # in unreached decisions (op2 of a subnet of depth 1) scored again as other subnets
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=30, calibration_batches=1, num_classes=3, seed=0)
    cpu_trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False).fit(
        _Conditional(), datamodule=BlobData())
    networks = [_network(row["arch"]) for row in callback.history]
    assert len(networks) >= 10
    assert len({str(sorted(n.items())) for n in networks}) == len(networks)
    best = max(callback.history, key=lambda row: row["score"])  # (the first of the best)
    assert callback.best_arch == best["arch"] and callback.best_score == best["score"]


class _Either(pl.LightningModule):
    """One decision (``wa`` or ``wb``) inside each candidate of ``cell``: the subnet reaches
    one of them, never both."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            LayerChoice({"a": nn.Sequential(ChoiceLinear(8, [4, 8], label="wa"), nn.ReLU()),
                         "b": nn.Sequential(ChoiceLinear(8, [4, 8], label="wb"), nn.Tanh())},
                        label="cell"),
            ChoiceLinear(8, 3, label="out"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        return F.cross_entropy(self(batch[0]), batch[1])

    def validation_step(self, batch, batch_idx):
        pass

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_best_arch_yaml_names_the_decisions_its_subnet_never_reaches(tmp_path, algorithm):
    # was: best_arch.yaml listed wa and wb alike, as if both shaped the exported subnet
    pl.seed_everything(0, verbose=False)
    out = tmp_path / "out"
    if algorithm == "spos":
        module, data = _Either(), BlobData()
        callbacks = [OneShotNAS(num_candidates=4, calibration_batches=1, num_classes=3,
                                export_dir=str(out))]
    else:
        module = DifferentiableNAS(_Either(), num_classes=3, export_dir=str(out))
        data, callbacks = BilevelData(BlobData()), []
    cpu_trainer(tmp_path, callbacks, max_epochs=1, enable_checkpointing=False).fit(
        module, datamodule=data)
    best = yaml.safe_load((out / "best_arch.yaml").read_text())
    other = "wb" if best["arch"]["cell"] == "a" else "wa"
    assert best["unreached"] == [other]
    # the arch stays whole: it activates the same path in the supernet (set_path takes
    # every decision), whose export is the subnet written
    net = _Either().net
    set_path(net, best["arch"])
    assert reached_arch(net) == {k: v for k, v in best["arch"].items() if k != other}
    subnet = torch.load(out / "subnet.pt", weights_only=False)
    assert [type(m) for m in export_subnet(net, torch.zeros(1, 8), best["arch"]).modules()] == [
        type(m) for m in subnet.modules()]


def test_a_differentiable_search_scores_top_k_distinct_networks(tmp_path):
    # was: top_k=6 scored and listed 6 candidates of 4 networks, (a, wa=4, wb=4) and
    # (a, wa=4, wb=8) both, which differ only in wb, which cell a never reaches
    pl.seed_everything(0, verbose=False)
    nas = DifferentiableNAS(_Either(), num_classes=3, top_k=6)
    cpu_trainer(tmp_path, [], max_epochs=2, enable_checkpointing=False).fit(
        nas, datamodule=BilevelData(BlobData()))
    net = _Either().net
    networks = []
    for entry in nas.scored:
        set_path(net, entry["arch"])
        networks.append(reached_arch(net))
    # the space holds 4 networks (cell a with wa 4 or 8, cell b with wb 4 or 8): each once,
    # by its most probable architecture, the most probable first
    assert len(networks) == 4
    assert sorted(map(str, networks)) == sorted({str(n) for n in networks})
    probabilities = [entry["probability"] for entry in nas.scored]
    assert probabilities == sorted(probabilities, reverse=True)

"""``parameters_on_meta``: only the parameters a module registers go to the meta device."""

from __future__ import annotations

import pytest
import torch
from torch.nn.parameter import UninitializedParameter

from lightning_nas.search.meta_build import parameters_on_meta


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)
        self.bn = torch.nn.BatchNorm1d(3)
        self.lazy = torch.nn.LazyLinear(2)
        self.scale = torch.nn.Parameter(torch.ones(3), requires_grad=False)
        self.head = torch.nn.Linear(3, 4)
        self.head.weight = torch.nn.Parameter(self.fc.weight.t())  # a parameter made from one
        self.register_buffer("table", torch.arange(3.0))


def test_parameters_go_to_meta_and_everything_else_stays():
    with parameters_on_meta():
        net = Net()
    params = dict(net.named_parameters())
    assert {n for n, p in params.items() if p.device.type == "meta"} == {
        "fc.weight", "fc.bias", "bn.weight", "bn.bias", "scale", "head.weight", "head.bias"}
    assert isinstance(net.lazy.weight, UninitializedParameter)  # left for its first forward
    assert not net.scale.requires_grad  # kept as registered
    assert net.table.device.type == net.bn.running_mean.device.type == "cpu"
    assert torch.equal(net.table, torch.arange(3.0))
    assert Net().fc.weight.device.type == "cpu"  # afterwards: as before


def test_registration_is_restored_when_the_build_raises_and_when_nested():
    original = torch.nn.Module.register_parameter
    with pytest.raises(ValueError, match="bad width"), parameters_on_meta():
        with parameters_on_meta():
            assert torch.nn.Linear(2, 2).weight.device.type == "meta"
        assert torch.nn.Linear(2, 2).weight.device.type == "meta"  # still the outer's
        raise ValueError("bad width")
    assert torch.nn.Module.register_parameter is original

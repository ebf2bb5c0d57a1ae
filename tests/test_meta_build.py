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


def test_other_threads_build_as_usual_meanwhile():
    # was: the patch held for the whole process: a trial building its model in another
    # thread (a ThreadPoolExecutor search counting the next candidate) got meta weights
    import threading

    inside, done, seen = threading.Event(), threading.Event(), []

    def count() -> None:
        with parameters_on_meta():
            inside.set()
            done.wait(30)
            seen.append(torch.nn.Linear(2, 2).weight.device.type)

    counting = threading.Thread(target=count)
    counting.start()
    inside.wait(30)
    seen.append(torch.nn.Linear(2, 2).weight.device.type)  # a trial's model meanwhile
    done.set()
    counting.join(30)
    assert seen == ["cpu", "meta"]


class Tagged(torch.nn.Parameter):
    def __new__(cls, data, tag):  # a subclass with a constructor of its own
        out = super().__new__(cls, data)
        out.tag = tag
        return out


def test_a_weight_tied_once_or_to_one_made_before_is_counted_once():
    # was: each registration got a new meta copy: tied weights were counted twice (a
    # pretrained backbone's embedding tied to a head), and ParamsCheck then stopped the search
    backbone = torch.nn.Embedding(10, 4)  # made before the block: real
    with parameters_on_meta() as copies:
        head = torch.nn.Linear(4, 10)
        head.weight = backbone.weight
        shared = torch.nn.Parameter(torch.ones(3))
        pair = torch.nn.ParameterList([shared, shared])
        tagged = torch.nn.Module()
        tagged.p = Tagged(torch.ones(2), tag="x")
    assert pair[0] is pair[1] and pair[0].device.type == "meta"
    assert copies.numel(torch.nn.ModuleList([backbone, head])) == 40 + 10
    assert copies.numel(pair) == 3
    assert tagged.p.device.type == "meta" and tagged.p.tag == "x"


def test_a_choice_option_no_model_builds_with_is_refused_before_anything_is_written(
        tmp_path, tiny_trainer):
    # was: the check build of a few samples passed (one drew 'relu' and built), and every
    # trial drawing 'swish' failed "KeyError: 'swish'" during the search
    from lightning_nas import Search
    from lightning_nas.errors import ConfigError
    from tests.helpers import BlobData, TinyNet

    run = tmp_path / "run"
    space = {"width": {"choice": [4, 8]}, "activation": {"choice": ["relu", "swish"]}}
    with pytest.raises(ConfigError) as err:
        Search(TinyNet, space, data=BlobData, trainer=tiny_trainer, budget=2, run_dir=run,
               seed=0, verbose=False).run()
    assert str(err.value).startswith("space key 'activation' may take 'swish': KeyError: "
                                     "'swish'; found building the model")
    assert not run.exists()  # nothing written


def test_a_choice_option_that_builds_beside_some_other_values_is_no_config_error(
        tmp_path, tiny_trainer):
    # an architecture the model rejects is a failed trial: only a value that builds beside
    # none of the other keys' values tried is refused
    from lightning_nas import Search
    from tests.helpers import BlobData, WidthActNet

    space = {"width": {"choice": [4, 8]}, "activation": {"choice": ["relu", "tanh"]}}
    result = Search(WidthActNet, space, data=BlobData, trainer=tiny_trainer, budget=4,
                    run_dir=tmp_path / "run", seed=0, verbose=False).run()
    assert result.best is not None

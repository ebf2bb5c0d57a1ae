"""``parameters_on_meta``: only the parameters a module registers go to the meta device."""

from __future__ import annotations

import pytest
import torch
from torch.nn.parameter import UninitializedParameter

from lightning_nas.search.meta_build import parameters_on_meta
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


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
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

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
    from tests.helpers_data import BlobData
    from tests.helpers_models import WidthActNet

    space = {"width": {"choice": [4, 8]}, "activation": {"choice": ["relu", "tanh"]}}
    result = Search(WidthActNet, space, data=BlobData, trainer=tiny_trainer, budget=4,
                    run_dir=tmp_path / "run", seed=0, verbose=False).run()
    assert result.best is not None


class DepthNet(TinyNet):
    """``TinyNet`` that refuses ``depth`` 0 and takes a ``dropout`` (``nn.Dropout`` refuses
    one above 1), both in ``__init__``."""

    def __init__(self, width: int = 8, depth: int = 1, dropout: float = 0.0,
                 lr: float = 0.05) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        super().__init__(width=width, depth=depth, lr=lr)
        self.drop = torch.nn.Dropout(dropout)


@pytest.mark.parametrize(("key", "bounds", "bad", "error"), [
    ("depth", {"int": [0, 3]}, "0 (its low bound)", "ValueError: depth must be at least 1"),
    ("dropout", {"float": [0.1, 1.5]}, "1.5 (its high bound)",
     "ValueError: dropout probability has to be between 0 and 1"),
])
def test_a_range_bound_no_model_builds_with_is_refused_before_anything_is_written(
        tmp_path, tiny_trainer, key, bounds, bad, error):
    # was: only the sampled values were built; every trial drawing depth 0 (or a dropout
    # above 1) failed during the search, one by one
    from lightning_nas import Search
    from lightning_nas.errors import ConfigError

    run = tmp_path / "run"
    space = {"width": {"choice": [4, 8]}, key: bounds}
    with pytest.raises(ConfigError) as err:
        Search(DepthNet, space, data=BlobData, trainer=tiny_trainer, budget=2, run_dir=run,
               seed=0, verbose=False).run()
    message = str(err.value)
    assert message.startswith(f"space key {key!r} may take {bad}: {error}"), message
    assert "found building the model" in message and "narrow the range" in message
    assert not run.exists()  # nothing trained, nothing written


class TableNet(DepthNet):
    """``DepthNet`` with a buffer, made for real, that no memory holds past width 10**6."""

    def __init__(self, width: int = 8, depth: int = 1, lr: float = 0.05) -> None:
        super().__init__(width=width, depth=depth, lr=lr)
        if width > 10**6:
            self.register_buffer("table", torch.empty(2**50))  # "can't allocate memory"


@pytest.mark.parametrize("net", [DepthNet, TableNet])
def test_a_range_bound_too_big_to_train_is_no_build_error(tmp_path, tiny_trainer, net):
    # a width no trial's memory may hold builds on the meta device (nothing allocated for
    # its weights), and a memory error (a buffer made for real) is no mistake in the space
    # either: the range is the user's to size, not a build error found before training
    from lightning_nas import Search

    space = {"width": {"int": [2, 10**7], "log": True}, "depth": {"choice": [1, 2]}}
    search = Search(net, space, data=BlobData, trainer=tiny_trainer, budget=1,
                    run_dir=tmp_path / "run", seed=0, verbose=False)
    assert search.space.names() == ["width", "depth"]  # made: every check passed


class BatchData(BlobData):
    """``BlobData`` that refuses a ``batch_size`` it cannot split in its constructor."""

    def __init__(self, n: int = 256, batch_size: int = 64) -> None:
        if n % batch_size:
            raise ValueError(f"batch_size {batch_size} does not divide n={n}")
        super().__init__(n=n, batch_size=batch_size)


def test_a_data_choice_option_no_datamodule_builds_with_is_refused(tmp_path, tiny_trainer):
    # was: only the model was built for each choice option; every trial drawing
    # data.batch_size=48 failed in BatchData's constructor during the search
    from lightning_nas import Search
    from lightning_nas.errors import ConfigError

    run = tmp_path / "run"
    space = {"width": {"choice": [4, 8]}, "data.batch_size": {"choice": [32, 48, 64]}}
    with pytest.raises(ConfigError) as err:
        Search(TinyNet, space, data=BatchData, trainer=tiny_trainer, budget=2, run_dir=run,
               seed=0, verbose=False).run()
    message = str(err.value)
    assert message.startswith("space key 'data.batch_size' may take 48: ValueError: "
                              "batch_size 48 does not divide n=256"), message
    assert "found building the data" in message
    assert not run.exists()  # nothing trained, nothing written

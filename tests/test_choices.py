"""Choice modules: derived space, shared (sliced) weights, export to plain torch.nn."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys

import pytest
import torch
from torch import nn

from lightning_nas.errors import SpaceError
from lightning_nas.oneshot.choices import (
    ChoiceBatchNorm2d,
    ChoiceConv2d,
    ChoiceLinear,
    LayerChoice,
    Repeat,
    export_subnet,
    get_path,
    set_path,
    space_of,
)
from tests.helpers_nets import choice_net

_net = choice_net  # every kind of choice module, with BatchNorm


def test_derived_space_equals_the_choice_modules():
    space = space_of(_net())
    assert space.to_dict() == {
        "c1": {"ordered": [4, 8]}, "c1_kernel": {"ordered": [3, 5]},
        "act": {"choice": ["relu", "tanh"]}, "depth": {"ordered": [0, 1, 2]},
        "fc": {"ordered": [6, 12]}}
    assert space.size() == 2 * 2 * 2 * 3 * 2


def test_a_shared_label_is_one_decision_and_must_agree():
    shared = nn.Sequential(LayerChoice([nn.ReLU(), nn.Tanh()], label="a"),
                           LayerChoice([nn.ReLU(), nn.GELU()], label="a"))
    assert space_of(shared).names() == ["a"]
    bad = nn.Sequential(LayerChoice([nn.ReLU(), nn.Tanh()], label="a"),
                        LayerChoice([nn.ReLU()], label="a"))
    with pytest.raises(SpaceError, match="label 'a' is used with different choices"):
        space_of(bad)
    with pytest.raises(SpaceError, match="no choice module"):
        space_of(nn.Linear(2, 2))


def test_paths_activate_every_module():
    net = _net()
    arch = {"c1": 4, "c1_kernel": 3, "act": "tanh", "depth": 2, "fc": 6}
    set_path(net, arch)
    assert get_path(net) == arch
    assert net(torch.rand(2, 1, 8, 8)).shape == (2, 3)
    with pytest.raises(SpaceError, match="c1=16 is not in the space"):
        set_path(net, {**arch, "c1": 16})


def test_sliced_weights_are_shared():
    conv = ChoiceConv2d(1, [4, 8], kernel_size=[3, 5], label="c")
    set_path(conv, {"c": 4, "c_kernel": 3})
    x = torch.rand(1, 1, 6, 6)
    before = conv(x)
    with torch.no_grad():
        conv.weight[0, 0, 2, 2] += 1.0  # the centre of the 5x5 parent kernel
    changed = conv(x)
    assert not torch.allclose(changed, before)  # the 3x3 subnet sees the parent's change
    with torch.no_grad():
        conv.weight[7] += 1.0  # a filter only the 8-wide subnet has
    assert torch.equal(conv(x), changed)  # the 4-wide subnet does not use it
    set_path(conv, {"c": 8, "c_kernel": 3})
    assert torch.allclose(conv(x)[:, :4], changed, atol=1e-6)  # the wider one shares them
    sub = export_subnet(conv, x, {"c": 4, "c_kernel": 3})
    assert torch.equal(sub.weight, conv.weight[:4, :, 1:4, 1:4])


def test_exported_subnet_matches_the_supernet_on_its_path():
    torch.manual_seed(0)
    net = _net()
    net.train()
    for _ in range(3):  # give BatchNorm statistics something to hold
        set_path(net, space_of(net).sample(seed=_))
        net(torch.rand(8, 1, 8, 8))
    arch = {"c1": 4, "c1_kernel": 5, "act": "tanh", "depth": 1, "fc": 12}
    x = torch.rand(5, 1, 8, 8)
    sub = export_subnet(net, x, arch)
    net.eval()
    sub.eval()
    set_path(net, arch)
    assert torch.allclose(sub(x), net(x), atol=1e-6)
    modules = {type(m).__module__ for m in sub.modules()}
    assert all(name.startswith("torch.nn") for name in modules), modules
    assert sum(isinstance(m, nn.Conv2d) for m in sub.modules()) == 2  # c1 + one block


def test_exported_layers_keep_what_the_user_froze():
    net = _net()
    arch = {"c1": 4, "c1_kernel": 5, "act": "tanh", "depth": 1, "fc": 12}
    net.requires_grad_(False)  # a frozen network: its parameters, and its BatchNorms in eval
    for m in net.modules():
        if isinstance(m, ChoiceBatchNorm2d):
            m.eval()
    sub = export_subnet(net, torch.rand(2, 1, 8, 8), arch)
    trained = [name for name, p in sub.named_parameters() if p.requires_grad]
    assert trained == []  # was: the sliced layers' (a fine-tune trained them)
    norms = [m for m in sub.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [m.training for m in norms] == [False, False]  # c1's and the block's


def test_exported_subnet_loads_without_lightning_nas(tmp_path):
    net = _net()
    arch = {"c1": 8, "c1_kernel": 3, "act": "relu", "depth": 0, "fc": 6}
    x = torch.rand(2, 1, 8, 8)
    sub = export_subnet(net, x, arch).eval()
    torch.save(sub, tmp_path / "subnet.pt")
    torch.save(x, tmp_path / "x.pt")
    code = ("import sys, torch; m = torch.load(sys.argv[1], weights_only=False); "
            "y = m(torch.load(sys.argv[2])); "
            "assert not any(k.startswith('lightning_nas') for k in sys.modules); "
            "print(y.sum().item())")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "subnet.pt"),
                          str(tmp_path / "x.pt")], capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    with torch.no_grad():
        assert float(out.stdout) == pytest.approx(float(sub(x).sum()), abs=1e-5)


_BLOCK_IMPORT = """
import sys, torch
class Block:  # lightning_nas cannot be imported: the file must be plain torch.nn
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "lightning_nas":
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
net = torch.load(sys.argv[1], weights_only=False)
print(sorted({type(m).__module__.split(".")[0] for m in net.modules()}))
"""


def test_a_choice_module_used_twice_is_one_plain_module_in_the_export(tmp_path):
    act = LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act")  # used twice
    conv = ChoiceConv2d(16, None, [3, 5], label="sc")  # used twice: tied weights
    block = nn.Sequential(ChoiceConv2d(16, None, 3, label="blk"), nn.ReLU())
    net = nn.Sequential(ChoiceConv2d(1, [8, 16], 3, label="c1"), act, conv, act, conv,
                        Repeat([block, block], [1, 2], label="depth"),  # one block twice
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), ChoiceLinear(16, 10, label="fc"))
    x = torch.rand(2, 1, 8, 8)
    arch = {"c1": 8, "act": "tanh", "sc_kernel": 5, "depth": 2}
    sub = export_subnet(net, x, arch).eval()
    assert [type(m).__module__ for m in sub.modules()
            if not type(m).__module__.startswith("torch.nn")] == []
    assert sub[1] is sub[3] and sub[2] is sub[4] and sub[2].weight.shape == (8, 8, 5, 5)
    assert sub[5][0] is sub[5][1] and sub[5][0][0].weight.shape == (8, 8, 3, 3)
    tied = 8 + (8 * 8 * 25 + 8) + (8 * 8 * 9 + 8) + (8 * 10 + 10)  # c1 bias, sc, blk, fc
    assert sum(p.numel() for p in sub.parameters()) == 8 * 9 + tied
    net.eval()
    set_path(net, arch)
    with torch.no_grad():
        assert torch.allclose(sub(x), net(x), atol=1e-6)
    torch.save(sub, tmp_path / "subnet.pt")
    out = subprocess.run([sys.executable, "-c", _BLOCK_IMPORT, str(tmp_path / "subnet.pt")],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "['torch']", out.stderr[-2000:]


def test_a_shared_choice_module_stays_tied_while_the_export_is_fine_tuned(tmp_path):
    from lightning_nas.oneshot.finetune import finetune_subnet
    from tests.helpers_data import BlobData

    torch.manual_seed(0)
    tied = ChoiceLinear(16, 16, label="tied")
    net = nn.Sequential(ChoiceLinear(8, 16, label="in"),
                        LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act"),
                        tied, nn.ReLU(), tied, nn.ReLU(), ChoiceLinear(16, 3, label="out"))
    sub = export_subnet(net, torch.rand(2, 8), {"act": "tanh"})
    assert sub[2] is sub[4] and isinstance(sub[2], nn.Linear)
    before = sub[2].weight.detach().clone()
    finetune_subnet(sub, BlobData(n=64, batch_size=16), max_epochs=1, num_classes=3,
                    lr=0.05, trainer={"accelerator": "cpu", "num_sanity_val_steps": 0})
    assert sub[2] is sub[4] and not torch.equal(sub[2].weight, before)  # trained, still one
    assert sum(p.numel() for p in sub.parameters()) == (8 * 16 + 16) + (16 * 16 + 16) + (
        16 * 3 + 3)


def test_choice_modules_pickle_and_print_readably():
    net = _net()
    clone = pickle.loads(pickle.dumps(net))
    assert space_of(clone) == space_of(net)
    text = repr(net)
    assert "label='act', choices=['relu', 'tanh']" in text
    assert "widths=[4, 8], kernels=[3, 5]" in text and "depths=[0, 1, 2]" in text
    # was: ChoiceLinear() alone, neither its label nor its widths nor the active one
    assert "ChoiceLinear(8, widths=[6, 12], label='fc', width=12)" in text
    assert repr(ChoiceLinear(16, 3, label="out")) == \
        "ChoiceLinear(16, widths=[3], label='out', width=3)"


@pytest.mark.parametrize("build, needle", [
    (lambda: Repeat(lambda i: nn.Identity(), [-1, 2], label="d"), "'d' takes integers >= 0"),
    (lambda: ChoiceConv2d(3, [8], kernel_size=[-1, 3], label="c"),
     "'c_kernel' takes integers >= 1"),
    (lambda: ChoiceConv2d(3, [0, 4], label="c"), "'c' takes integers >= 1"),
    (lambda: ChoiceLinear(8, [0, 4], label="w"), "'w' takes integers >= 1, got [0, 4]"),
    (lambda: ChoiceLinear(8, 2.5, label="w"), "'w' takes integers >= 1"),
])
def test_widths_kernels_and_depths_below_one_or_zero_are_refused(build, needle):
    # was: accepted; depth -1 kept all blocks but one (blocks[:-1]), a kernel of -1 passed
    # the odd-size check and sliced an empty kernel, a width 0 trained nothing
    with pytest.raises(SpaceError, match=re.escape(needle)):
        build()


@pytest.mark.parametrize("build, needle", [
    (lambda: ChoiceLinear(16, [4, 4, 8], label="fc2"),
     "choice 'fc2' takes each value once, got 4 more than once in [4, 4, 8]"),
    (lambda: Repeat(lambda i: nn.Identity(), [1, 1, 2], label="d"),
     "choice 'd' takes each value once, got 1 more than once in [1, 1, 2]"),
    (lambda: ChoiceConv2d(3, [8, 16, 8], label="c"), "choice 'c' takes each value once, got 8"),
    (lambda: ChoiceConv2d(3, [8], kernel_size=[3, 5, 3], label="c"),
     "choice 'c_kernel' takes each value once, got 3"),
])
def test_a_choice_module_with_a_repeated_value_is_refused_when_built(build, needle):
    # was: built without complaint and refused at OneShotNAS.setup, after the Trainer
    # started, with "`ordered` values must be distinct, got [4, 4, 8]" naming no label
    with pytest.raises(SpaceError, match=re.escape(needle)):
        build()


@pytest.mark.parametrize("options", [{"momentum": None}, {"track_running_stats": False},
                                     {"momentum": None, "track_running_stats": False}])
def test_choice_batchnorm_runs_as_torch_batchnorm_with_its_options(options):
    # was: momentum=None (a cumulative average) raised ZeroDivisionError in eval mode before
    # any training step (a sanity check), and beside track_running_stats=False a TypeError
    choice, plain = ChoiceBatchNorm2d(4, **options), nn.BatchNorm2d(4, **options)
    generator = torch.Generator().manual_seed(0)
    for mode, shift in (("eval", 0.0), ("train", 1.0), ("train", 3.0), ("eval", 0.0)):
        x = torch.randn(3, 4, 2, 2, generator=generator) + shift
        choice.train(mode == "train")
        plain.train(mode == "train")
        assert torch.allclose(choice(x), plain(x), atol=1e-6), mode
    assert all(torch.allclose(a, b) for a, b in zip(choice.buffers(), plain.buffers(),
                                                     strict=True))
    exported = choice.export().eval()
    assert torch.allclose(exported(x), plain.eval()(x), atol=1e-6)


def test_space_errors_say_what_to_do():
    # was: "label 'linear' is used with different choices: ..." and "the model has no choice
    # module with a decision", which named neither the default label nor the modules to use
    left_unlabelled = nn.Sequential(ChoiceLinear(16, [8, 16]), nn.ReLU(),
                                    ChoiceLinear(16, [4, 8, 16]))
    with pytest.raises(SpaceError, match=r"used with different choices: .*: give each "
                                         r"decision its own label=.*'linear' is the default "
                                         r"label of ChoiceLinear"):
        space_of(left_unlabelled)
    with pytest.raises(SpaceError, match=r"no choice module with a decision: build the "
                                         r"network of lightning_nas.oneshot's LayerChoice, "
                                         r"ChoiceConv2d, ChoiceLinear or Repeat.*lightning-nas "
                                         r"search"):
        space_of(nn.Linear(2, 2))


_LARGEST = ("None is not taken: the weight is made once, for the largest input width (the "
            "width in use follows the input)")


@pytest.mark.parametrize(("build", "said"), [
    (lambda: ChoiceLinear(None, 8, label="hid"),
     f"choice 'hid' takes in_features as an integer >= 1 (the largest input width), got "
     f"None; {_LARGEST}"),
    (lambda: ChoiceConv2d(None, [8, 16], 3, label="c"),
     f"choice 'c' takes in_channels as an integer >= 1 (the largest input width), got "
     f"None; {_LARGEST}"),
    (lambda: ChoiceConv2d(None, None, 3, label="c"),
     f"choice 'c' takes in_channels as an integer >= 1 (the largest input width), got "
     f"None; {_LARGEST}"),
    (lambda: ChoiceLinear(16.0, 8, label="hid"),
     "choice 'hid' takes in_features as an integer >= 1 (the largest input width), got 16.0"),
    (lambda: ChoiceLinear(0, 8, label="hid"),
     "choice 'hid' takes in_features as an integer >= 1 (the largest input width), got 0"),
])
def test_an_input_width_of_none_says_what_the_argument_takes(build, said):
    # was: torch's bare TypeError, "empty(): argument 'size' failed to unpack the object at
    # pos 2 with error "type must be tuple of ints,but got NoneType"" (0: taken, an empty
    # weight), where ChoiceLinear(16, None) says where None is taken
    with pytest.raises(SpaceError) as err:
        build()
    assert str(err.value) == said
    assert ChoiceLinear(torch.tensor(16).item(), 8).weight.shape == (8, 16)  # an int is taken


_STATISTICS = ("None is not taken: the weight and statistics are made once, for the largest "
               "input width (the width in use follows the input)")


@pytest.mark.parametrize(("build", "said"), [
    (lambda: ChoiceBatchNorm2d(None),
     f"ChoiceBatchNorm2d takes num_features as an integer >= 1 (the largest input width), "
     f"got None; {_STATISTICS}"),
    (lambda: ChoiceBatchNorm2d(None, affine=False),
     f"ChoiceBatchNorm2d takes num_features as an integer >= 1 (the largest input width), "
     f"got None; {_STATISTICS}"),
    (lambda: ChoiceBatchNorm2d(num_features=8.0),
     "ChoiceBatchNorm2d takes num_features as an integer >= 1 (the largest input width), "
     "got 8.0"),
    (lambda: ChoiceBatchNorm2d(0, 1e-5, 0.1, True),
     "ChoiceBatchNorm2d takes num_features as an integer >= 1 (the largest input width), "
     "got 0"),
])
def test_a_batchnorm_width_of_none_says_what_the_argument_takes(build, said):
    # was: torch's bare TypeError, "empty(): argument 'size' (position 1) must be tuple of
    # ints, not NoneType" (0: taken, an empty weight), where ChoiceLinear and ChoiceConv2d
    # say what their largest input width takes
    with pytest.raises(SpaceError) as err:
        build()
    assert str(err.value) == said


def test_a_batchnorm_that_makes_nothing_takes_any_width_as_torch_does():
    # no weight and no statistics: nothing is made for a width, so None is taken, as by
    # torch's own BatchNorm2d, and the width follows the input
    norm = ChoiceBatchNorm2d(None, affine=False, track_running_stats=False)
    x = torch.randn(2, 3, 2, 2)
    assert torch.allclose(norm(x), nn.BatchNorm2d(3, affine=False,
                                                  track_running_stats=False)(x), atol=1e-6)
    assert norm.export().num_features == 3
    assert ChoiceBatchNorm2d(8, eps=1e-3).eps == 1e-3 and ChoiceBatchNorm2d(8).weight.shape == (8,)

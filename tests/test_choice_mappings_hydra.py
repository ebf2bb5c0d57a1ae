"""In a config of Hydra ``_target_`` nodes, a searched mapping (a chosen one, a group's, a
chosen ``_target_`` node) is merged over the mapping there whatever the annotation, as
Hydra's own command-line override ``++model.opt='{sub: {y: 5}}'`` merges every dict (was:
LightningCLI's rule, a plain ``dict``'s mapping in place of the config's; a group leaving
out a key of the config's mapping refused, where the merge keeps it). Each case is
checked against Hydra's own ``compose`` and ``instantiate``.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Optional

import pytest
import torch
import yaml
from torch import nn

from lightning_nas.config.load import load_config
from lightning_nas.config.value_checks import short
from lightning_nas.errors import ConfigError
from lightning_nas.search.from_config import search_from_config
from tests.helpers_models import TinyNet
from tests.helpers_records import DEEP, NetConfig, Plain

torch.set_num_threads(1)

HERE = __name__


class Loose(Plain):
    """``opt`` unannotated: a Hydra node there builds whatever it names."""

    def __init__(self, net: NetConfig = DEEP, opt=None) -> None:  # noqa: B008
        super().__init__(net, opt)


def _seen(built: tuple[Any, Any]) -> tuple[Any, Any]:
    """A build's ``(net, opt)``, a ``functools.partial`` as its function and arguments."""
    return tuple((v.func, v.args, v.keywords) if isinstance(v, functools.partial) else v
                 for v in built)


ADAM = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.01}

HYDRA_CASES = [  # (the node's arguments, the space key, its spec, the values it gives)
    ({"opt": {"sub": {"x": 2}, "other": 1}}, "model.opt",  # a plain dict's: merged (was:
     {"choice": [{"sub": {"y": 5}}, {"other": 2}]}, None),  # in place of the config's)
    ({"opt": {"sub": {"x": 2}, "other": 1}}, "model.opt.sub", {"choice": [{"y": 5}, {"x": 3}]},
     None),
    ({"net": {"hidden": 3, "depth": 2}}, "model.net", {"choice": [{"hidden": 4}, {"depth": 5}]},
     None),
    ({"opt": {"sub": {"x": 2}, "other": 1}}, "model.opt",  # a group leaving keys out (was:
     {"sub": {"y": {"choice": [5, 6]}}}, [{"sub": {"y": 5}}]),  # refused: "would be lost")
    ({"net": {"hidden": 3, "depth": 2}}, "model.net", {"hidden": {"choice": [4, 8]}},
     [{"hidden": 4}]),
    ({"opt": ADAM}, "model.opt", {"choice": [  # a chosen node keeps lr (was: SGD's default)
        {"_target_": "torch.optim.SGD", "_partial_": True},
        {"_target_": "torch.optim.Adam", "_partial_": True, "amsgrad": True}]}, None),
]


@pytest.mark.parametrize(("init", "key", "spec", "values"), HYDRA_CASES)
def test_a_searched_mapping_in_a_hydra_node_builds_what_hydra_composes(
        tmp_path, init, key, spec, values):
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    node = {"_target_": f"{HERE}.Loose", **init}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump({
        "model": node, "data": {"_target_": "tests.helpers_data.BlobData"},
        "trainer": {"max_epochs": 1, "logger": False},
        "search": {"space": {key: spec}, "budget": 1, "run_dir": str(tmp_path / "run")}}))
    search = search_from_config(load_config(tmp_path / "train.yaml"))
    for value in values or spec["choice"]:
        flow = yaml.safe_dump(value, default_flow_style=True).strip()
        with initialize_config_dir(config_dir=str(tmp_path), version_base=None):
            composed = compose("train", overrides=[f"++{key}={flow}"])  # Hydra's own (++: a
        instantiate(composed.model, _convert_="all")  # new key inside too, as a search sets)
        want = _seen(Plain.built[-1])
        assert search.model.build({key: value}) and _seen(Plain.built[-1]) == want, value


def test_a_chosen_hydra_node_that_does_not_take_a_kept_key_is_refused_before_training(tmp_path):
    # Hydra's ++model.opt='{_target_: torch.optim.SGD, ...}' keeps the config node's amsgrad,
    # which SGD does not take (its job fails in configure_optimizers): refused before training
    adam = {**ADAM, "amsgrad": True}
    sgd = {"_target_": "torch.optim.SGD", "_partial_": True}
    with pytest.raises(ConfigError, match=r"space key 'model\.opt' may take \{'_target_': "
                                          r"'torch\.optim\.SGD', '_partial_': True\}: "
                                          r"model\.opt\.amsgrad: not an argument of SGD"):
        search_from_config({
            "model": {"_target_": f"{HERE}.Loose", "opt": adam},
            "data": {"_target_": "tests.helpers_data.BlobData"},
            "trainer": {"max_epochs": 1, "logger": False},
            "search": {"space": {"model.opt": {"choice": [sgd, ADAM]}}, "budget": 1,
                       "run_dir": str(tmp_path / "run")}})
    assert not (tmp_path / "run").exists()


def test_an_override_inside_a_chosen_mapping_in_a_hydra_node_is_kept_as_hydra_keeps_it(
        tmp_path):
    # (a085def: was refused, "--model.opt.other=9 sets a key inside 'model.opt', which the
    # search space gives every trial as a whole (a value it chooses)", where Hydra merges
    # the chosen mapping over the config's, the override kept)
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    def loaded(values: list[Any]) -> Any:
        (tmp_path / "train.yaml").write_text(yaml.safe_dump({
            "model": {"_target_": f"{HERE}.Loose", "opt": {"sub": {"x": 2}, "other": 1}},
            "data": {"_target_": "tests.helpers_data.BlobData"},
            "search": {"space": {"model.opt": {"choice": values}}, "budget": 1}}))
        return load_config(tmp_path / "train.yaml", ["--model.opt.other=9"])

    search = search_from_config(loaded([{"sub": {"y": 5}}, {"sub": {"y": 6}}]))
    with initialize_config_dir(config_dir=str(tmp_path), version_base=None):
        composed = compose("train", overrides=["model.opt.other=9", "++model.opt={sub: {y: 5}}"])
    instantiate(composed.model, _convert_="all")  # Hydra's own: the override kept
    want = _seen(Plain.built[-1])
    assert want[1] == {"sub": {"x": 2, "y": 5}, "other": 9}
    assert search.model.build({"model.opt": {"sub": {"y": 5}}}) and _seen(Plain.built[-1]) == want
    with pytest.raises(ConfigError, match=re.escape(  # an option that sets it: refused
            "--model.opt.other=9 sets a key inside 'model.opt', which option 2 of the choice "
            "there, {other: 2}, sets too")):
        loaded([{"sub": {"y": 5}}, {"other": 2}])


class MaybeNet(TinyNet):
    """A network argument that may be left out (``nn.Module | None``)."""

    def __init__(self, net: nn.Module | None = None, lr: float = 0.05) -> None:
        super().__init__(lr=lr)


class OptionalNet(TinyNet):
    """``MaybeNet`` with ``Optional[nn.Module]``."""

    def __init__(self, net: Optional[nn.Module] = None, lr: float = 0.05) -> None:  # noqa: UP045
        super().__init__(lr=lr)


LINEAR = {"class_path": "torch.nn.Linear", "init_args": {"in_features": 2, "out_features": 2}}


@pytest.mark.parametrize("model", ["MaybeNet", "OptionalNet"])
@pytest.mark.parametrize("net", [LINEAR, {"in_features": 2}], ids=["class_path", "plain"])
@pytest.mark.parametrize("where", ["config", "space"])
def test_a_class_path_mapping_for_a_module_in_a_hydra_node_is_refused_as_a_dict_is(
        tmp_path, model, net, where):
    # Hydra's instantiate passes {class_path, init_args} under a _target_ node as it is (a
    # DictConfig, no Linear): was taken for nn.Module | None, where a plain dict is refused
    # (without the note a bare nn.Module's refusal gives)
    node = {"_target_": f"{HERE}.{model}", **({"net": net} if where == "config" else {})}
    space = {"model.lr": {"choice": [0.05, 0.1]}} if where == "config" else {
        "model.net": {"fixed": net}, "model.lr": {"choice": [0.05, 0.1]}}
    with pytest.raises(ConfigError) as err:
        search_from_config({"model": node, "data": {"_target_": "tests.helpers_data.BlobData"},
                            "trainer": {"max_epochs": 1, "logger": False},
                            "search": {"space": space, "budget": 1,
                                       "run_dir": str(tmp_path / "run")}})
    assert f"model.net={short(net)}: expected Module or null (the annotation of {model}.__init__)" \
        "; a dict is no Module" in str(err.value), err.value
    assert ("Hydra passes a class_path mapping" in str(err.value)) is (net is LINEAR)
    assert not (tmp_path / "run").exists()

"""A node given again at an argument annotated ``Any`` (or ``object``, or not annotated at
all), as LightningCLI sets it there: a node of the same class merged, its ``dict_kwargs``
given in place of the config's (where a module argument's merge key by key); a mapping
without ``class_path`` and a class's import path set as they are (a plain dict, a string);
``init_args`` or ``dict_kwargs`` alone refused. Each way a node is given again: a command-line
override, a later config file, a search space's chosen value; each checked against
LightningCLI itself (``LightningCLI(run=False)``, nothing trained).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
import yaml
from torch import nn

from lightning_nas.config.load import load_config
from lightning_nas.errors import ConfigError
from tests.helpers_records import chosen_search, cli_model

torch.set_num_threads(1)

HERE = __name__
BUILT: list[tuple[str, Any]] = []  # what each net and holder built was given


class KwNet(nn.Module):
    """A network taking other arguments through ``**kwargs`` (LightningCLI's
    ``dict_kwargs``); each build recorded."""

    def __init__(self, a: int = 1, c: int = 0, **kwargs: Any) -> None:
        super().__init__()
        BUILT.append(("KwNet", {"a": a, "c": c, **kwargs}))


class BuiltOnly(pl.LightningModule):
    """A model these tests build and never train; a search refuses one with no
    ``configure_optimizers`` (every fit would fail) or no ``validation_step`` (every fit
    would score nothing), so it has them."""

    def configure_optimizers(self) -> None:
        return None

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        return None


class AnyHolder(BuiltOnly):
    """A model of an argument annotated ``Any``; what it was given recorded."""

    def __init__(self, net: Any = None) -> None:
        super().__init__()
        BUILT.append(("holder", BUILT[-1] if isinstance(net, nn.Module) else net))


class UntypedHolder(BuiltOnly):
    """A model of an argument of no annotation; what it was given recorded."""

    def __init__(self, net=None) -> None:  # noqa: ANN001 - the case under test
        super().__init__()
        BUILT.append(("holder", BUILT[-1] if isinstance(net, nn.Module) else net))


KW = f"{HERE}.KwNet"
OLD = {"class_path": KW, "init_args": {"a": 2, "c": 3}, "dict_kwargs": {"x": {"p": 1}, "y": 2}}
#: (a value given over OLD, what LightningCLI builds at Any there): the same class's
#: dict_kwargs in place of OLD's (y dropped), its init_args merged; a mapping without
#: class_path and an import path set as they are
GIVEN = [({"class_path": KW, "dict_kwargs": {"x": {"p": 3}}},
          ("KwNet", {"a": 2, "c": 3, "x": {"p": 3}})),
         ({"class_path": KW, "init_args": {"c": 5}, "dict_kwargs": {"z": 1}},
          ("KwNet", {"a": 2, "c": 5, "z": 1})),
         ({"class_path": KW, "init_args": {"c": 5}},
          ("KwNet", {"a": 2, "c": 5, "x": {"p": 1}, "y": 2})),
         ({"p": 3}, {"p": 3}),
         (KW, KW)]


def _flow(value: Any) -> str:
    """``value`` as one command-line word of YAML."""
    return value if isinstance(value, str) else yaml.safe_dump(
        value, default_flow_style=True).strip()


def _holder(name: str) -> dict[str, Any]:
    """A model node of the holder ``name`` whose ``net`` is ``OLD``."""
    return {"class_path": f"{HERE}.{name}", "init_args": {"net": OLD}}


@pytest.mark.parametrize("holder", ["AnyHolder", "UntypedHolder"])
def test_a_node_given_again_at_any_is_set_as_lightningcli_sets_it(tmp_path: Path, holder):
    # was: a node of the same class's dict_kwargs merged key by key (y kept), a mapping
    # without class_path (and, not annotated, a chosen one) set as the node's arguments
    # (KwNet(p=3)), an import path merged as a node (KwNet built, not the string passed)
    model = _holder(holder)
    first, later = tmp_path / "first.yaml", tmp_path / "later.yaml"
    first.write_text(yaml.safe_dump({"model": model}))
    for value, want in GIVEN:
        cli_model(tmp_path, model, f"--model.net={_flow(value)}")
        assert BUILT[-1] == ("holder", want), value  # LightningCLI's
        later.write_text(yaml.safe_dump({"model": {"init_args": {"net": value}}}))
        cli_model(tmp_path, model, "--config", str(later))
        assert BUILT[-1] == ("holder", want), value
        ours = {"override": load_config(first, [f"--model.net={_flow(value)}"],
                                        searched=False)["model"],
                "file": load_config([first, later], searched=False)["model"]}
        got = {}
        for name, node in ours.items():
            cli_model(tmp_path, node)
            got[name] = BUILT[-1]
        search = chosen_search(tmp_path, model, "model.net", [value, OLD])
        search.model.build({"model.net": value})
        got["chosen"] = BUILT[-1]
        assert got == dict.fromkeys(got, ("holder", want)), value


@pytest.mark.parametrize("holder", ["AnyHolder", "UntypedHolder"])
@pytest.mark.parametrize("alone", [{"init_args": {"a": 5}}, {"dict_kwargs": {"x": 1}}])
def test_init_args_alone_at_any_is_refused_whichever_way_it_is_given(tmp_path: Path, holder,
                                                                     alone):
    # LightningCLI sets the mapping itself there, a plain dict, no class built; was: a
    # later file's (and, not annotated, an override's and a chosen one's) merged over the
    # node, KwNet(a=5) trained
    model = _holder(holder)
    cli_model(tmp_path, model, f"--model.net={_flow(alone)}")
    assert BUILT[-1] == ("holder", alone)
    first, later = tmp_path / "first.yaml", tmp_path / "later.yaml"
    first.write_text(yaml.safe_dump({"model": model}))
    later.write_text(yaml.safe_dump({"model": {"init_args": {"net": alone}}}))
    said = re.escape(f"model.net gives {alone!r} without a class_path over the config's "
                     f"{KW} node, at an argument ")
    with pytest.raises(ConfigError, match=said):
        load_config([first, later], searched=False)
    with pytest.raises(ConfigError, match=said):
        load_config(first, [f"--model.net={_flow(alone)}"], searched=False)
    with pytest.raises(ConfigError, match=said):
        chosen_search(tmp_path, model, "model.net", [alone, OLD])


@pytest.mark.parametrize("option", [{"class_path": KW, "dict_kwargs": {"x": {"p": 3}}},
                                    {"p": 3}])
def test_an_override_a_chosen_value_at_any_would_drop_is_refused(tmp_path: Path, option):
    # LightningCLI's --model.net='{...}' at Any after --model.net.y=5 drops y (the node's
    # dict_kwargs, or the whole node, set in place); was: the override taken, y=5 lost in
    # the trials that chose that option
    model = _holder("AnyHolder")
    cli_model(tmp_path, model, "--model.net.y=5", f"--model.net={_flow(option)}")
    assert "y" not in (BUILT[-1][1][1] if isinstance(BUILT[-1][1], tuple) else BUILT[-1][1])
    keeps = {"class_path": KW, "init_args": {"c": 9}}  # y kept: not refused for it
    with pytest.raises(ConfigError, match=re.escape(
            "--model.net.y=5 sets a key inside 'model.net', which ")):
        chosen_search(tmp_path, model, "model.net", [option, keeps], "--model.net.y=5")

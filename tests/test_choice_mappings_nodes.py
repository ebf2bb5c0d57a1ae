"""A chosen ``class_path`` node at a config's ``class_path`` node (an ``nn.Module``
argument) is merged over it as LightningCLI merges ``--model.net='{class_path: ...}'``:
the same class's ``init_args`` over the config's, another class keeping those it takes;
an override inside it kept (was: the option in place of the node, refused where it left
out the config's arguments or an override).

Each case is checked against LightningCLI itself (``LightningCLI(run=False)``).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch
import yaml
from torch import nn

from lightning_nas.config.space_clash import check_not_searched
from lightning_nas.errors import ConfigError
from tests.helpers_records import DEEP, NetConfig, Plain, chosen_search, cli_model, space_search

torch.set_num_threads(1)

HERE = __name__

NETS: list[tuple[str, dict[str, Any]]] = []  # the (class, arguments) of each net built


class Mlp(nn.Module):
    """A network module (no dataclass) of three arguments, each build recorded."""

    def __init__(self, lin1: int = 1, lin2: int = 2, drop: float = 0.1) -> None:
        super().__init__()
        NETS.append(("Mlp", {"lin1": lin1, "lin2": lin2, "drop": drop}))


class Other(nn.Module):
    """Another class: ``lin1`` as ``Mlp``'s, ``drop`` of another type, no ``lin2``."""

    def __init__(self, lin1: int = 1, lin3: int = 3, drop: str = "x") -> None:
        super().__init__()
        NETS.append(("Other", {"lin1": lin1, "lin3": lin3, "drop": drop}))


class Holder(Plain):
    """``net`` any ``nn.Module``, a ``class_path`` node in the config."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__(net)


MLP, OTHER = f"{HERE}.Mlp", f"{HERE}.Other"

HELD = {"class_path": f"{HERE}.Holder", "init_args": {"net": {
    "class_path": MLP, "init_args": {"lin1": 8, "lin2": 16, "drop": 0.3}}}}


def test_a_chosen_class_path_node_at_a_module_argument_builds_what_lightningcli_builds(
        tmp_path):
    # was: refused, "model.init_args.net gives {drop: 0.3, lin2: 16}, which the search
    # space's 'model.net' chooses a node of the same class without", where LightningCLI's
    # --model.net='{class_path: Mlp, init_args: {lin1: 4}}' merges the init_args of the same
    # class over the config's; and another class's node was set whole (Other(lin1=1)), where
    # LightningCLI keeps the config's arguments it takes, by name and type (lin1=8)
    values = [{"class_path": MLP, "init_args": {"lin1": 4}},
              {"class_path": MLP},  # no init_args: the config's all kept
              {"class_path": OTHER, "init_args": {"lin3": 5}}]
    search = chosen_search(tmp_path, HELD, "model.net", values)
    wants = [("Mlp", {"lin1": 4, "lin2": 16, "drop": 0.3}),
             ("Mlp", {"lin1": 8, "lin2": 16, "drop": 0.3}),
             ("Other", {"lin1": 8, "lin3": 5, "drop": "x"})]
    for value, want in zip(values, wants, strict=True):
        flow = yaml.safe_dump(value, default_flow_style=True).strip()
        cli_model(tmp_path, HELD, f"--model.net={flow}")  # LightningCLI's own
        assert NETS[-1] == want, value
        assert search.model.build({"model.net": value}) and NETS[-1] == want, value
        cli_model(tmp_path, search.model.target.config({"model.net": value}))  # best.yaml's
        assert NETS[-1] == want, value


def test_an_override_inside_a_chosen_class_path_node_is_kept_as_lightningcli_keeps_it(
        tmp_path):
    # was: refused, "--model.net.init_args.lin2=24 sets a key inside 'model.net', which the
    # search space gives every trial as a whole (a value it chooses): the override would be
    # lost", where LightningCLI keeps it under --model.net='{class_path: Mlp, ...}'
    override = "--model.net.init_args.lin2=24"
    search = chosen_search(tmp_path, HELD, "model.net", [
        {"class_path": MLP, "init_args": {"lin1": 4}},
        {"class_path": MLP, "init_args": {"lin1": 6}}], override)
    node = {"class_path": MLP, "init_args": {"lin1": 4}}
    cli_model(tmp_path, HELD, override, f"--model.net={node}")
    assert NETS[-1] == ("Mlp", {"lin1": 4, "lin2": 24, "drop": 0.3})
    assert search.model.build({"model.net": node}) and NETS[-1][1]["lin2"] == 24
    # an option that sets the key, or whose class does not take it: its trials would lose
    # the override (LightningCLI drops it there too): refused before training, naming it
    setting = {"class_path": MLP, "init_args": {"lin2": 32}}
    with pytest.raises(ConfigError, match=re.escape(
            f"which option 2 of the choice there, {{class_path: {MLP}, init_args: {{lin2: "
            f"32}}}}, sets too")):
        chosen_search(tmp_path, HELD, "model.net", [node, setting], override)
    with pytest.raises(ConfigError, match=re.escape(
            f"which option 2 of the choice there, {{class_path: {OTHER}}}, builds without it "
            f"(Other does not take lin2): the trials that take it would lose the override, as "
            f"LightningCLI drops it. To fix it, leave that option out of the choice")):
        chosen_search(tmp_path, HELD, "model.net", [node, {"class_path": OTHER}],
                      override)


def test_an_override_inside_a_fixed_class_path_node_is_kept_as_lightningcli_keeps_it(tmp_path):
    # a fixed value is one option: merged over the config's node as a chosen one (was:
    # refused, "--model.net.init_args.lin2=24 sets a key inside 'model.net', which the
    # search space gives every trial as a whole (a value it chooses): the override would
    # be lost", where LightningCLI keeps it)
    override, node = "--model.net.init_args.lin2=24", {"class_path": MLP, "init_args": {"lin1": 4}}
    search = space_search(tmp_path, HELD, {"model.net": {"fixed": node},
                                           "data.batch_size": {"choice": [8, 16]}}, override)
    cli_model(tmp_path, HELD, override, f"--model.net={node}")
    assert NETS[-1] == ("Mlp", {"lin1": 4, "lin2": 24, "drop": 0.3})
    assert search.model.build({"model.net": node}) and NETS[-1][1]["lin2"] == 24
    with pytest.raises(ConfigError, match=re.escape(  # one that sets it: refused, as a choice's
            f"which the fixed value there, {{class_path: {MLP}, init_args: {{lin2: 32}}}}, "
            f"sets too")):
        space_search(tmp_path, HELD, {"model.net": {"fixed": {"class_path": MLP, "init_args": {
            "lin2": 32}}}, "data.batch_size": {"choice": [8, 16]}}, override)


class Mixed(nn.Module):
    """A network of a plain ``dict``, a ``dict[str, int]``, a dataclass and a module
    argument; each build recorded (``inner``: the record of the module built for it)."""

    def __init__(self, opts: dict | None = None, typed: dict[str, int] | None = None,
                 rec: NetConfig = DEEP, inner: Mlp | None = None) -> None:
        super().__init__()
        NETS.append(("Mixed", {"opts": opts, "typed": typed, "rec": rec,
                               "inner": inner and NETS[-1]}))


MIXED = {"class_path": f"{HERE}.Holder", "init_args": {"net": {
    "class_path": f"{HERE}.Mixed", "init_args": {
        "opts": {"a": 1, "b": 2}, "typed": {"a": 1, "b": 2}, "rec": {"hidden": 3, "depth": 2},
        "inner": {"class_path": MLP, "init_args": {"lin1": 8, "lin2": 16}}}}}}


def test_a_chosen_class_path_nodes_arguments_merge_by_their_annotation_as_in_lightningcli(
        tmp_path):
    # was: every mapping merged key by key (opts: {a: 3, b: 2}), where LightningCLI's
    # --model.net='{class_path: Mixed, init_args: {opts: {a: 3}}}' sets a dict argument's
    # mapping in place of the config's ({a: 3}), merging only a dataclass's fields and a
    # module argument's node of the same class
    value = {"class_path": f"{HERE}.Mixed", "init_args": {
        "opts": {"a": 3}, "typed": {"a": 3}, "rec": {"hidden": 4},
        "inner": {"class_path": MLP, "init_args": {"lin1": 4}}}}
    search = chosen_search(tmp_path, MIXED, "model.net", [value, {"class_path": MLP}])
    cli_model(tmp_path, MIXED, f"--model.net={value}")  # LightningCLI's own
    want = ("Mixed", {"opts": {"a": 3}, "typed": {"a": 3}, "rec": NetConfig(hidden=4, depth=2),
                      "inner": ("Mlp", {"lin1": 4, "lin2": 16, "drop": 0.1})})
    assert NETS[-1] == want
    assert search.model.build({"model.net": value}) and NETS[-1] == want  # the trial's
    cli_model(tmp_path, search.model.target.config({"model.net": value}))  # best.yaml's
    assert NETS[-1] == want


@pytest.mark.parametrize(("override", "option", "want"), [
    ("--model.net.init_args.rec.depth=5", {"rec": {"hidden": 4}},  # a dataclass's: merged
     ("rec", NetConfig(hidden=4, depth=5))),
    ("--model.net.init_args.inner.init_args.lin2=24", {"inner": {  # a node of the same class
        "class_path": MLP, "init_args": {"lin1": 4}}}, ("inner", ("Mlp", {
            "lin1": 4, "lin2": 24, "drop": 0.1}))),
])
def test_an_override_deeper_in_a_chosen_class_path_node_is_kept_where_lightningcli_keeps_it(
        tmp_path, override, option, want):
    # was: refused by the override's first argument, which the option sets ("... which the
    # value {...} the search space may choose there sets too"), where LightningCLI merges
    # the option's value there over the config's, the override kept
    value = {"class_path": f"{HERE}.Mixed", "init_args": option}
    search = chosen_search(tmp_path, MIXED, "model.net",
                           [value, {"class_path": f"{HERE}.Mixed"}], override)
    cli_model(tmp_path, MIXED, override, f"--model.net={value}")  # LightningCLI's own
    assert NETS[-1][1][want[0]] == want[1]
    assert search.model.build({"model.net": value}) and NETS[-1][1][want[0]] == want[1]


def test_an_override_deeper_in_a_chosen_class_path_node_is_refused_where_it_would_be_lost(
        tmp_path):
    # a dict argument's mapping is set in place of the config's (LightningCLI: {a: 3}, c
    # lost): refused, naming the option; so too an option that sets the key itself
    override = "--model.net.init_args.opts.c=9"
    value = {"class_path": f"{HERE}.Mixed", "init_args": {"opts": {"a": 3}}}
    cli_model(tmp_path, MIXED, override, f"--model.net={value}")
    assert NETS[-1][1]["opts"] == {"a": 3}
    with pytest.raises(ConfigError, match=re.escape(
            f"which option 1 of the choice there, {{class_path: {HERE}.Mixed, init_args: "
            f"{{opts: {{a: 3}}}}}}, builds without it (its opts is set in place of the "
            f"config's)")):
        chosen_search(tmp_path, MIXED, "model.net", [value], override)
    setting = {"class_path": f"{HERE}.Mixed", "init_args": {"rec": {"depth": 6}}}
    with pytest.raises(ConfigError, match=re.escape(
            f"which option 1 of the choice there, {{class_path: {HERE}.Mixed, init_args: "
            f"{{rec: {{depth: 6}}}}}}, sets too")):
        chosen_search(tmp_path, MIXED, "model.net", [setting],
                      "--model.net.init_args.rec.depth=5")


def test_a_long_option_a_refusal_names_is_cut_with_an_ellipsis():
    # was: cut at 80 characters of its repr, mid-word, with no mark ("... {'opts': {'a': 3
    # the search space ..."); now its position and one-line YAML, cut past 300 with "..."
    long = {"class_path": MLP, "init_args": {"lin2": 32, "note": "x" * 400}}
    cfg = {"model": HELD, "search": {"space": {"model.net": {"choice": [{"class_path": MLP},
                                                                        long]}}}}
    with pytest.raises(ConfigError) as caught:
        check_not_searched(["--model.net.init_args.lin2=24"], cfg)
    said = str(caught.value)
    start = f"which option 2 of the choice there, {{class_path: {MLP}, init_args: {{lin2: 32, "
    assert start in said and "x" * 200 in said and "x" * 300 not in said
    assert "..., sets too: the trials that take it would lose the override" in said

"""A ``Choice`` of whole mappings at a config's dataclass argument (``model.net: {choice:
[{hidden: 4}, {hidden: 8}]}`` over ``init_args: {net: {hidden: 3, depth: 2}}``): each
chosen mapping is merged over the config's mapping there, as LightningCLI merges
``--model.net='{hidden: 4}'`` given after the config (depth 2 kept; was: built from the
chosen mapping over the signature default, the config's depth dropped without a word), at a
dataclass or a ``Union`` of dataclasses; a plain ``dict`` argument's chosen mapping replaces
the config's, as LightningCLI sets it; so too a chosen ``class_path`` node of a dataclass
there (``{class_path: NetConfig, init_args: {hidden: 4}}``), its ``init_args`` over the
config's fields its class takes. ``best.yaml`` rebuilds the trial's model. A chosen
mapping that builds no class over the config's, which LightningCLI refuses too, is
refused before training (was: built alone, a ``NetConfig``).

A chosen ``class_path`` node at a config's ``class_path`` node (an ``nn.Module``
argument) is merged over it as LightningCLI merges ``--model.net='{class_path: ...}'``:
the same class's ``init_args`` over the config's, another class keeping those it takes;
an override inside it kept (was: the option in place of the node, refused where it left
out the config's arguments or an override).

Each case is checked against LightningCLI itself (``LightningCLI(run=False)``).

In a config of Hydra ``_target_`` nodes, a searched mapping (a chosen one, a group's, a
chosen ``_target_`` node) is merged over the mapping there whatever the annotation, as
Hydra's own command-line override ``++model.opt='{sub: {y: 5}}'`` merges every dict (was:
LightningCLI's rule, a plain ``dict``'s mapping in place of the config's; a group leaving
out a key of the config's mapping refused, where the merge keeps it). Each case is
checked against Hydra's own ``compose`` and ``instantiate``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Union

import lightning.pytorch as pl
import pytest
import torch
import yaml
from torch import nn

from lightning_nas.config.load import load_config
from lightning_nas.config.space_clash import check_not_searched
from lightning_nas.errors import ConfigError
from lightning_nas.search.from_config import search_from_config
from tests.helpers_models import ClassifierSteps
from tests.helpers_records import DEEP, NetConfig, Wide, cli_model

torch.set_num_threads(1)

HERE = __name__
NET, WIDE = f"{NetConfig.__module__}.NetConfig", f"{Wide.__module__}.Wide"


class Plain(ClassifierSteps, pl.LightningModule):
    """``net`` a ``NetConfig``, ``opt`` a plain dict; each build recorded."""

    built: list[tuple[Any, Any]] = []  # the (net, opt) of each model built

    def __init__(self, net: NetConfig = DEEP, opt: dict | None = None) -> None:
        super().__init__()
        Plain.built.append((net, opt))
        self.layer = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


class OneOf(Plain):
    """``net`` a ``NetConfig`` or a ``Wide``: a ``Union`` of dataclasses, ``NetConfig`` first."""

    def __init__(self, net: Union[NetConfig, Wide] = DEEP,  # noqa: UP007
                 opt: dict | None = None) -> None:
        super().__init__(net, opt)


def _search(tmp_path: Path, cls: type, init: dict[str, Any], key: str,
            values: list[Any], budget: int = 1) -> Any:
    return search_from_config({
        "model": {"class_path": f"{HERE}.{cls.__name__}", "init_args": init},
        "data": {"class_path": "tests.helpers_data.BlobData"},
        "trainer": {"max_epochs": 1, "logger": False, "enable_progress_bar": False,
                    "enable_model_summary": False},
        "search": {"space": {key: {"choice": values}}, "budget": budget,
                   "run_dir": str(tmp_path / "run")}})


CASES = [  # (was: depth=3, the signature default's, where LightningCLI keeps the config's 2)
    (Plain, {"net": {"hidden": 3, "depth": 2}}, "model.net", [{"hidden": 4}, {"hidden": 8}]),
    (OneOf, {"net": {"hidden": 3, "depth": 2}}, "model.net", [{"hidden": 4}, {"hidden": 8}]),
    (OneOf, {"net": {"width": 2}}, "model.net", [{"hidden": 4}, {"width": 8}]),
    (Plain, {"net": {"depth": 2}}, "model.init_args.net", [{"hidden": 4}, {"depth": 5}]),
    (Plain, {}, "model.net", [{"hidden": 4}, {"depth": 5}]),  # the default's fields kept
    (Plain, {"opt": {"sub": {"x": 2}, "other": 1}}, "model.opt",  # a plain dict's: in place
     [{"sub": {"y": 5}}, {"other": 2}]),  # of the config's, as LightningCLI sets it
    (Plain, {"net": {"hidden": 3, "depth": 2}}, "model.net",  # a class_path node's init_args
     [{"class_path": NET, "init_args": {"hidden": 4}},  # merged so too (was: depth=1)
      {"class_path": NET, "init_args": {"depth": 5}}]),
    (OneOf, {"net": {"hidden": 3, "depth": 2}}, "model.net",  # another class of the Union:
     [{"class_path": WIDE, "init_args": {"width": 4}},  # the fields it takes (was: hidden=3
      {"class_path": NET, "init_args": {"hidden": 4}}]),  # lost)
    (Plain, {}, "model.net", [{"class_path": NET, "init_args": {"hidden": 4}},  # no config
                              {"class_path": NET}]),  # value: over the default (was: depth=1)
    (Plain, {"net": {"class_path": NET, "init_args": {"hidden": 5, "depth": 2}}}, "model.net",
     [{"class_path": NET, "init_args": {"hidden": 4}}, {"hidden": 4}]),  # over the config's
    (OneOf, {"net": {"class_path": NET, "init_args": {"hidden": 5, "depth": 2}}}, "model.net",
     [{"class_path": WIDE, "init_args": {"width": 2}},  # node: the fields its class takes
      {"class_path": NET, "init_args": {"hidden": 4}}]),  # (was: in place, hidden=3, depth=1)
]


@pytest.mark.parametrize(("cls", "init", "key", "values"), CASES)
def test_a_chosen_mapping_builds_what_lightningcli_builds_over_the_config(
        tmp_path, cls, init, key, values):
    search = _search(tmp_path, cls, init, key, values)
    node = {"class_path": f"{HERE}.{cls.__name__}", "init_args": init}
    for value in values:
        flow = yaml.safe_dump(value, default_flow_style=True).strip()
        cli_model(tmp_path, node, f"--{key}={flow}")  # LightningCLI's own, after the config
        want = Plain.built[-1]
        assert search.model.build({key: value}) and Plain.built[-1] == want, value
        cli_model(tmp_path, search.model.target.config({key: value}))  # the trial's config
        assert Plain.built[-1] == want, value  # (best.yaml's) built by LightningCLI


def test_best_yaml_rebuilds_the_trials_model(tmp_path):
    values = [{"hidden": 4}, {"hidden": 8}]
    search = _search(tmp_path, Plain, {"net": {"hidden": 3, "depth": 2}}, "model.net", values,
                     budget=2)
    Plain.built.clear()
    result = search.run()
    trained = {net.hidden: net for net, _ in Plain.built}
    assert sorted(trained) == [4, 8] and {net.depth for net in trained.values()} == {2}
    run = Path(result.run_dir)
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["model"]["init_args"]["net"]["depth"] == 2  # (was: 3)
    for name in ("best.yaml", "best_config.yaml"):  # LightningCLI's own build of each node
        cli_model(tmp_path, yaml.safe_load((run / name).read_text())["model"])
        assert Plain.built[-1][0] == trained[best["arch"]["model.net"]["hidden"]], name
    Plain.load_from_checkpoint(run / "best.ckpt")  # the trained model, reloaded
    assert Plain.built[-1][0] == trained[best["arch"]["model.net"]["hidden"]]


def test_a_chosen_mapping_no_class_takes_over_the_config_is_refused_before_training(tmp_path):
    with pytest.raises(SystemExit):  # LightningCLI refuses it too
        cli_model(tmp_path, {"class_path": f"{HERE}.OneOf", "init_args": {"net": {"width": 2}}},
                  "--model.net={depth: 5}")
    with pytest.raises(ConfigError, match=r"space key 'model\.net' may take \{'depth': 5\}: "
                                          r"model\.net: the dict \{'width': 2, 'depth': 5\} "
                                          r"builds none of the dataclasses"):
        _search(tmp_path, OneOf, {"net": {"width": 2}}, "model.net", [{"hidden": 4}, {"depth": 5}])


def test_a_group_leaving_out_a_field_of_the_configs_dataclass_builds_what_lightningcli_builds(
        tmp_path):
    # was: refused, "model.init_args.net has the key depth, which the search space's group
    # 'model.net' does not set: ... it would be lost", where the group's value is merged over
    # the config's mapping there, depth 2 kept, as LightningCLI's --model.net='{hidden: 4}'
    node = {"class_path": f"{HERE}.Plain", "init_args": {"net": {"hidden": 3, "depth": 2}}}
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump({
        "model": node, "data": {"class_path": "tests.helpers_data.BlobData"},
        "search": {"space": {"model.net": {"hidden": {"choice": [4, 8]}}}, "budget": 1}}))
    search = search_from_config(load_config(tmp_path / "nas.yaml"))
    cli_model(tmp_path, node, "--model.net={hidden: 4}")
    want = Plain.built[-1]
    assert want[0] == NetConfig(hidden=4, depth=2)
    assert search.model.build({"model.net": {"hidden": 4}}) and Plain.built[-1] == want
    # an override of a field the group leaves out is kept too (was: refused, "sets a key
    # inside 'model.net', which the search space gives every trial as a whole")
    search = search_from_config(load_config(tmp_path / "nas.yaml", ["--model.net.depth=5"]))
    assert search.model.build({"model.net": {"hidden": 4}})
    assert Plain.built[-1][0] == NetConfig(hidden=4, depth=5)

def _loaded(tmp_path: Path, node: dict[str, Any], values: list[Any], kind: str = "choice"
            ) -> Any:
    """The config of a search of ``model.net: {choice: values}`` (or another ``kind``:
    ``ordered``) over the ``model`` node ``node``, loaded with the override
    ``--model.net.depth=5``."""
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump({
        "model": node, "data": {"class_path": "tests.helpers_data.BlobData"},
        "search": {"space": {"model.net": {kind: values}}, "budget": 1}}))
    return load_config(tmp_path / "nas.yaml", ["--model.net.depth=5"])


def test_an_override_inside_a_chosen_mapping_at_a_dataclass_is_kept_as_lightningcli_keeps_it(
        tmp_path):
    # was: refused, "--model.net.depth=5 sets a key inside 'model.net', which the search
    # space gives every trial as a whole (a value it chooses)", where a chosen mapping is
    # merged over the config's there, as a group's is (which took the override)
    node = {"class_path": f"{HERE}.Plain", "init_args": {"net": {"hidden": 3, "depth": 2}}}
    loaded = functools.partial(_loaded, tmp_path, node)
    search = search_from_config(loaded([{"hidden": 4}, {"hidden": 8}]))
    cli_model(tmp_path, node, "--model.net.depth=5", "--model.net={hidden: 4}")
    want = Plain.built[-1]
    assert want[0] == NetConfig(hidden=4, depth=5)
    assert search.model.build({"model.net": {"hidden": 4}}) and Plain.built[-1] == want
    # an option that sets the key itself: its trials would lose the override: refused
    with pytest.raises(ConfigError, match=re.escape(
            "--model.net.depth=5 sets a key inside 'model.net', which option 2 of the "
            "choice there, {depth: 6}, sets too: the trials that take it would lose the "
            "override")):
        loaded([{"hidden": 4}, {"depth": 6}])
    # so too a chosen class_path node, whose init_args LightningCLI merges there (was:
    # refused, "(a value it chooses): the override would be lost", and without the override
    # each trial built over NetConfig's own defaults, the config's depth=2 lost)
    search = search_from_config(loaded([{"class_path": NET, "init_args": {"hidden": h}}
                                        for h in (4, 8)]))
    assert search.model.build({"model.net": {"class_path": NET, "init_args": {"hidden": 4}}})
    assert Plain.built[-1] == want
    with pytest.raises(ConfigError, match=re.escape(
            f"which option 2 of the choice there, {{class_path: {NET}, init_args: {{depth: "
            f"6}}}}, sets too")):
        loaded([{"class_path": NET, "init_args": {"hidden": 4}},
                {"class_path": NET, "init_args": {"depth": 6}}])
    # a plain dict's chosen mapping replaces the config's: refused, the fix a value of the
    # choice (was: --search.space.model.opt.other={fixed: 9}, itself refused as a clash)
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump({
        "model": {"class_path": f"{HERE}.Plain", "init_args": {"opt": {"other": 1}}},
        "search": {"space": {"model.opt": {"choice": [{"other": 2}, {"x": 3}]}}}}))
    with pytest.raises(ConfigError, match=re.escape(
            "(a value it chooses): the override would be lost. To fix it, give other in "
            "each value the space gives 'model.opt'")):
        load_config(tmp_path / "nas.yaml", ["--model.opt.other=9"])


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


def test_an_override_inside_an_ordered_choices_mapping_is_kept_as_a_choices_is(tmp_path):
    # was: refused, "--model.net.depth=5 sets a key inside 'model.net', which the search
    # space gives every trial as a whole (a value it chooses): the override would be lost",
    # where an ordered choice's mapping is merged there as a choice's (LightningCLI keeps it)
    node = {"class_path": f"{HERE}.Plain", "init_args": {"net": {"hidden": 3, "depth": 2}}}
    search = search_from_config(_loaded(tmp_path, node, [{"hidden": 4}, {"hidden": 8}],
                                        "ordered"))
    assert search.model.build({"model.net": {"hidden": 8}})
    assert Plain.built[-1][0] == NetConfig(hidden=8, depth=5)
    with pytest.raises(ConfigError, match=re.escape(  # an option that sets it: refused
            "--model.net.depth=5 sets a key inside 'model.net', which option 2 of the "
            "ordered choice there, {depth: 6}, sets too")):
        _loaded(tmp_path, node, [{"hidden": 4}, {"depth": 6}], "ordered")


def _held_search(tmp_path: Path, values: list[Any] | dict[str, Any], *overrides: str,
                 model: dict[str, Any] = HELD) -> Any:
    """``model``'s search of ``model.net`` among ``values`` (a dict: the space itself),
    loaded with ``overrides``."""
    space = values if isinstance(values, dict) else {"model.net": {"choice": values}}
    (tmp_path / "nas.yaml").write_text(yaml.safe_dump({
        "model": model, "data": {"class_path": "tests.helpers_data.BlobData"},
        "search": {"space": space, "budget": 1,
                   "run_dir": str(tmp_path / "run")}}))
    return search_from_config(load_config(tmp_path / "nas.yaml", list(overrides)))


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
    search = _held_search(tmp_path, values)
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
    search = _held_search(tmp_path, [{"class_path": MLP, "init_args": {"lin1": 4}},
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
        _held_search(tmp_path, [node, setting], override)
    with pytest.raises(ConfigError, match=re.escape(
            f"which option 2 of the choice there, {{class_path: {OTHER}}}, builds without it "
            f"(Other does not take lin2): the trials that take it would lose the override, as "
            f"LightningCLI drops it. To fix it, leave that option out of the choice")):
        _held_search(tmp_path, [node, {"class_path": OTHER}], override)


def test_an_override_inside_a_fixed_class_path_node_is_kept_as_lightningcli_keeps_it(tmp_path):
    # a fixed value is one option: merged over the config's node as a chosen one (was:
    # refused, "--model.net.init_args.lin2=24 sets a key inside 'model.net', which the
    # search space gives every trial as a whole (a value it chooses): the override would
    # be lost", where LightningCLI keeps it)
    override, node = "--model.net.init_args.lin2=24", {"class_path": MLP, "init_args": {"lin1": 4}}
    search = _held_search(tmp_path, {"model.net": {"fixed": node},
                                     "data.batch_size": {"choice": [8, 16]}}, override)
    cli_model(tmp_path, HELD, override, f"--model.net={node}")
    assert NETS[-1] == ("Mlp", {"lin1": 4, "lin2": 24, "drop": 0.3})
    assert search.model.build({"model.net": node}) and NETS[-1][1]["lin2"] == 24
    with pytest.raises(ConfigError, match=re.escape(  # one that sets it: refused, as a choice's
            f"which the fixed value there, {{class_path: {MLP}, init_args: {{lin2: 32}}}}, "
            f"sets too")):
        _held_search(tmp_path, {"model.net": {"fixed": {"class_path": MLP, "init_args": {
            "lin2": 32}}}, "data.batch_size": {"choice": [8, 16]}}, override)


def test_an_override_inside_a_configs_dataclass_node_is_kept_under_a_choice_as_lightningcli(
        tmp_path):
    # the config writes net as a class_path node, which each chosen mapping or node is
    # merged over (was: refused, "(a value it chooses): the override would be lost")
    node = {"class_path": f"{HERE}.Plain", "init_args": {
        "net": {"class_path": NET, "init_args": {"hidden": 3, "depth": 2}}}}
    chosen = {"class_path": NET, "init_args": {"hidden": 4}}
    search = search_from_config(_loaded(tmp_path, node, [chosen, {"hidden": 8}]))
    cli_model(tmp_path, node, "--model.net.depth=5", f"--model.net={{class_path: {NET}, "
                                                     f"init_args: {{hidden: 4}}}}")
    assert Plain.built[-1][0] == NetConfig(hidden=4, depth=5)
    assert search.model.build({"model.net": chosen}) and Plain.built[-1][0] == NetConfig(4, 5)
    assert search.model.build({"model.net": {"hidden": 8}})
    assert Plain.built[-1][0] == NetConfig(hidden=8, depth=5)
    with pytest.raises(ConfigError, match=re.escape(  # an option setting it: refused
            f"which option 2 of the choice there, {{class_path: {NET}, init_args: {{depth: "
            f"6}}}}, sets too")):
        _loaded(tmp_path, node, [chosen, {"class_path": NET, "init_args": {"depth": 6}}])


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
    search = _held_search(tmp_path, [value, {"class_path": MLP}], model=MIXED)
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
    search = _held_search(tmp_path, [value, {"class_path": f"{HERE}.Mixed"}], override,
                          model=MIXED)
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
        _held_search(tmp_path, [value], override, model=MIXED)
    setting = {"class_path": f"{HERE}.Mixed", "init_args": {"rec": {"depth": 6}}}
    with pytest.raises(ConfigError, match=re.escape(
            f"which option 1 of the choice there, {{class_path: {HERE}.Mixed, init_args: "
            f"{{rec: {{depth: 6}}}}}}, sets too")):
        _held_search(tmp_path, [setting], "--model.net.init_args.rec.depth=5", model=MIXED)


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

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

Each case is checked against LightningCLI itself (``LightningCLI(run=False)``).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Union

import pytest
import torch
import yaml

from lightning_nas.config.load import load_config
from lightning_nas.errors import ConfigError
from lightning_nas.search.from_config import search_from_config
from tests.helpers_records import DEEP, NetConfig, Plain, Wide, cli_model

torch.set_num_threads(1)

HERE = __name__

NET, WIDE = f"{NetConfig.__module__}.NetConfig", f"{Wide.__module__}.Wide"


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

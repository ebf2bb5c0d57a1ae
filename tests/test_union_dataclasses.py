"""A mapping for an argument annotated with a ``Union`` of dataclasses (``Union[NetConfig,
Wide]``, ``Wide | NetConfig``): LightningCLI builds the first class, in the annotation's
order, whose fields take the mapping's keys, from that class's own defaults (not the
signature default's). A search builds the same (``model_init_args``, a group of the space,
a config's ``init_args``), and refuses before training a mapping no class takes, naming the
argument and each class with its fields (was: checked against the first class alone, so
``{"width": 5}`` was refused as "not a field of NetConfig", a mapping LightningCLI builds a
``Wide`` from).

A group of the space over a ``model_init_args`` instance of one of its classes is set over
the instance's fields, which build that class again (was: refused, as if the argument were
annotated with the ``Union``'s first class alone), and ``best.yaml``'s node says them.

A config path into such an argument (a searched ``model.net.width``) takes the first class
whose fields take the keys the config and the space set there, as the mapping does (was: the
first class alone, so ``model.net.width`` was refused as "not a field of NetConfig"); where
the config leaves the argument out, the signature default's fields that class has too are
kept, as LightningCLI's ``--model.net.width=5`` keeps them.

A mapping whose keys more than one class takes builds the first whose fields take its values
too, as LightningCLI tries the next class where a value does not fit one (``{"hidden":
"wide"}`` for ``NetConfig | Named``, whose ``hidden`` is a ``str``: a ``Named``; was:
refused, "expected int (the annotation of NetConfig.hidden)"); a text a number's field
reads as one (``"3"``, as jsonargparse reads it; not ``"3.0"``) builds that class.

A path deeper into such an argument (``model.net.hidden.x``, ``hidden`` itself a dataclass
or a ``Union`` of them) builds for each value the class LightningCLI's
``--model.net.hidden.x=5`` builds: the first whose field takes the mapping the path sets
there, over the fields the signature default and the config give it (was: the class by the
keys alone, so ``NetConfig | Named | Nested``'s ``model.net.hidden.x`` was refused as
"model.net.hidden is an int argument"); values no class takes there, which LightningCLI
refuses too, are refused before training, naming the key, each value and the classes.

Each case is checked against LightningCLI itself (``LightningCLI(run=False)``).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any, Union

import lightning.pytorch as pl
import pytest
import torch
from torch import nn

from lightning_nas.config.factories import ModelFactory
from lightning_nas.config.records import dataclasses_in
from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.errors import ConfigError
from lightning_nas.export_config import model_section
from lightning_nas.search.from_config import search_from_config
from lightning_nas.search.resume import stored_init
from tests.helpers_models import ClassifierSteps
from tests.helpers_records import DEEP, NetConfig, Wide, cli_model

torch.set_num_threads(1)

HERE = __name__


class Either(ClassifierSteps, pl.LightningModule):
    """``net`` takes a ``NetConfig`` or a ``Wide``, ``NetConfig`` first."""

    built: list[Any] = []  # the ``net`` of each model built

    def __init__(self, net: Union[NetConfig, Wide] = DEEP) -> None:  # noqa: UP007
        super().__init__()
        Either.built.append(net)
        self.layer = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


class WideFirst(Either):
    """``net`` takes a ``Wide`` or a ``NetConfig``, ``Wide`` first (``X | Y``)."""

    def __init__(self, net: Wide | NetConfig = DEEP) -> None:
        super().__init__(net)


@dataclass
class Named:
    """``NetConfig``'s fields, ``hidden`` a name: only a text there fits it, not ``NetConfig``."""

    hidden: str = "h"
    depth: int = 2


@dataclass
class Inner:
    """A nested dataclass."""

    x: int = 0


@dataclass
class Nested:
    """``NetConfig``'s fields, ``hidden`` a nested dataclass."""

    hidden: Inner = field(default_factory=Inner)
    depth: int = 1


@dataclass
class Label:
    """``NetConfig``'s ``hidden`` a name, and no ``depth``: a default's ``depth`` is no field."""

    hidden: str = "h"
    name: str = "x"


class Labelled(Either):
    """``net`` takes a ``NetConfig`` or a ``Label``; the default a ``NetConfig``."""

    def __init__(self, net: Union[NetConfig, Label] = DEEP) -> None:  # noqa: UP007
        super().__init__(net)


#: a ``Named`` default: ``NamedDefault``'s
NAMED = Named("n", 4)


class NamedDefault(Either):
    """``net``'s default a ``Named``, whose ``hidden`` no ``NetConfig`` takes."""

    def __init__(self, net: Union[NetConfig, Named] = NAMED) -> None:  # noqa: UP007
        super().__init__(net)


@dataclass
class InA:
    """An inner dataclass, ``x`` a number."""

    x: int = 0
    y: int = 1


@dataclass
class InB:
    """An inner dataclass, ``x`` a name."""

    x: str = "b"
    z: int = 2


@dataclass
class OutA:
    """An outer dataclass whose ``hidden`` is an ``InA``."""

    hidden: InA = field(default_factory=InA)
    depth: int = 1


@dataclass
class OutB:
    """An outer dataclass whose ``hidden`` is an ``InB``."""

    hidden: InB = field(default_factory=InB)
    depth: int = 2


@dataclass
class OutU:
    """An outer dataclass whose ``hidden`` is a ``Union`` of dataclasses."""

    hidden: Union[InA, InB] = field(default_factory=InA)  # noqa: UP007
    width: int = 3


class Outer(Either):
    """``net``'s classes have a dataclass ``hidden`` each; the default an ``OutA``."""

    def __init__(self, net: Union[OutA, OutB] = OutA(depth=7)) -> None:  # noqa: B008, UP007
        super().__init__(net)


class OuterSet(Either):
    """``Outer`` whose default's ``hidden`` is not ``InA``'s own."""

    def __init__(self, net: Union[OutA, OutB] = OutA(InA(4, 9), 7)) -> None:  # noqa: B008, UP007
        super().__init__(net)


class OneOut(Either):
    """``net`` an ``OutA`` alone, its default's ``hidden`` not ``InA``'s own."""

    def __init__(self, net: OutA = OutA(InA(4, 9), 7)) -> None:  # noqa: B008
        super().__init__(net)


class PlainOpt(Either):
    """``opt`` a plain ``dict``: a mapping set inside it replaces the one there."""

    def __init__(self, opt: dict = None) -> None:  # type: ignore[assignment]
        super().__init__(opt)


@dataclass
class OutD:
    """A dataclass with a plain ``dict`` field: a mapping set there replaces the one there."""

    extra: dict = field(default_factory=dict)


class DictIn(Either):
    """``net`` an ``OutD``."""

    def __init__(self, net: OutD = OutD()) -> None:  # noqa: B008
        super().__init__(net)


class TwoDeep(Either):
    """``net``'s second class has a ``Union`` of dataclasses at ``hidden``."""

    def __init__(self, net: Union[NetConfig, OutU] = DEEP) -> None:  # noqa: UP007
        super().__init__(net)


class Typed(Either):
    """``net``'s classes share their fields' names, not their types."""

    def __init__(self, net: Union[NetConfig, Named, Nested] = DEEP) -> None:  # noqa: UP007
        super().__init__(net)


CASES = [(Either, {"hidden": 2}), (Either, {"width": 5}), (Either, {"depth": 5}),
         (WideFirst, {"hidden": 2}), (WideFirst, {"depth": 5}), (WideFirst, {"width": 5}),
         (Typed, {"hidden": "wide"}), (Typed, {"hidden": "wide", "depth": 5}),  # Named (was:
         (Typed, {"hidden": {"x": 4}}), (Typed, {"hidden": 3}),  # refused), Nested, NetConfig
         (Typed, {"hidden": "3"}), (Typed, {"hidden": "3.0"})]  # NetConfig(3) (was: refused,
# "expected int"), Named('3.0'): a text an int reads as one, as jsonargparse reads it


@pytest.mark.parametrize(("cls", "net"), CASES)
def test_a_unions_mapping_builds_what_lightningcli_builds(tmp_path, cls, net):
    cli_model(tmp_path, {"class_path": f"{HERE}.{cls.__name__}", "init_args": {"net": net}})
    want = Either.built[-1]  # LightningCLI's own build
    given = ModelFactory(cls, {"net": net})  # model_init_args
    given.check(["net"])
    assert given.build({}) and Either.built[-1] == want  # (was: refused "not a field of
    searched = ModelFactory(cls)  # NetConfig" for Either's {"width": 5})
    searched.check(["net"])
    searched.check_arch({"net": net})  # a group of the space
    assert searched.build({"net": net}) and Either.built[-1] == want
    node = ConfigBuilder({"class_path": f"{HERE}.{cls.__name__}", "init_args": {"net": net}},
                         "model", plain_keys=True)
    node.check()  # a config's init_args
    assert node({}) and Either.built[-1] == want


def test_a_mapping_no_class_of_the_union_takes_is_refused_naming_them():
    with pytest.raises(ConfigError) as err:
        ModelFactory(Either, {"net": {"width": 5, "depth": 2}}).check(["net"])
    message = str(err.value)
    assert message.startswith("model.net: ") and "{'width': 5, 'depth': 2}" in message
    assert "NetConfig (fields: hidden, depth)" in message
    assert "Wide (fields: width, hidden)" in message
    with pytest.raises(ConfigError, match=r"model\.net: .*NetConfig .*Wide"):
        ModelFactory(Either).check_arch({"net": {"zzz": 1}})


@dataclass
class Sub(NetConfig):
    """A subclass of ``NetConfig`` (LightningCLI builds a ``NetConfig`` from its fields)."""


@pytest.mark.parametrize(("cls", "given", "trained"), [
    (WideFirst, NetConfig(hidden=16), NetConfig(hidden=2, depth=1)),
    (Either, Wide(hidden=16), Wide(width=4, hidden=2))])
def test_a_group_over_an_instance_of_a_unions_class_is_built_and_exported_as_lightningcli_builds(
        tmp_path, cls, given, trained):
    factory = ModelFactory(cls, {"net": given})
    factory.check_groups({"net": {"hidden": 2}})  # (was: refused, "a NetConfig instance ...
    factory.check_arch({"net": {"hidden": 2}})  # annotated with Wide", its first class)
    assert factory.build({"net": {"hidden": 2}}) and Either.built[-1] == trained
    node = model_section(stored_init(f"{HERE}.{cls.__name__}", {"net": given}),
                         {"net": {"hidden": 2}})
    cli_model(tmp_path, node)
    assert Either.built[-1] == trained  # LightningCLI's own build of best.yaml's node


def test_a_group_over_an_instance_the_union_builds_as_another_class_is_refused():
    with pytest.raises(ConfigError) as err:  # its fields build a NetConfig, not a Sub
        ModelFactory(Either, {"net": Sub()}).check_groups({"net": {"hidden": 2}})
    message = str(err.value)
    assert "init_args['net'] is a Sub instance" in message
    assert "gives each trial a NetConfig" in message and "NetConfig or Wide" in message


def test_a_value_no_class_takes_is_refused_against_the_first():
    with pytest.raises(ConfigError, match=r"model\.net\.hidden=\[1\]: expected int"):
        ModelFactory(Typed).check_arch({"net": {"hidden": [1]}})


def test_a_group_over_an_instance_of_a_class_its_values_pick_is_built_as_lightningcli_builds(
        tmp_path):
    factory = ModelFactory(Typed, {"net": Named()})  # its hidden, "h", fits Named alone
    factory.check_groups({"net": {"depth": 5}})  # (was: refused, "a Named instance ... gives
    factory.check_arch({"net": {"depth": 5}})  # each trial a NetConfig")
    assert factory.build({"net": {"depth": 5}}) and Either.built[-1] == Named("h", 5)
    node = model_section(stored_init(f"{HERE}.Typed", {"net": Named()}), {"net": {"depth": 5}})
    assert node["init_args"]["net"] == {"hidden": "h", "depth": 5}
    cli_model(tmp_path, node)
    assert Either.built[-1] == Named("h", 5)  # LightningCLI's own build of best.yaml's node


def _path_search(tmp_path, cls: type, init: dict[str, Any], keys: list[str],
                 values: tuple[Any, ...] = (5, 6)):
    return search_from_config({
        "model": {"class_path": f"{HERE}.{cls.__name__}", "init_args": init},
        "data": {"class_path": "tests.helpers_data.BlobData"},
        "trainer": {"max_epochs": 1, "logger": False},
        "search": {"space": {key: {"choice": list(values)} for key in keys}, "budget": 1,
                   "run_dir": str(tmp_path / "run")}})


@pytest.mark.parametrize(("cls", "init", "keys", "want"), [
    (Either, {}, ["model.net.width"], Wide(width=5, hidden=8)),  # DEEP's hidden kept
    (Either, {"net": {"hidden": 2}}, ["model.net.width"], Wide(width=5, hidden=2)),
    (Either, {}, ["model.net.hidden", "model.net.width"], Wide(width=5, hidden=5)),
    (Either, {}, ["model.net.width", "model.net.hidden"], Wide(width=5, hidden=5)),
    (Either, {}, ["model.net.hidden"], NetConfig(hidden=5, depth=3)),
    (WideFirst, {}, ["model.net.depth"], NetConfig(hidden=8, depth=5)),
    (WideFirst, {}, ["model.net.hidden"], Wide(width=4, hidden=5)),  # (was: NetConfig(5, 3))
    (WideFirst, {"net": {"width": 2}}, ["model.init_args.net.hidden"], Wide(width=2, hidden=5)),
])
def test_a_config_path_into_a_unions_argument_builds_what_lightningcli_builds(
        tmp_path, cls, init, keys, want):
    search = _path_search(tmp_path, cls, init, keys)  # (was: refused, "model.net.width: not
    arch = {key: 5 for key in keys}  # a field of NetConfig", for Either)
    assert search.model.build(arch) and Either.built[-1] == want
    cli_model(tmp_path, search.model.target.config(arch))  # LightningCLI on the trial's config
    assert Either.built[-1] == want
    if not init and len(keys) == 1:  # as LightningCLI's own --model.net.width=5
        cli_model(tmp_path, {"class_path": f"{HERE}.{cls.__name__}"}, f"--{keys[0]}=5")
        assert Either.built[-1] == want


@pytest.mark.parametrize(("init", "keys", "says"), [
    ({}, ["model.net.zzz"], "space key 'model.net.zzz': model.net.zzz: a field of none of the "
                            "dataclasses model.net is annotated with"),
    ({"net": {"depth": 2}}, ["model.net.width"], "space key 'model.net.width': model.net: "
                                                 "none of the dataclasses it is annotated with "
                                                 "has the fields depth, width"),
    ({}, ["model.net.width", "model.net.depth"], "space key 'model.net.width': model.net: none "
                                                 "of the dataclasses it is annotated with has "
                                                 "the fields depth, width"),
])
def test_a_config_path_no_class_of_the_union_takes_is_refused_naming_them(tmp_path, init,
                                                                            keys, says):
    with pytest.raises(ConfigError) as err:
        _path_search(tmp_path, WideFirst, init, keys)
    message = str(err.value)
    assert message.startswith(says), message
    assert "Wide (fields: width, hidden)" in message
    assert "NetConfig (fields: hidden, depth)" in message
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("cls", "init", "key", "values"), [
    (Labelled, {}, "model.net.hidden", ("wide", "narrow")),  # Label (was: refused, expected
    (Typed, {}, "model.net.hidden", (5, "wide")),  # int): NetConfig(5, 3), Named("wide", 3)
    (Typed, {"net": {"hidden": 4}}, "model.net.hidden", ("wide", "narrow")),  # depth 1 kept
    (Typed, {"net": {"hidden": 4}}, "model.net.hidden", (5, "wide")),  # (was: Named's 2)
    (NamedDefault, {}, "model.net.depth", (5, 6)),  # NetConfig(8, 5) (was: Named("n", 5))
    (NamedDefault, {}, "model.net.hidden", (5, "wide")),
    (Labelled, {"net": {"hidden": "q"}}, "model.net.name", ("y", "z")),
    (Either, {"net": {"hidden": 2}}, "model.net.width", (5, 6)),
    (Typed, {}, "model.net.hidden.x", (5, 6)),  # Nested(Inner(5), 3) (was: refused,
    (TwoDeep, {}, "model.net.hidden.x", (5, 6)),  # "model.net.hidden is an int argument")
    (Outer, {}, "model.net.hidden.y", (5, 6)),  # the default's hidden.x kept
    (Outer, {"net": {"hidden": {"x": 2}}}, "model.net.hidden.y", (5, 6)),
    (OuterSet, {}, "model.net.hidden", ({"y": 5}, {"x": 1})),  # merged into the mapping
    (OuterSet, {"net": {"hidden": {"x": 2}}}, "model.net.hidden", ({"y": 5}, {"x": 1})),
    (OneOut, {"net": {"hidden": {"x": 2}}}, "model.net.hidden", ({"y": 5}, {"x": 1})),
    (OneOut, {}, "model.net.hidden", ({"y": 5}, {"x": 1})),  # there (was: set over it, x=0
    # or the default's 4 where LightningCLI keeps 4 or the config's 2); a plain dict's: in
    (PlainOpt, {"opt": {"sub": {"x": 2}, "other": 1}}, "model.opt.sub", ({"y": 5}, {"z": 1})),
    (DictIn, {"net": {"extra": {"x": 2}}}, "model.net.extra", ({"y": 5}, {"z": 1})),
])  # place of the one there, as LightningCLI sets it (was: merged, sub.x=2 kept)
def test_each_searched_value_of_a_path_into_a_union_builds_what_lightningcli_builds(
        tmp_path, cls, init, key, values):
    search = _path_search(tmp_path, cls, init, [key], values)
    node = {"class_path": f"{HERE}.{cls.__name__}", "init_args": init}
    for value in values:
        cli_model(tmp_path, node, f"--{key}={value}")  # LightningCLI's own --model.net.x=v
        want = Either.built[-1]
        assert search.model.build({key: value}) and Either.built[-1] == want, value
        cli_model(tmp_path, search.model.target.config({key: value}))  # the trial's config
        assert Either.built[-1] == want, value  # (best.yaml's) built by LightningCLI


@pytest.mark.parametrize(("init", "values", "says"), [
    ({}, (5, "wide"), ["5 builds a NetConfig", "'wide' builds a Label", "depth=3"]),
    ({"net": {"hidden": 4, "depth": 2}}, ("wide", "narrow"), ["'wide' builds a Label",
                                                              "depth=2"]),
])
def test_values_of_a_path_into_a_union_one_config_cannot_build_are_refused(tmp_path, init,
                                                                            values, says):
    with pytest.raises(ConfigError) as err:  # (was: "expected int (the annotation of
        _path_search(tmp_path, Labelled, init, ["model.net.hidden"], values)  # NetConfig...
    message = str(err.value)  # .hidden)", a Label LightningCLI builds for 'wide')
    assert message.startswith("space key 'model.net.hidden': model.net: "), message
    assert all(part in message for part in says), message
    assert "NetConfig (fields: hidden, depth)" in message and "Label (fields: hidden, name)" \
        in message
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("cls", "init", "key", "values", "refused", "says"), [
    (Outer, {}, "model.net.hidden.x", (5, "wide"), ({}, "--model.net.hidden.x=wide"),
     ["5 builds a OutA", "'wide' builds none of them", "{'x': 'wide', 'y': 1}"]),
    (Outer, {}, "model.net.hidden.z", (5, 6), ({}, "--model.net.hidden.z=5"),
     ["5 builds none of them", "{'x': 0, 'y': 1, 'z': 5}"]),
    (TwoDeep, {}, "model.net.hidden.x", (5, "wide"), ({"net": {"hidden": {"x": "wide"}}},),
     ["5 builds a OutU", "'wide' builds none of them", "OutU's default there, an InA"]),
    (TwoDeep, {"net": {"width": 9}}, "model.net.hidden.z", (5, 6),
     ({"net": {"width": 9, "hidden": {"z": 5}}},),
     ["5 builds none of them", "{'x': 0, 'y': 1, 'z': 5}"]),
])
def test_values_of_a_deeper_path_no_stored_config_builds_are_refused_as_lightningcli_refuses(
        tmp_path, cls, init, key, values, refused, says):
    node = {"class_path": f"{HERE}.{cls.__name__}", "init_args": refused[0]}
    with pytest.raises(SystemExit):  # LightningCLI refuses it, the --key=value or the config
        cli_model(tmp_path, node, *refused[1:])  # holding it: the value there kept (an
        # InA's fields; from a config, the class of the field's default, an InA)
    with pytest.raises(ConfigError) as err:  # (was: "expected int (the annotation of
        _path_search(tmp_path, cls, init, [key], values)  # InA.x)", "model.net.hidden is
    message = str(err.value)  # an int argument", or a config LightningCLI refuses)
    assert message.startswith(f"space key {key!r}: model.net: "), message
    assert all(part in message for part in says), message
    assert all(f"{c.__name__} (fields: " in message for c in dataclasses_in(
        typing.get_type_hints(cls.__init__)["net"])), message
    assert not (tmp_path / "run").exists()

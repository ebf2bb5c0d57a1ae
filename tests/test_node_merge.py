"""``lightning_nas.config.node_merge``: a later config file merged over an earlier one as
LightningCLI's ``--config a.yaml --config b.yaml`` merges it, each argument by its
annotation: a plain ``dict``'s (or ``dict[str, int]``'s, ``max_time``'s) mapping in place
of the earlier one, a dataclass's fields merged, a mapping of dataclasses set key by key
over the earlier values, a node of the same class merged (``init_args`` alone, without
``class_path``, too; at a ``Callable`` that returns objects, LightningCLI's
``OptimizerCallable``, as well); the ``search:`` block, ours, merged key by key. A chosen
node's ``dict_kwargs`` (and ``init_args`` or ``dict_kwargs`` alone), a chosen mapping at an
``Any`` argument (``init_args`` alone there and at a dataclass refused), and
``trainer.callbacks``, ``logger``, ``plugins`` and a ``strategy`` or ``profiler`` node
chosen, overridden or from two files, each as LightningCLI sets them. Each case
checked against LightningCLI itself (``LightningCLI(run=False)``), a trial's build and
``best.yaml``'s; nothing trained.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.profilers import SimpleProfiler
from lightning.pytorch.strategies import DDPStrategy
from torch import nn

from lightning_nas.config.load import load_config
from lightning_nas.config.node_merge import merge_config, merge_node
from lightning_nas.config.paths import set_paths
from lightning_nas.errors import ConfigError
from tests.helpers_records import DEEP, NetConfig, chosen_search, cli_model

torch.set_num_threads(1)

HERE = __name__


class Inner(nn.Module):
    """A module argument with a plain ``dict`` argument of its own."""

    def __init__(self, opts: dict | None = None, lin1: int = 1) -> None:
        super().__init__()
        self.got = {"opts": opts, "lin1": lin1}


class BuiltOnly(pl.LightningModule):
    """A model these tests build and never train; a search refuses one with no
    ``configure_optimizers`` (every fit would fail) or no ``validation_step`` (every fit
    would score nothing), so it has them."""

    def configure_optimizers(self) -> None:
        return None

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        return None


class Knobs(BuiltOnly):
    """A model of a plain ``dict``, a ``dict[str, int]``, a dataclass, a ``dict`` of
    dataclasses and a module argument; what it was given kept in ``got``."""

    def __init__(self, opts: dict | None = None, typed: dict[str, int] | None = None,
                 rec: NetConfig = DEEP, nets: dict[str, NetConfig] | None = None,
                 inner: nn.Module | None = None) -> None:
        super().__init__()
        self.got = {"opts": opts, "typed": typed, "rec": rec, "nets": nets,
                    "inner": inner and inner.got}


class Loader(pl.LightningDataModule):
    """A data module with a plain ``dict`` argument."""

    def __init__(self, opts: dict | None = None, batch_size: int = 1) -> None:
        super().__init__()
        self.got = {"opts": opts, "batch_size": batch_size}


FIRST: dict[str, Any] = {
    "model": {"class_path": f"{HERE}.Knobs", "init_args": {
        "opts": {"a": 1, "b": 2}, "typed": {"a": 1, "b": 2}, "rec": {"hidden": 3, "depth": 2},
        "nets": {"x": {"hidden": 3, "depth": 2}, "y": {"hidden": 7}},
        "inner": {"class_path": f"{HERE}.Inner", "init_args": {"opts": {"a": 1, "b": 2},
                                                               "lin1": 5}}}},
    "data": {"class_path": f"{HERE}.Loader", "init_args": {"opts": {"a": 1, "b": 2},
                                                           "batch_size": 4}},
    "trainer": {"max_time": {"days": 1, "hours": 2}, "logger": {
        "class_path": "lightning.pytorch.loggers.CSVLogger",
        "init_args": {"save_dir": "logs", "name": "first"}}},
    "search": {"budget": 3, "ray": {"num_cpus": 1, "runtime_env": {"env_vars": {"A": "1"}}}},
}
SECOND: dict[str, Any] = {  # the brief's form: `init_args` without `class_path`
    "model": {"init_args": {"opts": {"a": 3}, "typed": {"a": 3}, "rec": {"hidden": 4},
                            "nets": {"x": {"hidden": 5}},
                            "inner": {"init_args": {"opts": {"a": 3}}}}},
    "data": {"class_path": f"{HERE}.Loader", "init_args": {"opts": {"a": 3}}},
    "trainer": {"max_time": {"hours": 5}, "logger": {"init_args": {"name": "second"}}},
    "search": {"ray": {"runtime_env": {"env_vars": {"B": "2"}}}},
}


def _files(folder: Path) -> list[Path]:
    """``FIRST`` and ``SECOND`` written in ``folder``."""
    paths = [folder / "first.yaml", folder / "second.yaml"]
    for path, cfg in zip(paths, (FIRST, SECOND), strict=True):
        path.write_text(yaml.safe_dump(cfg))
    return paths


def test_a_later_files_arguments_are_set_by_their_annotation_as_lightningcli_sets_them(
        tmp_path):
    # was: every mapping merged key by key (opts {a: 3, b: 2}, nets.y kept, max_time
    # {days: 1, hours: 5}), where LightningCLI's --config a.yaml --config b.yaml sets a
    # dict argument's mapping in place of the earlier one
    first, second = _files(tmp_path)
    cfg = load_config([first, second], searched=False)
    assert cfg["model"]["init_args"] == {
        "opts": {"a": 3}, "typed": {"a": 3}, "rec": {"hidden": 4, "depth": 2},
        "nets": {"x": {"hidden": 5, "depth": 2}},
        "inner": {"class_path": f"{HERE}.Inner", "init_args": {"opts": {"a": 3}, "lin1": 5}}}
    assert cfg["data"]["init_args"] == {"opts": {"a": 3}, "batch_size": 4}
    assert cfg["trainer"]["max_time"] == {"hours": 5}  # a dict[str, int] of the Trainer's
    assert cfg["trainer"]["logger"]["init_args"] == {"save_dir": "logs", "name": "second"}
    assert cfg["search"]["budget"] == 3  # ours: key by key, all the way down
    assert cfg["search"]["ray"] == {"num_cpus": 1,
                                    "runtime_env": {"env_vars": {"A": "1", "B": "2"}}}
    # what LightningCLI builds from the merged model is what it builds from the two files
    (tmp_path / "model.yaml").write_text(yaml.safe_dump({"model": SECOND["model"]}))
    theirs = cli_model(tmp_path, FIRST["model"], "--config", str(tmp_path / "model.yaml")).got
    assert theirs == cli_model(tmp_path, cfg["model"]).got


class Opted(BuiltOnly):
    """A model of LightningCLI's ``OptimizerCallable``; the optimizer it makes kept."""

    def __init__(self, optimizer: Callable[[Iterable], torch.optim.Optimizer] = torch.optim.Adam
                 ) -> None:
        super().__init__()
        made = optimizer([nn.Parameter(torch.zeros(1))])
        self.got = (type(made).__name__, {k: made.defaults[k] for k in ("lr", "momentum")
                                          if k in made.defaults})


def test_a_node_at_a_callable_argument_is_merged_as_lightningcli_merges_it(tmp_path):
    # was: an OptimizerCallable argument's node set in place of the config's (SGD at its
    # default lr); LightningCLI merges it as a module argument's, Adam's lr kept, amsgrad
    # dropped (SGD does not take it)
    adam = {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.003, "amsgrad": True}}
    node = {"class_path": f"{HERE}.Opted", "init_args": {"optimizer": adam}}
    sgd = {"class_path": f"{HERE}.Opted", "init_args": {"optimizer": {
        "class_path": "torch.optim.SGD", "init_args": {"momentum": 0.9}}}}
    merged = merge_node(node, sgd)
    assert merged["init_args"]["optimizer"] == {
        "class_path": "torch.optim.SGD", "init_args": {"lr": 0.003, "momentum": 0.9}}
    assert cli_model(tmp_path, node, f"--model={sgd}").got == ("SGD", {"lr": 0.003,
                                                                       "momentum": 0.9})
    assert cli_model(tmp_path, merged).got == ("SGD", {"lr": 0.003, "momentum": 0.9})


def test_a_later_files_bare_arguments_are_taken_as_init_args_as_lightningcli_takes_them(
        tmp_path):
    # was: refused before training, "model: unknown key opts beside class_path"; LightningCLI
    # takes a node's arguments without init_args (its own and a module argument's) as them
    first = {"class_path": f"{HERE}.Knobs", "init_args": {
        "opts": {"a": 1, "b": 2}, "inner": FIRST["model"]["init_args"]["inner"]}}
    bare = {"opts": {"a": 3}, "inner": {"opts": {"a": 3}}}
    paths = [tmp_path / "a.yaml", tmp_path / "b.yaml"]
    for path, model in zip(paths, (first, bare), strict=True):
        path.write_text(yaml.safe_dump({"model": model}))
    cfg = load_config(paths, searched=False)
    assert cfg["model"]["init_args"] == {
        "opts": {"a": 3},
        "inner": {"class_path": f"{HERE}.Inner", "init_args": {"opts": {"a": 3}, "lin1": 5}}}
    theirs = cli_model(tmp_path, first, "--config", str(paths[1])).got
    assert theirs == cli_model(tmp_path, cfg["model"]).got


BUILT: list[tuple[str, dict[str, Any]]] = []  # the (class, arguments) of each net built


class KwNet(nn.Module):
    """A network taking other arguments through ``**kwargs``, passed on to nothing
    (LightningCLI gives them in ``dict_kwargs``); each build recorded."""

    def __init__(self, a: int = 1, c: int = 0, **kwargs: Any) -> None:
        super().__init__()
        BUILT.append(("KwNet", {"a": a, "c": c, **kwargs}))


class KwOther(nn.Module):
    """Another such class, of another argument."""

    def __init__(self, b: int = 1, **kwargs: Any) -> None:
        super().__init__()
        BUILT.append(("KwOther", {"b": b, **kwargs}))


class Holder(BuiltOnly):
    """A model of one module argument."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()


def _three_builds(tmp_path: Path, model: dict[str, Any], key: str,
                  values: list[Any]) -> list[list[Any]]:
    """For each of ``values`` chosen at ``key`` over ``model``: the last net LightningCLI
    builds with ``--key=value`` after the config, the trial's, and LightningCLI's of the
    trial's node (``best.yaml``'s)."""
    search, out = chosen_search(tmp_path, model, key, values), []
    for value in values:
        flow = yaml.safe_dump(value, default_flow_style=True).strip()
        cli_model(tmp_path, model, f"--{key}={flow}")
        builds = [BUILT[-1]]
        search.model.build({key: value})
        builds.append(BUILT[-1])
        cli_model(tmp_path, search.model.target.config({key: value}))
        out.append([*builds, BUILT[-1]])
    return out


KW, KW_OTHER = f"{HERE}.KwNet", f"{HERE}.KwOther"
HELD_KW = {"class_path": f"{HERE}.Holder", "init_args": {"net": {
    "class_path": KW, "init_args": {"a": 2, "c": 3}, "dict_kwargs": {"x": {"p": 1, "q": 2},
                                                                     "y": 2}}}}


def test_a_chosen_nodes_init_args_and_dict_kwargs_merge_as_lightningclis(tmp_path):
    # was: dict_kwargs merged key by key all the way down (x: {p: 3, q: 2}), a `{dict_kwargs:
    # ...}` or `{init_args: ...}` alone in place of the config's (y, c lost), another
    # class's kept the config's (x, y); LightningCLI sets each of their keys over the
    # config's of the same class, in place of them for another class
    values = [{"class_path": KW, "dict_kwargs": {"x": {"p": 3}}},
              {"dict_kwargs": {"x": {"p": 4}}},
              {"init_args": {"a": 5}},
              {"class_path": KW_OTHER, "dict_kwargs": {"z": 1}},
              {"class_path": KW_OTHER}]
    wants = [("KwNet", {"a": 2, "c": 3, "x": {"p": 3}, "y": 2}),
             ("KwNet", {"a": 2, "c": 3, "x": {"p": 4}, "y": 2}),
             ("KwNet", {"a": 5, "c": 3, "x": {"p": 1, "q": 2}, "y": 2}),
             ("KwOther", {"b": 1, "z": 1}), ("KwOther", {"b": 1, "x": {"p": 1, "q": 2}, "y": 2})]
    for value, want, builds in zip(values, wants, _three_builds(tmp_path, HELD_KW, "model.net",
                                                                  values), strict=True):
        assert builds == [want] * 3, value
    # so too as an override, --model.net='{...}' (was: init_args or dict_kwargs alone in
    # place of the config's, c and y lost)
    (tmp_path / "held.yaml").write_text(yaml.safe_dump({"model": HELD_KW}))
    for value, want in zip(values[:3], wants, strict=False):
        flow = yaml.safe_dump(value, default_flow_style=True).strip()
        cfg = load_config(tmp_path / "held.yaml", [f"--model.net={flow}"], searched=False)
        cli_model(tmp_path, cfg["model"])
        assert BUILT[-1] == want, value


class AnyHolder(BuiltOnly):
    """A model of an argument annotated ``Any``; what it was given recorded."""

    def __init__(self, net: Any = None) -> None:
        super().__init__()
        BUILT.append(("AnyHolder", BUILT[-1] if isinstance(net, nn.Module) else net))


def test_a_chosen_mapping_at_an_any_argument_is_set_as_lightningcli_sets_it(tmp_path):
    # was: a mapping's keys set as the node's arguments (KwNet(p=3)), where LightningCLI
    # sets the mapping in place of the config's node, a plain dict; a node it merges there
    model = {"class_path": f"{HERE}.AnyHolder", "init_args": {"net": {
        "class_path": KW, "init_args": {"a": 2, "c": 3}}}}
    values = [{"class_path": KW, "init_args": {"c": 5}}, {"p": 3}]
    wants = [("AnyHolder", ("KwNet", {"a": 2, "c": 5})), ("AnyHolder", {"p": 3})]
    for value, want, builds in zip(values, wants, _three_builds(tmp_path, model, "model.net",
                                                                  values), strict=True):
        assert builds == [want] * 3, value
    # init_args alone: LightningCLI passes the mapping itself, a plain dict, to the model;
    # refused before training, naming the key and why (was: KwNet(a=5), the config's class)
    alone = {"init_args": {"a": 5}}
    cli_model(tmp_path, model, f"--model.net={alone}")
    assert BUILT[-1] == ("AnyHolder", alone)
    with pytest.raises(ConfigError, match=re.escape(
            f"model.net gives {alone!r} without a class_path over the config's {KW} node, at "
            f"an argument annotated Any, where LightningCLI sets that mapping as it is (a "
            f"plain dict, no class built), not over the node")):
        chosen_search(tmp_path, model, "model.net", [alone, values[0]])
    # a key inside it: LightningCLI's --model.net.p=3 passes a jsonargparse NestedArg, no
    # value; the trial and best.yaml's build take the config's mapping with p set
    model = {"class_path": f"{HERE}.AnyHolder", "init_args": {"net": {"p": 1, "q": 2}}}
    cli_model(tmp_path, model, "--model.net.p=3")
    assert type(BUILT[-1][1]).__name__ == "NestedArg"
    search = chosen_search(tmp_path, model, "model.net.p", [3, 4])
    search.model.build({"model.net.p": 3})
    cli_model(tmp_path, search.model.target.config({"model.net.p": 3}))
    assert BUILT[-2:] == [("AnyHolder", {"p": 3, "q": 2})] * 2


class Recorded(BuiltOnly):
    """A model of a dataclass argument; what it was given recorded."""

    def __init__(self, net: NetConfig = DEEP) -> None:
        super().__init__()
        BUILT.append(("Recorded", net))


@pytest.mark.parametrize("net", [
    {"hidden": 3, "depth": 2},
    {"class_path": f"{NetConfig.__module__}.NetConfig", "init_args": {"hidden": 3, "depth": 2}}])
def test_init_args_alone_at_a_dataclass_argument_is_refused_as_lightningcli_refuses_it(
        tmp_path, net):
    # was, over the config's class_path node: built NetConfig(hidden=5, depth=3), the
    # config's depth 2 lost, where LightningCLI refuses it
    model = {"class_path": f"{HERE}.Recorded", "init_args": {"net": net}}
    with pytest.raises(SystemExit):
        cli_model(tmp_path, model, "--model.net={init_args: {hidden: 5}}")
    with pytest.raises(ConfigError, match=r"space key 'model.net' may take \{'init_args': "
                                          r"\{'hidden': 5\}\}: model.net.*init_args"):
        chosen_search(tmp_path, model, "model.net", [{"init_args": {"hidden": 5}},
                                                     {"hidden": 6}])


SLURM = "lightning.fabric.plugins.environments.SLURMEnvironment"
NO_REQUEUE = {"class_path": SLURM, "init_args": {"auto_requeue": False}}
DOUBLE = {"class_path": "lightning.pytorch.plugins.precision.DoublePrecision"}
#: (the config's trainer.plugins, the later file's or chosen one, the auto_requeue of each
#: plugin LightningCLI builds): a list of nodes over one of the same length merged item by
#: item, a node over a node (or a list of one) merged, another length or a node over a list
#: in place
PLUGINS = [([NO_REQUEUE], [{"class_path": SLURM}], [False]),
           (NO_REQUEUE, {"class_path": SLURM}, [False]),
           (NO_REQUEUE, [{"class_path": SLURM}], [False]),
           ([NO_REQUEUE], {"class_path": SLURM}, [True]),
           ([NO_REQUEUE, DOUBLE], [{"class_path": SLURM}], [True])]


def _described(built: Any) -> list[Any]:
    """Each of ``built`` (one object, or a list of them): a SLURM environment's
    ``auto_requeue``, an ``EarlyStopping``'s (monitor, patience, mode), a ``CSVLogger``'s
    (save_dir, name), a ``DDPStrategy``'s (find_unused_parameters, static_graph, backend),
    a ``SimpleProfiler``'s (dirpath, filename, extended), a name (``ddp``) as it is, else
    its class name."""
    out = []
    for obj in built if isinstance(built, list) else [built]:
        if isinstance(obj, str):
            out.append(obj)
        elif isinstance(obj, DDPStrategy):
            out.append(tuple(obj._ddp_kwargs.get(name) for name in (
                "find_unused_parameters", "static_graph")) + (obj.process_group_backend,))
        elif isinstance(obj, SimpleProfiler):
            out.append((obj.dirpath, obj.filename, obj.extended))
        elif isinstance(obj, EarlyStopping):
            out.append((obj.monitor, obj.patience, obj.mode))
        elif isinstance(obj, CSVLogger):
            out.append((obj.save_dir, obj.name))
        else:
            out.append(getattr(obj, "auto_requeue", type(obj).__name__))
    return out


def _built(tmp_path: Path, trainer: dict[str, Any], *args: str, key: str = "plugins"
           ) -> list[Any]:
    """What LightningCLI (``run=False``) builds for ``trainer.<key>`` from a config of
    ``trainer`` (and ``args`` after it), ``_described`` (none of the Trainer's own callbacks
    added)."""
    from lightning.pytorch.cli import LightningCLI

    path = tmp_path / "trainer.yaml"
    path.write_text(yaml.safe_dump({"model": {"class_path": f"{HERE}.Holder", "init_args": {
        "net": {"class_path": "torch.nn.Identity"}}}, "trainer": trainer}))
    quiet = {"logger": False, "enable_checkpointing": False, "enable_progress_bar": False,
             "enable_model_summary": False}
    cli = LightningCLI(run=False, args=["--config", str(path), *args],
                       save_config_callback=None, trainer_defaults=quiet)
    return _described(cli.config_init["trainer"][key])


@pytest.mark.parametrize(("first", "second", "want"), PLUGINS)
def test_trainer_plugins_of_two_files_merge_as_lightningcli_merges_them(
        tmp_path, first, second, want):
    # was: a later file's list in place of the earlier one (auto_requeue True), where
    # LightningCLI merges a list of nodes of the same length item by item
    later = tmp_path / "later.yaml"
    later.write_text(yaml.safe_dump({"trainer": {"plugins": second}}))
    assert _built(tmp_path, {"plugins": first}, "--config", str(later)) == want
    merged = merge_config({"trainer": {"plugins": first}}, {"trainer": {"plugins": second}})
    assert _built(tmp_path, merged["trainer"]) == want


def test_trainer_plugins_a_space_chooses_merge_as_lightningcli_merges_them(tmp_path):
    # was: the chosen value in place of the config's (auto_requeue True), in the trial and
    # in best_config.yaml, where LightningCLI's --trainer.plugins=... merges it
    from lightning_nas.config.instantiate import instantiate
    from lightning_nas.export_config import best_config
    from lightning_nas.search.from_config import search_from_config

    values = [second for first, second, _ in PLUGINS if first == [NO_REQUEUE]]
    cfg = {"model": {"class_path": f"{HERE}.Holder", "init_args": {"net": {
               "class_path": "torch.nn.Identity"}}},
           "data": {"class_path": "tests.helpers_data.BlobData"},
           "trainer": {"plugins": [NO_REQUEUE], "logger": False},
           "search": {"space": {"trainer.plugins": {"choice": values}}, "budget": 1,
                      "run_dir": str(tmp_path / "run")}}
    search = search_from_config(copy.deepcopy(cfg))
    for value, (_, _, want) in zip(values, [p for p in PLUGINS if p[0] == [NO_REQUEUE]],
                                   strict=True):
        flow = yaml.safe_dump(value, default_flow_style=True).strip()
        trainer = {"plugins": [NO_REQUEUE]}
        assert _built(tmp_path, trainer, f"--trainer.plugins={flow}") == want, value
        own = search.template.spec(1, {"trainer.plugins": value}, dry=True).trainer["plugins"]
        built = instantiate(own, "trainer.plugins")  # the trial's
        assert _described(built) == want, value
        assert _built(tmp_path, {"plugins": own}) == want, value
        best = best_config(cfg, {"trainer.plugins": value}, seed=0)["trainer"]  # its file's
        assert _built(tmp_path, {"plugins": best["plugins"]}) == want, value


def test_a_class_path_mapping_at_a_plain_dict_argument_is_set_whole_as_lightningcli_sets_it(
        tmp_path):
    # was: merged as a node, {lr: 0.2, weight_decay: 0.1}, at an Optional[dict] argument
    # (Lightning's documented optimizer_init: dict), where LightningCLI's later file and
    # --model.optimizer_init='{...}' set the mapping whole, as data
    adam = {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.1, "weight_decay": 0.1}}
    later = {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.2}}
    first = {"class_path": "tests.helpers_config.OptimInitNet", "init_args": {
        key: adam for key in ("optimizer_init", "spare", "extra")}}
    paths = [tmp_path / "a.yaml", tmp_path / "b.yaml"]
    for path, model in zip(paths, (first, {"init_args": dict.fromkeys(first["init_args"],
                                                                        later)}), strict=True):
        path.write_text(yaml.safe_dump({"model": model}))
    cfg = load_config(paths, searched=False)
    assert cfg["model"]["init_args"] == dict.fromkeys(first["init_args"], later)
    assert merge_node(first, {"init_args": {"optimizer_init": later}})["init_args"][
        "optimizer_init"] == later
    # so too on the command line, and a search space's chosen mapping over the config's
    whole = load_config(paths[:1], [f"--model.{key}={later}" for key in first["init_args"]],
                        searched=False)
    assert whole["model"]["init_args"] == dict.fromkeys(first["init_args"], later)
    chosen = set_paths({"model": first}, [("model.optimizer_init", later)])
    assert chosen["model"]["init_args"]["optimizer_init"] == later
    theirs = cli_model(tmp_path, first, "--config", str(paths[1])).hparams
    assert all(theirs[key] == later for key in first["init_args"])


ES, CSV = "lightning.pytorch.callbacks.EarlyStopping", "lightning.pytorch.loggers.CSVLogger"
PATIENT = {"class_path": ES, "init_args": {"monitor": "val_loss", "patience": 3, "mode": "max"}}
QUICK = {"class_path": ES, "init_args": {"monitor": "val_loss", "patience": 1}}
LR_MONITOR = {"class_path": "lightning.pytorch.callbacks.LearningRateMonitor"}
DDP, PROFILER = ("lightning.pytorch.strategies.DDPStrategy",
                 "lightning.pytorch.profilers.SimpleProfiler")
UNUSED = {"class_path": DDP, "init_args": {"find_unused_parameters": True,
                                           "process_group_backend": "gloo"}}
PROFILE = {"class_path": PROFILER, "init_args": {"dirpath": "p", "filename": "f"}}
LOGS = {"class_path": CSV, "init_args": {"save_dir": "logs", "name": "a"}}
NAMED, ELSEWHERE = ({"class_path": CSV, "init_args": init} for init in (
    {"name": "b"}, {"save_dir": "x", "name": "c"}))
#: (the Trainer argument, the config's value, the later file's, override's or chosen one,
#: what LightningCLI builds): a node over a node merged, a list over one of the same length
#: item by item, a list over a node each item over it; a node over a list, or a list over
#: one of another length, in place
OBJECTS = [("callbacks", [PATIENT], [QUICK], [("val_loss", 1, "max")]),
           ("callbacks", PATIENT, [QUICK, LR_MONITOR], [("val_loss", 1, "max"),
                                                        "LearningRateMonitor"]),
           ("callbacks", [PATIENT], QUICK, [("val_loss", 1, "min")]),
           ("logger", LOGS, NAMED, [("logs", "b")]),
           ("logger", LOGS, [NAMED, ELSEWHERE], [("logs", "b"), ("x", "c")]),
           ("logger", [LOGS], ELSEWHERE, [("x", "c")]),
           ("plugins", NO_REQUEUE, [{"class_path": SLURM}, DOUBLE], [False, "DoublePrecision"]),
           # one node or a name (TRAINER_NODES): a node over a node merged, its init_args
           # alone too; a name in place
           ("strategy", UNUSED, {"class_path": DDP, "init_args": {"static_graph": True}},
            [(True, True, "gloo")]),
           ("strategy", UNUSED, {"init_args": {"static_graph": True}}, [(True, True, "gloo")]),
           ("strategy", UNUSED, "ddp", ["ddp"]),
           # its arguments alone, no init_args (was: in place, "expected str or Strategy");
           # a list's items of no class_path over the config's, so (was: in place)
           ("strategy", UNUSED, {"static_graph": True}, [(True, True, "gloo")]),
           ("callbacks", [PATIENT], [{"init_args": {"patience": 5}}], [("val_loss", 5, "max")]),
           ("callbacks", [PATIENT], [{"patience": 5}], [("val_loss", 5, "max")]),
           ("callbacks", PATIENT, [{"patience": 5}], [("val_loss", 5, "max")]),
           ("profiler", PROFILE, {"class_path": PROFILER, "init_args": {"extended": False}},
            [("p", "f", False)]),
           # a class by its name alone, a list's item too, as by its import path (was: in
           # place of the config's node, its save_dir, monitor and mode lost)
           ("logger", LOGS, "CSVLogger", [("logs", "a")]),
           ("logger", [LOGS], ["CSVLogger"], [("logs", "a")]),
           ("callbacks", [PATIENT], ["EarlyStopping"], [("val_loss", 3, "max")])]


@pytest.mark.parametrize(("key", "held", "given", "want"), OBJECTS)
def test_trainer_object_arguments_merge_as_lightningcli_merges_them(
        tmp_path, key, held, given, want):
    # was: a chosen callbacks or logger and any override in place of the config's
    # (EarlyStopping's mode 'min', CSVLogger without a save_dir, auto_requeue True), a list
    # over a node of another length too; a chosen strategy or profiler node too (no
    # find_unused_parameters, no dirpath; init_args alone a dict); LightningCLI merges them
    # as it merges a file's
    from lightning_nas.config.instantiate import instantiate
    from lightning_nas.export_config import best_config
    from lightning_nas.trial_trainer import trial_trainer

    flow = given if isinstance(given, str) else yaml.safe_dump(
        given, default_flow_style=True).strip()
    later = tmp_path / "later.yaml"
    later.write_text(yaml.safe_dump({"trainer": {key: given}}))
    assert _built(tmp_path, {key: held}, f"--trainer.{key}={flow}", key=key) == want
    assert _built(tmp_path, {key: held}, "--config", str(later), key=key) == want
    cfg = {"model": {"class_path": f"{HERE}.Holder", "init_args": {"net": {
               "class_path": "torch.nn.Identity"}}}, "trainer": {key: held}}
    (tmp_path / "held.yaml").write_text(yaml.safe_dump(cfg))
    ours = {"files": merge_config(cfg, {"trainer": {key: given}})["trainer"][key],
            "override": load_config(tmp_path / "held.yaml", [f"--trainer.{key}={flow}"],
                                    searched=False)["trainer"][key],
            "trial": trial_trainer({f"trainer.{key}": given}, {key: held})[key],
            "best_config": best_config(cfg, {f"trainer.{key}": given}, seed=0)["trainer"][key]}
    assert {name: _described(instantiate(value, f"trainer.{key}"))
            for name, value in ours.items()} == dict.fromkeys(ours, want)


def _strategy_search(tmp_path: Path, values: list[Any]) -> dict[str, Any]:
    """A config of ``Holder`` whose trainer gives the strategy node ``UNUSED`` and whose
    space chooses ``trainer.strategy`` among ``values``."""
    return {"model": {"class_path": f"{HERE}.Holder", "init_args": {"net": {
                "class_path": "torch.nn.Identity"}}},
            "data": {"class_path": "tests.helpers_data.BlobData"},
            "trainer": {"strategy": UNUSED, "devices": 1, "logger": False},
            "search": {"space": {"trainer.strategy": {"choice": values}}, "budget": 1,
                       "run_dir": str(tmp_path / "run")}}


def test_a_chosen_strategy_of_no_class_path_is_merged_as_lightningcli_merges_it(tmp_path):
    # was: refused before training, "space key 'trainer.strategy' may take {'init_args':
    # {'static_graph': True}}: ... expected str or Strategy", where LightningCLI's
    # --trainer.strategy=... merges it over the config's node
    from lightning_nas.config.instantiate import instantiate
    from lightning_nas.export_config import best_config
    from lightning_nas.search.from_config import search_from_config

    values = [{"init_args": {"static_graph": True}}, {"static_graph": True}]
    cfg = _strategy_search(tmp_path, values)
    search = search_from_config(copy.deepcopy(cfg))
    for value in values:
        flow = yaml.safe_dump(value, default_flow_style=True).strip()
        want = _built(tmp_path, {"strategy": UNUSED}, f"--trainer.strategy={flow}",
                      key="strategy")
        assert want == [(True, True, "gloo")]
        own = search.template.spec(1, {"trainer.strategy": value}, dry=True).trainer
        assert _described(instantiate(own["strategy"], "trainer.strategy")) == want
        best = best_config(cfg, {"trainer.strategy": value}, seed=0)["trainer"]
        assert _built(tmp_path, {"strategy": best["strategy"]}, key="strategy") == want


@pytest.mark.parametrize("given", [{"static_graph": True, "bogus": 1},
                                   {"init_args": {"bogus": 1}},
                                   {"class_path": DDP, "init_args": {"bogus": 1}}])
def test_a_strategy_argument_jsonargparse_does_not_find_is_refused_before_training(
        tmp_path, given):
    # DDPStrategy passes its **kwargs on to DistributedDataParallel, whose arguments
    # jsonargparse finds: LightningCLI refuses another name (its node unparsed, the Trainer's
    # "invalid strategy name"); was: taken, and the first trial failed in its setup
    from lightning_nas.config.trainer_checks import check_trainer_kwargs
    from lightning_nas.search.from_config import search_from_config
    from lightning_nas.trial_trainer import trial_trainer

    flow = yaml.safe_dump(given, default_flow_style=True).strip()
    with pytest.raises(ValueError, match="invalid strategy name"):
        _built(tmp_path, {"strategy": UNUSED}, f"--trainer.strategy={flow}", key="strategy")
    with pytest.raises(ConfigError, match=r"^space key 'trainer.strategy' may take "
                                          + re.escape(repr(given)) + r": trainer\.strategy\."
                                          r"bogus: not an argument of DDPStrategy"):
        search_from_config(_strategy_search(tmp_path, [{"static_graph": True}, given]))
    with pytest.raises(ConfigError, match=r"^trainer\.strategy\.bogus: .*goes under "
                                          r"trainer\.strategy\.dict_kwargs\)$"):
        check_trainer_kwargs(trial_trainer({"trainer.strategy": given}, {"strategy": UNUSED}))
    check_trainer_kwargs({"strategy": {"class_path": DDP, "dict_kwargs": {"bogus": 1}}})

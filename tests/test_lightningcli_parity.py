"""Small differences from LightningCLI, each checked against a real
``lightning.pytorch.cli.LightningCLI(run=False, args=[...])`` beside lightning-nas: where
LightningCLI takes a form, it reaches the trials as LightningCLI builds it; where it refuses
one, it is refused before training, saying what to write (real Trainer, tiny model)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightning.pytorch.cli import LightningCLI

from lightning_nas.cli import main
from lightning_nas.config.instantiate import instantiate
from lightning_nas.config.load import load_config
from lightning_nas.config.node_labels import names_said
from lightning_nas.errors import ConfigError
from lightning_nas.search.from_config import search_from_config
from tests.helpers_config import cli_built, config, lightningcli

EARLY_STOPPING = "lightning.pytorch.callbacks.EarlyStopping"
CHECKPOINT = "lightning.pytorch.callbacks.ModelCheckpoint"


def _write(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _lightningcli_refuses(path: Path, capsys, *args: str) -> str:
    """What plain LightningCLI says refusing the config file ``path`` and ``args``."""
    with pytest.raises(SystemExit):
        LightningCLI(run=False, save_config_callback=None, args=["--config", str(path), *args])
    return capsys.readouterr().err


def _lightningcli_part(cfg: dict[str, Any]) -> dict[str, Any]:
    """The sections of ``cfg`` plain LightningCLI reads (no ``search`` block)."""
    return {key: value for key, value in cfg.items() if key != "search"}


# ------------------------------------------------ a named node's missing required argument
@pytest.mark.parametrize("command", ["search", "fit"])
def test_a_named_callback_lacking_a_required_argument_is_named_as_written(
        command, tmp_path, capsys):
    # LightningCLI refuses the node (in its own list form) before anything runs; ours said
    # it by its place in the list the mapping is built into, a key never written: was
    # "trainer.callbacks[1]: EarlyStopping: the config does not give required argument
    # 'monitor'; set trainer.callbacks[1].init_args.monitor"
    stopping = {"class_path": EARLY_STOPPING, "init_args": {"patience": 3}}
    cfg = config(tmp_path / "run")
    cfg["trainer"]["callbacks"] = [{"class_path": CHECKPOINT}, stopping]
    theirs = _lightningcli_refuses(_write(tmp_path / "cli.yaml", _lightningcli_part(cfg)),
                                   capsys)
    assert "the following arguments are required: monitor" in theirs, theirs
    cfg["trainer"]["callbacks"] = {"model_checkpoint": {"class_path": CHECKPOINT},
                                   "early_stopping": stopping}
    path = _write(tmp_path / f"{command}.yaml", cfg)
    assert main([command, str(path), "--print_config"]) == 2
    err = capsys.readouterr().err
    assert "trainer.callbacks.early_stopping: EarlyStopping: the config does not give " \
           "required argument 'monitor'; set trainer.callbacks.early_stopping.init_args." \
           "monitor" in err, err
    assert "callbacks[1]" not in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["search", "fit"])
def test_a_named_callbacks_dry_build_error_names_the_key_as_written(command, tmp_path, capsys):
    # LightningCLI builds the node as the list it is written in; ours said the list the
    # mapping is built into before the message: was "trainer.callbacks=[{'class_path':
    # 'lightning.pytorch.callbacks.EarlyStopping', ...}]: trainer.callbacks.early_stopping:
    # EarlyStopping: ...; or, if it is to be called later ..., add `_partial_: true` to its
    # node" (a Trainer's callback is an instance: no partial), and, for an argument the
    # callback refuses, that list alone
    lacking = {"class_path": EARLY_STOPPING, "init_args": {"patience": 3}}
    cfg = config(tmp_path / "run")
    cfg["trainer"]["callbacks"] = [{"class_path": CHECKPOINT}, lacking]
    theirs = _lightningcli_refuses(_write(tmp_path / "cli.yaml", _lightningcli_part(cfg)),
                                   capsys)
    assert "the following arguments are required: monitor" in theirs, theirs
    cfg["trainer"]["callbacks"] = {"model_checkpoint": {"class_path": CHECKPOINT},
                                   "early_stopping": lacking}
    assert main([command, str(_write(tmp_path / "a.yaml", cfg)), "--print_config"]) == 2
    err = capsys.readouterr().err
    assert f"{command}: error: trainer.callbacks.early_stopping: EarlyStopping: the config " \
           f"does not give required argument 'monitor'; set trainer.callbacks.early_stopping" \
           f".init_args.monitor; found building the Trainer" in err, err
    lacking["init_args"] = {"monitor": "val_loss", "mode": "bad"}
    assert main([command, str(_write(tmp_path / "b.yaml", cfg)), "--print_config"]) == 2
    err = capsys.readouterr().err
    assert f"{command}: error: trainer.callbacks.early_stopping.mode='bad': " \
           f"MisconfigurationException: `mode` can be min, max, got bad; found building " \
           f"the Trainer" in err, err
    assert not (tmp_path / "run").exists()


def test_a_list_at_a_top_level_callbacks_key_is_said_by_its_place():
    # only the Trainer's lists are the config's named mappings: a top-level `callbacks`
    # (a Hydra job config's group, no Trainer's) keeps its place within names_said
    node = {"class_path": EARLY_STOPPING, "init_args": {"patience": 3}}
    with names_said({"callbacks": ["early_stopping"]}), pytest.raises(ConfigError) as info:
        instantiate({"callbacks": [node]})
    assert str(info.value).startswith("callbacks[0]: EarlyStopping: "), info.value


# ------------------------------------------------------------------- seed_everything: null
@pytest.mark.parametrize("command", ["search", "fit"])
def test_seed_everything_null_on_the_command_line_is_refused_as_lightningcli_refuses_it(
        command, tmp_path, capsys):
    # LightningCLI: "Parser key "seed_everything": ... Expected a <class 'bool'> ... Expected
    # a <class 'int'> ... Given value: None"; was: taken, the search seeded with 0 as though
    # the key were left out, where the config file said 7
    cfg = config(tmp_path / "run")
    path = _write(tmp_path / "search.yaml", cfg)
    theirs = _lightningcli_refuses(_write(tmp_path / "cli.yaml", _lightningcli_part(cfg)),
                                   capsys, "--seed_everything=null")
    assert 'Parser key "seed_everything"' in theirs and "Given value: None" in theirs, theirs
    assert main([command, str(path), "--seed_everything=null", "--print_config"]) == 2
    err = capsys.readouterr().err
    assert f"lightning-nas {command}: error: --seed_everything=null: LightningCLI refuses " \
           f"it too; give an integer from 0 to 4294967295 (the seed), true (a drawn seed) " \
           f"or false (no seeding), or leave it out for the config's (7)" in err, err


def test_seed_everything_null_in_a_file_seeds_with_0_as_lightningcli_seeds(
        tmp_path, monkeypatch):
    # LightningCLI takes a file's null, seed_everything(None): seed 0 (PL_GLOBAL_SEED unset);
    # so do the search's optimizer and trials, a later file's null over an earlier seed too
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)  # restored after LightningCLI's
    cfg = config(tmp_path / "run")
    first = _write(tmp_path / "search.yaml", cfg)
    null = _write(tmp_path / "null.yaml", {"seed_everything": None})
    cli = LightningCLI(run=False, save_config_callback=None, args=[
        "--config", str(_write(tmp_path / "cli.yaml", _lightningcli_part(cfg))),
        "--config", str(null)])
    assert cli.config["seed_everything"] == 0 and os.environ["PL_GLOBAL_SEED"] == "0"
    search = search_from_config(load_config([first, null]))
    assert search.settings.goal.seed == 0


# ------------------------------------------------- dict_kwargs naming an init_args argument
def _lightningcli_model(tmp_path: Path, cfg: dict[str, Any], *args: str,
                        files: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """The model node plain LightningCLI builds from ``cfg``, later ``files`` and ``args``,
    with only the arguments ours holds (LightningCLI writes every default)."""
    later = [f"--config={_write(tmp_path / f'cli_{i}.yaml', part)}"
             for i, part in enumerate(files)]
    path = _write(tmp_path / "cli.yaml", _lightningcli_part(cfg))
    return cli_built(path, *later, *args)["model"]


@pytest.mark.parametrize(("files", "args", "depth"), [
    ((), ["--model.dict_kwargs.depth=2"], 2),
    ((), ["--model.dict_kwargs={depth: 2}"], 2),
    ((), ["--model.init_args.depth=3", "--model.dict_kwargs.depth=2"], 2),
    ((), ["--model.dict_kwargs.depth=2", "--model.init_args.depth=3"], 3),
    (({"model": {"dict_kwargs": {"depth": 2}}},), [], 2),
    (({"model": {"class_path": "tests.helpers.TinyNet", "dict_kwargs": {"depth": 2}}},), [], 2),
], ids=["override", "whole", "after-init-args", "before-init-args", "file", "file-node"])
def test_dict_kwargs_naming_an_init_argument_set_it_as_lightningcli_moves_them(
        files, args, depth, tmp_path):
    # jsonargparse moves a dict_kwargs key the class names into init_args, over the value
    # there; was refused: "model: depth given in both init_args and dict_kwargs; give each
    # argument once"
    cfg = config(tmp_path / "run")
    cfg["model"]["init_args"]["depth"] = 4
    theirs = _lightningcli_model(tmp_path, cfg, *args, files=files)
    assert theirs["init_args"]["depth"] == depth and "dict_kwargs" not in theirs
    paths = [_write(tmp_path / "search.yaml", cfg),
             *(_write(tmp_path / f"part_{i}.yaml", part) for i, part in enumerate(files))]
    ours = load_config(paths, args)["model"]
    assert ours == {"class_path": "tests.helpers.TinyNet",
                    "init_args": {"lr": 0.1, "depth": depth}}, ours


def test_a_nested_nodes_dict_kwargs_naming_its_argument_set_it_as_lightningcli(tmp_path):
    # was refused: "model.net: lin1_size given in both init_args and dict_kwargs; ..."
    cfg = lightningcli(tmp_path, {"lin1_size": 16}, {"lr": 0.01})
    cfg["search"]["space"] = {"model.net.lin2_size": {"choice": [32, 64]}}
    theirs = _lightningcli_model(tmp_path, cfg, "--model.net.dict_kwargs.lin1_size=8")
    assert theirs["init_args"]["net"]["init_args"]["lin1_size"] == 8
    ours = load_config(_write(tmp_path / "search.yaml", cfg),
                       ["--model.net.dict_kwargs.lin1_size=8"])["model"]["init_args"]["net"]
    assert ours == {"class_path": "examples.lightningcli.model.MLP",
                    "init_args": {"lin1_size": 8}}, ours


def test_one_node_giving_an_argument_in_both_init_args_and_dict_kwargs_says_what_to_write(
        tmp_path):
    # LightningCLI takes dict_kwargs' value over init_args' without a word; two values side
    # by side have no later one to prefer, so ours refuses them, saying the one key to write
    cfg = config(tmp_path / "run")
    cfg["model"] |= {"init_args": {"lr": 0.1, "depth": 4}, "dict_kwargs": {"depth": 2}}
    assert _lightningcli_model(tmp_path, cfg)["init_args"]["depth"] == 2
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path / "search.yaml", cfg))
    assert str(info.value).startswith(
        "model: depth given in both init_args (4) and dict_kwargs (2); TinyNet takes it by "
        "name, so give it once, under init_args: model.init_args.depth (LightningCLI would "
        "take dict_kwargs' 2)"), info.value


def test_a_space_key_through_dict_kwargs_sets_the_argument_the_config_holds_in_init_args(
        tmp_path):
    # the config's init_args.depth (or its dict_kwargs.depth, moved there as LightningCLI
    # moves it) searched as model.dict_kwargs.depth; was refused: "space key
    # 'model.dict_kwargs.depth' may take 1, 2: model: depth given in both init_args and
    # dict_kwargs"
    cfg = config(tmp_path / "run")
    cfg["model"]["init_args"]["depth"] = 4
    cfg["search"]["space"] = {"model.dict_kwargs.depth": {"choice": [1, 2]}}
    search = search_from_config(load_config(_write(tmp_path / "search.yaml", cfg)))
    assert search.space.names() == ["model.dict_kwargs.depth"]
    assert not (tmp_path / "run").exists()

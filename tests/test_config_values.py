"""Values converted as jsonargparse converts them (enums, paths, tuples), ``dict_kwargs``
beside ``init_args``, an ``init_args`` that is no mapping and a later file's empty section
refused, and a class changed by an override or a later file keeping the arguments
LightningCLI keeps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lightning_nas.cli import main
from lightning_nas.config.load import load_config
from lightning_nas.errors import ConfigError
from lightning_nas.search.from_config import search_from_config
from tests.helpers_config import (
    config,
)


def test_enum_path_and_tuple_values_are_converted_as_lightningcli_converts_them(tmp_path):
    # was: checked as jsonargparse checks them, never converted: the model got 'tanh', a
    # str path and lists, and every trial failed before training ("search.space.act='tanh':
    # AttributeError: 'str' object has no attribute 'value'"), as did fit and finetune
    import torch

    from tests.helpers_models import Act, TypedNet

    run = tmp_path / "run"
    cfg = config(run)
    cfg["model"] = {"class_path": "tests.helpers.TypedNet",
                    "init_args": {"out_dir": str(tmp_path), "sizes": [4, 4], "pair": [1, 2]}}
    cfg["search"].update(space={"act": {"choice": ["relu", "tanh"]}}, optimizer="RandomSearch")
    path = tmp_path / "typed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["search", str(path)]) == 0  # TypedNet refuses a str, a list
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["arch"]["act"] in ("relu", "tanh")  # kept as the YAML wrote it
    exported = yaml.safe_load((run / "best_config.yaml").read_text())
    assert exported["model"]["init_args"] == {"out_dir": str(tmp_path), "sizes": [4, 4],
                                              "pair": [1, 2], "act": best["arch"]["act"]}
    # the checkpoint keeps the config's values, and is rebuilt converted, as LightningCLI's
    hparams = torch.load(run / "best.ckpt", weights_only=False)["hyper_parameters"]
    assert (hparams["act"], hparams["sizes"]) == (best["arch"]["act"], [4, 4])
    model = TypedNet.load_from_checkpoint(run / "best.ckpt")
    assert model.hparams.act is Act[best["arch"]["act"]]
    assert main(["fit", str(run / "best_config.yaml"), "--out", str(tmp_path / "fit")]) == 0
    assert main(["finetune", str(run), "--max_epochs", "1"]) == 0
    with pytest.raises(ConfigError, match=r"model.act='gelu': expected Act \(the annotation"):
        search_from_config(load_config(path, ["--search.space.act={choice: [gelu, tanh]}"])).run()


def test_dict_kwargs_beside_init_args_are_read_as_lightningcli_reads_them(tmp_path, capsys):
    # was: "unknown key(s) ['dict_kwargs'] beside class_path", though LightningCLI takes
    # there the arguments a class takes only through **kwargs (NASModule's arch keys)
    import torch

    run = tmp_path / "run"
    cfg = config(run)
    cfg["model"] = {"class_path": "lightning_nas.NASModule",
                    "init_args": {"builder": "tests.helpers.build_mlp", "num_classes": 3},
                    "dict_kwargs": {"width": 4}}
    cfg["search"]["space"] = {"model.dict_kwargs.width": {"choice": [4, 8]},
                              "lr": {"choice": [0.01, 0.1]}}
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(cfg))
    # an override or a space key reaches it with or without the dict_kwargs level
    loaded = load_config(path, ["--search.space.model.dict_kwargs.width={choice: [5, 6]}",
                                "--model.extra=1", "--model.dict_kwargs.more=2"],
                         searched=False)
    assert loaded["model"]["dict_kwargs"] == {"width": 4, "more": 2}
    assert loaded["model"]["init_args"]["extra"] == 1
    assert main(["search", str(path), "--model.width=6"]) == 2
    assert "sets a key the search space searches ('model.dict_kwargs.width')" in \
        capsys.readouterr().err
    result = search_from_config(load_config(path)).run()
    assert [t.status.value for t in result.trials] == ["COMPLETED", "COMPLETED"]
    exported = yaml.safe_load((run / "best_config.yaml").read_text())["model"]
    assert exported["dict_kwargs"] == {"width": result.best.arch["model.dict_kwargs.width"]}
    assert main(["fit", str(run / "best_config.yaml"), "--model.width=5",
                 "--out", str(tmp_path / "fit")]) == 0
    hparams = torch.load(tmp_path / "fit" / "best.ckpt", weights_only=False)["hyper_parameters"]
    assert hparams["width"] == 5
    cfg["search"]["run_dir"] = str(tmp_path / "bad")
    for bad, needle in (({"dict_kwargs": [4]}, "model.dict_kwargs: expected a mapping"),
                        ({"dict_kwargs": {"num_classes": 3}},
                         r"model: num_classes given in both init_args \(3\) and dict_kwargs "
                         r"\(3\); NASModule takes it by name, so give it once, under "
                         r"init_args: model.init_args.num_classes")):
        cfg["model"].update(bad)
        path.write_text(yaml.safe_dump(cfg))
        with pytest.raises(ConfigError, match=needle):
            search_from_config(load_config(path)).run()
        assert not (tmp_path / "bad").exists()


def test_an_init_args_that_is_no_mapping_is_refused_not_dropped(tmp_path, capsys):
    # was: `init_args: [1, 2]` (or a string, a number, true) was read as no arguments, and
    # the search trained every trial without the model's, the data's or a callback's values
    run = tmp_path / "run"
    for section, bad, needle in (
            ("model", [1, 2], "model.init_args: expected a mapping, got [1, 2]"),
            ("model", "lr=0.1", "model.init_args: expected a mapping, got 'lr=0.1'"),
            ("data", 32, "data.init_args: expected a mapping, got 32"),
            ("trainer", ["val_acc"], "trainer.callbacks[0].init_args: expected a mapping")):
        cfg = config(run)
        if section == "trainer":
            cfg["trainer"]["callbacks"] = [{
                "class_path": "lightning.pytorch.callbacks.EarlyStopping", "init_args": bad}]
        else:
            cfg[section]["init_args"] = bad
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(cfg))
        assert main(["search", str(path)]) == 2
        assert needle in capsys.readouterr().err
        assert not run.exists()


def test_a_later_files_empty_section_is_refused_not_merged_as_nothing(tmp_path):
    # was: `trainer:` with its keys commented out replaced the earlier trainer whole, so
    # trials ran with Lightning's defaults (1000 epochs, any accelerator) without a word
    base, later = tmp_path / "base.yaml", tmp_path / "later.yaml"
    base.write_text(yaml.safe_dump(config(tmp_path / "run")))
    later.write_text("trainer:\n#   max_epochs: 3\n")
    with pytest.raises(ConfigError, match=re.escape(
            f"{later}: section 'trainer' is empty (null: its keys commented out?), and it "
            f"would replace the trainer an earlier config file gives (limit_train_batches, "
            f"max_epochs) with nothing")):
        load_config([base, later])
    later.write_text("trainer:\n  max_epochs: 3\n")  # keys: merged over the earlier ones
    assert load_config([base, later])["trainer"] == {"max_epochs": 3, "limit_train_batches": 1}


def _lightningcli_config(*args: str) -> dict:
    """The config plain LightningCLI (as ``examples/lightningcli/main.py`` runs it) reads from
    ``args``, parsed in this process (``run=False``: no subcommand, nothing trained)."""
    from lightning.pytorch.cli import LightningCLI

    cli = LightningCLI(save_config_callback=None, run=False, args=list(args))
    return yaml.safe_load(cli.parser.dump(cli.config, skip_none=False))


def test_a_class_changed_by_an_override_or_a_later_file_keeps_its_arguments_as_lightningcli(
        tmp_path, capsys):
    # was: --model.optimizer=torch.optim.SGD over Adam {lr: 0.003} trained at SGD's default lr
    # 0.001, and a later file's SGD over Adam {lr: 0.003, amsgrad: true} was refused ("amsgrad:
    # not an argument of SGD.__init__"); LightningCLI keeps lr 0.003, drops amsgrad
    pytest.importorskip("jsonargparse")
    pytest.importorskip("sklearn")
    import torch

    train = Path(__file__).resolve().parents[1] / "examples" / "lightningcli" / "train.yaml"
    ams, sgd, space = tmp_path / "adam_ams.yaml", tmp_path / "to_sgd.yaml", tmp_path / "s.yaml"
    ams.write_text("model: {init_args: {optimizer: {class_path: torch.optim.Adam, "
                   "init_args: {lr: 0.003, amsgrad: true}}}}\n")
    sgd.write_text("model: {init_args: {optimizer: {class_path: torch.optim.SGD, "
                   "init_args: {momentum: 0.9}}}}\n")
    space.write_text(yaml.safe_dump({"search": {
        "space": {"model.net.lin1_size": {"choice": [16, 32]}}, "budget": 1, "verbose": False,
        "run_dir": str(tmp_path / "run")}}))

    def optimizer(cfg: dict) -> dict:
        return cfg["model"]["init_args"]["optimizer"]

    files = [str(p) for p in (train, ams, sgd)]
    plain = _lightningcli_config(*(arg for f in files for arg in ("--config", f)))
    assert optimizer(load_config([*files, space])) == {
        "class_path": "torch.optim.SGD", "init_args": {"lr": 0.003, "momentum": 0.9}}
    assert optimizer(plain)["class_path"] == "torch.optim.SGD"
    assert (optimizer(plain)["init_args"]["lr"], optimizer(plain)["init_args"]["momentum"],
            "amsgrad" in optimizer(plain)["init_args"]) == (0.003, 0.9, False)
    for override in ("--model.optimizer=torch.optim.SGD",
                     "--model.init_args.optimizer.class_path=torch.optim.SGD",
                     "--model.optimizer={class_path: torch.optim.SGD}"):
        assert optimizer(load_config([train, space], [override])) == {
            "class_path": "torch.optim.SGD", "init_args": {"lr": 0.003}}, override
    plain = _lightningcli_config("--config", str(train), "--model.optimizer=torch.optim.SGD")
    assert optimizer(plain)["class_path"] == "torch.optim.SGD"
    assert optimizer(plain)["init_args"]["lr"] == 0.003
    # the same class again keeps its arguments too (was: Adam at its default lr)
    assert optimizer(load_config([train, space], ["--model.optimizer=torch.optim.Adam"])) == {
        "class_path": "torch.optim.Adam", "init_args": {"lr": 0.003}}
    # and the trial trains with them
    assert main(["search", str(train), str(space), "--model.optimizer=torch.optim.SGD",
                 "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
                 "--trainer.limit_val_batches=1"]) == 0, capsys.readouterr().err
    ckpt = torch.load(tmp_path / "run" / "best.ckpt", weights_only=False)
    group = ckpt["optimizer_states"][0]["param_groups"][0]
    assert (group["lr"], "amsgrad" in group) == (0.003, False)


@pytest.mark.parametrize(("model", "change", "kept"), [
    # **kwargs passed on to TinyNet: its arguments kept, as jsonargparse follows them
    ({"class_path": "tests.helpers.TinyNet", "init_args": {"width": 8, "lr": 0.1, "depth": 2}},
     ["--model=tests.helpers.ConfigureModelNet"], {"width": 8, "lr": 0.1, "depth": 2}),
    # a name the new class takes, of another type (width: str), is dropped too
    ({"class_path": "tests.helpers.TinyNet", "init_args": {"width": 8, "lr": 0.1, "depth": 2}},
     ["--model.class_path=tests.helpers.NamedWidthNet"], {"lr": 0.1}),
    ({"class_path": "tests.helpers.TinyNet", "init_args": {"width": 8, "lr": 0.1, "depth": 2}},
     [{"model": {"class_path": "tests.helpers.NamedWidthNet",
                 "init_args": {"width": "large"}}}], {"width": "large", "lr": 0.1}),
    # dict_kwargs stay, those the new class names as its arguments, as jsonargparse moves them
    ({"class_path": "lightning_nas.NASModule", "init_args": {
        "builder": "tests.helpers.build_mlp", "lr": 0.01}, "dict_kwargs": {"width": 4}},
     [{"model": "tests.helpers.TinyNet"}], {"lr": 0.01, "width": 4}),
    ({"class_path": "lightning_nas.NASModule", "init_args": {
        "builder": "tests.helpers.build_mlp", "lr": 0.01}, "dict_kwargs": {"width": 4}},
     ["--model.class_path=tests.helpers.ConfigureModelNet"], {"lr": 0.01, "width": 4}),
])
def test_a_changed_class_keeps_the_arguments_jsonargparse_keeps(tmp_path, model, change, kept):
    jsonargparse = pytest.importorskip("jsonargparse")
    import lightning.pytorch as pl

    first = tmp_path / "first.yaml"
    first.write_text(yaml.safe_dump({"model": model}))
    files, overrides = [first], [c for c in change if isinstance(c, str)]
    for i, part in enumerate(c for c in change if isinstance(c, dict)):
        files.append(tmp_path / f"later{i}.yaml")
        files[-1].write_text(yaml.safe_dump(part))
    ours = load_config(files, overrides, searched=False)["model"]
    parser = jsonargparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--config", action="config")
    parser.add_argument("--model", type=pl.LightningModule)
    theirs = yaml.safe_load(parser.dump(parser.parse_args(
        [arg for f in files for arg in ("--config", str(f))] + overrides)))["model"]
    assert ours["init_args"] == kept
    assert ours["class_path"] == theirs["class_path"]
    assert ours.get("dict_kwargs") == theirs.get("dict_kwargs")
    for key, value in model["init_args"].items():  # kept with its value, or the default
        assert (theirs["init_args"].get(key) == ours["init_args"][key] if key in kept else
                theirs["init_args"].get(key) != value), key

"""LightningCLI's automatic ``optimizer:`` / ``lr_scheduler:`` sections in a search config:
each trial's model gets LightningCLI's configure_optimizers (real Trainer, tiny model)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml

from lightning_nas.cli import main
from lightning_nas.config.load import load_config
from lightning_nas.errors import ConfigError
from lightning_nas.search.from_config import search_from_config
from tests.helpers import BlobData
from tests.helpers_no_optim import NoOptimNet

torch.set_num_threads(1)


def _config(tmp_path: Path, **extra: object) -> Path:
    cfg = {
        "seed_everything": 3,
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"width": 4}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 32}},
        "trainer": {"max_epochs": 2, "limit_train_batches": 1, "limit_val_batches": 1},
        "optimizer": {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.01}},
        "lr_scheduler": {"class_path": "StepLR", "init_args": {"step_size": 1, "gamma": 0.5}},
        "search": {"space": {"optimizer.init_args.lr": {"choice": [0.02, 0.04]}},
                   "budget": 2, "run_dir": str(tmp_path / "run"), "verbose": False,
                   "optimizer": "RandomSearch"},
        **extra,
    }
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_search_trials_train_with_the_configs_optimizer_and_scheduler(tmp_path, capsys):
    # was: "`optimizer: {...}` is LightningCLI's automatic configure_optimizers, which
    # lightning-nas does not apply" before any trial
    config = _config(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # as Python's own (not pytest's -W)
        assert main(["search", str(config)]) == 0
    # LightningCLI's words, as the command's own line, once for the two trials (was: a
    # UserWarning at lightning_nas/config/cli_optim.py, printed with its path)
    said = [line for line in capsys.readouterr().err.splitlines() if "overridden" in line]
    assert said == ["lightning-nas search: warning: `TinyNet.configure_optimizers` will be "
                    "overridden by `LightningCLI.configure_optimizers`."], said
    run = tmp_path / "run"
    assert main(["show", str(run), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["leaderboard"]
    archs = {row["trial"]: row["arch"] for row in rows}
    assert sorted(a["optimizer.init_args.lr"] for a in archs.values()) == [0.02, 0.04]
    for trial, arch in archs.items():  # each trial trained with its own searched lr
        state = torch.load(run / "trials" / f"trial_{trial:04d}" / "best.ckpt",
                           weights_only=False)
        group = state["optimizer_states"][0]["param_groups"][0]
        assert "betas" in group and "amsgrad" in group  # Adam's, not TinyNet's own SGD
        assert group["initial_lr"] == arch["optimizer.init_args.lr"]
        (scheduler,) = state["lr_schedulers"]  # StepLR's state, stepped each epoch
        assert scheduler["step_size"] == 1 and scheduler["gamma"] == 0.5
        assert scheduler["base_lrs"] == [arch["optimizer.init_args.lr"]]
        assert group["lr"] == pytest.approx(arch["optimizer.init_args.lr"]
                                            * 0.5 ** scheduler["last_epoch"])
    best = yaml.safe_load((run / "best_config.yaml").read_text())
    assert best["optimizer"]["class_path"] == "torch.optim.Adam"
    assert best["optimizer"]["init_args"]["lr"] in (0.02, 0.04)
    assert best["lr_scheduler"] == {"class_path": "torch.optim.lr_scheduler.StepLR",
                                    "init_args": {"step_size": 1, "gamma": 0.5}}
    # lightning-nas fit of best_config.yaml trains with them too
    out = tmp_path / "fit"
    assert main(["fit", str(run / "best_config.yaml"), "--out", str(out)]) == 0
    fitted = torch.load(next(out.glob("**/best.ckpt")), weights_only=False)
    group = fitted["optimizer_states"][0]["param_groups"][0]
    assert group["initial_lr"] == best["optimizer"]["init_args"]["lr"] and "betas" in group
    # lightning-nas finetune trains the best architecture again with them
    assert main(["finetune", str(run), "--max_epochs", "3"]) == 0
    tuned = torch.load(run / "finetune" / "best.ckpt", weights_only=False)
    group = tuned["optimizer_states"][0]["param_groups"][0]
    assert group["initial_lr"] == best["optimizer"]["init_args"]["lr"] and "betas" in group
    assert tuned["lr_schedulers"][0]["gamma"] == 0.5
    # plain LightningCLI (the project's own script) reads the same sections
    from lightning.pytorch.cli import LightningCLI

    cli = LightningCLI(save_config_callback=None, run=False, args=[
        "--config", str(run / "best_config.yaml"),
        "--trainer.default_root_dir", str(tmp_path / "plain"), "--trainer.logger=false",
        "--trainer.enable_checkpointing=false"])
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    (optimizer,) = cli.trainer.optimizers
    assert type(optimizer) is torch.optim.Adam
    assert optimizer.param_groups[0]["initial_lr"] == best["optimizer"]["init_args"]["lr"]
    assert type(cli.trainer.lr_scheduler_configs[0].scheduler).__name__ == "StepLR"


@pytest.mark.parametrize(("extra", "message"), [
    ({"optimizer": {"class_path": "Adamm", "init_args": {"lr": 0.1}}},
     r"optimizer: unknown class 'Adamm'; did you mean Adam.*valid: .*SGD"),
    ({"optimizer": {"class_path": "torch.optim.Adam", "init_args": {"lrr": 0.1}}},
     r"optimizer.init_args.lrr: not an argument of Adam; did you mean lr\?"),
    ({"lr_scheduler": {"class_path": "ReduceLROnPlateau"}},
     r"lr_scheduler=.*ReduceLROnPlateau.*monitor"),
    ({"search": {"space": {"optimizer.init_args.lr": {"choice": [0.1, -1.0]}}, "budget": 1}},
     r"space key 'optimizer.init_args.lr' may take -1.0.*Invalid learning rate"),
])
def test_a_bad_optimizer_or_scheduler_is_refused_before_any_run_folder(tmp_path, capsys,
                                                                       extra, message):
    if "search" in extra:
        extra["search"].update(run_dir=str(tmp_path / "run"), verbose=False)
    config = _config(tmp_path, **extra)
    assert main(["search", str(config)]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match=message):  # from Python, as the CLI reads it
        search_from_config(load_config(config))


def test_short_names_and_command_line_forms_resolve_as_lightningcli_does(tmp_path):
    config = _config(tmp_path)
    cfg = load_config(config, ["--optimizer=SGD", "--optimizer.lr=0.3",
                               "--lr_scheduler=ExponentialLR", "--lr_scheduler.gamma=0.9"],
                      searched=False)  # (a searched key's override: refused, as any)
    # (the node's arguments merged, as a class_path override over a node merges them)
    assert cfg["optimizer"] == {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.3}}
    assert cfg["lr_scheduler"]["class_path"] == "torch.optim.lr_scheduler.ExponentialLR"
    assert cfg["lr_scheduler"]["init_args"]["gamma"] == 0.9
    cfg = load_config(config, ["--lr_scheduler=ReduceLROnPlateau",
                               "--lr_scheduler.monitor=val_loss"])
    assert cfg["lr_scheduler"]["class_path"] == "lightning.pytorch.cli.ReduceLROnPlateau"


def test_reduce_on_plateau_is_returned_with_its_monitor(tmp_path):
    from lightning_nas.config.cli_optim import apply_optim, optim_sections
    from tests.helpers_models import TinyNet

    sections = optim_sections({"optimizer": "SGD", "lr_scheduler": {
        "class_path": "ReduceLROnPlateau", "init_args": {"monitor": "val_loss"}}})
    with pytest.warns(UserWarning, match="will be overridden"):
        model = apply_optim(TinyNet(), {**sections, "optimizer": {
            "class_path": "torch.optim.SGD", "init_args": {"lr": 0.1}}})
    out = model.configure_optimizers()
    assert isinstance(out["optimizer"], torch.optim.SGD)
    assert out["lr_scheduler"]["monitor"] == "val_loss"
    import pickle

    again = pickle.loads(pickle.dumps(model))  # a spawned DDP rank's copy
    assert isinstance(again.configure_optimizers()["optimizer"], torch.optim.SGD)


class OptimRecorder(pl.Callback):
    """Each rank writes the optimizer and scheduler it trains with to
    ``<trial dir>/optim<global rank>.json``."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        (optimizer,) = trainer.optimizers
        info = {"optimizer": type(optimizer).__name__,
                "lr": optimizer.param_groups[0]["initial_lr"],
                "schedulers": [type(c.scheduler).__name__
                               for c in trainer.lr_scheduler_configs],
                "intervals": [c.interval for c in trainer.lr_scheduler_configs]}
        Path(trainer.default_root_dir, f"optim{trainer.global_rank}.json").write_text(
            json.dumps(info))


@pytest.mark.slow
def test_ddp_ranks_train_with_the_trials_optimizer(tmp_path):
    # the spec carries the sections as plain data: rank 1, a process of its own, builds
    # the same optimizer and scheduler as rank 0, with the trial's searched lr
    config = _config(tmp_path, trainer={
        "accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 1,
        "limit_train_batches": 1, "limit_val_batches": 1,
        "callbacks": [{"class_path": "tests.test_cli_optimizer.OptimRecorder"}]},
        model={"class_path": "tests.helpers.SyncedTinyNet", "init_args": {"width": 4}})
    cfg = yaml.safe_load(config.read_text())
    cfg["search"]["budget"] = 1
    config.write_text(yaml.safe_dump(cfg))
    assert main(["search", str(config)]) == 0
    (trial_dir,) = (tmp_path / "run" / "trials").glob("trial_*")
    ranks = [json.loads((trial_dir / f"optim{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]
    assert ranks[0]["optimizer"] == "Adam" and ranks[0]["schedulers"] == ["StepLR"]
    assert ranks[0]["lr"] in (0.02, 0.04)


def test_the_search_clis_own_configure_optimizers_returns_each_trials_optimizers(tmp_path,
                                                                                 capsys):
    # a CLI of the project's (search.cli) may override LightningCLI.configure_optimizers,
    # as LightningCLI's documentation shows, to step the scheduler each batch; its
    # `python main.py fit --config best_config.yaml` does (was: each trial, `lightning-nas
    # fit` and a fine-tune stepped it each epoch, LightningCLI's own return: another score)
    config = _config(tmp_path, trainer={
        "max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1,
        "callbacks": [{"class_path": "tests.test_cli_optimizer.OptimRecorder"}]},
        data={"class_path": "tests.helpers.BlobData", "init_args": {"n": 32, "batch_size": 16}})
    cfg = yaml.safe_load(config.read_text())
    cfg["search"].update(budget=1, cli="tests.helpers_cli_links.StepIntervalCLI")
    config.write_text(yaml.safe_dump(cfg))
    assert main(["search", str(config)]) == 0
    run = tmp_path / "run"
    (trial_dir,) = (run / "trials").glob("trial_*")
    assert json.loads((trial_dir / "optim0.json").read_text())["intervals"] == ["step"]
    said = [line for line in capsys.readouterr().err.splitlines() if "overridden" in line]
    assert said == ["lightning-nas search: warning: `TinyNet.configure_optimizers` will be "  # as
                    "overridden by `StepIntervalCLI.configure_optimizers`."], said  # the CLI
    state = torch.load(trial_dir / "best.ckpt", weights_only=False)
    assert state["lr_schedulers"][0]["last_epoch"] == 2  # one step a batch, two batches
    out = tmp_path / "fit"
    assert main(["fit", str(run / "best_config.yaml"), "--out", str(out)]) == 0
    assert json.loads(next(out.glob("**/optim0.json")).read_text())["intervals"] == ["step"]
    assert main(["finetune", str(run), "--max_epochs", "1"]) == 0
    assert json.loads(next((run / "finetune").glob("**/optim0.json")).read_text())[
        "intervals"] == ["step"]


def test_torchs_reduce_on_plateau_without_a_monitor_is_refused_before_any_trial(tmp_path,
                                                                              capsys):
    # LightningCLI's configure_optimizers gives a monitor only to Lightning's subclass (its
    # `monitor` argument); torch's own is returned bare, which Lightning refuses as fit
    # starts (was: trials 1 and 2 failed, "MisconfigurationException: `configure_optimizers`
    # must include a monitor ...", the run folder written)
    plateau = {"class_path": "torch.optim.lr_scheduler.ReduceLROnPlateau",
               "init_args": {"patience": 1}}
    assert main(["search", str(_config(tmp_path, lr_scheduler=plateau))]) == 2
    err = capsys.readouterr().err
    assert "lr_scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau" in err, err
    assert "class_path: lightning.pytorch.cli.ReduceLROnPlateau" in err, err
    assert "monitor" in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


def test_fit_refuses_a_bad_optimizer_argument_before_its_folder(tmp_path, capsys):
    cfg = yaml.safe_load(_config(tmp_path).read_text())
    cfg.pop("search")
    cfg["optimizer"]["init_args"] = {"lr": 0.1, "weight_decy": 0.1}
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["fit", str(path), "--out", str(tmp_path / "fit")]) == 2
    assert re.search(r"optimizer.init_args.weight_decy: not an argument of Adam; did you mean "
                     r"weight_decay", capsys.readouterr().err)
    assert not (tmp_path / "fit").exists()


def test_a_choice_of_whole_top_level_optimizers_is_refused_naming_the_paths(tmp_path, capsys):
    # a plain space key is a model argument; TinyNet takes no `optimizer` (was: "space key
    # 'optimizer' is not an argument of TinyNet.__init__", the top-level section unnamed)
    adam = {"class_path": "torch.optim.Adam"}
    extra = {"search": {"space": {"optimizer": {"choice": [adam, {"class_path": "SGD"}]}},
                        "budget": 1, "run_dir": str(tmp_path / "run"), "verbose": False}}
    assert main(["search", str(_config(tmp_path, **extra))]) == 2
    assert "searched by its paths (optimizer.init_args.<argument>)" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("key", "said"), [
    ("optimizer.class_path", "the class of the top-level optimizer section cannot be "
                             "searched"),
    ("lr_scheduler.init_args.class_path", "the class of the top-level lr_scheduler section "
                                          "cannot be searched"),
    ("optimizer.init_args", "give each argument a key of its own: optimizer.<name>: "
                            "{choice: [...]}"),
])
def test_a_key_at_a_top_level_optimizers_node_names_a_form_that_is_taken(tmp_path, capsys,
                                                                         key, said):
    # was: "choose the node whole ...: optimizer: {choice: [{class_path: A}, ...]}" and "give
    # its arguments as a group at the node: optimizer: {name: ...}", both forms refused
    # ("space key 'optimizer' is a plain key, so an argument of the model")
    extra = {"search": {"space": {key: {"choice": ["torch.optim.Adam", "torch.optim.SGD"]}},
                        "budget": 1, "run_dir": str(tmp_path / "run"), "verbose": False}}
    assert main(["search", str(_config(tmp_path, **extra)), "--print_config"]) == 2
    err = capsys.readouterr().err
    assert said in err, err
    assert "choose the node whole" not in err and "as a group at" not in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("key", ["lr", "model.lr", "model.init_args.lr"])
def test_a_searched_model_argument_the_optimizer_section_shadows_is_warned_of(tmp_path, key):
    # was: unsaid before training: TinyNet's configure_optimizers (the one reading its lr)
    # is replaced by the config's optimizer section, as LightningCLI replaces it, so every
    # trial trained with Adam at 0.01 whatever lr it drew; only Lightning's per-trial
    # "will be overridden" warning hinted at it, in each trial.log
    cfg = load_config(_config(tmp_path, search={
        "space": {key: {"choice": [0.02, 0.04]}, "width": {"choice": [4, 8]}},
        "budget": 2, "run_dir": str(tmp_path / "run")}))
    with pytest.warns(UserWarning) as seen:
        search_from_config(cfg)
    said = [str(w.message) for w in seen if "replaces" in str(w.message)]
    assert said == [
        f"space key {key!r} sets TinyNet's argument lr, which the config's optimizer class "
        f"takes too, but that section replaces TinyNet.configure_optimizers (as LightningCLI "
        f"does), so where lr only set the optimizer a trial trains the same whatever it "
        f"draws: search optimizer.init_args.lr instead, or leave the optimizer section "
        f"out"], said


def test_no_warning_where_the_optimizer_section_shadows_no_searched_argument(tmp_path):
    import warnings

    cfg = load_config(_config(tmp_path))  # optimizer.init_args.lr searched: as meant
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        search_from_config(cfg)


_NO_OPTIM = r"model NoOptimNet has no configure_optimizers of its own .*every trial's fit"


def test_a_model_without_configure_optimizers_nor_optimizer_section_is_refused(tmp_path,
                                                                               capsys):
    # was: trials 1 and 2 failed with Lightning's "No `configure_optimizers()` method
    # defined", then the search stopped
    config = _config(tmp_path, optimizer=None, lr_scheduler=None,
                     model={"class_path": "tests.helpers_no_optim.NoOptimNet"})
    cfg = yaml.safe_load(config.read_text())
    cfg["search"]["space"] = {"width": {"choice": [4, 8]}}
    config.write_text(yaml.safe_dump(cfg))
    assert main(["search", str(config)]) == 2
    err = capsys.readouterr().err
    assert re.search(_NO_OPTIM, err), err
    assert "define NoOptimNet.configure_optimizers, or add a top-level `optimizer:`" in err
    assert not (tmp_path / "run").exists()
    cfg["search"]["cli"] = "tests.helpers_cli_links.StepIntervalCLI"  # none given to it
    with pytest.raises(ConfigError, match=_NO_OPTIM):
        search_from_config(cfg)


def test_a_python_search_of_a_model_without_configure_optimizers_is_refused(tmp_path):
    from lightning_nas import Search

    with pytest.raises(ConfigError, match=_NO_OPTIM + r".*define NoOptimNet.configure_opt"):
        Search(NoOptimNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,
               run_dir=str(tmp_path / "run"), trainer={"max_epochs": 1}, verbose=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("model", "extra"), [
    ("MixedNet", {"optimizer": None, "lr_scheduler": None}),  # a mixin's
    ("ParentNet", {"optimizer": None, "lr_scheduler": None}),  # a parent's
    ("NoOptimNet", {}),  # the optimizer section's (LightningCLI's configure_optimizers)
    ("NoOptimNet", {"search_cli": "tests.helpers_cli_links.StepIntervalCLI"}),  # the CLI's
])
def test_a_model_whose_optimizer_comes_from_elsewhere_is_searched(tmp_path, model, extra):
    extra = dict(extra)
    cli = extra.pop("search_cli", None)
    cfg = yaml.safe_load(_config(tmp_path, model={
        "class_path": f"tests.helpers_no_optim.{model}"}, **extra).read_text())
    cfg["search"].update(space={"width": {"choice": [4, 8]}}, budget=1)
    if cli is not None:
        cfg["search"]["cli"] = cli
    result = search_from_config(cfg).run()
    assert [t.status for t in result.trials] == ["COMPLETED"], result.trials

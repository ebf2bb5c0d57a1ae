"""A LightningCLI user's config and command line, audited: forms LightningCLI takes
reach each trial as written, and what cannot work is refused before training (real
Trainer, tiny model, no mocks)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas.cli import main

torch.set_num_threads(1)


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({
        "seed_everything": 3,
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"width": 4}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 32}},
        "trainer": {"max_epochs": 1, "limit_train_batches": 1, "limit_val_batches": 1,
                    "accelerator": "cpu", "enable_progress_bar": False},
        "search": {"space": {"width": {"choice": [4, 8]}}, "budget": 2,
                   "optimizer": "RandomSearch", "verbose": False,
                   "run_dir": str(tmp_path / "run")},
    }))
    return path


@pytest.mark.parametrize("command", ["search", "fit"])
def test_an_optimizer_section_given_whole_on_the_command_line_is_an_override(
        config, tmp_path, capsys, command):
    # was: "config file --optimizer={class_path: torch.optim.Adam, ...} does not exist"
    # (argparse takes an argument holding a space for a positional: the config files)
    optimizer = "--optimizer={class_path: torch.optim.Adam, init_args: {lr: 0.02}}"
    scheduler = "--lr_scheduler={class_path: StepLR, init_args: {step_size: 1, gamma: 0.5}}"
    if command == "search":
        assert main(["search", str(config), optimizer, scheduler, "--print_config"]) == 0
        cfg = yaml.safe_load(capsys.readouterr().out)
        assert cfg["optimizer"] == {"class_path": "torch.optim.Adam",
                                    "init_args": {"lr": 0.02}}
        assert cfg["lr_scheduler"]["class_path"] == "torch.optim.lr_scheduler.StepLR"
        assert cfg["lr_scheduler"]["init_args"] == {"step_size": 1, "gamma": 0.5}
        return
    out = tmp_path / "fit"
    assert main(["fit", str(config), optimizer, scheduler, "--out", str(out)]) == 0
    state = torch.load(out / "best.ckpt", weights_only=False)
    group = state["optimizer_states"][0]["param_groups"][0]
    assert "betas" in group and group["initial_lr"] == 0.02  # Adam's, at the given lr
    assert state["lr_schedulers"][0]["gamma"] == 0.5


@pytest.mark.parametrize(("argv", "got"), [
    (["--optimizer=Adam"], "--optimizer=Adam"),
    (["--optimizer", "SGD"], "--optimizer=SGD"),
    (["--lr_scheduler=StepLR"], "--lr_scheduler=StepLR"),
])
def test_finetune_refuses_an_optimizer_section_as_the_override_it_is(tmp_path, capsys, argv,
                                                                    got):
    # was: argparse took --optimizer for an abbreviation of --optimizer_state: "argument
    # --optimizer_state: invalid choice: 'Adam' (choose from 'fresh', 'restore')"
    assert main(["finetune", str(tmp_path / "none"), *argv]) == 2
    err = capsys.readouterr().err
    assert err == (f"lightning-nas finetune: error: finetune takes only --trainer.* and "
                   f"--model.* overrides (it trains the best trial's model on its data), "
                   f"got {got}\n")


def test_the_command_line_splits_off_every_section_a_config_takes():
    from lightning_nas.cli_argv import SPLIT_KEYS
    from lightning_nas.config.cli_optim import OPTIM_KEYS
    from lightning_nas.config.sections import TOP_KEYS

    assert set(SPLIT_KEYS) == {*TOP_KEYS, *OPTIM_KEYS}


def _plain_cli_fit(config: Path, root: Path, *args: str) -> dict[str, float]:
    """Train ``config`` with plain LightningCLI (as a user's ``main.py fit`` does)."""
    from lightning.pytorch.cli import LightningCLI

    cli = LightningCLI(save_config_callback=None, run=False, args=[
        "--config", str(config), "--trainer.default_root_dir", str(root),
        "--trainer.enable_checkpointing=false", *args])
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return {key: float(value) for key, value in cli.trainer.callback_metrics.items()}


def test_best_config_says_the_save_dir_a_logger_node_needs_under_plain_lightningcli(
        config, tmp_path, capsys):
    # a logger given as the README gives it, no save_dir (the search gives each trial its
    # own); was: best_config.yaml said plain LightningCLI trains it, which refuses it
    # ("the following arguments are required: save_dir"), with no word of it
    run = tmp_path / "run"
    logger = "--trainer.logger={class_path: lightning.pytorch.loggers.CSVLogger}"
    assert main(["search", str(config), logger, "--search.budget=1"]) == 0
    best = run / "best_config.yaml"
    text = best.read_text()
    assert ("# Plain LightningCLI requires a save_dir of trainer.logger (CSVLogger), which "
            "the search\n# gave each trial: add one (save_dir: lightning_logs) to train it "
            "with your own CLI;\n# lightning-nas fit logs into its output folder.\n") in text
    with pytest.raises(SystemExit):  # as the note says
        _plain_cli_fit(best, tmp_path / "plain")
    assert "the following arguments are required: save_dir" in capsys.readouterr().err
    score = yaml.safe_load((run / "best.yaml").read_text())["score"]
    metrics = _plain_cli_fit(best, tmp_path / "plain", "--trainer.logger.save_dir",
                             str(tmp_path / "plain" / "lightning_logs"))
    assert metrics["val_acc"] == pytest.approx(score)  # with the save_dir it says to add
    # a logger that gives its save_dir, or the search's own: nothing to add, nothing said
    for argv in ([], ["--trainer.logger={class_path: CSVLogger, init_args: {save_dir: "
                      f"{tmp_path / 'logs'}}}}}"]):
        out = tmp_path / f"run{len(argv)}"
        assert main(["search", str(config), *argv, "--search.budget=1",
                     f"--search.run_dir={out}"]) == 0
        assert "save_dir" not in (out / "best_config.yaml").read_text().split("\nseed")[0]


@pytest.mark.parametrize(("command", "how"), [
    ("search", "every trial trains from the start, and a search resumes from its run folder "
               "with the same command"),
    ("fit", "lightning-nas fit trains from the start, and resumes a fit of its own that was "
            "interrupted with --ckpt_path last|PATH (a checkpoint of its folder)"),
    ("oneshot", "a one-shot run trains from the start, and resumes one that died part-way "
                "with --ckpt_path last|PATH"),
])
def test_a_configs_ckpt_path_says_how_its_command_resumes(config, tmp_path, capsys, command,
                                                          how):
    # was, for each command: "every trial (and `fit`) trains from the start, and a search
    # resumes from its run folder with the same command" (fit and oneshot do take a
    # --ckpt_path, of their own folders, which it did not name)
    cfg = yaml.safe_load(config.read_text())
    cfg["ckpt_path"] = "last.ckpt"
    if command == "oneshot":
        cfg = {**{k: v for k, v in cfg.items() if k != "search"}, "oneshot": {}}
    config.write_text(yaml.safe_dump(cfg))
    assert main([command, str(config)]) == 2
    err = capsys.readouterr().err
    assert err == (f"lightning-nas {command}: error: `ckpt_path: 'last.ckpt'` is the checkpoint "
                   f"LightningCLI's fit resumes from; {how}; leave it null or remove it\n")
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", ["search", "oneshot", "fit"])
def test_print_config_with_lightningclis_flags_says_it_takes_none(config, capsys, command):
    # was: argparse's "argument --print_config: ignored explicit argument 'skip_null'"
    # (fit: "unrecognized option --print_config")
    assert main([command, str(config), "--print_config=skip_null"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"lightning-nas {command}: error: --print_config takes no value, "
                            f"got 'skip_null' (LightningCLI's comments, skip_default, "
                            f"skip_null): it prints the config as given, after the "
                            f"overrides; give --print_config alone\n")
    assert not captured.out


def test_fit_print_config_checks_the_config_as_a_fit_does_and_writes_nothing(
        config, tmp_path, capsys):
    # was: "unrecognized option --print_config; options of fit: --monitor, --mode, --out,
    # --ckpt_path" (LightningCLI's `fit --print_config`, which a user of it reaches for)
    out = tmp_path / "fit"
    assert main(["fit", str(config), "--print_config", "--trainer.max_epochs=2",
                 "--out", str(out)]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["trainer"]["max_epochs"] == 2 and cfg["model"]["init_args"] == {"width": 4}
    assert "run_dir" not in cfg["search"]  # (the search's default: no setting of a fit's)
    assert not out.exists()
    # checked as the fit checks it, before any folder: a Trainer value that cannot work
    assert main(["fit", str(config), "--print_config", "--trainer.max_epochs=0",
                 "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "max_epochs" in captured.err and not captured.out and not out.exists()


_MLP = "examples.lightningcli.model.MLP"


def _net_config(tmp_path: Path, options: list, net_args: dict) -> Path:
    """The lightningcli example's config, its net given ``net_args``, searching ``model.net``
    among ``options``."""
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump({
        "seed_everything": 0,
        "model": {"class_path": "examples.lightningcli.model.LitClassifier",
                  "init_args": {"net": {"class_path": _MLP, "init_args": net_args}}},
        "data": {"class_path": "examples.digits.data.DigitsDataModule"},
        "trainer": {"max_epochs": 1, "limit_train_batches": 1, "limit_val_batches": 1,
                    "accelerator": "cpu", "enable_progress_bar": False},
        "search": {"space": {"model.net": {"choice": options}}, "budget": 1,
                   "optimizer": "RandomSearch", "verbose": False,
                   "run_dir": str(tmp_path / "run")},
    }))
    return path


@pytest.mark.parametrize(("net_args", "also"), [
    ({"lin1_size": 64}, []),
    ({}, []),
    ({"lin1_size": 64, "dropout": 0.3}, ["--search.space.model.net.dropout={float: [0, 0.5]}"]),
    ({"lin2_size": 16, "dropout": 0.3}, []),  # (was: refused, "would be lost")
])
def test_a_chosen_node_over_what_the_config_gives_is_taken(tmp_path, capsys, net_args, also):
    # each chosen node is merged over the config's, as LightningCLI merges it (its build
    # checked against LightningCLI's in test_choice_mappings_nodes)
    options = [{"class_path": _MLP, "init_args": {"lin1_size": 32}},
               {"class_path": "torch.nn.Identity"}]
    config = _net_config(tmp_path, options, net_args)
    assert main(["search", str(config), *also, "--print_config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["search"]["space"]["model.net"]


@pytest.mark.parametrize("command", ["search", "fit"])
def test_a_search_cli_whose_other_hooks_no_trial_runs_is_warned_of(config, capsys, command):
    # a search reads search.cli's link_arguments and configure_optimizers alone, and builds
    # each trial from the config: its own __init__ (trainer_defaults) and before_fit did
    # nothing in the trials, without a word, while `python main.py fit` runs them
    cli = "tests.helpers_cli_links.HookedCLI"
    assert main([command, str(config), f"--search.cli={cli}", "--print_config"]) == 0
    err = capsys.readouterr().err
    assert f"warning: `search.cli`={cli} overrides __init__, before_fit, which a search " \
           f"does not run" in err, err
    assert "trainer_defaults" in err, err

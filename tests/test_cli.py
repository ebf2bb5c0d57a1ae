"""The ``lightning-nas`` command: search, show, export, finetune and its error messages."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
import warnings
from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas.cli import main
from lightning_nas.config.yamlio import load_yaml
from lightning_nas.results import format_score
from tests.helpers_callbacks import CtrlCAtSecondTrial
from tests.helpers_runs import validated


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({
        "seed_everything": 5,
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"depth": 1}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {"max_epochs": 5, "accelerator": "cpu", "devices": 1},
        "search": {"space": {"width": {"choice": [8, 16, 32]}, "lr": {"float": [0.05, 0.3]}},
                   "optimizer": "RandomSearch", "budget": 10,
                   "run_dir": str(tmp_path / "run")},
    }))
    return path


def test_search_show_export_finetune(config, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["search", str(config), "--search.budget=3", "--trainer.max_epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("[trial ") == 3 and "Best val_acc=" in out
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert (run / "search.db").exists() and (run / "best.ckpt").exists()

    assert main(["show", str(run)]) == 0
    shown = capsys.readouterr().out
    assert f"{best['score']:.4f}" in shown and "3 completed, 0 failed" in shown
    assert main(["show", str(run), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["best_score"] == best["score"]
    assert data["leaderboard"][0]["arch"] == best["arch"]
    assert main(["show", str(run), "--format", "csv", "--top", "2"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 2 and float(rows[0]["score"]) == best["score"]

    (run / "best.yaml").unlink()
    assert main(["export", str(run)]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["arch"] == best["arch"]
    # best_config.yaml is the search config with the best arch filled in, no search block
    best_cfg = yaml.safe_load((run / "best_config.yaml").read_text())
    assert "search" not in best_cfg
    assert best_cfg["model"]["init_args"] == {"depth": 1, **best["arch"]}
    assert best_cfg["trainer"]["max_epochs"] == 2  # the override is part of the run's config

    assert main(["finetune", str(run), "--max_epochs", "3"]) == 0
    tuned = capsys.readouterr().out
    assert (f"from trial {best['trial']}'s best.ckpt (val_acc={best['score']:.4f} in the "
            f"search; validated before training: val_acc={best['score']:.4f}) for 3 epochs "
            f"with 1 torch thread (as this process runs): best val_acc=") in tuned
    # each metric as a score (was: the raw dict, "{'val_acc': 0.1, 'val_loss': ...}")
    (said,) = [line for line in tuned.splitlines() if line.startswith("metrics of that epoch")]
    assert re.fullmatch(r"metrics of that epoch: ([\w/]+=(\d+\.\d{4}|\S+e-\d+)(, |$))+", said), said
    assert "val_acc=" in said and "val_loss=" in said
    assert (run / "finetune" / "best.ckpt").exists()


def test_paths_with_a_tilde_are_in_the_home_folder(tmp_path, monkeypatch, capsys):
    # was: run_dir ~/nas/digits (as YAML, or any quoted path) stayed literal: search.db and
    # best.* went into ./~/nas/digits while Lightning wrote the trials' checkpoints into
    # $HOME/nas/digits, so best.yaml said checkpoint: null and finetune failed
    home, work = tmp_path / "home", tmp_path / "work"
    (home / "cfg").mkdir(parents=True)
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    (home / "cfg" / "space.yaml").write_text("width: {choice: [4, 8]}\n")
    (home / "cfg" / "search.yaml").write_text(yaml.safe_dump({
        "model": "tests.helpers.TinyNet", "data": "tests.helpers.BlobData",
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False},
        "search": {"space": "~/cfg/space.yaml", "optimizer": "RandomSearch", "budget": 1,
                   "run_dir": "~/nas/digits", "verbose": False}}))
    assert main(["search", "~/cfg/search.yaml"]) == 0
    run = home / "nas" / "digits"
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["checkpoint"] and (run / best["checkpoint"]).is_file()
    assert (run / "search.db").is_file() and list(run.glob("trials/*/best.ckpt"))
    capsys.readouterr()
    assert main(["show", "~/nas/digits", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["leaderboard"][0]["arch"] == best["arch"]
    assert main(["export", "~/nas/digits"]) == 0
    assert main(["finetune", "~/nas/digits", "--max_epochs", "1"]) == 0
    assert (run / "finetune" / "best.ckpt").is_file()
    assert main(["fit", "~/nas/digits/best_config.yaml", "--out", "~/fit"]) == 0
    assert (home / "fit" / "best.ckpt").is_file()
    assert main(["report", "~/nas/digits", "--out", "~/report"]) == 0
    assert (home / "report" / "report.html").is_file()
    assert not (work / "~").exists()


def test_print_config_applies_overrides(config, capsys):
    assert main(["search", str(config), "--print_config", "--search.budget=2",
                 "--model.depth=2"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["search"]["budget"] == 2
    assert cfg["model"]["init_args"] == {"depth": 2}
    # a top-level key before the config, its value apart: was "'--seed_everything' has no
    # value" (argparse gave the 3 to the config files)
    assert main(["search", "--seed_everything", "3", str(config), "--print_config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["seed_everything"] == 3


def test_the_top_level_keys_the_command_line_splits_off_are_the_configs():
    from lightning_nas.cli_argv import TOP_KEYS as SPLIT_OFF
    from lightning_nas.config.load import TOP_KEYS

    assert SPLIT_OFF == TOP_KEYS


def test_a_batch_size_of_0_is_refused_before_the_run_folder(config, tmp_path, capsys):
    # was: trials 1 and 2 failed in their train_dataloader ("batch_size should be a
    # positive integer value, but got batch_size=0"), then "failed the same way in
    # training" stopped the search, its run folder and two failed trials written
    assert main(["search", str(config), "--data.batch_size=0"]) == 2
    assert "data.batch_size=0: a DataLoader's batch_size must be an integer >= 1" in \
        capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override, message", [
    ("--data.loader={batch_size: 0}", "data.loader.batch_size=0: a DataLoader's batch_size "
                                      "must be an integer >= 1"),
    ("--data.num_workers=-1", "data.num_workers=-1: a DataLoader's num_workers must be an "
                              "integer >= 0"),
], ids=["nested-batch_size", "num_workers"])
def test_loader_arguments_torch_refuses_are_refused_before_the_run_folder(
        config, tmp_path, capsys, override, message):
    # was: let be (only a top-level batch_size below 1 was refused): trials 1 and 2 failed
    # in their train_dataloader, then "failed the same way" stopped the search
    cfg = yaml.safe_load(config.read_text())
    cfg["data"] = {"class_path": "tests.helpers.LoaderArgsData",
                   "init_args": {"loader": {"batch_size": 32}}}
    config.write_text(yaml.safe_dump(cfg))
    assert main(["search", str(config), override]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override, message", [
    ("--search.budjet=5", "unknown search setting 'budjet'; did you mean 'budget'?"),
    ("--model.dept=2", "init_args key 'dept' is not an argument of TinyNet.__init__; "
                        "did you mean 'depth'?"),
    ("--search.budget=five", "`budget` must be a positive integer or null, got 'five'"),
])
def test_print_config_checks_the_config_as_a_run_does(config, tmp_path, capsys, override,
                                                      message):
    # was: printed and exit 0, while the run itself refused the config
    assert main(["search", str(config), "--print_config", override]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
    assert not (tmp_path / "run").exists()  # nothing written


def test_print_config_writes_no_anchors_and_quotes_number_like_strings(tmp_path, capsys):
    path = tmp_path / "anchors.yaml"
    path.write_text("model: tests.helpers.TinyNet\ndata: tests.helpers.BlobData\n"
                    "trainer: {max_epochs: 1, accelerator: cpu, devices: 1}\n"
                    "search: {space: {width: {choice: &w [8, 16]}, depth: {choice: *w}},\n"
                    f"         run_dir: '{tmp_path / '1e-3'}', optimizer: RandomSearch}}\n")
    assert main(["search", str(path), "--print_config", "--search.monitor='1e-3'",
                 "--search.mode=max"]) == 0
    out = capsys.readouterr().out
    assert "&id" not in out and "*id" not in out  # was: choice: &id001 ... choice: *id001
    cfg = load_yaml(out)
    assert cfg["search"]["space"]["depth"] == {"choice": [8, 16]}
    assert cfg["search"]["monitor"] == "1e-3"  # was: read back as 0.001


@pytest.mark.parametrize("override", ["--model.width=64", "--model.init_args.width=64"])
def test_an_override_of_a_searched_key_is_refused(config, capsys, override):
    # every trial took the space's value: the override was ignored without a word
    assert main(["search", str(config), override]) == 2
    err = capsys.readouterr().err
    assert "sets a key the search space searches ('width')" in err
    assert "--search.space.width={fixed: 64}" in err


def test_a_config_dict_whose_searched_group_drops_keys_is_refused_before_training(
        tmp_path, capsys):
    # was: trained, every trial (best_config.yaml, the checkpoint) without `nesterov: true`
    run = tmp_path / "run"
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.DictArgNet",
                  "init_args": {"opt_cfg": {"momentum": 0.9, "nesterov": True}}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 64}},
        "trainer": {"max_epochs": 1, "limit_train_batches": 1, "accelerator": "cpu"},
        "search": {"space": {"opt_cfg": {"momentum": {"choice": [0.5, 0.8]}}}, "budget": 1,
                   "monitor": "val_acc", "run_dir": str(run), "verbose": False},
    }))
    assert main(["search", str(path)]) == 2
    err = capsys.readouterr().err
    assert ("model.init_args.opt_cfg has the key nesterov, which the search space's group "
            "'opt_cfg' does not set: the group gives every trial model.init_args.opt_cfg as a "
            "whole, so it would be lost. To fix it, add {nesterov: {fixed: true}} to the group "
            "'opt_cfg' in search.space (--search.space.opt_cfg.nesterov={fixed: true})") in err
    assert "Traceback" not in err and not run.exists()  # nothing trained, nothing written
    # `fit` trains the config as it is (its space sets nothing): nothing to lose, no refusal
    assert main(["fit", str(path), f"--out={tmp_path / 'fit'}"]) == 0
    assert main(["fit", str(path), "--model.opt_cfg.nesterov=false",
                 f"--out={tmp_path / 'fit2'}"]) == 0
    assert main(["fit", str(path), "--search.space=missing_space.yaml",  # not read either
                 f"--out={tmp_path / 'fit3'}"]) == 0
    # the fix it names: every trial keeps nesterov
    assert main(["search", str(path), "--search.space.opt_cfg.nesterov={fixed: true}"]) == 0
    opt_cfg = yaml.safe_load((run / "best_config.yaml").read_text())["model"]["init_args"][
        "opt_cfg"]
    assert opt_cfg["nesterov"] is True and opt_cfg["momentum"] in (0.5, 0.8)
    ckpt = torch.load(run / "best.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["hyper_parameters"]["opt_cfg"] == opt_cfg


@pytest.mark.parametrize("override, message", [
    ("--search.optimizer=NGOp", "unknown optimizer 'NGOp'; close names: NGOpt"),
    ("--search.budgt=3", "unknown search setting 'budgt'; did you mean 'budget'?"),
    ("--trainer.max_epoch=3", "unknown Trainer argument 'max_epoch'; did you mean 'max_epochs'"),
    ("--search.space.width={choise: [8]}", "unknown space kind 'choise' at 'width'"),
    ("--search.space.widht={choice: [8]}", "space key 'widht' is not an argument of TinyNet"),
    ("--serch.budget=3", "unknown config section 'serch'; did you mean 'search'?"),
    ("--search.optimizer.budget=3", "--search.optimizer.budget: the config gives "
                                    "search.optimizer: 'RandomSearch', not a mapping with keys"),
])
def test_bad_input_exits_2_with_a_clear_message(config, tmp_path, capsys, override, message):
    assert main(["search", str(config), override]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not (tmp_path / "run" / "trials").exists()  # nothing trained


@pytest.mark.parametrize("overrides, said", [
    (["--search.optimizer.budget=3"], ["got the mapping {'budget': 3}, which names no "
                                       "optimizer (an override under it, --search.optimizer."
                                       "budget=3, makes search.optimizer a mapping of the "
                                       "override's keys alone where the config sets no "
                                       "optimizer)", "`budget` is a setting of the search "
                                       "itself: --search.budget=3 sets the search's budget"]),
    (["--search.optimizer.num_workers=2"], ["--search.num_workers=2 sets the search's "
                                            "num_workers"]),
    (["--search.optimizer.lr=0.1"], ["{'lr': 0.1}, which names no optimizer"]),
])
def test_an_override_under_an_optimizer_the_config_does_not_set_says_what_it_made(
        config, tmp_path, capsys, overrides, said):
    # was: "`optimizer` must be a registry name, got {'budget': 3}"
    cfg = yaml.safe_load(config.read_text())
    del cfg["search"]["optimizer"]
    config.write_text(yaml.safe_dump(cfg))
    assert main(["search", str(config), *overrides]) == 2
    err = capsys.readouterr().err
    for text in said:
        assert text in err
    assert ("a registry name (a string such as SurrogateEvolution, NGOpt, RandomSearch: "
            "search.optimizer: NGOpt, --search.optimizer=NGOpt)" in err
            and "set_name('MyOpt', register=True)" in err)  # the shapes, and settings
    assert ("sets the search's" in err) == (overrides != ["--search.optimizer.lr=0.1"])
    assert not (tmp_path / "run").exists()  # before any training: nothing written
    # an override that works stays so: a later one gives the name
    assert main(["search", str(config), "--print_config", *overrides,
                 "--search.optimizer=NGOpt"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["search"]["optimizer"] == "NGOpt"


@pytest.mark.parametrize("command, valid", [
    ("search", "model, data, trainer, search, seed_everything, optimizer, lr_scheduler"),
    ("oneshot", "model, data, trainer, oneshot, seed_everything"),
    ("fit", "model, data, trainer, seed_everything, search, optimizer, lr_scheduler"),
])
def test_a_misspelt_section_lists_the_sections_its_command_takes(config, capsys, command,
                                                                 valid):
    # was: "valid keys: model, data, trainer, search, oneshot, seed_everything" for each
    # command: `oneshot` for a search, without the optimizer sections a search takes
    cfg = "examples/oneshot_digits/oneshot.yaml" if command == "oneshot" else str(config)
    assert main([command, cfg, "--modle.width=3"]) == 2
    said = "unknown config section 'modle'; did you mean 'model'? valid keys: "
    assert f"{said}{valid}\n" in capsys.readouterr().err


@pytest.mark.parametrize("key, message", [
    ("batch_size", "space key 'batch_size' is not an argument of TinyNet.__init__; it is one "
                   "of BlobData's (the data): write data.batch_size; accepted: "),
    ("max_epochs", "space key 'max_epochs' is not an argument of TinyNet.__init__; it is a "
                   "Trainer argument: write trainer.max_epochs; accepted: "),
])
def test_a_plain_space_key_of_the_data_or_the_trainer_says_its_path(config, tmp_path, capsys,
                                                                    key, message):
    # was: "space key 'batch_size' is not an argument of TinyNet.__init__; accepted: width,
    # ...", a plain key being the model's, without a word of the data.*/trainer.* it needs
    assert main(["search", str(config), f"--search.space.{key}={{choice: [32, 64]}}"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_show_of_a_folder_without_a_run(tmp_path, capsys):
    assert main(["show", str(tmp_path)]) == 2
    assert "is neither a run directory (no search.db) nor a one-shot run folder" in \
        capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-2", "1.5", "two", ""])
def test_finetune_threads_not_a_count_names_the_value_and_the_range(tmp_path, capsys, value):
    # was: "threads must be a positive integer (...), or None for the trial's own; got 0",
    # None being no value a command line can give ('1.5': "invalid int value")
    with pytest.raises(SystemExit) as exit_:
        main(["finetune", str(tmp_path / "run"), "--threads", value, "--max_epochs", "1"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"lightning-nas finetune: error: argument --threads: expected a whole number >= 1 "
        f"(torch threads; leave it out for the default), got {value!r}")
    assert list(tmp_path.iterdir()) == []


def test_fit_trains_best_config_and_reproduces_the_best_trial(config, tmp_path, capsys,
                                                              monkeypatch):

    run = tmp_path / "run"
    assert main(["search", str(config), "--search.budget=2", "--trainer.max_epochs=2",
                 "--search.seed=1", "--search.monitor=val_loss", "--search.mode=min"]) == 0
    best = yaml.safe_load((run / "best.yaml").read_text())
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    # no flags: monitor and mode come from best_config.yaml's comment, the seed from its
    # seed_everything (the search's 1, not the config's 5)
    assert main(["fit", str(run / "best_config.yaml")]) == 0
    out = capsys.readouterr().out
    assert (f"Trained TinyNet (seed 1): val_loss={format_score(best['score'])} (min) at epoch "
            f"{best['epoch']} (epochs 0..1 trained)") in out
    ckpt = tmp_path / "runs" / "fit" / "best_config" / "best.ckpt"
    assert f"checkpoint: {ckpt}" in out
    # the trial, trained again: its best.ckpt validates to the trial's score (a fresh
    # Trainer; the checkpoint holds no callback state of lightning_nas's own)
    assert validated(run / "best_config.yaml", ckpt, "val_loss") == pytest.approx(
        best["score"], abs=1e-6)
    assert main(["fit", str(run / "best_config.yaml"), "--trainer.max_epochs=1",
                 "--monitor", "val_acc", "--mode=max"]) == 0  # a second fit keeps the first
    out = capsys.readouterr().out
    assert "val_acc=" in out and "(max) at epoch 0 (epochs 0..0 trained)" in out
    assert f"checkpoint: {ckpt.parent.with_name('best_config_1') / 'best.ckpt'}" in out
    assert main(["fit", str(run / "best_config.yaml"), "--trainer.max_epochs=3",
                 "--trainer.check_val_every_n_epoch=2"]) == 0  # validated after epoch 1 only
    assert "at epoch 1 (epochs 0..2 trained)" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["missing.yaml"], "config file missing.yaml does not exist"),
    (["{cfg}", "--trainer.max_epoch=1"], "unknown Trainer argument 'max_epoch'"),
    (["{cfg}", "--model.widht=8"], "model.widht: not an argument of TinyNet.__init__; did you "
                                   "mean 'width'?"),
    (["{cfg}", "--model.class_path=tests.helpers.NoNet"],
     "module 'tests.helpers' has no attribute 'NoNet'"),
    (["{bad}"], "unknown config section 'oneshot'"),
    (["{cfg}", "--monitor", "val_accuracy", "--mode=max", "--trainer.max_epochs=1"],
     "monitor 'val_accuracy' was not logged by the validation of epoch 0; did you mean 'val_acc'?"),
    (["{cfg}", "--trainer.limit_val_batches=0"], "trainer.limit_val_batches=0 runs no "
                                                  "validation, so the monitor 'val_acc'"),
    # was: val_acc's mode max taken for a monitor whose name says nothing
    (["{cfg}", "--monitor", "val_score"], "--monitor val_score needs --mode min or max (the "
                                          "config's mode max is for val_acc): `monitor: "
                                          "'val_score'` needs a `mode`"),
])
def test_fit_bad_input_exits_2_with_one_line(config, tmp_path, capsys, args, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "oneshot": {}}))
    args = [a.format(cfg=config, bad=bad) for a in args]
    assert main(["fit", *args, "--out", str(tmp_path / "fit")]) == 2
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("lightning-nas fit: error:")]
    assert message in line and "Traceback" not in err
    assert not (tmp_path / "fit").exists()  # was: a monitor never logged left its logs/


def test_a_fit_refused_for_its_monitor_leaves_its_folder_as_it_found_it(config, tmp_path,
                                                                       capsys, monkeypatch):
    # was: its logs/ (metrics.csv, hparams.yaml) stayed, so the same command with the monitor
    # fixed was refused ("not empty"), naming a "free name" that was taken; without --out
    # each refused fit left another runs/fit/<name>_N
    monkeypatch.chdir(tmp_path)
    typo = ["--monitor", "val_accuracy", "--mode=max", "--trainer.max_epochs=1"]
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (["--out", str(tmp_path / "new" / "fit")], ["--out", str(empty)], []):
        assert main(["fit", str(config), *typo, *out]) == 2
        assert "monitor 'val_accuracy' was not logged" in capsys.readouterr().err
    assert not (tmp_path / "new").exists() and not any(empty.iterdir())
    assert not (tmp_path / "runs").exists()
    assert main(["fit", str(config), "--trainer.max_epochs=1", "--out", str(empty)]) == 0
    assert f"checkpoint: {empty / 'best.ckpt'}" in capsys.readouterr().out
    (tmp_path / "runs" / "fit" / "search").mkdir(parents=True)
    assert main(["fit", str(config), *typo[3:], "--out", str(empty)]) == 2
    assert capsys.readouterr().err.endswith(  # the name a fit without --out takes
        f"leave it out for a free name at {Path('runs/fit/search_1')}\n")


@pytest.mark.parametrize("config_run", [True, False])
def test_fit_of_best_yaml_points_to_best_config(tmp_path, capsys, config_run):
    # was: "unknown config section 'trial'", without a word of the run's best_config.yaml
    from lightning_nas import export_best
    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.store import RunStore

    run = tmp_path / "my run"
    with RunStore(run / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        store.set_meta("model", {"class_path": "tests.helpers.TinyNet", "init_args": {}})
        if config_run:
            store.set_meta("config", {"model": {"class_path": "tests.helpers.TinyNet"},
                                      "search": {}})
        trial_id = store.start_trial({"width": 4})
        store.finish_trial(TrialResult(trial_id=trial_id, arch={"width": 4},
                                       status=TrialStatus.COMPLETED, score=0.5))
    export_best(run)
    assert (run / "best_config.yaml").exists() is config_run
    assert main(["fit", str(run / "best.yaml"), "--out", str(tmp_path / "fit")]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    assert f"unknown config section 'trial': {run / 'best.yaml'} is a search's best.yaml" in line
    fix = (f"lightning-nas fit {shlex.quote(str(run / 'best_config.yaml'))}" if config_run
           else f"its run has no best_config.yaml: a search from Python (lightning-nas "
                f"finetune {shlex.quote(str(run))} trains that trial on)")
    assert fix in line and not (tmp_path / "fit").exists()


def test_fit_of_a_hydra_sweeps_best_yaml_gives_its_rerun_line(tmp_path, capsys):
    # was: it offered `lightning-nas finetune RUN_DIR`, which refuses a sweep's folder
    record = tmp_path / "sweep" / "best.yaml"
    record.parent.mkdir()
    rerun = "python src/train.py model.lr=0.1"
    record.write_text(yaml.safe_dump({"trial": 2, "arch": {"model.lr": 0.1}, "model": None,
                                      "hydra": {"overrides": ["model.lr=0.1"], "rerun": rerun}}))
    assert main(["fit", str(record), "--out", str(tmp_path / "fit")]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    # in the words of a sweep's other refusals (export_hydra.rerun_said; was: its own,
    # "its task trains that trial again: <rerun>", without the folder to run it from)
    assert line.endswith(f"it is a Hydra sweep's: train trial 2 again, from the folder the "
                         f"sweep was started in: {rerun} (best.yaml's hydra.rerun)")
    assert "finetune" not in line and not (tmp_path / "fit").exists()


def test_fit_into_a_folder_that_is_not_empty_is_refused_and_deletes_nothing(
        config, tmp_path, capsys):
    # was: `fit best_config.yaml --out RUN_DIR` wiped the folder, the search with it
    run = tmp_path / "run"
    run.mkdir()
    (run / "search.db").write_text("a search")
    assert main(["fit", str(config), "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"lightning-nas fit: error: the output folder {run} is a folder that is not empty" \
        in err and "Traceback" not in err
    assert (run / "search.db").read_text() == "a search"


@pytest.mark.parametrize("args, needle", [
    (["--trainer.max_epochs=abc"], "trainer.max_epochs='abc': expected int or null"),
    (["--trainer.max_epochs=-5"], "trainer.max_epochs=-5: must be >= 0, or -1 (no limit)"),
    (["--trainer.accelerator=tpu"], "trainer.accelerator='tpu': ModuleNotFoundError"),
    (["--trainer.strategy=foo"], "trainer.strategy='foo': ValueError: You selected an invalid"),
    (["--model.depth=abc"], "model.depth='abc': expected int"),
    (["--model.activation=gelu", "--search.space={width: {choice: [8, 16]}}"],
     "model.activation='gelu': KeyError: 'gelu'"),
    (["--search.seed=abc"],
     "`seed` must be an integer from 0 to 4294967295 (2**32 - 1) or null, got 'abc'"),
])
def test_errors_every_trial_would_hit_are_one_line_before_training(config, tmp_path, capsys,
                                                                    args, needle):
    assert main(["search", str(config), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lightning-nas search: error: ")
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing trained, no store


def test_yaml_syntax_error_is_one_line_with_file_line_and_column(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("model: tests.helpers.TinyNet\nsearch:\n  space: {width: {choice: [8}}\n")
    assert main(["search", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"lightning-nas search: error: {path}:3:29: expected ',' or ']', but got "
                   f"'}}' (while parsing a flow sequence)\n")


def test_show_into_a_pipe_that_closes_early_ends_quietly(tmp_path):
    import subprocess
    import sys

    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.store import RunStore

    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        for i in range(3000):  # more than a pipe buffer holds
            tid = store.start_trial({"k": i})
            store.finish_trial(TrialResult(trial_id=tid, arch={"k": i}, score=i / 3000,
                                           status=TrialStatus.COMPLETED))
    show = subprocess.Popen([sys.executable, "-m", "lightning_nas", "show", str(tmp_path),
                             "--top", "3000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = show.stdout.readline()  # `lightning-nas show RUN | head -1`
    show.stdout.close()
    err = show.stderr.read().decode()
    assert show.wait(timeout=60) == 0
    assert first.startswith(b"3000 completed") and "Traceback" not in err and err == ""


@pytest.mark.parametrize(("override", "message"), [
    ("--model.widht=3", "model init_args key 'widht' is not an argument of DigitsSupernet"),
    ("--oneshot.seed=abc", "oneshot.seed must be an integer or null, got 'abc'"),
])
def test_oneshot_print_config_checks_the_config_as_a_run_does(capsys, override, message):
    # was: printed and exit 0 (a run raised a raw TypeError for the model's argument)
    config = Path(__file__).resolve().parents[1] / "examples/oneshot_digits/oneshot.yaml"
    assert main(["oneshot", str(config), "--print_config", override]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and not captured.out


def test_a_search_ended_by_sigterm_exits_143(config, capsys):
    # was: exit status 0 (Lightning's SIGTERMException is a SystemExit without a code), so
    # `lightning-nas search ... && next` and a scheduler's requeue took it as finished
    callbacks = "--trainer.callbacks=[{class_path: tests.helpers.SigtermAtFirstBatch}]"
    assert main(["search", str(config), "--search.budget=1", callbacks]) == 143
    captured = capsys.readouterr()
    assert "Interrupted: 0 completed, 1 running" in captured.out
    assert "lightning-nas search: interrupted (SIGTERM)" in captured.err


def test_a_search_stopped_by_ctrl_c_in_a_trial_exits_130(config, capsys):
    # was: 1, from Lightning's own handler (exit(1) after a KeyboardInterrupt in fit)
    callbacks = "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtFirstBatch}]"
    assert main(["search", str(config), "--search.budget=1", callbacks]) == 130
    assert "lightning-nas search: interrupted" in capsys.readouterr().err


def test_a_search_stopped_by_ctrl_c_says_how_to_export_its_best_so_far(config, tmp_path,
                                                                        capsys):
    # was: only "run the same command again to resume", and Ctrl-C writes no best.yaml
    CtrlCAtSecondTrial.fits = 0
    callbacks = "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtSecondTrial}]"
    assert main(["search", str(config), "--search.budget=3", "--trainer.max_epochs=1",
                 callbacks]) == 130
    run = tmp_path / "run"
    assert ("Interrupted: 1 completed, 1 running (re-run on resume); run the same command "
            f"again to resume, or `lightning-nas export {run}` for the best so far."
            ) in capsys.readouterr().out
    assert not (run / "best.yaml").exists()
    assert main(["export", str(run)]) == 0
    assert yaml.safe_load((run / "best.yaml").read_text())["trial"] == 1
    assert (run / "best.ckpt").is_file()


def test_an_interrupted_fit_or_finetune_names_its_unfinished_folder(config, tmp_path, capsys):
    # was: "interrupted" alone, and the folder's best.ckpt and logs/ looked like a finished
    # run's
    ctrl_c = "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtEpoch, init_args: " \
             "{epoch: 1}}]"  # after epoch 0 validated: a best.ckpt is written
    out = tmp_path / "fit"
    assert main(["fit", str(config), "--trainer.max_epochs=2", ctrl_c, "--out", str(out)]) == 130
    assert capsys.readouterr().err.endswith(
        f"lightning-nas fit: interrupted; the fit is unfinished: {out} holds its logs and a "
        f"best.ckpt of its best epoch before the interrupt, not of a finished fit; resume it "
        f"from its last.ckpt (epochs 0..0 trained) with:\n  lightning-nas fit {config} "
        f"--trainer.max_epochs=2 '{ctrl_c}' --out {out} --ckpt_path last\n")
    assert (out / "best.ckpt").is_file()
    # the user's too: without lightning_nas's own callback states (was: TrialReporter's and
    # TrialCheckpoint's, as only a finished fit's best.ckpt was rewritten)
    assert _own_states(out / "best.ckpt") == []
    assert main(["search", str(config), "--search.budget=1", "--trainer.max_epochs=1"]) == 0
    capsys.readouterr()
    finetune = tmp_path / "run" / "finetune"
    assert main(["finetune", str(tmp_path / "run"), "--max_epochs=2", ctrl_c]) == 130
    assert capsys.readouterr().err.endswith(
        f"lightning-nas finetune: interrupted; the fine-tune is unfinished: {finetune} holds "
        f"its logs and a best.ckpt of its best epoch before the interrupt, not of a finished "
        f"fine-tune; resume it from its last.ckpt (epochs 0..0 trained) with:\n  "
        f"lightning-nas finetune {tmp_path / 'run'} --max_epochs=2 '{ctrl_c}' --ckpt_path "
        f"last\n")  # (was: nothing said what to do next; then: a fine-tune does not resume)
    assert _own_states(finetune / "best.ckpt") == []


@pytest.mark.parametrize("flag", [["--ckpt_path", "last"], ["--ckpt_path=last"]])
def test_finetune_given_ckpt_path_last_without_an_interrupted_one_names_the_folders(
        tmp_path, capsys, flag):
    # was: "finetune has no --ckpt_path: a fine-tune does not resume"; now it resumes one
    # (tests/test_fit_resume.py), and says where it looked when there is none
    run = tmp_path / "run"
    assert main(["finetune", str(run), "--max_epochs=2", *flag]) == 2
    assert capsys.readouterr().err == (
        f"lightning-nas finetune: error: --ckpt_path last: no interrupted fine-tune of {run} "
        f"to resume (looked at {run}/finetune: none there); give a last.ckpt of an "
        f"interrupted one, or leave --ckpt_path out to train a new one\n")
    assert not run.exists()


def _own_states(ckpt: Path) -> list[str]:
    """The callback states of lightning_nas's own that the checkpoint ``ckpt`` holds."""
    import torch

    from lightning_nas.search.checkpoints import OWN_STATES

    states = torch.load(ckpt, map_location="cpu", weights_only=False)["callbacks"]
    return [key for key in states if key.startswith(OWN_STATES)]


@pytest.mark.parametrize("argv, message", [
    # was: "override '--from-scratch' has no value; write --from-scratch=VALUE", and
    # "unknown config section 'max-epochs' / 'monitr' / 'budget'; valid keys: model, ..."
    (["finetune", "{run}", "--from-scratch"], "unrecognized option --from-scratch; did you "
                                              "mean --from_scratch? options of finetune: "
                                              "--max_epochs, --from_scratch"),
    (["finetune", "{run}", "--max-epochs", "2"], "did you mean --max_epochs?"),
    (["fit", "{cfg}", "--monitr", "val_acc"], "did you mean --monitor? options of fit: "
                                              "--monitor, --mode, --out"),
    (["search", "{cfg}", "--budget", "3"], "unrecognized option --budget; did you mean "
                                           "--search.budget? options of search: --print_config"),
    (["show", "{run}", "--topp", "3"], "did you mean --top?"),
])
def test_a_misspelt_option_names_the_commands_own(config, tmp_path, capsys, argv, message):
    argv = [a.format(cfg=config, run=tmp_path / "none") for a in argv]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("argv, files", [
    # was: "unrecognized option --config; did you mean --print_config?", and fit's without
    # a word that the files are positional (LightningCLI's `fit --config best_config.yaml`)
    (["search", "--config", "{cfg}"], "search FILE [FILE ...]"),
    (["search", "--config={cfg}"], "search FILE [FILE ...]"),
    (["fit", "-c", "{cfg}", "--trainer.max_epochs=1"], "fit FILE [FILE ...]"),
    (["oneshot", "--config", "{cfg}"], "oneshot FILE"),
])
def test_a_config_given_with_lightningclis_flag_says_files_are_positional(config, tmp_path,
                                                                          capsys, argv, files):
    argv = [a.format(cfg=config) for a in argv]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    flag = argv[1].split("=")[0]
    assert capsys.readouterr().err.endswith(
        f"lightning-nas {argv[0]}: error: {flag} is not needed here: give config files as "
        f"positional arguments (lightning-nas {files})\n")
    assert not (tmp_path / "run").exists()


def test_a_store_damaged_past_its_start_is_named_by_show(tmp_path, capsys):
    # was: "lightning-nas show: error: database disk image is malformed", no file named
    from lightning_nas.store import open_search_store

    with open_search_store(tmp_path, {"space": {"k": {"choice": [1]}}, "monitor": "acc",
                                      "mode": "max"}) as store:
        store.start_trial({"k": 1})
    db = tmp_path / "search.db"
    data = db.read_bytes()  # its schema (page 1) is whole: it opens; its tables are garbage
    db.write_bytes(data[:4096] + b"\x8f" * (len(data) - 4096))
    assert main(["show", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lightning-nas show: error: {db} is corrupt (database disk image "
                          f"is malformed): ") and len(err.splitlines()) == 1, err


def test_an_interrupted_oneshot_run_says_how_to_resume(tmp_path, monkeypatch, capsys):
    # was: "lightning-nas oneshot: interrupted" alone, and the same command again started
    # over from epoch 0 (a resume needs --ckpt_path last)
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    run_dir = tmp_path / "my run"
    args = ["oneshot", "examples/oneshot_digits/oneshot.yaml", "--trainer.max_epochs=3",
            "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2",
            "--oneshot.num_candidates=2", "--oneshot.calibration_batches=1",
            "--oneshot.finetune_epochs=0", f"--oneshot.run_dir={run_dir}"]
    ctrl_c = "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtEpoch, init_args: " \
             "{epoch: %d}}]"
    assert main([*args, ctrl_c % 2]) == 130
    err = capsys.readouterr().err
    command = shlex.join(["lightning-nas", *args, ctrl_c % 2, "--ckpt_path", "last"])
    assert ("lightning-nas oneshot: interrupted; resume it from its checkpoint (2 training "
            f"epochs done) with:\n  {command}\n") in err, err
    assert f"'--oneshot.run_dir={run_dir}'" in command  # the space in it: quoted
    # a new run in the folder, stopped before an epoch ended: the last.ckpt is not its own
    assert main([*args, ctrl_c % 0]) == 130
    last = run_dir / "checkpoints" / "last.ckpt"
    assert (f"lightning-nas oneshot: interrupted; no training epoch of this run ended, so it "
            f"wrote no {last} to resume from: the same command starts it anew"
            in capsys.readouterr().err)
    # a resume stopped before an epoch ended: the same command resumes again
    assert main([*args, ctrl_c % 2, "--ckpt_path", "last"]) == 130
    assert f"with:\n  {command}\n" in capsys.readouterr().err
    assert main([*args, "--ckpt_path", "last"]) == 0
    assert capsys.readouterr().out.startswith("Resuming the spos search")
    # stopped after its training ended (its final search): --ckpt_path last finishes it
    # (was: "the same command without --ckpt_path runs it again", all of its training)
    args = [*args[:-1], f"--oneshot.run_dir={tmp_path / 'ended'}",
            "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtTrainEnd}]"]
    assert main(args) == 130
    command = shlex.join(["lightning-nas", *args, "--ckpt_path", "last"])
    assert ("lightning-nas oneshot: interrupted; its training had ended (3 epochs) and its "
            "final search, export or fine-tune was interrupted: finish it (only what is left "
            f"runs) with:\n  {command}\n") in capsys.readouterr().err
    assert main([*args, "--ckpt_path", "last"]) == 0
    assert "its training is done: running its final search" in capsys.readouterr().out
    assert (tmp_path / "ended" / "best_arch.yaml").is_file()
    # so too of a run bounded by max_steps alone, which ended in its third epoch (was:
    # "resume it from its checkpoint (2 training epochs and 1 batch of epoch 3 done)")
    args = [*args[:-2], "--trainer.max_epochs=-1", "--trainer.max_steps=5",
            f"--oneshot.run_dir={tmp_path / 'steps'}", args[-1]]
    assert main(args) == 130
    command = shlex.join(["lightning-nas", *args, "--ckpt_path", "last"])
    assert ("lightning-nas oneshot: interrupted; its training had ended (step 5 of "
            "max_steps=5) and its final search, export or fine-tune was interrupted: finish "
            f"it (only what is left runs) with:\n  {command}\n") in capsys.readouterr().err


def test_a_oneshot_run_interrupted_after_its_one_epoch_says_one_epoch(tmp_path, monkeypatch,
                                                                      capsys):
    # was: "its training had ended (1 epochs)"
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    args = ["oneshot", "examples/oneshot_digits/oneshot.yaml", "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2",
            "--oneshot.num_candidates=2", "--oneshot.calibration_batches=1",
            "--oneshot.finetune_epochs=0", f"--oneshot.run_dir={tmp_path / 'ended'}",
            "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtTrainEnd}]"]
    assert main(args) == 130
    assert "interrupted; its training had ended (1 epoch) and its final search" in \
        capsys.readouterr().err


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def test_print_config_refuses_a_run_dir_the_run_would_not_resume_and_writes_nothing(
        config, tmp_path, capsys):
    # was: exit 0 (the check of the run folder's search was in run() only), and the run
    # of the printed config then refused it before training
    run, search = tmp_path / "run", ["search", str(config), "--search.budget=1",
                                     "--trainer.max_epochs=1", "--seed_everything=true"]
    assert main(search) == 0
    capsys.readouterr()
    before = _files(run)
    assert main([*search, "--print_config"]) == 0  # the same settings: a resume
    assert capsys.readouterr().out
    for override, message in [
        ("--trainer.max_epochs=2", f"{run} holds a search whose trials ran with other "
                                   "settings: trainer.max_epochs: 1, now 2. Resume with"),
        ("--search.monitor=val_loss", f"{run} holds a search with a different monitor "
                                      "(stored 'val_acc', now 'val_loss')"),
    ]:
        assert main([*search, override, "--print_config"]) == 2
        captured = capsys.readouterr()
        assert message in captured.err and not captured.out, captured.err
    assert _files(run) == before  # no lock taken, no file written
    assert main([*search, "--trainer.max_epochs=2"]) == 2  # as the run refuses it
    assert "trainer.max_epochs: 1, now 2" in capsys.readouterr().err


def test_print_config_refuses_a_run_dir_a_new_search_would_not_write_into(config, tmp_path,
                                                                         capsys):
    # was: exit 0 and the config printed (only a stored search was checked), while the run
    # of the printed config then refused the folder
    taken, oneshot, file = tmp_path / "taken", tmp_path / "oneshot", tmp_path / "file"
    (taken / "trials" / "trial_0001").mkdir(parents=True)
    (taken / "trials" / "trial_0001" / "last.ckpt").write_text("")
    (taken / "best.yaml").write_text("arch: {}\n")
    oneshot.mkdir()
    (oneshot / "best_arch.yaml").write_text("width: 8\n")
    file.write_text("")
    before = _files(tmp_path)
    for run_dir, message in [
        (taken, f"`run_dir` '{taken}' holds trials/, best.yaml but no search.db"),
        (oneshot, f"`run_dir` '{oneshot}' is a one-shot run folder"),
        (file / "run", f"`run_dir` '{file / 'run'}' cannot be a folder: {file} is a file"),
    ]:
        assert main(["search", str(config), f"--search.run_dir={run_dir}",
                     "--print_config"]) == 2
        captured = capsys.readouterr()
        assert message in captured.err and not captured.out, captured.err
    assert _files(tmp_path) == before  # nothing written


@pytest.mark.parametrize("argv, message", [
    # was: "expected an override like --search.budget=5, got 'darts.yaml'" (an override
    # oneshot refuses, and no word that oneshot takes one config file)
    (["oneshot", "{os}/oneshot.yaml", "{os}/darts.yaml", "--trainer.max_epochs=1"],
     "oneshot takes exactly one config file (search and fit merge several), got also "
     "'{os}/darts.yaml'; merge them into one, or give their values as overrides, e.g. "
     "--oneshot.num_candidates=5 or --trainer.max_epochs=2"),
    (["oneshot", "{os}/oneshot.yaml", "budget"],
     "expected an override like --oneshot.num_candidates=5 or --trainer.max_epochs=2, got "
     "'budget'"),
    (["finetune", "{run}", "epochs"],
     "expected an override like --trainer.accelerator=cpu or --model.lr=5e-4, got "
     "'epochs'"),
])
def test_a_word_that_is_no_override_names_one_the_command_takes(tmp_path, capsys, argv,
                                                                 message):
    examples = Path(__file__).resolve().parents[1] / "examples" / "oneshot_digits"
    argv = [a.format(os=examples, run=tmp_path / "none") for a in argv]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == f"lightning-nas {argv[0]}: error: {message.format(os=examples)}\n"
    assert not captured.out and not (tmp_path / "none").exists()


def test_finetune_names_the_overrides_it_refuses_and_one_epoch_count_of_two(config, tmp_path,
                                                                            capsys):
    # was: "finetune takes only --trainer.* overrides" naming none, and --max_epochs 1 with
    # --trainer.max_epochs=2 trained 1 epoch without a word
    run = tmp_path / "run"
    assert main(["search", str(config), "--search.budget=1", "--trainer.max_epochs=1"]) == 0
    capsys.readouterr()
    for argv, message in [
        (["--seed_everything", "4", "--trainer.max_epochs=1", "--data.batch_size=3"],
         "finetune takes only --trainer.* and --model.* overrides (it trains the best "
         "trial's model on its data), got --seed_everything=4, --data.batch_size=3"),
        (["--max_epochs", "1", "--trainer.max_epochs=2"],
         "--max_epochs 1 and --trainer.max_epochs=2 both set the fine-tune's epochs; give one"),
        # was: "max_epochs must be ..." (finetune()'s argument) for -5 and -1, and
        # "trainer.max_epochs=0 runs no validation" (a key not given) for 0
        *[(["--max_epochs", value], f"--max_epochs must be a positive integer (the "
           f"fine-tune's epochs), or -1 (no limit) beside --trainer.max_steps or "
           f"--trainer.max_time; got {value}") for value in ("-5", "0", "-1")],
        (["--max_epochs", "-1", "--trainer.max_steps=-1"],
         "--max_epochs must be a positive integer (the fine-tune's epochs), or -1 (no limit) "
         "beside --trainer.max_steps or --trainer.max_time; got -1; --trainer.max_steps=-1 "
         "is no limit"),
    ]:
        assert main(["finetune", str(run), *argv]) == 2
        captured = capsys.readouterr()
        assert captured.err == f"lightning-nas finetune: error: {message}\n"
        assert not (run / "finetune").exists()  # refused before training
    assert main(["finetune", str(run), "--trainer.max_epochs=2"]) == 0
    assert "for 2 epochs" in capsys.readouterr().out


def test_fit_and_finetune_say_bad_input_found_in_training_in_one_line_as_search(
        config, tmp_path, capsys):
    # was: a traceback and exit 1 ("Fine-tune failed: MonitorError: ...", "training failed:
    # ValueError: ...") where a search stops on the same error with one line, exit 2
    cfg = yaml.safe_load(config.read_text())
    cfg["model"]["class_path"] = "tests.helpers.AccAfterWarmup"
    config.write_text(yaml.safe_dump(cfg))
    run, fit = tmp_path / "run", tmp_path / "fit"
    assert main(["search", str(config), "--search.budget=1", "--trainer.max_epochs=2"]) == 0
    capsys.readouterr()
    # (was: "ValueError: `val_check_interval` (1000) must be less than or equal to the
    # number of the training batches (6).")
    interval = ("trainer.val_check_interval=1000 is more than the 6 training batches of an "
                "epoch; give at most 6, a fraction of the epoch such as 0.5, or "
                "check_val_every_n_epoch=null")
    for argv, message in [
        (["finetune", str(run), "--trainer.val_check_interval=1000"], interval),
        (["fit", str(run / "best_config.yaml"), "--trainer.val_check_interval=1000",
          "--out", str(fit)], interval),
        # a validation schedule other than the trial's: no validation of epoch 0 logs it
        (["finetune", str(run), "--max_epochs=1", "--trainer.val_check_interval=0.5"],
         "monitor 'val_acc' was not logged by the validation of epoch 0; logged keys: "
         "['val_warmup']; nor did the one after it"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"lightning-nas {argv[0]}: error: {message}"), err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert message != interval or err.endswith(" (found before training: nothing was "
                                                   "trained)\n")
        assert not (run / "finetune").exists() and not fit.exists()  # nothing left


def test_finetune_takes_the_models_arguments_as_fit_does(config, tmp_path, capsys):
    # was: "finetune takes only --trainer.* overrides": from the command line a fine-tune
    # could not take a learning rate below the trial's (finetune(model_init_args=) could)
    run = tmp_path / "run"
    assert main(["search", str(config), "--search.budget=1", "--trainer.max_epochs=1"]) == 0
    capsys.readouterr()
    best = yaml.safe_load((run / "best.yaml").read_text())
    searched = best["arch"]["lr"]
    # a searched value replaced, said as finetune() says it, as the command's own line (was:
    # ".../lightning_nas/export.py:372: UserWarning: ..."); YAML values, as every override
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        assert main(["finetune", str(run), "--max_epochs", "1", "--model.lr=5e-4"]) == 0
    assert (f"lightning-nas finetune: warning: model_init_args lr=0.0005 replaces trial "
            f"{best['trial']}'s searched lr={searched!r} in the fine-tune\n"
            ) in capsys.readouterr().err
    saved = torch.load(run / "finetune" / "best.ckpt", weights_only=False)["hyper_parameters"]
    assert saved["lr"] == 0.0005 and type(saved["lr"]) is float
    assert saved["width"] == best["arch"]["width"] and saved["activation"] == "relu"
    # LightningCLI's other spelling, a value after a space, a key the space does not search
    assert main(["finetune", str(run), "--model.init_args.activation", "tanh",
                 "--max_epochs=1"]) == 0
    saved = torch.load(run / "finetune_1" / "best.ckpt", weights_only=False)["hyper_parameters"]
    assert saved["activation"] == "tanh" and saved["lr"] == searched
    # the line says what was trained: a given argument the space does not search too
    assert (f"Fine-tuned lr={searched:.4g} width={best['arch']['width']} "
            f"(and activation=tanh) from trial ") in capsys.readouterr().out


def test_finetune_refuses_a_model_argument_it_cannot_give_before_training(config, tmp_path,
                                                                         capsys):
    run = tmp_path / "run"
    assert main(["search", str(config), "--search.budget=1", "--trainer.max_epochs=1"]) == 0
    capsys.readouterr()
    accepted = "width, activation, lr, depth, fail_width, nan_width, die_width, sleep"
    for argv, message in [
        # as `lightning-nas fit` names it (was: "finetune takes only --trainer.* overrides")
        (["--model.lrr=5e-4"], f"model.lrr: not an argument of TinyNet.__init__; did you "
                               f"mean 'lr'? accepted: {accepted}"),
        (["--model.init_args.depht", "2"], f"model.depht: not an argument of "
                                           f"TinyNet.__init__; did you mean 'depth'? "
                                           f"accepted: {accepted}"),
        (["--model.depth=two"], "model.depth='two': expected int (the annotation of "
                                "TinyNet.__init__)"),
        (["--model.class_path=tests.helpers.BlobData"],
         "finetune trains the best trial's model (its class, from its checkpoint): "
         "--model.class_path=tests.helpers.BlobData would replace it; give its arguments, "
         "--model.KEY=VALUE (e.g. --model.lr=5e-4), or train another config with "
         "lightning-nas fit"),
        (["--model.depth.inner=2"],
         "finetune takes the model's own arguments, --model.KEY=VALUE, not a path into "
         "one (--model.depth.inner=2): give the whole value, --model.depth=..., or train "
         "RUN_DIR/best_config.yaml with lightning-nas fit, which takes any path"),
    ]:
        assert main(["finetune", str(run), "--max_epochs=1", *argv]) == 2, argv
        captured = capsys.readouterr()
        assert captured.err == f"lightning-nas finetune: error: {message}\n"
        assert not (run / "finetune").exists()  # refused before training


def test_finetune_gives_model_arguments_to_a_model_built_from_its_config(config, tmp_path,
                                                                         capsys):
    # a space naming a path (model.width): the model is built from the config (was:
    # "model ConfigBuilder('tests.helpers.TinyNet') is not a class: init_args are only ...")
    cfg = yaml.safe_load(config.read_text())
    cfg["search"]["space"] = {"model.width": {"choice": [8, 16]}, "lr": {"float": [0.05, 0.3]}}
    config.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    assert main(["search", str(config), "--search.budget=1", "--trainer.max_epochs=1"]) == 0
    capsys.readouterr()
    best = yaml.safe_load((run / "best.yaml").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        assert main(["finetune", str(run), "--max_epochs=1", "--model.lr=5e-4",
                     "--model.activation=tanh"]) == 0
    assert (f"lightning-nas finetune: warning: model_init_args lr=0.0005 replaces trial "
            f"{best['trial']}'s searched lr=") in capsys.readouterr().err
    saved = torch.load(run / "finetune" / "best.ckpt", weights_only=False)["hyper_parameters"]
    assert (saved["lr"], saved["activation"], saved["width"]) == (
        0.0005, "tanh", best["arch"]["model.width"])


def test_oneshot_takes_a_config_without_a_oneshot_block(tmp_path, capsys, monkeypatch):
    # was: "unknown config section 'search'" for a file holding model, data and trainer
    # only (every oneshot: key has a default), a section the file does not hold
    example = Path(__file__).resolve().parents[1] / "examples/oneshot_digits/oneshot.yaml"
    cfg = yaml.safe_load(example.read_text())
    del cfg["oneshot"]
    path = tmp_path / "first.yaml"
    path.write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(tmp_path)
    assert main(["oneshot", str(path), "--print_config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["oneshot"] == {"run_dir": "runs/first"} and "search" not in printed


@pytest.mark.parametrize(("override", "hint"), [
    ("--oneshot.monitor=val_acc", "scores each subnet by its accuracy on the validation data"),
    ("--oneshot.metric=f1", "a metric other than accuracy needs Python: OneShotNAS(metric="),
    ("--oneshot.budget=20", "num_candidates: the subnets SPOS scores"),
    ("--oneshot.space={fc1: {choice: [8]}}", "derived from the model's choice modules"),
])
def test_oneshot_says_what_a_search_setting_is_there(override, hint, capsys):
    # was: "unknown oneshot setting 'monitor'; valid keys: ..." alone, for the keys a user of
    # `lightning-nas search` writes first
    config = Path(__file__).resolve().parents[1] / "examples/oneshot_digits/oneshot.yaml"
    assert main(["oneshot", str(config), "--print_config", override]) == 2
    err = capsys.readouterr().err
    assert "unknown oneshot setting" in err and hint in err


def test_fit_of_a_hydra_sweeps_best_yaml_gives_its_rerun_alone_line_too(tmp_path, capsys):
    # was: only the rerun line, which needs the lightning_nas sweeper installed
    record = tmp_path / "sweep" / "best.yaml"
    record.parent.mkdir()
    rerun = "python src/train.py model.lr=0.1"
    alone = "python src/train.py --config-path multirun/x/jobs/1/.hydra --config-name config"
    record.write_text(yaml.safe_dump({"trial": 2, "arch": {"model.lr": 0.1}, "model": None,
                                      "hydra": {"overrides": ["model.lr=0.1"], "rerun": rerun,
                                                "rerun_alone": alone}}))
    assert main(["fit", str(record), "--out", str(tmp_path / "fit")]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    assert line.endswith(f"train trial 2 again, from the folder the sweep was started in: "
                         f"{rerun}; without lightning_nas: {alone} (best.yaml's hydra.rerun "
                         f"and hydra.rerun_alone)")

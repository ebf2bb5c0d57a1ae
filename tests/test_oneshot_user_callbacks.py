"""``lightning-nas oneshot`` with the Trainer callbacks real projects add (a
``ModelCheckpoint`` of their own, a ``LearningRateMonitor``): real Trainers, the tiny
supernet on the blobs, the command as a user runs it (``lightning_nas.cli.main``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from lightning_nas.cli import main

LR_MONITOR = {"class_path": "lightning.pytorch.callbacks.LearningRateMonitor"}


def _config(tmp_path: Path, callbacks: list[dict[str, Any]], algorithm: str = "spos",
            **trainer: Any) -> tuple[Path, Path]:
    """A tiny one-shot config with ``callbacks`` in ``trainer.callbacks``; its path and
    run folder."""
    run = tmp_path / "run"
    cfg = {"model": "tests.helpers.TinySupernet",
           "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 128,
                                                                        "batch_size": 32}},
           "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1,
                       "limit_train_batches": 2, "callbacks": callbacks, **trainer},
           "oneshot": {"algorithm": algorithm, "calibration_batches": 1, "num_classes": 3,
                       "seed": 0, "run_dir": str(run),
                       **({"num_candidates": 2} if algorithm == "spos" else {})}}
    path = tmp_path / "oneshot.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, run


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
@pytest.mark.parametrize("dirpath", [None, "mine"])
def test_a_model_checkpoint_of_the_users_beside_the_runs_own_trains_and_resumes(
        tmp_path, capsys, algorithm, dirpath):
    # was: RuntimeError "Found more than one stateful callback of type `ModelCheckpoint`"
    # (a traceback, exit 1) for the ModelCheckpoint without a monitor that the README
    # advises for a one-shot fit: its state_key was the run's epoch-end checkpoint's
    args = {"filename": "mine-{epoch}"}
    if dirpath:
        args["dirpath"] = str(tmp_path / dirpath)
    config, run = _config(tmp_path, [{"class_path": "lightning.pytorch.callbacks."
                                                    "ModelCheckpoint", "init_args": args}],
                          algorithm)
    assert main(["oneshot", str(config)]) == 0, capsys.readouterr().err
    mine = tmp_path / dirpath if dirpath else run / "checkpoints"  # default_root_dir's
    assert sorted(p.name for p in mine.glob("mine-*.ckpt")) == ["mine-epoch=1.ckpt"]
    stored = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    keys = sorted(key.split("{")[0] for key in stored["callbacks"] if "Checkpoint{" in key)
    assert keys == ["ModelCheckpoint", "lightning_nas.RunCheckpoint"]  # each its own state
    # the run's last.ckpt resumes, the user's checkpoint beside it
    assert main(["oneshot", str(config), "--trainer.max_epochs=3", "--ckpt_path", "last"]) == 0
    assert "Resuming the " in capsys.readouterr().out
    assert sorted(p.name for p in mine.glob("mine-*.ckpt")) == ["mine-epoch=2.ckpt"]


@pytest.mark.parametrize("logger", ["unset", False, None])
def test_a_learning_rate_monitor_without_a_logger_is_refused_before_anything_is_built(
        tmp_path, capsys, logger):
    # was, logger left out (the command then logs to none): --print_config exit 0, and the
    # run built the model and data and ran the sanity check before Lightning's "Cannot use
    # `LearningRateMonitor` callback with `Trainer` that has no logger"; with logger: false
    # the advice was the search's, "leave trainer.logger out (a CSV logger in each trial's
    # folder)", which gives a one-shot run no logger
    extra = {} if logger == "unset" else {"logger": logger}
    config, run = _config(tmp_path, [LR_MONITOR], **extra)
    for argv in (["oneshot", str(config), "--print_config"], ["oneshot", str(config)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "trainer.callbacks[0] (LearningRateMonitor) logs to the Trainer's logger" in err
        assert "lightning-nas oneshot logs to no logger unless trainer.logger sets one" in err
        assert "leave trainer.logger out" not in err
        assert not run.exists()


def test_a_learning_rate_monitor_beside_a_logger_logs_the_supernets_rate(tmp_path, capsys):
    config, run = _config(tmp_path, [LR_MONITOR], logger={
        "class_path": "lightning.pytorch.loggers.CSVLogger",
        "init_args": {"save_dir": str(tmp_path / "logs"), "version": 0}})
    assert main(["oneshot", str(config)]) == 0, capsys.readouterr().err
    header = (tmp_path / "logs" / "lightning_logs" / "version_0" / "metrics.csv").read_text()
    assert "lr-SGD" in header.splitlines()[0]


@pytest.mark.parametrize("where", ["no dirpath", "default_root_dir", "the run's checkpoints"])
def test_a_model_checkpoint_whose_last_ckpt_is_the_runs_own_is_refused_before_anything_is_built(
        tmp_path, capsys, where):
    # was: taken; its last.ckpt, saved after each validation (val_check_interval: 0.5: in
    # the middle of each epoch), replaced the run's epoch-end RUN_DIR/checkpoints/last.ckpt,
    # so a run stopped by Ctrl-C in its second half resumed from the middle of the epoch
    # (Lightning's "resuming from a checkpoint that ended before the epoch ended" warning)
    # and searched another supernet than the uninterrupted run (digits, 3 epochs: best
    # 0.3854 against 0.3490, another arch)
    args: dict[str, Any] = {"save_last": True}
    trainer: dict[str, Any] = {"val_check_interval": 0.5}
    if where == "default_root_dir":
        trainer["default_root_dir"] = str(tmp_path / "run")
    elif where == "the run's checkpoints":
        args["dirpath"] = str(tmp_path / "run" / "checkpoints")
    config, run = _config(tmp_path, [{"class_path": "lightning.pytorch.callbacks."
                                                    "ModelCheckpoint", "init_args": args}],
                          **trainer)
    for argv in (["oneshot", str(config), "--print_config"], ["oneshot", str(config)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"trainer.callbacks[0] (ModelCheckpoint) writes its last.ckpt as " \
               f"{run / 'checkpoints' / 'last.ckpt'}, the run's own" in err, err
        assert not run.exists()


@pytest.mark.parametrize("trainer", [{"logger": {"class_path": "lightning.pytorch.loggers."
                                                               "CSVLogger",
                                                 "init_args": {"save_dir": "logs"}}},
                                     {"default_root_dir": "elsewhere"}])
def test_a_model_checkpoint_with_save_last_writing_elsewhere_trains(tmp_path, capsys,
                                                                    monkeypatch, trainer):
    monkeypatch.chdir(tmp_path)
    config, run = _config(tmp_path, [{"class_path": "lightning.pytorch.callbacks."
                                                    "ModelCheckpoint",
                                      "init_args": {"save_last": True}}], **trainer)
    assert main(["oneshot", str(config)]) == 0, capsys.readouterr().err
    assert len(list(tmp_path.glob("*/**/checkpoints/last.ckpt"))) == 2  # its own and the run's


def test_a_run_a_users_callback_fails_says_how_to_go_on_and_the_fixed_rerun_runs(
        tmp_path, capsys):
    # was: the traceback alone (nothing said of the folder, its search.lock or of
    # --ckpt_path last); the lock of the ended run blocks neither the fixed command nor its
    # resume
    crash = [{"class_path": "tests.helpers.CrashAt", "init_args": {"epoch": 1}}]
    config, run = _config(tmp_path, crash)
    with pytest.raises(RuntimeError, match="crash at epoch 1") as failed:
        main(["oneshot", str(config)])
    said = "\n".join([*getattr(failed.value, "__notes__", []), capsys.readouterr().err])
    assert ("lightning-nas oneshot: failed: fix the error above; resume it from its "
            "checkpoint (1 training epoch done) with:\n  lightning-nas oneshot "
            f"{config} --ckpt_path last") in said
    assert "(or run the same command again to start anew)" in said
    assert (run / "search.lock").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    fixed, _ = _config(tmp_path, [])  # the cause fixed: the same config file, rewritten
    assert main(["oneshot", str(fixed), "--ckpt_path", "last"]) == 0
    assert "Resuming the spos search" in capsys.readouterr().out
    assert main(["oneshot", str(fixed)]) == 0  # and anew
    assert (run / "best_arch.yaml").is_file()


def test_a_run_that_fails_before_an_epoch_ends_says_the_same_command_starts_anew(
        tmp_path, capsys):
    config, run = _config(tmp_path, [{"class_path": "tests.helpers.CrashAt",
                                      "init_args": {"epoch": 0}}])
    with pytest.raises(RuntimeError, match="crash at epoch 0") as failed:
        main(["oneshot", str(config)])
    said = "\n".join([*getattr(failed.value, "__notes__", []), capsys.readouterr().err])
    assert ("lightning-nas oneshot: failed: fix the error above; no training epoch of this "
            "run ended, so it wrote no ") in said and "the same command starts it anew" in said
    assert "--ckpt_path" not in said


def test_a_nas_error_after_an_epoch_ended_says_how_to_resume_in_its_one_line(tmp_path, capsys):
    # was: "lightning-nas oneshot: error: refused at epoch 1" alone, without the resume hint
    # a failed run's traceback gets
    config, run = _config(tmp_path, [{"class_path": "tests.helpers.NASErrorAt",
                                      "init_args": {"epoch": 1}}])
    assert main(["oneshot", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.endswith(
        "lightning-nas oneshot: error: refused at epoch 1; resume it from its checkpoint (1 "
        f"training epoch done) with:\n  lightning-nas oneshot {config} --ckpt_path last\n"
        "(or run the same command again to start anew)\n"), err
    assert "Traceback" not in err and (run / "checkpoints" / "last.ckpt").is_file()
    # a resume refused before training (its checkpoint's settings differ): no hint to resume
    assert main(["oneshot", str(config), "--oneshot.seed=7", "--ckpt_path", "last"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lightning-nas oneshot: error: ") and "resume it from" not in err
    assert len(err.splitlines()) == 1, err


def test_a_resumed_run_refused_before_its_next_checkpoint_says_how_to_resume(tmp_path, capsys):
    # was: "lightning-nas oneshot: error: refused at epoch 1" alone: the hint came only where
    # this run wrote a last.ckpt, though the folder holds the one it resumed from
    config, run = _config(tmp_path, [{"class_path": "tests.helpers.NASErrorAt",
                                      "init_args": {"epoch": 1}}])
    assert main(["oneshot", str(config)]) == 2
    capsys.readouterr()
    last = run / "checkpoints" / "last.ckpt"
    written = last.stat().st_mtime_ns
    assert main(["oneshot", str(config), "--ckpt_path", "last"]) == 2
    err = capsys.readouterr().err
    assert err.endswith(
        "lightning-nas oneshot: error: refused at epoch 1; resume it from its checkpoint (1 "
        f"training epoch done) with:\n  lightning-nas oneshot {config} --ckpt_path last\n"
        "(or run it without --ckpt_path to start anew)\n"), err
    assert last.stat().st_mtime_ns == written  # the resumed run wrote none of its own


def test_a_nas_error_before_an_epoch_ended_says_no_resume_hint(tmp_path, capsys):
    config, run = _config(tmp_path, [{"class_path": "tests.helpers.NASErrorAt",
                                      "init_args": {"epoch": 0}}])
    assert main(["oneshot", str(config)]) == 2
    err = capsys.readouterr().err
    assert err == "lightning-nas oneshot: error: refused at epoch 0\n"
    assert not (run / "checkpoints" / "last.ckpt").exists()


#: a Hydra project's named callbacks (the lightning-hydra-template's callbacks/*.yaml as
#: composed): a mapping of named ``_target_`` nodes, built into a list in its order
PROGRESS = {"_target_": "lightning.pytorch.callbacks.TQDMProgressBar"}


@pytest.mark.parametrize(("named", "said"), [
    ({"bar": PROGRESS, "rich_progress_bar": None,
      "lr_monitor": {"_target_": "lightning.pytorch.callbacks.LearningRateMonitor"}},
     "trainer.callbacks.lr_monitor (LearningRateMonitor) logs to the Trainer's logger"),
    ({"bar": PROGRESS, "model_checkpoint": {
        "_target_": "lightning.pytorch.callbacks.ModelCheckpoint", "save_last": True}},
     "trainer.callbacks.model_checkpoint (ModelCheckpoint) writes its last.ckpt as "),
], ids=["logging", "last-ckpt"])
def test_a_named_callback_of_a_oneshot_config_is_named_as_written_in_its_refusals(
        tmp_path, capsys, named, said):
    # the user wrote trainer.callbacks.lr_monitor; was: named by its place in the list the
    # mapping is built into, "trainer.callbacks[1] (LearningRateMonitor)", never written
    config, run = _config(tmp_path, named)
    assert main(["oneshot", str(config), "--print_config"]) == 2
    err = capsys.readouterr().err
    assert said in err, err
    assert not run.exists()


def test_a_oneshot_run_of_named_callbacks_prints_its_block_as_written_and_resumes(
        tmp_path, capsys):
    # the nodes' names ride in the oneshot block as the config is read: never printed, and
    # never in what a run keeps (its checkpoint holds none: a run of an older version, which
    # kept no names, resumes as this one does)
    named = {"bar": PROGRESS, "model_checkpoint": {
        "_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
        "dirpath": str(tmp_path / "mine"), "filename": "mine-{epoch}"}}
    config, run = _config(tmp_path, named)
    assert main(["oneshot", str(config), "--print_config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["oneshot"] == yaml.safe_load(config.read_text())["oneshot"]
    assert main(["oneshot", str(config)]) == 0, capsys.readouterr().err
    stored = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert "node_names" not in repr({k: v for k, v in stored.items() if k != "state_dict"})
    assert main(["oneshot", str(config), "--trainer.max_epochs=3", "--ckpt_path", "last"]) == 0
    assert "Resuming the spos search" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "mine").glob("mine-*.ckpt")) == [
        "mine-epoch=2.ckpt"]


def _refused_as_the_runs_last_ckpt(tmp_path, capsys, algorithm, init_args):
    """A run of ``LastCkptSupernet(**init_args)``, refused before training: its
    ModelCheckpoint's last.ckpt would be the run's own. Returns (config, run, cfg)."""
    config, run = _config(tmp_path, [], algorithm)
    cfg = yaml.safe_load(config.read_text())
    cfg["model"] = {"class_path": "tests.helpers.LastCkptSupernet", "init_args": init_args}
    config.write_text(yaml.safe_dump(cfg))
    assert main(["oneshot", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"the model's configure_callbacks() (ModelCheckpoint) writes its last.ckpt as " \
           f"{run / 'checkpoints' / 'last.ckpt'}, the run's own" in err, err
    assert not run.exists()
    return config, run, cfg


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_a_modules_callbacks_that_read_its_trainer_are_checked_too(tmp_path, capsys, algorithm):
    # was: asked without a Trainer, its configure_callbacks() raised and was taken as none:
    # its ModelCheckpoint's last.ckpt replaced the run's own, without a word
    _refused_as_the_runs_last_ckpt(tmp_path, capsys, algorithm, {"reads_trainer": True})


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
@pytest.mark.parametrize("dirpath", [None, "run/checkpoints"])
def test_a_modules_model_checkpoint_whose_last_ckpt_is_the_runs_own_is_refused_before_training(
        tmp_path, capsys, algorithm, dirpath):
    # was: taken (only trainer.callbacks were looked at): the ModelCheckpoint its
    # configure_callbacks() returns, which Lightning adds to the fit (SPOS, and DARTS/GDAS
    # through DifferentiableNAS), wrote its last.ckpt after each validation over the run's
    # epoch-end checkpoint, which --ckpt_path last resumes from
    config, run, cfg = _refused_as_the_runs_last_ckpt(
        tmp_path, capsys, algorithm, {"dirpath": dirpath and str(tmp_path / dirpath)})
    # elsewhere: trains, beside the run's own last.ckpt
    cfg["model"]["init_args"]["dirpath"] = str(tmp_path / "mine")
    config.write_text(yaml.safe_dump(cfg))
    assert main(["oneshot", str(config), "--trainer.max_epochs=1"]) == 0, capsys.readouterr().err
    assert (tmp_path / "mine" / "last.ckpt").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()

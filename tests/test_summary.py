"""The end of a search's output: the files its run folder holds now, and what to run next."""

from __future__ import annotations

import csv
import time

import pytest
import yaml
from lightning.pytorch.callbacks import EarlyStopping
from torch import nn

from lightning_nas import NASModule, Search, finetune
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "limit_train_batches": 2,
           "limit_val_batches": 1}
SPACE = {"width": {"choice": [8, 16]}}


def _last_lines(out: str, n: int) -> list[str]:
    return out.rstrip("\n").splitlines()[-n:]


def _search_args(tmp_path, run, **trainer) -> list[str]:
    """``lightning-nas search``'s arguments: a config searching ``SPACE`` into ``run``."""
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"depth": 1}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 64}},
        "trainer": {**TRAINER, **trainer},
        "search": {"space": SPACE, "optimizer": "RandomSearch", "budget": 1,
                   "run_dir": str(run)}}))
    return ["search", str(config)]


def test_a_config_search_names_its_files_and_the_commands_that_train_the_best(tmp_path,
                                                                               capsys):
    # was: "Wrote RUN/best.yaml and RUN/search.db": best.ckpt and best_config.yaml, written
    # there too, went unsaid, and so did the commands that use them
    run = tmp_path / "run"
    assert main(_search_args(tmp_path, run)) == 0
    assert sorted(p.name for p in run.glob("best*")) == ["best.ckpt", "best.yaml",
                                                          "best_config.yaml"]
    assert _last_lines(capsys.readouterr().out, 2) == [
        f"Wrote best.yaml, best.ckpt, best_config.yaml and search.db in {run}",
        f"Next: lightning-nas finetune {run} --optimizer_state restore [--max_epochs N] "
        f"trains the best model further from best.ckpt, its optimizer state continued; "
        f"lightning-nas fit {run / 'best_config.yaml'} trains it from scratch"]
    # the command as said trains (was: no --optimizer_state; a fresh optimizer at the
    # searched lr, which lost the digits search's val_acc 0.9920 in 9 seeds of 10)
    assert main(["finetune", str(run), "--optimizer_state", "restore", "--max_epochs", "1"]) == 0
    assert "its optimizer and LR scheduler state continued" in capsys.readouterr().out


def test_a_python_search_names_the_finetune_call(tmp_path, capsys):
    run = tmp_path / "my run"  # a path the hint quotes
    Search(TinyNet, SPACE, data=BlobData, trainer=TRAINER, optimizer="RandomSearch",
           budget=1, run_dir=run).run()
    assert not (run / "best_config.yaml").exists() and (run / "best.ckpt").is_file()
    assert _last_lines(capsys.readouterr().out, 2) == [
        f"Wrote best.yaml, best.ckpt and search.db in {run}",
        f"Next: lightning_nas.finetune({str(run)!r}, optimizer_state='restore') trains the "
        f"best model further from best.ckpt, its optimizer state continued (max_epochs= sets "
        f"its epochs)"]
    assert finetune(run, optimizer_state="restore", max_epochs=1).error is None


def test_a_python_search_given_objects_names_them_in_the_finetune_call(tmp_path, capsys):
    # was: "Next: lightning_nas.finetune('RUN') trains ...", a call finetune() refuses for a
    # search given a DataModule or Trainer objects the store cannot keep
    run = tmp_path / "run"
    Search(TinyNet, SPACE, data=BlobData(),
           trainer={**TRAINER, "callbacks": [EarlyStopping(monitor="val_acc", mode="max")]},
           optimizer="RandomSearch", budget=1, run_dir=run).run()
    assert _last_lines(capsys.readouterr().out, 1) == [
        f"Next: lightning_nas.finetune({str(run)!r}, data=..., trainer={{'callbacks': ...}}, "
        f"optimizer_state='restore') trains the best model further from best.ckpt, its "
        f"optimizer state continued (max_epochs= sets its epochs)"]
    with pytest.raises(ConfigError, match="pass data= to finetune"):
        finetune(run, max_epochs=1)
    finetune(run, max_epochs=1, data=BlobData(),  # as the line says: taken
             trainer={"callbacks": [EarlyStopping(monitor="val_acc", mode="max")]})


def test_a_builder_without_an_import_path_is_named_in_the_finetune_call(tmp_path, capsys):
    def build(arch):  # local: the store keeps no import path for it
        return nn.Sequential(nn.Linear(8, arch["width"]), nn.ReLU(), nn.Linear(arch["width"], 3))

    run = tmp_path / "run"
    Search(NASModule, SPACE, model_init_args={"builder": build, "num_classes": 3},
           data=BlobData, trainer=TRAINER, optimizer="RandomSearch", budget=1,
           run_dir=run).run()
    assert _last_lines(capsys.readouterr().out, 1) == [
        f"Next: lightning_nas.finetune({str(run)!r}, model_init_args={{'builder': ...}}, "
        f"optimizer_state='restore') trains the best model further from best.ckpt, its "
        f"optimizer state continued (max_epochs= sets its epochs)"]


def test_a_model_class_without_an_import_path_is_named_in_the_finetune_call(tmp_path, capsys):
    # a notebook's or a script's class (its module __main__), or a local one: the store
    # keeps no import path for it, so finetune() asks for it again
    class LocalNet(TinyNet):
        pass

    run = tmp_path / "run"
    Search(LocalNet, SPACE, data=BlobData(), trainer=TRAINER, optimizer="RandomSearch",
           budget=1, run_dir=run).run()
    # was: "Next: lightning_nas.finetune('RUN', data=..., ...)", a call finetune() refuses
    assert _last_lines(capsys.readouterr().out, 1) == [
        f"Next: lightning_nas.finetune({str(run)!r}, model=..., data=..., "
        f"optimizer_state='restore') trains the best model further from best.ckpt, its "
        f"optimizer state continued (max_epochs= sets its epochs)"]
    # both in one refusal (was: the model alone; given it, the data at the next call)
    with pytest.raises(ConfigError, match=r"^the search's model has no import path .*; pass "
                                          r"model= to finetune\(\); and the search's data "
                                          r"\(a BlobData object\) has no import path"):
        finetune(run, max_epochs=1)
    assert finetune(run, max_epochs=1, model=LocalNet, data=BlobData()).error is None


def test_an_objective_search_names_best_yaml_and_no_training(tmp_path, capsys):
    run = tmp_path / "run"
    Search(None, {"x": {"choice": [1, 2]}}, objective=lambda arch: {"val_acc": 0.5},
           optimizer="RandomSearch", budget=1, run_dir=run).run()
    assert not list(run.glob("best.ckpt")) and not list(run.glob("best_config.yaml"))
    assert _last_lines(capsys.readouterr().out, 1) == [
        f"Wrote best.yaml and search.db in {run}"]


def test_an_objective_searchs_summary_counts_no_epochs_it_did_not_train(tmp_path, capsys):
    # was: "..., 0 failed, 0 epochs trained." of calls of a function (which may train a
    # model of its own), where show prints no epoch ("-") for its trials
    Search(None, {"x": {"choice": [1, 2]}}, objective=lambda arch: {"val_acc": 0.5},
           optimizer="RandomSearch", budget=2, run_dir=tmp_path / "run").run()
    finished = next(line for line in capsys.readouterr().out.splitlines()
                    if line.startswith("Search finished"))
    assert ": 2 completed, 0 failed. Best val_acc=0.5000 (trial 1): x=" in finished


def test_a_run_folder_with_a_space_is_quoted_in_the_commands(tmp_path, capsys):
    run = tmp_path / "a run"
    assert main(_search_args(tmp_path, run)) == 0
    last = _last_lines(capsys.readouterr().out, 1)[0]
    assert last.startswith(f"Next: lightning-nas finetune '{run}' --optimizer_state restore "
                           f"[--max_epochs N] trains")
    assert f"lightning-nas fit '{run / 'best_config.yaml'}' trains" in last


def test_a_search_that_kept_no_checkpoint_names_the_fine_tune_from_fresh_weights(tmp_path,
                                                                                  capsys):
    run = tmp_path / "run"
    assert main(_search_args(tmp_path, run, enable_checkpointing=False)) == 0
    assert not (run / "best.ckpt").exists()
    assert _last_lines(capsys.readouterr().out, 2) == [
        f"Wrote best.yaml, best_config.yaml and search.db in {run}",
        f"Next: lightning-nas finetune {run} --from_scratch [--max_epochs N] trains the best "
        f"model from fresh weights; lightning-nas fit {run / 'best_config.yaml'} trains it "
        f"from scratch"]


def test_a_resumed_search_writes_its_logger_summary_once_whole(tmp_path, recwarn):
    # was: a resume wrote a second TensorBoard events file beside the first (TensorBoard
    # showed both summaries, the first's counts among the hyperparameters) and CSVLogger
    # warned that the previous logs "will be deleted"
    run = tmp_path / "run"
    loggers = "--trainer.logger=[{class_path: lightning.pytorch.loggers.CSVLogger}, " \
          "{class_path: lightning.pytorch.loggers.TensorBoardLogger}]"
    args = _search_args(tmp_path, run) + [loggers]
    assert main(args) == 0
    # TensorBoard's events files are named by the second they are made: the resume's comes
    # in a later second than the first run's (was: a sleep of 1.1 s, 0.5 s more on average)
    time.sleep(1.01 - time.time() % 1.0)
    assert main([*args, "--search.budget=2"]) == 0
    summary = run / "logs" / "search" / "summary"
    assert len(list(summary.glob("events.out.tfevents.*"))) == 1
    with open(summary / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows if r["trial_score"]] == ["1", "2"]  # trials 1, 2, once
    hparams = yaml.safe_load((summary / "hparams.yaml").read_text())
    assert [(r["step"], float(r["hp_metric"])) for r in rows if r["hp_metric"]] == [
        (str(hparams["best_trial"]), hparams["best_score"])]  # the best's score, once
    assert hparams["completed"] == 2
    assert not [w for w in recwarn if "will be deleted" in str(w.message)]

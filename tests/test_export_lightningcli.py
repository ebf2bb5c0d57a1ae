"""``best_config.yaml`` is the trial as it ran, in the form plain LightningCLI takes: it
trains it again to the trial's values at every epoch, and what LightningCLI would read
otherwise (a one-batch limit, arguments only ``**kwargs`` takes, a searched class for a
``type`` argument) is written or said as it needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lightning_nas import load_best
from lightning_nas.search.from_config import search_from_config
from lightning_nas.store import RunStore
from tests.helpers_export import CONFIG
from tests.helpers_runs import lightning_cli_fit


def _csv_metrics(folder: Path) -> list[dict[str, float]]:
    """Validation rows (epoch, val_acc, val_loss) of the CSVLogger under ``folder``."""
    import csv

    (path,) = folder.rglob("metrics.csv")
    with open(path) as f:
        return [{k: float(v) for k, v in row.items() if k in ("epoch", "val_acc", "val_loss")}
                for row in csv.DictReader(f) if row["val_acc"]]


@pytest.mark.parametrize("model", ["tests.helpers.TinyNet", "tests.helpers.LazyNoisyNet"])
def test_best_config_is_the_trial_as_it_ran_and_lightningcli_reproduces_it(tmp_path, model):
    # was (LazyNoisyNet): LightningCLI's model summary ran example_input_array through
    # forward before training (lazy layers made, noise drawn), which trials do not: another
    # score, though best_config.yaml "trains it as is"
    pytest.importorskip("jsonargparse")
    run = tmp_path / "run"
    cfg = {**CONFIG, "model": {**CONFIG["model"], "class_path": model},
           "search": {**CONFIG["search"], "run_dir": str(run)}}
    search_from_config(cfg).run()
    best = load_best(run)
    arch = best["arch"]
    # best.yaml: the config's model with the arch at its paths (never class_path null)
    assert best["model"] == {"class_path": model,
                             "init_args": {"depth": 1, "width": arch["model.width"],
                                           "lr": arch["lr"]}}
    best_cfg = yaml.safe_load((run / "best_config.yaml").read_text())
    assert best_cfg["seed_everything"] == 1  # the search's seed, not the config's 5
    # as the trials ran; the model summary off only where it runs forward (LazyNoisyNet's
    # example_input_array): TinyNet's leaves Lightning's summary on, scores unchanged
    lazy = {"enable_model_summary": False} if model.endswith("LazyNoisyNet") else {}
    assert best_cfg["trainer"] == {"max_epochs": 2, "accelerator": "cpu", "devices": 1, **lazy}
    assert best_cfg["model"] == best["model"] and "search" not in best_cfg
    assert best_cfg["data"]["init_args"] == {"batch_size": arch["data.batch_size"]}
    # plain LightningCLI trains it as is and gets the trial's values at every epoch
    lightning_cli_fit("--config", str(run / "best_config.yaml"),
                      "--trainer.enable_progress_bar=false",
                      "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
                      f"--trainer.logger.save_dir={tmp_path / 'cli'}")
    rows = _csv_metrics(tmp_path / "cli")
    with RunStore(run / "search.db") as store:
        trial = store.get(best["trial"])
    assert [r["val_acc"] for r in rows] == trial.curve
    assert rows[best["epoch"]]["val_loss"] == best["metrics"]["val_loss"]


def test_the_header_names_a_one_batch_limit_plain_lightningcli_reads_as_every_batch(tmp_path):
    # was: "(or plain LightningCLI: fit --config best_config.yaml)" alone, where plain
    # LightningCLI (jsonargparse, Lightning-AI/pytorch-lightning#21259) reads the trial's
    # limit_val_batches: 1 (one batch) as 1.0 (every batch) and trains another way
    pytest.importorskip("jsonargparse")
    from lightning.pytorch.cli import LightningCLI

    run = tmp_path / "run"
    trainer = {**CONFIG["trainer"], "limit_val_batches": 1, "limit_train_batches": 3,
               "limit_test_batches": 0.5, "val_check_interval": 1.0}
    cfg = {**CONFIG, "trainer": trainer, "search": {**CONFIG["search"], "run_dir": str(run),
                                                    "budget": 1, "scheduler": "none"}}
    cfg["search"] = {k: v for k, v in cfg["search"].items() if k not in ("max_epochs", "eta")}
    search_from_config(cfg).run()
    text = (run / "best_config.yaml").read_text()
    assert yaml.safe_load(text)["trainer"]["limit_val_batches"] == 1  # as the trial ran
    cli = LightningCLI(save_config_callback=None, run=False,
                       args=["--config", str(run / "best_config.yaml")])
    read = cli.trainer.limit_val_batches
    header = [line for line in text.splitlines() if line.startswith("#")]
    said = "# Plain LightningCLI here reads trainer.limit_val_batches: 1 as 1.0, all the batches"
    assert (said in "\n".join(header)) == isinstance(read, float), (read, header)
    # a fraction already, and a count Lightning takes as one from 3.0 too
    assert not any("limit_test_batches" in line or "limit_train_batches" in line
                   for line in header)
    assert cli.trainer.limit_train_batches == 3


def test_arguments_only_kwargs_takes_are_exported_under_dict_kwargs_for_lightningcli(tmp_path):
    # was: best_config.yaml put a NASModule's searched width into init_args, which plain
    # LightningCLI refuses ("Option 'width' is not accepted"), though its header says
    # "(or plain LightningCLI: fit --config best_config.yaml)"
    pytest.importorskip("jsonargparse")
    run = tmp_path / "run"
    model = {"class_path": "lightning_nas.NASModule",
             "init_args": {"builder": "tests.helpers.build_mlp", "num_classes": 3}}
    cfg = {"seed_everything": 0, "model": model,
           "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
           "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1},
           "search": {"space": {"width": {"choice": [8, 16]}, "lr": {"float": [0.01, 0.1]}},
                      "optimizer": "RandomSearch", "budget": 2, "seed": 1,
                      "run_dir": str(run), "verbose": False}}
    search_from_config(cfg).run()
    best = load_best(run)
    arch = best["arch"]
    best_cfg = yaml.safe_load((run / "best_config.yaml").read_text())
    assert best_cfg["model"] == best["model"] == {
        "class_path": "lightning_nas.NASModule",
        "init_args": {"builder": "tests.helpers.build_mlp", "num_classes": 3, "lr": arch["lr"]},
        "dict_kwargs": {"width": arch["width"]}}
    # plain LightningCLI trains it as is and gets the trial's values at every epoch
    lightning_cli_fit("--config", str(run / "best_config.yaml"),
                      "--trainer.enable_progress_bar=false",
                      "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
                      f"--trainer.logger.save_dir={tmp_path / 'cli'}")
    with RunStore(run / "search.db") as store:
        trial = store.get(best["trial"])
    assert [r["val_acc"] for r in _csv_metrics(tmp_path / "cli")] == trial.curve


@pytest.mark.parametrize("node", [True, False])
def test_a_searched_class_for_a_type_argument_is_exported_as_lightningcli_takes_it(tmp_path,
                                                                                  node):
    # was: a searched `act: {choice: [{class_path: torch.nn.Tanh}, ...]}` at an argument
    # annotated type[nn.Module] was exported as {class_path: ..., init_args: {}}, which plain
    # LightningCLI refuses ("Expected a dot import path string"); now its import path
    from lightning.pytorch.cli import LightningCLI

    pytest.importorskip("jsonargparse")
    run = tmp_path / "run"
    paths = ["torch.nn.Tanh", "torch.nn.GELU"]
    cfg = {"seed_everything": 0,
           "model": {"class_path": "tests.helpers.ActNet", "init_args": {"width": 4}},
           "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 32}},
           "trainer": {"max_epochs": 1, "limit_train_batches": 1, "accelerator": "cpu"},
           "search": {"space": {"act": {"choice": [{"class_path": p} for p in paths]
                                        if node else paths}},
                      "optimizer": "RandomSearch", "budget": 2, "seed": 1,
                      "run_dir": str(run), "verbose": False}}
    search_from_config(cfg).run()
    best = load_best(run)
    chosen = best["arch"]["act"]["class_path"] if node else best["arch"]["act"]
    best_cfg = yaml.safe_load((run / "best_config.yaml").read_text())
    assert best_cfg["model"]["init_args"]["act"] == chosen  # the import path, as jsonargparse
    assert best["model"] == best_cfg["model"]
    cli = LightningCLI(save_config_callback=None, args=[
        "fit", "--config", str(run / "best_config.yaml"), "--trainer.logger=false",
        "--trainer.enable_checkpointing=false", "--trainer.enable_progress_bar=false"])
    assert type(cli.model.net[1]).__name__ == chosen.rsplit(".", 1)[1]  # ActNet built it

"""The ``lightning-nas`` command: search, show, export, finetune and its error messages."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from lightning_nas.cli import main


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
    assert "Fine-tuned" in capsys.readouterr().out
    assert (run / "finetune" / "best.ckpt").exists()


def test_print_config_applies_overrides(config, capsys):
    assert main(["search", str(config), "--print_config", "--search.budget=2",
                 "--model.width=64"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["search"]["budget"] == 2
    assert cfg["model"]["init_args"] == {"depth": 1, "width": 64}


@pytest.mark.parametrize("override, message", [
    ("--search.optimizer=NGOp", "unknown optimizer 'NGOp'; close names: NGOpt"),
    ("--search.budgt=3", "unknown search setting 'budgt'; did you mean 'budget'?"),
    ("--trainer.max_epoch=3", "unknown Trainer argument 'max_epoch'; did you mean 'max_epochs'"),
    ("--search.space.width={choise: [8]}", "unknown space kind 'choise' at 'width'"),
    ("--search.space.widht={choice: [8]}", "space key 'widht' is not an argument of TinyNet"),
    ("--serch.budget=3", "unknown config section 'serch'; did you mean 'search'?"),
])
def test_bad_input_exits_2_with_a_clear_message(config, tmp_path, capsys, override, message):
    assert main(["search", str(config), override]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not (tmp_path / "run" / "trials").exists()  # nothing trained


def test_show_of_a_folder_without_a_run(tmp_path, capsys):
    assert main(["show", str(tmp_path)]) == 2
    assert "is not a run directory (no search.db)" in capsys.readouterr().err

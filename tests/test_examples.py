"""The bundled digits example: every architecture of its space builds, and its config
searches the unchanged LightningModule by class path through the CLI."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
import yaml

from examples.digits.data import DigitsDataModule
from examples.digits.model import DigitsCNN
from lightning_nas import SearchSpace
from lightning_nas.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "digits" / "search.yaml"


def test_every_cnn_architecture_of_the_space_runs_on_8x8():
    space = SearchSpace.from_dict(yaml.safe_load(CONFIG.read_text())["search"]["space"])
    choices = {k: space.params[k].values
               for k in ("kernel_size", "stride", "pool_size", "num_layers")}
    x = torch.rand(2, 1, 8, 8)
    for values in itertools.product(*choices.values()):
        arch = dict(zip(choices, values, strict=True))
        assert DigitsCNN(**arch, width=16)(x).shape == (2, 10), arch


def test_bad_activation_lists_the_valid_ones():
    with pytest.raises(ValueError, match="relu"):
        DigitsCNN(activation="relux")


def test_datamodule_has_a_fixed_split():
    a, b = DigitsDataModule(seed=0), DigitsDataModule(seed=0)
    a.setup("fit")
    b.setup("fit")
    xa, ya = next(iter(a.val_dataloader()))
    xb, yb = next(iter(b.val_dataloader()))
    assert xa.shape[1:] == (1, 8, 8) and torch.equal(xa, xb) and torch.equal(ya, yb)
    assert 0.0 <= float(xa.min()) and float(xa.max()) <= 1.0


def test_example_config_searches_the_unchanged_module(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    run = tmp_path / "digits"
    code = main(["search", str(CONFIG), "--search.budget=2", "--trainer.max_epochs=1",
                 "--trainer.limit_train_batches=5", f"--search.run_dir={run}"])
    assert code == 0
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["model"]["class_path"] == "examples.digits.model.DigitsCNN"
    assert 0.0 < best["score"] <= 1.0 and (run / "search.db").exists()
    assert "Best val_acc=" in capsys.readouterr().out

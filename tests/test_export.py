"""Export of the best trial and fine-tuning it with a fresh Trainer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas import Search, export_best, finetune, load_best
from lightning_nas.results import TrialStatus
from tests.helpers import BlobData, TinyNet


@pytest.fixture
def finished_run(tmp_path, tiny_space, tiny_trainer):
    run = tmp_path / "run"
    Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=3, run_dir=run,
           verbose=False).run()
    return run


def _start_weights_callback(path):
    return [{"class_path": "tests.helpers.SaveInitialWeights", "init_args": {"path": str(path)}}]


def test_finetune_starts_from_the_best_checkpoint(finished_run, tmp_path):
    best = load_best(finished_run)
    result = finetune(finished_run, max_epochs=4,
                      trainer={"callbacks": _start_weights_callback(tmp_path / "w.pt")})
    assert result.status is TrialStatus.COMPLETED and result.arch == best["arch"]
    assert len(result.curve) == 4 and result.checkpoint.startswith(str(finished_run))
    start = torch.load(tmp_path / "w.pt")
    saved = torch.load(finished_run / "best.ckpt", weights_only=False)["state_dict"]
    assert all(torch.equal(start[k], saved[k]) for k in saved)


def test_a_second_finetune_keeps_the_first(finished_run):
    first = finetune(finished_run, max_epochs=1)
    second = finetune(finished_run, max_epochs=1)
    assert Path(first.checkpoint).parent != Path(second.checkpoint).parent
    assert Path(first.checkpoint).exists() and Path(second.checkpoint).exists()
    assert Path(second.checkpoint).parent.name.startswith("finetune_")


def test_finetune_from_scratch_does_not_load_weights(finished_run, tmp_path):
    result = finetune(finished_run, max_epochs=1, from_checkpoint=False, out_dir=tmp_path / "s",
                      trainer={"callbacks": _start_weights_callback(tmp_path / "w.pt")})
    assert result.status is TrialStatus.COMPLETED
    start = torch.load(tmp_path / "w.pt")
    saved = torch.load(finished_run / "best.ckpt", weights_only=False)["state_dict"]
    assert not all(torch.equal(start[k], saved[k]) for k in saved)


def test_export_writes_best_yaml_and_checkpoint(finished_run):
    (finished_run / "best.yaml").unlink()
    (finished_run / "best.ckpt").unlink()
    out = export_best(finished_run)
    on_disk = yaml.safe_load((finished_run / "best.yaml").read_text())
    assert on_disk == out
    assert out["model"]["class_path"] == "tests.helpers.TinyNet"
    assert out["model"]["init_args"] == out["arch"]
    ckpt = torch.load(finished_run / out["checkpoint"], weights_only=False)
    assert ckpt["hyper_parameters"]["width"] == out["arch"]["width"]


def test_export_of_a_missing_run_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        export_best(tmp_path)

"""``best_config.yaml``'s header promises the trial's score again only where a fit can
repeat it: a trial whose training ``trainer.max_time`` ended stopped where its clock ran
out, and a fit trained again stops at another batch (a digits-sized run: ``val_loss``
0.5253 at epoch 5 in the trial, 0.5696 at epoch 5 in ``lightning-nas fit`` of its
``best_config.yaml``), so the header says that instead."""

from __future__ import annotations

from pathlib import Path

from lightning_nas.search.from_config import search_from_config


def _header(run: Path, max_time: str, max_epochs: int = 50) -> str:
    search_from_config({
        "seed_everything": 0,
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"sleep": 0.02}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 16}},
        "trainer": {"max_epochs": max_epochs, "max_time": max_time, "accelerator": "cpu",
                    "devices": 1, "logger": False},
        "search": {"space": {"width": {"choice": [8, 16]}}, "budget": 1, "seed": 0,
                   "monitor": "val_loss", "mode": "min", "run_dir": str(run),
                   "verbose": False}}).run()
    text = (run / "best_config.yaml").read_text()
    return "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))


def test_the_header_of_a_trial_that_max_time_stopped_promises_no_same_score(tmp_path):
    header = _header(tmp_path / "run", "00:00:00:01")  # 50 epochs of 0.24 s: stopped
    assert "the same count gives the same score" not in header  # was: promised
    assert ("s of trainer.max_time=00:00:00:01: where that time ended its training, a fit "
            "trained again stops where its own time runs out, at another batch, so its score "
            "may differ" in header), header


def test_the_header_of_a_trial_that_max_time_did_not_stop_promises_its_score(tmp_path):
    header = _header(tmp_path / "run", "00:00:10:00", max_epochs=2)  # 2 epochs of 0.24 s
    assert "max_time" not in header
    assert "It ran with 1 torch thread: on CPU the same count gives the same score." in header

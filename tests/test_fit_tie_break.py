"""``lightning-nas fit RUN/best_config.yaml`` and ``lightning-nas finetune RUN`` of a search
with several objectives keep their best epoch by the search's rule: of the validations tied
on the monitor, the one best on the later objectives in order, then the earlier (as
``tests/test_best_epoch.py`` checks for the search's trials). Trained again from scratch
with the trial's seed, a fit and a fine-tune validate the trial's epochs again, so they
keep the trial's best epoch; a ``best_config.yaml`` an older version wrote (its ``#
lightning-nas fit:`` line without ``tie_break``) still fits, by its monitor alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_nas.cli import main
from lightning_nas.export import finetune
from lightning_nas.fit import fit_config, load_fit
from lightning_nas.fit_exported import fit_defaults
from lightning_nas.search.from_config import search_from_config
from lightning_nas.store import RunStore


def _search(run: Path, objectives: dict[str, str]) -> Any:
    """One trial of 5 epochs: a small MLP with a high learning rate reaches ``val_acc`` 1.0
    by epoch 1 and stays there while its ``val_loss`` still falls (a plateau of the
    monitor); returns the stored trial."""
    search_from_config({
        "seed_everything": 0, "model": "tests.helpers.TinyNet",
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {"max_epochs": 5, "accelerator": "cpu", "devices": 1},
        "search": {"space": {"width": {"choice": [16]}, "lr": {"choice": [0.5, 0.4]}},
                   "budget": 1, "seed": 0, "objectives": objectives,
                   "run_dir": str(run)}}).run()
    with RunStore(run / "search.db") as store:
        (trial,) = store.trials()
    return trial


def _tied_at_the_top(curve: list[float]) -> list[int]:
    return [epoch for epoch, value in enumerate(curve) if value == max(curve)]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, Any]:
    run = tmp_path_factory.mktemp("tie") / "run"
    trial = _search(run, {"val_acc": "max", "val_loss": "min"})
    tied = _tied_at_the_top(trial.curve)
    assert len(tied) > 1 and trial.epoch != tied[0]  # the case: a later epoch breaks the tie
    return run, trial


def test_a_fit_of_best_config_keeps_the_epoch_the_search_kept(run, tmp_path):
    # measured on the old code: the trial kept epoch 3 (val_loss 0.0275), the fit epoch 1,
    # the first of the tied ones (val_loss 0.078), and printed that epoch's metrics
    run, trial = run
    fit = fit_config(run / "best_config.yaml", out_dir=tmp_path / "fit")
    assert fit.curve == trial.curve  # the same epochs validated again
    assert fit.epoch == trial.epoch
    assert fit.metrics["val_loss"] == pytest.approx(trial.metrics["val_loss"], abs=1e-6)
    assert torch.load(fit.checkpoint, weights_only=False)["epoch"] == trial.epoch
    assert fit_defaults(run / "best_config.yaml")["tie_break"] == "val_loss:min"


def test_the_fit_and_finetune_commands_print_the_epoch_the_search_kept(run, tmp_path,
                                                                        capsys):
    run, trial = run
    loss = f"val_loss={trial.metrics['val_loss']:.4f}"
    assert main(["fit", str(run / "best_config.yaml"), "--out", str(tmp_path / "fit")]) == 0
    out = capsys.readouterr().out
    assert f"val_acc=1.0000 (max) at epoch {trial.epoch} (epochs 0..4 trained)" in out, out
    assert main(["finetune", str(run), "--from_scratch"]) == 0  # into RUN/finetune[_N]
    out = capsys.readouterr().out
    assert f"best val_acc=1.0000 at epoch {trial.epoch}\n" in out, out
    assert loss in out.split("metrics of that epoch: ")[1], out


def test_a_finetune_from_scratch_keeps_the_epoch_the_search_kept(run, tmp_path):
    run, trial = run
    tuned = finetune(run, from_checkpoint=False, out_dir=tmp_path / "ft")
    assert tuned.curve == trial.curve
    assert tuned.epoch == trial.epoch
    assert torch.load(tuned.checkpoint, weights_only=False)["epoch"] == trial.epoch


def test_an_older_best_config_and_another_monitor_keep_the_earlier_tied_epoch(run, tmp_path):
    run, trial = run
    tied = _tied_at_the_top(trial.curve)
    older = tmp_path / "best_config.yaml"  # as an older version wrote it: no tie_break
    older.write_text("\n".join(
        line.split(" tie_break=")[0] for line in (run / "best_config.yaml").read_text()
        .splitlines()) + "\n")
    assert "tie_break" not in fit_defaults(older)
    assert fit_config(older, out_dir=tmp_path / "older").epoch == tied[0]
    # another monitor than the search's: the search's objectives do not rank its ties
    assert load_fit(run / "best_config.yaml", out_dir=tmp_path / "a").tie_break == (
        ("val_loss", "min"),)
    assert load_fit(run / "best_config.yaml", monitor="val_loss", mode="min",
                    out_dir=tmp_path / "b").tie_break == ()


def test_a_search_blocks_later_objectives_rank_the_ties_of_its_first(tmp_path):
    import yaml

    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump({
        "model": "tests.helpers.TinyNet", "data": "tests.helpers.BlobData",
        "trainer": {"max_epochs": 1, "accelerator": "cpu"},
        "search": {"space": {"width": {"choice": [4, 8]}}, "objectives": {
            "val_acc": "max", "params": "min", "val_loss": "min"}}}, sort_keys=False))
    assert load_fit(config, out_dir=tmp_path / "a").tie_break == (("val_loss", "min"),)
    assert load_fit(config, monitor="val_loss", out_dir=tmp_path / "b").tie_break == ()


def test_metric_names_with_commas_and_spaces_read_back_from_the_fit_line(tmp_path):
    # was: "tie_break=val_f1,macro:max,..." split at the name's comma, and a monitor with a
    # space read as its first word: `lightning-nas fit` refused, or fitted another metric
    import yaml

    from lightning_nas.export_header import config_header
    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.search.best_epoch import parse_tie_break

    monitor, tie_break = "val acc,top1", (("val_f1,macro", "max"), ("loss %2C:x", "min"))
    best = TrialResult(trial_id=1, arch={}, status=TrialStatus.COMPLETED, score=0.5, epoch=0)
    config = tmp_path / "best_config.yaml"
    config.write_text(config_header(tmp_path, best, monitor, "max", tie_break=tie_break)
                      + yaml.safe_dump({"model": "tests.helpers.TinyNet",
                                        "data": "tests.helpers.BlobData"}))
    read = fit_defaults(config)
    assert (read["monitor"], read["mode"]) == (monitor, "max")
    assert parse_tie_break(read["tie_break"]) == tie_break
    fit = load_fit(config, out_dir=tmp_path / "fit")
    assert (fit.monitor, fit.mode, fit.tie_break) == (monitor, "max", tie_break)

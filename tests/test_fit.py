"""Tests of ``lightning_nas.fit``: the spec ``lightning-nas fit`` trains, and its default
monitor and mode (the ones the search scored with)."""

from __future__ import annotations

import yaml

from lightning_nas.fit import load_fit

BASE = {"model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData"},
        "trainer": {"max_epochs": 1, "accelerator": "cpu"}}


def _write(path, cfg, comment=""):
    path.write_text(comment + yaml.safe_dump(cfg, sort_keys=False))
    return path


def test_the_recorded_monitor_holds_with_a_config_file_after_best_config(tmp_path):
    # was: only the last file's `# lightning-nas fit:` comment was read, so a file given
    # after best_config.yaml scored val_acc (max) where the search scored val_loss (min)
    best = _write(tmp_path / "best_config.yaml", BASE,
                  "# lightning-nas fit: monitor=val_loss mode=min\n")
    extra = _write(tmp_path / "extra.yaml", {"trainer": {"enable_progress_bar": False}})
    spec = load_fit([best, extra], out_dir=tmp_path / "out")
    assert (spec.monitor, spec.mode) == ("val_loss", "min")


def test_a_search_config_with_objectives_is_scored_by_its_first_objective(tmp_path):
    # was: val_acc (max), the default, where the search's monitor was its first objective
    cfg = {**BASE, "search": {"space": {"width": {"choice": [4, 8]}},
                              "objectives": {"val_loss": "min", "params": "min"}}}
    spec = load_fit(_write(tmp_path / "search.yaml", cfg), out_dir=tmp_path / "out")
    assert (spec.monitor, spec.mode) == ("val_loss", "min")
    spec = load_fit(tmp_path / "search.yaml", monitor="val_acc", out_dir=tmp_path / "other")
    assert (spec.monitor, spec.mode) == ("val_acc", "max")

"""A fit's ``monitor``/``mode`` given by its caller come before its config's: a config
whose ``search.monitor`` names no mode (``val_score``) is fitted when the caller says both
(``fit_spec``, ``load_fit``, ``fit_config``, ``lightning-nas fit --monitor X --mode max``);
what is still unknown is refused. Real configs, real Trainer (one short fit)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.fit import fit_config, fit_spec, load_fit

_CFG = {"seed_everything": 5,
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"depth": 1}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False, "enable_model_summary": False},
        "search": {"space": {"depth": {"choice": [1, 2]}}, "monitor": "val_score"}}


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(_CFG))
    return path


@pytest.mark.parametrize("monitor, mode, said", [
    ("val_acc", "max", ("val_acc", "max")),
    ("val_score", "min", ("val_score", "min")),  # the config's monitor, the caller's mode
    ("val_loss", None, ("val_loss", "min")),  # a name that says its mode
])
@pytest.mark.parametrize("call", ["fit_spec", "load_fit"])
def test_the_callers_monitor_and_mode_come_before_the_configs(
        config, tmp_path, call, monitor, mode, said):
    # was: ConfigError: `monitor: 'val_score'` needs a `mode` (max or min) beside it, the
    # config's monitor judged before the caller's arguments were looked at
    build = {"fit_spec": lambda: fit_spec(_CFG, out_dir=tmp_path / "fit", monitor=monitor,
                                          mode=mode),
             "load_fit": lambda: load_fit(config, monitor=monitor, mode=mode,
                                          out_dir=tmp_path / "fit")}
    spec = build[call]()
    assert (spec.monitor, spec.mode) == said


def test_what_is_still_unknown_is_refused(config, tmp_path):
    with pytest.raises(ConfigError, match=r"`monitor: 'val_score'` needs a `mode`"):
        fit_spec(_CFG, out_dir=tmp_path / "fit")
    with pytest.raises(ConfigError, match=r"`monitor: 'val_score'` needs a `mode`"):
        fit_spec(_CFG, out_dir=tmp_path / "fit", monitor="val_score")
    with pytest.raises(ConfigError, match=r"monitor='other' needs mode='max' or 'min'"):
        fit_spec(_CFG, out_dir=tmp_path / "fit", monitor="other")
    assert not (tmp_path / "fit").exists()


def test_fit_config_and_the_command_line_fit_with_the_callers_monitor_and_mode(
        config, tmp_path, capsys):
    result = fit_config(config, monitor="val_acc", mode="max", out_dir=tmp_path / "py")
    assert result.error is None and result.score is not None, result.error
    assert result.metrics["val_acc"] == result.score
    assert main(["fit", str(config), "--monitor", "val_acc", "--mode", "max",
                 "--out", str(tmp_path / "cli")]) == 0, capsys.readouterr().err
    assert "val_acc=" in capsys.readouterr().out

"""The run folder a read-only command or a warm start names: a missing one is said to be
missing (was: "... (no search.db)", as of a folder that exists and holds no run)."""

from __future__ import annotations

import pytest

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError


@pytest.mark.parametrize("command", ["show", "report", "export", "finetune"])
def test_a_folder_that_does_not_exist_is_said_to_be_missing(tmp_path, capsys, command):
    missing = tmp_path / "runs" / "digits"
    assert main([command, str(missing)]) == 2
    assert capsys.readouterr().err == (f"lightning-nas {command}: error: run folder {missing} "
                                       f"does not exist\n")
    assert not (tmp_path / "runs").exists()  # nothing made on the way


@pytest.mark.parametrize("command", ["show", "report", "export", "finetune"])
def test_a_misspelt_folder_names_the_close_one_beside_it(tmp_path, capsys, command):
    (tmp_path / "runs" / "digits").mkdir(parents=True)
    assert main([command, str(tmp_path / "runs" / "digit")]) == 2
    assert capsys.readouterr().err == (
        f"lightning-nas {command}: error: run folder {tmp_path / 'runs' / 'digit'} does not "
        f"exist; did you mean {tmp_path / 'runs' / 'digits'}?\n")


@pytest.mark.parametrize("command, message", [
    ("show", "is neither a run directory (no search.db) nor a one-shot run folder (no "
             "best_arch.yaml)"),
    ("report", "is neither a run directory (no search.db) nor a one-shot run folder (no "
               "best_arch.yaml)"),
    ("export", "is not a run directory (no search.db)"),
    ("finetune", "is not a run directory (no search.db)")])
def test_an_existing_folder_without_a_run_says_what_it_lacks(tmp_path, capsys, command,
                                                             message):
    assert main([command, str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"lightning-nas {command}: error: {tmp_path} {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_a_warm_start_source_that_does_not_exist_is_said_to_be_missing(tmp_path):
    missing = tmp_path / "earlier"
    with pytest.raises(ConfigError, match=rf"^warm_start source {missing} does not exist; give "
                                          rf"folders of earlier searches$"):
        Search(None, {"x": {"choice": [1, 2]}}, objective=lambda arch: {"val_acc": 0.5},
               budget=1, run_dir=tmp_path / "run", warm_start=[str(missing)]).run()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"is not a run directory \(no search.db\)"):
        Search(None, {"x": {"choice": [1, 2]}}, objective=lambda arch: {"val_acc": 0.5},
               budget=1, run_dir=tmp_path / "run", warm_start=[str(tmp_path / "empty")]).run()

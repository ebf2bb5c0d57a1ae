"""A logger ``save_dir`` no logger can write under is refused by ``lightning-nas fit``,
``finetune`` (and ``finetune()``) and ``oneshot`` as by a search (``check_logger_dirs``):
before the model or data is built or any folder made, in one line naming its key as
written and why (was: Lightning's ``NotADirectoryError`` of the path alone, once the
Trainer wrote its logs, the model and data built). So are a ``trainer.default_root_dir``
and a ``ModelCheckpoint``'s ``dirpath``, by ``search`` too (``check_trainer_dirs``; was:
Lightning's ``FileExistsError`` once a checkpoint was saved; a ``default_root_dir`` taken,
failing a run that wrote there).

Example:
    >>> CSV
    'lightning.pytorch.loggers.CSVLogger'
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.profilers import SimpleProfiler

from lightning_nas import finetune
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from tests.helpers_bad_input import EXAMPLES

__all__: list[str] = []

CSV = "lightning.pytorch.loggers.CSVLogger"
CKPT = "lightning.pytorch.callbacks.ModelCheckpoint"
#: what each refusal ends with, as a search's says it
FOUND = "found before any training (no folder was made)"


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("a file\n")
    return path


def _error_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    """The one line ``lightning-nas COMMAND`` printed to stderr (no traceback)."""
    err = capsys.readouterr().err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"lightning-nas {command}: error: ") and "Traceback" not in err
    return line


def test_fit_refuses_a_save_dir_that_is_a_file_before_any_folder(config, tmp_path, capsys):
    path = _file(tmp_path)
    assert main(["fit", str(config), "--out", str(tmp_path / "fit"),
                 f"--trainer.logger={{class_path: {CSV}, init_args: {{save_dir: {path}}}}}"]
                ) == 2
    line = _error_line(capsys, "fit")
    assert f"trainer.logger.init_args.save_dir='{path}': it is a file, not a folder" in line
    assert line.endswith(FOUND)
    assert not (tmp_path / "fit").exists()


def test_finetune_refuses_a_save_dir_under_a_file_naming_its_place_in_the_list(
        finished_run, tmp_path, capsys):
    path = _file(tmp_path)
    folders = sorted(finished_run.iterdir())
    assert main(["finetune", str(finished_run), "--max_epochs", "1",
                 f"--trainer.logger=[{{class_path: {CSV}}}, {{class_path: {CSV}, init_args: "
                 f"{{save_dir: {path / 'tb'}}}}}]"]) == 2
    line = _error_line(capsys, "finetune")
    assert (f"trainer.logger[1].init_args.save_dir='{path / 'tb'}': '{path}' is a file, so no "
            f"folder can be made in it") in line
    assert line.endswith(FOUND)
    assert sorted(finished_run.iterdir()) == folders  # no finetune folder, no name used


def test_finetune_from_python_refuses_a_logger_objects_save_dir_that_is_a_file(finished_run,
                                                                               tmp_path):
    path = _file(tmp_path)
    folders = sorted(finished_run.iterdir())
    with pytest.raises(ConfigError, match=r"^trainer\.logger \(a CSVLogger object\)'s "
                                          r"save_dir='.*notes\.txt': it is a file, not a "
                                          r"folder; .*found before any training"):
        finetune(finished_run, max_epochs=1, trainer={"logger": CSVLogger(save_dir=str(path))},
                 out_dir=tmp_path / "ft")
    assert sorted(finished_run.iterdir()) == folders and not (tmp_path / "ft").exists()


@pytest.mark.parametrize("print_config", [False, True], ids=["run", "print_config"])
def test_oneshot_refuses_a_save_dir_that_is_a_file_before_its_run_folder(tmp_path, capsys,
                                                                         print_config):
    path = _file(tmp_path)
    run = tmp_path / "run"
    assert main(["oneshot", str(EXAMPLES / "oneshot_digits" / "oneshot.yaml"),
                 f"--oneshot.run_dir={run}",
                 "--oneshot.finetune_epochs=null", "--trainer.max_epochs=1",
                 "--trainer.limit_train_batches=1", "--trainer.limit_val_batches=1",
                 f"--trainer.logger={{class_path: {CSV}, init_args: {{save_dir: {path}}}}}",
                 *["--print_config"] * print_config]) == 2
    line = _error_line(capsys, "oneshot")
    assert f"trainer.logger.init_args.save_dir='{path}': it is a file, not a folder" in line
    assert line.endswith(FOUND)
    assert not run.exists()


def test_fit_refuses_a_default_root_dir_that_is_a_file(config, tmp_path, capsys):
    path = _file(tmp_path)
    assert main(["fit", str(config), "--out", str(tmp_path / "fit"), "--trainer.max_epochs=1",
                 f"--trainer.default_root_dir={path}"]) == 2
    line = _error_line(capsys, "fit")
    assert (f"trainer.default_root_dir='{path}': it is a file, not a folder; the Trainer "
            f"writes under it the fit's ") in line
    assert line.endswith(FOUND)
    assert not (tmp_path / "fit").exists()


def test_fit_refuses_a_named_checkpoints_dirpath_under_a_file_by_its_name(config, tmp_path,
                                                                          capsys):
    path = _file(tmp_path)
    cfg = yaml.safe_load(config.read_text())
    cfg["trainer"] |= {"max_epochs": 1, "callbacks": {
        "stop": {"class_path": "lightning.pytorch.callbacks.EarlyStopping",
                 "init_args": {"monitor": "val_acc", "mode": "max"}},
        "ckpt": {"class_path": CKPT, "init_args": {"dirpath": str(path / "ck")}}}}
    config.write_text(yaml.safe_dump(cfg))
    assert main(["fit", str(config), "--out", str(tmp_path / "fit")]) == 2
    line = _error_line(capsys, "fit")
    assert (f"trainer.callbacks.ckpt.init_args.dirpath='{path / 'ck'}': '{path}' is a file, so "
            f"no folder can be made in it; the ModelCheckpoint writes the fit's checkpoints "
            f"under it") in line
    assert line.endswith(FOUND)
    assert not (tmp_path / "fit").exists()


def test_finetune_refuses_a_named_checkpoints_dirpath_under_a_file_by_its_name(config, tmp_path,
                                                                               capsys):
    # was: trainer.callbacks[1].init_args.dirpath, the node's place, not the config's name
    path = _file(tmp_path)
    cfg = yaml.safe_load(config.read_text())
    cfg["trainer"] |= {"max_epochs": 1, "limit_train_batches": 2, "callbacks": {
        "stop": {"class_path": "lightning.pytorch.callbacks.EarlyStopping",
                 "init_args": {"monitor": "val_acc", "mode": "max"}},
        "ckpt": {"class_path": CKPT, "init_args": {"save_last": False}}}}
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))  # ckpt the last node
    assert main(["search", str(config), "--search.budget=1"]) == 0
    capsys.readouterr()
    run = tmp_path / "run"
    folders = sorted(run.iterdir())
    assert main(["finetune", str(run), "--max_epochs", "1",
                 f"--trainer.callbacks.dirpath={path / 'ck'}"]) == 2  # the last node's
    line = _error_line(capsys, "finetune")
    assert (f"trainer.callbacks.ckpt.init_args.dirpath='{path / 'ck'}': '{path}' is a file, so "
            f"no folder can be made in it; the ModelCheckpoint writes the fine-tune's "
            f"checkpoints under it") in line
    assert sorted(run.iterdir()) == folders


def test_search_refuses_a_default_root_dir_under_a_file(config, tmp_path, capsys):
    path = _file(tmp_path)
    assert main(["search", str(config), "--search.budget=1", "--trainer.max_epochs=1",
                 f"--trainer.default_root_dir={path / 'out'}"]) == 2
    line = _error_line(capsys, "search")
    assert (f"trainer.default_root_dir='{path / 'out'}': '{path}' is a file, so no folder can "
            f"be made in it; the Trainer writes under it each trial's ") in line
    assert line.endswith(FOUND)
    assert not (tmp_path / "run").exists()


def test_finetune_refuses_a_checkpoints_dirpath_that_is_a_file(finished_run, tmp_path, capsys):
    path = _file(tmp_path)
    folders = sorted(finished_run.iterdir())
    assert main(["finetune", str(finished_run), "--max_epochs", "1",
                 f"--trainer.callbacks=[{{class_path: {CKPT}, init_args: "
                 f"{{dirpath: {path}}}}}]"]) == 2
    line = _error_line(capsys, "finetune")
    assert (f"trainer.callbacks[0].init_args.dirpath='{path}': it is a file, not a folder; "
            f"the ModelCheckpoint writes the fine-tune's checkpoints under it") in line
    assert line.endswith(FOUND)
    assert sorted(finished_run.iterdir()) == folders


def test_finetune_from_python_refuses_a_default_root_dir_under_a_file(finished_run, tmp_path):
    path = _file(tmp_path)
    folders = sorted(finished_run.iterdir())
    with pytest.raises(ConfigError, match=r"^trainer\.default_root_dir='.*notes\.txt/out': "
                                          r"'.*notes\.txt' is a file, so no folder can be made "
                                          r"in it; the Trainer writes under it the "
                                          r"fine-tune's .*found before any training"):
        finetune(finished_run, max_epochs=1, trainer={"default_root_dir": str(path / "out")},
                 out_dir=tmp_path / "ft")
    assert sorted(finished_run.iterdir()) == folders and not (tmp_path / "ft").exists()


@pytest.mark.parametrize("key", ["default_root_dir", "callbacks"])
def test_oneshot_refuses_a_default_root_dir_or_dirpath_that_is_a_file(tmp_path, capsys, key):
    path = _file(tmp_path)
    run = tmp_path / "run"
    given = {"default_root_dir": (f"--trainer.default_root_dir={path}",
                                  "trainer.default_root_dir",
                                  "the Trainer writes under it the one-shot search's "),
             "callbacks": (f"--trainer.callbacks=[{{class_path: {CKPT}, init_args: "
                           f"{{dirpath: {path}}}}}]", "trainer.callbacks[0].init_args.dirpath",
                           "the ModelCheckpoint writes the one-shot search's checkpoints")}
    option, label, writes = given[key]
    assert main(["oneshot", str(EXAMPLES / "oneshot_digits" / "oneshot.yaml"),
                 f"--oneshot.run_dir={run}", "--oneshot.finetune_epochs=null",
                 "--trainer.max_epochs=1", "--trainer.limit_train_batches=1",
                 "--trainer.limit_val_batches=1", option]) == 2
    line = _error_line(capsys, "oneshot")
    assert f"{label}='{path}': it is a file, not a folder; {writes}" in line
    assert line.endswith(FOUND)
    assert not run.exists()



def test_finetune_from_python_refuses_a_profiler_objects_dirpath_under_a_file(finished_run,
                                                                              tmp_path):
    path = _file(tmp_path)
    folders = sorted(finished_run.iterdir())
    with pytest.raises(ConfigError, match=r"^trainer\.profiler \(a SimpleProfiler object\)'s "
                                          r"dirpath='.*notes\.txt/perf': '.*notes\.txt' is a "
                                          r"file, so no folder can be made in it; the "
                                          r"SimpleProfiler writes the fine-tune's reports"):
        finetune(finished_run, max_epochs=1, out_dir=tmp_path / "ft", trainer={
            "profiler": SimpleProfiler(dirpath=path / "perf", filename="perf")})
    assert sorted(finished_run.iterdir()) == folders and not (tmp_path / "ft").exists()

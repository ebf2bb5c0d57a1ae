"""A logger ``save_dir`` no logger can write under (a file, a folder under a file, a folder
without write permission) is refused before any training and before the run folder is
written, naming its key as written and the reason (was: two trials failed "before training
started" with ``NotADirectoryError`` naming the path alone, then the search stopped); so
are a ``default_root_dir`` and a ``ModelCheckpoint``'s ``dirpath`` (was: every trial FAILED
on a checkpoint's, the search stopped; a ``default_root_dir`` taken, failing each trial
that wrote there).

Example:
    >>> CSV
    'lightning.pytorch.loggers.CSVLogger'
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from lightning_nas.errors import ConfigError
from tests.helpers_search import tiny_search

__all__: list[str] = []

CSV = "lightning.pytorch.loggers.CSVLogger"
SPACE = {"width": {"choice": [4, 8]}}


def _search(run: Path, logger: object, space: dict | None = None, **trainer: object) -> None:
    """Make (and so check) a search of two one-epoch trials logging to ``logger`` (None:
    no logger set), of ``space`` (None: ``SPACE``), with the Trainer settings ``trainer``."""
    trainer |= {"max_epochs": 1, "limit_train_batches": 2}
    if logger is not None:
        trainer["logger"] = logger
    tiny_search(run, space or SPACE, trainer, budget=2).run()


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("a file\n")
    return path


def test_a_save_dir_that_is_a_file_is_refused_naming_its_key(tmp_path):
    path = _file(tmp_path)
    with pytest.raises(ConfigError, match=r"trainer\.logger\.init_args\.save_dir=.*notes\.txt.* "
                                          r"is a file, not a folder"):
        _search(tmp_path / "run", {"class_path": CSV, "init_args": {"save_dir": str(path)}})
    assert not (tmp_path / "run").exists()


def test_a_save_dir_under_a_file_is_refused_naming_its_place_in_the_list(tmp_path):
    path = _file(tmp_path)
    loggers = [{"class_path": CSV},
               {"class_path": CSV, "init_args": {"save_dir": str(path / "tb")}}]
    with pytest.raises(ConfigError, match=r"trainer\.logger\[1\]\.init_args\.save_dir=.*: "
                                          r".*notes\.txt' is a file, so no folder can be made"):
        _search(tmp_path / "run", loggers)
    assert not (tmp_path / "run").exists()


def test_a_logger_objects_save_dir_that_is_a_file_is_refused(tmp_path):
    path = _file(tmp_path)
    with pytest.raises(ConfigError, match=r"trainer\.logger \(a CSVLogger object\)'s save_dir=.*"
                                          r"is a file, not a folder"):
        _search(tmp_path / "run", CSVLogger(save_dir=str(path)))
    assert not (tmp_path / "run").exists()


def test_a_searched_save_dir_of_one_logger_is_refused_naming_its_space_key(tmp_path):
    # was: "space key 'trainer.logger' may take [{...the whole merged list...}]"
    path = _file(tmp_path)
    space = {**SPACE, "trainer.logger.0.save_dir": {"choice": [str(tmp_path / "logs"),
                                                               str(path)]}}
    with pytest.raises(ConfigError, match=r"^space key 'trainer\.logger\.0\.save_dir' may take "
                                          r"'.*notes\.txt': trainer\.logger\[0\]\.init_args"
                                          r"\.save_dir='.*notes\.txt': it is a file, not a "
                                          r"folder; the logger writes each trial's logs"):
        _search(tmp_path / "run", [{"class_path": CSV,
                                    "init_args": {"save_dir": str(tmp_path / "logs")}}], space)
    assert not (tmp_path / "run").exists()


def _unwritable(folder: Path) -> bool:
    """Whether this process cannot make a file in ``folder`` (root can, whatever its mode)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return False
    except OSError:
        return True


def test_a_save_dir_that_cannot_be_written_is_refused(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if not _unwritable(folder):
            pytest.skip("this process writes into a folder of mode 0o555 (root)")
        with pytest.raises(ConfigError, match=r"trainer\.logger\.init_args\.save_dir=.*locked/tb"
                                              r".* cannot be written"):
            _search(tmp_path / "run", {"class_path": CSV,
                                       "init_args": {"save_dir": str(folder / "tb")}})
    finally:
        folder.chmod(0o755)
    assert not (tmp_path / "run").exists() and os.listdir(folder) == []


def test_a_default_root_dir_that_is_a_file_is_refused_naming_its_key(tmp_path):
    path = _file(tmp_path)
    with pytest.raises(ConfigError, match=r"^trainer\.default_root_dir='.*notes\.txt': it is a "
                                          r"file, not a folder; the Trainer writes under it "
                                          r"each trial's .*found before any training"):
        _search(tmp_path / "run", None, default_root_dir=str(path))
    assert not (tmp_path / "run").exists()


def test_a_searched_default_root_dir_under_a_file_is_refused(tmp_path):
    path = _file(tmp_path)
    space = {**SPACE, "trainer.default_root_dir": {"choice": [str(tmp_path / "roots"),
                                                             str(path / "root")]}}
    with pytest.raises(ConfigError, match=r"^space key 'trainer\.default_root_dir' may take "
                                          r"'.*notes\.txt/root': '.*notes\.txt' is a file, so "
                                          r"no folder can be made in it; "):
        _search(tmp_path / "run", None, space)
    assert not (tmp_path / "run").exists() and not (tmp_path / "roots").exists()


def test_a_checkpoint_objects_dirpath_under_a_file_is_refused(tmp_path):
    path = _file(tmp_path)
    with pytest.raises(ConfigError, match=r"^trainer\.callbacks\[1\] \(a ModelCheckpoint "
                                          r"object\)'s dirpath='.*notes\.txt/ck': '.*notes\.txt' "
                                          r"is a file, so no folder can be made in it; the "
                                          r"ModelCheckpoint writes each trial's checkpoints"):
        _search(tmp_path / "run", None, callbacks=[EarlyStopping("val_acc", mode="max"),
                                                   ModelCheckpoint(dirpath=path / "ck")])
    assert not (tmp_path / "run").exists()


def test_a_searched_checkpoint_dirpath_that_is_a_file_is_refused_naming_its_space_key(
        tmp_path):
    path = _file(tmp_path)
    node = {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
            "init_args": {"dirpath": str(tmp_path / "ck")}}
    space = {**SPACE, "trainer.callbacks.0.dirpath": {"choice": [str(tmp_path / "ck2"),
                                                                 str(path)]}}
    with pytest.raises(ConfigError, match=r"^space key 'trainer\.callbacks\.0\.dirpath' may take "
                                          r"'.*notes\.txt': trainer\.callbacks\[0\]\.init_args"
                                          r"\.dirpath='.*notes\.txt': it is a file, not a "
                                          r"folder; the ModelCheckpoint writes each trial's "):
        _search(tmp_path / "run", None, space, callbacks=[node])
    assert not (tmp_path / "run").exists()


def test_a_profilers_dirpath_that_is_a_file_is_refused(tmp_path):
    path = _file(tmp_path)
    profiler = {"class_path": "lightning.pytorch.profilers.SimpleProfiler",
                "init_args": {"dirpath": str(path), "filename": "perf"}}
    with pytest.raises(ConfigError, match=r"^trainer\.profiler\.init_args\.dirpath='.*notes\.txt'"
                                          r": it is a file, not a folder; the SimpleProfiler "
                                          r"writes each trial's reports under it"):
        _search(tmp_path / "run", None, profiler=profiler)
    assert not (tmp_path / "run").exists()

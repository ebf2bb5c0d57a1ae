"""The record files of a one-shot run on disk (SPOS's ``history.json``, DARTS/GDAS's
``alphas.json``, ``oneshot/records.py``) across kills and resumes: with real Trainers on the
digits example and a real SIGKILL, or on blobs with a mid-epoch checkpoint."""

from __future__ import annotations

import signal

import pytest

from lightning_nas.cli import main
from tests.test_oneshot_resume import _RECORD, EXAMPLE, ROOT, TINY, _epochs, _oneshot


@pytest.mark.slow
@pytest.mark.parametrize("config", ["oneshot.yaml", "darts.yaml"])
def test_a_resume_killed_in_its_final_search_keeps_the_record_on_disk(
        tmp_path, monkeypatch, launcher, config):
    # was: a run resumed from the checkpoint of its training's end removed its outputs when
    # its fit ended, then ran its final search, and wrote the record again with the export:
    # killed in that search (SIGKILL, out of memory), it left no history.json / alphas.json
    # on disk, though the checkpoint held the record. Now the record is back on disk before
    # the final search starts (the checkpoint's, as the killed run left it).
    name = _RECORD[config]
    first, second = tmp_path / "at_train_end", tmp_path / "in_final_search"
    args = [str(EXAMPLE / config), *TINY,
            f"--trainer.callbacks=[{{class_path: tests.helpers.KillAtTrainEnd, init_args: "
            f"{{marker: {first}}}}}]",
            f"--data={{class_path: tests.helpers.KillInResumedSearch, init_args: "
            f"{{marker: {second}, batch_size: 64}}}}"]
    if config == "oneshot.yaml":
        args += ["--oneshot.num_candidates=2", "--oneshot.search_every_n_epochs=1"]
    full, dead = tmp_path / "full", tmp_path / "dead"
    first.touch()
    second.touch()  # the uninterrupted run: the same command, not killed
    code, _, err = _oneshot(launcher, tmp_path, *args, f"--oneshot.run_dir={full}")
    assert code == 0, err[-3000:]
    first.unlink()
    second.unlink()
    code, _, err = _oneshot(launcher, tmp_path, *args, f"--oneshot.run_dir={dead}")
    assert code == -signal.SIGKILL and first.is_file() and not second.exists(), err[-3000:]
    before = (dead / name).read_bytes()
    # SPOS's searches after epochs 1 and 2 (the third is the final search); DARTS's three
    # epochs, each recorded by its end
    ended = _epochs(config, full / name)
    assert _epochs(config, dead / name) == (
        [entry for entry in ended if entry["epoch"] <= 2] if config == "oneshot.yaml" else ended)
    code, out, err = _oneshot(launcher, tmp_path, *args, f"--oneshot.run_dir={dead}",
                              "--ckpt_path", "last")
    assert code == -signal.SIGKILL and second.is_file(), (out + err)[-3000:]
    assert "its training is done: running its final search and export" in out, out
    assert not (dead / "best_arch.yaml").exists()  # killed before the export
    assert (dead / name).is_file(), sorted(p.name for p in dead.iterdir())
    assert (dead / name).read_bytes() == before
    assert not list(dead.glob(".*.partial"))
    # resumed again, it ends with the uninterrupted run's record, byte for byte
    monkeypatch.chdir(ROOT)
    assert main(["oneshot", *args, f"--oneshot.run_dir={dead}", "--ckpt_path", "last"]) == 0
    assert (dead / name).read_bytes() == (full / name).read_bytes()
    assert (dead / "best_arch.yaml").read_text() == (full / "best_arch.yaml").read_text()


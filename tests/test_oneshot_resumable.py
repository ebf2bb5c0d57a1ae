"""``oneshot.run.resumable`` and the ``--ckpt_path last`` hint of a refused one-shot run: no
resume is advised for a run folder another live run holds (its ``search.lock``), and a
checkpoint its own checks refuse is answered before a Trainer or the model is built. Real
runs (the tiny supernet on the blobs), a real second process holding the folder."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import yaml

from lightning_nas.cli import main
from lightning_nas.oneshot.run import resumable
from tests.helpers import TinySupernet
from tests.launcher import ROOT


class Counted(pl.Callback):
    """A callback that counts the Trainers built with it (each builds one from its node)."""

    made = 0

    def __init__(self) -> None:
        type(self).made += 1


class CountedSupernet(TinySupernet):
    """``TinySupernet`` that counts the times it is built."""

    built = 0

    def __init__(self, lr: float = 0.05) -> None:
        type(self).built += 1
        super().__init__(lr)


def _config(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    """A tiny SPOS config whose run is refused when its second epoch starts (after the
    first one's last.ckpt); the config and its path."""
    cfg = {"model": f"{__name__}.CountedSupernet",
           "data": {"class_path": "tests.helpers.BlobData",
                    "init_args": {"n": 128, "batch_size": 32}},
           "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1,
                       "limit_train_batches": 2,
                       "callbacks": [{"class_path": "tests.helpers.NASErrorAt",
                                      "init_args": {"epoch": 1}},
                                     {"class_path": f"{__name__}.Counted"}]},
           "oneshot": {"algorithm": "spos", "calibration_batches": 1, "num_classes": 3,
                       "seed": 0, "run_dir": str(tmp_path / "run"), "num_candidates": 2}}
    path = tmp_path / "oneshot.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return cfg, path


@contextmanager
def _held(run_dir: Path) -> Iterator[None]:
    """Another process holds ``run_dir`` as a live one-shot run does (``hold_folder``)
    until the block ends."""
    code = ("import sys; from lightning_nas.run_folder import hold_folder; "
            f"held = hold_folder({str(run_dir)!r}, 'then run it again', kind='oneshot'); "
            "print('held', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


def test_a_folder_a_live_run_holds_gets_no_hint_to_resume_its_checkpoint(tmp_path, capsys):
    # was: "resume it from its checkpoint (1 training epoch done) with: ... --ckpt_path
    # last" after "is being searched by another process": a resume of a run still running
    cfg, config = _config(tmp_path)
    assert main(["oneshot", str(config)]) == 2
    capsys.readouterr()
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert last.is_file() and resumable(cfg)
    with _held(tmp_path / "run"):
        assert resumable(cfg) is False
        for resume in ([], ["--ckpt_path", "last"]):
            assert main(["oneshot", str(config), *resume]) == 2
            err = capsys.readouterr().err
            assert "is being searched by another process (pid " in err, err
            assert "resume it from" not in err and len(err.splitlines()) == 1, err
    assert resumable(cfg)  # the holder gone: its checkpoint resumes again
    assert last.is_file()


def test_a_checkpoint_its_own_checks_refuse_is_answered_before_anything_is_built(tmp_path,
                                                                                 capsys):
    # was: the config's Trainer built (and the checks of the model's and data's classes
    # made) before the checkpoint was read: ~48 ms of ~50 ms on this supernet
    cfg, config = _config(tmp_path)
    assert main(["oneshot", str(config)]) == 2
    capsys.readouterr()
    other_seed, other_algorithm = copy.deepcopy(cfg), copy.deepcopy(cfg)
    other_seed["oneshot"]["seed"] = 7
    other_algorithm["oneshot"].update(algorithm="darts", num_candidates=None)
    for refused in (other_seed, other_algorithm):
        made, built = Counted.made, CountedSupernet.built
        assert resumable(refused) is False
        assert (Counted.made, CountedSupernet.built) == (made, built)
    made, built = Counted.made, CountedSupernet.built
    assert resumable(cfg)  # the answers are as before: a Trainer and the supernet built
    assert Counted.made > made and CountedSupernet.built == built + 1
    for bad in ({"max_time": "abc"}, {"devices": 0}):  # the Trainer refuses it: not resumable
        wrong = copy.deepcopy(cfg)
        wrong["trainer"].update(bad)
        assert resumable(wrong) is False, bad


def test_a_supernet_the_checkpoint_does_not_fit_is_not_resumable(tmp_path, capsys):
    cfg, config = _config(tmp_path)
    assert main(["oneshot", str(config)]) == 2
    capsys.readouterr()
    wrong = copy.deepcopy(cfg)
    wrong["oneshot"]["net_attr"] = "missing"  # no such attribute of the built supernet
    assert resumable(wrong) is False
    narrower = copy.deepcopy(cfg)
    narrower["model"] = {"class_path": "tests.helpers.TinyNet",  # other shapes: its weights
                      "init_args": {"width": 4}}  # do not load
    assert resumable(narrower) is False

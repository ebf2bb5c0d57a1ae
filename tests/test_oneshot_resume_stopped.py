"""``lightning-nas oneshot --ckpt_path last`` of a run a callback stopped (``EarlyStopping``
before ``max_epochs``) and that was killed in its final search: the resume finishes it as the
uninterrupted run, its training at its end (was: Lightning does not keep ``should_stop``, so
the resume trained one epoch more than the uninterrupted run and exported another subnet)."""

from __future__ import annotations

import json
import signal

import pytest
import torch

from lightning_nas.oneshot.resume import checkpoint_settings, training_end
from tests.helpers_oneshot import EXAMPLE, TINY, oneshot_process

#: stops after the second epoch: no train_loss betters the first by 100
_EARLY = ("{class_path: lightning.pytorch.callbacks.EarlyStopping, init_args: {monitor: "
          "train_loss, min_delta: 100.0, patience: 1, check_on_train_epoch_end: true}}")


@pytest.mark.parametrize("config", ["oneshot.yaml", "darts.yaml"])
def test_a_stopped_run_killed_in_its_final_search_finishes_as_the_uninterrupted(
        tmp_path, launcher, config):
    marker = tmp_path / "killed"
    kill = f"{{class_path: tests.helpers.KillAtTrainEnd, init_args: {{marker: {marker}}}}}"
    args = [str(EXAMPLE / config), *TINY[:1], "--trainer.max_epochs=5", *TINY[1:],
            f"--trainer.callbacks=[{_EARLY}, {kill}]"]
    if config == "oneshot.yaml":
        args += ["--oneshot.num_candidates=2", "--oneshot.search_every_n_epochs=1"]
    full, dead = tmp_path / "full", tmp_path / "dead"
    marker.touch()  # the uninterrupted run: the same command, not killed
    code, _, err = oneshot_process(launcher, tmp_path, *args, f"--oneshot.run_dir={full}")
    assert code == 0, err[-3000:]
    marker.unlink()
    code, _, err = oneshot_process(launcher, tmp_path, *args, f"--oneshot.run_dir={dead}")
    assert code == -signal.SIGKILL and marker.is_file(), err[-3000:]
    last = dead / "checkpoints" / "last.ckpt"
    code, out, err = oneshot_process(launcher, tmp_path, *args, f"--oneshot.run_dir={dead}",
                                     "--ckpt_path", "last")
    assert code == 0, err[-3000:]
    record = "history.json" if config == "oneshot.yaml" else "alphas.json"
    assert json.loads((dead / record).read_text()) == json.loads((full / record).read_text())
    assert "2 training epochs done, seed 0); its training is done: running its final " \
           "search and export" in out, out
    assert (dead / "best_arch.yaml").read_text() == (full / "best_arch.yaml").read_text()
    trained = torch.load(full / "subnet.pt", weights_only=False).state_dict()
    resumed = torch.load(dead / "subnet.pt", weights_only=False).state_dict()
    assert trained.keys() == resumed.keys()
    assert all(torch.equal(resumed[k], v) for k, v in trained.items())
    # the finished run again: nothing left to do, and no advice to raise max_epochs
    code, out, err = oneshot_process(launcher, tmp_path, *args, f"--oneshot.run_dir={dead}",
                                     "--ckpt_path", "last")
    assert code == 0, err[-3000:]
    assert out.startswith(f"Nothing left to train: {last} is of the run's training end (a "
                          f"callback stopped it after 2 epochs)"), out
    assert "max_epochs" not in out
    settings = checkpoint_settings(last)  # saved at the end of epoch 2, of a stopped fit
    assert settings["epoch"] == 1 and settings["stopped"]
    assert training_end(settings, {"max_epochs": 5}) == (
        "stopped", "a callback stopped it after 2 epochs")

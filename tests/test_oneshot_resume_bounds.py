"""A one-shot resume of a fit bounded by ``max_steps``, ``max_time`` or a user's ``Timer``:
it ends where the uninterrupted fit ends, with its searches; a checkpoint saved mid-epoch
is counted as such (a warning); a finished run missing an output is not taken for
finished."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import torchmetrics
from lightning.pytorch.callbacks import Timer
from torch.nn import functional as F

from lightning_nas.cli import main
from lightning_nas.oneshot.bilevel import BilevelData
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import DifferentiableNAS
from lightning_nas.oneshot.resume import (
    training_end,
)
from lightning_nas.oneshot.run_checkpoint import epoch_end_checkpoint
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot import (
    EXAMPLE,
    ROOT,
    TINY,
)


@pytest.mark.parametrize("limits", [{"max_epochs": -1, "max_steps": 12},
                                    {"max_epochs": 3, "max_steps": 100}])
def test_a_spos_fit_bounded_by_max_steps_resumes_as_the_uninterrupted(tmp_path, limits):
    """Lightning restarts a fit that has a max_steps (iteration-based training) from an
    epoch-end checkpoint at that epoch's end: it runs the epoch's end hooks again, and makes
    the next epoch's data iterator after a first one (was: the epoch's search ran again, two
    rows of each of its subnets in the history, and the epochs after it trained on another
    data order: other weights, other scores; with max_epochs -1 a CLI run was never resumed,
    "nothing left to train"; and it counted that epoch twice: with max_epochs too, the
    resumed fit stopped one epoch early, its last search stored as of epoch 3)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages

    def fit(ckpt_path: Path | None = None) -> tuple[OneShotNAS, dict[str, torch.Tensor]]:
        pl.seed_everything(0, verbose=False)
        callback = OneShotNAS(num_candidates=3, search_every_n_epochs=1, num_classes=3,
                              calibration_batches=2, record_paths=True)
        model = BatchNormSupernet()
        pl.Trainer(**limits, accelerator="cpu", devices=1, logger=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   limit_train_batches=4, limit_val_batches=1, default_root_dir=tmp_path,
                   callbacks=[callback, ModelCheckpoint(
                       dirpath=tmp_path / "ckpt", filename="{epoch}", save_top_k=-1,
                       save_on_train_epoch_end=True)]).fit(
            model, datamodule=BlobImages(n=400, batch_size=32), ckpt_path=ckpt_path)
        return callback, model.state_dict()

    full, weights = fit()
    assert sorted({h["epoch"] for h in full.history}) == [1, 2, 3]
    resumed, resumed_weights = fit(tmp_path / "ckpt" / "epoch=0.ckpt")
    assert resumed.history == full.history  # each search once, the same scores
    assert resumed.paths == full.paths[4:]
    assert all(torch.equal(resumed_weights[k], weights[k]) for k in weights)
    # from the checkpoint of its end (max_steps reached): the final search alone, as the
    # uninterrupted fit's (was: "this fit trained nothing (step 12 of max_steps=12 ...")
    ended, _ = fit(tmp_path / "ckpt" / "epoch=2.ckpt")
    assert ended.paths == [] and ended.history == full.history
    assert (ended.best_arch, ended.best_score) == (full.best_arch, full.best_score)


def test_a_spos_fit_resumed_from_the_step_max_steps_ends_it_at_searches_as_the_uninterrupted(
        tmp_path):
    """A checkpoint saved at the step ``max_steps`` stops a fit at, in its third epoch (a
    ``ModelCheckpoint`` every n steps), or after the fit (``Trainer.save_checkpoint``):
    the resume runs the final search of the uninterrupted fit (was, for the first: taken
    for a search after the two epochs completed, which had run, so none ran and that
    earlier search's best was exported; the final search counted its epochs from the
    Trainer's loop progress, which counts no epoch in progress)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages

    def fit(ckpt_path: Path | None = None) -> tuple[OneShotNAS, pl.Trainer]:
        pl.seed_everything(0, verbose=False)
        callback = OneShotNAS(num_candidates=3, search_every_n_epochs=1, num_classes=3,
                              calibration_batches=2)
        trainer = pl.Trainer(
            max_epochs=-1, max_steps=10, accelerator="cpu", devices=1, logger=False,
            enable_progress_bar=False, enable_model_summary=False, limit_train_batches=4,
            limit_val_batches=1, default_root_dir=tmp_path, callbacks=[
                callback, ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="{step}",
                                          save_top_k=-1, every_n_train_steps=10)])
        trainer.fit(BatchNormSupernet(), datamodule=BlobImages(n=400, batch_size=32),
                    ckpt_path=ckpt_path)
        return callback, trainer

    full, trainer = fit()
    trainer.save_checkpoint(tmp_path / "after.ckpt")
    assert sorted({row["epoch"] for row in full.history}) == [1, 2, 3]
    for ckpt in (tmp_path / "ckpt" / "step=10.ckpt", tmp_path / "after.ckpt"):
        ended, _ = fit(ckpt)
        assert ended.history == full.history, ckpt.name
        assert (ended.best_arch, ended.best_score) == (full.best_arch, full.best_score)


def test_a_darts_fit_bounded_by_max_epochs_and_max_steps_resumes_as_the_uninterrupted(
        tmp_path):
    # was: Lightning counted the checkpoint's epoch twice when it restarted the fit (it has a
    # max_steps) at that epoch's end, so the resumed fit stopped an epoch early: two
    # epochs of logits' history, another architecture and score, without a word
    from lightning.pytorch.callbacks import ModelCheckpoint

    def fit(ckpt_path: Path | None = None) -> DifferentiableNAS:
        pl.seed_everything(0, verbose=False)
        nas = DifferentiableNAS(TinySupernet(), num_classes=3, arch_lr=0.05)
        pl.Trainer(max_epochs=3, max_steps=1000, accelerator="cpu", devices=1, logger=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   limit_train_batches=2, limit_val_batches=1, default_root_dir=tmp_path,
                   callbacks=[ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="{epoch}",
                                              save_top_k=-1, save_on_train_epoch_end=True)]
                   ).fit(nas, datamodule=BilevelData(BlobData()), ckpt_path=ckpt_path)
        return nas

    full = fit()
    resumed = fit(tmp_path / "ckpt" / "epoch=0.ckpt")
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    assert resumed.history == full.history
    assert (resumed.best_arch, resumed.best_score) == (full.best_arch, full.best_score)


def test_a_cli_run_bounded_by_max_steps_alone_resumes(tmp_path, capsys):
    # was: max_epochs -1 read as a bound every checkpoint reached: "Nothing left to train"
    # (exit 0, the short run's outputs kept), or for a run that died, refused as one that
    # died in its final search
    args = ["oneshot", str(EXAMPLE / "oneshot.yaml"), *TINY, "--trainer.max_epochs=-1",
            "--oneshot.num_candidates=3", "--oneshot.search_every_n_epochs=1"]
    assert main([*args, "--trainer.max_steps=6", f"--oneshot.run_dir={tmp_path / 'full'}"]) == 0
    short = tmp_path / "short"
    assert main([*args, "--trainer.max_steps=4", f"--oneshot.run_dir={short}"]) == 0
    assert main([*args, "--trainer.max_steps=6", f"--oneshot.run_dir={short}",
                 "--ckpt_path", "last"]) == 0
    assert "Nothing left to train" not in capsys.readouterr().out
    history = [json.loads((tmp_path / name / "history.json").read_text())
               for name in ("full", "short")]
    assert {row["epoch"] for row in history[1]} == {1, 2, 3}
    assert history[1] == history[0]


def test_a_finished_spos_fit_resumed_further_runs_its_catch_up_search_as_the_uninterrupted(
        tmp_path):
    """The search after epoch 2, the final one of a 2-epoch fit (after its last checkpoint),
    runs again when that fit goes on to 3 epochs; it is calibrated on the batches the 3-epoch
    fit drew at that point (was: on others, so its scores differed: Lightning had drawn
    from the restored random state, making the training iterator, before it ran)."""
    from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages

    def fit(name: str, epochs: int, ckpt_path: Path | None = None) -> list[dict]:
        pl.seed_everything(0, verbose=False)
        callback = OneShotNAS(num_candidates=3, search_every_n_epochs=2,
                              calibration_batches=2, metric=torchmetrics.MeanSquaredError,
                              forward=lambda m, b: (F.softmax(m(b[0]), -1),
                                                    F.one_hot(b[1], 3).float()))
        pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   limit_train_batches=4, limit_val_batches=1, default_root_dir=tmp_path,
                   callbacks=[callback, epoch_end_checkpoint(tmp_path / name)]).fit(
            BatchNormSupernet(), datamodule=BlobImages(n=400, batch_size=32),
            ckpt_path=ckpt_path)
        return callback.history

    full = fit("full", 3)
    assert {h["epoch"] for h in full} == {2, 3}
    short = fit("short", 2)
    resumed = fit("short", 3, tmp_path / "short" / "checkpoints" / "last.ckpt")
    assert [h["epoch"] for h in resumed] == [h["epoch"] for h in full]
    assert [h["arch"] for h in resumed] == [h["arch"] for h in full]
    assert [h["score"] for h in resumed] == [h["score"] for h in full]  # exactly
    assert [h["arch"] for h in short] == [h["arch"] for h in full if h["epoch"] == 2]


STEP_CHECKPOINTS = ("{class_path: lightning.pytorch.callbacks.ModelCheckpoint, init_args: "
                    "{save_last: true, every_n_train_steps: 1, dirpath: %s}}")


def test_a_checkpoint_saved_mid_epoch_is_counted_as_such_and_resumed_with_a_warning(
        tmp_path, monkeypatch, capsys):
    # a ModelCheckpoint of trainer.callbacks that saves last.ckpt every step writes it into
    # the run's checkpoints/ too: a run killed in its last epoch was refused (`is of the
    # run's last epoch (2 of max_epochs=2), so nothing is left to train`), its checkpoint's
    # epoch taken for one that had ended; one killed earlier resumed "2 epochs done" after 1
    # (its own dirpath: one writing the run's last.ckpt is refused, test_oneshot_user_callbacks)
    monkeypatch.chdir(ROOT)
    run_dir = tmp_path / "run"
    args = ["oneshot", str(EXAMPLE / "oneshot.yaml"), *TINY, "--trainer.max_epochs=2",
            "--trainer.limit_train_batches=3", "--oneshot.num_candidates=2",
            "--oneshot.search_every_n_epochs=null", f"--oneshot.run_dir={run_dir}"]
    crash = "{class_path: tests.helpers.CrashAt, init_args: {epoch: 1, batch: 2}}"
    steps = STEP_CHECKPOINTS % (tmp_path / "steps")
    with pytest.raises(RuntimeError, match="crash at epoch 1, batch 2"):
        main([*args, f"--trainer.callbacks=[{steps}, {crash}]"])
    last = tmp_path / "steps" / "last.ckpt"
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        assert main([*args, "--ckpt_path", str(last)]) == 0
    out, err = capsys.readouterr()
    assert f"lightning-nas oneshot: warning: --ckpt_path {last} was saved mid-epoch" in err, err
    assert out.startswith(f"Resuming the spos search from {last} (1 training epoch and 2 "
                          f"batches of epoch 2 done, seed 0)"), out
    assert (run_dir / "best_arch.yaml").is_file()


def test_a_finished_run_missing_an_output_is_not_taken_for_finished(tmp_path, monkeypatch,
                                                                     capsys):
    # was: best_arch.yaml alone marked a finished run: one killed before its subnet.pt was
    # written "held the finished run's outputs" (exit 0)
    monkeypatch.chdir(ROOT)
    run_dir = tmp_path / "run"
    args = ["oneshot", str(EXAMPLE / "oneshot.yaml"), *TINY, "--trainer.max_epochs=1",
            "--oneshot.num_candidates=2", "--oneshot.search_every_n_epochs=null",
            f"--oneshot.run_dir={run_dir}"]
    assert main(args) == 0
    written = (run_dir / "subnet.pt").read_bytes()
    (run_dir / "subnet.pt").unlink()
    capsys.readouterr()
    assert main([*args, "--ckpt_path", "last"]) == 0  # the final search and export again
    assert "Nothing left to train" not in capsys.readouterr().out  # (was: exit 2, "lacks")
    assert (run_dir / "subnet.pt").is_file()
    assert torch.equal(torch.load(run_dir / "subnet.pt", weights_only=False)[0].weight,
                       torch.load(io.BytesIO(written), weights_only=False)[0].weight)


TIMER = ("{class_path: lightning.pytorch.callbacks.Timer, init_args: {duration: "
         "'00:00:00:01'}}")


@pytest.mark.parametrize(("config", "bound"), [("oneshot.yaml", "max_time"),
                                               ("darts.yaml", "max_time"),
                                               ("oneshot.yaml", "timer"), ("darts.yaml", "timer")])
def test_a_run_bounded_by_max_time_alone_is_taken_for_ended_when_its_time_is_spent(
        tmp_path, monkeypatch, capsys, config, bound):
    # was: refused, "this fit trained nothing (epoch 0 of max_epochs=-1: resumed from a
    # checkpoint of its last epoch?) ... raise max_epochs": Lightning's Timer stops a fit
    # whose checkpoint spent max_time before it trains, but the resume did not know the run
    # had ended, so a run killed in its final search could not be finished (and a finished
    # one not be told so), and its last checkpoint was warned of as "saved mid-epoch"
    monkeypatch.chdir(ROOT)
    run_dir = tmp_path / "run"
    # bound == "timer": the user's own Timer callback bounds it, no max_time (was: not read,
    # so the resume warned of a checkpoint "saved mid-epoch", did not say its training was
    # done, and the finished run's resume ran its final search again)
    timer = [TIMER] if bound == "timer" else []
    args = ["oneshot", str(EXAMPLE / config), *TINY[1:], "--trainer.max_epochs=-1",
            f"--oneshot.run_dir={run_dir}"]
    args += [f"--trainer.callbacks=[{TIMER}]"] if timer else ["--trainer.max_time=00:00:00:01"]
    if config == "oneshot.yaml":
        args += ["--oneshot.num_candidates=2", "--oneshot.search_every_n_epochs=1"]
    with pytest.raises(RuntimeError, match="crash at train end"):  # killed in its final search
        crash = ", ".join([*timer, "tests.helpers.CrashAtTrainEnd"])
        main([*args, f"--trainer.callbacks=[{crash}]"])
    last = run_dir / "checkpoints" / "last.ckpt"
    assert not (run_dir / "best_arch.yaml").exists()
    capsys.readouterr()
    before = last.stat().st_mtime_ns
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*saved mid-epoch")  # nothing is left
        assert main([*args, "--ckpt_path", "last"]) == 0
    out = capsys.readouterr().out
    assert "; its training is done: running its final search and export\n" in out, out
    assert (run_dir / "best_arch.yaml").is_file() and (run_dir / "subnet.pt").is_file()
    assert last.stat().st_mtime_ns == before  # nothing trained: no epoch end
    # the finished run again: nothing left to do, its outputs kept
    outputs = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
    assert main([*args, "--ckpt_path", "last"]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"Nothing left to train: {last} is of the run's training end ("), said
    if bound == "timer":
        assert " trained of the Timer callback's duration=00:00:00:01)" in said, said
        assert "with a longer duration of the Timer in --trainer.callbacks to train on" in said
    else:
        assert " trained of max_time=00:00:00:01)" in said, said
        assert "with a higher --trainer.max_time to train on" in said
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")} == outputs


def test_a_users_own_timer_beside_max_time_is_the_bound_a_resume_reads(tmp_path):
    # Lightning ignores max_time when trainer.callbacks holds a Timer: the user's Timer is
    # the bound (was: the checkpoint's Timer seconds read against max_time, so a run whose
    # own Timer had an hour left was taken for ended after max_time's second)
    hour = {"class_path": "lightning.pytorch.callbacks.Timer",
            "init_args": {"duration": "00:01:00:00"}}
    cfg = {"max_epochs": -1, "max_time": "00:00:00:01", "callbacks": [hour]}
    timers = [c for c in pl.Trainer(max_time=cfg["max_time"], logger=False,
                                    default_root_dir=tmp_path,
                                    callbacks=[Timer(duration="00:01:00:00")]).callbacks
              if isinstance(c, Timer)]
    assert len(timers) == 1 and timers[0].time_remaining() == 3600  # Lightning's pick
    held = {"epoch": 3, "batches": 1, "steps": 9, "trained": 5.0}
    assert training_end(held, cfg) is None  # an hour's Timer: training is left
    assert training_end({**held, "trained": 3600.5}, cfg) == (
        "Timer", "1:00:00 trained of the Timer callback's duration=00:01:00:00")
    assert training_end(held, {**cfg, "callbacks": []}) == (
        "max_time", "0:00:05 trained of max_time=00:00:00:01")
    # a Timer without a duration bounds nothing, max_time or not
    cfg["callbacks"] = [{"class_path": "lightning.pytorch.callbacks.Timer"}]
    assert training_end({**held, "trained": 1e6}, cfg) is None

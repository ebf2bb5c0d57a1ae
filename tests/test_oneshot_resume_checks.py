"""A one-shot resume of other settings than its checkpoint's: other optimizer settings or
learning rate, another supernet, a missing or foreign checkpoint refused before anything
is trained or removed; GDAS's temperature schedule warned of; ``seed_everything: false``
resumed with the checkpoint's seed."""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from lightning_nas.cli import main
from lightning_nas.config.load import load_config
from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.bilevel import BilevelData
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import DifferentiableNAS
from lightning_nas.oneshot.resume import (
    checkpoint_settings,
    resolve_ckpt_path,
)
from lightning_nas.oneshot.run import resumable
from lightning_nas.oneshot.run_checkpoint import epoch_end_checkpoint
from lightning_nas.oneshot.run_checks import checked_settings
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot import (
    EXAMPLE,
    ROOT,
    TINY,
)


@pytest.fixture
def one_epoch_run(shared_run) -> Callable[..., tuple[list[str], Path]]:
    """``one_epoch_run(CONFIG, ALGORITHM=None, USE="")``: the arguments (``oneshot`` first)
    and the folder of a one-epoch tiny run of the example's ``CONFIG`` (SPOS: one candidate;
    DARTS: ``--oneshot.algorithm=ALGORITHM``), made once per session for the tests that
    resume it with other settings, each refused before anything is written. A test that
    asserts ``search.lock`` untouched names a ``USE`` of its own: a refusal that holds the
    folder first (another learning rate, other optimizer settings) writes the lock, and under
    pytest-xdist it may run in the other worker at the same moment."""
    def get(config: str, algorithm: str | None = None,
            use: str = "") -> tuple[list[str], Path]:
        extra = ([f"--oneshot.algorithm={algorithm}"] if algorithm else
                 ["--oneshot.num_candidates=1"] if config == "oneshot.yaml" else [])

        def args_for(run_dir: Path) -> list[str]:
            return ["oneshot", str(EXAMPLE / config), *TINY, *extra,
                    f"--oneshot.run_dir={run_dir}", "--trainer.max_epochs=1"]

        def make(folder: Path) -> None:
            with contextlib.chdir(ROOT):
                assert main(args_for(folder / "run")) == 0

        folder, _ = shared_run(f"oneshot_one_epoch_{algorithm or config[:-5]}{use}", make)
        return args_for(folder / "run"), folder / "run"

    return get


def test_a_finished_gdas_run_resumed_with_more_epochs_warns_of_its_temperature(
        tmp_path, monkeypatch, capsys, recwarn):
    # GDAS's temperature decays over max_epochs: was resumed without a word, as if the
    # search were the one a run that long makes from the start
    monkeypatch.chdir(ROOT)
    run_dir = tmp_path / "gdas"
    args = ["oneshot", str(EXAMPLE / "darts.yaml"), *TINY, "--oneshot.algorithm=gdas",
            f"--oneshot.run_dir={run_dir}", "--trainer.max_epochs=2"]
    assert main(args) == 0
    kept = tmp_path / "two_epochs.ckpt"
    kept.write_bytes((run_dir / "checkpoints" / "last.ckpt").read_bytes())
    said = "GDAS resumed from a checkpoint whose temperature decayed over 2 epochs, now over 3"
    assert not [w for w in recwarn if "GDAS resumed" in str(w.message)]
    capsys.readouterr()
    assert main([*args, "--trainer.max_epochs=3", "--ckpt_path", "last"]) == 0
    assert not [f"{w.filename}:{w.lineno}" for w in recwarn
                if "GDAS resumed" in str(w.message)]  # the command's own line instead:
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "GDAS resumed" in x]
    assert line.startswith(f"lightning-nas oneshot: warning: {said}"), line  # its own line
    # the command's advice is its own key (was: DifferentiableNAS(tau_epochs=2), which a
    # lightning-nas oneshot user cannot set)
    assert ("the search is neither the checkpoint's nor the one a run of 3 epochs makes from "
            "the start; --oneshot.tau_epochs=2 keeps the checkpoint's schedule" in line), line
    with warnings.catch_warnings():  # following it: the same schedule, nothing to say
        warnings.filterwarnings("error", message="GDAS resumed")
        assert main([*args, "--trainer.max_epochs=3", "--oneshot.tau_epochs=2",
                     f"--ckpt_path={kept}"]) == 0
    alphas = json.loads((run_dir / "alphas.json").read_text())
    taus = [round(epoch["tau"], 4) for epoch in alphas["history"]]
    assert taus == [10.0, 0.1, 0.1]
    nas = DifferentiableNAS(TinySupernet(), algorithm="gdas", tau_epochs=2)
    with warnings.catch_warnings():  # the same schedule: nothing to say
        warnings.filterwarnings("error", message="GDAS resumed")
        pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                   default_root_dir=tmp_path, limit_val_batches=0).fit(
            nas, datamodule=BilevelData(BlobData()),
            ckpt_path=_plain_gdas_checkpoint(tmp_path))
    assert [round(h["tau"], 4) for h in nas.history] == [10.0, 0.1, 0.1]
    with pytest.warns(UserWarning, match=said) as caught:  # from Python: the argument
        pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                   default_root_dir=tmp_path, limit_val_batches=0).fit(
            DifferentiableNAS(TinySupernet(), algorithm="gdas"),
            datamodule=BilevelData(BlobData()),
            ckpt_path=tmp_path / "checkpoints" / "last.ckpt")
    assert "DifferentiableNAS(tau_epochs=2) keeps the checkpoint's schedule" in str(
        next(w for w in caught if "GDAS resumed" in str(w.message)).message)


def test_a_gdas_resume_with_another_temperature_setting_warns_naming_each(
        tmp_path, monkeypatch, capsys):
    # was: another tau_max, tau_min or tau_schedule than the checkpoint's was taken without
    # a word, the epochs left annealing from another point of another schedule
    ckpt = _plain_gdas_checkpoint(tmp_path)

    def resume(**settings: object) -> DifferentiableNAS:
        nas = DifferentiableNAS(TinySupernet(), algorithm="gdas", tau_epochs=2, **settings)
        pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                   default_root_dir=tmp_path / "resumed", limit_val_batches=0).fit(
            nas, datamodule=BilevelData(BlobData()), ckpt_path=ckpt)
        return nas

    with pytest.warns(UserWarning, match="GDAS resumed from a checkpoint of another "
                                         "temperature schedule") as caught:
        nas = resume(tau_max=5.0, tau_schedule="linear")
    said = str(next(w for w in caught if "another temperature" in str(w.message)).message)
    # made in the module's on_train_start: at the line that called trainer.fit (was:
    # lightning_nas/oneshot/tau_resume.py, rank_zero_warn's line of the package's own)
    assert {w.filename for w in caught if "another temperature" in str(w.message)} == {
        __file__}
    assert "tau_max 10.0, now 5.0; tau_schedule 'exponential', now 'linear'" in said, said
    assert "tau_min" not in said.split(":")[0]  # the same: not named
    assert ("DifferentiableNAS(tau_max=10.0, tau_schedule='exponential') keeps the "
            "checkpoint's schedule") in said, said
    assert [round(h["tau"], 4) for h in nas.history][2] == 0.1  # went on with the new ones
    with warnings.catch_warnings():  # the checkpoint's settings: nothing to say
        warnings.filterwarnings("error", message="GDAS resumed")
        resume()
    # from the command: its keys, the old and the new value
    monkeypatch.chdir(ROOT)
    run_dir = tmp_path / "cli"
    args = ["oneshot", str(EXAMPLE / "darts.yaml"), *TINY, "--oneshot.algorithm=gdas",
            f"--oneshot.run_dir={run_dir}", "--trainer.max_epochs=1", "--oneshot.tau_epochs=2"]
    assert main(args) == 0
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        assert main([*args, "--trainer.max_epochs=2", "--oneshot.tau_min=0.5",
                     "--ckpt_path=last"]) == 0
    # the command's own stderr line, no path (was: a UserWarning at
    # lightning_nas/oneshot/tau_resume.py, which the console printed with its path)
    assert not [f"{w.filename}:{w.lineno}" for w in caught
                if "another temperature" in str(w.message)]
    (said,) = [line for line in capsys.readouterr().err.splitlines()
               if "another temperature" in line]
    assert said.startswith("lightning-nas oneshot: warning: GDAS resumed from a checkpoint "
                           "of another temperature schedule: "), said
    assert "tau_min 0.1, now 0.5" in said and "--oneshot.tau_min=0.1 keeps" in said, said


@pytest.mark.parametrize("saved", ["epoch_end", "after_fit"])
def test_a_gdas_resume_at_its_training_end_does_not_warn_of_its_temperature(tmp_path, saved):
    # was: warned "GDAS resumed from a checkpoint of another temperature schedule" / "whose
    # temperature decayed over 2 epochs, now over 3" on a resume from the checkpoint of a
    # fit's end, which trains nothing (only the final search and export run, on logits the
    # temperature no longer changes)
    ckpt = _plain_gdas_checkpoint(tmp_path)
    if saved == "after_fit":  # Trainer.save_checkpoint after the fit: on_train_end had run
        trainer = pl.Trainer(max_epochs=2, accelerator="cpu", logger=False,
                             limit_val_batches=0, enable_progress_bar=False,
                             default_root_dir=tmp_path / "after")
        trainer.fit(DifferentiableNAS(TinySupernet(), algorithm="gdas", tau_epochs=2),
                    datamodule=BilevelData(BlobData()))
        ckpt = tmp_path / "after.ckpt"
        trainer.save_checkpoint(ckpt)
    nas = DifferentiableNAS(TinySupernet(), algorithm="gdas", tau_max=5.0, tau_min=0.5,
                            tau_schedule="linear", tau_epochs=3)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="GDAS resumed")
        pl.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_progress_bar=False,
                   default_root_dir=tmp_path / "resumed", limit_val_batches=0).fit(
            nas, datamodule=BilevelData(BlobData()), ckpt_path=ckpt)
    assert nas.best_arch is not None and len(nas.history) == 2  # its final search ran
    # a resume with training left still warns, naming each setting
    with pytest.warns(UserWarning, match="another temperature schedule") as caught:
        pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                   default_root_dir=tmp_path / "resumed", limit_val_batches=0).fit(
            DifferentiableNAS(TinySupernet(), algorithm="gdas", tau_max=5.0),
            datamodule=BilevelData(BlobData()), ckpt_path=ckpt)
    assert any("tau_max 10.0, now 5.0" in str(w.message) for w in caught)


@pytest.mark.parametrize("algorithm", ["darts", "gdas"])
def test_a_resume_with_other_optimizer_settings_is_refused_before_training(
        tmp_path, monkeypatch, capsys, algorithm, one_epoch_run):
    # was: accepted, the checkpoint's hyper_parameters recording the new values while the
    # optimizers' restored param_groups kept the old ones
    def trainer(epochs: int) -> pl.Trainer:
        return pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False,
                          limit_val_batches=0, enable_progress_bar=False,
                          default_root_dir=tmp_path, callbacks=[epoch_end_checkpoint(tmp_path)])

    trainer(1).fit(DifferentiableNAS(TinySupernet(), algorithm=algorithm),
                   datamodule=BilevelData(BlobData()))
    last = tmp_path / "checkpoints" / "last.ckpt"
    nas = DifferentiableNAS(TinySupernet(lr=0.5), algorithm=algorithm, arch_lr=0.5,
                            arch_weight_decay=0.1)
    resumed = trainer(2)
    with pytest.raises(ConfigError, match=r"other optimizer settings: the weight optimizer's "
                                          r"lr: 0.05, now 0.5; arch_lr: 0.003, now 0.5; "
                                          r"arch_weight_decay: 0.001, now 0.1; a resume goes"):
        resumed.fit(nas, datamodule=BilevelData(BlobData()), ckpt_path=last)
    assert checkpoint_settings(last)["epoch"] == 0 and len(nas.history) == 1  # no training
    nas = DifferentiableNAS(TinySupernet(), algorithm=algorithm)  # the same settings: resumed
    trainer(2).fit(nas, datamodule=BilevelData(BlobData()), ckpt_path=last)
    assert len(nas.history) == 2
    # the command: said before anything is built, in its settings' words
    monkeypatch.chdir(ROOT)
    args, _ = one_epoch_run("darts.yaml", algorithm)
    capsys.readouterr()
    assert main([*args, "--trainer.max_epochs=2", "--oneshot.arch_lr=0.5",
                 "--ckpt_path", "last"]) == 2
    assert ("oneshot.arch_lr=0.5 (the checkpoint's: 0.003); a resume goes on with the "
            "checkpoint's search, so resume with --oneshot.arch_lr=0.003"
            in capsys.readouterr().err)
    assert main([*args, "--trainer.max_epochs=2", "--model.init_args.lr=0.5",
                 "--ckpt_path", "last"]) == 2
    assert "the weight optimizer's lr: 0.01, now 0.5" in capsys.readouterr().err


def test_a_spos_resume_with_another_learning_rate_is_refused_before_training(
        tmp_path, monkeypatch, capsys, one_epoch_run):
    # was: resumed without a word, training on with the checkpoint's lr (Lightning loads its
    # param_groups over the new one) while the new checkpoint's hyper_parameters said 0.5
    def fit(module: TinySupernet, epochs: int, ckpt_path: Path | None = None,
            callback: OneShotNAS | None = None) -> OneShotNAS:
        callback = callback or OneShotNAS(num_candidates=1, calibration_batches=1,
                                          record_paths=True)
        pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False,
                   enable_progress_bar=False, default_root_dir=tmp_path,
                   callbacks=[callback, epoch_end_checkpoint(tmp_path), _HalveWeightLr()]
                   ).fit(module, datamodule=BlobData(), ckpt_path=ckpt_path)
        return callback

    fit(TinySupernet(), 1)
    last = tmp_path / "checkpoints" / "last.ckpt"
    refused = OneShotNAS(num_candidates=1, calibration_batches=1, record_paths=True)
    with pytest.raises(ConfigError, match=r"other optimizer settings: the weight optimizer's "
                                          r"lr: 0.05, now 0.5; a resume goes on"):
        fit(TinySupernet(lr=0.5), 2, last, refused)
    assert checkpoint_settings(last)["epoch"] == 0 and refused.paths == []  # no training
    assert len(fit(TinySupernet(), 2, last).paths) > 0  # the same lr (halved since): resumed
    # the command, as DARTS says it
    monkeypatch.chdir(ROOT)
    args, run_dir = one_epoch_run("oneshot.yaml")
    capsys.readouterr()
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.name != "search.lock"}
    assert main([*args, "--trainer.max_epochs=2", "--model.init_args.lr=0.5",
                 "--ckpt_path", "last"]) == 2
    assert "the weight optimizer's lr: 0.01, now 0.5" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")
            if p.name != "search.lock"} == before  # nothing written


def test_a_resume_without_a_seed_takes_its_checkpoints_whatever_pl_global_seed_says(
        one_epoch_run, monkeypatch):
    # no oneshot.seed, no seed_everything: a new run takes PL_GLOBAL_SEED, as LightningCLI
    # (was: 0); a resume, its checkpoint's (seed 0 here), not the environment's of now
    # (without it: refused, "another seed"), as with seed_everything true or false
    monkeypatch.chdir(ROOT)
    args, _ = one_epoch_run("oneshot.yaml")
    cfg = load_config([args[1]], [*args[2:], "--oneshot.seed=null"], command="oneshot")
    assert "seed_everything" not in cfg
    monkeypatch.setenv("PL_GLOBAL_SEED", "5")
    assert checked_settings(cfg)[1]["seed"] == 5
    assert resumable(cfg)


def test_a_resume_that_keeps_its_checkpoints_seed_over_the_invocations_says_so(
        one_epoch_run, monkeypatch, capsys):
    # a run of oneshot.seed 0 resumed without a seed under PL_GLOBAL_SEED=5 goes on with 0,
    # as it must, and says so (was: without a word); one whose seed would be 0 anyway, or
    # drawn (true without PL_GLOBAL_SEED: the run's seed is one), says nothing
    monkeypatch.chdir(ROOT)
    args, run_dir = one_epoch_run("oneshot.yaml")
    resume = [*args, "--oneshot.seed=null", "--ckpt_path=last"]  # (its training is done)
    monkeypatch.setenv("PL_GLOBAL_SEED", "5")
    capsys.readouterr()
    assert main(resume) == 0
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    assert (f"lightning-nas oneshot: warning: --ckpt_path {ckpt}: resuming with seed 0, the "
            f"seed its search ran with (the checkpoint's); this invocation gives no "
            f"seed_everything, and PL_GLOBAL_SEED=5, which a new run would seed with, is not "
            f"used: a resume keeps its run's seed (to search with another, give a new "
            f"oneshot.run_dir)\n") in capsys.readouterr().err
    for env, more in (("0", []), (None, ["--seed_everything=true"])):
        if env is None:
            monkeypatch.delenv("PL_GLOBAL_SEED")
        else:
            monkeypatch.setenv("PL_GLOBAL_SEED", env)
        assert main([*resume, *more]) == 0
        assert "resuming with seed" not in capsys.readouterr().err, env


@pytest.mark.parametrize(("config", "prefix"), [("oneshot.yaml", ""),
                                               ("darts.yaml", "supernet.")])
def test_a_resume_of_another_supernet_is_refused_before_the_folder_is_held(
        monkeypatch, capsys, config, prefix, one_epoch_run):
    # was: Lightning's "RuntimeError: Error(s) in loading state_dict for DigitsSupernet",
    # with its traceback, once the fit started
    monkeypatch.chdir(ROOT)
    args, run_dir = one_epoch_run(config, "darts" if config == "darts.yaml" else None,
                                  use="_unheld")  # (its search.lock read by no holder)
    capsys.readouterr()
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
    assert main([*args, "--trainer.max_epochs=2", "--model.init_args.max_blocks=3",
                 "--ckpt_path", "last"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lightning-nas oneshot: error: --ckpt_path {run_dir / 'checkpoints'}"
                          f"/last.ckpt holds another supernet than the config's model builds: "
                          f"the checkpoint lacks {prefix}net.7.blocks.2.0.weight, ")
    assert err.endswith("; resume with the model arguments the checkpoint was written with, "
                        "or start a new run without --ckpt_path\n") and err.count("\n") == 1
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")} == before  # search.lock too


class _HalveWeightLr(pl.Callback):
    """Schedules the weights' learning rate itself (DARTS/GDAS drop a module's schedulers)."""

    def on_train_epoch_end(self, trainer, pl_module):
        for group in trainer.optimizers[0].param_groups:
            group["lr"] /= 2


def test_a_resume_after_a_callback_changed_the_lr_is_not_refused(tmp_path):
    # was (review): refused, "the weight optimizer's lr: 0.025, now 0.05", comparing the live
    # lr of the checkpoint with the one the same settings build
    def trainer(epochs: int) -> pl.Trainer:
        return pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False,
                          limit_val_batches=0, enable_progress_bar=False,
                          default_root_dir=tmp_path,
                          callbacks=[epoch_end_checkpoint(tmp_path), _HalveWeightLr()])

    trainer(1).fit(DifferentiableNAS(TinySupernet()), datamodule=BilevelData(BlobData()))
    nas = DifferentiableNAS(TinySupernet())
    resumed = trainer(2)
    resumed.fit(nas, datamodule=BilevelData(BlobData()),
                ckpt_path=tmp_path / "checkpoints" / "last.ckpt")
    assert len(nas.history) == 2
    assert resumed.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.05 / 4)  # went on


def _plain_gdas_checkpoint(tmp_path: Path) -> Path:
    """The epoch-end checkpoint of a 2-epoch GDAS fit with ``tau_epochs=2``."""
    pl.Trainer(max_epochs=2, accelerator="cpu", logger=False, limit_val_batches=0,
               enable_progress_bar=False, default_root_dir=tmp_path,
               callbacks=[epoch_end_checkpoint(tmp_path)]).fit(
        DifferentiableNAS(TinySupernet(), algorithm="gdas", tau_epochs=2),
        datamodule=BilevelData(BlobData()))
    return tmp_path / "checkpoints" / "last.ckpt"


def test_a_missing_or_foreign_checkpoint_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ConfigError, match=r"--ckpt_path last: .*last.ckpt does not exist \(a "
                                          r"run writes it at each training epoch's end"):
        resolve_ckpt_path("last", tmp_path)
    with pytest.raises(ConfigError, match=r"--ckpt_path nope.ckpt: no checkpoint file"):
        resolve_ckpt_path("nope.ckpt", tmp_path)
    torch.save({"state_dict": {}, "callbacks": {"EarlyStopping{}": {}}}, tmp_path / "a.ckpt")
    with pytest.raises(ConfigError, match="not a checkpoint of a one-shot search"):
        checkpoint_settings(tmp_path / "a.ckpt")
    (tmp_path / "b.ckpt").write_text("not a checkpoint")
    with pytest.raises(ConfigError, match="not a readable checkpoint"):
        checkpoint_settings(tmp_path / "b.ckpt")


@pytest.mark.slow
def test_seed_everything_false_draws_a_seed_per_run_and_a_resume_takes_the_checkpoints(
        tmp_path, monkeypatch, capsys):
    # was: seed 0 in every run (LightningCLI's false is "no seed"; search and fit seed none)
    monkeypatch.chdir(ROOT)
    args = ["oneshot", str(EXAMPLE / "oneshot.yaml"), *TINY, "--trainer.max_epochs=1",
            "--seed_everything=false", "--oneshot.seed=null",
            "--oneshot.num_candidates=1"]  # the seed is the checkpoint's, whatever it scores
    seeds = []
    for name in ("a", "b"):
        assert main([*args, f"--oneshot.run_dir={tmp_path / name}"]) == 0
        seeds.append(checkpoint_settings(tmp_path / name / "checkpoints" / "last.ckpt")["seed"])
    assert seeds[0] != seeds[1], seeds
    capsys.readouterr()
    assert main([*args, f"--oneshot.run_dir={tmp_path / 'a'}", "--trainer.max_epochs=2",
                 "--ckpt_path", "last"]) == 0, capsys.readouterr().err
    assert checkpoint_settings(tmp_path / "a" / "checkpoints" / "last.ckpt") == {
        **checkpoint_settings(tmp_path / "a" / "checkpoints" / "last.ckpt"), "seed": seeds[0],
        "epoch": 1}

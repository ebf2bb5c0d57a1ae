"""``lightning-nas oneshot --ckpt_path``: a run that died part-way goes on from its last
epoch-end checkpoint as the uninterrupted run, with real Trainers on the digits example;
checkpoints of another search, or none, are refused before anything is trained or removed;
a DDP run resumes as the uninterrupted DDP run."""

from __future__ import annotations

import io
import json
import signal
import warnings
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import torchmetrics
from lightning.pytorch.callbacks import Timer
from torch.nn import functional as F

from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.bilevel import BilevelData
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import DifferentiableNAS
from lightning_nas.oneshot.resume import (
    checkpoint_settings,
    epoch_end_checkpoint,
    resolve_ckpt_path,
    training_end,
)
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot import (
    EXAMPLE,
    RECORD,
    ROOT,
    TINY,
    oneshot_process,
    record_entries,
)

CRASH = "--trainer.callbacks=[{class_path: tests.helpers.CrashAt, init_args: {epoch: 2}}]"


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=False).state_dict()


def _crash_and_resume(config: Path, tmp_path: Path, extra: list[str], capsys) -> Path:
    """Run ``config`` uninterrupted into ``tmp_path/full`` and, into ``tmp_path/resumed``,
    a run that dies when its third epoch starts; return the dead run's folder."""
    args = ["oneshot", str(config), *TINY, *extra]
    assert main([*args, f"--oneshot.run_dir={tmp_path / 'full'}"]) == 0
    dead = tmp_path / "resumed"
    with pytest.raises(RuntimeError, match="crash at epoch 2"):
        main([*args, f"--oneshot.run_dir={dead}", CRASH])
    # its hold on the folder (search.lock) is let go as it died: the resume takes it; the
    # record of the two epochs that ended is there (was: none, written at the run's end)
    record = RECORD[config.name]
    assert sorted(p.name for p in dead.rglob("*")) == sorted(["checkpoints", "last.ckpt",
                                                              "search.lock", record])
    epochs = {entry["epoch"] for entry in record_entries(config.name, dead / record)}
    assert sorted(epochs) == [1, 2]
    capsys.readouterr()
    return dead


def test_a_dead_spos_run_resumes_from_its_last_checkpoint_as_the_uninterrupted_run(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    spos = ["--oneshot.num_candidates=2", "--oneshot.search_every_n_epochs=1"]
    dead = _crash_and_resume(EXAMPLE / "oneshot.yaml", tmp_path, spos, capsys)
    args = ["oneshot", str(EXAMPLE / "oneshot.yaml"), *TINY, *spos,
            f"--oneshot.run_dir={dead}", "--ckpt_path", "last"]
    # another seed or optimizer would go on with another search: refused, nothing written
    assert main([*args, "--oneshot.seed=5", "--oneshot.optimizer=OnePlusOne"]) == 2
    err = capsys.readouterr().err
    assert ("other settings: oneshot.seed=5 (the checkpoint's: 0); oneshot.optimizer="
            "'OnePlusOne' (the checkpoint's: 'RandomSearch')") in err
    assert "resume with --oneshot.seed=0 --oneshot.optimizer=RandomSearch" in err
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Resuming the spos search from {dead / 'checkpoints' / 'last.ckpt'}"
                          f" (2 training epochs done, seed 0)\n")
    full = tmp_path / "full"
    history = json.loads((dead / "history.json").read_text())
    assert sorted({h["epoch"] for h in history}) == [1, 2, 3]  # the searches before the crash
    assert history == json.loads((full / "history.json").read_text())
    assert (dead / "best_arch.yaml").read_text() == (full / "best_arch.yaml").read_text()
    resumed, uninterrupted = _weights(dead / "subnet.pt"), _weights(full / "subnet.pt")
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)
    # the last checkpoint is now the last epoch's: nothing left to train, said, and the
    # run's outputs stay (was: exit 2, "trained nothing ... resume from an earlier
    # checkpoint", though the run had finished)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Nothing left to train: " in out and "(3 of max_epochs=3)" in out, out
    assert "holds the finished run's outputs" in out
    assert (dead / "history.json").read_text() == (full / "history.json").read_text()
    (dead / "best_arch.yaml").unlink()  # as if it died in its final search: that search
    assert main(args) == 0  # and the export run again (was: exit 2, "lacks best_arch.yaml")
    assert "its training is done: running its final search and export" in \
        capsys.readouterr().out
    assert (dead / "best_arch.yaml").read_text() == (full / "best_arch.yaml").read_text()
    assert (dead / "history.json").read_text() == (full / "history.json").read_text()
    # a finished 2-epoch run goes on to max_epochs=3 as the 3-epoch run: the search after
    # epoch 2 (its final one, after its last checkpoint) is an intermediate one there
    short = tmp_path / "short"
    args = [arg.replace(str(dead), str(short)) for arg in args]
    assert main([*args[:-2], "--trainer.max_epochs=2"]) == 0
    assert main(args) == 0
    assert (short / "history.json").read_text() == (full / "history.json").read_text()
    resumed = _weights(short / "subnet.pt")
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)


@pytest.mark.parametrize("old_lock", [False, True], ids=["oneshot_lock", "older_lock"])
def test_a_search_refuses_the_folder_of_a_one_shot_run_that_did_not_finish(
        tmp_path, monkeypatch, capsys, old_lock):
    # was: `lightning-nas search --search.run_dir=D` ran a whole search in the folder of a
    # one-shot run that died (checkpoints/last.ckpt, no best_arch.yaml yet), whose resume
    # was then refused: "is a search's run folder (search.db)"; and with the search.lock
    # of an older version (its holder's line alone, no "oneshot" line) it still did
    monkeypatch.chdir(ROOT)
    dead = tmp_path / "dead"
    args = ["oneshot", str(EXAMPLE / "oneshot.yaml"), *TINY, "--oneshot.num_candidates=1",
            f"--oneshot.run_dir={dead}"]
    with pytest.raises(RuntimeError, match="crash at epoch 2"):
        main([*args, CRASH])
    capsys.readouterr()
    lock = dead / "search.lock"
    assert lock.read_text().splitlines()[1:] == ["oneshot"]
    if old_lock:  # as an older version wrote it
        lock.write_text(lock.read_text().splitlines()[0] + "\n")
    before = {p: p.stat().st_mtime_ns for p in dead.rglob("*")}
    search = ["search", "examples/digits/search.yaml", f"--search.run_dir={dead}",
              "--search.budget=1", "--trainer.max_epochs=1",
              "--trainer.limit_train_batches=1", "--trainer.limit_val_batches=1"]
    for extra in ([], ["--print_config"]):
        assert main([*search, *extra]) == 2
        err = capsys.readouterr().err
        assert f"{str(dead)!r} holds a one-shot run that has not finished" in err
        assert ("(it holds checkpoints/last.ckpt, no best_arch.yaml" if old_lock
                else "(its search.lock says oneshot, no best_arch.yaml") in err
        assert f"--oneshot.run_dir {dead} --ckpt_path last` " in err and err.count("\n") == 1
    assert {p: p.stat().st_mtime_ns for p in dead.rglob("*")} == before  # nothing written
    assert main([*args, "--ckpt_path", "last"]) == 0  # the one-shot run still resumes
    assert (dead / "best_arch.yaml").is_file() and not (dead / "search.db").exists()


def test_what_only_a_one_shot_run_writes_is_what_it_writes_and_no_search_does():
    # a search refuses a folder holding any of ONESHOT_WRITES as a one-shot run's
    from lightning_nas.oneshot.run_outputs import RUN_OUTPUTS
    from lightning_nas.store_checks import ONESHOT_WRITES, SEARCH_WRITES

    outputs = set(ONESHOT_WRITES) - {"checkpoints/last.ckpt"}
    assert outputs == {name for name in RUN_OUTPUTS
                       if name != "best_arch.yaml" and not name.startswith("report/")}
    assert not {name.split("/")[0] for name in ONESHOT_WRITES} & set(SEARCH_WRITES)
    assert epoch_end_checkpoint(Path("run")).dirpath.endswith("checkpoints")


def test_a_dead_darts_run_resumes_and_another_algorithm_is_refused(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    dead = _crash_and_resume(EXAMPLE / "darts.yaml", tmp_path, [], capsys)
    last = dead / "checkpoints" / "last.ckpt"
    assert checkpoint_settings(last) == {"algorithm": "darts", "seed": 0, "arch_lr": 0.003,
                                         "arch_weight_decay": 0.001, "epoch": 1,
                                         "batches": 0, "steps": 8,  # two a batch
                                         "trained": None}  # no max_time: no Timer
    args = ["oneshot", str(EXAMPLE / "darts.yaml"), *TINY, f"--oneshot.run_dir={dead}",
            f"--ckpt_path={last}"]
    assert main([*args, "--oneshot.algorithm=gdas"]) == 2
    assert (f"--ckpt_path {last} is a checkpoint of a darts search; this config's "
            f"oneshot.algorithm is 'gdas'") in capsys.readouterr().err
    assert main(args) == 0
    full = tmp_path / "full"
    assert (json.loads((dead / "alphas.json").read_text())
            == json.loads((full / "alphas.json").read_text()))
    assert (dead / "best_arch.yaml").read_text() == (full / "best_arch.yaml").read_text()


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
        tmp_path, monkeypatch, capsys, algorithm):
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
    run_dir = tmp_path / "cli"
    args = ["oneshot", str(EXAMPLE / "darts.yaml"), *TINY, f"--oneshot.algorithm={algorithm}",
            f"--oneshot.run_dir={run_dir}", "--trainer.max_epochs=1"]
    assert main(args) == 0
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
        tmp_path, monkeypatch, capsys):
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
    run_dir = tmp_path / "cli"
    args = ["oneshot", str(EXAMPLE / "oneshot.yaml"), *TINY, "--oneshot.num_candidates=1",
            f"--oneshot.run_dir={run_dir}", "--trainer.max_epochs=1"]
    assert main(args) == 0
    capsys.readouterr()
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.name != "search.lock"}
    assert main([*args, "--trainer.max_epochs=2", "--model.init_args.lr=0.5",
                 "--ckpt_path", "last"]) == 2
    assert "the weight optimizer's lr: 0.01, now 0.5" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")
            if p.name != "search.lock"} == before  # nothing written


@pytest.mark.parametrize(("config", "prefix"), [("oneshot.yaml", ""),
                                               ("darts.yaml", "supernet.")])
def test_a_resume_of_another_supernet_is_refused_before_the_folder_is_held(
        tmp_path, monkeypatch, capsys, config, prefix):
    # was: Lightning's "RuntimeError: Error(s) in loading state_dict for DigitsSupernet",
    # with its traceback, once the fit started
    monkeypatch.chdir(ROOT)
    run_dir = tmp_path / "run"
    args = ["oneshot", str(EXAMPLE / config), *TINY, f"--oneshot.run_dir={run_dir}",
            "--trainer.max_epochs=1"]
    assert main(args) == 0
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


DDP_SCRIPT = """
import sys

import torch

from lightning_nas.config.load import load_config
from lightning_nas.oneshot.run import run_oneshot

if __name__ == "__main__":
    torch.set_num_threads(1)
    run_dir, how = sys.argv[1], sys.argv[2]
    crash = ["--trainer.callbacks=[{class_path: tests.helpers.CrashAt, init_args: {epoch: 2}}]"
             if how == "crash" else "--trainer.callbacks=[tests.helpers.CrashAtTrainEnd]"]
    cfg = load_config("examples/oneshot_digits/oneshot.yaml", [
        *sys.argv[3:], "--trainer.devices=2", "--oneshot.num_candidates=2",
        "--trainer.strategy=ddp_find_unused_parameters_true", "--oneshot.search_every_n_epochs=1",
        f"--oneshot.run_dir={run_dir}", *(crash if how.startswith("crash") else [])])
    try:
        run_oneshot(cfg, ckpt_path="last" if how == "resume" else None)
    except RuntimeError as err:  # both ranks die at the crash
        print(f"died: {err}", flush=True)  # one write per rank: the two may interleave
"""


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

    from tests.test_oneshot import BatchNormSupernet, BlobImages

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

    from tests.test_oneshot import BatchNormSupernet, BlobImages

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


@pytest.mark.slow
def test_a_dead_ddp_spos_run_resumes_as_the_uninterrupted_ddp_run(tmp_path, launcher):
    script = tmp_path / "oneshot_ddp_resume.py"
    script.write_text(DDP_SCRIPT)

    def run(run_dir: Path, how: str) -> str:
        log = tmp_path / f"{run_dir.name}_{how}.log"
        assert launcher.run([run_dir, how, *TINY], log, script) == 0, log.read_text()
        return log.read_text()

    full, dead = tmp_path / "full", tmp_path / "resumed"
    run(full, "full")
    assert run(dead, "crash").count("died: crash at epoch 2") == 2  # both ranks
    uninterrupted = json.loads((full / "history.json").read_text())
    assert json.loads((dead / "history.json").read_text()) == [  # rank 0's, by each epoch's
        h for h in uninterrupted if h["epoch"] <= 2]  # end (was: none, written at the run's)
    out = run(dead, "resume")
    assert out.count("Resuming the spos search from ") == 1  # rank 0 alone prints
    history = json.loads((dead / "history.json").read_text())
    assert sorted({h["epoch"] for h in history}) == [1, 2, 3]
    assert history == json.loads((full / "history.json").read_text())
    resumed, uninterrupted = _weights(dead / "subnet.pt"), _weights(full / "subnet.pt")
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)
    # died after its last checkpoint (in its final search): the resume runs that search and
    # the export alone, on the last epoch's shards, as the uninterrupted DDP run
    ended = tmp_path / "ended"
    assert run(ended, "crash_end").count("died: crash at train end") == 2
    assert not (ended / "best_arch.yaml").exists()
    assert "its training is done: running its final search" in run(ended, "resume")
    assert (ended / "history.json").read_text() == (full / "history.json").read_text()
    assert (ended / "best_arch.yaml").read_text() == (full / "best_arch.yaml").read_text()
    resumed = _weights(ended / "subnet.pt")
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)


def test_a_finished_spos_fit_resumed_further_runs_its_catch_up_search_as_the_uninterrupted(
        tmp_path):
    """The search after epoch 2, the final one of a 2-epoch fit (after its last checkpoint),
    runs again when that fit goes on to 3 epochs; it is calibrated on the batches the 3-epoch
    fit drew at that point (was: on others, so its scores differed: Lightning had drawn
    from the restored random state, making the training iterator, before it ran)."""
    from tests.test_oneshot import BatchNormSupernet, BlobImages

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


@pytest.mark.slow
def test_seed_everything_false_draws_a_seed_per_run_and_a_resume_takes_the_checkpoints(
        tmp_path, monkeypatch, capsys):
    # was: seed 0 in every run (LightningCLI's false is "no seed"; search and fit seed none)
    monkeypatch.chdir(ROOT)
    args = ["oneshot", str(EXAMPLE / "oneshot.yaml"), *TINY, "--trainer.max_epochs=1",
            "--seed_everything=false", "--oneshot.seed=null"]
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


def _outputs(run_dir: Path) -> dict[str, object]:
    """A run folder's outputs (not its checkpoints or search.lock): networks as their
    weights, other files as their bytes."""
    out: dict[str, object] = {}
    for path in sorted(run_dir.rglob("*")):
        name = path.relative_to(run_dir).as_posix()
        if path.is_dir() or name.startswith("checkpoints") or name == "search.lock":
            continue
        out[name] = _weights(path) if path.suffix == ".pt" else path.read_bytes()
    return out


#: (the training's bound, what the resume says the checkpoint holds, its last epoch)
_BY_EPOCHS = ([], "3 training epochs", 2)
#: training bounded by max_steps alone: SPOS's ends in its third epoch (5 steps of 2 a
#: epoch), DARTS's (two optimizer steps a batch) at its second epoch's end
_BY_STEPS = {"oneshot.yaml": (["--trainer.max_epochs=-1", "--trainer.max_steps=5"],
                              "2 training epochs and 1 batch of epoch 3", 2),
             "darts.yaml": (["--trainer.max_epochs=-1", "--trainer.max_steps=8"],
                            "2 training epochs", 1)}


@pytest.mark.slow
@pytest.mark.parametrize(("config", "kill", "bound"), [
    ("oneshot.yaml", "final search", "epochs"), ("darts.yaml", "fine-tune", "epochs"),
    ("oneshot.yaml", "final search", "steps"), ("darts.yaml", "fine-tune", "steps")])
def test_a_run_killed_after_its_last_checkpoint_finishes_with_ckpt_path_last(
        tmp_path, monkeypatch, capsys, launcher, config, kill, bound):
    # was: `--ckpt_path last` refused ("... is of the run's last epoch (3 of max_epochs=3), so
    # nothing is left to train, and ... lacks best_arch.yaml ...: run the same command
    # without --ckpt_path"): a run killed in its final search, export or fine-tune was
    # trained again. Now the resume loads the checkpoint and runs only what is left, as
    # the uninterrupted run (the same command; a real SIGKILL, no handler runs). A run
    # bounded by max_steps alone finishes so too (was: not taken for one at its training's
    # end: no "its training is done", a checkpoint of the last steps warned of as saved
    # mid-epoch, "not the run an uninterrupted one makes", and the finished run's resume
    # ran its final search, export and fine-tune again, rewriting its outputs)
    limits, held, epoch = _BY_STEPS[config] if bound == "steps" else _BY_EPOCHS
    marker = tmp_path / "killed"
    killer = ([f"--trainer.callbacks=[{{class_path: tests.helpers.KillAtTrainEnd, init_args: "
               f"{{marker: {marker}}}}}]"] if kill == "final search" else
              [f"--data={{class_path: tests.helpers.KillInFinetuneDigits, init_args: "
               f"{{marker: {marker}, batch_size: 64}}}}"])
    args = [str(EXAMPLE / config), *TINY[:-1], *limits, "--oneshot.finetune_epochs=1",
            *killer]
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
    assert checkpoint_settings(last)["epoch"] == epoch  # of the training's last epoch
    written = {"final search": [], "fine-tune": ["best_arch.yaml", "subnet.pt"]}[kill]
    assert [name for name in ("best_arch.yaml", "subnet.pt", "finetune.json")
            if (dead / name).is_file()] == written
    # the record of each epoch that ended is on disk, SPOS's searches after epochs 1 and 2
    # (was: none before the final search: history.json was written at the run's end)
    ended = record_entries(config, full / RECORD[config])
    assert record_entries(config, dead / RECORD[config]) == (
        [entry for entry in ended if entry["epoch"] <= 2] if kill == "final search" else ended)
    # what cannot be resumed is still refused, before anything is written: another seed
    monkeypatch.chdir(ROOT)
    before = {p: p.stat().st_mtime_ns for p in dead.rglob("*")}
    assert main(["oneshot", *args, f"--oneshot.run_dir={dead}", "--oneshot.seed=5",
                 "--ckpt_path", "last"]) == 2
    assert "other settings: oneshot.seed=5 (the checkpoint's: 0)" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in dead.rglob("*")} == before
    code, out, err = oneshot_process(launcher, tmp_path, *args, f"--oneshot.run_dir={dead}",
                                     "--ckpt_path", "last")
    assert code == 0, err[-3000:]
    assert out.startswith(
        f"Resuming the {config[:-5].replace('oneshot', 'spos')} search from {last} ({held} "
        f"done, seed 0); its training is done: running its final search and export, "
        f"then the fine-tune\n"), out
    assert "saved mid-epoch" not in err  # nothing of it is left to train
    assert "Fine-tuned 1 epoch: val_acc=" in out
    assert last.stat().st_mtime_ns == before[last]  # nothing trained: no epoch end
    finished, uninterrupted = _outputs(dead), _outputs(full)
    assert finished.keys() == uninterrupted.keys()
    for name, value in uninterrupted.items():
        if isinstance(value, dict):
            assert all(torch.equal(finished[name][k], v) for k, v in value.items()), name
        else:
            assert finished[name] == value, name
    # show reads the finished run as the uninterrupted one's
    assert main(["show", str(full)]) == 0
    shown = capsys.readouterr().out.replace(str(full), "RUN")
    assert main(["show", str(dead)]) == 0
    assert capsys.readouterr().out.replace(str(dead), "RUN") == shown
    # the finished run's checkpoint again: nothing left to do, its outputs kept
    before = {p: p.stat().st_mtime_ns for p in dead.rglob("*")}
    assert main(["oneshot", *args, f"--oneshot.run_dir={dead}", "--ckpt_path", "last"]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"Nothing left to train: {last} is of the run's "), said
    assert ("(step 8 of max_steps=8)" if config == "darts.yaml" and bound == "steps" else
            "(step 5 of max_steps=5)" if bound == "steps" else "(3 of max_epochs=3)") in said
    assert f"with a higher --trainer.max_{bound} to train on" in said
    assert {p: p.stat().st_mtime_ns for p in dead.rglob("*")} == before


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


@pytest.mark.slow
@pytest.mark.parametrize("config", ["oneshot.yaml", "darts.yaml"])
def test_a_run_killed_mid_way_keeps_each_ended_epochs_record_and_resumes_to_the_same(
        tmp_path, monkeypatch, capsys, launcher, config):
    # was: history.json (SPOS) and alphas.json (DARTS/GDAS) were written when the run
    # ended, so a run killed part-way (SIGKILL, out of memory) left no record of the epochs
    # it trained (a resume got them back from the checkpoint). Now each epoch's entries are
    # on disk by its end (rank 0, the file written beside its place and moved in), rewritten
    # whole from the search's state: a resume that trains an epoch again (killed after that
    # epoch's record, before its checkpoint) does not record it twice.
    monkeypatch.chdir(ROOT)
    name = RECORD[config]
    args = [str(EXAMPLE / config), *TINY]
    if config == "oneshot.yaml":
        args += ["--oneshot.num_candidates=2", "--oneshot.search_every_n_epochs=1"]
    full = tmp_path / "full"
    assert main(["oneshot", *args, f"--oneshot.run_dir={full}"]) == 0
    uninterrupted = record_entries(config, full / name)
    assert sorted({entry["epoch"] for entry in uninterrupted}) == [1, 2, 3]
    for kill, epoch, kept in (("KillAtEpochStart", 1, [1]),  # after epoch 1's checkpoint
                              ("KillBeforeEpochCheckpoint", 1, [1, 2])):  # before epoch 2's
        dead, marker = tmp_path / kill, tmp_path / f"{kill}.marker"
        killer = (f"--trainer.callbacks=[{{class_path: tests.helpers.{kill}, init_args: "
                  f"{{marker: {marker}, epoch: {epoch}}}}}]")
        code, _, err = oneshot_process(launcher, tmp_path, *args,
                                       f"--oneshot.run_dir={dead}", killer)
        assert code == -signal.SIGKILL and marker.is_file(), err[-3000:]
        assert not (dead / "best_arch.yaml").exists()
        assert (dead / name).is_file(), sorted(p.name for p in dead.rglob("*"))
        assert not list(dead.glob(f".{name}.partial"))
        assert record_entries(config, dead / name) == [
            entry for entry in uninterrupted if entry["epoch"] in kept], kill
        # the checkpoint holds epoch 1 alone: the resume trains epoch 2 (again) and 3
        assert checkpoint_settings(dead / "checkpoints" / "last.ckpt")["epoch"] == 0
        assert main(["oneshot", *args, f"--oneshot.run_dir={dead}", killer,
                     "--ckpt_path", "last"]) == 0
        assert (dead / name).read_bytes() == (full / name).read_bytes(), kill
        assert (dead / "best_arch.yaml").read_text() == (full / "best_arch.yaml").read_text()
    capsys.readouterr()

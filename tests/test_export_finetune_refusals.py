"""A fine-tune given what it cannot train (a bad seed, epoch count, Trainer argument, data
or output folder, or fewer epochs than the trial needed to log its monitor) is refused
before any folder is made or any training starts, in one line naming the value, and leaves
the run folder as it was."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from lightning_nas import Search, finetune
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from tests.helpers_data import BlobData
from tests.helpers_models import AccAfterWarmup, AccFromEpoch2


def test_a_finetune_that_cannot_validate_fails_before_any_folder(finished_run):
    folders = sorted(finished_run.iterdir())
    # was: a finetune folder, "no validation ran"; then "trainer.max_epochs=0 runs no
    # validation", naming a key not given; non-integers were said as trainer.max_epochs too
    for epochs in (0, 2.5, True, "3"):
        with pytest.raises(ConfigError, match=r"^max_epochs must be a positive integer \(the "
                                              rf"fine-tune's epochs\), .*; got {epochs!r}$"):
            finetune(finished_run, max_epochs=epochs)
    with pytest.raises(ConfigError, match="unknown Trainer argument 'max_epoch'"):
        finetune(finished_run, trainer={"max_epoch": 2})  # was: FAILED with a TypeError
    with pytest.raises(ConfigError, match=r"max_epochs=1 and trainer=\{'max_epochs': 2\} both"):
        finetune(finished_run, max_epochs=1, trainer={"max_epochs": 2})  # was: 1 won
    assert sorted(finished_run.iterdir()) == folders


def test_a_finetune_seed_out_of_range_is_refused_as_searchs_before_any_folder(
        finished_run, tmp_path):
    # was: a numpy traceback, a FAILED result and an empty output folder
    folders = sorted(finished_run.iterdir())
    valid = "must be an integer from 0 to 4294967295 (2**32 - 1) or None (null in YAML)"
    for seed, message in ((-1, f"`seed` {valid}, got -1"),
                          (2**32, f"`seed` {valid}, got 4294967296"),
                          ("1", f"`seed` {valid}, got '1'")):
        with pytest.raises(ConfigError, match=re.escape(message)):
            finetune(finished_run, max_epochs=1, seed=seed, out_dir=tmp_path / "ft")
    assert sorted(finished_run.iterdir()) == folders and not (tmp_path / "ft").exists()


def test_a_finetune_trainer_that_cannot_be_built_is_one_line_before_any_folder(
        finished_run, capsys):
    # was: "Fine-tune failed: MisconfigurationException" with a traceback, exit code 1, and
    # an empty finetune_N folder left (each attempt took another name)
    from lightning_nas.cli import main

    folders = sorted(finished_run.iterdir())
    for _ in range(2):
        assert main(["finetune", str(finished_run),
                     "--trainer.gradient_clip_algorithm=nrm"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith("lightning-nas finetune: error: "
                              "trainer.gradient_clip_algorithm='nrm': "
                              "MisconfigurationException: `gradient_clip_algorithm` nrm is "
                              "invalid. Allowed algorithms: ['value', 'norm']")
        assert "found building the Trainer of the fine-tune before any training" in err
    with pytest.raises(ConfigError, match=r"trainer.gradient_clip_algorithm='nrm'"):
        finetune(finished_run, trainer={"gradient_clip_algorithm": "nrm"})
    assert sorted(finished_run.iterdir()) == folders  # no finetune folder, no name used


def test_a_finetune_validating_every_0_epochs_is_one_line_before_any_folder(
        finished_run, capsys):
    # was: a bare "ZeroDivisionError: integer modulo by zero" (exit 1) after finetune_1/
    # was made, so a refused fine-tune used up a name
    from lightning_nas.cli import main

    folders = sorted(finished_run.iterdir())
    assert main(["finetune", str(finished_run), "--trainer.check_val_every_n_epoch=0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("lightning-nas finetune: error: trainer.check_val_every_n_epoch=0: "
                          "must be an integer >= 1")
    assert sorted(finished_run.iterdir()) == folders  # no finetune folder, no name used


def test_a_finetune_with_sync_batchnorm_under_ddp_on_cpu_is_refused_before_any_folder(
        finished_run, capsys):
    # was: torch's "SyncBatchNorm layers only work with GPU modules" in DDP's setup
    from lightning_nas.cli import main

    folders = sorted(finished_run.iterdir())
    assert main(["finetune", str(finished_run), "--trainer.strategy=ddp", "--trainer.devices=2",
                 "--trainer.accelerator=cpu", "--trainer.sync_batchnorm=true"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lightning-nas finetune: error: ") and "sync_batchnorm" in err
    assert sorted(finished_run.iterdir()) == folders


@pytest.mark.parametrize("epochs", [-1, -2])
def test_a_finetune_of_no_epoch_limit_is_refused_before_any_folder(finished_run, epochs):
    # was: max_epochs=-1 dropped the search's max_steps and max_time with the epochs, so the
    # fine-tune trained for ever
    folders = sorted(finished_run.iterdir())
    with pytest.raises(ConfigError, match=r"^max_epochs must be a positive integer \(the "
                                          r"fine-tune's epochs\), or -1 \(no limit\) beside "
                                          rf"trainer max_steps or max_time; got {epochs!r}$"):
        finetune(finished_run, max_epochs=epochs)
    assert sorted(finished_run.iterdir()) == folders


@pytest.mark.parametrize("limits", [{"max_steps": -1}, {"max_time": None},
                                    {"max_steps": -1, "max_time": None}])
def test_a_finetune_of_no_epoch_limit_beside_no_step_or_time_limit_is_refused(finished_run,
                                                                              limits):
    # was: any max_steps or max_time key passed for a limit, so max_epochs=-1 beside
    # max_steps=-1 or max_time=None (Lightning's "no limit") trained for ever
    folders = sorted(finished_run.iterdir())
    said = "".join(f"; trainer {k}={v!r} is no limit" for k, v in limits.items())
    with pytest.raises(ConfigError, match=r"^max_epochs must be a positive integer .*; got "
                                          rf"-1{said}$"):
        finetune(finished_run, max_epochs=-1,  # (the old code: stopped by the callback)
                 trainer={**limits, "callbacks": [_StopAtEpoch(3)]})
    assert sorted(finished_run.iterdir()) == folders


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"trainer": [("max_epochs", 1)]}, r"^trainer must map Trainer arguments to values .*"
                                       r"got \[\('max_epochs', 1\)\]$"),
    ({"from_checkpoint": "no"}, r"^from_checkpoint must be True .* or False .*; got 'no'$"),
    ({"out_dir": 3}, r"^`out_dir` \(--out\) must be a path \(str or os.PathLike\), got int 3$"),
    ({"model_init_args": 3}, r"^model_init_args must be a mapping of keyword arguments for "
                             r"the model class, got int 3$"),
    ({"trainer_overrides": "--trainer.limit_val_batches=1 --trainer.precision 32"},
     r"^trainer_overrides must be a list of overrides, one string each; got the string "
     r"'--trainer\.limit_val_batches=1 --trainer\.precision 32': give a list: "
     r"\['--trainer\.limit_val_batches=1', '--trainer\.precision', '32'\]$")])
def test_a_finetune_given_a_wrong_type_says_so_before_any_folder(finished_run, kwargs,
                                                                message):
    # was: a bare TypeError of dict() for the list; "no" was true, and loaded best.ckpt;
    # out_dir=3 and model_init_args=3 were bare TypeErrors naming no argument; a string of
    # trainer_overrides was read a character at a time ("expected an override ..., got '-'")
    folders = sorted(finished_run.iterdir())
    with pytest.raises(ConfigError, match=message):
        finetune(finished_run, max_epochs=1, **kwargs)
    assert sorted(finished_run.iterdir()) == folders


def _files(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kwargs", [{"out_dir": 3}, {"model_init_args": 3}])
def test_a_finetune_given_a_wrong_type_leaves_the_run_folder_as_it_was(finished_run, kwargs):
    # was: said after the store was read and best.yaml exported again (none there, or a
    # stale one): out_dir=3 wrote best.yaml and best.ckpt before its error
    (finished_run / "best.yaml").unlink()
    before = _files(finished_run)
    with pytest.raises(ConfigError, match="out_dir|model_init_args"):
        finetune(finished_run, max_epochs=1, **kwargs)
    assert _files(finished_run) == before


class _StopAtEpoch(Callback):
    """Fails a fit at the end of its epoch ``epoch`` (a test that would train for ever)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch >= self.epoch:
            raise RuntimeError(f"still training at epoch {trainer.current_epoch}")


def test_finetune_given_data_that_is_no_datamodule_fails_before_any_folder(finished_run):
    folders = sorted(finished_run.iterdir())
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(4, 8)))
    with pytest.raises(ConfigError, match="is of type DataLoader, not data a trial can use"):
        finetune(finished_run, max_epochs=1, data=loader)  # was: a folder, AttributeError
    assert sorted(finished_run.iterdir()) == folders


def test_finetune_of_a_model_without_configure_optimizers_fails_before_any_folder(finished_run):
    # the search's check (cli_optim.check_optimizer_given); was: Lightning's fit refused it
    # ("MisconfigurationException: No `configure_optimizers()` method defined. ...")
    from tests.helpers_no_optim import NoOptimNet

    folders = sorted(finished_run.iterdir())
    with pytest.raises(ConfigError, match=r"^model NoOptimNet has no configure_optimizers of "
                                          r"its own \(LightningModule's default\), and no "
                                          r"optimizer section gives it one, so the fine-tune "
                                          r"would fail .*: define NoOptimNet\.configure_opt"):
        finetune(finished_run, max_epochs=1, model=NoOptimNet)
    assert sorted(finished_run.iterdir()) == folders


@pytest.mark.parametrize("threads", [0, -2, 1.5, True])
def test_finetune_threads_not_a_count_says_what_leaving_it_out_gives(tmp_path, threads):
    # was: "..., or None for the trial's own": from the checkpoint (the default) None keeps
    # this process's threads; the trial's are only those of a fine-tune from scratch
    with pytest.raises(ConfigError) as err:
        finetune(tmp_path / "run", threads=threads)
    assert str(err.value) == (
        f"threads must be a whole number >= 1 (torch threads of the fine-tune), or None "
        f"for the default: from scratch the trial's own count, from the checkpoint this "
        f"process's; got {threads!r}")
    assert list(tmp_path.iterdir()) == []  # before any folder is made


def test_a_finetune_that_ends_before_the_monitor_is_logged_is_refused_before_training(
        tmp_path):
    # was: it trained all its epochs, none logged the monitor, and it failed (exit 1)
    run = tmp_path / "run"
    Search(AccAfterWarmup, {"width": {"choice": [4, 8]}}, data=BlobData, budget=1, seed=0,
           trainer={"max_epochs": 3, "accelerator": "cpu", "devices": 1}, run_dir=run,
           verbose=False).run()
    for kw in ({"max_epochs": 1}, {"trainer": {"max_epochs": 1}, "from_checkpoint": False}):
        with pytest.raises(ConfigError, match=r"trial 1 first logged monitor 'val_acc' in "
                           r"epoch 1 .* give max_epochs 2 or more"):
            finetune(run, **kw)
    assert not (run / "finetune").exists()  # nothing trained or made
    result = finetune(run, max_epochs=2)  # reaches it
    assert result.status is TrialStatus.COMPLETED and result.epoch == 1, result.error
    # another validation schedule than the trial's: not compared (it fails at its end)
    other = finetune(run, max_epochs=1, trainer={"val_check_interval": 0.5})
    assert other.status is TrialStatus.FAILED


@pytest.mark.parametrize("interval", [None, 0.5], ids=["every_2", "twice_in_every_2"])
def test_a_finetune_reads_the_epoch_the_monitor_was_first_logged_in_by_its_schedule(
        tmp_path, interval):
    # validation every 2nd epoch (epochs 1 and 3; val_acc from epoch 3 on): was not
    # compared (a curve of 2 values for 4 epochs), so max_epochs=2 trained and failed at its
    # end; twice in those epochs (4 values, 4 epochs): its third value was taken for epoch
    # 2's, so max_epochs=2 was refused asking for 3, which trained and failed alike; then
    # not compared (which epoch a value was of was not known), so it trained and failed:
    # the store's curve_epochs say it
    run = tmp_path / "run"
    trainer = {"max_epochs": 4, "check_val_every_n_epoch": 2, "accelerator": "cpu",
               "devices": 1, "logger": False}
    if interval is not None:
        trainer["val_check_interval"] = interval
    Search(AccFromEpoch2, {"width": {"choice": [4, 8]}}, data=BlobData,
           data_init_args={"batch_size": 48}, budget=1, seed=0, trainer=trainer, run_dir=run,
           verbose=False).run()
    for max_epochs in (2, 3):
        with pytest.raises(ConfigError, match=r"trial 1 first logged monitor 'val_acc' "
                           r"in epoch 3 .* give max_epochs 4 or more"):
            finetune(run, max_epochs=max_epochs)
    assert not (run / "finetune").exists()
    # a row of an older version (no curve_epochs): a value per validated epoch where the
    # curve holds one (every_2), else not compared: it trains and fails at its end
    with sqlite3.connect(run / "search.db") as db:
        db.execute("UPDATE trials SET curve_epochs = NULL")
    if interval is None:
        with pytest.raises(ConfigError, match=r"in epoch 3 .* give max_epochs 4 or more"):
            finetune(run, max_epochs=2)
        return
    assert finetune(run, max_epochs=2).status is TrialStatus.FAILED


@pytest.mark.parametrize(("ckpt", "said"), [
    ("last", "ckpt_path='last': no interrupted fine-tune of {run} to resume (looked at "
             "{run}/finetune: none there); give a last.ckpt of an interrupted one, or leave "
             "ckpt_path out (None) to train a new one"),
    ("{run}/nothing.ckpt", "ckpt_path='{run}/nothing.ckpt': no such file; give 'last' or a "
                           "checkpoint file of a fine-tune folder of {run} ({run}/finetune, "
                           "{run}/finetune_N)"),
    (3, "ckpt_path must be 'last' or the path of a checkpoint file (str or os.PathLike) of "
        "an interrupted fine-tune, or None; got int 3"),
    (True, "ckpt_path must be 'last' or the path of a checkpoint file (str or os.PathLike) "
           "of an interrupted fine-tune, or None; got bool True")])
def test_a_finetune_ckpt_path_it_cannot_resume_is_named_in_pythons_words(finished_run, ckpt,
                                                                        said):
    # was: the command line's words from Python ("--ckpt_path last: ...; or leave
    # --ckpt_path out"), and a bare TypeError ("expected str, bytes or os.PathLike object,
    # not int") naming no argument for a value of another type; `lightning-nas finetune
    # --ckpt_path` says the same in its own words (tests/test_fit_resume.py)
    folders = sorted(finished_run.iterdir())
    given = ckpt.format(run=finished_run) if isinstance(ckpt, str) else ckpt
    with pytest.raises(ConfigError) as info:
        finetune(finished_run, max_epochs=1, ckpt_path=given)
    assert str(info.value) == said.format(run=finished_run)
    assert sorted(finished_run.iterdir()) == folders

"""Export of the best trial and fine-tuning it with a fresh Trainer."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch.callbacks import Callback, EarlyStopping

from lightning_nas import Search, export_best, finetune, load_best
from lightning_nas.config.yamlio import load_yaml
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search import random_state
from lightning_nas.search.from_config import search_from_config
from lightning_nas.store import RunStore
from tests.conftest import TINY_SPACE, TINY_TRAINER
from tests.helpers_callbacks import CountEpochs, CrashAt, SigintAtFirstBatch
from tests.helpers_ctrl_c import terminal_ctrl_c
from tests.helpers_data import BlobData
from tests.helpers_models import AccAfterWarmup, AccFromEpoch2, LazyNoisyNet, TinyNet
from tests.helpers_runs import lightning_cli_fit


@pytest.fixture(scope="module")
def _finished_template(shared_run) -> Path:
    """A finished 3-trial search over ``TINY_SPACE`` (conftest), run once per session
    (conftest's ``shared_run``: under pytest-xdist this module's tests run in both workers);
    tests copy it (``finished_run``), never write there."""
    def make(folder: Path) -> None:
        Search(TinyNet, {k: dict(v) for k, v in TINY_SPACE.items()}, data=BlobData,
               trainer=dict(TINY_TRAINER), budget=3, run_dir=folder / "run",
               verbose=False).run()

    return shared_run("export_finished_run", make)[0] / "run"


@pytest.fixture
def finished_run(_finished_template, tmp_path) -> Path:
    """A finished 3-trial search's folder of the test's own (tests fine-tune into it, export
    from it, remove its files): a copy of the module's one run (the same search each test
    ran before, a second of training each)."""
    run = tmp_path / "run"
    shutil.copytree(_finished_template, run)
    return run


def _start_weights_callback(path):
    return [{"class_path": "tests.helpers.SaveInitialWeights", "init_args": {"path": str(path)}}]


def test_finetune_starts_from_the_best_checkpoint(finished_run, tmp_path):
    best = load_best(finished_run)
    result = finetune(finished_run, max_epochs=4,
                      trainer={"callbacks": _start_weights_callback(tmp_path / "w.pt")})
    assert result.status is TrialStatus.COMPLETED and result.arch == best["arch"]
    assert len(result.curve) == 4 and result.checkpoint.startswith(str(finished_run))
    start = torch.load(tmp_path / "w.pt")
    saved = torch.load(finished_run / "best.ckpt", weights_only=False)["state_dict"]
    assert all(torch.equal(start[k], saved[k]) for k in saved)


def test_a_searched_value_given_in_model_init_args_is_the_finetunes_and_said(finished_run):
    # was: silently ignored (the trial's searched lr won over model_init_args={"lr": ...}),
    # so a fine-tune from best.ckpt could not take a lower learning rate than the search's
    best = load_best(finished_run)
    with pytest.warns(UserWarning, match=rf"model_init_args lr=0.001 replaces trial "
                                         rf"{best['trial']}'s searched lr="):
        result = finetune(finished_run, max_epochs=1, model_init_args={"lr": 0.001})
    assert result.status is TrialStatus.COMPLETED
    assert result.arch == {**best["arch"], "lr": 0.001}
    saved = torch.load(result.checkpoint, weights_only=False)["hyper_parameters"]
    assert saved["lr"] == 0.001 and saved["width"] == best["arch"]["width"]


def test_a_model_init_args_key_the_model_does_not_take_is_named_with_the_valid_ones(
        finished_run):
    # was: "model.lrr=1: TypeError: TinyNet.__init__() got an unexpected keyword argument
    # 'lrr'; found building the model ...", naming none of the arguments it takes
    folders = sorted(finished_run.iterdir())
    with pytest.raises(ConfigError) as err:
        finetune(finished_run, max_epochs=1, model_init_args={"lrr": 1})
    assert str(err.value) == ("model.lrr: not an argument of TinyNet.__init__; did you mean "
                              "'lr'? accepted: width, activation, lr, depth, fail_width, "
                              "nan_width, die_width, sleep")
    assert sorted(finished_run.iterdir()) == folders  # no finetune folder


def test_ctrl_c_in_a_python_finetune_raises_keyboard_interrupt(tmp_path, tiny_space,
                                                                tiny_trainer):
    # was: SystemExit(1), Lightning's exit after its graceful shutdown: a script's `except
    # KeyboardInterrupt:` never ran and it exited with status 1, not 130
    run = tmp_path / "run"
    Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1, run_dir=run,
           verbose=False).run()
    with terminal_ctrl_c(), pytest.raises(KeyboardInterrupt):
        finetune(run, max_epochs=1, trainer={"callbacks": [SigintAtFirstBatch()]})


def test_a_second_finetune_keeps_the_first_and_a_lost_import_path_fails_first(finished_run):
    first = finetune(finished_run, max_epochs=1)
    second = finetune(finished_run, max_epochs=1)
    assert Path(first.checkpoint).parent != Path(second.checkpoint).parent
    assert Path(first.checkpoint).exists() and Path(second.checkpoint).exists()
    assert Path(second.checkpoint).parent.name.startswith("finetune_")
    with RunStore(finished_run / "search.db") as store:  # the project moved its module
        store.set_meta("model", {**store.get_meta("model"), "class_path": "gone.Net"})
    folders = sorted(finished_run.iterdir())
    with pytest.raises(ConfigError, match="model='gone.Net': cannot import module 'gone'"):
        finetune(finished_run, max_epochs=1)
    assert sorted(finished_run.iterdir()) == folders  # no folder, no training


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
                             r"the model class, got int 3$")])
def test_a_finetune_given_a_wrong_type_says_so_before_any_folder(finished_run, kwargs,
                                                                message):
    # was: a bare TypeError of dict() for the list; "no" was true, and loaded best.ckpt;
    # out_dir=3 and model_init_args=3 were bare TypeErrors naming no argument
    folders = sorted(finished_run.iterdir())
    with pytest.raises(ConfigError, match=message):
        finetune(finished_run, max_epochs=1, **kwargs)
    assert sorted(finished_run.iterdir()) == folders


def _hold_elsewhere(folder: Path) -> subprocess.Popen:
    """Another process that holds ``folder`` as a search does, once it says so."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from lightning_nas.run_folder import "
         "hold_folder; h = hold_folder(sys.argv[1], ''); print('held', flush=True); "
         "time.sleep(120)", str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


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


def test_a_finetune_of_no_epoch_limit_ends_at_the_step_limit_given(finished_run):
    result = finetune(finished_run, max_epochs=-1, trainer={"max_steps": 12})  # 3 an epoch
    assert result.status is TrialStatus.COMPLETED, result.error
    assert result.epochs == 4 and len(result.curve) == 4  # each epoch validated, then stopped


def test_finetune_given_data_that_is_no_datamodule_fails_before_any_folder(finished_run):
    folders = sorted(finished_run.iterdir())
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(4, 8)))
    with pytest.raises(ConfigError, match="is of type DataLoader, not data a trial can use"):
        finetune(finished_run, max_epochs=1, data=loader)  # was: a folder, AttributeError
    assert sorted(finished_run.iterdir()) == folders


def test_a_search_given_objects_finetunes_with_them_given_again(
        tmp_path, tiny_space, tiny_trainer):
    run = tmp_path / "run"
    stop = EarlyStopping(monitor="val_acc", mode="max", patience=3)
    Search(TinyNet, tiny_space, data=BlobData(), trainer={**tiny_trainer, "callbacks": [stop]},
           budget=2, run_dir=run, verbose=False).run()
    folders = sorted(run.iterdir())
    with pytest.raises(ConfigError, match=r"the search's data \(a BlobData object\) has no "
                                          r"import path; pass data= to finetune\(\).*; and the "
                                          r"search gave the Trainer objects .*\(callbacks\)"):
        finetune(run, max_epochs=1)  # was: a folder, then Lightning's "no train_dataloader"
    # (and was: the data alone, the callbacks named only at the next call)
    # was: trained without the search's callbacks, without a word
    with pytest.raises(ConfigError, match=r"Trainer objects the store cannot keep \(callbacks\)"
                                          r".*trainer=\{'callbacks': \.\.\.\}"):
        finetune(run, max_epochs=1, data=BlobData())
    assert sorted(run.iterdir()) == folders
    assert finetune(run, max_epochs=1, data=BlobData(),
                    trainer={"callbacks": [stop]}).status is TrialStatus.COMPLETED


def test_finetune_from_scratch_does_not_load_weights(finished_run, tmp_path):
    result = finetune(finished_run, max_epochs=1, from_checkpoint=False, out_dir=tmp_path / "s",
                      trainer={"callbacks": _start_weights_callback(tmp_path / "w.pt")})
    assert result.status is TrialStatus.COMPLETED
    start = torch.load(tmp_path / "w.pt")
    saved = torch.load(finished_run / "best.ckpt", weights_only=False)["state_dict"]
    assert not all(torch.equal(start[k], saved[k]) for k in saved)


def test_finetune_of_a_run_whose_best_ckpt_was_deleted_points_to_from_scratch(
        finished_run, capsys):
    # was: "FileNotFoundError: [Errno 2] No such file or directory: 'RUN/best.ckpt'" (Lightning's
    # load), with no word of --from_scratch, which README promises "without a best.ckpt"
    from lightning_nas.cli import main

    (finished_run / "best.ckpt").unlink()  # removed to free disk; best.yaml still names it
    folders = sorted(finished_run.iterdir())
    head = (f"{finished_run} has no best.ckpt: best.yaml names best.ckpt, which is not there "
            f"(moved or deleted); ")
    # the command's words first (was: "with from_checkpoint=False (lightning-nas finetune
    # RUN --from_scratch)", Python's words before the option the command takes)
    scratch = (f"train it from fresh weights: lightning-nas finetune {finished_run} "
               f"--from_scratch (from Python: lightning_nas.finetune({str(finished_run)!r}, "
               f"from_checkpoint=False))")
    trial = load_best(finished_run)["trial"]
    again = (f"`lightning-nas export {finished_run}` copies it again from trial {trial}'s own "
             f"checkpoint, or ")
    with pytest.raises(FileNotFoundError) as err:  # was: a FAILED result, a folder made
        finetune(finished_run, max_epochs=1)
    assert str(err.value) == head + again + scratch
    for ckpt in (finished_run / "trials").glob("*/*.ckpt"):
        ckpt.unlink()  # the trial's own gone too: only --from_scratch is left
    assert main(["finetune", str(finished_run), "--max_epochs=1"]) == 2
    assert capsys.readouterr().err == f"lightning-nas finetune: error: {head}{scratch}\n"
    assert sorted(finished_run.iterdir()) == folders  # no finetune folder made
    assert export_best(finished_run)["checkpoint"] is None  # export says it has none


def test_export_and_finetune_of_a_run_with_a_step_limit_a_logger_and_one_checkpoint(
        tmp_path, tiny_space, tiny_trainer):
    run = tmp_path / "run"
    trainer = {**tiny_trainer, "max_steps": 3,
               "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger"}}
    result = Search(TinyNet, tiny_space, data=BlobData, trainer=trainer, budget=2,
                    keep_top_k=1, run_dir=run, verbose=False).run()
    other = next(t for t in result.trials if t.trial_id != result.best.trial_id)
    # a trial whose checkpoint keep_top_k removed: no best.ckpt of another trial stays
    assert export_best(run, trial_id=other.trial_id)["checkpoint"] is None
    assert not (run / "best.ckpt").exists()
    with pytest.raises(FileNotFoundError, match=rf"lightning-nas finetune {run} --from_scratch"):
        finetune(run)
    assert export_best(run)["checkpoint"] == "best.ckpt"
    tuned = finetune(run, max_epochs=3)  # not cut short by the search's max_steps
    assert tuned.status is TrialStatus.COMPLETED and tuned.epochs == 3
    logs = run / "finetune" / "logs" / "metrics.csv"  # the user's logger, in its folder
    assert logs.exists() and not (tmp_path / "logs").exists()


@pytest.mark.parametrize("stage", ["fit", "validate"])
def test_best_ckpt_resumes_with_the_users_callbacks_without_lightning_nas_own(
        tmp_path, tiny_space, tiny_trainer, stage, capsys):
    # was: Lightning's "Be aware that when using `ckpt_path`, callbacks used to create the
    # checkpoint need to be provided ... Please add the following callbacks:
    # ["TrialReporter{...}", "lightning_nas.TrialCheckpoint{...}"]" on a user's
    # `trainer.fit(model, ckpt_path="best.ckpt")`: callbacks of lightning_nas's own
    from lightning.pytorch import Trainer

    from lightning_nas.cli import main

    run = tmp_path / "run"
    trainer = {**tiny_trainer, "callbacks": [{"class_path": "tests.helpers.CountEpochs"}]}
    Search(TinyNet, tiny_space, data=BlobData, trainer=trainer, budget=2, run_dir=run,
           seed=0, verbose=False).run()
    best = load_best(run)
    counter = CountEpochs()
    kept = torch.load(run / "best.ckpt", weights_only=False)["callbacks"]["CountEpochs"]
    user = Trainer(max_epochs=kept["epochs"] + 1, callbacks=[counter], logger=False,
                   enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False, default_root_dir=tmp_path)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        getattr(user, stage)(TinyNet(**best["arch"]), datamodule=BlobData(),
                             ckpt_path=run / "best.ckpt")
    said = [str(w.message) for w in seen if "callbacks used to create" in str(w.message)]
    assert said == []
    states = torch.load(run / "best.ckpt", weights_only=False)["callbacks"]
    assert list(states) == ["CountEpochs"]  # the user's callback's state is kept
    assert random_state.in_checkpoint(run / "best.ckpt")  # a re-export's header says so
    assert counter.epochs == kept["epochs"] + (stage == "fit")  # its state read back
    tuned = finetune(run, max_epochs=1)  # weights only: it still starts from best.ckpt
    assert tuned.status is TrialStatus.COMPLETED and tuned.arch == best["arch"]
    # the fine-tune's own best.ckpt too (was: with TrialReporter's and TrialCheckpoint's)
    assert list(torch.load(tuned.checkpoint, weights_only=False)["callbacks"]) == ["CountEpochs"]
    assert export_best(run)["checkpoint"] == "best.ckpt"  # exported again from the trial's
    assert main(["show", str(run)]) == 0


def test_export_writes_best_yaml_and_checkpoint(finished_run):
    (finished_run / "best.yaml").unlink()
    (finished_run / "best.ckpt").unlink()
    out = export_best(finished_run)
    on_disk = yaml.safe_load((finished_run / "best.yaml").read_text())
    assert on_disk == out
    assert out["model"]["class_path"] == "tests.helpers.TinyNet"
    assert out["model"]["init_args"] == out["arch"]
    ckpt = torch.load(finished_run / out["checkpoint"], weights_only=False)
    assert ckpt["hyper_parameters"]["width"] == out["arch"]["width"]


def test_best_ckpt_validated_in_the_trials_precision_gives_best_yamls_metrics(tmp_path):
    # what the README says of best.yaml's score: the trial's validation under its Trainer's
    # precision (bf16-mixed on CPU); export copies it and validates nothing again, and a
    # validation of best.ckpt in that precision, on the same data, gives it back exactly
    import lightning.pytorch as pl

    trainer = {"max_epochs": 2, "accelerator": "cpu", "devices": 1, "precision": "bf16-mixed"}
    Search(TinyNet, {"width": {"choice": [8, 16]}}, data=BlobData, trainer=trainer, budget=1,
           monitor="val_loss", mode="min", run_dir=tmp_path, verbose=False).run()
    best = load_best(tmp_path)
    with RunStore(tmp_path / "search.db") as store:
        precision = store.get_meta("trainer")["precision"]
    again = pl.Trainer(accelerator="cpu", devices=1, precision=precision, logger=False,
                       enable_progress_bar=False, enable_model_summary=False).validate(
        TinyNet.load_from_checkpoint(tmp_path / "best.ckpt"), datamodule=BlobData(),
        verbose=False)[0]
    assert again == {k: best["metrics"][k] for k in ("val_loss", "val_acc")}
    assert again["val_loss"] == best["score"]


def test_export_quotes_strings_that_look_like_numbers(tmp_path):
    # a `tag: 1e-3` string came back as 0.001 and `fit` refused it ("expected str")
    run = tmp_path / "run"
    arch = {"tag": "1e-3", "name": "1E5"}
    with RunStore(run / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        store.set_meta("config", {"model": {"class_path": "m.Net"}, "search": {}})
        trial_id = store.start_trial(arch)
        store.finish_trial(TrialResult(trial_id=trial_id, arch=arch,
                                       status=TrialStatus.COMPLETED, score=0.5))
    export_best(run)
    assert load_yaml((run / "best.yaml").read_text())["arch"] == arch
    config = load_yaml((run / "best_config.yaml").read_text())
    assert config["model"]["init_args"] == arch
    with RunStore(run / "search.db") as store:  # a search with threads_per_trial
        store.set_meta("settings", {"threads_per_trial": 1})
    export_best(run)  # the trials' thread count, without which fit's sums differ on CPU
    header = (run / "best_config.yaml").read_text().split("\nmodel:")[0]
    assert "# It ran with 1 torch thread: on CPU the same count" in header
    assert f"# Train it again: OMP_NUM_THREADS=1 lightning-nas fit {run}" in header


@pytest.mark.parametrize("model", [{"class_path": "m.Net"}, {"_target_": "m.Net"}])
def test_the_header_says_an_instantiate_link_changes_the_build_order(tmp_path, model):
    # was: "(or plain LightningCLI: fit --config best_config.yaml)" only, though a CLI whose
    # link_arguments(apply_on="instantiate") builds the data first (jsonargparse builds a
    # link's source before its target) drew a random split otherwise: another score
    run = tmp_path / "run"
    with RunStore(run / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        store.set_meta("config", {"model": model, "search": {}})
        trial_id = store.start_trial({"width": 4})
        store.finish_trial(TrialResult(trial_id=trial_id, arch={"width": 4},
                                       status=TrialStatus.COMPLETED, score=0.5))
    export_best(run)
    header = (run / "best_config.yaml").read_text().split("\nmodel:")[0]
    said = ("# A trial builds the model, then the data, as plain LightningCLI does; a CLI of "
            "yours\n# with link_arguments(apply_on='instantiate') builds the data first")
    assert (said in header) is ("class_path" in model)  # a Hydra config: no LightningCLI
    assert header.splitlines()[-1] == "# lightning-nas fit: monitor=val_acc mode=max"


def test_the_header_names_the_users_own_lightningcli_script(tmp_path):
    # was: "(or plain LightningCLI: fit --config best_config.yaml)", read as `python -m
    # lightning.pytorch.cli fit ...`, which has no model and trains nothing
    run = tmp_path / "run"
    with RunStore(run / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        store.set_meta("config", {"model": {"class_path": "m.Net"}, "search": {}})
        trial_id = store.start_trial({"width": 4})
        store.finish_trial(TrialResult(trial_id=trial_id, arch={"width": 4},
                                       status=TrialStatus.COMPLETED, score=0.5))
    export_best(run)
    header = (run / "best_config.yaml").read_text().split("\nmodel:")[0]
    (line,) = [x for x in header.splitlines() if x.startswith("# Train it again:")]
    assert line.endswith(" (or your own LightningCLI script: python YOUR_CLI.py fit --config "
                         "best_config.yaml)"), line
    assert "plain LightningCLI: fit" not in header


def test_the_commands_export_prints_are_shell_quoted(tmp_path):
    # was: "# Train it again: lightning-nas fit runs/my run/best_config.yaml", which a shell
    # splits at the space; likewise `lightning-nas export RUN` and finetune --from_scratch
    import shlex

    run = tmp_path / "my run"
    with RunStore(run / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        store.set_meta("model", {"class_path": "tests.helpers.TinyNet"})
        store.set_meta("config", {"model": {"class_path": "tests.helpers.TinyNet"},
                                  "search": {}})
        trial_id = store.start_trial({"width": 4})
        store.finish_trial(TrialResult(trial_id=trial_id, arch={"width": 4},
                                       status=TrialStatus.COMPLETED, score=0.5))
    for threads in (None, 2):
        if threads:
            with RunStore(run / "search.db") as store:
                store.set_meta("settings", {"threads_per_trial": threads})
        export_best(run)
        line = next(x for x in (run / "best_config.yaml").read_text().splitlines()
                    if x.startswith("# Train it again: "))
        command = line.removeprefix("# Train it again: ").split(" (")[0]
        env = [f"OMP_NUM_THREADS={threads}"] if threads else []
        assert shlex.split(command) == [*env, "lightning-nas", "fit",
                                        str(run / "best_config.yaml")], line
    with pytest.raises(FileNotFoundError) as err:  # no checkpoint was kept
        finetune(run)
    assert f": lightning-nas finetune {shlex.quote(str(run))} --from_scratch (" in str(err.value)
    (run / "best.yaml").unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_best(run)
    assert str(err.value).endswith(f"run `lightning-nas export {shlex.quote(str(run))}`")


def test_best_config_names_its_run_folder_absolute_on_one_line(tmp_path, monkeypatch):
    # was: "# Trial 1 of {run_dir}" and the command named the folder as given: a newline in
    # its path (a folder an older version took) went on to a line of YAML: `fit` said
    # "unknown config section 'x'", or it set a "seed_everything: 7" of its own; and the
    # command of a relative run_dir trained it only from the folder the search ran in
    import subprocess

    from lightning_nas.export import output_dir

    monkeypatch.chdir(tmp_path)
    configs = {}
    for given in ("runs/my run", "runs/nl\nx", "runs/a\nseed_everything: 7", "runs/q'\r\tb"):
        run = Path(given)
        with RunStore(run / "search.db") as store:
            store.set_meta("mode", "max")
            store.set_meta("monitor", "val_acc")
            store.set_meta("settings", {"threads_per_trial": 1})
            store.set_meta("config", {"model": {"class_path": "m.Net"}, "search": {}})
            trial_id = store.start_trial({"width": 4})
            store.finish_trial(TrialResult(trial_id=trial_id, arch={"width": 4},
                                           status=TrialStatus.COMPLETED, score=0.5))
        export_best(run)
        text = (run / "best_config.yaml").read_text()
        configs[given] = load_yaml(text)
        header = text.split("\nmodel:")[0].splitlines()
        assert all(line.startswith("#") for line in header), header
        shown = str(tmp_path / run) if given == "runs/my run" else repr(str(tmp_path / run))
        assert header[0] == f"# Trial 1 of {shown}: val_acc=0.5 (max) at epoch None.", given
        line = next(x for x in header if x.startswith("# Train it again: "))
        command = line.removeprefix("# Train it again: ").split(" (or your own")[0]
        words = subprocess.run(["bash", "-c", f"printf '%s\\0' {command}"], check=True,
                               capture_output=True).stdout.decode().split("\0")[:-1]
        assert words == ["OMP_NUM_THREADS=1", "lightning-nas", "fit",  # as pasted, anywhere
                         str(tmp_path / run / "best_config.yaml")], line
    assert all(config == configs["runs/my run"] for config in configs.values()), configs
    with pytest.raises(ConfigError, match=r"`out_dir` \(--out\) must be a folder path of "
                                          r"printable characters .* got 'ft\\nx'"):
        output_dir("ft\nx", Path("default"))  # a fit's or a fine-tune's
    assert not Path("ft\nx").exists()


@pytest.mark.slow
def test_best_config_names_the_threads_of_trials_that_shared_the_cores(two_worker_search):
    # was: only a set threads_per_trial was named; two workers on 2 cores (1 thread each)
    # or Ray (num_cpus) wrote no note, and `lightning-nas fit` (2 threads) scored otherwise
    import os

    # conftest: a config search on two worker processes, no threads_per_trial
    threads = max(1, (os.cpu_count() or 1) // 2)
    header = (two_worker_search / "best_config.yaml").read_text().split("\nmodel:")[0]
    assert f"# It ran with {threads} torch thread" in header
    assert f"# Train it again: OMP_NUM_THREADS={threads} lightning-nas fit" in header


def test_best_config_names_the_threads_of_the_invocation_that_trained_the_trial(tmp_path):
    # was: one count per run (meta trial_threads), overwritten by every resume: a resume
    # with another threads_per_trial named its count for the trials of the first run too
    run = tmp_path / "run"
    for budget, threads in ((1, 2), (2, 1)):  # the resume trains trial 2 with 1 thread
        search_from_config({**CONFIG, "trainer": {"max_epochs": 1, "accelerator": "cpu"},
                            "search": {"space": {"model.width": {"choice": [8, 16]}},
                                       "budget": budget, "threads_per_trial": threads,
                                       "verbose": False, "run_dir": str(run)}}).run()
    for trial, threads in ((1, 2), (2, 1)):
        export_best(run, trial_id=trial)
        header = (run / "best_config.yaml").read_text().split("\nmodel:")[0]
        assert f"# It ran with {threads} torch thread" in header
        assert f"# Train it again: OMP_NUM_THREADS={threads} lightning-nas fit" in header
    with RunStore(run / "search.db") as store:  # as an older version left it: one count
        assert [store.fits(1), store.fits(2)] == [[2], [1]]
        store.set_meta("trial_threads", 3)
    _forget_fits(run)
    export_best(run, trial_id=1)
    assert "OMP_NUM_THREADS=3 lightning-nas fit" in (run / "best_config.yaml").read_text()


def _forget_fits(run) -> None:
    """Leave ``run`` as a version older than the record of each fit left it."""
    with sqlite3.connect(run / "search.db") as db:
        db.execute("DELETE FROM fits")


@pytest.mark.parametrize("call", [export_best, load_best, finetune])
def test_a_run_dir_of_another_kind_is_a_config_error_naming_it(call):
    # was: a bare TypeError, "expected str, bytes or os.PathLike object, not int"
    with pytest.raises(ConfigError, match=rf"^{call.__name__}\(run_dir=\.\.\.\) must be a "
                                          r"path \(str or os.PathLike\), got int 3$"):
        call(3)


def test_export_of_a_missing_run_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        export_best(tmp_path)


#: a config search whose trials run with another seed than the config's, epochs set by the
#: scheduler, and space keys at paths into the config (model and data)
CONFIG = {
    "seed_everything": 5,
    "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"depth": 1}},
    "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
    "trainer": {"max_epochs": 4, "accelerator": "cpu", "devices": 1},
    "search": {"space": {"model.width": {"choice": [8, 16, 32]}, "lr": {"float": [0.05, 0.3]},
                         "data.batch_size": {"choice": [16, 32]}},
               "optimizer": "RandomSearch", "budget": 2, "seed": 1, "scheduler": "asha",
               "max_epochs": 2, "eta": 2},
}


def test_model_init_args_reach_a_model_built_from_its_config(tmp_path):
    # was: "model ConfigBuilder('tests.helpers.TinyNet') is not a class: init_args are only
    # supported for LightningModule classes": a config run whose space names a path (here
    # model.width, data.batch_size) builds its model from the config, and took none
    run = tmp_path / "run"
    search_from_config({**CONFIG, "trainer": {"max_epochs": 1, "accelerator": "cpu"},
                        "search": {**{k: v for k, v in CONFIG["search"].items()
                                      if k not in ("scheduler", "max_epochs", "eta")},
                                   "run_dir": str(run), "budget": 1}}).run()
    best = load_best(run)
    with pytest.warns(UserWarning, match=rf"^model_init_args width=4 replaces trial "
                                         rf"{best['trial']}'s searched model.width="):
        result = finetune(run, max_epochs=1, from_checkpoint=False,  # another width
                          model_init_args={"width": 4, "activation": "tanh"})
    assert result.status is TrialStatus.COMPLETED, result.error
    assert result.arch == {**best["arch"], "model.width": 4}
    saved = torch.load(result.checkpoint, weights_only=False)["hyper_parameters"]
    assert (saved["width"], saved["activation"], saved["lr"]) == (4, "tanh", best["arch"]["lr"])
    with pytest.raises(ConfigError, match=r"^model.activaton: not an argument of "
                                          r"TinyNet.__init__; did you mean 'activation'\?"):
        finetune(run, max_epochs=1, model_init_args={"activaton": "tanh"})


def _csv_metrics(folder: Path) -> list[dict[str, float]]:
    """Validation rows (epoch, val_acc, val_loss) of the CSVLogger under ``folder``."""
    import csv

    (path,) = folder.rglob("metrics.csv")
    with open(path) as f:
        return [{k: float(v) for k, v in row.items() if k in ("epoch", "val_acc", "val_loss")}
                for row in csv.DictReader(f) if row["val_acc"]]


@pytest.mark.parametrize("model", ["tests.helpers.TinyNet", "tests.helpers.LazyNoisyNet"])
def test_best_config_is_the_trial_as_it_ran_and_lightningcli_reproduces_it(tmp_path, model):
    # was (LazyNoisyNet): LightningCLI's model summary ran example_input_array through
    # forward before training (lazy layers made, noise drawn), which trials do not: another
    # score, though best_config.yaml "trains it as is"
    pytest.importorskip("jsonargparse")
    run = tmp_path / "run"
    cfg = {**CONFIG, "model": {**CONFIG["model"], "class_path": model},
           "search": {**CONFIG["search"], "run_dir": str(run)}}
    search_from_config(cfg).run()
    best = load_best(run)
    arch = best["arch"]
    # best.yaml: the config's model with the arch at its paths (never class_path null)
    assert best["model"] == {"class_path": model,
                             "init_args": {"depth": 1, "width": arch["model.width"],
                                           "lr": arch["lr"]}}
    best_cfg = yaml.safe_load((run / "best_config.yaml").read_text())
    assert best_cfg["seed_everything"] == 1  # the search's seed, not the config's 5
    # as the trials ran; the model summary off only where it runs forward (LazyNoisyNet's
    # example_input_array): TinyNet's leaves Lightning's summary on, scores unchanged
    lazy = {"enable_model_summary": False} if model.endswith("LazyNoisyNet") else {}
    assert best_cfg["trainer"] == {"max_epochs": 2, "accelerator": "cpu", "devices": 1, **lazy}
    assert best_cfg["model"] == best["model"] and "search" not in best_cfg
    assert best_cfg["data"]["init_args"] == {"batch_size": arch["data.batch_size"]}
    # plain LightningCLI trains it as is and gets the trial's values at every epoch
    lightning_cli_fit("--config", str(run / "best_config.yaml"),
                      "--trainer.enable_progress_bar=false",
                      "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
                      f"--trainer.logger.save_dir={tmp_path / 'cli'}")
    rows = _csv_metrics(tmp_path / "cli")
    with RunStore(run / "search.db") as store:
        trial = store.get(best["trial"])
    assert [r["val_acc"] for r in rows] == trial.curve
    assert rows[best["epoch"]]["val_loss"] == best["metrics"]["val_loss"]


def test_the_header_names_a_one_batch_limit_plain_lightningcli_reads_as_every_batch(tmp_path):
    # was: "(or plain LightningCLI: fit --config best_config.yaml)" alone, where plain
    # LightningCLI (jsonargparse, Lightning-AI/pytorch-lightning#21259) reads the trial's
    # limit_val_batches: 1 (one batch) as 1.0 (every batch) and trains another way
    pytest.importorskip("jsonargparse")
    from lightning.pytorch.cli import LightningCLI

    run = tmp_path / "run"
    trainer = {**CONFIG["trainer"], "limit_val_batches": 1, "limit_train_batches": 3,
               "limit_test_batches": 0.5, "val_check_interval": 1.0}
    cfg = {**CONFIG, "trainer": trainer, "search": {**CONFIG["search"], "run_dir": str(run),
                                                    "budget": 1, "scheduler": "none"}}
    cfg["search"] = {k: v for k, v in cfg["search"].items() if k not in ("max_epochs", "eta")}
    search_from_config(cfg).run()
    text = (run / "best_config.yaml").read_text()
    assert yaml.safe_load(text)["trainer"]["limit_val_batches"] == 1  # as the trial ran
    cli = LightningCLI(save_config_callback=None, run=False,
                       args=["--config", str(run / "best_config.yaml")])
    read = cli.trainer.limit_val_batches
    header = [line for line in text.splitlines() if line.startswith("#")]
    said = "# Plain LightningCLI here reads trainer.limit_val_batches: 1 as 1.0, all the batches"
    assert (said in "\n".join(header)) == isinstance(read, float), (read, header)
    # a fraction already, and a count Lightning takes as one from 3.0 too
    assert not any("limit_test_batches" in line or "limit_train_batches" in line
                   for line in header)
    assert cli.trainer.limit_train_batches == 3


def test_arguments_only_kwargs_takes_are_exported_under_dict_kwargs_for_lightningcli(tmp_path):
    # was: best_config.yaml put a NASModule's searched width into init_args, which plain
    # LightningCLI refuses ("Option 'width' is not accepted"), though its header says
    # "(or plain LightningCLI: fit --config best_config.yaml)"
    pytest.importorskip("jsonargparse")
    run = tmp_path / "run"
    model = {"class_path": "lightning_nas.NASModule",
             "init_args": {"builder": "tests.helpers.build_mlp", "num_classes": 3}}
    cfg = {"seed_everything": 0, "model": model,
           "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
           "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1},
           "search": {"space": {"width": {"choice": [8, 16]}, "lr": {"float": [0.01, 0.1]}},
                      "optimizer": "RandomSearch", "budget": 2, "seed": 1,
                      "run_dir": str(run), "verbose": False}}
    search_from_config(cfg).run()
    best = load_best(run)
    arch = best["arch"]
    best_cfg = yaml.safe_load((run / "best_config.yaml").read_text())
    assert best_cfg["model"] == best["model"] == {
        "class_path": "lightning_nas.NASModule",
        "init_args": {"builder": "tests.helpers.build_mlp", "num_classes": 3, "lr": arch["lr"]},
        "dict_kwargs": {"width": arch["width"]}}
    # plain LightningCLI trains it as is and gets the trial's values at every epoch
    lightning_cli_fit("--config", str(run / "best_config.yaml"),
                      "--trainer.enable_progress_bar=false",
                      "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
                      f"--trainer.logger.save_dir={tmp_path / 'cli'}")
    with RunStore(run / "search.db") as store:
        trial = store.get(best["trial"])
    assert [r["val_acc"] for r in _csv_metrics(tmp_path / "cli")] == trial.curve


@pytest.mark.parametrize("node", [True, False])
def test_a_searched_class_for_a_type_argument_is_exported_as_lightningcli_takes_it(tmp_path,
                                                                                  node):
    # was: a searched `act: {choice: [{class_path: torch.nn.Tanh}, ...]}` at an argument
    # annotated type[nn.Module] was exported as {class_path: ..., init_args: {}}, which plain
    # LightningCLI refuses ("Expected a dot import path string"); now its import path
    from lightning.pytorch.cli import LightningCLI

    pytest.importorskip("jsonargparse")
    run = tmp_path / "run"
    paths = ["torch.nn.Tanh", "torch.nn.GELU"]
    cfg = {"seed_everything": 0,
           "model": {"class_path": "tests.helpers.ActNet", "init_args": {"width": 4}},
           "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 32}},
           "trainer": {"max_epochs": 1, "limit_train_batches": 1, "accelerator": "cpu"},
           "search": {"space": {"act": {"choice": [{"class_path": p} for p in paths]
                                        if node else paths}},
                      "optimizer": "RandomSearch", "budget": 2, "seed": 1,
                      "run_dir": str(run), "verbose": False}}
    search_from_config(cfg).run()
    best = load_best(run)
    chosen = best["arch"]["act"]["class_path"] if node else best["arch"]["act"]
    best_cfg = yaml.safe_load((run / "best_config.yaml").read_text())
    assert best_cfg["model"]["init_args"]["act"] == chosen  # the import path, as jsonargparse
    assert best["model"] == best_cfg["model"]
    cli = LightningCLI(save_config_callback=None, args=[
        "fit", "--config", str(run / "best_config.yaml"), "--trainer.logger=false",
        "--trainer.enable_checkpointing=false", "--trainer.enable_progress_bar=false"])
    assert type(cli.model.net[1]).__name__ == chosen.rsplit(".", 1)[1]  # ActNet built it


@pytest.mark.slow
def test_a_ddp_finetune_trains_once_on_ranks_of_its_own(tmp_path, tiny_space, tiny_trainer,
                                                        launcher):
    """Run in-process, Lightning's launcher re-ran the ``finetune`` command for rank 1: the
    result was printed twice and rank 1 made a ``finetune_1`` folder of its own."""
    finished_run = tmp_path / "run"  # a model whose val_acc is synced over the ranks
    Search("tests.helpers.SyncedTinyNet", tiny_space, data=BlobData, trainer=tiny_trainer,
           budget=1, run_dir=finished_run, verbose=False).run()
    ddp = ["--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.strategy=ddp",
           "--trainer.callbacks=[{class_path: tests.helpers.RankRecorder}]"]
    # ``python -m lightning_nas finetune ...``, forked by the launcher (its imports paid once,
    # not by a fresh python), as a script whose sys.argv is that command: a Lightning launcher
    # that started rank 1 from it would re-run the finetune command, as under ``python -m``
    script = tmp_path / "lightning_nas_main.py"
    script.write_text("import sys\nfrom lightning_nas.cli import main\nsys.exit(main())\n")
    log = tmp_path / "finetune.log"
    code = launcher.run(["finetune", finished_run, "--max_epochs=1", *ddp], log, script)
    out = log.read_text()  # its stdout and stderr, and those of any rank it started
    assert code == 0, out[-2000:]
    assert out.count("Fine-tuned") == 1
    assert [p.name for p in finished_run.glob("finetune*")] == ["finetune"]
    for rank in (0, 1):  # both ranks trained in the one folder
        record = json.loads((finished_run / "finetune" / f"rank{rank}.json").read_text())
        assert record["world_size"] == 2 and len(record["epochs"]) == 1
    # rank 0 validated the start on one device (was: none under DDP), said once
    score = load_best(finished_run)["score"]
    assert out.count(f"validated before training: val_acc={score:.4f})") == 1, out[-2000:]


def test_the_header_of_a_paused_and_resumed_winner_says_whether_it_is_a_replay(tmp_path):
    # was: "trained in one go it scores close to this" (a tester saw 0.557 against 0.676);
    # then "another run, not a replay" also where the checkpoint kept the random state, so
    # that a fit trains the same epochs (a tester saw it do so, to the last digit)
    from lightning_nas.export_header import config_header

    best = TrialResult(trial_id=3, arch={}, status=TrialStatus.COMPLETED, score=0.9, epoch=2)
    assert "paused and resumed" not in config_header(tmp_path, best, "val_acc", "max")
    header = config_header(tmp_path, best, "val_acc", "max", fits=[1, 1], resumed=True)
    assert "kept no random state" in header and "another run, not a replay" in header
    assert "close" not in header and "# It ran with 1 torch thread.\n" in header
    assert "OMP_NUM_THREADS=1 lightning-nas fit" in header
    header = config_header(tmp_path, best, "val_acc", "max", fits=[1, 1], resumed="replayed")
    assert "which kept its random state: trained in one go it trains the same epochs" in header
    assert "not a replay" not in header
    assert "# It ran with 1 torch thread: on CPU the same count gives the same score.\n" in header
    header = config_header(tmp_path, best, "val_acc", "max", fits=[1, 1], resumed="gone")
    assert "which is gone: a search of this version keeps the random state there" in header
    header = config_header(tmp_path, best, "val_acc", "max", fits=[2, 1], resumed=True)
    assert "# Its fits ran with 2 then 1 torch threads (the first, then each resume" in header
    assert "OMP_NUM_THREADS=1 lightning-nas fit" in header  # its latest fit's
    assert header.splitlines()[-1] == "# lightning-nas fit: monitor=val_acc mode=max"


def test_the_header_of_an_unseeded_search_promises_no_replay(tmp_path):
    # was: "It ran with 1 torch thread: on CPU the same count gives the same score." and
    # the command, though seed_everything: false seeded nothing (a fit gave 0.1, not 0.182)
    from lightning_nas.export_header import config_header

    run = tmp_path / "run"
    search = {"space": CONFIG["search"]["space"], "budget": 1, "threads_per_trial": 1,
              "verbose": False, "run_dir": str(run)}
    search_from_config({**CONFIG, "seed_everything": False, "search": search,
                        "trainer": {**CONFIG["trainer"], "max_epochs": 1}}).run()
    text = (run / "best_config.yaml").read_text()
    header = text.split("\nseed_everything:")[0]
    assert load_yaml(text)["seed_everything"] is False
    assert "# It ran with 1 torch thread.\n" in header and "same score" not in header
    assert ("# The search was unseeded (seed_everything: false): trained again it is another "
            "run,\n# with other random numbers, and its score will differ") in header
    assert "A trial builds the model, then the data" not in header  # no order to keep
    assert "paused and resumed" not in header
    assert f"# Train it again: OMP_NUM_THREADS=1 lightning-nas fit {run}" in header
    assert header.splitlines()[-1] == "# lightning-nas fit: monitor=val_acc mode=max"
    best = TrialResult(trial_id=3, arch={}, status=TrialStatus.COMPLETED, score=0.9, epoch=2)
    header = config_header(tmp_path, best, "val_acc", "max", fits=[1, 1], resumed="replayed",
                           seeded=False)  # its checkpoint's random state replays no fit
    assert "same" not in header and "unseeded" in header and "paused" not in header


def test_a_promoted_trial_is_named_as_such_whatever_logger_the_search_has(tmp_path):
    # was: decided by trials/trial_N/logs_resumed_*, which only the default logger writes:
    # with a logger of the search's own, best_config.yaml of a promoted trial said nothing
    run = tmp_path / "run"
    search = {**CONFIG["search"], "budget": 6, "threads_per_trial": 1, "verbose": False,
              "space": {**CONFIG["search"]["space"], "lr": {"float": [0.001, 0.3], "log": True}},
              "run_dir": str(run)}
    search_from_config({**CONFIG, "search": search, "trainer": {
        **CONFIG["trainer"], "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger"}}
                        }).run()
    # the logger's own record of the promotions: a version per resumed fit
    promoted = {int(p.name[6:10]) for p in (run / "logs" / "trials").glob("trial_*_resumed_*")}
    with RunStore(run / "search.db") as store:
        done = [t.trial_id for t in store.trials(TrialStatus.COMPLETED)]
    assert promoted and promoted < set(done)
    for trial in done:
        export_best(run, trial_id=trial)
        header = (run / "best_config.yaml").read_text().split("\nmodel:")[0]
        assert ("# It was paused and resumed from its checkpoint, which kept its random "
                "state" in header) == (trial in promoted), header
    _forget_fits(run)  # as an older version left it: its logs
    plain = min(set(done) - promoted)
    (run / "trials" / f"trial_{plain:04d}" / "logs_resumed_1").mkdir(parents=True)
    export_best(run, trial_id=plain)
    assert "It was paused and resumed" in (run / "best_config.yaml").read_text()


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


@pytest.mark.slow
def test_a_finetune_trains_with_the_threads_of_the_trial_unless_given_its_own(
        tmp_path, tiny_space, tiny_trainer, capsys):
    # was: the caller's threads (a tester's --from_scratch scored 0.7527 against the trial's
    # 0.7431, which OMP_NUM_THREADS=1 reproduced); now the count the trial ran with
    from lightning_nas.cli import main

    run = tmp_path / "run"
    Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1, run_dir=run,
           threads_per_trial=2, verbose=False).run()
    record = {"callbacks": [{"class_path": "tests.helpers.RankRecorder"}]}

    def threads_of(result: TrialResult) -> list[int]:  # each rank's, as it trained
        return [json.loads(p.read_text())["threads"]
                for p in sorted(Path(result.checkpoint).parent.glob("rank*.json"))]

    assert torch.get_num_threads() == 1  # the tests' (conftest)
    tuned = finetune(run, from_checkpoint=False, trainer=record)
    assert threads_of(tuned) == [2] and torch.get_num_threads() == 1  # restored
    with RunStore(run / "search.db") as store:  # from scratch, as the trial trained
        assert tuned.curve == store.get(1).curve
    with pytest.raises(ConfigError, match="threads must be a whole number >= 1 .* got 0"):
        finetune(run, threads=0)
    assert [p.name for p in run.glob("finetune*")] == ["finetune"]  # no folder made
    assert threads_of(finetune(run, from_checkpoint=False, trainer=record, threads=1)) == [1]
    ddp = {**record, "devices": 2, "strategy": "ddp"}  # per rank process, as in a search
    assert threads_of(finetune(run, max_epochs=1, trainer=ddp, from_checkpoint=False)) == [2, 2]
    # from the checkpoint nothing is replayed: the process's own threads (a reviewer's 8
    # workers on 64 cores fine-tuned with 8)
    assert threads_of(finetune(run, max_epochs=1, trainer=record)) == [1]
    assert main(["finetune", str(run), "--from_scratch", "--max_epochs=1"]) == 0
    assert "for 1 epoch with 2 torch threads (as trial 1 trained): best" in capsys.readouterr().out
    assert main(["finetune", str(run), "--max_epochs=1"]) == 0
    assert "for 1 epoch with 1 torch thread (as this process runs): best" in capsys.readouterr().out
    assert main(["finetune", str(run), "--max_epochs=1", "--threads=1"]) == 0
    assert "with 1 torch thread (as --threads gives): best" in capsys.readouterr().out


def test_an_output_folder_that_is_not_empty_is_refused_and_nothing_is_deleted(
        finished_run, tmp_path):
    # was: wiped before training; --out RUN_DIR deleted the whole search (search.db, trials)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "important.txt").write_text("keep")
    for out in (precious, finished_run, precious / "important.txt"):
        with pytest.raises(ConfigError, match=rf"the output folder {out} is (a folder that is "
                                              rf"not empty|a file); give a new or empty "
                                              rf"folder \(nothing is deleted\)"):
            finetune(finished_run, max_epochs=1, out_dir=out)
    assert (precious / "important.txt").read_text() == "keep"
    assert (finished_run / "search.db").exists() and (finished_run / "trials").is_dir()
    (tmp_path / "empty").mkdir()  # an empty folder is taken
    assert finetune(finished_run, max_epochs=1, out_dir=tmp_path / "empty").checkpoint


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


def test_finetune_trains_the_setup_the_best_trial_had(tmp_path):
    # was: the searched trainer.* values and a scheduler's max_epochs were left out, so the
    # fine-tune trained the Trainer's max_epochs (3) where the trial had trained 1 or 2
    run = tmp_path / "run"
    Search(TinyNet, {"width": {"choice": [4, 8]}, "trainer.max_epochs": {"choice": [1, 2]}},
           data=BlobData, trainer={"max_epochs": 3, "limit_train_batches": 2}, budget=4,
           run_dir=run, verbose=False).run()
    best = load_best(run)
    tuned = finetune(run, from_checkpoint=False)
    assert tuned.epochs == best["arch"]["trainer.max_epochs"] == len(tuned.curve)
    asha = tmp_path / "asha"
    Search(TinyNet, {"width": {"choice": [4, 8, 16]}}, data=BlobData, scheduler="asha",
           max_epochs=2, trainer={"max_epochs": 3, "limit_train_batches": 2}, budget=3,
           run_dir=asha, verbose=False).run()
    assert finetune(asha, from_checkpoint=False).epochs == 2  # the scheduler's, as the trials


def test_finetune_takes_the_current_best_not_a_stale_best_yaml(finished_run):
    # was: a resume stopped before its export (Ctrl-C, max_failures) left the earlier
    # best.yaml, and finetune trained that earlier winner, while `show` named another
    with RunStore(finished_run / "search.db") as store:
        current = store.best("max").trial_id
        other = next(t.trial_id for t in store.trials(TrialStatus.COMPLETED)
                     if t.trial_id != current)
    stale = load_best(finished_run)
    (finished_run / "best.yaml").write_text(yaml.safe_dump({**stale, "trial": other}))
    assert finetune(finished_run, max_epochs=1, out_dir=finished_run / "ft").trial_id == current
    assert load_best(finished_run)["trial"] == current  # exported again
    export_best(finished_run, trial_id=other)  # a trial chosen with export --trial is taken
    assert finetune(finished_run, max_epochs=1, out_dir=finished_run / "ft2").trial_id == other


def _same_weights(exported: Path, trials: str) -> bool:
    """Whether the exported ``best.ckpt`` holds the weights of the trial's checkpoint (a copy
    without lightning_nas's callback states, not of its bytes)."""
    a, b = (torch.load(p, weights_only=False)["state_dict"] for p in (exported, trials))
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_an_export_that_fails_on_the_way_leaves_the_earlier_pair_as_it_was(finished_run):
    # was: best.ckpt was replaced before best.yaml was written: an export stopped between
    # the two left another trial's weights under best.yaml, and finetune started from them
    with RunStore(finished_run / "search.db") as store:
        current = store.best("max")
        other = next(t for t in store.trials(TrialStatus.COMPLETED)
                     if t.trial_id != current.trial_id and t.checkpoint)
    before = {name: (finished_run / name).read_bytes()
              for name in ("best.yaml", "best.ckpt")}
    assert _same_weights(finished_run / "best.ckpt", current.checkpoint)
    from lightning_nas.export_files import staging_path

    blocked = staging_path(finished_run / "best.yaml")  # where this thread stages it
    blocked.mkdir()  # best.yaml cannot be written: a real OSError
    with pytest.raises(IsADirectoryError):
        export_best(finished_run, trial_id=other.trial_id)
    assert {name: (finished_run / name).read_bytes() for name in before} == before
    assert not staging_path(finished_run / "best.ckpt").exists()  # no copy on a full disk
    blocked.rmdir()
    assert export_best(finished_run, trial_id=other.trial_id)["trial"] == other.trial_id
    assert _same_weights(finished_run / "best.ckpt", other.checkpoint)
    assert sorted(p.name for p in finished_run.glob("*.tmp")) == []


def test_exports_at_once_wait_for_each_other_and_one_during_a_search_is_refused(
        finished_run):
    # was: every export staged its files under one name (best.ckpt.tmp) and none held the
    # folder: two at once (`export --trial N` per Pareto point, threads) left best.yaml
    # over the other trial's best.ckpt, or no best.yaml with both "done", and the other
    # failed "No such file or directory: 'best.ckpt.tmp' -> 'best.ckpt'"
    import threading

    with RunStore(finished_run / "search.db") as store:
        a, b = [t.trial_id for t in store.trials(TrialStatus.COMPLETED)][:2]
    leftover = finished_run / "best.ckpt.4242-1.tmp"  # a copy of an export killed on the way
    leftover.write_bytes(b"x" * 1000)

    def export(trial: int, barrier: threading.Barrier, errors: list) -> None:
        barrier.wait()  # both at once
        try:
            export_best(finished_run, trial_id=trial)
        except Exception as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    for _ in range(8):
        barrier, errors = threading.Barrier(2), []
        threads = [threading.Thread(target=export, args=(t, barrier, errors)) for t in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []  # the second waited for the first
        best = load_best(finished_run)
        held = torch.load(finished_run / "best.ckpt", weights_only=False)["hyper_parameters"]
        assert best["trial"] in (a, b) and {k: held[k] for k in best["arch"]} == best["arch"]
    assert list(finished_run.glob("*.tmp")) == []  # the killed export's copy removed too
    # a search holds the folder (the fixture's own export at its end ran within its hold):
    # an export meanwhile is refused, naming it, and writes nothing
    holder = _hold_elsewhere(finished_run)
    try:
        before = {p: p.stat().st_mtime_ns for p in finished_run.iterdir()}
        with pytest.raises(SearchError, match=rf"{finished_run} is being searched by another "
                                              rf"process \(pid {holder.pid} on .*\): wait for "
                                              rf"it to end, or stop it; then export again \(a "
                                              rf"search exports its best trial itself"):
            export_best(finished_run, trial_id=a)
        assert {p: p.stat().st_mtime_ns for p in finished_run.iterdir()} == before
    finally:
        holder.kill()
        holder.wait()
    assert export_best(finished_run, trial_id=a)["trial"] == a  # once the search is gone


@pytest.mark.parametrize("text, why", [("trial: [\n", "not YAML: ParserError"),
                                       ("hello\n", "it holds 'hello', not a mapping"),
                                       ("arch: {width: 8}\n", "no trial number")])
def test_a_damaged_best_yaml_is_said_naming_it_and_the_export_that_writes_it_again(
        finished_run, capsys, text, why):
    # was: yaml's ParserError traceback (exit 1), or "AttributeError: 'str' object has no
    # attribute 'get'", from `lightning-nas finetune` of a run whose best.yaml was edited
    from lightning_nas.cli import main
    from lightning_nas.errors import StoreError

    (finished_run / "best.yaml").write_text(text)
    folders = sorted(finished_run.iterdir())
    with pytest.raises(StoreError) as err:
        load_best(finished_run)
    said = str(err.value)
    assert said.startswith(f"{finished_run / 'best.yaml'} is not a best.yaml an export wrote "
                           f"({why}")
    assert said.endswith(f"write it again with `lightning-nas export {finished_run}` (or "
                         f"`--trial N` for a trial of your choice)")
    assert main(["finetune", str(finished_run), "--max_epochs=1"]) == 2
    assert capsys.readouterr().err.startswith(f"lightning-nas finetune: error: {said[:60]}")
    assert sorted(finished_run.iterdir()) == folders  # nothing trained, no folder made
    assert main(["export", str(finished_run)]) == 0  # as it says
    assert load_best(finished_run)["trial"] in (1, 2, 3)


def test_a_finetune_refused_while_a_search_holds_the_folder_says_to_fine_tune_again(
        finished_run):
    # was: "...; then export again (a search exports its best trial itself when it ends)",
    # the export's advice, to a user who asked for a fine-tune (its best.yaml not written yet)
    (finished_run / "best.yaml").unlink()  # a search still running has exported nothing
    holder = _hold_elsewhere(finished_run)
    try:
        with pytest.raises(SearchError) as err:
            finetune(finished_run, max_epochs=1)
    finally:
        holder.kill()
        holder.wait()
    said = str(err.value)
    assert said.startswith(f"{finished_run} is being searched by another process (pid "
                           f"{holder.pid} on ")
    assert said.endswith("wait for it to end, or stop it; then fine-tune again (a search "
                         "exports its best trial itself when it ends: best.yaml, which a "
                         "fine-tune trains)")
    assert not (finished_run / "finetune").exists()


def test_an_export_after_trials_were_removed_keeps_the_winners_best_ckpt(finished_run):
    # was: with trials/ gone (disk freed; a folder copied with search.db and best.* only),
    # a re-export (a no-op resume, `lightning-nas export`) removed best.ckpt of the very
    # trial it exported, and finetune said its checkpoint "was not kept"

    weights = (finished_run / "best.ckpt").read_bytes()
    trial = load_best(finished_run)["trial"]
    shutil.rmtree(finished_run / "trials")
    out = export_best(finished_run)
    assert (out["trial"], out["checkpoint"]) == (trial, "best.ckpt")
    assert (finished_run / "best.ckpt").read_bytes() == weights
    assert load_best(finished_run)["checkpoint"] == "best.ckpt"
    assert finetune(finished_run, max_epochs=1).status is TrialStatus.COMPLETED
    with RunStore(finished_run / "search.db") as store:
        other = next(t.trial_id for t in store.trials(TrialStatus.COMPLETED)
                     if t.trial_id != trial)
    # was: `export --trial N` of another trial removed that best.ckpt, the only copy of the
    # winner's weights, and a later plain export could not bring them back: refused
    with pytest.raises(ConfigError, match=rf"holds the weights of trial {trial}, the run's "
                                          rf"best, and is their only copy .* an export of "
                                          rf"trial {other} would remove it; move it out"):
        export_best(finished_run, trial_id=other)
    assert (finished_run / "best.ckpt").read_bytes() == weights
    assert load_best(finished_run)["trial"] == trial
    assert list(finished_run.glob("*.tmp")) == []
    kept = finished_run.parent / "winner.ckpt"
    (finished_run / "best.ckpt").rename(kept)  # moved away as the error says: exported
    assert export_best(finished_run, trial_id=other)["checkpoint"] is None
    assert not (finished_run / "best.ckpt").exists() and kept.read_bytes() == weights


def test_a_finetune_of_a_run_with_no_completed_trial_says_fine_tune(tmp_path, tiny_space,
                                                                    tiny_trainer):
    # was: "has no completed trial to export", the wording of export
    run = tmp_path / "run"
    with pytest.raises(SearchError):  # its one trial failed
        Search(TinyNet, tiny_space, data=BlobData, budget=1, max_failures=0, run_dir=run,
               trainer={**tiny_trainer, "callbacks": [CrashAt(0)]}, verbose=False).run()
    with pytest.raises(SearchError, match=rf"^{run} has no completed trial to fine-tune; "
                                          rf"`lightning-nas show {run}` lists its trials$"):
        finetune(run, max_epochs=1)
    assert not (run / "finetune").exists() and not (run / "best.yaml").exists()


def test_an_export_of_another_trial_never_replaces_the_only_copy_of_the_winners_weights(
        finished_run):
    # was: with the winner's trial folder gone, `export --trial N` of a trial that kept its
    # checkpoint replaced best.ckpt, and no export brought the winner's weights back

    with RunStore(finished_run / "search.db") as store:
        winner = store.best("max")
        other = next(t for t in store.trials(TrialStatus.COMPLETED)
                     if t.trial_id != winner.trial_id and t.checkpoint)
    weights = (finished_run / "best.ckpt").read_bytes()
    shutil.rmtree(Path(winner.checkpoint).parent)
    with pytest.raises(ConfigError, match=rf"an export of trial {other.trial_id} would "
                                          rf"replace it; move it out of the run folder"):
        export_best(finished_run, trial_id=other.trial_id)
    assert (finished_run / "best.ckpt").read_bytes() == weights
    assert export_best(finished_run)["checkpoint"] == "best.ckpt"  # the winner's, still


def test_a_trial_that_cannot_be_exported_is_named_with_the_ones_that_can(tmp_path):
    # was: "has no trial 99; trials: 1 to 11" and "trial 2 is REJECTED; only COMPLETED
    # trials can be exported", neither naming a trial that can be exported
    Search(None, {"k": {"int": [0, 40]}}, objective=lambda arch: {"val_acc": arch["k"] / 40},
           budget=8, optimizer="RandomSearch", constraints=[lambda arch: arch["k"] > 25],
           seed=0, run_dir=tmp_path, verbose=False).run()
    with RunStore(tmp_path / "search.db") as store:
        done = [t.trial_id for t in store.trials(TrialStatus.COMPLETED)]
        rejected = [t.trial_id for t in store.trials(TrialStatus.REJECTED)]
        total = len(store)
    assert rejected, "the seed gives no rejected trial: pick another"
    with pytest.raises(ConfigError) as err:
        export_best(tmp_path, trial_id=rejected[0])
    assert f"trial {rejected[0]} is REJECTED: it broke a constraint of the search and was " \
           f"never trained; only COMPLETED trials can be exported; COMPLETED trials: " \
           in str(err.value)
    listed = str(err.value).rsplit(": ", 1)[1]
    assert sorted(int(i) for part in listed.split(", ") for i in range(
        int(part.split("-")[0]), int(part.split("-")[-1]) + 1)) == sorted(done)
    with pytest.raises(ConfigError, match=rf"has no trial 99 \(trials 1 to {total}\); "
                                          rf"COMPLETED trials: "):
        export_best(tmp_path, trial_id=99)


@pytest.mark.parametrize("scheduler, status, why", [
    ({"scheduler": "asha", "eta": 2}, TrialStatus.PAUSED,
     "the scheduler paused it after {epochs}, at a rung: a resume of the search may promote it "
     "and train it to its end"),
    ({"scheduler": "median"}, TrialStatus.PRUNED,
     "the scheduler stopped it for good after {epochs}, before its end"),
])
def test_export_of_a_paused_or_pruned_trial_says_why_it_is_not_exported(tmp_path, capsys,
                                                                         scheduler, status, why):
    # was: "trial 3 is PAUSED; only COMPLETED trials can be exported", saying neither that it
    # trained only part of its epochs nor that a resume may still finish a paused one
    from lightning_nas.cli import main
    from lightning_nas.wording import counted

    space = {"lr": {"float": [1e-6, 0.3], "log": True}, "width": {"choice": [8, 16]}}
    trials = Search(TinyNet, space, data=BlobData, trainer={"max_epochs": 4}, budget=6,
                    **scheduler, min_epochs=1, optimizer="RandomSearch", seed=1,
                    run_dir=tmp_path, verbose=False).run().trials
    stopped = next(t for t in trials if t.status is status)
    done = sorted(t.trial_id for t in trials if t.status is TrialStatus.COMPLETED)
    assert main(["export", str(tmp_path), "--trial", str(stopped.trial_id)]) == 2
    said = why.format(epochs=counted(stopped.epochs, "epoch"))
    assert capsys.readouterr().err.startswith(
        f"lightning-nas export: error: trial {stopped.trial_id} is {status.value}: {said}; "
        f"only COMPLETED trials can be exported; COMPLETED trials: {done[0]}")
    assert not (tmp_path / "best.yaml").exists() or load_best(tmp_path)["trial"] in done


def test_export_trial_of_a_run_with_no_trial_yet_says_so(tmp_path, capsys):
    # was: "has no trial 1 (trials 1 to 0)" of a search killed before its first trial
    from lightning_nas.cli import main

    with RunStore(tmp_path / "search.db") as store:  # all such a search left
        store.set_meta("monitor", "val_acc")
        store.set_meta("mode", "max")
    assert main(["export", str(tmp_path), "--trial", "1"]) == 2
    assert capsys.readouterr().err == (f"lightning-nas export: error: {tmp_path} has no trial "
                                       f"1 (no trial yet); COMPLETED trials: none\n")
    with RunStore(tmp_path / "search.db") as store:
        store.start_trial({"k": 3})
    with pytest.raises(ConfigError, match=r"has no trial 2 \(trial 1 only\); COMPLETED trials: "
                                          r"none$"):
        export_best(tmp_path, trial_id=2)
    assert not (tmp_path / "best.yaml").exists()


def test_an_objective_search_exports_no_model_and_is_not_finetuned(tmp_path, capsys):
    # was: best.yaml named the placeholder lightning_nas.search.facade._NoModel as its
    # model; finetune said the checkpoint "was not kept" and, with from_checkpoint=False,
    # trained the placeholder (no training_step) into a finetune folder
    from lightning_nas.cli import main

    Search(None, {"x": {"int": [0, 6]}}, objective=lambda arch: {"val_loss": arch["x"]},
           budget=3, monitor="val_loss", mode="min", run_dir=tmp_path, verbose=False).run()
    best = load_best(tmp_path)
    assert best["model"] is None and "objective function" in best["objective"]
    assert best["checkpoint"] is None and not (tmp_path / "best_config.yaml").exists()
    folders = sorted(tmp_path.iterdir())
    for from_checkpoint in (True, False):
        with pytest.raises(ConfigError, match="searched an objective function .*not a model: "
                                              "it has no model to build"):
            finetune(tmp_path, max_epochs=1, from_checkpoint=from_checkpoint)
    assert sorted(tmp_path.iterdir()) == folders  # no folder, nothing built
    assert main(["show", str(tmp_path)]) == 0 and "COMPLETED" in capsys.readouterr().out
    assert main(["export", str(tmp_path)]) == 0 and "model: null" in capsys.readouterr().out


def test_best_yaml_names_the_object_arguments_the_store_keeps(tmp_path, tiny_trainer):
    # was: the model section left the object arguments out (the store keeps them under
    # "objects"): nothing said the winner needs a builder; a module instance has no path
    from torch import nn

    from lightning_nas.module import NASModule
    from tests.helpers_nets import build_mlp

    Search(NASModule, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=tiny_trainer,
           model_init_args={"builder": build_mlp, "num_classes": 3,
                            "loss": nn.CrossEntropyLoss()},
           budget=1, run_dir=tmp_path, verbose=False).run()
    best = load_best(tmp_path)
    assert best["model_objects"] == {"builder": "tests.helpers.build_mlp", "loss": None}
    model = best["model"]  # a node the config loader takes, as before
    assert set(model) == {"class_path", "init_args"} and model["init_args"]["width"] in (4, 8)


@pytest.mark.parametrize("how", ["class", "config"])
def test_a_finetune_argument_that_changes_the_weights_shapes_is_refused_before_training(
        tmp_path, tiny_space, tiny_trainer, how):
    # was: a fine-tune from best.ckpt whose model_init_args change a layer's width failed in
    # the Trainer's build with torch's "RuntimeError: Error(s) in loading state_dict for
    # TinyNet: size mismatch for net.0.weight ...", not naming the argument or the way out
    run = tmp_path / "run"
    if how == "class":
        Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1, run_dir=run,
               seed=0, verbose=False).run()
    else:
        search_from_config({**CONFIG, "trainer": {"max_epochs": 1, "accelerator": "cpu"},
                            "search": {**{k: v for k, v in CONFIG["search"].items()
                                          if k not in ("scheduler", "max_epochs", "eta")},
                                       "run_dir": str(run), "budget": 1}}).run()
    best = load_best(run)
    key = "width" if how == "class" else "model.width"
    was, lr = best["arch"][key], best["arch"]["lr"]
    width = 64 if was != 64 else 32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "model_init_args width=... replaces" (said above)
        with pytest.raises(ConfigError) as err:
            finetune(run, max_epochs=1, model_init_args={"width": width, "lr": 0.01})
    assert str(err.value) == (
        f"model_init_args width={width}, lr=0.01 give weights of other shapes than trial "
        f"{best['trial']}'s best.ckpt (net.0.weight: {was}x8 there, {width}x8 here; the "
        f"trial searched {key}={was}, lr={lr!r}), so its weights cannot start it: fine-tune "
        f"from fresh weights (lightning-nas finetune {run} --from_scratch; from Python, "
        f"from_checkpoint=False), or give only arguments that keep the shapes; found before "
        f"any training (no folder was made)")
    assert not (run / "finetune").exists()
    tuned = finetune(run, max_epochs=1, model_init_args={"lr": 0.01})  # same shapes: trains
    assert tuned.status is TrialStatus.COMPLETED, tuned.error


def test_a_finetune_argument_that_adds_layers_is_refused_before_training(tmp_path, capsys):
    # was: check_weights_fit compared the shapes of the parameters both held, so a
    # `--model.num_layers=4` on a digits trial of 2 or 3 blocks (layers added, none of another
    # shape) passed it, and the fine-tune failed in its build with torch's "Error(s) in
    # loading state_dict for DigitsCNN: Missing key(s) in state_dict: ..."
    from examples.digits.data import DigitsDataModule
    from examples.digits.model import DigitsCNN
    from lightning_nas.cli import main

    run = tmp_path / "run"
    Search(DigitsCNN, {"num_layers": {"choice": [2, 3]}}, data=DigitsDataModule,
           trainer={"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                    "limit_train_batches": 2, "limit_val_batches": 1},
           budget=1, run_dir=run, seed=0, verbose=False).run()
    best = load_best(run)
    was = best["arch"]["num_layers"]
    saved, built = DigitsCNN(num_layers=was).state_dict(), DigitsCNN(num_layers=4).state_dict()
    added = next(name for name in built if name not in saved)  # the first block's conv added
    shape = "x".join(map(str, built[added].shape))
    said = (f"model_init_args num_layers=4 give other weights than trial {best['trial']}'s "
            f"best.ckpt ({added}: none there, {shape} here; the trial searched "
            f"num_layers={was}), so its weights cannot start it: fine-tune from fresh weights "
            f"(lightning-nas finetune {run} --from_scratch; from Python, "
            f"from_checkpoint=False), or give only arguments that keep the shapes; found "
            f"before any training (no folder was made)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "model_init_args num_layers=4 replaces" (said)
        with pytest.raises(ConfigError) as err:
            finetune(run, max_epochs=1, model_init_args={"num_layers": 4})
    assert str(err.value) == said
    assert main(["finetune", str(run), "--model.num_layers=4", "--max_epochs=1"]) == 2
    err = capsys.readouterr().err  # (the warning of the replaced value is a line of its own)
    refused = [line for line in err.splitlines()
               if not line.startswith("lightning-nas finetune: warning: ")]
    assert len(refused) == 1 and "Traceback" not in err and "none there" in refused[0], err
    assert not (run / "finetune").exists()


def test_a_finetune_of_a_lazy_model_from_its_best_ckpt(tmp_path, tiny_trainer):
    # was: check_weights_fit read the shape of the meta-built model's LazyLinear weight,
    # uninitialised there, and the fine-tune raised torch's "Can't access the shape of an
    # uninitialized parameter or buffer" (load_state_dict itself materialises it)
    run = tmp_path / "run"
    Search(LazyNoisyNet, {"width": {"choice": [4, 8]}}, data=BlobData,
           trainer={**tiny_trainer, "max_epochs": 1}, budget=1, run_dir=run, seed=0,
           verbose=False).run()
    best = load_best(run)
    tuned = finetune(run, max_epochs=1)
    assert tuned.status is TrialStatus.COMPLETED, tuned.error
    was = best["arch"]["width"]
    width = 16  # another width: the first layer's shape is unknown here, the next one's not
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConfigError, match=re.escape(
                f"(net.2.weight: 3x{was} there, 3x{width} here; the trial searched "
                f"width={was})")):
            finetune(run, max_epochs=1, model_init_args={"width": width})


class SetupBuiltNet(TinyNet):
    """TinyNet whose layers are made in ``setup`` (not in ``configure_model``), as some
    projects do: a model built and not yet fitted holds no weights."""

    def __init__(self, width: int = 16, lr: float = 0.05) -> None:
        super().__init__(width=width, lr=lr)
        del self.net

    def setup(self, stage: str) -> None:
        if not hasattr(self, "net"):
            self.net = torch.nn.Sequential(torch.nn.Linear(8, self.hparams.width),
                                           torch.nn.ReLU(), torch.nn.Linear(self.hparams.width, 3))


def test_a_finetune_of_a_model_that_makes_its_layers_in_setup_says_why(tmp_path, tiny_trainer):
    # was: "the model given to the fine-tune has other weights than trial 1's best.ckpt
    # (net.0.weight: 8x8 there, none here)" alone, which read as another architecture:
    # neither the fine-tune nor Lightning's load_from_checkpoint can load weights into
    # layers that setup() makes later
    run = tmp_path / "run"
    Search(SetupBuiltNet, {"width": {"choice": [8, 16]}}, data=BlobData,
           trainer={**tiny_trainer, "max_epochs": 1}, budget=1, run_dir=run, seed=0,
           verbose=False).run()
    with pytest.raises(ConfigError, match=re.escape(
            "SetupBuiltNet makes its layers in setup(), so a model built to load the "
            "checkpoint holds none of them (as with Lightning's load_from_checkpoint): make "
            "them in configure_model() instead, which a fine-tune calls before it loads")):
        finetune(run, max_epochs=1)
    assert finetune(run, max_epochs=1, from_checkpoint=False).status is TrialStatus.COMPLETED

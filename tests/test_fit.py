"""Tests of ``lightning_nas.fit``: the spec ``lightning-nas fit`` trains, and its default
monitor and mode (the ones the search scored with)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.fit import fit_config, load_fit

BASE = {"model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData"},
        "trainer": {"max_epochs": 1, "accelerator": "cpu"}}


def _write(path, cfg, comment=""):
    path.write_text(comment + yaml.safe_dump(cfg, sort_keys=False))
    return path


def test_the_recorded_monitor_holds_with_a_config_file_after_best_config(tmp_path):
    # was: only the last file's `# lightning-nas fit:` comment was read, so a file given
    # after best_config.yaml scored val_acc (max) where the search scored val_loss (min)
    best = _write(tmp_path / "best_config.yaml", BASE,
                  "# lightning-nas fit: monitor=val_loss mode=min\n")
    extra = _write(tmp_path / "extra.yaml", {"trainer": {"enable_progress_bar": False}})
    spec = load_fit([best, extra], out_dir=tmp_path / "out")
    assert (spec.monitor, spec.mode) == ("val_loss", "min")


def test_a_search_config_with_objectives_is_scored_by_its_first_objective(tmp_path):
    # was: val_acc (max), the default, where the search's monitor was its first objective
    cfg = {**BASE, "search": {"space": {"width": {"choice": [4, 8]}},
                              "objectives": {"val_loss": "min", "params": "min"}}}
    spec = load_fit(_write(tmp_path / "search.yaml", cfg), out_dir=tmp_path / "out")
    assert (spec.monitor, spec.mode) == ("val_loss", "min")
    spec = load_fit(tmp_path / "search.yaml", monitor="val_acc", out_dir=tmp_path / "other")
    assert (spec.monitor, spec.mode) == ("val_acc", "max")


def test_a_trainer_that_cannot_be_built_is_one_line_before_any_folder(
        tmp_path, monkeypatch, capsys):
    # was: "training failed: MisconfigurationException" with a traceback, exit code 1, and
    # an empty output folder left behind (the search refuses the same setting up front)
    config = _write(tmp_path / "best_config.yaml", BASE)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert main(["fit", str(config), "--trainer.gradient_clip_algorithm=nrm",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("lightning-nas fit: error: trainer.gradient_clip_algorithm='nrm': "
                          "MisconfigurationException: `gradient_clip_algorithm` nrm is "
                          "invalid. Allowed algorithms: ['value', 'norm']")
    assert "found building the Trainer of the fit before any training" in err
    assert main(["fit", str(config), "--trainer.gradient_clip_algorithm=nrm"]) == 2
    assert not out.exists() and not (tmp_path / "runs").exists()  # nor the default folder
    with pytest.raises(ConfigError, match=r"trainer.gradient_clip_algorithm='nrm'"):
        fit_config(config, ["--trainer.gradient_clip_algorithm=nrm"], out_dir=out)
    assert not out.exists()


@pytest.mark.parametrize("data, message", [
    (BASE["data"], "model.width=-3: RuntimeError: Trying to create tensor with negative "
                   "dimension -3"),
    ({"_target_": "tests.helpers.BlobData", "_partial_": True},
     "data: TypeError: data builder ConfigBuilder('tests.helpers.BlobData') returned partial"),
])
def test_a_model_or_data_that_cannot_be_built_is_one_line_before_any_folder(
        tmp_path, capsys, data, message):
    # was: a traceback out of the fit (or "training failed"), its output folder left behind
    out = tmp_path / "out"
    config = _write(tmp_path / "c.yaml", {**BASE, "data": data})
    width = ["--model.width=-3"] if data is BASE["data"] else []
    assert main(["fit", str(config), *width, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lightning-nas fit: error: {message}"), err
    assert err.count("\n") == 1 and "before any training (no folder was made)" in err
    assert not out.exists()


_NO_OPTIM = (r"model NoOptimNet has no configure_optimizers of its own \(LightningModule's "
             r"default\), and no optimizer section gives it one, so the fit would fail ")


def test_a_model_without_configure_optimizers_is_refused_before_any_folder(tmp_path, capsys):
    # the search's check (cli_optim.check_optimizer_given), before the model is built; was:
    # the model, data and Trainer built, the folder made, then Lightning's fit refused it
    # ("MisconfigurationException: No `configure_optimizers()` method defined. ...")
    out = tmp_path / "out"
    config = _write(tmp_path / "c.yaml", {**BASE, "model": "tests.helpers_no_optim.NoOptimNet"})
    assert main(["fit", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert re.match(f"lightning-nas fit: error: {_NO_OPTIM}", err), err
    assert "define NoOptimNet.configure_optimizers, or add a top-level `optimizer:` " in err
    assert err.count("\n") == 1 and not out.exists()
    with pytest.raises(ConfigError, match=_NO_OPTIM):
        fit_config(config, out_dir=out)
    assert not out.exists()


@pytest.mark.parametrize("model, extra", [
    ("NoOptimNet", {"optimizer": {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.1}}}),
    ("MixedNet", {}),  # a mixin's
    ("ParentNet", {}),  # a parent's
])
def test_a_model_whose_optimizer_comes_from_elsewhere_is_fit(tmp_path, model, extra):
    config = _write(tmp_path / "c.yaml", {**BASE, "model": f"tests.helpers_no_optim.{model}",
                                          **extra})
    assert fit_config(config, out_dir=tmp_path / "out").error is None


@pytest.mark.parametrize(("section", "path", "message"), [
    ("model", "tests.helpers_models.NoValStepNet", "NoValStepNet has no validation_step, so "
     "Lightning skips validation in the fit and none could log monitor 'val_acc': define "
     "validation_step on the model, logging 'val_acc'"),
    ("data", "tests.helpers_data.NoValLoaderData", "the data, NoValLoaderData, has no "
     "val_dataloader(), so Lightning skips validation in the fit and none could log monitor "
     "'val_acc': define val_dataloader() on it"),
])
def test_a_fit_that_would_never_validate_is_one_line_before_any_folder(
        tmp_path, capsys, section, path, message):
    # was: it trained every epoch, then "no validation ran in the 1 epoch (3 steps) it
    # trained, so 'val_acc' was never logged (check limit_val_batches, ...)"
    out = tmp_path / "out"
    config = _write(tmp_path / "c.yaml", {**BASE, section: {"class_path": path}})
    assert main(["fit", str(config), "--monitor", "val_acc", "--mode", "max",
                 "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"lightning-nas fit: error: {message}\n"
    assert not out.exists()


@pytest.mark.parametrize(("section", "path"), [
    ("model", "tests.helpers_models.InitValStepNet"),  # validation_step set in __init__
    ("data", "tests.helpers_data.InitValLoaderData"),  # val_dataloader set in __init__
])
def test_a_fit_whose_hook_is_set_in_init_is_fit(tmp_path, section, path):
    # was: refused before any folder, "the data, InitValLoaderData, has no
    # val_dataloader()" (its class judged), though Lightning validates with the instance's
    config = _write(tmp_path / "c.yaml", {**BASE, section: {"class_path": path}})
    result = fit_config(config, out_dir=tmp_path / "out", monitor="val_acc", mode="max")
    assert result.error is None and result.score is not None


def test_the_trainer_check_of_a_ddp_fit_launches_nothing(tmp_path):
    # the Trainer is built to check it, as a search's dry build does: no rank processes, no
    # process group, the rank and the global flags as they were, nothing written
    import os

    import torch
    import torch.distributed as dist
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    ddp = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "deterministic": True}
    config = _write(tmp_path / "ddp.yaml", {**BASE, "trainer": {**BASE["trainer"], **ddp}})
    before = (dict(os.environ), rank_zero_only.rank, torch.are_deterministic_algorithms_enabled())
    spec = load_fit(config, out_dir=tmp_path / "out")
    after = (dict(os.environ), rank_zero_only.rank, torch.are_deterministic_algorithms_enabled())
    assert spec.trainer["strategy"] == "ddp" and after == before
    assert not dist.is_initialized() and not (tmp_path / "out").exists()


def test_undo_of_a_refused_fit_removes_its_own_folder_only(tmp_path):
    # was (review): it removed the first folder it made (runs/ of a new project) whole, with
    # what other runs wrote there while the fit trained
    from lightning_nas.fit_resume import undo_fit

    undo = undo_fit(tmp_path / "runs" / "fit" / "a")
    (tmp_path / "runs" / "fit" / "a" / "logs").mkdir(parents=True)
    (tmp_path / "runs" / "fit" / "a" / "logs" / "metrics.csv").write_text("epoch\n")
    (tmp_path / "runs" / "digits").mkdir()
    (tmp_path / "runs" / "digits" / "search.db").write_text("another run's")
    undo()
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == [
        "runs", str(Path("runs/digits")), str(Path("runs/digits/search.db"))]


def test_sync_batchnorm_under_ddp_on_cpu_is_refused_before_any_folder(tmp_path, capsys):
    # was: the ranks started, then torch's "SyncBatchNorm layers only work with GPU
    # modules" traceback in DDP's setup
    trainer = {**BASE.get("trainer", {}), "accelerator": "cpu", "strategy": "ddp",
               "devices": 2, "sync_batchnorm": True}
    config = _write(tmp_path / "c.yaml", {**BASE, "trainer": trainer})
    out = tmp_path / "out"
    assert main(["fit", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lightning-nas fit: error: ") and "sync_batchnorm" in err
    assert not out.exists()


#: (was: "an integer >= 0 or null", then "below 2**32": the whole range, true and false now)
_SEED_VALID = ("`seed_everything` must be an integer from 0 to 4294967295 (2**32 - 1), true "
               "(a drawn seed) or false (no seeding)")


@pytest.mark.parametrize(("seed", "message"), [
    (-3, f"{_SEED_VALID}, got -3"),
    (2**32, f"{_SEED_VALID}, got 4294967296")])
def test_a_seed_out_of_range_is_named_before_any_folder(tmp_path, capsys, seed, message):
    # was: Lightning's "ValueError: -3 is not in bounds, numpy accepts from 0 to 4294967295"
    # at the start of fit, naming no key (a search names seed_everything)
    config = _write(tmp_path / "c.yaml", {**BASE, "seed_everything": seed})
    out = tmp_path / "out"
    assert main(["fit", str(config), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"lightning-nas fit: error: {message}\n"
    assert not out.exists()


@pytest.mark.parametrize(("seed", "said"), [(False, "not seeded"), (7, "seed 7")])
def test_the_fit_line_says_a_config_that_seeds_nothing_is_not_seeded(tmp_path, seed, said):
    # was: "Trained TinyNet (seed None): ..." for seed_everything: false
    from lightning_nas.fit import describe
    from lightning_nas.results import TrialResult, TrialStatus

    spec = load_fit(_write(tmp_path / "fit.yaml", {**BASE, "seed_everything": seed}),
                    out_dir=tmp_path / "out")
    result = TrialResult(trial_id=0, arch={}, status=TrialStatus.COMPLETED, score=0.5,
                         epoch=0, epochs=1, checkpoint=str(tmp_path / "out" / "best.ckpt"))
    assert describe(spec, result).splitlines()[0] == (
        f"Trained TinyNet ({said}): val_acc=0.5000 (max) at epoch 0 (epochs 0..0 trained)")


@pytest.mark.parametrize(("score", "said"), [
    (0.1, "val_acc=0.1000"), (0.99204, "val_acc=0.9920"), (3.2e-05, "val_acc=3.2e-05")])
def test_the_fit_line_prints_the_score_as_the_search_lines_do(tmp_path, score, said):
    # was: "val_acc=0.1" (a raw float, `:.6g`) where the search's lines, show and finetune
    # print four decimals ("Best val_acc=0.9920"), four significant digits below 0.01
    from lightning_nas.fit import describe
    from lightning_nas.results import TrialResult, TrialStatus

    spec = load_fit(_write(tmp_path / "fit.yaml", {**BASE, "seed_everything": 0}),
                    out_dir=tmp_path / "out")
    result = TrialResult(trial_id=0, arch={}, status=TrialStatus.COMPLETED, score=score,
                         epoch=0, epochs=1, checkpoint=str(tmp_path / "out" / "best.ckpt"))
    assert describe(spec, result).splitlines()[0] == (
        f"Trained TinyNet (seed 0): {said} (max) at epoch 0 (epochs 0..0 trained)")


def test_metrics_text_prints_each_metric_as_a_score():
    from lightning_nas.fit import metrics_text

    assert metrics_text({"val_acc": 0.99204, "val_loss": 0.1, "lr": 3.2e-05}) == (
        "val_acc=0.9920, val_loss=0.1000, lr=3.2e-05")
    assert metrics_text({}) == "none logged"


@pytest.mark.parametrize(("epochs", "said"), [
    (2, "; nor did the one after it (epoch 1): "),
    (3, "; nor did any of the 2 after it (to epoch 2): ")])
def test_a_monitor_never_logged_counts_the_validations_after_the_first(epochs, said):
    # was: "nor did any of the 1 after it (to epoch 1)" (a fit of two epochs, --monitor typo)
    from lightning_nas.errors import MonitorError
    from lightning_nas.search.monitor_errors import check_monitor_logged

    history = [{"epoch": e, "metrics": {"val_acc": 0.5}} for e in range(epochs)]
    with pytest.raises(MonitorError) as err:
        check_monitor_logged("train_acc", history, {"val_acc"})
    assert said in str(err.value)


@pytest.mark.parametrize("how", ["cli", "python"])
def test_a_fits_best_ckpt_resumes_with_the_users_callbacks_alone(tmp_path, how):
    # was: the fit's best.ckpt (its TrialCheckpoint's file) held lightning_nas's own callback
    # states, so a user's `trainer.fit(model, ckpt_path=...)` said "callbacks used to create
    # the checkpoint need to be provided ... [TrialReporter{...}, ...]" (the search's export
    # strips them)
    import warnings

    import torch
    from lightning.pytorch import Trainer

    from tests.helpers_callbacks import CountEpochs
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    cfg = {**BASE, "seed_everything": 0,
           "trainer": {**BASE["trainer"], "max_epochs": 2, "logger": False,
                       "enable_progress_bar": False,
                       "callbacks": [{"class_path": "tests.helpers.CountEpochs"}]}}
    config, out = _write(tmp_path / "fit.yaml", cfg), tmp_path / "out"
    if how == "cli":
        assert main(["fit", str(config), "--out", str(out)]) == 0
    else:
        assert fit_config(config, out_dir=out).error is None
    checkpoint = torch.load(out / "best.ckpt", weights_only=False)
    assert list(checkpoint["callbacks"]) == ["CountEpochs"]  # the user's callback's state
    counter = CountEpochs()
    user = Trainer(max_epochs=checkpoint["epoch"] + 2, callbacks=[counter], logger=False,
                   enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False, default_root_dir=tmp_path)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        user.fit(TinyNet(), datamodule=BlobData(), ckpt_path=out / "best.ckpt")
    assert [str(w.message) for w in seen if "callbacks used to create" in str(w.message)] == []
    # its state read back (saved mid-epoch 1 at 1): the epochs it counted are the Trainer's
    assert counter.epochs == user.current_epoch == 3


def test_a_fit_of_best_config_in_other_threads_than_its_trials_says_so_or_takes_them(
        tmp_path, capsys):
    # was: fit_config(best_config.yaml) trained with the caller's torch threads, saying
    # nothing: the digits winner of a search whose trials ran with 2 threads scored val_acc
    # 0.8453 at epoch 0 from a 1-thread process against the trial's 0.8347 (the header's
    # OMP_NUM_THREADS=2 is for the command line; Python had no way to give the count)
    import json
    import re
    import warnings

    import torch

    from lightning_nas.search.from_config import search_from_config
    from lightning_nas.store import RunStore

    run = tmp_path / "run"
    search_from_config({
        "seed_everything": 5, "model": "tests.helpers.TinyNet",
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 64}},
        "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1},
        "search": {"space": {"width": {"choice": [8, 16]}}, "budget": 1, "seed": 0,
                   "threads_per_trial": 2, "run_dir": str(run)}}).run()
    config = run / "best_config.yaml"
    assert "# Train it again: OMP_NUM_THREADS=2 lightning-nas fit" in config.read_text()
    record = ["--trainer.callbacks=[{class_path: tests.helpers.RankRecorder}]"]
    said = (rf"^the trial of {config} trained with 2 torch threads, this fit with 1 \(as "
            rf"this process runs\): on CPU "
            rf"another count sums in another order, so its scores may differ from the "
            rf"trial's; give it 2: from Python fit_config\(\.\.\., threads=2\), on the "
            rf"command line OMP_NUM_THREADS=2 lightning-nas fit {config}$")
    with pytest.warns(UserWarning, match=said):
        fit_config(config, record, out_dir=tmp_path / "one")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*torch threads", category=UserWarning)
        fit = fit_config(config, record, out_dir=tmp_path / "two", threads=2)
    assert json.loads((tmp_path / "two" / "rank0.json").read_text())["threads"] == 2
    assert torch.get_num_threads() == 1  # restored (the tests' own, conftest)
    with RunStore(run / "search.db") as store:
        assert fit.curve == store.get(1).curve
    with pytest.raises(ConfigError, match=r"threads must be a whole number >= 1 \(torch "
                                          r"threads of the fit\).*got 0"):
        fit_config(config, threads=0, out_dir=tmp_path / "three")
    assert not (tmp_path / "three").exists()
    # its count's source, said as the fine-tune says it (was: "this fit with 3" alone)
    with pytest.warns(UserWarning, match=r"this fit with 3 \(as threads= gives\): on CPU"):
        fit_config(config, out_dir=tmp_path / "four", threads=3)
    capsys.readouterr()
    with warnings.catch_warnings():  # the command too, as its own line (was: a UserWarning
        warnings.simplefilter("default")  # at ".../lightning_nas/fit.py:216")
        assert main(["fit", str(config), "--out", str(tmp_path / "cli")]) == 0
    assert re.search(said.replace("^", "^lightning-nas fit: warning: "), capsys.readouterr().err,
                     re.MULTILINE)

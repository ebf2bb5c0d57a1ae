"""``lightning-nas fit`` (and ``finetune`` beside it): training ``best_config.yaml`` again to
the best trial's score, what it refuses in one line (bad input, a monitor it cannot log, a
folder that is not empty) and leaves as it found it, ``best.yaml`` and a Hydra sweep's
pointed to the line that trains them, and an interrupted fit or fine-tune named."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from lightning_nas.cli import main
from lightning_nas.results import format_score
from tests.helpers_runs import validated


def test_fit_trains_best_config_and_reproduces_the_best_trial(config, tmp_path, capsys,
                                                              monkeypatch):

    run = tmp_path / "run"
    assert main(["search", str(config), "--search.budget=2", "--trainer.max_epochs=2",
                 "--search.seed=1", "--search.monitor=val_loss", "--search.mode=min"]) == 0
    best = yaml.safe_load((run / "best.yaml").read_text())
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    # no flags: monitor and mode come from best_config.yaml's comment, the seed from its
    # seed_everything (the search's 1, not the config's 5)
    assert main(["fit", str(run / "best_config.yaml")]) == 0
    out = capsys.readouterr().out
    assert (f"Trained TinyNet (seed 1): val_loss={format_score(best['score'])} (min) at epoch "
            f"{best['epoch']} (epochs 0..1 trained)") in out
    ckpt = tmp_path / "runs" / "fit" / "best_config" / "best.ckpt"
    assert f"checkpoint: {ckpt}" in out
    # the trial, trained again: its best.ckpt validates to the trial's score (a fresh
    # Trainer; the checkpoint holds no callback state of lightning_nas's own)
    assert validated(run / "best_config.yaml", ckpt, "val_loss") == pytest.approx(
        best["score"], abs=1e-6)
    assert main(["fit", str(run / "best_config.yaml"), "--trainer.max_epochs=1",
                 "--monitor", "val_acc", "--mode=max"]) == 0  # a second fit keeps the first
    out = capsys.readouterr().out
    assert "val_acc=" in out and "(max) at epoch 0 (epochs 0..0 trained)" in out
    assert f"checkpoint: {ckpt.parent.with_name('best_config_1') / 'best.ckpt'}" in out
    assert main(["fit", str(run / "best_config.yaml"), "--trainer.max_epochs=3",
                 "--trainer.check_val_every_n_epoch=2"]) == 0  # validated after epoch 1 only
    assert "at epoch 1 (epochs 0..2 trained)" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["missing.yaml"], "config file missing.yaml does not exist"),
    (["{cfg}", "--trainer.max_epoch=1"], "unknown Trainer argument 'max_epoch'"),
    (["{cfg}", "--model.widht=8"], "model.widht: not an argument of TinyNet.__init__; did you "
                                   "mean 'width'?"),
    (["{cfg}", "--model.class_path=tests.helpers.NoNet"],
     "module 'tests.helpers' has no attribute 'NoNet'"),
    (["{bad}"], "unknown config section 'oneshot'"),
    (["{cfg}", "--monitor", "val_accuracy", "--mode=max", "--trainer.max_epochs=1"],
     "monitor 'val_accuracy' was not logged by the validation of epoch 0; did you mean 'val_acc'?"),
    (["{cfg}", "--trainer.limit_val_batches=0"], "trainer.limit_val_batches=0 runs no "
                                                  "validation, so the monitor 'val_acc'"),
    # was: val_acc's mode max taken for a monitor whose name says nothing
    (["{cfg}", "--monitor", "val_score"], "--monitor val_score needs --mode min or max (the "
                                          "config's mode max is for val_acc): `monitor: "
                                          "'val_score'` needs a `mode`"),
])
def test_fit_bad_input_exits_2_with_one_line(config, tmp_path, capsys, args, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "oneshot": {}}))
    args = [a.format(cfg=config, bad=bad) for a in args]
    assert main(["fit", *args, "--out", str(tmp_path / "fit")]) == 2
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("lightning-nas fit: error:")]
    assert message in line and "Traceback" not in err
    assert not (tmp_path / "fit").exists()  # was: a monitor never logged left its logs/


def test_a_fit_refused_for_its_monitor_leaves_its_folder_as_it_found_it(config, tmp_path,
                                                                       capsys, monkeypatch):
    # was: its logs/ (metrics.csv, hparams.yaml) stayed, so the same command with the monitor
    # fixed was refused ("not empty"), naming a "free name" that was taken; without --out
    # each refused fit left another runs/fit/<name>_N
    monkeypatch.chdir(tmp_path)
    typo = ["--monitor", "val_accuracy", "--mode=max", "--trainer.max_epochs=1"]
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (["--out", str(tmp_path / "new" / "fit")], ["--out", str(empty)], []):
        assert main(["fit", str(config), *typo, *out]) == 2
        assert "monitor 'val_accuracy' was not logged" in capsys.readouterr().err
    assert not (tmp_path / "new").exists() and not any(empty.iterdir())
    assert not (tmp_path / "runs").exists()
    assert main(["fit", str(config), "--trainer.max_epochs=1", "--out", str(empty)]) == 0
    assert f"checkpoint: {empty / 'best.ckpt'}" in capsys.readouterr().out
    (tmp_path / "runs" / "fit" / "search").mkdir(parents=True)
    assert main(["fit", str(config), *typo[3:], "--out", str(empty)]) == 2
    assert capsys.readouterr().err.endswith(  # the name a fit without --out takes
        f"leave it out for a free name at {Path('runs/fit/search_1')}\n")


@pytest.mark.parametrize("config_run", [True, False])
def test_fit_of_best_yaml_points_to_best_config(tmp_path, capsys, config_run):
    # was: "unknown config section 'trial'", without a word of the run's best_config.yaml
    from lightning_nas import export_best
    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.store import RunStore

    run = tmp_path / "my run"
    with RunStore(run / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        store.set_meta("model", {"class_path": "tests.helpers.TinyNet", "init_args": {}})
        if config_run:
            store.set_meta("config", {"model": {"class_path": "tests.helpers.TinyNet"},
                                      "search": {}})
        trial_id = store.start_trial({"width": 4})
        store.finish_trial(TrialResult(trial_id=trial_id, arch={"width": 4},
                                       status=TrialStatus.COMPLETED, score=0.5))
    export_best(run)
    assert (run / "best_config.yaml").exists() is config_run
    assert main(["fit", str(run / "best.yaml"), "--out", str(tmp_path / "fit")]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    assert f"unknown config section 'trial': {run / 'best.yaml'} is a search's best.yaml" in line
    fix = (f"lightning-nas fit {shlex.quote(str(run / 'best_config.yaml'))}" if config_run
           else f"its run has no best_config.yaml: a search from Python (lightning-nas "
                f"finetune {shlex.quote(str(run))} trains that trial on)")
    assert fix in line and not (tmp_path / "fit").exists()
    # the run folder itself, as finetune takes it (was: "config file ... is a folder")
    assert main(["fit", str(run), "--out", str(tmp_path / "fit")]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    assert line.startswith(f"lightning-nas fit: error: {run} is a search's run folder, not a "
                           f"config; ") and fix in line and not (tmp_path / "fit").exists()


def test_fit_of_a_hydra_sweeps_best_yaml_gives_its_rerun_line(tmp_path, capsys):
    # was: it offered `lightning-nas finetune RUN_DIR`, which refuses a sweep's folder
    record = tmp_path / "sweep" / "best.yaml"
    record.parent.mkdir()
    rerun = "python src/train.py model.lr=0.1"
    record.write_text(yaml.safe_dump({"trial": 2, "arch": {"model.lr": 0.1}, "model": None,
                                      "hydra": {"overrides": ["model.lr=0.1"], "rerun": rerun}}))
    assert main(["fit", str(record), "--out", str(tmp_path / "fit")]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    # in the words of a sweep's other refusals (export_hydra.rerun_said; was: its own,
    # "its task trains that trial again: <rerun>", without the folder to run it from)
    assert line.endswith(f"it is a Hydra sweep's: train trial 2 again, from the folder the "
                         f"sweep was started in: {rerun} (best.yaml's hydra.rerun)")
    assert "finetune" not in line and not (tmp_path / "fit").exists()


def test_fit_into_a_folder_that_is_not_empty_is_refused_and_deletes_nothing(
        config, tmp_path, capsys):
    # was: `fit best_config.yaml --out RUN_DIR` wiped the folder, the search with it
    run = tmp_path / "run"
    run.mkdir()
    (run / "search.db").write_text("a search")
    assert main(["fit", str(config), "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"lightning-nas fit: error: the output folder {run} is a folder that is not empty" \
        in err and "Traceback" not in err
    assert (run / "search.db").read_text() == "a search"


def test_an_interrupted_fit_or_finetune_names_its_unfinished_folder(config, tmp_path, capsys):
    # was: "interrupted" alone, and the folder's best.ckpt and logs/ looked like a finished
    # run's
    ctrl_c = "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtEpoch, init_args: " \
             "{epoch: 1}}]"  # after epoch 0 validated: a best.ckpt is written
    out = tmp_path / "fit"
    assert main(["fit", str(config), "--trainer.max_epochs=2", ctrl_c, "--out", str(out)]) == 130
    assert capsys.readouterr().err.endswith(
        f"lightning-nas fit: interrupted; the fit is unfinished: {out} holds its logs and a "
        f"best.ckpt of its best epoch before the interrupt, not of a finished fit; resume it "
        f"from its last.ckpt (epochs 0..0 trained) with:\n  lightning-nas fit {config} "
        f"--trainer.max_epochs=2 '{ctrl_c}' --out {out} --ckpt_path last\n")
    assert (out / "best.ckpt").is_file()
    # the user's too: without lightning_nas's own callback states (was: TrialReporter's and
    # TrialCheckpoint's, as only a finished fit's best.ckpt was rewritten)
    assert _own_states(out / "best.ckpt") == []
    assert main(["search", str(config), "--search.budget=1", "--trainer.max_epochs=1"]) == 0
    capsys.readouterr()
    finetune = tmp_path / "run" / "finetune"
    assert main(["finetune", str(tmp_path / "run"), "--max_epochs=2", ctrl_c]) == 130
    assert capsys.readouterr().err.endswith(
        f"lightning-nas finetune: interrupted; the fine-tune is unfinished: {finetune} holds "
        f"its logs and a best.ckpt of its best epoch before the interrupt, not of a finished "
        f"fine-tune; resume it from its last.ckpt (epochs 0..0 trained) with:\n  "
        f"lightning-nas finetune {tmp_path / 'run'} --max_epochs=2 '{ctrl_c}' --ckpt_path "
        f"last\n")  # (was: nothing said what to do next; then: a fine-tune does not resume)
    assert _own_states(finetune / "best.ckpt") == []


@pytest.mark.parametrize("flag", [["--ckpt_path", "last"], ["--ckpt_path=last"]])
def test_finetune_given_ckpt_path_last_without_an_interrupted_one_names_the_folders(
        tmp_path, capsys, flag):
    # was: "finetune has no --ckpt_path: a fine-tune does not resume"; now it resumes one
    # (tests/test_fit_resume.py), and says where it looked when there is none
    run = tmp_path / "run"
    assert main(["finetune", str(run), "--max_epochs=2", *flag]) == 2
    assert capsys.readouterr().err == (
        f"lightning-nas finetune: error: --ckpt_path last: no interrupted fine-tune of {run} "
        f"to resume (looked at {run}/finetune: none there); give a last.ckpt of an "
        f"interrupted one, or leave --ckpt_path out to train a new one\n")
    assert not run.exists()


def _own_states(ckpt: Path) -> list[str]:
    """The callback states of lightning_nas's own that the checkpoint ``ckpt`` holds."""
    import torch

    from lightning_nas.search.checkpoints import OWN_STATES

    states = torch.load(ckpt, map_location="cpu", weights_only=False)["callbacks"]
    return [key for key in states if key.startswith(OWN_STATES)]


def test_fit_and_finetune_say_bad_input_found_in_training_in_one_line_as_search(
        config, tmp_path, capsys):
    # was: a traceback and exit 1 ("Fine-tune failed: MonitorError: ...", "training failed:
    # ValueError: ...") where a search stops on the same error with one line, exit 2
    cfg = yaml.safe_load(config.read_text())
    cfg["model"]["class_path"] = "tests.helpers.AccAfterWarmup"
    config.write_text(yaml.safe_dump(cfg))
    run, fit = tmp_path / "run", tmp_path / "fit"
    assert main(["search", str(config), "--search.budget=1", "--trainer.max_epochs=2"]) == 0
    capsys.readouterr()
    # (was: "ValueError: `val_check_interval` (1000) must be less than or equal to the
    # number of the training batches (6).")
    interval = ("trainer.val_check_interval=1000 is more than the 6 training batches of an "
                "epoch; give at most 6, a fraction of the epoch such as 0.5, or "
                "check_val_every_n_epoch=null")
    for argv, message in [
        (["finetune", str(run), "--trainer.val_check_interval=1000"], interval),
        (["fit", str(run / "best_config.yaml"), "--trainer.val_check_interval=1000",
          "--out", str(fit)], interval),
        # a validation schedule other than the trial's: no validation of epoch 0 logs it
        (["finetune", str(run), "--max_epochs=1", "--trainer.val_check_interval=0.5"],
         "monitor 'val_acc' was not logged by the validation of epoch 0; logged keys: "
         "['val_warmup']; nor did the one after it"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"lightning-nas {argv[0]}: error: {message}"), err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert message != interval or err.endswith(" (found before training: nothing was "
                                                   "trained)\n")
        assert not (run / "finetune").exists() and not fit.exists()  # nothing left


def test_fit_of_a_hydra_sweeps_best_yaml_gives_its_rerun_alone_line_too(tmp_path, capsys):
    # was: only the rerun line, which needs the lightning_nas sweeper installed
    record = tmp_path / "sweep" / "best.yaml"
    record.parent.mkdir()
    rerun = "python src/train.py model.lr=0.1"
    alone = "python src/train.py --config-path multirun/x/jobs/1/.hydra --config-name config"
    record.write_text(yaml.safe_dump({"trial": 2, "arch": {"model.lr": 0.1}, "model": None,
                                      "hydra": {"overrides": ["model.lr=0.1"], "rerun": rerun,
                                                "rerun_alone": alone}}))
    assert main(["fit", str(record), "--out", str(tmp_path / "fit")]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    assert line.endswith(f"train trial 2 again, from the folder the sweep was started in: "
                         f"{rerun}; without lightning_nas: {alone} (best.yaml's hydra.rerun "
                         f"and hydra.rerun_alone)")


def test_a_fit_of_nasmodule_refuses_a_monitor_it_never_logs_before_training(tmp_path,
                                                                            capsys):
    # NASModule's keys are known before training, as a search refuses them (was: its
    # epochs trained first, then "monitor 'val_accuracy' was not logged by the validation
    # of epoch 0", after every epoch)
    config = tmp_path / "nas.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 0,
        "model": {"class_path": "lightning_nas.NASModule",
                  "init_args": {"builder": "tests.helpers.build_mlp", "num_classes": 3},
                  "dict_kwargs": {"width": 4}},
        "data": {"class_path": "tests.helpers.BlobData"},
        "trainer": {"max_epochs": 1, "enable_progress_bar": False}}))
    assert main(["fit", str(config), "--monitor", "val_accuracy", "--mode=max",
                 "--out", str(tmp_path / "fit")]) == 2
    assert capsys.readouterr().err == (
        "lightning-nas fit: error: monitor 'val_accuracy' is not logged by NASModule's "
        "validation; did you mean 'val_acc'? it logs: val_loss, val_acc (its metrics argument "
        "names the val_<name> keys: metrics={'accuracy': 'accuracy'} logs val_accuracy); "
        "nothing trained\n")
    assert not (tmp_path / "fit").exists()


def test_a_fit_without_checkpointing_says_it_wrote_no_checkpoint(config, tmp_path, capsys):
    # was: "checkpoint: None", as if a file of that name had been written
    assert main(["fit", str(config), "--trainer.max_epochs=1",
                 "--trainer.enable_checkpointing=false", "--out", str(tmp_path / "fit")]) == 0
    assert capsys.readouterr().out.endswith(
        "checkpoint: none (trainer.enable_checkpointing is false: no best.ckpt, nor a "
        "last.ckpt that an interrupted run resumes from)\n")

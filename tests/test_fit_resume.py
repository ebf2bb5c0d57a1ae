"""``lightning-nas finetune`` and ``fit`` with ``--ckpt_path last|PATH``: an interrupted
fine-tune or fit goes on from its folder's ``last.ckpt`` (Lightning's ``ckpt_path``), and
what cannot resume is refused before training, in one line.

The end-to-end test kills a real ``lightning-nas finetune`` process (SIGKILL) once its first
epoch's ``last.ckpt`` is whole, resumes it, and compares it with an uninterrupted run of
the same seed: the checkpoint holds the random state (``TrialReporter``) and Lightning's loop
state, so the epochs after the kill draw the same batches and the per-epoch metrics match.
"""

from __future__ import annotations

import csv
import json
import re
import signal
import time
from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas.cli import main
from lightning_nas.fit_resume import free_dir
from lightning_nas.search.checkpoints import checkpoint_complete
from tests.helpers_callbacks import HOLD_AT
from tests.helpers_kill import KILL_END, KILLED


def _search(tmp_path: Path) -> tuple[Path, Path]:
    """A config and its finished one-trial search (run folder ``tmp_path/run``)."""
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 5,
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False, "enable_model_summary": False},
        "search": {"space": {"width": {"choice": [8, 16]}}, "optimizer": "RandomSearch",
                   "budget": 1, "run_dir": str(tmp_path / "run"), "progress": False}}))
    assert main(["search", str(config)]) == 0
    return config, tmp_path / "run"


def _val_rows(folder: Path) -> dict[int, dict[str, str]]:
    """The validation rows of ``folder/logs/metrics.csv`` by epoch."""
    with (folder / "logs" / "metrics.csv").open() as f:
        return {int(row["epoch"]): {k: v for k, v in row.items() if k.startswith("val_")}
                for row in csv.DictReader(f) if row.get("val_acc")}


def _rows_of_no_epoch(folder: Path) -> list[dict[str, str]]:
    """The rows of ``folder/logs/metrics.csv`` that name no epoch (``hp_metric``'s)."""
    with (folder / "logs" / "metrics.csv").open() as f:
        return [row for row in csv.DictReader(f) if not row.get("epoch")]


def _epochs(folder: Path) -> list[tuple[int, str]]:
    """(epoch, fit token) of each training epoch ``tests.helpers.EpochLog`` saw start."""
    lines = (folder / "epochs.jsonl").read_text().splitlines()
    return [(entry["epoch"], entry["fit"]) for entry in map(json.loads, lines)]


def _last_epoch(path: Path) -> int | None:
    """The epoch of a whole checkpoint at ``path`` (None while none is there)."""
    if not path.is_file() or not checkpoint_complete(path):
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)["epoch"]
    except Exception:  # noqa: BLE001 - being written
        return None


def _kill_after(launcher, argv: list[str], log: Path, folder: Path, epoch: int) -> None:
    """Launch ``lightning-nas ARGV`` and SIGKILL it once ``folder/last.ckpt`` is a whole
    checkpoint of ``epoch``: held at the next epoch's start (``EpochLog``'s hold; was: the
    kill raced that epoch's 0.8 s, a window a busy machine's pause of the test could miss)."""
    launcher.launch(argv, log, env={HOLD_AT: f"epoch {epoch + 1}"})
    deadline = time.monotonic() + 120
    while _last_epoch(folder / "last.ckpt") != epoch:
        assert launcher.exited() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.02)
    assert launcher.kill() == -signal.SIGKILL
    assert _last_epoch(folder / "last.ckpt") == epoch  # killed in the epoch after it


@pytest.mark.slow
def test_a_finetune_killed_after_an_epoch_resumes_as_an_uninterrupted_one(tmp_path, launcher):
    _, run = _search(tmp_path)
    # no step's sleep: each kill waits at an epoch's start (EpochLog's hold; was 0.1 s a
    # step, 6.4 s in all)
    argv = ["finetune", str(run), "--max_epochs", "4",
            "--trainer.callbacks=[{class_path: tests.helpers.EpochLog}]"]
    folder = run / "finetune"
    _kill_after(launcher, argv, tmp_path / "killed.log", folder, 0)
    killed = _epochs(folder)
    # killed again in its resumed part: three segments of logs
    _kill_after(launcher, [*argv, "--ckpt_path", "last"], tmp_path / "again.log", folder, 1)
    again = _epochs(folder)[len(killed):]
    assert again[0][0] == 1 and again[0][1] != killed[0][1]

    resume_log = tmp_path / "resume.log"
    assert launcher.run([*argv, "--ckpt_path", "last"], resume_log) == 0, \
        resume_log.read_text()[-3000:]
    resumed = resume_log.read_text()
    # the epochs left alone, in one new fit: the epoch counter continues
    after = _epochs(folder)[len(killed) + len(again):]
    assert [epoch for epoch, _ in after] == [2, 3]
    assert len({fit for _, fit in after}) == 1 and after[0][1] != again[0][1]

    fresh_log = tmp_path / "fresh.log"
    assert launcher.run(argv, fresh_log) == 0, fresh_log.read_text()[-3000:]
    fresh = run / "finetune_1"
    # the same per-epoch validation metrics (the checkpoint's random state and loop state:
    # the same batches after the kill), so the same best epoch, score and lines
    assert _val_rows(folder) == _val_rows(fresh) and sorted(_val_rows(fresh)) == [0, 1, 2, 3]
    said = re.findall(r"^(Fine-tuned .*|metrics of that epoch: .*)$", resumed, re.M)
    assert said and said == re.findall(r"^(Fine-tuned .*|metrics of that epoch: .*)$",
                                       fresh_log.read_text(), re.M)
    assert f"checkpoint: {(folder / 'best.ckpt').resolve()}" in resumed
    best = torch.load(folder / "best.ckpt", map_location="cpu", weights_only=False)
    other = torch.load(fresh / "best.ckpt", map_location="cpu", weights_only=False)
    assert best["epoch"] == other["epoch"]
    assert all(torch.equal(best["state_dict"][k], v) for k, v in other["state_dict"].items())
    # what the folder holds is what the uninterrupted run left (no last.ckpt, one logs/)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in fresh.iterdir())
    assert sorted(p.name for p in (folder / "logs").iterdir()) == \
        sorted(p.name for p in (fresh / "logs").iterdir())
    # its metrics.csv ends with the row of no epoch a fit logs at its end, hp_metric, as
    # the uninterrupted one's does (was: left out of the merged rows)
    assert _rows_of_no_epoch(folder) == _rows_of_no_epoch(fresh) != []


CTRL_C = "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtEpoch, init_args: {epoch: 1}}]"


@pytest.fixture
def interrupted(tmp_path, capsys) -> Path:
    """A search's run folder whose fine-tune (2 epochs) was interrupted in epoch 1."""
    _, run = _search(tmp_path)
    assert main(["finetune", str(run), "--max_epochs=2", CTRL_C]) == 130
    err = capsys.readouterr().err
    assert err.endswith(f"resume it from its last.ckpt (epochs 0..0 trained) with:\n  "
                        f"lightning-nas finetune {run} --max_epochs=2 '{CTRL_C[:17]}"
                        f"{CTRL_C[17:]}' --ckpt_path last\n"), err
    return run


def test_a_finetune_resumes_with_more_epochs_and_ends_as_a_finished_one(interrupted, capsys):
    folder = interrupted / "finetune"
    # a Trainer argument given at its Trainer.__init__ default is the one left out (was:
    # refused, "trainer.check_val_every_n_epoch: 1 here, not set in the interrupted run")
    assert main(["finetune", str(interrupted), "--max_epochs=3", "--ckpt_path", "last",
                 "--trainer.check_val_every_n_epoch=1"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "for 3 epochs" in out and f"checkpoint: {(folder / 'best.ckpt').resolve()}" in out
    assert sorted(_val_rows(folder)) == [0, 1, 2]
    assert not (folder / "last.ckpt").exists()
    assert sorted(p.name for p in (folder / "logs").iterdir()) == ["hparams.yaml",
                                                                    "metrics.csv"]
    assert [p.name for p in folder.iterdir() if p.name.startswith("logs")] == ["logs"]
    # finished: said so, and what to do
    assert main(["finetune", str(interrupted), "--ckpt_path", str(folder / "best.ckpt")]) == 2
    assert capsys.readouterr().err == (
        f"lightning-nas finetune: error: --ckpt_path {folder / 'best.ckpt'}: the fine-tune in "
        f"{folder} finished (its best.ckpt is its result): nothing to resume; the same "
        f"command without --ckpt_path trains a new one in a new finetune_N folder\n")


def test_a_finetune_resumes_from_its_last_ckpt_without_the_runs_best_ckpt(interrupted,
                                                                          capsys):
    # a resume takes its weights from its own last.ckpt (Lightning's ckpt_path); was:
    # refused, "has no best.ckpt: best.yaml names best.ckpt, which is not there ...;
    # lightning-nas finetune RUN --from_scratch", whose resume was refused in turn ("start:
    # 'fresh weights' here, 'checkpoint' in the interrupted run")
    (interrupted / "best.ckpt").unlink()
    folder = interrupted / "finetune"
    assert main(["finetune", str(interrupted), "--max_epochs=2", "--ckpt_path", "last"]) == 0, \
        capsys.readouterr().err
    out = capsys.readouterr().out
    assert "for 2 epochs" in out and f"checkpoint: {(folder / 'best.ckpt').resolve()}" in out
    assert sorted(_val_rows(folder)) == [0, 1] and not (folder / "last.ckpt").exists()


@pytest.mark.parametrize("extra, said", [
    (["--model.lr=0.01"], "(model_init_args.lr: 0.01 here, not set in the interrupted run)"),
    (["--from_scratch"], "(start: 'fresh weights' here, 'checkpoint' in the interrupted run)"),
    (["--max_epochs=0"], "--max_epochs"),
    (["--trainer.limit_train_batches=2"], "trainer.limit_train_batches: 2 here, not set in "
                                          "the interrupted run"),
])
def test_a_finetune_resume_with_other_settings_is_refused_before_training(
        interrupted, capsys, extra, said):
    folder = interrupted / "finetune"
    before = sorted(p.name for p in folder.rglob("*"))
    code = main(["finetune", str(interrupted), *extra, "--ckpt_path", "last"])
    err = capsys.readouterr().err
    assert code == 2 and said in err and err.count("\n") == 1, err
    assert sorted(p.name for p in folder.rglob("*")) == before
    assert not (interrupted / "finetune_1").exists()


@pytest.mark.parametrize("ckpt, said", [
    ("last", "--ckpt_path last: no interrupted fine-tune of {run} to resume (looked at "
             "{run}/finetune: none there); give a last.ckpt of an interrupted one, or leave "
             "--ckpt_path out to train a new one"),
    ("{run}/nothing.ckpt", "--ckpt_path {run}/nothing.ckpt: no such file; give 'last' or a "
                           "checkpoint file of a fine-tune folder of {run} ({run}/finetune, "
                           "{run}/finetune_N)"),
    ("{run}/best.ckpt", "--ckpt_path {run}/best.ckpt: not in a fine-tune folder of {run} "
                        "({run}/finetune, {run}/finetune_N)"),
])
def test_finetune_refuses_a_ckpt_path_it_cannot_resume_naming_it(tmp_path, capsys, ckpt,
                                                                  said):
    _, run = _search(tmp_path)
    assert main(["export", str(run)]) == 0
    capsys.readouterr()
    code = main(["finetune", str(run), "--ckpt_path", ckpt.format(run=run)])
    assert (code, capsys.readouterr().err) == (
        2, f"lightning-nas finetune: error: {said.format(run=run)}\n")
    assert not (run / "finetune").exists()


def test_a_fit_resumes_in_its_folder_and_refuses_another_seed(tmp_path, capsys):
    config, _ = _search(tmp_path)
    out = tmp_path / "fit"
    argv = ["fit", str(config), "--trainer.max_epochs=3", "--out", str(out)]
    # started with a Trainer argument at its Trainer.__init__ default, a precision spelt 32
    assert main([*argv, "--trainer.check_val_every_n_epoch=1", "--trainer.precision=32",
                 CTRL_C]) == 130
    assert "--ckpt_path last" in capsys.readouterr().err
    assert main([*argv, "--seed_everything=6", "--trainer.check_val_every_n_epoch=2",
                 "--trainer.precision=64", "--ckpt_path", "last"]) == 2
    assert ("(seed: 6 here, 5 in the interrupted run; trainer.check_val_every_n_epoch: 2 "
            "here, 1 in the interrupted run; trainer.precision: 64 here, 32 in the "
            "interrupted run)") in capsys.readouterr().err  # each as written
    # the default left out, Lightning's other spelling of that precision: the same run (was:
    # refused, "trainer.check_val_every_n_epoch: not set here, 1 in the interrupted run;
    # trainer.precision: '32-true' here, 32 in the interrupted run")
    assert main([*argv, "--trainer.precision=32-true", "--ckpt_path", "last"]) == 0, \
        capsys.readouterr().err
    said = capsys.readouterr().out
    assert "(epochs 0..2 trained)" in said and sorted(_val_rows(out)) == [0, 1, 2]
    assert not (out / "last.ckpt").exists()
    assert main(["fit", str(config), "--ckpt_path", "last"]) == 2
    assert capsys.readouterr().err == (
        f"lightning-nas fit: error: --ckpt_path last: no interrupted fit of {config} to resume "
        f"(looked at runs/fit/search: none there); give a last.ckpt of an interrupted one, "
        f"or leave --ckpt_path out to train a new one\n")


def test_a_resume_below_the_epochs_trained_or_of_another_trial_is_refused(tmp_path, capsys):
    config, run = _search(tmp_path)
    assert main(["search", str(config), "--search.budget=2"]) == 0  # a second trial
    ctrl_c = CTRL_C.replace("epoch: 1", "epoch: 2")
    assert main(["finetune", str(run), "--max_epochs=3", ctrl_c]) == 130
    capsys.readouterr()
    folder = run / "finetune"
    assert main(["finetune", str(run), "--max_epochs=1", "--ckpt_path", "last"]) == 2
    assert capsys.readouterr().err == (
        "lightning-nas finetune: error: max_epochs 1 of the resumed fine-tune (--max_epochs, "
        "--trainer.max_epochs): it trained epochs 0..1 already; give at least 2, or the "
        "interrupted run's 3\n")
    best = yaml.safe_load((run / "best.yaml").read_text())["trial"]
    other = 3 - best
    assert main(["export", str(run), "--trial", str(other)]) == 0
    capsys.readouterr()
    assert main(["finetune", str(run), "--ckpt_path", str(folder / "last.ckpt")]) == 2
    err = capsys.readouterr().err
    assert "(arch: " in err and f"trial: {other} here, {best} in the interrupted run" in err
    assert sorted(p.name for p in run.iterdir() if p.name.startswith("finetune")) == \
        ["finetune"]


def test_last_resumes_the_latest_interrupted_folder_and_a_path_an_older_one(interrupted,
                                                                             capsys):
    run = interrupted
    assert main(["finetune", str(run), "--max_epochs=1"]) == 0  # finetune_1: finished
    assert main(["finetune", str(run), "--max_epochs=2", CTRL_C]) == 130  # finetune_2
    capsys.readouterr()
    assert main(["finetune", str(run), "--ckpt_path", "last"]) == 0
    assert f"checkpoint: {(run / 'finetune_2' / 'best.ckpt').resolve()}" in \
        capsys.readouterr().out
    assert main(["finetune", str(run), "--ckpt_path", "last"]) == 0  # the older one now
    assert f"checkpoint: {(run / 'finetune' / 'best.ckpt').resolve()}" in \
        capsys.readouterr().out
    assert main(["finetune", str(run), "--ckpt_path", "last"]) == 2
    assert capsys.readouterr().err == (
        f"lightning-nas finetune: error: --ckpt_path last: no interrupted fine-tune of {run} "
        f"to resume (looked at {run}/finetune: finished; {run}/finetune_1: finished; "
        f"{run}/finetune_2: finished); give a last.ckpt of an interrupted one, or leave "
        f"--ckpt_path out to train a new one\n")
    assert not (run / "finetune_3").exists()


@pytest.mark.slow
def test_a_ddp_fit_killed_after_an_epoch_resumes_as_an_uninterrupted_one(tmp_path, launcher,
                                                                         capsys):
    # two CPU ranks (gloo) on a reused rank group: SIGKILL ends the fit's process, its
    # ranks die with it; the resume's ranks load last.ckpt as Lightning does
    config = tmp_path / "ddp.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 3,
        "model": {"class_path": "tests.helpers.SyncedTinyNet"},  # no sleep: the kill waits at
        # epoch 1's start (EpochLog's hold; was 0.1 s a step)
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {"max_epochs": 3, "accelerator": "cpu", "devices": 2, "strategy": "ddp",
                    "enable_progress_bar": False, "enable_model_summary": False,
                    "callbacks": [{"class_path": "tests.helpers.EpochLog"}]}}))  # its hold
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    argv = ["fit", str(config), "--out", str(out)]
    _kill_after(launcher, argv, tmp_path / "killed.log", out, 0)
    # the resume, then the uninterrupted fit (the same batches and metrics), in this
    # process: their ranks fork from its rank zygote, warm where an earlier test started it
    # (was: a launch, one process for both, whose zygote imported torch and Lightning; before
    # that a process each: a cold rank zygote each)
    said = []
    for fit in ([*argv, "--ckpt_path", "last"], ["fit", str(config), "--out", str(fresh)]):
        code = main(fit)
        out_err = capsys.readouterr()
        assert code == 0, out_err.err[-3000:]
        said.append(out_err.out)
    resumed, uninterrupted = said
    assert _val_rows(out) == _val_rows(fresh) and sorted(_val_rows(out)) == [0, 1, 2]
    lines = resumed.splitlines()
    assert lines[-2] == uninterrupted.splitlines()[-2]  # "Trained ... at epoch N"
    assert "(epochs 0..2 trained)" in lines[-2]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in fresh.iterdir())


@pytest.mark.slow
def test_a_fit_killed_as_it_ended_resumes_training_nothing_as_an_uninterrupted_one(
        tmp_path, launcher, capsys):
    # killed at ``on_fit_end`` (``FitEndKiller``): its last.ckpt, written as the fit ended,
    # names the epoch after its last one; its hp_metric row died unwritten
    config, _ = _search(tmp_path)
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    argv = ["fit", str(config), "--trainer.max_epochs=2", "--out", str(out),
            "--trainer.callbacks=[{class_path: tests.helpers.FitEndKiller}]"]
    env = {KILLED: str(tmp_path / "killed.mark"), KILL_END: out.name}
    assert launcher.run(argv, tmp_path / "killed.log", env=env) == -signal.SIGKILL
    assert main([*argv, "--ckpt_path", "last"]) == 0, capsys.readouterr().err[-3000:]
    resumed = capsys.readouterr().out  # (was: refused, "max_epochs 2 of the resumed fit
    # (--max_epochs, --trainer.max_epochs): it trained epochs 0..2 already; give at least
    # 3, or the interrupted run's 2")
    assert main([*argv[:4], str(fresh), argv[5]]) == 0
    assert resumed.splitlines()[-2] == capsys.readouterr().out.splitlines()[-2]
    assert "(epochs 0..1 trained)" in resumed.splitlines()[-2]
    assert _val_rows(out) == _val_rows(fresh) and sorted(_val_rows(out)) == [0, 1]
    assert _rows_of_no_epoch(out) == _rows_of_no_epoch(fresh) != []  # its hp_metric
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in fresh.iterdir())
    assert sorted(p.name for p in (out / "logs").iterdir()) == \
        sorted(p.name for p in (fresh / "logs").iterdir())


@pytest.mark.slow
def test_a_fit_killed_before_its_first_epoch_ended_is_not_said_finished(tmp_path, launcher,
                                                                         capsys):
    # val_check_interval 0.5: a validation (and its best.ckpt) halfway through epoch 0, whose
    # end writes the first last.ckpt; killed between them (was: "looked at OUT: finished",
    # and a --ckpt_path of its best.ckpt "the fit in OUT finished (its best.ckpt is its
    # result)", where no epoch of it had ended)
    config = tmp_path / "fit.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 5,
        "model": {"class_path": "tests.helpers.TinyNet"},  # no step's sleep: the kill waits
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1,  # at step 4
                    "enable_progress_bar": False, "enable_model_summary": False}}))
    out = tmp_path / "out"
    argv = ["fit", str(config), "--trainer.val_check_interval=0.5", "--out", str(out)]
    log = tmp_path / "killed.log"
    # held at step 4, after the validation (was: the kill raced the epoch's last 4 steps;
    # then 0.3 s steps before the hold, 1.2 s that it made needless)
    launcher.launch(argv, log, env={HOLD_AT: "step 4"})
    deadline = time.monotonic() + 120
    while _last_epoch(out / "best.ckpt") is None:
        assert launcher.exited() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.02)
    assert launcher.kill() == -signal.SIGKILL
    assert not (out / "last.ckpt").exists()  # killed within epoch 0 (held at its step 4)
    anew = ("nothing to resume: the same command without --ckpt_path trains it anew in a "
            "new folder (with --out, give another)")
    assert main([*argv, "--ckpt_path", "last"]) == 2
    assert capsys.readouterr().err == (
        f"lightning-nas fit: error: --ckpt_path last: no interrupted fit of {config} to "
        f"resume (looked at {out}: stopped before its first training epoch ended, so it "
        f"wrote no last.ckpt); {anew}\n")
    assert main([*argv, "--ckpt_path", str(out / "best.ckpt")]) == 2
    assert capsys.readouterr().err == (
        f"lightning-nas fit: error: --ckpt_path {out / 'best.ckpt'}: the fit in {out} stopped "
        f"before its first training epoch ended (its best.ckpt is of a validation within "
        f"it), so it wrote no last.ckpt; {anew}\n")
    # the same command without --ckpt_path, its --out the stopped fit's folder (was: "the
    # output folder OUT is a folder that is not empty; give a new or empty folder", not
    # saying what it holds or what to do with it)
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"lightning-nas fit: error: the output folder {out} holds a fit that stopped before "
        f"its first training epoch ended (.unfinished; its logs and a best.ckpt of a "
        f"validation within that epoch; no last.ckpt: nothing to resume); to train there, "
        f"remove that folder first (rm -r {out}); else give another --out, a new or empty "
        f"folder (nothing is deleted), or leave --out out for a free name at "
        f"{free_dir(Path('runs', 'fit', 'fit'))}\n")
    assert (out / ".unfinished").is_file()  # nothing of it removed
    # the same command, anew: its folder ends as an uninterrupted fit's (nothing more)
    again = tmp_path / "again"
    assert main([*argv[:-1], str(again)]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in again.iterdir()) == ["best.ckpt", "logs"]


@pytest.mark.parametrize("command", ["fit", "finetune"])
def test_a_resume_removes_the_held_tie_weights_a_kill_left(tmp_path, capsys, command):
    # a kill between a mid-epoch validation's tie and its epoch's end leaves .tie.ckpt
    config, run = _search(tmp_path)
    if command == "fit":
        folder = tmp_path / "fit"
        argv = ["fit", str(config), "--trainer.max_epochs=2", "--out", str(folder)]
    else:
        folder = run / "finetune"
        argv = ["finetune", str(run), "--max_epochs=2"]
    assert main([*argv, CTRL_C]) == 130
    capsys.readouterr()
    (folder / ".tie.ckpt").write_bytes(b"stale weights of an undecided tie")
    assert main([*argv, "--ckpt_path", "last"]) == 0
    assert not (folder / ".tie.ckpt").exists()  # was: kept beside the finished best.ckpt
    assert sorted(p.name for p in folder.iterdir()) == ["best.ckpt", "logs"]


def test_a_resumed_fit_keeps_the_rows_of_no_epoch_its_interrupted_part_logged(tmp_path,
                                                                              capsys):
    # LearningRateMonitor logs the lr at each epoch's start in a row of no epoch (a step
    # alone): the merged metrics.csv of a fit interrupted at epoch 2 and resumed is the
    # uninterrupted fit's, those rows in place (was: the interrupted part's left out, the
    # resumed part's put after every epoch's rows)
    config = tmp_path / "fit.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 5, "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 64}},
        "trainer": {"max_epochs": 4, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False, "enable_model_summary": False}}))
    lr_monitor = ("{class_path: lightning.pytorch.callbacks.LearningRateMonitor, init_args: "
                  "{logging_interval: epoch}}")
    argv = ["fit", str(config), "--out"]
    ctrl_c = CTRL_C.replace("[{", f"[{lr_monitor}, {{").replace("epoch: 1", "epoch: 2")
    assert main([*argv, str(tmp_path / "resumed"), ctrl_c]) == 130
    callbacks = f"--trainer.callbacks=[{lr_monitor}]"
    assert main([*argv, str(tmp_path / "resumed"), callbacks, "--ckpt_path", "last"]) == 0
    assert main([*argv, str(tmp_path / "fresh"), callbacks]) == 0
    capsys.readouterr()
    merged, fresh = ((tmp_path / name / "logs" / "metrics.csv").read_text().splitlines()
                     for name in ("resumed", "fresh"))
    assert len([row for row in fresh if row.startswith(",")]) == 5  # 4 lr rows, hp_metric
    assert merged == fresh


def test_an_interrupted_fit_without_checkpointing_says_why_it_cannot_resume(tmp_path, capsys):
    # trainer.enable_checkpointing false: epoch 0 ended, no last.ckpt written (was: "no
    # training epoch of it ended", in the interrupt's line, the --ckpt_path refusal and the
    # --out refusal, which sent the user looking for a crash in epoch 0)
    config = tmp_path / "fit.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 5, "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 64}},
        "trainer": {"max_epochs": 3, "accelerator": "cpu", "devices": 1,
                    "enable_checkpointing": False, "enable_progress_bar": False,
                    "enable_model_summary": False}}))
    out = tmp_path / "out"
    argv = ["fit", str(config), "--out", str(out)]
    why = "trainer.enable_checkpointing is false, so it wrote no last.ckpt"
    assert main([*argv, CTRL_C]) == 130
    said = capsys.readouterr().err
    assert f"{out} holds its logs; {why} to resume from: the same command trains it" in said
    assert "no training epoch" not in said
    assert main([*argv, "--ckpt_path", "last"]) == 2
    said = capsys.readouterr().err
    assert f"(looked at {out}: stopped, and {why}); nothing to resume" in said, said
    assert main(argv) == 2
    said = capsys.readouterr().err
    assert f"holds a fit that stopped before it completed ({why}" in said, said

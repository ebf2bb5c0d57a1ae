"""The ``lightning-nas`` command end to end: search, show, export and finetune of one run,
paths with a tilde, ``show`` of a folder without a run, of a damaged store and into a pipe
that closes early, and a search ended by SIGTERM or Ctrl-C (its exit code, what it says)."""

from __future__ import annotations

import csv
import io
import json
import re

import yaml

from lightning_nas.cli import main
from tests.helpers_callbacks import CtrlCAtSecondTrial


def test_search_show_export_finetune(config, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["search", str(config), "--search.budget=3", "--trainer.max_epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("[trial ") == 3 and "Best val_acc=" in out
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert (run / "search.db").exists() and (run / "best.ckpt").exists()

    assert main(["show", str(run)]) == 0
    shown = capsys.readouterr().out
    assert f"{best['score']:.4f}" in shown and "3 completed, 0 failed" in shown
    assert main(["show", str(run), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["best_score"] == best["score"]
    assert data["leaderboard"][0]["arch"] == best["arch"]
    assert main(["show", str(run), "--format", "csv", "--top", "2"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 2 and float(rows[0]["score"]) == best["score"]

    (run / "best.yaml").unlink()
    assert main(["export", str(run)]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["arch"] == best["arch"]
    # best_config.yaml is the search config with the best arch filled in, no search block
    best_cfg = yaml.safe_load((run / "best_config.yaml").read_text())
    assert "search" not in best_cfg
    assert best_cfg["model"]["init_args"] == {"depth": 1, **best["arch"]}
    assert best_cfg["trainer"]["max_epochs"] == 2  # the override is part of the run's config

    assert main(["finetune", str(run), "--max_epochs", "3"]) == 0
    tuned = capsys.readouterr().out
    assert (f"from trial {best['trial']}'s best.ckpt (val_acc={best['score']:.4f} in the "
            f"search; validated before training: val_acc={best['score']:.4f}) for 3 epochs "
            f"with 1 torch thread (as this process runs): best val_acc=") in tuned
    # each metric as a score (was: the raw dict, "{'val_acc': 0.1, 'val_loss': ...}")
    (said,) = [line for line in tuned.splitlines() if line.startswith("metrics of that epoch")]
    assert re.fullmatch(r"metrics of that epoch: ([\w/]+=(\d+\.\d{4}|\S+e-\d+)(, |$))+", said), said
    assert "val_acc=" in said and "val_loss=" in said
    assert (run / "finetune" / "best.ckpt").exists()


def test_a_search_with_no_completed_trial_exits_1_saying_why(config, tmp_path, capsys):
    # was: exit status 1 after "Search finished in 0.0s with no completed trial." alone,
    # with no error line saying why nor what to change
    assert main(["search", str(config), "--search.time_limit=1e-9"]) == 1
    said = capsys.readouterr()
    assert "with no completed trial." in said.out
    assert said.err.splitlines()[-1] == (
        f"lightning-nas search: error: no trial of the search in {tmp_path / 'run'} completed "
        f"(none trained), so it has no best trial: the time limit of 1e-09s was reached; give "
        f"a longer search.time_limit (the same command again resumes the run)")


def test_paths_with_a_tilde_are_in_the_home_folder(tmp_path, monkeypatch, capsys):
    # was: run_dir ~/nas/digits (as YAML, or any quoted path) stayed literal: search.db and
    # best.* went into ./~/nas/digits while Lightning wrote the trials' checkpoints into
    # $HOME/nas/digits, so best.yaml said checkpoint: null and finetune failed
    home, work = tmp_path / "home", tmp_path / "work"
    (home / "cfg").mkdir(parents=True)
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    (home / "cfg" / "space.yaml").write_text("width: {choice: [4, 8]}\n")
    (home / "cfg" / "search.yaml").write_text(yaml.safe_dump({
        "model": "tests.helpers.TinyNet", "data": "tests.helpers.BlobData",
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False},
        "search": {"space": "~/cfg/space.yaml", "optimizer": "RandomSearch", "budget": 1,
                   "run_dir": "~/nas/digits", "verbose": False}}))
    assert main(["search", "~/cfg/search.yaml"]) == 0
    run = home / "nas" / "digits"
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["checkpoint"] and (run / best["checkpoint"]).is_file()
    assert (run / "search.db").is_file() and list(run.glob("trials/*/best.ckpt"))
    capsys.readouterr()
    assert main(["show", "~/nas/digits", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["leaderboard"][0]["arch"] == best["arch"]
    assert main(["export", "~/nas/digits"]) == 0
    assert main(["finetune", "~/nas/digits", "--max_epochs", "1"]) == 0
    assert (run / "finetune" / "best.ckpt").is_file()
    assert main(["fit", "~/nas/digits/best_config.yaml", "--out", "~/fit"]) == 0
    assert (home / "fit" / "best.ckpt").is_file()
    assert main(["report", "~/nas/digits", "--out", "~/report"]) == 0
    assert (home / "report" / "report.html").is_file()
    assert not (work / "~").exists()


def test_the_top_level_keys_the_command_line_splits_off_are_the_configs():
    from lightning_nas.cli_argv import TOP_KEYS as SPLIT_OFF
    from lightning_nas.config.load import TOP_KEYS

    assert SPLIT_OFF == TOP_KEYS


def test_show_of_a_folder_without_a_run(tmp_path, capsys):
    assert main(["show", str(tmp_path)]) == 2
    assert "is neither a run directory (no search.db) nor a one-shot run folder" in \
        capsys.readouterr().err


def test_show_into_a_pipe_that_closes_early_ends_quietly(tmp_path):
    import subprocess
    import sys

    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.store import RunStore

    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        for i in range(3000):  # more than a pipe buffer holds
            tid = store.start_trial({"k": i})
            store.finish_trial(TrialResult(trial_id=tid, arch={"k": i}, score=i / 3000,
                                           status=TrialStatus.COMPLETED))
    show = subprocess.Popen([sys.executable, "-m", "lightning_nas", "show", str(tmp_path),
                             "--top", "3000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = show.stdout.readline()  # `lightning-nas show RUN | head -1`
    show.stdout.close()
    err = show.stderr.read().decode()
    assert show.wait(timeout=60) == 0
    assert first.startswith(b"3000 completed") and "Traceback" not in err and err == ""


def test_a_search_ended_by_sigterm_exits_143(config, capsys):
    # was: exit status 0 (Lightning's SIGTERMException is a SystemExit without a code), so
    # `lightning-nas search ... && next` and a scheduler's requeue took it as finished
    callbacks = "--trainer.callbacks=[{class_path: tests.helpers.SigtermAtFirstBatch}]"
    assert main(["search", str(config), "--search.budget=1", callbacks]) == 143
    captured = capsys.readouterr()
    assert "Interrupted: 0 completed, 1 running" in captured.out
    assert "lightning-nas search: interrupted (SIGTERM)" in captured.err


def test_a_search_stopped_by_ctrl_c_in_a_trial_exits_130(config, capsys):
    # was: 1, from Lightning's own handler (exit(1) after a KeyboardInterrupt in fit)
    callbacks = "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtFirstBatch}]"
    assert main(["search", str(config), "--search.budget=1", callbacks]) == 130
    assert "lightning-nas search: interrupted" in capsys.readouterr().err


def test_a_search_stopped_by_ctrl_c_says_how_to_export_its_best_so_far(config, tmp_path,
                                                                        capsys):
    # was: only "run the same command again to resume", and Ctrl-C writes no best.yaml
    CtrlCAtSecondTrial.fits = 0
    callbacks = "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtSecondTrial}]"
    assert main(["search", str(config), "--search.budget=3", "--trainer.max_epochs=1",
                 callbacks]) == 130
    run = tmp_path / "run"
    assert ("Interrupted: 1 completed, 1 running (re-run on resume); run the same command "
            f"again to resume, or `lightning-nas export {run}` for the best so far."
            ) in capsys.readouterr().out
    assert not (run / "best.yaml").exists()
    assert main(["export", str(run)]) == 0
    assert yaml.safe_load((run / "best.yaml").read_text())["trial"] == 1
    assert (run / "best.ckpt").is_file()


def test_a_store_damaged_past_its_start_is_named_by_show(tmp_path, capsys):
    # was: "lightning-nas show: error: database disk image is malformed", no file named
    from lightning_nas.store import open_search_store

    with open_search_store(tmp_path, {"space": {"k": {"choice": [1]}}, "monitor": "acc",
                                      "mode": "max"}) as store:
        store.start_trial({"k": 1})
    db = tmp_path / "search.db"
    data = db.read_bytes()  # its schema (page 1) is whole: it opens; its tables are garbage
    db.write_bytes(data[:4096] + b"\x8f" * (len(data) - 4096))
    assert main(["show", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lightning-nas show: error: {db} is corrupt (database disk image "
                          f"is malformed): ") and len(err.splitlines()) == 1, err

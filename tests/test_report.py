"""Seeing a search: the report (plots + HTML) of a real run, the progress bar, the trials'
hyperparameters in the user's logger, and the leaderboard."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import sqlite3
import sys
from pathlib import Path

import pytest
import yaml

from lightning_nas import Search, finetune
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.report.plots import (
    PLOT_HINT,
    choice_options,
    choice_order,
    plain_log_ticks,
    plot_choices,
    pyplot,
)
from lightning_nas.results import TrialStatus
from lightning_nas.search.progress import Progress
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

PNG = b"\x89PNG\r\n\x1a\n"
SPACE = {"width": {"choice": [4, 8, 16]}, "activation": {"choice": ["relu", "tanh"]},
         "lr": {"float": [0.02, 0.3], "log": True}}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("report") / "run"
    Search(TinyNet, SPACE, data=BlobData, trainer={"max_epochs": 3}, budget=6,
           scheduler="asha", eta=2, run_dir=run, verbose=False).run()
    return run


def test_report_writes_plots_and_a_self_contained_page(finished_run, capsys):
    pytest.importorskip("matplotlib")
    assert main(["report", str(finished_run)]) == 0
    out = finished_run / "report"
    assert "report.html" in capsys.readouterr().out
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["choices.png", "progress.png"]
    for name in pngs:
        assert (out / name).read_bytes()[:8] == PNG
    page = (out / "report.html").read_text()
    for name in pngs:  # linked by name and embedded, so the page stands alone
        assert f'href="{name}"' in page
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == 2 and all(base64.b64decode(e)[:8] == PNG for e in embedded)
    with RunStore(finished_run / "search.db") as store:
        best = store.best("max")
    assert f"{best.score:.4f}" in page and "pruned" in page


def test_without_matplotlib_report_says_how_to_get_it_and_makes_no_folder(
        finished_run, tmp_path, monkeypatch, capsys):
    for name in ("matplotlib", "matplotlib.pyplot"):  # as if the plot extra were not installed
        monkeypatch.setitem(sys.modules, name, None)
    (tmp_path / "best_arch.yaml").write_text("arch: {a: 1}\nscore: 0.5\nalgorithm: spos\n")
    for folder in (finished_run, tmp_path):  # a search run, a one-shot run folder
        assert main(["report", str(folder), "--out", str(tmp_path / "out")]) == 2
        assert capsys.readouterr().err == f"lightning-nas report: error: {PLOT_HINT}\n"
        assert not (tmp_path / "out").exists()


def test_report_of_a_store_it_cannot_read_leaves_no_report_folder(finished_run, tmp_path,
                                                                   capsys):
    # was: the one-line error, and an empty RUN_DIR/report/ made before the store was read
    run = tmp_path / "run"
    run.mkdir()
    (run / "search.db").write_bytes((finished_run / "search.db").read_bytes())
    db = sqlite3.connect(run / "search.db")
    db.execute("DROP TABLE trials")  # its meta says a search, its trials are gone
    db.close()
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lightning-nas report: error: {run / 'search.db'} cannot be read")
    assert sorted(p.name for p in run.iterdir()) == ["search.db"]


def test_a_file_given_for_the_run_folder_is_said_to_be_one(finished_run, tmp_path, capsys):
    # was: "RUN/search.db is not a run directory (no search.db)" (export), "... is neither a
    # run directory (no search.db) nor a one-shot run folder" (show, report)
    db = finished_run / "search.db"
    before = db.read_bytes(), sorted(finished_run.iterdir())
    for command in ("show", "report", "export"):
        assert main([command, str(db)]) == 2
        assert capsys.readouterr().err == (f"lightning-nas {command}: error: {db} is a file, "
                                           f"not a run folder: give the folder that holds "
                                           f"it, {finished_run}\n")
    (tmp_path / "notes.txt").write_text("x")
    assert main(["show", str(tmp_path / "notes.txt")]) == 2
    assert capsys.readouterr().err.endswith("notes.txt is a file, not a run folder\n")
    assert (db.read_bytes(), sorted(finished_run.iterdir())) == before


def test_report_draws_log_ranges_on_a_log_axis(tmp_path, tiny_trainer):
    pytest.importorskip("matplotlib")
    run = tmp_path / "run"
    Search(TinyNet, SPACE, data=BlobData, trainer=tiny_trainer, budget=4,
           optimizer="RandomSearch", run_dir=run, verbose=False).run()
    with RunStore(run / "search.db") as store:
        scales = plot_choices(store, tmp_path / "choices.png")
    assert scales["lr"] == "log"  # declared log: true, although it spans only 15x
    assert all(scale == "choice" for knob, scale in scales.items() if knob != "lr")


def test_a_choice_axis_follows_the_values_or_the_declared_order():
    # was: sorted as text by length, so lr 0.1, 0.01, 0.001 read reversed and
    # [0.1, 0.25, 0.5] plotted as 0.1, 0.5, 0.25
    assert choice_order([0.1, 0.01, 0.001]) == [0.001, 0.01, 0.1]
    assert choice_order([0.5, 0.25, 0.1]) == [0.1, 0.25, 0.5]
    assert choice_order([10, -1, 2]) == [-1, 2, 10]
    space = {"act": {"choice": ["tanh", "relu", "gelu"]}, "head": {"norm": {"ordered":
                                                                             ["none", "bn"]}}}
    options = choice_options(space)
    assert options == {"act": ["tanh", "relu", "gelu"], "head.norm": ["none", "bn"]}
    assert choice_order(["gelu", "relu", "tanh"], options["act"]) == ["tanh", "relu", "gelu"]
    assert choice_order([True, False], None) == [False, True]  # not numbers: by text


def test_show_lists_failed_trials_with_their_error(tmp_path, tiny_trainer, capsys):
    run = tmp_path / "run"
    Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=tiny_trainer,
           model_init_args={"fail_width": 4}, budget=2, optimizer="RandomSearch",
           run_dir=run, verbose=False).run()
    assert main(["show", str(run)]) == 0
    shown = capsys.readouterr().out
    assert "1 completed, 1 failed" in shown
    assert "RuntimeError: width 4 is broken on purpose  [width=4]" in shown
    assert main(["show", str(run), "--status", "failed"]) == 0
    failed = capsys.readouterr().out
    assert "FAILED" in failed and "width 4 is broken on purpose" in failed
    assert "COMPLETED" not in failed
    assert main(["show", str(run), "--status", "failed", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["trials"]
    assert [r["error"] for r in rows] == ["RuntimeError: width 4 is broken on purpose"]
    pytest.importorskip("matplotlib")
    assert main(["report", str(run)]) == 0
    page = (run / "report" / "report.html").read_text()
    assert "Failed and rejected trials" in page and "width 4 is broken on purpose" in page


def test_show_contains_the_best_score(finished_run, capsys):
    assert main(["show", str(finished_run)]) == 0
    best = yaml.safe_load((finished_run / "best.yaml").read_text())
    shown = capsys.readouterr().out
    assert f"best {best['score']:.4f} (trial {best['trial']})" in shown
    assert "pruned" in shown and "epochs" in shown


def test_progress_bar_on_a_terminal_and_plain_lines_otherwise(capsys):
    quiet = Progress(total=4, enabled="auto")  # pytest's stderr is not a terminal
    assert quiet.bar is None
    quiet.line("plain")
    assert capsys.readouterr().out == "plain\n"
    stream = io.StringIO()
    bar = Progress(total=4, enabled=True, file=stream)
    bar.update(2, 0.91234, "val_acc")
    bar.close()
    drawn = stream.getvalue()
    assert "2/4" in drawn and "best val_acc=0.9123" in drawn
    with pytest.raises(ConfigError, match="progress can be True, False or 'auto'"):
        Progress(total=1, enabled="yes")


class ScoreArgNet(TinyNet):
    """Has hyperparameters of its own named ``monitor`` and ``score`` (a scheduler's metric)."""

    def __init__(self, width: int = 16, activation: str = "relu", lr: float = 0.05,
                 monitor: str = "val_loss", score: str = "f1") -> None:
        super().__init__(width=width, activation=activation, lr=lr)
        self.save_hyperparameters()


def test_each_trial_logs_its_arch_and_score_to_the_users_logger(tmp_path):
    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger"}
    result = Search(ScoreArgNet, SPACE, data=BlobData, trainer={"max_epochs": 2,
                                                                "logger": logger},
                    budget=2, run_dir=tmp_path, verbose=False).run()
    for trial in result.trials:
        version = tmp_path / "logs" / "trials" / f"trial_{trial.trial_id:04d}"
        hparams = yaml.safe_load((version / "hparams.yaml").read_text())
        assert {k: hparams[k] for k in trial.arch} == trial.arch
        # was: the search's score and monitor replaced the module's own (val_acc, a float)
        assert hparams["monitor"] == "val_loss" and hparams["score"] == "f1"
        assert hparams["search_score"] == pytest.approx(trial.score)
        assert hparams["search_monitor"] == "val_acc"
        assert "hp_metric" in (version / "metrics.csv").read_text()
    summary = tmp_path / "logs" / "search" / "summary"  # and the search as a whole
    hparams = yaml.safe_load((summary / "hparams.yaml").read_text())
    assert hparams["best_score"] == pytest.approx(result.best.score)
    assert hparams["completed"] == 2 and hparams["width"] == result.best.arch["width"]
    rows = (summary / "metrics.csv").read_text().splitlines()
    assert {"trial_score", "best_so_far", "step"} <= set(rows[0].split(","))
    assert len(rows) == 4  # a row per completed trial, and the best's score as hp_metric


def test_searches_sharing_a_save_dir_keep_each_trials_logs(tmp_path):
    # was: with the user's save_dir two searches wrote the same trials/trial_0001 (the second
    # deleted the first one's metrics.csv); `version: null` (what LightningCLI prints) made
    # the trials version_0, version_1 and the summary version_2; a fixed version sent every
    # trial into one folder
    shared = tmp_path / "tb"
    for run, version in (("a", None), ("b", "v7")):
        logger = {"class_path": "lightning.pytorch.loggers.CSVLogger",
                  "init_args": {"save_dir": str(shared), "version": version}}
        Search(TinyNet, SPACE, data=BlobData, trainer={"max_epochs": 1, "logger": logger},
               budget=2, run_dir=tmp_path / run, verbose=False).run()
    for _ in range(2):  # and so do fine-tunes (finetune, finetune_1) under it
        finetune(tmp_path / "a", max_epochs=1)
    a, b = (_log_label(tmp_path / run) for run in "ab")
    folders = sorted(p.parent.relative_to(shared).as_posix()
                     for p in shared.rglob("metrics.csv"))
    folders = sorted(re.sub(r"-[0-9a-f]{6}_logs$", "-?_logs", f) for f in folders)
    assert folders == sorted(["a_finetune-?_logs", "a_finetune_1-?_logs", f"search/{a}_summary",
                              f"search/{b}_v7_summary", f"trials/{a}_trial_0001",
                              f"trials/{a}_trial_0002", f"trials/{b}_v7_trial_0001",
                              f"trials/{b}_v7_trial_0002"])


def _log_label(run: Path) -> str:
    with RunStore(run / "search.db") as store:
        return store.get_meta("log_label")


def test_searches_in_folders_of_one_name_under_a_shared_save_dir_never_share_a_version(
        tmp_path):
    # was: exp1/nas and exp2/nas both logged to trials/nas_trial_0001 (the second search
    # overwrote the first one's metrics.csv, their checkpoints mixed) and search/nas_summary
    shared = tmp_path / "tb"
    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger",
              "init_args": {"save_dir": str(shared)}}
    runs = [tmp_path / exp / "nas" for exp in ("exp1", "exp2")]
    for run in runs:
        Search(TinyNet, SPACE, data=BlobData, trainer={"max_epochs": 1, "logger": logger},
               budget=1, run_dir=run, verbose=False).run()
    labels = [_log_label(run) for run in runs]
    assert all(re.fullmatch(r"nas-[0-9a-f]{6}", label) for label in labels)
    assert labels[0] != labels[1]
    # a resume keeps the run's label; a run folder of an older version (no label) its name
    Search(TinyNet, SPACE, data=BlobData, trainer={"max_epochs": 1, "logger": logger},
           budget=2, run_dir=runs[0], verbose=False).run()
    with sqlite3.connect(runs[1] / "search.db") as db:
        db.execute("DELETE FROM meta WHERE key = 'log_label'")
    Search(TinyNet, SPACE, data=BlobData, trainer={"max_epochs": 1, "logger": logger},
           budget=2, run_dir=runs[1], verbose=False).run()
    folders = sorted(p.parent.relative_to(shared).as_posix()
                     for p in shared.rglob("metrics.csv"))
    one, two = labels
    assert folders == sorted([f"trials/{one}_trial_0001", f"trials/{one}_trial_0002",
                              f"trials/{two}_trial_0001", "trials/nas_trial_0002",
                              f"search/{one}_summary", f"search/{two}_summary",
                              "search/nas_summary"])


def test_show_says_when_the_search_of_running_trials_is_gone(tmp_path, capsys):
    import socket
    import subprocess
    import sys

    from lightning_nas.store import open_search_store

    store = open_search_store(tmp_path, {"space": {"k": {"choice": [1, 2]}}, "monitor": "acc",
                                         "mode": "max"})
    store.start_trial({"k": 1})  # RUNNING
    store.set_driver()  # this process: alive
    assert main(["show", str(tmp_path)]) == 0
    assert "1 running; monitor acc" in capsys.readouterr().out
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a search process killed on this machine
    store.set_meta("driver", {"pid": dead.pid, "host": socket.gethostname()})
    store.close()
    assert main(["show", str(tmp_path)]) == 0
    assert ("1 running (its search is gone: a resume re-runs them, but one the search process "
            "ran itself and died in twice is FAILED)") in capsys.readouterr().out
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["driver_gone"] is True


def test_show_json_of_a_search_that_finished_says_no_driver_is_gone(tmp_path, capsys,
                                                                   launcher):
    # was: "driver_gone": true for every search whose process had ended normally; the search
    # runs in a process of its own (forked by the launcher) that ends as a script does
    script = tmp_path / "search.py"
    script.write_text("import sys\nfrom lightning_nas import Search\n"
                      "Search(None, {'k': {'choice': [1, 2, 3]}}, objective=lambda arch: "
                      "{'acc': arch['k'] / 3}, monitor='acc', budget=2, run_dir=sys.argv[1], "
                      "verbose=False).run()\n")
    log, run = tmp_path / "search.log", tmp_path / "run"
    launcher.launch([run], log, script, as_script=True)
    assert launcher.wait(120) == 0, log.read_text()[-3000:]
    assert main(["show", str(run), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)["summary"]
    assert shown["completed"] == 2 and shown["running"] == 0 and shown["driver_gone"] is False
    assert main(["show", str(run)]) == 0
    assert "search is gone" not in capsys.readouterr().out


def test_a_count_prints_as_a_whole_number_and_a_score_with_four_decimals():
    from lightning_nas.report.tables import _cell

    # was: params 11264.0000
    assert [_cell(11264.0, "params"), _cell(1.0, "score"), _cell(0.98765, "val_acc"),
            _cell(12.34, "fit_s")] == ["11264", "1.0000", "0.9877", "12.3"]


def test_show_counts_every_status_and_prints_counts_whole(tmp_path, capsys):
    # was: no paused count, --status paused refused, a negative --top cut rows off the
    # end, params of 771 shown as 771.0000, and empty failures in a trial list's JSON
    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.store import open_search_store

    with open_search_store(tmp_path, {"space": {"k": {"choice": [1, 2, 3]}}, "monitor": "acc",
                                      "mode": "max",
                                      "objectives": {"acc": "max", "params": "min"}}) as store:
        for k, status in ((1, TrialStatus.COMPLETED), (2, TrialStatus.PAUSED)):
            store.finish_trial(TrialResult(trial_id=store.start_trial({"k": k}), arch={"k": k},
                                           status=status, score=0.5, epoch=0, epochs=1,
                                           metrics={"acc": 0.5, "params": 771.0}))
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "0 pruned, 1 paused, 0 running" in out and "771 " in out and "771.0" not in out
    assert main(["show", str(tmp_path), "--status", "paused"]) == 0
    assert "PAUSED" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["show", str(tmp_path), "--top", "-1"])
    assert "--top: expected a whole number >= 0, got '-1'" in capsys.readouterr().err
    assert main(["show", str(tmp_path), "--status", "all", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown["trials"]) == 2 and "failures" not in shown
    assert main(["show", str(tmp_path), "--status", "failed", "--format", "csv"]) == 0
    assert capsys.readouterr().out.strip() == ("trial,status,score,params,epochs,best_epoch,"
                                               "error,arch,notes")


def tiny_losses(arch: dict) -> dict:
    """Losses far below 0.0001, apart from one another."""
    return {"val_loss": 3.2e-05 * (arch["k"] + 1)}


def test_scores_that_four_decimals_would_hide_print_with_their_digits(tmp_path, capsys):
    # was: every line, the summary and show said val_loss=0.0000 while the best moved
    Search(None, {"k": {"choice": [0, 1, 2]}}, objective=tiny_losses, monitor="val_loss",
           mode="min", budget=3, optimizer="RandomSearch", run_dir=tmp_path).run()
    out = capsys.readouterr().out
    assert "=0.0000" not in out and "Best val_loss=3.2e-05 (trial" in out
    assert out.startswith("Searching tiny_losses in ")  # was: "Searching _NoModel"
    assert "no time limit, 1 worker, space of 3 architectures" in out  # was: "1 worker(s)"
    assert main(["show", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "best 3.2e-05" in shown and all(f"{v:.4g}" in shown for v in (3.2e-05, 6.4e-05))


def test_the_last_line_of_a_resumed_search_says_whose_time_it_is(tmp_path, capsys):
    # was: this invocation's seconds beside the whole run's counts, as if one
    def run(budget):
        Search(None, {"k": {"choice": [0, 1, 2]}}, objective=tiny_losses, monitor="val_loss",
               mode="min", budget=budget, optimizer="RandomSearch", run_dir=tmp_path).run()
        return capsys.readouterr().out
    assert "s: 2 completed" in run(2)
    assert "s (this invocation; the counts are the run's): 3 completed" in run(3)


def test_the_html_report_says_when_its_leaderboard_is_cut_and_counts_rejected(tmp_path):
    # was: 20 rows of 22 with no word, and rejected trials left out of the counts
    pytest.importorskip("matplotlib")
    from lightning_nas.report.plots import write_report

    Search(None, {"k": {"int": [0, 40]}}, objective=tiny_losses, monitor="val_loss",
           mode="min", budget=22, optimizer="RandomSearch", constraints=[lambda a: a["k"] > 0],
           run_dir=tmp_path / "run", verbose=False).run()
    with RunStore(tmp_path / "run" / "search.db") as store:
        rejected = len(store.trials(TrialStatus.REJECTED))
        page = write_report(store, tmp_path / "report")["html"].read_text()
    assert "<h2>Leaderboard (the best 20 of 22)</h2>" in page
    assert re.search(rf"\b{rejected} rejected, ", page)


def test_the_report_plots_a_dict_valued_choice_as_one_knob(tmp_path):
    # was: KeyError 'opt.lr' when the first trial's dict had a key another's lacked
    pytest.importorskip("matplotlib")
    from lightning_nas.report.plots import plot_choices
    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.store import open_search_store

    options = [{"name": "sgd", "lr": 0.1}, {"name": "adam"}]
    space = {"opt": {"choice": options}, "head": {"w": {"choice": [4, 8]}}}
    with open_search_store(tmp_path, {"space": space, "monitor": "acc", "mode": "max"}) as store:
        for i, arch in enumerate([{"opt": options[0], "head": {"w": 4}},
                                  {"opt": options[1], "head": {"w": 8}},
                                  {"opt": options[1], "head": {"w": 4}}]):
            store.finish_trial(TrialResult(trial_id=store.start_trial(arch), arch=arch,
                                           status=TrialStatus.COMPLETED, score=0.1 * i,
                                           epoch=0, epochs=1, metrics={"acc": 0.1 * i}))
        assert set(plot_choices(store, tmp_path / "choices.png")) <= {"opt", "head.w"}
    assert (tmp_path / "choices.png").stat().st_size > 0


def test_bad_run_folders_and_outputs_are_one_line_errors(tmp_path, capsys):
    # was: tracebacks (a corrupt store, --out at a file), an empty store shown as a run
    # ("monitor None"), and a missing folder with --status called a one-shot folder
    import sqlite3

    from lightning_nas.store import RunStore

    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "search.db").write_text("garbage")
    RunStore(tmp_path / "empty" / "search.db").close()
    (tmp_path / "file").write_text("x")
    for args, needle in (
            (["show", str(tmp_path / "corrupt")], "file is not a database"),
            (["report", str(tmp_path / "corrupt")], "file is not a database"),
            (["show", str(tmp_path / "empty")], "is not a run directory (its search.db holds "
                                                "no search)"),
            (["show", str(tmp_path / "nowhere"), "--status", "all"],
             f"run folder {tmp_path / 'nowhere'} does not exist")):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err and len(err.splitlines()) == 1, err
    with RunStore(tmp_path / "empty" / "search.db", read_only=True) as store:  # reads only
        assert store.trials() == []
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.set_meta("space", {})


def test_the_leaderboard_time_is_training_time_not_the_wait_of_a_paused_trial(tmp_path):
    # was: finished - started, so a trial paused and promoted was charged for the time
    # other trials trained meanwhile
    from lightning_nas.report.tables import leaderboard_rows
    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.store import open_search_store

    with open_search_store(tmp_path, {"space": {"k": {"choice": [1, 2]}}, "monitor": "acc",
                                      "mode": "max"}) as store:
        store.finish_trial(TrialResult(trial_id=store.start_trial({"k": 1}), arch={"k": 1},
                                       status=TrialStatus.COMPLETED, score=0.5, epoch=0,
                                       epochs=4, started=100.0, finished=160.0,
                                       fit_time=12.5, metrics={"acc": 0.5}))
        assert [row["time_s"] for row in leaderboard_rows(store)] == [12.5]


def test_show_rounds_a_trials_time_once_as_its_progress_line_does(tmp_path, capsys):
    # was: 1.5486 s rounded to 1.55 for the rows, then printed 1.6 (the progress line: 1.5s)
    from lightning_nas.results import TrialResult
    from lightning_nas.search.progress import trial_line
    from lightning_nas.store import open_search_store

    with open_search_store(tmp_path, {"space": {"k": {"choice": [1, 2]}}, "monitor": "acc",
                                      "mode": "max"}) as store:
        done = TrialResult(trial_id=store.start_trial({"k": 1}), arch={"k": 1},
                           status=TrialStatus.COMPLETED, score=0.5, epoch=0, epochs=1,
                           started=100.0, finished=102.0, fit_time=1.5486,
                           metrics={"acc": 0.5})
        store.finish_trial(done)
    assert trial_line(done, "acc", 1, 2, done).split()[-2] == "1.5s"
    assert main(["show", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[2].split()[6] == "1.5"
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["leaderboard"][0]["time_s"] == 1.55


def test_the_trial_line_of_a_promoted_trial_says_its_training_time(tmp_path):
    # was: finished - started, where a promoted trial keeps its first start: a trial that
    # trained 0.17 s was printed with the 1144.6 s between two invocations
    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.search.progress import trial_line

    promoted = TrialResult(trial_id=10, arch={"k": 1}, status=TrialStatus.COMPLETED,
                           score=0.5, started=100.0, finished=1244.6, fit_time=0.17)
    assert trial_line(promoted, "acc", 1, 2, promoted).split()[-2] == "0.2s"
    unfit = TrialResult(trial_id=1, arch={"k": 1}, status=TrialStatus.FAILED, error="x",
                        started=0.0, finished=2.5)
    assert trial_line(unfit, "acc", 1, 2, None).split()[-2] == "2.5s"  # wall time


def test_a_report_into_a_file_is_a_one_line_error(finished_run, tmp_path, capsys):
    # was: a FileExistsError traceback, then "error: [Errno 17] File exists: '...'"
    import shutil

    from lightning_nas.errors import ConfigError
    from lightning_nas.report.oneshot import write_oneshot_report
    from lightning_nas.report.plots import write_report
    from lightning_nas.store import open_run

    pytest.importorskip("matplotlib")
    file = tmp_path / "file"
    file.write_text("x")
    for out, said in ((file, f"--out {file} is a file"),
                      (file / "sub", f"--out {file / 'sub'} is under {file}, which is a file")):
        assert main(["report", str(finished_run), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err == f"lightning-nas report: error: {said}; give a folder\n", err
    run = shutil.copytree(finished_run, tmp_path / "run")
    shutil.rmtree(run / "report", ignore_errors=True)  # an earlier test's report
    (run / "report").write_text("x")  # its default folder
    assert main(["report", str(run)]) == 2
    assert capsys.readouterr().err == (f"lightning-nas report: error: the report folder "
                                       f"{run / 'report'} is a file; give a folder\n")
    with open_run(run) as store, pytest.raises(ConfigError, match="is a file; give a folder"):
        write_report(store, file)
    oneshot = tmp_path / "oneshot"
    oneshot.mkdir()
    (oneshot / "best_arch.yaml").write_text("arch: {a: 1}\nscore: 0.5\nalgorithm: spos\n")
    with pytest.raises(ConfigError, match=f"the report folder {file} is a file; give a folder"):
        write_oneshot_report(oneshot, file)
    assert file.read_text() == "x" and (run / "report").read_text() == "x"


def test_the_report_plots_the_knobs_of_a_group_at_a_config_node(tmp_path):
    # a group at a config node (`model.net: {width: ..., depth: ...}`) is stored under its
    # dotted key; was: only `model.lr` plotted (width and depth read as None everywhere)
    pytest.importorskip("matplotlib")
    from lightning_nas.report.plots import plot_choices
    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.store import open_search_store

    space = {"model.net": {"width": {"choice": [4, 16, 32]}, "depth": {"choice": [1, 2]}},
             "model.lr": {"float": [0.05, 0.5], "log": True}}
    with open_search_store(tmp_path, {"space": space, "monitor": "acc", "mode": "max"}) as store:
        for i, (w, d, lr) in enumerate([(4, 1, 0.1), (16, 2, 0.2), (32, 1, 0.3)]):
            arch = {"model.net": {"width": w, "depth": d}, "model.lr": lr}
            store.finish_trial(TrialResult(trial_id=store.start_trial(arch), arch=arch,
                                           status=TrialStatus.COMPLETED, score=0.1 * i,
                                           epoch=0, epochs=1, metrics={"acc": 0.1 * i}))
        knobs = plot_choices(store, tmp_path / "choices.png")
    assert set(knobs) == {"model.net.width", "model.net.depth", "model.lr"}


def test_a_range_of_few_values_is_drawn_against_its_value_not_as_choices(tmp_path):
    # was: a float range with 8 or fewer trials drew each value as a column of its own,
    # evenly spaced, with a "mean" bar over one point
    pytest.importorskip("matplotlib")
    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.store import open_search_store

    space = {"dropout": {"float": [0.0, 0.3]}, "depth": {"int": [1, 6]},
             "width": {"choice": [4, 16]}}
    with open_search_store(tmp_path, {"space": space, "monitor": "acc", "mode": "max"}) as store:
        for i, (p, d, w) in enumerate([(0.11, 1, 4), (0.13, 3, 16), (0.27, 6, 4)]):
            arch = {"dropout": p, "depth": d, "width": w}
            store.finish_trial(TrialResult(trial_id=store.start_trial(arch), arch=arch,
                                           status=TrialStatus.COMPLETED, score=0.1 * i,
                                           epoch=0, epochs=1, metrics={"acc": 0.1 * i}))
        axes = plot_choices(store, tmp_path / "choices.png")
    assert axes == {"dropout": "linear", "depth": "linear", "width": "choice"}


def test_show_json_of_a_oneshot_folder_with_a_nan_score_is_valid_json(tmp_path, capsys):
    # a diverged subnet's score is NaN in history.json (json.dump writes it bare); was:
    # `show --format json` printed `"score": NaN`, which JSON parsers refuse
    (tmp_path / "best_arch.yaml").write_text("arch: {k: 3}\nscore: 0.5\nalgorithm: spos\n"
                                             "mode: min\n")
    history = [{"epoch": 5, "arch": {"k": 3}, "score": 0.5},
               {"epoch": 5, "arch": {"k": 5}, "score": float("nan")}]
    (tmp_path / "history.json").write_text(json.dumps(history))
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out, parse_constant=pytest.fail)
    assert [row["score"] for row in shown["leaderboard"]] == [0.5, None]


def test_show_and_report_of_a_oneshot_folder_say_the_rows_top_cuts(tmp_path, capsys):
    # was: --top 3 of 22 subnets (and the report's 20) cut silently, no shown/of in the JSON
    (tmp_path / "best_arch.yaml").write_text("arch: {k: 21}\nscore: 0.21\nalgorithm: spos\n"
                                             "mode: max\n")
    history = [{"epoch": 4, "arch": {"k": k}, "score": k / 100} for k in range(22)]
    (tmp_path / "history.json").write_text(json.dumps(history))

    def show(*args: str) -> str:
        assert main(["show", str(tmp_path), *args]) == 0
        return capsys.readouterr().out
    table = show("--top", "3")
    assert "\nthe best 3 of 22 (a higher --top shows more)\nrank  epoch  score" in table
    assert "\nthe best 10 of 22 (a higher --top shows more)\n" in show()
    assert "the best" not in show("--top", "30")
    data = json.loads(show("--top", "3", "--format", "json"))
    assert (len(data["leaderboard"]), data["shown"], data["of"]) == (3, 3, 22)
    pytest.importorskip("matplotlib")
    from lightning_nas.report.oneshot import write_oneshot_report

    page = write_oneshot_report(tmp_path, tmp_path / "report")["html"].read_text()
    assert "<h2>Leaderboard (the best 20 of 22)</h2>" in page


@pytest.mark.parametrize(("name", "text"), [
    ("best_arch.yaml", "arch: [1, 2\n"), ("best_arch.yaml", "- 1\n"),
    ("history.json", '{"broken'), ("history.json", '[{"epoch": 1}]'), ("history.json", "5"),
    ("finetune.json", '{"epochs": 1')])
def test_show_and_report_of_a_oneshot_folder_with_a_damaged_file_name_it_in_one_line(
        tmp_path, capsys, name, text):
    # was: a traceback (yaml's ParserError, TypeError, JSONDecodeError, KeyError), exit
    # status 1, and `report` left an empty report/ folder behind
    (tmp_path / "best_arch.yaml").write_text("arch: {k: 3}\nscore: 0.5\nalgorithm: spos\n")
    (tmp_path / "history.json").write_text(json.dumps([{"epoch": 1, "arch": {"k": 3},
                                                         "score": 0.5}]))
    (tmp_path / name).write_text(text)
    for command in ("show", "report"):
        assert main([command, str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"lightning-nas {command}: error: {tmp_path / name} ")
        assert err.count("\n") == 1 and "restore it from a copy" in err
    assert not (tmp_path / "report").exists()


def test_the_oneshot_module_example_shows_what_render_oneshot_prints(tmp_path):
    # was: its leaderboard had no epoch column and no "the best 2 of 50" line
    import doctest

    from lightning_nas.report import oneshot

    best = {"conv1": 32, "conv1_kernel": 5, "blocks": 2}
    (tmp_path / "best_arch.yaml").write_text(yaml.safe_dump(
        {"arch": best, "score": 0.9421, "algorithm": "spos", "mode": "max"}))
    history = [{"epoch": e, "arch": {**best, "blocks": i % 3}, "score": 0.5}
               for e in (5, 10) for i in range(3)]
    history += [{"epoch": 15, "arch": {**best, "conv1": 16 + i}, "score": 0.9 - i / 1000}
                for i in range(49)] + [{"epoch": 15, "arch": best, "score": 0.9421}]
    (tmp_path / "history.json").write_text(json.dumps(history))
    example = next(e for e in doctest.DocTestParser().get_examples(oneshot.__doc__)
                   if "render_oneshot" in e.source)
    got = oneshot.render_oneshot(tmp_path, k=2) + "\n"
    assert doctest.OutputChecker().check_output(
        example.want, got, doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE), got


def test_a_oneshot_folder_of_one_subnet_fine_tuned_one_epoch_says_each_in_the_singular(
        tmp_path, capsys):
    # was: "fine-tuned 1 epochs"
    (tmp_path / "best_arch.yaml").write_text("arch: {k: 3}\nscore: 0.5\nalgorithm: spos\n")
    (tmp_path / "history.json").write_text(json.dumps([{"epoch": 1, "arch": {"k": 3},
                                                         "score": 0.5}]))
    (tmp_path / "finetune.json").write_text(json.dumps({"epochs": 1, "lr": 0.003,
                                                        "metrics": {"val_acc": 0.9}}))
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\nfine-tuned 1 epoch: val_acc=0.9000\n" in out
    assert out.startswith("spos one-shot: 1 subnet scored after 1 epoch;")  # was: 1 subnets
    (tmp_path / "best_arch.yaml").write_text("arch: {k: 3}\nscore: 0.5\nalgorithm: darts\n"
                                              "candidates: [{arch: {k: 3}, score: 0.5}]\n")
    assert main(["show", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("darts one-shot: 1 derived candidate scored;")


def test_a_oneshot_folders_head_line_prints_a_small_score_as_its_table_does(tmp_path, capsys):
    # was: "best 0.0000 (min)" and "val_loss=0.0000" above a table that said 3.2e-05
    (tmp_path / "best_arch.yaml").write_text("arch: {k: 3}\nscore: 3.2e-05\nalgorithm: spos\n"
                                             "mode: min\n")
    (tmp_path / "history.json").write_text(json.dumps([{"epoch": 2, "arch": {"k": 3},
                                                         "score": 3.2e-05}]))
    (tmp_path / "finetune.json").write_text(json.dumps({"epochs": 1, "lr": 0.1,
                                                        "metrics": {"val_loss": 2.1e-05}}))
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "; best 3.2e-05 (min) with shared weights\nfine-tuned 1 epoch: val_loss=2.1e-05\n" in out
    assert "\n1     2      3.2e-05  k=3" in out


def test_show_and_report_of_a_killed_oneshot_run_folder_say_it_did_not_finish(tmp_path,
                                                                               capsys):
    # was: "... is neither a run directory (no search.db) nor a one-shot run folder"
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")  # all a kill left
    for command in ("show", "report"):
        assert main([command, str(tmp_path)]) == 2
        assert capsys.readouterr().err == (
            f"lightning-nas {command}: error: {tmp_path} holds checkpoints/last.ckpt but no "
            f"best_arch.yaml yet: a one-shot run that did not finish? run the command that "
            f"started it again with --ckpt_path last (lightning-nas oneshot CONFIG ... "
            f"--ckpt_path last) to finish it, then show or report it\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints"]


def test_the_progress_plots_axis_labels_lie_within_the_figure(finished_run):
    # was: "minutes since the first trial started (wall clock, pauses between resumes
    # included)" in one line, wider than its panel: cut off at the right ("... includ")
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from lightning_nas.report.plots import progress_figure

    with RunStore(finished_run / "search.db") as store:
        fig = progress_figure(store)
    fig.canvas.draw()
    labels = [ax.xaxis.label for ax in fig.axes]
    assert "pauses between resumes included" in " ".join(labels[1].get_text().split())
    for label in labels:
        box = label.get_window_extent()
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, label.get_text()
    plt.close(fig)


def mostly_failing(arch: dict) -> dict:
    """Fails for 5 ``k`` in 6."""
    if arch["k"] % 6:
        raise ValueError(f"bad k={arch['k']}")
    return {"val_acc": arch["k"] / 100}


def test_a_status_view_lists_every_trial_and_a_cut_is_said(tmp_path, capsys):
    # was: --status failed (or all, any format) silently listed only --top's default 10
    Search(None, {"k": {"int": [0, 60]}}, objective=mostly_failing, monitor="val_acc",
           mode="max", budget=5, seed=0, max_failures=40, optimizer="RandomSearch",
           run_dir=tmp_path, verbose=False).run()
    with RunStore(tmp_path / "search.db") as store:
        failed, every = store.count(TrialStatus.FAILED), len(store)
    assert failed > 10

    def show(*args: str) -> str:
        assert main(["show", str(tmp_path), *args]) == 0
        return capsys.readouterr().out
    table = show("--status", "failed")
    assert table.count("FAILED") == failed and "the first" not in table
    data = json.loads(show("--status", "failed", "--format", "json"))
    assert len(data["trials"]) == data["shown"] == data["of"] == failed
    assert len(show("--status", "all", "--format", "csv").splitlines()) == every + 1
    table = show("--status", "failed", "--top", "4")
    assert f"\nthe first 4 of {failed} failed trials (a higher --top shows more)\n" in table
    assert table.count("FAILED") == 4
    data = json.loads(show("--status", "all", "--format", "json", "--top", "4"))
    assert (len(data["trials"]), data["shown"], data["of"]) == (4, 4, every)
    assert "\nthe best 2 of 5 (a higher --top shows more)\n" in show("--top", "2")
    data = json.loads(show("--format", "json"))  # the leaderboard keeps its 10
    assert (data["shown"], data["of"], len(data["failures"])) == (5, 5, failed)


def test_the_html_report_counts_running_trials_and_says_their_search_is_gone(tmp_path,
                                                                              capsys):
    # was: "1 completed, 0 pruned, 0 paused, 0 failed, 0 rejected" while show said 1 running
    import html
    import socket
    import subprocess

    from lightning_nas.results import TrialResult
    from lightning_nas.store import open_search_store

    pytest.importorskip("matplotlib")
    with open_search_store(tmp_path, {"space": {"k": {"choice": [1, 2]}}, "monitor": "acc",
                                      "mode": "max"}) as store:
        store.finish_trial(TrialResult(trial_id=store.start_trial({"k": 1}), arch={"k": 1},
                                       status=TrialStatus.COMPLETED, score=0.5, epoch=0,
                                       epochs=1, metrics={"acc": 0.5}))
        store.start_trial({"k": 2})  # RUNNING
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()  # a search process killed on this machine
        store.set_meta("driver", {"pid": dead.pid, "host": socket.gethostname()})
    assert main(["show", str(tmp_path)]) == 0
    counts = capsys.readouterr().out.split("; monitor")[0]
    assert counts.endswith("1 running (its search is gone: a resume re-runs them, but one the "
                           "search process ran itself and died in twice is FAILED)")
    assert main(["report", str(tmp_path)]) == 0
    page = (tmp_path / "report" / "report.html").read_text()
    assert f"<p>{html.escape(counts)}; best acc = 0.5000 (trial 1)</p>" in page


def costs_of(arch: dict) -> dict:
    """A cost of 2 or 3001: whole, not a count."""
    return {"val_loss": 0.1 + arch["x"], "cost": [2.0, 3001.0][arch["x"]]}


def test_each_column_of_a_table_has_one_number_format(tmp_path, capsys):
    # was: one objective column with 3001 (a whole float >= 1000 read as a count) beside 2.0000
    Search(None, {"x": {"choice": [0, 1]}}, objective=costs_of, budget=2,
           objectives={"val_loss": "min", "cost": "min"}, optimizer="RandomSearch",
           run_dir=tmp_path, verbose=False).run()
    assert main(["show", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    board = [line.split()[2:4] for line in lines[1:4]]
    assert board == [["score", "cost"], ["0.1000", "2.0000"], ["1.1000", "3001.0000"]]
    front = lines.index("Pareto front (val_loss min, cost min): 1 trial")
    assert lines[front + 2].split()[1:3] == ["0.1000", "2.0000"]
    from lightning_nas.report.tables import format_table

    assert format_table([{"params": 771.0, "flops": 2.0}, {"params": 11264.0, "flops": 3001.0}]
                        ).splitlines()[1:] == ["771     2", "11264   3001"]  # counts whole


@pytest.mark.parametrize(("low", "high", "labels"), [
    (0.003, 0.015, ["0.003", "0.005", "0.01"]),  # the digits run's lr (was: 3x10^-3,
    (24, 100, ["30", "50", "100"]),  # 4x10^-3, ... overlapping); its width
    (0.001, 0.05, ["0.001", "0.002", "0.005", "0.01", "0.02", "0.05"]),
    (1e-5, 0.1, ["1e-05", "0.0001", "0.001", "0.01", "0.1"]),  # over two decades: the powers
    (0.003, 0.0045, ["0.003", "0.004"]),  # under half a decade: every multiple
])
def test_a_log_axis_is_labelled_with_plain_numbers_that_do_not_crowd(low, high, labels):
    fig, ax = pyplot().subplots(figsize=(4.2, 3.2))
    ax.scatter([low, high], [0, 1])
    ax.set_xscale("log")
    plain_log_ticks(ax, low, high)
    fig.canvas.draw()
    shown = [t.get_text() for t in ax.get_xticklabels()
             if low * 0.999 <= t.get_position()[0] <= high * 1.001]
    assert shown == labels
    assert not any(t.get_text() for t in ax.get_xticklabels(minor=True))
    pyplot().close(fig)


def test_a_stopped_trials_score_says_the_epoch_it_is_of(tmp_path, capsys):
    # was: `PAUSED @4 val_acc=0.9401` and `show --status paused` (score 0.9401, epochs 4)
    # read as the value after 4 epochs; it is the best epoch's (epoch 0), the trial's
    # logger had 0.9174 at epoch 3 (the digits example with asha, eta 2)
    from lightning_nas.results import TrialResult
    from lightning_nas.search.progress import trial_line
    from lightning_nas.store import open_search_store

    curve = [0.9401, 0.9018, 0.8216, 0.9174]
    paused = TrialResult(trial_id=0, arch={"k": 2}, status=TrialStatus.PAUSED, score=0.9401,
                         epoch=0, epochs=4, curve=curve, started=0.0, finished=1.0,
                         metrics={"acc": 0.9401})
    with open_search_store(tmp_path, {"space": {"k": {"choice": [1, 2]}}, "monitor": "acc",
                                      "mode": "max"}) as store:
        for k, status, epoch in ((1, TrialStatus.COMPLETED, 3), (2, TrialStatus.PAUSED, 0)):
            paused.trial_id = store.start_trial({"k": k})
            store.finish_trial(TrialResult(
                trial_id=paused.trial_id, arch={"k": k}, status=status, score=0.9401,
                epoch=epoch, epochs=4, curve=curve, metrics={"acc": 0.9401}))
    assert "PAUSED @4 acc=0.9401 (at epoch 0)" in trial_line(paused, "acc", 2, 4, None)
    assert main(["show", str(tmp_path), "--status", "paused", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["trials"]
    assert [(r["score"], r["epochs"], r["best_epoch"]) for r in rows] == [(0.9401, 4, 0)]
    assert main(["show", str(tmp_path), "--status", "all", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["status"], r["best_epoch"]) for r in rows] == [("COMPLETED", "3"), ("PAUSED", "0")]
    assert main(["show", str(tmp_path), "--status", "paused"]) == 0
    header, row = capsys.readouterr().out.splitlines()[1:3]
    assert header.split()[:5] == ["trial", "status", "score", "epochs", "best_epoch"]
    assert row.split()[:5] == ["2", "PAUSED", "0.9401", "4", "0"]


def test_the_alphas_plot_counts_epochs_in_whole_numbers():
    # was: ticks at 1.0, 1.5, 2.0, 2.5, 3.0 for a 3-epoch search, and no axis label
    from lightning_nas.report.plots import alphas_figure

    alphas = {"algorithm": "gdas", "values": {"act": ["relu", "tanh"], "w": [4, 8, 16]},
              "history": [{"epoch": e, "probs": {"act": [0.5, 0.5], "w": [0.2, 0.3, 0.5]}}
                          for e in (1, 2, 3)]}
    fig = alphas_figure(alphas)
    fig.canvas.draw()
    for ax in fig.axes[:2]:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert ax.get_xlabel() == "epoch"

"""Seeing a search in the terminal: ``show``'s tables (failed trials and their errors, every
status counted, a cut status view, one number format per column, scores with the digits
they need, a stopped trial's epoch, training times), what it says of a search whose driver
is gone, the progress bar and plain lines, and bad run folders and outputs as one-line
errors. Real searches, real stores, the real command line."""

from __future__ import annotations

import csv
import io
import json

import pytest

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from lightning_nas.search.progress import Progress
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_report import tiny_losses


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
    # was: "a resume re-runs them", also of one a resume continues from its last.ckpt (a
    # promoted trial, one killed after an epoch ended)
    assert ("1 running (its search is gone: a resume takes them on again, each from its "
            "last.ckpt where an epoch ended, else from its first epoch; but one the search "
            "process ran itself and died in twice is FAILED)") in capsys.readouterr().out
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
            _cell(12.34, "time_s")] == ["11264", "1.0000", "0.9877", "12.3"]


def test_a_cost_named_column_that_holds_no_counts_prints_as_scores():
    from lightning_nas.report.tables import format_table

    # an objective= function's `params` (in millions: 1.5) is no count the search made
    # (was: 2 and 4, 1.5 and 4.5 rounded half to even, beside 3)
    assert format_table([{"params": 1.5}, {"params": 3.0}, {"params": 4.5}]
                        ).splitlines()[1:] == ["1.5000", "3.0000", "4.5000"]
    assert format_table([{"flops": 2.0}, {"flops": float("nan")}]).splitlines()[1:] == [
        "2", "nan"]  # counts and a NaN: whole still


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


def test_show_of_a_live_search_reads_one_moment_of_its_store(tmp_path, monkeypatch, capsys):
    # was: each figure read at its own moment: a trial that finished between two reads was
    # counted in none or in two statuses ("1 completed, ... 1 running" of one trial), and
    # the head's best was not the leaderboard's first
    from tests.helpers_store import finishing_between_reads

    with finishing_between_reads(monkeypatch, tmp_path):
        assert main(["show", str(tmp_path), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    counts = [shown["summary"][s.value.lower()] for s in TrialStatus]
    assert sum(counts) == 1, shown["summary"]
    assert shown["summary"]["best_trial"] == (shown["leaderboard"] or [{"trial": None}])[0][
        "trial"]


def latencies_of(arch: dict) -> dict:
    """An objective of seconds far below 0.1: a latency."""
    return {"val_acc": 0.5 + 0.1 * arch["x"], "latency_s": 0.002 * (1 + arch["x"])}


def test_an_objective_named_in_seconds_shows_its_digits(tmp_path, capsys):
    # was: any column ending in _s printed as the trials' time_s, with one decimal: every
    # trial's latency_s 0.0, the Pareto front's trade-off lost
    Search(None, {"x": {"choice": [0, 1]}}, objective=latencies_of, budget=2,
           objectives={"val_acc": "max", "latency_s": "min"}, optimizer="RandomSearch",
           run_dir=tmp_path, verbose=False).run()
    assert main(["show", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2:4] for line in lines[1:4]] == [
        ["score", "latency_s"], ["0.6000", "0.004"], ["0.5000", "0.002"]]
    front = lines.index("Pareto front (val_acc max, latency_s min): 2 trials")
    assert [line.split()[2] for line in lines[front + 2:front + 4]] == ["0.004", "0.002"]


def test_an_empty_leaderboard_beside_failed_trials_says_none_completed(tmp_path, capsys):
    # was: "(no trial)" under "0 completed, 1 failed", as if the run held no trial
    from lightning_nas.results import TrialResult
    from lightning_nas.store import open_search_store

    with open_search_store(tmp_path, {"space": {"k": {"choice": [1, 2]}}, "monitor": "acc",
                                      "mode": "max"}) as store:
        store.finish_trial(TrialResult(trial_id=store.start_trial({"k": 1}), arch={"k": 1},
                                       status=TrialStatus.FAILED, error="RuntimeError: no"))
    assert main(["show", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "(no completed trial)" in shown and "(no trial)" not in shown, shown
    assert main(["show", str(tmp_path), "--status", "rejected"]) == 0
    assert "(no rejected trial)" in capsys.readouterr().out


def test_a_file_inside_a_run_folder_names_the_folder_to_give(finished_run, capsys):
    # was: "RUN/best.yaml is a file, not a run folder", the folder to give unsaid
    for name in ("best.yaml", "best.ckpt"):
        assert main(["report", str(finished_run / name)]) == 2
        assert capsys.readouterr().err.endswith(
            f"{finished_run / name} is a file, not a run folder: give the folder that holds "
            f"it, {finished_run}\n")


def test_an_objective_searchs_trials_show_no_epoch_as_they_train_none(tmp_path, capsys):
    # was: "epochs -" beside "best_epoch 0": a trial of an objective= search is one call,
    # with no epochs (the README's word), stored with epoch 0
    Search(None, {"k": {"choice": [0, 1]}}, objective=tiny_losses, monitor="val_loss",
           mode="min", budget=2, optimizer="RandomSearch", run_dir=tmp_path).run()
    capsys.readouterr()
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["leaderboard"]
    assert [(r["epochs"], r["best_epoch"]) for r in rows] == [(None, None)] * 2, rows
    assert main(["show", str(tmp_path), "--status", "all", "--format", "csv"]) == 0
    listed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {(r["epochs"], r["best_epoch"]) for r in listed} == {("", "")}, listed


def test_top_0_says_the_rows_it_cut_not_that_none_completed(finished_run, capsys):
    # was: "the best 0 of 2 (a higher --top shows more)" then "(no completed trial)"
    assert main(["show", str(finished_run), "--top", "0"]) == 0
    shown = capsys.readouterr().out
    assert "\nthe best 0 of " in shown and "(no completed trial)" not in shown, shown


def test_status_completed_given_lists_every_completed_trial(tmp_path, capsys):
    # was: `--status completed` was the default's leaderboard, cut to 10 ("the best 10 of
    # 12"), where the README says --status lists every trial of that status unless --top
    from lightning_nas.results import TrialResult

    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        for i in range(12):
            tid = store.start_trial({"k": i})
            store.finish_trial(TrialResult(trial_id=tid, arch={"k": i}, score=i / 12,
                                           status=TrialStatus.COMPLETED))

    def show(*args: str) -> str:
        assert main(["show", str(tmp_path), *args]) == 0
        return capsys.readouterr().out
    data = json.loads(show("--status", "completed", "--format", "json"))
    assert (data["shown"], data["of"]) == (12, 12)
    assert "the best" not in show("--status", "completed")
    assert "\nthe best 4 of 12 (a higher --top shows more)\n" in show(
        "--status", "completed", "--top", "4")
    assert "\nthe best 10 of 12 (a higher --top shows more)\n" in show()  # the leaderboard

"""``lightning-nas show RUN --format csv`` carries the notes ``show``'s table says (a DDP
validation split its ranks do not divide) in a ``notes`` column: a search run's per trial,
a one-shot run's on each subnet's row; real stores, a real tiny one-shot run."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import yaml

from lightning_nas.cli import main
from lightning_nas.oneshot.run_notes import add_notes
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.split_record import record_uneven
from lightning_nas.store import RunStore
from lightning_nas.validation_limit import limited_text

#: a note as the split check writes it: commas and quotes, which CSV must quote
NOTE = ('the validation set holds 101 samples, which 2 ranks do not divide: "repeats" 1 '
        'of them')


def _rows(capsys, *argv: str) -> list[dict[str, str]]:
    assert main(["show", *argv, "--format", "csv"]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def _noted_run(folder: Path, objectives: bool = False, limit: float | None = None) -> None:
    """A search run of 3 trials (trial 2 failed) with notes: trials 1 and 3 one, 2 two;
    ``objectives``: with a second one, ``params``, that puts trials 1 and 3 on the front;
    ``limit``: its Trainer's ``limit_val_batches``."""
    with RunStore(folder / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        if limit is not None:
            store.set_meta("trainer", {"limit_val_batches": limit})
        if objectives:
            store.set_meta("objectives", {"val_acc": "max", "params": "min"})
        for k in range(3):
            tid = store.start_trial({"k": k})
            failed = k == 1
            store.finish_trial(TrialResult(
                trial_id=tid, arch={"k": k}, score=None if failed else k / 10,
                metrics={} if failed else {"val_acc": k / 10, "params": 10.0 * k},
                status=TrialStatus.FAILED if failed else TrialStatus.COMPLETED,
                error="ValueError: bad k,\nsecond line" if failed else None))
        record_uneven(store, 1, [NOTE])
        record_uneven(store, 2, [NOTE, "a second note"])
        record_uneven(store, 3, [NOTE])


def test_a_search_runs_csv_has_each_trials_notes(tmp_path, capsys):
    # was: no notes column (the table says "note (trials 1, 3): ..." below the best)
    _noted_run(tmp_path)
    rows = _rows(capsys, str(tmp_path))
    assert [(r["trial"], r["notes"]) for r in rows] == [("3", NOTE), ("1", NOTE)]
    assert list(rows[0]) == ["rank", "trial", "score", "status", "epochs", "best_epoch",
                             "time_s", "arch", "notes"]
    rows = _rows(capsys, str(tmp_path), "--status", "all")
    assert [(r["trial"], r["notes"]) for r in rows] == [
        ("1", NOTE), ("2", f"{NOTE}; a second note"), ("3", NOTE)]
    assert rows[1]["error"] == "ValueError: bad k,"
    empty = tmp_path / "empty"
    with RunStore(empty / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
    assert main(["show", str(empty), "--format", "csv"]) == 0  # no rows: the header
    assert capsys.readouterr().out.strip().endswith(",arch,notes")


def test_a_search_runs_json_has_each_rows_notes_as_the_csv(tmp_path, capsys):
    # was: the JSON's rows had no notes (its summary's notes alone, by trial)
    _noted_run(tmp_path)
    for status, key in (("completed", "leaderboard"), ("all", "trials")):
        csv_rows = _rows(capsys, str(tmp_path), "--status", status)
        assert main(["show", str(tmp_path), "--status", status, "--format", "json"]) == 0
        rows = json.loads(capsys.readouterr().out)[key]
        assert [(r["trial"], r["notes"]) for r in rows] == [
            (int(r["trial"]), r["notes"]) for r in csv_rows]
        assert [r["notes"] for r in rows][-1] == NOTE and list(rows[0])[-1] == "notes"


def test_a_search_runs_json_front_and_failures_have_notes_as_the_csv(tmp_path, capsys):
    # was: the JSON's pareto_front and failures rows had no notes (KeyError: 'notes')
    _noted_run(tmp_path, objectives=True)
    notes = {int(r["trial"]): r["notes"] for r in _rows(capsys, str(tmp_path), "--status",
                                                        "all")}
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key, trials in (("pareto_front", [3, 1]), ("failures", [2])):
        assert [(r["trial"], r["notes"]) for r in out[key]] == [
            (t, notes[t]) for t in trials], key
        assert list(out[key][0])[-1] == "notes"


def test_a_failed_trials_row_says_no_limited_validation_of_the_score_it_has_not(tmp_path,
                                                                                capsys):
    # was: the failed trial's row said its score is over part of the validation data too;
    # its other notes (a split it validated) are kept
    _noted_run(tmp_path, objectives=True, limit=0.5)
    limited = limited_text(0.5)
    want = {1: f"{NOTE}; {limited}", 2: f"{NOTE}; a second note", 3: f"{NOTE}; {limited}"}
    rows = _rows(capsys, str(tmp_path), "--status", "all")
    assert {int(r["trial"]): r["notes"] for r in rows} == want
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["trial"], r["notes"]) for r in out["failures"]] == [(2, want[2])]
    assert [(r["trial"], r["notes"]) for r in out["leaderboard"]] == [(3, want[3]),
                                                                       (1, want[1])]
    # the front's rows (no score column: their objectives) are of scored trials: they keep it
    assert [(r["trial"], r["notes"]) for r in out["pareto_front"]] == [(3, want[3]),
                                                                        (1, want[1])]


def test_a_oneshot_runs_csv_has_its_notes_on_each_row(tmp_path, capsys):
    run = tmp_path / "run"
    cfg = {"model": "tests.helpers.TinySupernet",
           "data": {"class_path": "tests.helpers.BlobData",
                    "init_args": {"n": 128, "batch_size": 32}},
           "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                       "limit_train_batches": 2},
           "oneshot": {"algorithm": "spos", "calibration_batches": 1, "num_classes": 3,
                       "seed": 0, "run_dir": str(run), "num_candidates": 2}}
    config = tmp_path / "oneshot.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert main(["oneshot", str(config)]) == 0
    capsys.readouterr()
    rows = _rows(capsys, str(run))
    assert rows and all(r["notes"] == "" for r in rows)  # empty where none
    assert add_notes(Path(run), [NOTE, "a second note"])
    rows = _rows(capsys, str(run))
    assert rows and all(r["notes"] == f"{NOTE}; a second note" for r in rows)

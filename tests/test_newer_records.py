"""A run folder whose ``search.db`` a newer version wrote, with keys this version does not
know: its stored warm-start report (meta ``warm_start``) with a key more per source and at
its top, its tables with a column more. It is read, shown, reported and resumed without
error. Real stores (objective searches, nothing trains), real SQLite, the real command line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.search.warm_report import SourceReport, WarmStartReport
from lightning_nas.store import open_run

SPACE = {"w": {"choice": [1, 2, 3, 4]}}


def _acc(arch: dict) -> dict:
    return {"val_acc": arch["w"] * 0.1}


def _search(run: Path, budget: int, **kw) -> Search:
    return Search(None, SPACE, objective=_acc, monitor="val_acc", mode="max", budget=budget,
                  seed=0, run_dir=run, verbose=False, optimizer="RandomSearch", **kw)


@pytest.fixture
def newer_run(tmp_path: Path) -> tuple[Path, str]:
    """A run warm-started from a 3-trial one, then written on by a newer version: a key
    more in its warm-start report (per source and at the top), a column more in its
    trials and priors tables. The run, and its source's report line as this version said it."""
    _search(tmp_path / "source", 3).run()
    run = tmp_path / "run"
    _search(run, 1, warm_start=[str(tmp_path / "source")]).run()
    with open_run(run) as store:
        line = WarmStartReport.from_dict(store.get_meta("warm_start")).describe()
    with sqlite3.connect(run / "search.db") as db:
        (text,) = db.execute("SELECT value FROM meta WHERE key = 'warm_start'").fetchone()
        report = json.loads(text)
        report["sources"][0]["newer_key"] = {"what": "a newer version's count"}
        report["newer_top_key"] = 1
        db.execute("UPDATE meta SET value = ? WHERE key = 'warm_start'", (json.dumps(report),))
        for table in ("trials", "priors"):
            db.execute(f"ALTER TABLE {table} ADD COLUMN newer_column TEXT DEFAULT 'x'")
    db.close()
    return run, line


def test_a_stored_report_with_a_key_more_is_read_as_this_version_wrote_it(newer_run):
    # was: TypeError: SourceReport.__init__() got an unexpected keyword argument 'newer_key'
    run, line = newer_run
    with open_run(run) as store:
        stored = store.get_meta("warm_start")
    assert "newer_key" in stored["sources"][0]
    report = WarmStartReport.from_dict(stored)
    assert report.describe() == line
    assert (report.sources[0].trials, report.sources[0].used) == (3, 3)
    assert SourceReport.from_dict(stored["sources"][0]).describe() == line


def test_show_and_its_json_read_a_stored_report_with_a_key_more(newer_run, capsys):
    run, _ = newer_run
    assert main(["show", str(run)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"warm start: 3 of 3 results of {(run.parent / 'source').resolve()}" in out, out
    assert main(["show", str(run), "--format", "json"]) == 0, capsys.readouterr().err
    shown = json.loads(capsys.readouterr().out)
    (source,) = shown["summary"]["warm_start"]
    assert (source["trials"], source["used"], source["skipped"]) == (3, 3, [])
    assert [row["trial"] for row in shown["leaderboard"]] == [1]


def test_report_reads_a_stored_report_with_a_key_more(newer_run):
    pytest.importorskip("matplotlib")
    run, _ = newer_run
    assert main(["report", str(run)]) == 0
    page = (run / "report" / "report.html").read_text()
    assert "warm start: 3 of 3 results of" in page


def test_a_resume_reads_a_stored_report_with_a_key_more(newer_run):
    run, _ = newer_run
    result = _search(run, 2, warm_start=[str(run.parent / "source")]).run()
    assert len(result.trials) == 2
    with open_run(run) as store:
        assert len(store.priors()) == 3

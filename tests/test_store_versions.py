"""Stores an older version wrote (the first release's, one of objectives kept sorted) read
read-only without a change and resumed, and the objectives a store keeps: a resume with
them in another order, or with another one, is refused (leaving an older store as it was),
one objective and its monitor and mode resume each other, ties of the first objective go
by the later ones. Real SQLite files, real nevergrad."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.store import RunStore, open_run, open_search_store


def _first_release_store(path) -> None:
    """A store as the first release wrote it: no columns of ``ADDED_COLUMNS``."""
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE trials (id INTEGER PRIMARY KEY, arch TEXT NOT NULL,
            arch_key TEXT NOT NULL, status TEXT NOT NULL, score REAL,
            metrics TEXT NOT NULL DEFAULT '{}', epoch INTEGER, started REAL, finished REAL,
            fit_time REAL, checkpoint TEXT, error TEXT);
        CREATE TABLE priors (id INTEGER PRIMARY KEY, source TEXT NOT NULL,
            source_trial INTEGER NOT NULL, task TEXT NOT NULL, arch TEXT NOT NULL,
            score REAL, loss REAL NOT NULL);
        INSERT INTO trials (arch, arch_key, status, score) VALUES
            ('{"k": 3}', 'k=3', 'COMPLETED', 0.5);
        INSERT INTO priors (source, source_trial, task, arch, score, loss) VALUES
            ('runs/a', 4, 'runs/a', '{"k": 1}', 0.7, -0.7);
    """)
    old.close()


def test_a_store_of_the_first_release_gains_the_later_columns(tmp_path):
    path = tmp_path / "search.db"
    _first_release_store(path)
    with RunStore(path) as s:
        trial = s.get(1)
        assert (trial.arch, trial.score, trial.curve, trial.epochs) == ({"k": 3}, 0.5, [], None)
        assert s.priors() == [{"source": "runs/a", "source_trial": 4, "task": "runs/a",
                               "arch": {"k": 1}, "score": 0.7, "loss": -0.7, "losses": None}]
        s.add_priors([{"source": "runs/b", "source_trial": 1, "task": "runs/b",
                       "arch": {"k": 2}, "score": 0.9, "loss": -0.9, "losses": [-0.9, 12.0]}],
                     {"sources": []})
        assert s.priors()[1]["losses"] == [-0.9, 12.0]


def test_a_store_of_the_first_release_is_read_read_only_without_a_change(tmp_path):
    # was: "no such column: curve" (a warm start from a run on a read-only mount, `show`
    # of another user's run): the columns added since are read as their defaults
    path = tmp_path / "search.db"
    _first_release_store(path)
    before = path.read_bytes()
    with RunStore(path, read_only=True) as s:
        trial = s.get(1)
        assert (trial.arch, trial.score, trial.curve, trial.epochs) == ({"k": 3}, 0.5, [], None)
        assert [t.trial_id for t in s.trials()] == [t.trial_id for t in s.leaderboard()] == [1]
        assert s.attempts(1) == 1
        assert s.priors() == [{"source": "runs/a", "source_trial": 4, "task": "runs/a",
                               "arch": {"k": 1}, "score": 0.7, "loss": -0.7, "losses": None}]
    assert path.read_bytes() == before  # not migrated


def test_show_and_open_run_of_an_older_version_run_write_nothing_into_it(tmp_path, capsys):
    # was: open_run opened a writable folder to write (WAL, the fits table and the later
    # columns added) although show, report, export and warm starts only read
    path = tmp_path / "search.db"
    _first_release_store(path)
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("monitor", '"val_acc"'), ("mode", '"max"'), ("space", '{"k": [1, 2, 3]}')])
    db.close()
    before, files = path.read_bytes(), sorted(p.name for p in tmp_path.iterdir())
    assert main(["show", str(tmp_path)]) == 0
    assert "0.5" in capsys.readouterr().out
    with open_run(tmp_path) as store:
        assert store.best("max").arch == {"k": 3}
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    fresh = tmp_path / "fresh"  # a search that has made its file, not yet its tables
    fresh.mkdir()
    sqlite3.connect(fresh / "search.db").close()
    with pytest.raises(FileNotFoundError, match="its search.db holds no search"):
        open_run(fresh)  # was: "no such table: meta" (read-only: no tables made)


def test_show_of_a_run_copied_without_its_shm_file_reads_its_wal_and_writes_nothing(
        tmp_path, capsys):
    # was: a run folder copied with search.db and search.db-wal only (a live run's files):
    # show, report and an export's read made search.db-shm beside them
    source, run = tmp_path / "source", tmp_path / "run"
    source.mkdir()
    run.mkdir()
    _first_release_store(source / "search.db")
    db = sqlite3.connect(source / "search.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executemany("INSERT INTO meta VALUES (?, ?)", [  # in search.db-wal only
        ("monitor", '"val_acc"'), ("mode", '"max"'), ("space", '{"k": [1, 2, 3]}')])
    db.execute("UPDATE trials SET score = 0.75")
    for name in ("search.db", "search.db-wal"):
        shutil.copyfile(source / name, run / name)
    db.close()
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert main(["show", str(run)]) == 0
    assert "0.75" in capsys.readouterr().out
    with open_run(run) as store:
        assert store.best("max").score == 0.75
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_a_resume_with_the_objectives_in_another_order_is_refused(tmp_path):
    # was: accepted (dicts compare without order); the optimizer was then told loss vectors
    # in the new order after ones in the old, cost against latency
    fixed = {"space": {"k": {"choice": [1, 2]}}, "monitor": "acc",
             "objectives": {"acc": "max", "cost": "min", "lat": "min"}}
    open_search_store(tmp_path, fixed).close()
    open_search_store(tmp_path, fixed).close()  # the same order resumes
    reordered = {**fixed, "objectives": {"acc": "max", "lat": "min", "cost": "min"}}
    with pytest.raises(ConfigError, match=r"holds a search with a different objectives \(stored "
                                          r"\{'acc': 'max', 'cost': 'min', 'lat': 'min'\}, now "
                                          r"\{'acc': 'max', 'lat': 'min', 'cost': 'min'\}\)"):
        open_search_store(tmp_path, reordered)
    # a folder whose search completed no trial (a misspelt objective stopped it) says how to
    # start anew, where it only said to keep the same objectives
    with pytest.raises(ConfigError, match=rf"\(it completed no trial: remove {tmp_path} to "
                                          rf"start anew\)"):
        open_search_store(tmp_path, reordered)


def test_ties_of_the_first_objective_go_by_the_later_ones(tmp_path):
    # was: to the earlier trial, so best.yaml / best.ckpt could be a trial another one beats
    # on every objective (val_acc in steps of 1/64 ties often)
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("objectives", {"val_acc": "max", "params": "min"})
        for size, acc in ((500, 0.9), (300, 0.9), (100, 0.8), (None, 0.9)):
            tid = store.start_trial({"size": size})
            metrics = {"val_acc": acc, **({} if size is None else {"params": size})}
            store.finish_trial(TrialResult(trial_id=tid, arch={"size": size}, score=acc,
                                           metrics=metrics, status=TrialStatus.COMPLETED))
        assert [t.arch["size"] for t in store.leaderboard("max")] == [300, 500, None, 100]
        assert store.best("max").arch["size"] == 300


def test_objectives_an_early_store_kept_sorted_read_with_the_monitor_first(tmp_path, capsys):
    # the earliest versions wrote meta sorted by key: {size: min, val_acc: max} for
    # objectives {val_acc: max, size: min} (was: shown as val_acc twice without size, and a
    # resume refused "a different objectives", whatever order it was given)
    import json

    from lightning_nas import Search

    def toy(arch):
        return {"val_acc": arch["x"] / 10, "size": float(arch["x"] % 3)}

    def search(budget):
        return Search(None, {"x": {"int": [1, 9]}}, objective=toy, budget=budget, seed=0,
                      objectives={"val_acc": "max", "size": "min"}, run_dir=tmp_path,
                      verbose=False).run()

    search(3)
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("objectives", {"size": "min", "val_acc": "max"})
        assert list(store.objectives()) == ["val_acc", "size"]
    assert len(search(5).trials) == 5
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["leaderboard"]
    assert all(r["size"] == r["arch"]["x"] % 3 and r["score"] == r["arch"]["x"] / 10
               for r in rows)


def test_a_first_release_store_without_objectives_resumes_as_a_search_without_them(tmp_path):
    # the first release wrote no `objectives` meta key (was: every resume refused "holds a
    # search started without objectives", whatever it was given)
    from lightning_nas import Search

    def search(budget, **kw):
        return Search(None, {"x": {"int": [1, 9]}}, objective=lambda a: {"val_acc": a["x"] / 10},
                      budget=budget, seed=0, run_dir=tmp_path, verbose=False, **kw).run()

    search(2)
    with sqlite3.connect(tmp_path / "search.db") as db:  # as the first release left it
        db.execute("DELETE FROM meta WHERE key = 'objectives'")
    db.close()
    with pytest.raises(ConfigError, match=r"holds a search with a different objectives \(stored "
                                          r"None, now \{'val_acc': 'max', 'size': 'min'\}\)"):
        search(4, objectives={"val_acc": "max", "size": "min"})
    assert len(search(4).trials) == 4


def test_a_refused_resume_leaves_an_older_versions_store_as_it_was(tmp_path):
    # the README: "nothing is written" (was: the store was migrated, tables and columns
    # added, before the changed monitor was refused)
    db = tmp_path / "search.db"
    with sqlite3.connect(db) as old:  # the first release's tables
        old.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        old.execute("CREATE TABLE trials (id INTEGER PRIMARY KEY, arch TEXT NOT NULL, "
                    "arch_key TEXT NOT NULL, status TEXT NOT NULL, score REAL, metrics TEXT "
                    "NOT NULL DEFAULT '{}', epoch INTEGER, started REAL, finished REAL, "
                    "fit_time REAL, checkpoint TEXT, error TEXT, curve TEXT NOT NULL "
                    "DEFAULT '[]')")
        old.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("space", '{"k": {"choice": [1, 2]}}'), ("monitor", '"acc"'), ("mode", '"max"')])
    old.close()
    before = db.read_bytes()
    fixed = {"space": {"k": {"choice": [1, 2]}}, "monitor": "loss", "mode": "max"}
    with pytest.raises(ConfigError, match=r"different monitor \(stored 'acc', now 'loss'\)"):
        open_search_store(tmp_path, fixed, hold=True)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search.db", "search.lock"]
    open_search_store(tmp_path, {**fixed, "monitor": "acc"}, hold=True).close()  # migrated
    assert db.read_bytes() != before


@pytest.mark.parametrize("first,then", [(None, {"acc": "max"}), ({"acc": "max"}, None)])
def test_one_objective_and_its_monitor_and_mode_resume_each_other(tmp_path, first, then):
    # one objective ranks as monitor/mode do (same front, same kept checkpoints), so a run
    # started one way resumes the other (was: "holds a search with a different objectives")
    fixed = {"space": {"k": {"choice": [1, 2]}}, "monitor": "acc", "mode": "max"}
    open_search_store(tmp_path, {**fixed, "objectives": first}).close()
    open_search_store(tmp_path, {**fixed, "objectives": then}).close()
    with pytest.raises(ConfigError, match="a different objectives"):  # another one is not
        open_search_store(tmp_path, {**fixed, "objectives": {"acc": "min"}})

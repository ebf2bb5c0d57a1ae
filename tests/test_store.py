"""Tests of ``lightning_nas.store``: the SQLite run store, on a real file in ``tmp_path``.

Covers the trial life cycle (start, finish, restart), meta values, leaderboard order and
ties, ``best``, ``count``, ``clear_checkpoint``, NaN scores, missing ids and that a second
connection (a resumed process) sees every change at once.
"""

from __future__ import annotations

import math
import random
import shutil
import sqlite3

import pytest

from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialResult, TrialStatus, leaderboard
from lightning_nas.store import RunStore, open_run, open_search_store


@pytest.fixture
def store(tmp_path):
    with RunStore(tmp_path / "run" / "search.db") as s:
        yield s


def _finish(store: RunStore, tid: int, score: float | None,
            status: TrialStatus = TrialStatus.COMPLETED, **kw) -> None:
    store.finish_trial(TrialResult(trial_id=tid, arch=store.get(tid).arch, status=status,
                                   score=score, **kw))


def _scored(store: RunStore, scores: list[float | None]) -> list[int]:
    ids = []
    for i, score in enumerate(scores):
        tid = store.start_trial({"k": i})
        _finish(store, tid, score)
        ids.append(tid)
    return ids


def test_creates_the_file_and_its_folder(tmp_path):
    path = tmp_path / "a" / "b" / "search.db"
    with RunStore(path) as s:
        assert s.trials() == []
    assert path.is_file()


@pytest.mark.parametrize("inside", ["", "sub/run"])
def test_a_run_dir_at_or_under_a_file_is_refused(tmp_path, inside):
    # was: FileExistsError / NotADirectoryError from mkdir, naming neither setting nor cure
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"`hydra.sweeper.run_dir` .* cannot be a folder: "
                                          r".*notes.txt is a file"):
        open_search_store(tmp_path / "notes.txt" / inside, {"monitor": "acc"},
                          run_dir_key="hydra.sweeper.run_dir")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_trial_life_cycle(store):
    arch = {"k": 3, "head": {"w": 8}, "act": "relu"}
    tid = store.start_trial(arch)
    trial = store.get(tid)
    assert trial.status is TrialStatus.RUNNING
    assert trial.arch == arch
    assert trial.started is not None and trial.finished is None and trial.score is None

    store.finish_trial(TrialResult(
        trial_id=tid, arch=arch, status=TrialStatus.COMPLETED, score=0.75,
        metrics={"val_acc": 0.75, "val_loss": 0.5}, epoch=2, finished=trial.started + 5,
        fit_time=4.5, checkpoint="/ckpt/t1.ckpt", curve=[0.5, 0.6, 0.75]))
    done = store.get(tid)
    assert done.status is TrialStatus.COMPLETED
    assert done.score == 0.75
    assert done.metrics == {"val_acc": 0.75, "val_loss": 0.5}
    assert done.epoch == 2 and done.fit_time == 4.5
    assert done.finished == trial.started + 5
    assert done.checkpoint == "/ckpt/t1.ckpt"
    assert done.curve == [0.5, 0.6, 0.75]
    assert done.error is None

    store.restart_trial(tid)
    again = store.get(tid)
    assert again.status is TrialStatus.RUNNING
    assert again.score is None and again.metrics == {} and again.curve == []
    assert again.checkpoint is None and again.finished is None and again.epoch is None
    assert again.started >= trial.started
    assert again.arch == arch


def test_failed_trial_keeps_its_error(store):
    tid = store.start_trial({"k": 1})
    _finish(store, tid, None, status=TrialStatus.FAILED, error="RuntimeError: boom\ntrace")
    trial = store.get(tid)
    assert trial.status is TrialStatus.FAILED
    assert trial.error == "RuntimeError: boom\ntrace"
    assert trial.score is None
    assert store.best() is None


def test_ids_statuses_and_counts(store):
    ids = [store.start_trial({"k": i}) for i in range(4)]
    assert ids == sorted(ids) and len(set(ids)) == 4
    _finish(store, ids[0], 0.5)
    _finish(store, ids[1], None, status=TrialStatus.FAILED, error="x")
    _finish(store, ids[2], 0.1, status=TrialStatus.PRUNED)
    assert store.count(TrialStatus.COMPLETED) == 1
    assert store.count(TrialStatus.FAILED) == 1
    assert store.count(TrialStatus.PRUNED) == 1
    assert store.count(TrialStatus.RUNNING) == 1
    assert [t.trial_id for t in store.trials()] == ids
    assert [t.trial_id for t in store.trials(TrialStatus.RUNNING)] == [ids[3]]
    assert [t.arch for t in store.trials(TrialStatus.FAILED)] == [{"k": 1}]


def test_meta_round_trip(store):
    value = {"space": {"g": {"h": {"choice": [1, 2.5, "a", None, True]}}}, "n": [1, [2, {}]]}
    store.set_meta("space", value)
    assert store.get_meta("space") == value
    store.set_meta("space", 3)  # replaced, not duplicated
    assert store.get_meta("space") == 3
    assert store.get_meta("missing") is None
    assert store.get_meta("missing", {"d": 1}) == {"d": 1}


def test_the_threads_of_each_fit_of_a_trial(store):
    # one count per fit: a re-run from scratch starts anew, a resume (promotion) adds one
    first, second = store.start_trial({"k": 1}), store.start_trial({"k": 2})
    assert store.fits(first) == [None] and not store.fits_recorded(first)  # no record yet
    store.note_fit(first, 2)
    assert store.fits_recorded(first)
    store.note_fit(second, None)
    store.note_fit(first, 1, resumed=True)
    assert [store.fits(first), store.fits(second)] == [[2, 1], [None]]
    store.note_fit(first, 4)
    assert store.fits(first) == [4]
    # an older version's one count per run: its trials read it, else threads_per_trial,
    # the same before and after a promotion (was: threads_per_trial read None there)
    store.set_meta("settings", {"threads_per_trial": 2})
    older = store.start_trial({"k": 4})
    assert store.fits(older) == [2]
    store.note_fit(older, 1, resumed=True)
    assert store.fits(older) == [2, 1]
    store.set_meta("trial_threads", 3)
    old = store.start_trial({"k": 3})
    assert store.fits(old) == [3]
    store.note_fit(old, 1, resumed=True)
    assert store.fits(old) == [3, 1]


def test_a_submit_writes_the_fits_of_its_trial_alone(tmp_path):
    # was: meta fit_threads, the fits of every trial, rewritten at each submit (62 KiB at
    # 5000 trials, through the WAL each time): now one row of table fits per trial
    with RunStore(tmp_path / "search.db") as store:
        ids = [store.start_trial({"k": i}) for i in range(50)]
        meta = store._db.execute("SELECT key, value FROM meta ORDER BY key").fetchall()
        for tid in ids:
            store.note_fit(tid, tid % 3 or None)
        store.note_fit(ids[0], 2, resumed=True)
        assert store._db.execute("SELECT key, value FROM meta ORDER BY key").fetchall() == meta
        assert [store.fits(t) for t in ids[:4]] == [[1, 2], [2], [None], [1]]


def test_the_fits_an_older_version_kept_in_meta_are_read(tmp_path):
    path = tmp_path / "search.db"
    with RunStore(path) as store:
        store.start_trial({"k": 1}), store.start_trial({"k": 2})
        store.set_meta("fit_threads", {"1": [2, 1]})  # as an older version kept them
        store.set_meta("settings", {"threads_per_trial": 3})
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE fits")
    with RunStore(path, read_only=True) as store:  # read as it is: no table fits
        assert [store.fits(1), store.fits(2)] == [[2, 1], [3]]
        assert store.fits_recorded(1) and not store.fits_recorded(2)
    with RunStore(path) as store:  # opened to resume: a promotion goes after the earlier
        store.note_fit(1, 4, resumed=True)
        store.note_fit(2, 1)
        assert [store.fits(1), store.fits(2)] == [[2, 1, 4], [1]]
        assert store.fits_recorded(2)


def test_leaderboard_of_k_is_the_first_k_of_the_whole_board(tmp_path):
    # leaderboard(k) and best() read only the trials scored at least as well as the k-th
    # (SQL finds its score); the same trials in the same order as the whole board sorted
    rng = random.Random(0)
    odd = [math.nan, math.inf, -math.inf, None, True, "x", 0.0, -0.0]
    for run in range(18):  # the monitor alone (SQL ranks ties too), or with others
        objectives = [{"s": "max", "a": rng.choice(["max", "min"]), "b": "min"}, {"s": "max"},
                      None][run % 3]
        with RunStore(tmp_path / f"r{run}" / "search.db") as store:
            if objectives is not None:
                store.set_meta("objectives", objectives)
            for i in range(40):
                tid = store.start_trial({"i": i})
                score = rng.choice([*odd[:4], 0.5, 1.0, rng.choice([0.1, 0.2, 0.3])])
                metrics = {n: rng.choice(odd) if rng.random() < 0.3 else rng.randint(0, 2)
                           for n in ("a", "b") if rng.random() > 0.2}
                _finish(store, tid, score, rng.choice([TrialStatus.COMPLETED] * 4 + [
                    TrialStatus.FAILED, TrialStatus.PRUNED]), metrics=metrics)
            for mode in ("max", "min"):
                board = leaderboard(store.trials(), mode, objectives)
                for k in (None, 0, 1, 2, 3, 5, 17, 40, 50):
                    want = board if k is None else board[:k]
                    assert [t.trial_id for t in store.leaderboard(mode, k=k)] == [
                        t.trial_id for t in want], (run, mode, k)
                assert store.best(mode).trial_id == board[0].trial_id


def test_best_reads_only_the_trials_it_ranks(tmp_path):
    # was: every completed trial read and JSON-decoded, twice per trial (44 ms per trial
    # at 1000 trials, 180 ms at 4000)
    path = tmp_path / "search.db"
    with RunStore(path) as store:
        ids = _scored(store, [0.3, 0.9, 0.1, 0.9, 0.5])
    with sqlite3.connect(path) as db:  # trials ranked below the second: unreadable
        db.execute("UPDATE trials SET metrics = 'not JSON' WHERE score < 0.9")
    with RunStore(path) as store:
        assert store.best("max").trial_id == ids[1]
        assert [t.trial_id for t in store.leaderboard("max", k=2)] == [ids[1], ids[3]]


def test_best_of_many_tied_trials_reads_only_the_earliest(tmp_path):
    # was: every trial tied at the k-th score read and decoded at each call (a saturated
    # val_acc: 358 ms per trial at 5000 tied trials)
    path = tmp_path / "search.db"
    with RunStore(path) as store:
        ids = _scored(store, [0.5, 1.0, 1.0, 0.9, 1.0, 1.0])
    with sqlite3.connect(path) as db:  # the later trials of the tie: unreadable
        db.execute("UPDATE trials SET metrics = 'not JSON' WHERE id > ?", (ids[4],))
    with RunStore(path) as store:
        assert store.best("max").trial_id == ids[1]
        assert [t.trial_id for t in store.leaderboard("max", k=3)] == [ids[1], ids[2], ids[4]]
        assert [t.trial_id for t in store.leaderboard("min", k=2)] == [ids[0], ids[3]]


def test_leaderboard_max_and_min(store):
    ids = _scored(store, [0.3, 0.9, 0.1, 0.5])
    assert [t.trial_id for t in store.leaderboard("max")] == [ids[1], ids[3], ids[0], ids[2]]
    assert [t.trial_id for t in store.leaderboard("min")] == [ids[2], ids[0], ids[3], ids[1]]
    assert [t.trial_id for t in store.leaderboard("max", k=2)] == [ids[1], ids[3]]
    assert store.best("max").trial_id == ids[1]
    assert store.best("min").trial_id == ids[2]


def test_leaderboard_ties_earlier_trial_first(store):
    ids = _scored(store, [0.5, 0.7, 0.5, 0.7])
    assert [t.trial_id for t in store.leaderboard("max")] == [ids[1], ids[3], ids[0], ids[2]]
    assert [t.trial_id for t in store.leaderboard("min")] == [ids[0], ids[2], ids[1], ids[3]]
    assert store.best("max").trial_id == ids[1]
    assert store.best("min").trial_id == ids[0]


def test_leaderboard_of_a_negative_count_is_refused_naming_it(store):
    # was: k=-1 gave all but the worst trial (a Python slice)
    _scored(store, [0.3, 0.9, 0.1])
    with pytest.raises(ValueError, match=r"count >= 0, got -1"):
        store.leaderboard("max", k=-1)
    assert store.leaderboard("max", k=0) == []


def test_leaderboard_only_completed_trials_with_a_score(store):
    ids = _scored(store, [0.2])
    failed = store.start_trial({"k": "f"})
    _finish(store, failed, 0.99, status=TrialStatus.FAILED, error="x")
    store.start_trial({"k": "r"})  # RUNNING
    assert [t.trial_id for t in store.leaderboard("max")] == ids
    assert store.best("max").trial_id == ids[0]


def test_best_of_an_empty_store(store):
    assert store.best("max") is None and store.best("min") is None
    assert store.leaderboard() == []


def test_nan_score_is_stored_as_null(store):
    tid = store.start_trial({"k": 1})
    _finish(store, tid, math.nan)
    assert store.get(tid).score is None
    raw = store._db.execute("SELECT score FROM trials WHERE id = ?", (tid,)).fetchone()[0]
    assert raw is None
    assert store.leaderboard() == [] and store.best() is None


def test_clear_checkpoint(store):
    ids = _scored(store, [0.1, 0.2])
    for tid in ids:
        _finish(store, tid, 0.5, checkpoint=f"/c/{tid}.ckpt")
    store.clear_checkpoint(ids[0])
    assert store.get(ids[0]).checkpoint is None
    assert store.get(ids[0]).score == 0.5  # nothing else changes
    assert store.get(ids[1]).checkpoint == f"/c/{ids[1]}.ckpt"


def test_checkpoints_go_with_a_copied_or_moved_run_folder(tmp_path):
    # was: stored as absolute paths, so a copy's keep_top_k removed the original's files
    # and a moved run's export dropped best.ckpt
    run = tmp_path / "run"
    with RunStore(run / "search.db") as store:
        for tid in (store.start_trial({"k": 0}), store.start_trial({"k": 1})):
            ckpt = run / "trials" / f"trial_{tid:04d}" / "best.ckpt"
            ckpt.parent.mkdir(parents=True)
            ckpt.write_text("weights")
            _finish(store, tid, 0.5, checkpoint=str(ckpt))
        assert store.get(1).checkpoint == str((run / "trials/trial_0001/best.ckpt").resolve())
        raw = store._db.execute("SELECT checkpoint FROM trials WHERE id = 1").fetchone()[0]
        assert raw == "trials/trial_0001/best.ckpt"
        # a store of an earlier version holds the absolute path of its own folder
        store._db.execute("UPDATE trials SET checkpoint = ? WHERE id = 2",
                          (str((run / "trials/trial_0002/best.ckpt").resolve()),))
    shutil.copytree(run, tmp_path / "copy")
    with RunStore(tmp_path / "copy" / "search.db") as copy:
        assert [t.checkpoint for t in copy.trials()] == [
            str((tmp_path / f"copy/trials/trial_000{i}/best.ckpt").resolve()) for i in (1, 2)]
    outside = "/elsewhere/job/best.ckpt"  # a checkpoint outside the folder (a Hydra job's)
    with RunStore(run / "search.db") as store:
        _finish(store, 2, 0.5, checkpoint=outside)
        assert store.get(2).checkpoint == outside


def test_a_checkpoint_in_trials_linked_to_another_disk_is_stored_relative(tmp_path):
    # was: relative_to on the resolved path failed (the link led out of the folder), so the
    # absolute path on the other disk was stored and a copy's keep_top_k removed its file
    run, disk = tmp_path / "run", tmp_path / "disk"
    disk.mkdir()
    run.mkdir()
    (run / "trials").symlink_to(disk)
    with RunStore(run / "search.db") as store:
        tid = store.start_trial({"k": 0})
        ckpt = run / "trials" / f"trial_{tid:04d}" / "best.ckpt"
        ckpt.parent.mkdir()
        ckpt.write_text("weights")
        _finish(store, tid, 0.5, checkpoint=str(ckpt.resolve()))  # as a trial gives it
        raw = store._db.execute("SELECT checkpoint FROM trials WHERE id = 1").fetchone()[0]
        assert raw == "trials/trial_0001/best.ckpt"
    shutil.copytree(run, tmp_path / "copy")  # the link's files copied in
    with RunStore(tmp_path / "copy" / "search.db") as copy:
        assert copy.get(tid).checkpoint == str(
            (tmp_path / "copy/trials/trial_0001/best.ckpt").resolve())


def test_a_new_search_refuses_a_folder_holding_what_a_search_writes(tmp_path):
    # was: its trials/trial_0001/ (the user's notes) was removed and best.yaml replaced
    run = tmp_path / "run"
    (run / "trials" / "trial_0001").mkdir(parents=True)
    (run / "trials" / "trial_0001" / "notes.txt").write_text("precious")
    (run / "best.yaml").write_text("mine")
    (run / "notes.md").write_text("other files are let be")
    fixed = {"monitor": "val_acc", "mode": "max"}
    with pytest.raises(ConfigError, match=r"`run_dir` .* holds trials/, best.yaml but no "
                       r"search.db.*pick an empty or new `run_dir`, or remove them"):
        open_search_store(run, fixed)
    assert sorted(p.name for p in run.rglob("*")) == [
        "best.yaml", "notes.md", "notes.txt", "trial_0001", "trials"]  # nothing written
    shutil.rmtree(run / "trials" / "trial_0001")
    (run / "best.yaml").unlink()
    open_search_store(run, fixed).close()  # an empty trials/ and other files: a new search
    open_search_store(run, fixed).close()  # and its resume


def test_a_new_search_refuses_such_a_folder_also_beside_a_search_db_holding_no_search(
        tmp_path):
    # was: a 0-byte search.db (a copy cut short, a crash as it was made) read as a resume's
    # store, so the new search replaced best.yaml, best.ckpt and trials/trial_0001/
    run = tmp_path / "run"
    (run / "trials" / "trial_0001").mkdir(parents=True)
    (run / "trials" / "trial_0001" / "best.ckpt").write_text("weights")
    (run / "best.yaml").write_text("trial: 1")
    (run / "search.db").write_bytes(b"")
    fixed = {"monitor": "val_acc", "mode": "max"}
    with pytest.raises(ConfigError, match=r"`run_dir` .* holds trials/, best.yaml but a "
                       r"search.db that holds no search: a new search would remove"):
        open_search_store(run, fixed)
    assert (run / "search.db").read_bytes() == b""  # nothing written
    assert (run / "best.yaml").read_text() == "trial: 1"
    shutil.rmtree(run / "trials")
    (run / "best.yaml").unlink()
    open_search_store(run, fixed).close()  # nothing beside it: a new search
    open_search_store(run, fixed).close()  # and its resume


@pytest.mark.slow
def test_a_new_search_takes_a_logs_folder_unless_it_holds_a_searchs_logger_versions(
        tmp_path, tiny_space, tiny_trainer):
    # was: any logs/ not empty refused a new search (a logger's own lightning_logs, the
    # folders of an attempt that died before its search.db), although it holds no search
    from lightning_nas import Search
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    run, fixed = tmp_path / "run", {"monitor": "val_acc", "mode": "max"}
    (run / "logs" / "lightning_logs" / "version_0").mkdir(parents=True)
    (run / "logs" / "lightning_logs" / "version_0" / "metrics.csv").write_text("epoch\n0\n")
    (run / "logs" / "trials" / "trial_0001").mkdir(parents=True)  # folders, no file
    open_search_store(run, fixed).close()  # a new search
    (run / "search.db").unlink()
    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger"}
    Search(TinyNet, tiny_space, data=BlobData, trainer={**tiny_trainer, "max_epochs": 1,
           "logger": logger}, run_dir=tmp_path / "real", budget=1, seed=0,
           verbose=False).run()
    real = tmp_path / "real"
    assert (real / "logs" / "trials" / "trial_0001" / "metrics.csv").is_file()
    for name in ("search.db", "best.yaml", "best.ckpt", "best_config.yaml"):
        (real / name).unlink(missing_ok=True)
    shutil.rmtree(real / "trials")
    with pytest.raises(ConfigError, match=r"holds logs/ but no search\.db"):
        open_search_store(real, fixed)  # its trial's metrics.csv would be written again
    assert (real / "logs" / "trials" / "trial_0001" / "metrics.csv").is_file()


def test_get_of_a_missing_id_raises_key_error(store):
    with pytest.raises(KeyError, match="no trial 42"):
        store.get(42)


def test_curve_round_trip(store):
    tid = store.start_trial({"k": 1})
    curve = [0.1, 0.25, 1e-9, 0.9999999, 3.0]
    _finish(store, tid, 0.9, curve=curve)
    assert store.get(tid).curve == curve


def test_a_curve_with_nan_is_json_that_sqlite_reads(store):
    # was: stored as [NaN, 0.5], which SQLite's json_extract refuses ("malformed JSON")
    tid = store.start_trial({"k": 1})
    _finish(store, tid, 0.5, curve=[math.nan, 0.5])
    raw = store._db.execute("SELECT json_extract(curve, '$[1]') FROM trials WHERE id = ?",
                            (tid,)).fetchone()[0]
    assert raw == 0.5
    first, second = store.get(tid).curve
    assert math.isnan(first) and second == 0.5  # read back as it was


def test_second_connection_sees_every_change_at_once(tmp_path):
    path = tmp_path / "search.db"
    writer = RunStore(path)
    reader = RunStore(path)  # like a resumed process: its own connection
    try:
        writer.set_meta("seed", 7)
        assert reader.get_meta("seed") == 7
        tid = writer.start_trial({"k": 3})
        assert reader.get(tid).status is TrialStatus.RUNNING
        _finish(writer, tid, 0.8, checkpoint="/c.ckpt", curve=[0.8])
        seen = reader.get(tid)
        assert (seen.status, seen.score, seen.curve) == (TrialStatus.COMPLETED, 0.8, [0.8])
        assert reader.best().trial_id == tid
        writer.clear_checkpoint(tid)
        assert reader.get(tid).checkpoint is None
        writer.restart_trial(tid)
        assert reader.count(TrialStatus.RUNNING) == 1
    finally:
        reader.close()
        writer.close()


def test_reopened_store_keeps_everything(tmp_path):
    path = tmp_path / "search.db"
    with RunStore(path) as s:
        s.set_meta("space", {"k": {"choice": [1, 2]}})
        ids = _scored(s, [0.4, 0.6])
    with RunStore(path) as s:
        assert s.get_meta("space") == {"k": {"choice": [1, 2]}}
        assert [t.trial_id for t in s.leaderboard()] == [ids[1], ids[0]]
        assert s.start_trial({"k": 9}) > max(ids)


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


def test_a_second_search_on_a_folder_being_searched_is_refused_until_its_driver_ends(
        tmp_path, tiny_space, tiny_trainer):
    # was: the second one re-ran the live trial in its folder (both failed) and every
    # later architecture was trained twice
    import os
    import signal
    import subprocess
    import sys

    from lightning_nas import Search
    from lightning_nas.errors import SearchError
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from lightning_nas.store import RunStore; "
         "from lightning_nas.run_folder import hold_folder; s = RunStore(sys.argv[1]); "
         "s.set_driver(); h = hold_folder(s.path.parent, ''); print('held', flush=True); "
         "time.sleep(120)", str(run / "search.db")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        search = Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1,
                        run_dir=run, verbose=False)
        with pytest.raises(SearchError, match=rf"{run} is being searched by another process "
                                              rf"\(pid {holder.pid} on .*\): wait for it"):
            search.run()
        with RunStore(run / "search.db") as store:
            assert store.trials() == []  # nothing started
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # however the driver ends, the folder is free
        holder.wait()
    assert len(search.run().trials) == 1


def test_a_second_search_in_another_thread_of_this_process_is_told_it_is_this_ones(
        tmp_path, tiny_space, tiny_trainer):
    # was: "is being searched by another process (pid <this process's own>): wait for it to
    # end, or stop it" (a notebook, a threaded script: there is no other process to stop)
    import os
    import threading

    from lightning_nas import Search
    from lightning_nas.errors import SearchError
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    run, reached, go, first = tmp_path / "run", threading.Event(), threading.Event(), []

    def hold_on(result: TrialResult) -> None:  # the first search holds the folder meanwhile
        reached.set()
        go.wait(120)

    def search(**kwargs) -> Search:
        return Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1,
                      run_dir=run, verbose=False, **kwargs)

    thread = threading.Thread(target=lambda: first.append(search(on_trial_end=hold_on).run()))
    thread.start()
    try:
        assert reached.wait(300)
        with pytest.raises(SearchError, match=rf"^{run} is being searched by another search in "
                                              rf"this process \(pid {os.getpid()}\): one search "
                                              rf"per run folder at a time; wait for it to end; "
                                              rf"the same command then resumes the search$"):
            search().run()
    finally:
        go.set()
        thread.join()
    assert len(first[0].trials) == 1  # the first search went on
    assert len(search().run().trials) == 1  # once it ended: the same call resumes it


def test_a_search_refused_on_a_held_folder_makes_no_search_db_there(
        tmp_path, tiny_space, tiny_trainer):
    # was: search.db was made before the hold was tried, so a search refused on a live
    # one-shot run's folder left one there (and `show` then read the folder as a search)
    from lightning_nas import Search
    from lightning_nas.errors import SearchError
    from lightning_nas.run_folder import hold_folder
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    held = hold_folder(tmp_path, "then run it again")  # as a one-shot run holds its folder
    search = Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1,
                    run_dir=tmp_path, verbose=False)
    with pytest.raises(SearchError, match="is being searched by another search in this process"):
        search.run()
    assert not (tmp_path / "search.db").exists()
    held.close()
    (tmp_path / "best_arch.yaml").write_text("arch: {}\n")  # the one-shot run ended
    with pytest.raises(ConfigError, match="is a one-shot run folder"):
        search.run()  # was: a search.db beside the one-shot run's files
    assert not (tmp_path / "search.db").exists()
    (tmp_path / "best_arch.yaml").unlink()
    assert len(search.run().trials) == 1


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


def test_a_store_that_cannot_be_opened_names_its_file_and_what_is_wrong(tmp_path):
    # was: SQLite's words alone ("database disk image is malformed", "file is not a
    # database", "unable to open database file"), naming no file, in search, show, ...
    from lightning_nas.errors import NASError, StoreError
    from lightning_nas.store import open_run

    fixed = {"space": {"k": {"choice": [1, 2]}}, "monitor": "acc", "mode": "max"}
    for name in ("trunc", "garbage", "blocked"):
        with open_search_store(tmp_path / name, fixed) as s:
            s.start_trial({"k": 1})
    db = tmp_path / "trunc" / "search.db"
    db.write_bytes(db.read_bytes()[:5000])  # a copy cut short
    (tmp_path / "garbage" / "search.db").write_bytes(b"\x8f" * 28672)
    for name, what in (("trunc", r"is corrupt \(database disk image is malformed\)"),
                       ("garbage", r"is not an SQLite database \(file is not a database\)")):
        path = tmp_path / name / "search.db"
        with pytest.raises(StoreError, match=rf"^{path} {what}: .*give another run_dir"):
            open_run(path.parent)  # show, report, export: read
        with pytest.raises(StoreError, match=rf"^{path} {what}: .*give another run_dir"):
            open_search_store(path.parent, fixed)  # search: written
    # the files SQLite writes beside it cannot be made: it cannot be opened for writing
    (tmp_path / "blocked" / "search.db-wal").mkdir()
    with pytest.raises(NASError, match=rf"^{tmp_path / 'blocked' / 'search.db'} cannot be "
                                       r"opened for writing \(unable to open database file\)"
                                       r": SQLite cannot create or write it, or search.db-wal"):
        open_search_store(tmp_path / "blocked", fixed)


def test_only_a_lock_another_process_holds_reads_as_a_search_running_there(tmp_path):
    # was: any refused flock (ENOLCK, EOPNOTSUPP of a network mount) read "being searched
    # by another process (pid ? on ?)", and search.db with the setup was left behind
    import errno
    import fcntl
    import os

    from lightning_nas.store_errors import check_lockable, lock_held, unlockable

    lock = tmp_path / "search.lock"
    with open(lock, "a") as first, open(lock, "a") as second:
        fcntl.flock(first.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(OSError) as held:  # the system's own refusal of a held lock
            fcntl.flock(second.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert lock_held(held.value)
    assert lock_held(OSError(errno.EACCES, os.strerror(errno.EACCES)))
    for code in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EBADF):
        assert not lock_held(OSError(code, os.strerror(code)))
    message = str(unlockable(tmp_path / "run", OSError(errno.ENOLCK, "No locks available")))
    assert message.startswith(f"{tmp_path / 'run'} cannot be locked (No locks available): its "
                              f"file system takes no flock() lock") and "local disk" in message
    before = sorted(tmp_path.rglob("*"))
    check_lockable(tmp_path / "new" / "run")  # a local disk locks: nothing is left
    check_lockable(tmp_path)
    assert sorted(tmp_path.rglob("*")) == before


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


def _json_rows(db: sqlite3.Connection) -> dict[str, list]:
    """Every JSON value the store wrote, column by column, through SQLite's ``json()``
    (which raises "malformed JSON" on one that is not)."""
    columns = {"meta": ["value"], "trials": ["arch", "metrics", "curve"],
               "priors": ["arch", "losses"], "events": ["loss"], "fits": ["threads"]}
    return {f"{table}.{col}": db.execute(f"SELECT json({col}) FROM {table} "
                                         f"WHERE {col} IS NOT NULL").fetchall()
            for table, cols in columns.items() for col in cols}


def test_a_nan_or_inf_metric_is_json_that_sqlite_reads_and_reads_back_as_it_was(tmp_path):
    # was: metrics stored as {"val_loss": NaN, ...}, no JSON: json_extract(metrics, ...)
    # raised "malformed JSON" for the whole table, so a user's SQL over search.db broke
    metrics = {"val_loss": math.nan, "sec": math.inf, "gain": -math.inf, "acc": 0.5}
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("monitor", "acc")
        store.set_meta("objectives", {"acc": "max", "val_loss": "min"})
        tid = store.start_trial({"k": 3})
        _finish(store, tid, 0.5, metrics=metrics, curve=[math.nan, math.inf, 0.5])
        rows = store._db.execute(
            "SELECT json_extract(metrics, '$.acc'), json_extract(metrics, '$.val_loss'), "
            "json_extract(metrics, '$.sec'), json_extract(metrics, '$.gain'), "
            "json_extract(curve, '$[1]') FROM trials").fetchall()
        assert rows == [(0.5, None, math.inf, -math.inf, math.inf)]
        assert store._db.execute("SELECT COUNT(*) FROM trials WHERE "
                                 "json_extract(metrics, '$.acc') > 0.4").fetchone() == (1,)
    with open_run(tmp_path) as store:  # show, report, export and a warm start read so
        for read in (store.get(tid).metrics, store.leaderboard()[0].metrics,
                     dict(store.scored_metrics())[tid]):
            assert math.isnan(read["val_loss"]) and isinstance(read["val_loss"], float)
            assert {k: read[k] for k in ("sec", "gain", "acc")} == {
                "sec": math.inf, "gain": -math.inf, "acc": 0.5}
        nan, *rest = store.get(tid).curve
        assert math.isnan(nan) and rest == [math.inf, 0.5]  # was: inf read back as NaN


def test_every_json_the_store_writes_is_json_sqlite_reads(tmp_path):
    # meta, architectures, priors, the optimizer's logged losses (a failure told inf; a
    # resume replays them) and fits: strict JSON each, read back as written
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("settings", {"limit": math.inf, "floor": -math.inf, "name": "NaN",
                                    "note": "Infinity -Infinity NaN"})
        store.set_meta("space", {"clip": {"choice": [1.0, math.inf]}})
        tid = store.start_trial({"clip": math.inf})
        store.note_fit(tid, None)
        store.add_priors([{"source": "/r", "source_trial": 1, "task": "t",
                           "arch": {"clip": math.inf}, "score": None, "loss": 1.0,
                           "losses": [math.nan, math.inf]}], {"scores": [math.inf]})
        store.log_events([{"kind": "ask", "ask": 0, "trial_id": tid, "arch_key": "{}"},
                          {"kind": "tell", "ask": 0, "loss": math.inf},
                          {"kind": "tell", "ask": 1, "loss": math.nan},
                          {"kind": "tell", "ask": 2, "loss": [0.5, -math.inf, math.nan]}])
        assert all(_json_rows(store._db).values())
    with open_run(tmp_path) as store:
        assert store.get_meta("settings") == {"limit": math.inf, "floor": -math.inf,
                                              "name": "NaN", "note": "Infinity -Infinity NaN"}
        assert store.get_meta("space") == {"clip": {"choice": [1.0, math.inf]}}
        assert store.get(tid).arch == {"clip": math.inf} and store.fits(tid) == [None]
        (prior,) = store.priors()
        assert prior["arch"] == {"clip": math.inf} and prior["losses"][1] == math.inf
        assert math.isnan(prior["losses"][0])
        losses = [e["loss"] for e in store.events()]
        assert losses[0] is None and losses[1] == math.inf and math.isnan(losses[2])
        assert losses[3][:2] == [0.5, -math.inf] and math.isnan(losses[3][2])


def test_a_store_an_older_version_wrote_with_bare_nan_still_reads(tmp_path):
    # rows as versions before strict JSON wrote them (Python's bare NaN and Infinity)
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("monitor", "acc")
        tid = store.start_trial({"k": 1})
        _finish(store, tid, 0.5)
        store._db.execute("UPDATE trials SET metrics = ? WHERE id = ?",
                          ('{"acc": 0.5, "val_loss": NaN, "sec": Infinity}', tid))
        store._db.execute("INSERT INTO events (kind, ask, loss) VALUES ('tell', 0, "
                          "'[NaN, -Infinity]')")
        store._db.execute("INSERT INTO meta (key, value) VALUES ('x', '{\"y\": Infinity}')")
    with open_run(tmp_path) as store:
        metrics = store.get(tid).metrics
        assert math.isnan(metrics["val_loss"]) and metrics["sec"] == math.inf
        (event,) = store.events()
        assert math.isnan(event["loss"][0]) and event["loss"][1] == -math.inf
        assert store.get_meta("x") == {"y": math.inf}


@pytest.mark.parametrize("first,then", [(None, {"acc": "max"}), ({"acc": "max"}, None)])
def test_one_objective_and_its_monitor_and_mode_resume_each_other(tmp_path, first, then):
    # one objective ranks as monitor/mode do (same front, same kept checkpoints), so a run
    # started one way resumes the other (was: "holds a search with a different objectives")
    fixed = {"space": {"k": {"choice": [1, 2]}}, "monitor": "acc", "mode": "max"}
    open_search_store(tmp_path, {**fixed, "objectives": first}).close()
    open_search_store(tmp_path, {**fixed, "objectives": then}).close()
    with pytest.raises(ConfigError, match="a different objectives"):  # another one is not
        open_search_store(tmp_path, {**fixed, "objectives": {"acc": "min"}})

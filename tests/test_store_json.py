"""Every JSON ``search.db`` holds is strict JSON (``store_json``), ``trials.arch_key`` and
``events.arch_key`` too, in the stores of real searches whose architectures hold infinities
(a YAML ``.inf`` in a ``choice`` or ``fixed``) and NaN (a metric, an older version's
architecture); a resume of a store an older version wrote (bare ``Infinity`` and ``NaN``)
still matches its rows, which opening it to write respells (``store_schema.respell``) and
reading it does not. What ``RunStore`` writes itself (a NaN or infinite metric, meta,
priors, the optimizer's losses, fits) is JSON that SQLite's ``json()`` reads, read back as
it was written."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest
import yaml
from torch.nn.utils import clip_grad_norm_

from lightning_nas import Search
from lightning_nas.arch import arch_key
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.store import RunStore, open_run
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_store import finish as _finish
from tests.helpers_store import sql

#: the TEXT columns that hold plain text, not JSON: every other TEXT column holds JSON
PLAIN_TEXT = {"meta.key", "trials.status", "trials.checkpoint", "trials.error",
              "priors.source", "priors.task", "events.kind"}


class ClipNet(TinyNet):
    """``TinyNet`` whose gradient norm is clipped to ``clip`` (``inf``: not clipped)."""

    def __init__(self, width: int = 8, clip: float = math.inf, nan_width: int | None = None
                 ) -> None:
        super().__init__(width=width, nan_width=nan_width)
        self.clip = clip

    def on_before_optimizer_step(self, optimizer) -> None:
        clip_grad_norm_(self.parameters(), self.clip)


def _text_columns(db: sqlite3.Connection) -> list[str]:
    """``table.column`` of every TEXT column of every table of the store ``db``."""
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = "
                                           "'table' ORDER BY name")]
    return [f"{table}.{col[1]}" for table in tables
            for col in db.execute(f"PRAGMA table_info({table})") if col[2] == "TEXT"]


def _not_json(db: sqlite3.Connection) -> dict[str, tuple[int, list[str]]]:
    """For each JSON column (every TEXT column but ``PLAIN_TEXT``): how many values it
    holds, and those that SQLite's ``json_valid`` refuses."""
    out = {}
    for name in _text_columns(db):
        if name in PLAIN_TEXT:
            continue
        table, col = name.split(".")
        (count,) = db.execute(f"SELECT COUNT({col}) FROM {table}").fetchone()
        bad = [row[0] for row in db.execute(f"SELECT {col} FROM {table} WHERE {col} IS NOT "
                                            f"NULL AND NOT json_valid({col})")]
        out[name] = (count, bad)
    return out


def test_every_json_column_of_real_search_stores_with_inf_and_nan_is_strict_json(tmp_path):
    # was: trials.arch_key and events.arch_key held bare Infinity (Python's json), so
    # json_valid(arch_key) was 0 and json_extract(arch_key, ...) raised "malformed JSON"
    space = yaml.safe_load("""
        width: {choice: [4, 8]}
        clip: {choice: [1.0, .inf]}  # an architecture holds an infinity
        nan_width: {fixed: 4}        # width 4 logs val_acc NaN
    """)
    trainer = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False,
               "limit_train_batches": 2, "limit_val_batches": 1}

    def search(run_dir: Path, budget: int, **kw) -> Search:
        return Search(ClipNet, space, data=BlobData, trainer=trainer, monitor="val_loss",
                      mode="min", budget=budget, seed=0, run_dir=run_dir, verbose=False, **kw)

    source = search(tmp_path / "source", 3).run()
    assert any(math.isinf(t.arch["clip"]) for t in source.trials)
    assert any(math.isnan(t.metrics.get("val_acc", 0.0)) for t in source.trials)
    search(tmp_path / "warm", 2, warm_start=[str(tmp_path / "source")]).run()
    for run in ("source", "warm"):
        db = sqlite3.connect(tmp_path / run / "search.db")
        try:
            assert set(PLAIN_TEXT) <= set(_text_columns(db))
            found = _not_json(db)
            assert {name: bad for name, (_, bad) in found.items() if bad} == {}
            held = {name for name, (count, _) in found.items() if count}
            assert {"meta.value", "trials.arch", "trials.arch_key", "trials.metrics",
                    "trials.curve", "events.arch_key", "events.loss", "fits.threads"} <= held
            assert (run == "warm") == ("priors.arch" in held)
            if run == "source":  # SQLite reads the key: json_extract(arch_key, ...)
                rows = db.execute("SELECT id FROM trials WHERE json_extract(arch_key, "
                                  "'$.clip') = 9e999 ORDER BY id").fetchall()
                assert [tid for (tid,) in rows] == [
                    t.trial_id for t in source.trials if math.isinf(t.arch["clip"])]
        finally:
            db.close()


#: an objective search's space: every architecture holds an infinity (``pad``, beside a
#: null: a space holds no NaN, ``SearchSpace`` refuses it); a YAML ``.inf`` in a ``choice``
SPACE = """
x: {int: [1, 9]}
clip: {choice: [1.0, .inf, -.inf]}
pad: {fixed: [null, .inf]}
"""


def _objective(arch: dict) -> dict:
    return {"score": math.nan if arch["x"] == 3 else arch["x"] / 10, "sec": math.inf}


def _objective_search(run_dir: Path, budget: int, **kw) -> Search:
    return Search(None, yaml.safe_load(SPACE), objective=_objective, monitor="score",
                  mode="max", budget=budget, seed=0, run_dir=run_dir, **{"verbose": False,
                                                                          **kw})


def _as_an_older_version_wrote(path: Path, nan: bool = False) -> None:
    """Rewrite the store at ``path`` as versions before strict JSON wrote it: bare
    ``Infinity`` (its nulls are None, which they wrote as null too). The same text, byte for
    byte, as the version before strict JSON wrote for this search; with ``nan``, for the
    search whose space held ``pad: {fixed: [.nan, .inf]}``, which they took (the space now
    refuses it: a resume of that store is given ``null``, which its checks take for the
    NaN stored): its nulls bare ``NaN``."""
    db = sqlite3.connect(path)
    try:
        with db:
            for table, col, where in (("meta", "value", "WHERE key = 'space'"),
                                      ("trials", "arch", ""), ("trials", "arch_key", ""),
                                      ("trials", "metrics", ""), ("events", "arch_key", "")):
                db.execute(f"UPDATE {table} SET {col} = replace({col}, '9e999', 'Infinity') "
                           f"{where}")
                if nan:
                    db.execute(f"UPDATE {table} SET {col} = replace({col}, 'null', 'NaN') "
                               f"{where}")
    finally:
        db.close()


@pytest.mark.parametrize("nan", [False, True], ids=["inf", "inf_and_nan"])
@pytest.mark.parametrize("optimizer", ["SurrogateEvolution", "EDA"])
def test_a_resume_of_a_store_an_older_version_wrote_matches_its_rows(tmp_path, capsys,
                                                                     optimizer, nan):
    # arch_key is the identity of an architecture tried: a resume replays the logged keys
    # (events.arch_key) against the optimizer's proposals and tells a repeat the stored
    # score; an older version's keys (bare Infinity, NaN) must match today's strict ones
    # (with keys compared as stored: the replay "proposed another architecture than before
    # at ask 0", and EDA, which cannot be told what it did not propose, refused the resume)
    whole = _objective_search(tmp_path / "whole", 9, optimizer=optimizer).run()
    db = sqlite3.connect(tmp_path / "whole" / "search.db")
    try:  # a store written now: strict JSON in every column, the keys too
        assert {name: bad for name, (_, bad) in _not_json(db).items() if bad} == {}
    finally:
        db.close()
    _objective_search(tmp_path / "cut", 4, optimizer=optimizer).run()
    _as_an_older_version_wrote(tmp_path / "cut" / "search.db", nan)
    with RunStore(tmp_path / "cut" / "search.db", read_only=True) as store:
        with sql(store.path) as db:
            old = db.execute("SELECT arch_key FROM trials ORDER BY id").fetchall()
        assert all("Infinity" in key and ("NaN" in key) == nan for (key,) in old)
        events = store.events()  # read in today's spelling: as arch_key writes it now
        assert [e["arch_key"] for e in events if e["kind"] == "ask"] == [
            arch_key(t.arch) for t in store.trials()]
        assert all("Infinity" not in e["arch_key"] and "NaN" not in e["arch_key"]
                   for e in events if e["kind"] == "ask")
    capsys.readouterr()
    resumed = _objective_search(tmp_path / "cut", 9, optimizer=optimizer, verbose=True).run()
    out = capsys.readouterr().out
    assert "Resuming" in out and "proposed another architecture" not in out
    # the same trials an uninterrupted search ran: the replay matched every logged key
    assert [(arch_key(t.arch), t.status, t.score) for t in resumed.trials] == [
        (arch_key(t.arch), t.status, t.score) for t in whole.trials]
    assert len({arch_key(t.arch) for t in resumed.trials}) == len(resumed.trials)
    assert sum(t.status is TrialStatus.COMPLETED for t in resumed.trials) == 9
    db = sqlite3.connect(tmp_path / "cut" / "search.db")
    try:  # the older version's rows in today's spelling too: one spelling in each table
        # (was: its trials kept bare Infinity beside the resume's 9e999, so json_valid failed
        # on them and a GROUP BY arch_key or WHERE arch_key = ? missed or split them)
        assert {name: bad for name, (_, bad) in _not_json(db).items() if bad} == {}
        assert db.execute("SELECT arch_key FROM trials ORDER BY id").fetchall() == [
            (arch_key(t.arch),) for t in whole.trials]
        asked = db.execute("SELECT arch_key FROM events WHERE kind = 'ask' ORDER BY seq")
        with RunStore(tmp_path / "whole" / "search.db", read_only=True) as store:
            assert [key for (key,) in asked] == [e["arch_key"] for e in store.events()
                                                 if e["kind"] == "ask"]
    finally:
        db.close()


def test_the_key_of_nan_is_one_key_in_a_store_of_either_spelling(tmp_path):
    # NaN != NaN, but the key compares text: one key for every NaN (and every infinity),
    # in today's spelling whichever way the row was written
    with RunStore(tmp_path / "search.db") as store:
        store.log_events([{"kind": "ask", "ask": 0, "trial_id": None,
                           "arch_key": arch_key({"pad": [float("nan"), math.inf]})}])
        with sql(store.path) as db:
            db.execute("INSERT INTO events (kind, ask, arch_key) VALUES ('ask', 1, "
                       "'{\"pad\":[NaN,Infinity]}')")  # as an older version wrote it
            db.execute("INSERT INTO events (kind, ask, arch_key) VALUES ('ask', 2, "
                       "'{\"pad\":[null,Infinity]}')")  # as the version before wrote it
            db.execute("INSERT INTO events (kind, ask, arch_key) VALUES ('ask', 3, "
                       "'{\"pad\":[\"NaN\",\"-Infinity\"]}')")  # text, not a number
        keys = [e["arch_key"] for e in store.events()]
    assert keys[0] == keys[1] == keys[2] == arch_key({"pad": [math.nan, math.inf]}) == (
        '{"pad":[null,9e999]}')
    assert keys[3] == '{"pad":["NaN","-Infinity"]}'


def _write_every_json_column(path: Path) -> None:
    """A store at ``path`` whose every JSON column holds NaN, an infinity or both in some
    rows, and neither in others (and the text ``"NaN"``, which is no number); no None."""
    nan, inf = math.nan, math.inf
    with RunStore(path) as store:
        store.set_meta("space", {"clip": {"choice": [1.0, inf, -inf]}, "act": {"fixed": "NaN"}})
        store.set_meta("monitor", "score")
        for arch, metrics, curve in (({"clip": inf, "pad": [nan]}, {"score": nan, "sec": inf},
                                      [0.5, nan]),
                                     ({"clip": 1.0, "act": "NaN"}, {"score": 0.5}, [0.5]),
                                     ({"clip": -inf}, {"score": 0.25}, [-inf])):
            tid = store.start_trial(arch)
            store.finish_trial(TrialResult(trial_id=tid, arch=arch, status=TrialStatus.COMPLETED,
                                           score=metrics["score"], metrics=metrics, curve=curve))
            store.note_fit(tid, 1)
            store.log_events([{"kind": "ask", "ask": tid, "trial_id": tid,
                               "arch_key": arch_key(arch)},
                              {"kind": "tell", "ask": tid, "loss": [-metrics["score"], inf]}])
        store.add_priors([{"source": "runs/a", "source_trial": 1, "task": "runs/a",
                           "arch": {"clip": inf, "pad": [nan]}, "score": 0.5, "loss": -0.5,
                           "losses": [-0.5, inf]},
                          {"source": "runs/a", "source_trial": 2, "task": "runs/a",
                           "arch": {"clip": 1.0}, "score": 0.25, "loss": -0.25,
                           "losses": [-0.25, 1.0]}], {"skipped": [nan]})


def _json_columns(db: sqlite3.Connection) -> dict[str, list[tuple[int, str]]]:
    """``(rowid, value)`` of each row of each JSON column of the store ``db``, in rowid
    order."""
    out = {}
    for name in _text_columns(db):
        if name not in PLAIN_TEXT:
            table, col = name.split(".")
            out[name] = db.execute(f"SELECT rowid, {col} FROM {table} WHERE {col} IS NOT NULL "
                                   f"ORDER BY rowid").fetchall()
    return out


def _old_spelling(db: sqlite3.Connection) -> None:
    """Rewrite every JSON column of the store ``db`` (whose nulls are all NaN) as versions
    before strict JSON wrote it: bare ``Infinity``, ``-Infinity`` and ``NaN``."""
    with db:
        for name in _json_columns(db):
            table, col = name.split(".")
            db.execute(f"UPDATE {table} SET {col} = replace(replace({col}, '9e999', "
                       f"'Infinity'), 'null', 'NaN')")


def test_a_store_an_older_version_wrote_is_respelled_once_opened_for_writing(tmp_path):
    # was: an older version's bare Infinity and NaN stayed in the file after a resume, beside
    # the resume's own 9e999 and null: json_valid failed on them, a WHERE arch_key = ? or a
    # GROUP BY arch_key missed or split them
    path = tmp_path / "search.db"
    _write_every_json_column(path)
    db = sqlite3.connect(path)
    try:
        now = _json_columns(db)
        _old_spelling(db)
        old = _json_columns(db)
        respelled = {(name.split(".")[0], rowid) for name, rows in old.items()
                     for (rowid, value), (_, new) in zip(rows, now[name], strict=True)
                     if value != new}
        assert {name.split(".")[0] for name, (_, bad) in _not_json(db).items() if bad} == {
            "meta", "trials", "priors", "events"}  # every table holding JSON but fits
        db.execute("CREATE TABLE touched (tbl TEXT, id INTEGER)")
        for table in ("meta", "trials", "priors", "fits", "events"):  # which rows it writes
            db.execute(f"CREATE TRIGGER touched_{table} AFTER UPDATE ON {table} BEGIN "
                       f"INSERT INTO touched VALUES ('{table}', NEW.rowid); END")
        db.commit()
    finally:
        db.close()
    with RunStore(path) as store:  # opened to write (a resume): respelled
        assert store.events()[0]["arch_key"] == '{"clip":9e999,"pad":[null]}'
    db = sqlite3.connect(path)
    try:  # only the rows that held a bare token were written (the text "NaN" is not one)
        touched = db.execute("SELECT tbl, id FROM touched").fetchall()
        assert sorted(touched) == sorted(respelled)
        with db:
            db.execute("DELETE FROM touched")
    finally:
        db.close()
    with RunStore(path):  # a second open finds nothing to write
        pass
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT COUNT(*) FROM touched").fetchone()[0] == 0
        with db:
            db.execute("DROP TABLE touched")
            for table in ("meta", "trials", "priors", "fits", "events"):
                db.execute(f"DROP TRIGGER touched_{table}")
        assert {name: bad for name, (_, bad) in _not_json(db).items() if bad} == {}
        assert _json_columns(db) == now  # as this version writes it, byte for byte
    finally:
        db.close()


def test_the_respelling_is_one_transaction(tmp_path):
    # a store whose respelling fails part of the way (here: a trigger refuses the rewrite of
    # events) is left as it was, every table in the old spelling; not half respelled
    path = tmp_path / "search.db"
    _write_every_json_column(path)
    db = sqlite3.connect(path)
    try:
        _old_spelling(db)
        db.execute("CREATE TRIGGER refuse BEFORE UPDATE ON events BEGIN "
                   "SELECT RAISE(ABORT, 'refused by the test'); END")
        db.commit()
        old = _json_columns(db)
    finally:
        db.close()
    with pytest.raises(Exception, match="refused by the test"):
        RunStore(path)
    db = sqlite3.connect(path)
    try:
        assert _json_columns(db) == old
    finally:
        db.close()


def test_reading_a_store_an_older_version_wrote_leaves_it_as_it_is(tmp_path, capsys):
    # the respelling is a writer's: `show`, open_run, a warm start from it and a resume
    # refused for its settings read the file as it is, and write nothing into it
    run = tmp_path / "old"
    _objective_search(run, 4).run()
    _as_an_older_version_wrote(run / "search.db")
    before, files = (run / "search.db").read_bytes(), sorted(p.name for p in run.iterdir())
    assert main(["show", str(run)]) == 0
    assert "4 completed" in capsys.readouterr().out
    with open_run(run) as store:
        assert [e["arch_key"] for e in store.events() if e["kind"] == "ask"] == [
            arch_key(t.arch) for t in store.trials()]
    warm = _objective_search(tmp_path / "warm", 2, warm_start=[str(run)]).run()
    assert len(warm.trials) == 2
    with pytest.raises(ConfigError, match="different mode"):
        Search(None, yaml.safe_load(SPACE), objective=_objective, monitor="score", mode="min",
               budget=9, seed=0, run_dir=run, verbose=False).run()
    assert (run / "search.db").read_bytes() == before
    assert sorted(p.name for p in run.iterdir()) == files
    db = sqlite3.connect(f"{(run / 'search.db').resolve().as_uri()}?mode=ro", uri=True)
    try:  # still the older version's spelling
        assert db.execute("SELECT COUNT(*) FROM trials WHERE NOT json_valid(arch_key)"
                          ).fetchone()[0] == 5
    finally:
        db.close()


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
        with sql(store.path) as db:
            rows = db.execute(
                "SELECT json_extract(metrics, '$.acc'), json_extract(metrics, '$.val_loss'), "
                "json_extract(metrics, '$.sec'), json_extract(metrics, '$.gain'), "
                "json_extract(curve, '$[1]') FROM trials").fetchall()
            assert rows == [(0.5, None, math.inf, -math.inf, math.inf)]
            assert db.execute("SELECT COUNT(*) FROM trials WHERE "
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
        with sql(store.path) as db:
            assert all(_json_rows(db).values())
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
        with sql(store.path) as db:
            db.execute("UPDATE trials SET metrics = ? WHERE id = ?",
                       ('{"acc": 0.5, "val_loss": NaN, "sec": Infinity}', tid))
            db.execute("INSERT INTO events (kind, ask, loss) VALUES ('tell', 0, "
                       "'[NaN, -Infinity]')")
            db.execute("INSERT INTO meta (key, value) VALUES ('x', '{\"y\": Infinity}')")
    with open_run(tmp_path) as store:
        metrics = store.get(tid).metrics
        assert math.isnan(metrics["val_loss"]) and metrics["sec"] == math.inf
        (event,) = store.events()
        assert math.isnan(event["loss"][0]) and event["loss"][1] == -math.inf
        assert store.get_meta("x") == {"y": math.inf}

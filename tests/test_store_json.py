"""Every JSON ``search.db`` holds is strict JSON (``store_json``), ``trials.arch_key`` and
``events.arch_key`` too, in the stores of real searches whose architectures hold infinities
(a YAML ``.inf`` in a ``choice`` or ``fixed``) and NaN (inside a ``fixed`` list), and a
resume of a store an older version wrote (bare ``Infinity`` and ``NaN``) still matches its
rows."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest
import yaml
from torch.nn.utils import clip_grad_norm_

from lightning_nas import Search
from lightning_nas.arch import arch_key
from lightning_nas.results import TrialStatus
from lightning_nas.store import RunStore
from tests.helpers import BlobData, TinyNet

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


def _as_an_older_version_wrote(path: Path) -> None:
    """Rewrite the store at ``path`` as versions before strict JSON wrote it: bare
    ``Infinity`` (its nulls are None, which they wrote as null too). The same text, byte for
    byte, as the version before strict JSON wrote for this search."""
    db = sqlite3.connect(path)
    try:
        with db:
            for table, col, where in (("meta", "value", "WHERE key = 'space'"),
                                      ("trials", "arch", ""), ("trials", "arch_key", ""),
                                      ("trials", "metrics", ""), ("events", "arch_key", "")):
                db.execute(f"UPDATE {table} SET {col} = replace({col}, '9e999', 'Infinity') "
                           f"{where}")
    finally:
        db.close()


@pytest.mark.parametrize("optimizer", ["SurrogateEvolution", "EDA"])
def test_a_resume_of_a_store_an_older_version_wrote_matches_its_rows(tmp_path, capsys,
                                                                     optimizer):
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
    _as_an_older_version_wrote(tmp_path / "cut" / "search.db")
    with RunStore(tmp_path / "cut" / "search.db", read_only=True) as store:
        old = store._db.execute("SELECT arch_key FROM trials ORDER BY id").fetchall()
        assert all("Infinity" in key for (key,) in old)
        events = store.events()  # read in today's spelling: as arch_key writes it now
        assert [e["arch_key"] for e in events if e["kind"] == "ask"] == [
            arch_key(t.arch) for t in store.trials()]
        assert all("Infinity" not in e["arch_key"] for e in events if e["kind"] == "ask")
    capsys.readouterr()
    resumed = _objective_search(tmp_path / "cut", 9, optimizer=optimizer, verbose=True).run()
    out = capsys.readouterr().out
    assert "Resuming" in out and "proposed another architecture" not in out
    # the same trials an uninterrupted search ran: the replay matched every logged key
    assert [(arch_key(t.arch), t.status, t.score) for t in resumed.trials] == [
        (arch_key(t.arch), t.status, t.score) for t in whole.trials]
    assert len({arch_key(t.arch) for t in resumed.trials}) == len(resumed.trials)
    assert sum(t.status is TrialStatus.COMPLETED for t in resumed.trials) == 9


def test_the_key_of_nan_is_one_key_in_a_store_of_either_spelling(tmp_path):
    # NaN != NaN, but the key compares text: one key for every NaN (and every infinity),
    # in today's spelling whichever way the row was written
    with RunStore(tmp_path / "search.db") as store:
        store.log_events([{"kind": "ask", "ask": 0, "trial_id": None,
                           "arch_key": arch_key({"pad": [float("nan"), math.inf]})}])
        store._db.execute("INSERT INTO events (kind, ask, arch_key) VALUES ('ask', 1, "
                          "'{\"pad\":[NaN,Infinity]}')")  # as an older version wrote it
        store._db.execute("INSERT INTO events (kind, ask, arch_key) VALUES ('ask', 2, "
                          "'{\"pad\":[null,Infinity]}')")  # as the version before wrote it
        store._db.execute("INSERT INTO events (kind, ask, arch_key) VALUES ('ask', 3, "
                          "'{\"pad\":[\"NaN\",\"-Infinity\"]}')")  # text, not a number
        keys = [e["arch_key"] for e in store.events()]
    assert keys[0] == keys[1] == keys[2] == arch_key({"pad": [math.nan, math.inf]}) == (
        '{"pad":[null,9e999]}')
    assert keys[3] == '{"pad":["NaN","-Infinity"]}'

"""Schedulers under ``trainer.check_val_every_n_epoch: k``: a trial's values reach its rule
at the epochs Lightning validated them, live and when a resume replays the store (which
keeps each value's epoch in ``curve_epochs``), so ASHA ranks a trial at rung 2 by its epoch-2
value and at rung 4 by its epoch-4 value; a rule's ``record`` override that takes no epochs
is refused before anything trains where they are needed. The ``k`` a rule cannot judge:
``test_scheduler_epochs_refused.py``."""

from __future__ import annotations

import csv
import re
import sqlite3
from pathlib import Path

import pytest
import yaml

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.rule_epochs import record_curve
from lightning_nas.search.schedulers import ASHARule, MedianRule
from lightning_nas.search.settings import SearchSettings
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_kill import json_lines, kill_config, kill_when
from tests.helpers_models import ScriptedSlotNet, TinyNet
from tests.helpers_runs import one_thread
from tests.helpers_search import slot_scripts

_one_thread = pytest.fixture(autouse=True)(one_thread)

#: val_acc at each epoch (by Lightning's ``current_epoch``) of the trials in the order they
#: start; validated every 2 epochs, after epochs 2 and 4 (indices 1 and 3), ASHA's rungs
#: (min_epochs 2, eta 2, max_epochs 4). Trial 1 goes on (the first); trial 2 beats trial
#: 1's epoch-2 value 0.6 (not its epoch-4 value 0.95) and goes on; trial 3 pauses at
#: rung 2 (0.65, below 0.7), trial 4 too (0.1), which puts trial 3 in the top half: it is
#: promoted and trains epochs 3 and 4 from its last.ckpt
CURVES = [[0.0, 0.6, 0.0, 0.95], [0.0, 0.7, 0.0, 0.8], [0.0, 0.65, 0.0, 0.9],
          [0.0, 0.1, 0.0, 0.2]]
#: each trial's status and epochs trained in the end
OUTCOME = [(TrialStatus.COMPLETED, 4), (TrialStatus.COMPLETED, 4), (TrialStatus.COMPLETED, 4),
           (TrialStatus.PAUSED, 2)]
SEARCH = {"scheduler": "asha", "min_epochs": 2, "eta": 2, "max_epochs": 4,
          "monitor": "val_acc", "mode": "max", "optimizer": "RandomSearch", "seed": 5,
          "budget": 4}
TRAINER = {"max_epochs": 4, "check_val_every_n_epoch": 2, "limit_train_batches": 2,
           "limit_val_batches": 1, "callbacks": [{"class_path": "tests.helpers.EpochLog"}]}
DATA = {"n": 64, "batch_size": 16}


def _csv_rows(trial_dir: Path) -> list[tuple[int, float]]:
    """``(epochs trained, val_acc)`` of each validation in the CSV logs of a trial (its
    ``logs`` and those of a promoted fit), in the order of the epochs."""
    rows = []
    for path in trial_dir.rglob("metrics.csv"):
        with path.open() as f:
            rows += [(int(r["epoch"]) + 1, float(r["val_acc"])) for r in csv.DictReader(f)
                     if r.get("val_acc")]
    return sorted(rows)


def _trials(run_dir: Path) -> list[TrialResult]:
    with RunStore(run_dir / "search.db", read_only=True) as store:
        return store.trials()


def test_asha_every_2_epochs_ranks_each_rung_by_the_value_of_its_epoch(tmp_path):
    # old code: ConfigError: scheduler 'asha' judges each trial by its validation after
    # every epoch, but trainer.check_val_every_n_epoch=2 does not validate once per epoch
    script = slot_scripts(tmp_path / "order", CURVES, optimizer="RandomSearch", seed=5)
    run = tmp_path / "run"
    Search(ScriptedSlotNet, {"slot": {"choice": [0, 1, 2, 3]}},
           model_init_args={"script": script}, data=BlobData, data_init_args=DATA,
           trainer=TRAINER, run_dir=run, verbose=False, **SEARCH).run()
    trials = _trials(run)
    assert [(t.status, t.epochs) for t in trials] == OUTCOME
    rule, logged = ASHARule(min_epochs=2, max_epochs=4, eta=2), {2: {}, 4: {}}
    for t in trials:  # the store holds each value at its epoch, as the CSV logger wrote it
        rows = _csv_rows(run / "trials" / f"trial_{t.trial_id:04d}")
        for epoch, value in rows:
            logged[epoch][t.trial_id] = value
        epochs, values = zip(*rows, strict=True)
        assert (t.curve_epochs, t.curve) == (list(epochs), pytest.approx(values))
        assert epochs == (2, 4)[:t.epochs // 2]
        assert values == pytest.approx([CURVES[t.trial_id - 1][e - 1] for e in epochs])
        rule.record(t.trial_id, t.curve, t.curve_epochs)
    # a resume's replay ranks each trial at rung 2 by its epoch-2 value, at 4 by epoch 4's
    assert rule.values == logged  # trial 4, paused at rung 2, has no value at 4
    assert sorted(logged[4]) == [1, 2, 3]
    promoted = run / "trials" / "trial_0003"
    assert [e["epoch"] for e in json_lines(promoted / "epochs.jsonl")] == [0, 1, 2, 3]


def _config(tmp_path: Path, name: str, script: dict) -> tuple[Path, Path]:
    """The search of the test above as a config that ``lightning-nas search`` runs."""
    cfg, run_dir = kill_config(tmp_path, name, 4, executor="inline",
                               space={"slot": {"choice": [0, 1, 2, 3]}},
                               **{k: v for k, v in SEARCH.items() if k != "budget"})
    config = yaml.safe_load(cfg.read_text())
    config["model"] = {"class_path": "tests.helpers.ScriptedSlotNet",
                       "init_args": {"script": script}}
    config["data"]["init_args"] = DATA
    config["trainer"].update({k: v for k, v in TRAINER.items() if k != "callbacks"})
    cfg.write_text(yaml.safe_dump(config))
    return cfg, run_dir


@pytest.mark.slow
def test_a_search_killed_after_trial_2_and_resumed_decides_as_the_uninterrupted_one(
        tmp_path, launcher):
    # old code: exit 1, "scheduler 'asha' judges each trial by its validation after every
    # epoch, but trainer.check_val_every_n_epoch=2 does not validate once per epoch"
    script = slot_scripts(tmp_path / "order", CURVES, optimizer="RandomSearch", seed=5)
    cfg, straight = _config(tmp_path, "straight", script)
    log = tmp_path / "straight.log"
    assert launcher.run(["search", cfg], log) == 0, log.read_text()[-3000:]
    cfg, killed = _config(tmp_path, "killed", script)
    log = tmp_path / "killed.log"
    kill_when(launcher, cfg, log, lambda rows: rows.get(2, {}).get("status") == "COMPLETED")
    assert [t.status for t in _trials(killed)][:2] == [TrialStatus.COMPLETED] * 2
    launcher.launch(["search", cfg], log)  # replays trials 1 and 2 into the rule
    assert launcher.wait(300) == 0, log.read_text()[-3000:]

    def outcome(run_dir: Path) -> list[tuple]:
        return [(t.status, t.epochs, t.curve, t.curve_epochs) for t in _trials(run_dir)]

    assert outcome(killed) == outcome(straight)
    assert [row[:2] for row in outcome(straight)] == OUTCOME


def test_a_rule_replays_a_curve_without_epochs_as_one_value_per_epoch(tmp_path):
    """A store an older version wrote has no ``curve_epochs``: its curves are one value per
    epoch from epoch 1 (it refused other validation schedules under a scheduler)."""
    rule = ASHARule(min_epochs=1, max_epochs=4, eta=2)
    rule.record(1, [0.5, 0.6, 0.7, 0.8])
    rule.record(2, [0.4, 0.3], [2, 4])
    assert rule.values == {1: {1: 0.5}, 2: {1: 0.6, 2: 0.4}, 4: {1: 0.8, 2: 0.3}}
    path = tmp_path / "search.db"
    with RunStore(path) as store:
        tid = store.start_trial({"k": 1})
        store.finish_trial(TrialResult(tid, {"k": 1}, TrialStatus.PAUSED, 0.6,
                                       curve=[0.5, 0.6], curve_epochs=[1, 2], epochs=2))
        assert store.get(tid).curve_epochs == [1, 2]
    with sqlite3.connect(path) as db:  # as an older version left it (migrated: NULL)
        db.execute("UPDATE trials SET curve_epochs = NULL")
    db.close()
    with RunStore(path, read_only=True) as store:
        old = store.get(tid)
    assert (old.curve, old.curve_epochs) == ([0.5, 0.6], [])
    rule.record(old.trial_id + 10, old.curve, old.curve_epochs)
    assert rule.values[2][11] == 0.6


class _RecordWithoutEpochs(MedianRule):
    """A rule whose ``record`` override takes ``(key, curve)`` alone, as before ``epochs``."""

    def record(self, key, curve):
        super().record(key, curve)


class _AshaRecordWithoutEpochs(ASHARule):
    def record(self, key, curve):
        super().record(key, curve)


class _RecordWithEpochs(MedianRule):
    def record(self, key, curve, epochs=None):
        super().record(key, curve, epochs)


@pytest.mark.parametrize("rule, space, trainer, said", [
    (_RecordWithoutEpochs(min_epochs=1, min_trials=1), {}, {"check_val_every_n_epoch": 2},
     ""),
    (_AshaRecordWithoutEpochs(min_epochs=2, max_epochs=4, eta=2), {},
     {"check_val_every_n_epoch": 2}, ""),
    (_RecordWithoutEpochs(min_epochs=1, min_trials=1),
     {"trainer.check_val_every_n_epoch": {"choice": [1, 2]}}, {},
     "space key 'trainer.check_val_every_n_epoch' may take 2: "),
])
def test_a_rules_record_override_without_epochs_is_refused_before_training_under_every_k(
        tmp_path, rule, space, trainer, said):
    # old code: Failed: DID NOT RAISE (its first trial trained, then the search stopped on
    # TypeError: _RecordWithoutEpochs.record() takes 3 positional arguments but 4 were given)
    name = type(rule).__name__
    with pytest.raises(ConfigError, match="^" + re.escape(
            f"{said}rule {name}'s record(key, curve) ({name}.record) takes no epochs, but "
            f"trainer.check_val_every_n_epoch=2 validates after epochs 2, 4, ... only: the "
            f"search records each trial's values with the epochs they were validated at, as "
            f"record(key, curve, epochs); accept epochs=None as a third parameter (def "
            f"record(self, key, curve, epochs=None), passing it on to super().record), or "
            f"leave check_val_every_n_epoch out (1), or search without a scheduler "
            f"(scheduler='none')") + "$"):
        Search(TinyNet, {"width": {"choice": [4, 8]}, **space}, data=BlobData, budget=2,
               trainer={"max_epochs": 4, **trainer}, scheduler=rule,
               run_dir=tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()  # refused before anything trained or was written


def test_a_rules_record_without_epochs_is_taken_where_each_epoch_validates(tmp_path):
    kw = {"data": BlobData, "budget": 2, "verbose": False, "trainer": {"max_epochs": 4}}
    Search(TinyNet, {"width": {"choice": [4, 8]}}, run_dir=tmp_path / "one",
           scheduler=_RecordWithoutEpochs(), **kw)  # one value an epoch: as it was
    Search(TinyNet, {"width": {"choice": [4, 8]}, "trainer.check_val_every_n_epoch": {
        "choice": [1, 2]}}, run_dir=tmp_path / "two", scheduler=_RecordWithEpochs(), **kw)


def test_a_configs_scheduler_is_a_name_so_no_rule_override_reaches_its_trials(tmp_path):
    """A config (``lightning-nas search``) names its scheduler; a rule object, whose
    ``record`` may be an override, comes from Python alone (a sweep takes no scheduler)."""
    from lightning_nas.search.from_config import search_from_config

    node = {"class_path": f"{__name__}._RecordWithoutEpochs"}
    cfg = {"model": {"class_path": "tests.helpers_models.TinyNet"},
           "data": {"class_path": "tests.helpers_data.BlobData"},
           "trainer": {"max_epochs": 4, "check_val_every_n_epoch": 2},
           "search": {"space": {"width": {"choice": [4, 8]}}, "budget": 2,
                      "run_dir": str(tmp_path / "run"), "scheduler": node}}
    # old code: AssertionError (the message ended at "got {...}", so a user with a rule
    # of their own was not told that Python takes it)
    with pytest.raises(ConfigError) as refused:
        search_from_config(cfg)
    assert str(refused.value) == (
        f"`scheduler` must be one of none, asha, hyperband, median, got {node!r}: a config "
        f"names its scheduler; a rule of your own, an instance of a subclass of "
        f"lightning_nas.search.schedulers.Rule, is given from Python: Search(..., "
        f"scheduler=_RecordWithoutEpochs(...))")
    assert not (tmp_path / "run").exists()
    # from Python, a rule class (not an instance) is said to be built
    with pytest.raises(ConfigError) as refused:
        SearchSettings.from_options(scheduler=_RecordWithoutEpochs)
    assert str(refused.value) == (
        "`scheduler` must be one of none, asha, hyperband, median, or a rule object (an "
        "instance of a subclass of lightning_nas.search.schedulers.Rule), got the class "
        "_RecordWithoutEpochs; build one: scheduler=_RecordWithoutEpochs(...)")
    with pytest.raises(ConfigError, match=re.escape(
            "or a rule object (an instance of a subclass of lightning_nas.search.schedulers."
            "Rule: scheduler=MedianRule(...)), got 3")):
        SearchSettings.from_options(scheduler=3)


class _RecordNeedsEpochs(MedianRule):
    """A ``record`` override whose ``epochs`` has no default."""

    def record(self, key, curve, epochs):
        super().record(key, curve, epochs)


def test_a_record_override_that_needs_epochs_is_given_them_where_each_epoch_validates():
    # old code: TypeError: _RecordNeedsEpochs.record() missing 1 required positional
    # argument: 'epochs' (a search validating every epoch, once its first trial had trained)
    rule = _RecordNeedsEpochs()
    record_curve(rule, 1, [0.5, 0.7], [1, 2])
    record_curve(rule, 2, [0.4], [])  # a store an older version wrote: no epochs
    assert rule.values == {1: {1: 0.5, 2: 0.4}, 2: {1: 0.7}}

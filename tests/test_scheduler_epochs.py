"""Schedulers under ``trainer.check_val_every_n_epoch: k``: a trial's values reach its rule
at the epochs Lightning validated them, live and when a resume replays the store (which
keeps each value's epoch in ``curve_epochs``), so ASHA ranks a trial at rung 2 by its epoch-2
value and at rung 4 by its epoch-4 value; a ``k`` that misses a rung is refused before
anything trains, naming the rungs and the values of ``k`` that would work."""

from __future__ import annotations

import csv
import math
import re
import sqlite3
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.pruning import PruningCallback
from lightning_nas.search.rule_checks import check_validates_each_epoch
from lightning_nas.search.rule_epochs import record_curve
from lightning_nas.search.schedulers import ASHARule, Decision, HyperbandRule, MedianRule
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


class _Knob(TinyNet):
    """Logs ``val_acc`` ``q`` at every validation."""

    def __init__(self, q: float = 0.5, **kw) -> None:
        super().__init__(**kw)
        self.q = q

    def validation_step(self, batch, batch_idx):
        self.log("val_acc", torch.tensor(self.q))


def _fit(tmp_path: Path, rule, every: int) -> tuple[pl.Trainer, PruningCallback]:
    """A plain fit of 4 epochs validated every ``every`` epochs, judged by ``rule`` (its
    run's ``val_acc`` 0.5 throughout); the Trainer (also when it raised) and the callback."""
    callback = PruningCallback(rule, monitor="val_acc", trial_key=0)
    trainer = pl.Trainer(max_epochs=4, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_train_batches=2,
                         check_val_every_n_epoch=every, callbacks=[callback],
                         default_root_dir=tmp_path)
    try:
        trainer.fit(_Knob(q=0.5, width=4), datamodule=BlobData(**DATA))
    except ConfigError as err:
        err.trainer = trainer
        raise
    return trainer, callback


@pytest.mark.parametrize("rule, decision", [
    (ASHARule(min_epochs=2, max_epochs=4, eta=2), Decision.PAUSE),
    # rung 8 past the fit's max_epochs: judged at 2 and 4 all the same
    (ASHARule(min_epochs=2, max_epochs=8, eta=2), Decision.PAUSE),
    (MedianRule(min_epochs=1, min_trials=1), Decision.STOP)])
def test_a_pruning_callback_judges_a_fit_validated_every_2_epochs_at_its_epochs(
        tmp_path, rule, decision):
    # old code: ConfigError: scheduler 'ASHARule' judges each trial by its validation after
    # every epoch, but trainer.check_val_every_n_epoch=2 does not validate once per epoch
    rule.record(100, [0.9, 0.9], [2, 4])  # a better run, validated after epochs 2 and 4
    trainer, callback = _fit(tmp_path, rule, every=2)
    assert (callback.decision, callback.stopped_epoch, trainer.current_epoch) == \
        (decision, 2, 2)
    assert rule.values[2] == pytest.approx({100: 0.9, 0: 0.5})
    assert rule.values[4] == pytest.approx({100: 0.9})


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


@pytest.mark.parametrize("scheduler, every, rungs, works", [
    ({"scheduler": "asha", "min_epochs": 2, "eta": 2}, 3, "rungs 2, 4 are", "1 or 2"),
    ({"scheduler": "hyperband", "min_epochs": 1, "eta": 2}, 2, "rung 1 is", "1"),
    ({"scheduler": "asha", "min_epochs": 2, "eta": 3, "max_epochs": 8}, 4, "rungs 2, 6 are",
     "1 or 2"),
])
def test_a_validation_every_k_epochs_that_misses_a_rung_is_refused_before_training(
        tmp_path, scheduler, every, rungs, works):
    # hyperband's brackets start at 1, 2 and 4; asha's rungs with eta 3 are 2, 6 and 8
    with pytest.raises(ConfigError, match=(
            rf"^scheduler '{scheduler['scheduler']}' judges each trial at its rungs, after "
            rf"epochs .*, but trainer\.check_val_every_n_epoch={every} validates after epochs "
            rf"{every}, {2 * every}, \.\.\. only: {rungs} not validated; give "
            rf"check_val_every_n_epoch {works} \(a divisor of every rung\), or search "
            rf"without a scheduler \(scheduler='none'\)$")):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,
               trainer={"max_epochs": scheduler.get("max_epochs", 4),
                        "check_val_every_n_epoch": every},
               run_dir=tmp_path / "run", verbose=False, **scheduler)
    assert not (tmp_path / "run").exists()  # refused before anything trained or was written


def test_a_searched_validation_interval_is_judged_against_the_rungs(tmp_path):
    kw = {"data": BlobData, "budget": 2, "scheduler": "asha", "min_epochs": 2, "eta": 2,
          "trainer": {"max_epochs": 4}, "verbose": False}
    with pytest.raises(ConfigError, match=re.escape(
            "space key 'trainer.check_val_every_n_epoch' may take 3: scheduler 'asha' judges "
            "each trial at its rungs, after epochs 2, 4, but")):
        Search(TinyNet, {"width": {"choice": [4, 8]},
                         "trainer.check_val_every_n_epoch": {"choice": [2, 3]}},
               run_dir=tmp_path / "bad", **kw)
    assert not (tmp_path / "bad").exists()
    Search(TinyNet, {"width": {"choice": [4, 8]},  # each value validates at every rung
                     "trainer.check_val_every_n_epoch": {"choice": [1, 2]}},
           run_dir=tmp_path / "good", **kw)


def test_a_pruning_callback_refuses_a_fit_that_skips_its_rules_rungs(tmp_path):
    with pytest.raises(ConfigError, match=re.escape(
            "scheduler 'ASHARule' judges each trial at its rungs, after epochs 2, 4, but "
            "trainer.check_val_every_n_epoch=3 validates after epochs 3, 6, ... only: rungs "
            "2, 4 are not validated; give check_val_every_n_epoch 1 or 2 (a divisor of every "
            "rung), or leave the PruningCallback out")) as refused:
        _fit(tmp_path, ASHARule(min_epochs=2, max_epochs=4, eta=2), every=3)
    assert refused.value.trainer.global_step == 0  # refused before training
    median, _ = _fit(tmp_path, MedianRule(), every=3)  # it judges at any validated epoch
    assert median.current_epoch == 4 and not math.isnan(float(median.callback_metrics["val_acc"]))


class _Late(ASHARule):
    """An ASHA rule judging at epoch 4 alone, ``min_epochs`` 1."""

    def rungs_of(self, key):
        return [4]

    def all_rungs(self):
        return [4]


#: a plain fit's refusal of a rule judging at validated epochs from its min_epochs, none of
#: them before epoch 4, the last (``_fit``'s), under ``check_val_every_n_epoch`` every
NEVER_VALIDATED = ("scheduler {name!r} judges a trial at the epochs it validates from "
                   "min_epochs={m} on, but trainer.check_val_every_n_epoch={k} validates "
                   "after epochs {k}, {k2}, ... only: the first of them from epoch {m} on, 4, "
                   "is a trial's last epoch (max_epochs=4), where a verdict stops nothing, so "
                   "it would never stop a trial; give check_val_every_n_epoch a value that "
                   "validates {between} (1 does)")


@pytest.mark.parametrize("min_epochs, every, between", [
    (1, 4, "an epoch from 1 to 3"), (3, 2, "epoch 3")], ids=["every-4", "min-3-every-2"])
def test_a_pruning_callback_refuses_a_fit_that_validates_no_judged_epoch_before_its_end(
        tmp_path, min_epochs, every, between):
    # old code: Failed: DID NOT RAISE (the fit trained its 4 epochs, judged at none)
    said = NEVER_VALIDATED.format(name="MedianRule", m=min_epochs, k=every, k2=2 * every,
                                  between=between)
    with pytest.raises(ConfigError, match="^" + re.escape(
            f"{said}, or leave the PruningCallback out") + "$") as refused:
        _fit(tmp_path, MedianRule(min_epochs=min_epochs, min_trials=1), every=every)
    assert refused.value.trainer.global_step == 0  # refused before training


@pytest.mark.parametrize("scheduler, min_epochs, every, between", [
    ("median", None, 4, "an epoch from 1 to 3"),
    (MedianRule(min_epochs=3, min_trials=1), None, 2, "epoch 3"),
    ("median", 3, 2, "epoch 3")], ids=["every-4", "rule-min-3-every-2", "min-3-every-2"])
def test_a_search_refuses_a_scheduler_that_judges_no_validated_epoch_before_the_end(
        tmp_path, scheduler, min_epochs, every, between):
    # old code: Failed: DID NOT RAISE (each trial would train its 4 epochs, judged at none)
    name = scheduler if isinstance(scheduler, str) else type(scheduler).__name__
    said = NEVER_VALIDATED.format(name=name, m=min_epochs or getattr(scheduler, "min_epochs", 1),
                                  k=every, k2=2 * every, between=between)
    with pytest.raises(ConfigError, match="^" + re.escape(
            f"{said}, or search without a scheduler") + "$"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,
               trainer={"max_epochs": 4, "check_val_every_n_epoch": every},
               scheduler=scheduler, min_epochs=min_epochs, run_dir=tmp_path / "run",
               verbose=False)
    assert not (tmp_path / "run").exists()  # refused before anything trained or was written


@pytest.mark.parametrize("rule, said", [
    (ASHARule(min_epochs=4, max_epochs=8, eta=2), "scheduler 'ASHARule' with min_epochs=4 "
     "would never stop a trial before its end (max_epochs=4); give min_epochs below "
     "max_epochs"),
    (MedianRule(min_epochs=5, min_trials=1), "scheduler 'MedianRule' with min_epochs=5 "
     "would never stop a trial before its end (max_epochs=4); give min_epochs below "
     "max_epochs"),
    (_Late(min_epochs=1, max_epochs=4, eta=2), "scheduler '_Late' judges trials at rung 4 "
     "(_Late.all_rungs), none before a trial's last epoch (max_epochs=4): a verdict there or "
     "later stops nothing, so it would never stop a trial; give _Late a rung below 4 (in its "
     "rungs_of and all_rungs)"),
], ids=["asha", "median", "late-rungs"])
def test_a_pruning_callback_refuses_a_rule_that_judges_no_epoch_before_max_epochs(
        tmp_path, rule, said):
    # old code: Failed: DID NOT RAISE (the fit trained its 4 epochs, judged at none)
    with pytest.raises(ConfigError, match="^" + re.escape(
            f"{said}, or leave the PruningCallback out") + "$") as refused:
        _fit(tmp_path, rule, every=1)
    assert refused.value.trainer.global_step == 0  # refused before training


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


class _OddRungs(ASHARule):
    """Judges every trial at epochs 3 and 6, none of them among its ``rungs`` (2, 4, 6 with
    ``min_epochs=2, eta=2``) but the last."""

    def rungs_of(self, key):
        return [3, 6]


class _OddRungsListed(_OddRungs):
    def all_rungs(self):
        return [3, 6]


def test_a_rule_whose_rungs_of_gives_other_rungs_than_it_lists_is_refused_before_training(
        tmp_path):
    # old code: Failed: DID NOT RAISE (checked against its rungs 2, 4, 6, all validated
    # every 2 epochs, it was taken, and judged no trial at rung 3, which is never validated)
    with pytest.raises(ConfigError, match="^" + re.escape(
            "scheduler '_OddRungs' judges each trial at the rungs its rungs_of gives "
            "(_OddRungs.rungs_of), but lists them in no all_rungs of its own (ASHARule."
            "all_rungs lists ASHA's rungs 2, 4, 6), so trainer.check_val_every_n_epoch=2 "
            "cannot be checked against them: a rung it does not validate would judge no "
            "trial; give _OddRungs an all_rungs() that returns every epoch its rungs_of "
            "gives, or leave check_val_every_n_epoch out (1), or search without a scheduler "
            "(scheduler='none')") + "$"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,
               trainer={"max_epochs": 6, "check_val_every_n_epoch": 2},
               scheduler=_OddRungs(min_epochs=2, max_epochs=6, eta=2),
               run_dir=tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()


def test_the_rungs_a_rule_lists_are_those_a_validation_every_k_epochs_is_checked_against():
    # old code: Failed: DID NOT RAISE (its rungs 2, 4, 6 checked, not 3, 6)
    rule = _OddRungsListed(min_epochs=2, max_epochs=6, eta=2)
    with pytest.raises(ConfigError, match=re.escape(
            "scheduler '_OddRungsListed' judges each trial at its rungs, after epochs 3, 6, "
            "but trainer.check_val_every_n_epoch=2 validates after epochs 2, 4, ... only: "
            "rung 3 is not validated; give check_val_every_n_epoch 1 or 3 (a divisor of every "
            "rung), or leave the PruningCallback out")):
        check_validates_each_epoch({"check_val_every_n_epoch": 2}, rule, alone=True)
    check_validates_each_epoch({"check_val_every_n_epoch": 3}, rule)
    assert rule.missed_by(2) == [3]
    hyperband = HyperbandRule(min_epochs=2, max_epochs=8, eta=2)  # brackets 2, 4, 8 ...
    assert (hyperband.all_rungs(), hyperband.missed_by(2), hyperband.missed_by(4)) == \
        ([2, 4, 8], [], [2])


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

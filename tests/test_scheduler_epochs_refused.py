"""Which ``trainer.check_val_every_n_epoch: k`` a scheduler rule can judge: a plain fit's
``PruningCallback`` judges it at the epochs Lightning validated; a ``k`` that misses a rung,
or that validates no epoch the rule judges before a trial's last, is refused before anything
trains (by ``Search`` and by a fit's ``PruningCallback``), naming the rungs and the values
of ``k`` that would work."""

from __future__ import annotations

import math
import re
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.search.pruning import PruningCallback
from lightning_nas.search.rule_checks import check_validates_each_epoch
from lightning_nas.search.schedulers import ASHARule, Decision, HyperbandRule, MedianRule
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_runs import one_thread

_one_thread = pytest.fixture(autouse=True)(one_thread)

#: a plain fit's data (``_fit``)
DATA = {"n": 64, "batch_size": 16}


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


"""ASHA, Hyperband and median in the search driver: weak trials stopped at a rung, paused
trials promoted from their checkpoints (training what an uninterrupted trial trains), a
resume that keeps them promotable, the time limit, failed trials that are no rung members;
and DDP trials that stop at the same epoch and promote from ``last.ckpt``."""

from __future__ import annotations

import functools
import json
import math
import random
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from lightning_nas import Search
from lightning_nas.errors import NoCompletedTrialError, SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.search.schedulers import ASHARule, Decision, HyperbandRule, Rule
from lightning_nas.search.trial import TrialSpec, fit_trial
from lightning_nas.store import RunStore
from tests.helpers_callbacks import EPOCH_LOG
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


def _epochs(trial_dir: Path) -> list[int]:
    lines = (trial_dir / "epochs.jsonl").read_text().splitlines()
    return [json.loads(line)["epoch"] for line in lines]


def test_asha_stops_a_clearly_worse_trial_at_the_first_rung(tmp_path):
    space = {"lr": {"choice": [1e-6, 0.3]}, "width": {"choice": [8, 16, 32]}}
    result = Search(TinyNet, space, data=BlobData, trainer={"max_epochs": 4,
                                                           "callbacks": EPOCH_LOG},
                    budget=6, scheduler="asha", min_epochs=1, eta=2,
                    optimizer="RandomSearch", seed=4, run_dir=tmp_path, verbose=False).run()
    trials = result.trials
    assert sum(t.status in (TrialStatus.COMPLETED, TrialStatus.PAUSED) for t in trials) == 6
    good_first = next(t.trial_id for t in trials if t.arch["lr"] == 0.3)
    slow = [t for t in trials if t.arch["lr"] == 1e-6 and t.trial_id > good_first]
    assert slow, "the seed must propose a slow trial after a good one"
    for t in slow:  # never promoted: still paused at the end (a resume may promote it)
        assert t.status is TrialStatus.PAUSED and t.epochs == 1 and len(t.curve) == 1
    assert result.best.status is TrialStatus.COMPLETED and result.best.epochs == 4
    for t in trials:  # epochs are counted once, also across promotions
        assert _epochs(tmp_path / "trials" / f"trial_{t.trial_id:04d}") == list(range(t.epochs))
        assert t.epochs == len(t.curve)
    # paused trials keep last.ckpt (to be promoted); completed ones best.ckpt but not last
    assert sorted(p.parent.name for p in (tmp_path / "trials").glob("*/last.ckpt")) == \
        [f"trial_{t.trial_id:04d}" for t in trials if t.status is TrialStatus.PAUSED]


class FailsOnResume(TinyNet):
    def on_load_checkpoint(self, checkpoint):
        raise RuntimeError("cannot resume")


def test_a_promoted_trial_that_fails_to_resume_keeps_the_epochs_it_trained(tmp_path):
    # was: stored FAILED with epochs 0 and an empty curve, as if it had never trained (a
    # promoted trial of the Hydra example failed so on a weights_only checkpoint load)
    space = {"lr": {"choice": [1e-6, 0.3]}, "width": {"choice": [8, 16, 32]}}
    result = Search(FailsOnResume, space, data=BlobData,
                    trainer={"max_epochs": 4, "callbacks": EPOCH_LOG},
                    budget=6, scheduler="asha", min_epochs=1, eta=2, optimizer="RandomSearch",
                    seed=4, run_dir=tmp_path, verbose=False).run()
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    assert failed, "the seed must promote a paused trial"
    for t in failed:
        assert "cannot resume" in t.error
        assert t.epochs == len(t.curve) >= 1 and all(v is not None for v in t.curve)
        events = _epochs(tmp_path / "trials" / f"trial_{t.trial_id:04d}")
        assert events == list(range(t.epochs))  # the epochs it had trained, once each


SGD = functools.partial(torch.optim.SGD)


class PartialOptimizerNet(TinyNet):
    """A Hydra-shaped module: its optimizer a ``_partial_: true`` node, a
    ``functools.partial`` that ``save_hyperparameters()`` stores in every checkpoint."""

    def __init__(self, optimizer=SGD, **kwargs) -> None:
        super().__init__(**kwargs)
        self.save_hyperparameters()

    def configure_optimizers(self):
        return self.hparams.optimizer(self.parameters(), lr=self.hparams.lr)


# was (PartialOptimizerNet): the promoted trial failed with "Weights only load failed ...
# Unsupported global: GLOBAL functools.partial", and the store forgot its paused epochs
@pytest.mark.parametrize("model", [TinyNet, PartialOptimizerNet])
def test_a_promoted_trial_resumes_from_its_checkpoint(tmp_path, model):
    rule = ASHARule(min_epochs=1, max_epochs=4, eta=2)
    rule.record(100, [0.99])  # two better trials at rung 1: trial 1 will be paused
    rule.record(101, [0.98])
    trainer = {"max_epochs": 4, "callbacks": EPOCH_LOG}
    spec = TrialSpec(trial_id=1, arch={"width": 16}, trial_dir=str(tmp_path / "t1"),
                     model=model, model_init_args={"lr": 1e-6}, data=BlobData,
                     trainer=trainer, rule=rule.snapshot())
    first = fit_trial(spec)
    assert first.status is TrialStatus.PAUSED and first.epochs == 1
    last = tmp_path / "t1" / "last.ckpt"
    saved = torch.load(last, weights_only=False)["state_dict"]
    rule.record(1, first.curve)
    for key in (102, 103, 104, 105):  # worse trials arrive: trial 1 enters the top half
        rule.record(key, [0.0])
    assert rule.promotion({1: 1}) == 1
    spec.rule, spec.ckpt_path, spec.clear_dir = rule.snapshot(), str(last), False
    second = fit_trial(spec)
    assert second.status is TrialStatus.COMPLETED and second.epochs == 4, second.error
    assert _epochs(tmp_path / "t1") == [0, 1, 2, 3]  # the epoch counter continued
    assert len(second.curve) == 4 and second.curve[0] == first.curve[0]
    start = torch.load(tmp_path / "t1" / "w1.pt")
    assert all(torch.equal(start[k], saved[k]) for k in saved)  # from last.ckpt's weights


class DrawingNet(TinyNet):
    """Draws from every random source a project may use: dropout (torch), NumPy and
    ``random`` (and ``BlobData`` shuffles its batches)."""

    def training_step(self, batch, batch_idx):
        import numpy as np

        x, y = batch
        noise = 1.0 + 0.1 * random.random() + 0.1 * float(np.random.rand())
        return F.cross_entropy(self(F.dropout(x, 0.3, self.training)), y) * noise


def test_a_promoted_trial_trains_what_an_uninterrupted_one_does(tmp_path):
    # was: each segment of a trial was seeded again, so the promoted part drew the first
    # epochs' shuffles, dropout masks and NumPy / random values once more
    trainer = {"max_epochs": 3, "callbacks": EPOCH_LOG}

    def spec(name: str, rule=None) -> TrialSpec:
        return TrialSpec(trial_id=1, arch={"width": 16}, trial_dir=str(tmp_path / name),
                         model=DrawingNet, model_init_args={"lr": 0.2}, data=BlobData,
                         trainer=trainer, rule=rule, seed=3)

    straight = fit_trial(spec("straight"))
    rule = ASHARule(min_epochs=1, max_epochs=3, eta=2)
    rule.record(100, [0.99])
    rule.record(101, [0.98])
    paused = spec("paused", rule.snapshot())
    assert fit_trial(paused).status is TrialStatus.PAUSED
    for key in (102, 103, 104, 105):
        rule.record(key, [0.0])
    paused.rule, paused.clear_dir = rule.snapshot(), False
    paused.ckpt_path = str(tmp_path / "paused" / "last.ckpt")
    promoted = fit_trial(paused)
    assert promoted.status is TrialStatus.COMPLETED, promoted.error
    for epoch in (1, 2):  # the weights each epoch starts from
        ours, theirs = (torch.load(tmp_path / d / f"w{epoch}.pt") for d in ("paused", "straight"))
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs), epoch
    assert promoted.curve == straight.curve


class WorseEachEpoch(TinyNet):
    def validation_step(self, batch, batch_idx):
        self.log("val_acc", 0.9 - 0.1 * self.current_epoch)


def test_a_trial_paused_at_an_epoch_that_did_not_improve_resumes_after_it(tmp_path):
    """Lightning 2.6 writes ``save_last`` only when a top-k checkpoint is saved at the same
    step: ``last.ckpt`` must still be the pause epoch's, or the promoted trial trains an
    epoch again."""
    rule = ASHARule(min_epochs=2, max_epochs=4, eta=2)
    for key in (100, 101):  # two better trials at rung 2: trial 1 will be paused
        rule.record(key, [0.99, 0.99])
    spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(tmp_path / "t1"),
                     model=WorseEachEpoch, data=BlobData,
                     trainer={"max_epochs": 4, "callbacks": EPOCH_LOG}, rule=rule.snapshot())
    first = fit_trial(spec)
    assert first.status is TrialStatus.PAUSED and first.epochs == 2
    last = tmp_path / "t1" / "last.ckpt"
    # the pause epoch's, written when the fit ended: Lightning's epoch is the epochs done
    assert torch.load(last, weights_only=False)["epoch"] == 2
    rule.record(1, first.curve)
    for key in (102, 103, 104, 105):
        rule.record(key, [0.0, 0.0])
    spec.rule, spec.ckpt_path, spec.clear_dir = rule.snapshot(), str(last), False
    second = fit_trial(spec)
    assert _epochs(tmp_path / "t1") == [0, 1, 2, 3]  # each epoch trained once
    assert second.curve == pytest.approx([0.9, 0.8, 0.7, 0.6])
    assert second.score == pytest.approx(0.9) and second.epoch == 0
    best = torch.load(tmp_path / "t1" / "best.ckpt", weights_only=False)
    assert best["epoch"] == 0  # still the best epoch's weights


class PauseAtFirstEpoch(Rule):
    def decide(self, key, epoch, value):
        return Decision.PAUSE if epoch == 1 else Decision.CONTINUE

    def _observe(self, key, epoch, value):
        pass

    def promotion(self, paused):
        return next(iter(paused), None)


def test_no_promotion_starts_after_the_time_limit(tmp_path):
    # trial 1's first epoch (4 steps of 0.4 s) outlasts the time limit; its promotion
    # started after it all the same
    space = {"width": {"choice": [4, 8]}, "lr": {"float": [0.01, 0.1]}}
    with pytest.raises(NoCompletedTrialError) as info:  # paused alone: no best trial
        Search(TinyNet, space, data=BlobData, trainer={"max_epochs": 3}, budget=4,
               model_init_args={"sleep": 0.4}, scheduler=PauseAtFirstEpoch(),
               time_limit=1.0, run_dir=tmp_path, verbose=False).run()
    assert [(t.status, t.epochs) for t in info.value.result.trials] == [(TrialStatus.PAUSED, 1)]
    assert str(info.value).endswith(
        "completed (1 paused), so it has no best trial: the time limit of 1s was reached; a "
        "resume may promote the paused; give a longer time_limit (call .run() again to "
        "resume the run)")


class PromotesAPair(PauseAtFirstEpoch):
    """Promotes the first paused trial once two are paused."""

    def promotion(self, paused):
        return min(paused) if len(paused) >= 2 else None


def test_a_search_that_used_its_budget_says_a_larger_one_may_promote_the_paused(tmp_path):
    # was: "... (1 paused), so it has no best trial; a resume may promote the paused", and
    # the same search again trained nothing and said the same: its budget was used
    space = {"width": {"choice": [4, 8]}, "lr": {"float": [0.01, 0.1]}}

    def search(budget: int) -> Search:
        return Search(TinyNet, space, data=BlobData, trainer={"max_epochs": 3},
                      budget=budget, scheduler=PromotesAPair(), seed=0, run_dir=tmp_path,
                      verbose=False)

    for _ in range(2):  # the same search again: nothing trained, the same said
        with pytest.raises(NoCompletedTrialError) as info:
            search(1).run()
        assert str(info.value).endswith(
            "completed (1 paused), so it has no best trial; a resume with a larger budget "
            "may promote the paused"), str(info.value)
        assert [(t.status, t.epochs) for t in info.value.result.trials] == [
            (TrialStatus.PAUSED, 1)]
    try:  # as it says: a larger budget promotes it (it trains on past its pause)
        trials = search(2).run().trials
    except NoCompletedTrialError as err:
        trials = err.result.trials
    assert trials[0].trial_id == 1 and trials[0].epochs > 1, trials


class PromotesByName(PauseAtFirstEpoch):
    """Promotes by a name of its own (``"trial-1"``), not by a key of ``paused``."""

    def promotion(self, paused):
        return f"trial-{next(iter(paused))}" if paused else None


def test_a_rule_that_promotes_no_paused_trial_stops_the_search_saying_so(tmp_path):
    # was: KeyError: 'trial-1' out of the search loop, the paused trial left RUNNING
    space = {"width": {"choice": [4, 8]}}
    with pytest.raises(SearchError, match=re.escape(
            "scheduler PromotesByName's promotion returned 'trial-1', which is no paused "
            "trial (paused: 1): a rule's promotion(paused) returns one of the keys of "
            "paused, {trial id: epochs trained}, or None")):
        Search(TinyNet, space, data=BlobData, trainer={"max_epochs": 3}, budget=1,
               scheduler=PromotesByName(), run_dir=tmp_path, verbose=False).run()
    with RunStore(tmp_path / "search.db") as store:
        assert [(t.status, t.epochs) for t in store.trials()] == [(TrialStatus.PAUSED, 1)]


def test_hyperband_and_median_in_the_driver(tmp_path):
    space = {"lr": {"float": [1e-6, 0.3], "log": True}, "width": {"choice": [8, 16]}}
    hb = Search(TinyNet, space, data=BlobData, trainer={"max_epochs": 4}, budget=6,
                scheduler="hyperband", min_epochs=1, eta=2, optimizer="RandomSearch",
                run_dir=tmp_path / "hb", verbose=False).run()
    rule = HyperbandRule(min_epochs=1, max_epochs=4, eta=2)
    for t in hb.trials:
        assert t.status in (TrialStatus.COMPLETED, TrialStatus.PAUSED)
        assert t.epochs in rule.rungs_of(t.trial_id)  # stopped only at its bracket's rungs
    assert any(t.status is TrialStatus.COMPLETED for t in hb.trials)
    med = Search(TinyNet, space, data=BlobData, trainer={"max_epochs": 4}, budget=6,
                 scheduler="median", min_epochs=1, optimizer="RandomSearch", seed=1,
                 run_dir=tmp_path / "med", verbose=False).run()
    pruned = [t for t in med.trials if t.status is TrialStatus.PRUNED]
    assert pruned and all(t.epochs < 4 for t in pruned)


class EvenEpochsNet(TinyNet):
    """Logs ``val_acc`` only in the validations of even epochs."""

    def validation_step(self, batch, batch_idx):
        if self.current_epoch % 2 == 0:
            return super().validation_step(batch, batch_idx)
        return None


def test_a_monitor_logged_in_some_epochs_stores_no_value_for_the_others(tmp_path):
    # was: epoch 1 stored epoch 0's val_acc (Lightning keeps it in callback_metrics), and a
    # scheduler judged the trial's epoch 2 by it
    space = {"width": {"choice": [8, 16]}}
    kw = dict(data=BlobData, trainer={"max_epochs": 3}, budget=1, verbose=False)
    result = Search(EvenEpochsNet, space, run_dir=tmp_path / "plain", **kw).run()
    with RunStore(tmp_path / "plain" / "search.db") as store:
        curve = store.trials()[0].curve
    assert [math.isnan(v) for v in curve] == [False, True, False]
    assert result.best.score == curve[result.best.epoch] == max(curve[0], curve[2])
    with pytest.raises(SearchError, match=r"'val_acc' after every epoch, but the validation "
                                          r"of epoch 1 did not log it"):
        Search(EvenEpochsNet, space, scheduler="median", run_dir=tmp_path / "median",
               **kw).run()


def test_resume_keeps_paused_trials_promotable(tmp_path):
    space = {"lr": {"float": [1e-6, 0.3], "log": True}, "width": {"choice": [8, 16]}}
    kw = {"data": BlobData, "trainer": {"max_epochs": 4}, "scheduler": "asha", "eta": 2,
          "optimizer": "RandomSearch", "run_dir": tmp_path, "verbose": False}
    first = Search(TinyNet, space, budget=3, **kw).run()
    again = Search(TinyNet, space, budget=6, **kw).run()
    assert [t.trial_id for t in again.trials] == list(range(1, 7))
    for old in first.trials:  # finished trials are kept; pruned ones may come back promoted
        new = again.trials[old.trial_id - 1]
        assert new.arch == old.arch and new.epochs >= old.epochs


class KnobNet(TinyNet):
    """Its ``val_acc`` is its knob ``q`` (plus 0.01 an epoch): the rule's decisions are known."""

    def __init__(self, q: float = 0.5, **kw) -> None:
        super().__init__(**kw)
        self.q = q

    def validation_step(self, batch, batch_idx):
        self.log("val_acc", torch.tensor(self.q + 0.01 * self.current_epoch))


def test_a_trial_paused_when_the_search_ends_is_promoted_by_a_resume(tmp_path):
    # was: still paused at the end, it became PRUNED (its last.ckpt deleted), though its
    # value still counted at its rung: a resume with a larger budget never promoted it, as
    # the uninterrupted search with that budget did
    space = {"q": {"choice": [0.9, 0.6, 0.5, 0.1, 0.11, 0.12, 0.13, 0.14]}}
    kw = {"data": BlobData, "data_init_args": {"n": 64}, "trainer": {"max_epochs": 3},
          "scheduler": "asha", "min_epochs": 1, "eta": 3, "optimizer": "RandomSearch",
          "seed": 0, "verbose": False}

    def run(run_dir, budget):
        result = Search(KnobNet, space, budget=budget, run_dir=run_dir, **kw).run()
        return [(t.arch["q"], t.status, t.epochs) for t in result.trials], result

    whole, _ = run(tmp_path / "whole", 8)
    assert (0.6, TrialStatus.COMPLETED, 3) in whole  # promoted by the later, weaker trials
    cut, first = run(tmp_path / "cut", 5)
    assert (0.6, TrialStatus.PAUSED, 1) in cut  # not complete: never the best or exported
    paused = next(t for t in first.trials if t.arch["q"] == 0.6)
    assert paused not in first.leaderboard() and first.best.arch["q"] == 0.9
    assert (tmp_path / "cut" / "trials" / f"trial_{paused.trial_id:04d}" / "last.ckpt").exists()
    resumed, _ = run(tmp_path / "cut", 8)
    assert resumed == whole


def test_on_trial_end_hears_of_a_paused_trial_again_when_its_promotion_ends(tmp_path):
    # the README said "once per trial"; a paused trial's promoted run ends again
    space = {"q": {"choice": [0.9, 0.6, 0.5, 0.1, 0.11, 0.12, 0.13, 0.14]}}
    heard = []
    result = Search(KnobNet, space, data=BlobData, data_init_args={"n": 64},
                    trainer={"max_epochs": 3}, budget=8, scheduler="asha", min_epochs=1, eta=3,
                    optimizer="RandomSearch", seed=0, run_dir=tmp_path, verbose=False,
                    on_trial_end=lambda t: heard.append((t.arch["q"], t.status, t.epochs))).run()
    promoted = next(t for t in result.trials if t.arch["q"] == 0.6)
    assert promoted.status is TrialStatus.COMPLETED and promoted.epochs == 3
    assert [h for h in heard if h[0] == 0.6] == [(0.6, TrialStatus.PAUSED, 1),
                                                 (0.6, TrialStatus.COMPLETED, 3)]
    assert len(heard) == len(result.trials) + 1  # each trial once, the promoted one again


def test_the_summary_says_one_paused_trial_in_the_singular(tmp_path, capsys):
    # was: "1 paused (a resume may promote them)"
    space = {"q": {"choice": [0.9, 0.1]}}
    result = Search(KnobNet, space, data=BlobData, data_init_args={"n": 64},
                    trainer={"max_epochs": 3}, budget=2, scheduler="asha", min_epochs=1,
                    eta=2, optimizer="RandomSearch", seed=0, run_dir=tmp_path).run()
    assert [(t.arch["q"], t.status) for t in result.trials] == \
        [(0.9, TrialStatus.COMPLETED), (0.1, TrialStatus.PAUSED)]
    assert "1 paused (a resume with a larger budget may promote it), 0 failed, 4 epochs " \
        "trained" in capsys.readouterr().out


def test_a_search_that_used_its_budget_says_a_resume_needs_a_larger_one(tmp_path, capsys):
    # was: "1 paused (a resume may promote it)", but the search had promoted every trial it
    # could: the same command again promoted nothing and said the same words again
    space = {"q": {"choice": [0.9, 0.1]}}
    options = dict(data=BlobData, data_init_args={"n": 64}, trainer={"max_epochs": 3},
                   scheduler="asha", min_epochs=1, eta=2, optimizer="RandomSearch", seed=0,
                   run_dir=tmp_path)
    Search(KnobNet, space, budget=2, **options).run()
    assert "(a resume with a larger budget may promote it)" in capsys.readouterr().out
    again = Search(KnobNet, space, budget=2, **options).run()  # the same budget
    assert [(t.status, t.epochs) for t in again.trials] == \
        [(TrialStatus.COMPLETED, 3), (TrialStatus.PAUSED, 1)]  # nothing promoted
    assert "(a resume with a larger budget may promote it)" in capsys.readouterr().out


def test_a_resume_counts_the_pruned_trials_its_budget_used(tmp_path, capsys):
    # was: "Resuming RUN: 2 completed, 0 failed, 0 to re-run, 0 paused" of 4 trials started
    # (2 pruned), the next line "[trial 5 | 5/5 done]"
    space = {"q": {"choice": [0.9, 0.8, 0.7, 0.1, 0.2]}}
    kw = {"data": BlobData, "data_init_args": {"n": 64}, "trainer": {"max_epochs": 3},
          "scheduler": "median", "optimizer": "RandomSearch", "seed": 1, "run_dir": tmp_path}
    first = Search(KnobNet, space, budget=4, **kw).run()
    assert [t.status for t in first.trials].count(TrialStatus.PRUNED) == 2
    capsys.readouterr()
    Search(KnobNet, space, budget=5, **kw).run()
    assert f"Resuming {tmp_path}: 2 completed, 2 pruned, 0 failed, 0 to re-run, 0 paused\n" \
        in capsys.readouterr().out


def test_failed_trials_are_no_rung_members():
    # was: a NaN was ranked as -inf, so each failure added a rung member: after five, the
    # top third of rung 1 reached the paused 0.5 and promoted it
    rule = ASHARule(min_epochs=1, max_epochs=3, eta=3)
    rule.record(1, [0.9, 0.8, 0.7])
    rule.record(2, [0.5])
    for key in (3, 4, 5, 6, 7):
        assert rule.decide(key, 1, math.nan) is Decision.PAUSE  # it stops (and fails)
        rule.record(key, [math.nan])
    assert rule.values[1] == {1: 0.9, 2: 0.5} and rule.promotion({2: 1}) is None
    rule.record(8, [0.4, 0.3])  # paused and promoted, then failed: ranked no more
    rule.forget(8)
    assert 8 not in rule.values[1] and 8 not in rule.values[3]


class NanKnobNet(KnobNet):
    """``KnobNet`` whose ``val_acc`` is NaN for a knob below 0.1 (a diverging architecture)."""

    def validation_step(self, batch, batch_idx):
        q = self.q if self.q >= 0.1 else math.nan
        self.log("val_acc", torch.tensor(q + 0.01 * self.current_epoch))


class NanLossKnobNet(KnobNet):
    """``KnobNet`` that logs a ``val_loss`` of NaN for a knob below 0.2: a trial paused with
    a finite ``val_acc``, FAILED as its objective ``val_loss`` cannot be told."""

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        self.log("val_loss", torch.tensor(math.nan if self.q < 0.2 else 1 - self.q))


@pytest.mark.parametrize("model, low, seed, objectives", [
    (NanKnobNet, [0.01, 0.02, 0.03, 0.04, 0.05], 7, None),  # 0.9, 0.5, then the five
    (NanLossKnobNet, [0.11, 0.12, 0.13, 0.14], 3, {"val_acc": "max", "val_loss": "min"}),
])  # seed 3: 0.9, 0.14, 0.5, then the other three
def test_failed_trials_promote_no_paused_trial_live_or_on_resume(tmp_path, model, low, seed,
                                                                objectives):
    # was: each failure was a member of rung 1 (a NaN as -inf), so once there were six the
    # top third reached the paused 0.5 and it was promoted and completed; a resume replayed
    # them into the rule too
    kw = {"data": BlobData, "data_init_args": {"n": 64}, "trainer": {"max_epochs": 3},
          "scheduler": "asha", "min_epochs": 1, "eta": 3, "optimizer": "RandomSearch",
          "seed": seed, "budget": 2 + len(low), "max_failures": 10, "objectives": objectives,
          "run_dir": tmp_path, "verbose": False}
    space = {"q": {"choice": [0.9, 0.5, *low]}}

    def run():
        return {t.arch["q"]: (t.status, t.epochs) for t in Search(model, space, **kw).run().trials}

    first = run()
    assert first == {0.9: (TrialStatus.COMPLETED, 3), 0.5: (TrialStatus.PAUSED, 1),
                     **{q: (TrialStatus.FAILED, 1) for q in low}}
    assert run() == first  # the resume replays no failure into the rule: 0.5 stays paused

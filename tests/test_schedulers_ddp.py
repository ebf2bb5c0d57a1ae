"""Schedulers over DDP trials (two gloo ranks on CPU): the ranks stop at the same epoch, and
ASHA promotes a paused DDP trial from its ``last.ckpt``."""

from __future__ import annotations

import json

import pytest

from lightning_nas import Search
from lightning_nas.results import TrialStatus
from lightning_nas.search.runner import run_trial
from lightning_nas.search.trial import TrialSpec
from tests.helpers_callbacks import EPOCH_LOG
from tests.helpers_data import BlobData


@pytest.mark.slow
def test_ddp_ranks_stop_at_the_same_epoch(tmp_path):
    from tests.helpers_callbacks import StopAt

    trial_dir = tmp_path / "t1"
    trainer = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 5,
               "callbacks": [{"class_path": "tests.helpers.RankRecorder"}]}
    result = run_trial(TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(trial_dir),
                                     model="tests.helpers.SyncedTinyNet", data=BlobData,
                                     trainer=trainer, rule=StopAt(2, str(trial_dir))))
    assert result.status is TrialStatus.PRUNED and result.epochs == 2
    ranks = [json.loads((trial_dir / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [len(r["epochs"]) for r in ranks] == [2, 2]  # both stopped after epoch 2
    # only rank 0 asked the rule; rank 1 stopped because the decision was broadcast
    assert (trial_dir / "rule_calls_rank0").read_text().split() == ["1", "2"]
    assert not (trial_dir / "rule_calls_rank1").exists()


@pytest.mark.slow
def test_asha_over_ddp_trials_promotes_from_last_ckpt(tmp_path):
    """A promoted DDP trial resumes from the last.ckpt its kept folder holds: no FAILED
    trial, every epoch trained once, whole curves (issue 11)."""
    space = {"width": {"choice": [4, 32]}, "lr": {"choice": [0.3, 0.02]}}
    trainer = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 3,
               "callbacks": EPOCH_LOG}
    # seed 6 proposes (32, 0.3), (4, 0.3), (32, 0.02), (4, 0.02): the second pauses at
    # rung 1, the fourth promotes it, and it ties the first at rung 2 and completes
    result = Search("tests.helpers.SyncedTinyNet", space, data=BlobData,
                    data_init_args={"batch_size": 32}, trainer=trainer, budget=4,
                    scheduler="asha", min_epochs=1, eta=2, optimizer="RandomSearch", seed=6,
                    run_dir=tmp_path, verbose=False).run()
    trials = result.trials
    assert len(trials) == 4 and not [t for t in trials if t.status is TrialStatus.FAILED]
    fits = {}
    for t in trials:
        lines = (tmp_path / "trials" / f"trial_{t.trial_id:04d}" / "epochs.jsonl").read_text()
        log = [json.loads(line) for line in lines.splitlines()]
        assert [e["epoch"] for e in log] == list(range(t.epochs))  # each epoch once
        assert len(t.curve) == t.epochs
        if t.status is TrialStatus.COMPLETED:
            assert t.epochs == 3 and len(t.curve) == 3
        fits[t.trial_id] = [e["fit"] for e in log]
    # trained by two fits: paused after epoch 1 (rung 1), promoted, resumed
    promoted = [t for t in trials if len(set(fits[t.trial_id])) > 1]
    assert promoted, "the seed must promote a trial paused at rung 1"
    for t in promoted:
        first, *rest = fits[t.trial_id]
        assert t.status is TrialStatus.COMPLETED and first not in rest and len(set(rest)) == 1
        assert t.curve[0] < max(o.curve[0] for o in trials if o.trial_id < t.trial_id)
    # last.ckpt is kept while a trial is paused, also when the search ends
    assert sorted(p.parent.name for p in tmp_path.glob("trials/*/last.ckpt")) == \
        [f"trial_{t.trial_id:04d}" for t in trials if t.status is TrialStatus.PAUSED]

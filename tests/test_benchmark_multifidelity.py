"""``benchmarks/multifidelity.py``'s fairness check: both sides trained the same work.

Each seed's two searches (without and with the scheduler) must have trained the same
architectures, in the same order (trial 1 of one is trial 1 of the other), and the
scheduler side's trials must score, at each epoch they validated, what the same trials
scored at that epoch without it (every trial is seeded, and a promoted trial resumes its
random state: alike to the last bit). The check was: the two sides' architectures, sorted,
so the same set proposed in another order, or trials trained otherwise, passed. (A real
pair of searches passes it: `python benchmarks/multifidelity.py --quick` runs one.)
"""

from __future__ import annotations

import pytest

from lightning_nas.search.trial import quiet_lightning
from tests.helpers_benchmarks import load_script

_A, _B = {"width": 16, "lr": 0.01}, {"width": 32, "lr": 0.003}


@pytest.fixture(scope="module")
def multifidelity():
    return load_script("multifidelity.py")


def test_the_sides_must_have_trained_the_same_architectures_in_order(multifidelity):
    same = multifidelity.same_work
    full = [(_A, {1: 0.5, 2: 0.75}), (_B, {1: 0.25, 2: 0.5})]
    fast = [(_A, {1: 0.5, 2: 0.75}), (_B, {1: 0.25})]  # trial 2 paused after epoch 1
    assert same(full, fast, "asha") == (
        "same work on both sides: 2 architectures in the same order, asha's 3 "
        "validations scored as without it")
    # the same architectures in another order: the old check sorted them, and passed
    with pytest.raises(SystemExit, match=r"trial 1: none trained \{'width': 16, 'lr': 0.01\}, "
                                         r"asha \{'width': 32, 'lr': 0.003\}"):
        same(full, fast[::-1], "asha")
    with pytest.raises(SystemExit, match="none ran 2 trials, asha 1"):
        same(full, fast[:1], "asha")


def test_the_scheduler_side_must_score_as_the_full_side_at_its_epochs(multifidelity):
    same = multifidelity.same_work
    full = [(_A, {1: 0.5, 2: 0.75}), (_B, {1: 0.25, 2: 0.5})]
    with pytest.raises(SystemExit, match=r"trial 2 \(\{'width': 32, 'lr': 0.003\}\) scored "
                                         r"0.375 after epoch 1 with asha, 0.25 without"):
        same(full, [full[0], (_B, {1: 0.375})], "asha")
    with pytest.raises(SystemExit, match=r"trial 1 \(.*\) validated after epoch 3 with asha, "
                                         r"which the full side did not"):
        same(full, [(_A, {3: 0.75}), full[1]], "asha")



def test_a_min_epochs_of_2_runs_its_warm_up(multifidelity, tmp_path):
    # was: the warm-up's trials trained 2 epochs whatever --min_epochs said, so any
    # --min_epochs from 2 on (valid beside the example's 15 epochs: `multifidelity.py
    # --min_epochs 2`) ended in the warm-up's ConfigError "scheduler 'asha' with min_epochs=2
    # would never stop a trial before its end (max_epochs=2)", after its plain search trained
    import argparse

    args = argparse.Namespace(scheduler="asha", min_epochs=2, eta=3, test_fraction=0.2)
    with quiet_lightning():
        done = multifidelity.warm_up(args, tmp_path, trials=1)
    assert list(done) == ["none", "asha"]
    # min_epochs + 1 epochs, so the scheduler has epoch 2 to stop a trial at (this lone one,
    # the best at its rung, it promotes)
    assert (done["none"]["epochs"], done["asha"]["epochs"]) == (3, 3)

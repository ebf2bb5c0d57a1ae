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


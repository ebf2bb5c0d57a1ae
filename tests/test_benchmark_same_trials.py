"""``benchmarks/overhead.py`` and ``benchmarks/parallel.py`` stop where their two sides
trained other trials.

Each compares the time of two sides that must train the same work: overhead.py
lightning_nas's search against a hand-written loop, parallel.py one worker against two.
Every trial is seeded on both sides (``seed_everything(0)``, one torch thread), so the same
architectures, proposed in the same order, score alike to the last bit; a pair that does
not is no comparison, and the run stops naming the first trial that differs (as
``ddp_trials.py`` and ``multifidelity.py`` do). The check was: overhead.py the loops'
architectures alone, parallel.py its sides' architectures sorted (the same set in another
order passed), no score on either. A real pair passes it: ``test_benchmark_overhead.py``
runs overhead.py's loops, ``python benchmarks/parallel.py --quick`` parallel.py's sides.
"""

from __future__ import annotations

import pytest

from tests.helpers_benchmarks import load_script

_A, _B = {"width": 16, "lr": 0.01}, {"width": 32, "lr": 0.003}
_TRIALS = [(_A, 0.75), (_B, 0.5)]


@pytest.mark.parametrize(("script", "sides"), [
    ("overhead.py", ("hand-written, round 0", "lightning_nas, round 0")),
    ("parallel.py", ("1 worker", "2 workers")),
])
def test_the_run_stops_where_its_two_sides_trained_other_trials(script, sides):
    same = getattr(load_script(script), "same_trials", None)  # what its main checks
    assert same is not None, f"{script} checks no scores of its two sides"
    one, other = sides
    assert same(_TRIALS, list(_TRIALS), sides) == (
        "same trials on both sides: 2 architectures in the same order, the same scores")
    # the same architectures in another order (parallel.py compared them sorted: passed)
    with pytest.raises(SystemExit, match=rf"trial 1: {one} \{{'width': 16, 'lr': 0.01\}} "
                                         rf"scored 0.75, {other} \{{'width': 32, 'lr': 0.003\}} "
                                         rf"scored 0.5"):
        same(_TRIALS, _TRIALS[::-1], sides)
    # the same architectures trained otherwise on one side (neither compared scores)
    with pytest.raises(SystemExit, match=rf"trial 2: {one} .* scored 0.5, {other} .* scored "
                                         rf"0.625"):
        same(_TRIALS, [_TRIALS[0], (_B, 0.625)], sides)
    with pytest.raises(SystemExit, match=f"{one} ran 2 trials, {other} 1"):
        same(_TRIALS, _TRIALS[:1], sides)

"""Tests of the ``int`` and ``float`` ranges of ``lightning_nas.space``: their options
(``log``, ``step``), their bounds and how they are sampled."""

from __future__ import annotations

import random

import pytest

from lightning_nas.errors import SpaceError
from lightning_nas.space import Float, Int, SearchSpace


def _error(text: str) -> str:
    with pytest.raises(SpaceError) as info:
        SearchSpace.from_yaml(text)
    return str(info.value)


@pytest.mark.parametrize("text, needles", [
    # was: the string 'false' is truthy and turned the log scale on
    ("lr: {float: [0.1, 1], log: 'false'}", ["space key 'lr'", "log must be true or false",
                                             "'false'"]),
    ("w: {int: [1, 8], log: 1}", ["space key 'w'", "log must be true or false, got 1"]),
    # was: true taken for step 1
    ("w: {int: [1, 8], step: true}", ["space key 'w'", "step must be a positive integer",
                                      "got True"]),
])
def test_log_needs_a_bool_and_step_an_int(text, needles):
    message = _error(text)
    assert all(n in message for n in needles), message


def test_log_and_step_of_the_right_type_are_taken():
    assert not Float(0.1, 1, log=False).log and Int(1, 8, log=True).log
    assert Int(1, 9, step=2).size() == 5


def test_a_step_that_does_not_reach_high_is_refused():
    # was: [0, 10] step 3 searched 0, 3, 6, 9 while describe() said "[0, 10] step 3"
    message = _error("units: {int: [0, 10], step: 3}")
    assert "space key 'units'" in message and "never reaches 10" in message
    assert "use high 9 or 12" in message
    assert Int(0, 9, step=3).size() == 4 and Int(2, 12, step=5).size() == 3


def test_a_stepped_range_of_too_many_values_is_refused_and_the_largest_one_works():
    # was: {int: [0, 2**53], step: 1} hung building the optimizer (every value listed)
    message = _error(f"w: {{int: [0, {2**53}], step: 1}}")
    assert "space key 'w'" in message and f"has {2**53 + 1} values" in message
    assert "at most 1000" in message and "drop step" in message
    assert "step of at least" in _error("w: {int: [0, 9990], step: 5}")
    largest = SearchSpace.from_yaml("w: {int: [0, 9990], step: 10}")
    assert largest.size() == 1000 and largest.to_nevergrad().value["w"] in range(0, 9991, 10)


def test_a_huge_range_is_refused_clearly_and_the_largest_one_works():
    # was: a raw OverflowError from size() (and a float cast above high from nevergrad)
    message = _error(f"w: {{int: [0, {10**30}]}}")
    assert "space key 'w'" in message and f"within +-2**53 = {2**53}" in message
    assert "{float: [low, high]}" in message
    assert SearchSpace({"w": Int(-2**53, 2**53)}).size() == 2**54 + 1
    message = _error(f"w: {{float: [0, {10**400}]}}")
    assert "space key 'w'" in message and "bounds must be finite floats" in message


def test_int_samples_are_uniform():
    # was: rounding a uniform float drew 1, 2, 3 of Int(1, 3) at about 25/50/25 %
    space = SearchSpace({"k": Int(1, 3), "s": Int(0, 10, step=5)})
    rng = random.Random(0)
    draws = [space.sample(rng=rng) for _ in range(3000)]
    for key, values in (("k", (1, 2, 3)), ("s", (0, 5, 10))):
        shares = [sum(d[key] == v for d in draws) / len(draws) for v in values]
        assert all(0.3 < share < 0.37 for share in shares), (key, shares)
    logs = {Int(1, 4, log=True).sample(rng) for _ in range(200)}
    assert logs == {1, 2, 3, 4}

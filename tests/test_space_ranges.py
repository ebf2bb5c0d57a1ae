"""Tests of the ``int`` and ``float`` ranges of ``lightning_nas.space``: their options
(``log``, ``step``), their bounds and how they are sampled."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from lightning_nas.errors import SpaceError
from lightning_nas.space import Choice, Float, Int, Ordered, SearchSpace
from lightning_nas.strategies.codec import Codec, candidate_of
from lightning_nas.strategies.registry import make_optimizer
from tests.helpers_space import load_error as _error


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


def test_a_null_log_is_no_log_scale_as_a_null_step_is_no_step():
    # was: log: null refused ("log must be true or false, got None") where step: null was
    # taken as no step, so --search.space.lr.log=null could not drop a file's log scale
    space = SearchSpace.from_yaml("lr: {float: [0.1, 1], log: null}\n"
                                  "w: {int: [1, 8], log: null, step: null}")
    assert space.params["lr"] == Float(0.1, 1) and space.params["w"] == Int(1, 8)


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
    assert "use step 10 (1000 values)" in _error("w: {int: [0, 9990], step: 5}")
    # was: "a step of at least 101", which the step-reaches-high rule then refused
    message = _error("w: {int: [0, 100000], step: 50}")
    assert "use step 125 (801 values), or step 101 with high 100091 (992 values)" in message
    assert Int(0, 100000, step=125).size() == 801 and Int(0, 100091, step=101).size() == 992
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


@pytest.mark.parametrize(("text", "said"), [
    ("w: {int: [16, 16]}", "space key 'w': `int` needs low < high, got [16, 16]; for the "
                           "one value 16, write {fixed: 16}"),
    ("lr: {float: [0.1, 0.1]}", "space key 'lr': `float` needs low < high, got [0.1, 0.1]; "
                                "for the one value 0.1, write {fixed: 0.1}"),
    ("lr: {float: [1e-5, 1e-5], log: true}", "space key 'lr': `float` needs low < high, got "
                                             "[1e-05, 1e-05]; for the one value 1e-05, write "
                                             "{fixed: 1e-05}"),
    ("lr: {float: [1, 1]}", "space key 'lr': `float` needs low < high, got [1.0, 1.0]; for "
                            "the one value 1.0, write {fixed: 1.0}"),
    ("g: {w: {int: [-2, -2], step: 2}}", "space key 'g.w': `int` needs low < high, got [-2, "
                                         "-2]; for the one value -2, write {fixed: -2}"),
    # bounds the other way round, or refused for another reason: no one value to name
    # (was: "got [16, 8]" alone, not saying which bound is which)
    ("w: {int: [16, 8]}", "space key 'w': `int` needs low < high, got [16, 8]: low=16 (the "
                          "first bound) is above high=8 (the second); give the lower bound "
                          "first"),
    ("w: {int: [16.0, 16.0]}", "space key 'w': `int` bounds must be integers, got [16.0, 16.0]"),
])
def test_a_range_of_equal_bounds_says_to_write_the_one_value_as_fixed(text, said):
    # was: "space key 'w': `int` needs low < high, got [16, 16]", not saying that one value
    # is written {fixed: 16}
    assert _error(text) == said
    if "fixed" in said:  # what it says to write loads: a space of that one value
        fixed = said.rsplit("write ", 1)[1]
        space = SearchSpace.from_yaml(f"k: {fixed}")
        assert space.size() == 1 and space.sample(seed=0)["k"] == float(fixed[8:-1])


@pytest.mark.parametrize(("build", "said"), [
    (lambda: Int(16, 16), "`int` needs low < high, got [16, 16]; for the one value 16, write "
                          "Fixed(16)"),
    (lambda: Int(-2, -2, step=2), "`int` needs low < high, got [-2, -2]; for the one value "
                                  "-2, write Fixed(-2)"),
    (lambda: Float(0.1, 0.1), "`float` needs low < high, got [0.1, 0.1]; for the one value "
                              "0.1, write Fixed(0.1)"),
    (lambda: Float(1, 1, log=True), "`float` needs low < high, got [1.0, 1.0]; for the one "
                                    "value 1.0, write Fixed(1.0)"),
    (lambda: Int(16, 8), "`int` needs low < high, got [16, 8]: low=16 (the first bound) is "
                         "above high=8 (the second); give the lower bound first"),
    (lambda: Float(1.0, 0.5, log=True), "`float` needs low < high, got [1.0, 0.5]: low=1.0 "
                                        "(the first bound) is above high=0.5 (the second); "
                                        "give the lower bound first"),
])
def test_a_python_range_of_equal_bounds_says_to_write_fixed(build, said):
    # was: "`int` needs low < high, got [16, 16]", not saying that one value is Fixed(16)
    with pytest.raises(SpaceError) as info:
        build()
    assert str(info.value) == said
    if "Fixed" in said:  # what it says to write builds: a space of that one value
        from lightning_nas.space import Fixed
        value = eval(said.rsplit("write ", 1)[1], {"Fixed": Fixed})  # noqa: S307
        space = SearchSpace({"k": value})
        assert space.size() == 1 and space.sample(seed=0)["k"] == value.value


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


def _shares(values: list[int], low: int, high: int) -> list[float]:
    return [values.count(k) / len(values) for k in range(low, high + 1)]


def _log_shares(low: int, high: int) -> list[float]:
    """Each k's share of a log-uniform over [low - 0.5, high + 0.5] (``Int.sample``)."""
    span = math.log((high + 0.5) / (low - 0.5))
    return [math.log((k + 0.5) / (k - 0.5)) / span for k in range(low, high + 1)]


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["RandomSearch", "LHSSearch"])
def test_the_optimizers_propose_each_integer_of_a_range_as_sample_does(optimizer):
    # was: nevergrad rounded a uniform float on [1, 3]: 1, 2, 3 at about 25/50/25 %, and
    # the ends of a log range got half their share too
    space = SearchSpace.from_yaml("k: {int: [1, 3]}\nw: {int: [1, 4], log: true}\n"
                                  "lr: {float: [1.0e-3, 1.0e-1]}")
    opt = make_optimizer(optimizer, space, budget=900, seed=0)
    archs = []
    for _ in range(900):
        candidate = opt.ask()
        archs.append(space.validate(candidate.value))
        opt.tell(candidate, random.random())
    assert _shares([a["k"] for a in archs], 1, 3) == pytest.approx([1 / 3] * 3, abs=0.04)
    assert _shares([a["w"] for a in archs], 1, 4) == pytest.approx(_log_shares(1, 4), abs=0.04)
    rng = random.Random(0)  # the same shares as space.sample's
    drawn = [Int(1, 4, log=True).sample(rng) for _ in range(3000)]
    assert _shares(drawn, 1, 4) == pytest.approx(_log_shares(1, 4), abs=0.03)


@pytest.mark.parametrize(("low", "high", "log"), [(1, 3, False), (-3, 2, False),
                                                  (16, 128, True), (1, 4, True)])
def test_a_told_integer_maps_back_inside_the_bounds_and_the_nas_strategies_draw_fairly(
        low, high, log):
    space = SearchSpace({"k": Int(low, high, log=log)})
    param = space.to_nevergrad()
    for k in (low, low + 1, high):  # a resumed search tells its stored values back
        assert candidate_of(param, {"k": k}).value == {"k": k}
    codec = Codec(param)
    assert (codec.leaves[0].low, codec.leaves[0].high) == (low, high)
    draws = [g[0] for g in codec.random_batch(3000, np.random.RandomState(0))]
    draws += [codec.random(np.random.RandomState(i))[0] for i in range(3000)]
    shares = _log_shares(low, high) if log else [1 / (high - low + 1)] * (high - low + 1)
    if high - low < 10:
        assert _shares(draws, low, high) == pytest.approx(shares, abs=0.03)
    assert min(draws) == low and max(draws) == high
    opt = make_optimizer("RegularizedEvolution", space, budget=20, seed=0)
    for _ in range(20):
        candidate = opt.ask()
        assert low <= space.validate(candidate.value)["k"] <= high
        opt.tell(candidate, random.random())


@pytest.mark.parametrize(("text", "needles"), [
    ("x: {float: [-1.0e+308, 1.0e+308]}",
     ["space key 'x'", "[-1e+308, 1e+308]", "high - low", "overflows", "1.7976931348623157e+308"]),
    ("x: {float: [1.0e+308, 1.7e+308]}",
     ["space key 'x'", "[1e+308, 1.7e+308]", "low + high", "overflows"]),
    ("eps: {float: [1.0e-200, 1.0e-190], log: true}",
     ["space key 'eps'", "[1e-200, 1e-190]", "low * high", "underflows to 0",
      "{float: [-200, -190]}", "10 ** value"]),
    ("big: {float: [1.0e+200, 1.0e+210], log: true}",
     ["space key 'big'", "low * high", "overflows", "{float: [200, 210]}"]),
])
def test_a_float_range_the_optimizers_cannot_hold_is_refused(text, needles):
    # was: taken; sample() drew inf, nevergrad proposed nan (or failed building it), and the
    # search refused the optimizer for the space's fault ("optimizer 'SurrogateEvolution'
    # fails on this space ...; pick another optimizer (e.g. SurrogateEvolution, ...)"), or
    # stopped at its first proposal with search.db written ("x=nan is not in the space")
    message = _error(text)
    assert all(n in message for n in needles), message


@pytest.mark.parametrize(("low", "high", "log"), [
    (-8.9e307, 8.9e307, False), (0.0, 1.7976931348623157e308, False),
    (-1.7e308, 0.0, False), (1e-300, 1.0, True), (1.0, 1.7e308, True), (5e-324, 1.0, True)])
def test_the_widest_float_ranges_the_optimizers_hold_are_taken(low, high, log):
    space = SearchSpace({"x": Float(low, high, log=log)})
    assert all(math.isfinite(space.validate(space.sample(seed=s))["x"]) for s in range(5))
    for name in ("RandomSearch", "SurrogateEvolution"):
        opt = make_optimizer(name, space, budget=5, seed=0)
        for _ in range(5):
            candidate = opt.ask()
            assert math.isfinite(space.validate(candidate.value)["x"])
            opt.tell(candidate, random.random())


@pytest.mark.parametrize("kind", ["choice", "ordered"])
def test_a_choice_of_more_values_than_a_stepped_range_may_have_is_refused(kind):
    # was: taken; {choice: <10 000 values>} made each of NGOpt's proposals take ~15 s
    message = _error(f"w: {{{kind}: {list(range(1001))}}}")
    assert "space key 'w'" in message and f"`{kind}` has 1001 values" in message
    assert "at most 1000" in message and "{int: [low, high]} or {float" in message
    with pytest.raises(SpaceError, match=r"has 1001 values.*Int\(low, high\) or Float"):
        (Choice if kind == "choice" else Ordered)(range(1001))
    largest = SearchSpace.from_yaml(f"w: {{{kind}: {list(range(1000))}}}")
    assert largest.size() == 1000


def test_a_hydra_sweep_of_too_many_values_names_the_interval_to_search_instead():
    pytest.importorskip("hydra")
    from lightning_nas.integrations.hydra_grammar import parse_params

    with pytest.raises(SpaceError) as info:
        parse_params({"model.w": "range(0, 5000)"})
    message = str(info.value)
    assert "sweep parameter 'model.w'" in message and "`ordered` has 5000 values" in message
    assert "int(interval(low, high)) or interval(low, high)" in message
    assert "{int" not in message


@pytest.mark.parametrize("param, shown", [
    (Int(16, 128, log=True), "Int(16, 128, log=True)"),
    (Int(0, 10, step=5), "Int(0, 10, step=5)"),
    (Int(-3, 3), "Int(-3, 3)"),
    (Float(1e-4, 1e-1, log=True), "Float(0.0001, 0.1, log=True)"),
    (Float(0, 1), "Float(0.0, 1.0)"),
])
def test_a_range_is_shown_as_the_call_that_makes_it(param, shown):
    # was: Int([16, 128], log=True), a call that Int refuses (`int` bounds must be integers,
    # got [[16, 128], ...]), in error messages and a space's repr
    assert repr(param) == shown
    assert eval(shown, {"Int": Int, "Float": Float}) == param  # noqa: S307 - a test's own text
    nested = f"SearchSpace({{'g': SearchSpace({{'w': {shown}}})}})"
    assert repr(SearchSpace({"g": {"w": param}})) == nested


@pytest.mark.parametrize("name", ["SurrogateEvolution", "RandomSearch"])
def test_an_int_range_beyond_2_to_the_40_reaches_its_odd_bounds(tmp_path, name):
    # was: bounds beyond 2**40 reached nevergrad unwidened, and its integer casting clamps
    # to round(bound +- 0.5), half to even at that size: an odd bound (2**41 + 1) was never
    # proposed, by any optimizer, and the codec read 2**41 for it, so the default strategy
    # took the space for exhausted and stopped on 200 repeats with its best never trained
    from lightning_nas import Search

    big = 2**41 + 1
    for low, high in [(big, big + 4), (-big - 4, -big), (1, big)]:
        space = SearchSpace({"k": Int(low, high)})
        codec = Codec(space.to_nevergrad())
        assert (codec.leaves[0].low, codec.leaves[0].high) == (low, high)
        if high - low < 10:  # every value proposed
            optimizer = make_optimizer(name, space, seed=0)
            assert {optimizer.ask().value["k"] for _ in range(300)} == set(range(low, high + 1))
        assert all(candidate_of(space.to_nevergrad(), {"k": v}).value["k"] == v
                   for v in (low, low + 1, high - 1, high))
    result = Search(None, {"k": {"int": [big, big + 4]}}, objective=lambda arch: {
        "score": float(arch["k"] - big)}, optimizer=name, budget=5, monitor="score",
        mode="max", run_dir=tmp_path, verbose=False, seed=0).run()
    if name == "SurrogateEvolution":  # (RandomSearch may repeat itself 200 times)
        assert sorted(t.arch["k"] for t in result.trials) == list(range(big, big + 5))

"""Tests of a search space's values: choice values distinct exactly (by type too, without
comparing every pair), mappings whose keys JSON would turn into strings, and a dotted key
setting what a mapping sets, refused as the space is made.
"""

from __future__ import annotations

import math
import random
import re

import pytest

from lightning_nas.errors import SpaceError
from lightning_nas.space import Choice, Fixed, Ordered, SearchSpace


def test_choice_values_differing_only_in_type_are_distinct_enough_to_refuse():
    with pytest.raises(SpaceError, match="must be distinct"):
        Choice([1, 1])
    assert Choice([1, True]).contains(True) and not Choice([1, 2]).contains(True)


def test_choice_values_are_distinct_exactly_when_no_pair_is_the_same():
    # checked by a key per value (was: every pair compared, 6.6 s for 8000 values); the
    # same verdict as comparing every pair with same_value, and the same message
    from lightning_nas.arch import same_value

    rng = random.Random(0)
    pool = [0, 1, 1.0, True, False, 0.0, -0.0, 2.5, math.inf, "a", "1", None, [1], [1.0],
            [True], [], [[1], "a"], {"a": 1}, {"a": 1.0}, {"a": [1]}, {"b": 1, "a": 2},
            {"a": 2, "b": 1}, {}, {0: 1}, {"a": {"b": [2, None]}}, [{"a": 1}], [float("inf")]]
    for _ in range(2000):
        values = [rng.choice(pool) for _ in range(rng.randint(1, 6))]
        same = any(same_value(a, b) for i, a in enumerate(values) for b in values[:i])
        for kind in (Choice, Ordered):
            if same:
                with pytest.raises(SpaceError, match=rf"^`{kind.kind}` values must be "
                                                     rf"distinct, got \["):
                    kind(values)
            else:
                assert kind(values).values == values


class _Counted:
    """A choice value that counts how often it is compared."""

    compared = 0

    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        _Counted.compared += 1
        return isinstance(other, _Counted) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def test_a_long_choice_is_checked_without_comparing_every_pair():
    _Counted.compared = 0
    Choice([_Counted(i) for i in range(400)])
    assert _Counted.compared < 400  # was: every pair, 79 800 comparisons
    with pytest.raises(SpaceError, match="must be distinct"):
        Choice([_Counted(1), _Counted(2), _Counted(1)])
    assert len(Choice([{1, 2}, {2, 3}]).values) == 2  # no hash: pair by pair, as before
    with pytest.raises(SpaceError, match="must be distinct"):
        Choice([{1, 2}, {2, 1}])


@pytest.mark.parametrize("space", [
    {"class_weights": Choice([{0: 1.0, 1: 3.0}, {0: 1.0, 1: 1.0}])},
    {"class_weights": Fixed({"a": {2: 0.5}})},
    "class_weights: {choice: [{0: 1.0, 1: 3.0}, {0: 1.0, 1: 1.0}]}",
])
def test_a_mapping_with_keys_json_would_turn_into_strings_is_refused(space):
    # was: the keys became strings without a word ({'0': 1.0, '1': 3.0}), so a model
    # indexing class_weights[1] got a KeyError or another behaviour
    build = SearchSpace.from_yaml if isinstance(space, str) else SearchSpace
    with pytest.raises(SpaceError, match="space key 'class_weights': the mapping .* has the key "
                                         r"[02] \(int\), and an architecture is JSON"):
        build(space)
    assert SearchSpace({"w": Choice([{"0": 1.0}, {"0": 2.0}])}).sample(0)["w"] in (
        {"0": 1.0}, {"0": 2.0})


@pytest.mark.parametrize("spec, pair", [
    ({"data": {"fixed": {"batch_size": 16}}, "data.batch_size": {"choice": [32, 64]}},
     "'data' ({'batch_size': 16}) and 'data.batch_size' both set 'data.batch_size'"),
    ({"model.optimizer": {"choice": [{"lr": 0.5}, {"lr": 0.1}]},
      "model.optimizer.lr": {"float": [0.01, 0.1]}},
     "'model.optimizer' ({'lr': 0.5}) and 'model.optimizer.lr' both set 'model.optimizer.lr'"),
    ({"head": {"hidden": {"choice": [8, 16]}}, "head.hidden.size": {"fixed": 4}},
     "'head' (a group) and 'head.hidden.size' both set 'head.hidden'"),
])
def test_a_dotted_key_setting_what_a_mapping_sets_is_refused(spec, pair):
    # was: accepted; the trial ran the dotted key's value while the stored and told
    # architecture claimed the mapping's too (a Hydra sweep's nested command-line form)
    with pytest.raises(SpaceError, match=rf"space keys {re.escape(pair)}: the architecture "
                                         rf"would claim one value where the trial runs the "
                                         rf"other"):
        SearchSpace.from_dict(spec)


def test_a_key_beneath_a_choice_of_names_or_class_path_options_stays():
    # a config group's options, or classes whose searched argument goes into the chosen one
    SearchSpace.from_dict({"model": {"choice": ["a", "b"]}, "model.lr": {"float": [0.1, 1]}})
    SearchSpace.from_dict({"model.net": {"choice": [{"class_path": "m.A", "init_args": {
        "width": 4}}, {"class_path": "m.B"}]}, "model.net.width": {"choice": [4, 6]},
        "data": {"fixed": {"batch_size": 16}}, "data.num_workers": {"choice": [0, 1]}})


@pytest.mark.parametrize(("spec", "needles"), [
    # YAML's conditional parameter: was taken, each trial of the option got the mapping
    # {'choice': [3, 5]} itself as its 'k'
    ({"block": {"choice": [{"type": "conv", "k": {"choice": [3, 5]}}, {"type": "mlp"}]}},
     ["space key 'block'", "option 1 of the choice", "at ['k']", "{'choice': [3, 5]}",
      "conditional", "a space key of its own", "each combination"]),
    ({"g": {"net": {"ordered": [{"w": 4}, {"w": {"int": [8, 16], "step": 8}}]}}},
     ["space key 'g.net'", "option 2 of the ordered choice", "at ['w']"]),
    ({"model.net": {"choice": [{"class_path": "my.Net",
                                "init_args": {"hidden": {"float": [0.1, 0.5]}}}]}},
     ["space key 'model.net'", "option 1", "at ['init_args']['hidden']"]),
    # Python's: was "the value Choice([3, 5]) cannot be stored ...: give ... an import path
    # ('lightning_nas.space.params.Choice') and build the object in the model"
    ({"block": Choice([{"type": "conv", "k": Choice([3, 5])}, {"type": "mlp"}])},
     ["space key 'block'", "option 1 of the choice", "at ['k']", "Choice([3, 5])",
      "conditional"]),
    ({"opt": Fixed({"name": "adam", "lr": Choice([0.1, 0.01])})},
     ["space key 'opt'", "the fixed value", "at ['lr']", "Choice([0.1, 0.01])"]),
])
def test_a_space_parameter_inside_a_value_is_refused_not_taken_as_data(spec, needles, tmp_path):
    called = []
    with pytest.raises(SpaceError) as info:
        SearchSpace(spec)
    message = str(info.value)
    assert all(n in message for n in needles), message
    assert "import path" not in message
    # before anything is written or evaluated
    from lightning_nas import Search
    with pytest.raises(SpaceError):
        Search(None, spec, objective=called.append, budget=2, run_dir=tmp_path / "run").run()
    assert called == [] and not (tmp_path / "run").exists()


def test_mappings_that_are_no_space_parameter_stay_data_in_a_choice():
    # a kind's name as a plain key ({'int': 3} is no int range) and a fixed value stay
    space = SearchSpace({"cfg": {"choice": [{"int": 3}, {"float": "x", "log": 1}]},
                         "opt": {"fixed": {"lr": {"float": [0.1, 0.5]}}}})
    assert space.params["cfg"].values == [{"int": 3}, {"float": "x", "log": 1}]
    assert space.sample(seed=0)["opt"] == {"lr": {"float": [0.1, 0.5]}}


@pytest.mark.parametrize("one, other", [
    (Choice([1, 2]), Choice([1.0, 2.0])),
    (Choice([True, False]), Choice([1, 0])),
    (Ordered([1, 2]), Ordered([1.0, 2.0])),
    (Fixed(1), Fixed(True)),
    (Fixed([1]), Fixed([1.0])),
    (Fixed({"eps": 0}), Fixed({"eps": 0.0})),
])
def test_spaces_whose_values_differ_in_type_are_not_equal(one, other):
    # was: equal (their YAML mappings compared with ==, 1 == 1.0 == True) but hashed apart,
    # though a trial of one gets 1 and of the other 1.0: another architecture
    assert one != other and SearchSpace({"k": one}) != SearchSpace({"k": other})
    assert one == type(one)(one.to_dict()[one.kind]) and hash(one) == hash(
        type(one)(one.to_dict()[one.kind]))
    assert SearchSpace.from_yaml(SearchSpace({"k": one}).to_yaml()) == SearchSpace({"k": one})


def _kernel_score(arch: dict) -> dict:
    """An ``objective=`` trial scoring a kernel (a pair) and a width."""
    return {"val_acc": float(sum(arch["kernel"]) + arch["width"])}


def test_numpy_arrays_scalars_and_tuples_of_choices_are_stored_as_plain_json(tmp_path):
    # was: Choice(np.array([16, 32])) refused ("`choice` expects a non-empty list of
    # values, got array([16, 32])"), though Fixed(np.array([1, 2])) and Choice of NumPy
    # scalars or tuples were taken, as the plain values they are
    import json

    import numpy as np

    from lightning_nas import Search
    from lightning_nas.store import RunStore

    assert Choice(np.array([16, 32])) == Choice([16, 32])
    assert Ordered(np.array([0.5, 0.25])).values == [0.5, 0.25]
    assert Choice(np.array([[3, 3], [5, 5]])) == Choice(((3, 3), (5, 5))) == Choice([[3, 3],
                                                                                      [5, 5]])
    assert [type(v) for v in Choice([np.int64(16), np.float32(0.5), np.str_("a")]).values
            ] == [int, float, str]
    for empty in (np.array([]), np.array(3)):  # no values; one value is no list of values
        with pytest.raises(SpaceError, match=r"^`choice` expects a non-empty list of values"):
            Choice(empty)
    space = {"kernel": Choice(((3, 3), (5, 5))), "width": Choice(np.array([16, 32]))}
    result = Search(None, space, objective=_kernel_score, budget=3, optimizer="RandomSearch",
                    run_dir=tmp_path, verbose=False).run()
    assert type(result.best.arch["width"]) is int
    with RunStore(tmp_path / "search.db") as store:
        archs = [t.arch for t in store.trials()]
    assert len(archs) == 3
    for arch in archs:
        assert json.loads(json.dumps(arch)) == arch
        assert arch["kernel"] in ([3, 3], [5, 5]) and arch["width"] in (16, 32)

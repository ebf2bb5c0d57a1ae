"""Tests of ``lightning_nas.space``: building, loading, checking and sampling search spaces.

Covers every parameter kind from YAML and from Python, YAML and dict round trips, sizes,
seeded sampling, ``validate`` and its messages, every loading error message, the nevergrad
parametrization and pickling.
"""

from __future__ import annotations

import math
import pickle
import random
import re
import warnings

import nevergrad as ng
import numpy as np
import pytest

from lightning_nas.arch import arch_key
from lightning_nas.config.yamlio import load_yaml
from lightning_nas.errors import ConfigError, NASError, SpaceError
from lightning_nas.search.facade import Search
from lightning_nas.space import KINDS, Choice, Fixed, Float, Int, Ordered, SearchSpace

ALL_KINDS_YAML = """
act: {choice: [relu, gelu]}
depth: {ordered: [1, 2, 4]}
width: {int: [1, 10], log: true}
units: {int: [0, 10], step: 5}
blocks: {int: [2, 4]}
lr: {float: [1e-4, 1e-1], log: true}
dropout: {float: [0, 1]}
bias: {fixed: 0.1}
head: {hidden: {choice: [64, 128]}, inner: {k: {int: [1, 3]}}}
"""

CNN_YAML = """
kernel_size: {choice: [3, 5, 7]}
stride: {choice: [1, 2, 3]}
pool_size: {choice: [2, 3, 4]}
num_layers: {choice: [2, 3, 4]}
activation: {choice: [relu, sigmoid]}
"""


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace.from_yaml(ALL_KINDS_YAML)


def _python_space() -> SearchSpace:
    return SearchSpace({
        "act": Choice(["relu", "gelu"]),
        "depth": Ordered([1, 2, 4]),
        "width": Int(1, 10, log=True),
        "units": Int(0, 10, step=5),
        "blocks": Int(2, 4),
        "lr": Float(1e-4, 1e-1, log=True),
        "dropout": Float(0, 1),
        "bias": Fixed(0.1),
        "head": {"hidden": Choice([64, 128]), "inner": SearchSpace({"k": Int(1, 3)})},
    })


def _types(arch):
    return {k: _types(v) if isinstance(v, dict) else type(v) for k, v in arch.items()}


def _error(text: str) -> str:
    with pytest.raises(SpaceError) as info:
        SearchSpace.from_yaml(text)
    return str(info.value)


# ---------------------------------------------------------------- kinds and round trips
def test_yaml_gives_the_same_space_as_python(space):
    assert space == _python_space()
    params = space.params
    assert isinstance(params["act"], Choice) and not isinstance(params["act"], Ordered)
    assert isinstance(params["depth"], Ordered)
    assert isinstance(params["width"], Int) and params["width"].log
    assert params["units"].step == 5
    assert isinstance(params["lr"], Float) and params["lr"].log
    assert isinstance(params["bias"], Fixed) and params["bias"].value == 0.1
    assert isinstance(params["head"], SearchSpace)
    assert isinstance(params["head"].params["inner"].params["k"], Int)
    assert space.names() == ["act", "depth", "width", "units", "blocks", "lr", "dropout",
                             "bias", "head"]


def test_kinds_are_told_apart():
    assert Choice([1, 2]) != Ordered([1, 2])
    assert Int(1, 10) != Int(1, 10, log=True)
    assert Int(0, 10) != Int(0, 10, step=2)
    assert Float(0, 1) == Float(0.0, 1.0)
    assert SearchSpace({"a": Int(1, 3)}) != SearchSpace({"a": Int(1, 4)})


def test_yaml_and_dict_round_trips(space):
    assert SearchSpace.from_yaml(space.to_yaml()) == space
    assert SearchSpace.from_dict(space.to_dict()) == space
    assert SearchSpace.from_yaml(_python_space().to_yaml()) == space


def test_from_yaml_of_no_path_nor_text_is_a_config_error_naming_its_source():
    # was: a bare TypeError, "expected str, bytes or os.PathLike object, not int"
    with pytest.raises(ConfigError, match=r"^SearchSpace\.from_yaml\(source=\.\.\.\) must be "
                                          r"a path \(str or os\.PathLike\), got int 3$"):
        SearchSpace.from_yaml(3)


def test_strings_that_look_like_numbers_survive_the_yaml_round_trip():
    # PyYAML's (YAML 1.1) dumper left 1e-3 unquoted, which load_yaml reads as 0.001
    odd = ["1e-3", "1E5", ".5", "+1e3", "1.0", "7", "yes", "null", "~", "relu"]
    space = SearchSpace({"tag": Choice(odd), "k": Fixed("3e4")})
    text = space.to_yaml()
    assert SearchSpace.from_yaml(text) == space
    assert load_yaml(text)["tag"]["choice"] == odd


def test_kind_objects_in_a_plain_dict_and_in_groups():
    # was: "unknown space kind 'w'" / "must be a mapping with one of the kinds"
    space = SearchSpace.from_dict({"k": {"choice": [3, 5]}, "w": Int(4, 6),
                                   "g": {"w": Int(4, 6), "a": Choice(["x", "y"])}})
    assert space == SearchSpace({"k": Choice([3, 5]), "w": Int(4, 6),
                                 "g": {"w": Int(4, 6), "a": Choice(["x", "y"])}})
    assert space.size() == 2 * 3 * 3 * 2


def test_numpy_bounds_are_plain_numbers():
    assert Int(np.int64(1), np.int32(5), step=np.int64(2)) == Int(1, 5, step=2)
    assert Float(np.float32(0.5), np.int64(2)) == Float(0.5, 2.0)
    assert isinstance(Int(np.int64(1), 5).low, int)


@pytest.mark.parametrize("spec, needles", [
    ({"act": Choice([random.Random, random.SystemRandom])},
     ["space key 'act'", "<class 'random.Random'>", "import path ('random.Random')"]),
    ({"g": {"rng": Fixed(random.Random(0))}},
     ["space key 'g.rng'", "random.Random object", "import path ('random.Random')"]),
    ({"f": {"choice": ["x", print]}}, ["space key 'f'", "import path ('builtins.print')"]),
])
def test_values_json_cannot_store_are_refused_when_the_space_is_made(spec, needles):
    # was: accepted, then run() raised "Object of type type is not JSON serializable"
    with pytest.raises(SpaceError) as info:
        SearchSpace.from_dict(spec)
    message = str(info.value)
    assert all(n in message for n in needles), message
    assert "None, bool, int, float, str or lists/mappings of them" in message


def test_from_yaml_reads_a_file(tmp_path, space):
    path = tmp_path / "space.yaml"
    path.write_text(space.to_yaml())
    assert SearchSpace.from_yaml(path) == space
    assert SearchSpace.from_yaml(str(path)) == space


def test_from_yaml_names_the_file_or_folder(tmp_path, monkeypatch):
    """A file holding no mapping is named; a folder is said to be one (was: "got [1, 2]"
    without the file, and "got 'sub'", the folder's name read as YAML text)."""
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(SpaceError, match=rf"search space file {re.escape(str(path))} must "
                                         r"hold a non-empty mapping .* got \[1, 2\]"):
        SearchSpace.from_yaml(path)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    for source in ("sub", tmp_path / "sub"):
        with pytest.raises(SpaceError, match=r"sub is a folder; name the YAML file"):
            SearchSpace.from_yaml(source)


def test_yaml_1_1_exponent_is_a_float():
    lr = SearchSpace.from_yaml("lr: {float: [1e-4, 1e-1], log: true}").params["lr"]
    assert lr.low == 1e-4 and isinstance(lr.low, float)
    assert lr.high == 0.1 and isinstance(lr.high, float)


def test_yaml_1_1_exponent_in_choice_and_fixed_is_a_float():
    space = SearchSpace.from_yaml("lr: {choice: [1e-4, 1e-3]}\nwd: {fixed: 1e-5}")
    assert space.params["lr"].values == [1e-4, 1e-3]
    assert space.params["wd"].value == 1e-5


def test_cnn_space_of_the_write_up_loads_as_is():
    space = SearchSpace.from_yaml(CNN_YAML)
    assert space.size() == 162
    assert space.params["activation"].values == ["relu", "sigmoid"]
    assert SearchSpace.from_yaml(space.to_yaml()) == space


def test_pickle_round_trip(space):
    again = pickle.loads(pickle.dumps(space))
    assert again == space
    assert again.sample(seed=3) == space.sample(seed=3)


# ---------------------------------------------------------------- size
def test_sizes_of_each_kind():
    assert Choice(["a", "b", "c"]).size() == 3
    assert Ordered([1, 2, 4, 8]).size() == 4
    assert Int(2, 4).size() == 3
    assert Int(16, 128, log=True).size() == 113
    assert Int(0, 10, step=5).size() == 3
    assert Int(0, 9, step=3).size() == 4
    assert Fixed("x").size() == 1
    assert Float(0, 1).size() == math.inf


def test_size_is_the_product_including_nested_groups():
    space = SearchSpace.from_yaml("a: {choice: [1, 2]}\nb: {int: [0, 10], step: 5}\n"
                                  "g: {h: {ordered: [1, 2, 3, 4]}, f: {fixed: 1}}")
    assert space.size() == 2 * 3 * 4


def test_size_is_infinite_with_a_float_range(space):
    assert space.size() == math.inf


# ---------------------------------------------------------------- sample
def test_sample_is_reproducible_and_valid(space):
    assert space.sample(seed=7) == space.sample(seed=7)
    assert space.sample(rng=random.Random(7)) == space.sample(seed=7)
    draws = [space.sample(seed=s) for s in range(5)]
    assert len({arch_key(a) for a in draws}) > 1
    for seed in range(50):
        arch = space.sample(seed=seed)
        assert space.validate(arch) == arch


def test_sample_covers_a_discrete_space():
    space = SearchSpace.from_yaml(CNN_YAML)
    seen = {arch_key(space.sample(seed=s)) for s in range(2000)}
    assert len(seen) > 150


def test_samples_stay_in_their_kind():
    rng = random.Random(0)
    stepped, logint, logf = Int(0, 10, step=5), Int(1, 1000, log=True), Float(1e-4, 1, log=True)
    for _ in range(200):
        assert stepped.sample(rng) in (0, 5, 10)
        v = logint.sample(rng)
        assert isinstance(v, int) and 1 <= v <= 1000
        assert 1e-4 <= logf.sample(rng) <= 1
    # log-uniform: about half of the draws fall below the geometric middle
    small = sum(logint.sample(rng) < 32 for _ in range(400))
    assert 120 < small < 280


# ---------------------------------------------------------------- validate
def test_validate_returns_plain_data(space):
    arch = space.sample(seed=1)
    arch["depth"] = np.int64(2)
    arch["act"] = np.str_("relu")
    arch["lr"] = np.float64(0.01)
    out = space.validate(arch)
    assert out["depth"] == 2 and type(out["depth"]) is int
    assert type(out["act"]) is str
    assert type(out["lr"]) is float


def test_a_log_range_takes_its_bounds_back_from_nevergrad():
    # what a log range's bound becomes through nevergrad: exp(log(1e-3))
    space = SearchSpace({"lr": Float(1e-3, 3e-2, log=True)})
    low = float(ng.p.Log(lower=1e-3, upper=3e-2).bounds[0][0])
    assert low < 1e-3 and space.validate({"lr": low}) == {"lr": 1e-3}
    with pytest.raises(SpaceError, match="not in the space"):
        space.validate({"lr": 0.99e-3})


def test_validate_accepts_numpy_scalars_for_ranges():
    space = SearchSpace({"w": Int(1, 10), "p": Float(0, 1)})
    out = space.validate({"w": np.int64(3), "p": np.float32(0.5)})
    assert out == {"w": 3, "p": 0.5}
    assert type(out["w"]) is int and type(out["p"]) is float


@pytest.mark.parametrize(("change", "needles"), [
    ({"act": "tanh"}, ["act='tanh'", "one of ['relu', 'gelu']"]),
    ({"blocks": 5}, ["blocks=5", "an integer in [2, 4]"]),
    ({"blocks": 2.5}, ["blocks=2.5", "an integer in [2, 4]"]),
    ({"blocks": True}, ["blocks=True", "an integer"]),
    ({"units": 3}, ["units=3", "step 5"]),
    ({"width": 11}, ["width=11", "(log)"]),
    ({"dropout": 1.5}, ["dropout=1.5", "a float in [0.0, 1.0]"]),
    ({"bias": 0.2}, ["bias=0.2", "the fixed value 0.1"]),
    ({"head": {"hidden": 65, "inner": {"k": 1}}}, ["head.hidden=65", "one of [64, 128]"]),
    ({"head": {"hidden": 64, "inner": {"k": 4}}}, ["head.inner.k=4", "an integer in [1, 3]"]),
])
def test_validate_names_the_bad_value_and_valid_ones(space, change, needles):
    arch = {**space.sample(seed=0), **change}
    with pytest.raises(SpaceError) as info:
        space.validate(arch)
    for needle in needles:
        assert needle in str(info.value)


def test_validate_missing_and_unknown_keys(space):
    arch = space.sample(seed=0)
    del arch["lr"]
    with pytest.raises(SpaceError, match=r"missing \['lr'\]") as info:
        space.validate(arch)
    assert "'head.hidden'" in str(info.value)  # lists the valid keys
    arch = {**space.sample(seed=0), "lrr": 0.1}
    with pytest.raises(SpaceError, match=r"unknown \['lrr'\]"):
        space.validate(arch)
    arch = space.sample(seed=0)
    arch["head"] = {"hidden": 64, "inner": {"k": 1, "z": 2}}
    with pytest.raises(SpaceError, match=r"unknown \['head\.inner\.z'\]"):
        space.validate(arch)
    arch["head"] = 3
    with pytest.raises(SpaceError, match="must be a mapping"):
        space.validate(arch)
    with pytest.raises(SpaceError, match="must be a mapping"):
        space.validate([1, 2])


def test_validate_missing_nested_key_names_its_path(space):
    arch = space.sample(seed=0)
    arch["head"] = {"hidden": 64, "inner": {}}
    with pytest.raises(SpaceError, match=r"missing \['head\.inner\.k'\]"):
        space.validate(arch)


def test_validate_missing_nested_key_lists_valid_paths(space):
    arch = space.sample(seed=0)
    arch["head"] = {"hidden": 64, "inner": {}}
    with pytest.raises(SpaceError) as info:
        space.validate(arch)
    assert "'head.inner.k'" in str(info.value).split("space keys:")[1]


def test_validate_rejects_bool_for_an_int_choice():
    space = SearchSpace({"k": Choice([1, 2]), "f": Fixed(1)})
    with pytest.raises(SpaceError, match="k=True"):
        space.validate({"k": True, "f": 1})
    with pytest.raises(SpaceError, match="f=True"):
        space.validate({"k": 1, "f": True})


# ---------------------------------------------------------------- loading errors
def test_misspelt_kind():
    msg = _error("k: {choise: [3, 5]}")
    assert "unknown space kind 'choise'" in msg
    assert "did you mean 'choice'" in msg
    for kind in KINDS:
        assert kind in msg


def test_misspelt_kind_in_a_nested_group():
    msg = _error("g: {h: {choise: [3, 5]}}")
    assert "unknown space kind 'choise' at 'g.h'" in msg
    assert "did you mean 'choice'" in msg


def test_plain_scalar_instead_of_a_mapping():
    msg = _error("k: 3")
    assert "'k'" in msg and "must be a mapping" in msg and "fixed" in msg
    msg = _error("g: {h: 3}")
    assert "'h'" in msg and "'g'" in msg


@pytest.mark.parametrize(("text", "message"), [
    ("model.net.width: 3", "space key 'model.net.width' must be a mapping with one of the kinds"),
    ("model.net: {lin.size: {choise: [8]}}", "unknown space kind 'choise' at 'model.net.lin.size'"),
    ("a.b: {c.d: 3}", "unknown space kind 'c.d' at 'a.b';"),
])
def test_a_dotted_key_is_no_group(text, message):
    # was: a dot anywhere in the path read as a group, so a config path given a bare value
    # was "unknown space kind 'model.net.width' at 'model.net'", and parents were cut wrong
    assert message in _error(text)


@pytest.mark.parametrize(("text", "needles"), [
    ("k: {int: [1, 5], lg: true}", ["'k'", "unknown option 'lg'", "valid options: log, step"]),
    ("k: {float: [0.1, 1], step: 2}", ["unknown option 'step'", "valid options: log"]),
    ("k: {choice: [1, 2], log: true}", ["unknown option 'log'", "valid options: none"]),
    ("k: {int: [5, 5]}", ["'k'", "low < high", "[5, 5]"]),
    ("k: {float: [1.0, 0.5]}", ["low < high"]),
    ("k: {float: [0, 1], log: true}", ["log: true needs low > 0"]),
    ("k: {int: [-1, 8], log: true}", ["log: true needs low > 0"]),
    ("k: {int: [1, 8], log: true, step: 2}", ["either log: true or step"]),
    ("k: {int: [1, 8], step: 0}", ["step must be a positive integer"]),
    ("k: {int: [1.5, 8]}", ["bounds must be integers"]),
    ("k: {int: [1, 2, 3]}", ["expects [low, high]"]),
    ("k: {float: [a, 1]}", ["must be a number"]),
    ("k: {float: [0, .inf]}", ["'k'", "high bound must be finite", "inf"]),
    ("k: {choice: []}", ["'k'", "non-empty list"]),
    ("k: {ordered: 3}", ["non-empty list"]),
    ("k: {choice: [1, 2, 1]}", ["'k'", "distinct", "[1, 2, 1]"]),
    ("k: {choice: [a, b], int: [1, 2]}", ["several kinds"]),
    ("g: {h: {int: [3, 1]}}", ["'g.h'", "low < high"]),
])
def test_loading_errors(text, needles):
    msg = _error(text)
    for needle in needles:
        assert needle in msg


def test_a_key_written_twice_is_an_error_not_the_last_one():
    with pytest.raises(ConfigError, match="the space:2:1: found the key 'w' twice"):
        SearchSpace.from_yaml("w: {choice: [1, 2]}\nw: {choice: [3, 4]}")
    # a key a YAML merge brought in may be overridden
    assert load_yaml("b: &b {x: 1, y: 2}\nd: {<<: *b, x: 3}")["d"] == {"x": 3, "y": 2}


def test_empty_or_non_mapping_space():
    for text in ("", "[1, 2]"):
        with pytest.raises(SpaceError, match="non-empty mapping"):
            SearchSpace.from_yaml(text)
    # an empty entry names the kinds (was: "a search space at 'g' must be a non-empty mapping")
    with pytest.raises(SpaceError, match="space key 'g' must be a mapping with one of the kinds"):
        SearchSpace.from_yaml("g: {}")
    with pytest.raises(SpaceError):
        SearchSpace({"k": 3})
    with pytest.raises(SpaceError):
        SearchSpace({})


def test_constructor_takes_the_yaml_form_as_from_dict_does():
    # was: read as a group: "space key 'int' must be a parameter, got [1, 3]"
    spec = {"w": {"int": [1, 3]}, "lr": {"float": [0.01, 0.1], "log": True},
            "head": {"k": {"choice": [3, 5]}, "inner": {"d": Int(1, 2)}}}
    space = SearchSpace(spec)
    assert space == SearchSpace.from_dict(spec)
    assert space.params["w"] == Int(1, 3) and isinstance(space.params["head"], SearchSpace)
    assert SearchSpace.from_dict(space.to_dict()) == pickle.loads(pickle.dumps(space)) == space
    with pytest.raises(SpaceError, match="space key 'head.k': unknown option"):
        SearchSpace({"head": {"k": {"choice": [3, 5], "lg": True}}})
    # a group keyed by a kind word could not round-trip (to_dict, pickle): refused at once
    with pytest.raises(SpaceError, match="space key 'head': `choice` expects"):
        SearchSpace({"head": {"choice": Choice([1, 2])}})


def test_constructor_names_a_misspelt_kind_as_from_dict_does():
    # was: SearchSpace({"width": {"choise": [16, 32]}}) read {choise: ...} as a group:
    # "space key 'choise' must be a parameter, got [16, 32]" (no 'width', no 'choice')
    for spec, where in (({"width": {"choise": [16, 32]}}, "width"),
                        ({"head": {"width": {"choise": [16, 32]}}}, "head.width")):
        with pytest.raises(SpaceError, match=f"unknown space kind 'choise' at '{where}'; "
                                             "did you mean 'choice'"):
            SearchSpace(spec)
        with pytest.raises(SpaceError, match=f"unknown space kind 'choise' at '{where}'"):
            SearchSpace.from_dict(spec)
    with pytest.raises(SpaceError, match=r"space key 'w' must be a mapping with one of the "
                                         r"kinds choice, ordered, int, float, fixed"):
        SearchSpace({"w": 3})


def test_space_error_belongs_to_the_one_error_family():
    assert issubclass(SpaceError, NASError) and not issubclass(SpaceError, ConfigError)


# ---------------------------------------------------------------- nevergrad
def test_to_nevergrad_values_validate_and_are_plain(space):
    param = space.to_nevergrad()
    param.random_state = np.random.RandomState(0)
    plain = {int, float, str}
    seen_units = set()
    for _ in range(200):
        value = param.sample().value
        assert space.validate(value) == value
        types = _types(value)
        flat = [*(t for k, t in types.items() if k != "head"),
                types["head"]["hidden"], types["head"]["inner"]["k"]]
        assert set(flat) <= plain, types
        assert types["lr"] is float and types["width"] is int and types["act"] is str
        seen_units.add(value["units"])
    assert seen_units == {0, 5, 10}


def test_to_nevergrad_is_reproducible(space):
    def draws(seed):
        param = space.to_nevergrad()
        param.random_state = np.random.RandomState(seed)
        return [param.sample().value for _ in range(5)]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)


@pytest.mark.parametrize("optimizer", ["NGOpt", "SurrogateEvolution", "RegularizedEvolution"])
def test_a_one_value_choice_is_searched_as_a_constant(optimizer):
    import nevergrad as ng

    import lightning_nas.strategies  # noqa: F401  (registers the NAS strategies)

    space = SearchSpace.from_dict({"a": {"choice": ["x"]}, "o": {"ordered": [4]},
                                   "b": {"choice": [1, 2, 3]}})
    opt = ng.optimizers.registry[optimizer](space.to_nevergrad(), budget=10)
    opt.parametrization.random_state = np.random.RandomState(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # was: a division by zero in the evolutions' mutation
        for _ in range(10):  # NGOpt's mutation failed an assert on the one-value `ordered`
            cand = opt.ask()
            assert space.validate(cand.value) == cand.value
            assert cand.value["a"] == "x" and cand.value["o"] == 4
            opt.tell(cand, -float(cand.value["b"]))


def test_float_value_given_as_int_is_stored_as_float():
    space = SearchSpace({"lr": Float(0, 2)})
    arch = space.validate({"lr": 1})
    assert arch == {"lr": 1.0} and isinstance(arch["lr"], float)


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


def test_a_nan_value_of_a_choice_is_refused():
    # was: accepted, then the search failed at the first proposal of it ("a=nan is not in
    # the space": NaN equals no value)
    with pytest.raises(SpaceError, match="`choice` values must not be NaN"):
        SearchSpace.from_dict({"a": {"choice": [float("nan"), 1.0]}})


def test_a_nan_fixed_value_is_refused_before_the_search_writes_anything(tmp_path):
    # was: accepted, the search wrote its run folder, then failed at the first proposal:
    # "architecture value clip=nan is not in the space: expected the fixed value nan"
    run = tmp_path / "run"
    with pytest.raises(SpaceError, match=r"`fixed` value must not be NaN \(it equals no "
                                         r"value, not even itself\), got nan"):
        Search(None, {"clip": Fixed(float("nan")), "b": Choice([1, 2])},
               objective=lambda arch: {"val_acc": float(arch["b"])}, budget=2, run_dir=run,
               seed=0).run()
    with pytest.raises(SpaceError, match="space key 'clip': `fixed` value must not be NaN"):
        SearchSpace.from_yaml("clip: {fixed: .nan}\nb: {choice: [1, 2]}")
    assert not run.exists()


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

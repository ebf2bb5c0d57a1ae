"""Tests of ``lightning_nas.space``: building, round trips, sizes, sampling, validating
and the nevergrad parametrization of search spaces.

Covers every parameter kind from YAML and from Python, YAML and dict round trips, sizes,
seeded sampling, ``validate`` and its messages, the nevergrad parametrization and pickling.
Loading errors and choice values: ``test_space_errors.py``, ``test_space_values.py``.
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
from lightning_nas.errors import ConfigError, SpaceError
from lightning_nas.space import Choice, Fixed, Float, Int, Ordered, SearchSpace

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


def test_from_yaml_reads_a_file_whose_path_holds_a_colon_or_no_yaml_suffix(tmp_path, space):
    """A str naming a file that exists is read from it, as ``Search(space=...)`` reads it
    (was: read as YAML text and refused, "a search space must be a non-empty mapping, got
    '.../at 12:30/space.yaml'")."""
    for name in ("at 12:30/space.yaml", "spaces/space.txt"):
        path = tmp_path / name
        path.parent.mkdir()
        path.write_text(space.to_yaml())
        assert SearchSpace.from_yaml(str(path)) == space, name
    assert SearchSpace.from_yaml("k: {choice: [3, 5]}").size() == 2  # text is still text


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


def test_a_signed_number_with_a_leading_dot_is_a_float():
    # was: read as a string (PyYAML's regex takes .5 but not -.5), so {float: [-.5, .5]}
    # was refused, "low bound must be a number, got '-.5'", and a choice held '-.5' beside 0.5
    space = SearchSpace.from_yaml("shift: {float: [-.5, .5]}\nscale: {choice: [-.25, +.5e1]}")
    assert (space.params["shift"].low, space.params["shift"].high) == (-0.5, 0.5)
    assert [(v, type(v)) for v in space.params["scale"].values] == [(-0.25, float), (5.0, float)]
    texts = SearchSpace({"tag": Choice(["-.5", "+.5e1"]), "k": Fixed(1)})  # quoted when written
    assert SearchSpace.from_yaml(texts.to_yaml()) == texts


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


# ---------------------------------------------------------------- nevergrad
def test_to_nevergrad_values_validate_and_are_plain(space):
    param = space.to_nevergrad()
    param.random_state = np.random.RandomState(0)
    plain = {int, float, str}
    seen_units = set()
    # 50 draws (was 200, the same checks 150 times more): seed 0's reach both ends of each
    # integer range and every choice's values (width's 10, the rarest, at draw 34)
    for _ in range(50):
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

"""Tests of the errors of a search space refused as it is loaded (``SearchSpace.from_yaml``,
``from_dict`` and the constructor): misspelt kinds, bare values, dotted keys, options and
bounds, keys written twice, empty spaces, each message naming the key and the valid ones.
"""

from __future__ import annotations

import pickle

import pytest

from lightning_nas.config.yamlio import load_yaml
from lightning_nas.errors import ConfigError, NASError, SpaceError
from lightning_nas.space import KINDS, Choice, Int, SearchSpace
from tests.helpers_space import load_error as _error


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


@pytest.mark.parametrize(("load", "needles"), [
    # a group for a dict argument keyed by layer: was taken, its keys turned into strings,
    # and each trial got {'0': 4, '1': 8} for the {0: 4, 1: 8} written
    (lambda: SearchSpace.from_yaml("widths: {0: {choice: [4, 8]}, 1: {choice: [4, 8]}}"),
     ["space key 0 in group 'widths'", "(int)", "a trial would get '0'"]),
    # YAML reads an unquoted `on` as True: was the key 'True', refused later as "space key
    # 'True' is not an argument of ..." (the `on` written, named nowhere)
    (lambda: SearchSpace.from_yaml("on: {choice: [4, 8]}"),
     ["space key True (bool)", "a trial would get 'True'", "quote", "on, off, yes, no"]),
    (lambda: SearchSpace.from_dict({"g": {2.5: {"choice": [4, 8]}}}),
     ["space key 2.5 in group 'g'", "(float)"]),
    # the constructor: was "space keys must be non-empty strings, got 0", no group named
    (lambda: SearchSpace({"widths": {0: Choice([4, 8])}}),
     ["space key 0 in group 'widths'", "(int)", "a trial would get '0'"]),
])
def test_a_space_key_that_is_no_string_is_refused_not_turned_into_one(load, needles):
    with pytest.raises(SpaceError) as info:
        load()
    message = str(info.value)
    assert all(n in message for n in needles), message
    assert SearchSpace.from_yaml("widths: {'0': {choice: [4, 8]}}").names() == ["widths"]

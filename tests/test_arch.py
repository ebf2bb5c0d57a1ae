"""``lightning_nas.arch``: architectures as plain data."""

from __future__ import annotations

import json
import math
import sqlite3

import numpy as np
import pytest

from lightning_nas.arch import arch_key, flatten_arch, format_arch, plain, same_value


def test_arch_key_ignores_key_order():
    a = {"width": 8, "act": "relu", "head": {"w": 4, "d": 2}}
    b = {"head": {"d": 2, "w": 4}, "act": "relu", "width": 8}
    assert arch_key(a) == arch_key(b)


def test_arch_key_tells_different_architectures_apart():
    assert arch_key({"width": 8}) != arch_key({"width": 16})
    assert arch_key({"width": 8}) != arch_key({"depth": 8})
    assert arch_key({"width": 1}) != arch_key({"width": 1.0})
    assert arch_key({"flag": True}) != arch_key({"flag": 1})


def test_arch_key_is_compact_json():
    key = arch_key({"b": [1, 2], "a": "x"})
    assert key == '{"a":"x","b":[1,2]}'
    assert json.loads(key) == {"a": "x", "b": [1, 2]}


@pytest.mark.parametrize(("a", "b", "same"), [
    (1, 1, True),
    (1, 1.0, False),
    (1.0, 1, False),
    (True, 1, False),
    (1, True, False),
    (True, True, True),
    (False, 0, False),
    (0.5, 0.5, True),
    ("a", "a", True),
    ("a", "b", False),
    ([1, 2], [1, 2], True),
    (None, None, True),
    (None, 0, False),
])
def test_same_value(a, b, same):
    assert same_value(a, b) is same


def test_plain_turns_numpy_scalars_into_python_types():
    out = plain({"i": np.int64(3), "f": np.float32(0.5), "b": np.bool_(True), "s": "x"})
    assert out == {"i": 3, "f": 0.5, "b": True, "s": "x"}
    assert type(out["i"]) is int
    assert type(out["f"]) is float
    assert type(out["b"]) is bool
    json.dumps(out)


def test_plain_turns_tuples_into_lists_and_keys_into_text():
    out = plain({"w": (1, 2), 3: [np.int32(4), (5, (6,))], "g": {"x": (np.float64(1.5),)}})
    assert out == {"w": [1, 2], "3": [4, [5, [6]]], "g": {"x": [1.5]}}
    assert type(out["3"][0]) is int


def test_plain_keeps_plain_values():
    arch = {"k": 3, "lr": 0.1, "act": "relu", "on": False, "none": None}
    assert plain(arch) == arch


def test_flatten_arch_dots_nested_groups():
    arch = {"k": 3, "head": {"w": 8, "inner": {"d": 2}}, "tail": "x"}
    assert flatten_arch(arch) == {"k": 3, "head.w": 8, "head.inner.d": 2, "tail": "x"}
    assert flatten_arch({}) == {}
    assert flatten_arch({"a": 1}, prefix="p.") == {"p.a": 1}


def test_format_arch():
    assert format_arch({"k": 3, "lr": 0.0012345, "head": {"w": 8}}) == "k=3 lr=0.001234 head.w=8"
    assert format_arch({"act": "relu", "on": True, "lr": 0.5}) == "act=relu on=True lr=0.5"
    assert format_arch({"lr": 123456.0}) == "lr=1.235e+05"
    assert format_arch({}) == ""


def test_format_arch_tells_a_string_an_int_and_a_float_of_one_apart():
    # a choice of ['1', 1, 1.0] (or true, 'true'): was "c=1" for each of the three
    assert format_arch({"a": "1", "b": 1, "c": 1.0}) == "a='1' b=1 c=1.0"
    assert format_arch({"a": "true", "b": True, "c": "null", "d": None, "e": "", "f": "2e-3"}) \
        == "a='true' b=True c='null' d=None e='' f='2e-3'"
    assert format_arch({"lr": 0.001, "act": "relu", "x": 1234.5, "y": -2.0, "z": 1e5}) \
        == "lr=0.001 act=relu x=1234 y=-2.0 z=1e+05"  # others as before


def test_arch_key_is_strict_json_with_one_key_for_nan():
    # was: bare Infinity and NaN (Python's json), no JSON: SQLite's json_valid(arch_key) 0
    # and json_extract(arch_key, ...) "malformed JSON" on trials.arch_key and events.arch_key
    arch = {"clip": math.inf, "floor": -math.inf, "pad": [math.nan, 1.0], "act": "NaN",
            "note": "Infinity"}
    key = arch_key(arch)
    assert key == ('{"act":"NaN","clip":9e999,"floor":-9e999,"note":"Infinity",'
                   '"pad":[null,1.0]}')
    db = sqlite3.connect(":memory:")
    assert db.execute("SELECT json_valid(?), json_extract(?, '$.clip'), "
                      "json_extract(?, '$.act')", (key, key, key)).fetchone() == (
                          1, math.inf, "NaN")
    db.close()
    # every NaN is one key (NaN != NaN: keys compare the text), as before
    assert arch_key({"pad": [float("nan")]}) == arch_key({"pad": [math.nan]})
    assert arch_key({"pad": [math.inf]}) != arch_key({"pad": [-math.inf]})
    assert arch_key({"pad": [math.inf]}) != arch_key({"pad": ["Infinity"]})
    assert json.loads(key)["clip"] == math.inf  # read back as the value it was

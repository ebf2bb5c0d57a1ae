"""Tests of a NaN nested in a space's value (a ``fixed`` list, a ``choice`` option, a
mapping at any depth): refused before a search writes anything, naming the key and where
the NaN sits, as a NaN value itself is. The run store writes strict JSON (NaN as null), so
such a value came back as another one: ``fixed: [.nan]`` reached the trial as ``[None]``.
A nested infinity stays (stored as ``9e999``, read back as the infinity). A NaN
``choice`` value or ``fixed`` value itself is refused too.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lightning_nas.config.load import load_config
from lightning_nas.config.yamlio import load_yaml
from lightning_nas.errors import SpaceError
from lightning_nas.search.facade import Search
from lightning_nas.search.from_config import search_from_config
from lightning_nas.search.warm import load_priors
from lightning_nas.space import Choice, Fixed, Ordered, SearchSpace
from lightning_nas.store import open_run

torch.set_num_threads(1)

NAN = float("nan")
INF = float("inf")

#: (space as YAML text, the key named, the kind, where the NaN sits)
YAML_SPACES = [
    ("clip: {fixed: [.nan, .inf]}", "clip", "fixed", "[0]"),
    ("w: {choice: [[.nan], 2]}", "w", "choice", "[0][0]"),
    ("w: {choice: [[.nan], [null]]}", "w", "choice", "[0][0]"),  # was: 'must be distinct'
    ("opt: {fixed: {betas: [0.9, .nan]}}", "opt", "fixed", "['betas'][1]"),
    ("head: {w: {ordered: [1, {a: {b: .nan}}]}}", "head.w", "ordered", "[1]['a']['b']"),
]

#: (space as Python objects, the key named, the kind, where the NaN sits)
PYTHON_SPACES = [
    ({"clip": Fixed((NAN, INF))}, "clip", "fixed", "[0]"),  # a tuple
    ({"clip": {"fixed": [1.0, [2.0, NAN]]}}, "clip", "fixed", "[1][1]"),  # its YAML mapping
    ({"w": Choice([{"a": [np.float64("nan")]}, 1])}, "w", "choice", "[0]['a'][0]"),
    ({"w": Choice([np.array([1.0, np.nan]), [1.0, 2.0]])}, "w", "choice", "[0][1]"),
    ({"g": {"w": Ordered([[1.0], [NAN]])}}, "g.w", "ordered", "[1][0]"),
]


def _refused(kind: str, key: str, where: str) -> str:
    values = "value" if kind == "fixed" else "values"
    return (rf"space key '{key}': the `{kind}` {values} .* hold(s)? NaN at {re.escape(where)}"
            rf"; .*use null .*or a string")



def _search(space, run: Path, seen: list) -> Search:
    def objective(arch: dict) -> dict:
        seen.append(arch)
        return {"val_acc": float(arch["b"])}

    return Search(None, space, objective=objective, budget=2, run_dir=run, seed=0,
                  verbose=False)


@pytest.mark.parametrize("text, key, kind, where", YAML_SPACES)
def test_a_nan_nested_in_a_yaml_space_value_is_refused_before_the_search_writes(
        tmp_path, text, key, kind, where):
    # was: accepted; the store kept the NaN as null, the search ran on the space read back:
    # a trial got [None] for [nan] (or the run was refused: 'values must be distinct')
    run, seen = tmp_path / "run", []
    space = load_yaml(f"{text}\nb: {{choice: [1, 2]}}")
    with pytest.raises(SpaceError, match=_refused(kind, key, where)):
        _search(space, run, seen).run()
    assert seen == [] and not run.exists()
    with pytest.raises(SpaceError, match=_refused(kind, key, where)):
        SearchSpace.from_yaml(f"{text}\nb: {{choice: [1, 2]}}")


@pytest.mark.parametrize("params, key, kind, where", PYTHON_SPACES)
def test_a_nan_nested_in_a_python_space_value_is_refused_before_the_search_writes(
        tmp_path, params, key, kind, where):
    run, seen = tmp_path / "run", []
    with pytest.raises(SpaceError, match=_refused(kind, key, where)):
        _search({**params, "b": Choice([1, 2])}, run, seen).run()
    assert seen == [] and not run.exists()
    with pytest.raises(SpaceError, match=_refused(kind, key, where)):
        SearchSpace({**params, "b": Choice([1, 2])})


def test_a_nan_nested_in_a_config_files_space_is_refused_before_any_trial(tmp_path):
    # a config search with a real Trainer: was: SGD got momentum=None, each trial FAILED
    cfg = {"seed_everything": 7,
           "model": {"class_path": "tests.helpers.DictArgNet", "init_args": {"lr": 0.1}},
           "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 32}},
           "trainer": {"max_epochs": 1, "limit_train_batches": 1},
           "search": {"space": {"width": {"choice": [4, 8]},
                                "opt_cfg": {"fixed": {"momentum": NAN}}},
                      "budget": 2, "run_dir": str(tmp_path / "run"), "verbose": False}}
    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert ".nan" in path.read_text()
    with pytest.raises(SpaceError, match=_refused("fixed", "opt_cfg", "['momentum']")):
        search_from_config(load_config(path, [])).run()
    assert not (tmp_path / "run").exists()


def test_a_nested_nan_is_named_before_a_choice_is_found_not_distinct():
    with pytest.raises(SpaceError, match=r"the `choice` values \[\[nan\], \[None\]\] hold NaN "
                                         r"at \[0\]\[0\]"):
        SearchSpace({"w": Choice([[NAN], [None]])})


INF_SPACE = """
clip: {fixed: [.inf, -.inf, 1.0]}
w: {choice: [[.inf], [1.0]]}
opt: {fixed: {eps: .inf, none: null}}
b: {choice: [1, 2]}
"""


def _inf_objective(arch: dict) -> dict:
    return {"val_acc": float(arch["b"]) + (arch["w"] == [1.0]) / 10}


def test_a_nested_inf_reaches_the_trials_and_survives_the_store_and_a_resume(tmp_path):
    run, seen = tmp_path / "run", []

    def objective(arch: dict) -> dict:
        seen.append(arch)
        return _inf_objective(arch)

    def search(budget: int) -> Search:
        return Search(None, SearchSpace.from_yaml(INF_SPACE), objective=objective,
                      budget=budget, run_dir=run, seed=0, verbose=False)

    search(2).run()
    assert len(seen) == 2
    for arch in seen:
        assert arch["clip"] == [INF, -INF, 1.0] and arch["w"] in ([INF], [1.0])
        assert arch["opt"] == {"eps": INF, "none": None}
    with sqlite3.connect(run / "search.db") as db:
        (space,) = db.execute("SELECT value FROM meta WHERE key = 'space'").fetchone()
    assert "9e999" in space and "-9e999" in space and "Infinity" not in space
    stored = open_run(run)
    try:
        assert [t.arch for t in stored.trials()] == seen
        assert SearchSpace.from_dict(stored.get_meta("space")) == SearchSpace.from_yaml(INF_SPACE)
    finally:
        stored.close()
    result = search(3).run()  # a resume searches the same space
    assert len(result.trials) == 3 and seen[2]["clip"] == [INF, -INF, 1.0]


def test_warm_start_from_an_earlier_store_keeps_its_values(tmp_path):
    # nested infinities and nulls (what to use instead of a NaN) of an earlier run's
    # fixed and chosen values are read back as they ran, and told as priors
    source = tmp_path / "source"
    Search(None, SearchSpace.from_yaml(INF_SPACE), objective=_inf_objective, budget=4,
           run_dir=source, seed=0, verbose=False).run()
    store = open_run(source)
    try:
        ran = [t.arch for t in store.trials()]
    finally:
        store.close()
    priors, report = load_priors([source], SearchSpace.from_yaml(INF_SPACE))
    rep = report.sources[0]
    assert (rep.trials, rep.out_of_space, rep.dropped, rep.filled) == (4, [], [], {})
    assert sorted(json.dumps(p.arch) for p in priors) == sorted(
        {json.dumps(a) for a in ran})
    assert all(p.arch["clip"] == [INF, -INF, 1.0] for p in priors)
    result = Search(None, SearchSpace.from_yaml(INF_SPACE), objective=_inf_objective,
                    budget=2, run_dir=tmp_path / "warm", seed=0, verbose=False,
                    warm_start=[str(source)]).run()
    assert all(t.arch["opt"] == {"eps": INF, "none": None} for t in result.trials)


def test_a_nan_an_older_store_holds_in_a_value_does_not_stop_a_warm_start(tmp_path):
    # an older version wrote a bare NaN into search.db (meta and architectures): its space
    # is read as it was, and its trials' other values are priors of a space without it
    source = tmp_path / "source"
    space = {"clip": {"fixed": [1.0]}, "a": {"choice": [0, 1, 2]}}
    Search(None, space, objective=lambda arch: {"val_acc": arch["a"] / 10}, budget=3,
           run_dir=source, seed=0, verbose=False).run()
    with sqlite3.connect(source / "search.db") as db:  # as the older version wrote them
        db.execute("UPDATE meta SET value = ? WHERE key = 'space'",
                   (json.dumps({**space, "clip": {"fixed": [NAN]}}),))
        for trial_id, arch in db.execute("SELECT id, arch FROM trials").fetchall():
            db.execute("UPDATE trials SET arch = ? WHERE id = ?",
                       (json.dumps({**json.loads(arch), "clip": [NAN]}), trial_id))
    priors, report = load_priors([source], SearchSpace.from_dict({"a": space["a"]}))
    rep = report.sources[0]
    assert (rep.trials, rep.used, rep.dropped, rep.filled) == (3, 3, ["clip"], {})
    store = open_run(source)
    try:
        assert math.isnan(store.trials()[0].arch["clip"][0])  # read as it was written
    finally:
        store.close()


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

"""Tests that a search space samples what it says, seeded and with wide bounds: the integers
of an ``int`` range (its ends their full share), log ranges log-uniform, through
``SearchSpace.sample``, nevergrad's ``RandomSearch`` and the default optimizer's first
proposals; choices' values with their types; and sampled values owned by the architecture,
not shared with the space (a model that changes its argument changes no later trial's)."""

from __future__ import annotations

import math
import random
import warnings

import numpy as np
import pytest
import torch
import yaml

from lightning_nas.arch import arch_key
from lightning_nas.search.facade import Search
from lightning_nas.space import SearchSpace
from lightning_nas.store import RunStore
from lightning_nas.strategies.registry import DEFAULT_OPTIMIZER, make_optimizer
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

SPACE_YAML = """
a: {int: [16, 128]}
b: {int: [16, 128], log: true}
lr: {float: [1.0e-3, 3.0e-2], log: true}
s: {int: [0, 100], step: 25}
c: {choice: [1, 1.0, true, '1', null, {x: 1}, [1, 2]]}
o: {ordered: [8, 1, 4, 2]}
"""
N = 3000
#: the first proposals asked of RandomSearch and of the default optimizer (the rest are
#: drawn as they draw them): each choice's and step's every value among them (was 150, the
#: same asks 110 times more: 1.7 s of RandomSearch's and 2.7 s of the default's here)
CHECKED = 40


def _sampled(source: str) -> list[dict]:
    space = SearchSpace.from_yaml(SPACE_YAML)
    if source == "sample":
        return [space.sample(seed=seed) for seed in range(N)]
    if source == "RandomSearch":
        # RandomSearch asks its parametrization for a sample, a Dict that samples each key's
        # parameter in turn on one random state: the first CHECKED asks (each told) must be
        # those draws exactly, and the rest are drawn as it draws them, one key's parameter
        # at a time (an ask copies the whole Dict and costs 10 ms: 3000 took 30 s)
        opt = make_optimizer("RandomSearch", space, budget=N, seed=0)
        asked = []
        for _ in range(CHECKED):
            candidate = opt.ask()
            asked.append(space.validate(candidate.value))
            opt.tell(candidate, 0.0)
        leaves = dict(make_optimizer("RandomSearch", space, budget=N,
                                     seed=0).parametrization.items())
        drawn = [space.validate({key: leaf.sample().value for key, leaf in leaves.items()})
                 for _ in range(N)]
        # the same values of the same types (repr: 1, 1.0 and True are equal in a dict)
        assert [repr(a) for a in asked] == [repr(d) for d in drawn[:CHECKED]]
        _every_value_asked(asked)
        return drawn
    # the default optimizer's first proposal, one optimizer per seed: a random genotype of
    # its codec drawn from the random state make_optimizer seeds, decoded; the first
    # CHECKED seeds' proposals are asked and must be that draw exactly, the rest are drawn
    # as the optimizer draws them (an ask costs milliseconds of nevergrad: 3000 took 30 s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codec = make_optimizer(DEFAULT_OPTIMIZER, space, budget=20, seed=0).codec
        drawn = [space.validate(codec.decode(codec.random(np.random.RandomState(seed))))
                 for seed in range(N)]
        asked = [space.validate(make_optimizer(DEFAULT_OPTIMIZER, space, budget=20,
                                               seed=seed).ask().value)
                 for seed in range(CHECKED)]
    # the same values of the same types (a float set into nevergrad and read back may move
    # by an ulp: 0.006380556092044448 asked, ...451 drawn)
    for one, other in zip(asked, drawn, strict=False):
        assert one.keys() == other.keys(), (one, other)
        assert all(math.isclose(one[k], other[k], rel_tol=1e-12) if type(one[k]) is float
                   else repr(one[k]) == repr(other[k]) for k in one), (one, other)
        assert [type(v) for v in one.values()] == [type(v) for v in other.values()]
    _every_value_asked(asked)
    return drawn


def _every_value_asked(asked: list[dict]) -> None:
    """Each value of each choice and step of the space is among the ``asked`` proposals:
    the asks compared with the draws hold every kind of value the space has."""
    for key, values in (("s", 5), ("c", 7), ("o", 4)):
        assert len({repr(arch[key]) for arch in asked}) == values, key


@pytest.mark.slow
@pytest.mark.parametrize("source", ["sample", "RandomSearch", "default"])
def test_ranges_and_choices_sample_what_the_readme_says(source):
    archs = _sampled(source)
    a = [arch["a"] for arch in archs]
    # every integer of [16, 128] reached, each about N / 113 = 26.5 times; rounding a
    # uniform on [16, 128] gave each end half of that (13): both ends together at least 38
    assert set(a) == set(range(16, 129))
    assert a.count(16) + a.count(128) >= 38, (a.count(16), a.count(128))
    # a log range: each k the share of [k - 0.5, k + 0.5] of a log-uniform on [15.5, 128.5];
    # about half below the geometric middle (a uniform would put 13 % there)
    b = [arch["b"] for arch in archs]
    assert min(b) == 16 and max(b) == 128
    span = math.log(128.5 / 15.5)
    expected = N * math.log(16.5 / 15.5) / span  # 88.6 (sd 9.3); a half share would be 44
    assert 0.7 * expected <= b.count(16) <= 1.3 * expected, (b.count(16), expected)
    assert 0.45 < sum(v < math.sqrt(15.5 * 128.5) for v in b) / N < 0.55
    lr = [arch["lr"] for arch in archs]
    assert all(type(v) is float and 1e-3 <= v <= 3e-2 for v in lr)
    assert 0.45 < sum(v < math.sqrt(1e-3 * 3e-2) for v in lr) / N < 0.55  # linear: 15 %
    assert all(type(arch[key]) is int for arch in archs for key in ("a", "b", "s"))
    # steps, choices and ordered choices: each value about N / 5, N / 7, N / 4 times
    for key, values in (("s", [0, 25, 50, 75, 100]), ("o", [8, 1, 4, 2]),
                        ("c", [1, 1.0, True, "1", None, {"x": 1}, [1, 2]])):
        counts = [sum(repr(arch[key]) == repr(v) for arch in archs) for v in values]
        assert all(0.7 * N / len(values) < n < 1.3 * N / len(values) for n in counts), (key,
                                                                                        counts)


def test_a_choice_keeps_its_values_types_and_an_ordered_one_its_order():
    space = SearchSpace.from_yaml(SPACE_YAML)
    assert space.to_dict()["o"] == {"ordered": [8, 1, 4, 2]}
    assert SearchSpace.from_yaml(space.to_yaml()) == space
    assert [c.value for c in space.to_nevergrad()["o"].choices] == [8, 1, 4, 2]
    seen = {(type(arch["c"]), repr(arch["c"])) for arch in
            (space.sample(seed=seed) for seed in range(200))}
    assert seen == {(int, "1"), (float, "1.0"), (bool, "True"), (str, "'1'"),
                    (type(None), "None"), (dict, "{'x': 1}"), (list, "[1, 2]")}


def test_sample_and_size_of_the_space():
    space = SearchSpace.from_yaml(SPACE_YAML)
    assert space.size() == math.inf
    assert space.sample(seed=5) == space.sample(seed=5)
    assert space.sample(rng=random.Random(5)) == space.sample(seed=5)
    discrete = SearchSpace.from_yaml("a: {int: [16, 128]}\ns: {int: [0, 100], step: 25}\n"
                                     "o: {ordered: [1, 2]}\ng: {c: {choice: [x, y, z]}}\n"
                                     "f: {fixed: 3}")
    assert discrete.size() == 113 * 5 * 2 * 3


# ---------------------------------------------------------------- values owned by the arch
def test_changing_a_sampled_value_changes_neither_the_space_nor_later_samples():
    # was: sample() handed out the space's own list and mapping: a model that took
    # its settings out of a sampled mapping (opt.pop("name")) changed the space itself
    space = SearchSpace.from_yaml("c: {choice: [{x: 1}, [1]]}\nf: {fixed: {y: [2]}}")
    before = space.to_yaml()
    for seed in range(4):
        arch = space.sample(seed=seed)
        arch["c"].clear()
        arch["f"]["y"].append(3)
    assert space.to_yaml() == before
    assert space.sample(seed=0) == SearchSpace.from_yaml(before).sample(seed=0)
    param = space.to_nevergrad()
    param.value["f"]["y"].append(4)  # nevergrad's constant: not the space's mapping
    space.to_dict()["c"]["choice"][0]["x"] = 2  # nor is the mapping form's
    assert space.to_yaml() == before


SEEN: list[tuple] = []


class CountingNet(TinyNet):
    """Counts its builds in its settings mapping and notes its width in a list it is given:
    a model changing its own arguments, as projects' models do."""

    def __init__(self, width: int = 4, opt: dict | None = None, tags: list | None = None):
        self.got = (dict(opt), list(tags))
        opt["builds"] = opt.get("builds", 0) + 1
        tags.append(width)
        super().__init__(width=width, lr=opt["lr"])

    def on_fit_start(self) -> None:
        SEEN.append(self.got)


def test_a_model_that_changes_its_arguments_changes_no_later_trial_nor_the_store(tmp_path):
    # was: the checks before training built the model with the space's own mapping and
    # list: every trial got {'name': 'adam', 'lr': 0.01, 'builds': 4} and tags [8, 8, 4,
    # 4, 4, 4, 8], and search.db and best.yaml stored them, values no space key holds
    torch.set_num_threads(1)
    SEEN.clear()
    options = [{"name": "sgd", "lr": 0.1}, {"name": "adam", "lr": 0.01}]
    space = {"width": {"choice": [4, 8]}, "opt": {"choice": options}, "tags": {"fixed": []}}
    trainer = dict(max_epochs=1, limit_train_batches=1, limit_val_batches=1, logger=False,
                   enable_progress_bar=False)
    search = Search(CountingNet, space, data=BlobData(n=32), trainer=trainer, budget=4,
                    seed=0, run_dir=tmp_path / "run", optimizer="RandomSearch", verbose=False)
    assert search.space == SearchSpace(space)
    result = search.run()
    assert len(SEEN) == len(result.trials) == 4
    for trial, (opt, tags) in zip(result.trials, SEEN, strict=True):
        assert opt in options and tags == []
        assert trial.arch["opt"] == opt and trial.arch["tags"] == []
    with RunStore(tmp_path / "run" / "search.db", read_only=True) as store:
        stored = store.trials()
    assert sorted(arch_key(t.arch) for t in stored) == sorted(arch_key(t.arch)
                                                              for t in result.trials)
    best = yaml.safe_load((tmp_path / "run" / "best.yaml").read_text())["arch"]
    assert best["opt"] in options and best["tags"] == []


class PoppingNet(TinyNet):
    """Takes its optimizer's name out of the settings it is given, as projects' models do
    (``opt.pop("name")``)."""

    def __init__(self, width: int = 4, opt: dict | None = None) -> None:
        opt.pop("name")
        super().__init__(width=width, lr=opt["lr"])


def test_a_model_that_takes_keys_out_of_its_arguments_is_checked_with_fresh_ones(tmp_path):
    # was: the checks before training built the model several times with one architecture
    # mapping, so the second build found 'name' gone and the search was refused: "space key
    # 'width' may take 8: KeyError: 'name'" (trials themselves get fresh copies)
    torch.set_num_threads(1)
    options = [{"name": "sgd", "lr": 0.1}, {"name": "adam", "lr": 0.01}]
    space = {"width": {"choice": [4, 8]}, "opt": {"choice": options}}
    trainer = dict(max_epochs=1, limit_train_batches=1, limit_val_batches=1, logger=False,
                   enable_progress_bar=False)
    result = Search(PoppingNet, space, data=BlobData(n=32), trainer=trainer, budget=2, seed=0,
                    run_dir=tmp_path / "run", optimizer="RandomSearch", verbose=False).run()
    assert [t.status.value for t in result.trials] == ["COMPLETED"] * 2
    assert all(t.arch["opt"] in options for t in result.trials)

"""The NAS strategies of ``lightning_nas.strategies`` in nevergrad's registry.

Each strategy runs by name through the real driver and store on a small mixed space
(choice, ordered, log int, log float, fixed, nested group) with a known toy objective:
valid, distinct proposals; the same seed gives the same sequence; two workers; resume
(results replayed as tells of candidates never asked); finding the optimum of an easy
objective more often than random search. Codec tests check the moves on every kind.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import nevergrad as ng
import numpy as np
import pytest

from lightning_nas import Search
from lightning_nas.arch import arch_key
from lightning_nas.errors import ConfigError, SpaceError
from lightning_nas.space import SearchSpace
from lightning_nas.strategies.codec import Codec, candidate_of
from lightning_nas.strategies.nas import NAS_OPTIMIZERS
from lightning_nas.strategies.registry import (
    DEFAULT_OPTIMIZER,
    available_optimizers,
    make_optimizer,
)
from lightning_nas.strategies.transfer import tell_priors

NAMES = list(NAS_OPTIMIZERS)

SPACE = SearchSpace.from_yaml("""
act: {choice: [relu, gelu, tanh]}
depth: {ordered: [1, 2, 4, 8]}
width: {int: [8, 64], log: true}
lr: {float: [1.0e-4, 1.0e-1], log: true}
drop: {fixed: 0.1}
head:
  hidden: {choice: [16, 32]}
  layers: {int: [1, 3]}
""")


def toy(arch: dict) -> dict[str, float]:
    """Maximum 4.0 at act=gelu, depth=4, width=32, lr=1e-2, hidden=32, layers=2."""
    score = (arch["act"] == "gelu") + (arch["depth"] == 4) + (arch["head"]["hidden"] == 32)
    score += 1 - abs(math.log2(arch["width"] / 32)) / 2 - abs(math.log10(arch["lr"] / 1e-2)) / 2
    score -= abs(arch["head"]["layers"] - 2) / 2
    return {"score": float(score)}


def _search(name: str, run_dir, budget: int = 12, seed: int = 0, **kwargs) -> list[dict]:
    result = Search(None, SPACE, objective=toy, optimizer=name, budget=budget, seed=seed,
                    monitor="score", mode="max", run_dir=run_dir, verbose=False, **kwargs).run()
    return [t.arch for t in sorted(result.trials, key=lambda t: t.trial_id)]


def test_registered_by_name_in_nevergrad():
    for name in NAMES:
        assert name in ng.optimizers.registry
        assert name in available_optimizers()
        assert issubclass(ng.optimizers.registry[name], ng.optimizers.base.Optimizer)
    assert DEFAULT_OPTIMIZER in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_strategy_by_name_through_the_driver(name, tmp_path):
    archs = _search(name, tmp_path, budget=15)
    assert len(archs) == 15
    assert len({arch_key(a) for a in archs}) == 15  # no architecture twice
    for arch in archs:
        assert SPACE.validate(arch) == arch
        assert arch["drop"] == 0.1
        assert isinstance(arch["width"], int) and 8 <= arch["width"] <= 64
        assert 1e-4 <= arch["lr"] <= 1e-1
    assert (tmp_path / "search.db").is_file() and (tmp_path / "best.yaml").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_architectures(name, tmp_path):
    first = _search(name, tmp_path / "a", seed=3)
    again = _search(name, tmp_path / "b", seed=3)
    other = _search(name, tmp_path / "c", seed=4)
    assert first == again
    assert first != other


@pytest.mark.parametrize("name", NAMES)
def test_two_workers(name, tmp_path):
    with ThreadPoolExecutor(2) as pool:
        archs = _search(name, tmp_path, budget=14, num_workers=2, executor=pool)
    assert len({arch_key(a) for a in archs}) == 14


@pytest.mark.parametrize("name", NAMES)
def test_asks_before_tells_are_distinct(name):
    opt = make_optimizer(name, SPACE, budget=40, num_workers=4, seed=0)
    for _ in range(8):  # 4 out at once, told in reverse order
        batch = [opt.ask() for _ in range(4)]
        assert len({arch_key(c.value) for c in batch}) == 4
        for cand in reversed(batch):
            opt.tell(cand, -toy(cand.value)["score"])
    assert not opt.pending and len(opt.told) == 32


@pytest.mark.parametrize("name", NAMES)
def test_resume_replays_told_results(name, tmp_path):
    first = _search(name, tmp_path, budget=5)
    resumed = _search(name, tmp_path, budget=10)
    assert resumed[:5] == first
    assert len({arch_key(a) for a in resumed}) == 10


@pytest.mark.parametrize("name", NAMES)
def test_tell_not_asked_is_learned(name):
    """Told every architecture of a small space but one, the next ask is that one."""
    space = SearchSpace.from_dict({"a": {"choice": ["x", "y", "z"]}, "b": {"ordered": [1, 2, 3]},
                                   "c": {"int": [0, 1]}})
    opt = make_optimizer(name, space, budget=20, seed=0)
    archs = [{"a": a, "b": b, "c": c} for a in "xyz" for b in (1, 2, 3) for c in (0, 1)]
    for i, arch in enumerate(archs[:-1]):
        opt.tell(opt.parametrization.spawn_child(new_value=arch), float(i))
    assert opt.num_tell_not_asked == len(archs) - 1
    assert len(opt.told) == len(archs) - 1
    assert opt.ask().value == archs[-1]


def _hits(name: str, seeds: int = 12, budget: int = 50, enough: int | None = None) -> int:
    """Seeds that find the optimum (4 ones) of a 4^4 * 2 = 512-architecture OneMax-like toy;
    with ``enough``, counted only until that many are found (the rest cannot lower it)."""
    space = SearchSpace.from_dict({f"x{i}": {"choice": [0, 1, 2, 3]} for i in range(4)}
                                  | {"o": {"ordered": [0, 1]}})
    hits = 0
    for seed in range(seeds):
        if enough is not None and hits >= enough:
            break
        opt = make_optimizer(name, space, budget=budget, seed=seed)
        seen: set[str] = set()
        while len(seen) < budget:
            cand = opt.ask()
            value = cand.value
            seen.add(arch_key(value))
            opt.tell(cand, -float(sum(v == 1 for v in value.values())))
            if sum(v == 1 for v in value.values()) == 5:
                hits += 1
                break
    return hits


@pytest.mark.slow
def test_strategies_find_the_optimum_more_often_than_random():
    random_hits = _hits("RandomSearch")
    for name in NAMES:  # the count stops once it beats random's: the same verdict, sooner
        assert _hits(name, enough=random_hits + 1) > random_hits, name


# --------------------------------------------------------------------- codec and moves
def test_codec_round_trip_and_moves_on_every_kind():
    codec = Codec(SPACE.to_nevergrad())
    assert [leaf.kind for leaf in codec.leaves] == ["cat", "ord", "int", "float", "cat", "int"]
    rng = np.random.RandomState(0)
    for _ in range(50):
        geno = codec.random(rng)
        arch = codec.decode(geno)
        assert SPACE.validate(arch) == arch
        assert codec.encode(arch) == geno
        child = codec.mutate(geno, rng)
        assert sum(a != b for a, b in zip(child, geno, strict=True)) == 1
        assert SPACE.validate(codec.decode(child))
        for nb in codec.neighbours(geno, rng):
            assert sum(a != b for a, b in zip(nb, geno, strict=True)) == 1
            assert SPACE.validate(codec.decode(nb))


def test_ordered_and_int_neighbours_are_adjacent():
    codec = Codec(SearchSpace.from_dict({"d": {"ordered": [1, 2, 4, 8]},
                                         "n": {"int": [0, 10]}}).to_nevergrad())
    rng = np.random.RandomState(0)
    around = {g for g in codec.neighbours((2, 5), rng)}
    assert {(1, 5), (3, 5), (2, 4), (2, 6)} <= around
    assert all(g[0] in (1, 2, 3) for g in around)  # ordered: only adjacent options


def test_float_mutation_stays_in_log_bounds():
    codec = Codec(SearchSpace.from_dict({"lr": {"float": [1e-4, 1e-1], "log": True}})
                  .to_nevergrad())
    rng = np.random.RandomState(0)
    values = [codec.mutate((1e-4,), rng)[0] for _ in range(200)]
    values += [codec.mutate((1e-1,), rng)[0] for _ in range(200)]
    assert all(1e-4 <= v <= 1e-1 for v in values)
    steps = [abs(math.log10(codec.mutate((1e-3,), rng)[0] / 1e-3)) for _ in range(200)]
    assert 0.1 < float(np.median(steps)) < 0.6  # about 0.15 of 3 decades


def test_unsupported_parametrization_is_named():
    with pytest.raises(SpaceError, match="bounds on the range 'x'"):
        Codec(ng.p.Dict(x=ng.p.Scalar()))
    with pytest.raises(TypeError, match="nevergrad Dict"):
        Codec(ng.p.Choice([1, 2]))


def test_small_space_is_exhausted_without_repeats(tmp_path):
    space = {"a": {"choice": [1, 2, 3]}}
    result = Search(None, space, objective=lambda arch: {"score": float(arch["a"])},
                    optimizer=DEFAULT_OPTIMIZER, budget=6, monitor="score", mode="max",
                    run_dir=tmp_path, verbose=False).run()
    assert sorted(t.arch["a"] for t in result.trials) == [1, 2, 3]
    assert result.best.arch == {"a": 3}


def test_log_int_ranges_reach_both_bounds(tmp_path):
    # nevergrad gives a log range's bounds back as exp(log(b)): 15.999999999999998 and
    # 127.99999999999991 for [16, 128]; the codec keeps the declared integers
    codec = Codec(SearchSpace.from_dict({"w": {"int": [16, 128], "log": True},
                                         "v": {"int": [32, 512], "log": True}}).to_nevergrad())
    assert [(leaf.low, leaf.high) for leaf in codec.leaves] == [(16, 128), (32, 512)]
    space = {"k": {"int": [1, 4], "log": True}}
    result = Search(None, space, objective=lambda arch: {"score": float(arch["k"])},
                    optimizer=DEFAULT_OPTIMIZER, budget=4, monitor="score", mode="max",
                    run_dir=tmp_path, verbose=False).run()
    assert sorted(t.arch["k"] for t in result.trials) == [1, 2, 3, 4]


@pytest.mark.parametrize("name", NAS_OPTIMIZERS)
def test_options_equal_in_python_stay_apart(tmp_path, name):
    # 0 == False == 0.0 in Python; nevergrad's spawn_child(new_value=...) found a choice's
    # option by ==, so the NAS strategies never proposed False or 0.0
    space = {"x": {"choice": [0, False, 0.0]}, "y": {"choice": ["a", "b"]}}
    result = Search(None, space, objective=lambda arch: {"score": float(arch["y"] == "a")},
                    optimizer=name, budget=6, monitor="score", mode="max", run_dir=tmp_path,
                    verbose=False).run()
    proposed = {(type(t.arch["x"]).__name__, t.arch["y"]) for t in result.trials}
    assert proposed == {(k, y) for k in ("int", "bool", "float") for y in "ab"}
    again = Search(None, space, objective=lambda arch: {"score": 0.0}, optimizer=name,
                   budget=6, monitor="score", mode="max", run_dir=tmp_path, verbose=False).run()
    assert [t.arch for t in again.trials] == [t.arch for t in result.trials]  # replayed


@pytest.mark.parametrize("name", NAS_OPTIMIZERS)
def test_with_several_objectives_a_strategy_learns_the_first_ones_losses(name):
    # was: nevergrad's scalar for a loss vector, the gain in hypervolume: 0.0 for the first
    # 15 results whatever they were, so the strategies searched blind at first
    space = SearchSpace.from_dict({"a": {"choice": list(range(6))},
                                   "b": {"choice": list(range(6))}})
    opt = make_optimizer(name, space, budget=15, seed=0)
    first: dict = {}
    for _ in range(15):
        candidate = opt.ask()
        value = candidate.value
        first[arch_key(value)] = float(value["a"] - 2 * value["b"])
        opt.tell(candidate, [first[arch_key(value)], float(value["a"])])
    learnt = {arch_key(opt.codec.decode(geno)): loss for geno, loss in opt.told.items()}
    assert learnt == first


@pytest.mark.parametrize("name", NAS_OPTIMIZERS)
def test_no_architecture_is_proposed_twice_while_another_is_left(name):
    # four pending at a time over a space of 36 (a stepped int among them); was: Reinforce
    # fell back to any random genotype after 100 misses and proposed one twice
    space = SearchSpace.from_dict({"a": {"choice": [1, 2, 3]},
                                   "b": {"int": [0, 9], "step": 3}, "c": {"int": [1, 3]}})
    size = int(space.size())
    for seed in range(3):
        opt = make_optimizer(name, space, budget=size, num_workers=4, seed=seed)
        pending, asked = [], []
        while len(asked) < size:
            while len(pending) < 4 and len(asked) < size:
                pending.append(opt.ask())
                asked.append(arch_key(pending[-1].value))
            done = pending.pop(0)
            opt.tell(done, float(done.value["a"] + done.value["b"]))
        assert len(set(asked)) == size, (name, seed)


@pytest.mark.parametrize("name", NAS_OPTIMIZERS)
def test_priors_with_several_objectives_are_used_as_priors_as_with_one(name):
    # was: a loss vector per prior was told as a result of this task (nevergrad's Pareto
    # tell), so no earlier architecture was proposed again while another was left, not
    # even the earlier best a warm start evaluates first
    space = SearchSpace.from_dict({"a": {"choice": list(range(5))},
                                   "b": {"choice": list(range(5))}})
    earlier = [({"a": a, "b": b}, abs(a - 3) + abs(b - 1) / 2, float(a))
               for a in range(5) for b in range(3)]
    asked: dict[bool, list[str]] = {}
    for multi in (False, True):
        opt = make_optimizer(name, space, budget=10, seed=0)
        tell_priors(opt, [(arch, [loss, cost] if multi else loss, "earlier")
                          for arch, loss, cost in earlier])
        asked[multi] = []
        for _ in range(10):
            candidate = opt.ask()
            value = candidate.value
            asked[multi].append(arch_key(value))
            opt.tell(candidate, [abs(value["a"] - 3) + abs(value["b"] - 2) / 2,
                                 float(value["a"])])
    assert asked[True] == asked[False]
    if name != "Reinforce":  # which is told the priors as results, whatever the objectives
        assert asked[True][0] == arch_key({"a": 3, "b": 1})  # the earlier best first


@pytest.mark.parametrize("name", [n for n in NAS_OPTIMIZERS if n != "Reinforce"])
def test_priors_tied_on_the_first_objective_are_ranked_by_the_next_ones(name):
    # was: the NAS strategies ranked the priors by the first loss alone, ties in the order
    # given, so the earlier best they start from was the first of the tied, not the one the
    # next objectives (as the best trial's ranking) put first
    space = SearchSpace.from_dict({"a": {"choice": list(range(6))}})
    earlier = [({"a": 0}, [-0.9, 5.0, 1.0]), ({"a": 1}, [-0.9, 3.0, 2.0]),
               ({"a": 2}, [-0.9, 3.0, 0.5]), ({"a": 3}, [-0.5, 0.0, 0.0])]
    opt = make_optimizer(name, space, budget=6, seed=0)
    tell_priors(opt, [(arch, losses, "earlier") for arch, losses in earlier])
    assert [opt.codec.decode(g) for g in opt.prior_ranking] == [
        {"a": 2}, {"a": 1}, {"a": 0}, {"a": 3}]
    assert opt.ask().value == {"a": 2}  # the earlier best first


@pytest.mark.parametrize("name", NAS_OPTIMIZERS)
def test_priors_told_in_two_calls_act_as_one_call(name):
    # was: a second tell_priors call ranked its own priors alone (the first call's best was
    # no longer started from) and the default (Reinforce) told the first call's priors again
    space = SearchSpace.from_dict({"a": {"choice": list(range(6))},
                                   "b": {"choice": list(range(4))}})
    earlier = [({"a": a, "b": b}, abs(a - 4) + abs(b - 2) / 3, f"t{a % 2}")
               for a in range(6) for b in range(4)]
    first, second = earlier[::2], earlier[1::2]  # the best, a=4 b=2, is in the first

    def run(calls: list[list]) -> tuple[list, dict, list[str]]:
        opt = make_optimizer(name, space, budget=8, seed=3)
        for priors in calls:
            tell_priors(opt, priors)
        ranking = [arch_key(opt.codec.decode(g)) for g in opt.prior_ranking]
        told = dict(opt.told)
        asked = []
        for _ in range(8):
            candidate = opt.ask()
            asked.append(arch_key(candidate.value))
            opt.tell(candidate, float(candidate.value["a"] * 4 + candidate.value["b"]))
        return ranking, told, asked

    once, twice = run([first + second]), run([first, second])
    assert twice == once
    assert sorted(once[0]) == sorted(arch_key(arch) for arch, _, _ in earlier)  # both calls'
    assert once[0][0] == arch_key({"a": 4, "b": 2})  # the earlier best


def test_the_surrogate_keeps_the_priors_its_ranking_puts_first():
    # was: SurrogateEvolution ordered each task's priors by the first loss alone, ties in
    # the order given, so the best half it keeps of more than max_points priors held the
    # first of the tied (a=0), not the one prior_ranking puts first (a=2, by the next loss)
    space = SearchSpace.from_dict({"a": {"choice": list(range(6))}})
    earlier = [({"a": 0}, [-0.9, 5.0]), ({"a": 1}, [-0.9, 3.0]), ({"a": 2}, [-0.9, 1.0]),
               ({"a": 3}, [-0.5, 0.0]), ({"a": 4}, [-0.1, 0.0])]
    opt = make_optimizer("SurrogateEvolution", space, budget=6, seed=0)
    opt.max_points = 2  # the best one, and one of the rest spread evenly: its best
    tell_priors(opt, [(arch, losses, "earlier") for arch, losses in earlier])
    kept = [opt.codec.decode(g) for g, _, _ in opt._prior_points]
    assert kept == [opt.codec.decode(g) for g in opt.prior_ranking[:2]] == [{"a": 2}, {"a": 1}]


def test_local_search_with_two_workers_starts_from_the_better_of_two_starts():
    # was: each ask before a tell was a restart, and the last one asked became the current
    # architecture whatever its loss: hill climbing went on from the worse start
    space = SearchSpace.from_dict({"a": {"choice": list(range(8))},
                                   "b": {"choice": list(range(8))}})
    for seed in range(5):
        for better_first in (True, False):
            opt = make_optimizer("LocalSearch", space, budget=20, num_workers=2, seed=seed)
            starts = sorted([opt.ask(), opt.ask()], key=lambda c: 8 * c.value["a"] + c.value["b"])
            for candidate in starts if better_first else starts[::-1]:
                opt.tell(candidate, float(8 * candidate.value["a"] + candidate.value["b"]))
            best = starts[0].value
            assert opt.codec.decode(opt.current[0]) == best, (seed, better_first)
            step = opt.ask().value  # a neighbour of the better start
            assert sum(step[k] != best[k] for k in best) == 1, (seed, better_first, step)


def test_reinforce_learns_the_same_from_a_rejected_ones_penalty_as_from_a_worst_loss():
    # was: past half the budget nevergrad adds a ~1e5-scale penalty to a rejected one's loss;
    # on that raw scale the moving baseline sat far below every real loss, so each later
    # result (the worst of the space too) was reinforced as good for ~100 results
    space = SearchSpace.from_dict({"a": {"choice": list(range(6))},
                                   "b": {"choice": list(range(6))}})
    opts = [make_optimizer("Reinforce", space, budget=20, seed=0) for _ in range(2)]
    for opt in opts:
        for i in range(12):
            candidate = opt.ask()
            loss = (candidate.value["a"] + candidate.value["b"]) / 10
            if i < 11:
                opt.tell(candidate, loss)
            elif opt is opts[0]:  # as the search tells a rejected one past half the budget
                opt.tell(candidate, 2.0, constraint_violation=[1.0])
            else:  # the same, without the violation: just worse than every result
                opt.tell(candidate, 2.0)
    assert max(opts[0].told.values()) > 1e4  # the penalty was told
    before = opts[0]._probs(0)[5]
    for opt in opts:
        opt.tell(candidate_of(opt.parametrization, {"a": 5, "b": 5}), 1.0)  # the worst
    assert opts[0]._probs(0)[5] < before
    for mine, other in zip(opts[0].logits, opts[1].logits, strict=True):
        np.testing.assert_allclose(mine, other)


def test_reinforce_does_not_learn_from_a_candidate_rejected_before_any_result():
    # the search tells it inf with its violation, which nevergrad clips to 5e20 (plus its
    # penalty) for one objective: was learnt from as the worst result so far, so the first
    # real result was reinforced as better than it (with several objectives it stays inf)
    space = SearchSpace.from_dict({"a": {"choice": list(range(6))},
                                   "b": {"choice": list(range(6))}})
    opts = [make_optimizer("Reinforce", space, budget=20, seed=0) for _ in range(2)]
    rejected = opts[0].ask()
    opts[0].tell(rejected, math.inf, constraint_violation=[1.0])  # as the search tells it
    assert opts[0].losses == []
    assert opts[0].baseline is None
    for arch, loss in (({"a": 1, "b": 2}, 0.3), ({"a": 4, "b": 0}, 0.5), ({"a": 2, "b": 2}, 0.1)):
        for opt in opts:
            opt.tell(candidate_of(opt.parametrization, arch), loss)
    for mine, other in zip(opts[0].logits, opts[1].logits, strict=True):
        np.testing.assert_allclose(mine, other)


BAD_SETTINGS = [("RegularizedEvolution", "sample_size", 0, "an int >= 1"),
                ("RegularizedEvolution", "population_size", 0, "an int >= 1"),
                ("Reinforce", "learning_rate", -0.5, "a number > 0"),
                ("Reinforce", "baseline_decay", 1.5, "a number in [0, 1]"),
                ("SurrogateEvolution", "num_parents", 0, "an int >= 1"),
                ("SurrogateEvolution", "thetas", (), "a non-empty tuple of numbers > 0"),
                ("SurrogateEvolution", "mixes", (0.5, 2.0), "numbers in [0, 1]")]


@pytest.mark.parametrize(("base", "attr", "value", "valid"), BAD_SETTINGS)
def test_a_subclass_with_a_bad_setting_is_refused_before_the_run_folder_is_written(
        base, attr, value, valid, tmp_path):
    # was: sample_size = 0 crashed at the first tournament, mid-search (min() of an empty
    # sequence); population_size = 0 silently became random search
    name = f"Bad{base}{attr.title().replace('_', '')}"
    mine = type(name, (NAS_OPTIMIZERS[base],), {attr: value})
    ng.optimizers.registry.register(mine)
    try:
        with pytest.raises(ConfigError) as err:
            _search(name, tmp_path / "run", budget=2)
    finally:
        ng.optimizers.registry.unregister(name)
    said = str(err.value)
    assert f"{name} (a {base})" in said and f"{attr} = {value!r}" in said and valid in said
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("base", "attr", "value", "valid"), BAD_SETTINGS)
def test_a_bad_setting_set_on_an_instance_is_refused_as_it_is_set(base, attr, value, valid):
    # was: taken as it was set, e.g. opt.sample_size = 0 crashed at the first tournament
    opt = make_optimizer(base, SPACE, budget=4, seed=0)
    with pytest.raises(ConfigError) as err:
        setattr(opt, attr, value)
    said = str(err.value)
    assert f"{base}: {attr} = {value!r} is invalid" in said and valid in said
    assert getattr(opt, attr) == getattr(NAS_OPTIMIZERS[base], attr)  # left as it was


def test_a_population_size_set_on_an_instance_is_the_population_it_keeps():
    # was: the deque kept the class's 20 latest, the tournament drew from all 20 once 3 were in
    opt = make_optimizer("RegularizedEvolution", SPACE, budget=12, seed=0)
    opt.population_size = 3
    for _ in range(6):
        candidate = opt.ask()
        opt.tell(candidate, toy(candidate.value)["score"])
    assert len(opt.population) == 3

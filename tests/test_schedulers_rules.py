"""The scheduler rules alone (``ASHARule``, ``HyperbandRule``, ``MedianRule``): rungs and the
top fraction, ties at a rung's cut and in a promotion (live and after a resume), Hyperband's
brackets, the median rule, and a bad ``mode``."""

from __future__ import annotations

import itertools
import math
import os
import random
import subprocess
import sys

import pytest

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.search.schedulers import ASHARule, Decision, HyperbandRule, MedianRule
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import ScriptedSlotNet
from tests.helpers_search import slot_scripts


def test_asha_rungs_and_top_fraction():
    rule = ASHARule(min_epochs=1, max_epochs=15, eta=3)
    assert rule.rungs == [1, 3, 9, 15]
    assert rule.decide(1, 1, 0.50) is Decision.CONTINUE  # the first trial always goes on
    assert rule.decide(2, 1, 0.40) is Decision.PAUSE
    assert rule.decide(3, 1, 0.90) is Decision.CONTINUE
    assert rule.decide(1, 2, 0.10) is Decision.CONTINUE  # between rungs: no decision
    assert rule.decide(1, 15, 0.10) is Decision.CONTINUE  # the last rung ends the trial
    for key, value in ((4, 0.1), (5, 0.2), (6, 0.3)):  # 6 values: the top 2 go on
        rule.decide(key, 1, value)
    assert rule.promotable(1, 1) and not rule.promotable(2, 1)
    assert rule.promotion({2: 1, 4: 1}) is None
    rule.record(7, [0.95])
    assert rule.promotable(7, 1) and rule.promotion({7: 1, 2: 1}) == 7


def test_values_tied_with_a_rungs_cut_all_go_on():
    # documented (README): a tie cannot be told apart, so every value equal to the worst of
    # the top 1/eta goes on; a rung of ties lets more than 1/eta on (4 of 6 here, not 2)
    rule = ASHARule(min_epochs=1, max_epochs=9, eta=3)
    values = {1: 1.0, 2: 0.7, 3: 0.8, 4: 1.0, 5: 1.0, 6: 1.0}
    decisions = {key: rule.decide(key, 1, value) for key, value in values.items()}
    assert [k for k, d in decisions.items() if d is Decision.CONTINUE] == [1, 4, 5, 6]
    assert decisions[2] is decisions[3] is Decision.PAUSE
    rule = ASHARule(min_epochs=1, max_epochs=9, eta=3, mode="min")
    for key, value in ((1, 0.2), (2, 0.9), (3, 0.5)):
        rule.decide(key, 1, value)
    assert rule.decide(4, 1, 0.5) is Decision.PAUSE  # 4 values: the top 1 (0.2) goes on
    rule.record(5, [0.2])  # tied with the cut: promotable, as the first 0.2 is
    assert rule.promotable(5, 1) and rule.promotion({5: 1, 3: 1}) == 5


@pytest.mark.parametrize("kind", [ASHARule, HyperbandRule])
def test_a_promotion_among_tied_values_does_not_depend_on_the_order_paused(kind):
    # a search keeps its paused trials in the order they paused (a promoted trial paused
    # again goes last), a resume in trial order: the promotion among tied values (val_acc
    # on a small validation set) went to whichever came first, so a resumed search
    # promoted another trial than the uninterrupted one; the earlier trial goes now
    rule = kind(min_epochs=1, max_epochs=9, eta=3)
    keys = [1, 3, 5, 7, 9]  # (Hyperband's first bracket: rungs 1, 3, 9)
    for key in keys:
        rule.record(key, [0.5])
    for order in itertools.permutations(keys):
        assert rule.promotion(dict.fromkeys(order, 1)) == 1
    rule.record(11, [0.5, 0.6, 0.7])  # a higher rung still goes first
    assert rule.promotion({3: 1, 11: 3, 1: 1}) == 11


#: val_acc at each of 8 epochs of the trials in the order they start (ASHA, eta 2: rungs
#: 1, 2, 4, 8): trials 2 and 3 end up paused at rung 2, tied at 0.6, 3 before 2 (3 went on
#: at rung 1, 2 was promoted from it later); trial 7's pause at rung 2 makes both promotable
_TIED = [[0.9] * 8,
         [0.5, 0.6, 0.6, 0.92, 0.9, 0.9, 0.9, 0.9],
         [0.9, 0.6, 0.6, 0.91, 0.9, 0.9, 0.9, 0.9],
         [0.1] * 8, [0.1] * 8, [0.1] * 8,
         [0.95, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]]


class _Killed(Exception):
    pass


@pytest.mark.slow
def test_a_search_resumed_before_a_promotion_among_tied_trials_promotes_as_it_would_have(
        tmp_path):
    # was: the uninterrupted search promoted trial 3 first (paused first), the resumed one
    # trial 2 (paused trials reloaded in trial order); trial 2 then reached rung 4 first,
    # and trial 3, there after it with a lower value, paused where it had completed
    space = {"slot": {"choice": list(range(7))}}
    kw = {"optimizer": "RandomSearch", "seed": 0, "budget": 7, "verbose": False}
    script = slot_scripts(tmp_path / "order", _TIED, optimizer="RandomSearch", seed=0)

    def search(name: str, on_trial_end=None) -> Search:
        return Search(ScriptedSlotNet, space, model_init_args={"script": script},
                      data=BlobData, data_init_args={"n": 64, "batch_size": 16},
                      trainer={"max_epochs": 8, "limit_train_batches": 1,
                               "limit_val_batches": 1, "logger": False},
                      scheduler="asha", min_epochs=1, eta=2, max_epochs=8, monitor="val_acc",
                      mode="max", run_dir=tmp_path / name, on_trial_end=on_trial_end, **kw)

    def kill_after_7(result) -> None:
        if result.trial_id == 7:
            raise _Killed

    def rows(name: str) -> list[tuple]:
        with RunStore(tmp_path / name / "search.db") as store:
            return [(t.trial_id, t.status.value, t.curve) for t in store.trials()]

    search("straight").run()
    with pytest.raises(_Killed):
        search("resumed", kill_after_7).run()
    assert rows("resumed")[6][1:] == ("PAUSED", pytest.approx([0.95, 0.1]))
    search("resumed").run()
    assert rows("resumed") == rows("straight")
    # trial 2, the earlier of the tied, goes first: it reaches rung 4 first, so trial 3,
    # there after it with a lower value, pauses
    assert [(r[1], len(r[2])) for r in rows("straight")[1:3]] == [("COMPLETED", 8),
                                                                  ("PAUSED", 4)]


class _Value(float):
    """A monitored value that counts the comparisons made to rank it."""

    compared = 0

    def __lt__(self, other):
        _Value.compared += 1
        return float(self) < float(other)

    def __gt__(self, other):
        _Value.compared += 1
        return float(self) > float(other)


def _promotion_by_each_trial(rule, paused):
    """The promotion as defined: each paused trial judged by ``promotable`` on its own."""
    best = None
    for key, epochs in paused.items():
        if epochs in rule.rungs_of(key) and rule.promotable(key, epochs):
            value = rule.values[epochs][key] * (1 if rule.mode == "max" else -1)
            if best is None or (epochs, value) > best[0]:
                best = ((epochs, value), key)
    return None if best is None else best[1]


@pytest.mark.parametrize("kind", [ASHARule, HyperbandRule])
def test_a_promotion_ranks_each_rung_once(kind):
    # was: each rung sorted again for each paused trial at it, at each free worker
    rng = random.Random(0)
    for mode in ("max", "min"):
        rule = kind(min_epochs=1, max_epochs=9, eta=3, mode=mode)
        paused = {}
        for key in range(1, 121):
            for epoch in range(1, rng.randint(1, 9) + 1):
                value = rng.choice([rng.random(), 0.5, math.nan, math.inf])
                if rule.decide(key, epoch, value) is Decision.PAUSE:
                    paused[key] = epoch
                    break
            if rng.random() < 0.2:
                paused.pop(rng.choice(list(paused) or [0]), None)  # promoted meanwhile
            assert rule.promotion(paused) == _promotion_by_each_trial(rule, paused)
        assert paused
    rule = ASHARule(min_epochs=1, max_epochs=9, eta=3)
    for key in range(1, 101):
        rule.record(key, [_Value(key / 100)])
    _Value.compared = 0
    rule.promotion(dict.fromkeys(range(1, 101), 1))
    assert _Value.compared < 1000  # one sort of 100 values (was: 100 sorts, 10 032)


def test_asha_mode_min():
    rule = ASHARule(min_epochs=1, max_epochs=4, eta=2, mode="min")
    assert rule.decide(1, 1, 0.5) is Decision.CONTINUE
    assert rule.decide(2, 1, 0.9) is Decision.PAUSE
    assert rule.decide(3, 1, 0.1) is Decision.CONTINUE


def test_hyperband_brackets_share_trials():
    rule = HyperbandRule(min_epochs=1, max_epochs=9, eta=3)
    assert rule.brackets == [[1, 3, 9], [3, 9], [9]]
    firsts = [rule.rungs_of(key)[0] for key in range(1, len(rule.cycle) + 1)]
    assert firsts.count(1) > firsts.count(3) > firsts.count(9) >= 1
    # promotion is judged inside a bracket only
    rule.decide(1, 1, 0.2)
    rule.decide(len(rule.cycle) + 1, 1, 0.9)  # same bracket as trial 1 (the cycle repeats)
    assert not rule.promotable(1, 1)


def test_hyperband_deals_a_short_search_to_every_bracket():
    # was: the cycle held 27 trials of bracket 0, then 12 of bracket 1, ...: a search of
    # 20 trials with max_epochs 15 ran ASHA's most aggressive bracket alone
    rule = HyperbandRule(min_epochs=1, max_epochs=15, eta=3)
    counts = [rule.cycle.count(b) for b in range(len(rule.brackets))]
    assert counts == sorted(counts, reverse=True) and counts[-1] >= 1
    first = [rule.bracket_of(key) for key in range(1, 21)]
    assert set(first) == set(range(len(rule.brackets)))
    for n in (10, 20, len(rule.cycle)):  # every prefix keeps the proportions
        share = [rule.cycle[:n].count(b) / n for b in range(len(counts))]
        assert all(abs(x - c / len(rule.cycle)) <= 1 / n + 1e-9
                   for x, c in zip(share, counts, strict=True))


def test_hyperband_puts_a_named_run_in_the_same_bracket_in_every_process():
    # was: hash(key), which Python salts per process for a string (PYTHONHASHSEED), so a
    # PruningCallback's trial_key="run-1" could land in another bracket after a restart
    code = ("from lightning_nas.search.schedulers import HyperbandRule; "
            "rule = HyperbandRule(min_epochs=1, max_epochs=27, eta=3); "
            "print([rule.bracket_of(k) for k in ('run-1', 'run-2', 'run-3', ('a', 1))])")
    seen = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2", "3")}
    rule = HyperbandRule(min_epochs=1, max_epochs=27, eta=3)
    assert seen == {f"{[rule.bracket_of(k) for k in ('run-1', 'run-2', 'run-3', ('a', 1))]}\n"}


def test_median_rule():
    rule = MedianRule(min_epochs=2, min_trials=2)
    for key, curve in ((1, [0.5, 0.6, 0.7]), (2, [0.5, 0.8, 0.9])):
        rule.record(key, curve)
    assert rule.decide(3, 1, 0.0) is Decision.CONTINUE  # before min_epochs
    assert rule.decide(3, 2, 0.65) is Decision.STOP  # below the median 0.7
    assert rule.decide(4, 2, 0.75) is Decision.CONTINUE


@pytest.mark.parametrize(("cls", "mode", "meant"), [(MedianRule, "maximum", "max"),
                                                    (ASHARule, "Minimize", "min")])
def test_a_rules_bad_mode_says_did_you_mean_as_check_mode(cls, mode, meant):
    # was: "MedianRule's mode must be 'max' or 'min' (which values are better), got
    # 'maximum'", no did-you-mean where errors.check_mode and the one-shot side say one
    with pytest.raises(ConfigError) as err:
        cls(mode=mode)
    assert str(err.value) == (f"{cls.__name__}'s mode must be 'max' or 'min' (which values "
                              f"are better), got {mode!r}: did you mean {meant!r}?")

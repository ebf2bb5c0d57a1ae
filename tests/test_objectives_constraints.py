"""Constraints checked before training: violating candidates never train, a rejection is
told to the optimizer (again when proposed again, worse than every result before any),
its reason names the constraint, a constraint that raises is named (before the run folder,
or later with the best so far exported and the running trials finished), and the
constraint settings are checked. Real Trainers, real nevergrad, real stores."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from lightning_nas import Search
from lightning_nas.errors import ConfigError, NoCompletedTrialError
from lightning_nas.export import load_best
from lightning_nas.results import TrialStatus
from lightning_nas.search.objectives import Constraints, Objectives
from lightning_nas.search.proposals import MAX_REPEATS, gave_up
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_objectives import SPACE


def _told_rejected(run_dir) -> tuple[list, list, list]:
    """A search's trials ``(arch, status, score)`` and its tells in order ``(whether the told
    architecture was rejected, loss, violation)``, and its events."""
    from lightning_nas.arch import arch_key

    with RunStore(run_dir / "search.db") as store:
        full = [(t.arch, t.status, t.score) for t in store.trials()]
        rejected = {arch_key(t.arch) for t in store.trials(TrialStatus.REJECTED)}
        events = store.events()
    asked = {e["ask"]: e["arch_key"] for e in events if e["kind"] == "ask"}
    return full, [(asked[e["ask"]] in rejected, e["loss"], e["violation"])
                  for e in events if e["kind"] == "tell"], events


def test_constraints_keep_violating_candidates_from_training(tmp_path, tiny_trainer, capsys):
    seen_by_check = []

    def no_tanh(arch):
        seen_by_check.append(arch)
        return arch["width"] != 4  # width 4 is forbidden by the user's check

    limit = sum(p.numel() for p in TinyNet(width=16, depth=1).parameters())
    result = Search(TinyNet, SPACE, data=BlobData, trainer=tiny_trainer, budget=5,
                    max_params=limit, constraints=[no_tanh], optimizer="RandomSearch",
                    seed=0, run_dir=tmp_path).run()
    trained = [t for t in result.trials if t.status is TrialStatus.COMPLETED]
    rejected = [t for t in result.trials if t.status is TrialStatus.REJECTED]
    assert len(trained) == 5 and rejected and seen_by_check
    # the summary line counts them (was: "5 completed, 0 failed" only)
    assert f"5 completed, {len(rejected)} rejected, 0 failed" in capsys.readouterr().out
    for t in trained:
        assert t.metrics["params"] <= limit and t.arch["width"] != 4
    for t in rejected:  # never trained: no folder, no fit
        assert t.fit_time is None and not (tmp_path / "trials" / f"trial_{t.trial_id:04d}").exists()
        assert "params" in t.error or "no_tanh rejected it" in t.error
    assert any(t.metrics["params"] > limit for t in rejected)


def test_a_rejected_architecture_proposed_again_is_told_its_violation_again(tmp_path):
    # was: its repeats were told the loss alone: nevergrad took the rejected architecture
    # for a valid point (into its archive, ahead of real results); after a resume, 1.0
    from lightning_nas.arch import arch_key

    space = {"c": {"choice": [1, 2, 3, 4]}, "d": {"choice": [0, 1]}}
    kw = dict(monitor="score", mode="max", budget=6, optimizer="RandomSearch", seed=0,
              constraints=[lambda arch: 2.5 if arch["c"] == 4 else 0.0], verbose=False)
    for run in ("first", "resumed"):  # a resume keeps telling it as a violation
        Search(None, space, objective=lambda a: {"score": float(a["c"] + a["d"])},
               run_dir=tmp_path, **{**kw, "budget": 4 if run == "first" else 6}).run()
    with RunStore(tmp_path / "search.db") as store:
        rejected = {arch_key(t.arch) for t in store.trials(TrialStatus.REJECTED)}
        events = store.events()
    asks = {e["ask"] for e in events if e["kind"] == "ask" and e["arch_key"] in rejected}
    tells = [e for e in events if e["kind"] == "tell" and e["ask"] in asks]
    assert len(tells) > len(rejected)  # proposed again, after its rejection
    assert [e["violation"] for e in tells] == [2.5] * len(tells)  # its amount, resumed too


@pytest.mark.parametrize("optimizer", ["SurrogateEvolution", "LocalSearch"])
def test_a_rejection_before_any_result_is_told_worse_than_every_result(tmp_path, optimizer):
    # was: told 1.0 (2.0 with nevergrad's penalty) before any result: with losses above
    # that (mode min, a val_loss above 2) the rejected architecture was the strategy's best
    # and it searched around it
    from lightning_nas.arch import arch_key

    space = {"c": {"choice": [1, 2, 3, 4, 5, 6]}, "d": {"choice": [0, 1, 2]}}
    Search(None, space, objective=lambda a: {"loss": 10.0 + a["c"] + a["d"]}, monitor="loss",
           mode="min", budget=3, optimizer=optimizer, seed=0, verbose=False,
           constraints=[lambda arch: arch["c"] == 1], run_dir=tmp_path).run()
    with RunStore(tmp_path / "search.db") as store:
        first = store.trials()[0]
        rejected = {arch_key(t.arch) for t in store.trials(TrialStatus.REJECTED)}
        events = store.events()
    assert first.status is TrialStatus.REJECTED  # before any result
    asked = {e["ask"]: e["arch_key"] for e in events if e["kind"] == "ask"}
    told = [(asked[e["ask"]] in rejected, e["loss"]) for e in events if e["kind"] == "tell"]
    worst_result = max(loss for was_rejected, loss in told if not was_rejected)
    assert all(loss > worst_result for was_rejected, loss in told if was_rejected), told


@pytest.mark.parametrize("optimizer", ["SurrogateEvolution", "LocalSearch"])
def test_with_several_objectives_a_rejection_before_any_result_is_told_worse_than_every_result(
        tmp_path, optimizer):
    # was: told [1.0, 1.0], then [2.0, 2.0], ... (worst seen + 1 with nothing seen): with a
    # first objective above that the strategy ranked the rejected architecture its best
    import warnings


    space = {"c": {"choice": [1, 2, 3, 4, 5, 6]}, "d": {"choice": [0, 1, 2]}}

    def search(run_dir, budget):
        Search(None, space, objective=lambda a: {"loss": 10.0 + a["c"] + a["d"],
                                                 "size": 100.0 + a["d"]},
               objectives={"loss": "min", "size": "min"}, budget=budget, optimizer=optimizer,
               seed=0, verbose=False, constraints=[lambda arch: arch["c"] <= 3],
               run_dir=run_dir).run()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search(tmp_path / "full", 8)
    full, told, events = _told_rejected(tmp_path / "full")
    assert full[0][1] is TrialStatus.REJECTED  # before any result
    for i in range(2):  # each objective: the strategies learn from the first one
        worst_result = max(loss[i] for was_rejected, loss, _ in told if not was_rejected)
        assert all(loss[i] > worst_result for was_rejected, loss, _ in told if was_rejected), told
    # the inf in nevergrad's hypervolume bounds (its scalar unused here) warns nothing
    assert not [w for w in caught if w.category is RuntimeWarning
                or "nan value" in str(w.message)], [str(w.message) for w in caught]
    search(tmp_path / "resumed", 4)  # a resume replays the told values: the same search
    search(tmp_path / "resumed", 8)
    with RunStore(tmp_path / "resumed" / "search.db") as store:
        assert [(t.arch, t.status, t.score) for t in store.trials()] == full


@pytest.mark.parametrize("multi", [False, True], ids=["one_objective", "two_objectives"])
def test_a_rejection_before_any_result_waits_for_nevergrads_own_optimizers(tmp_path, multi):
    # was: told at once a made-up 1.0 ([1.0, 1.0] with two objectives, which nevergrad put
    # on its Pareto front and into its hypervolume bounds, unpenalized: its scalar was 0.0
    # as every point's before its bounds are set); now told with the first result, as a
    # failure is, worse than it (per objective), with its violation

    space = {"c": {"choice": [1, 2, 3, 4, 5, 6]}, "d": {"choice": [0, 1, 2]}}
    goal = {"objectives": {"loss": "min", "size": "min"}} if multi else {
        "monitor": "loss", "mode": "min"}

    interrupt = []  # the next call raises KeyboardInterrupt (a Ctrl-C before any result)

    def objective(arch: dict) -> dict:
        if interrupt and interrupt.pop():
            raise KeyboardInterrupt
        return {"loss": 10.0 + arch["c"] + arch["d"], "size": 100.0 + arch["d"]}

    def search(run_dir, budget):
        Search(None, space, objective=objective, budget=budget, optimizer="RandomSearch",
               seed=1, verbose=False, run_dir=run_dir, **goal,
               constraints=[lambda arch: 2.0 if arch["c"] <= 4 else 0.0]).run()

    search(tmp_path / "full", 4)
    full, told, events = _told_rejected(tmp_path / "full")
    assert full[0][1] is TrialStatus.REJECTED  # before any result
    assert not told[0][0], told  # the first result first
    first = told[0][1] if multi else [told[0][1]]
    for was_rejected, loss, violation in told:
        if was_rejected:
            assert violation == 2.0
            assert all(a > b for a, b in zip(loss if multi else [loss], first, strict=True))
    search(tmp_path / "resumed", 2)  # a resume replays the told values: the same search
    search(tmp_path / "resumed", 4)
    interrupt.append(True)  # stopped while its rejections wait: the resume tells them later
    with pytest.raises(KeyboardInterrupt):
        search(tmp_path / "interrupted", 4)
    search(tmp_path / "interrupted", 4)
    for run in ("resumed", "interrupted"):
        with RunStore(tmp_path / run / "search.db") as store:
            assert [(t.arch, t.status, t.score) for t in store.trials()] == full
            assert store.events() == events


class AtMost:
    """A constraint object with an argument (its class has the default repr)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, arch: dict) -> bool:
        return arch["c"] <= self.limit


def test_a_rejected_candidates_reason_names_the_constraint_with_its_arguments(tmp_path,
                                                                            capsys):
    # was: "<tests.test_objectives.AtMost object at 0x7f...> rejected it", stored and shown
    def odd(arch: dict) -> bool:
        return arch["c"] % 2 == 1

    Search(None, {"c": {"choice": [1, 2, 3, 4, 5, 6]}}, objective=lambda a: {"score": a["c"]},
           monitor="score", mode="max", budget=2, optimizer="RandomSearch", seed=0,
           constraints=[AtMost(3), odd], run_dir=tmp_path).run()
    with RunStore(tmp_path / "search.db") as store:
        reasons = {t.arch["c"]: t.error for t in store.trials(TrialStatus.REJECTED)}
    assert reasons, "no candidate was rejected"
    for c, reason in reasons.items():
        assert reason == "; ".join(
            [f"{__name__}.AtMost(limit=3) rejected it"] * (c > 3)
            + ["odd rejected it"] * (c % 2 == 0)), reason
    assert " at 0x" not in capsys.readouterr().out
    with pytest.raises(ConfigError, match=rf"constraint {__name__}\.AtMost\(limit=3\) raised "
                                          r"KeyError"):
        Constraints(checks=[AtMost(3)]).violation({}, {})


def test_a_search_whose_every_proposal_breaks_a_constraint_says_so(tmp_path, tiny_trainer,
                                                                   capsys):
    with pytest.raises(NoCompletedTrialError) as info:  # none completed: no best
        Search(TinyNet, {"lr": {"float": [0.01, 0.3]}}, data=BlobData,
               trainer=tiny_trainer, budget=2, constraints=[lambda arch: False],
               run_dir=tmp_path).run()
    result = info.value.result
    assert result.best is None
    assert str(info.value).endswith(
        f"completed ({MAX_REPEATS} rejected), so it has no best trial: the optimizer proposed "
        f"{MAX_REPEATS} architectures in a row, none to train: each of the {MAX_REPEATS} broke "
        f"the limits or constraints (REJECTED); every architecture proposed broke the limits "
        f"or constraints: loosen them or widen the space")
    assert [t.status for t in result.trials] == [TrialStatus.REJECTED] * MAX_REPEATS
    # was: "proposed 200 evaluated architectures in a row", none of them evaluated; then
    # "... in a row that were evaluated already or, 200 of them, broke the limits ..."
    assert (f"The optimizer proposed {MAX_REPEATS} architectures in a row, none to train: "
            f"each of the {MAX_REPEATS} broke the limits or constraints (REJECTED); "
            f"stopping." in capsys.readouterr().out)


def test_the_stop_after_proposals_in_a_row_counts_each_kind_of_them_apart():
    # was: "... in a row that were evaluated already or, 146 of them, broke the limits or
    # constraints (REJECTED)", one count said as part of the other
    assert gave_up(146) == (
        f"The optimizer proposed {MAX_REPEATS} architectures in a row, none to train: 146 "
        f"new ones broke the limits or constraints (REJECTED), the other {MAX_REPEATS - 146} "
        f"were evaluated or rejected already; stopping.")
    assert gave_up(1).endswith(": 1 new one broke the limits or constraints (REJECTED), the "
                               f"other {MAX_REPEATS - 1} were evaluated or rejected already; "
                               f"stopping.")
    assert gave_up(0).endswith(f", none to train: each of the {MAX_REPEATS} was evaluated or "
                               f"rejected already; stopping.")


def test_constraint_settings_are_checked():
    with pytest.raises(ConfigError, match="`max_params` must be a positive number"):
        Constraints(max_params=-1)
    with pytest.raises(ConfigError, match="constraints must be callables"):
        Constraints(checks=["not callable"])
    with pytest.raises(ConfigError, match="`objectives.val_acc` can be max, min"):
        Objectives({"val_acc": "maximize"})


def test_a_numpy_or_torch_boolean_verdict_means_what_a_bool_means():
    # was: float(np.True_) = 1.0, a violation: the allowed architectures were rejected and
    # the forbidden ones trained
    import numpy as np

    for true, false in ((np.True_, np.False_), (np.asarray(True), np.asarray(False)),
                        (torch.tensor(True), torch.tensor(False))):
        limits = Constraints(checks=[lambda arch, t=true, f=false: t if arch["w"] <= 8 else f])
        assert limits.violation({"w": 8}, {}) == (0.0, "")
        assert limits.violation({"w": 16}, {})[0] == 1.0
    # numbers are amounts of violation, as before
    assert Constraints(checks=[lambda arch: np.float64(0.5)]).violation({}, {})[0] == 0.5
    # several verdicts at once say nothing: named
    with pytest.raises(ConfigError, match="must return a bool or a number"):
        Constraints(checks=[lambda arch: np.asarray([True, False])]).violation({}, {})


def needs_depth(arch: dict) -> bool:
    """A constraint that reads a key the space lacks."""
    return arch["depth"] < 3


def test_a_constraint_that_raises_is_named_before_the_run_folder(tmp_path):
    # was: a raw KeyError from inside the search loop, after search.db was created
    with pytest.raises(ConfigError, match=r"constraint needs_depth raised KeyError: 'depth' for "
                                          r"\{'width': \d+\}; it must return a bool or a number"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, constraints=[needs_depth],
               run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def asserts_small(arch: dict) -> bool:
    """A constraint failing as a bare ``assert`` does outside pytest: no text."""
    if arch["width"] > 4:
        raise AssertionError
    return True


def test_a_constraint_error_without_text_is_named_by_its_type(tmp_path):
    # was: "constraint asserts_small raised AssertionError:  for {'width': 8}"
    with pytest.raises(ConfigError, match=r"constraint asserts_small raised AssertionError, with "
                                          r"no message for \{'width': 8\}; it must return"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData,
               constraints=[asserts_small], run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def picky(arch):
    return {1: True, 2: True, 4: False}[arch["c"]]  # raises for c=3


def test_a_constraint_that_raises_later_leaves_the_best_so_far_exported(tmp_path):
    # was: the search stopped with the ConfigError and exported nothing, although trials
    # had completed
    space = {"c": {"choice": [1, 2, 3, 4]}, "d": {"int": [0, 9]}}
    with pytest.raises(ConfigError, match=r"constraint picky raised KeyError: 3"):
        Search(None, space, objective=lambda a: {"score": float(a["c"] + a["d"])},
               monitor="score", mode="max", budget=40, optimizer="RandomSearch", seed=0,
               constraints=[picky], run_dir=tmp_path, verbose=False).run()
    with RunStore(tmp_path / "search.db") as store:
        best = store.best("max")
    assert best is not None and load_best(tmp_path)["trial"] == best.trial_id


class RaisesAfter:
    """A constraint that raises from its ``n``-th call on (the driver calls it; it counts);
    ``raised`` (an event of the test's) is set as it first raises."""

    def __init__(self, n: int, raised: threading.Event | None = None) -> None:
        self.n, self.calls, self.raised = n, 0, raised

    def __call__(self, arch: dict) -> bool:
        self.calls += 1
        if self.calls >= self.n:
            if self.raised is not None:
                self.raised.set()
            raise RuntimeError(f"call {self.calls}")
        return True


def _score_once_raised(raised: threading.Event):
    """An objective still out when the driver asks for the other worker's candidate: it
    returns once the constraint raised on that candidate (was: a sleep of 1 s, long enough
    on a quiet machine), or after 60 s (a guard against a hang)."""
    def score(arch: dict) -> dict:
        raised.wait(60)
        return {"score": float(arch["c"] + arch["d"])}

    return score


def test_a_constraint_that_raises_lets_the_running_trials_finish(tmp_path):
    # was (2 workers): the ConfigError killed the trial out, left it RUNNING and out of the
    # export; now it stops as a failures stop does: the running ones finish, are stored
    space = {"c": {"choice": [1, 2, 3, 4]}, "d": {"int": [0, 9]}}
    constraint = RaisesAfter(10**9)  # counts the calls of the checks before the folder
    raised = threading.Event()
    Search(None, space, objective=_score_once_raised(raised), monitor="score", mode="max",
           constraints=[constraint], run_dir=tmp_path / "probe", budget=1, verbose=False)
    first = constraint.calls + 2  # the checks before the run folder, then the first trial's
    with pytest.raises(ConfigError, match=rf"constraint .*RaisesAfter.* raised RuntimeError: "
                                          rf"call {first}"), ThreadPoolExecutor(2) as pool:
        Search(None, space, objective=_score_once_raised(raised), monitor="score",
               mode="max", budget=8, optimizer="RandomSearch", seed=0,
               constraints=[RaisesAfter(first, raised)],
               executor=pool, num_workers=2, run_dir=tmp_path / "run", verbose=False).run()
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert store.count(TrialStatus.RUNNING) == 0
        assert store.count(TrialStatus.COMPLETED) == 1
        best = store.best("max")
    assert load_best(tmp_path / "run")["trial"] == best.trial_id


def test_a_constraint_given_as_a_limit_on_a_metric_names_the_limits_there_are():
    # was: "constraints must be callables arch -> bool/float, got {'max_latency': 3}", which
    # named neither the limits the search has nor where they go
    for given in ({"max_latency": 3}, {"max_params": 1000}, "max_latency=3"):
        with pytest.raises(ConfigError, match=r"constraints must be callables arch -> "
                                              r"bool/float, got .*; a limit on a counted cost "
                                              r"is a setting of its own, max_params or "
                                              r"max_flops \(the only costs the search counts"):
            Constraints(checks=[given])
    with pytest.raises(ConfigError, match=r"got 3$"):  # nothing like a limit: said as before
        Constraints(checks=[3])

"""Constraints checked before training, costs counted without training, and
multi-objective searches with their Pareto front."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import random
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.export import load_best
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.checkpoints import keep_top_checkpoints
from lightning_nas.search.costs import model_costs
from lightning_nas.search.objectives import Constraints, Objectives, contrary_modes, pareto_front
from lightning_nas.search.proposals import MAX_REPEATS
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import ConfigureModelNet, TinyNet

SPACE = {"width": {"choice": [4, 8, 16, 32]}, "depth": {"choice": [1, 2]},
         "lr": {"float": [0.05, 0.3]}}


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


def test_a_mode_contrary_to_the_name_is_found_and_turned_or_silent_names_are_not():
    assert contrary_modes({"val_loss": "max", "val/acc": "min", "val_acc": "max",
                           "val_score": "max", "neg_loss": "max", "params": "max"}) == [
        "'val_loss' is maximised, but its name says lower is better (mode: min)",
        "'val/acc' is minimised, but its name says higher is better (mode: max)"]


def test_model_costs_count_params_without_training():
    costs = model_costs(lambda a: TinyNet(width=a["width"], depth=a["depth"]),
                        {"width": 16, "depth": 2})
    expected = sum(p.numel() for p in TinyNet(width=16, depth=2).parameters())
    assert costs == {"params": float(expected)}


class Lazy(TinyNet):
    def __init__(self, width: int = 16, example: bool = True, **kw):
        super().__init__(width=width, **kw)
        self.net = torch.nn.Sequential(torch.nn.LazyLinear(width), torch.nn.Linear(width, 3))
        if example:
            self.example_input_array = torch.zeros(1, 8)


def test_params_count_layers_made_in_configure_model_and_lazy_modules():
    # was: 0 for a configure_model model (max_params never rejected it, a params objective
    # was 0 for every trial); a lazy module stopped the search with torch's raw ValueError
    expected = (8 * 64 + 64) + (64 * 3 + 3)
    assert model_costs(lambda a: ConfigureModelNet(width=a["w"]), {"w": 64}) == {
        "params": float(expected)}
    assert model_costs(lambda a: Lazy(width=a["w"]), {"w": 64}) == {"params": float(expected)}
    with pytest.raises(ConfigError, match="counting the parameters of lazy modules needs the "
                                          "model's example_input_array"):
        model_costs(lambda a: Lazy(width=a["w"], example=False), {"w": 64})


def test_flops_need_an_example_input():
    class WithExample(TinyNet):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.example_input_array = torch.zeros(1, 8)

    costs = model_costs(lambda a: WithExample(width=a["width"]), {"width": 8}, flops=True)
    assert costs["flops"] == 2 * (8 * 8 + 8 * 3)  # two linear layers, a multiply-add each
    with pytest.raises(ConfigError, match="needs the model's example_input_array"):
        model_costs(lambda a: TinyNet(width=8), {}, flops=True)


class TwoInputs(TinyNet):
    """``forward(x, scale)``; its example input a tuple, list or dict, as Lightning takes it."""

    def __init__(self, kind: str = "tuple", **kw) -> None:
        super().__init__(**kw)
        x, scale = torch.zeros(1, 8), torch.ones(1, 3)
        self.example_input_array = {"tuple": (x, scale), "list": [x, scale],
                                    "dict": {"x": x, "scale": scale}}[kind]

    def forward(self, x: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x) * (1.0 if scale is None else scale)


@pytest.mark.parametrize("kind", ["tuple", "list", "dict"])
def test_flops_of_an_example_input_given_as_lightning_takes_it(kind):
    # was: a list or a dict was passed as one argument: a raw TypeError in Search()
    costs = model_costs(lambda a: TwoInputs(kind=kind, width=a["width"]), {"width": 8},
                        flops=True)
    assert costs["flops"] == 2 * (8 * 8 + 8 * 3)


class NeedsTrainerNet(TinyNet):
    """``configure_model`` reads the input size from the Trainer's datamodule."""

    def __init__(self, width: int = 16) -> None:
        super().__init__(width=width)
        self.net = None

    def configure_model(self) -> None:
        if self.net is None:
            dim = self.trainer.datamodule.train_set.tensors[0].shape[1]
            self.net = torch.nn.Sequential(torch.nn.Linear(dim, self.hparams.width),
                                           torch.nn.Linear(self.hparams.width, 3))


class SetupHeadNet(TinyNet):
    """Its head is made in Lightning's ``setup`` hook, as Lightning's docs show."""

    def __init__(self, width: int = 16) -> None:
        super().__init__(width=width)
        self.net, self.head = torch.nn.Linear(8, width), None
        self.example_input_array = torch.zeros(1, 8)

    def setup(self, stage: str) -> None:
        if self.head is None:
            self.head = torch.nn.Linear(self.hparams.width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x))


def test_a_count_that_fails_is_a_config_error_naming_what_needs_it(tmp_path, tiny_trainer):
    # was: a raw RuntimeError / TypeError from the user's module, out of Search()
    space = {"width": {"choice": [4, 8]}}
    with pytest.raises(ConfigError) as err:
        Search(NeedsTrainerNet, space, data=BlobData, trainer=tiny_trainer, max_params=1000,
               run_dir=tmp_path / "run")
    assert str(err.value) == (
        "max_params needs each candidate's costs counted before it trains: counting the costs "
        "of NeedsTrainerNet before training runs its configure_model with no Trainer "
        "attached, which raised RuntimeError: NeedsTrainerNet is not attached to a `Trainer`; "
        "make configure_model build the layers without the Trainer (sizes from __init__ "
        "arguments, not self.trainer), or leave max_params out")
    with pytest.raises(ConfigError) as err:  # the flops' forward: only flops need it
        Search(SetupHeadNet, space, data=BlobData, trainer=tiny_trainer, max_params=1000,
               objectives={"val_acc": "max", "flops": "min"}, run_dir=tmp_path / "run")
    assert str(err.value) == (
        "the 'flops' objective needs each candidate's costs counted before it trains: "
        "counting flops runs SetupHeadNet's forward on its example_input_array before "
        "training (no Trainer attached, Lightning's setup not run), which raised TypeError: "
        "'NoneType' object is not callable; make forward work on example_input_array with "
        "the layers __init__ and configure_model build, or leave the 'flops' objective out")
    assert not (tmp_path / "run").exists()


def test_a_count_that_misses_layers_made_in_setup_stops_the_search(tmp_path):
    # was: trials stored params 44 (width 4) while their checkpoints held 59, and max_params
    # rejected or passed candidates on that count
    from lightning_nas.errors import SearchError

    trainer = {"max_epochs": 1, "accelerator": "cpu", "devices": 1}
    space = {"width": {"choice": [4, 8]}}
    with pytest.raises(SearchError) as err:
        Search(SetupHeadNet, space, data=BlobData, trainer=trainer, max_params=10**6,
               objectives={"val_acc": "max", "params": "min"}, budget=2, verbose=False,
               optimizer="RandomSearch", seed=0, run_dir=tmp_path / "setup").run()
    trial, = RunStore(tmp_path / "setup" / "search.db").trials()
    width = trial.arch["width"]
    real, counted = 8 * width + width + width * 3 + 3, 8 * width + width
    assert str(err.value) == (
        f"trial 1 failed with an error every trial would hit: CountMismatch: SetupHeadNet has "
        f"{real} parameters once the Trainer set it up, but the search counted {counted} "
        f"before training (for max_params and the 'params' objective): layers made in "
        f"setup() are made after the count, or the model is built otherwise in a trial; "
        f"build the layers in __init__ or configure_model. To go on, fix it and run the "
        f"same search again (trial 1 runs again); a changed search setting (a monitor, say) "
        f"is not resumed: remove {tmp_path / 'setup'} (no trial completed) or choose another "
        f"run_dir")
    assert trial.status is TrialStatus.FAILED and "params" not in trial.metrics
    # layers of configure_model and lazy modules are counted right; without a cost the
    # count is not compared
    for model, options in ((ConfigureModelNet, {"max_params": 10**6}),
                           (Lazy, {"objectives": {"val_acc": "max", "params": "min"}}),
                           (SetupHeadNet, {})):
        result = Search(model, space, data=BlobData, trainer=trainer, budget=1, verbose=False,
                        run_dir=tmp_path / model.__name__, **options).run()
        assert result.best is not None


class LogsParams(TinyNet):
    """``TinyNet`` whose validation logs its own ``logs`` metric (``params``): 7.0, NaN
    in epoch 1."""

    logs = "params"

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        self.log(self.logs, math.nan if self.current_epoch == 1 else 7.0)


class LogsModelParams(LogsParams):
    logs = "model_params"


def test_a_model_that_logs_a_cost_the_search_counts_stops_the_search(tmp_path):
    # was: the logged 'params' (7.0) replaced the count (51) in the trial's metrics and was
    # told to the optimizer while max_params judged the count, and its NaN in epoch 1 (not
    # the best: lr 0 keeps epoch 0's val_acc) went unseen: the trial completed, told 7.0
    trainer = {"max_epochs": 2, "accelerator": "cpu", "devices": 1, "logger": False}
    kwargs = {"data": BlobData, "trainer": trainer, "model_init_args": {"lr": 0.0},
              "budget": 1, "verbose": False, "optimizer": "RandomSearch", "seed": 0}
    space = {"width": {"choice": [4, 8]}}
    with pytest.raises(SearchError) as err:
        Search(LogsParams, space, objectives={"val_acc": "max", "params": "min"},
               max_params=10**6, run_dir=tmp_path / "both", **kwargs).run()
    assert str(err.value) == (
        "trial 1 failed with an error every trial would hit: LoggedCost: LogsParams logs "
        "'params', a cost the search counts itself (for max_params and the 'params' "
        "objective) and stores under that name in each trial's metrics, so the logged value "
        "would replace the count; log the model's own value under another name (e.g. "
        "'model_params', an objective then like any logged metric). To go on, fix it and "
        "run the same search again (trial 1 runs again); a changed search setting (a "
        f"monitor, say) is not resumed: remove {tmp_path / 'both'} (no trial completed) or "
        "choose another run_dir")
    trial, = RunStore(tmp_path / "both" / "search.db").trials()
    assert trial.status is TrialStatus.FAILED and "params" not in trial.metrics
    # under another name it is a logged objective: its NaN in epoch 1 fails the trial
    with pytest.raises(SearchError, match=r"failed the same way in training .*: objective "
                                          r"'model_params' is nan at epoch 1$"):
        Search(LogsModelParams, space, objectives={"val_acc": "max", "model_params": "min"},
               run_dir=tmp_path / "own", **kwargs).run()
    # a search that counts no cost stores none: a logged 'params' is the model's metric
    result = Search(LogsParams, space, run_dir=tmp_path / "none", **kwargs).run()
    assert result.best.metrics["params"] == 7.0


class LogsFLOPs(LogsParams):
    logs = "FLOPs"


class LogsCapitalParams(LogsParams):
    logs = "Params"


@pytest.mark.parametrize("model", [LogsFLOPs, LogsCapitalParams])
def test_a_metric_the_model_logs_under_a_costs_name_in_another_case_is_an_objective(
        tmp_path, model):
    # was: refused before the search ("objective 'FLOPs' is not a cost the search counts;
    # did you mean 'flops'?"), though the model logs 'FLOPs' and the search counts nothing
    # under that name
    name = model.logs
    trainer = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False}
    result = Search(model, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=trainer,
                    objectives={"val_acc": "max", name: "min"}, budget=2, verbose=False,
                    seed=0, run_dir=tmp_path).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    assert all(t.metrics[name] == 7.0 and not {"params", "flops"} & set(t.metrics)
               for t in result.trials)  # the logged value, nothing counted


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
    result = Search(TinyNet, {"lr": {"float": [0.01, 0.3]}}, data=BlobData,
                    trainer=tiny_trainer, budget=2, constraints=[lambda arch: False],
                    run_dir=tmp_path).run()
    assert result.best is None
    assert [t.status for t in result.trials] == [TrialStatus.REJECTED] * MAX_REPEATS
    # was: "proposed 200 evaluated architectures in a row", none of them evaluated
    assert (f"proposed {MAX_REPEATS} architectures in a row that were evaluated already or, "
            f"{MAX_REPEATS} of them, broke the limits or constraints (REJECTED); stopping."
            in capsys.readouterr().out)


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


def test_pareto_front_of_a_known_toy_objective(tmp_path):
    def toy(arch):  # accuracy grows with size, size costs: every x is a trade-off but
        x, waste = arch["x"], arch["waste"]  # waste > 0 is dominated by waste = 0
        return {"acc": x / 10 - 0.05 * waste, "size": float(x + waste)}

    space = {"x": {"int": [1, 10]}, "waste": {"choice": [0, 1, 2]}}
    objectives = {"acc": "max", "size": "min"}
    result = Search(None, space, objective=toy, objectives=objectives, budget=30,
                    optimizer="RandomSearch", seed=0, run_dir=tmp_path, verbose=False).run()
    evaluated = [t for t in result.trials if t.status is TrialStatus.COMPLETED]
    front = result.pareto_front()
    brute = []  # brute force over what was evaluated
    for t in evaluated:
        a, s = t.metrics["acc"], t.metrics["size"]
        if not any(o.metrics["acc"] >= a and o.metrics["size"] <= s and
                   (o.metrics["acc"], o.metrics["size"]) != (a, s) for o in evaluated):
            brute.append(t.trial_id)
    assert sorted(t.trial_id for t in front) == sorted(brute)
    assert all(t.arch["waste"] == 0 for t in front) and len(front) >= 3
    assert result.monitor == "acc"  # the first objective is the monitor


def test_show_prints_the_front_and_export_picks_a_point(tmp_path, capsys):
    def toy(arch):
        return {"val_acc": arch["x"] / 10, "size": float(arch["x"])}

    space = {"x": {"int": [1, 6]}, "y": {"choice": [0, 1]}}
    Search(None, space, objective=toy, objectives={"val_acc": "max", "size": "min"},
           budget=12, run_dir=tmp_path, verbose=False).run()
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    front = json.loads(capsys.readouterr().out)["pareto_front"]
    accs = [p["val_acc"] for p in front]  # best first by the primary objective
    assert front and accs == sorted(accs, reverse=True) and len(set(accs)) == 6
    assert main(["show", str(tmp_path)]) == 0  # in the order given: the primary first
    assert "Pareto front (val_acc max, size min)" in capsys.readouterr().out
    assert main(["show", str(tmp_path), "--format", "csv", "--top", "3"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0])[:4] == ["rank", "trial", "score", "size"]  # each objective a column
    assert all(float(r["size"]) == 10 * float(r["score"]) for r in rows) and len(rows) == 3
    assert main(["show", str(tmp_path), "--status", "all", "--format", "csv", "--top", "50"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 12 and all(float(r["size"]) == 10 * float(r["score"]) for r in rows)
    pick = front[0]["trial"]
    assert main(["export", str(tmp_path), "--trial", str(pick)]) == 0
    with RunStore(tmp_path / "search.db") as store:
        assert store.get(pick).arch == json.loads(json.dumps(front[0]["arch"]))


def test_an_objective_named_like_a_column_keeps_its_own_values(tmp_path, capsys):
    def toy(arch):
        return {"acc": arch["x"] / 10, "epochs": float(arch["x"] + 100)}

    Search(None, {"x": {"int": [1, 6]}}, objective=toy,
           objectives={"acc": "max", "epochs": "min"}, budget=3, run_dir=tmp_path,
           verbose=False).run()
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["leaderboard"]
    assert [r["epochs (objective)"] - 100 for r in rows] == [r["arch"]["x"] for r in rows]
    assert all(r["epochs"] != r["epochs (objective)"] for r in rows)


def test_pareto_front_function_on_points():
    objectives = Objectives({"a": "max", "b": "min"})
    points = [{"a": a, "b": b} for a, b in itertools.product([1, 2, 3], [1, 2, 3])]
    front = pareto_front(points, objectives, metrics=lambda p: p)
    assert front == [{"a": 3, "b": 1}]


def _front_by_every_pair(points, objectives):
    """The front as defined: every point compared with every other."""
    scored = []
    for point in points:
        try:
            scored.append((point, objectives.losses(point)))
        except (KeyError, TypeError, ValueError):
            continue
    return [p for p, loss in scored
            if not any(all(o <= v for o, v in zip(other, loss, strict=True))
                       and other != loss
                       for _, other in scored)]


def test_pareto_front_is_the_front_of_every_pair_compared():
    # the front is found in sorted order (was: every pair compared, O(n^2) per trial);
    # same points in the same order, with ties, duplicates, NaN, inf and missing values
    rng = random.Random(0)
    odd = [0.0, -0.0, 2.5, math.inf, -math.inf, math.nan, True, "3", "x", None]
    for _ in range(1500):
        names = ["a", "b", "c", "d"][:rng.randint(1, 4)]
        objectives = Objectives({n: rng.choice(["max", "min"]) for n in names})
        points = [{n: rng.choice(odd) if rng.random() < 0.15 else rng.randint(0, 3)
                   for n in names if rng.random() > 0.05} for _ in range(rng.randint(0, 30))]
        points += [rng.choice(points) for _ in range(3 if points else 0)]  # the same objects
        front = pareto_front(points, objectives, metrics=lambda p: p)
        assert [id(p) for p in front] == [id(p) for p in _front_by_every_pair(
            points, objectives)], (objectives, points)


def test_a_search_without_checkpoints_reads_no_board_after_each_trial(tmp_path):
    # an objective= search keeps no checkpoint, yet each trial's end read every completed
    # trial and compared all pairs for the front: O(n^2) per trial, 585 s for 1000 trials
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("objectives", {"acc": "max", "size": "min"})
        for i in range(3):
            tid = store.start_trial({"x": i})
            store.finish_trial(TrialResult(tid, {"x": i}, TrialStatus.COMPLETED, i / 10,
                                           {"acc": i / 10, "size": float(i)}))
    with sqlite3.connect(tmp_path / "search.db") as db:  # a row that cannot be read
        db.execute("UPDATE trials SET metrics = 'not JSON' WHERE id = 1")
    with RunStore(tmp_path / "search.db") as store:
        keep_top_checkpoints(store, "max", 1, Objectives({"acc": "max", "size": "min"}))
        assert store.count(TrialStatus.COMPLETED) == 3


def test_report_of_a_two_objective_run_has_the_front(tmp_path, capsys):
    pytest.importorskip("matplotlib")

    def toy(arch):
        return {"acc": arch["x"] / 10, "size": float(arch["x"])}

    Search(None, {"x": {"int": [1, 9]}}, objective=toy,
           objectives={"acc": "max", "size": "min"}, budget=6, run_dir=tmp_path,
           verbose=False).run()
    assert main(["report", str(tmp_path)]) == 0
    pareto = tmp_path / "report" / "pareto.png"
    assert pareto.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'href="pareto.png"' in (tmp_path / "report" / "report.html").read_text()


def test_every_point_of_the_front_keeps_its_checkpoint(tmp_path, tiny_trainer):
    # keep_top_k ranked by the first objective only: the front's other points lost their
    # weights, and `export --trial N` of them had no best.ckpt
    result = Search(TinyNet, SPACE, data=BlobData, trainer=tiny_trainer, budget=5, seed=3,
                    objectives={"val_acc": "max", "params": "min"}, keep_top_k=1,
                    optimizer="RandomSearch", run_dir=tmp_path, verbose=False).run()
    front = {t.trial_id for t in result.pareto_front()}
    assert len(front) >= 2
    for t in result.trials:
        kept = (tmp_path / "trials" / f"trial_{t.trial_id:04d}" / "best.ckpt").exists()
        assert kept == (t.trial_id in front or t.trial_id == result.best.trial_id), t


def test_a_misspelt_objective_names_the_close_cost(tmp_path):
    from lightning_nas.errors import SearchError

    space = {"x": {"int": [1, 6]}, "y": {"choice": [0, 1]}}
    # a cost misspelt (a letter missing, wrong or swapped; another case) and not logged
    # either is stopped at the end of the first trial's first epoch, naming the cost (was:
    # refused before anything was written, also where the model logs that name:
    # test_a_metric_the_model_logs_under_a_costs_name_in_another_case_is_an_objective)
    for name, cost in (("parms", "params"), ("FLOPs", "flops"), ("Params", "params")):
        with pytest.raises(SearchError, match=rf"objective '{name}' was not logged in epoch "
                                              rf"0; did you mean '{cost}'\? logged keys: "):
            Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData,
                   trainer={"max_epochs": 3, "limit_train_batches": 1}, budget=2,
                   objectives={"val_acc": "max", name: "min"}, verbose=False,
                   run_dir=tmp_path / name).run()
    # a name a module may log (a letter added) too: unlogged, it is stopped at the
    # end of the first trial's first epoch (was: after the whole trial)
    with pytest.raises(SearchError, match=r"objective 'nparams' was not logged in epoch 0; "
                                          r"did you mean 'params'\?"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData,
               trainer={"max_epochs": 3, "limit_train_batches": 1},
               objectives={"val_acc": "max", "nparams": "min"}, budget=2, verbose=False,
               run_dir=tmp_path / "model").run()
    trial, = RunStore(tmp_path / "model" / "search.db").trials()
    assert len(trial.curve) == 1 and trial.status is TrialStatus.FAILED  # one epoch of three
    # an objective= search counts nothing: only what it returned is named (was: "did you
    # mean 'params'? logged or counted: [..., 'flops', 'params']", neither of them counted),
    # and the trial fails (was: stored COMPLETED without it, then told)
    with pytest.raises(SearchError, match=r"objective 'params' was not returned; the "
                                          r"objective returned \['val_acc'\]"):
        Search(None, space, objective=lambda arch: {"val_acc": arch["x"] / 10},
               objectives={"val_acc": "max", "params": "min"}, budget=2, verbose=False,
               run_dir=tmp_path / "objective").run()
    # limits are counted on a model before it trains: with objective= they cannot hold
    # (was: accepted, and every candidate ran)
    for key in ("max_params", "max_flops"):
        with pytest.raises(ConfigError, match=rf"{key} is checked before a candidate trains, "
                                              rf"on its model; an objective= search has no "
                                              rf"model to count"):
            Search(None, space, objective=lambda arch: {"acc": 1.0}, monitor="acc",
                   run_dir=tmp_path / "limits", **{key: 10})
    assert not (tmp_path / "limits").exists()


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


def _fails_small_x(arch):
    if arch["x"] < 4:  # a broken part of the space, where a search may well start
        raise RuntimeError(f"x={arch['x']} is broken")
    return {"val_loss": 2.0 + arch["x"] / 10}


def test_a_failure_before_any_result_is_told_as_worse_than_the_results(tmp_path):
    # was: told 1.0 (worst seen + 1, with nothing seen), below every real val_loss (>= 2.4):
    # the optimizer took the broken architecture for the best one
    space = {"x": {"int": [0, 9]}, "y": {"choice": [0, 1, 2]}}

    def search(run_dir, budget, objective=_fails_small_x):
        return Search(None, space, objective=objective, monitor="val_loss", budget=budget,
                      seed=5, optimizer="RandomSearch", max_failures=20, run_dir=run_dir,
                      verbose=False)

    search(tmp_path / "full", 6).run()
    with RunStore(tmp_path / "full" / "search.db") as store:
        status = {t.trial_id: t.status for t in store.trials()}
        told = [(e["ask"], e["loss"]) for e in store.events() if e["kind"] == "tell"]
        asked = {e["ask"]: e["trial_id"] for e in store.events() if e["kind"] == "ask"}
    failed = [loss for n, loss in told if status.get(asked.get(n)) is TrialStatus.FAILED]
    real = [loss for n, loss in told if status.get(asked.get(n)) is TrialStatus.COMPLETED]
    assert failed and real and status[1] is TrialStatus.FAILED  # the search starts broken
    assert min(failed) > max(real)
    # a search stopped while its failures wait for a result to be told goes on as the
    # uninterrupted one
    calls = []

    def stops_at_the_second_call(arch):
        calls.append(arch)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return _fails_small_x(arch)

    with pytest.raises(KeyboardInterrupt):
        search(tmp_path / "resumed", 6, stops_at_the_second_call).run()
    search(tmp_path / "resumed", 6).run()
    with RunStore(tmp_path / "resumed" / "search.db") as resumed, \
            RunStore(tmp_path / "full" / "search.db") as full:
        assert ([(t.arch, t.status, t.score) for t in resumed.trials()]
                == [(t.arch, t.status, t.score) for t in full.trials()])


def test_a_non_finite_objective_fails_its_trial(tmp_path, capsys):
    # was: COMPLETED, told NaN, on the Pareto front for good (nothing dominates NaN), and
    # `show --format json` printed a bare NaN, which is no JSON
    def toy(arch):
        return {"acc": arch["x"] / 10, "size": float("nan") if arch["x"] == 2 else arch["x"]}

    result = Search(None, {"x": {"choice": [1, 2, 3]}}, objective=toy, budget=3,
                    objectives={"acc": "max", "size": "min"}, optimizer="RandomSearch",
                    run_dir=tmp_path, verbose=False).run()
    broken = [t for t in result.trials if t.arch["x"] == 2]
    assert broken and broken[0].status is TrialStatus.FAILED
    assert broken[0].error == "objective size=nan at the best epoch"
    assert all(t.arch["x"] != 2 for t in result.pareto_front())
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)  # valid JSON
    assert [f["trial"] for f in shown["failures"]] == [broken[0].trial_id]


def test_an_objective_function_that_leaves_out_an_objective_fails_and_the_run_resumes(
        tmp_path):
    # was: the trial was stored COMPLETED without 'cost', the search stopped telling it, and
    # every resume stopped the same way, with the function fixed too
    def some(arch):
        return {"acc": arch["x"] / 10}

    def every(arch):
        return {"acc": arch["x"] / 10, "cost": float(arch["x"])}

    space, objectives = {"x": {"choice": [1, 2]}}, {"acc": "max", "cost": "min"}
    with pytest.raises(SearchError, match=r"objective 'cost' was not returned; the "
                                          r"objective returned \['acc'\]"):
        Search(None, space, objective=some, objectives=objectives, budget=2,
               run_dir=tmp_path, verbose=False).run()
    with RunStore(tmp_path / "search.db") as store:
        assert [t.status for t in store.trials()] == [TrialStatus.FAILED]
    result = Search(None, space, objective=every, objectives=objectives, budget=2,
                    run_dir=tmp_path, verbose=False).run()
    assert sorted(t.metrics["cost"] for t in result.trials
                  if t.status is TrialStatus.COMPLETED) == [1.0, 2.0]


class RaisesAfter:
    """A constraint that raises from its ``n``-th call on (the driver calls it; it counts)."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def __call__(self, arch: dict) -> bool:
        self.calls += 1
        if self.calls >= self.n:
            raise RuntimeError(f"call {self.calls}")
        return True


def _slow_score(arch: dict) -> dict:
    time.sleep(1.0)  # still out when the driver asks for the other worker's candidate
    return {"score": float(arch["c"] + arch["d"])}


def test_a_constraint_that_raises_lets_the_running_trials_finish(tmp_path):
    # was (2 workers): the ConfigError killed the trial out, left it RUNNING and out of the
    # export; now it stops as a failures stop does: the running ones finish, are stored
    space = {"c": {"choice": [1, 2, 3, 4]}, "d": {"int": [0, 9]}}
    constraint = RaisesAfter(10**9)  # counts the calls of the checks before the folder
    Search(None, space, objective=_slow_score, monitor="score", mode="max",
           constraints=[constraint], run_dir=tmp_path / "probe", budget=1, verbose=False)
    first = constraint.calls + 2  # the checks before the run folder, then the first trial's
    with pytest.raises(ConfigError, match=rf"constraint .*RaisesAfter.* raised RuntimeError: "
                                          rf"call {first}"), ThreadPoolExecutor(2) as pool:
        Search(None, space, objective=_slow_score, monitor="score", mode="max", budget=8,
               optimizer="RandomSearch", seed=0, constraints=[RaisesAfter(first)],
               executor=pool, num_workers=2, run_dir=tmp_path / "run", verbose=False).run()
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert store.count(TrialStatus.RUNNING) == 0
        assert store.count(TrialStatus.COMPLETED) == 1
        best = store.best("max")
    assert load_best(tmp_path / "run")["trial"] == best.trial_id


def test_a_nas_strategy_with_several_objectives_says_no_inf_nevergrad_made_itself(tmp_path):
    # was: "BadLossWarning: Updating fitness with inf value" in a default search with two
    # objectives: nevergrad's hypervolume scalar is inf for finite losses worse in each than
    # the first ones, and the NAS strategies learn from the first loss, not that scalar
    import warnings

    def worse_in_both(arch):
        return {"acc": -float(arch["x"]), "size": float(arch["x"])}

    for seed in range(3):
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            result = Search(None, {"x": {"choice": list(range(8))}}, objective=worse_in_both,
                            objectives={"acc": "max", "size": "min"}, budget=8, seed=seed,
                            run_dir=tmp_path / str(seed), verbose=False).run()
        assert result.best.arch == {"x": 0}
        assert not [w for w in said if "Updating fitness" in str(w.message)], seed


def test_the_header_of_a_search_with_several_objectives_names_them_all(tmp_path, capsys):
    # was: `Searching toy in ...: ..., val_acc (max)`: the search read as one of val_acc
    # alone, though size was told to the optimizer and makes the Pareto front
    def toy(arch):
        return {"val_acc": arch["x"] / 10, "size": float(arch["x"])}

    Search(None, {"x": {"int": [1, 6]}}, objective=toy,
           objectives={"val_acc": "max", "size": "min"}, budget=2, run_dir=tmp_path / "two",
           progress=False).run()
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith("Searching toy in ")
    assert header.endswith("architectures, objectives val_acc (max), size (min)")
    Search(None, {"x": {"int": [1, 6]}}, objective=toy, monitor="val_acc", mode="max",
           budget=2, run_dir=tmp_path / "one", progress=False).run()
    assert capsys.readouterr().out.splitlines()[0].endswith("architectures, val_acc (max)")


def test_limits_no_architecture_of_a_finite_space_meets_are_refused_before_training(
        tmp_path, tiny_trainer):
    # was: 200 REJECTED trials stored (each proposal counted and refused), then "stopping"
    space = {"width": {"choice": [4, 8]}, "depth": {"choice": [1, 2]}}
    with pytest.raises(ConfigError, match=r"no architecture of the space meets the limits: "
                                          r"each of its 4 architectures breaks them \(the "
                                          r"least at width=4 depth=1: params 51 > "
                                          r"max_params 10\); raise max_params or widen "
                                          r"the space$"):
        Search(TinyNet, space, data=BlobData, trainer=tiny_trainer, budget=2, max_params=10,
               run_dir=tmp_path / "run").run()
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match=r"each of its 4 architectures breaks them \(.*"
                                          r"<lambda> rejected it\); loosen the constraints or "
                                          r"widen the space$"):
        Search(TinyNet, space, data=BlobData, trainer=tiny_trainer, budget=2,
               constraints=[lambda arch: arch["width"] > 8], run_dir=tmp_path / "run").run()
    assert not (tmp_path / "run").exists()
    # one architecture meets them: the search runs, the others REJECTED
    result = Search(TinyNet, space, data=BlobData, trainer=tiny_trainer, budget=1,
                    max_params=60, seed=0, run_dir=tmp_path / "run", verbose=False).run()
    assert result.best.arch == {"width": 4, "depth": 1}


@pytest.mark.parametrize("column", ["trial", "arch"])
def test_an_objective_named_like_a_front_column_keeps_its_own_values(tmp_path, capsys, column):
    # was: the front's rows were {"trial": id, **objectives, "arch": arch}: an objective
    # named "trial" replaced the trial number (export --trial of it picked another trial),
    # one named "arch" lost its values to the architecture
    def toy(arch):
        return {"acc": arch["x"] / 10, column: float(10 - arch["x"] + 100)}

    Search(None, {"x": {"int": [1, 6]}}, objective=toy,
           objectives={"acc": "max", column: "max"}, budget=3, seed=0, run_dir=tmp_path,
           verbose=False).run()
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    front = json.loads(capsys.readouterr().out)["pareto_front"]
    with RunStore(tmp_path / "search.db") as store:
        stored = {t.trial_id: t for t in store.trials()}
    assert len(front) == 3
    for row in front:
        trial = stored[row["trial"]]
        assert row["arch"] == trial.arch and row["acc"] == trial.metrics["acc"]
        assert row[f"{column} (objective)"] == trial.metrics[column]
    assert main(["show", str(tmp_path)]) == 0
    assert f"{column} (objective)" in capsys.readouterr().out.split("Pareto front")[1]


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

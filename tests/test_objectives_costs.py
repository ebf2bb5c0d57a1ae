"""Costs counted without training (``model_costs``: parameters and FLOPs of a model, one
made in ``configure_model`` or ``setup``, a lazy one, one of several inputs), what a search
says of a count that fails or misses layers, of a model that logs a cost's name itself, of
a misspelt cost, and of limits no architecture of the space meets. Real Trainers, real
nevergrad."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_nas import Search
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.search.costs import model_costs
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import ConfigureModelNet, TinyNet


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



class SharedFrozenNet(TinyNet):
    """A layer called twice, a frozen layer and a BatchNorm (its running statistics are
    buffers)."""

    def __init__(self, width: int = 4, **kw):
        super().__init__(width=width, **kw)
        self.shared = torch.nn.Linear(8, 8)
        self.frozen = torch.nn.Linear(8, width).requires_grad_(False)
        self.norm = torch.nn.BatchNorm1d(width)
        self.net = torch.nn.Sequential(self.shared, self.shared, self.frozen, self.norm,
                                       torch.nn.Linear(width, 3))


def test_params_are_the_models_parameters_frozen_ones_too_shared_ones_once_no_buffers():
    # as the README says: sum(p.numel() for p in model.parameters())
    expected = (8 * 8 + 8) + (8 * 4 + 4) + 2 * 4 + (4 * 3 + 3)
    assert model_costs(lambda a: SharedFrozenNet(width=a["w"]), {"w": 4}) == {
        "params": float(expected)}
    assert sum(p.numel() for p in SharedFrozenNet().parameters()) == expected

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


class LazyOtherInput(Lazy):
    """``Lazy`` whose ``example_input_array`` has 5 features where the blobs have 8."""

    def __init__(self, width: int = 16, **kw):
        super().__init__(width=width, **kw)
        self.example_input_array = torch.zeros(1, 5)


def test_a_lazy_count_from_an_example_input_of_another_shape_names_that_input(tmp_path):
    # was: "layers made in setup() are made after the count ...; build the layers in
    # __init__ or configure_model", which a model without setup() cannot follow
    trainer = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False}
    with pytest.raises(SearchError) as err:
        Search(LazyOtherInput, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=trainer,
               max_params=10**6, budget=2, verbose=False, optimizer="RandomSearch", seed=0,
               run_dir=tmp_path / "run").run()
    width = RunStore(tmp_path / "run" / "search.db").trials()[0].arch["width"]
    real, counted = 8 * width + width + width * 3 + 3, 5 * width + width + width * 3 + 3
    assert str(err.value).startswith(
        f"trial 1 failed with an error every trial would hit: CountMismatch: LazyOtherInput "
        f"has {real} parameters once its first training batch made its lazy modules, but the "
        f"search counted {counted} before training (for max_params), its lazy modules made by "
        f"a forward of its example_input_array: give example_input_array the shape of a "
        f"training batch's input (lazy layers take their sizes from it). To go on, ")


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
                                          r"'model_params' is nan at epoch 1\. To go on, "):
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

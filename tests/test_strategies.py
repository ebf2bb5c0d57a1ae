"""Tests of ``lightning_nas.strategies``: nevergrad optimizers by name, seeded proposals.

Covers building optimizers from registry names, the close-name hint of a misspelt name,
the reproducibility of a seeded sequence of proposals and ``available_optimizers``.
"""

from __future__ import annotations

import importlib
import importlib.util
import re

import nevergrad as ng
import numpy as np
import pytest

from lightning_nas.errors import ConfigError
from lightning_nas.space import SearchSpace
from lightning_nas.strategies.registry import (
    available_optimizers,
    check_optimizer_name,
    check_optimizer_runs,
    make_optimizer,
)

SPACE = SearchSpace.from_yaml("""
k: {choice: [3, 5, 7]}
w: {int: [8, 64]}
lr: {float: [1e-4, 1e-1], log: true}
""")

NAMES = ["NGOpt", "RandomSearch", "DiscreteOnePlusOne", "TwoPointsDE"]


def _pymoo_usable() -> bool:
    """Whether nevergrad 1.0.12's ``Pymoo*`` optimizers can run here: they import
    ``pymoo.factory``, which pymoo 0.6 removed (pymoo < 0.6 installed)."""
    try:
        return importlib.util.find_spec("pymoo.factory") is not None
    except ImportError:  # pymoo itself missing
        return False


NO_PYMOO = "nevergrad's Pymoo* need pymoo < 0.6 (pymoo.factory), which is not installed here"


def _proposals(name: str, seed: int, n: int = 10) -> list[dict]:
    opt = make_optimizer(name, SPACE, budget=n, seed=seed)
    out = []
    for i in range(n):
        candidate = opt.ask()
        out.append(candidate.value)
        opt.tell(candidate, float((i * 7) % 3))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_make_optimizer_by_name_proposes_valid_archs(name):
    opt = make_optimizer(name, SPACE, budget=6, num_workers=2, seed=0)
    assert opt.name == name
    assert (opt.budget, opt.num_workers) == (6, 2)
    for _ in range(6):
        candidate = opt.ask()
        assert SPACE.validate(candidate.value) == candidate.value
        opt.tell(candidate, 1.0)


@pytest.mark.parametrize(("wrong", "close"), [("NGOp", "NGOpt"), ("RandomSerch", "RandomSearch")])
def test_wrong_name_suggests_the_close_one(wrong, close):
    with pytest.raises(ConfigError, match=f"unknown optimizer '{wrong}'") as info:
        make_optimizer(wrong, SPACE, budget=4, seed=0)
    assert close in str(info.value).split("close names:")[1]
    with pytest.raises(ConfigError):
        check_optimizer_name(wrong)


def test_an_unregistered_name_names_the_nas_strategies_and_how_to_register_one():
    # was: "unknown optimizer 'MyCustom'; no close name" and nothing more to go on
    with pytest.raises(ConfigError) as info:
        check_optimizer_name("MyCustom")
    message = str(info.value)
    assert "no close name" in message and "SurrogateEvolution" in message
    assert "registered in nevergrad.optimizers.registry" in message


@pytest.mark.parametrize("wrong", [3, ["NGOpt"], None])
def test_a_name_that_is_no_string_is_a_config_error_naming_the_optimizer(wrong):
    # was: a bare TypeError ("'int' object is not iterable"; a list unhashable), as
    # OneShotNAS(optimizer=3) raised it
    message = rf"^optimizer must be a nevergrad registry name .*got {type(wrong).__name__} "
    with pytest.raises(ConfigError, match=message):
        check_optimizer_name(wrong)
    from lightning_nas.oneshot.callback import OneShotNAS

    with pytest.raises(ConfigError, match=message):
        OneShotNAS(optimizer=wrong)


@pytest.mark.parametrize("given, name", [
    (ng.optimizers.NGOpt, "NGOpt"), (ng.optimizers.RandomSearch, "RandomSearch"),
    (ng.optimizers.registry["SurrogateEvolution"], "SurrogateEvolution")])
def test_a_registered_optimizer_object_is_refused_naming_its_registry_name(tmp_path, given,
                                                                          name):
    # was: "... got type <class 'nevergrad.optimization.optimizerlib.NGOpt'>", the name
    # to give said nowhere
    said = f"give its name, optimizer='{name}' (`search.optimizer: {name}`)"
    with pytest.raises(ConfigError, match=re.escape(said)):
        check_optimizer_name(given)
    from lightning_nas import Search

    with pytest.raises(ConfigError, match=re.escape(said)):
        Search(None, {"k": {"int": [1, 3]}}, objective=lambda arch: {"s": 1.0}, monitor="s",
               mode="max", optimizer=given, run_dir=tmp_path / "run").run()
    assert not (tmp_path / "run").exists()


def test_an_unregistered_optimizer_object_is_refused_saying_how_to_register_it():
    # was: "... got ParametrizedOnePlusOne ParametrizedOnePlusOne(mutation='discrete')"
    configured = ng.families.ParametrizedOnePlusOne(mutation="discrete")
    with pytest.raises(ConfigError, match=re.escape(
            "register it under a name of yours, ParametrizedOnePlusOne(mutation='discrete')"
            ".set_name('MyOptimizer', register=True), in a module the search imports")):
        check_optimizer_name(configured)

    class Mine(ng.optimizers.base.Optimizer):
        pass

    with pytest.raises(ConfigError, match=re.escape(
            "the class Mine, not in nevergrad's registry: register it, "
            "nevergrad.optimizers.registry.register(Mine)")):
        check_optimizer_name(Mine)


def test_unrelated_name_has_no_close_name():
    with pytest.raises(ConfigError, match="no close name"):
        check_optimizer_name("zzqqxx")


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_proposals(name):
    first = _proposals(name, seed=1)
    assert _proposals(name, seed=1) == first
    assert _proposals(name, seed=2) != first


def test_available_optimizers():
    names = available_optimizers()
    assert "NGOpt" in names and "RandomSearch" in names
    assert names == sorted(names)
    assert len(names) == len(set(names)) > 10
    check_optimizer_name("NGOpt")  # a registered name passes


@pytest.mark.parametrize("name, module", [("SMAC3", "ConfigSpace"), ("AX", "ax"),
                                          ("PymooNSGA2", "pymoo")])  # pymoo: at the 2nd ask
def test_an_optimizer_whose_package_is_missing_is_refused_before_the_run_folder(
        tmp_path, name, module):
    # was: accepted; the search wrote its store, then raised ModuleNotFoundError at the first
    # proposal, and the folder then refused any other optimizer ("other settings")
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    from lightning_nas import Search
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    with pytest.raises(ConfigError, match=rf"optimizer '{name}' needs a package that is not "
                                          rf"installed \(ModuleNotFoundError: No module named "
                                          rf"'{module}'\)"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, optimizer=name,
               run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    check_optimizer_runs("NGOpt", SPACE)  # one that runs passes


class ImportsAMissingModule(ng.optimizers.base.Optimizer):
    """A user's optimizer that imports, at its ask, a module the installed numpy lacks, as
    nevergrad 1.0.12's ``Pymoo*`` import ``pymoo.factory``, which pymoo 0.6 removed."""

    def _internal_ask_candidate(self) -> ng.p.Parameter:
        importlib.import_module("numpy.factory")
        return self.parametrization.spawn_child()

    def _internal_tell_candidate(self, candidate: ng.p.Parameter, loss: float) -> None:
        pass


def test_an_optimizer_that_needs_another_version_of_an_installed_package_says_so():
    # was: "needs a package that is not installed (No module named 'numpy.factory')" of
    # the installed numpy, as of pymoo 0.6 for PymooNSGA2 (pymoo.factory)
    registry = ng.optimizers.registry
    registry.register(ImportsAMissingModule)
    try:
        with pytest.raises(ConfigError) as info:
            check_optimizer_runs("ImportsAMissingModule", SPACE)
    finally:
        registry.unregister("ImportsAMissingModule")
    said = str(info.value)
    assert "not installed" not in said
    assert said.startswith(f"optimizer 'ImportsAMissingModule' cannot import what it needs "
                           f"from the installed numpy {np.__version__}, a version it cannot "
                           f"use (ModuleNotFoundError: No module named 'numpy.factory'); "
                           f"install the version of numpy that nevergrad")
    assert said.endswith("or pick another optimizer (e.g. SurrogateEvolution, RandomSearch)")


def test_pymoo_0_6_is_said_too_new_for_nevergrad_pymoo_optimizers():
    # was: "needs a package that is not installed (... No module named 'pymoo.factory')"
    # with pymoo 0.6 installed; run with pymoo >= 0.6 on the path to see it
    if importlib.util.find_spec("pymoo") is None or _pymoo_usable():
        pytest.skip("needs pymoo >= 0.6 (installed, without pymoo.factory)")
    from importlib.metadata import version

    with pytest.raises(ConfigError, match=re.escape(
            f"optimizer 'PymooNSGA2' cannot import what it needs from the installed pymoo "
            f"{version('pymoo')}, a version it cannot use (ModuleNotFoundError: No module "
            f"named 'pymoo.factory'); nevergrad {ng.__version__}'s Pymoo* optimizers import "
            f"pymoo.factory, which pymoo 0.6 removed: install pymoo<0.6")):
        check_optimizer_runs("PymooNSGA2", SPACE)


@pytest.mark.parametrize("budget,workers", [(200, 1), (60, 2)])
def test_an_optimizer_that_cannot_finish_its_budget_is_refused_before_training(budget, workers):
    # NGOpt picks nevergrad's MetaModel for a continuous space at these budgets and worker
    # counts; under numpy >= 2.4 it failed at about the 13th proposal, after 12 trained
    # trials. The check either refuses it up front, or the whole budget of asks and tells runs.
    space = SearchSpace.from_dict({"lr": {"float": [1e-4, 1e-1], "log": True},
                                   "dropout": {"float": [0.0, 0.5]}})
    try:
        check_optimizer_runs("NGOpt", space, budget, workers)
    except ConfigError as err:
        assert "MetaModel" in str(err) and "install numpy<2.4" in str(err)
        # was: "1 worker(s)", "2 worker(s)"
        assert f"budget {budget} and {workers} worker{'s' * (workers > 1)} before" in str(err)
        return
    opt = make_optimizer("NGOpt", space, budget=budget, num_workers=workers, seed=0)
    for i in range(40):  # MetaModel fits its surrogate from the 13th proposal on
        candidate = opt.ask()
        opt.tell(candidate, float(candidate.value["lr"] * (1 + i % 3)))


def test_an_optimizer_is_checked_as_far_as_the_search_asks_it_and_with_its_workers():
    space = SearchSpace.from_dict({"lr": {"float": [1e-4, 1e-1], "log": True},
                                   "dropout": {"float": [0.0, 0.5]}})
    # a budget that never reaches MetaModel's failing proposal passes (was: refused at
    # any budget with 2 workers)
    check_optimizer_runs("NGOpt", space, 5, 2)
    opt = make_optimizer("NGOpt", space, budget=5, num_workers=2, seed=0)
    for _ in range(5 + 2):
        candidate = opt.ask()
        opt.tell(candidate, float(candidate.value["lr"]))
    # an optimizer that takes no parallel workers is refused naming them (was: "needs a
    # `budget`" without one, and passed with one, to fail after the run folder was written)
    for budget in (None, 5):
        with pytest.raises(ConfigError, match=rf"optimizer 'Cobyla' fails on this space with "
                                              rf"budget {budget} and 2 workers before any "
                                              rf"trial \(ValueError: .*parallelization\)"):
            check_optimizer_runs("Cobyla", space, budget, 2)


def test_an_optimizer_error_without_text_is_named_by_its_type_with_the_fix():
    # nevergrad's NGOpt asserts it has a budget with no message: was "(it failed without
    # one: AssertionError: ); give a budget ...", the message cut after its colon
    with pytest.raises(ConfigError) as info:
        check_optimizer_runs("NGOpt", SPACE, None)
    said = str(info.value)
    assert "(it failed without one: AssertionError, with no message); give a budget beside " \
           "time_limit" in said, said
    assert ": )" not in said


def test_search_checks_the_optimizer_with_its_worker_count(tmp_path):
    from lightning_nas import Search
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    try:
        float(np.zeros(1))  # numpy < 2.4: nevergrad's MetaModel runs
        pytest.skip("this numpy runs nevergrad's MetaModel")
    except TypeError:
        pass
    space = {"lr": {"float": [1e-4, 1e-1], "log": True}, "sleep": {"float": [0.0, 0.001]}}
    with pytest.raises(ConfigError, match=r"budget 60 and 2 workers"):
        Search(TinyNet, space, data=BlobData, optimizer="NGOpt", budget=60, num_workers=2,
               run_dir=tmp_path / "run")
    # a TrialExecutor given as the executor says the workers the optimizer is built for
    # (was: checked with the settings' 1 worker, and failed after 12 trials)
    from concurrent.futures import ThreadPoolExecutor

    from lightning_nas.search.executor import FuturesExecutor

    with ThreadPoolExecutor(2) as pool, pytest.raises(ConfigError,
                                                      match=r"budget 60 and 2 workers"):
        Search(TinyNet, space, data=BlobData, optimizer="NGOpt", budget=60,
               executor=FuturesExecutor(pool, 2), run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


class OneObjectiveOnly(ng.optimizers.base.Optimizer):
    """A user's optimizer that takes one objective: after losses of several are told it
    raises at its next ask, as nevergrad's ``PymooCMAES`` and ``PymooBIPOP`` do."""

    def _internal_ask_candidate(self) -> ng.p.Parameter:
        if self.num_objectives > 1:
            raise ValueError("this optimizer takes a single objective")
        return self.parametrization.spawn_child()

    def _internal_tell_candidate(self, candidate: ng.p.Parameter, loss: float) -> None:
        pass


@pytest.mark.parametrize("name", ["OneObjectiveOnly", "PymooCMAES"])
def test_an_optimizer_of_one_objective_is_refused_for_several_before_training(tmp_path, name):
    # was: checked with one loss told, it passed; the search stopped at a later proposal
    # (PymooCMAES: its third, two trials trained) with the optimizer's error
    from lightning_nas import Search
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    if name.startswith("Pymoo") and not _pymoo_usable():
        pytest.skip(NO_PYMOO)
    registry = ng.optimizers.registry
    if name not in registry:
        registry.register(OneObjectiveOnly)
    try:
        space = {"width": {"choice": [4, 8, 16]}}
        Search(TinyNet, space, data=BlobData, optimizer=name, budget=4,
               run_dir=tmp_path / "one")  # one objective: accepted
        with pytest.raises(ConfigError, match=rf"optimizer '{name}' fails on this space with "
                                              rf"budget 4, 2 objectives and 1 worker "
                                              rf"before any trial \(ValueError: "):
            Search(TinyNet, space, data=BlobData, optimizer=name, budget=4,
                   objectives={"val_acc": "max", "params": "min"}, run_dir=tmp_path / "run")
        assert not (tmp_path / "run").exists()
    finally:
        if registry.get(name) is OneObjectiveOnly:
            registry.unregister(name)


@pytest.mark.parametrize("name", ["", "  "])
def test_a_blank_optimizer_name_is_refused_without_made_up_close_names(name):
    # was: "close names: ASCMADEthird, AX, AXP, ..." (every name starts with '')
    with pytest.raises(ConfigError) as err:
        check_optimizer_name(name)
    assert str(err.value).startswith(f"unknown optimizer {name!r}; no close name (")

"""A sweep's warm start checked as a search's (``tests/test_warm_audit.py``): real sweeps run
in-process through Hydra's own sweep runner (``helpers_hydra_sweep.multirun``)."""

from __future__ import annotations

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import DictConfig  # noqa: E402

from lightning_nas.errors import ConfigError  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402


def _task(cfg: DictConfig) -> float:
    return -abs(cfg.x - 7)


def test_a_sweep_whose_optimizer_takes_results_as_its_own_refuses_another_direction(tmp_path):
    # was: RandomSearch told the first sweep's best (maximised) as the best of a sweep that
    # minimises, unsaid
    multirun(tmp_path / "first", _task, {"budget": 3, "params": {"x": "range(0, 12)"}})
    source = tmp_path / "first" / "run"
    with pytest.raises(ConfigError) as err:
        multirun(tmp_path / "second", _task, {
            "budget": 1, "optimizer": "RandomSearch", "warm_start": [str(source)],
            "params": {"x": "range(0, 12)"}}, direction="minimize")
    # was: "optimizer 'RandomSearch' ... results of this search, ... not this search's score
    # (min): ... not on this search's scale; pick a strategy ..., or warm-start from runs
    # ...": a search's words, keys a sweep has not
    assert str(err.value) == (
        f"hydra.sweeper.optimizer 'RandomSearch' is told the hydra.sweeper.warm_start runs' "
        f"results as results of this sweep, and hydra.sweeper.warm_start source {source} "
        f"scored score (maximize), not this sweep's score (hydra.sweeper.direction: "
        f"minimize): its scores are not on this sweep's scale; pick a hydra.sweeper.optimizer "
        f"that keeps each run's results on its own task (SurrogateEvolution, "
        f"RegularizedEvolution, LocalSearch), or give hydra.sweeper.warm_start runs that "
        f"scored score (minimize)")  # the direction as written (was: (max), (min))
    assert not (tmp_path / "second" / "run").exists()
    trials = multirun(tmp_path / "second", _task, {  # the default keeps each run's own task
        "budget": 1, "warm_start": [str(source)], "params": {"x": "range(0, 12)"}},
        direction="minimize")
    assert len(trials) == 1


def test_a_sweep_whose_first_objective_a_source_never_logged_names_the_sweeps_keys(tmp_path):
    # was: "optimizer 'RandomSearch' ... never logged this search's first objective loss:
    # ... not on this search's scale; pick a strategy ..., or warm-start from runs that
    # logged loss"
    multirun(tmp_path / "first", _task, {"budget": 2, "params": {"x": "range(0, 12)"}})
    source = tmp_path / "first" / "run"

    def task(cfg: DictConfig) -> dict[str, float]:
        return {"loss": float(cfg.x), "acc": 1.0 / (1 + cfg.x)}

    with pytest.raises(ConfigError) as err:
        multirun(tmp_path / "second", task, {
            "budget": 1, "optimizer": "RandomSearch", "warm_start": [str(source)],
            "objectives": {"loss": "minimize", "acc": "maximize"},
            "params": {"x": "range(0, 12)"}}, sort_keys=False)
    assert str(err.value) == (
        f"hydra.sweeper.optimizer 'RandomSearch' is told the hydra.sweeper.warm_start runs' "
        f"results as results of this sweep, and hydra.sweeper.warm_start source {source} "
        f"never logged this sweep's first objective loss: its monitor score (maximize) would "
        f"stand in for it, not on this sweep's scale; pick a hydra.sweeper.optimizer that "
        f"keeps each run's results on its own task (SurrogateEvolution, "
        f"RegularizedEvolution, LocalSearch), or give hydra.sweeper.warm_start runs that "
        f"logged loss")
    assert not (tmp_path / "second" / "run").exists()


def test_a_sweep_whose_optimizer_cannot_take_a_warm_start_names_the_sweeps_keys(tmp_path):
    # was: "optimizer 'EDA' cannot be told ...; pick another optimizer (e.g. ...)"
    multirun(tmp_path / "first", _task, {"budget": 2, "params": {"x": "range(0, 3)"}})
    with pytest.raises(ConfigError) as err:
        multirun(tmp_path / "second", _task, {
            "budget": 2, "optimizer": "EDA", "warm_start": [str(tmp_path / "first" / "run")],
            "params": {"x": "range(0, 3)"}})
    assert str(err.value) == (
        "hydra.sweeper.optimizer 'EDA' cannot be told results it did not propose, so it "
        "cannot take the hydra.sweeper.warm_start runs' results; pick another "
        "hydra.sweeper.optimizer (e.g. SurrogateEvolution, NGOpt, TwoPointsDE) or drop "
        "hydra.sweeper.warm_start")
    assert not (tmp_path / "second" / "run").exists()


def test_a_sweeps_retrain_top_k_above_its_sources_is_said_with_the_sweeps_key(
        tmp_path, capsys):
    # was: "[warm start] retrain_top_k=3, ...", a key a sweep's user does not write
    multirun(tmp_path / "first", _task, {"budget": 2, "params": {"x": "range(0, 12)"}})
    trials = multirun(tmp_path / "second", _task, {
        "budget": 4, "warm_start": [str(tmp_path / "first" / "run")], "retrain_top_k": 3,
        "params": {"x": "range(0, 12)"}})
    assert len(trials) == 4
    out = capsys.readouterr().out
    assert "[warm start] hydra.sweeper.retrain_top_k=3, and the earlier runs gave 2 " \
           "distinct architectures within the limits: no more to train again" in out


def test_a_sweeps_optimizer_that_cannot_be_told_a_job_twice_refuses_retrain_top_k(tmp_path):
    # was: accepted; the first job's tell failed (bayes_opt's NotUniqueError) and the sweep
    # stopped after it
    pytest.importorskip("bayes_opt", reason="nevergrad's BO needs bayes-optimization")
    multirun(tmp_path / "first", _task, {"budget": 2, "params": {"x": "range(0, 12)"}})
    with pytest.raises(ConfigError, match=r"^hydra.sweeper.optimizer 'BO' cannot be told an "
                                          r"architecture it was told before .* and "
                                          r"`hydra.sweeper.retrain_top_k`=1 trains "
                                          r"hydra.sweeper.warm_start results"):
        multirun(tmp_path / "second", _task, {
            "budget": 2, "optimizer": "BO", "retrain_top_k": 1,
            "warm_start": [str(tmp_path / "first" / "run")], "params": {"x": "range(0, 12)"}})
    assert not (tmp_path / "second" / "run").exists()


def test_a_sweeps_optimizer_that_cannot_be_told_a_job_twice_refuses_sources_sharing_one(
        tmp_path):
    # was: bayes_opt's raw NotUniqueError once the sweep's run folder was written
    pytest.importorskip("bayes_opt", reason="nevergrad's BO needs bayes-optimization")
    for name in ("a", "b"):  # the same seed: the same jobs
        multirun(tmp_path / name, _task, {"budget": 2, "params": {"x": "range(0, 12)"}})
    sources = [str(tmp_path / name / "run") for name in ("a", "b")]
    with pytest.raises(ConfigError, match=r"^hydra.sweeper.optimizer 'BO' cannot be told an "
                                          r"architecture it was told before .*, and "
                                          r"hydra.sweeper.warm_start sources .*a/run and "
                                          r".*b/run both hold x=\d+ "):
        multirun(tmp_path / "second", _task, {
            "budget": 2, "optimizer": "BO", "warm_start": sources,
            "params": {"x": "range(0, 12)"}})
    assert not (tmp_path / "second" / "run").exists()

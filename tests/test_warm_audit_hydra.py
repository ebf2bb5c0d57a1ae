"""A sweep's warm start checked as a search's (``tests/test_warm_audit.py``): real sweeps run
in-process through Hydra's own sweep runner (``tests.test_hydra_sweeper._sweep``)."""

from __future__ import annotations

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import DictConfig  # noqa: E402

from lightning_nas.errors import ConfigError  # noqa: E402
from tests.test_hydra_sweeper import _keep_logging, _sweep  # noqa: E402, F401 - a fixture


def _task(cfg: DictConfig) -> float:
    return -abs(cfg.x - 7)


def test_a_sweep_whose_optimizer_takes_results_as_its_own_refuses_another_direction(tmp_path):
    # was: RandomSearch told the first sweep's best (maximised) as the best of a sweep that
    # minimises, unsaid
    _sweep(tmp_path / "first", _task, {"budget": 3, "params": {"x": "range(0, 12)"}})
    source = tmp_path / "first" / "run"
    with pytest.raises(ConfigError) as err:
        _sweep(tmp_path / "second", _task, {
            "budget": 1, "optimizer": "RandomSearch", "warm_start": [str(source)],
            "params": {"x": "range(0, 12)"}}, direction="minimize")
    assert str(err.value).startswith(
        f"optimizer 'RandomSearch' is told the hydra.sweeper.warm_start runs' results as "
        f"results of this search, and hydra.sweeper.warm_start source {source} scored score "
        f"(max), not this search's score (min)")
    assert not (tmp_path / "second" / "run").exists()
    trials = _sweep(tmp_path / "second", _task, {  # the default keeps each run's own task
        "budget": 1, "warm_start": [str(source)], "params": {"x": "range(0, 12)"}},
        direction="minimize")
    assert len(trials) == 1

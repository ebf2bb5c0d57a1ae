"""The end of a Hydra sweep of several objectives says its Pareto front, as the end of a
search does (``search.summary.front_line``), its objectives worded as the sweep writes
them (``maximize``/``minimize``): small task functions run in-process through Hydra's own
sweep runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import DictConfig  # noqa: E402

from tests.helpers_hydra_sweep import multirun  # noqa: E402

#: both objectives given on the command line, as a sweep's user adds them
OBJECTIVES = ("+hydra.sweeper.objectives.acc=maximize", "+hydra.sweeper.objectives.cost=minimize")


def _sweep(tmp_path: Path, task: Callable[[DictConfig], Any], overrides: tuple[str, ...],
           **sweeper: Any) -> Path:
    """Run a multirun of ``task`` (``multirun``) over ``x`` (1 to 8, every value: ``budget``
    8), its objectives as ``overrides`` or ``sweeper`` say; the sweep's run folder."""
    multirun(tmp_path, task, {"budget": 8, "optimizer": "RandomSearch",
                              "params": {"x": "range(1, 9)"}, **sweeper}, overrides,
             direction=None)
    return tmp_path / "run"


def _front_said(run: Path) -> str:
    """The front line ``run``'s ``optimization_results.yaml`` (its ``solutions``) gives,
    its points best first (by ``acc``, then ``cost``)."""
    results = yaml.safe_load((run / "optimization_results.yaml").read_text())
    points = sorted(results["solutions"], key=lambda s: (-s["values"]["acc"],
                                                         s["values"]["cost"]))
    ids = ", ".join(str(s["trial"]) for s in points)
    return (f"Pareto front (acc maximize, cost minimize): {len(points)} trials ({ids}); "
            f"lightning-nas show {run} lists them, lightning-nas export {run} --trial N "
            f"exports one")


def test_the_end_of_a_sweep_of_several_objectives_says_its_front(tmp_path, capsys):
    # was: "Sweep finished in ...: 8 completed, 0 failed. Best acc=0.8000 (trial ...)" and
    # the files, no word of the front, where a search says it below its best trial
    run = _sweep(tmp_path, lambda cfg: {"acc": cfg.x / 10, "cost": float(cfg.x // 2)},
                 OBJECTIVES)
    lines = capsys.readouterr().out.splitlines()
    said = _front_said(run)
    assert said.startswith("Pareto front (acc maximize, cost minimize): 5 trials (")  # the case
    at = lines.index(said)  # below the best job's line, before the files
    assert lines[at - 1].startswith("Sweep finished in ") and " Best acc=0.8000 " in lines[at - 1]
    assert lines[at + 1] == f"Wrote optimization_results.yaml and search.db in {run}"


def test_a_sweep_front_of_one_point_or_one_objective(tmp_path, capsys):
    # a front of one point says it is the best; a sweep of one objective says no front
    run = _sweep(tmp_path / "one_point", lambda cfg: {"acc": cfg.x / 10, "cost": -cfg.x},
                 OBJECTIVES)
    out = capsys.readouterr().out
    results = yaml.safe_load((run / "optimization_results.yaml").read_text())
    assert (f"\nPareto front (acc maximize, cost minimize): 1 trial ({results['best_trial']}), "
            f"the best: every other trial is worse in some objective and better in none\n"
            f"Wrote optimization_results.yaml") in out, out
    _sweep(tmp_path / "single", lambda cfg: cfg.x / 10, (), direction="maximize")
    out = capsys.readouterr().out
    assert "Sweep finished in " in out and "Pareto front" not in out

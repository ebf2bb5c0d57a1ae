"""A sweep's header line and warm-start line give modes in the sweep's words
(``hydra.sweeper.direction: maximize|minimize``, the objectives' as written), a plain
search's as before (``(max)``/``(min)``). Real in-process sweeps through Hydra's own sweep
runner (``helpers_hydra_sweep.multirun``), a real objective search."""

from __future__ import annotations

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import DictConfig  # noqa: E402

from lightning_nas import Search  # noqa: E402
from lightning_nas.integrations.hydra_wording import sweep_phrases  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402

PARAMS = {"x": "range(0, 12)"}


def _task(cfg: DictConfig) -> float:
    return -abs(cfg.x - 7)


def _two(cfg: DictConfig) -> dict[str, float]:
    return {"loss": abs(cfg.x - 7) / 10, "acc": cfg.x / 12}


def _lines(out: str, start: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(start)]


def test_a_sweeps_header_and_warm_start_line_say_its_direction(tmp_path, capsys):
    # was: "..., score (max)" and "warm start from ... (score, max): ...", where the user
    # wrote hydra.sweeper.direction: maximize
    multirun(tmp_path / "first", _task, {"budget": 2, "params": PARAMS})
    source = tmp_path / "first" / "run"
    multirun(tmp_path / "second", _task, {"budget": 1, "warm_start": [str(source)],
                                          "params": PARAMS}, direction="minimize")
    out = capsys.readouterr().out
    headers = _lines(out, "Sweeping app with lightning_nas")
    assert [h.rsplit(", ", 1)[-1] for h in headers] == ["score (maximize)",
                                                        "score (minimize)"], headers
    warm = _lines(out, "warm start from")
    assert len(warm) == 1 and warm[0].startswith(
        f"warm start from {source} (score, maximize): 2 of 2 trials used; score was "
        f"maximised there and is minimised here"), warm
    assert "(max)" not in out and "(min)" not in out and ", max)" not in out, out


def test_a_sweeps_objectives_are_said_as_written(tmp_path, capsys):
    multirun(tmp_path, _two, {"budget": 1, "objectives": {"loss": "minimize", "acc": "maximize"},
                              "params": PARAMS}, sort_keys=False)
    header = _lines(capsys.readouterr().out, "Sweeping app with lightning_nas")
    assert len(header) == 1 and header[0].endswith(
        "architectures, objectives loss (minimize), acc (maximize)"), header


def test_a_plain_search_keeps_max_and_min(tmp_path, capsys):
    space = {"w": {"choice": [1, 2, 3]}}

    def acc(arch: dict) -> dict:
        return {"val_acc": arch["w"] / 10}

    Search(None, space, objective=acc, monitor="val_acc", mode="max", budget=2, seed=0,
           run_dir=tmp_path / "a").run()
    Search(None, space, objective=acc, monitor="val_acc", mode="max", budget=1, seed=0,
           run_dir=tmp_path / "b", warm_start=[tmp_path / "a"]).run()
    out = capsys.readouterr().out
    assert f"warm start from {tmp_path / 'a'} (val_acc, max): " in out, out
    assert "val_acc (max)" in out, out
    assert "maximize" not in out, out


def test_the_warm_start_lines_stand_in_monitor_is_said_with_its_direction():
    line = ("warm start from runs/a (1)/run (loss, min; its results trained 3 epochs): 2 of 2 "
            "trials used; first objective 'acc' not logged there: its monitor loss (min) "
            "stands in, on its own task\nwarm start from runs/b (acc, max): 1 of 1 trial used")
    assert sweep_phrases(line) == (
        "warm start from runs/a (1)/run (loss, minimize; its results trained 3 epochs): 2 of 2 "
        "trials used; first objective 'acc' not logged there: its monitor loss (minimize) "
        "stands in, on its own task\nwarm start from runs/b (acc, maximize): 1 of 1 trial used")


def test_a_sweeps_header_says_no_budget_and_its_time_limit(tmp_path, capsys):
    # was: "..., budget None jobs, 1 job per batch ..." for hydra.sweeper.budget: null beside
    # a time_limit, and no word of the time limit, where a search says "no budget, time
    # limit 0.01s"
    multirun(tmp_path, _task, {"budget": None, "time_limit": 0.01, "params": PARAMS})
    header = _lines(capsys.readouterr().out, "Sweeping app with lightning_nas")
    assert len(header) == 1 and ": SurrogateEvolution, no budget, time limit 0.01s, 1 job " \
        "per batch on BasicLauncher, " in header[0], header

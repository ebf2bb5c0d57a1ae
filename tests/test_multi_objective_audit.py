"""Multi-objective searches end to end, as a user reads them: objective names checked before
anything is written, one objective given as ``objectives`` ranked as ``monitor``/``mode``
rank it, the HTML report and the search's last lines giving the Pareto front, and (real
small searches) the front of each setting that decides which validation a trial keeps
(validation twice an epoch, a scheduler with the first objective a loss) being the
non-dominated set of the stored values, each point exporting a checkpoint that validates
to every stored objective (a fine-tune of it starting there), and a stopped search resumed
having the uninterrupted one's front."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
import yaml

from lightning_nas import Search, export_best, load_best
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.objectives import Objectives
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

TRAINER = {"max_epochs": 3, "accelerator": "cpu", "devices": 1, "logger": False}


def _brute_front(trials: list[TrialResult], objectives: dict[str, str]) -> list[int]:
    """The ids of the COMPLETED ``trials`` no other COMPLETED one dominates, compared pair
    by pair."""
    done = [t for t in trials if t.status is TrialStatus.COMPLETED]
    losses = {t.trial_id: Objectives(objectives).losses(t.metrics) for t in done}
    return sorted(i for i, mine in losses.items() if not any(
        all(o <= m for o, m in zip(other, mine, strict=True)) and other != mine
        for other in losses.values()))


def _validated(run: Path) -> dict[str, float]:
    """``run``'s ``best.ckpt`` in the model class, validated by a fresh one-device Trainer."""
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    return trainer.validate(TinyNet.load_from_checkpoint(run / "best.ckpt"),
                            datamodule=BlobData(batch_size=32), verbose=False)[0]


def _assert_front_exports_as_stored(run: Path, objectives: dict[str, str], capsys: Any,
                                   also: tuple[int, ...] = ()) -> list[int]:
    """The front ``show``'s JSON gives is the brute-force front of the stored values, and
    each point's (and ``also``'s) ``export --trial`` writes a checkpoint of its stored epoch
    that validates to every logged objective's stored value (a counted one: the model's
    size)."""
    with RunStore(run / "search.db") as store:
        trials = store.trials()
    brute = _brute_front(trials, objectives)
    stored = {t.trial_id: t for t in trials}
    capsys.readouterr()
    assert main(["show", str(run), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)["pareto_front"]
    assert sorted(p["trial"] for p in shown) == brute
    assert all(p[n] == stored[p["trial"]].metrics[n] for p in shown for n in objectives)
    for point in sorted({*brute, *also}):
        export_best(run, trial_id=point)
        best, trial = load_best(run), stored[point]
        assert (best["trial"], best["epoch"]) == (point, trial.epoch)
        assert torch.load(run / "best.ckpt", weights_only=False)["epoch"] == trial.epoch
        got = _validated(run)
        for name in objectives:
            if name == "params":
                model = TinyNet.load_from_checkpoint(run / "best.ckpt")
                assert trial.metrics[name] == sum(p.numel() for p in model.parameters())
            else:
                assert got[name] == pytest.approx(trial.metrics[name], abs=1e-6), (point, name)
    return brute


# ------------------------------------------------------------------ names checked first


@pytest.mark.parametrize("name", [3, None, "", "  "], ids=["int", "none", "empty", "blank"])
def test_an_objective_name_that_names_no_metric_is_refused_before_anything_is_written(
        tmp_path, name):
    # was: 3 and None raised AttributeError ('int' object has no attribute 'lower') from the
    # check of the modes' words; "" and "  " trained trial 1, then stopped the search
    run = tmp_path / "run"
    with pytest.raises(ConfigError, match=rf"objective name {re.escape(repr(name))} names no "
                                          rf"metric: .*'val_acc': 'max'"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, trainer=TRAINER,
               objectives={"val_acc": "max", name: "min"}, budget=1, run_dir=run,
               verbose=False)
    assert not run.exists()


@pytest.mark.parametrize("key", ["1", "null", "''"])
def test_a_configs_objective_key_that_names_no_metric_is_one_error_line(tmp_path, capsys,
                                                                        key):
    # was: a traceback ending in AttributeError (1, null), or trial 1 trained ('')
    cfg, run = tmp_path / "search.yaml", tmp_path / "run"
    cfg.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData"}, "trainer": TRAINER,
        "search": {"space": {"width": {"choice": [4, 8]}}, "budget": 1, "run_dir": str(run)}},
        sort_keys=False) + f"  objectives: {{val_acc: max, {key}: min}}\n")
    assert main(["search", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "names no metric" in err, err
    assert not run.exists()


# ------------------------------------------------------ one objective given as objectives


def _saturating(arch: dict[str, Any]) -> dict[str, float]:
    return {"acc": 1.0 if arch["k"] < 3 else 0.5}


@pytest.mark.parametrize("goal", [{"objectives": {"acc": "max"}},
                                  {"monitor": "acc", "mode": "max"}], ids=["objectives",
                                                                            "monitor"])
def test_one_objective_given_as_objectives_has_the_best_trial_as_its_front(tmp_path, goal):
    # was: with objectives={"acc": "max"} every trial tied at the best score ([2, 4]),
    # where monitor="acc" gave the best alone ([2]), as the docstring says
    result = Search(None, {"k": {"choice": [1, 2, 3, 4]}}, objective=_saturating, budget=4,
                    optimizer="RandomSearch", seed=0, run_dir=tmp_path, verbose=False,
                    **goal).run()
    assert sum(t.score == 1.0 for t in result.trials) == 2  # a tie at the top: the case
    assert [t.trial_id for t in result.pareto_front()] == [result.best.trial_id]


@pytest.mark.parametrize("goal", [{"objectives": {"val_acc": "max"}},
                                  {"monitor": "val_acc", "mode": "max"}],
                         ids=["objectives", "monitor"])
def test_one_objective_given_as_objectives_keeps_the_checkpoints_a_monitor_keeps(tmp_path,
                                                                                 goal):
    # was: objectives={"val_acc": "max"} kept every checkpoint tied at the best val_acc,
    # beyond keep_top_k (as a front's points), where monitor="val_acc" kept keep_top_k
    torch.set_num_threads(1)
    result = Search(TinyNet, {"width": {"choice": [16]}, "lr": {"choice": [0.5, 0.4]}},
                    data=BlobData, data_init_args={"batch_size": 32}, seed=0, budget=2,
                    keep_top_k=1, trainer={**TRAINER, "max_epochs": 4}, run_dir=tmp_path,
                    verbose=False, **goal).run()
    assert [t.score for t in result.trials] == [1.0, 1.0]  # tied: the case
    assert [bool(t.checkpoint) for t in result.trials] == [True, False]


# ------------------------------------------------------------------ report.html's front


def _three(arch: dict[str, Any]) -> dict[str, float]:
    x = arch["x"]
    return {"acc": x / 10, "size": float(x % 4), "ms": float((x * 7) % 5)}


def test_the_html_report_lists_the_pareto_front_of_three_objectives(tmp_path):
    # was: no front at all (the plot is drawn for 2 objectives only), nor any list of it
    pytest.importorskip("matplotlib")
    spec = {"acc": "max", "size": "min", "ms": "min"}
    result = Search(None, {"x": {"int": [1, 12]}}, objective=_three, objectives=spec,
                    budget=12, optimizer="RandomSearch", seed=0, run_dir=tmp_path,
                    verbose=False).run()
    front = {t.trial_id for t in result.pareto_front()}
    assert front == set(_brute_front(result.trials, spec)) and len(front) < 12
    assert main(["report", str(tmp_path)]) == 0
    page = html.unescape((tmp_path / "report" / "report.html").read_text())
    section = page.split("<h2>Pareto front (acc max, size min, ms min)", 1)[1]
    table = section.split("<pre>", 1)[1].split("</pre>", 1)[0]
    rows = [line.split() for line in table.splitlines() if line.strip()]
    assert rows[0][:4] == ["trial", "acc", "size", "ms"]
    assert {int(r[0]) for r in rows[1:]} == front
    by_id = {t.trial_id: t for t in result.trials}
    for row in rows[1:]:
        metrics = by_id[int(row[0])].metrics
        assert [float(v) for v in row[1:4]] == pytest.approx(
            [metrics["acc"], metrics["size"], metrics["ms"]], abs=1e-4)


def test_the_end_of_a_multi_objective_search_says_its_front(tmp_path, capsys):
    # was: the summary said the best trial alone ("Best acc=1.2000 (trial 3)")
    spec = {"acc": "max", "size": "min", "ms": "min"}
    result = Search(None, {"x": {"int": [1, 12]}}, objective=_three, objectives=spec,
                    budget=12, optimizer="RandomSearch", seed=0, run_dir=tmp_path).run()
    out = capsys.readouterr().out
    front = sorted(result.pareto_front(), key=lambda t: Objectives(spec).losses(t.metrics))
    assert (f"Pareto front (acc max, size min, ms min): {len(front)} trials "
            f"({', '.join(str(t.trial_id) for t in front)}); lightning-nas show {tmp_path} "
            f"lists them, lightning-nas export {tmp_path} --trial N exports one\n") in out
    assert front[0].trial_id == result.best.trial_id
    Search(None, {"x": {"int": [1, 12]}}, objective=_three, monitor="acc", mode="max",
           budget=2, run_dir=tmp_path / "one").run()
    assert "Pareto front" not in capsys.readouterr().out  # one objective: the best alone


@pytest.mark.parametrize("trade_off", [True, False], ids=["long", "one-point"])
def test_the_front_said_at_the_end_names_its_best_ten_or_its_one_point(tmp_path, capsys,
                                                                       trade_off):
    result = Search(None, {"x": {"choice": list(range(1, 15))}}, budget=14, seed=0,
                    objective=lambda arch: {"acc": arch["x"] / 20, "size": float(
                        arch["x"] if trade_off else 20 - arch["x"])},
                    objectives={"acc": "max", "size": "min"}, optimizer="RandomSearch",
                    run_dir=tmp_path).run()
    by_acc = [t.trial_id for t in sorted(result.trials, key=lambda t: -t.metrics["acc"])]
    said = (f"14 trials ({', '.join(map(str, by_acc[:10]))} and 4 more); " if trade_off else
            f"1 trial ({by_acc[0]}), the best: every other trial is worse in some objective "
            f"and better in none\n")
    assert f"Pareto front (acc max, size min): {said}" in capsys.readouterr().out


# -------------------------------------------- trained searches: the front, exported again


def test_a_front_validated_twice_an_epoch_exports_every_objective_as_stored(tmp_path,
                                                                             capsys):
    # val_acc reaches 1.0 and stays there while val_loss falls and wobbles: each trial's
    # best validation is a tie on val_acc broken by val_loss, mid-epoch or at its end
    torch.set_num_threads(1)
    spec = {"val_acc": "max", "val_loss": "min"}
    Search(TinyNet, {"width": {"choice": [16]}, "lr": {"choice": [0.5, 0.4]}}, data=BlobData,
           data_init_args={"batch_size": 32}, seed=0, budget=2, keep_top_k=2,
           trainer={**TRAINER, "max_epochs": 5, "val_check_interval": 0.5}, objectives=spec,
           run_dir=tmp_path, verbose=False).run()
    with RunStore(tmp_path / "search.db") as store:
        steps = {t.trial_id: torch.load(t.checkpoint, weights_only=False)["global_step"]
                 for t in store.trials() if t.checkpoint}
    assert any(step % 6 for step in steps.values())  # 6 batches an epoch: one mid-epoch
    _assert_front_exports_as_stored(tmp_path, spec, capsys, also=tuple(steps))


@pytest.mark.parametrize("scheduler", ["asha", "median"])
def test_a_front_under_a_scheduler_of_a_loss_first_exports_as_stored(tmp_path, capsys,
                                                                      scheduler):
    # the first objective a loss (min): the rule stops the trials of high loss, the front
    # is of the COMPLETED trials only, and each point exports what the search stored
    torch.set_num_threads(1)
    spec = {"val_loss": "min", "params": "min", "val_acc": "max"}
    rule = {"eta": 2} if scheduler == "asha" else {}
    Search(TinyNet, {"width": {"choice": [4, 8, 16]}, "lr": {"float": [0.002, 0.05],
                                                             "log": True}},
           data=BlobData, data_init_args={"batch_size": 32}, seed=1, budget=8, keep_top_k=1,
           trainer={**TRAINER, "max_epochs": 4}, scheduler=scheduler, min_epochs=1, **rule,
           objectives=spec, run_dir=tmp_path, verbose=False).run()
    with RunStore(tmp_path / "search.db") as store:
        stopped = [t for t in store.trials() if t.status in (TrialStatus.PAUSED,
                                                             TrialStatus.PRUNED)]
        done = store.trials(TrialStatus.COMPLETED)
    assert stopped and len(done) >= 2  # the rule stopped some: the case
    curves = {t.trial_id: t.curve for t in done}
    assert all(t.metrics["val_loss"] == min(curves[t.trial_id]) for t in done)
    front = _assert_front_exports_as_stored(tmp_path, spec, capsys)
    assert not {t.trial_id for t in stopped} & set(front)


def test_a_multi_objective_search_stopped_and_resumed_has_the_uninterrupted_front(tmp_path):
    # its resume replays the results into a fresh optimizer, reads the front from the store
    # and keeps the checkpoints of the front's points as the uninterrupted search does
    torch.set_num_threads(1)
    spec = {"val_acc": "max", "params": "min", "val_loss": "min"}

    def search(run: Path, budget: int) -> None:
        Search(TinyNet, {"width": {"choice": [4, 8, 16]}, "depth": {"choice": [1, 2]},
                         "lr": {"float": [0.002, 0.05], "log": True}},
               data=BlobData, data_init_args={"batch_size": 32}, seed=3, budget=budget,
               keep_top_k=1, trainer=TRAINER, objectives=spec, run_dir=run,
               verbose=False).run()

    def seen(run: Path) -> tuple[list, list[int]]:
        with RunStore(run / "search.db") as store:
            trials = store.trials()
        return ([(t.trial_id, t.arch, t.status, t.epoch, t.metrics, bool(t.checkpoint))
                 for t in trials], _brute_front(trials, spec))

    search(tmp_path / "full", 5)
    search(tmp_path / "stopped", 2)
    search(tmp_path / "stopped", 5)
    full, front = seen(tmp_path / "full")
    assert seen(tmp_path / "stopped") == (full, front)
    assert len(front) > 1 and {t[0] for t in full if t[5]} == set(front)  # kept: the front


def test_a_fine_tune_of_each_exported_point_starts_from_its_stored_objectives(tmp_path):
    # finetune validates the weights it starts from before training: for each point of the
    # front, exported by --trial, every logged objective is its stored value
    from lightning_nas import finetune

    torch.set_num_threads(1)
    spec = {"val_loss": "min", "params": "min", "val_acc": "max"}
    result = Search(TinyNet, {"width": {"choice": [4, 8, 16]},
                              "lr": {"float": [0.002, 0.05], "log": True}},
                    data=BlobData, data_init_args={"batch_size": 32}, seed=1, budget=5,
                    keep_top_k=1, trainer=TRAINER, objectives=spec, run_dir=tmp_path / "run",
                    verbose=False).run()
    front = result.pareto_front()
    assert len(front) > 1  # a point other than the best: the case
    for point in front:
        export_best(tmp_path / "run", trial_id=point.trial_id)
        tuned = finetune(tmp_path / "run", max_epochs=1,
                         out_dir=tmp_path / f"tuned_{point.trial_id}")
        assert tuned.arch == point.arch
        for name in ("val_loss", "val_acc"):
            assert tuned.start_metrics[name] == pytest.approx(point.metrics[name], abs=1e-6)

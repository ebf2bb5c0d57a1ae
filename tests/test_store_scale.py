"""What the reads of a run's store give, pinned where they were made cheaper for stores of
thousands of trials (``benchmarks/store_scale.py`` measures the speed; these tests only the
output): ``show``'s failures and counts, the report's plots and page read from one pass
over the trials, a warm start that ranks no prior when none is trained again, and the
Pareto front whose trials keep their checkpoints, kept up to date trial by trial. Real
SQLite stores, real nevergrad, real matplotlib; no timing asserted."""

from __future__ import annotations

import json
import math
import random
import re

import pytest

from lightning_nas import Search
from lightning_nas.report.plots import plot_choices, progress_figure, pyplot, write_report
from lightning_nas.report.tables import format_table, render, trial_rows
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.checkpoints import FrontPoints
from lightning_nas.search.objectives import Objectives, pareto_front
from lightning_nas.space import SearchSpace
from lightning_nas.store import RunStore, open_run
from lightning_nas.strategies import make_optimizer
from lightning_nas.strategies.transfer import tell_priors
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

SPACE = {"x": {"float": [0.0, 1.0]}, "y": {"float": [0.0, 1.0]}}

#: (status, score, error) of each trial in id order: failed and rejected ones among the
#: others, a completed one without a score (NaN), pruned ones with scores
TRIALS = [(TrialStatus.COMPLETED, 0.50, None), (TrialStatus.FAILED, None, "ValueError: bad\n  at"),
          (TrialStatus.COMPLETED, 0.70, None), (TrialStatus.REJECTED, None, "params 9 > 5"),
          (TrialStatus.PRUNED, 0.90, None), (TrialStatus.COMPLETED, math.nan, None),
          (TrialStatus.COMPLETED, 0.60, None), (TrialStatus.FAILED, None, "RuntimeError: x"),
          (TrialStatus.COMPLETED, 0.80, None), (TrialStatus.REJECTED, None, "flops 7 > 3")]


@pytest.fixture
def store(tmp_path):
    """A run's store written through ``RunStore``: the trials of ``TRIALS``, finished out
    of id order (the progress plot sorts by the end)."""
    with RunStore(tmp_path / "run" / "search.db") as run:
        run.set_meta("space", SPACE)
        run.set_meta("monitor", "val_acc")
        run.set_meta("mode", "max")
        for i, (status, score, error) in enumerate(TRIALS):
            arch = {"x": i / 10, "y": (i * 7 % 10) / 10}
            tid = run.start_trial(arch)
            run.finish_trial(TrialResult(
                tid, arch, status, score=score, error=error, epochs=1, epoch=0,
                metrics={} if score is None else {"val_acc": score},
                started=1000.0 + i, finished=1000.0 + i + (5 if i % 3 == 0 else 1)))
    with open_run(tmp_path / "run") as run:
        yield run


def _failures(store: RunStore) -> list[dict]:
    """The failed and rejected trials' rows, picked out of every trial (the reference)."""
    return [row for row in trial_rows(store) if row["status"] in ("FAILED", "REJECTED")]


def test_show_lists_failed_and_rejected_trials_in_id_order_and_counts_scored_ones(store):
    assert [row["trial"] for row in _failures(store)] == [2, 4, 8, 10]
    data = json.loads(render(store, "json", 2))
    assert data["failures"] == [{**row, "notes": ""} for row in _failures(store)]  # none
    # the leaderboard's rows before the cut: completed trials with a score (not the NaN one)
    assert (data["shown"], data["of"]) == (2, 4)
    text = render(store, "table", 2)
    assert text.endswith("Failed and rejected trials:\n"
                         "trial 2 FAILED: ValueError: bad  [x=0.1 y=0.7]\n"
                         "trial 4 REJECTED: params 9 > 5  [x=0.3 y=0.1]\n"
                         "trial 8 FAILED: RuntimeError: x  [x=0.7 y=0.9]\n"
                         "trial 10 REJECTED: flops 7 > 3  [x=0.9 y=0.3]")
    assert "the best 2 of 4 (a higher --top shows more)" in text
    assert json.loads(render(store, "json", None))["of"] == 4


def test_the_report_draws_every_trial_and_lists_the_failures_as_before(store, tmp_path):
    figure = progress_figure(store)
    line = figure.axes[0].lines[0]
    # scored trials (completed, pruned) in the order they ended; best so far of completed
    ended = sorted((t for t in store.trials() if t.score is not None
                    and t.status in (TrialStatus.COMPLETED, TrialStatus.PRUNED)),
                   key=lambda t: t.finished)
    best, curve = None, []
    for t in ended:
        if t.status is TrialStatus.COMPLETED:
            best = t.score if best is None else max(best, t.score)
        curve.append(best)
    assert list(line.get_ydata()) == curve
    minutes = list(figure.axes[1].lines[0].get_xdata())
    assert minutes == [(t.finished - 1000.0) / 60 for t in ended]  # from the first start
    given = progress_figure(store, store.trials())  # the trials read once by the report
    assert [list(ax.lines[0].get_xydata().ravel()) for ax in given.axes] == \
        [list(ax.lines[0].get_xydata().ravel()) for ax in figure.axes]
    pyplot().close(figure)
    pyplot().close(given)
    assert plot_choices(store, tmp_path / "a.png") == \
        plot_choices(store, tmp_path / "b.png", store.trials()) == {"x": "linear", "y": "linear"}

    files = write_report(store, tmp_path / "report")
    page = files["html"].read_text()
    failed = re.search(r"<h2>Failed and rejected trials</h2><pre>(.*?)</pre>", page, re.S)
    assert failed is not None
    assert failed.group(1).replace("&gt;", ">") == format_table(_failures(store))
    assert "5 completed, 2 failed, 2 rejected, 1 pruned, 0 paused, 0 running" in page


@pytest.mark.parametrize("optimizer", ["RandomSearch", "NGOpt"])
def test_a_warm_start_training_none_again_asks_as_an_optimizer_told_the_priors(
        tmp_path, optimizer):
    def objective(arch: dict) -> dict:
        return {"val_loss": (arch["x"] - 0.3) ** 2 + (arch["y"] - 0.6) ** 2}

    source, target = tmp_path / "source", tmp_path / "target"
    Search(None, SPACE, objective=objective, monitor="val_loss", mode="min", budget=25,
           optimizer="RandomSearch", seed=1, run_dir=source, verbose=False).run()
    Search(None, SPACE, objective=objective, monitor="val_loss", mode="min", budget=6,
           optimizer=optimizer, seed=0, run_dir=target, warm_start=[str(source)],
           verbose=False).run()
    with open_run(target) as run:
        priors, trials = run.priors(), run.trials()
    assert len(priors) == 25 and len(trials) == 6
    # a fresh optimizer told the same priors, then asked: the search's proposals
    space = SearchSpace.from_dict(SPACE)
    reference = make_optimizer(optimizer, space, 6, seed=0)
    tell_priors(reference, [(p["arch"], p["loss"], p["task"]) for p in priors])
    asked = []
    for trial in trials:
        candidate = reference.ask()
        asked.append(space.validate(candidate.value))
        reference.tell(candidate, trial.score)
    assert [t.arch for t in trials] == asked


def test_the_front_kept_up_to_date_is_the_front_of_every_scored_trial(tmp_path):
    # each trial's end read and sorted every trial's metrics for the front (about 20 ms a
    # trial at 2000 trials); kept up to date, it must stay the front of the store read whole
    rng = random.Random(0)
    odd = [math.nan, math.inf, -math.inf, 0.5, 0.5, 1.0]
    statuses = [TrialStatus.COMPLETED] * 6 + [TrialStatus.FAILED, TrialStatus.PRUNED]
    for case, names in enumerate((["a", "b"], ["a", "b", "c"])):
        objectives = Objectives({n: rng.choice(["max", "min"]) for n in names})
        with RunStore(tmp_path / f"{case}" / "search.db") as store:
            front = FrontPoints(store, objectives)
            for i in range(120):
                metrics = {n: rng.choice(odd) if rng.random() < 0.1 else rng.randint(0, 6) / 6
                           for n in names if rng.random() > 0.03}  # ties, NaN, inf, missing
                score = metrics.get(names[0], math.nan) if rng.random() > 0.05 else math.nan
                tid = store.start_trial({"i": i})
                store.finish_trial(TrialResult(tid, {"i": i}, rng.choice(statuses),
                                               score=score, metrics=metrics))
                if i == 7:
                    front.ids()  # read whole once; from here on kept up to date
                front.add(tid)
                whole = pareto_front(store.scored_metrics(), objectives,
                                     metrics=lambda point: point[1])
                assert front.ids() == {t for t, _ in whole}, (case, i)


def test_every_front_point_keeps_its_checkpoint_through_a_long_search_and_a_resume(
        tmp_path, tiny_trainer):
    space = {"width": {"int": [2, 32]}, "lr": {"float": [0.01, 0.5], "log": True}}
    objectives = {"val_acc": "max", "val_loss": "min"}
    for budget in (10, 18):  # the second run resumes the first
        result = Search(TinyNet, space, data=BlobData, trainer=tiny_trainer, budget=budget,
                        seed=4, objectives=objectives, keep_top_k=1, optimizer="RandomSearch",
                        run_dir=tmp_path, verbose=False).run()
        with open_run(tmp_path) as store:
            whole = pareto_front(store.scored_metrics(), Objectives(objectives),
                                 metrics=lambda point: point[1])
            held = {t.trial_id for t in store.with_checkpoint(TrialStatus.COMPLETED)}
        assert len(result.trials) == budget
        assert held == {t for t, _ in whole} | {result.best.trial_id}
        for t in result.trials:
            on_disk = (tmp_path / "trials" / f"trial_{t.trial_id:04d}" / "best.ckpt").exists()
            assert on_disk == (t.trial_id in held), t

"""Both sides of a benchmark's comparison defined and measured the same way.

``benchmarks/oneshot_darts.py`` compares each one-shot winner with the multi-trial search's
best trial. The multi-trial side is its best-``val_acc`` checkpoint; the one-shot side was
its fine-tune's last epoch (``benchmarks/oneshot.py`` had the same mismatch, fixed before),
and its warm-up ran the fixed subnet's training alone, so the first seed's searches paid
the first-call costs that the training they are divided by did not. Tiny settings (1
supernet epoch, 2 subnets); seeded, so the same epochs come back on every run.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from multiprocessing import forkserver
from pathlib import Path

import pytest
import torch

from lightning_nas.search.trial import quiet_lightning
from tests.helpers_benchmarks import NB201_TABLE, NB201_WHY, load_script


@pytest.fixture(scope="module")
def darts():
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    return load_script("oneshot_darts.py")


def _args(**settings) -> argparse.Namespace:
    base = {"spos_epochs": 1, "candidates": 2, "finetune": 3, "arch_lr": 0.01,
            "darts_epochs": 1, "gdas_epochs": 1, "trials": 1, "per_trial": 1,
            "mt_optimizer": "NGOpt", "algorithms": ["spos"]}
    return argparse.Namespace(**{**base, **settings})


def test_the_one_shot_winner_is_scored_at_its_best_val_checkpoint(darts, tmp_path):
    # the first seed whose fine-tune ends below its best epoch (by a sample or more: 1/360),
    # where the two definitions differ; which seed that is depends on the CPU's arithmetic
    # (seed 0's 3-epoch fine-tune peaked first on one machine, [0.6028, 0.5306, 0.4889], and
    # last on another, [0.6083, 0.5222, 0.6667]); with 6 epochs about a third of the seeds
    # do (seeds 4 and 7 of 0-7 on the second: [..., 0.9694, 0.9472]). Those seen to, 4, 6
    # and 7, go first (was: 0-3 first, 1.5-2.5 s each, that end at their best there); then
    # the rest of 0-15, so a machine whose arithmetic differs tries the same seeds as before
    seen = []
    for seed in (4, 6, 7, 0, 1, 2, 3, 5, *range(8, 16)):
        with quiet_lightning():
            run = darts.one_shot("spos", seed, _args(finetune=6), tmp_path / str(seed))
        epochs = run["val_epochs"]
        assert len(epochs) == 6, epochs
        seen.append(epochs)
        if max(epochs) > epochs[-1] + 1e-3:
            break
    else:
        pytest.fail(f"no seed of 0-15 has a fine-tune that ends below its best: {seen}")
    # was: the last epoch's val_acc (0.4889 where the best of the three was 0.6028)
    assert run["val"] == pytest.approx(max(epochs), abs=1e-4), (run["val"], epochs)


def test_the_warm_up_runs_every_timed_side(darts, tmp_path):
    with quiet_lightning():
        warmed = darts.warm_up(_args(algorithms=["spos", "gdas"]), tmp_path)
    # was: one_training(1, 0) alone, the one-shot and multi-trial sides cold in seed 0
    assert warmed == ["one training", "spos", "gdas", "multi-trial"]
    for side in ("ft_spos0", "ft_gdas0", "mt0"):  # each fine-tune, the multi-trial search
        assert (tmp_path / "warm_up" / side).is_dir(), side


def test_nb201_reports_the_seeds_its_defaults_were_not_tuned_on_by_default(capsys):
    if NB201_TABLE is None:
        pytest.skip(NB201_WHY)
    # the default strategy was chosen on seeds 0-29; 100-129 are held out (small_space.py
    # runs its held-out seeds by default too)
    summary = load_script("nb201.py").main(["--budget", "3", "--seeds", "2", "--overhead_trials",
                                      "0"])
    out = capsys.readouterr().out
    # was: no "heldout" in the JSON, and the table had the tuned seeds' column alone
    assert summary["heldout"]["seed_range"] == "100-129", summary.keys()
    assert summary["heldout"]["seeds"] == 30
    assert "held-out seeds 100-129 (n=30)" in out, out
    # '' leaves them out
    assert "heldout" not in load_script("nb201.py").main(
        ["--budget", "3", "--seeds", "2", "--overhead_trials", "0", "--heldout_seeds", ""])


def test_nb201_default_heldout_seeds_step_aside_for_seeds_that_name_them(capsys):
    if NB201_TABLE is None:
        pytest.skip(NB201_WHY)
    summary = load_script("nb201.py").main(["--budget", "3", "--seeds", "100-101",
                                      "--overhead_trials", "0"])
    out = capsys.readouterr().out
    # was: seeds 100 and 101 run twice, once as "held-out" (and pooled twice by --warm_start)
    assert "heldout" not in summary, summary["heldout"]["seed_range"]
    assert "held-out seeds 100-129 left out: --seeds 100-101 names some of them" in out, out


def test_small_space_default_heldout_seeds_step_aside_too(capsys):
    summary = load_script("small_space.py").main(["--budget", "4", "--seeds", "128-129",
                                            "--optuna-python", ""])
    out = capsys.readouterr().out
    assert "held-out seeds 100-129 left out: --seeds 128-129 names some of them" in out, out
    assert "heldout" not in summary["digits"], summary["digits"].keys()


def test_parallel_starts_the_fork_server_before_either_side_is_timed(tmp_path):
    # a process's first pool starts the fork server (torch and Lightning imported once), kept
    # for its later pools: the untimed warm-up starts it, so no side's cold wall holds that
    # import (was: round 0's first side, 1 worker, paid it alone: cold 15.2 s against 8.4 s
    # for 2 workers, warm 1.5 s and 1.6 s, in `parallel.py --quick` on 2 busy cores)
    parallel = load_script("parallel.py")
    assert hasattr(parallel, "warm_up"), "no untimed warm-up before the rounds"
    torch.set_num_threads(1)
    with quiet_lightning():
        parallel.warm_up(tmp_path)
    pid = forkserver._forkserver._forkserver_pid  # noqa: SLF001 - the server the pools fork from
    assert pid is not None and Path(f"/proc/{pid}").exists(), pid
    assert (tmp_path / "run").is_dir()  # its one timed-size trial ran on the warm pool


def test_parallel_reads_each_sides_time_on_a_core_apart_from_its_waits_for_one():
    # a trial's fit time is a wall clock: on a busy machine it holds the worker's waits for
    # a core, so one side's fits could be longer than the other's for the same work (a run
    # gave 13.3-17.7 s of fit with one worker against 12.3-15.7 s with two, the same 16
    # trials). The workers' time on a core and their waits for one, from /proc, tell the
    # work from the waits (was: the fit times alone)
    times = getattr(load_script("parallel.py"), "core_times", None)
    assert times is not None, "no time on a core of the workers: their fit times alone"
    ran, waited = times([os.getpid()])
    start = time.process_time()
    while time.process_time() - start < 0.2:  # 0.2 s on a core, in this process
        pass
    ran_after, waited_after = times([os.getpid()])
    assert ran_after - ran >= 0.15, (ran, ran_after)
    assert waited_after >= waited >= 0.0, (waited, waited_after)

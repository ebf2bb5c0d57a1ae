"""``benchmarks/overhead.py`` called in-process at its smallest (one trial of one epoch per
loop, one round): the figures that count what lightning_nas runs inside ``fit``, and the
check that both loops trained the same trial to the same score."""

from __future__ import annotations

import warnings

import pytest
import torch

from tests.helpers_benchmarks import load_script


def test_overhead_counts_what_lightning_nas_runs_inside_fit(capsys):
    threads = torch.get_num_threads()
    try:
        with warnings.catch_warnings():  # main ignores warnings: in this block only
            out = load_script("overhead.py").main(["--trials", "1", "--epochs", "1",
                                                   "--rounds", "1"])
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    # lightning_nas's callbacks run inside its fit timer, the hand-written loop has none:
    # the ratios to each loop's own fit leave them out (was: no paired figure but the
    # wall ratio, vs_handwritten)
    assert "fit_ratio" in out and "lnas_added_ms_per_trial" in out, sorted(out)
    assert out["fit_ratio"] > 0 and out["fit_ratio_spread"]["n"] == 1
    # the JSON's figure is the median over the rounds, as every other one
    assert out["lnas_added_ms_per_trial"] == pytest.approx(
        out["lnas_added_ms_per_trial_spread"]["median"])
    assert "lnas_added_ms_per_trial: median " in printed, printed
    # both loops trained the same architecture to the same score, to the last bit (was:
    # their architectures alone compared)
    assert ("round 0: same trials on both sides: 1 architecture in the same order, the same "
            "scores") in printed, printed

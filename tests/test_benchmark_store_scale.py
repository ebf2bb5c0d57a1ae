"""``benchmarks/store_scale.py`` called in-process on a store of 12 trials
of one optimizer, one round): what it prints beside each headline figure."""

from __future__ import annotations

import warnings

import torch

from lightning_nas.search.trial import quiet_lightning
from tests.helpers_benchmarks import load_script


def test_the_ms_outside_fit_print_their_spread_over_the_window(capsys):
    threads = torch.get_num_threads()
    try:
        with warnings.catch_warnings(), quiet_lightning():
            out = load_script("store_scale.py").main(
                ["--sizes", "12", "--optimizers", "RandomSearch", "--rounds", "1",
                 "--window", "2"])
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    # one search makes the store: the spread is over the window's trials (was: the median
    # alone, "outside fit 10.9 ms a trial (trials 2-3)", and no spread in the JSON)
    for end in ("first", "last"):
        assert f"RandomSearch_12_{end}_ms_spread" in out, sorted(out)
        assert out[f"RandomSearch_12_{end}_ms_spread"]["n"] == 2
        assert out[f"RandomSearch_12_{end}_ms"] == out[f"RandomSearch_12_{end}_ms_spread"]["median"]
        assert f"RandomSearch_12_{end}_ms: median " in printed, printed

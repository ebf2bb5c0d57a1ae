"""``benchmarks/ddp_trials.py`` called in-process (as a test or a notebook calls its
``main``): its one thread per process and its fresh-ranks switch hold for its own runs only,
the caller's environment and torch thread count as they were after (the smallest real case:
one DDP trial of two batches on each side, one round)."""

from __future__ import annotations

import os
import warnings

import pytest
import torch

from lightning_nas.search.runner import FRESH_RANKS
from tests.helpers_benchmarks import load_script


@pytest.mark.slow
def test_ddp_trials_leaves_the_callers_environment_and_threads_as_they_were(monkeypatch,
                                                                          capsys):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv(FRESH_RANKS, "0")  # the caller's own value, put back after
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with warnings.catch_warnings():  # main ignores warnings: in this block only
            out = load_script("ddp_trials.py").main(["--trials", "1", "--rounds", "1",
                                                     "--limit-batches", "2"])
        # was: OMP_NUM_THREADS=1 left set (in every process started after), FRESH_RANKS
        # popped by the last side, and one torch thread in the caller
        assert "OMP_NUM_THREADS" not in os.environ
        assert os.environ[FRESH_RANKS] == "0"
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert out["trials"] == 1 and out["limit_batches"] == 2 and out["speedup"] > 0
    assert ("round 0: same trials on both sides: 1 architecture in the same order, the same "
            "scores") in capsys.readouterr().out


def test_both_sides_train_the_batches_given_and_every_batch_by_default():
    settings = load_script("ddp_trials.py").trainer_settings  # what main gives both sides
    ddp = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 1}
    assert settings(1) == ddp  # the README's figures: every batch of the epoch
    assert settings(1, 2) == {**ddp, "limit_train_batches": 2, "limit_val_batches": 2}


def test_both_sides_must_have_trained_the_same_architectures_in_order_to_the_same_scores():
    same = load_script("ddp_trials.py").same_trials  # what main checks each round
    trials = [({"width": 16, "lr": 0.01}, 0.75), ({"width": 32, "lr": 0.003}, 0.5)]
    assert same(trials, list(trials)) == ("same trials on both sides: 2 architectures in the "
                                          "same order, the same scores")
    with pytest.raises(SystemExit, match=r"trial 1: reused \{'width': 16, 'lr': 0.01\} scored "
                                         r"0.75, fresh \{'width': 32, 'lr': 0.003\} scored 0.5"):
        same(trials, trials[::-1])  # the same architectures, in another order
    with pytest.raises(SystemExit, match=r"trial 2: reused .* scored 0.5, fresh .* scored 0.625"):
        same(trials, [trials[0], (trials[1][0], 0.625)])  # trained otherwise on one side
    with pytest.raises(SystemExit, match="reused ran 2 trials, fresh 1"):
        same(trials, trials[:1])


def test_each_side_starts_with_no_zygote_an_earlier_round_left_idle():
    # was: a round's search left its rank zygote idle for the next search of the process
    # (as a notebook's next cell wants), so every round after the first started the reused
    # side's ranks from a warm zygote: not "from no process at all", as the fresh side
    from lightning_nas.search.lifetime import child_env
    from lightning_nas.search.rank_zygote import release_zygotes, zygote_for

    zygote = zygote_for(child_env())
    if zygote is None:
        pytest.skip("no rank zygote on this platform (no os.fork or socket.send_fds)")
    release_zygotes()  # idle, as a search's end leaves it
    load_script("ddp_trials.py").cold_start()
    assert zygote.proc.poll() is not None

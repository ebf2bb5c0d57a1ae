"""Trials that overlap in threads of the search process (a ``ThreadPoolExecutor`` given as a
search's ``executor``, ``num_workers > 1``): torch's random streams, its flags and the seed
variables are the process's, shared by them. The caller's are as they were once the last
trial ends, and no trial's end puts them back while another trains; a seeded search warns
before its first trial that its trials' scores are not reproducible, and they are not.
Real Trainers, tiny fits."""

from __future__ import annotations

import os
import random
import threading
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from lightning_nas.results import TrialStatus
from lightning_nas.search.executor import FuturesExecutor
from lightning_nas.search.trial import fit_trial
from tests.helpers_search import tiny_search, tiny_spec

#: the events the trials of a test wait for, by name (a callback holds names: a Trainer's
#: settings are copied, and an event's lock cannot be)
_EVENTS: dict[str, threading.Event] = {}
#: what a trial saw while it trained, by its name
_SEEN: dict[str, dict[str, Any]] = {}
#: ``_Meet``'s barrier: set, each trial waits at its first training batch for the other
_MEET: dict[str, threading.Barrier] = {}


class _Overlap(pl.Callback):
    """Sets ``<name> in`` as its trial's fit starts; as its training ends, waits for the
    event ``until`` and notes what its trial sees then (torch's deterministic algorithms,
    ``PL_GLOBAL_SEED``)."""

    def __init__(self, name: str, until: str) -> None:
        self.name, self.until = name, until

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        _EVENTS[f"{self.name} in"].set()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        assert _EVENTS[self.until].wait(30), f"{self.until} never came"
        _SEEN[self.name] = {"deterministic": torch.are_deterministic_algorithms_enabled(),
                            "seed": os.environ.get("PL_GLOBAL_SEED")}


class _Meet(pl.Callback):
    """Holds its trial at its first training batch until the other trial is there too
    (``_MEET``'s barrier, when set): both train at once, whatever the threads' timing."""

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        barrier = _MEET.get("barrier")
        if barrier is not None and trainer.global_step == 0:
            barrier.wait(30)


def _torch_flags() -> tuple:
    return (torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.benchmark, os.environ.get("CUBLAS_WORKSPACE_CONFIG"))


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), torch.rand(1).item()


def test_trials_overlapping_in_threads_keep_the_flags_while_any_trains_and_then_the_callers(
        tmp_path, monkeypatch):
    # trial a enters first and ends first; trial b enters while a trains and ends after it:
    # a's end puts nothing back while b trains, b's (the last) puts back what a found
    for name in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS", "CUBLAS_WORKSPACE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    _seed_all(7)
    expected = _draws()
    _seed_all(7)
    flags = _torch_flags()
    _EVENTS.clear()
    _EVENTS.update({name: threading.Event() for name in ("a in", "b in", "a done")})
    _SEEN.clear()
    results: dict[str, Any] = {}

    def trial(name: str, until: str) -> None:
        trainer = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "deterministic": True,
                   "limit_train_batches": 1, "limit_val_batches": 1,
                   "callbacks": [_Overlap(name, until)]}
        results[name] = fit_trial(tiny_spec(tmp_path / name, {"width": 4}, trainer=trainer))

    def second() -> None:
        if _EVENTS["a in"].wait(30):
            trial("b", "a done")

    def first() -> None:
        try:
            trial("a", "b in")
        finally:
            _EVENTS["a done"].set()

    try:
        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        after = (_torch_flags(), os.environ.get("PL_GLOBAL_SEED"), _draws())
    finally:
        torch.use_deterministic_algorithms(flags[0], warn_only=flags[1])
        torch.backends.cudnn.benchmark = flags[2]
    assert {name: r.status for name, r in results.items()} == {
        "a": TrialStatus.COMPLETED, "b": TrialStatus.COMPLETED}, results
    # was: {'deterministic': False, 'seed': None}: a's end put back the caller's flags and
    # seed variables while b trained
    assert _SEEN["b"] == {"deterministic": True, "seed": "0"}
    # was: b's end put back what it found, a's: deterministic algorithms on, PL_GLOBAL_SEED
    # set, and the caller's streams those of a's seed_everything(0) and training
    assert after == (flags, None, expected)


_SAID = "trials in threads share torch's random state"
_TRAINER = {"max_epochs": 2, "accelerator": "cpu", "devices": 1}


def test_a_seeded_search_in_a_thread_pool_warns_that_its_trials_scores_are_not_reproducible(
        tmp_path):
    # the same seeded search inline and in a pool of two threads, the trials held so that
    # both train at once: the scores differ (each trial draws what the other draws too:
    # its initial weights, shuffles), and the pool's search warned of it before any trial
    # trained (was: no word; measured: width 4's val_loss after 2 epochs 1.1647 inline,
    # 0.9141 to 1.1638 in six runs in threads)
    trainer = {**_TRAINER, "callbacks": [_Meet()]}
    with warnings.catch_warnings(record=True) as inline_said:
        warnings.simplefilter("always")
        inline = tiny_search(tmp_path / "inline", {"width": {"choice": [4, 32]}}, trainer,
                             seed=0, budget=2, optimizer="RandomSearch", monitor="val_loss",
                             mode="min").run()
    assert not [w for w in inline_said if _SAID in str(w.message)]
    _MEET["barrier"] = threading.Barrier(2)
    try:
        with ThreadPoolExecutor(2) as pool:
            with pytest.warns(UserWarning, match=_SAID) as said:
                search = tiny_search(tmp_path / "threads", {"width": {"choice": [4, 32]}},
                                     trainer, seed=0, budget=2, optimizer="RandomSearch",
                                     monitor="val_loss", mode="min", executor=pool,
                                     num_workers=2)
            threaded = search.run()
    finally:
        _MEET.clear()
    text = str(next(w.message for w in said if _SAID in str(w.message)))
    assert "executor='process'" in text and "seed" in text, text
    curves = [{t.arch["width"]: t.curve for t in result.trials}
              for result in (inline, threaded)]
    assert sorted(curves[0]) == sorted(curves[1]) == [4, 32]
    assert all(len(curve) == 2 for curve in curves[1].values()), curves
    assert curves[0] != curves[1]


@pytest.mark.parametrize(("executor", "options", "warns"), [
    ("threads", {"num_workers": 2}, True),
    ("wrapped", {}, True),  # FuturesExecutor(pool, num_workers=2)
    ("threads", {"num_workers": 2, "seed": None}, False),  # unseeded: nothing promised
    ("threads", {}, False),  # one trial at a time
    ("one thread", {"num_workers": 2}, False),  # the pool runs one at a time
    ("processes", {"num_workers": 2}, False),
    ("threads", {"num_workers": 2, "trainer": {**_TRAINER, "devices": 2,
                                               "strategy": "ddp"}}, False),  # rank processes
], ids=["pool", "FuturesExecutor", "unseeded", "one-worker", "one-thread", "process-pool",
        "ddp-ranks"])
def test_which_searches_in_executors_warn_of_shared_random_state(tmp_path, executor, options,
                                                                   warns):
    # said as the search is made, before anything trains; only where seeded trials would
    # train at once in threads of this process
    with ThreadPoolExecutor(2) as two, ThreadPoolExecutor(1) as one:
        pools = {"threads": two, "one thread": one,
                 "wrapped": FuturesExecutor(two, num_workers=2),
                 "processes": ProcessPoolExecutor(2)}
        try:
            kw = {"seed": 0, "executor": pools[executor], **options}
            trainer = kw.pop("trainer", _TRAINER)
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always")
                tiny_search(tmp_path, {"width": {"choice": [4, 32]}}, trainer, budget=2,
                            **kw)
        finally:
            pools["processes"].shutdown()
    assert any(_SAID in str(w.message) for w in said) is warns, [str(w.message) for w in said]

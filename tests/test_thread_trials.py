"""Trials that overlap in threads of the search process (a ``ThreadPoolExecutor`` given as a
search's ``executor``, ``num_workers > 1``): torch's random streams, its flags and the seed
variables are the process's, shared by them. The caller's are as they were once the last
trial ends, and no trial's end puts them back while another trains. Real Trainers, tiny
fits."""

from __future__ import annotations

import os
import random
import threading
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from lightning_nas.results import TrialStatus
from lightning_nas.search.trial import fit_trial
from tests.helpers_search import tiny_spec

#: the events the trials of a test wait for, by name (a callback holds names: a Trainer's
#: settings are copied, and an event's lock cannot be)
_EVENTS: dict[str, threading.Event] = {}
#: what a trial saw while it trained, by its name
_SEEN: dict[str, dict[str, Any]] = {}


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

"""Shared fixtures: one torch thread (2-core machines), tiny Trainer settings."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)

#: Trainer settings of a fast real trial
TINY_TRAINER = {"max_epochs": 2, "accelerator": "cpu", "devices": 1}
#: a small space over tests.helpers.TinyNet
TINY_SPACE = {
    "width": {"choice": [4, 8, 16, 32]},
    "activation": {"choice": ["relu", "tanh"]},
    "lr": {"float": [0.02, 0.3], "log": True},
}


@pytest.fixture(autouse=True)
def _no_ranks_left():
    """DDP ranks a test kept (``run_trial`` outside a search) end with the test."""
    yield
    from lightning_nas.search.ranks import close_rank_groups

    close_rank_groups()


@pytest.fixture
def tiny_trainer() -> dict:
    return dict(TINY_TRAINER)


@pytest.fixture
def tiny_space() -> dict:
    return {k: dict(v) for k, v in TINY_SPACE.items()}

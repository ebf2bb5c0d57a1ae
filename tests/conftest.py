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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``-n 2 --maxschedchunk 1``, the README's test command), the
    ``slow`` tests go first: each worker takes the next test when it is done, so both end
    together instead of one running a minute-long test after the other ran out."""
    if hasattr(config, "workerinput"):  # an xdist worker (every one sorts the same way)
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _no_ranks_left():
    """DDP ranks a test kept (``run_trial`` outside a search) end with the test."""
    yield
    from lightning_nas.search.ranks import close_rank_groups

    close_rank_groups()


@pytest.fixture(scope="session")
def _zygote(tmp_path_factory):
    from tests.launcher import Launcher

    zygote = Launcher(tmp_path_factory.mktemp("launcher"))
    yield zygote
    zygote.close()


@pytest.fixture
def launcher(_zygote):
    """``tests.launcher.Launcher``: search processes forked from one that imported the
    training stack once (started on first use, shared by the session)."""
    yield _zygote
    _zygote.reset()


@pytest.fixture
def tiny_trainer() -> dict:
    return dict(TINY_TRAINER)


@pytest.fixture
def tiny_space() -> dict:
    return {k: dict(v) for k, v in TINY_SPACE.items()}

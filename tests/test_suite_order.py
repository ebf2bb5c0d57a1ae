"""The order the xdist workers run the suite in (``tests/conftest.py``'s
``pytest_collection_modifyitems``), on the real items of a few test files collected in this
session: nothing runs, nothing trains."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import slow_first

#: test files (in the order pytest collects them) whose slow tests read two shared runs,
#: each read by several of them: conftest's ``ddp_search`` and the ``ddp_spawn`` sweep of
#: ``tests.helpers_hydra_spawn`` (``split_sweep`` and ``spawn_sweep``, one fixture each file)
FILES = ("test_distributed.py", "test_hydra_split_job.py", "test_hydra_sweeper_processes.py",
         "test_rank_sync.py")
#: each shared run's fixtures, as the test files name them
RUNS = ({"ddp_search"}, {"split_sweep", "spawn_sweep"})


def _items(session: pytest.Session) -> list[pytest.Item]:
    """The items of ``FILES``, collected as this session collects them."""
    items: list[pytest.Item] = []
    for name in FILES:
        module = pytest.Module.from_parent(session, path=Path(__file__).parent / name)
        items += [item for item in module.collect() if isinstance(item, pytest.Item)]
    return items


def test_the_slow_tests_that_read_a_run_a_slow_test_before_them_read_go_after_the_others(
        request: pytest.FixtureRequest):
    # was untested: a shared-run fixture that stopped taking shared_run (so the hook no
    # longer saw its tests read a run) put its readers back next to the first one, the other
    # xdist worker waiting for the whole run, and nothing said so
    items = _items(request.session)
    slow = [item for item in items if item.get_closest_marker("slow")]
    later: list[pytest.Item] = []  # the slow readers of a run after its first one
    for fixtures in RUNS:
        readers = [item for item in slow if fixtures & set(item.fixturenames)]
        assert len(readers) >= 2, fixtures  # (the files still share the run)
        later += readers[1:]
    expected = ([item for item in slow if item not in later]
                + [item for item in slow if item in later]
                + [item for item in items if item not in slow])  # (each in collection order)
    slow_first(items)
    assert [item.nodeid for item in items] == [item.nodeid for item in expected]

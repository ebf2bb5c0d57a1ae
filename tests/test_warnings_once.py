"""A warning the user's code (or Lightning) makes from one line is shown once per process
for the whole search, as a plain loop of ``Trainer.fit`` calls shows it (Python's
``default`` action), not once per trial; the user's filters still decide (``always``,
``ignore``, ``error``). Real searches of ``WarnsInWorker``, which warns the user's own
warning in each training step; the workers' side is ``test_warning_lines``'."""

from __future__ import annotations

import warnings

import pytest

from lightning_nas.errors import SearchError
from lightning_nas.search.warnings_once import warnings_once
from tests.helpers_config import USERS_OWN, WarnsInWorker
from tests.helpers_search import tiny_search

SPACE = {"width": {"choice": [4, 8, 16]}}
TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "limit_train_batches": 1,
           "limit_val_batches": 1}


def _search(tmp_path, budget: int):
    return tiny_search(tmp_path / "run", SPACE, dict(TRAINER), model=WarnsInWorker,
                       budget=budget, seed=0, optimizer="RandomSearch").run()


def _own(said: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in said if USERS_OWN in str(w.message)]


def test_a_users_warning_is_shown_once_a_search_not_once_a_trial(tmp_path):
    # was: 3 (each trial's warnings filters made Python forget it had shown it)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("default")  # as Python shows a script's warnings
        result = _search(tmp_path, budget=3)
    assert len(result.trials) == 3
    assert len(_own(said)) == 1, _own(said)


@pytest.mark.parametrize(("action", "where", "shown"), [
    ("always", {"module": r"tests\.helpers_config"}, 2),  # the module the warning is made in
    ("ignore", {"message": USERS_OWN}, 0),
])
def test_a_filter_the_user_set_before_the_search_still_decides(tmp_path, action, where, shown):
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("default")
        warnings.filterwarnings(action, **where)
        _search(tmp_path, budget=2)
    assert len(_own(said)) == shown, _own(said)


def test_a_filter_that_makes_the_warning_an_error_still_raises_it(tmp_path):
    # as `python -W error` or PYTHONWARNINGS=error would: the trial fails with it
    with warnings.catch_warnings(), pytest.raises(SearchError, match=USERS_OWN):
        warnings.filterwarnings("error", message=USERS_OWN)
        _search(tmp_path, budget=1)


def _warn_three_times() -> None:
    for _ in range(3):
        with warnings.catch_warnings():  # as a trial's filters: Python forgets what it showed
            warnings.filterwarnings("ignore", message="something else")
        warnings.warn("made here", UserWarning, stacklevel=1)


def test_a_repeat_is_dropped_while_held_and_shown_after():
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("default")
        kept = warnings.showwarning
        with warnings_once(), warnings_once():  # nested (a search in a trial): held once
            _warn_three_times()
        assert warnings.showwarning is kept  # put back
        _warn_three_times()  # no longer held: as Python does (was and is)
    assert [str(w.message) for w in said] == ["made here"] * 4

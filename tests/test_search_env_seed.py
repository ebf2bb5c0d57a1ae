"""``Search(...)`` from Python seeds with its ``seed`` (default 0), never with
``PL_GLOBAL_SEED`` (which a ``pl.seed_everything(7)`` called before sets, and a config
search reads): it warns once where that variable holds another seed and no seed= is given."""

from __future__ import annotations

import warnings

import lightning.pytorch as pl
import pytest

from lightning_nas import Search
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

SPACE = {"width": {"choice": [4, 16]}}


def _said(tmp_path, **options) -> list[str]:
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        Search(TinyNet, SPACE, data=BlobData, run_dir=tmp_path, verbose=False, **options)
    return [str(w.message) for w in said if "PL_GLOBAL_SEED" in str(w.message)]


def test_a_seed_everything_before_a_search_without_seed_is_warned_of(tmp_path, monkeypatch):
    # was: without a word, the search seeded with 0 (measured: trial 1's val_loss that of
    # seed=0), where the user's seed_everything(7) reads as the search's seed
    monkeypatch.setenv("PL_GLOBAL_SEED", "0")  # (restored after the test)
    pl.seed_everything(7, verbose=False)
    said = _said(tmp_path)
    assert said == [
        "PL_GLOBAL_SEED=7 (a seed_everything(7) called before, say) is not this search's "
        "seed, 0: Search seeds nevergrad and every trial with its own seed= (default 0), "
        "never with the environment's; give Search(..., seed=7) to search with it"], said


@pytest.mark.parametrize(("environ", "options"), [
    ("7", {"seed": 7}), (None, {}), (None, {"seed": 3}), ("7", {"seed": 3}),
    ("7", {"seed": 0})])
def test_no_word_where_the_environment_agrees_holds_no_seed_or_seed_is_given(tmp_path, monkeypatch,
                                                                  environ, options):
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    if environ is not None:
        monkeypatch.setenv("PL_GLOBAL_SEED", environ)
    # a seed= given is the user's choice: no word of the environment's (was: warned of)
    assert _said(tmp_path, **options) == []

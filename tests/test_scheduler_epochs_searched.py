"""Schedulers under a searched ``trainer.check_val_every_n_epoch``: each value the space
may give is judged as a fixed one is, against the epochs of the search's trials (the
search's ``max_epochs`` where it gives one, else the Trainer's), before anything trains."""

from __future__ import annotations

import re

import pytest

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.search.schedulers import MedianRule
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


@pytest.mark.parametrize("scheduler, trainer_epochs, search_epochs", [
    ("median", 4, None), (MedianRule(min_trials=1), 4, None), ("median", 8, 4)],
    ids=["median", "rule-object", "search-max-epochs"])
def test_a_searched_validation_interval_that_validates_only_at_the_last_epoch_is_refused(
        tmp_path, scheduler, trainer_epochs, search_epochs):
    # old code: Failed: DID NOT RAISE (trials drawing 4 validate at their last epoch only,
    # where the rule's verdict stops nothing: never judged)
    name = scheduler if isinstance(scheduler, str) else type(scheduler).__name__
    with pytest.raises(ConfigError, match="^" + re.escape(
            f"space key 'trainer.check_val_every_n_epoch' may take 4: scheduler {name!r} "
            f"judges a trial at the epochs it validates from min_epochs=1 on, but "
            f"trainer.check_val_every_n_epoch=4 validates after epochs 4, 8, ... only: the "
            f"first of them from epoch 1 on, 4, is a trial's last epoch (max_epochs=4), where "
            f"a verdict stops nothing, so it would never stop a trial; give "
            f"check_val_every_n_epoch a value that validates an epoch from 1 to 3 (1 does), "
            f"or leave 4 out of the space key's values, or search without a scheduler") + "$"):
        Search(TinyNet, {"width": {"choice": [4, 8]},
                         "trainer.check_val_every_n_epoch": {"choice": [1, 4]}},
               data=BlobData, budget=2, trainer={"max_epochs": trainer_epochs},
               scheduler=scheduler, max_epochs=search_epochs, run_dir=tmp_path / "run",
               verbose=False)
    assert not (tmp_path / "run").exists()  # refused before anything trained or was written


def test_a_searched_validation_interval_that_validates_before_the_last_epoch_is_taken(
        tmp_path):
    # the search's max_epochs 4 (not the Trainer's 8) is a trial's last epoch: 2 validates
    # after epoch 2, before it, where the rule judges it
    Search(TinyNet, {"width": {"choice": [4, 8]},
                     "trainer.check_val_every_n_epoch": {"choice": [1, 2]}},
           data=BlobData, budget=2, trainer={"max_epochs": 8}, scheduler="median",
           max_epochs=4, run_dir=tmp_path / "run", verbose=False)

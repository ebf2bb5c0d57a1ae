"""A fine-tune given its epochs as a Trainer setting (``trainer={"max_epochs": N}``,
``--trainer.max_epochs N``) keeps the search's ``max_steps`` and ``max_time``, as
LightningCLI merges a setting over the search's: it says so before training, naming how to
drop them, where they limit it. Real searches and fine-tunes of ``TinyNet`` on blobs
(3 steps an epoch)."""

from __future__ import annotations

import warnings

import pytest

from lightning_nas import Search, finetune
from lightning_nas.results import TrialStatus
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


@pytest.fixture(scope="module")
def step_limited(tmp_path_factory):
    """A search whose trials stop at the search's ``max_steps: 6`` (2 epochs of 3 steps)."""
    run = tmp_path_factory.mktemp("kept") / "run"
    Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=1, run_dir=run,
           trainer={"max_epochs": 3, "max_steps": 6, "accelerator": "cpu", "devices": 1},
           verbose=False).run()
    return run


def test_a_trainers_max_epochs_beside_the_searchs_step_limit_is_warned_of(step_limited,
                                                                        tmp_path):
    # was: no word; 4 epochs asked, 2 trained (the search's max_steps: 6 kept)
    with pytest.warns(UserWarning) as said:
        tuned = finetune(step_limited, trainer={"max_epochs": 4}, out_dir=tmp_path / "a")
    assert tuned.status is TrialStatus.COMPLETED and tuned.epochs == 2
    text = "\n".join(str(w.message) for w in said)
    assert "max_epochs=4 keeps the search's max_steps=6" in text, text
    assert "the best trial trained 2 epochs under it" in text
    assert "give max_epochs=4 instead (--max_epochs 4), which drops them" in text
    assert "max_steps: -1" in text


def test_no_word_where_the_step_limit_is_dropped_or_given(step_limited, tmp_path):
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        tuned = finetune(step_limited, trainer={"max_epochs": 3, "max_steps": -1},
                         out_dir=tmp_path / "b")
    assert tuned.epochs == 3 and not [w for w in said if "keeps the search's" in str(w.message)]

"""``lightning_nas.config.own_copies``: each build of a trial's model and data gets its own
copy of the fixed arguments that a model may change (real searches, tiny model)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lightning_nas import Search
from lightning_nas.config.own_copies import holds_weights, is_plain_data, own_copies
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

TRAINER = dict(max_epochs=1, limit_train_batches=1, limit_val_batches=1, logger=False,
               enable_progress_bar=False)


class PoppingNet(TinyNet):
    """Takes its optimizer's name out of the settings it is given (``opt.pop("name")``)."""

    def __init__(self, width: int = 4, opt: dict | None = None) -> None:
        opt.pop("name")
        super().__init__(width=width, lr=opt["lr"])


class TaggedData(BlobData):
    """Notes each build in a list it is given."""

    def __init__(self, n: int = 32, seen: list | None = None) -> None:
        super().__init__(n=n)
        seen.append("built")
        self.builds = len(seen)


def test_fixed_arguments_a_model_changes_are_each_builds_own(tmp_path):
    # was: model_init_args={"opt": {...}} passed the same dict to every build: the checks
    # before training popped 'name' from it, and trials 1 and 2 failed the same way
    # ("KeyError: 'name'"), the search stopped; the caller's dict lost its key
    torch.set_num_threads(1)
    opt, seen = {"name": "sgd", "lr": 0.1}, []
    result = Search(PoppingNet, {"width": {"choice": [4, 8]}}, model_init_args={"opt": opt},
                    data=TaggedData, data_init_args={"seen": seen}, trainer=TRAINER,
                    budget=2, seed=0, run_dir=tmp_path / "run", optimizer="RandomSearch",
                    verbose=False).run()
    assert [t.status.value for t in result.trials] == ["COMPLETED"] * 2
    assert opt == {"name": "sgd", "lr": 0.1} and seen == []  # the caller's, as given


def test_weights_are_copied_together_and_other_objects_passed_as_given():
    backbone = nn.Linear(2, 2)
    given = {"a": backbone, "b": [backbone], "fn": print, "cfg": {"k": [1, 2.0, None]}, "n": 3}
    mine = own_copies(given)
    assert mine["a"] is not backbone and mine["b"][0] is mine["a"]  # shared stays shared
    assert mine["fn"] is print and mine["n"] == 3
    assert mine["cfg"] == given["cfg"] and mine["cfg"] is not given["cfg"]


@pytest.mark.parametrize(("value", "plain", "weights"), [
    ({"a": [1, "x", None, True]}, True, False), ((1, 2), True, False), ([print], False, False),
    (3, False, False), ({"m": nn.Linear(1, 1)}, False, True), ([torch.zeros(1)], False, True),
])
def test_what_counts_as_plain_data_and_as_weights(value, plain, weights):
    assert (is_plain_data(value), holds_weights(value)) == (plain, weights)

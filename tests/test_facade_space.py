"""``Search(model, space)``'s ``space`` argument: a YAML file named by a path (``str`` or
``os.PathLike``, a leading ``~`` expanded), as a config's ``search.space`` takes one; and
the refusal of a group's value that fails for every sampled architecture, naming its space
key as every other value refused before training is named.

Nothing trains: each ``Search`` is only made (its checks and dry build run).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from lightning_nas import Choice, Search
from lightning_nas.errors import ConfigError
from tests.helpers import BlobData, TinyNet

torch.set_num_threads(1)

def _search(space, run_dir: Path, model=TinyNet) -> Search:
    return Search(model, space, data=BlobData, trainer={"max_epochs": 1, "logger": False},
                  budget=2, run_dir=run_dir, seed=0, verbose=False)


class HeadNet(TinyNet):
    """A dict argument whose annotation takes int values: a group of strings never fits."""

    def __init__(self, head: dict[str, int] | None = None, lr: float = 0.05) -> None:
        super().__init__(lr=lr)


@pytest.mark.parametrize("space", [
    {"head": {"act": Choice(["relu", "gelu"])}, "lr": Choice([0.05, 0.1])},
    {"head": {"act": Choice(["relu", "gelu"]), "w": Choice([1, 2])}},
])
def test_a_groups_value_that_fits_no_architecture_names_its_space_key(tmp_path, space):
    # was: "model.head={'act': 'gelu'}: expected dict[str, int] ...", no space key named
    # (every other value refused before training says "space key ... may take ...")
    with pytest.raises(ConfigError) as err:
        _search(space, tmp_path / "run", model=HeadNet)
    assert re.match(r"space key 'head' may take \{'act': '(relu|gelu)'.*\}: model\.head=\{",
                    str(err.value)), err.value
    assert "expected dict[str, int] or null (the annotation of HeadNet.__init__)" in str(
        err.value)
    assert not (tmp_path / "run").exists()

"""A fine-tune applies the search's group checks (``ModelFactory.check_groups``) to what it
builds: the best trial's groups over the ``model_init_args`` it builds with (the store's,
a dataclass instance built again, and those given). A group over an instance of another
class than the one the argument is annotated with (the class given as ``finetune(model=...)``,
or the search's edited since) is refused before training, in the search's words (was: each
fine-tune quietly got the annotated class, or a dict, built from the group's dict over the
instance's fields).

One real one-trial search (a group over a ``NetConfig`` instance) is fine-tuned; the
refusals train nothing and leave no folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from torch import nn

from lightning_nas import Choice, Search, finetune
from lightning_nas.errors import ConfigError
from tests.helpers_data import BlobData
from tests.helpers_models import ClassifierSteps
from tests.helpers_records import DEEP, NetConfig

torch.set_num_threads(1)

TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False,
           "enable_progress_bar": False}
SPACE = {"net": {"hidden": Choice([2, 4])}}
GIVEN = {"net": NetConfig(hidden=16)}


@dataclass
class Wider(NetConfig):
    """A subclass of ``NetConfig``, with its own default."""

    hidden: int = 32


class DeepNet(ClassifierSteps, pl.LightningModule):
    """``net`` annotated with ``NetConfig``."""

    built: list[Any] = []  # the ``net`` of each model built

    def __init__(self, net: NetConfig = DEEP) -> None:
        super().__init__()
        DeepNet.built.append(net)
        self.layers = nn.Sequential(nn.Linear(8, net.hidden), nn.ReLU(), nn.Linear(net.hidden, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


class LooseNet(DeepNet):
    """``net`` without an annotation: a group's dict is passed as it is."""

    def __init__(self, net=None) -> None:
        super().__init__(NetConfig(**net) if isinstance(net, dict) else net or NetConfig())
        DeepNet.built[-1] = net


class WiderNet(DeepNet):
    """``net`` annotated with the subclass ``Wider``."""

    def __init__(self, net: Wider = Wider()) -> None:  # noqa: B008
        super().__init__(net)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = tmp_path_factory.mktemp("groups") / "run"
    Search(DeepNet, SPACE, data=BlobData, model_init_args=GIVEN, trainer=TRAINER, budget=1,
           run_dir=run, seed=0, verbose=False).run()
    return run


@pytest.mark.parametrize("model", [LooseNet, WiderNet])
def test_a_finetune_refuses_the_group_over_an_instance_the_search_refuses(run, model):
    with pytest.raises(ConfigError) as searched:  # the search's own refusal, nothing trained
        Search(model, SPACE, data=BlobData, model_init_args=GIVEN, trainer=TRAINER,
               budget=1, run_dir=run.parent / "other", seed=0, verbose=False)
    folders, built = sorted(run.iterdir()), len(DeepNet.built)
    with pytest.raises(ConfigError) as tuned:  # (was: trained a dict, or a Wider)
        finetune(run, max_epochs=1, from_checkpoint=False, model=model)
    assert str(tuned.value) == str(searched.value)
    assert sorted(run.iterdir()) == folders and len(DeepNet.built) == built


def test_the_search_s_own_model_fine_tunes_the_group_over_the_instance(run):
    result = finetune(run, max_epochs=1, from_checkpoint=False)  # (was: refused, asking
    hidden = result.arch["net"]["hidden"]  # for net again)
    assert result.error is None and DeepNet.built[-1] == NetConfig(hidden=hidden, depth=1)

"""A fit warns, before training, of what a search warns of in the callbacks its module's
``configure_callbacks()`` returns, as of its Trainer's: an ``EarlyStopping`` judging another
metric than the fit's monitor (or it the other way round), and ``max_epochs: -1`` with
nothing that ends the fit. Real configs, a real Trainer built by the checks (nothing
trained by the fit's), a real search (one tiny trial) for the search's words.

Example:
    >>> StopsOnLoss().configure_callbacks()[0].monitor
    'val_loss'
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
from lightning.pytorch.callbacks import EarlyStopping

from lightning_nas import Search
from lightning_nas.fit import fit_spec
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

__all__ = ["StopsOnLoss"]

_CFG = {"model": {"class_path": f"{__name__}.StopsOnLoss"},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False, "enable_model_summary": False}}


class StopsOnLoss(TinyNet):
    """``TinyNet`` whose own callbacks stop it on ``val_loss`` (EarlyStopping's default
    mode, ``min``)."""

    def configure_callbacks(self) -> list[Any]:
        return [EarlyStopping("val_loss", patience=3)]


def _cfg(**trainer: Any) -> dict[str, Any]:
    return {**_CFG, "trainer": {**_CFG["trainer"], **trainer}}


def test_a_fit_warns_of_its_modules_early_stopping_on_another_metric_as_a_search_does(
        tmp_path):
    # was: the search warned, the fit of the same module said nothing
    said = "the model's configure_callbacks() (EarlyStopping) monitors 'val_loss' (min), "
    with pytest.warns(UserWarning, match=re.escape(f"{said}the search 'val_acc' (max): a "
                                                   f"trial stops when val_loss stops")):
        Search(StopsOnLoss, {"width": {"choice": [4, 8]}}, data=BlobData, budget=1, seed=0,
               trainer={**_CFG["trainer"], "limit_train_batches": 2},
               run_dir=tmp_path / "run", verbose=False).run()
    with pytest.warns(UserWarning, match=re.escape(f"{said}the fit 'val_acc' (max): the fit "
                                                   f"stops when val_loss stops")):
        fit_spec(_cfg(), out_dir=tmp_path / "fit", monitor="val_acc", mode="max")
    with pytest.warns(UserWarning, match=re.escape(
            "configure_callbacks() (EarlyStopping) monitors 'val_loss' with mode 'min', but "
            "the fit maximises it: the fit stops while val_loss improves")):
        fit_spec(_cfg(), out_dir=tmp_path / "fit", monitor="val_loss", mode="max")
    with warnings.catch_warnings():  # its own metric, its way: no word
        warnings.filterwarnings("error", message=".*EarlyStopping")
        fit_spec(_cfg(), out_dir=tmp_path / "fit", monitor="val_loss", mode="min")


def test_a_fit_without_an_end_is_warned_of_unless_its_module_stops_it(tmp_path):
    # was: the search warned of max_epochs: -1 with nothing to end a trial, the fit said
    # nothing and trained for ever; a module's EarlyStopping ends it, as a search's trial
    endless = {**_cfg(max_epochs=-1), "model": {"class_path": "tests.helpers.TinyNet"}}
    with pytest.warns(UserWarning, match=r"trainer.max_epochs=-1 is Lightning's 'no limit', "
                                         r"and no max_steps, max_time, EarlyStopping "
                                         r"callback or Timer with a duration ends the fit"):
        fit_spec(endless, out_dir=tmp_path / "fit", monitor="val_loss", mode="min")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="trainer.max_epochs=-1")
        fit_spec(_cfg(max_epochs=-1), out_dir=tmp_path / "fit", monitor="val_loss",
                 mode="min")

"""Each value of a decision is run on the first training batch before any step: a value
the layers after it cannot take (a plain ``BatchNorm1d`` after a width choice) is refused
naming the label and the value, for SPOS, DARTS and GDAS alike."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
from torch import nn

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.choices import ChoiceLinear, LayerChoice
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet


class PlainNormAfterWidth(TinySupernet):
    """A plain ``BatchNorm1d(16)`` after the width choice: only width 16 fits it."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(ChoiceLinear(8, [4, 8, 16], label="hidden"), nn.BatchNorm1d(16),
                                 LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act"),
                                 ChoiceLinear(16, 3, label="out"))


def _trainer(tmp_path, callbacks=()) -> pl.Trainer:
    return pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False,
                      enable_progress_bar=False, enable_model_summary=False,
                      enable_checkpointing=False, default_root_dir=tmp_path,
                      callbacks=list(callbacks))


def test_spos_refuses_a_width_the_layers_after_it_cannot_take(tmp_path):
    # was: torch's "running_mean should contain 4 elements not 16" at the first step that
    # sampled hidden=4 (or in the search after training), a traceback
    callback = OneShotNAS(num_candidates=4, export_dir=str(tmp_path / "out"), seed=0)
    trainer = _trainer(tmp_path, [callback])
    with pytest.raises(ConfigError, match=r"choice 'hidden': OneShotNAS .* hidden=4 does not "
                                          r"fit the network: RuntimeError: running_mean "
                                          r"should contain 4 elements not 16"):
        trainer.fit(PlainNormAfterWidth(), datamodule=BlobData())
    assert trainer.global_step == 0 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("algorithm", ["darts", "gdas"])
def test_darts_and_gdas_refuse_a_width_the_layers_after_it_cannot_take(tmp_path, algorithm):
    # was: DARTS trained (its mixed forward masks the widest width) and failed with torch's
    # error scoring or exporting its argmax after training
    nas = DifferentiableNAS(PlainNormAfterWidth(), algorithm=algorithm,
                            export_dir=str(tmp_path / "out"))
    trainer = _trainer(tmp_path)
    with pytest.raises(ConfigError, match=rf"choice 'hidden': {algorithm.upper()} .* "
                                          r"hidden=\d+ does not fit the network"):
        trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert trainer.global_step == 0 and not (tmp_path / "out").exists()


def test_a_supernet_whose_values_all_fit_trains(tmp_path):
    callback = OneShotNAS(num_candidates=2, export_dir=str(tmp_path / "out"), seed=0)
    _trainer(tmp_path, [callback]).fit(TinySupernet(), datamodule=BlobData())
    assert callback.best_arch is not None and (tmp_path / "out" / "subnet.pt").is_file()

"""The guards of a ``best.ckpt`` written for LightningCLI (``TrialSpec.cli_model``): a config
run's fit gives its ``best.ckpt`` the ``_class_path`` and ``_instantiator`` a LightningCLI
checkpoint holds even when Ctrl-C interrupts it (its ``last.ckpt``, lightning_nas's own to
resume from, left as it trained), while a fine-tune of a Python search keeps its
``best.ckpt``'s hyperparameters as the module saved them (a CLI made for the fixed class
reads it, and ``load_from_checkpoint`` builds that class without jsonargparse)."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from lightning_nas import Search, finetune
from lightning_nas.cli import main
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


def _hparams(path: Path) -> dict:
    """The ``hyper_parameters`` of the checkpoint at ``path``."""
    return torch.load(path, map_location="cpu", weights_only=False)["hyper_parameters"]


def test_a_fit_interrupted_by_ctrl_c_writes_its_best_ckpt_for_lightningcli(tmp_path, capsys):
    # the interrupt's branch of run_trial rewrites best.ckpt with the config's model section,
    # as a completed fit's (was untested: users_in_place(best) without it left it bare)
    config = tmp_path / "fit.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 5,
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"width": 8}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1}}))
    ctrl_c = ("--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtEpoch, "
              "init_args: {epoch: 1}}]")  # after epoch 0 validated
    out = tmp_path / "fit"
    assert main(["fit", str(config), ctrl_c, "--out", str(out)]) == 130
    assert "the fit is unfinished" in capsys.readouterr().err
    saved = _hparams(out / "best.ckpt")
    assert saved["_class_path"] == "tests.helpers.TinyNet" and saved["width"] == 8
    assert saved["_instantiator"] == "lightning.pytorch.cli.instantiate_module"
    # the checkpoint to resume from is lightning_nas's own: left as it trained
    assert "_class_path" not in _hparams(out / "last.ckpt")


def test_a_finetune_of_a_python_search_keeps_the_modules_own_hyperparameters(
        tmp_path, tiny_space, tiny_trainer):
    # cli_model is set for a config run only: a Python search's best.yaml model section is
    # a class_path node too, which would give its best.ckpt a `_class_path` (was untested)
    run = tmp_path / "run"
    Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1, run_dir=run,
           verbose=False).run()
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["model"]["class_path"] == "tests.helpers.TinyNet"  # what it would use
    result = finetune(run, max_epochs=1)
    saved = _hparams(Path(result.checkpoint))
    assert "_class_path" not in saved and "_instantiator" not in saved
    assert saved == {**saved, **best["arch"]}
    loaded = TinyNet.load_from_checkpoint(result.checkpoint)  # the fixed class, as saved
    assert type(loaded) is TinyNet and loaded.hparams.width == best["arch"]["width"]

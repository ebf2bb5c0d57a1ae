"""A submodule the user put in eval mode (a frozen BatchNorm) stays in eval mode through
lightning_nas's own eval/train round trips (the first-batch checks, scoring, the export), as
Lightning keeps it through validation: its running statistics never train."""

from __future__ import annotations

import json

import lightning.pytorch as pl
import pytest
import torch
import yaml
from torch import nn

from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.module import NASModule
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.finetune import finetune_subnet
from lightning_nas.oneshot.scoring import calibrate_batchnorm, default_forward
from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages, cpu_trainer, val_accuracy

#: Lightning's note of a module in eval mode at the start of training: frozen on purpose
pytestmark = pytest.mark.filterwarnings("ignore:Found 1 module.s. in eval mode")


class FrozenHead(BatchNormSupernet):
    """``BatchNormSupernet`` whose head BatchNorm (``net[7]``) is frozen in ``__init__``."""

    def __init__(self) -> None:
        super().__init__()
        self.net[7].eval()


class FrozenSeen(pl.Callback):
    """The frozen BatchNorm's mode at each training batch, of the supernet itself or of the
    one ``DifferentiableNAS`` wraps."""

    def __init__(self) -> None:
        self.modes: list[bool] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        net = getattr(pl_module, "supernet", pl_module).net
        self.modes.append(net[7].training)


def _check(net: nn.Sequential, seen: FrozenSeen) -> None:
    assert seen.modes == [False] * 4  # was: True from the first batch's check on
    assert net[7].training is False and net[0].training is True  # after scoring, export
    assert torch.equal(net[7].running_mean, torch.zeros(8))  # never trained
    assert int(net[7].num_batches_tracked) == 0


def test_spos_keeps_a_frozen_submodule_in_eval_mode(tmp_path):
    pl.seed_everything(0, verbose=False)
    model, seen, data = FrozenHead(), FrozenSeen(), BlobImages()
    callback = OneShotNAS(num_candidates=2, calibration_batches=1, search_every_n_epochs=1)
    cpu_trainer(tmp_path, [seen, callback], max_epochs=2, limit_train_batches=2,
                limit_val_batches=1, enable_checkpointing=False
                ).fit(model, datamodule=data)
    _check(model.net, seen)
    frozen = callback.subnet[7]  # scored and exported with the statistics it was frozen with
    assert torch.equal(frozen.running_mean, torch.zeros(8))  # was: calibrated
    assert int(frozen.num_batches_tracked) == 0
    assert val_accuracy(callback.subnet, data) == callback.best_score


def test_darts_keeps_a_frozen_submodule_in_eval_mode(tmp_path):
    pl.seed_everything(0, verbose=False)
    model, seen = FrozenHead(), FrozenSeen()
    nas = DifferentiableNAS(model, num_classes=3, top_k=2, calibration_batches=1)
    cpu_trainer(tmp_path, [seen], max_epochs=2, limit_train_batches=2, limit_val_batches=1,
                enable_checkpointing=False).fit(nas, datamodule=BilevelData(BlobImages()))
    _check(model.net, seen)


@pytest.mark.filterwarnings("ignore:NASModule's builder")
def test_nasmodule_output_check_keeps_a_frozen_submodule_in_eval_mode():
    net = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))
    net[1].eval()
    module = NASModule(lambda arch: net, num_classes=3, example_input_array=torch.zeros(2, 8))
    module.check_output_width()
    assert module.training is True and net[0].training is True
    assert net[1].training is False  # was: True


def test_calibration_leaves_a_frozen_batchnorm_as_it_is():
    net = nn.Sequential(nn.BatchNorm1d(2), nn.BatchNorm1d(2))
    net[1].eval()  # frozen: in eval mode while the network trains
    batches = [(torch.randn(4, 2) + 5, None)]
    calibrate_batchnorm(net, default_forward, batches)
    assert net[0].running_mean.min() > 1
    assert torch.equal(net[1].running_mean, torch.zeros(2))  # was: calibrated
    assert int(net[1].num_batches_tracked) == 0
    assert [net.training, net[0].training, net[1].training] == [True, True, False]
    net.eval()  # all in eval mode (a validation): none can be told frozen, all calibrated
    calibrate_batchnorm(net, default_forward, batches)
    assert int(net[1].num_batches_tracked) == 1


def _untrained(norm: nn.Module) -> bool:
    """Whether the BatchNorm ``norm`` holds the statistics it was made with."""
    return torch.equal(norm.running_mean, torch.zeros(8)) and int(norm.num_batches_tracked) == 0


def test_finetune_subnet_keeps_the_frozen_submodules_of_the_search(tmp_path):
    # was: the subnet fine-tuned all in training mode (subnet.pt is saved all in eval mode,
    # finetune_subnet called .train()), so the head BatchNorm the user froze trained
    pl.seed_everything(0, verbose=False)
    data = BlobImages()
    callback = OneShotNAS(num_candidates=2, calibration_batches=1, search_every_n_epochs=None,
                          export_dir=str(tmp_path / "run"))
    cpu_trainer(tmp_path, [callback], max_epochs=1, limit_train_batches=2, limit_val_batches=1,
                enable_checkpointing=False).fit(FrozenHead(), datamodule=data)
    assert yaml.safe_load((tmp_path / "run" / "best_arch.yaml").read_text()).get(
        "frozen") == ["7"]
    assert callback.frozen == ["7"]
    seen = FrozenSeen()  # its net[7] at each training batch of the fine-tune
    module, _ = finetune_subnet(callback.subnet, data, 2, frozen=callback.frozen, num_classes=3,
                                trainer={"accelerator": "cpu", "devices": 1,
                                         "limit_train_batches": 2, "limit_val_batches": 1,
                                         "callbacks": [seen]})
    assert seen.modes == [False] * 4  # in eval mode after Lightning's validation too
    assert _untrained(module.net[7]) and not _untrained(module.net[1])


def test_show_of_a_oneshot_folder_says_what_was_frozen(tmp_path, capsys):
    # was: best_arch.yaml's `frozen` said by neither show's table nor its JSON, so a user
    # who torch.load()s subnet.pt and fine-tunes it was not told to pass frozen=
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=2, calibration_batches=1, search_every_n_epochs=None,
                          export_dir=str(tmp_path / "run"))
    cpu_trainer(tmp_path, [callback], max_epochs=1, limit_train_batches=2, limit_val_batches=1,
                enable_checkpointing=False).fit(FrozenHead(), datamodule=BlobImages())
    assert main(["show", str(tmp_path / "run")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert ("frozen: 7 (in eval mode while the supernet trained; a fine-tune of subnet.pt "
            "keeps them so with finetune_subnet(net, ..., frozen=['7']))") in lines, lines
    assert main(["show", str(tmp_path / "run"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["frozen"] == ["7"]


def test_finetune_subnet_names_a_frozen_name_it_does_not_hold():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    with pytest.raises(ConfigError, match=r"frozen: '2' is no submodule of the subnet "
                                          r"\(Sequential\); its submodules: '0', '1'"):
        finetune_subnet(net, None, 1, frozen=["2"])


def test_darts_records_the_frozen_submodules(tmp_path):
    pl.seed_everything(0, verbose=False)
    nas = DifferentiableNAS(FrozenHead(), num_classes=3, calibration_batches=1,
                            export_dir=str(tmp_path / "run"))
    cpu_trainer(tmp_path, [], max_epochs=1, limit_train_batches=2, limit_val_batches=1,
                enable_checkpointing=False).fit(nas, datamodule=BilevelData(BlobImages()))
    best = yaml.safe_load((tmp_path / "run" / "best_arch.yaml").read_text())
    assert best.get("frozen") == ["7"]  # was: not recorded
    assert nas.frozen == ["7"] and _untrained(nas.subnet[7])


def test_lightning_nas_oneshot_finetunes_with_the_frozen_submodules_frozen(tmp_path):
    from lightning_nas.oneshot.run import run_oneshot

    cfg = {"model": "tests.test_oneshot_frozen_modes.FrozenHead",
           "data": "tests.helpers_oneshot_fit.BlobImages",
           "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                       "limit_train_batches": 2, "limit_val_batches": 1,
                       "enable_checkpointing": False},
           "oneshot": {"num_candidates": 2, "calibration_batches": 1, "num_classes": 3,
                       "seed": 0, "run_dir": str(tmp_path / "run"), "finetune_epochs": 1}}
    run_oneshot(cfg, verbose=False)
    tuned = torch.load(tmp_path / "run" / "subnet_finetuned.pt", weights_only=False)
    assert _untrained(tuned[7])  # was: its statistics trained in the fine-tune
    assert not _untrained(tuned[1])


def test_darts_refuses_a_network_torch_save_cannot_pickle_before_training(tmp_path):
    model, seen = FrozenHead(), FrozenSeen()
    model.net.act_fn = lambda x: x  # torch.save cannot pickle it
    nas = DifferentiableNAS(model, num_classes=3, export_dir=str(tmp_path / "run"))
    with pytest.raises(ConfigError, match="export_dir: subnet.pt .torch.save. cannot hold"):
        cpu_trainer(tmp_path, [seen], max_epochs=1, limit_train_batches=2, limit_val_batches=1,
                    enable_checkpointing=False).fit(nas, datamodule=BilevelData(BlobImages()))
    assert seen.modes == []  # said before training (was: a pickling error after it)

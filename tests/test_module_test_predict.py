"""``NASModule``'s ``test_step`` and ``predict_step``: ``trainer.test`` and ``trainer.predict``
on the module a search exported (``best.ckpt``), as on any LightningModule."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
import yaml
from torch.utils.data import DataLoader, TensorDataset

from lightning_nas import NASModule, Search
from lightning_nas.errors import ConfigError
from tests.helpers_data import BlobData, TwoValBlobData
from tests.helpers_nets import build_mlp

#: a NASModule of two metrics over build_mlp (8 inputs, 3 classes)
INIT = {"builder": "tests.helpers.build_mlp", "num_classes": 3,
        "metrics": {"acc": "accuracy", "f1": "f1"}}


class ValAsTest(BlobData):
    """``BlobData`` whose test loader is its validation loader."""

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()


def _trainer(root) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", default_root_dir=root, logger=False,
                      enable_progress_bar=False, enable_model_summary=False)


def test_the_best_checkpoint_tests_to_the_score_its_validation_stored(tmp_path):
    # was: "No `test_step()` method defined to run `Trainer.test`." on the exported module
    run = tmp_path / "run"
    result = Search(NASModule, {"width": {"choice": [4, 8]}}, model_init_args=INIT,
                    data=BlobData, trainer={"max_epochs": 2, "accelerator": "cpu",
                                            "devices": 1},
                    budget=1, run_dir=run, seed=0, verbose=False).run()
    best = result.best
    model = NASModule.load_from_checkpoint(run / "best.ckpt")
    tested = _trainer(tmp_path).test(model, datamodule=ValAsTest(), verbose=False)[0]
    assert set(tested) == {"test_loss", "test_acc", "test_f1"}
    assert tested["test_acc"] == best.score == yaml.safe_load(
        (run / "best.yaml").read_text())["score"]  # the same data, the same weights
    assert tested["test_f1"] == best.metrics["val_f1"]
    assert tested["test_loss"] == pytest.approx(best.metrics["val_loss"], rel=1e-6)


def test_a_test_after_fit_has_metric_objects_of_its_own(tmp_path):
    torch.manual_seed(0)
    module = NASModule(**INIT, width=8, lr=0.05)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", default_root_dir=tmp_path,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(module, datamodule=ValAsTest())
    validated = {k: float(v) for k, v in trainer.callback_metrics.items()}
    # validation metrics left holding a batch (a fit stopped mid-validation, Ctrl-C)
    x, y = torch.randn(16, 8), torch.zeros(16, dtype=torch.long)
    for metric in module.val_metrics.values():
        metric.update(module(x), y)
    tested = trainer.test(module, datamodule=ValAsTest(), verbose=False)[0]
    assert {k: tested[f"test_{k[4:]}"] for k in ("val_acc", "val_f1")} == {
        k: validated[k] for k in ("val_acc", "val_f1")}
    assert tested["test_loss"] == pytest.approx(validated["val_loss"], rel=1e-6)
    # no new hyperparameter nor state: checkpoints written before test_step still load
    assert set(module.state_dict()) == set(NASModule(**INIT, width=8).state_dict())
    assert set(module.hparams) == {"builder", "loss", "metrics", "num_classes", "task",
                                   "optimizer", "lr", "weight_decay", "optimizer_kwargs",
                                   "arch", "width"}


def test_several_test_loaders_log_each_loaders_metrics(tmp_path):
    torch.manual_seed(0)
    module = NASModule(**INIT, width=8)
    data = TwoValBlobData(n=128, batch_size=32)
    data.setup("fit")
    trainer = _trainer(tmp_path)
    both = trainer.test(module, dataloaders=data.val_dataloader(), verbose=False)
    for i, loader in enumerate(data.val_dataloader()):  # each its own metric objects
        alone = trainer.test(module, dataloaders=loader, verbose=False)[0]
        assert both[i] == pytest.approx({f"{key}/dataloader_idx_{i}": value
                                         for key, value in alone.items()})
    assert both[0]["test_acc/dataloader_idx_0"] != both[1]["test_acc/dataloader_idx_1"]


def test_predict_returns_the_networks_output_for_pairs_and_bare_inputs(tmp_path):
    # was: Lightning's predict_step passed the whole (x, y) batch to the network:
    # "linear(): argument 'input' (position 1) must be Tensor, not list"
    module = NASModule(build_mlp, num_classes=3, width=4)
    x, y = torch.randn(10, 8), torch.zeros(10, dtype=torch.long)
    trainer = _trainer(tmp_path)
    for data in (TensorDataset(x, y), TensorDataset(x), x):  # pairs, (x,), bare tensors
        out = trainer.predict(module, dataloaders=DataLoader(data, batch_size=4))
        assert [tuple(o.shape) for o in out] == [(4, 3), (4, 3), (2, 3)]
        with torch.no_grad():
            assert torch.allclose(torch.cat(out), module(x))


def test_a_test_or_predict_batch_of_another_shape_is_named():
    module = NASModule(build_mlp, num_classes=3, width=4)
    x, y = torch.zeros(4, 8), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ConfigError, match=r"NASModule.test_step takes batches of \(input, "
                                          r"target\), got a tuple of 3 items.*override "
                                          r"test_step"):
        module.test_step((x, y, torch.ones(4)), 0)
    for batch, got in (((x, y, torch.ones(4)), "a tuple of 3 items"),
                       ({"x": x}, r"a dict with keys \['x'\]"), ([], "a list of 0 items")):
        with pytest.raises(ConfigError, match=r"NASModule.predict_step takes batches of "
                                              r"\(input, target\), \(input,\) or input "
                                              rf"tensors, got {got}.*override predict_step"):
            module.predict_step(batch, 0)

"""``BilevelData``: an epoch is one pass over the training batches, each paired with an
architecture batch; the user's datamodule hooks, batch hooks and hparams pass on; and
validation over several loaders logs each loader's metric."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from tests.helpers_data import BlobData, TwoValBlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot_fit import plain_trainer


def test_validation_on_several_loaders_logs_each_loaders_metric(tmp_path):
    # was: Lightning refused DifferentiableNAS.validation_step (no dataloader_idx); one
    # metric updated by both loaders would log the accuracy of both for each
    torch.manual_seed(0)  # weights whose accuracies on the two loaders differ (0.34, 0.03;
    nas = DifferentiableNAS(TinySupernet(), num_classes=3)  # was unseeded: equal once)
    data = TwoValBlobData(n=128, batch_size=32)
    data.setup("fit")
    both = plain_trainer(tmp_path).validate(nas, dataloaders=data.val_dataloader(), verbose=False)
    for i, loader in enumerate(data.val_dataloader()):
        alone = plain_trainer(tmp_path).validate(nas, dataloaders=loader, verbose=False)[0]
        assert both[i][f"val_acc/dataloader_idx_{i}"] == pytest.approx(alone["val_acc"])
        assert both[i][f"val_loss/dataloader_idx_{i}"] == pytest.approx(alone["val_loss"])
    assert both[0]["val_acc/dataloader_idx_0"] != both[1]["val_acc/dataloader_idx_1"]


class _LongValBlobData(BlobData):
    """``BlobData`` with its splits swapped: 64 training samples (2 batches of 32), 192
    validation samples (6 batches), unshuffled."""

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        self.train_set, self.val_set = self.val_set, self.train_set


class _PairsSeen(pl.Callback):
    def __init__(self) -> None:
        self.pairs: list[tuple[float, float]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.pairs.append((float(batch["train"][0].sum()), float(batch["arch"][0].sum())))


@pytest.mark.parametrize("algorithm", ["darts", "gdas"])
@pytest.mark.parametrize("limit", [None, 1])
def test_an_epoch_is_one_pass_over_the_training_batches(tmp_path, algorithm, limit):
    # was: max_size_cycle cycled the training loader when the validation loader was
    # longer: 6 weight steps per epoch over 2 training batches
    data = _LongValBlobData(batch_size=32, shuffle=False)
    data.setup("fit")
    train = [float(x.sum()) for x, _ in data.train_dataloader()]
    arch = [float(x.sum()) for x, _ in data.val_dataloader()]
    assert (len(train), len(arch)) == (2, 6)
    seen = _PairsSeen()
    nas = DifferentiableNAS(TinySupernet(), algorithm=algorithm, num_classes=3)
    trainer = plain_trainer(tmp_path, max_epochs=2, limit_val_batches=1, callbacks=[seen],
                            **({} if limit is None else {"limit_train_batches": limit}))
    trainer.fit(nas, datamodule=BilevelData(_LongValBlobData(batch_size=32, shuffle=False)))
    per_epoch = list(zip(train, arch, strict=False))[:limit or 2]
    assert trainer.num_training_batches == len(per_epoch)
    assert seen.pairs == pytest.approx(per_epoch * 2)  # the validation loader restarts
    # the training loader the shorter one: the validation loader is cycled within an epoch
    seen = _PairsSeen()
    data = BlobData(n=256, batch_size=32, shuffle=False)  # 6 training, 2 validation batches
    data.setup("fit")
    arch = [float(x.sum()) for x, _ in data.val_dataloader()]
    plain_trainer(tmp_path, max_epochs=1, limit_val_batches=1, callbacks=[seen]).fit(
        DifferentiableNAS(TinySupernet(), algorithm=algorithm, num_classes=3),
        datamodule=BilevelData(BlobData(n=256, batch_size=32, shuffle=False)))
    assert [a for _, a in seen.pairs] == pytest.approx(arch * 3)


def _as_dict(items: list) -> dict[str, torch.Tensor]:
    return {"x": torch.stack([x for x, _ in items]), "y": torch.stack([y for _, y in items])}


class _DictBlobs(BlobData):
    """Blobs as ``{"x", "y"}`` batches that its own batch hooks turn into ``(x, y)`` on the
    device; records the hooks Lightning calls on it (and the batches they get)."""

    def __init__(self, n: int = 64, batch_size: int = 32, seed: int = 7) -> None:
        super().__init__(n=n, batch_size=batch_size)
        self.save_hyperparameters()
        self.prepare_data_per_node = False
        self.calls: list[tuple[str, Any]] = []

    def setup(self, stage: str) -> None:
        self.calls.append(("setup", stage))
        super().setup(stage)

    def teardown(self, stage: str) -> None:
        self.calls.append(("teardown", stage))

    def on_exception(self, exception: BaseException) -> None:
        self.calls.append(("on_exception", type(exception).__name__))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, collate_fn=_as_dict)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.batch_size, collate_fn=_as_dict)

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        self.calls.append(("before", sorted(batch)))
        return batch

    def transfer_batch_to_device(self, batch: Any, device: torch.device,
                                 dataloader_idx: int) -> Any:
        self.calls.append(("transfer", sorted(batch)))
        return {key: value.to(device) for key, value in batch.items()}

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        self.calls.append(("after", sorted(batch)))
        return batch["x"], batch["y"]


class _FailInFirstStep(pl.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        raise RuntimeError("stopped by a test")


def test_bilevel_data_passes_lightnings_datamodule_hooks_and_hparams_on(tmp_path):
    # was: the user's datamodule got only setup (no teardown, no on_exception), its batch
    # hooks were dropped (here: KeyError 0 on its dict batches) and a DARTS checkpoint had
    # datamodule_hyper_parameters None where a plain fit's holds them
    runs = {}
    for name in ("plain", "darts"):
        data = _DictBlobs()
        model = TinySupernet() if name == "plain" else DifferentiableNAS(TinySupernet(),
                                                                         num_classes=3)
        trainer = plain_trainer(tmp_path, max_epochs=1, limit_train_batches=2)
        trainer.fit(model, datamodule=data if name == "plain" else BilevelData(data))
        trainer.save_checkpoint(tmp_path / f"{name}.ckpt")
        runs[name] = data.calls, torch.load(tmp_path / f"{name}.ckpt", weights_only=False)
    (plain, plain_ckpt), (darts, darts_ckpt) = runs["plain"], runs["darts"]
    lifecycle = [call for call in darts if call[0] in ("setup", "teardown")]
    assert lifecycle == [c for c in plain if c[0] in ("setup", "teardown")] == [
        ("setup", "fit"), ("teardown", "fit")]
    # every batch hook ran on the datamodule's own batches (each part of a training pair)
    for hook in ("before", "transfer", "after"):
        got = [batch for kind, batch in darts if kind == hook]
        assert got and all(batch == ["x", "y"] for batch in got), hook
        assert len(got) >= 2 * 2  # both parts of 2 training batches, and validation's
    for key in ("datamodule_hyper_parameters", "datamodule_hparams_name"):
        assert darts_ckpt[key] == plain_ckpt[key], key
    assert darts_ckpt["datamodule_hyper_parameters"] == {"n": 64, "batch_size": 32, "seed": 7}
    assert BilevelData(_DictBlobs()).prepare_data_per_node is False
    data = _DictBlobs()
    with pytest.raises(RuntimeError, match="stopped by a test"):
        plain_trainer(tmp_path, max_epochs=1, callbacks=[_FailInFirstStep()]).fit(
            DifferentiableNAS(TinySupernet(), num_classes=3), datamodule=BilevelData(data))
    assert ("on_exception", "RuntimeError") in data.calls


class _AugmentedBlobs(BlobData):
    """Training-only augmentation both ways: in a batch hook (``trainer.training``) and in
    the training loader's ``collate_fn``."""

    def train_dataloader(self) -> DataLoader:
        def shifted(items):
            x, y = torch.utils.data.default_collate(items)
            return x + 500.0, y
        return DataLoader(self.train_set, batch_size=self.batch_size, collate_fn=shifted)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        x, y = batch
        assert dataloader_idx == 0
        return (x + 1000.0 if self.trainer.training else x), y


class _PartSpy(DifferentiableNAS):
    def training_step(self, batch: Any, batch_idx: int) -> None:
        self.seen = {part: float(batch[part][0].abs().min()) for part in ("train", "arch")}
        return super().training_step(batch, batch_idx)


@pytest.mark.parametrize("algorithm", ["darts", "gdas"])
def test_batch_hooks_see_the_arch_batches_as_training_ones_and_collate_fn_does_not(
        tmp_path, algorithm):
    # as documented (README, BilevelData): a hook's train-only augmentation reaches the
    # architecture's validation batches (trainer.training True, dataloader_idx 0 for both
    # parts); the training loader's collate_fn reaches the weights' batches alone
    model = _PartSpy(TinySupernet(), num_classes=3, algorithm=algorithm)
    plain_trainer(tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=1).fit(
        model, datamodule=BilevelData(_AugmentedBlobs()))
    assert model.seen["train"] > 1400  # collate_fn and hook
    assert 900 < model.seen["arch"] < 1100  # the hook only


class _TwoTrainBlobData(BlobData):
    """``BlobData`` whose ``train_dataloader()`` returns two loaders (a dict)."""

    def train_dataloader(self) -> dict[str, DataLoader]:
        return {"a": super().train_dataloader(), "b": super().train_dataloader()}


def test_several_training_loaders_are_refused_before_training(tmp_path):
    # was: "DifferentiableNAS reads each batch as (x, y) ...; its first batch is a str" (a
    # key of the dict), which named neither the loaders nor what to do
    nas = DifferentiableNAS(TinySupernet(), num_classes=3)
    start = {k: v.detach().clone() for k, v in nas.state_dict().items()}
    with pytest.raises(ConfigError, match=r"data _TwoTrainBlobData: train_dataloader\(\) "
                                          r"returns 2 training loaders, but .*one"):
        plain_trainer(tmp_path, max_epochs=1).fit(nas, datamodule=BilevelData(_TwoTrainBlobData()))
    assert all(torch.equal(v, start[k]) for k, v in nas.state_dict().items())

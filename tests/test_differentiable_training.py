"""DARTS and GDAS trained with real Trainers: the logits learned, logged and the calibrated
argmax exported, GDAS's sampling and temperature, the wrapped module's loss, optimizer and
validation hooks, bf16 and 16-mixed precision with clipping, and ``alphas.json`` by each
epoch's end."""

from __future__ import annotations

import copy
import csv
import itertools
import json
import math
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins import MixedPrecision
from torch import nn
from torch.nn import functional as F

from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.choices import ChoiceModule
from lightning_nas.oneshot.derive import top_archs
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.mixed import mixed
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages, plain_trainer, val_accuracy


def test_top_archs_are_the_most_probable_architectures():
    choices = {"a": [1, 2, 3], "b": ["x", "y"], "c": [4, 5]}
    probs = {"a": [0.2, 0.5, 0.3], "b": [0.45, 0.55], "c": [0.9, 0.1]}
    every = sorted(((dict(zip(choices, v, strict=True)),
                     math.prod(probs[k][choices[k].index(x)] for k, x in zip(choices, v,
                                                                              strict=True)))
                    for v in itertools.product(*choices.values())), key=lambda t: -t[1])
    ranked = top_archs(choices, probs, k=4)
    assert [a for a, _ in ranked] == [a for a, _ in every[:4]]
    assert all(math.isclose(p, q) for (_, p), (_, q) in zip(ranked, every[:4], strict=True))



@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_derived_arch_refuses_a_k_that_is_no_count(k):
    # was: k=-1 returned all architectures but the least probable, k=0 an empty list
    nas = DifferentiableNAS(TinySupernet(), num_classes=3)
    with pytest.raises(ConfigError, match=r"k must be an integer >= 1, got "):
        nas.derived_arch(k)
    with pytest.raises(ConfigError, match=r"k must be an integer >= 1"):
        top_archs(nas.choices, nas.probabilities(), k)

def test_darts_learns_logits_logs_them_and_exports_the_calibrated_argmax(tmp_path, recwarn):
    pl.seed_everything(0, verbose=False)
    nas = DifferentiableNAS(BatchNormSupernet(), num_classes=3, arch_lr=0.05, top_k=3,
                            export_dir=str(tmp_path / "out"))
    initial = {k: v.detach().clone() for k, v in nas.alphas.items()}
    data = BlobImages(n=250)  # batches of 64 against the validation split's 63
    trainer = plain_trainer(tmp_path, logger=CSVLogger(tmp_path, name="log"))
    trainer.fit(nas, datamodule=BilevelData(data))
    # each loss is logged with its own batch's size: Lightning need not guess from the pair
    assert not [w for w in recwarn if "ambiguous collection" in str(w.message)]
    assert [h["epoch"] for h in nas.history] == [1, 2, 3]
    assert all(not torch.allclose(v, initial[k]) for k, v in nas.alphas.items())
    with open(next((tmp_path / "log").rglob("metrics.csv"))) as f:  # the Trainer's logger
        rows = [r for r in csv.DictReader(f) if r.get("alpha/act/relu")]
    assert len(rows) == 3 and all(
        abs(float(r["alpha/act/relu"]) + float(r["alpha/act/tanh"]) - 1) < 1e-6 for r in rows)
    assert float(rows[-1]["alpha/c1/8"]) == pytest.approx(nas.probabilities()["c1"][1])
    # the three most probable architectures were scored; the best one is exported
    probs = [c["probability"] for c in nas.scored]
    assert len(nas.scored) == 3 and probs == sorted(probs, reverse=True)
    assert nas.scored[0]["arch"] == nas.derived_arch()
    assert nas.best_score == max(c["score"] for c in nas.scored)
    assert not any(isinstance(m, ChoiceModule) for m in nas.subnet.modules())
    saved = torch.load(tmp_path / "out" / "subnet.pt", weights_only=False)
    for subnet in (nas.subnet, saved):  # scores what the search reports (own BN statistics)
        assert val_accuracy(subnet, data) == nas.best_score
    best = yaml.safe_load((tmp_path / "out" / "best_arch.yaml").read_text())
    assert best["arch"] == nas.best_arch and best["algorithm"] == "darts"
    alphas = json.loads((tmp_path / "out" / "alphas.json").read_text())
    assert alphas["history"] == nas.history and alphas["values"]["c1"] == [4, 8]
    assert (tmp_path / "out" / "alphas.png").stat().st_size > 1000
    # a checkpoint saved after the fit loads into a fresh module (was: "Unexpected key(s) in
    # state_dict: subnet.0.weight, ...": the exported subnet was registered as a submodule)
    trainer.save_checkpoint(tmp_path / "after.ckpt")
    state = torch.load(tmp_path / "after.ckpt", weights_only=False)["state_dict"]
    assert not any(key.startswith("subnet.") for key in state)
    DifferentiableNAS(BatchNormSupernet(), num_classes=3).load_state_dict(state)


def test_gdas_runs_one_sampled_candidate_and_anneals_tau(tmp_path):
    pl.seed_everything(0, verbose=False)
    model = TinySupernet()
    calls = {name: 0 for name in model.net[1].candidates}
    for name, op in model.net[1].candidates.items():  # training forwards only
        op.register_forward_hook(lambda m, i, o, name=name: calls.__setitem__(
            name, calls[name] + m.training))
    nas = DifferentiableNAS(model, algorithm="gdas", num_classes=3, arch_lr=0.05)
    plain_trainer(tmp_path, limit_val_batches=0).fit(nas, datamodule=BilevelData(BlobData()))
    assert sum(calls.values()) == 3 * 3 * 2  # 3 epochs x 3 steps x (arch + weights) forwards
    assert all(n > 0 for n in calls.values())  # sampled, not always the same
    assert [round(h["tau"], 4) for h in nas.history] == [10.0, 1.0, 0.1]
    linear = DifferentiableNAS(TinySupernet(), algorithm="gdas", tau_schedule="linear")
    assert [linear.temperature(e, 3) for e in range(3)] == pytest.approx([10.0, 5.05, 0.1])
    weights, index = nas.mixing_weights(sample=True, key=3)
    again = nas.mixing_weights(sample=True, key=3)[1]
    assert index == again  # a step's sample depends on (seed, epoch, batch) only
    assert all(torch.equal(weights[k].detach(), F.one_hot(torch.tensor(i), len(weights[k]))
                           .float()) for k, i in index.items())


def test_a_wrapped_lightning_module_gives_its_loss_and_optimizer(tmp_path):
    class Counting(TinySupernet):
        steps = 0
        seen: list[tuple[int, int]] = []

        def training_step(self, batch, batch_idx):
            Counting.steps += 1
            # its Trainer is the wrapper's: the epoch reads as in a plain fit
            Counting.seen.append((self.current_epoch, self.trainer.current_epoch))
            self.log("its_own_loss", 1.0)  # dropped, not an error
            self.log_dict({"its_own_dict": 2.0})
            return {"loss": super().training_step(batch, batch_idx)}

    pl.seed_everything(0, verbose=False)
    nas = DifferentiableNAS(Counting(), num_classes=3)
    trainer = plain_trainer(tmp_path, max_epochs=2, limit_val_batches=0)
    trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert Counting.steps == 2 * 3 * 2  # its training_step is the loss of both updates
    assert Counting.seen == [(0, 0)] * 6 + [(1, 1)] * 6
    assert "its_own_dict" not in trainer.logged_metrics
    assert isinstance(nas.optimizers()[0].optimizer, torch.optim.SGD)
    assert nas.optimizers()[0].optimizer.param_groups[0]["lr"] == 0.05
    assert "its_own_loss" not in trainer.logged_metrics and "train_loss" in trainer.logged_metrics
    plain = DifferentiableNAS(nn.Sequential(*TinySupernet().net), optimizer="adam", lr=0.01)
    assert plain.loss_fn is F.cross_entropy
    assert isinstance(plain.configure_optimizers()[0], torch.optim.Adam)


def test_the_wrapped_modules_configure_callbacks_join_the_fit(tmp_path):
    # as in a plain fit of the module (and SPOS): was dropped without a word, so its
    # EarlyStopping never stopped a DARTS/GDAS fit and its other callbacks never ran
    class Counting(pl.Callback):
        epochs = 0

        def on_train_epoch_end(self, trainer, pl_module):
            Counting.epochs += 1

    class WithCallbacks(TinySupernet):
        def configure_callbacks(self):
            return [Counting(), EarlyStopping(monitor="train_loss", stopping_threshold=1e9)]

    pl.seed_everything(0, verbose=False)
    nas = DifferentiableNAS(WithCallbacks(), num_classes=3)
    trainer = plain_trainer(tmp_path, max_epochs=3, limit_val_batches=0)
    trainer.fit(nas, datamodule=BilevelData(BlobData()))
    assert trainer.current_epoch == 1 and Counting.epochs == 1  # stopped by its EarlyStopping
    assert nas.best_arch is not None


def test_an_optimizer_beside_the_first_and_its_scheduler_are_warned_of(recwarn):
    # was: dropped without a word, so the weights trained at the first lr throughout (the
    # first optimizer's own schedulers step: tests/test_differentiable_schedulers.py)
    class Scheduled(TinySupernet):
        def configure_optimizers(self):
            sgd, adam = torch.optim.SGD(self.parameters(), lr=0.5), torch.optim.Adam(
                self.parameters())
            return [sgd, adam], [
                {"scheduler": torch.optim.lr_scheduler.StepLR(sgd, 1), "interval": "step"},
                torch.optim.lr_scheduler.StepLR(adam, 1)]

    with pytest.warns(UserWarning, match=r"Scheduled.configure_optimizers returns the optimizer "
                                         r"Adam and the lr scheduler StepLR beside its first "
                                         r"optimizer \(SGD\), which DifferentiableNAS does not "
                                         r"use: the weights train with SGD \(lr 0.5\) and its "
                                         r"own lr schedulers alone"):
        DifferentiableNAS(Scheduled()).configure_optimizers()
    recwarn.clear()
    DifferentiableNAS(TinySupernet()).configure_optimizers()  # one optimizer: nothing said
    assert not [w for w in recwarn if "configure_optimizers" in str(w.message)]


@pytest.mark.parametrize("algorithm", ["darts", "gdas"])
def test_the_logits_batches_leave_the_batchnorm_statistics_to_the_training_batches(
        tmp_path, algorithm):
    # held-out inputs 1000 away from the training ones: the logits' steps run on them in
    # training mode, and were: averaged into the running statistics (the largest running
    # variance 5301), with which validation and an export without calibration scored them
    class FarValidation(BlobImages):
        def setup(self, stage=None):
            super().setup(stage)
            x, y = self.val_set.tensors
            self.val_set = torch.utils.data.TensorDataset(x + 1000.0, y)

    pl.seed_everything(0, verbose=False)
    nas = DifferentiableNAS(BatchNormSupernet(), algorithm=algorithm, num_classes=3,
                            calibration_batches=0)
    plain_trainer(tmp_path, max_epochs=1, limit_val_batches=0, num_sanity_val_steps=0).fit(
        nas, datamodule=BilevelData(FarValidation()))
    norms = [m for m in nas.supernet.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert max(float(m.running_var.max()) for m in norms) < 10
    assert max(float(m.running_mean.abs().max()) for m in norms) < 10


def test_validate_after_a_fit_adds_no_epoch_to_the_history(tmp_path):
    # was: each trainer.validate() appended a phantom epoch max_epochs + 1
    nas = DifferentiableNAS(TinySupernet(), num_classes=3, export_dir=str(tmp_path / "out"))
    trainer = plain_trainer(tmp_path, max_epochs=2)
    trainer.fit(nas, datamodule=BilevelData(BlobData()))
    fitted = copy.deepcopy(nas.history)
    assert [h["epoch"] for h in fitted] == [1, 2]
    for _ in range(2):
        trainer.validate(nas, datamodule=BilevelData(BlobData()), verbose=False)
    assert nas.history == fitted and nas.alpha_history()["history"] == fitted
    # a copy: changing it changes nothing of the module (was: its values were the module's)
    values = copy.deepcopy(nas.choices)
    for decision in nas.alpha_history()["values"].values():
        decision.clear()
    assert nas.choices == values and all(values.values())


class _SmoothedSupernet(TinySupernet):
    """A training loss of its own (label smoothing, an L2 penalty) and a validation_step
    logging the plain cross-entropy as ``val_loss``."""

    train_calls = 0

    def training_step(self, batch, batch_idx):
        _SmoothedSupernet.train_calls += 1
        x, y = batch
        self.log("inner_train_loss", 1.0)
        l2 = sum((p ** 2).sum() for p in self.parameters())
        return F.cross_entropy(self(x), y, label_smoothing=0.3) + 0.05 * l2

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))
        self.log("val_acc", 0.0)  # a key the wrapper logs itself (num_classes): the wrapper's
        self.log("val_own", 7.0)


def test_val_loss_is_the_modules_own_validation_loss(tmp_path, monkeypatch):
    # was: its training_step's loss (label smoothing, L2 penalty) on validation batches,
    # its own validation_step never ran
    pl.seed_everything(0, verbose=False)
    nas = DifferentiableNAS(_SmoothedSupernet(), num_classes=3)
    trainer = plain_trainer(tmp_path, max_epochs=1, limit_train_batches=2, num_sanity_val_steps=0)
    trainer.fit(nas, datamodule=BilevelData(BlobData()))
    _SmoothedSupernet.train_calls = 0
    data = BlobData()
    data.setup("fit")
    got = trainer.validate(nas, dataloaders=data.val_dataloader(), verbose=False)[0]
    assert _SmoothedSupernet.train_calls == 0 and "inner_train_loss" not in got
    nas.eval()
    weights, index = nas.mixing_weights(sample=False)
    total = correct = count = 0.0
    with torch.no_grad(), mixed(nas.supernet, weights, index):
        for x, y in data.val_dataloader():
            preds = nas.supernet(x)
            total += float(F.cross_entropy(preds, y, reduction="sum"))
            correct += float((preds.argmax(-1) == y).sum())
            count += len(y)
    assert got["val_loss"] == pytest.approx(total / count, rel=1e-5)
    assert got["val_acc"] == pytest.approx(correct / count) and got["val_own"] == 7.0
    # no validation_step of its own: val_loss is its training_step's loss, as documented
    monkeypatch.setattr(_SmoothedSupernet, "validation_step", pl.LightningModule.validation_step)
    l2 = float(sum((p ** 2).sum() for p in nas.supernet.parameters()))
    with torch.no_grad(), mixed(nas.supernet, weights, index):
        train_loss = [float(F.cross_entropy(nas.supernet(x), y, label_smoothing=0.3)) + 0.05 * l2
                      for x, y in data.val_dataloader()]
    got = plain_trainer(tmp_path).validate(nas, dataloaders=data.val_dataloader(), verbose=False)[0]
    sizes = [len(b[1]) for b in data.val_dataloader()]
    assert got["val_loss"] == pytest.approx(
        sum(v * n for v, n in zip(train_loss, sizes, strict=True)) / sum(sizes), rel=1e-5)
    assert "inner_train_loss" not in got


class _CollectingSupernet(TinySupernet):
    """Lightning 2.x's pattern: outputs collected per step, aggregated and cleared at the
    validation epoch's end."""

    def __init__(self) -> None:
        super().__init__()
        self.outputs: list[torch.Tensor] = []

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.outputs.append((self(x).argmax(-1) == y).float().mean())

    def on_validation_epoch_end(self) -> None:
        self.log("val_acc_mean", torch.stack(self.outputs).mean())
        self.outputs.clear()


def test_the_modules_validation_epoch_hooks_run_with_its_validation_step(tmp_path):
    # was: only its validation_step ran, so its outputs piled up and its epoch-end metric
    # was never logged
    pl.seed_everything(0, verbose=False)
    net = _CollectingSupernet()
    trainer = plain_trainer(tmp_path, max_epochs=3)
    trainer.fit(DifferentiableNAS(net, num_classes=3), datamodule=BilevelData(BlobData()))
    assert net.outputs == [] and "val_acc_mean" in trainer.callback_metrics


def test_bf16_mixed_precision_trains_the_logits(tmp_path):
    pl.seed_everything(0, verbose=False)
    nas = DifferentiableNAS(BatchNormSupernet(), num_classes=3, arch_lr=0.05)
    initial = {k: v.detach().clone() for k, v in nas.alphas.items()}
    plain_trainer(tmp_path, max_epochs=1, precision="bf16-mixed").fit(
        nas, datamodule=BilevelData(BlobImages()))
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all()
               and not torch.equal(v, initial[k]) for k, v in nas.alphas.items())
    assert nas.best_score is not None


class _RecordingSGD(torch.optim.SGD):
    """SGD that keeps the gradients of each of its steps (after unscaling and clipping)."""

    def __init__(self, params, lr: float) -> None:
        super().__init__(params, lr=lr)
        self.grads: list[list[torch.Tensor]] = []

    def step(self, closure=None):
        self.grads.append([p.grad.detach().float().clone() for group in self.param_groups
                           for p in group["params"] if p.grad is not None])
        return super().step(closure)


class _RecordingSupernet(TinySupernet):
    def configure_optimizers(self):
        self.recorder = _RecordingSGD(self.parameters(), lr=self.hparams.lr)
        return self.recorder


@pytest.mark.parametrize(("algorithm", "clip"), [("darts", "norm"), ("gdas", "norm"),
                                               ("darts", "value")])
def test_gradient_clipping_acts_on_the_unscaled_16_mixed_gradients(tmp_path, algorithm, clip):
    # was: clipped right after manual_backward, i.e. the gradients scaled by 65536, so the
    # weights stepped with a norm of clip / 65536; and always by norm
    pl.seed_everything(0, verbose=False)
    model = _RecordingSupernet()
    nas = DifferentiableNAS(model, algorithm=algorithm, num_classes=3, gradient_clip_val=0.01,
                            gradient_clip_algorithm=clip)
    amp = MixedPrecision("16-mixed", device="cpu")
    plain_trainer(tmp_path, max_epochs=1, limit_val_batches=1, plugins=[amp]).fit(
        nas, datamodule=BilevelData(BlobData()))
    assert model.recorder.grads
    for grads in model.recorder.grads:
        if clip == "norm":
            assert float(torch.norm(torch.stack([g.norm() for g in grads]))) == pytest.approx(
                0.01, rel=1e-3)
        else:  # each entry within +-0.01, the largest ones at it
            assert max(float(g.abs().max()) for g in grads) == pytest.approx(0.01, rel=1e-3)
    with pytest.raises(ConfigError, match="unknown gradient_clip_algorithm 'nrom'; did you "
                                          "mean 'norm'"):
        DifferentiableNAS(TinySupernet(), gradient_clip_algorithm="nrom")


class _RecordAtEpochStart(pl.Callback):
    """The epochs ``alphas.json`` holds when each training epoch starts (None: no file)."""

    def __init__(self, path: Path) -> None:
        self.path, self.seen = path, []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.seen.append([entry["epoch"] for entry in json.loads(
            self.path.read_text())["history"]] if self.path.is_file() else None)


@pytest.mark.parametrize("algorithm", ["darts", "gdas"])
def test_alphas_json_holds_each_epoch_by_its_end(tmp_path, algorithm):
    # was: written when the fit ended, so a fit killed part-way left none (oneshot.records)
    pl.seed_everything(0, verbose=False)
    out = tmp_path / "out"
    nas = DifferentiableNAS(TinySupernet(), algorithm=algorithm, num_classes=3,
                            export_dir=str(out))
    record = _RecordAtEpochStart(out / "alphas.json")
    plain_trainer(tmp_path, max_epochs=3, limit_train_batches=2, limit_val_batches=1,
                  callbacks=[record]).fit(nas, datamodule=BilevelData(BlobData()))
    assert record.seen == [None, [1], [1, 2]]
    assert json.loads((out / "alphas.json").read_text()) == nas.alpha_history()
    assert not list(out.glob(".*.partial"))


def test_global_step_and_max_steps_count_the_logits_steps_and_the_weights(tmp_path):
    # was: the README said the wrapped module's self.global_step reads as in a plain fit
    # (one a batch); Lightning counts each optimizer step, so after warmup_epochs a batch
    # takes two (the logits', then the weights'), and max_steps counts both
    class Stepping(TinySupernet):
        seen: list[int] = []

        def training_step(self, batch, batch_idx):
            Stepping.seen.append(self.global_step)
            return super().training_step(batch, batch_idx)

    nas = DifferentiableNAS(Stepping(), num_classes=3, warmup_epochs=1)
    trainer = plain_trainer(tmp_path, max_epochs=2, limit_val_batches=0)
    trainer.fit(nas, datamodule=BilevelData(BlobData()))  # 3 batches an epoch
    assert Stepping.seen == [0, 1, 2] + [3, 4, 5, 6, 7, 8]  # warmup: the weights' alone
    assert trainer.global_step == 9
    Stepping.seen = []
    bounded = plain_trainer(tmp_path, max_epochs=-1, max_steps=4, limit_val_batches=0)
    bounded.fit(DifferentiableNAS(Stepping(), num_classes=3),
                datamodule=BilevelData(BlobData()))
    assert Stepping.seen == [0, 1, 2, 3]  # max_steps=4: two batches
    assert bounded.global_step == 4

"""One-shot NAS with real Trainers, the callback in a plain fit: its searches, a resume in the
middle of them, the fine-tune of the export, the supernet's BatchNorm statistics, the
scores in the Trainer's precision, the export's input step and a subnet scored NaN."""

from __future__ import annotations

import json
import math
import os
import warnings

import lightning.pytorch as pl
import nevergrad as ng
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import TensorDataset
from torchmetrics.regression import MeanSquaredError

from lightning_nas.arch import arch_key
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.choices import (
    ChoiceLinear,
    LayerChoice,
    get_path,
    space_of,
)
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.finetune import finetune_subnet
from tests.helpers_callbacks import SaveInitialWeights
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot_fit import (
    BatchNormSupernet,
    BlobImages,
    cpu_trainer,
    val_accuracy,
)
from tests.helpers_ranks import SeedEnv


def _norm_buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{name}.{key}": buf.clone() for name, m in model.named_modules()
            if isinstance(m, _BatchNorm) for key, buf in m.named_buffers(recurse=False)}


def test_callback_searches_subnets_and_exports_the_best(tmp_path):
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=8, calibration_batches=2, export_dir=str(tmp_path),
                          seed=1, record_paths=True)
    model = TinySupernet()
    cpu_trainer(tmp_path, [callback], enable_checkpointing=False).fit(model, datamodule=BlobData())
    space = space_of(model)
    assert len(callback.paths) == 3 * 3  # a path per step: 3 epochs x 3 batches
    assert all(space.validate(p) == p for p in callback.paths)
    assert len({json.dumps(p, sort_keys=True) for p in callback.paths}) > 1  # sampled
    assert 1 <= len(callback.history) <= 8 and all(h["epoch"] == 3 for h in callback.history)
    best = max(callback.history, key=lambda h: h["score"])
    assert callback.best_arch == best["arch"] and callback.best_score == best["score"]
    saved = yaml.safe_load((tmp_path / "best_arch.yaml").read_text())
    assert saved == {"arch": callback.best_arch, "score": callback.best_score,
                     "algorithm": "spos", "mode": "max"}
    subnet = torch.load(tmp_path / "subnet.pt", weights_only=False)
    assert subnet[0].out_features == callback.best_arch["hidden"]


def test_spos_draws_a_path_per_batch_also_within_an_accumulated_step(tmp_path):
    # the README's word: with accumulate_grad_batches: 3, an optimizer step sums the
    # gradients of 3 paths (one per batch), not of one path drawn per step
    callback = OneShotNAS(num_candidates=2, calibration_batches=1, seed=1, record_paths=True)
    trainer = cpu_trainer(tmp_path, [callback], max_epochs=2, accumulate_grad_batches=3,
                          enable_checkpointing=False)
    trainer.fit(TinySupernet(), datamodule=BlobData())  # 3 batches an epoch
    assert trainer.global_step == 2 and len(callback.paths) == 2 * 3
    assert len({json.dumps(p, sort_keys=True) for p in callback.paths}) > 1


def test_periodic_searches_run_when_max_steps_bounds_training(tmp_path):
    # was: with max_epochs=None (max_steps only) no periodic search ran, only the final one
    callback = OneShotNAS(num_candidates=2, search_every_n_epochs=1, calibration_batches=1,
                          seed=3)
    trainer = cpu_trainer(tmp_path, [callback], max_epochs=None, max_steps=9,  # 3 batches/epoch
                       enable_checkpointing=False)
    trainer.fit(TinySupernet(), datamodule=BlobData())
    assert trainer.current_epoch == 3
    assert sorted({h["epoch"] for h in callback.history}) == [1, 2, 3]  # the last once


def test_resume_from_a_mid_search_checkpoint_goes_on_as_the_uninterrupted_fit(tmp_path):
    def run(ckpt_path=None):
        pl.seed_everything(0, verbose=False)
        callback = OneShotNAS(num_candidates=4, search_every_n_epochs=1,
                              calibration_batches=1, seed=3)
        ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_top_k=-1,
                               save_on_train_epoch_end=True, filename="{epoch}")
        model = TinySupernet()
        cpu_trainer(tmp_path, [callback, ckpt]).fit(model, datamodule=BlobData(),
                                                 ckpt_path=ckpt_path)
        callback.rng_after = torch.get_rng_state()  # what a fine-tune after the fit draws from
        return callback, model

    full, trained = run()
    assert sorted({h["epoch"] for h in full.history}) == [1, 2, 3]
    resumed, again = run(ckpt_path=tmp_path / "ckpt" / "epoch=0.ckpt")
    # was: only epoch 1's searches matched; the data order after the resume differed
    assert resumed.history == full.history and resumed.best_arch == full.best_arch
    pairs = zip(trained.parameters(), again.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    # from the last epoch's checkpoint (a fit killed in its final search) Lightning trains
    # nothing and skips on_train_end: the final search and export run at the fit's end, as
    # the uninterrupted fit's (was: ConfigError "this fit trained nothing ... OneShotNAS's
    # final search and export did not run", so the whole fit was trained again)
    ended, _ = run(ckpt_path=tmp_path / "ckpt" / "epoch=2.ckpt")
    assert ended.history == full.history
    assert (ended.best_arch, ended.best_score) == (full.best_arch, full.best_score)
    pairs = zip(ended.subnet.state_dict().items(), full.subnet.state_dict().items(), strict=True)
    assert all(a[0] == b[0] and torch.equal(a[1], b[1]) for a, b in pairs)
    assert torch.equal(ended.rng_after, full.rng_after)


def test_finetune_starts_from_the_inherited_weights(tmp_path):
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=4, calibration_batches=1)
    cpu_trainer(tmp_path, [callback], max_epochs=2, enable_checkpointing=False).fit(
        TinySupernet(), datamodule=BlobData())
    inherited = {k: v.clone() for k, v in callback.subnet.state_dict().items()}
    module, metrics = finetune_subnet(
        callback.subnet, BlobData(), max_epochs=2, num_classes=3, lr=0.05,
        trainer={"accelerator": "cpu",
                 "callbacks": [SaveInitialWeights(str(tmp_path / "w0.pt"))]})
    start = torch.load(tmp_path / "w0.pt")
    assert all(torch.equal(start[f"net.{k}"], v) for k, v in inherited.items())
    assert 0.0 <= metrics["val_acc"] <= 1.0 and module.net is callback.subnet


def test_exported_subnet_scores_what_the_search_says(tmp_path):
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=12, calibration_batches=2, export_dir=str(tmp_path),
                          seed=2)
    data = BlobImages()
    cpu_trainer(tmp_path, [callback], max_epochs=2, enable_checkpointing=False).fit(
        BatchNormSupernet(), datamodule=data)
    assert len(callback.history) >= 6  # several candidates, each with its own statistics
    assert len({h["score"] for h in callback.history}) > 1
    assert callback.history[-1]["arch"] != callback.best_arch  # the winner was not the last
    saved = torch.load(tmp_path / "subnet.pt", weights_only=False)
    for subnet in (callback.subnet, saved):  # exactly: the statistics it was scored with
        assert any(isinstance(m, nn.BatchNorm2d) for m in subnet.modules())
        assert val_accuracy(subnet, data) == callback.best_score


def test_searches_leave_the_supernet_batchnorm_statistics_alone(tmp_path):
    def run(every):
        pl.seed_everything(0, verbose=False)
        model = BatchNormSupernet()
        callback = OneShotNAS(num_candidates=5, search_every_n_epochs=every,
                              calibration_batches=2, seed=5)
        cpu_trainer(tmp_path, [callback], max_epochs=3, enable_checkpointing=False).fit(
            model, datamodule=BlobImages())
        return model, callback

    plain, _ = run(None)
    searched, callback = run(1)
    assert sorted({h["epoch"] for h in callback.history}) == [1, 2, 3]
    before, after = _norm_buffers(plain), _norm_buffers(searched)
    assert len(before) == 3 * 3 and before.keys() == after.keys()
    assert all(torch.allclose(before[k], after[k]) for k in before), "statistics changed"
    pairs = zip(plain.parameters(), searched.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)  # the same training, too
    # a search by hand leaves them (and the active path) as they were, too
    trainer = cpu_trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False)
    trainer.fit(searched, datamodule=BlobImages())
    path, norms = get_path(searched), _norm_buffers(searched)
    callback.search(trainer, searched, epoch=99)
    assert all(torch.equal(norms[k], v) for k, v in _norm_buffers(searched).items())
    assert get_path(searched) == path and searched.training


class SkewedBlobs(BlobData):
    """The blobs with a validation split of mostly class 0 (plain and per-class-mean
    accuracy differ there)."""

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        x, y = self.val_set.tensors
        keep = torch.cat([torch.nonzero(y == 0).flatten(), torch.nonzero(y != 0).flatten()[:4]])
        self.val_set = TensorDataset(x[keep], y[keep])


def test_the_search_scores_plain_accuracy_as_the_finetune_does(tmp_path):
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=3, calibration_batches=0, num_classes=3)
    data = SkewedBlobs()
    cpu_trainer(tmp_path, [callback], max_epochs=1, limit_train_batches=1,
             enable_checkpointing=False).fit(TinySupernet(lr=0.0), datamodule=data)
    with torch.no_grad():  # untrained: neither 0 nor 1
        x, y = data.val_set.tensors
        plain = float((callback.subnet.eval()(x).argmax(-1) == y).float().mean())
    assert 0 < plain < 1 and callback.best_score == pytest.approx(plain)
    for nas in (DifferentiableNAS(TinySupernet(), num_classes=3),
                DifferentiableNAS(TinySupernet())):  # val_acc and the export's score
        assert nas._metric(torch.zeros(1, 3)).average == "micro"


@pytest.mark.parametrize("precision", ["64-true", "bf16-true"])
def test_subnets_are_scored_in_the_trainers_precision(tmp_path, precision):
    # was: the search ran float32 batches through a float64 / bfloat16 network: "Input type
    # (float) and bias type (double) should be the same", before training or at the search
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=2, calibration_batches=1, num_classes=3)
    cpu_trainer(tmp_path, [callback], max_epochs=1, limit_train_batches=2, precision=precision,
             enable_checkpointing=False).fit(TinySupernet(), datamodule=BlobData())
    assert 0 <= callback.best_score <= 1
    assert callback.subnet(torch.zeros(2, 8)).shape == (2, 3)  # exported as float32
    nas = DifferentiableNAS(TinySupernet(), num_classes=3, calibration_batches=1)
    cpu_trainer(tmp_path, [], max_epochs=1, limit_train_batches=2, precision=precision,
             enable_checkpointing=False).fit(nas, datamodule=BilevelData(BlobData()))
    assert 0 <= nas.best_score <= 1
    assert nas.subnet(torch.zeros(2, 8)).shape == (2, 3)


@pytest.mark.parametrize("precision", ["64-true", "bf16-true"])
def test_the_finetuned_subnet_is_written_in_float32_as_the_subnet(tmp_path, precision):
    # was: subnet_finetuned.pt kept the Trainer's dtype (float64, bfloat16) and failed on
    # float32 input, beside a float32 subnet.pt
    from lightning_nas.oneshot.run import run_oneshot

    cfg = {"model": "tests.helpers.TinySupernet",
           "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 64}},
           "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                       "precision": precision, "enable_checkpointing": False},
           "oneshot": {"num_candidates": 2, "calibration_batches": 1, "num_classes": 3,
                       "seed": 0, "run_dir": str(tmp_path / "run"), "finetune_epochs": 1}}
    run_oneshot(cfg, verbose=False)
    for name in ("subnet.pt", "subnet_finetuned.pt"):
        net = torch.load(tmp_path / "run" / name, weights_only=False)
        assert {t.dtype for t in net.state_dict().values()} == {torch.float32}, name
        assert net(torch.zeros(2, 8)).dtype == torch.float32


@pytest.mark.parametrize("before", [(None, None), ("123", "1")])
def test_run_oneshot_leaves_the_seed_variables_as_they_were(tmp_path, monkeypatch, before):
    # was: PL_GLOBAL_SEED and PL_SEED_WORKERS stayed as the run set them after run_oneshot
    # (Search.run and finetune restore them), so a later Trainer of the caller was seeded
    # again with the run's seed, and the processes it started inherited both
    from lightning_nas.oneshot.run import run_oneshot

    for key, value in zip(("PL_GLOBAL_SEED", "PL_SEED_WORKERS"), before, strict=True):
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    SeedEnv.seen.clear()
    cfg = {"model": "tests.helpers.TinySupernet",
           "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 64}},
           "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                       "enable_checkpointing": False,
                       "callbacks": [{"class_path": "tests.helpers.SeedEnv"}]},
           "oneshot": {"num_candidates": 2, "calibration_batches": 1, "num_classes": 3,
                       "seed": 4, "run_dir": str(tmp_path / "run"), "finetune_epochs": 1}}
    run_oneshot(cfg, verbose=False)
    # while the supernet trains (its DDP ranks'), workers seeded as LightningCLI seeds them
    assert SeedEnv.seen[:1] == [("4", "1")]
    assert (os.environ.get("PL_GLOBAL_SEED"), os.environ.get("PL_SEED_WORKERS")) == before


class _PlainLayers(TinySupernet):
    """A supernet with weights outside the choice modules' rebuilt layers: a ``LayerChoice``
    candidate and a plain head, which the export copies as trained."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            ChoiceLinear(8, [4, 8], label="hidden"), nn.ReLU(), ChoiceLinear(8, 8, label="mid"),
            LayerChoice({"fc": nn.Linear(8, 8), "id": nn.Identity()}, label="op"),
            nn.Linear(8, 3))


@pytest.mark.parametrize("precision", ["64-true", "bf16-true"])
def test_subnet_pt_is_float32_throughout_whatever_the_precision(tmp_path, precision):
    # was: the choice modules' layers rebuilt in float32 beside LayerChoice candidates and
    # plain layers in bfloat16 / float64: subnet.pt failed on any input ("mat1 and mat2 must
    # have the same dtype"), and the export warned the module's forward reshapes the input
    for algorithm in ("spos", "darts"):
        out, module, callbacks = tmp_path / algorithm, _PlainLayers(), []
        if algorithm == "spos":
            callbacks = [OneShotNAS(num_candidates=2, calibration_batches=1, num_classes=3,
                                    export_dir=str(out))]
        else:
            module = DifferentiableNAS(module, num_classes=3, calibration_batches=1,
                                       export_dir=str(out))
        pl.seed_everything(0, verbose=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cpu_trainer(tmp_path, callbacks, max_epochs=1, limit_train_batches=2,
                     precision=precision, enable_checkpointing=False).fit(
                module, datamodule=BilevelData(BlobData()) if algorithm == "darts"
                else BlobData())
        assert not [w for w in caught if "exported network alone" in str(w.message)]
        net = torch.load(out / "subnet.pt", weights_only=False)
        assert {t.dtype for t in net.state_dict().values() if t.is_floating_point()} == {
            torch.float32}, algorithm
        assert net(torch.zeros(2, 8)).dtype == torch.float32
        finetune_subnet(net, BlobData(), max_epochs=1, num_classes=3,  # as the README shows
                        trainer={"limit_train_batches": 1, "limit_val_batches": 1})


class _DoubledInput(TinySupernet):
    """A supernet whose module prepares the input before its ``net`` (twice the features)."""

    def __init__(self) -> None:
        super().__init__()
        from lightning_nas.oneshot.choices import ChoiceLinear, LayerChoice

        self.net = nn.Sequential(ChoiceLinear(16, [4, 8], label="hidden"),
                                 LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act"),
                                 ChoiceLinear(8, 3, label="out"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, x], dim=-1))


def test_the_export_runs_the_input_as_the_search_did(tmp_path):
    # was: the export ran net(batch[0]) itself: the first layer followed the raw input's 8
    # features, not the 16 the module gives its net, and subnet.pt failed on its own data
    x = torch.randn(4, 8)
    callback = OneShotNAS(num_candidates=2, calibration_batches=1, num_classes=3)
    cpu_trainer(tmp_path, [callback], max_epochs=1, limit_train_batches=2,
             enable_checkpointing=False).fit(_DoubledInput(), datamodule=BlobData())
    assert callback.subnet[0].in_features == 16
    assert callback.subnet(torch.cat([x, x], dim=-1)).shape == (4, 3)
    nas = DifferentiableNAS(_DoubledInput(), num_classes=3, calibration_batches=1)
    cpu_trainer(tmp_path, [], max_epochs=1, limit_train_batches=2,
             enable_checkpointing=False).fit(nas, datamodule=BilevelData(BlobData()))
    assert nas.subnet[0].in_features == 16


class _ValPaths(TinySupernet):
    """``TinySupernet`` keeping the path of each validation run (its first batch)."""

    def __init__(self) -> None:
        super().__init__()
        self.val_paths: list[dict] = []

    def validation_step(self, batch, batch_idx):
        if batch_idx == 0:
            self.val_paths.append(get_path(self))
        super().validation_step(batch, batch_idx)


def test_validation_runs_the_path_the_last_training_batch_sampled(tmp_path):
    # as the README says ("What validation runs"): the module's val metrics measure another
    # random subnet each epoch, and OneShotNAS logs none of its own
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=2, calibration_batches=1, num_classes=3,
                          search_every_n_epochs=1, record_paths=True)
    module = _ValPaths()
    built = get_path(module)
    trainer = cpu_trainer(tmp_path, [callback], max_epochs=3, limit_train_batches=2,
                       enable_checkpointing=False)
    trainer.fit(module, datamodule=BlobData())
    assert module.val_paths == [built, callback.paths[1], callback.paths[3], callback.paths[5]]
    assert len({arch_key(p) for p in module.val_paths[1:]}) > 1
    assert set(trainer.callback_metrics) == {"val_acc"}


class _NormalizedInput(TinySupernet):
    """A supernet whose module normalizes the input before its ``net`` (same shapes)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - 0.3) / 0.4)


@pytest.mark.parametrize("model, warns", [(TinySupernet, False), (_NormalizedInput, True),
                                          (_DoubledInput, True)])
def test_an_export_that_drops_the_modules_input_step_is_warned_of(tmp_path, model, warns):
    # was: subnet.pt (the net alone) scored far below best_arch.yaml's score, and the
    # fine-tune trained the net on raw inputs, without a word
    message = "the exported network alone does not compute what"
    for algorithm in ("spos", "darts"):
        callbacks = [OneShotNAS(num_candidates=2, calibration_batches=1, num_classes=3)]
        module = model()
        if algorithm == "darts":
            callbacks, module = [], DifferentiableNAS(module, num_classes=3,
                                                      calibration_batches=1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cpu_trainer(tmp_path, callbacks, max_epochs=1, limit_train_batches=2,
                     enable_checkpointing=False).fit(
                module, datamodule=BilevelData(BlobData()) if algorithm == "darts"
                else BlobData())
        assert any(message in str(w.message) for w in caught) == warns, algorithm


class TellsRecorded(ng.optimization.base.Optimizer):
    """Random proposals; keeps each ``(architecture, loss)`` it is told, as told."""

    told: list = []

    def _internal_ask_candidate(self):
        return self.parametrization.sample()

    def tell(self, candidate, loss, *args, **kwargs):
        TellsRecorded.told.append((self, arch_key(candidate.value), float(loss)))
        super().tell(candidate, loss, *args, **kwargs)


ng.optimizers.registry.setdefault("TellsRecorded", TellsRecorded)


def nan_for_tanh(module, batch):
    """The first logit against the label as a float: NaN for the subnets with tanh."""
    x, y = batch
    preds = module(x)[:, 0]
    return (preds * math.nan if get_path(module)["act"] == "tanh" else preds), y.float()


def test_a_subnet_scored_nan_is_told_worse_than_every_scored_one(tmp_path):
    # was: its NaN was told as it was (nevergrad clipped it to 5e20, with a warning: an
    # outlier to CMA and DE); as a failed trial of a search, it now waits for the first
    # finite score and is told worse than every loss told by 1
    TellsRecorded.told.clear()
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(optimizer="TellsRecorded", num_candidates=12, calibration_batches=1,
                          metric=MeanSquaredError, mode="min", forward=nan_for_tanh)
    cpu_trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False).fit(
        TinySupernet(), datamodule=BlobData())
    scores = {arch_key(h["arch"]): h["score"] for h in callback.history}
    assert {math.isnan(v) for v in scores.values()} == {True, False}
    search = TellsRecorded.told[-1][0]  # (the optimizer's check before training told others)
    told = [(key, loss) for opt, key, loss in TellsRecorded.told if opt is search]
    assert len(told) == 12 and all(math.isfinite(loss) for _, loss in told)
    first = next(i for i, (key, _) in enumerate(told) if not math.isnan(scores[key]))
    for i, (key, loss) in enumerate(told):
        if math.isnan(scores[key]):  # after the first finite one: worse than all before by 1
            assert loss == max(v for _, v in told[:max(i, first + 1)]) + 1.0
        else:
            assert loss == scores[key]


class _TestedSupernet(BatchNormSupernet):
    def test_step(self, batch, batch_idx):
        self.log("test_acc", (self(batch[0]).argmax(-1) == batch[1]).float().mean())


def test_a_validate_or_test_after_the_search_says_it_runs_the_supernets_path(tmp_path):
    # was: trainer.test() after the fit ran the supernet on the last training batch's random
    # path, with the supernet's statistics, and said its test_acc as if of the search's
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=2, calibration_batches=1, seed=2)
    model, data = _TestedSupernet(), BlobImages()
    trainer = cpu_trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # nothing said of the fit's validation
        warnings.filterwarnings("ignore", message=".*(does not have many workers|The number "
                                                  "of training batches).*")
        trainer.fit(model, datamodule=data)
    path = get_path(model)
    assert path != callback.best_arch  # (so its test would not be of the winner)
    for stage in ("test", "validate"):
        with pytest.warns(UserWarning, match=rf"OneShotNAS: trainer.{stage}\(\) runs the "
                                             rf"supernet on the path it holds, .*not the "
                                             rf"search's winner .*OneShotNAS.subnet"):
            getattr(trainer, stage)(model, dataloaders=data.val_dataloader(), verbose=False)

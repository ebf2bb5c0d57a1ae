"""One-shot NAS with real Trainers: the callback in a plain fit, its history across a resume,
DDP agreement, fine-tune of the export, the export's BatchNorm statistics, and the CLI."""

from __future__ import annotations

import importlib.util
import inspect
import json
import math
import os
import re
import socket
import time
import warnings
from datetime import timedelta
from pathlib import Path

import lightning.pytorch as pl
import nevergrad as ng
import pytest
import torch
import torchmetrics
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.nn import functional as F
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import TensorDataset
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.regression import MeanSquaredError

from lightning_nas.arch import arch_key
from lightning_nas.cli import main
from lightning_nas.config.load import load_config
from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.choices import (
    ChoiceBatchNorm2d,
    ChoiceConv2d,
    ChoiceLinear,
    LayerChoice,
    Repeat,
    export_subnet,
    get_path,
    space_of,
)
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.finetune import finetune_subnet
from lightning_nas.oneshot.run import check_oneshot, check_oneshot_strategy, check_oneshot_trainer
from lightning_nas.oneshot.setting_checks import (
    ALGORITHM_KEYS,
    ONESHOT_KEYS,
    check_algorithm,
    check_oneshot_settings,
    check_seed,
)
from tests.helpers_callbacks import SaveInitialWeights
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_ranks import SeedEnv

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_ONESHOT = "examples/oneshot_digits/oneshot.yaml"


class BlobImages(BlobData):
    """The blobs as 2-channel 2x2 images (for a convolutional supernet)."""

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        for name in ("train_set", "val_set"):
            x, y = getattr(self, name).tensors
            setattr(self, name, TensorDataset(x.view(-1, 2, 2, 2), y))


class BatchNormSupernet(pl.LightningModule):
    """A conv supernet with BatchNorm everywhere: ``ChoiceBatchNorm2d`` after sliced convs
    (also inside ``Repeat`` blocks) and a plain ``nn.BatchNorm1d`` in the head."""

    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(
            ChoiceConv2d(2, [4, 8], kernel_size=[1, 3], label="c1"), ChoiceBatchNorm2d(8),
            LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act"),
            Repeat(lambda i: nn.Sequential(ChoiceConv2d(8, None, 3, label="blk"),
                                           ChoiceBatchNorm2d(8), nn.ReLU()), [0, 1],
                   label="depth"),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), ChoiceLinear(8, 8, label="fc"),
            nn.BatchNorm1d(8), nn.ReLU(), ChoiceLinear(8, 3, label="out"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(-1) == y).float().mean(), sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def _val_accuracy(net: nn.Module, data: BlobData) -> float:
    """The callback's default metric (plain accuracy) of ``net`` in eval mode."""
    net.eval()
    metric = MulticlassAccuracy(num_classes=3, average="micro")
    with torch.no_grad():
        for x, y in data.val_dataloader():
            metric.update(net(x), y)
    return float(metric.compute())


def _norm_buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{name}.{key}": buf.clone() for name, m in model.named_modules()
            if isinstance(m, _BatchNorm) for key, buf in m.named_buffers(recurse=False)}


def _trainer(tmp_path, callbacks, max_epochs=3, **kw) -> pl.Trainer:
    return pl.Trainer(max_epochs=max_epochs, accelerator="cpu", devices=1, logger=False,
                      enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=tmp_path, callbacks=callbacks, **kw)


def test_callback_searches_subnets_and_exports_the_best(tmp_path):
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=8, calibration_batches=2, export_dir=str(tmp_path),
                          seed=1, record_paths=True)
    model = TinySupernet()
    _trainer(tmp_path, [callback], enable_checkpointing=False).fit(model, datamodule=BlobData())
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


def test_periodic_searches_run_when_max_steps_bounds_training(tmp_path):
    # was: with max_epochs=None (max_steps only) no periodic search ran, only the final one
    callback = OneShotNAS(num_candidates=2, search_every_n_epochs=1, calibration_batches=1,
                          seed=3)
    trainer = _trainer(tmp_path, [callback], max_epochs=None, max_steps=9,  # 3 batches/epoch
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
        _trainer(tmp_path, [callback, ckpt]).fit(model, datamodule=BlobData(),
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


DDP_SCRIPT = """
import json, os, sys
import lightning.pytorch as pl
import torch
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from tests.test_oneshot import BatchNormSupernet, BlobImages

if __name__ == "__main__":
    out = sys.argv[1]
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=5, calibration_batches=2, seed=2, record_paths=True)
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", devices=2,
                         strategy="ddp_find_unused_parameters_true",  # single paths
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[callback])
    trainer.fit(BatchNormSupernet(), datamodule=BlobImages())
    with open(os.path.join(out, f"rank{trainer.global_rank}.json"), "w") as f:
        json.dump({"paths": callback.paths, "best": callback.best_arch,
                   "score": callback.best_score, "history": callback.history}, f)
    torch.save(callback.subnet, os.path.join(out, f"subnet{trainer.global_rank}.pt"))
    trainer.strategy.barrier()  # rank 0 exits (the test reads) once every rank wrote
"""


@pytest.mark.slow
def test_ddp_ranks_train_the_same_paths_and_agree_on_the_result(tmp_path, launcher):
    script = tmp_path / "oneshot_ddp.py"
    script.write_text(DDP_SCRIPT)
    log = tmp_path / "log.txt"
    assert launcher.run([tmp_path], log, script) == 0, log.read_text()
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["paths"] and r0["paths"] == r1["paths"]  # the same path at every step
    assert r0["best"] == r1["best"] and r0["history"] == r1["history"]  # synced scores
    # BatchNorm statistics are calibrated on both ranks' batches: one subnet, the scored one
    s0, s1 = (torch.load(tmp_path / f"subnet{r}.pt", weights_only=False) for r in (0, 1))
    assert all(torch.equal(a, b) for a, b in zip(s0.state_dict().values(),
                                                 s1.state_dict().values(), strict=True))
    data = BlobImages()
    data.setup()
    assert abs(_val_accuracy(s0, data) - r0["score"]) <= 1 / len(data.val_set)


def test_finetune_starts_from_the_inherited_weights(tmp_path):
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=4, calibration_batches=1)
    _trainer(tmp_path, [callback], max_epochs=2, enable_checkpointing=False).fit(
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
    _trainer(tmp_path, [callback], max_epochs=2, enable_checkpointing=False).fit(
        BatchNormSupernet(), datamodule=data)
    assert len(callback.history) >= 6  # several candidates, each with its own statistics
    assert len({h["score"] for h in callback.history}) > 1
    assert callback.history[-1]["arch"] != callback.best_arch  # the winner was not the last
    one_sample = 1 / len(data.val_set)
    saved = torch.load(tmp_path / "subnet.pt", weights_only=False)
    for subnet in (callback.subnet, saved):
        assert any(isinstance(m, nn.BatchNorm2d) for m in subnet.modules())
        assert abs(_val_accuracy(subnet, data) - callback.best_score) <= one_sample


def test_searches_leave_the_supernet_batchnorm_statistics_alone(tmp_path):
    def run(every):
        pl.seed_everything(0, verbose=False)
        model = BatchNormSupernet()
        callback = OneShotNAS(num_candidates=5, search_every_n_epochs=every,
                              calibration_batches=2, seed=5)
        _trainer(tmp_path, [callback], max_epochs=3, enable_checkpointing=False).fit(
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
    trainer = _trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False)
    trainer.fit(searched, datamodule=BlobImages())
    path, norms = get_path(searched), _norm_buffers(searched)
    callback.search(trainer, searched, epoch=99)
    assert all(torch.equal(norms[k], v) for k, v in _norm_buffers(searched).items())
    assert get_path(searched) == path and searched.training


def test_the_oneshot_commands_finetune_line_prints_small_values_as_show_does():
    # was: "val_acc=0.0000" for 3.2e-05 (.4f), where show and report print 3.2e-05
    from lightning_nas.oneshot.finetune import accuracy_text
    from lightning_nas.results import format_score
    metrics = {"val_loss": 1e-06, "val_acc": 3.2e-05}
    assert accuracy_text(metrics) == f"val_acc={format_score(3.2e-05)}" == "val_acc=3.2e-05"


def test_cli_oneshot_runs_the_example_config(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    code = main(["oneshot", "examples/oneshot_digits/oneshot.yaml", "--trainer.max_epochs=2",
                 "--trainer.limit_train_batches=3", "--oneshot.num_candidates=3",
                 "--oneshot.search_every_n_epochs=1", "--oneshot.calibration_batches=1",
                 "--oneshot.finetune_epochs=1", f"--oneshot.run_dir={tmp_path}"])
    assert code == 0
    out = capsys.readouterr().out
    # the last search's subnets, as show says (was: "6 subnets scored", both searches')
    assert "One-shot search: 3 subnets scored after 2 epochs (an earlier search after 1 " \
           "epoch); best " in out and "Fine-tuned 1 epoch: val_acc=" in out
    for name in ("best_arch.yaml", "history.json", "subnet.pt", "subnet_finetuned.pt"):
        assert (tmp_path / name).exists(), name
    # show and report read the folder like a search run
    tuned = re.search(r"Fine-tuned 1 epoch: val_acc=(\S+);", out).group(1)
    best = yaml.safe_load((tmp_path / "best_arch.yaml").read_text())
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [row["rank"] for row in shown["leaderboard"]] == [1, 2, 3]
    assert shown["leaderboard"][0]["arch"] == best["arch"] == shown["best"]["arch"]
    assert shown["leaderboard"][0]["score"] == best["score"] > shown["leaderboard"][2]["score"]
    assert main(["show", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert table.startswith(f"spos one-shot: 3 subnets scored after 2 epochs (an earlier "
                            f"search after 1 epoch); best {best['score']:.4f} (max)")
    assert "fine-tuned 1 epoch: " in table and f"val_acc={tuned}" in table
    assert main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "report" / "subnets.png").read_bytes()[:4] == b"\x89PNG"
    assert "spos one-shot search" in (tmp_path / "report" / "report.html").read_text()
    assert main(["oneshot", "examples/oneshot_digits/oneshot.yaml", "--oneshot.budget=3"]) == 2
    assert "unknown oneshot setting 'budget'" in capsys.readouterr().err


TINY_CLI = ["oneshot", "examples/oneshot_digits/oneshot.yaml", "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2",
            "--oneshot.num_candidates=2", "--oneshot.search_every_n_epochs=null",
            "--oneshot.calibration_batches=1", "--oneshot.finetune_epochs=0"]


def test_a_run_dir_with_a_tilde_is_in_the_home_folder_and_resumes(tmp_path, monkeypatch,
                                                                   capsys):
    # was: --oneshot.run_dir=~/os1 wrote best_arch.yaml and subnet.pt into ./~/os1, the
    # epoch-end checkpoint (Lightning expands ~) into $HOME/os1: --ckpt_path last failed
    from lightning_nas.oneshot.resume import resolve_ckpt_path

    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    cli = [TINY_CLI[0], str(ROOT / TINY_CLI[1]), *TINY_CLI[2:], "--oneshot.run_dir=~/os1"]
    assert main(cli) == 0
    run = home / "os1"
    assert (run / "best_arch.yaml").is_file() and (run / "subnet.pt").is_file()
    last = run / "checkpoints" / "last.ckpt"
    assert resolve_ckpt_path("~/os1/checkpoints/last.ckpt", Path("elsewhere")) == last
    assert main([*cli, "--trainer.max_epochs=2", "--ckpt_path", "last"]) == 0
    assert f"Resuming the spos search from {last} (1 training epoch done" in \
        capsys.readouterr().out
    assert main(["show", "~/os1"]) == 0 and "spos one-shot: " in capsys.readouterr().out
    assert not (work / "~").exists()


@pytest.mark.slow
def test_a_second_run_on_a_folder_in_use_is_refused_before_it_writes_anything(
        tmp_path, monkeypatch, capsys, launcher):
    # was: no lock: two runs on one run_dir both exited 0 and left a mixed folder (the
    # first's best_arch.yaml and subnet.pt beside the second's subnet_finetuned.pt)
    monkeypatch.chdir(ROOT)
    run, ready, go = tmp_path / "run", tmp_path / "ready", tmp_path / "go"
    cli = [*TINY_CLI, f"--oneshot.run_dir={run}"]
    wait = (f"--trainer.callbacks=[{{class_path: tests.helpers.WaitAtStart, init_args: "
            f"{{ready: {ready}, go: {go}}}}}]")
    # the first run: another process (``lightning-nas oneshot ...``, forked from the
    # launcher's: its imports paid once, not by a fresh interpreter)
    log = tmp_path / "first.log"
    pid = launcher.launch([*cli, wait], log)
    code = None
    try:
        while not ready.exists() and code is None:  # until the first run trains
            code = launcher.exited()
            time.sleep(0.05)
        assert ready.exists(), log.read_text()
        before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
        assert main([*cli, "--oneshot.finetune_epochs=1"]) == 2
        err = capsys.readouterr().err
        assert (f"lightning-nas oneshot: error: {run} is being searched by another process "
                f"(pid {pid} on ") in err and "then run it again" in err
        assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before  # nothing written
    finally:
        go.touch()
        if code is None:
            code = launcher.wait(300)
    assert code == 0, log.read_text()
    # the folder is let go when a run ends: the first one's, and one in this process,
    # also when it fails
    from lightning_nas.run_folder import hold_folder

    with pytest.raises(RuntimeError, match="crash at epoch 0"):
        main([*cli, "--trainer.callbacks=[{class_path: tests.helpers.CrashAt, init_args: "
                    "{epoch: 0}}]"])
    hold_folder(run, "").close()
    assert main(cli) == 0
    hold_folder(run, "").close()


def test_the_finetune_validates_on_the_batches_the_search_scored(tmp_path, monkeypatch):
    # limit_val_batches=1: the fine-tune's val_acc is its subnet's accuracy on the first
    # validation batch, as the search's scores were (not on the whole validation set)
    from examples.digits.data import DigitsDataModule

    monkeypatch.chdir(ROOT)
    cli = [arg for arg in TINY_CLI if "limit_val" not in arg and "finetune" not in arg]
    assert main([*cli, "--trainer.limit_val_batches=1",
                 "--oneshot.finetune_epochs=1", f"--oneshot.run_dir={tmp_path}"]) == 0
    tuned = json.loads((tmp_path / "finetune.json").read_text())["metrics"]
    net = torch.load(tmp_path / "subnet_finetuned.pt", weights_only=False).eval()
    data = DigitsDataModule(batch_size=64)
    data.setup("fit")
    x, y = next(iter(data.val_dataloader()))
    with torch.no_grad():
        first_batch = (net(x).argmax(1) == y).float().mean().item()
    assert tuned["val_acc"] == pytest.approx(first_batch, abs=1e-6)


def _two_val_config(tmp_path: Path, algorithm: str) -> Path:
    """A tiny one-shot config on a datamodule with two validation loaders."""
    cfg = {"model": "tests.helpers.TwoValSupernet",
           "data": {"class_path": "tests.helpers.TwoValBlobData",
                    "init_args": {"n": 128, "batch_size": 32}},
           "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                       "limit_train_batches": 2},
           "oneshot": {"algorithm": algorithm, "calibration_batches": 1, "num_classes": 3,
                       "seed": 0, "run_dir": str(tmp_path / "run"), "finetune_epochs": 1,
                       **({"num_candidates": 2} if algorithm == "spos" else {})}}
    path = tmp_path / f"{algorithm}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_spos_with_two_validation_loaders_fine_tunes_and_scores_each(tmp_path, capsys):
    # was: the supernet trained and the search exported its winner, then the fine-tune died
    # with "no `dataloader_idx` argument in `NASModule.validation_step()`" (exit 1)
    from tests.helpers_data import TwoValBlobData

    assert main(["oneshot", str(_two_val_config(tmp_path, "spos"))]) == 0
    out = capsys.readouterr().out
    assert "Fine-tuned 1 epoch: val_acc/dataloader_idx_0=" in out
    tuned = json.loads((tmp_path / "run" / "finetune.json").read_text())["metrics"]
    net = torch.load(tmp_path / "run" / "subnet_finetuned.pt", weights_only=False).eval()
    data = TwoValBlobData(n=128, batch_size=32)
    data.setup("fit")
    for i, loader in enumerate(data.val_dataloader()):  # each loader's own accuracy
        x, y = (torch.cat(parts) for parts in zip(*loader, strict=True))
        with torch.no_grad():
            accuracy = (net(x).argmax(-1) == y).float().mean().item()
        assert tuned[f"val_acc/dataloader_idx_{i}"] == pytest.approx(accuracy, abs=1e-6)
        assert f"val_acc/dataloader_idx_{i}={accuracy:.4f}" in out
    assert tuned["val_acc/dataloader_idx_0"] != tuned["val_acc/dataloader_idx_1"]


def test_a_new_run_leaves_no_output_of_an_earlier_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    stale = ("subnet_finetuned.pt", "finetune.json", "alphas.json", "alphas.png",
             "report/subnets.png", "report/report.html")
    (tmp_path / "report").mkdir()
    for name in stale:  # as an earlier (DARTS, fine-tuned, reported) run left them
        (tmp_path / name).write_text("earlier run")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "keep.ckpt").write_text("a resume reads it")
    assert main([*TINY_CLI, f"--oneshot.run_dir={tmp_path}"]) == 0
    assert [name for name in stale if (tmp_path / name).exists()] == []
    for name in ("best_arch.yaml", "history.json", "subnet.pt", "checkpoints/keep.ckpt"):
        assert (tmp_path / name).exists(), name
    capsys.readouterr()
    assert main(["show", str(tmp_path)]) == 0
    assert "fine-tuned" not in capsys.readouterr().out  # no earlier finetune.json


def test_a_misspelt_net_attr_is_an_error_before_training(tmp_path, monkeypatch, capsys):
    said = "net_attr 'netz': TinySupernet has no nn.Module attribute of that name; did you " \
           "mean 'net'? its nn.Module attributes: net"
    callback = OneShotNAS(net_attr="netz", record_paths=True, export_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=re.escape(said)):
        _trainer(tmp_path, [callback]).fit(TinySupernet(), datamodule=BlobData())
    assert callback.paths == [] and not (tmp_path / "subnet.pt").exists()  # nothing trained
    with pytest.raises(ConfigError, match=re.escape(said)):
        DifferentiableNAS(TinySupernet(), net_attr="netz")
    bare = nn.Sequential(nn.Linear(8, 3))
    assert OneShotNAS().network(bare) is bare  # not set: ``net``, else the whole module
    assert DifferentiableNAS(TinySupernet()).network is not None
    monkeypatch.chdir(ROOT)
    (tmp_path / "best_arch.yaml").write_text("an earlier run's result")
    assert main([*TINY_CLI, "--oneshot.net_attr=netz", f"--oneshot.run_dir={tmp_path}"]) == 2
    assert "net_attr 'netz': DigitsSupernet has no nn.Module attribute" in \
        capsys.readouterr().err
    assert (tmp_path / "best_arch.yaml").exists()  # was: removed before the check


@pytest.mark.parametrize("override, said", [
    ("max_time=abc", "trainer.max_time='abc': MisconfigurationException: `Timer(duration='abc')`"),
    ("devices=0", "trainer.devices=0: MisconfigurationException: `Trainer(devices=0)`"),
    ("strategy=foo", "trainer.strategy='foo': ValueError: You selected an invalid strategy"),
    ("limit_val_batches=1.5", "trainer.limit_val_batches=1.5: MisconfigurationException"),
    ("max_steps=-5", "trainer.max_steps=-5: MisconfigurationException: `max_steps` must be"),
])
def test_a_trainer_setting_its_constructor_refuses_is_said_before_the_run_folder(
        tmp_path, monkeypatch, capsys, override, said):
    # was: --print_config exit 0, then the run wrote RUN_DIR/search.lock and died with the
    # Trainer's traceback (exit 1)
    monkeypatch.chdir(ROOT)
    run = tmp_path / "run"
    cli = [*TINY_CLI, f"--oneshot.run_dir={run}", f"--trainer.{override}"]
    for argv in ([*cli, "--print_config"], cli):
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert said in captured.err and not captured.out
        assert "found building the Trainer of the one-shot search before any training " \
               "(no folder was made)" in captured.err
        assert not run.exists()  # no folder, no search.lock
    assert main(["oneshot", "examples/oneshot_digits/darts.yaml", "--print_config",
                 "--trainer.gradient_clip_val=0.5"]) == 0  # built: the module clips


def test_a_files_algorithm_is_switched_by_setting_the_other_algorithms_keys_to_null(
        tmp_path, monkeypatch, capsys):
    # was: refused when null too ("oneshot setting 'optimizer' applies to algorithm spos
    # only, not darts"), so a file's SPOS keys could not be dropped from the command line
    monkeypatch.chdir(ROOT)
    darts = ["--oneshot.algorithm=darts", f"--oneshot.run_dir={tmp_path}"]
    assert main([*TINY_CLI, *darts]) == 2
    assert capsys.readouterr().err == (
        "lightning-nas oneshot: error: oneshot setting 'optimizer' applies to algorithm spos "
        "only, not darts (so do 'num_candidates'); leave them out or set them to null, which "
        "counts as not given (switching a file's algorithm on the command line: "
        "--oneshot.optimizer=null --oneshot.num_candidates=null)\n")  # TINY_CLI nulls the 3rd
    assert not tmp_path.joinpath("best_arch.yaml").exists()
    nulls = ["--oneshot.optimizer=null", "--oneshot.num_candidates=null"]
    assert main([*TINY_CLI, *darts, *nulls]) == 0
    best = yaml.safe_load((tmp_path / "best_arch.yaml").read_text())
    assert best["algorithm"] == "darts" and (tmp_path / "alphas.json").is_file()
    assert "DARTS search: derived {" in capsys.readouterr().out
    spos = ["oneshot", "examples/oneshot_digits/darts.yaml", "--print_config",
            "--oneshot.algorithm=spos", "--oneshot.arch_lr=null", "--oneshot.top_k=null"]
    assert main(spos) == 2
    assert "(switching a file's algorithm on the command line: --oneshot.warmup_epochs=null)" \
        in capsys.readouterr().err
    assert main([*spos, "--oneshot.warmup_epochs=null"]) == 0


@pytest.mark.parametrize("name, module", [("SMAC3", "ConfigSpace"), ("PymooNSGA2", "pymoo")])
def test_an_optimizer_that_cannot_run_is_refused_before_training(
        tmp_path, monkeypatch, capsys, name, module):
    # was: its registered name passed; the supernet trained, then the final search raised
    # ModuleNotFoundError, the earlier run's outputs removed (pymoo: at its second ask)
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    said = (f"optimizer '{name}' needs a package that is not installed "
            f"(ModuleNotFoundError: No module named '{module}')")
    callback = OneShotNAS(optimizer=name, num_candidates=3, record_paths=True)
    with pytest.raises(ConfigError, match=re.escape(said)):
        _trainer(tmp_path, [callback], max_epochs=1).fit(TinySupernet(), datamodule=BlobData())
    assert callback.paths == []  # nothing trained
    monkeypatch.chdir(ROOT)
    (tmp_path / "best_arch.yaml").write_text("an earlier run's result")
    assert main([*TINY_CLI, f"--oneshot.optimizer={name}", f"--oneshot.run_dir={tmp_path}"]) == 2
    assert said in capsys.readouterr().err
    assert (tmp_path / "best_arch.yaml").read_text() == "an earlier run's result"
    assert not (tmp_path / "checkpoints").exists()


def test_the_readme_says_of_spos_optimizers_what_pymoo_nevergrads_pymoo_ones_need():
    # was: the one-shot note named PymooNSGA2 among optimizers whose package is missing,
    # not that nevergrad's Pymoo* need pymoo<0.6 (with pymoo 0.6 installed they are refused
    # as "a version it cannot use"), as the search's optimizer row and the refusal say
    readme = " ".join((ROOT / "README.md").read_text().split())
    start = readme.index("An SPOS `optimizer` that cannot run a search")
    spos = readme[start:readme.index("check_optimizer_runs", start)]
    search = readme[readme.index("| `optimizer` | `SurrogateEvolution` |"):]
    search = search[:search.index(" |", len("| `optimizer` | `SurrogateEvolution` |"))]
    for text in (spos, search):
        assert "`pymoo.factory`, which pymoo 0.6 removed" in text, text
        assert "`pymoo<0.6`" in text, text


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
    _trainer(tmp_path, [callback], max_epochs=1, limit_train_batches=1,
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
    _trainer(tmp_path, [callback], max_epochs=1, limit_train_batches=2, precision=precision,
             enable_checkpointing=False).fit(TinySupernet(), datamodule=BlobData())
    assert 0 <= callback.best_score <= 1
    assert callback.subnet(torch.zeros(2, 8)).shape == (2, 3)  # exported as float32
    nas = DifferentiableNAS(TinySupernet(), num_classes=3, calibration_batches=1)
    _trainer(tmp_path, [], max_epochs=1, limit_train_batches=2, precision=precision,
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
            _trainer(tmp_path, callbacks, max_epochs=1, limit_train_batches=2,
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
    _trainer(tmp_path, [callback], max_epochs=1, limit_train_batches=2,
             enable_checkpointing=False).fit(_DoubledInput(), datamodule=BlobData())
    assert callback.subnet[0].in_features == 16
    assert callback.subnet(torch.cat([x, x], dim=-1)).shape == (4, 3)
    nas = DifferentiableNAS(_DoubledInput(), num_classes=3, calibration_batches=1)
    _trainer(tmp_path, [], max_epochs=1, limit_train_batches=2,
             enable_checkpointing=False).fit(nas, datamodule=BilevelData(BlobData()))
    assert nas.subnet[0].in_features == 16


class UnusedChoice(TinySupernet):
    """``TinySupernet`` holding a choice module its forward never calls (``aux``)."""

    def __init__(self, kind: str = "layer") -> None:
        super().__init__()
        from lightning_nas.oneshot.choices import ChoiceLinear, LayerChoice

        self.net.aux = LayerChoice({"a": nn.Identity(), "b": nn.Tanh()}, label="aux") \
            if kind == "layer" else ChoiceLinear(16, [4, 8], label="aux")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[2](self.net[1](self.net[0](x)))


@pytest.mark.parametrize("kind", ["layer", "linear"])
def test_a_choice_module_forward_never_calls_is_refused_before_training(tmp_path, kind):
    callback = OneShotNAS(num_candidates=3, calibration_batches=1,
                          export_dir=str(tmp_path / "out"))
    trainer = _trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False)
    with pytest.raises(ConfigError, match=r"forward never called 'aux' \(net.aux: "
                                          r".*a decision the network never uses"):
        trainer.fit(UnusedChoice(kind), datamodule=BlobData())
    assert trainer.global_step == 0 and not (tmp_path / "out").exists()


class _SharedNet(nn.Module):
    """A net calling one ``ChoiceLinear`` (``shared``) on the input (8 wide) and on the
    hidden layer (4 or 16 wide)."""

    def __init__(self) -> None:
        super().__init__()
        from lightning_nas.oneshot.choices import ChoiceLinear

        self.hidden = ChoiceLinear(8, [4, 16], label="hidden")
        self.shared = ChoiceLinear(16, 8, label="shared")
        self.out = ChoiceLinear(8, 3, label="out")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.shared(x) + self.shared(torch.relu(self.hidden(x))))


class SharedAtTwoWidths(TinySupernet):
    def __init__(self) -> None:
        super().__init__()
        self.net = _SharedNet()


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_a_choice_module_called_at_two_input_widths_is_refused_before_training(
        tmp_path, algorithm):
    # was: the search trained and exported 'shared' sliced by its last input width, and
    # subnet.pt failed on its first input
    message = (r"one forward calls 'shared' \(net.shared: ChoiceLinear, input widths "
               r"\[(4, 8|8, 16)\]\).*give each place its own choice module")
    callbacks, module = [OneShotNAS(num_candidates=2, calibration_batches=1,
                                    export_dir=str(tmp_path / "out"))], SharedAtTwoWidths()
    if algorithm == "darts":
        callbacks, module = [], DifferentiableNAS(module, num_classes=3,
                                                  export_dir=str(tmp_path / "out"))
    trainer = _trainer(tmp_path, callbacks, max_epochs=1, enable_checkpointing=False)
    data = BlobData() if algorithm == "spos" else BilevelData(BlobData())
    with pytest.raises(ConfigError, match=message):
        trainer.fit(module, datamodule=data)
    assert trainer.global_step == 0 and not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match=r"export_subnet: one forward calls 'shared'"):
        export_subnet(_SharedNet(), torch.randn(2, 8), {"hidden": 4})
    assert export_subnet(TinySupernet().net, torch.randn(2, 8),
                         {"hidden": 4, "act": "relu"})[2].in_features == 4


def _with_net(*layers: nn.Module) -> TinySupernet:
    module = TinySupernet()
    module.net = nn.Sequential(ChoiceLinear(8, 16, label="inp"), *layers)
    return module


@pytest.mark.parametrize("ops, head, refused", [
    ({"same": nn.Identity(), "wide": nn.Linear(16, 20)}, nn.Linear(16, 3), "wide"),
    ({"wide": nn.Linear(16, 20), "same": nn.Identity()}, nn.Linear(16, 3), "wide"),  # active
    ({"three": nn.Linear(16, 3), "four": nn.Linear(16, 4)}, nn.Identity(), "four"),
    ({"wide": nn.Linear(16, 12), "narrow": nn.Linear(16, 6)}, ChoiceLinear(12, 3), None)])
def test_a_layer_choice_candidate_that_does_not_fit_is_refused_before_training(
        tmp_path, ops, head, refused):
    # was: torch's "mat1 and mat2 shapes cannot be multiplied (64x20 and 16x3)", naming no
    # label, at whichever step first sampled the candidate (after a whole epoch, or never)
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=2, calibration_batches=1, num_classes=3,
                          export_dir=str(tmp_path / "out"), record_paths=True)
    trainer = _trainer(tmp_path, [callback], max_epochs=2, enable_checkpointing=False)
    module = _with_net(LayerChoice(ops, label="op"), head)
    if refused is None:  # the layers after it take each shape (a width-following head)
        trainer.fit(module, datamodule=BlobData())
        assert {p["op"] for p in callback.paths} == {"wide", "narrow"}
        return
    shapes = ", ".join(f"'{name}': \\(64, {op.out_features if isinstance(op, nn.Linear) else 16}"
                       f"\\)" for name, op in ops.items())
    for sanity in (2, 0):  # said before the sanity check runs the active path, or at the
        trainer = _trainer(tmp_path, [callback], max_epochs=1,  # first training batch
                           enable_checkpointing=False, num_sanity_val_steps=sanity)
        with pytest.raises(ConfigError, match=rf"^choice 'op': OneShotNAS trains and scores "
                                              rf"paths that pick any candidate, and candidate "
                                              rf"'{refused}' does not fit the network: .*"
                                              rf"output shapes on the first batch: "
                                              rf"{shapes}\); "):
            trainer.fit(module, datamodule=BlobData())
        assert trainer.global_step == 0 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("second, said", [
    ("seed=7", r"OneShotNAS\{'optimizer': 'RandomSearch', 'seed': 0\}; OneShotNAS\{'optimizer': "
               r"'RandomSearch', 'seed': 7\}; .*yet each would search and export\); keep one"),
    ("darts", r"OneShotNAS\{'optimizer': 'RandomSearch', 'seed': 0\}; the module, "
              r"DifferentiableNAS\(algorithm='darts'\); .*fit it without OneShotNAS")])
def test_two_one_shot_searches_in_one_fit_are_refused_before_training(tmp_path, second, said):
    # was: both accepted; the second set the path at every step over the first's, so the
    # paths the first recorded never trained, yet both searched and exported
    callbacks = [OneShotNAS(num_candidates=2, calibration_batches=1, num_classes=3,
                            export_dir=str(tmp_path / "a"))]
    module, data = TinySupernet(), BlobData()
    if second == "darts":
        module = DifferentiableNAS(module, num_classes=3, export_dir=str(tmp_path / "b"))
        data = BilevelData(data)
    else:
        callbacks.append(OneShotNAS(num_candidates=2, calibration_batches=1, num_classes=3,
                                    seed=int(second[5:]), export_dir=str(tmp_path / "b")))
    trainer = _trainer(tmp_path, callbacks, max_epochs=1, enable_checkpointing=False)
    with pytest.raises(ConfigError, match=rf"^this fit holds 2 one-shot searches: {said}"):
        trainer.fit(module, datamodule=data)
    assert trainer.global_step == 0
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


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
    trainer = _trainer(tmp_path, [callback], max_epochs=3, limit_train_batches=2,
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
            _trainer(tmp_path, callbacks, max_epochs=1, limit_train_batches=2,
                     enable_checkpointing=False).fit(
                module, datamodule=BilevelData(BlobData()) if algorithm == "darts"
                else BlobData())
        assert any(message in str(w.message) for w in caught) == warns, algorithm


class _NoValBlobs(pl.LightningDataModule):
    """The blobs' training data alone: no val_dataloader."""

    def __init__(self) -> None:
        super().__init__()
        self.blobs = BlobData()

    def setup(self, stage: str | None = None) -> None:
        self.blobs.setup(stage)

    def train_dataloader(self):
        return self.blobs.train_dataloader()


@pytest.mark.parametrize("data, limit", [(_NoValBlobs, 1.0), (BlobData, 0)])
def test_a_fit_without_validation_data_is_refused_before_training(tmp_path, data, limit):
    # was: an epoch trained, then "OneShotNAS needs validation data" at the first search
    steps = []
    count = pl.callbacks.LambdaCallback(on_train_batch_start=lambda *_: steps.append(1))
    with pytest.raises(ConfigError, match=rf"OneShotNAS scores subnets on the validation "
                                          rf"data, and this fit has none \(limit_val_batches="
                                          rf"{limit}, 0 val dataloaders\)"):
        _trainer(tmp_path, [OneShotNAS(num_candidates=1), count], max_epochs=1,
                 limit_val_batches=limit, enable_checkpointing=False).fit(
            TinySupernet(), datamodule=data())
    assert steps == []


def test_validation_that_runs_later_than_the_first_epoch_is_not_taken_for_none(tmp_path):
    # the loaders are set up at the first validation: without a sanity check, epoch 1 has
    # none yet (a check at train start refused this valid fit)
    callback = OneShotNAS(num_candidates=2, calibration_batches=0)
    _trainer(tmp_path, [callback], max_epochs=2, limit_train_batches=1,
             num_sanity_val_steps=0, check_val_every_n_epoch=2,
             enable_checkpointing=False).fit(TinySupernet(), datamodule=BlobData())
    assert callback.best_arch is not None and 0 <= callback.best_score <= 1


class _NoValidationStep(TinySupernet):
    """Validated by no step: its fit never sets up the validation dataloaders."""

    validation_step = pl.LightningModule.validation_step


def _fit_with_loaders(tmp_path, callback, module=TinySupernet, **kw) -> list[int]:
    """Fit with train and validation loaders passed to ``fit()`` (no datamodule); returns
    the training batches run."""
    data, steps = BlobData(batch_size=64), []
    data.setup()
    count = pl.callbacks.LambdaCallback(on_train_batch_start=lambda *_: steps.append(1))
    _trainer(tmp_path, [callback, count], **{"enable_checkpointing": False,
                                              "num_sanity_val_steps": 0, **kw}).fit(
        module(), data.train_dataloader(), data.val_dataloader())
    return steps


@pytest.mark.parametrize("kw", [{"search_every_n_epochs": 1, "max_epochs": 3},
                                {"max_epochs": 1}, {"max_epochs": -1, "max_steps": 2},
                                {"max_epochs": -1, "max_steps": 3, "val_check_interval": 0.5}])
def test_loaders_passed_to_fit_that_a_search_would_precede_are_refused_before_training(
        tmp_path, kw):
    # the Trainer sets the loaders given to fit() up at the first validation, here after
    # epoch 2 (no public Lightning API gives them earlier); was: training, then "OneShotNAS
    # needs validation data to score subnets" at the first search, though there was some
    callback = OneShotNAS(num_candidates=2, calibration_batches=0,
                          search_every_n_epochs=kw.pop("search_every_n_epochs", None))
    with pytest.raises(ConfigError, match=r"the validation dataloaders passed to "
                       r"trainer.fit\(\) can be read only once Lightning's sanity check or "
                       r"first validation has set them up, and the first search comes before "
                       r"that \(num_sanity_val_steps=0, check_val_every_n_epoch=2, .*keep the "
                       r"sanity check \(num_sanity_val_steps > 0\), or give the module or "
                       r"datamodule a val_dataloader") as caught:
        _fit_with_loaders(tmp_path, callback, check_val_every_n_epoch=2, **kw)
    assert "has none" not in str(caught.value)
    assert callback.history == []


@pytest.mark.parametrize("kw", [{"search_every_n_epochs": 2, "max_epochs": 3},
                                {"max_epochs": 2}, {"max_epochs": -1, "max_steps": 6},
                                {"max_epochs": 3, "search_every_n_epochs": 1,
                                 "num_sanity_val_steps": 1},
                                {"max_epochs": -1, "max_steps": 4, "val_check_interval": 0.5}])
def test_loaders_passed_to_fit_are_scored_on_when_validation_sets_them_up_in_time(
        tmp_path, kw):
    # val_check_interval=0.5 of 3 batches: the first validation after batch 1 of epoch 2, i.e.
    # batch 4 (was: refused with max_steps=4 as if it came at the end of epoch 2, batch 6)
    callback = OneShotNAS(num_candidates=2, calibration_batches=0,
                          search_every_n_epochs=kw.pop("search_every_n_epochs", None))
    steps = _fit_with_loaders(tmp_path, callback, check_val_every_n_epoch=2, **kw)
    assert steps and callback.history and 0 <= callback.best_score <= 1


@pytest.mark.parametrize("val_loader", [True, False])
def test_loaders_passed_to_fit_of_a_module_without_validation_step_are_refused(
        tmp_path, val_loader):
    # Lightning never sets them up, so no search could read them (was: "OneShotNAS needs
    # validation data to score subnets" after all the training); without a validation
    # loader the message spoke of the val_dataloaders passed to fit() all the same
    callback, data, steps = OneShotNAS(num_candidates=2, calibration_batches=0), BlobData(), []
    data.setup()
    count = pl.callbacks.LambdaCallback(on_train_batch_start=lambda *_: steps.append(1))
    loaders = [data.train_dataloader(), data.val_dataloader()][:1 + val_loader]
    with pytest.raises(ConfigError, match=r"OneShotNAS scores subnets on the validation data, "
                       r"and this fit has none it can read: the module has no validation_step "
                       r"and no val_dataloader, nor a datamodule with one \(without "
                       r"validation_step Lightning never sets up loaders passed to "
                       r"trainer.fit\(val_dataloaders=...\)\); give the module or datamodule "
                       r"a val_dataloader"):
        _trainer(tmp_path, [callback, count], max_epochs=1,
                 enable_checkpointing=False).fit(_NoValidationStep(), *loaders)
    assert callback.history == [] and steps == []


def _accuracy_on(net: nn.Module, data: BlobData, samples: int) -> float:
    x, y = data.val_set[:samples]
    with torch.no_grad():
        return float((net.eval()(x).argmax(-1) == y).float().mean())


@pytest.mark.parametrize(("module", "trainer"), [
    (_NoValidationStep, {}),
    (TinySupernet, {"num_sanity_val_steps": 0, "check_val_every_n_epoch": 5})])
def test_subnets_are_scored_when_the_fit_set_up_no_validation_loader(tmp_path, module, trainer):
    # the validation data is the datamodule's, on limit_val_batches (2 of 16); was: SPOS
    # "OneShotNAS needs validation data to score subnets" after all the training, and
    # DARTS/GDAS exported with score None
    data = BlobData(batch_size=16)
    kw = {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 2,
          "enable_checkpointing": False, **trainer}
    callback = OneShotNAS(num_candidates=2, calibration_batches=0)
    _trainer(tmp_path, [callback], **kw).fit(module(), datamodule=data)
    assert callback.best_score == pytest.approx(_accuracy_on(callback.subnet, data, 32))
    nas = DifferentiableNAS(module(), num_classes=3, top_k=2, calibration_batches=0)
    _trainer(tmp_path, [], **kw).fit(nas, datamodule=BilevelData(data))
    assert all(c["score"] is not None for c in nas.scored)
    assert nas.best_score == pytest.approx(_accuracy_on(nas.subnet, data, 32))


class _Stream(torch.utils.data.IterableDataset):
    """Validation data without a length."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __iter__(self):
        return iter(zip(self.x, self.y, strict=True))


class _StreamedVal(BlobData):
    def val_dataloader(self):
        return torch.utils.data.DataLoader(_Stream(*self.val_set.tensors), batch_size=16)


def test_subnets_are_scored_on_all_of_a_validation_stream_without_a_length(tmp_path):
    # was: TypeError "object of type '_Stream' has no len()" after all the training
    data = _StreamedVal(batch_size=16)
    callback = OneShotNAS(num_candidates=2, calibration_batches=0)
    _trainer(tmp_path, [callback], max_epochs=1, limit_train_batches=2,
             enable_checkpointing=False).fit(_NoValidationStep(), datamodule=data)
    assert callback.best_score == pytest.approx(
        _accuracy_on(callback.subnet, data, len(data.val_set)))


def test_a_callback_that_stops_training_after_a_search_does_not_repeat_it(tmp_path):
    # was: EarlyStopping stopped after the epoch's search, and the final search ran the same
    # search again: every subnet twice in history.json, twice the cost
    # a threshold of -1 stops after the first epoch whatever val_acc is: with 0.0 a first
    # epoch scoring val_acc 0.0 (seed 163 does) did not stop, and the test failed by chance
    pl.seed_everything(163, verbose=False)
    callback = OneShotNAS(num_candidates=3, search_every_n_epochs=1, calibration_batches=0)
    stop = pl.callbacks.EarlyStopping(monitor="val_acc", mode="max", stopping_threshold=-1.0)
    _trainer(tmp_path, [callback, stop], max_epochs=3, limit_train_batches=1,
             enable_checkpointing=False).fit(TinySupernet(), datamodule=BlobData())
    searched = [(h["epoch"], arch_key(h["arch"])) for h in callback.history]
    assert stop.stopped_epoch == 0
    assert {epoch for epoch, _ in searched} == {1} and len(searched) == len(set(searched))
    assert callback.best_arch is not None and callback.subnet is not None


def test_subnets_are_scored_on_limit_val_batches(tmp_path):
    scored = []

    def forward(module, batch):
        scored.append(len(batch[0]))
        return module(batch[0]), batch[1]

    callback = OneShotNAS(num_candidates=1, calibration_batches=0, forward=forward)
    _trainer(tmp_path, [callback], max_epochs=1, limit_train_batches=1, limit_val_batches=2,
             enable_checkpointing=False).fit(TinySupernet(), datamodule=BlobData(batch_size=16))
    # the first validation batch before the sanity check (each LayerChoice candidate fits),
    # the first training batch at training start (every choice module called; then once
    # per other value of each decision: hidden 4 and 8, act tanh), 2 of the 4 validation
    # batches, as validation runs; then the export's one batch
    assert scored == [16] * 8


def test_a_run_dir_holding_a_newline_is_refused_before_any_folder(tmp_path, monkeypatch,
                                                                  capsys):
    # was: taken, a folder whose path spans lines (the commands a run prints name it)
    monkeypatch.chdir(ROOT)
    run = f"{tmp_path}/nl\nx"
    assert main([*TINY_CLI, f'--oneshot.run_dir="{tmp_path}/nl\\nx"']) == 2  # YAML's \n
    assert (f"oneshot.run_dir must be a folder path of printable characters (letters, digits, "
            f"spaces, punctuation), without control characters (a newline, a carriage return, "
            f"a tab); got {run!r}, which holds '\\n'") in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"oneshot.run_dir must be a folder path .* got "
                                          r"'runs/a\\rb', which holds '\\r'"):
        check_oneshot_settings({"run_dir": "runs/a\rb"})
    assert list(tmp_path.iterdir()) == []  # nothing made


def test_a_run_dir_that_is_a_file_or_under_one_is_refused_naming_it(tmp_path, monkeypatch,
                                                                    capsys):
    # was: "error: [Errno 17] File exists: ...", naming no setting
    monkeypatch.chdir(ROOT)
    file = tmp_path / "file"
    file.write_text("a file of the user's")
    for run_dir in (file, file / "run"):
        for extra in (["--print_config"], []):
            assert main([*TINY_CLI, f"--oneshot.run_dir={run_dir}", *extra]) == 2
            captured = capsys.readouterr()
            assert (f"error: oneshot.run_dir '{run_dir}' cannot be a folder: {file} is a file; "
                    f"a one-shot run writes best_arch.yaml") in captured.err
            assert captured.err.count("\n") == 1 and not captured.out
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
    assert file.read_text() == "a file of the user's"


def test_a_searchs_run_folder_is_refused_before_anything_is_written(tmp_path, monkeypatch,
                                                                    capsys):
    # was: taken, and the search's report/report.html removed with the earlier outputs
    monkeypatch.chdir(ROOT)
    run = tmp_path / "search"
    assert main(["search", "examples/digits/search.yaml", "--search.budget=1",
                 "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
                 "--trainer.limit_val_batches=2", f"--search.run_dir={run}"]) == 0
    assert main(["report", str(run)]) == 0
    capsys.readouterr()
    before = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in run.rglob("*")}
    assert run / "report" / "report.html" in before
    for extra in (["--print_config"], []):
        assert main([*TINY_CLI, f"--oneshot.run_dir={run}", *extra]) == 2
        captured = capsys.readouterr()
        assert (f"error: oneshot.run_dir '{run}' is a search's run folder (search.db); give a "
                f"one-shot run another folder") in captured.err and not captured.out
        assert {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in run.rglob("*")} == before


def test_the_configs_oneshot_defaults_are_the_classes_defaults():
    # was: a copy of OneShotNAS's, DifferentiableNAS's and finetune_subnet's defaults, which
    # a change of one of them would have left behind
    owners = {"finetune_lr": (finetune_subnet, "lr")}
    for key in ("optimizer", "num_candidates", "search_every_n_epochs", "calibration_batches"):
        owners[key] = (OneShotNAS, key)
    for key in ("arch_lr", "arch_weight_decay", "warmup_epochs", "top_k", "tau_max", "tau_min",
                "tau_schedule", "tau_epochs", "calibration_batches"):
        owners.setdefault(key, (DifferentiableNAS, key))
    for key, (owner, name) in owners.items():
        assert ONESHOT_KEYS[key] == inspect.signature(owner).parameters[name].default, key
    # calibration_batches is both classes': they agree
    assert (inspect.signature(DifferentiableNAS).parameters["calibration_batches"].default
            == ONESHOT_KEYS["calibration_batches"])


def test_gdas_tau_epochs_is_a_oneshot_key_checked_before_training(monkeypatch, capsys):
    # was: no such key, so a resumed GDAS run's advice (DifferentiableNAS(tau_epochs=N))
    # could not be followed from the command line
    monkeypatch.chdir(ROOT)
    config = ["oneshot", "examples/oneshot_digits/darts.yaml", "--print_config"]
    gdas = [*config, "--oneshot.algorithm=gdas"]
    assert main([*gdas, "--oneshot.tau_epochs=3"]) == 0
    assert "tau_epochs: 3" in capsys.readouterr().out
    assert main([*gdas, "--oneshot.tau_epochs=null"]) == 0  # not given: max_epochs
    capsys.readouterr()
    for value, said in (("0", "oneshot.tau_epochs must be an integer >= 1 or null, got 0"),
                        ("2.5", "oneshot.tau_epochs must be an integer >= 1 or null, got 2.5"),
                        ("true", "oneshot.tau_epochs must be an integer >= 1 or null, got True")):
        assert main([*gdas, f"--oneshot.tau_epochs={value}"]) == 2
        assert said in capsys.readouterr().err, value
    assert main([*config, "--oneshot.tau_epochs=3"]) == 2  # DARTS has no temperature
    assert ("oneshot setting 'tau_epochs' applies to algorithm gdas only, not darts; leave it "
            "out or set it to null") in capsys.readouterr().err
    assert main([*config, "--oneshot.tau_epochs=null"]) == 0


def test_gdas_tau_schedule_is_a_oneshot_key_checked_before_training(tmp_path, monkeypatch,
                                                                     capsys):
    # was: no such key (DifferentiableNAS(tau_schedule=...) took it, the command did not):
    # "unknown oneshot setting 'tau_schedule'", so a linear schedule was Python only
    monkeypatch.chdir(ROOT)
    config = ["oneshot", "examples/oneshot_digits/darts.yaml", "--print_config"]
    gdas = [*config, "--oneshot.algorithm=gdas"]
    assert main([*gdas, "--oneshot.tau_schedule=linear"]) == 0
    assert "tau_schedule: linear" in capsys.readouterr().out
    for value in ("cosine", "5"):
        assert main([*gdas, f"--oneshot.tau_schedule={value}"]) == 2
        err = capsys.readouterr().err
        assert "oneshot.tau_schedule" in err and "valid values: exponential, linear" in err, err
    assert main([*config, "--oneshot.tau_schedule=linear"]) == 2  # DARTS has no temperature
    assert ("oneshot setting 'tau_schedule' applies to algorithm gdas only, not darts"
            in capsys.readouterr().err)
    # a run anneals on it: 10 to 0.1 over 3 epochs, linearly (exponential: 10, 1, 0.1)
    run_dir = tmp_path / "linear"
    assert main(["oneshot", "examples/oneshot_digits/darts.yaml", "--oneshot.algorithm=gdas",
                 "--oneshot.tau_schedule=linear", f"--oneshot.run_dir={run_dir}",
                 "--trainer.max_epochs=3", "--trainer.limit_train_batches=1",
                 "--trainer.limit_val_batches=1", "--oneshot.calibration_batches=1",
                 "--oneshot.finetune_epochs=0"]) == 0
    history = json.loads((run_dir / "alphas.json").read_text())["history"]
    assert [round(epoch["tau"], 4) for epoch in history] == [10.0, 5.05, 0.1]


def test_a_null_finetune_epochs_is_the_default_no_fine_tune(monkeypatch, capsys):
    # was: refused ("oneshot.finetune_epochs must be an integer >= 0, got None"), where
    # null means not given for the other keys that have a default
    monkeypatch.chdir(ROOT)
    assert ONESHOT_KEYS["finetune_epochs"] == 0
    assert check_oneshot_settings({"finetune_epochs": None}) == {"finetune_epochs": 0}
    assert main(["oneshot", "examples/oneshot_digits/oneshot.yaml", "--print_config",
                 "--oneshot.finetune_epochs=null"]) == 0
    assert "finetune_epochs must be" not in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"oneshot.finetune_epochs must be an integer >= 0 "
                                          r"or null, got -1"):
        check_oneshot_settings({"finetune_epochs": -1})


@pytest.mark.parametrize("key", sorted(ONESHOT_KEYS))
def test_a_null_oneshot_setting_is_its_default_as_if_left_out(key, monkeypatch):
    # was: null was the default for finetune_epochs and the keys whose default is null
    # alone; top_k, finetune_lr, mode, ... were refused ("must be ..., got None") and
    # algorithm: null was "unknown oneshot algorithm None"
    monkeypatch.chdir(ROOT)
    algorithm = ALGORITHM_KEYS.get(key, ("spos",))[0]
    spos_keys = [k for k, algorithms in ALGORITHM_KEYS.items() if algorithms == ("spos",)]
    switch = [] if algorithm == "spos" else [f"--oneshot.algorithm={algorithm}",
                                             *(f"--oneshot.{k}=null" for k in spos_keys)]
    cfg = load_config(EXAMPLE_ONESHOT, [*switch, "--oneshot.finetune_epochs=0"])
    left_out = {**cfg, "oneshot": {k: v for k, v in cfg["oneshot"].items() if k != key}}
    null = {**cfg, "oneshot": {**cfg["oneshot"], key: None}}
    expected = check_oneshot(left_out)
    assert check_oneshot(null)[:2] == expected[:2]
    assert expected[1][key] == ONESHOT_KEYS[key] or key == "seed"  # seed: seed_everything's
    if key == "num_classes":  # a fine-tune needs it: null, its default, is refused there
        with pytest.raises(ConfigError, match=r"oneshot.finetune_epochs=1 needs "
                                              r"oneshot.num_classes"):
            check_oneshot({**null, "oneshot": {**null["oneshot"], "finetune_epochs": 1}})


@pytest.mark.parametrize("key", sorted(ONESHOT_KEYS))
def test_a_bad_oneshot_setting_says_null_is_valid_too(key):
    # null is each key's default: the error for a bad value lists it with the valid ones
    # (was: "or null" for the keys whose default is null alone: "oneshot.top_k must be an
    # integer >= 1, got 'x'", "valid values: exponential, linear", "`oneshot.mode` can be
    # max, min", an unknown optimizer naming no key)
    bad = 5 if key in ("net_attr", "run_dir") else "bogus"
    with pytest.raises(ConfigError) as caught:
        if key == "algorithm":
            check_algorithm({key: bad})
        else:
            check_oneshot_settings({key: bad})
    said = str(caught.value)
    assert f"oneshot{'.' if key != 'algorithm' else ' '}{key}" in said, said
    assert " or null" in said, said
    if key == "seed":  # its range, checked with the config's seed_everything
        with pytest.raises(ConfigError, match=r"oneshot.seed must be an integer from 0 to "
                                              r"2147483647 \(2\*\*31 - 1\) or null, got -1"):
            check_seed(-1, "oneshot.seed")


def test_bad_oneshot_settings_are_errors_naming_the_key_before_training(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    earlier = {"best_arch.yaml": "arch: {}\nscore: 0.5\n", "history.json": "[]",
               "subnet.pt": "an earlier run's", "finetune.json": "{}"}
    for name, text in earlier.items():
        (tmp_path / name).write_text(text)
    for setting, said in (
            ("finetune_epochs=ten",
             "oneshot.finetune_epochs must be an integer >= 0 or null, got 'ten'"),
            ("finetune_lr=abc", "oneshot.finetune_lr must be a number > 0 or null, got 'abc'"),
            ("seed=abc", "oneshot.seed must be an integer or null, got 'abc'"),
            ("calibration_batches=-1", "oneshot.calibration_batches must be an integer >= 0"),
            # was: a SpaceError "no choice module" after training and the search
            ("net_attr=val_acc", "net_attr 'val_acc': MulticlassAccuracy holds no choice "
                                 "module, so its export would leave the search out; the "
                                 "choice modules are in: net"),
            # was: accepted, and the run picked the subnet of the lowest accuracy
            ("mode=min", "oneshot.mode can be max or null; got 'min': min would pick the "
                         "subnet of the lowest accuracy"),
            # was: said after the search, by the fine-tune
            ("finetune_epochs=1 --oneshot.num_classes=null",
             "oneshot.finetune_epochs=1 needs oneshot.num_classes"),
            ("optimizer=RandomSearc", "RandomSearch"),  # was: after the earlier run was removed
            ("num_classes=3", "num_classes=3 does not fit the data: the network predicts 10 "
                              "classes and the targets reach class 9; set num_classes=10")):
        args = [f"--oneshot.{part}" for part in setting.split(" --oneshot.")]
        assert main([*TINY_CLI, *args, f"--oneshot.run_dir={tmp_path}"]) == 2
        assert said in capsys.readouterr().err, setting
        # a run refused for bad input removes nothing (was: the earlier run's outputs)
        assert {n: (tmp_path / n).read_text() for n in earlier} == earlier, setting
    with pytest.raises(ConfigError, match=r"oneshot.tau_min \(20.0\) must be at most tau_max"):
        check_oneshot_settings({"tau_min": 20.0, "tau_max": 10.0})
    with pytest.raises(ConfigError, match="'ddp_spawn' runs the ranks in child processes, "
                                          "whose search result this command never sees"):
        check_oneshot_strategy({"strategy": "ddp_spawn"}, "darts")
    with pytest.raises(ConfigError, match="calibration_batches must be an integer >= 0, got -1"):
        OneShotNAS(calibration_batches=-1)
    for who in (lambda: OneShotNAS(mode="min"),
                lambda: DifferentiableNAS(TinySupernet(), mode="min")):
        with pytest.raises(ConfigError, match=r"\(mode='min'\) without a metric would pick"):
            who()
    # a metric's own direction: was mode='max' for any metric, so an error rate picked the
    # subnet of the highest error without a word
    assert OneShotNAS(metric=MeanSquaredError).mode == "min"
    assert DifferentiableNAS(TinySupernet(), metric=MeanSquaredError).hparams.mode == "min"
    for who in (OneShotNAS, lambda **kw: DifferentiableNAS(TinySupernet(), **kw)):
        with pytest.raises(ConfigError, match=r"\(metric=MeanSquaredError, mode='max'\) would "
                                              r"pick the worst subnet: the metric's "
                                              r"higher_is_better is False; give mode='min'"):
            who(metric=MeanSquaredError, mode="max")
        with pytest.raises(ConfigError, match=r"\(metric=MeanMetric\) needs mode='max' or 'min'"):
            who(metric=torchmetrics.MeanMetric)
    nas = DifferentiableNAS(TinySupernet(), num_classes=2)  # the sanity check says it
    with pytest.raises(ConfigError, match="num_classes=2 does not fit the data"):
        _trainer(tmp_path, [], max_epochs=1).fit(nas, datamodule=BilevelData(BlobData()))


def _listed_modes(said: str) -> list[str | None]:
    """The values an error for a bad mode lists as valid (``... can be A, B or C; got``)."""
    listing = re.search(r"can be (.*?);", said)
    assert listing, said
    words = re.split(r", | or ", listing.group(1).replace("'", ""))
    return [None if word in ("null", "None") else word for word in words]


def test_a_bad_oneshot_mode_lists_only_the_values_the_command_takes(monkeypatch, capsys):
    # was: "oneshot.mode can be max, min or null", and --oneshot.mode=min was then refused
    # with its own explanation (the command scores by accuracy: min would pick the worst)
    monkeypatch.chdir(ROOT)
    assert main([*TINY_CLI, "--oneshot.mode=maximum", "--print_config"]) == 2
    said = capsys.readouterr().err
    assert "oneshot.mode" in said and "'maximum'" in said, said
    listed = _listed_modes(said)
    assert listed and "min" not in listed, said
    for mode in listed:  # every value the message lists is one the command takes
        check_oneshot(load_config(EXAMPLE_ONESHOT, [f"--oneshot.mode={mode or 'null'}"]))


@pytest.mark.parametrize("metric", [None, MeanSquaredError, MulticlassAccuracy,
                                    torchmetrics.MeanMetric])
def test_a_bad_mode_of_the_classes_lists_only_the_modes_their_metric_takes(metric):
    # was: "`mode` can be max, min" beside any metric: min is refused without a metric (and
    # beside accuracy), max beside a metric where lower is better
    kwargs = {} if metric is None else {"metric": metric}
    if metric is MulticlassAccuracy:
        kwargs["metric"] = lambda: MulticlassAccuracy(num_classes=3)
    for make in (OneShotNAS, lambda **kw: DifferentiableNAS(TinySupernet(), **kw)):
        with pytest.raises(ConfigError) as caught:
            make(mode="maximum", **kwargs)
        said = str(caught.value)
        assert "mode='maximum'" in said, said
        listed = _listed_modes(said)
        assert listed, said
        for mode in listed:  # each one it lists is taken
            make(mode=mode, **kwargs)


def test_a_seed_out_of_range_is_refused_before_training(tmp_path, monkeypatch, capsys):
    # was: -1 a raw ValueError of seed_everything; 2**32 - 1 trained, then the final search
    # failed on seed + epoch with a raw ValueError
    monkeypatch.chdir(ROOT)
    (tmp_path / "best_arch.yaml").write_text("an earlier run's result")
    for arg, key, seed in (("--oneshot.seed=-1", "oneshot.seed", -1),
                           ("--oneshot.seed=4294967295", "oneshot.seed", 2**32 - 1),
                           ("--seed_everything=4294967295", "seed_everything", 2**32 - 1)):
        args = [*TINY_CLI, "--oneshot.seed=null"] if key == "seed_everything" else TINY_CLI
        assert main([*args, arg, f"--oneshot.run_dir={tmp_path}"]) == 2, arg
        null = " or null" if key == "oneshot.seed" else ""
        assert (f"{key} must be an integer from 0 to 2147483647 (2**31 - 1){null}, got {seed}: "
                f"it seeds torch, numpy and random") in capsys.readouterr().err, arg
        assert (tmp_path / "best_arch.yaml").read_text() == "an earlier run's result"
        assert not (tmp_path / "checkpoints").exists()
    assert check_oneshot_settings({"seed": 2**31 - 1})["seed"] == 2**31 - 1


def test_a_seed_everything_out_of_range_is_refused_beside_a_oneshot_seed(
        tmp_path, monkeypatch, capsys):
    # was: with oneshot.seed set, seed_everything=-5 was silently ignored (the run trained
    # and wrote its outputs); without it, it is refused
    monkeypatch.chdir(ROOT)
    for seed in (-5, 2**32):
        assert main([*TINY_CLI, "--oneshot.seed=3", f"--seed_everything={seed}",
                     f"--oneshot.run_dir={tmp_path / 'run'}"]) == 2, seed
        assert (f"seed_everything must be an integer from 0 to 4294967295 (2**32 - 1), got "
                f"{seed}: it seeds torch") in capsys.readouterr().err, seed
        assert not (tmp_path / "run").exists()


def test_sync_batchnorm_under_ddp_on_cpu_is_refused_before_anything_is_written(
        tmp_path, monkeypatch, capsys):
    # was: the ranks started, then DDP's setup failed with torch's traceback, "ValueError:
    # SyncBatchNorm layers only work with GPU modules", exit 1
    monkeypatch.chdir(ROOT)
    assert main([*TINY_CLI, "--trainer.accelerator=cpu", "--trainer.devices=2",
                 "--trainer.strategy=ddp_find_unused_parameters_true",
                 "--trainer.sync_batchnorm=true", f"--oneshot.run_dir={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert "trainer.sync_batchnorm=True needs CUDA devices" in err
    assert "leave sync_batchnorm off on CPU" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"num_candidates": 2.5}, "num_candidates must be an integer >= 1, got 2.5"),
    ({"num_candidates": "5"}, "num_candidates must be an integer >= 1, got '5'"),
    ({"num_candidates": True}, "num_candidates must be an integer >= 1, got True"),
    ({"calibration_batches": 1.5}, "calibration_batches must be an integer >= 0, got 1.5"),
    ({"search_every_n_epochs": 0}, "search_every_n_epochs must be an integer >= 1 or None "
                                   "(null in YAML), got 0"),
    ({"search_every_n_epochs": 1.5}, "search_every_n_epochs must be an integer >= 1 or "
                                     "None (null in YAML), got 1.5"),
    # was: refused when the fit started, as "num_classes=3 does not fit the data ...; set
    # num_classes=3" for "3"; forward=3 a bare TypeError there
    ({"num_classes": "3"}, "num_classes must be an integer >= 2 or None (null in YAML), got '3'"),
    ({"num_classes": 1.5}, "num_classes must be an integer >= 2 or None (null in YAML), got 1.5"),
    ({"forward": 3}, "forward must be a callable (module, batch) -> (predictions, targets), "
                     "got 3")])
def test_oneshotnas_counts_that_are_no_integers_are_refused_when_built(kwargs, message):
    # was: num_candidates=2.5 trained, then the final search crashed after training; a
    # string was a raw TypeError
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        OneShotNAS(**kwargs)


@pytest.mark.parametrize("make", [
    lambda out: OneShotNAS(export_dir=out),
    lambda out: DifferentiableNAS(TinySupernet(), export_dir=out)], ids=["spos", "darts"])
def test_an_export_dir_that_cannot_be_written_is_refused_when_made(tmp_path, make):
    # was: export_dir=3 (or a file's path) was taken, the fit trained, and writing the
    # export at its end raised a bare TypeError (FileExistsError), naming no argument
    name = type(make(None)).__name__
    with pytest.raises(ConfigError, match=rf"^{name}\(export_dir=\.\.\.\) must be a folder "
                                          rf"path \(None: write nothing\), got 3$"):
        make(3)
    with pytest.raises(ConfigError, match=r"must be a folder path .* got ''"):
        make("")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"export_dir=\.\.\.\) '.*file/out' cannot be a "
                                          r"folder: .*file is a file"):
        make(str(tmp_path / "file" / "out"))
    make(tmp_path / "new")  # a folder path (a Path too) is taken
    assert not (tmp_path / "new").exists()  # written when training ends, not when made


def test_the_seed_limit_of_spos_holds_for_oneshotnas_and_for_spos_only(
        tmp_path, monkeypatch, capsys):
    # was: OneShotNAS(seed=2**32 - 1) trained, then its final search failed on seed + epoch
    # with a raw ValueError; and DARTS/GDAS, which add no epoch to it, refused 2**31..2**32-1
    for seed in (-1, 2**32 - 1, 2**31, True):
        with pytest.raises(ConfigError, match=rf"seed must be an integer from 0 to 2147483647 "
                                              rf"\(2\*\*31 - 1\), got {seed}: seed \+ epoch seeds "
                                              rf"each search's optimizer"):
            OneShotNAS(num_candidates=2, seed=seed)
    assert OneShotNAS(seed=2**31 - 1).seed == 2**31 - 1
    monkeypatch.chdir(ROOT)
    config = "examples/oneshot_digits/darts.yaml"
    tiny = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=2", "--oneshot.calibration_batches=1",
            "--oneshot.finetune_epochs=0", f"--oneshot.run_dir={tmp_path}"]
    for args in (["--oneshot.seed=null", "--seed_everything=4294967295"],
                 ["--oneshot.algorithm=gdas", "--oneshot.seed=4294967295"]):
        assert main(["oneshot", config, *tiny, *args]) == 0, args
        assert yaml.safe_load((tmp_path / "best_arch.yaml").read_text())["arch"]
    for args in (["--oneshot.seed=4294967296"], ["--oneshot.seed=-1"]):
        assert main(["oneshot", config, *tiny, *args]) == 2, args
        assert ("oneshot.seed must be an integer from 0 to 4294967295 (2**32 - 1) or null, got "
                in capsys.readouterr().err)


def test_every_ddp_that_stops_at_unused_parameters_is_refused_for_one_path_per_step(
        tmp_path, monkeypatch, capsys):
    # was: only the exact string "ddp" was refused; a DDPStrategy node or
    # "ddp_find_unused_parameters_false" passed and stopped at the first step on rank 1
    # ("parameters that were not used")
    from lightning.pytorch.strategies import DDPStrategy

    node = {"class_path": "lightning.pytorch.strategies.DDPStrategy"}
    for strategy in ("ddp", "ddp_find_unused_parameters_false", node, "DDP",  # (any case,
                     "DDP_Find_Unused_Parameters_False",  # as Lightning reads it; was: passed)
                     {**node, "init_args": {"find_unused_parameters": False,
                                            "process_group_backend": "gloo"}},
                     {"_target_": "lightning.pytorch.strategies.DDPStrategy"}):
        for algorithm in ("spos", "gdas"):
            with pytest.raises(ConfigError, match=rf"trainer.strategy=.* cannot train "
                                                  rf"{algorithm}: each step trains one sampled "
                                                  rf"path .* which DDP stops at"):
                check_oneshot_strategy({"strategy": strategy}, algorithm)
        check_oneshot_strategy({"strategy": strategy}, "darts")  # every path trains
    for strategy in ("ddp_find_unused_parameters_true", "auto", "fsdp", None,
                     {**node, "init_args": {"find_unused_parameters": True}},
                     {"_target_": "lightning.pytorch.strategies.DDPStrategy",
                      "find_unused_parameters": True},
                     DDPStrategy(find_unused_parameters=True)):
        check_oneshot_strategy({"strategy": strategy}, "spos")
    # was: two devices with no strategy (Lightning picks DDP) passed and stopped at step 1
    for trainer in ({"devices": 2}, {"devices": "0,1", "strategy": "auto"},
                    {"devices": 2, "strategy": "Auto"},
                    {"devices": 1, "num_nodes": 2}):
        with pytest.raises(ConfigError, match=r"trains with DDP, which stops at the parameters"):
            check_oneshot_strategy(trainer, "spos")
        check_oneshot_strategy(trainer, "darts")
    for trainer in ({"devices": 1}, {"devices": "auto"}, {"devices": 2, "strategy": "deepspeed"},
                    {"devices": 2, "strategy": "ddp_find_unused_parameters_true"}):
        check_oneshot_strategy(trainer, "spos")
    monkeypatch.chdir(ROOT)
    assert main(["oneshot", "examples/oneshot_digits/oneshot.yaml", "--trainer.devices=2",
                 "--trainer.strategy={class_path: lightning.pytorch.strategies.DDPStrategy}",
                 f"--oneshot.run_dir={tmp_path / 'run'}"]) == 2
    assert ("trainer.strategy=lightning.pytorch.strategies.DDPStrategy(find_unused_parameters"
            "=False) cannot train spos" in capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


def test_export_and_finetune_point_a_one_shot_folder_to_its_outputs(tmp_path, capsys):
    (tmp_path / "best_arch.yaml").write_text(yaml.safe_dump({"arch": {"hidden": 4}}))
    for command in ("export", "finetune"):
        assert main([command, str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path} is a one-shot run folder" in err and "subnet.pt" in err
        assert "`lightning-nas show` and `report` read it" in err
        # was: torch.load('subnet.pt', ...), a file of the folder the command ran in
        assert f"torch.load({str(tmp_path / 'subnet.pt')!r}, weights_only=False)" in err


def test_export_and_finetune_of_an_unfinished_one_shot_folder_say_how_to_finish_it(tmp_path,
                                                                                    capsys):
    # was: "... is not a run directory (no search.db)", where show and report name the run
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    for command in ("export", "finetune"):
        assert main([command, str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path} holds a one-shot run that has not finished" in err
        assert f"--oneshot.run_dir {tmp_path} --ckpt_path last" in err and "subnet.pt" in err


CLI_DDP_SCRIPT = """
import json, os, sys
import torch
from lightning_nas.oneshot.run import run_oneshot
from lightning_nas.config.load import load_config
from tests.helpers import SeedEnv

if __name__ == "__main__":
    torch.set_num_threads(1)
    out = sys.argv[1]
    cfg = load_config("examples/oneshot_digits/oneshot.yaml", [
        "--trainer.devices=2", "--trainer.strategy=ddp_find_unused_parameters_true",
        "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
        "--trainer.limit_val_batches=2", "--oneshot.num_candidates=2",
        "--oneshot.search_every_n_epochs=null", "--oneshot.calibration_batches=1",
        "--oneshot.finetune_epochs=1", f"--oneshot.run_dir={out}/run",
        "--seed_everything=false", "--oneshot.seed=null",  # a drawn seed
        "--trainer.callbacks=[{class_path: tests.helpers.SeedEnv}]"])  # (restored after)
    result = run_oneshot(cfg)
    with open(os.path.join(out, "rank" + os.environ.get("LOCAL_RANK", "0") + ".json"), "w") as f:
        json.dump({**result["finetune"], "seed": SeedEnv.seen[0][0]}, f)
"""


@pytest.mark.slow
def test_ddp_oneshot_cli_rank_zero_writes_and_prints_synced_metrics(tmp_path, launcher):
    script = tmp_path / "oneshot_cli_ddp.py"
    script.write_text(CLI_DDP_SCRIPT)
    log = tmp_path / "log.txt"
    assert launcher.run([tmp_path], log, script) == 0, log.read_text()
    out = log.read_text()
    assert out.count("One-shot search: ") == 1, out
    assert out.count("Fine-tuned 1 epoch: ") == 1, out
    # the example's supernet logs its epoch-level train_loss as every rank's mean (was:
    # Lightning's "It is recommended to use `self.log('train_loss', ..., sync_dist=True)`")
    assert "sync_dist" not in out, out
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    # one drawn seed: rank 1 takes the one rank 0 drew (was: each rank drew its own)
    assert r0.pop("seed") == r1.pop("seed")
    assert r0 == r1 and "val_loss" in r0  # averaged over both ranks' shards
    saved = json.loads((tmp_path / "run" / "finetune.json").read_text())["metrics"]
    assert saved == r0


#: two ranks as torchrun starts them: forked by this script (itself a launch of the
#: ``launcher``), not by the launcher, which runs one launch at a time and runs a command,
#: while these two run at once and call ``run_oneshot`` in-process to read ``SeedEnv.seen``
TORCHRUN_SCRIPT = """
import json, os, random, socket, sys, traceback
import torch

if __name__ == "__main__":
    out, algorithm, strategy, *extra = sys.argv[1:]
    with socket.socket() as free:  # the rendezvous port, as torchrun's
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    ranks = []
    for rank in (0, 1):  # two processes started as torchrun starts them: its variables
        pid = os.fork()
        if pid:
            ranks.append(pid)
            continue
        code = 1
        try:
            os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "GROUP_RANK": "0",
                               "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2",
                               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                               "TORCHELASTIC_RUN_ID": "test"})
            random.seed()  # a fresh interpreter's own random state
            torch.set_num_threads(1)
            from lightning_nas.config.load import load_config
            from lightning_nas.oneshot.run import run_oneshot
            cfg = load_config("examples/oneshot_digits/oneshot.yaml", [
                "--trainer.devices=2", f"--trainer.strategy={strategy}",
                "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
                "--trainer.limit_val_batches=2", "--oneshot.calibration_batches=1",
                "--oneshot.finetune_epochs=0", f"--oneshot.algorithm={algorithm}",
                f"--oneshot.run_dir={out}/run", "--seed_everything=true",
                "--oneshot.seed=null", *extra,  # a drawn seed
                "--trainer.callbacks=[{class_path: tests.helpers.SeedEnv}]"])  # (restored)
            result = run_oneshot(cfg, verbose=False)
            from tests.helpers import SeedEnv
            with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
                json.dump({"seed": SeedEnv.seen[0][0], "arch": result["arch"]}, f)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    codes = [os.waitpid(pid, 0)[1] for pid in ranks]
    sys.exit(1 if any(codes) else 0)
"""


@pytest.mark.slow
@pytest.mark.parametrize(("algorithm", "strategy", "extra"), [
    ("gdas", "ddp_find_unused_parameters_true", ["--oneshot.optimizer=null",
                                                 "--oneshot.num_candidates=null",
                                                 "--oneshot.search_every_n_epochs=null"]),
    ("spos", "ddp_find_unused_parameters_true", ["--oneshot.num_candidates=2",
                                                 "--oneshot.search_every_n_epochs=null"])])
def test_ranks_torchrun_starts_take_rank_zeros_drawn_seed(tmp_path, launcher, algorithm,
                                                          strategy, extra):
    # was: each rank that torchrun or SLURM started (not Lightning's launcher, whose ranks
    # inherit it) drew its own seed: the ranks' samplers, SPOS paths and GDAS draws differed
    script = tmp_path / "oneshot_torchrun.py"
    script.write_text(TORCHRUN_SCRIPT)
    log = tmp_path / "log.txt"
    assert launcher.run([tmp_path, algorithm, strategy, *extra], log, script) == 0, \
        log.read_text()
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0 == r1, (r0, r1)  # one seed (PL_GLOBAL_SEED, the samplers'), one result


@pytest.mark.parametrize(("override", "said", "needs"), [
    ("max_epochs=0", "max_epochs=0", ">= 1 (or -1: no limit)"),
    ("max_steps=0", "max_steps=0", ">= 1 (or -1: no limit)"),
    ("limit_train_batches=0", "limit_train_batches=0", "above 0"),
    ("max_time=00:00:00:00", "max_time='00:00:00:00'", "above zero"),
    ("max_time={minutes: 0, seconds: 0}", "max_time={'minutes': 0, 'seconds': 0}", "above zero"),
])
def test_a_training_of_zero_epochs_or_steps_is_refused_before_the_fit(
        tmp_path, override, said, needs, capsys):
    # was: refused only after setup, "this fit trained nothing (... resumed from a checkpoint
    # of its last epoch?)"; limit_train_batches and max_time were, after this
    run = tmp_path / "run"
    cli = [TINY_CLI[0], str(ROOT / TINY_CLI[1]), *TINY_CLI[2:]]
    key = override.split("=")[0]
    for argv in ([*cli, "--print_config"], cli):
        assert main([*argv, f"--trainer.{override}", f"--oneshot.run_dir={run}"]) == 2
        err = capsys.readouterr().err
        assert f"trainer.{said} trains nothing" in err and f"trainer.{key} {needs}" in err
        assert not run.exists()
    with pytest.raises(ConfigError, match=r"max_time=datetime.timedelta\(0\) trains nothing"):
        check_oneshot_trainer({"max_time": timedelta(0)}, "spos")
    check_oneshot_trainer({"max_time": "00:00:00:01", "limit_train_batches": 0.5}, "spos")


class _StopAtFitStart(pl.Callback):
    """Stops the fit as it starts, before its first training epoch."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.should_stop = True


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
@pytest.mark.parametrize(("stop", "said", "fix"), [
    ({"callbacks": [_StopAtFitStart()]},
     "trainer.should_stop was set before its first training epoch (by a callback)",
     "see which of the Trainer's callbacks stops the fit as it starts"),
    ({"max_time": {"seconds": 0}}, "max_time spent (0:00:00 trained of 0:00:00)",
     "raise max_time"),
    ({"limit_train_batches": 0}, "no training batches (limit_train_batches=0)",
     "give it training batches"),
], ids=["callback", "max_time", "no_batches"])
def test_a_fit_ended_before_training_says_what_ended_it(tmp_path, algorithm, stop, said, fix):
    # was: "this fit trained nothing (epoch 0 of max_epochs=3: resumed from a checkpoint of
    # its last epoch?) ... raise max_epochs" whatever stopped it: a callback's should_stop,
    # a spent max_time, no training batches (the command refuses the last two before it
    # builds anything; Python reaches the fit)
    callbacks = [OneShotNAS(num_candidates=2, calibration_batches=1)] if algorithm == "spos" \
        else []
    trainer = pl.Trainer(**{"max_epochs": 3, "accelerator": "cpu", "logger": False,
                            "enable_checkpointing": False, "enable_progress_bar": False,
                            "default_root_dir": tmp_path, **stop,
                            "callbacks": [*stop.get("callbacks", []), *callbacks]})
    module = TinySupernet() if algorithm == "spos" else DifferentiableNAS(TinySupernet())
    data = BlobData() if algorithm == "spos" else BilevelData(BlobData())
    with pytest.raises(ConfigError, match="this fit trained nothing") as caught:
        trainer.fit(module, datamodule=data)
    message = str(caught.value)
    assert f"this fit trained nothing ({said})" in message and fix in message, message
    assert "max_epochs" not in message, message


class _StopAtTrainStart(pl.Callback):
    """Stops the fit in ``on_train_start``: Lightning runs no epoch, yet calls
    ``on_train_end``."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.should_stop = True


class _StopAtEpochStart(pl.Callback):
    """Stops the fit as its first epoch starts: that epoch trains no batch."""

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.should_stop = True


class _SkippingSupernet(TinySupernet):
    """Skips every epoch at its first batch (``on_train_batch_start`` returns -1)."""

    def on_train_batch_start(self, batch, batch_idx):
        return -1


_NO_STEP = {
    "train_start": ({"callbacks": [_StopAtTrainStart()]},
                    "trainer.should_stop was set before its first training step (by a callback)",
                    "see which of the Trainer's callbacks stops the fit as it starts"),
    "epoch_start": ({"callbacks": [_StopAtEpochStart()]},
                    "trainer.should_stop was set before its first training step (by a callback)",
                    "see which of the Trainer's callbacks stops the fit as it starts"),
    "skipped_batches": ({"skip": True}, "3 epochs ran without a training step (the "
                        "LightningModule's on_train_batch_start returned -1 on each epoch's "
                        "first batch?)", "on_train_batch_start returns -1 to skip the rest "
                        "of an epoch"),
    "max_steps_0": ({"max_steps": 0}, "max_steps=0 trains no step", "raise max_steps"),
    "max_epochs_0": ({"max_epochs": 0}, "max_epochs=0 trains no epoch", "raise max_epochs"),
}


@pytest.mark.parametrize(("algorithm", "stop", "said", "fix"), [
    pytest.param(algorithm, *case, id=f"{name}-{algorithm}")
    for name, case in _NO_STEP.items() for algorithm in ("spos", "darts")
    if not (name == "skipped_batches" and algorithm == "darts")])  # (its own hook: no -1)
def test_a_fit_that_took_no_training_step_searches_and_exports_nothing(
        tmp_path, algorithm, stop, said, fix):
    # reported: a callback stopping the fit in on_train_start (or as the first epoch starts,
    # or a module skipping each epoch's batches) ends it with no step, yet Lightning calls
    # on_train_end: SPOS searched and exported a subnet of the untrained supernet, without
    # a word (its history at epoch 0); max_steps=0 or max_epochs=0 were refused as a
    # "resumed from a checkpoint of its last step?" of a fit that resumed nothing
    out = tmp_path / "out"
    nas = OneShotNAS(num_candidates=2, calibration_batches=1, export_dir=str(out))
    trainer = pl.Trainer(**{"max_epochs": 3, "accelerator": "cpu", "logger": False,
                            "enable_checkpointing": False, "enable_progress_bar": False,
                            "default_root_dir": tmp_path,
                            **{k: v for k, v in stop.items() if k != "skip"},
                            "callbacks": [*stop.get("callbacks", []),
                                          *([nas] if algorithm == "spos" else [])]})
    model = (_SkippingSupernet if stop.get("skip") else TinySupernet)()
    module = model if algorithm == "spos" else DifferentiableNAS(model, export_dir=str(out))
    data = BlobData() if algorithm == "spos" else BilevelData(BlobData())
    with pytest.raises(ConfigError, match="this fit trained nothing") as caught:
        trainer.fit(module, datamodule=data)
    message = str(caught.value)
    assert f"this fit trained nothing ({said})" in message and fix in message, message
    assert "resumed from" not in message, message
    assert trainer.global_step == 0 and not out.exists()
    best = nas.best_arch if algorithm == "spos" else module.best_arch
    assert best is None


class _NoLossSupernet(TinySupernet):
    """Returns None from ``training_step`` for every batch: Lightning skips the backward
    pass (and, for plain SGD, every update) yet counts each optimizer step."""

    def training_step(self, batch, batch_idx):
        super().training_step(batch, batch_idx)


def test_a_supernet_whose_training_step_returns_none_is_not_searched_or_exported(tmp_path):
    # was: global_step counted Lightning's optimizer steps, each without a backward pass, so
    # OneShotNAS searched and exported a subnet of the untrained supernet as if trained
    out = tmp_path / "out"
    nas = OneShotNAS(num_candidates=2, calibration_batches=1, export_dir=str(out))
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         default_root_dir=tmp_path, callbacks=[nas])
    model = _NoLossSupernet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ConfigError, match="this fit trained nothing") as caught:
        trainer.fit(model, datamodule=BlobData())
    steps = trainer.global_step
    assert steps > 0 and all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert str(caught.value) == (
        f"this fit trained nothing (2 epochs ran {steps} optimizer steps without a backward "
        f"pass: the LightningModule's training_step returned None for every batch?), so "
        f"OneShotNAS's final search and export did not run; return the loss from "
        f"training_step (None skips the batch's backward pass and update)")
    assert nas.best_arch is None and not out.exists()


@pytest.mark.parametrize(("algorithm", "sanity_steps"), [("darts", 2), ("gdas", 0)])
def test_differentiable_nas_refuses_a_training_step_that_returns_none(
        tmp_path, algorithm, sanity_steps):
    # DifferentiableNAS takes the module's training_step as its two steps' loss and cannot
    # skip a batch (was: Lightning's "`self.log(val_loss, None)` was called" in the sanity
    # check, or "'NoneType' object has no attribute 'backward'" at the first step)
    out = tmp_path / "out"
    model = _NoLossSupernet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    search = DifferentiableNAS(model, algorithm=algorithm, num_classes=3, export_dir=str(out))
    trainer = _trainer(tmp_path, [], max_epochs=1, enable_checkpointing=False,
                       num_sanity_val_steps=sanity_steps)
    with pytest.raises(ConfigError) as caught:
        trainer.fit(search, datamodule=BilevelData(BlobData()))
    assert str(caught.value) == (
        "_NoLossSupernet.training_step returned None for batch 0, but DifferentiableNAS "
        "(DARTS, GDAS) takes it as the loss of its architecture and weight steps, and "
        "cannot skip a batch; return the loss (a tensor, or a dict with a 'loss' key), or "
        "pass loss= (e.g. 'cross_entropy') to score the module's output instead")
    assert trainer.global_step == 0 and search.best_arch is None and not out.exists()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_a_fit_resumed_from_a_trained_checkpoint_and_stopped_at_start_still_searches(
        tmp_path):
    # the refusal is of weights that never took a step: a resume of a trained supernet
    # that a callback stops as training starts searches and exports it (as before)
    def fit(callbacks: list[pl.Callback], ckpt_path: Path | None = None) -> OneShotNAS:
        nas = OneShotNAS(num_candidates=2, calibration_batches=1)
        pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                   default_root_dir=tmp_path,
                   callbacks=[*callbacks, nas, ModelCheckpoint(tmp_path / "ckpt", "last")]
                   ).fit(TinySupernet(), datamodule=BlobData(), ckpt_path=ckpt_path)
        return nas

    fit([_StopAfterFirstEpochCallback()])
    nas = fit([_StopAtTrainStart()], tmp_path / "ckpt" / "last.ckpt")
    assert nas.best_arch is not None and {h["epoch"] for h in nas.history} == {1}


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_the_command_refuses_a_fit_a_callback_stopped_at_train_start(
        tmp_path, monkeypatch, capsys, algorithm):
    # as in Python (was: SPOS exported a subnet of the untrained supernet and fine-tuned
    # it, rc 0; DARTS said only that the logits had not moved)
    monkeypatch.chdir(ROOT)
    run = tmp_path / "run"
    switch = ["--oneshot.algorithm=darts", "--oneshot.optimizer=null",
              "--oneshot.num_candidates=null"] if algorithm == "darts" else []
    assert main([*TINY_CLI, f"--oneshot.run_dir={run}", *switch,
                 "--trainer.callbacks=[{class_path: tests.test_oneshot._StopAtTrainStart}]"]
                ) == 2
    err = capsys.readouterr().err
    assert ("this fit trained nothing (trainer.should_stop was set before its first training "
            "step (by a callback))") in err, err
    assert not any((run / name).exists() for name in ("best_arch.yaml", "subnet.pt"))


class _StopAfterFirstEpochCallback(pl.Callback):
    """Stops training at the end of its first epoch."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.should_stop = True


def test_a_resume_of_a_fit_early_stopping_ended_trains_on_and_searches(tmp_path):
    # reported: "this fit trained nothing ... max_epochs" after EarlyStopping; it is not
    # reached there: EarlyStopping sets should_stop only after an epoch trained (the fit's
    # on_train_end, its final search, runs), and a fit resumed from its checkpoint trains
    # until EarlyStopping, restored, stops it again (Lightning does not keep should_stop)
    def fit(nas: DifferentiableNAS, ckpt_path: Path | None = None) -> pl.Trainer:
        stop = pl.callbacks.EarlyStopping("train_loss", min_delta=100.0, patience=0,
                                          check_on_train_epoch_end=True)
        trainer = pl.Trainer(max_epochs=5, accelerator="cpu", logger=False,
                             enable_progress_bar=False, limit_val_batches=0,
                             default_root_dir=tmp_path,
                             callbacks=[stop, ModelCheckpoint(tmp_path / "ckpt", "last")])
        trainer.fit(nas, datamodule=BilevelData(BlobData()), ckpt_path=ckpt_path)
        return trainer

    first = DifferentiableNAS(TinySupernet())
    assert fit(first).current_epoch == 2 and first.best_arch is not None  # stopped early
    resumed = DifferentiableNAS(TinySupernet())
    assert fit(resumed, tmp_path / "ckpt" / "last.ckpt").current_epoch == 3
    assert resumed.best_arch is not None and len(resumed.history) == 3


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_a_negative_gradient_clip_val_is_refused_before_the_run_folder(
        tmp_path, monkeypatch, capsys, algorithm):
    # was: taken (SPOS: by Lightning, DARTS/GDAS: by DifferentiableNAS), and torch clips by a
    # negative bound by flipping the gradients' sign: the supernet trained uphill, rc 0
    monkeypatch.chdir(ROOT)
    run = tmp_path / "run"
    darts = ["--oneshot.algorithm=darts", "--oneshot.optimizer=null",
             "--oneshot.num_candidates=null"] if algorithm == "darts" else []
    cli = [*TINY_CLI, *darts, f"--oneshot.run_dir={run}", "--trainer.gradient_clip_val=-1"]
    for argv in ([*cli, "--print_config"], cli):
        assert main(argv) == 2
        assert ("trainer.gradient_clip_val=-1: must be a number >= 0 (0 or null: no "
                "clipping)" in capsys.readouterr().err)
        assert not run.exists()
    check_oneshot_trainer({"gradient_clip_val": 0.5}, algorithm)


class _TextLikeData(BlobData):
    """``BlobData`` batched as a text dataset's ``(input_ids, attention_mask, labels)``:
    ``(x, mask, y)`` tuples, or ``{"x", "mask", "y"}`` dicts (``layout="dict"``)."""

    def __init__(self, layout: str) -> None:
        super().__init__(n=64, batch_size=16)
        self.layout = layout

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        for name in ("train_set", "val_set"):
            x, y = getattr(self, name).tensors
            setattr(self, name, TensorDataset(x, torch.ones(len(x), 5, dtype=torch.long), y))

    def _collate(self, rows):
        batch = torch.utils.data.default_collate(rows)
        return dict(zip(("x", "mask", "y"), batch, strict=True)) if self.layout == "dict" \
            else batch

    def train_dataloader(self):
        return torch.utils.data.DataLoader(self.train_set, batch_size=16,
                                           collate_fn=self._collate)

    def val_dataloader(self):
        return torch.utils.data.DataLoader(self.val_set, batch_size=16, collate_fn=self._collate)


class _TextLikeSupernet(TinySupernet):
    """``TinySupernet`` whose steps read ``_TextLikeData``'s batches."""

    @staticmethod
    def parts(batch):
        return (batch["x"], batch["y"]) if isinstance(batch, dict) else (batch[0], batch[2])

    def training_step(self, batch, batch_idx):
        x, y = self.parts(batch)
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = self.parts(batch)
        self.log("val_acc", (self(x).argmax(-1) == y).float().mean())


def test_dict_batches_are_refused_at_the_first_batch_saying_how_to_read_them(tmp_path):
    # was: a bare KeyError: 0 from the default forward (module(batch[0]), batch[1])
    export = tmp_path / "export"
    callback = OneShotNAS(num_candidates=2, num_classes=3, export_dir=str(export))
    trainer = _trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False)
    with pytest.raises(ConfigError, match=r"OneShotNAS reads each batch as \(x, y\): "
                                          r"predictions module\(batch\[0\]\), targets "
                                          r"batch\[1\]; its first batch is a dict with keys "
                                          r"\['mask', 'x', 'y'\]; give OneShotNAS\(forward=.*"
                                          r"`lightning-nas oneshot` has no forward key"):
        trainer.fit(_TextLikeSupernet(), datamodule=_TextLikeData("dict"))
    assert trainer.global_step == 0 and not export.exists()
    for sanity in (2, 0):  # DARTS: at the sanity check's first batch, else the training's
        nas = DifferentiableNAS(_TextLikeSupernet(), num_classes=3, export_dir=str(export))
        trainer = _trainer(tmp_path, [], max_epochs=1, num_sanity_val_steps=sanity,
                           enable_checkpointing=False)
        with pytest.raises(ConfigError, match=r"DifferentiableNAS reads each batch as \(x, y\)"
                                              r".*a dict with keys \['mask', 'x', 'y'\]; "
                                              r"DifferentiableNAS has no forward option"):
            trainer.fit(nas, datamodule=BilevelData(_TextLikeData("dict")))
        assert trainer.global_step == 0 and not export.exists(), sanity
    # a forward that reads them works, as before
    callback = OneShotNAS(num_candidates=2, num_classes=3, export_dir=str(export),
                          forward=lambda module, batch: (module(batch["x"]), batch["y"]))
    _trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False).fit(
        _TextLikeSupernet(), datamodule=_TextLikeData("dict"))
    assert (export / "best_arch.yaml").exists() and callback.best_arch is not None


def test_targets_that_do_not_fit_the_predictions_are_refused_before_training(tmp_path):
    # was: (x, mask, y) batches trained the whole supernet, then the final search crashed:
    # "The preds and target should have the same shape" (the mask taken as the targets)
    export = tmp_path / "export"
    said = (r"scores subnets with MulticlassAccuracy on \(predictions, targets\), and the "
            r"first training batch's do not fit it: predictions of shape \(16, 3\), targets "
            r"of shape \(16, 5\) .*the default forward read the batch as \(x, y\): "
            r"predictions module\(batch\[0\]\), targets batch\[1\].*; ")
    callback = OneShotNAS(num_candidates=2, num_classes=3, export_dir=str(export))
    trainer = _trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False)
    with pytest.raises(ConfigError, match="OneShotNAS " + said + r"give OneShotNAS\(forward="
                                          r".*`lightning-nas oneshot` has no forward key"):
        trainer.fit(_TextLikeSupernet(), datamodule=_TextLikeData("tuple"))
    assert trainer.global_step == 0 and callback.history == [] and not export.exists()
    for sanity in (2, 0):  # DARTS: at the sanity check's first batch, else the training's
        nas = DifferentiableNAS(_TextLikeSupernet(), num_classes=3, export_dir=str(export))
        trainer = _trainer(tmp_path, [], max_epochs=1, num_sanity_val_steps=sanity,
                           enable_checkpointing=False)
        with pytest.raises(ConfigError, match="DifferentiableNAS " + said
                                              + "DifferentiableNAS has no forward option"):
            trainer.fit(nas, datamodule=BilevelData(_TextLikeData("tuple")))
        assert trainer.global_step == 0 and not export.exists(), sanity
    # a forward that takes the labels works
    callback = OneShotNAS(num_candidates=2, num_classes=3, export_dir=str(export),
                          forward=lambda module, batch: (module(batch[0]), batch[2]))
    _trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False).fit(
        _TextLikeSupernet(), datamodule=_TextLikeData("tuple"))
    assert (export / "best_arch.yaml").exists() and callback.best_score is not None


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
    _trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False).fit(
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


def test_a_setup_lightning_refuses_as_its_fit_starts_is_one_line(tmp_path, monkeypatch,
                                                                  capsys):
    # was: Lightning's ValueError with its traceback, exit 1, where a search, a fit and a
    # fine-tune say it in one line, exit 2
    monkeypatch.chdir(ROOT)
    (tmp_path / "best_arch.yaml").write_text("an earlier run's result")
    darts = ["oneshot", "examples/oneshot_digits/darts.yaml", "--trainer.max_epochs=1",
             "--trainer.limit_train_batches=2", "--oneshot.finetune_epochs=0"]
    for argv in (TINY_CLI, darts):
        assert main([*argv, "--trainer.val_check_interval=1000",
                     f"--oneshot.run_dir={tmp_path}"]) == 2
        err = capsys.readouterr().err
        # (was: "ValueError: `val_check_interval` (1000) must be less than or equal to
        # the number of the training batches (2).")
        assert err.startswith("lightning-nas oneshot: error: trainer.val_check_interval=1000 "
                              "is more than the 2 training batches of an epoch "
                              "(limit_train_batches=2 of ")
        assert err.count("\n") == 1
        assert err.endswith(" (found before training: nothing was trained)\n")
    assert (tmp_path / "best_arch.yaml").read_text() == "an earlier run's result"
    assert not (tmp_path / "search.lock").exists()  # was: left by the refused runs


def test_a_run_refused_before_training_leaves_its_folder_as_it_was(tmp_path, monkeypatch,
                                                                   capsys):
    # was: the refused run left the folders it made, holding its search.lock
    monkeypatch.chdir(ROOT)
    new = tmp_path / "new" / "run"
    darts = ["oneshot", "examples/oneshot_digits/darts.yaml", "--trainer.max_epochs=1",
             "--trainer.limit_train_batches=2", "--oneshot.finetune_epochs=0"]
    for argv, said in (([*TINY_CLI, "--oneshot.num_classes=5"], "num_classes=5 does not fit"),
                       ([*darts, "--oneshot.warmup_epochs=5"], "warmup_epochs=5 trains only")):
        assert main([*argv, f"--oneshot.run_dir={new}"]) == 2
        assert said in capsys.readouterr().err
        assert list(tmp_path.iterdir()) == []
    earlier = tmp_path / "earlier"  # an earlier run's folder: its search.lock stays
    earlier.mkdir()
    (earlier / "search.lock").write_text(f"pid 1 on {socket.gethostname()}\n")
    assert main([*TINY_CLI, "--oneshot.num_classes=5", f"--oneshot.run_dir={earlier}"]) == 2
    assert [p.name for p in earlier.iterdir()] == ["search.lock"]
    # its words too: not this run's "oneshot", which would make a search refuse the folder
    assert (earlier / "search.lock").read_text() == f"pid 1 on {socket.gethostname()}\n"

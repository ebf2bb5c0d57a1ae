"""One-shot NAS with real Trainers: the callback in a plain fit, its history across a resume,
DDP agreement, fine-tune of the export, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import lightning.pytorch as pl
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_nas.cli import main
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.choices import space_of
from lightning_nas.oneshot.finetune import finetune_subnet
from tests.helpers import BlobData, SaveInitialWeights, TinySupernet

ROOT = Path(__file__).resolve().parents[1]


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
    assert saved == {"arch": callback.best_arch, "score": callback.best_score}
    subnet = torch.load(tmp_path / "subnet.pt", weights_only=False)
    assert subnet[0].out_features == callback.best_arch["hidden"]


def test_resume_from_a_mid_search_checkpoint_continues_the_history(tmp_path):
    def run(ckpt_path=None):
        pl.seed_everything(0, verbose=False)
        callback = OneShotNAS(num_candidates=4, search_every_n_epochs=1,
                              calibration_batches=1, seed=3)
        ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_top_k=-1,
                               save_on_train_epoch_end=True, filename="{epoch}")
        _trainer(tmp_path, [callback, ckpt]).fit(TinySupernet(), datamodule=BlobData(),
                                                 ckpt_path=ckpt_path)
        return callback

    full = run()
    assert sorted({h["epoch"] for h in full.history}) == [1, 2, 3]
    resumed = run(ckpt_path=tmp_path / "ckpt" / "epoch=0.ckpt")
    first = [h for h in full.history if h["epoch"] == 1]
    assert resumed.history[:len(first)] == first  # restored from the checkpoint
    assert sorted({h["epoch"] for h in resumed.history}) == [1, 2, 3]  # and continued
    assert len(resumed.history) == len(full.history)


DDP_SCRIPT = """
import json, os, sys
import lightning.pytorch as pl
from lightning_nas.oneshot.callback import OneShotNAS
from tests.helpers import BlobData, TinySupernet

if __name__ == "__main__":
    out = sys.argv[1]
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=5, calibration_batches=2, seed=2, record_paths=True)
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", devices=2, strategy="ddp",
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[callback])
    trainer.fit(TinySupernet(), datamodule=BlobData())
    with open(os.path.join(out, f"rank{trainer.global_rank}.json"), "w") as f:
        json.dump({"paths": callback.paths, "best": callback.best_arch,
                   "history": callback.history}, f)
"""


def test_ddp_ranks_train_the_same_paths_and_agree_on_the_result(tmp_path):
    script = tmp_path / "oneshot_ddp.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, str(script), str(tmp_path)], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=300)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["paths"] and r0["paths"] == r1["paths"]  # the same path at every step
    assert r0["best"] == r1["best"] and r0["history"] == r1["history"]  # synced scores


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


def test_cli_oneshot_runs_the_example_config(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    code = main(["oneshot", "examples/oneshot_digits/oneshot.yaml", "--trainer.max_epochs=1",
                 "--trainer.limit_train_batches=3", "--oneshot.num_candidates=3",
                 "--oneshot.search_every_n_epochs=null", "--oneshot.calibration_batches=1",
                 "--oneshot.finetune_epochs=1", f"--oneshot.run_dir={tmp_path}"])
    assert code == 0
    out = capsys.readouterr().out
    assert "One-shot search: " in out and "Fine-tuned 1 epochs: val_acc=" in out
    for name in ("best_arch.yaml", "history.json", "subnet.pt", "subnet_finetuned.pt"):
        assert (tmp_path / name).exists(), name
    assert main(["oneshot", "examples/oneshot_digits/oneshot.yaml", "--oneshot.budget=3"]) == 2
    assert "unknown oneshot setting 'budget'" in capsys.readouterr().err

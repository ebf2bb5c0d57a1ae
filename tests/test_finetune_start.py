"""A fine-tune from a checkpoint validates its starting weights before training, prints that
score beside its own and warns when its best epoch is worse than where it started."""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.plugins.precision import Precision
from torch.utils.data import DataLoader, DistributedSampler, Subset

from lightning_nas import finetune, load_best
from lightning_nas.results import TrialStatus
from tests.helpers_data import BlobData
from tests.helpers_finetune import AdamNet, EightsData, searched


class RandomAtFitStart(pl.Callback):
    """Keeps a draw of torch's generator when fit starts (after any start validation)."""

    draws: list[float] = []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        RandomAtFitStart.draws.append(float(torch.rand(1)))


@pytest.fixture
def adam_run(tmp_path):
    return searched(tmp_path)


def test_a_finetune_worse_than_its_start_says_so_with_what_to_try(adam_run):
    best = load_best(adam_run)
    with pytest.warns(UserWarning) as said:  # Adam at lr 1.0 from fresh moments: worse
        tuned = finetune(adam_run, max_epochs=2, model_init_args={"lr": 1.0})
    assert tuned.status is TrialStatus.COMPLETED and len(tuned.curve) == 2
    # the starting weights validated before training: the score the search stored of them
    assert tuned.start_metrics["val_acc"] == pytest.approx(best["score"])
    assert tuned.score < best["score"]
    (text,) = [str(w.message) for w in said if "its start" in str(w.message)]
    assert text.startswith(
        f"the fine-tune's best val_acc={tuned.score:.4f} (epoch {tuned.epoch}) is worse than "
        f"its start's, val_acc={best['score']:.4f} (trial {best['trial']}'s best.ckpt, "
        f"validated before training): {adam_run / 'finetune' / 'best.ckpt'} is the "
        f"fine-tune's best epoch; {adam_run / 'best.ckpt'}, which it started from, is kept "
        f"as it was."), text
    assert ("loads the weights only: its optimizer and LR scheduler start afresh, at the "
            "initial learning rate" in text)
    assert "a lower learning rate (--model.lr=0.1; from Python model_init_args={'lr': 0.1})" \
        in text and "more epochs" in text and "--from_scratch" in text


def test_the_below_start_warning_names_both_checkpoints_as_the_run_folder_was_given(
        adam_run, monkeypatch):
    # a run folder given relative (was: the fine-tune's best.ckpt absolute, the run's
    # relative: "/tmp/.../run/finetune/best.ckpt is the fine-tune's best epoch; run/best.ckpt")
    monkeypatch.chdir(adam_run.parent)
    with pytest.warns(UserWarning) as said:
        finetune(adam_run.name, max_epochs=1, model_init_args={"lr": 1.0})
    (text,) = [str(w.message) for w in said if "its start" in str(w.message)]
    run = Path(adam_run.name)
    assert f"): {run / 'finetune' / 'best.ckpt'} is the fine-tune's best epoch; " \
           f"{run / 'best.ckpt'}, which it started from, is kept as it was." in text, text


def test_a_finetune_as_good_as_its_start_warns_nothing(adam_run):
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        tuned = finetune(adam_run, max_epochs=1, model_init_args={"lr": 1e-9})
    assert tuned.score == pytest.approx(tuned.start_metrics["val_acc"])  # nothing learnt
    assert not [w for w in said if "its start" in str(w.message)]


def test_the_start_validation_leaves_the_finetunes_random_numbers_as_they_were(adam_run):
    # the validation's loader draws its seed from torch's generator: kept, so the fine-tune
    # trains as it did without it (fit starts where a fine-tune from scratch starts)
    RandomAtFitStart.draws = []
    callback = {"callbacks": [{"class_path": "tests.test_finetune_start.RandomAtFitStart"}]}
    from_ckpt = finetune(adam_run, max_epochs=1, trainer=callback)
    scratch = finetune(adam_run, max_epochs=1, trainer=callback, from_checkpoint=False)
    assert from_ckpt.start_metrics and not scratch.start_metrics  # fresh weights: none
    assert RandomAtFitStart.draws[0] == RandomAtFitStart.draws[1]
    # the start's validation is no epoch of the fine-tune: its logs hold its epochs alone
    rows = (adam_run / "finetune" / "logs" / "metrics.csv").read_text().splitlines()
    assert len([r for r in rows[1:] if r.split(",")[rows[0].split(",").index("val_acc")]]) == 1


def test_the_finetune_command_prints_the_validated_start_beside_its_best(adam_run, capsys):
    from lightning_nas.cli import main

    best = load_best(adam_run)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        assert main(["finetune", str(adam_run), "--max_epochs=1", "--model.lr=1.0"]) == 0
    out, err = capsys.readouterr()
    # the command's own line (was: ".../lightning_nas/export.py:397: UserWarning: ...")
    assert "\nlightning-nas finetune: warning: the fine-tune's best val_acc=" in f"\n{err}", err
    assert (f"from trial {best['trial']}'s best.ckpt (val_acc={best['score']:.4f} in the "
            f"search; validated before training: val_acc={best['score']:.4f}) for 1 epoch"
            in out), out


class SubPrecision(Precision):
    """Lightning's full precision under a name of its own: no precision ``validate_start``
    knows, so a DDP fine-tune with it skips the start's validation, and trains as with
    ``Precision`` (nothing overridden)."""


def test_a_ddp_finetune_validates_its_start_on_one_device_of_rank_0(adam_run):
    # rank 0 validates the starting weights on one device before the DDP fit (was: none
    # under DDP; the search's stored score stood in), over the samples the DDP epochs
    # validate. limit_val_batches=2 in batches of 8 on 2 ranks: Lightning's
    # DistributedSampler (shuffle off for validation) deals the 64 samples out in turn, rank
    # 0 indices 0, 2, 4, ..., rank 1 indices 1, 3, 5, ...; each validates its share's first
    # 2 * 8, so together samples 0-31, each once: 4 batches on one device (was: 2, samples
    # 0-15, a score over other samples than the fine-tune's epochs)
    shares = [list(DistributedSampler(range(64), num_replicas=2, rank=rank, shuffle=False))
              for rank in (0, 1)]
    assert sorted(shares[0][:16] + shares[1][:16]) == list(range(32))
    best = load_best(adam_run)
    data = EightsData()
    data.setup("validate")
    alone = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                       enable_model_summary=False).validate(
        AdamNet.load_from_checkpoint(adam_run / "best.ckpt"),
        DataLoader(Subset(data.val_set, range(32)), batch_size=8), verbose=False)[0]
    settings = {"max_epochs": 2, "model_init_args": {"lr": 1.0}, "data": EightsData}
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        tuned = finetune(adam_run, **settings, trainer={
            "devices": 2, "strategy": "ddp", "limit_val_batches": 2})
    assert tuned.status is TrialStatus.COMPLETED, tuned.error
    assert tuned.start_metrics == pytest.approx(alone), (tuned.start_metrics, alone)
    assert tuned.score < tuned.start_metrics["val_acc"], (tuned.curve, alone)
    assert any(f"its start's, val_acc={alone['val_acc']:.4f} (trial {best['trial']}'s "
               f"best.ckpt, validated before training)" in str(w.message) for w in said)
    # its training is as without it: a precision validate_start does not know skips it, and
    # the same fine-tune trains to the same epochs and final weights, bit for bit
    plugin = {"class_path": "tests.test_finetune_start.SubPrecision"}
    unvalidated = finetune(adam_run, **settings, trainer={
        "devices": 2, "strategy": "ddp", "limit_val_batches": 2, "plugins": [plugin]})
    assert unvalidated.status is TrialStatus.COMPLETED, unvalidated.error
    assert not unvalidated.start_metrics and unvalidated.checkpoint != tuned.checkpoint
    assert unvalidated.curve == tuned.curve and len(tuned.curve) == 2
    weights = [torch.load(c, weights_only=False)["state_dict"]
               for c in (tuned.checkpoint, unvalidated.checkpoint)]
    assert [k for k in weights[0] if not torch.equal(weights[0][k], weights[1][k])] == []


def test_a_ddp_start_covers_the_samples_a_fractional_limit_gives_the_ranks(tmp_path):
    # limit_val_batches=0.4 on 2 ranks: each rank's loader holds 4 batches of 8 (its 32 of
    # the 64 samples), int(0.4 * 4) = 1 validated, samples 0-15 together (the ranks' first 8
    # each: 0, 2, ..., 14 and 1, 3, ..., 15): 2 batches on one device (was: int(0.4 * 8) = 3,
    # samples 0-23, its own fraction of the whole set)
    from lightning_nas.search.start_score import validate_start
    from lightning_nas.search.trial import TrialSpec, build_trainer

    data = EightsData()
    data.setup("validate")
    rank_0 = DataLoader(data.val_set, batch_size=8,
                        sampler=DistributedSampler(data.val_set, 2, 0, shuffle=False))
    assert int(0.4 * len(rank_0)) == 1 and list(rank_0.sampler)[:8] == list(range(0, 16, 2))
    torch.manual_seed(0)
    model = AdamNet()
    alone = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                       enable_model_summary=False).validate(
        model, DataLoader(Subset(data.val_set, range(16)), batch_size=8), verbose=False)[0]
    spec = TrialSpec(trial_id=1, arch={}, trial_dir=str(tmp_path), model=AdamNet, trainer={
        "accelerator": "cpu", "devices": 2, "strategy": "ddp", "limit_val_batches": 0.4})
    assert validate_start(spec, model, EightsData(), build_trainer) == pytest.approx(alone)
    # loaders whose ranks' counts differ: no one count covers both, the fraction stays
    from lightning_nas.search.rank_shares import one_device_limit

    loaders = [data.val_dataloader(), DataLoader(data.val_set, batch_size=32)]
    assert one_device_limit(0.4, loaders, 2) is None


@pytest.mark.parametrize("settings", [{"strategy": "fsdp"}, {"strategy": "ddp", "num_nodes": 2},
                                      {"strategy": "deepspeed"}])
def test_sharded_strategies_and_several_nodes_skip_the_start_validation(settings, tmp_path):
    # the whole model on one device may not fit (FSDP, DeepSpeed), nor is there one node:
    # nothing validated before training, the search's stored score stands in
    from lightning_nas.search.start_score import validate_start
    from lightning_nas.search.trial import TrialSpec, build_trainer

    if settings["strategy"] == "deepspeed":
        pytest.importorskip("deepspeed")
    spec = TrialSpec(trial_id=1, arch={}, trial_dir=str(tmp_path), model=AdamNet,
                     trainer={"accelerator": "cpu", "devices": 2, **settings})
    assert validate_start(spec, AdamNet(), BlobData(), build_trainer) == {}

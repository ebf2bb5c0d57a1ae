"""``finetune(..., optimizer_state="restore")`` (``--optimizer_state restore``) continues the
trial checkpoint's optimizer and LR scheduler, as they were at its best epoch, and says
before training why it cannot: no such state in the checkpoint, or another optimizer."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch

from lightning_nas import Search, finetune, load_best
from lightning_nas.errors import ConfigError
from lightning_nas.finetune_start import warn_if_below_start
from lightning_nas.results import TrialResult, TrialStatus
from tests.helpers_callbacks import CrashAt
from tests.helpers_data import BlobData
from tests.helpers_finetune import AdamNet, searched


class SgdOrAdamNet(AdamNet):
    """AdamNet whose optimizer is an argument: a fine-tune may change it."""

    def __init__(self, width: int = 16, lr: float = 0.05, opt: str = "adam") -> None:
        super().__init__(width, lr)
        self.save_hyperparameters()

    def configure_optimizers(self):
        if self.hparams.opt == "sgd":
            opt = torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)
        else:
            opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 1, 0.3)}


class OptimizerAtStart(pl.Callback):
    """Keeps, for each fit (in ``runs``, as the fine-tune trains a copy of its Trainer
    callbacks), the first optimizer's lr and Adam state (a copy) when its first batch
    starts, and the lr when each training epoch ends."""

    runs: list[dict] = []

    def on_fit_start(self, trainer, pl_module) -> None:
        OptimizerAtStart.runs.append({"lr": None, "state": None, "epoch_end_lrs": []})

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        run = OptimizerAtStart.runs[-1]
        if run["state"] is None:
            opt = trainer.optimizers[0]
            run["lr"] = opt.param_groups[0]["lr"]
            run["scheduler_epoch"] = trainer.lr_scheduler_configs[0].scheduler.last_epoch
            run["state"] = {i: {k: v.clone() for k, v in s.items()}
                            for i, s in enumerate(opt.state_dict()["state"].values())}

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        OptimizerAtStart.runs[-1]["epoch_end_lrs"].append(trainer.optimizers[0].param_groups[0]["lr"])


def _seen(fits_before: int) -> dict:
    """What ``OptimizerAtStart`` saw in the one fit since ``fits_before`` fits."""
    assert len(OptimizerAtStart.runs) == fits_before + 1
    return OptimizerAtStart.runs[-1]


@pytest.fixture
def adam_run(tmp_path):
    return searched(tmp_path, SgdOrAdamNet)


def _checkpoint(run):
    return torch.load(run / "best.ckpt", map_location="cpu", weights_only=False)


def test_restore_continues_adam_state_and_step_lr(adam_run):
    ckpt = _checkpoint(adam_run)
    saved = ckpt["optimizer_states"][0]
    before = len(OptimizerAtStart.runs)
    result = finetune(adam_run, max_epochs=2, optimizer_state="restore",
                      trainer={"callbacks": [OptimizerAtStart()]}, out_dir=adam_run / "ft")
    assert result.status is TrialStatus.COMPLETED, result.error
    rec = _seen(before)
    # the trial's Adam moments and step count, not zeros: its first step continues them
    assert rec["state"] is not None and len(rec["state"]) == len(saved["state"])
    for got, want in zip(rec["state"].values(), saved["state"].values(), strict=True):
        assert torch.equal(got["exp_avg"], want["exp_avg"])
        assert torch.equal(got["exp_avg_sq"], want["exp_avg_sq"])
        assert float(got["step"]) == float(want["step"]) > 0
    # StepLR(1, 0.3) continued: the lr it had at the checkpoint, then a step per epoch
    lr = saved["param_groups"][0]["lr"]
    assert lr == pytest.approx(0.05 * 0.3 ** ckpt["lr_schedulers"][0]["last_epoch"])
    assert rec["lr"] == pytest.approx(lr) and lr < 0.05
    assert rec["scheduler_epoch"] == ckpt["lr_schedulers"][0]["last_epoch"] > 0
    assert rec["epoch_end_lrs"] == pytest.approx([lr * 0.3, lr * 0.09])  # stepped per epoch


def test_fresh_is_the_default(adam_run):
    before = len(OptimizerAtStart.runs)
    result = finetune(adam_run, max_epochs=1, trainer={"callbacks": [OptimizerAtStart()]},
                      out_dir=adam_run / "ft")
    assert result.status is TrialStatus.COMPLETED, result.error
    rec = _seen(before)
    assert rec["lr"] == pytest.approx(0.05) and rec["state"] == {}
    assert rec["scheduler_epoch"] == 0


def test_resumed_restore_finetune_goes_on_from_its_own_last_ckpt(adam_run):
    out = adam_run / "ft"
    crashed = finetune(adam_run, max_epochs=3, optimizer_state="restore",
                       trainer={"callbacks": [CrashAt(2)]}, out_dir=out)
    assert crashed.status is TrialStatus.FAILED and "crash at epoch 2" in crashed.error
    last = torch.load(out / "last.ckpt", map_location="cpu", weights_only=False)
    with pytest.raises(ConfigError, match="optimizer_state: 'fresh' here, 'restore' in the "
                                          "interrupted run"):
        finetune(adam_run, ckpt_path="last", optimizer_state="fresh", out_dir=out)
    before = len(OptimizerAtStart.runs)
    result = finetune(adam_run, ckpt_path="last", optimizer_state="restore", out_dir=out,
                      trainer={"callbacks": [OptimizerAtStart()]})
    assert result.status is TrialStatus.COMPLETED, result.error
    rec = _seen(before)
    want = last["optimizer_states"][0]  # the fine-tune's own, not the trial's again
    for got, saved in zip(rec["state"].values(), want["state"].values(), strict=True):
        assert torch.equal(got["exp_avg"], saved["exp_avg"])
    assert rec["lr"] == pytest.approx(want["param_groups"][0]["lr"])


def test_bad_value_is_named_with_the_valid_ones(adam_run):
    with pytest.raises(ConfigError, match=r"optimizer_state='keep'.*'fresh', 'restore'"):
        finetune(adam_run, optimizer_state="keep")
    with pytest.raises(ConfigError, match="optimizer_state='restore' needs the checkpoint"):
        finetune(adam_run, optimizer_state="restore", from_checkpoint=False)
    assert not (adam_run / "finetune").exists()


def test_checkpoint_without_optimizer_state_is_refused(adam_run):
    ckpt = _checkpoint(adam_run)
    ckpt["optimizer_states"], ckpt["lr_schedulers"] = [], []  # as save_weights_only writes
    torch.save(ckpt, adam_run / "best.ckpt")
    with pytest.raises(ConfigError, match=r"best.ckpt holds no optimizer state.*"
                                          r"--optimizer_state fresh"):
        finetune(adam_run, optimizer_state="restore")
    assert not (adam_run / "finetune").exists()


@pytest.mark.parametrize(("args", "said"), [
    ({"opt": "sgd"}, r"SGD here, whose settings dampening, momentum, nesterov the "
                     r"checkpoint's optimizer lacks .*another optimizer class"),
    ({"lr": 0.01}, r"parameter group 0: lr=0.01 here, lr=0.05 in the checkpoint"),
])
def test_another_optimizer_is_refused_before_training(adam_run, args, said):
    before = len(OptimizerAtStart.runs)
    with pytest.raises(ConfigError, match=said):
        finetune(adam_run, optimizer_state="restore", model_init_args=args,
                 trainer={"callbacks": [OptimizerAtStart()]})
    assert _seen(before)["state"] is None  # refused when fit started: no batch trained
    assert not (adam_run / "finetune").exists()  # nor a folder left
    assert load_best(adam_run)["trial"] == 1


@pytest.mark.parametrize(("restored", "said"), [
    (False, "start afresh, at the initial learning rate (the default); try continuing the "
            "checkpoint's (--optimizer_state restore; from Python optimizer_state='restore'), "
            "a lower learning rate (--model.lr=0.001;"),
    (True, "It continued the checkpoint's optimizer and LR scheduler state, and the search's "
           "score is the best of the trial's epochs, which later epochs may not reach again; "
           "try a fresh optimizer (--optimizer_state fresh; from Python "
           "optimizer_state='fresh') at a lower learning rate (--model.lr=0.001;"),
])
def test_the_below_start_warning_says_which_optimizer_state_it_had(restored, said):
    best = {"trial": 6, "score": 0.992, "monitor": "val_acc", "mode": "max"}
    tuned = TrialResult(6, {}, TrialStatus.COMPLETED, 0.976, epoch=1, checkpoint="ft/best.ckpt",
                        start_metrics={"val_acc": 0.992})
    with pytest.warns(UserWarning) as said_now:
        warn_if_below_start(best, tuned, "run/best.ckpt", {"lr": 0.01}, restored=restored)
    (text,) = [str(w.message) for w in said_now]
    assert said in text, text
    assert ("loads the weights only" in text) is not restored


def test_the_command_says_a_refusal_in_one_line_and_leaves_no_folder(adam_run, capsys):
    from lightning_nas.cli import main

    code = main(["finetune", str(adam_run), "--optimizer_state", "restore",
                 "--model.lr=0.01", "--max_epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert "optimizer_state='restore': the fine-tune's optimizer is not the one whose state " \
           f"trial 1's {adam_run / 'best.ckpt'} holds" in err
    assert "lr=0.01 here, lr=0.05 in the checkpoint" in err
    assert not (adam_run / "finetune").exists()
    with pytest.raises(SystemExit):  # argparse: the value and the valid ones
        main(["finetune", str(adam_run), "--optimizer_state", "keep"])
    assert "invalid choice: 'keep' (choose from" in capsys.readouterr().err


@pytest.mark.slow
def test_a_ddp_finetune_restores_on_each_rank_and_is_refused_as_one(adam_run):
    saved = _checkpoint(adam_run)["optimizer_states"][0]["state"]
    ddp = {"devices": 2, "strategy": "ddp"}
    result = finetune(adam_run, max_epochs=1, optimizer_state="restore", trainer=ddp)
    assert result.status is TrialStatus.COMPLETED, result.error
    tuned = torch.load(result.checkpoint, map_location="cpu", weights_only=False)
    # Adam's step count went on from the checkpoint's: its steps, then the fine-tune's
    for state, old in zip(tuned["optimizer_states"][0]["state"].values(), saved.values(),
                          strict=True):
        assert float(state["step"]) == float(old["step"]) + tuned["global_step"]
    # a rank's refusal (was: a FAILED result, "rank 0 failed the trial: ...") is raised
    with pytest.raises(ConfigError, match="lr=0.01 here, lr=0.05 in the checkpoint"):
        finetune(adam_run, max_epochs=1, optimizer_state="restore", trainer=ddp,
                 model_init_args={"lr": 0.01}, out_dir=adam_run / "ft2")
    assert not (adam_run / "ft2").exists()


class WeightsAtStart(pl.Callback):
    """Keeps the module's weights as its fit's first training batch starts (``seen``)."""

    seen: dict = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if not WeightsAtStart.seen:
            WeightsAtStart.seen.update({k: v.clone() for k, v in
                                        pl_module.state_dict().items()})


def test_restore_under_weight_averaging_goes_on_from_the_trials_own_weights(tmp_path):
    # EMAWeightAveraging writes the average (what validated, what the search scored) as the
    # checkpoint's state_dict and the trained weights as current_model_state, which
    # Lightning's ckpt_path trains on; was: restore trained the average with the trained
    # weights' Adam moments, and averaged anew from it (val_loss 0.1170 after a 1-epoch
    # fine-tune where Lightning's ckpt_path gave 0.1073)
    from lightning.pytorch.callbacks import EMAWeightAveraging

    run = tmp_path / "run"
    Search(AdamNet, {"width": {"choice": [16, 32]}}, data=BlobData, budget=1, run_dir=run,
           trainer={"max_epochs": 2, "accelerator": "cpu", "devices": 1,
                    "callbacks": [EMAWeightAveraging(decay=0.5)]}, verbose=False).run()
    ckpt = torch.load(run / "best.ckpt", weights_only=False)
    trained, average = ckpt["current_model_state"], ckpt["state_dict"]
    assert any(not torch.equal(trained[k], average[k]) for k in trained)
    WeightsAtStart.seen.clear()
    result = finetune(run, max_epochs=1, optimizer_state="restore", data=BlobData,
                      out_dir=tmp_path / "tune", trainer={"callbacks": [
                          EMAWeightAveraging(decay=0.5), WeightsAtStart()]})
    assert result.status is TrialStatus.COMPLETED, result.error
    assert result.start_metrics == {k: v for k, v in load_best(run)["metrics"].items()
                                    if k in result.start_metrics}  # the average validated
    assert all(torch.equal(WeightsAtStart.seen[k], trained[k]) for k in trained)

"""``fit_trial``'s checkpoints: the hyperparameters they hold (of a model that saves none or
some, of config models and searched paths into them), a user's ``ModelCheckpoint`` beside the
trial's, weights a trial starts from, and the checkpoint folders a paused trial keeps across
its promotion (in its run folder or in a copy of it)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from lightning_nas import Search
from lightning_nas.fit import fit_spec
from lightning_nas.results import TrialStatus
from lightning_nas.search.trial import TrialSpec, fit_trial
from tests.helpers_data import BlobData
from tests.helpers_models import ConfigureModelNet, TinyNet
from tests.helpers_search import tiny_spec


def test_a_users_checkpoint_on_the_same_monitor_sits_beside_the_trials(tmp_path):
    # LightningCLI's usual checkpoint: the same monitor and mode as the search's
    user = {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
            "init_args": {"monitor": "val_acc", "mode": "max", "save_top_k": 2}}
    trainer = {"max_epochs": 3, "accelerator": "cpu", "devices": 1, "callbacks": [user]}
    result = fit_trial(tiny_spec(tmp_path, {"width": 16, "lr": 0.1}, trainer=trainer))
    assert result.status is TrialStatus.COMPLETED, result.error
    assert torch.load(result.checkpoint, weights_only=False)["epoch"] == result.epoch
    assert len(list((tmp_path / "t1").rglob("epoch=*.ckpt"))) == 2  # the user's top 2
    # a dirpath of the user's: the trial's folder under it (here both trials are trial t1
    # of one run folder) holding files it did not write is news: Lightning's warning shown
    user["init_args"]["dirpath"] = str(tmp_path / "shared")
    with pytest.warns(UserWarning, match="Checkpoint directory .*shared/trials/.*_t1 exists "):
        for name in ("t2", "t3"):
            fit_trial(tiny_spec(tmp_path / name, {"width": 4},
                                trainer={**trainer, "max_epochs": 1}))


#: per fit of a ``TrainEndSaves``, the checkpoints saved after its ``on_train_end``
SAVES_AT_END: list[int] = []


class TrainEndSaves(pl.Callback):
    """Counts into ``SAVES_AT_END`` the checkpoints saved once the fit's training ended (a
    user's callback's ``on_train_end`` runs before a checkpoint callback's)."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.ended = False

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.ended = True
        SAVES_AT_END.append(0)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict) -> None:
        if getattr(self, "ended", False):
            SAVES_AT_END[-1] += 1


def test_a_trial_no_scheduler_pauses_writes_no_second_last_ckpt_as_its_fit_ends(tmp_path):
    # the last epoch's end wrote it and it is put in place as the fit ends; was written
    # again then (a save of every trial, removed with the trial's other files once stored)
    SAVES_AT_END.clear()
    trainer = {"max_epochs": 3, "accelerator": "cpu", "devices": 1,
               "callbacks": [{"class_path": "tests.test_trial_checkpoints.TrainEndSaves"}]}
    result = fit_trial(tiny_spec(tmp_path, {"width": 16, "lr": 0.1}, trainer=trainer))
    assert result.status is TrialStatus.COMPLETED, result.error
    assert SAVES_AT_END == [0]
    # what a resume after a kill before the result was stored goes on from: every epoch
    last = torch.load(tmp_path / "t1" / "last.ckpt", weights_only=False)
    states = [state for key, state in last["callbacks"].items() if "TrialReporter" in key]
    assert [entry["epoch"] for entry in states[0]["history"]] == [0, 1, 2]


class NoHparams(pl.LightningModule):
    """A project's module that never calls ``save_hyperparameters``."""

    def __init__(self, width: int = 16, activation: str = "relu", lr: float = 0.05) -> None:
        super().__init__()
        act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[activation]
        self.net, self.lr = torch.nn.Sequential(torch.nn.Linear(8, width), act(),
                                                torch.nn.Linear(width, 3)), lr

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self.net(x).argmax(-1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


class SomeHparams(NoHparams):
    """A project's module that saves only its learning rate."""

    def __init__(self, width: int = 16, activation: str = "relu", lr: float = 0.05) -> None:
        super().__init__(width, activation, lr)
        self.save_hyperparameters("lr")


def test_the_checkpoint_of_a_model_saving_some_hyperparameters_gets_the_rest(tmp_path):
    # was: nothing added once the model saved anything: load_from_checkpoint built width 16
    # and relu, and failed on the weights' shapes ("Error(s) in loading state_dict")
    arch = {"width": 8, "activation": "tanh"}
    result = fit_trial(tiny_spec(tmp_path, arch, model=SomeHparams, model_init_args={"lr": 0.1}))
    saved = torch.load(result.checkpoint, weights_only=False)["hyper_parameters"]
    assert saved == {"lr": 0.1, **arch}
    loaded = SomeHparams.load_from_checkpoint(result.checkpoint)
    assert loaded.net[0].out_features == 8 and isinstance(loaded.net[1], torch.nn.Tanh)


def test_the_checkpoint_of_a_model_without_saved_hyperparameters_rebuilds_the_trial(tmp_path):
    arch = {"width": 8, "activation": "tanh"}
    result = fit_trial(tiny_spec(tmp_path, arch, model=NoHparams, model_init_args={"lr": 0.1}))
    assert result.status is TrialStatus.COMPLETED, result.error
    saved = torch.load(result.checkpoint, weights_only=False)["hyper_parameters"]
    assert saved == {"lr": 0.1, **arch}
    loaded = NoHparams.load_from_checkpoint(result.checkpoint)  # was the defaults: width 16
    assert loaded.net[0].out_features == 8 and isinstance(loaded.net[1], torch.nn.Tanh)
    # `lightning-nas fit` of such a config writes them too (was: hyper_parameters None)
    fitted = fit_trial(fit_spec({
        "model": {"class_path": "tests.test_trial_checkpoints.NoHparams",
                  "init_args": {"lr": 0.1, **arch}},
        "data": "tests.helpers.BlobData", "trainer": {"max_epochs": 1, "accelerator": "cpu"}},
        out_dir=tmp_path / "fit"))
    assert torch.load(fitted.checkpoint, weights_only=False)["hyper_parameters"] == saved


@pytest.mark.parametrize("key", ["model.activation", "model.init_args.activation"])
def test_a_searched_path_into_the_config_is_written_into_the_checkpoint_too(tmp_path, key):
    # was: a dotted space key wrote no hyperparameters at all: load_from_checkpoint built
    # the defaults (relu, width 16), another model than the trial's, without a word
    from lightning_nas.config.section_builder import ConfigBuilder

    section = {"class_path": "tests.test_trial_checkpoints.NoHparams",
               "init_args": {"lr": 0.1, "width": 8}}
    result = fit_trial(tiny_spec(tmp_path, {key: "tanh"},
                                 model=ConfigBuilder(section, "model", plain_keys=True)))
    assert result.status is TrialStatus.COMPLETED, result.error
    saved = torch.load(result.checkpoint, weights_only=False)["hyper_parameters"]
    assert saved == {"lr": 0.1, "width": 8, "activation": "tanh"}
    loaded = NoHparams.load_from_checkpoint(result.checkpoint)
    assert loaded.net[0].out_features == 8 and isinstance(loaded.net[1], torch.nn.Tanh)


class WithBackbone(NoHparams):
    """A project's module that takes an object (a config node) and saves nothing."""

    def __init__(self, backbone: torch.nn.Module, width: int = 16, activation: str = "relu",
                 lr: float = 0.05) -> None:
        super().__init__(width, activation, lr)
        self.backbone = backbone

    def forward(self, x):
        return self.net(self.backbone(x))


def test_a_config_model_with_an_object_argument_gets_its_plain_ones_into_the_checkpoint(
        tmp_path):
    # was: one object among the section's arguments wrote none of them: the checkpoint's
    # hyper_parameters were None and load_from_checkpoint(path, backbone=...) built the
    # defaults (relu, width 16), failing on the weights' shapes
    from lightning_nas.config.section_builder import ConfigBuilder

    section = {"class_path": "tests.test_trial_checkpoints.WithBackbone", "init_args": {
        "lr": 0.1, "backbone": {"class_path": "torch.nn.Identity"}}}
    arch = {"model.width": 8, "model.activation": "tanh"}
    result = fit_trial(tiny_spec(tmp_path, arch, model=ConfigBuilder(section, "model",
                                                                     plain_keys=True)))
    assert result.status is TrialStatus.COMPLETED, result.error
    saved = torch.load(result.checkpoint, weights_only=False)["hyper_parameters"]
    assert saved == {"lr": 0.1, "width": 8, "activation": "tanh"}
    loaded = WithBackbone.load_from_checkpoint(result.checkpoint, backbone=torch.nn.Identity())
    # nodes inside a list or a dict are objects too: not written (a reviewer's
    # `acts: [{class_path: torch.nn.Tanh}]` reached __init__ as a config dict)
    from lightning_nas.config.factories import ModelFactory
    from lightning_nas.search.trial import _init_args

    listed = {**section, "init_args": {**section["init_args"],
                                       "backbone": [{"class_path": "torch.nn.Identity"}]}}
    factory = ModelFactory(ConfigBuilder(listed, "model", plain_keys=True))
    assert _init_args(factory, arch) == {"lr": 0.1, "width": 8, "activation": "tanh"}
    assert loaded.net[0].out_features == 8 and isinstance(loaded.net[1], torch.nn.Tanh)


@pytest.mark.parametrize("model", [TinyNet, ConfigureModelNet])
def test_init_weights_start_from_a_checkpoint(tmp_path, model):
    # a model that makes its layers in configure_model: was "Unexpected key(s) in
    # state_dict" (the weights were loaded before the hook made the layers)
    first = fit_trial(tiny_spec(tmp_path, {"width": 8}, model=model))
    assert first.status is TrialStatus.COMPLETED, first.error
    spec = tiny_spec(tmp_path / "again", {"width": 8}, init_weights=first.checkpoint, model=model,
                     trainer={"max_epochs": 1, "limit_train_batches": 1, "accelerator": "cpu",
                              "callbacks": [{"class_path": "tests.helpers.SaveInitialWeights",
                                             "init_args": {"path": str(tmp_path / "w0.pt")}}]})
    again = fit_trial(spec)
    assert again.status is TrialStatus.COMPLETED, again.error
    start = torch.load(tmp_path / "w0.pt")
    saved = torch.load(first.checkpoint, weights_only=False)["state_dict"]
    assert all(torch.equal(start[k], saved[k]) for k in saved)


class _SameName(TinyNet):
    """Logs ``acc`` in validation (its accuracy) and in training (epoch-level, a scripted
    value whose best is epoch 0), like a shared metric name without a prefix."""

    def training_step(self, batch, batch_idx):
        self.log("acc", [1.0, 0.0, 0.0, 0.0][self.current_epoch], on_step=False, on_epoch=True)
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("acc", (self(x).argmax(-1) == y).float().mean())


def test_a_name_training_and_validation_both_log_chooses_the_checkpoint_by_validation(
        tmp_path):
    # was: best.ckpt chosen at the training epoch's end on training's mean (epoch 0), while
    # the score, its epoch and the curve were validation's
    result = fit_trial(tiny_spec(tmp_path, {"width": 16, "lr": 0.1}, model=_SameName,
                                 monitor="acc", trainer={"max_epochs": 4, "accelerator": "cpu"}))
    assert result.status is TrialStatus.COMPLETED, result.error
    assert result.epoch > 0, result.curve  # not the epoch training's value picks
    assert torch.load(result.checkpoint, weights_only=False)["epoch"] == result.epoch
    model = _SameName.load_from_checkpoint(result.checkpoint)
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    again = trainer.validate(model, datamodule=BlobData(), verbose=False)[0]["acc"]
    assert again == pytest.approx(result.score)


def test_a_checkpoint_folder_gone_since_the_run_folder_moved_is_not_taken(tmp_path):
    # was: a promoted trial's ModelCheckpoint took the absolute folder its state held, so
    # in a moved run folder it wrote to the old place again, or the trial failed
    from lightning.pytorch.callbacks import ModelCheckpoint

    from lightning_nas.search.trial_logs import keep_checkpoint_dirs

    callback = ModelCheckpoint(monitor="val_acc")
    trainer = pl.Trainer(callbacks=[callback], logger=False, enable_progress_bar=False)
    last = tmp_path / "last.ckpt"
    for folder, kept in ((tmp_path / "gone" / "checkpoints", None), (tmp_path, str(tmp_path))):
        torch.save({"callbacks": {callback.state_key: {"dirpath": str(folder)}}}, last)
        keep_checkpoint_dirs(trainer, str(last), tmp_path)
        assert callback.dirpath == kept


class WorseEachEpoch(TinyNet):
    def validation_step(self, batch, batch_idx):
        self.log("val_acc", 0.9 - 0.1 * self.current_epoch)


@pytest.mark.parametrize("copied", [False, True])
def test_a_users_checkpoint_keeps_its_folder_and_its_best_across_a_promotion(tmp_path, copied):
    # was: the promoted segment's new logger version (_resumed_<ns>) gave the user's
    # ModelCheckpoint (no dirpath) another folder: Lightning warned "The dirpath has
    # changed" and forgot its best, so save_top_k=1 left two "top-1" files and the
    # callback's best_model_path at the worse epoch 2; in a copy of the run folder it went on
    # in the original's folder (its top-k removing the original's files), its best there
    from lightning_nas.search.schedulers import ASHARule

    rule = ASHARule(min_epochs=2, max_epochs=4, eta=2)
    for key in (100, 101):  # two better trials at rung 2: trial 1 will be paused
        rule.record(key, [0.99, 0.99])
    user = {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
            "init_args": {"monitor": "val_acc", "mode": "max", "save_top_k": 1,
                          "filename": "{epoch}"}}
    trainer = {"max_epochs": 4, "callbacks": [user],
               "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger"}}
    trial_dir = tmp_path / "run" / "trials" / "trial_0001"
    spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(trial_dir),
                     model=WorseEachEpoch, data=BlobData, trainer=trainer, rule=rule.snapshot())
    first = fit_trial(spec)
    assert first.status is TrialStatus.PAUSED and first.epochs == 2
    rule.record(1, first.curve)
    for key in (102, 103, 104, 105):  # worse trials arrive: trial 1 is promoted
        rule.record(key, [0.0, 0.0])
    if copied:  # the paused trial resumed in a copy of its run folder
        shutil.copytree(tmp_path / "run", tmp_path / "copy")
        before = sorted(p for p in (tmp_path / "run").rglob("*") if p.is_file())
        trial_dir = tmp_path / "copy" / "trials" / "trial_0001"
        spec.trial_dir = str(trial_dir)
    spec.rule, spec.ckpt_path, spec.clear_dir = rule.snapshot(), str(trial_dir / "last.ckpt"), False
    second = fit_trial(spec)
    assert second.status is TrialStatus.COMPLETED and second.epochs == 4, second.error
    if copied:
        assert sorted(p for p in (tmp_path / "run").rglob("*") if p.is_file()) == before
    versions = trial_dir.parent.parent / "logs" / "trials"
    assert len(list(versions.glob("trial_0001_resumed_*"))) == 1  # its metrics apart
    saved = sorted(p.relative_to(versions).as_posix() for p in versions.rglob("*.ckpt"))
    assert saved == ["trial_0001/checkpoints/epoch=0.ckpt"]
    states = torch.load(trial_dir / "last.ckpt", weights_only=False)["callbacks"]
    state = next(v for k, v in states.items() if k.startswith("ModelCheckpoint"))
    assert Path(state["best_model_path"]) == versions / "trial_0001/checkpoints/epoch=0.ckpt"
    assert float(state["best_model_score"]) == pytest.approx(0.9)


def test_a_promoted_trial_resumed_in_a_copy_of_its_run_folder_keeps_its_best(tmp_path):
    # was: the trial's own checkpoint callback held the original folder's path: Lightning
    # warned "The dirpath has changed" and forgot its best score, so the copy's first
    # validation after the promotion (worse) replaced best.ckpt of the better epoch 0
    from lightning_nas.search.schedulers import ASHARule

    rule = ASHARule(min_epochs=2, max_epochs=4, eta=2)
    for key in (100, 101):  # two better trials at rung 2: trial 1 will be paused
        rule.record(key, [0.99, 0.99])
    trial_dir = tmp_path / "run" / "trials" / "trial_0001"
    spec = TrialSpec(trial_id=1, arch={"width": 8}, trial_dir=str(trial_dir),
                     model=WorseEachEpoch, data=BlobData,
                     trainer={"max_epochs": 4, "logger": False}, rule=rule.snapshot())
    first = fit_trial(spec)
    assert first.status is TrialStatus.PAUSED and first.epochs == 2
    rule.record(1, first.curve)
    for key in (102, 103, 104, 105):  # worse trials arrive: trial 1 is promoted
        rule.record(key, [0.0, 0.0])
    shutil.copytree(tmp_path / "run", tmp_path / "copy")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*") if p.is_file()}
    trial_dir = tmp_path / "copy" / "trials" / "trial_0001"
    spec.trial_dir, spec.rule, spec.clear_dir = str(trial_dir), rule.snapshot(), False
    spec.ckpt_path = str(trial_dir / "last.ckpt")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = fit_trial(spec)
    assert second.status is TrialStatus.COMPLETED and second.epochs == 4, second.error
    assert not [w for w in caught if "dirpath has changed" in str(w.message)]
    assert torch.load(trial_dir / "best.ckpt", weights_only=False)["epoch"] == 0
    states = torch.load(trial_dir / "last.ckpt", weights_only=False)["callbacks"]
    state = next(v for k, v in states.items() if k.startswith("lightning_nas.TrialCheckpoint"))
    assert Path(state["best_model_path"]) == (trial_dir / "best.ckpt").resolve()
    assert float(state["best_model_score"]) == pytest.approx(0.9)
    assert second.checkpoint is not None and Path(second.checkpoint).parent == \
        trial_dir.resolve()
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*")
            if p.is_file()} == before  # the original is left as it was


def test_a_trials_checkpoint_keeps_the_model_arguments_beside_searched_data_keys(tmp_path):
    # was: a data.* key made the model's arguments look like paths, so a model that saves
    # no hyperparameters got none in its checkpoint (load_from_checkpoint lost its width)
    space = {"width": {"choice": [6]}, "data.batch_size": {"choice": [16, 32]}}
    result = Search(NoHparams, space, data=BlobData, data_init_args={"n": 64},
                    trainer={"max_epochs": 1}, budget=1, run_dir=tmp_path, verbose=False).run()
    ckpt = torch.load(result.best.checkpoint, weights_only=False)
    assert ckpt["hyper_parameters"] == {"width": 6}
    assert NoHparams.load_from_checkpoint(result.best.checkpoint).net[0].out_features == 6

"""One-shot runs refused before training: a misspelt ``net_attr``, a Trainer setting, an
optimizer that cannot run, choice modules forward never calls or calls at two widths,
a candidate that does not fit, two searches in one fit, dict batches, targets that do not
fit the predictions and a setup Lightning refuses."""

from __future__ import annotations

import importlib.util
import re

import lightning.pytorch as pl
import pytest
import torch
import yaml
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.choices import (
    ChoiceLinear,
    LayerChoice,
    export_subnet,
)
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.trainer_checks import check_oneshot_trainer
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot_fit import (
    TINY_CLI,
    UnusedChoice,
    cpu_trainer,
)
from tests.launcher import ROOT


def test_a_misspelt_net_attr_is_an_error_before_training(tmp_path, monkeypatch, capsys):
    said = "net_attr 'netz': TinySupernet has no nn.Module attribute of that name; did you " \
           "mean 'net'? its nn.Module attributes: net"
    callback = OneShotNAS(net_attr="netz", record_paths=True, export_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=re.escape(said)):
        cpu_trainer(tmp_path, [callback]).fit(TinySupernet(), datamodule=BlobData())
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
        cpu_trainer(tmp_path, [callback], max_epochs=1).fit(TinySupernet(), datamodule=BlobData())
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


@pytest.mark.parametrize("kind", ["layer", "linear"])
def test_a_choice_module_forward_never_calls_is_refused_before_training(tmp_path, kind):
    callback = OneShotNAS(num_candidates=3, calibration_batches=1,
                          export_dir=str(tmp_path / "out"))
    trainer = cpu_trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False)
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
    trainer = cpu_trainer(tmp_path, callbacks, max_epochs=1, enable_checkpointing=False)
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
    trainer = cpu_trainer(tmp_path, [callback], max_epochs=2, enable_checkpointing=False)
    module = _with_net(LayerChoice(ops, label="op"), head)
    if refused is None:  # the layers after it take each shape (a width-following head)
        trainer.fit(module, datamodule=BlobData())
        assert {p["op"] for p in callback.paths} == {"wide", "narrow"}
        return
    shapes = ", ".join(f"'{name}': \\(64, {op.out_features if isinstance(op, nn.Linear) else 16}"
                       f"\\)" for name, op in ops.items())
    for sanity in (2, 0):  # said before the sanity check runs the active path, or at the
        trainer = cpu_trainer(tmp_path, [callback], max_epochs=1,  # first training batch
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
    trainer = cpu_trainer(tmp_path, callbacks, max_epochs=1, enable_checkpointing=False)
    with pytest.raises(ConfigError, match=rf"^this fit holds 2 one-shot searches: {said}"):
        trainer.fit(module, datamodule=data)
    assert trainer.global_step == 0
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


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
    trainer = cpu_trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False)
    with pytest.raises(ConfigError, match=r"OneShotNAS reads each batch as \(x, y\): "
                                          r"predictions module\(batch\[0\]\), targets "
                                          r"batch\[1\]; its first batch is a dict with keys "
                                          r"\['mask', 'x', 'y'\]; give OneShotNAS\(forward=.*"
                                          r"`lightning-nas oneshot` has no forward key"):
        trainer.fit(_TextLikeSupernet(), datamodule=_TextLikeData("dict"))
    assert trainer.global_step == 0 and not export.exists()
    for sanity in (2, 0):  # DARTS: at the sanity check's first batch, else the training's
        nas = DifferentiableNAS(_TextLikeSupernet(), num_classes=3, export_dir=str(export))
        trainer = cpu_trainer(tmp_path, [], max_epochs=1, num_sanity_val_steps=sanity,
                           enable_checkpointing=False)
        with pytest.raises(ConfigError, match=r"DifferentiableNAS reads each batch as \(x, y\)"
                                              r".*a dict with keys \['mask', 'x', 'y'\]; "
                                              r"DifferentiableNAS has no forward option"):
            trainer.fit(nas, datamodule=BilevelData(_TextLikeData("dict")))
        assert trainer.global_step == 0 and not export.exists(), sanity
    # a forward that reads them works, as before
    callback = OneShotNAS(num_candidates=2, num_classes=3, export_dir=str(export),
                          forward=lambda module, batch: (module(batch["x"]), batch["y"]))
    cpu_trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False).fit(
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
    trainer = cpu_trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False)
    with pytest.raises(ConfigError, match="OneShotNAS " + said + r"give OneShotNAS\(forward="
                                          r".*`lightning-nas oneshot` has no forward key"):
        trainer.fit(_TextLikeSupernet(), datamodule=_TextLikeData("tuple"))
    assert trainer.global_step == 0 and callback.history == [] and not export.exists()
    for sanity in (2, 0):  # DARTS: at the sanity check's first batch, else the training's
        nas = DifferentiableNAS(_TextLikeSupernet(), num_classes=3, export_dir=str(export))
        trainer = cpu_trainer(tmp_path, [], max_epochs=1, num_sanity_val_steps=sanity,
                           enable_checkpointing=False)
        with pytest.raises(ConfigError, match="DifferentiableNAS " + said
                                              + "DifferentiableNAS has no forward option"):
            trainer.fit(nas, datamodule=BilevelData(_TextLikeData("tuple")))
        assert trainer.global_step == 0 and not export.exists(), sanity
    # a forward that takes the labels works
    callback = OneShotNAS(num_candidates=2, num_classes=3, export_dir=str(export),
                          forward=lambda module, batch: (module(batch[0]), batch[2]))
    cpu_trainer(tmp_path, [callback], max_epochs=1, enable_checkpointing=False).fit(
        _TextLikeSupernet(), datamodule=_TextLikeData("tuple"))
    assert (export / "best_arch.yaml").exists() and callback.best_score is not None


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


class _Doubled(nn.Module):
    """A layer holding a lambda, which ``torch.save`` (``subnet.pt``) cannot pickle."""

    def __init__(self) -> None:
        super().__init__()
        self.fn = lambda x: 2 * x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def test_a_network_subnet_pt_cannot_hold_is_refused_before_training(tmp_path):
    model = TinySupernet()
    model.net.append(_Doubled())
    callback = OneShotNAS(num_candidates=1, record_paths=True, export_dir=str(tmp_path))
    said = ("export_dir: subnet.pt (torch.save) cannot hold the network Sequential: "
            "AttributeError: Can't pickle local object '_Doubled.__init__.<locals>.<lambda>'")
    with pytest.raises(ConfigError, match=re.escape(said)):  # was: that error after training
        cpu_trainer(tmp_path, [callback]).fit(model, datamodule=BlobData())
    assert callback.paths == [] and list(tmp_path.iterdir()) == []  # nothing trained

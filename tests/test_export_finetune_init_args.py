"""A fine-tune's ``model_init_args``: a searched value given there replaces the trial's (and
says so), one the model does not take is named with those it does, and arguments that
change the weights' shapes (a width, added layers; a lazy model's, a model that makes its
layers in ``setup``) are refused before training, naming the way out (from scratch)."""

from __future__ import annotations

import re
import warnings

import pytest
import torch
import yaml

from lightning_nas import Search, finetune, load_best
from lightning_nas.errors import ConfigError
from lightning_nas.finetune_trainer import trainer_arch
from lightning_nas.results import TrialStatus
from lightning_nas.search.from_config import search_from_config
from tests.helpers_data import BlobData
from tests.helpers_export import CONFIG
from tests.helpers_models import LazyNoisyNet, TinyNet


def test_a_searched_value_given_in_model_init_args_is_the_finetunes_and_said(finished_run):
    # was: silently ignored (the trial's searched lr won over model_init_args={"lr": ...}),
    # so a fine-tune from best.ckpt could not take a lower learning rate than the search's
    best = load_best(finished_run)
    with pytest.warns(UserWarning, match=rf"model_init_args lr=0.001 replaces trial "
                                         rf"{best['trial']}'s searched lr="):
        result = finetune(finished_run, max_epochs=1, model_init_args={"lr": 0.001})
    assert result.status is TrialStatus.COMPLETED
    assert result.arch == {**best["arch"], "lr": 0.001}
    saved = torch.load(result.checkpoint, weights_only=False)["hyper_parameters"]
    assert saved["lr"] == 0.001 and saved["width"] == best["arch"]["width"]


def test_a_model_init_args_key_the_model_does_not_take_is_named_with_the_valid_ones(
        finished_run):
    # was: "model.lrr=1: TypeError: TinyNet.__init__() got an unexpected keyword argument
    # 'lrr'; found building the model ...", naming none of the arguments it takes
    folders = sorted(finished_run.iterdir())
    with pytest.raises(ConfigError) as err:
        finetune(finished_run, max_epochs=1, model_init_args={"lrr": 1})
    assert str(err.value) == ("model.lrr: not an argument of TinyNet.__init__; did you mean "
                              "'lr'? accepted: width, activation, lr, depth, fail_width, "
                              "nan_width, die_width, sleep")
    assert sorted(finished_run.iterdir()) == folders  # no finetune folder


def test_model_init_args_reach_a_model_built_from_its_config(tmp_path):
    # was: "model ConfigBuilder('tests.helpers.TinyNet') is not a class: init_args are only
    # supported for LightningModule classes": a config run whose space names a path (here
    # model.width, data.batch_size) builds its model from the config, and took none
    run = tmp_path / "run"
    search_from_config({**CONFIG, "trainer": {"max_epochs": 1, "accelerator": "cpu"},
                        "search": {**{k: v for k, v in CONFIG["search"].items()
                                      if k not in ("scheduler", "max_epochs", "eta")},
                                   "run_dir": str(run), "budget": 1}}).run()
    best = load_best(run)
    with pytest.warns(UserWarning, match=rf"^model_init_args width=4 replaces trial "
                                         rf"{best['trial']}'s searched model.width="):
        result = finetune(run, max_epochs=1, from_checkpoint=False,  # another width
                          model_init_args={"width": 4, "activation": "tanh"})
    assert result.status is TrialStatus.COMPLETED, result.error
    assert result.arch == {**best["arch"], "model.width": 4}
    saved = torch.load(result.checkpoint, weights_only=False)["hyper_parameters"]
    assert (saved["width"], saved["activation"], saved["lr"]) == (4, "tanh", best["arch"]["lr"])
    with pytest.raises(ConfigError, match=r"^model.activaton: not an argument of "
                                          r"TinyNet.__init__; did you mean 'activation'\?"):
        finetune(run, max_epochs=1, model_init_args={"activaton": "tanh"})


@pytest.mark.parametrize("how", ["class", "config"])
def test_a_finetune_argument_that_changes_the_weights_shapes_is_refused_before_training(
        tmp_path, tiny_space, tiny_trainer, how):
    # was: a fine-tune from best.ckpt whose model_init_args change a layer's width failed in
    # the Trainer's build with torch's "RuntimeError: Error(s) in loading state_dict for
    # TinyNet: size mismatch for net.0.weight ...", not naming the argument or the way out
    run = tmp_path / "run"
    if how == "class":
        Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1, run_dir=run,
               seed=0, verbose=False).run()
    else:
        search_from_config({**CONFIG, "trainer": {"max_epochs": 1, "accelerator": "cpu"},
                            "search": {**{k: v for k, v in CONFIG["search"].items()
                                          if k not in ("scheduler", "max_epochs", "eta")},
                                       "run_dir": str(run), "budget": 1}}).run()
    best = load_best(run)
    key = "width" if how == "class" else "model.width"
    was, lr = best["arch"][key], best["arch"]["lr"]
    width = 64 if was != 64 else 32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "model_init_args width=... replaces" (said above)
        with pytest.raises(ConfigError) as err:
            finetune(run, max_epochs=1, model_init_args={"width": width, "lr": 0.01})
    assert str(err.value) == (
        f"model_init_args width={width}, lr=0.01 give weights of other shapes than trial "
        f"{best['trial']}'s best.ckpt (net.0.weight: {was}x8 there, {width}x8 here; the "
        f"trial searched {key}={was}, lr={lr!r}), so its weights cannot start it: fine-tune "
        f"from fresh weights (lightning-nas finetune {run} --from_scratch; from Python, "
        f"from_checkpoint=False), or give only arguments that keep the shapes; found before "
        f"any training (no folder was made)")
    assert not (run / "finetune").exists()
    tuned = finetune(run, max_epochs=1, model_init_args={"lr": 0.01})  # same shapes: trains
    assert tuned.status is TrialStatus.COMPLETED, tuned.error


def test_a_finetune_argument_that_adds_layers_is_refused_before_training(tmp_path, capsys):
    # was: check_weights_fit compared the shapes of the parameters both held, so a
    # `--model.num_layers=4` on a digits trial of 2 or 3 blocks (layers added, none of another
    # shape) passed it, and the fine-tune failed in its build with torch's "Error(s) in
    # loading state_dict for DigitsCNN: Missing key(s) in state_dict: ..."
    from examples.digits.data import DigitsDataModule
    from examples.digits.model import DigitsCNN
    from lightning_nas.cli import main

    run = tmp_path / "run"
    Search(DigitsCNN, {"num_layers": {"choice": [2, 3]}}, data=DigitsDataModule,
           trainer={"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                    "limit_train_batches": 2, "limit_val_batches": 1},
           budget=1, run_dir=run, seed=0, verbose=False).run()
    best = load_best(run)
    was = best["arch"]["num_layers"]
    saved, built = DigitsCNN(num_layers=was).state_dict(), DigitsCNN(num_layers=4).state_dict()
    added = next(name for name in built if name not in saved)  # the first block's conv added
    shape = "x".join(map(str, built[added].shape))
    said = (f"model_init_args num_layers=4 give other weights than trial {best['trial']}'s "
            f"best.ckpt ({added}: none there, {shape} here; the trial searched "
            f"num_layers={was}), so its weights cannot start it: fine-tune from fresh weights "
            f"(lightning-nas finetune {run} --from_scratch; from Python, "
            f"from_checkpoint=False), or give only arguments that keep the shapes; found "
            f"before any training (no folder was made)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "model_init_args num_layers=4 replaces" (said)
        with pytest.raises(ConfigError) as err:
            finetune(run, max_epochs=1, model_init_args={"num_layers": 4})
    assert str(err.value) == said
    assert main(["finetune", str(run), "--model.num_layers=4", "--max_epochs=1"]) == 2
    err = capsys.readouterr().err  # (the warning of the replaced value is a line of its own)
    refused = [line for line in err.splitlines()
               if not line.startswith("lightning-nas finetune: warning: ")]
    assert len(refused) == 1 and "Traceback" not in err and "none there" in refused[0], err
    assert not (run / "finetune").exists()


def test_a_finetune_of_a_lazy_model_from_its_best_ckpt(tmp_path, tiny_trainer):
    # was: check_weights_fit read the shape of the meta-built model's LazyLinear weight,
    # uninitialised there, and the fine-tune raised torch's "Can't access the shape of an
    # uninitialized parameter or buffer" (load_state_dict itself materialises it)
    run = tmp_path / "run"
    Search(LazyNoisyNet, {"width": {"choice": [4, 8]}}, data=BlobData,
           trainer={**tiny_trainer, "max_epochs": 1}, budget=1, run_dir=run, seed=0,
           verbose=False).run()
    best = load_best(run)
    tuned = finetune(run, max_epochs=1)
    assert tuned.status is TrialStatus.COMPLETED, tuned.error
    was = best["arch"]["width"]
    width = 16  # another width: the first layer's shape is unknown here, the next one's not
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConfigError, match=re.escape(
                f"(net.2.weight: 3x{was} there, 3x{width} here; the trial searched "
                f"width={was})")):
            finetune(run, max_epochs=1, model_init_args={"width": width})


class SetupBuiltNet(TinyNet):
    """TinyNet whose layers are made in ``setup`` (not in ``configure_model``), as some
    projects do: a model built and not yet fitted holds no weights."""

    def __init__(self, width: int = 16, lr: float = 0.05) -> None:
        super().__init__(width=width, lr=lr)
        del self.net

    def setup(self, stage: str) -> None:
        if not hasattr(self, "net"):
            self.net = torch.nn.Sequential(torch.nn.Linear(8, self.hparams.width),
                                           torch.nn.ReLU(), torch.nn.Linear(self.hparams.width, 3))


def test_a_finetune_of_a_model_that_makes_its_layers_in_setup_says_why(tmp_path, tiny_trainer):
    # was: "the model given to the fine-tune has other weights than trial 1's best.ckpt
    # (net.0.weight: 8x8 there, none here)" alone, which read as another architecture:
    # neither the fine-tune nor Lightning's load_from_checkpoint can load weights into
    # layers that setup() makes later
    run = tmp_path / "run"
    Search(SetupBuiltNet, {"width": {"choice": [8, 16]}}, data=BlobData,
           trainer={**tiny_trainer, "max_epochs": 1}, budget=1, run_dir=run, seed=0,
           verbose=False).run()
    with pytest.raises(ConfigError, match=re.escape(
            "SetupBuiltNet makes its layers in setup(), so a model built to load the "
            "checkpoint holds none of them (as with Lightning's load_from_checkpoint): make "
            "them in configure_model() instead, which a fine-tune calls before it loads")):
        finetune(run, max_epochs=1)
    assert finetune(run, max_epochs=1, from_checkpoint=False).status is TrialStatus.COMPLETED


def test_a_searched_trainer_value_given_again_is_the_finetunes_and_said(tmp_path,
                                                                       tiny_trainer):
    # was: the fine-tune trained with the Trainer value given (trainer= or --trainer.*) but
    # its result, printed line and logged hyperparameters named the trial's searched one
    # (`trainer.accumulate_grad_batches=2` for a fine-tune that accumulated 1 batch)
    run = tmp_path / "run"
    Search(TinyNet, {"trainer.accumulate_grad_batches": {"choice": [2, 3]}}, data=BlobData,
           trainer={**tiny_trainer, "max_epochs": 1}, budget=1, run_dir=run, seed=0,
           verbose=False).run()
    key = "trainer.accumulate_grad_batches"
    was = load_best(run)["arch"][key]
    with pytest.warns(UserWarning, match=rf"^trainer accumulate_grad_batches=1 replaces "
                                         rf"trial 1's searched {key}={was} in the fine-tune"):
        result = finetune(run, max_epochs=1, trainer={"accumulate_grad_batches": 1})
    assert result.status is TrialStatus.COMPLETED, result.error
    assert result.arch == {key: 1}
    logged = yaml.safe_load((run / "finetune" / "logs" / "hparams.yaml").read_text())
    assert logged[key] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the trial's own value given: nothing to say
        kept = finetune(run, max_epochs=1, trainer={"accumulate_grad_batches": was})
    assert kept.arch == {key: was}


@pytest.mark.parametrize(("searched", "given"), [("32", "32-true"), (32, "32"),
                                                 ("bf16", "bf16-mixed")])
def test_a_searched_precision_given_again_in_another_spelling_is_the_same_and_not_said(
        searched, given):
    # was: "trainer precision='32-true' replaces trial 3's searched trainer.precision='32'",
    # a value Lightning takes as the same (compared as written)
    arch = {"width": 8, "trainer.precision": searched}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert trainer_arch(arch, {"precision": searched}, {"precision": given}, 3) == arch

"""A search's arguments and space refused before anything is built or written: misspelt
keys, arguments of the wrong kind, what an objective= search would ignore, model and data
arguments every value of a space key must fit (the dry build)."""

from __future__ import annotations

import re
import warnings

import lightning.pytorch as pl
import pytest
import torch

from lightning_nas import Search
from lightning_nas.errors import ConfigError, SpaceError
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_search import tiny_search


def test_errors_found_before_training(tmp_path, tiny_space, tiny_trainer):
    with pytest.raises(ConfigError, match="'depht' is not an argument of TinyNet.*'depth'"):
        tiny_search(tmp_path, {**tiny_space, "depht": {"choice": [1, 2]}}, tiny_trainer)
    with pytest.raises(ConfigError, match="unknown optimizer 'NGOp'.*NGOpt"):
        tiny_search(tmp_path, tiny_space, tiny_trainer, optimizer="NGOp")
    with pytest.raises(SpaceError, match="unknown space kind 'chioce'"):
        tiny_search(tmp_path, {"width": {"chioce": [1]}}, tiny_trainer)
    with pytest.raises(ConfigError, match="unknown Trainer argument 'max_epoch'"):
        tiny_search(tmp_path, tiny_space, {"max_epoch": 1})
    with pytest.raises(ConfigError, match="`mode` can be max, min"):
        tiny_search(tmp_path, tiny_space, tiny_trainer, mode="maximum")
    assert not (tmp_path / "search.db").exists()


# ---------------------------------------------------------------- dry build (issue 11, 7)
class _BrokenData(BlobData):
    """A DataModule whose constructor rejects its argument (as a user's might)."""

    def __init__(self, n: int = 256, batch_size: int = 16) -> None:
        if batch_size > 32:
            raise ValueError(f"batch_size {batch_size} does not fit in memory")
        super().__init__(n, batch_size)


_EARLY = "found building the"


def test_a_space_of_one_architecture_is_refused_before_anything_is_written(tmp_path):
    for space in ({"k": {"choice": [3]}}, {"k": {"fixed": 3}, "j": {"choice": ["a"]}}):
        with pytest.raises(SpaceError, match=r"single architecture \(\{'k': 3"):
            Search(None, space, objective=lambda arch: {"val_acc": 1.0}, run_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_one_architecture_space_in_python_says_to_train_it_in_python(tmp_path):
    # was: "... or train it with lightning-nas fit", a command that takes a config file,
    # which a Search built in Python has none of
    with pytest.raises(SpaceError, match=r"single architecture \(\{'width': 16\}\).* "
                                         r"train it with a Lightning Trainer, "
                                         r"Trainer\.fit\(TinyNet\(\*\*arch\)") as info:
        Search(TinyNet, {"width": {"choice": [16]}}, data=BlobData, run_dir=tmp_path)
    assert "lightning-nas" not in str(info.value)
    with pytest.raises(SpaceError, match=r"call the objective function with it$"):
        Search(None, {"k": {"fixed": 3}}, objective=lambda arch: {"val_acc": 1.0},
               run_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_misspelt_key_of_a_one_architecture_space_is_named_as_misspelt(tmp_path):
    # was: "the space holds a single architecture ({'widht': 16}): nothing to search; give
    # a key two or more values" -- and, given two, the next run named the misspelt key
    with pytest.raises(ConfigError, match="'widht' is not an argument of TinyNet.*'width'"):
        Search(TinyNet, {"widht": {"choice": [16]}}, data=BlobData, run_dir=tmp_path)
    with pytest.raises(ConfigError, match="'data.n_samples' is not an argument of BlobData"):
        Search(TinyNet, {"data.n_samples": {"fixed": 8}}, data=BlobData, run_dir=tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("scheduler", ["asha", "median"])
def test_an_objective_search_refuses_a_scheduler(tmp_path, scheduler):
    # was: accepted and announced ("scheduler asha"), but a function's trial has no epochs to
    # stop between: the scheduler did nothing
    with pytest.raises(ConfigError, match=rf"^scheduler '{scheduler}' stops weak trials between "
                                          r"their epochs; an objective= search's trial .*"
                                          r"leave scheduler out"):
        Search(None, {"x": {"float": [0, 1]}}, objective=lambda arch: {"val_acc": arch["x"]},
               scheduler=scheduler, trainer={"max_epochs": 9}, budget=3, run_dir=tmp_path,
               verbose=False)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("given", [{"model": TinyNet}, {"data": BlobData},
                                   {"model_init_args": {"width": 4}},
                                   {"data_init_args": {"n": 8}}])
def test_an_objective_search_refuses_a_model_or_data_it_would_ignore(tmp_path, given):
    # was: accepted and silently dropped (the model replaced by a placeholder, best.yaml
    # saying model: null)
    name = next(iter(given))
    model = given.pop("model", None)
    with pytest.raises(ConfigError, match=rf"^an objective= search calls the function instead "
                                          rf"of training: .* so {name} would be ignored; drop "
                                          rf"{name} "):
        Search(model, {"x": {"float": [0, 1]}}, objective=lambda arch: {"val_acc": arch["x"]},
               budget=2, run_dir=tmp_path, verbose=False, **given)
    assert not any(tmp_path.iterdir())


def test_an_objective_search_warns_of_trainer_settings_it_ignores(tmp_path):
    # was: trainer={"max_epochs": 5, ...} with objective= ignored without a word
    space = {"x": {"float": [0, 1]}}
    with pytest.warns(UserWarning, match=r"^an objective= search calls the function instead "
                                         r"of training, so trainer settings max_epochs, "
                                         r"min_epochs are ignored \(it uses only accelerator, "):
        Search(None, space, objective=lambda arch: {"val_acc": arch["x"]},
               trainer={"max_epochs": 5, "min_epochs": 2, "accelerator": "cpu"}, budget=2,
               run_dir=tmp_path / "a", verbose=False)
    with warnings.catch_warnings():  # the settings it uses: no warning
        warnings.filterwarnings("error", message="an objective= search")
        result = Search(None, space, objective=lambda arch: {"val_acc": arch["x"]},
                        trainer={"accelerator": "cpu", "devices": 1, "logger": False},
                        budget=2, run_dir=tmp_path / "b", verbose=False).run()
    assert len(result.trials) == 2


@pytest.mark.parametrize(("trainer", "options", "needles"), [
    ({"max_epochs": -5}, {}, ["trainer.max_epochs=-5: must be >= 0, or -1 (no limit)"]),
    ({"accelerator": "tpu"}, {}, ["trainer.accelerator='tpu'", "torch_xla", _EARLY]),
    ({"gradient_clip_algorithm": "x"}, {}, ["trainer.gradient_clip_algorithm='x'", _EARLY]),
    ({"max_epochs": "abc"}, {}, ["trainer.max_epochs='abc'", "expected int or null"]),
    ({}, {"model_init_args": {"activation": "gelu"}},
     ["model.activation='gelu'", "KeyError", _EARLY]),
    ({}, {"data": _BrokenData, "data_init_args": {"batch_size": 64}},
     ["data.batch_size=64", "does not fit in memory", _EARLY]),
])
def test_constructor_errors_are_config_errors_before_any_training(
        tmp_path, tiny_space, tiny_trainer, trainer, options, needles):
    space = {k: v for k, v in tiny_space.items() if k not in options.get("model_init_args", {})}
    with pytest.raises(ConfigError) as info:
        tiny_search(tmp_path, space, {**tiny_trainer, **trainer}, budget=3, **options)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message
    assert not tmp_path.joinpath("search.db").exists() and not any(tmp_path.iterdir())


@pytest.mark.parametrize("argument, message", [
    ("trainer", "trainer must be a mapping of Trainer keyword arguments (trainer={'max_epochs"
                "': 3}), got Trainer <lightning.pytorch.trainer.trainer.Trainer object"),
    ("settings", "settings must be a SearchSettings, got dict {'budget': 3}; give single "
                 "settings as keyword arguments (Search(..., budget=3))"),
    ("model_init_args", "model_init_args must be a mapping of keyword arguments for the "
                        "model class, got list [1]"),
    ("data_init_args", "data_init_args must be a mapping of keyword arguments for the data "
                       "class, got list [1]"),
    ("config", "config must be a mapping of the full config the search came from, got "
               "list [1]"),
    ("on_trial_end", "on_trial_end must be callable with each finished trial's TrialResult, "
                     "got 5"),
])
def test_an_argument_of_the_wrong_kind_is_named_before_anything_is_built(
        tmp_path, tiny_trainer, argument, message):
    # was: "'Trainer' object is not iterable", an AttributeError for a settings dict, a
    # TypeError of dict() for a list; on_trial_end=5 failed after the first trial trained
    value = {"trainer": pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False),
             "settings": {"budget": 3}, "on_trial_end": 5}.get(argument, [1])
    kwargs = {"trainer": tiny_trainer, argument: value}
    with pytest.raises(ConfigError, match=re.escape(message)):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,
               run_dir=tmp_path / "run", **kwargs)
    assert not (tmp_path / "run").exists()


def _two(result, extra):  # a hook that takes another argument
    pass


@pytest.mark.parametrize("hook", [lambda: None, _two, lambda *, result: None])
def test_an_on_trial_end_that_cannot_take_a_result_is_refused_before_training(
        tmp_path, tiny_trainer, hook):
    # was: trial 1 trained, then "TypeError: <lambda>() takes 0 positional arguments but 1
    # was given" came out of .run()
    with pytest.raises(ConfigError, match=r"on_trial_end must be callable with each "
                                          r"finished trial's TrialResult as its one "
                                          r"argument \(on_trial_end\(result\)\); "):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,
               trainer=tiny_trainer, run_dir=tmp_path / "run", on_trial_end=hook)
    assert not (tmp_path / "run").exists()
    Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,  # these take it
           trainer=tiny_trainer, run_dir=tmp_path / "run", on_trial_end=print)
    Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,
           trainer=tiny_trainer, run_dir=tmp_path / "run", on_trial_end=lambda *a, **k: 0)


def test_a_trainer_namespace_with_keys_is_a_mapping(tmp_path, tiny_trainer):
    # was (review): refused, "trainer must be a mapping", though dict() of it worked before
    jsonargparse = pytest.importorskip("jsonargparse")
    search = Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=1,
                    trainer=jsonargparse.Namespace(**tiny_trainer), run_dir=tmp_path / "run")
    assert search.trainer == tiny_trainer


def test_space_values_every_architecture_fails_with_name_the_space_key(tmp_path, tiny_trainer):
    space = {"width": {"choice": [8, 16]}, "activation": {"choice": ["gelu", "swish"]}}
    with pytest.raises(ConfigError, match=r"search\.space\.activation='(gelu|swish)': KeyError"):
        tiny_search(tmp_path, space, tiny_trainer)


def test_dry_build_of_a_ddp_trainer_launches_nothing(tmp_path, tiny_space):
    import os

    import torch.distributed as dist
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    before = (dict(os.environ), rank_zero_only.rank, torch.are_deterministic_algorithms_enabled())
    search = tiny_search(tmp_path, tiny_space, {"accelerator": "cpu", "devices": 2,
                                                "strategy": "ddp", "deterministic": True})
    after = (dict(os.environ), rank_zero_only.rank, torch.are_deterministic_algorithms_enabled())
    assert search.trainer["strategy"] == "ddp" and after == before
    assert not dist.is_initialized() and not any(tmp_path.iterdir())


def test_a_searched_trainer_argument_with_a_model_class(tmp_path, tiny_trainer):
    space = {"width": {"choice": [4, 8]}, "trainer.max_epochs": {"choice": [1, 3]}}
    result = tiny_search(tmp_path, space, tiny_trainer, budget=3).run()  # was a TypeError
    assert all(t.epochs == t.arch["trainer.max_epochs"] for t in result.trials)
    with pytest.raises(ConfigError, match="'model.lr' is a path into a config, and TinyNet "
                                          "is a class: search its argument by its name"):
        tiny_search(tmp_path / "b", {**space, "model.lr": {"choice": [0.1, 0.2]}}, tiny_trainer)


@pytest.mark.parametrize(("space", "needle"), [
    ({"width": {"choice": [8, "16.0"]}}, r"space key 'width' may take '16.0': model.width="
                                         r"'16.0': expected int \(the annotation of "
                                         r"TinyNet.__init__\)"),  # ('16' is 16, as LightningCLI)
    ({"width": {"float": [4, 16]}}, r"space key 'width' may take ([\d.]+): model.width=\1: "
                                    r"expected int"),
    # was: the first key (depth) was blamed for another key's value in the sample
    ({"depth": {"choice": [1, 2]}, "width": {"int": [4, 8]},
      "activation": {"choice": [1, 2]}}, r"space key 'activation' may take 1, 2: "
                                         r"model.activation=1: expected str"),  # (every option)
])
def test_every_value_of_a_model_argument_fits_its_annotation_first(
        tmp_path, tiny_trainer, space, needle):
    # was: trials failed, or trained with a value of another type that `fit` of the
    # winner's best_config.yaml then refused
    with pytest.raises(ConfigError) as info:
        tiny_search(tmp_path, {**space, "lr": {"float": [0.01, 0.1]}}, tiny_trainer,
                    budget=2).run()
    assert re.search(needle, str(info.value)), str(info.value)
    assert not tmp_path.joinpath("search.db").exists()


@pytest.mark.parametrize("space", [
    {"model.net": {"lin1_size": {"choice": [*range(4, 15), "x"]}}},
    {"model.net": {"lin1_size": {"choice": [*range(4, 15), "x"]}, "lin2_size": {"int": [8, 9]}}},
    {"model.net": {"dropout": {"fixed": 0.1}, "lin1_size": {"choice": [*range(4, 15), "x"]}}},
])
def test_every_value_in_a_group_at_a_node_fits_its_annotation_first(tmp_path, space):
    # was: refused as the dotted key model.net.lin1_size, but accepted in a group, and a
    # trial drawing 'x' failed in training with a TypeError
    from lightning_nas.search.from_config import search_from_config

    config = {"model": {"class_path": "examples.lightningcli.model.LitClassifier",
                        "init_args": {"net": {"class_path": "examples.lightningcli.model.MLP"}}},
              "data": {"class_path": "examples.digits.data.DigitsDataModule"},
              "trainer": {"max_epochs": 1},
              "search": {"space": space, "run_dir": str(tmp_path / "run"), "seed": 0,
                         "budget": 12, "optimizer": "RandomSearch"}}
    with pytest.raises(ConfigError, match=r"^space key 'model\.net\.lin1_size' may take 'x': "
                                          r"model\.net\.lin1_size='x': expected int"):
        search_from_config(config)
    assert not tmp_path.joinpath("run").exists()


def test_a_plain_space_key_of_the_data_class_says_data_dot_it(tmp_path, tiny_trainer):
    # was: "... is not an argument of TinyNet.__init__; accepted: ..." only
    with pytest.raises(ConfigError, match=re.escape(
            "space key 'shuffle' is not an argument of TinyNet.__init__; it is one of "
            "BlobData's (the data): write data.shuffle; accepted: ")):
        tiny_search(tmp_path, {"shuffle": {"choice": [True, False]}}, tiny_trainer, budget=1)
    with pytest.raises(ConfigError, match=r"'n' is not an argument of TinyNet.__init__; it is "
                                          r"one of BlobData's \(the data\): write data.n;"):
        tiny_search(tmp_path, {"n": {"choice": [64, 128]}}, tiny_trainer, budget=1,
                    data=BlobData())
    assert not tmp_path.joinpath("search.db").exists()

"""The Trainer values a search's trials run with, judged before training: searched values
checked each and together, validation that would never run, a trial without an end, and
the user's EarlyStopping and ModelCheckpoint beside the search's own."""

from __future__ import annotations

import re
import warnings

import pytest
import yaml

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from tests.helpers_data import BlobData, InitValLoaderData, NoValLoaderData
from tests.helpers_models import InitValStepNet, NoValStepNet, TinyNet
from tests.helpers_search import tiny_search


@pytest.mark.parametrize(("key", "param", "needle"), [
    ("trainer.limit_val_batches", {"choice": [1, 0]},
     "space key 'trainer.limit_val_batches' may take 0: trainer.limit_val_batches=0 runs no "
     "validation"),
    ("trainer.max_epochs", {"int": [0, 2]},
     "space key 'trainer.max_epochs' may take 0: trainer.max_epochs=0 runs no validation"),
    ("trainer.limit_train_batches", {"choice": [2, 0]},
     "space key 'trainer.limit_train_batches' may take 0: trainer.limit_train_batches=0 runs "
     "no validation"),
    ("trainer.max_epochs", {"choice": [2, -3]},
     "space key 'trainer.max_epochs' may take -3: trainer.max_epochs=-3: must be >= 0"),
])
def test_every_value_of_a_searched_trainer_argument_is_checked_first(
        tmp_path, tiny_trainer, key, param, needle):
    space = {"width": {"choice": [4, 8]}, key: param}
    with pytest.raises(ConfigError) as info:  # the first sampled value may well be fine
        tiny_search(tmp_path, space, tiny_trainer, budget=2).run()
    assert needle in str(info.value)
    assert not tmp_path.joinpath("search.db").exists()


@pytest.mark.parametrize(("trainer", "space", "needle"), [
    ({"min_epochs": 3, "max_epochs": 2}, {},
     "trainer.min_epochs=3 is above max_epochs=2: Lightning stops at max_epochs and ignores "
     "min_epochs"),
    ({"min_epochs": 2}, {"trainer.max_epochs": {"choice": [2, 1]}},
     "space key 'trainer.max_epochs' may take 1: trainer.min_epochs=2 is above max_epochs=1"),
    ({}, {"trainer.min_epochs": {"choice": [1, 4]}, "trainer.max_epochs": {"choice": [2, 5]}},
     "space keys 'trainer.min_epochs' and 'trainer.max_epochs' may take 4 and 2 in one trial: "
     "trainer.min_epochs=4 is above max_epochs=2"),
], ids=["set", "searched", "both-searched"])
def test_min_epochs_above_max_epochs_is_refused_before_training(
        tmp_path, tiny_trainer, trainer, space, needle):
    # was: taken without a word; Lightning stopped at max_epochs, min_epochs ignored
    with pytest.raises(ConfigError) as info:
        tiny_search(tmp_path, {"width": {"choice": [4, 8]}, **space}, {**tiny_trainer, **trainer},
                    budget=2).run()
    assert needle in str(info.value)
    assert not tmp_path.joinpath("search.db").exists()
    tiny_search(tmp_path, {"width": {"choice": [4, 8]}}, {**tiny_trainer, "min_epochs": 1,
                                                          "max_epochs": 1}, budget=1).run()


@pytest.mark.parametrize(("space", "needle"), [
    ({"trainer.max_epochs": {"choice": [1, 3]},
      "trainer.check_val_every_n_epoch": {"choice": [1, 2]}},
     "space keys 'trainer.max_epochs' and 'trainer.check_val_every_n_epoch' may take 1 and 2 "
     "in one trial: trainer.check_val_every_n_epoch=2 with max_epochs=1 runs no validation"),
    ({"trainer.check_val_every_n_epoch": {"int": [1, 2]}, "trainer.max_epochs": {"int": [1, 6]},
      "trainer.limit_val_batches": {"choice": [1, 2]}},
     "space keys 'trainer.check_val_every_n_epoch' and 'trainer.max_epochs' may take 2 and 1 "
     "in one trial"),
    ({"trainer.check_val_every_n_epoch": {"choice": [None, 1]},
      "trainer.val_check_interval": {"choice": [1.0, 5]}, "trainer.max_steps": {"choice": [3, 9]}},
     "space keys 'trainer.check_val_every_n_epoch', 'trainer.val_check_interval' and "
     "'trainer.max_steps' may take None, 5 and 3 in one trial"),
])
def test_searched_trainer_values_that_validate_only_apart_are_refused_first(
        tmp_path, tiny_trainer, space, needle):
    # was: each value passed alone, and the first trial drawing both trained without a
    # validation and stopped the search as "an error every trial would hit"
    with pytest.raises(ConfigError) as info:
        tiny_search(tmp_path, {"width": {"choice": [4, 8]}, **space}, tiny_trainer, budget=4)
    assert needle in str(info.value)
    assert not tmp_path.joinpath("search.db").exists()
    fine = {"trainer.max_epochs": {"choice": [2, 4]},
            "trainer.check_val_every_n_epoch": {"choice": [1, 2]}}
    tiny_search(tmp_path / "fine", {"width": {"choice": [4, 8]}, **fine}, tiny_trainer, budget=4)


@pytest.mark.parametrize(("fixed", "space"), [
    # the config's max_epochs, which the space replaces in every trial
    ({"max_epochs": 1, "check_val_every_n_epoch": 3},
     {"trainer.max_epochs": {"choice": [3, 4]}}),
    ({"max_epochs": 1, "check_val_every_n_epoch": 1},
     {"trainer.max_epochs": {"choice": [3, 4]}, "trainer.check_val_every_n_epoch": {"choice":
                                                                                 [1, 3]}}),
])
def test_a_trainer_value_the_space_replaces_is_not_judged(tmp_path, tiny_trainer, fixed, space):
    # was: refused ("check_val_every_n_epoch=3 with max_epochs=1 runs no validation"),
    # though no trial runs with the config's value of a searched key
    result = tiny_search(tmp_path, {"width": {"choice": [4, 8]}, **space},
                         {**tiny_trainer, **fixed}, budget=1).run()
    assert result.trials[0].status is TrialStatus.COMPLETED


def test_a_scheduler_judges_the_trainer_values_trials_run_with(tmp_path, tiny_trainer):
    # was: refused ("asha needs validation every epoch ... check_val_every_n_epoch=2"),
    # though the space sets it to 1 in every trial
    space = {"width": {"choice": [4, 8]}, "trainer.check_val_every_n_epoch": {"fixed": 1},
             "trainer.gradient_clip_val": {"choice": [0.0, 1.0]}}
    trainer = {**tiny_trainer, "max_epochs": 2, "check_val_every_n_epoch": 2}
    result = tiny_search(tmp_path, space, trainer, budget=2, scheduler="asha").run()
    assert {t.status for t in result.trials} <= {TrialStatus.COMPLETED, TrialStatus.PRUNED}
    assert len(result.trials) == 2


def test_a_trial_without_an_end_is_warned_of_before_training(tmp_path, tiny_space, tiny_trainer):
    # was: max_epochs -1 (Lightning's "no limit") and nothing else to end a fit: the first
    # trial trained for ever without a word
    from lightning.pytorch.callbacks import EarlyStopping

    endless = {**tiny_trainer, "max_epochs": -1}
    with pytest.warns(UserWarning, match=r"trainer.max_epochs=-1 is Lightning's 'no limit'"):
        tiny_search(tmp_path / "a", tiny_space, endless, budget=1)
    stopped = {**endless, "callbacks": [EarlyStopping("val_acc", mode="max", patience=0)]}
    for trainer in ({**endless, "max_steps": 2}, stopped):
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="trainer.max_epochs=-1")
            tiny_search(tmp_path / "b", tiny_space, trainer, budget=1)


def test_a_timer_with_a_duration_ends_a_trial_and_is_no_endless_one(tmp_path, tiny_space,
                                                                   tiny_trainer):
    # was: "trainer.max_epochs=-1 is Lightning's 'no limit', and no max_steps, max_time or
    # EarlyStopping callback ends a trial", though the Timer (max_time's kind) ends each
    from lightning.pytorch.callbacks import Timer

    node = {"class_path": "lightning.pytorch.callbacks.Timer",
            "init_args": {"duration": "00:00:01:00"}}
    for callbacks in ([Timer(duration="00:00:01:00")], [node]):
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="trainer.max_epochs=-1")
            tiny_search(tmp_path, tiny_space,
                        {**tiny_trainer, "max_epochs": -1, "callbacks": callbacks}, budget=1)
    with pytest.warns(UserWarning, match=r"trainer.max_epochs=-1 is Lightning's 'no limit'"):
        tiny_search(tmp_path, tiny_space,  # one that only measures ends nothing
                    {**tiny_trainer, "max_epochs": -1, "callbacks": [Timer()]}, budget=1)


@pytest.mark.parametrize(("space", "trainer", "option"), [
    ({"trainer.max_epochs": {"choice": [1, -1]}}, {}, "trainer.max_epochs=-1"),
    ({"trainer.max_steps": {"choice": [2, -1]}}, {"max_epochs": -1}, "trainer.max_steps=-1"),
    ({"trainer.max_epochs": {"choice": [-1, 2]}, "trainer.max_steps": {"choice": [3, -1]}},
     {}, "trainer.max_epochs=-1, trainer.max_steps=-1")])
def test_a_searched_value_that_makes_a_trial_endless_is_warned_of_naming_it(
        tmp_path, tiny_space, tiny_trainer, space, trainer, option):
    # was: no word whenever max_epochs, max_steps or max_time was searched, though the
    # trials given max_epochs=-1 (and nothing else to end them) train for ever
    with pytest.warns(UserWarning, match=re.escape(
            "trainer.max_epochs=-1 is Lightning's 'no limit', and no max_steps, max_time, "
            "EarlyStopping callback or Timer with a duration ends a trial")) as said:
        tiny_search(tmp_path, {**tiny_space, **space}, {**tiny_trainer, **trainer}, budget=1)
    texts = [str(w.message) for w in said if "'no limit'" in str(w.message)]
    assert len(texts) == 1 and texts[0].endswith(f" (the trials of the searched {option})"), \
        texts


@pytest.mark.parametrize(("space", "trainer"), [
    ({"trainer.max_epochs": {"choice": [1, -1]}}, {"max_steps": 4}),
    ({"trainer.max_epochs": {"choice": [1, -1]}}, {"max_time": "00:00:01:00"}),
    ({"trainer.max_steps": {"choice": [2, 5]}}, {"max_epochs": -1}),
    ({"trainer.max_epochs": {"choice": [-1, 2]}, "trainer.max_steps": {"choice": [3, 4]}}, {})])
def test_searched_limits_that_end_every_trial_are_not_warned_of(
        tmp_path, tiny_space, tiny_trainer, space, trainer):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="trainer.max_epochs=-1")
        tiny_search(tmp_path, {**tiny_space, **space}, {**tiny_trainer, **trainer}, budget=1)


def test_an_early_stopping_on_another_metric_or_mode_is_warned_of_before_training(
        tmp_path, tiny_space, tiny_trainer):
    # was: said nothing; a LightningCLI config's EarlyStopping kept from plain training
    # (val_loss) ended each trial on another metric than the search scores, and one of
    # EarlyStopping's default mode ('min') on val_acc stopped trials as their score rose
    from lightning.pytorch.callbacks import EarlyStopping

    es = "lightning.pytorch.callbacks.EarlyStopping"
    other = {**tiny_trainer, "callbacks": [EarlyStopping("val_loss", patience=1)]}
    with pytest.warns(UserWarning, match=re.escape(
            "trainer.callbacks[0] (EarlyStopping) monitors 'val_loss' (min), the search "
            "'val_acc' (max): a trial stops when val_loss stops improving")):
        tiny_search(tmp_path / "a", tiny_space, other, budget=1)
    node = {"class_path": es, "init_args": {"monitor": "val_acc", "patience": 1}}
    default_mode = {**tiny_trainer, "callbacks": [{"class_path": "lightning.pytorch."
                                                   "callbacks.ModelCheckpoint"}, node]}
    with pytest.warns(UserWarning, match=re.escape(
            "trainer.callbacks[1] (EarlyStopping) monitors 'val_acc' with mode 'min' "
            "(EarlyStopping's default), but the search maximises it")):
        tiny_search(tmp_path / "b", tiny_space, default_mode, budget=1)
    same = {"class_path": es, "init_args": {"monitor": "val_acc", "mode": "max"}}
    for trainer in ({**tiny_trainer, "callbacks": [same]},
                    {**tiny_trainer, "callbacks": EarlyStopping("val_acc", mode="max")}):
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*EarlyStopping")
            tiny_search(tmp_path / "c", tiny_space, trainer, budget=1)
    with pytest.warns(UserWarning, match=r"monitors 'val_loss' with mode 'max', but the "
                      r"search minimises it"):
        tiny_search(tmp_path / "d", tiny_space, {**tiny_trainer, "callbacks": [EarlyStopping(
                "val_loss", mode="max")]}, budget=1, monitor="val_loss", mode="min")


def test_a_model_checkpoint_folder_of_the_users_holds_a_folder_per_trial_unwarned(
        tmp_path, tiny_space, tiny_trainer):
    # was: warned of before training ("writes every trial's checkpoints into one folder"),
    # and every trial's files lay in it side by side (last.ckpt, last-v1.ckpt, ...); now
    # each trial writes into ck/trials/<label>_trial_NNNN (tests/test_user_callbacks.py)
    from lightning.pytorch.callbacks import ModelCheckpoint

    mc = "lightning.pytorch.callbacks.ModelCheckpoint"
    shared = {"class_path": mc, "init_args": {"dirpath": str(tmp_path / "ck"),
                                              "save_last": True}}
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*ModelCheckpoint")
        searches = [tiny_search(tmp_path / "a", tiny_space,
                                {**tiny_trainer, "callbacks": callbacks}, budget=2)
                    for callbacks in ([shared], ModelCheckpoint(dirpath=tmp_path / "ck"),
                                      [{"class_path": mc}],
                                      [ModelCheckpoint(monitor="val_acc", mode="max")])]
    searches[0].run()
    lasts = sorted(p.relative_to(tmp_path / "ck") for p in (tmp_path / "ck").rglob("last.ckpt"))
    assert [p.parts[0] for p in lasts] == ["trials", "trials"]  # one each, in its own folder
    assert len({p.parent for p in lasts}) == 2


def test_a_fixed_trainer_space_key_is_judged_with_the_searched_ones(tmp_path, tiny_trainer):
    # was: taken (a key of one value was left out of the combinations, and each value
    # alone was checked over the config's max_epochs), so every trial drawing 2 failed
    space = {"width": {"choice": [4, 8]}, "trainer.max_epochs": {"fixed": 1},
             "trainer.check_val_every_n_epoch": {"choice": [1, 2]}}
    with pytest.raises(ConfigError, match=r"space keys 'trainer.max_epochs' and "
                                          r"'trainer.check_val_every_n_epoch' may take 1 and 2 "
                                          r"in one trial"):
        tiny_search(tmp_path, space, {**tiny_trainer, "max_epochs": 3}, budget=4)
    assert not tmp_path.joinpath("search.db").exists()


def test_a_trial_whose_searched_trainer_values_skip_validation_is_an_ordinary_failure(
        tmp_path, tiny_trainer):
    # validation every 4 steps: 2 epochs of 1 batch never reach it, of 3 batches do (a
    # count of the data's batches, not checked before training)
    trainer = {**tiny_trainer, "check_val_every_n_epoch": None, "val_check_interval": 4}
    space = {"width": {"choice": [4, 8]}, "trainer.limit_train_batches": {"choice": [1, 3]}}
    result = tiny_search(tmp_path, space, trainer, budget=4, seed=1,
                         optimizer="RandomSearch").run()  # was: SearchError "every trial would"
    assert result.trials[0].arch["trainer.limit_train_batches"] == 1  # none completed yet
    statuses = {t.arch["trainer.limit_train_batches"]: set() for t in result.trials}
    for t in result.trials:
        statuses[t.arch["trainer.limit_train_batches"]].add(t.status)
    assert statuses == {1: {TrialStatus.FAILED}, 3: {TrialStatus.COMPLETED}}
    assert all("no validation ran" in t.error for t in result.trials if t.error)


def test_a_batch_size_finder_under_ddp_trials_is_refused_before_anything_is_written(tmp_path):
    # was: every trial's ranks started, FAILED in setup with Lightning's "The Batch size
    # finder is not supported with distributed strategies", the search stopped after two
    # with search.db and trials/ written
    trainer = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 1,
               "callbacks": [{"class_path": "lightning.pytorch.callbacks.BatchSizeFinder"}]}
    run = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"BatchSizeFinder.*not supported with distributed "
                                          r"strategies.*2 processes.*remove it"):
        Search("tests.helpers.MetricNet", {"width": {"choice": [8, 16]}}, data=BlobData,
               trainer=trainer, budget=1, run_dir=run).run()
    assert not run.exists()


@pytest.mark.parametrize(("model", "data", "needle"), [
    (NoValStepNet, BlobData, "NoValStepNet has no validation_step, so Lightning skips "
     "validation in every trial's fit and none could log monitor 'val_acc': define "
     "validation_step on the model, logging 'val_acc'"),
    (TinyNet, NoValLoaderData, "the data, NoValLoaderData, has no val_dataloader(), so "
     "Lightning skips validation in every trial's fit and none could log monitor 'val_acc': "
     "define val_dataloader() on it"),
    (TinyNet, lambda arch: NoValLoaderData(), "the data, NoValLoaderData, has no "  # as built
     "val_dataloader()"),  # by a callable (was: not judged, trial 1 trained to its end)
])
def test_a_search_whose_fits_would_never_validate_is_refused_before_training(
        tmp_path, tiny_trainer, model, data, needle):
    # was: trial 1 trained to its end, then the search stopped, "no validation ran in the 2
    # epochs (6 steps) it trained ... (check limit_val_batches, check_val_every_n_epoch, and
    # val_check_interval against the batches of an epoch)", none of them the cause
    run = tmp_path / "run"
    with pytest.raises(ConfigError, match=re.escape(needle)):
        tiny_search(run, {"width": {"choice": [4, 8]}}, tiny_trainer, model=model, data=data,
                    budget=2, monitor="val_acc", mode="max")
    assert not run.exists()


@pytest.mark.parametrize(("model", "data"), [
    (TinyNet, InitValLoaderData),  # its val_dataloader set in __init__
    (InitValStepNet, BlobData),  # its validation_step set in __init__
])
def test_a_search_whose_hook_is_set_in_init_is_searched(tmp_path, tiny_trainer, model, data):
    # was: refused before training, "the data, InitValLoaderData, has no val_dataloader()"
    # (its class judged), though Lightning validates with the instance's
    result = tiny_search(tmp_path / "run", {"width": {"choice": [4, 8]}}, tiny_trainer,
                         model=model, data=data, budget=1, monitor="val_acc",
                         mode="max").run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED]
    assert result.trials[0].score is not None


def test_a_config_search_whose_data_sets_val_dataloader_in_init_is_searched(tmp_path):
    # data: {class_path: ...} of a class whose instance sets val_dataloader (was: refused)
    from lightning_nas.config.load import load_config
    from lightning_nas.search.from_config import search_from_config

    path = tmp_path / "nas.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers_models.TinyNet"},
        "data": {"class_path": "tests.helpers_data.InitValLoaderData"},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "limit_train_batches": 1,
                    "enable_progress_bar": False, "logger": False},
        "search": {"space": {"model.width": {"choice": [4, 8]}}, "budget": 1,
                   "monitor": "val_acc", "mode": "max", "run_dir": str(tmp_path / "run")}}))
    result = search_from_config(load_config(path)).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED]


@pytest.mark.parametrize(("trainer", "space", "needle"), [
    ({"devices": 1, "num_nodes": 2}, {}, "trainer.num_nodes=2"),
    ({"devices": 2}, {"trainer.num_nodes": {"choice": [1, 2]}},
     "space key 'trainer.num_nodes' may take 2"),
])
def test_trials_on_several_nodes_are_refused_before_anything_is_written(tmp_path, trainer,
                                                                        space, needle):
    # was: trial 1's rank 0 waited for the other node's ranks, which nothing starts, until
    # its process group timed out (30 min), then FAILED; so did trial 2, and the search
    # stopped after an hour with its run folder written
    run = tmp_path / "run"
    with pytest.raises(ConfigError, match=re.escape(needle) + r": nothing starts a trial's "
                       r"ranks on the other nodes.*num_nodes: 1.*executor: ray"):
        Search("tests.helpers.MetricNet", {"width": {"choice": [8, 16]}, **space},
               data=BlobData, budget=1, run_dir=run,
               trainer={"accelerator": "cpu", "strategy": "ddp", "max_epochs": 1, **trainer})
    assert not run.exists()


def test_an_objective_search_on_several_nodes_trains_nothing_and_is_not_refused(tmp_path):
    # its trials call the objective and start no ranks: nothing waits for other nodes
    result = Search(None, {"width": {"choice": [8, 16, 32]}}, budget=2, monitor="val_acc",
                    objective=_width_score, run_dir=tmp_path / "run",
                    trainer={"accelerator": "cpu", "num_nodes": 2, "strategy": "ddp"}).run()
    assert sorted(t.score for t in result.trials) == sorted(
        t.arch["width"] / 32 for t in result.trials)


def _width_score(arch: dict) -> dict:
    """An objective: the architecture's width over 32."""
    return {"val_acc": arch["width"] / 32}

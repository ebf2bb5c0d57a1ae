"""What a resume compares (``search.resume.differences``): the space in another key order
resumes, a space of other values or types is refused naming the keys; nested nodes; a NaN
or inf stored; Trainer arguments spelt at their defaults and precision spellings Lightning
takes as one are no difference."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import pytest

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.search.resume import differences
from lightning_nas.search.trainer_spelling import as_taken
from lightning_nas.store import RunStore
from tests.helpers_resume import SPACE
from tests.helpers_resume import objective_search as _objective_search
from tests.helpers_store import sql


def test_the_same_space_in_another_key_order_resumes_exactly(tmp_path):
    whole = _objective_search(tmp_path / "whole", budget=8).run()
    _objective_search(tmp_path / "cut", budget=4).run()
    reordered = {k: SPACE[k] for k in ("c", "b", "a")}
    resumed = _objective_search(tmp_path / "cut", space=reordered, budget=8).run()
    assert [t.arch for t in resumed.trials] == [t.arch for t in whole.trials]


def test_a_space_whose_values_changed_type_is_refused_on_resume(tmp_path):
    # was: 1 == 1.0 == True to Python, so the resume went on and trained the stored values
    _objective_search(tmp_path, budget=1).run()
    floats = {**SPACE, "c": {"choice": [1.0, 2.0, 3.0]}}
    with pytest.raises(ConfigError, match="a search with a different space"):
        _objective_search(tmp_path, space=floats, budget=2).run()


def test_a_changed_space_on_resume_names_the_keys_that_differ(tmp_path):
    # was: both whole spaces printed, "stored {...}, now {...}", left to diff by eye
    _objective_search(tmp_path, budget=1).run()
    changed = {**{k: v for k, v in SPACE.items() if k != "a"}, "c": {"choice": [1, 2]},
               "d": {"choice": [0, 1]}}
    with pytest.raises(ConfigError) as err:
        _objective_search(tmp_path, space=changed, budget=2).run()
    held = str(err.value).split("different space (")[1].split("); resume")[0]
    assert held == (f"a: {SPACE['a']!r}, now 'unset'; c: {SPACE['c']!r}, now "
                    "{'choice': [1, 2]}; d: 'unset', now {'choice': [0, 1]}"), held


def test_differences_read_nested_nodes_and_skip_what_an_older_store_lacks():
    stored = {"config": {"model": {"class_path": "m.M", "init_args": {"net": {"w": 8}}}},
              "trainer": {"max_epochs": 3, "enable_progress_bar": True}}
    current = {"settings": {"seed": 1}, "model": {}, "data": {}, "config": {
        "model": {"class_path": "m.M", "init_args": {"net": {"w": 16}}}},
        "trainer": {"max_epochs": 3, "enable_progress_bar": False}}
    assert differences(stored, current) == ["model.init_args.net.w: 8, now 16"]


def test_a_nan_or_inf_in_the_stored_setup_is_no_difference_on_resume(tmp_path):
    # the store writes strict JSON (a NaN as null, inf as 9e999): what it reads back is
    # compared as the current setup would be stored (was: a NaN argument, stored and read
    # back as NaN, differed from itself, so such a run could not be resumed)
    setup = {"model": {"class_path": "m.M", "init_args": {"clip": math.nan, "top": math.inf}},
             "trainer": {"max_epochs": 1, "gradient_clip_val": math.inf}}
    with RunStore(tmp_path / "search.db") as store:
        for key, value in setup.items():
            store.set_meta(key, value)
        stored = {key: store.get_meta(key) for key in setup}
    assert differences(stored, setup) == []
    assert differences(stored, {**setup, "trainer": {"max_epochs": 1}}) == [
        "trainer.gradient_clip_val: inf, now 'unset'"]


@pytest.mark.filterwarnings("ignore:an objective= search calls the function")
def test_a_search_whose_trainer_holds_inf_resumes(tmp_path):
    # inf is stored as 9e999 (strict JSON) and read back as inf: the same setup
    trainer = {"max_epochs": 1, "gradient_clip_val": math.inf}
    _objective_search(tmp_path, budget=2, trainer=trainer).run()
    result = _objective_search(tmp_path, budget=3, trainer=trainer).run()
    assert len(result.trials) == 3
    with sql(tmp_path / "search.db") as db:
        assert db.execute("SELECT json_extract(value, '$.gradient_clip_val') FROM meta "
                          "WHERE key = 'trainer'").fetchone() == (math.inf,)


@pytest.mark.filterwarnings("ignore:an objective= search calls the function")
def test_a_trainer_argument_spelt_at_its_default_is_no_difference_on_resume(tmp_path):
    # Lightning takes an argument left out at its signature default: spelt out on a resume,
    # or left out on a resume of a run that spelt it, it trains the same (was: refused,
    # "trainer.check_val_every_n_epoch: 'unset', now 1"); another value is still refused
    def search(run_dir: str, budget: int, **trainer) -> Search:
        return _objective_search(tmp_path / run_dir, budget=budget,
                                 trainer={"max_epochs": 2, **trainer})

    defaults = {"check_val_every_n_epoch": 1, "max_steps": -1, "accelerator": "auto",
                "gradient_clip_val": None, "precision": None}
    search("out", 1).run()
    with pytest.raises(ConfigError, match=r"other settings: trainer\.check_val_every_n_epoch: "
                                          r"'unset', now 2\. Resume with"):
        search("out", 2, check_val_every_n_epoch=2).run()
    assert len(search("out", 2, **defaults).run().trials) == 2
    search("set", 1, **defaults).run()
    with pytest.raises(ConfigError, match=r"other settings: trainer\.check_val_every_n_epoch: 1, "
                                          r"now 2\. Resume with the settings it ran with"):
        search("set", 2, check_val_every_n_epoch=2).run()
    assert len(search("set", 2).run().trials) == 2


def test_only_what_lightning_takes_as_the_same_trainer_setting_is_no_difference():
    def trainer(**given) -> dict:
        return {"trainer": given}

    # None where the default is 1 validates by val_check_interval alone; True is no int;
    # the default accelerator is not the one it picks; 1000 epochs is a default only
    # without max_steps or a Timer
    for given in ({"check_val_every_n_epoch": None}, {"check_val_every_n_epoch": True},
                  {"accelerator": "cpu"}, {"max_epochs": 1000}, {"devices": 1}):
        (key, value), = given.items()
        assert differences(trainer(), trainer(**given)) == [
            f"trainer.{key}: 'unset', now {value!r}"]
    # Lightning's spellings of one precision (its alias conversion) are the same
    assert differences(trainer(precision=32), trainer(precision="32-true")) == []
    assert differences(trainer(precision="bf16"), trainer(precision="bf16-mixed")) == []
    assert differences(trainer(precision=32), trainer(precision="16-mixed")) == [
        "trainer.precision: 32, now '16-mixed'"]
    assert differences(trainer(accumulate_grad_batches=1), trainer()) == []


@pytest.mark.parametrize("spelling", [64, "64", 32, "32", "bf16"])
def test_each_precision_spelling_taken_as_one_is_the_one_a_trainer_takes_it_as(spelling):
    # the table resume compares by (as_taken) against a real Trainer's public precision
    # (16 is left out: 16-mixed refuses CPU)
    taken = pl.Trainer(accelerator="cpu", devices=1, precision=spelling, logger=False,
                       enable_checkpointing=False, enable_progress_bar=False,
                       enable_model_summary=False).precision
    assert as_taken({"precision": spelling}) == {"precision": taken}

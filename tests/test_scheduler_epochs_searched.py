"""Schedulers under a searched ``trainer.check_val_every_n_epoch``: each value the space
may give is judged as a fixed one is, against the epochs of the search's trials (the
search's ``max_epochs`` where it gives one, else the Trainer's), before anything trains."""

from __future__ import annotations

import re

import pytest

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.search.schedulers import MedianRule
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


@pytest.mark.parametrize("scheduler, trainer_epochs, search_epochs", [
    ("median", 4, None), (MedianRule(min_trials=1), 4, None), ("median", 8, 4)],
    ids=["median", "rule-object", "search-max-epochs"])
def test_a_searched_validation_interval_that_validates_only_at_the_last_epoch_is_refused(
        tmp_path, scheduler, trainer_epochs, search_epochs):
    # old code: Failed: DID NOT RAISE (trials drawing 4 validate at their last epoch only,
    # where the rule's verdict stops nothing: never judged)
    name = scheduler if isinstance(scheduler, str) else type(scheduler).__name__
    with pytest.raises(ConfigError, match="^" + re.escape(
            f"space key 'trainer.check_val_every_n_epoch' may take 4: scheduler {name!r} "
            f"judges a trial at the epochs it validates from min_epochs=1 on, but "
            f"trainer.check_val_every_n_epoch=4 validates after epochs 4, 8, ... only: the "
            f"first of them from epoch 1 on, 4, is a trial's last epoch (max_epochs=4), where "
            f"a verdict stops nothing, so it would never stop a trial; give "
            f"check_val_every_n_epoch a value that validates an epoch from 1 to 3 (1 does), "
            f"or leave 4 out of the space key's values, or search without a scheduler") + "$"):
        Search(TinyNet, {"width": {"choice": [4, 8]},
                         "trainer.check_val_every_n_epoch": {"choice": [1, 4]}},
               data=BlobData, budget=2, trainer={"max_epochs": trainer_epochs},
               scheduler=scheduler, max_epochs=search_epochs, run_dir=tmp_path / "run",
               verbose=False)
    assert not (tmp_path / "run").exists()  # refused before anything trained or was written


def test_a_searched_validation_interval_that_validates_before_the_last_epoch_is_taken(
        tmp_path):
    # the search's max_epochs 4 (not the Trainer's 8) is a trial's last epoch: 2 validates
    # after epoch 2, before it, where the rule judges it
    Search(TinyNet, {"width": {"choice": [4, 8]},
                     "trainer.check_val_every_n_epoch": {"choice": [1, 2]}},
           data=BlobData, budget=2, trainer={"max_epochs": 8}, scheduler="median",
           max_epochs=4, run_dir=tmp_path / "run", verbose=False)


#: the refusal of ``check_val_every_n_epoch`` 2 under scheduler 'median' with min_epochs 3
#: and trials of 4 epochs: validated after epochs 2 and 4, it is first judged at epoch 4
JUDGED_AT_THE_END = (
    "space key 'trainer.check_val_every_n_epoch' may take 2: scheduler 'median' judges a "
    "trial at the epochs it validates from min_epochs=3 on, but "
    "trainer.check_val_every_n_epoch=2 validates after epochs 2, 4, ... only: the first of "
    "them from epoch 3 on, 4, is a trial's last epoch (max_epochs=4), where a verdict stops "
    "nothing, so it would never stop a trial; give check_val_every_n_epoch a value that "
    "validates epoch 3 (1 does), or narrow the space key's range {range} to leave out {out}, "
    "which cannot be judged, or search without a scheduler")


@pytest.mark.parametrize("scheduler, values, trainer, said", [
    # 1 and 3 validate epoch 3, before the last; 2 validates epochs 2 and 4 alone
    ({"scheduler": "median", "min_epochs": 3}, [1, 3], {"max_epochs": 4},
     JUDGED_AT_THE_END.format(range="1..3", out="value 2")),
    # rungs 4 and 8: 1, 2 and 4 validate both, 3 neither
    ({"scheduler": "asha", "min_epochs": 4, "eta": 2}, [1, 4], {"max_epochs": 8},
     "space key 'trainer.check_val_every_n_epoch' may take 3: scheduler 'asha' judges each "
     "trial at its rungs, after epochs 4, 8, but trainer.check_val_every_n_epoch=3 validates "
     "after epochs 3, 6, ... only: rungs 4, 8 are not validated; give check_val_every_n_epoch "
     "1, 2 or 4 (a divisor of every rung), or narrow the space key's range 1..4 to leave out "
     "value 3, which cannot be judged, or search without a scheduler (scheduler='none')"),
    # a huge range: each value above the epochs the rule knows is judged alike, by arithmetic
    ({"scheduler": "median", "min_epochs": 3, "max_epochs": 4}, [1, 2 ** 40], {},
     JUDGED_AT_THE_END.format(range=f"1..{2 ** 40}", out=f"values 2, 4..{2 ** 40}")),
], ids=["median", "asha", "huge"])
def test_each_value_inside_a_searched_validation_range_is_judged_against_the_rule(
        tmp_path, scheduler, values, trainer, said):
    # old code: Failed: DID NOT RAISE (median, asha: the range's bounds alone were checked);
    # huge: the refusal of its bound 1099511627776 said to leave it out of the values
    with pytest.raises(ConfigError, match="^" + re.escape(said) + "$"):
        Search(TinyNet, {"width": {"choice": [4, 8]},
                         "trainer.check_val_every_n_epoch": {"int": values}},
               data=BlobData, budget=2, trainer=trainer, run_dir=tmp_path / "run",
               verbose=False, **scheduler)
    assert not (tmp_path / "run").exists()  # refused before anything trained or was written


def test_a_stepped_validation_range_whose_every_value_is_judged_is_taken(tmp_path):
    # 2 and 4 validate rungs 4 and 8 (3, not a value of the range, would not)
    Search(TinyNet, {"width": {"choice": [4, 8]},
                     "trainer.check_val_every_n_epoch": {"int": [2, 4], "step": 2}},
           data=BlobData, budget=2, trainer={"max_epochs": 8}, scheduler="asha",
           min_epochs=4, eta=2, run_dir=tmp_path / "run", verbose=False)


#: the first value's refusal of a range every value of which a rule refuses, then the
#: ways out of the whole range: the rule's setting that would take some of its values
#: (where one is found), a fixed Trainer value in place of the space key, no scheduler
EVERY_VALUE = [
    # rungs 1, 3, 9: no value of 2..5 divides them all; min_epochs 3 (rungs 3, 9) takes 3
    ({"scheduler": "asha"}, {"int": [2, 5]}, {"max_epochs": 9},
     "space key 'trainer.check_val_every_n_epoch' may take 2: scheduler 'asha' judges each "
     "trial at its rungs, after epochs 1, 3, 9, but trainer.check_val_every_n_epoch=2 "
     "validates after epochs 2, 4, ... only: rungs 1, 3, 9 are not validated; give "
     "check_val_every_n_epoch 1 (a divisor of every rung), or as every value of the space "
     "key's range 2..5 is refused, give the search's min_epochs=3 (under which value 3 is "
     "judged; narrow the range to it), or fix trainer={\"check_val_every_n_epoch\": 1} "
     "instead of searching it, or search without a scheduler (scheduler='none')"),
    # from min_epochs 3, 2 validates epoch 4 first, the last; 4 too: min_epochs 2 (or 1)
    # judges 2 at epoch 2, the nearest to 3 given
    ({"scheduler": "median", "min_epochs": 3}, {"int": [2, 4], "step": 2}, {"max_epochs": 4},
     "space key 'trainer.check_val_every_n_epoch' may take 2: scheduler 'median' judges a "
     "trial at the epochs it validates from min_epochs=3 on, but "
     "trainer.check_val_every_n_epoch=2 validates after epochs 2, 4, ... only: the first of "
     "them from epoch 3 on, 4, is a trial's last epoch (max_epochs=4), where a verdict stops "
     "nothing, so it would never stop a trial; give check_val_every_n_epoch a value that "
     "validates epoch 3 (1 does), or as every value of the space key's range 2..4 (step 2) "
     "is refused, give the search's min_epochs=2 (under which value 2 is judged; narrow the "
     "range to it), or fix trainer={\"check_val_every_n_epoch\": 1} instead of searching "
     "it, or search without a scheduler"),
    # a rule object is rebuilt, not given settings
    ({"scheduler": MedianRule(min_epochs=3)}, {"int": [2, 4], "step": 2}, {"max_epochs": 4},
     "space key 'trainer.check_val_every_n_epoch' may take 2: scheduler 'MedianRule' judges "
     "a trial at the epochs it validates from min_epochs=3 on, but "
     "trainer.check_val_every_n_epoch=2 validates after epochs 2, 4, ... only: the first of "
     "them from epoch 3 on, 4, is a trial's last epoch (max_epochs=4), where a verdict stops "
     "nothing, so it would never stop a trial; give check_val_every_n_epoch a value that "
     "validates epoch 3 (1 does), or as every value of the space key's range 2..4 (step 2) "
     "is refused, build MedianRule with min_epochs=2 (under which value 2 is judged; narrow "
     "the range to it), or fix trainer={\"check_val_every_n_epoch\": 1} instead of "
     "searching it, or search without a scheduler"),
]


@pytest.mark.parametrize("scheduler, values, trainer, said", EVERY_VALUE,
                         ids=["asha", "median", "rule-object"])
def test_a_validation_range_every_value_of_which_is_refused_names_the_ways_out(
        tmp_path, scheduler, values, trainer, said):
    # old code: the first value's refusal, then "or search without a scheduler" alone (no
    # setting of the rule's, no fixed value in place of the range)
    with pytest.raises(ConfigError, match="^" + re.escape(said) + "$"):
        Search(TinyNet, {"width": {"choice": [4, 8]},
                         "trainer.check_val_every_n_epoch": values},
               data=BlobData, budget=2, trainer=trainer, run_dir=tmp_path / "run",
               verbose=False, **scheduler)


def test_a_validation_choice_every_option_of_which_is_refused_names_the_ways_out(tmp_path):
    # as a range's (rung 1 validated by neither 2 nor 3; min_epochs 3, rungs 3 and 9, takes
    # 3); was: the first option's refusal with no way out of the whole choice (a median
    # rule's: "leave 2 out of the space key's values", though 3 is refused too)
    said = ("space key 'trainer.check_val_every_n_epoch' may take 2: scheduler 'asha' judges "
            "each trial at its rungs, after epochs 1, 3, 9, but "
            "trainer.check_val_every_n_epoch=2 validates after epochs 2, 4, ... only: rungs "
            "1, 3, 9 are not validated; give check_val_every_n_epoch 1 (a divisor of every "
            "rung), or as every value of the space key's choice [2, 3] is refused, give the "
            "search's min_epochs=3 (under which value 3 is judged; narrow the choice to it), "
            "or fix trainer={\"check_val_every_n_epoch\": 1} instead of searching it, or "
            "search without a scheduler (scheduler='none')")
    with pytest.raises(ConfigError, match="^" + re.escape(said) + "$"):
        Search(TinyNet, {"width": {"choice": [4, 8]},
                         "trainer.check_val_every_n_epoch": {"choice": [2, 3]}},
               data=BlobData, budget=2, trainer={"max_epochs": 9}, run_dir=tmp_path / "run",
               verbose=False, scheduler="asha")


#: the refusal of ``trainer.NAME`` 2 under scheduler 'SCHEDULER' (``min_epochs`` or
#: ``min_steps`` above 1: Lightning trains on past a stop until then)
HELD = (
    "space key 'trainer.{name}' may take 2: scheduler '{scheduler}' stops (or pauses) a "
    "trial at the epoch it judges it, but trainer.{name}=2 makes Lightning ignore a stop "
    "until it is reached; leave it out (the scheduler's own search.min_epochs sets the "
    "epochs a trial trains before it is judged) or {instead}")


@pytest.mark.parametrize("name, values, scheduler, said", [
    ("min_epochs", [1, 3], "asha", HELD.format(
        name="min_epochs", scheduler="asha", instead="narrow the space key's range 1..3 to "
        "leave out values 2..3, under which Lightning ignores the scheduler's stops, or "
        "search without a scheduler")),
    ("min_steps", [0, 3], "asha", HELD.format(
        name="min_steps", scheduler="asha", instead="narrow the space key's range 0..3 to "
        "leave out values 2..3, under which Lightning ignores the scheduler's stops, or "
        "search without a scheduler")),
    ("max_steps", [-1, 3], "median",
     "space key 'trainer.max_steps' may take 0: scheduler 'median' stops trials at epochs up "
     "to max_epochs, but trainer.max_steps=0 would end a trial at another epoch and count it "
     "as complete; leave it out (search.time_limit bounds the search's time) or narrow the "
     "space key's range -1..3 to leave out values 0..3, which would end a trial before "
     "max_epochs, or search without a scheduler"),
    ("min_epochs", [2, 4], "median", HELD.format(
        name="min_epochs", scheduler="median", instead="as every value of the space key's "
        "range 2..4 is refused, fix trainer={\"min_epochs\": 1} instead of searching it, or "
        "search without a scheduler")),
], ids=["min-epochs", "min-steps", "max-steps", "min-epochs-every-value"])
def test_a_range_of_another_trainer_argument_names_its_own_conflict(tmp_path, name, values,
                                                                   scheduler, said):
    # old code: "..., which cannot be judged, ..." (min_epochs, min_steps: Lightning trains
    # on past a stop; max_steps: a trial ends early) and, every value refused, "search
    # without a scheduler" alone
    with pytest.raises(ConfigError, match="^" + re.escape(said) + "$"):
        Search(TinyNet, {"width": {"choice": [4, 8]}, f"trainer.{name}": {"int": values}},
               data=BlobData, budget=2, trainer={"max_epochs": 4}, run_dir=tmp_path / "run",
               verbose=False, scheduler=scheduler)


@pytest.mark.parametrize("values", [{"int": [1, 3]}, {"choice": [1, 3]}],
                         ids=["range", "choice"])
def test_a_trainer_setting_the_scheduler_refuses_is_named_not_a_searched_value(tmp_path,
                                                                              values):
    # old code: "space key 'trainer.check_val_every_n_epoch' may take 1: ... but
    # trainer.min_epochs=3 makes ..." (the unsearched min_epochs refuses every value: the
    # range's refusal said none of its values is taken)
    with pytest.raises(ConfigError, match="^" + re.escape(
            "scheduler 'asha' stops (or pauses) a trial at the epoch it judges it, but "
            "trainer.min_epochs=3 makes Lightning ignore a stop until it is reached; leave it "
            "out (the scheduler's own search.min_epochs sets the epochs a trial trains before "
            "it is judged) or search without a scheduler") + "$"):
        Search(TinyNet, {"width": {"choice": [4, 8]},
                         "trainer.check_val_every_n_epoch": values},
               data=BlobData, budget=2, trainer={"max_epochs": 9, "min_epochs": 3},
               scheduler="asha", run_dir=tmp_path / "run", verbose=False)

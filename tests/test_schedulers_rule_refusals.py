"""A scheduler or rule that cannot judge the search is refused before training, naming the
bad value and the valid ones: settings that are no whole numbers, bad arguments, rungs at
or past the trial's last epoch, settings the scheduler does not use, a rule object's
``mode`` or ``max_epochs`` other than the search's, validation other than once an epoch."""

from __future__ import annotations

import re

import pytest

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from lightning_nas.search.scheduler_settings import make_rule
from lightning_nas.search.schedulers import ASHARule, HyperbandRule, MedianRule
from lightning_nas.search.setting_checks import config_words
from lightning_nas.search.settings import SearchSettings
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


def test_a_rule_refuses_settings_that_are_no_whole_numbers():
    # was: ASHARule(min_epochs=1.5) made rungs [1.5, 4.5, 9], which no epoch count reaches:
    # the rule judged no trial there, silently (a search with it paused nothing); eta=2.5
    # likewise; None or a string raised Python's TypeError ('<' not supported ...)
    for cls, kwargs, says in (
            (ASHARule, {"min_epochs": 1.5, "max_epochs": 9},
             "ASHARule's min_epochs must be a whole number, got 1.5; build it with "
             "min_epochs=2"),
            (HyperbandRule, {"eta": 2.5, "max_epochs": 9},
             "HyperbandRule's eta must be a whole number, got 2.5"),
            (ASHARule, {"max_epochs": None}, "ASHARule's max_epochs must be a whole number, "
                                             "got None"),
            (MedianRule, {"min_trials": "2"}, "MedianRule's min_trials must be a whole "
                                              "number, got '2'"),
            (MedianRule, {"min_epochs": True}, "MedianRule's min_epochs must be a whole "
                                               "number, got True")):
        with pytest.raises(ConfigError) as err:
            cls(**kwargs)
        assert says in str(err.value), (cls, kwargs)
    import numpy as np

    rule = ASHARule(min_epochs=np.int64(1), max_epochs=np.int64(9))  # NumPy's: plain ints
    assert rule.rungs == [1, 3, 9] and repr(rule) == "ASHARule(min_epochs=1, max_epochs=9, " \
                                                     "eta=3, mode='max')"


@pytest.mark.parametrize(("cls", "kwargs", "message"), [
    (ASHARule, {"min_epochs": 4, "max_epochs": 3},
     "ASHARule's min_epochs=4 is above its max_epochs=3: its first rung would come after "
     "its last, so it would never stop a trial before its end; build it with min_epochs "
     "below max_epochs"),
    (HyperbandRule, {"min_epochs": 10, "max_epochs": 9},
     "HyperbandRule's min_epochs=10 is above its max_epochs=9"),
    (ASHARule, {"min_epochs": 0}, "ASHARule's min_epochs must be a positive integer (its "
                                  "first rung), got 0"),
    (HyperbandRule, {"max_epochs": 0}, "HyperbandRule's max_epochs must be a positive "
                                       "integer (its last rung: a complete trial's "
                                       "epochs), got 0"),
    (ASHARule, {"eta": 1}, "ASHARule's eta must be an integer >= 2 (the reduction factor: "
                           "the top 1/eta of a rung goes on), got 1"),
    (MedianRule, {"min_epochs": 0}, "MedianRule's min_epochs must be a positive integer "
                                    "(the epochs before it may stop a trial), got 0"),
    (MedianRule, {"min_trials": -1}, "MedianRule's min_trials must be a positive integer "
                                     "(the other trials that must have reached an epoch "
                                     "before it judges there), got -1"),
    (MedianRule, {"mode": "maximum"}, "MedianRule's mode must be 'max' or 'min' (which "
                                      "values are better), got 'maximum'")])
def test_a_rule_built_in_python_names_its_bad_argument_and_the_valid_values(cls, kwargs,
                                                                            message):
    # was: "need 1 <= min_epochs <= max_epochs and eta >= 2, got min_epochs=4, max_epochs=3,
    # eta=3" (naming neither the rule nor which argument), "need min_epochs >= 1 and
    # min_trials >= 1, got 1, -1", "`mode` can be max, min; got 'maximum'"; the settings
    # name the key and its range ("`min_epochs` must be a positive integer or null, got 0")
    with pytest.raises(ConfigError) as err:
        cls(**kwargs)
    assert str(err.value).startswith(message), str(err.value)


def test_make_rule_errors():
    with pytest.raises(ConfigError, match="unknown scheduler 'sha'; did you mean 'asha'\\? "
                                          "valid schedulers: none, asha"):
        make_rule("sha")
    with pytest.raises(ConfigError, match="needs max_epochs"):
        make_rule("asha", max_epochs=None)
    with pytest.raises(ConfigError, match="HyperbandRule's eta must be an integer >= 2"):
        make_rule("hyperband", max_epochs=9, eta=1)
    assert make_rule("none") is None
    # was: accepted, and a rule that first decides at the last epoch stops nothing
    for scheduler, name in (("median", "median"), (MedianRule(min_epochs=5), "MedianRule"),
                            ("asha", "asha"), ("hyperband", "hyperband")):
        with pytest.raises(ConfigError, match=rf"scheduler '{name}' with min_epochs=5 would "
                                              rf"never stop a trial before its end "
                                              rf"\(max_epochs=5\)"):
            make_rule(scheduler, min_epochs=5, max_epochs=5)
    assert isinstance(make_rule("median", min_epochs=2, max_epochs=3), MedianRule)
    rule = MedianRule(min_epochs=1, mode="min")
    made = make_rule(rule, mode="min")  # a copy: the search's values are not the object's
    assert repr(made) == repr(rule) and made is not rule


class _LastEpochOnly(ASHARule):
    """Judges every trial at its last epoch alone, where a verdict stops nothing."""

    def rungs_of(self, key):
        return [self.max_epochs]

    def all_rungs(self):
        return [self.max_epochs]


class _RungsPastTheEnd(ASHARule):
    """Judges every trial at epochs 8 and 10, which trials of 6 epochs never reach."""

    def rungs_of(self, key):
        return [8, 10]

    def all_rungs(self):
        return [8, 10]


@pytest.mark.parametrize(("rule", "rungs"), [
    (_LastEpochOnly(min_epochs=1, max_epochs=6, eta=2), "rung 6"),
    (_RungsPastTheEnd(min_epochs=2, max_epochs=6, eta=2), "rungs 8, 10")])
def test_a_rule_whose_rungs_all_come_at_or_after_the_trials_last_epoch_is_refused(
        tmp_path, rule, rungs):
    # old code: Failed: DID NOT RAISE <class 'lightning_nas.errors.ConfigError'> (its
    # min_epochs, below max_epochs, was checked, not the rungs its rungs_of judges at: every
    # trial would have trained its 6 epochs, none judged before its end)
    name, where = type(rule).__name__, f"{type(rule).__name__}.all_rungs"
    with pytest.raises(ConfigError, match="^" + re.escape(
            f"scheduler {name!r} judges trials at {rungs} ({where}), none before a "
            f"trial's last epoch (max_epochs=6): a verdict there or later stops nothing, so "
            f"it would never stop a trial; give {name} a rung below 6 (in its rungs_of and "
            f"all_rungs), or search without a scheduler") + "$"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,
               trainer={"max_epochs": 6}, scheduler=rule, run_dir=tmp_path / "run",
               verbose=False)
    assert not (tmp_path / "run").exists()  # refused before anything trained or was written


def test_asha_or_hyperband_with_min_epochs_above_max_epochs_says_which_scheduler():
    # was: "need 1 <= min_epochs <= max_epochs and eta >= 2, got min_epochs=4, ...", the
    # rule's own check, naming no scheduler, where min_epochs=4 beside max_epochs=3 said
    # which (as at min_epochs == max_epochs, and for median)
    for scheduler in ("asha", "hyperband"):
        with pytest.raises(ConfigError, match=rf"scheduler '{scheduler}' with min_epochs=4 "
                                              rf"would never stop a trial before its end "
                                              rf"\(max_epochs=3\)"):
            make_rule(scheduler, min_epochs=4, max_epochs=3)


def test_every_scheduler_setting_the_scheduler_does_not_use_is_named_at_once(tmp_path):
    # was: one key per error (`--search.scheduler=none` over a file with min_epochs,
    # max_epochs and eta: three start-ups, and max_epochs's error gave no --search.*=null)
    with pytest.raises(ConfigError) as refused:
        Search(None, {"x": {"float": [0, 1]}}, objective=lambda arch: {"val_acc": arch["x"]},
               scheduler="none", min_epochs=1, max_epochs=4, eta=2, run_dir=tmp_path / "run")
    said = str(refused.value)
    assert said.startswith("`min_epochs` (1) is the epochs a scheduler trains a trial before "
                           "it first judges it, `max_epochs` (4) is a scheduler's complete "
                           "trial and `eta` (2) is the reduction factor of scheduler asha or "
                           "hyperband, and no scheduler is set: nothing uses them"), said
    assert ("(min_epochs=None, max_epochs=None, eta=None)" in said  # Python's words
            and 'set trainer={"max_epochs": 4} instead' in said), said
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match=r"\(max_epochs=None\), or set a scheduler$"):
        SearchSettings.from_options(max_epochs=4)
    with config_words(), pytest.raises(ConfigError,  # a config's: its command line's words
                                       match=r"--search\.max_epochs=null\), or set a "
                                             r"scheduler$"):
        SearchSettings.from_options(max_epochs=4)
    with pytest.raises(ConfigError, match=r"`min_epochs` \(2\) .* and `eta` \(3\) .* "
                                          r"MedianRule is a rule object, which keeps its own: "
                                          r"build it with min_epochs=2 \(it has no eta\), and "
                                          r"leave `min_epochs` and `eta` out"):
        SearchSettings.from_options(scheduler=MedianRule(), min_epochs=2, eta=3)


def test_a_scheduler_name_in_another_case_is_read_as_its_name(tmp_path):
    # was: "unknown scheduler 'ASHA'; valid keys: none, asha, ..." (values called keys, and
    # no suggestion); a name in any case is read as optimizer names are, and stored so
    result = Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, scheduler="ASHA",
                    budget=1, trainer={"max_epochs": 2}, run_dir=tmp_path / "run",
                    verbose=False).run()
    assert len(result.trials) == 1
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert store.get_meta("settings")["scheduler"] == "asha"
    with pytest.raises(ConfigError, match="unknown scheduler 'Hyperbnd'; did you mean "
                                          "'hyperband'\\? valid schedulers: none, asha"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, scheduler="Hyperbnd",
               trainer={"max_epochs": 2}, run_dir=tmp_path / "other").run()


def test_a_rule_object_whose_mode_is_not_the_searchs_is_refused_before_training(tmp_path):
    # was: MedianRule's default mode="max" in a mode="min" search stopped the best trials
    with pytest.raises(ConfigError, match="scheduler MedianRule has mode='max' but the "
                                          "search's mode is 'min'; build it with mode='min'"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, monitor="val_loss",
               mode="min", scheduler=MedianRule(min_epochs=1), budget=2,
               trainer={"max_epochs": 2}, run_dir=tmp_path / "run").run()
    assert not (tmp_path / "run").exists()


def test_a_rule_object_whose_max_epochs_is_not_the_trials_is_refused_before_training(tmp_path):
    # was: accepted; trials trained trainer.max_epochs=9 and the rule's last rung (3) was
    # never judged: every trial past rung 1 counted as a rung-1 winner and ran 9 epochs
    space, kw = {"width": {"choice": [4, 8]}}, {"data": BlobData, "budget": 2, "verbose": False}
    with pytest.raises(ConfigError, match=r"scheduler ASHARule has max_epochs=3 \(its last "
                                          r"rung\) but the search's trials train max_epochs=9 "
                                          r"\(the search's max_epochs=, else "
                                          r"trainer=\{\"max_epochs\": \.\.\.\}\); build it "
                                          r"with max_epochs=9, or make the trials train 3: "
                                          r"the search's max_epochs=3 \(or, where it is not "
                                          r"set, trainer=\{\"max_epochs\": 3\}\)"):
        Search(TinyNet, space, scheduler=ASHARule(min_epochs=1, max_epochs=3, eta=3),
               trainer={"max_epochs": 9}, run_dir=tmp_path / "run", **kw)
    # search.max_epochs given: the advice is what overrides it (was: "set trainer.max_epochs:
    # 3", which a search.max_epochs=9 overrides, refused again the same way)
    with pytest.raises(ConfigError, match=r"train max_epochs=9 .*the search's max_epochs=3 "):
        Search(TinyNet, space, scheduler=ASHARule(min_epochs=1, max_epochs=3, eta=3),
               max_epochs=9, trainer={"max_epochs": 3}, run_dir=tmp_path / "run", **kw)
    with pytest.raises(ConfigError, match=r"HyperbandRule has max_epochs=4 .* but neither "
                                          r"the search's max_epochs= nor "
                                          r"trainer=\{\"max_epochs\": \.\.\.\} is set"):
        Search(TinyNet, space, scheduler=HyperbandRule(min_epochs=1, max_epochs=4, eta=2),
               run_dir=tmp_path / "run", **kw)
    assert not (tmp_path / "run").exists()
    Search(TinyNet, space, scheduler=ASHARule(min_epochs=1, max_epochs=3, eta=3), max_epochs=3,
           trainer={"max_epochs": 9}, run_dir=tmp_path / "run", **kw)  # trials train 3


@pytest.mark.parametrize(("setting", "scheduler"), [
    ({"val_check_interval": 0.5}, "median"), ({"val_check_interval": 2}, MedianRule())])
def test_a_scheduler_refuses_validation_other_than_once_per_epoch(tmp_path, setting, scheduler):
    """Its rule judges a trial once per epoch it validates (``check_val_every_n_epoch``
    above 1 where it validates each rung: ``test_scheduler_epochs``)."""
    (key, value), = setting.items()
    with pytest.raises(ConfigError, match=rf"trainer\.{key}={value!r} does not validate once "
                                          rf"per epoch.*\(scheduler='none'\)$"):
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=2,
               trainer={"max_epochs": 4, key: value}, scheduler=scheduler,
               run_dir=tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()  # refused before anything trained or was written
    plain = Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, budget=1,
                   trainer={"max_epochs": 2, key: value}, scheduler="none",
                   run_dir=tmp_path / "plain", verbose=False).run()
    assert [t.status for t in plain.trials] == [TrialStatus.COMPLETED], plain.trials[0].error

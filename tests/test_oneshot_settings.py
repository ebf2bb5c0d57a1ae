"""The ``oneshot`` settings of the command and the classes: their defaults, null as the
default, bad values named with the valid ones before training (GDAS's temperature keys,
modes, seeds, counts, an export folder, ``sync_batchnorm`` under DDP on CPU)."""

from __future__ import annotations

import inspect
import json
import re

import pytest
import torchmetrics
import yaml
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.regression import MeanSquaredError

from lightning_nas.cli import main
from lightning_nas.config.load import load_config
from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.oneshot.finetune import finetune_subnet
from lightning_nas.oneshot.run_checks import check_oneshot
from lightning_nas.oneshot.setting_checks import (
    ALGORITHM_KEYS,
    ONESHOT_KEYS,
    check_algorithm,
    check_oneshot_settings,
    check_seed,
)
from lightning_nas.oneshot.trainer_checks import check_oneshot_strategy
from tests.helpers_data import BlobData
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot_fit import (
    TINY_CLI,
    cpu_trainer,
)
from tests.launcher import ROOT

EXAMPLE_ONESHOT = "examples/oneshot_digits/oneshot.yaml"


def test_the_configs_oneshot_defaults_are_the_classes_defaults():
    # was: a copy of OneShotNAS's, DifferentiableNAS's and finetune_subnet's defaults, which
    # a change of one of them would have left behind
    owners = {"finetune_lr": (finetune_subnet, "lr")}
    for key in ("optimizer", "num_candidates", "search_every_n_epochs", "calibration_batches"):
        owners[key] = (OneShotNAS, key)
    for key in ("arch_lr", "arch_weight_decay", "warmup_epochs", "top_k", "tau_max", "tau_min",
                "tau_schedule", "tau_epochs", "calibration_batches"):
        owners.setdefault(key, (DifferentiableNAS, key))
    for key, (owner, name) in owners.items():
        assert ONESHOT_KEYS[key] == inspect.signature(owner).parameters[name].default, key
    # calibration_batches is both classes': they agree
    assert (inspect.signature(DifferentiableNAS).parameters["calibration_batches"].default
            == ONESHOT_KEYS["calibration_batches"])


def test_gdas_tau_epochs_is_a_oneshot_key_checked_before_training(monkeypatch, capsys):
    # was: no such key, so a resumed GDAS run's advice (DifferentiableNAS(tau_epochs=N))
    # could not be followed from the command line
    monkeypatch.chdir(ROOT)
    config = ["oneshot", "examples/oneshot_digits/darts.yaml", "--print_config"]
    gdas = [*config, "--oneshot.algorithm=gdas"]
    assert main([*gdas, "--oneshot.tau_epochs=3"]) == 0
    assert "tau_epochs: 3" in capsys.readouterr().out
    assert main([*gdas, "--oneshot.tau_epochs=null"]) == 0  # not given: max_epochs
    capsys.readouterr()
    for value, said in (("0", "oneshot.tau_epochs must be an integer >= 1 or null, got 0"),
                        ("2.5", "oneshot.tau_epochs must be an integer >= 1 or null, got 2.5"),
                        ("true", "oneshot.tau_epochs must be an integer >= 1 or null, got True")):
        assert main([*gdas, f"--oneshot.tau_epochs={value}"]) == 2
        assert said in capsys.readouterr().err, value
    assert main([*config, "--oneshot.tau_epochs=3"]) == 2  # DARTS has no temperature
    assert ("oneshot setting 'tau_epochs' applies to algorithm gdas only, not darts; leave it "
            "out or set it to null") in capsys.readouterr().err
    assert main([*config, "--oneshot.tau_epochs=null"]) == 0


def test_gdas_tau_schedule_is_a_oneshot_key_checked_before_training(tmp_path, monkeypatch,
                                                                     capsys):
    # was: no such key (DifferentiableNAS(tau_schedule=...) took it, the command did not):
    # "unknown oneshot setting 'tau_schedule'", so a linear schedule was Python only
    monkeypatch.chdir(ROOT)
    config = ["oneshot", "examples/oneshot_digits/darts.yaml", "--print_config"]
    gdas = [*config, "--oneshot.algorithm=gdas"]
    assert main([*gdas, "--oneshot.tau_schedule=linear"]) == 0
    assert "tau_schedule: linear" in capsys.readouterr().out
    for value in ("cosine", "5"):
        assert main([*gdas, f"--oneshot.tau_schedule={value}"]) == 2
        err = capsys.readouterr().err
        assert "oneshot.tau_schedule" in err and "valid values: exponential, linear" in err, err
    assert main([*config, "--oneshot.tau_schedule=linear"]) == 2  # DARTS has no temperature
    assert ("oneshot setting 'tau_schedule' applies to algorithm gdas only, not darts"
            in capsys.readouterr().err)
    # a run anneals on it: 10 to 0.1 over 3 epochs, linearly (exponential: 10, 1, 0.1)
    run_dir = tmp_path / "linear"
    assert main(["oneshot", "examples/oneshot_digits/darts.yaml", "--oneshot.algorithm=gdas",
                 "--oneshot.tau_schedule=linear", f"--oneshot.run_dir={run_dir}",
                 "--trainer.max_epochs=3", "--trainer.limit_train_batches=1",
                 "--trainer.limit_val_batches=1", "--oneshot.calibration_batches=1",
                 "--oneshot.finetune_epochs=0"]) == 0
    history = json.loads((run_dir / "alphas.json").read_text())["history"]
    assert [round(epoch["tau"], 4) for epoch in history] == [10.0, 5.05, 0.1]


def test_a_null_finetune_epochs_is_the_default_no_fine_tune(monkeypatch, capsys):
    # was: refused ("oneshot.finetune_epochs must be an integer >= 0, got None"), where
    # null means not given for the other keys that have a default
    monkeypatch.chdir(ROOT)
    assert ONESHOT_KEYS["finetune_epochs"] == 0
    assert check_oneshot_settings({"finetune_epochs": None}) == {"finetune_epochs": 0}
    assert main(["oneshot", "examples/oneshot_digits/oneshot.yaml", "--print_config",
                 "--oneshot.finetune_epochs=null"]) == 0
    assert "finetune_epochs must be" not in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"oneshot.finetune_epochs must be an integer >= 0 "
                                          r"or null, got -1"):
        check_oneshot_settings({"finetune_epochs": -1})


@pytest.mark.parametrize("key", sorted(ONESHOT_KEYS))
def test_a_null_oneshot_setting_is_its_default_as_if_left_out(key, monkeypatch):
    # was: null was the default for finetune_epochs and the keys whose default is null
    # alone; top_k, finetune_lr, mode, ... were refused ("must be ..., got None") and
    # algorithm: null was "unknown oneshot algorithm None"
    monkeypatch.chdir(ROOT)
    algorithm = ALGORITHM_KEYS.get(key, ("spos",))[0]
    spos_keys = [k for k, algorithms in ALGORITHM_KEYS.items() if algorithms == ("spos",)]
    switch = [] if algorithm == "spos" else [f"--oneshot.algorithm={algorithm}",
                                             *(f"--oneshot.{k}=null" for k in spos_keys)]
    cfg = load_config(EXAMPLE_ONESHOT, [*switch, "--oneshot.finetune_epochs=0"])
    left_out = {**cfg, "oneshot": {k: v for k, v in cfg["oneshot"].items() if k != key}}
    null = {**cfg, "oneshot": {**cfg["oneshot"], key: None}}
    expected = check_oneshot(left_out)
    assert check_oneshot(null)[:2] == expected[:2]
    assert expected[1][key] == ONESHOT_KEYS[key] or key == "seed"  # seed: seed_everything's
    if key == "num_classes":  # a fine-tune needs it: null, its default, is refused there
        with pytest.raises(ConfigError, match=r"oneshot.finetune_epochs=1 needs "
                                              r"oneshot.num_classes"):
            check_oneshot({**null, "oneshot": {**null["oneshot"], "finetune_epochs": 1}})


@pytest.mark.parametrize("key", sorted(ONESHOT_KEYS))
def test_a_bad_oneshot_setting_says_null_is_valid_too(key):
    # null is each key's default: the error for a bad value lists it with the valid ones
    # (was: "or null" for the keys whose default is null alone: "oneshot.top_k must be an
    # integer >= 1, got 'x'", "valid values: exponential, linear", "`oneshot.mode` can be
    # max, min", an unknown optimizer naming no key)
    bad = 5 if key in ("net_attr", "run_dir") else "bogus"
    with pytest.raises(ConfigError) as caught:
        if key == "algorithm":
            check_algorithm({key: bad})
        else:
            check_oneshot_settings({key: bad})
    said = str(caught.value)
    assert f"oneshot{'.' if key != 'algorithm' else ' '}{key}" in said, said
    assert " or null" in said, said
    if key == "seed":  # its range, checked with the config's seed_everything
        with pytest.raises(ConfigError, match=r"oneshot.seed must be an integer from 0 to "
                                              r"2147483647 \(2\*\*31 - 1\) or null, got -1"):
            check_seed(-1, "oneshot.seed")


def test_bad_oneshot_settings_are_errors_naming_the_key_before_training(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    earlier = {"best_arch.yaml": "arch: {}\nscore: 0.5\n", "history.json": "[]",
               "subnet.pt": "an earlier run's", "finetune.json": "{}"}
    for name, text in earlier.items():
        (tmp_path / name).write_text(text)
    for setting, said in (
            ("finetune_epochs=ten",
             "oneshot.finetune_epochs must be an integer >= 0 or null, got 'ten'"),
            ("finetune_lr=abc", "oneshot.finetune_lr must be a number > 0 or null, got 'abc'"),
            ("seed=abc", "oneshot.seed must be an integer or null, got 'abc'"),
            ("calibration_batches=-1", "oneshot.calibration_batches must be an integer >= 0"),
            # was: a SpaceError "no choice module" after training and the search
            ("net_attr=val_acc", "oneshot.net_attr 'val_acc': MulticlassAccuracy holds no choice "
                                 "module, so its export would leave the search out; the "
                                 "choice modules are in: net"),
            # was: accepted, and the run picked the subnet of the lowest accuracy
            ("mode=min", "oneshot.mode can be max or null; got 'min': min would pick the "
                         "subnet of the lowest accuracy"),
            # was: said after the search, by the fine-tune
            ("finetune_epochs=1 --oneshot.num_classes=null",
             "oneshot.finetune_epochs=1 needs oneshot.num_classes"),
            ("optimizer=RandomSearc", "RandomSearch"),  # was: after the earlier run was removed
            # (was: "num_classes=3 ...; set num_classes=10", not the key as written)
            ("num_classes=3", "oneshot.num_classes=3 does not fit the data: the network "
                              "predicts 10 classes and the targets reach class 9; set "
                              "oneshot.num_classes=10")):
        args = [f"--oneshot.{part}" for part in setting.split(" --oneshot.")]
        assert main([*TINY_CLI, *args, f"--oneshot.run_dir={tmp_path}"]) == 2
        assert said in capsys.readouterr().err, setting
        # a run refused for bad input removes nothing (was: the earlier run's outputs)
        assert {n: (tmp_path / n).read_text() for n in earlier} == earlier, setting
    with pytest.raises(ConfigError, match=r"oneshot.tau_min \(20.0\) must be at most tau_max"):
        check_oneshot_settings({"tau_min": 20.0, "tau_max": 10.0})
    with pytest.raises(ConfigError, match="'ddp_spawn' runs the ranks in child processes, "
                                          "whose search result this command never sees"):
        check_oneshot_strategy({"strategy": "ddp_spawn"}, "darts")
    with pytest.raises(ConfigError, match="calibration_batches must be an integer >= 0, got -1"):
        OneShotNAS(calibration_batches=-1)
    for who in (lambda: OneShotNAS(mode="min"),
                lambda: DifferentiableNAS(TinySupernet(), mode="min")):
        with pytest.raises(ConfigError, match=r"\(mode='min'\) without a metric would pick"):
            who()
    # a metric's own direction: was mode='max' for any metric, so an error rate picked the
    # subnet of the highest error without a word
    assert OneShotNAS(metric=MeanSquaredError).mode == "min"
    assert DifferentiableNAS(TinySupernet(), metric=MeanSquaredError).hparams.mode == "min"
    for who in (OneShotNAS, lambda **kw: DifferentiableNAS(TinySupernet(), **kw)):
        with pytest.raises(ConfigError, match=r"\(metric=MeanSquaredError, mode='max'\) would "
                                              r"pick the worst subnet: the metric's "
                                              r"higher_is_better is False; give mode='min'"):
            who(metric=MeanSquaredError, mode="max")
        with pytest.raises(ConfigError, match=r"\(metric=MeanMetric\) needs mode='max' or 'min'"):
            who(metric=torchmetrics.MeanMetric)
    nas = DifferentiableNAS(TinySupernet(), num_classes=2)  # the sanity check says it
    with pytest.raises(ConfigError, match="num_classes=2 does not fit the data"):
        cpu_trainer(tmp_path, [], max_epochs=1).fit(nas, datamodule=BilevelData(BlobData()))


def _listed_modes(said: str) -> list[str | None]:
    """The values an error for a bad mode lists as valid (``... can be A, B or C; got``)."""
    listing = re.search(r"can be (.*?);", said)
    assert listing, said
    words = re.split(r", | or ", listing.group(1).replace("'", ""))
    return [None if word in ("null", "None") else word for word in words]


def test_a_bad_oneshot_mode_lists_only_the_values_the_command_takes(monkeypatch, capsys):
    # was: "oneshot.mode can be max, min or null", and --oneshot.mode=min was then refused
    # with its own explanation (the command scores by accuracy: min would pick the worst)
    monkeypatch.chdir(ROOT)
    assert main([*TINY_CLI, "--oneshot.mode=maximum", "--print_config"]) == 2
    said = capsys.readouterr().err
    assert "oneshot.mode" in said and "'maximum'" in said, said
    listed = _listed_modes(said)
    assert listed and "min" not in listed, said
    for mode in listed:  # every value the message lists is one the command takes
        check_oneshot(load_config(EXAMPLE_ONESHOT, [f"--oneshot.mode={mode or 'null'}"]))


@pytest.mark.parametrize("metric", [None, MeanSquaredError, MulticlassAccuracy,
                                    torchmetrics.MeanMetric])
def test_a_bad_mode_of_the_classes_lists_only_the_modes_their_metric_takes(metric):
    # was: "`mode` can be max, min" beside any metric: min is refused without a metric (and
    # beside accuracy), max beside a metric where lower is better
    kwargs = {} if metric is None else {"metric": metric}
    if metric is MulticlassAccuracy:
        kwargs["metric"] = lambda: MulticlassAccuracy(num_classes=3)
    for make in (OneShotNAS, lambda **kw: DifferentiableNAS(TinySupernet(), **kw)):
        with pytest.raises(ConfigError) as caught:
            make(mode="maximum", **kwargs)
        said = str(caught.value)
        assert "mode='maximum'" in said, said
        listed = _listed_modes(said)
        assert listed, said
        for mode in listed:  # each one it lists is taken
            make(mode=mode, **kwargs)


def test_a_seed_out_of_range_is_refused_before_training(tmp_path, monkeypatch, capsys):
    # was: -1 a raw ValueError of seed_everything; 2**32 - 1 trained, then the final search
    # failed on seed + epoch with a raw ValueError
    monkeypatch.chdir(ROOT)
    (tmp_path / "best_arch.yaml").write_text("an earlier run's result")
    for arg, key, seed in (("--oneshot.seed=-1", "oneshot.seed", -1),
                           ("--oneshot.seed=4294967295", "oneshot.seed", 2**32 - 1),
                           ("--seed_everything=4294967295", "seed_everything", 2**32 - 1)):
        args = [*TINY_CLI, "--oneshot.seed=null"] if key == "seed_everything" else TINY_CLI
        assert main([*args, arg, f"--oneshot.run_dir={tmp_path}"]) == 2, arg
        null = " or null" if key == "oneshot.seed" else ""
        assert (f"{key} must be an integer from 0 to 2147483647 (2**31 - 1){null}, got {seed}: "
                f"it seeds torch, numpy and random") in capsys.readouterr().err, arg
        assert (tmp_path / "best_arch.yaml").read_text() == "an earlier run's result"
        assert not (tmp_path / "checkpoints").exists()
    assert check_oneshot_settings({"seed": 2**31 - 1})["seed"] == 2**31 - 1


def test_a_seed_everything_out_of_range_is_refused_beside_a_oneshot_seed(
        tmp_path, monkeypatch, capsys):
    # was: with oneshot.seed set, seed_everything=-5 was silently ignored (the run trained
    # and wrote its outputs); without it, it is refused
    monkeypatch.chdir(ROOT)
    for seed in (-5, 2**32):
        assert main([*TINY_CLI, "--oneshot.seed=3", f"--seed_everything={seed}",
                     f"--oneshot.run_dir={tmp_path / 'run'}"]) == 2, seed
        assert (f"seed_everything must be an integer from 0 to 4294967295 (2**32 - 1), got "
                f"{seed}: it seeds torch") in capsys.readouterr().err, seed
        assert not (tmp_path / "run").exists()


def test_sync_batchnorm_under_ddp_on_cpu_is_refused_before_anything_is_written(
        tmp_path, monkeypatch, capsys):
    # was: the ranks started, then DDP's setup failed with torch's traceback, "ValueError:
    # SyncBatchNorm layers only work with GPU modules", exit 1
    monkeypatch.chdir(ROOT)
    assert main([*TINY_CLI, "--trainer.accelerator=cpu", "--trainer.devices=2",
                 "--trainer.strategy=ddp_find_unused_parameters_true",
                 "--trainer.sync_batchnorm=true", f"--oneshot.run_dir={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert "trainer.sync_batchnorm=True needs CUDA devices" in err
    assert "leave sync_batchnorm off on CPU" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"num_candidates": 2.5}, "num_candidates must be an integer >= 1, got 2.5"),
    ({"num_candidates": "5"}, "num_candidates must be an integer >= 1, got '5'"),
    ({"num_candidates": True}, "num_candidates must be an integer >= 1, got True"),
    ({"calibration_batches": 1.5}, "calibration_batches must be an integer >= 0, got 1.5"),
    ({"search_every_n_epochs": 0}, "search_every_n_epochs must be an integer >= 1 or None "
                                   "(null in YAML), got 0"),
    ({"search_every_n_epochs": 1.5}, "search_every_n_epochs must be an integer >= 1 or "
                                     "None (null in YAML), got 1.5"),
    # was: refused when the fit started, as "num_classes=3 does not fit the data ...; set
    # num_classes=3" for "3"; forward=3 a bare TypeError there
    ({"num_classes": "3"}, "num_classes must be an integer >= 2 or None (null in YAML), got '3'"),
    ({"num_classes": 1.5}, "num_classes must be an integer >= 2 or None (null in YAML), got 1.5"),
    ({"forward": 3}, "forward must be a callable (module, batch) -> (predictions, targets), "
                     "got 3")])
def test_oneshotnas_counts_that_are_no_integers_are_refused_when_built(kwargs, message):
    # was: num_candidates=2.5 trained, then the final search crashed after training; a
    # string was a raw TypeError
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        OneShotNAS(**kwargs)


@pytest.mark.parametrize("make", [
    lambda out: OneShotNAS(export_dir=out),
    lambda out: DifferentiableNAS(TinySupernet(), export_dir=out)], ids=["spos", "darts"])
def test_an_export_dir_that_cannot_be_written_is_refused_when_made(tmp_path, make):
    # was: export_dir=3 (or a file's path) was taken, the fit trained, and writing the
    # export at its end raised a bare TypeError (FileExistsError), naming no argument
    name = type(make(None)).__name__
    with pytest.raises(ConfigError, match=rf"^{name}\(export_dir=\.\.\.\) must be a folder "
                                          rf"path \(None: write nothing\), got 3$"):
        make(3)
    with pytest.raises(ConfigError, match=r"must be a folder path .* got ''"):
        make("")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"export_dir=\.\.\.\) '.*file/out' cannot be a "
                                          r"folder: .*file is a file"):
        make(str(tmp_path / "file" / "out"))
    make(tmp_path / "new")  # a folder path (a Path too) is taken
    assert not (tmp_path / "new").exists()  # written when training ends, not when made


def test_the_seed_limit_of_spos_holds_for_oneshotnas_and_for_spos_only(
        tmp_path, monkeypatch, capsys):
    # was: OneShotNAS(seed=2**32 - 1) trained, then its final search failed on seed + epoch
    # with a raw ValueError; and DARTS/GDAS, which add no epoch to it, refused 2**31..2**32-1
    for seed in (-1, 2**32 - 1, 2**31, True):
        with pytest.raises(ConfigError, match=rf"seed must be an integer from 0 to 2147483647 "
                                              rf"\(2\*\*31 - 1\), got {seed}: seed \+ epoch seeds "
                                              rf"each search's optimizer"):
            OneShotNAS(num_candidates=2, seed=seed)
    assert OneShotNAS(seed=2**31 - 1).seed == 2**31 - 1
    monkeypatch.chdir(ROOT)
    config = "examples/oneshot_digits/darts.yaml"
    tiny = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=2", "--oneshot.calibration_batches=1",
            "--oneshot.finetune_epochs=0", f"--oneshot.run_dir={tmp_path}"]
    for args in (["--oneshot.seed=null", "--seed_everything=4294967295"],
                 ["--oneshot.algorithm=gdas", "--oneshot.seed=4294967295"]):
        assert main(["oneshot", config, *tiny, *args]) == 0, args
        assert yaml.safe_load((tmp_path / "best_arch.yaml").read_text())["arch"]
    for args in (["--oneshot.seed=4294967296"], ["--oneshot.seed=-1"]):
        assert main(["oneshot", config, *tiny, *args]) == 2, args
        assert ("oneshot.seed must be an integer from 0 to 4294967295 (2**32 - 1) or null, got "
                in capsys.readouterr().err)


def test_a_metric_given_as_an_instance_is_said_as_such():
    # was: "metric() raised TypeError: MulticlassStatScores.update() missing 2 required
    # positional arguments", which does not say that a factory is what metric= takes
    for who in (OneShotNAS, lambda **kw: DifferentiableNAS(TinySupernet(), **kw)):
        with pytest.raises(ConfigError, match=r"\(metric=MulticlassAccuracy\(\)\) takes a "
                                              r"factory that builds the metric, not a metric: "
                                              r"give metric=lambda: MulticlassAccuracy\(\.\.\.\)"
                                              r" or the class"):
            who(metric=MulticlassAccuracy(num_classes=3, average="micro"))

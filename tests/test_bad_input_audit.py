"""Bad search configs made from the bundled examples (digits, sequence, LightningCLI, Hydra,
DDP, worker processes, Ray), one change each, run through ``lightning-nas search`` (the run,
not ``--print_config``): each ends with exit status 2 and one stderr line that names the bad
key or value and, where there is a set, the valid ones; no trial line is printed, no trial
folder made; in a fresh ``run_dir`` nothing is written, in the folder of a finished run its
``search.db`` stays byte-identical. ``tests/test_bad_input_audit_python.py`` holds the same
kinds of change made through ``Search(...)``, ``test_bad_input_audit_oneshot.py`` the
one-shot command's, ``test_bad_input_audit_optim.py`` optimizer values torch refuses,
``test_bad_input_audit_warm.py`` bad ``warm_start`` settings.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from lightning_nas.cli import main
from tests.helpers_bad_input import (
    EXAMPLES,
    SEARCH_KEYS,
    TRAINER_KEYS,
    drop,
    finished_digits_run,
    put,
    rename,
    space_key,
)

torch.set_num_threads(1)

PREFIX = "lightning-nas search: error: "
#: the files of each base config, the first one changed by a case
BASES = {"digits": ["digits/search.yaml"], "sequence": ["sequence/search.yaml"],
         "hydra": ["hydra/search.yaml"],
         "lightningcli": ["lightningcli/train.yaml", "lightningcli/search.yaml"],
         "ddp": ["digits/search.yaml", "distributed/ddp.yaml"],
         "parallel": ["digits/search.yaml", "distributed/parallel.yaml"],
         "ray": ["digits/search.yaml", "distributed/ray.yaml"]}
#: the bases a finished digits run's folder may hold (the others search other models)
DIGITS_FAMILY = ("digits", "ddp", "parallel", "ray")
_CHOICES = "valid kinds: choice, ordered, int, float, fixed"


@dataclass(frozen=True)
class Case:
    """One change of a base config: ``change`` made to its first file (or ``text`` in its
    place), ``args`` overrides after the files; ``said``: what the error line holds."""

    id: str
    base: str
    said: tuple[str, ...]
    change: Callable[[dict[str, Any]], Any] | None = None
    args: tuple[str, ...] = ()
    text: str | None = None


def _cases() -> list[Case]:
    c: list[Case] = []

    def add(id_: str, base: str, said: str | tuple[str, ...], change: Any = None,
            *args: str, text: str | None = None) -> None:
        c.append(Case(id_, base, (said,) if isinstance(said, str) else said, change,
                      args, text))

    # ---------------------------------------------------------------- misspelt keys
    add("search-key", "digits", ("unknown search setting 'budgt'; did you mean 'budget'?",
                                 SEARCH_KEYS), rename("search.budget", "budgt"))
    add("search-key-workers", "parallel", ("'num_workrs'; did you mean 'num_workers'?",
                                           SEARCH_KEYS), None, "--search.num_workrs=2")
    add("search-key-warm", "digits", "'warm_strat'; did you mean 'warm_start'?",
        put("search.warm_strat", ["runs/old"]))
    add("search-key-export", "digits", ("unknown search setting 'export'", SEARCH_KEYS),
        put("search.export", True))
    add("section-export", "digits", ("unknown config section 'export'; valid keys: model, "
                                     "data, trainer, search, seed_everything"),
        put("export", {"path": "x"}))
    add("section-trainr", "digits", "'trainr'", rename("trainer", "trainr"))
    add("space-kind", "digits", ("unknown space kind 'innt' at 'width'; did you mean 'int'?",
                                 _CHOICES), put("search.space.width", {"innt": [16, 128]}))
    add("space-option", "digits", "space key 'width': unknown option 'logg' for kind `int`; "
        "valid options: log, step", put("search.space.width", {"int": [16, 128], "logg": True}))
    add("space-option-float-step", "digits", "space key 'lr': unknown option 'step' for kind "
        "`float`; valid options: log", put("search.space.lr", {"float": [1e-3, 0.03],
                                                              "step": 0.01}))
    add("trainer-key", "digits", ("unknown Trainer argument 'max_epoch'; did you mean "
                                  "'max_epochs'?", TRAINER_KEYS),
        rename("trainer.max_epochs", "max_epoch"))
    add("model-init-arg", "digits", "model init_args key 'widht' is not an argument of "
        "DigitsCNN.__init__; did you mean 'width'? accepted: num_layers, kernel_size, stride, "
        "pool_size, activation, width, lr", put("model.init_args", {"widht": 3}))
    add("model-class_path-key", "digits", "class_pth", rename("model.class_path", "class_pth"))
    add("data-init-arg", "digits", "data.batch_sise: not an argument of DigitsDataModule."
        "__init__; did you mean 'batch_size'? accepted: batch_size, val_fraction, seed, "
        "num_workers, test_fraction", rename("data.init_args.batch_size", "batch_sise"))
    add("scheduler-key", "sequence", "'min_epoch'; did you mean 'min_epochs'?",
        rename("search.min_epochs", "min_epoch"))
    add("lightningcli-space-net", "lightningcli", "space key 'model.net.lin1_sise': "
        "'lin1_sise' is not an argument of MLP (model.net); did you mean 'lin1_size'? "
        "accepted: lin1_size, lin2_size, dropout", None,
        "--search.space.model.net.lin1_sise={choice: [32]}")
    add("lightningcli-space-optimizer", "lightningcli", "space key 'model.optimizer.lrr': "
        "'lrr' is not an argument of Adam (model.optimizer); did you mean 'lr'?", None,
        "--search.space={model.optimizer.lrr: {float: [0.001, 0.1]}}")
    add("lightningcli-net-arg", "lightningcli", "model.net.dropuot: not an argument of "
        "MLP.__init__; did you mean 'dropout'? accepted: lin1_size, lin2_size, dropout",
        put("model.init_args.net.init_args.dropuot", 0.1))
    add("lightningcli-optimizer-arg", "lightningcli", "model.optimizer.lrr: not an argument "
        "of Adam.__init__; did you mean 'lr'?",
        put("model.init_args.optimizer.init_args", {"lrr": 0.1}))
    add("lightningcli-top-optimizer-arg", "lightningcli", "optimizer.init_args.lrr: not an "
        "argument of SGD; did you mean lr? valid: lr, momentum",
        put("optimizer", {"class_path": "torch.optim.SGD", "init_args": {"lrr": 1}}))
    add("hydra-space-net", "hydra", "space key 'model.net.lin4_size'", None,
        "--search.space.model.net.lin4_size={choice: [32]}")
    add("es-callback-arg", "digits", "trainer.callbacks[0].patiense: not an argument of "
        "EarlyStopping.__init__; did you mean 'patience'?",
        put("trainer.callbacks", [{"class_path": "lightning.pytorch.callbacks.EarlyStopping",
                                   "init_args": {"monitor": "val_acc", "patiense": 3}}]))
    add("logger-arg", "digits", "trainer.logger.save_dirr: not an argument of CSVLogger."
        "__init__; did you mean 'save_dir'?",
        put("trainer.logger", {"class_path": "lightning.pytorch.loggers.CSVLogger",
                               "init_args": {"save_dirr": "x"}}))
    # ---------------------------------------------------------------- wrong types
    for key, bad, said in (
            ("budget", "20", "`budget` must be a positive integer or null, got '20'"),
            ("budget", [20], "`budget` must be a positive integer or null, got [20]"),
            ("budget", 0, "`budget` must be a positive integer or null, got 0"),
            ("budget", -3, "`budget` must be a positive integer or null, got -3"),
            ("seed", "0", "`seed` must be an integer from 0 to 4294967295"),
            ("seed", -1, "`seed` must be an integer from 0 to 4294967295"),
            ("time_limit", "1h", "`time_limit` must be a positive number or null, got '1h'"),
            ("time_limit", float("inf"), "`time_limit` must be a finite number of seconds"),
            ("keep_top_k", 0, "`keep_top_k` must be a positive integer, got 0"),
            ("max_failures", -1, "`max_failures` must be an integer >= 0, got -1"),
            ("num_workers", 0, "`num_workers` must be a positive integer, got 0"),
            ("threads_per_trial", 0, "`threads_per_trial` must be a positive integer or null"),
            ("max_params", "1M", "`max_params` must be a positive number or null, got '1M'"),
            ("max_flops", [1], "`max_flops` must be a positive number or null, got [1]"),
            ("verbose", "yes", "`verbose` must be true or false, got 'yes'"),
            ("progress", "yes", "`progress` can be true, false, auto; got 'yes'"),
            ("warm_start", 3, "`warm_start` must be a list of run directories, got 3"),
            ("objectives", ["val_acc", "params"], "objectives must map metric names to "
             "max/min, got ['val_acc', 'params']"),
            ("objectives", {}, "objectives must map metric names to max/min, got {}"),
            ("space", [{"width": {"choice": [1]}}], "a search space must be a non-empty "
             "mapping, got [{'width'")):
        add(f"type-{key}={bad!r}", "digits", said, put(f"search.{key}", bad))
    for key, bad, said in (
            ("min_epochs", "2", "`min_epochs` must be a positive integer or null, got '2'"),
            ("min_epochs", 0, "`min_epochs` must be a positive integer or null, got 0"),
            ("max_epochs", 0, "`max_epochs` must be a positive integer or null, got 0"),
            ("eta", 1, "`eta` must be an integer >= 2 or null, got 1")):
        add(f"type-{key}={bad!r}", "sequence", said, put(f"search.{key}", bad))
    for key, bad, said in (
            ("max_epochs", "15", "trainer.max_epochs='15': expected int or null"),
            ("max_epochs", -2, "trainer.max_epochs=-2: must be >= 0, or -1 (no limit)"),
            ("max_epochs", 0, "trainer.max_epochs=0 runs no validation, so the monitor "
             "'val_acc' would never be logged"),
            ("max_steps", 0, "trainer.max_steps=0 runs no validation"),
            ("limit_val_batches", 0, "trainer.limit_val_batches=0 runs no validation"),
            ("check_val_every_n_epoch", 0, "trainer.check_val_every_n_epoch=0: must be an "
             "integer >= 1"),
            ("check_val_every_n_epoch", 20, "trainer.check_val_every_n_epoch=20 with "
             "max_epochs=15 runs no validation"),
            ("val_check_interval", 0, "trainer.val_check_interval=0: a fraction of an epoch"),
            ("accumulate_grad_batches", 0, "trainer.accumulate_grad_batches=0: must be >= 1"),
            ("gradient_clip_val", -1.0, "trainer.gradient_clip_val=-1.0: must be a number >= "
             "0"),
            ("min_epochs", 50, "trainer.min_epochs=50 is above max_epochs=15"),
            ("default_root_dir", 5, "trainer.default_root_dir=5: expected str or Path"),
            ("max_time", "1 hour", "trainer.max_time='1 hour'"),
            ("fast_dev_run", True, "trainer.fast_dev_run=True runs 1 batch"),
            ("overfit_batches", -1, "trainer.overfit_batches=-1")):
        add(f"trainer-{key}={bad!r}", "digits", said, put(f"trainer.{key}", bad))
    add("trainer-list", "digits", "`trainer` must be a mapping of Trainer arguments, got [1]",
        put("trainer", [1]))
    add("data-batch-str", "digits", "data.batch_size='64.0': expected int (the annotation of "
        "DigitsDataModule.__init__)", put("data.init_args.batch_size", "64.0"))
    add("data-batch-0", "digits", "data.batch_size=0: a DataLoader's batch_size must be an "
        "integer >= 1", put("data.init_args.batch_size", 0))
    add("data-init_args-list", "digits", "data.init_args: expected a mapping, got [64]",
        put("data.init_args", [64]))
    add("data-val_fraction", "digits", "data.val_fraction=1.5: ValueError: val_fraction must "
        "be in (0, 1), got 1.5", put("data.init_args.val_fraction", 1.5))
    add("model-arg-type", "digits", "model.width='wide': expected int (the annotation of "
        "DigitsCNN.__init__)", put("model.init_args", {"width": "wide"}))
    add("model-init_args-str", "digits", "model.init_args: expected a mapping, got 'abc'",
        put("model.init_args", "abc"))
    add("seed_everything-str", "lightningcli", "`seed_everything` must be an integer, true or "
        "false, got 'zero'", put("seed_everything", "zero"))
    add("seed_everything-neg", "digits", "`seed_everything` must be an integer from 0 to "
        "4294967295", put("seed_everything", -5))
    add("lightningcli-net-dropout-str", "lightningcli", "model.net.dropout='x': expected "
        "float", put("model.init_args.net.init_args.dropout", "x"))
    add("threads-str", "parallel", "`threads_per_trial` must be a positive integer or null, "
        "got 'one'", None, "--search.threads_per_trial=one")
    add("max_trials_per_worker-0", "parallel", "`max_trials_per_worker` must be a positive "
        "integer or null, got 0", None, "--search.max_trials_per_worker=0")
    add("ray-list", "ray", "`ray` must be a mapping of ray.init arguments, got [1]", None,
        "--search.ray=[1]")
    # ---------------------------------------------------------------- outside the valid set
    add("optimizer-name", "digits", ("unknown optimizer 'ngopt'; close names: NGO, NGOpt",
                                     "available_optimizers() lists all"),
        put("search.optimizer", "ngopt"))
    add("optimizer-torch", "digits", "unknown optimizer 'Adam'", put("search.optimizer", "Adam"))
    add("mode", "digits", "`mode` can be max, min; got 'maximise': did you mean 'max'?",
        put("search.mode", "maximise"))
    add("objective-mode", "digits", "`objectives.val_acc` can be max, min; got 'maxx': did "
        "you mean 'max'?", put("search.objectives", {"val_acc": "maxx"}))
    add("scheduler", "sequence", "unknown scheduler 'ash'; did you mean 'asha'? valid "
        "schedulers: none, asha, hyperband, median", put("search.scheduler", "ash"))
    add("executor", "parallel", "unknown executor 'threads'; valid executors: auto, inline, "
        "process, ray", None, "--search.executor=threads")
    add("executor-misspelt", "digits", "unknown executor 'proces'; did you mean 'process'?",
        put("search.executor", "proces"))
    add("accelerator", "digits", ("trainer.accelerator='cpux'", "Available names are: auto"),
        put("trainer.accelerator", "cpux"))
    add("accelerator-gpu", "digits", "trainer.accelerator='gpu': MisconfigurationException: No "
        "supported gpu backend found!", put("trainer.accelerator", "gpu"))
    add("strategy", "digits", ("trainer.strategy='dpp'", "Example choices: auto, ddp"),
        put("trainer.strategy", "dpp"))
    add("strategy-ddp", "ddp", "trainer.strategy='ddpp'", None, "--trainer.strategy=ddpp")
    add("strategy-ddp_spawn", "ddp", "trainer.strategy='ddp_spawn' is not supported for "
        "trials; use strategy='ddp'", None, "--trainer.strategy=ddp_spawn")
    add("precision", "digits", ("trainer.precision='15-mixed': expected 64 or 32 or 16",
                                "'bf16-mixed'"), put("trainer.precision", "15-mixed"))
    add("precision-ddp", "ddp", "trainer.precision='bf17'", None, "--trainer.precision=bf17")
    add("devices-0", "digits", "trainer.devices=0", put("trainer.devices", 0))
    add("devices-str", "ddp", "trainer.devices='two'", None, "--trainer.devices=two")
    add("devices-neg", "ddp", "trainer.devices=-2", None, "--trainer.devices=-2")
    add("num_nodes-0", "ddp", "trainer.num_nodes=0", None, "--trainer.num_nodes=0")
    add("es-mode", "digits", "`mode` can be min, max, got maxx",
        put("trainer.callbacks", [{"class_path": "lightning.pytorch.callbacks.EarlyStopping",
                                   "init_args": {"monitor": "val_acc", "mode": "maxx"}}]))
    add("model-class", "digits", "module 'examples.digits.model' has no attribute 'DigitCNN'; "
        "close names: DigitsCNN", put("model.class_path", "examples.digits.model.DigitCNN"))
    add("data-class", "digits", "has no attribute 'DigitData'; close names: DigitsDataModule",
        put("data.class_path", "examples.digits.data.DigitData"))
    add("lightningcli-optimizer-class", "lightningcli", "module 'torch.optim' has no attribute "
        "'Adamm'; close names: Adam", put("model.init_args.optimizer.class_path",
                                         "torch.optim.Adamm"))
    add("lightningcli-top-optimizer-class", "lightningcli", "optimizer='torch.optim.SGDD'",
        put("optimizer", {"class_path": "torch.optim.SGDD"}))
    add("hydra-model-file", "hydra", "model='configs/model/digit.yaml': no such YAML file",
        None, "--model=configs/model/digit.yaml")
    add("hydra-scheduler-mode", "hydra", "model.scheduler.mode='mn': expected 'min' or 'max'",
        None, "--model.scheduler.mode=mn")
    add("constraint-path", "digits", "search.constraints[0]='examples.digits.model.nope'",
        put("search.constraints", ["examples.digits.model.nope"]))
    # ---------------------------------------------------------------- spaces that cannot work
    for key, spec, said in (
            ("stride", {"choice": []}, "space key 'stride': `choice` expects a non-empty "
             "list of values, got []"),
            ("width", {"int": [128, 16]}, "space key 'width': `int` needs low < high, got "
             "[128, 16]"),
            ("lr", {"float": [0.0, 0.03], "log": True}, "space key 'lr': `float` with log: "
             "true needs low > 0, got 0.0"),
            ("width", {"int": [16, 32], "step": 100}, "space key 'width': `int` [16, 32] step "
             "100 never reaches 32"),
            ("width", {"int": [16, 128], "step": -16}, "`int` step must be a positive integer"),
            ("stride", {"choice": [1, 1, 2]}, "space key 'stride': `choice` values must be "
             "distinct, got [1, 1, 2]"),
            ("num_layers", {"ordered": [2, 2]}, "`ordered` values must be distinct"),
            ("depth", {"choice": [1, 2]}, "space key 'depth' is not an argument of DigitsCNN."
             "__init__; did you mean 'width'? accepted: num_layers"),
            ("width", {"int": [16.5, 128]}, "space key 'width': `int` bounds must be integers"),
            ("width", {"int": [16, 128], "log": "yes"}, "`int` log must be true or false"),
            ("lr", {"float": [1e-3, float("inf")]}, "space key 'lr': `float` high bound must "
             "be finite, got inf"),
            ("width", {"fixed": "wide"}, "space key 'width' may take 'wide': model.width="
             "'wide': expected int"),
            ("num_layers", {"choice": [None, 2]}, "space key 'num_layers' may take None"),
            ("num_layers", {"choice": [0, 2]}, "space key 'num_layers' may take 0: ValueError: "
             "num_layers must be >= 1, got 0"),
            ("width", {"int": [-16, 128]}, "space key 'width' may take -16 (its low bound)"),
            ("activation", {"choice": ["relu", "gleu"]}, "space key 'activation' may take "
             "'gleu': ValueError: unknown activation 'gleu'; valid names: relu, gelu, sigmoid, "
             "tanh"),
            ("trainer.max_epoch", {"choice": [1, 2]}, "space key 'trainer.max_epoch' is not a "
             "Trainer argument; did you mean 'trainer.max_epochs'?"),
            ("trainer.max_epochs", {"choice": [0, 2]}, "space key 'trainer.max_epochs' may "
             "take 0"),
            ("trainer.precision", {"choice": ["32", "15"]}, "space key 'trainer.precision' "
             "may take '15'"),
            ("data.batch_sise", {"choice": [32, 64]}, "space key 'data.batch_sise': "
             "'batch_sise' is not an argument of DigitsDataModule (data); did you mean "
             "'batch_size'?"),
            ("data.batch_size", {"choice": [0, 64]}, "space key 'data.batch_size' may take 0")):
        add(f"space-{key}={spec!r}", "digits", said, space_key(key, spec))
    add("space-empty", "digits", ("`search.space` is empty", "choice, ordered, int"), None,
        "--search.space={}")
    add("space-file-missing", "digits", "search.space file", put("search.space", "nospace.yaml"))
    add("space-cell", "sequence", "space key 'cell' may take 'rnnn': ValueError: unknown cell "
        "'rnnn'; valid: gru, lstm", put("search.space.cell", {"choice": ["gru", "rnnn"]}))
    add("space-dropout", "lightningcli", "space key 'model.net.dropout' may take 1.5 (its high "
        "bound)", None, "--search.space.model.net.dropout={float: [0.0, 1.5]}")
    add("space-batch-0", "lightningcli", "space key 'data.batch_size' may take 0", None,
        "--search.space.data.batch_size={choice: [0, 32]}")
    # ---------------------------------------------------------------- conflicting settings
    add("min>max-epochs", "sequence", "scheduler 'asha' with min_epochs=9 would never stop a "
        "trial before its end (max_epochs=5)", put("search.min_epochs", 9))
    add("eta-median", "sequence", "`eta` (2) is the reduction factor of scheduler asha or "
        "hyperband; scheduler 'median' has none",
        lambda cfg: (put("search.scheduler", "median")(cfg), put("search.eta", 2)(cfg)))
    add("scheduler-no-epochs", "sequence", "scheduler 'asha' needs max_epochs",
        drop("trainer.max_epochs"))
    add("min_epochs-no-scheduler", "digits", "`min_epochs` (2) is the epochs a scheduler "
        "trains a trial before it first judges it, and no scheduler is set",
        put("search.min_epochs", 2))
    add("inline-workers", "parallel", "executor 'inline' runs one trial at a time", None,
        "--search.executor=inline")
    add("ray-without-executor", "digits", "`ray` ({'num_cpus': 1}) configures executor 'ray', "
        "and executor is 'auto'", put("search.ray", {"num_cpus": 1}))
    add("recycle-inline", "digits", "max_trials_per_worker recycles worker processes",
        put("search.max_trials_per_worker", 2))
    add("devices_per_trial-cpu", "parallel", "devices_per_trial=2 gives each worker its GPUs, "
        "and trainer.accelerator='cpu' trains on none", None, "--search.devices_per_trial=2")
    add("sync_batchnorm-cpu", "ddp", "trainer.sync_batchnorm=True needs CUDA devices", None,
        "--trainer.sync_batchnorm=true")
    add("objectives-monitor", "digits", "monitor='val_acc', mode='max' disagrees with the first "
        "objective (val_loss: min)", put("search.objectives", {"val_loss": "min",
                                                                "params": "min"}))
    add("retrain-without-warm", "digits", "`retrain_top_k` re-trains the best results of "
        "`warm_start` runs; give `warm_start` too", put("search.retrain_top_k", 2))
    add("fill-without-warm", "digits", "`warm_start_fill` fills keys of the `warm_start` runs' "
        "results; give `warm_start` too", put("search.warm_start_fill", {"width": 3}))
    add("warm-missing", "digits", "warm_start source", put("search.warm_start",
                                                           ["no/such/run"]))
    add("lr_scheduler-without-optimizer", "lightningcli", "`lr_scheduler` needs `optimizer`",
        put("lr_scheduler", {"class_path": "torch.optim.lr_scheduler.StepLR",
                             "init_args": {"step_size": 1}}))
    # ---------------------------------------------------------------- YAML
    add("yaml-empty", "digits", "the config needs `search.space`", text="")
    add("yaml-comments", "digits", "the config needs `search.space`", text="# nothing\n")
    add("yaml-duplicate", "digits", "c.yaml:3:3: found the key 'budget' twice",
        text="search:\n  budget: 3\n  budget: 4\n")
    add("yaml-tab", "digits", "c.yaml:2:1: found character '\\t' that cannot start any token",
        text="search:\n\tbudget: 3\n")
    add("yaml-flow", "digits", "c.yaml:2:", text="search:\n  space: {width: {choice: [4, 8}}\n")
    return c


CASES = _cases()


def _config(case: Case, folder: Path) -> list[str]:
    """The case's config files (its first one written into ``folder``), then overrides."""
    files = [EXAMPLES / name for name in BASES[case.base]]
    if case.change is None and case.text is None:
        return [str(f) for f in files] + list(case.args)
    cfg = yaml.safe_load(files[0].read_text())
    if case.base == "hydra":  # its files, found beside the config, named whole
        for section in ("model", "data"):
            cfg[section] = str(files[0].parent / cfg[section])
    if case.change is not None:
        case.change(cfg)
    first = folder / "c.yaml"
    first.write_text(case.text if case.text is not None else yaml.safe_dump(cfg, sort_keys=False))
    return [str(first), *map(str, files[1:]), *case.args]


@pytest.fixture(scope="module")
def finished_digits(tmp_path_factory) -> Path:
    """The ``search.db`` of a finished run of the digits example (one trial, short)."""
    return finished_digits_run(tmp_path_factory.mktemp("finished") / "run")


def test_every_kind_of_change_is_in_the_table():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 140
    for prefix in ("search-key", "section-", "space-", "trainer-", "type-", "model-", "data-",
                   "lightningcli-", "hydra-", "ray-", "yaml-", "devices-", "strategy"):
        assert any(i.startswith(prefix) for i in ids), prefix
    assert {case.base for case in CASES} == set(BASES)


@pytest.mark.parametrize(("case", "existing"), [  # a finished run: the digits family's only
    *((case, False) for case in CASES),
    *((case, True) for case in CASES if case.base in DIGITS_FAMILY)],
    ids=[*(f"{case.id}-new" for case in CASES),
         *(f"{case.id}-existing" for case in CASES if case.base in DIGITS_FAMILY)])
def test_bad_config_fails_before_training(case, existing, tmp_path, capsys, request):
    run_dir = tmp_path / "run"
    before = None
    if existing:
        run_dir.mkdir()
        shutil.copyfile(request.getfixturevalue("finished_digits"), run_dir / "search.db")
        before = (run_dir / "search.db").read_bytes()

    code = main(["search", *_config(case, tmp_path), f"--search.run_dir={run_dir}"])

    out, err = capsys.readouterr()
    lines = [line for line in err.strip().splitlines()
             if not line.startswith("lightning-nas search: warning: ")]
    assert code == 2, (code, out[-2000:], err[-2000:])
    assert len(lines) == 1 and lines[0].startswith(PREFIX), err
    for said in case.said:
        assert said in lines[0], lines[0]
    assert "Traceback" not in out + err and "[trial" not in out, out
    assert not (run_dir / "trials").exists()
    if before is None:
        assert not run_dir.exists() or not any(run_dir.iterdir())
    else:
        assert (run_dir / "search.db").read_bytes() == before
        assert {p.name for p in run_dir.iterdir()} - {"search.lock"} == {"search.db"}
        assert "holds a search with a different" not in lines[0], lines[0]


def test_the_table_does_not_change_its_bases():
    # the changes copy what they change: the example files stay as they are
    for case in CASES[:5]:
        cfg = yaml.safe_load((EXAMPLES / BASES[case.base][0]).read_text())
        kept = copy.deepcopy(cfg)
        if case.change is not None:
            case.change(copy.deepcopy(cfg))
        assert cfg == kept


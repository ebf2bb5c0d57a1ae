"""Bad ``lightning-nas oneshot`` configs (examples/oneshot_digits/oneshot.yaml and
darts.yaml, one change each): refused before the fit starts, by ``--print_config`` as by a
run, in one line naming the bad key or value and the valid ones; nothing written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from lightning_nas.cli import main

torch.set_num_threads(1)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "oneshot_digits"
PREFIX = "lightning-nas oneshot: error: "
ONESHOT_KEYS = ("algorithm, optimizer, num_candidates, search_every_n_epochs, arch_lr, "
                "arch_weight_decay, warmup_epochs, top_k, tau_max, tau_min, tau_schedule, "
                "tau_epochs, calibration_batches, num_classes, mode, net_attr, seed, run_dir, "
                "finetune_epochs, finetune_lr")

# (config, overrides, what the error says); each case one change of an example
CASES = {
    "misspelt-key": ("oneshot", ["--oneshot.num_candidate=5"],
                     "unknown oneshot setting 'num_candidate'; did you mean 'num_candidates'? "
                     f"valid keys: {ONESHOT_KEYS}"),
    "space-key": ("oneshot", ["--oneshot.space={a: {choice: [1]}}"],
                  "the search space is derived from the model's choice modules"),
    "search-section": ("oneshot", ["--search={budget: 3}"],
                       "unknown config section 'search'; valid keys: model, data, trainer, "
                       "oneshot, seed_everything"),
    "algorithm": ("oneshot", ["--oneshot.algorithm=dart"],
                  "unknown oneshot algorithm 'dart'; did you mean 'darts'? valid algorithms: "
                  "spos, darts, gdas or null"),
    "optimizer": ("oneshot", ["--oneshot.optimizer=RandomSerch"],
                  "unknown optimizer 'RandomSerch'; close names: RandomSearch"),
    "num_candidates-0": ("oneshot", ["--oneshot.num_candidates=0"],
                         "oneshot.num_candidates must be an integer >= 1 or null, got 0"),
    "num_candidates-str": ("oneshot", ["--oneshot.num_candidates='50'"],
                           "oneshot.num_candidates must be an integer >= 1 or null, got '50'"),
    "search_every-0": ("oneshot", ["--oneshot.search_every_n_epochs=0"],
                       "oneshot.search_every_n_epochs must be an integer >= 1 or null, got 0"),
    "calibration-neg": ("oneshot", ["--oneshot.calibration_batches=-1"],
                        "oneshot.calibration_batches must be an integer >= 0 or null, got -1"),
    "num_classes-1": ("oneshot", ["--oneshot.num_classes=1"],
                      "oneshot.num_classes must be an integer >= 2 or null, got 1"),
    "finetune_epochs-neg": ("oneshot", ["--oneshot.finetune_epochs=-1"],
                            "oneshot.finetune_epochs must be an integer >= 0 or null, got -1"),
    "finetune_lr-0": ("oneshot", ["--oneshot.finetune_lr=0"],
                      "oneshot.finetune_lr must be a number > 0 or null, got 0"),
    "mode-min": ("oneshot", ["--oneshot.mode=min"], "oneshot.mode can be max or null; got 'min'"),
    "seed-neg": ("oneshot", ["--oneshot.seed=-1"],
                 "oneshot.seed must be an integer from 0 to 2147483647"),
    "darts-key-on-spos": ("oneshot", ["--oneshot.arch_lr=0.01"],
                          "oneshot setting 'arch_lr' applies to algorithm darts and gdas only, "
                          "not spos"),
    "spos-key-on-darts": ("darts", ["--oneshot.num_candidates=10"],
                          "oneshot setting 'num_candidates' applies to algorithm spos only, "
                          "not darts"),
    "arch_lr-0": ("darts", ["--oneshot.arch_lr=0"],
                  "oneshot.arch_lr must be a number > 0 or null, got 0"),
    "top_k-0": ("darts", ["--oneshot.top_k=0"], "oneshot.top_k must be an integer >= 1 or null"),
    "tau-reversed": ("darts", ["--oneshot.algorithm=gdas", "--oneshot.tau_min=20"],
                     "oneshot.tau_min (20.0) must be at most tau_max (10.0)"),
    "tau_schedule": ("darts", ["--oneshot.algorithm=gdas", "--oneshot.tau_schedule=cosine"],
                     "unknown oneshot.tau_schedule 'cosine'; valid values: exponential, linear"),
    "tau-on-darts": ("darts", ["--oneshot.tau_max=5.0"],
                     "oneshot setting 'tau_max' applies to algorithm gdas only, not darts"),
    "trainer-misspelt": ("oneshot", ["--trainer.max_epoch=3"],
                         "unknown Trainer argument 'max_epoch'; did you mean 'max_epochs'?"),
    "trainer-max_epochs-0": ("oneshot", ["--trainer.max_epochs=0"],
                             "trainer.max_epochs=0 trains nothing"),
    "trainer-strategy": ("oneshot", ["--trainer.strategy=dpp"],
                         "trainer.strategy='dpp': ValueError: You selected an invalid strategy"),
    "trainer-accumulate-darts": ("darts", ["--trainer.accumulate_grad_batches=2"],
                                 "trainer.accumulate_grad_batches=2 cannot train darts"),
    "model-arg": ("oneshot", ["--model.init_args.lrr=0.1"],
                  "model init_args key 'lrr' is not an argument of DigitsSupernet.__init__; did "
                  "you mean 'lr'? accepted: lr, max_blocks"),
    "model-arg-type": ("oneshot", ["--model.init_args.lr=fast"],
                       "model.lr='fast': expected float"),
    "data-arg": ("oneshot", ["--data.init_args.batch_sise=3"],
                 "data.batch_sise: not an argument of DigitsDataModule.__init__; did you mean "
                 "'batch_size'?"),
    "oneshot-list": ("oneshot", ["--oneshot=[1]"], "oneshot"),
    # was: accepted by --print_config, refused by the run only at the fit's on_train_start
    "warmup-all-epochs": ("darts", ["--oneshot.warmup_epochs=15"],
                          "warmup_epochs=15 trains only the weights in all 15 epochs "
                          "(max_epochs): the architecture would never be learnt and the "
                          "derived one is random; give warmup_epochs below max_epochs"),
    "warmup-above-epochs": ("darts", ["--oneshot.warmup_epochs=3", "--trainer.max_epochs=1"],
                            "warmup_epochs=3 trains only the weights in its 1 epoch"),
    # was: accepted by --print_config, refused by the run at the fit's start (the model,
    # data and Trainer built) naming neither key as written: "GDAS needs max_epochs or
    # tau_epochs for its temperature"
    "gdas-endless-epochs": ("darts", ["--oneshot.algorithm=gdas", "--trainer.max_epochs=-1",
                                      "--trainer.max_steps=4"],
                            "GDAS needs trainer.max_epochs above 0 or oneshot.tau_epochs for "
                            "its temperature schedule: trainer.max_epochs=-1 sets no number of "
                            "epochs to decay it over"),
    "gdas-max_steps-alone": ("darts", ["--oneshot.algorithm=gdas", "--trainer.max_epochs=null",
                                       "--trainer.max_steps=4"],
                             "GDAS needs trainer.max_epochs above 0 or oneshot.tau_epochs for "
                             "its temperature schedule: trainer.max_steps=4 without "
                             "trainer.max_epochs leaves the epochs unlimited"),
    # was: accepted by --print_config; the run built the model, data and Trainer and was
    # refused at the fit's start ("the Trainer's max_epochs", "DifferentiableNAS(tau_epochs
    # =...)"): a Timer callback has Lightning leave max_epochs out as -1, as max_time does
    "gdas-timer-callback": ("darts", ["--oneshot.algorithm=gdas", "--trainer.max_epochs=null",
                                      "--trainer.callbacks=[{class_path: lightning.pytorch."
                                      "callbacks.Timer, init_args: {duration: '00:00:01:00'}}]"],
                            "GDAS needs trainer.max_epochs above 0 or oneshot.tau_epochs for "
                            "its temperature schedule: the Timer in trainer.callbacks without "
                            "trainer.max_epochs leaves the epochs unlimited"),
    # was: accepted by --print_config (the model unbuilt), and the run's error named
    # "net_attr 'nett'", not the key as written
    "net_attr": ("oneshot", ["--oneshot.net_attr=nett"],
                 "oneshot.net_attr 'nett': DigitsSupernet has no nn.Module attribute of that "
                 "name; did you mean 'net'?"),
}


@pytest.mark.parametrize("print_config", [True, False], ids=["print_config", "run"])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_oneshot_config_is_one_clear_line(case, print_config, tmp_path, capsys):
    config, overrides, said = CASES[case]
    run_dir = tmp_path / "run"
    argv = ["oneshot", str(EXAMPLES / f"{config}.yaml"),  # short, should it train after all
            "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2",
            "--oneshot.finetune_epochs=null", *overrides]
    if case != "oneshot-list":
        argv.append(f"--oneshot.run_dir={run_dir}")
    code = main(argv + ["--print_config"] * print_config)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (out, err)
    assert len(lines) == 1 and lines[0].startswith(PREFIX), err
    assert said in lines[0], lines[0]
    assert "Traceback" not in out + err and not run_dir.exists()


SHORT = ["--trainer.max_epochs=2", "--trainer.limit_train_batches=2",
         "--trainer.limit_val_batches=2", "--oneshot.finetune_epochs=null",
         "--oneshot.num_candidates=3", "--oneshot.search_every_n_epochs=null"]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "search.lock"}


@pytest.fixture(scope="module")
def finished_oneshot(tmp_path_factory) -> Path:
    """The folder of a finished short run of the SPOS example."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    argv = ["oneshot", str(EXAMPLES / "oneshot.yaml"), *SHORT, f"--oneshot.run_dir={run_dir}"]
    assert main(argv) == 0
    assert (run_dir / "best_arch.yaml").is_file()
    return run_dir


@pytest.mark.parametrize("resume", [False, True], ids=["new-run", "ckpt_path-last"])
@pytest.mark.parametrize(("overrides", "said"), [
    (["--oneshot.num_candidates=0"], "oneshot.num_candidates must be an integer >= 1"),
    (["--trainer.max_epoch=3"], "unknown Trainer argument 'max_epoch'"),
    (["--model.init_args.lrr=1"], "model init_args key 'lrr' is not an argument"),
    (["--trainer.strategy=dpp"], "trainer.strategy='dpp'"),
    (["--data.init_args.batch_size=0"], "data.batch_size=0"),
    # was: a resume of the finished run took it, "Nothing left to train", exit 0
    (["--oneshot.net_attr=nett"], "oneshot.net_attr 'nett': DigitsSupernet has no nn.Module "
                                  "attribute of that name; did you mean 'net'?"),
])
def test_a_bad_config_leaves_a_finished_run_as_it_was(overrides, said, resume, tmp_path,
                                                      capsys, finished_oneshot):
    run_dir = tmp_path / "run"
    shutil.copytree(finished_oneshot, run_dir)
    before = _files(run_dir)
    argv = ["oneshot", str(EXAMPLES / "oneshot.yaml"), *SHORT, *overrides,
            f"--oneshot.run_dir={run_dir}", *(["--ckpt_path=last"] * resume)]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.startswith(PREFIX) and said in err, err
    assert _files(run_dir) == before

"""The export from the user's side: a project of its own loads, validates and trains again
what a search exported, in a process where lightning_nas cannot be imported (``python -I``,
a path holding the project's own module files only, and ``lightning_nas`` refused by an
import hook, so an installed copy is not found either). Those processes are forked from one
such interpreter that imported torch, Lightning and scikit-learn's data sets once
(``tests.helpers_standalone``), not each a fresh ``python``, and end by ``os._exit`` once
the script returns (``Interpreter.run(..., quick_exit=True)``); the Hydra sweep is forked by the
launcher."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas.cli import main
from tests.helpers_example_runs import digits_search_of, lightningcli_search_of
from tests.helpers_hydra_sweep import TRAIN, run_forked
from tests.helpers_standalone import Interpreter
from tests.helpers_user_project import user_project
from tests.launcher import ROOT


@pytest.fixture
def python(standalone_python: Interpreter) -> Interpreter:
    """The user's scripts are forked from conftest's ``standalone_python`` (one per test
    process, shared with ``test_hydra_rerun_alone``; was one of this module's own)."""
    return standalone_python


def _standalone(python: Interpreter, tmp_path: Path, user: Path, script: str,
                *args: str) -> list[dict]:
    """Run the user's ``script`` with ``args`` without lightning_nas, ``user`` first on its
    path; what it said (``USER`` lines). It ends by ``os._exit`` once the script returns
    (``quick_exit=True``: was the interpreter's whole exit, its heap of torch and
    Lightning torn down, about 1.5 s of CPU a run; these tests check what the script did,
    not how its process ends)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["OMP_NUM_THREADS"] = "1"
    done = python.run(script, list(args), cwd=tmp_path, env=env, path=(user,),
                      quick_exit=True)
    assert done.code == 0, done.err[-3000:]
    return [json.loads(line[5:]) for line in done.out.splitlines() if line.startswith("USER ")]


@pytest.fixture
def config_run(shared_run) -> Path:
    """The session's config search of the digits example (one trial of one short epoch,
    ``tests.helpers_example_runs.digits_search_of``, shared with ``test_examples``; was this
    module's own); a test writes there only its fine-tune (``RUN/finetune``), which no
    other test reads."""
    return digits_search_of(shared_run)[0]


def test_a_config_runs_best_ckpt_validates_under_the_users_own_lightningcli(config_run,
                                                                           tmp_path, python):
    # was: "Parsing of ckpt_path hyperparameters failed!" (LightningCLI reads a
    # checkpoint's hyper_parameters into its model section: a class_path section needs the
    # `_class_path` LightningCLI's own checkpoints hold)
    user = user_project(tmp_path)
    best = yaml.safe_load((config_run / "best.yaml").read_text())
    said = _standalone(python, tmp_path, user, str(user / "user_cli.py"), "validate",
                       "--config", str(config_run / "best_config.yaml"),
                       "--ckpt_path", str(config_run / "best.ckpt"), "--trainer.logger=false")
    assert said[0]["metrics"]["val_acc"] == pytest.approx(best["score"], abs=1e-6)
    assert said[0]["hparams"] == {**said[0]["hparams"], **best["arch"]}
    # the checkpoint holds plain data only (LightningCLI loads it weights_only=True)
    saved = torch.load(config_run / "best.ckpt", weights_only=True)["hyper_parameters"]
    assert saved["_class_path"] == "examples.digits.model.DigitsCNN"


def _validated_by_the_users_cli(python: Interpreter, run: Path, ckpt: Path,
                                tmp_path: Path) -> dict:
    """What the user's own LightningCLI says validating ``ckpt`` with ``run``'s
    ``best_config.yaml``, without lightning_nas."""
    user = user_project(tmp_path)
    said, = _standalone(python, tmp_path, user, str(user / "user_cli.py"), "validate",
                        "--config", str(run / "best_config.yaml"), "--ckpt_path", str(ckpt),
                        "--trainer.logger=false")
    return said


def test_a_fits_best_ckpt_validates_under_the_users_own_lightningcli(config_run, tmp_path,
                                                                     python):
    # was: "Parsing of ckpt_path hyperparameters failed!" (a fit's best.ckpt held the
    # module's own hyperparameters without the `_class_path` an export's holds)
    out = tmp_path / "fit"
    assert main(["fit", str(config_run / "best_config.yaml"), "--out", str(out)]) == 0
    best = yaml.safe_load((config_run / "best.yaml").read_text())
    said = _validated_by_the_users_cli(python, config_run, out / "best.ckpt", tmp_path)
    assert said["hparams"] == {**said["hparams"], **best["arch"]}
    # best_config.yaml trains as the trial trained: the fit's best epoch scores the same
    assert said["metrics"]["val_acc"] == pytest.approx(best["score"], abs=1e-6)
    saved = torch.load(out / "best.ckpt", weights_only=True)["hyper_parameters"]
    assert saved["_class_path"] == "examples.digits.model.DigitsCNN"
    assert not (out / "last.ckpt").exists()  # a completed fit keeps none


def test_a_finetunes_best_ckpt_validates_under_the_users_own_lightningcli(config_run,
                                                                         tmp_path, capsys,
                                                                         python):
    # was: "Parsing of ckpt_path hyperparameters failed!", as a fit's
    assert main(["finetune", str(config_run), "--max_epochs", "1",
                 "--trainer.limit_train_batches=2"]) == 0  # into RUN/finetune
    printed = capsys.readouterr().out
    score = float(re.findall(r"val_acc=([0-9.]+)", printed)[-1])
    ckpt = Path(re.search(r"^checkpoint: (.+)$", printed, re.M).group(1))
    assert ckpt.parent.parent == config_run
    said = _validated_by_the_users_cli(python, config_run, ckpt, tmp_path)
    assert said["metrics"]["val_acc"] == pytest.approx(score, abs=1e-4)
    saved = torch.load(ckpt, weights_only=True)["hyper_parameters"]
    assert saved["_class_path"] == "examples.digits.model.DigitsCNN"


def test_the_users_own_lightningcli_trains_best_config_as_the_trial(config_run, tmp_path,
                                                                    python):
    user = user_project(tmp_path)
    best = yaml.safe_load((config_run / "best.yaml").read_text())
    said = _standalone(python, tmp_path, user, str(user / "user_cli.py"), "fit",
                       "--config", str(config_run / "best_config.yaml"),
                       f"--trainer.default_root_dir={tmp_path / 'fit'}", "--trainer.logger=false")
    assert said[0]["hparams"] == {**said[0]["hparams"], **best["arch"]}
    assert said[0]["metrics"]["val_acc"] == pytest.approx(best["score"], abs=1e-6)


def _loads_and_trains_on(python: Interpreter, run: Path, tmp_path: Path) -> None:
    """The user's own script rebuilds the best trial from ``run/best.ckpt``, validates it to
    the stored score and trains on from it."""
    user = user_project(tmp_path)
    best = yaml.safe_load((run / "best.yaml").read_text())
    said, = _standalone(python, tmp_path, user, str(user / "user_load.py"),
                        str(run / "best.ckpt"), str(tmp_path / "on"))
    assert said["hparams"] == {**said["hparams"], **best["arch"]}
    assert said["metrics"]["val_acc"] == pytest.approx(best["score"], abs=1e-6)
    assert said["epochs"] == [best["epoch"], best["epoch"] + 2]


def test_a_config_runs_best_ckpt_loads_and_trains_on_without_lightning_nas(config_run,
                                                                          tmp_path, python):
    _loads_and_trains_on(python, config_run, tmp_path)


def test_a_python_searchs_best_ckpt_loads_and_trains_on_without_lightning_nas(tmp_path,
                                                                              python):
    from examples.digits.data import DigitsDataModule
    from examples.digits.model import DigitsCNN
    from lightning_nas import Search

    Search(DigitsCNN, {"width": {"choice": [4, 8]}, "num_layers": {"choice": [1, 2]}},
           data=DigitsDataModule(), budget=1, monitor="val_acc", mode="max",
           trainer={"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                    "limit_train_batches": 2},
           run_dir=tmp_path / "run", verbose=False).run()
    _loads_and_trains_on(python, tmp_path / "run", tmp_path)
    # a LightningCLI made for the class reads the architecture from best.ckpt alone
    best = yaml.safe_load((tmp_path / "run" / "best.yaml").read_text())
    user = tmp_path / "user"
    said, = _standalone(python, tmp_path, user, str(user / "user_fixed_cli.py"), "validate",
                        "--ckpt_path", str(tmp_path / "run" / "best.ckpt"),
                        "--trainer.logger=false", "--trainer.accelerator=cpu")
    assert said["hparams"] == {**said["hparams"], **best["arch"]}
    assert said["metrics"]["val_acc"] == pytest.approx(best["score"], abs=1e-6)


#: the user's own script: subnet.pt with torch alone, its accuracy on the validation split
_USER_SUBNET = '''import json, sys, torch
from examples.digits.data import DigitsDataModule
torch.set_num_threads(1)
try:
    import lightning_nas
    raise SystemExit("lightning_nas importable")
except ModuleNotFoundError:
    pass
net = torch.load(sys.argv[1], weights_only=False).eval()
data = DigitsDataModule()
data.setup("fit")
right = seen = 0
with torch.no_grad():
    for x, y in data.val_dataloader():
        right, seen = right + int((net(x).argmax(1) == y).sum()), seen + len(y)
print("USER " + json.dumps({"modules": sorted({type(m).__module__ for m in net.modules()}),
                            "acc": right / seen}))
'''


def test_a_one_shot_runs_subnet_loads_and_scores_without_lightning_nas(tmp_path, python):
    run = tmp_path / "oneshot"
    assert main(["oneshot", str(ROOT / "examples" / "oneshot_digits" / "oneshot.yaml"),
                 "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
                 "--oneshot.num_candidates=2", "--oneshot.search_every_n_epochs=1",
                 "--oneshot.finetune_epochs=0", f"--oneshot.run_dir={run}"]) == 0
    user = user_project(tmp_path)
    (user / "user_subnet.py").write_text(_USER_SUBNET)
    said, = _standalone(python, tmp_path, user, str(user / "user_subnet.py"),
                        str(run / "subnet.pt"))
    assert all(name.startswith("torch.nn.") for name in said["modules"]), said["modules"]
    best = yaml.safe_load((run / "best_arch.yaml").read_text())
    assert said["acc"] == pytest.approx(best["score"], abs=1e-6)


def test_a_hydra_sweeps_best_job_trains_again_without_lightning_nas(tmp_path, python,
                                                                    launcher):
    # the `rerun` line composes the search's config group, which picks the lightning_nas
    # sweeper ("Could not find 'hydra/sweeper/lightning_nas'" without it); the job's own
    # composed config (.hydra/config.yaml in best_job_dir) needs no plugin
    pytest.importorskip("hydra")
    sweep = tmp_path / "sweep"
    done = run_forked(launcher, tmp_path, TRAIN, ["-m", "hparams_search=nas",  # the launcher's
                      "hydra.sweeper.budget=1", "trainer.max_epochs=1",  # fork, as
                      f"hydra.sweep.dir={sweep}"], full_error=None)  # `python train.py -m`
    assert done.returncode == 0, done.stderr[-3000:]
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    job = Path(results["best_job_dir"])
    user = user_project(tmp_path)
    shutil.copytree(ROOT / "examples" / "hydra", user / "examples" / "hydra",
                    ignore=shutil.ignore_patterns("runs", "outputs", "__pycache__"))
    again = tmp_path / "again"
    _standalone(python, tmp_path, user, str(user / "examples" / "hydra" / "src" / "train.py"),
                "--config-path", str(job / ".hydra"), "--config-name", "config",
                f"hydra.run.dir={again}")
    composed = yaml.safe_load((again / ".hydra" / "config.yaml").read_text())
    assert composed == yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
    for key, value in results["best_params"].items():  # the best architecture
        node = composed
        for part in key.split("."):
            node = node[part]
        assert node == pytest.approx(value)
    checkpoint, = (again / "checkpoints").glob("epoch*.ckpt")
    # the project's own checkpoint: its module saves Hydra's partial optimizer
    states = torch.load(checkpoint, weights_only=False)["callbacks"]
    scored, = (s["best_model_score"] for k, s in states.items() if k.startswith("ModelCheckpoint"))
    assert float(scored) == pytest.approx(results["best_value"], abs=1e-6)


lightningcli_run = pytest.fixture(name="lightningcli_run")(lightningcli_search_of)


def test_a_lightningcli_searchs_best_config_and_ckpt_work_with_the_projects_cli(
        lightningcli_run, tmp_path, python):
    # (the session's search, shared with test_examples: was one of this test's own)
    run, _ = lightningcli_run
    user = user_project(tmp_path)
    best = yaml.safe_load((run / "best.yaml").read_text())
    # the project's own script: examples/lightningcli/main.py, its CLI saying what it scored
    for args in (["validate", "--ckpt_path", str(run / "best.ckpt")],
                 ["fit", f"--trainer.default_root_dir={tmp_path / 'fit'}"]):
        said, = _standalone(python, tmp_path, user, str(user / "user_cli.py"), args[0],
                            "--config", str(run / "best_config.yaml"), *args[1:],
                            "--trainer.logger=false")
        assert said["metrics"]["val_acc"] == pytest.approx(best["score"], abs=1e-6), args[0]
    done = python.run(  # the project's main.py in a bare environment
        str(user / "examples" / "lightningcli" / "main.py"),
        ["validate", "--config", str(run / "best_config.yaml"), "--ckpt_path",
         str(run / "best.ckpt"), "--trainer.logger=false"], cwd=tmp_path,
        env={"OMP_NUM_THREADS": "1", "PATH": os.environ.get("PATH", "")}, path=(user,),
        quick_exit=True)
    assert done.code == 0 and str(best["score"]) in done.out, done.err[-2000:]

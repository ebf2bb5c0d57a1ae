"""Bad values of an optimizer or scheduler node inside the model's arguments (LightningCLI's
``OptimizerCallable`` ``class_path`` node, a Hydra ``_partial_: true`` node): refused before
any trial's fit, naming the key and value (was: raised by torch in ``configure_optimizers``,
inside the fit of trials 1 and 2, which then stopped the search).

Every case runs the real command on an example config; none trains.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas.cli import main

torch.set_num_threads(1)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LIGHTNINGCLI = EXAMPLES / "lightningcli"
HYDRA = EXAMPLES / "hydra"
PREFIX = "lightning-nas search: error: "
#: short trials, should a case train after all (a failing test, not a long one)
SHORT = ["--search.budget=2", "--trainer.max_epochs=2", "--trainer.limit_train_batches=2",
         "--trainer.limit_val_batches=2"]
#: a space without the optimizer's lr, so that the config's value is the one trials take
NET_ONLY = "--search.space={model.net.lin1_size: {choice: [32, 64]}}"


def _refused(argv: list[str], run_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line of ``lightning-nas search`` run on ``argv`` (exit 2, nothing
    written in ``run_dir``, no trial line printed)."""
    code = main(["search", *argv, *SHORT, f"--search.run_dir={run_dir}"])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert "trial " not in out and "Traceback" not in err, (out, err)
    assert not run_dir.exists(), sorted(p.name for p in run_dir.rglob("*"))
    lines = [line for line in err.strip().splitlines()  # (SHORT's limit_val_batches beside
             if not line.startswith("lightning-nas search: warning: ")]  # a searched batch)
    assert len(lines) == 1 and lines[0].startswith(PREFIX), err
    return lines[0]


def _lightningcli(tmp_path: Path, optimizer_args: dict) -> list[str]:
    cfg = yaml.safe_load((LIGHTNINGCLI / "train.yaml").read_text())
    cfg["model"]["init_args"]["optimizer"]["init_args"] = optimizer_args
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return [str(path), str(LIGHTNINGCLI / "search.yaml"), NET_ONLY]


@pytest.mark.parametrize(("args", "said"), [
    ({"lr": -0.1},
     "model.optimizer.lr=-0.1: Adam refuses it: ValueError: Invalid learning rate: -0.1"),
    ({"lr": 0.003, "betas": [0.9, 1.5]},
     "model.optimizer.betas=(0.9, 1.5): Adam refuses it: ValueError: Invalid beta parameter"),
    ({"lr": 0.003, "eps": -1.0},
     "model.optimizer.eps=-1.0: Adam refuses it: ValueError: Invalid epsilon value: -1.0"),
])
def test_a_lightningcli_optimizer_value_torch_refuses(tmp_path, capsys, args, said):
    # was: trials 1 and 2 FAILED, "... failed the same way before training started (in
    # LitClassifier.configure_optimizers) ...: ValueError: Invalid learning rate: -0.1"
    line = _refused(_lightningcli(tmp_path, args), tmp_path / "run", capsys)
    assert said in line, line
    assert "before any training" in line, line


def test_a_searched_optimizer_bound_torch_refuses(tmp_path, capsys):
    # a range whose low bound torch refuses: said as the space key's bound
    line = _refused([*_lightningcli(tmp_path, {"lr": 0.003}),
                     "--search.space.model.optimizer.lr={float: [-0.1, 0.1]}"],
                    tmp_path / "run", capsys)
    assert "space key 'model.optimizer.lr' may take -0.1" in line, line
    assert "Invalid learning rate: -0.1" in line, line


@pytest.mark.parametrize(("override", "said"), [
    ("--model.optimizer.weight_decay=-1.0",
     "model.optimizer.weight_decay=-1.0: Adam refuses it: ValueError: Invalid weight_decay"),
    # (a value its annotation refuses was refused already: said as such)
    ("--model.scheduler.mode=mn",
     "model.scheduler.mode='mn': expected 'min' or 'max' (the annotation of ReduceLROnPlateau"),
    ("--model.scheduler.factor=2.0",
     "model.scheduler.factor=2.0: ReduceLROnPlateau refuses it: ValueError: Factor should"),
])
def test_a_hydra_partial_node_value_torch_refuses(tmp_path, capsys, override, said):
    # was: trials 1 and 2 FAILED in DigitsLitModule.configure_optimizers, then the stop
    line = _refused([str(HYDRA / "search.yaml"), override], tmp_path / "run", capsys)
    assert said in line, line


@pytest.mark.parametrize(("node", "args"), [
    # OneCycleLR refuses (ValueError) a partial without total_steps, which the module gives
    # when it calls it: no one argument of the config is at fault
    ({"_target_": "torch.optim.lr_scheduler.OneCycleLR", "_partial_": True, "max_lr": 0.1},
     {"total_steps": 10}),
    ({"_target_": "torch.optim.lr_scheduler.StepLR", "_partial_": True}, {"step_size": 2}),
])
def test_a_partial_given_the_rest_when_called_is_built(node, args):
    from lightning_nas.config.instantiate import instantiate

    built = instantiate(node, "model.scheduler")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    assert type(built(opt, **args)).__name__ == node["_target_"].rsplit(".", 1)[1]

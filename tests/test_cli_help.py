"""LightningCLI's help forms (``--model.help CLASS``, ``--trainer.callbacks.help NAME``, ...)
on ``lightning-nas search`` / ``fit`` / ``oneshot`` / ``finetune``: the class's help as
LightningCLI prints it, exit 0, nothing read or trained."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from lightning_nas.cli import main


def _lightningcli_help(capsys: pytest.CaptureFixture, command: str, *args: str) -> str:
    """What LightningCLI itself (``run=False``, a model and data module of any class)
    prints for ``args`` run as ``lightning-nas COMMAND`` (its usage line names the program
    as ``sys.argv[0]`` does), and that it exits 0."""
    from lightning.pytorch.cli import LightningCLI

    with (warnings.catch_warnings(), pytest.MonkeyPatch.context() as patch,
          pytest.raises(SystemExit) as done):
        patch.setattr(sys, "argv", [f"lightning-nas {command}"])
        warnings.filterwarnings("ignore", ".*args parameter")  # pytest's argv beside args
        LightningCLI(run=False, save_config_callback=None, args=list(args))
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(("command", "args"), [
    ("search", ("--model.help", "tests.helpers.TinyNet")),
    ("fit", ("--data.help=tests.helpers.BlobData",)),
    ("search", ("--trainer.callbacks.help", "EarlyStopping")),
    ("fit", ("--optimizer.help", "Adam")),
    ("search", ("--lr_scheduler.help", "StepLR")),
    ("oneshot", ("--trainer.logger.help", "CSVLogger")),
])
def test_help_form_prints_lightningclis_help(tmp_path: Path, capsys: pytest.CaptureFixture,
                                             command: str, args: tuple[str, ...]) -> None:
    expected = _lightningcli_help(capsys, command, *args)
    missing = str(tmp_path / "none.yaml")  # never read: the help needs no config
    assert main([command, missing, *args, "--search.budget=1"]) == 0
    out, err = capsys.readouterr()
    assert out == expected and "Help for " + args[0].split("=")[0] in out
    assert err == ""
    assert not list(tmp_path.iterdir())  # nothing written


def test_finetune_help_form(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    expected = _lightningcli_help(capsys, "finetune", "--model.help", "tests.helpers.TinyNet")
    assert main(["finetune", str(tmp_path), "--model.help", "tests.helpers.TinyNet"]) == 0
    assert capsys.readouterr().out == expected


@pytest.mark.parametrize("program", ["__main__.py", "lightning-nas"])
def test_help_forms_usage_names_the_command_as_typed(
        capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, program: str) -> None:
    # `python -m lightning_nas search ...` (was: "usage: __main__.py [--model.width ...",
    # and "usage: lightning-nas [..." from the installed command, the command left out)
    monkeypatch.setattr(sys, "argv", [program, "search"])
    assert main(["search", "--model.help", "tests.helpers.TinyNet"]) == 0
    assert capsys.readouterr().out.startswith("usage: lightning-nas search [")


def _exit_code(argv: list[str]) -> int:
    """``main(argv)``'s exit status, returned or raised (argparse's errors exit)."""
    try:
        return main(argv)
    except SystemExit as done:
        return int(done.code or 0)


@pytest.mark.parametrize(("command", "form", "others"), [
    ("search", ("--model.help", "tests.helpers.TinyNet"), ()),
    ("fit", ("--data.help=tests.helpers.BlobData",), ("--search.budget=1",)),
    ("oneshot", ("--trainer.callbacks.help", "EarlyStopping"), ("--trainer.max_epochs=1",)),
    ("finetune", ("--model.help", "tests.helpers.TinyNet"), ("--max_epochs", "3")),
])
def test_help_form_needs_no_config(capsys: pytest.CaptureFixture, command: str,
                                   form: tuple[str, ...], others: tuple[str, ...]) -> None:
    # as LightningCLI's `python main.py fit --model.help my.Net`: no CONFIG (RUN_DIR) given
    # (was: exit 2, "the following arguments are required: config")
    expected = _lightningcli_help(capsys, command, *form)
    assert _exit_code([command, *others, *form]) == 0
    assert capsys.readouterr() == (expected, "")


def test_help_form_without_config_refuses_a_bad_class(capsys: pytest.CaptureFixture) -> None:
    assert _exit_code(["fit", "--model.help", "tests.helpers.BlobData"]) == 2
    assert capsys.readouterr().err.startswith(
        "lightning-nas fit: error: --model.help tests.helpers.BlobData: the model section "
        "takes no class 'tests.helpers.BlobData'")


@pytest.mark.parametrize(("command", "positional"), [
    ("search", "config"), ("fit", "config"), ("oneshot", "config"), ("finetune", "run_dir")])
def test_no_config_without_a_help_form_is_argparses_error(
        capsys: pytest.CaptureFixture, command: str, positional: str) -> None:
    assert _exit_code([command, "--trainer.max_epochs=1", "--model.width=8"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[0].startswith(f"usage: lightning-nas {command} ")
    assert err.splitlines()[-1] == (f"lightning-nas {command}: error: the following "
                                    f"arguments are required: {positional}")


@pytest.mark.parametrize(("command", "args", "message"), [
    ("search", ("--model.help", "tests.helpers.BlobData"),
     "--model.help tests.helpers.BlobData: the model section takes no class "
     "'tests.helpers.BlobData' (\"tests.helpers.BlobData\" is not a subclass of "
     "LightningModule)"),
    ("fit", ("--trainer.callbacks.help", "EarlyStoping"),
     "--trainer.callbacks.help EarlyStoping: the trainer.callbacks section takes no class "
     "'EarlyStoping' ("),
    ("oneshot", ("--optimizer.help", "Adam"),
     "--optimizer.help is no help form of lightning-nas oneshot; it takes "
     "--trainer.accelerator.help, --trainer.strategy.help, "),
    ("search", ("--model.net.help", "tests.helpers.TinyNet"),
     "--model.net.help is no help form of lightning-nas search; it takes "),
])
def test_help_form_bad_class(tmp_path: Path, capsys: pytest.CaptureFixture, command: str,
                             args: tuple[str, ...], message: str) -> None:
    assert main([command, str(tmp_path / "none.yaml"), *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"lightning-nas {command}: error: {message}")


def test_help_mentions_the_form(capsys: pytest.CaptureFixture) -> None:
    for command in ("search", "fit", "oneshot", "finetune"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--model.help CLASS" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", ["search", "oneshot", "fit"])
def test_print_config_help_says_what_the_readme_table_says(
        capsys: pytest.CaptureFixture, command: str) -> None:
    # was: oneshot's help said only "print the config after overrides and exit", where the
    # README's table (and the command) check the config as a run does first
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    row = re.search(rf"^\| `lightning-nas {command} CONFIG --print_config` \| ([^|]+) \|$",
                    readme, re.M)
    assert row, f"README: no row for `lightning-nas {command} CONFIG --print_config`"
    said = row.group(1).split(";")[0].strip()  # "check the config as a run does, print it ..."
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"--print_config {said} and exit" in out, out


def test_every_argument_of_every_command_has_a_help_text() -> None:
    # was: none for export's, finetune's, show's and report's run_dir, finetune's
    # --max_epochs and show's --format (`lightning-nas export --help` showed a bare RUN_DIR)
    import argparse

    from lightning_nas.cli import _parser

    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    bare = [f"{name} {action.dest}" for name, sub in commands.choices.items()
            for action in sub._actions if not action.help]
    assert bare == []


def test_fit_mode_help_says_the_default_a_fit_takes(capsys: pytest.CaptureFixture) -> None:
    # was: "(default as for --monitor, else max)", where `--monitor val_loss` alone fits for
    # min and `--monitor val_score` alone is refused, as the monitor's name says no direction
    from lightning_nas.search.objectives import mode_for

    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "else max" not in out
    assert ("--mode {max,min} direction of --monitor (default: the config's for its own "
            "monitor, else what the monitor's name says: min for a loss or error, max for an "
            "accuracy or F1; another name needs --mode)") in out, out
    assert (mode_for("val_loss"), mode_for("val_error"), mode_for("val_f1")) == (
        "min", "min", "max")

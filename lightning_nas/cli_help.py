"""LightningCLI's help forms on the ``lightning-nas`` command line: ``--model.help my.Net``
(``--data.help``, ``--trainer.callbacks.help EarlyStopping``, ``--optimizer.help Adam``,
...) prints the class's arguments as LightningCLI prints them, with LightningCLI's own
parser (a ``LightningArgumentParser`` holding the sections the command takes), and exits 0;
nothing is read, built or trained.

Example:
    >>> help_words("search", ["--search.budget=5", "--model.help", "my.Net"])
    ['--model.help', 'my.Net']
    >>> help_words("search", ["--search.budget=5"]) is None
    True
"""

from __future__ import annotations

import argparse
from typing import Any

from lightning_nas.errors import ConfigError

__all__ = ["HELP_EPILOG", "help_words", "no_config_needed", "print_class_help"]

#: the LightningCLI sections whose help forms each command takes (``finetune`` takes the
#: Trainer's and the model's values only; a one-shot supernet has its own optimizers)
_SECTIONS = {"search": ("trainer", "model", "data", "optimizer", "lr_scheduler"),
             "fit": ("trainer", "model", "data", "optimizer", "lr_scheduler"),
             "oneshot": ("trainer", "model", "data"),
             "finetune": ("trainer", "model")}
#: what ``--help`` of those commands says of the form
HELP_EPILOG = ("LightningCLI's help forms print a class's arguments and exit, nothing "
               "trained: --model.help CLASS, --trainer.callbacks.help EarlyStopping, ...")


def help_words(command: str, overrides: list[str]) -> list[str] | None:
    """The first ``--X.help [CLASS]`` form among a command's ``overrides`` (its one or two
    words), or None where there is none or the command takes no LightningCLI sections.

    Example:
        >>> help_words("fit", ["--optimizer.help=Adam"])
        ['--optimizer.help=Adam']
    """
    if command not in _SECTIONS:
        return None
    for i, word in enumerate(overrides):
        name = word.split("=", 1)[0]
        if name.startswith("--") and name.endswith(".help"):
            value = overrides[i + 1:i + 2]
            if "=" in word or not value or value[0].startswith("--"):
                return [word]
            return [word, value[0]]
    return None


def no_config_needed(parser: argparse.ArgumentParser) -> None:
    """Make the positional arguments of a command's ``parser`` (its CONFIG files,
    ``finetune``'s RUN_DIR) optional, for a command line holding a help form: the form reads
    no file, and LightningCLI's needs no config (``python main.py fit --model.help my.Net``).
    The usage line stays as it was.

    Example:
        >>> parser = argparse.ArgumentParser(prog="search")
        >>> _ = parser.add_argument("config", nargs="+")
        >>> no_config_needed(parser)
        >>> parser.parse_args([]).config is None
        True
    """
    for action in parser._actions:
        if not action.option_strings:  # a positional: argparse requires it by its nargs
            action.required = False


def _parser(command: str) -> Any:
    """LightningCLI's parser of the sections ``command`` takes, added as LightningCLI adds
    them (a model and a data module of any class, its automatic optimizer sections)."""
    from lightning.pytorch import LightningDataModule, LightningModule, Trainer
    from lightning.pytorch.cli import LightningArgumentParser, LRSchedulerTypeTuple
    from torch.optim import Optimizer

    class _Parser(LightningArgumentParser):  # a help form's parser is made as this one's
        # class (jsonargparse): named as typed (was: sys.argv[0]'s, "usage: __main__.py")
        def __init__(self, *args: Any, prog: str | None = None, **kwargs: Any) -> None:
            super().__init__(*args, prog=prog or f"lightning-nas {command}", **kwargs)

    parser = _Parser(exit_on_error=False)
    sections = _SECTIONS[command]
    parser.add_lightning_class_args(Trainer, "trainer")
    parser.add_lightning_class_args(LightningModule, "model", subclass_mode=True)
    if "data" in sections:
        parser.add_lightning_class_args(LightningDataModule, "data", subclass_mode=True,
                                        required=False)
    if "optimizer" in sections:
        parser.add_optimizer_args((Optimizer,))
        parser.add_lr_scheduler_args(LRSchedulerTypeTuple)
    return parser


def print_class_help(command: str, words: list[str]) -> int:
    """Print the help of the class ``words`` (a ``help_words`` form) names as LightningCLI
    prints it; 0.

    Example:
        ``print_class_help("search", ["--model.help", "my.Net"])`` prints ``my.Net``'s
        arguments, ``--model.width WIDTH ...``.

    Raises:
        ConfigError: for a form the command does not take, naming those it takes, and for a
            class that does not import or is no subclass of what its section takes, naming
            the section and the class.
    """
    parser = _parser(command)
    forms = [option for action in parser._actions for option in action.option_strings
             if option.endswith(".help")]
    name, _, given = words[0].partition("=")
    if name not in forms:
        raise ConfigError(f"{name} is no help form of lightning-nas {command}; it takes "
                          f"{', '.join(forms)} (each followed by a class)")
    value = given or (words[1] if len(words) > 1 else "")
    try:
        parser.parse_args(words)
    except SystemExit as done:  # the help printed: LightningCLI's parser exits 0
        return int(done.code or 0)
    except argparse.ArgumentError as err:
        detail = str(err).removeprefix(f"{name}: ")
        raise ConfigError(f"{name} {value}: the {name[2:-5]} section takes no class "
                          f"{value!r} ({detail}); give a class by its import path "
                          f"(my_pkg.MyClass) or, for Lightning's and torch's own, its name"
                          ) from None
    return 0

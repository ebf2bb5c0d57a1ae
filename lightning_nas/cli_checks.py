"""The ``lightning-nas`` command line's checks, before any file is read: the argparse types
of its counts (``top_count``, ``thread_count``), an option that is neither the command's nor
a config override (``check_flags``, naming the close ones), LightningCLI's ``--config FILE``
(``check_config_flag``), and the words among the overrides that are none
(``check_overrides``).

Example:
    >>> top_count("3"), thread_count("2")
    (3, 2)
    >>> top_count("-1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a whole number >= 0, got '-1'
"""

from __future__ import annotations

import argparse
import difflib

from lightning_nas.errors import ConfigError

__all__ = ["OVERRIDE_EXAMPLES", "check_command", "check_config_flag", "check_flag_values",
           "check_flags", "check_overrides", "subparser", "thread_count", "top_count"]


def top_count(text: str) -> int:
    """A ``--top`` count: a whole number >= 0 (a negative one cut rows off the end)."""
    return _whole(text, 0)


def thread_count(text: str) -> int:
    """A ``--threads`` count: a whole number >= 1 (was: 0 refused naming ``None``, the
    Python default, which no command line gives)."""
    return _whole(text, 1, " (torch threads; leave it out for the default)")


def _whole(text: str, low: int, what: str = "") -> int:
    """``text`` as a whole number >= ``low``, else argparse's error naming it and the range."""
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {low}{what}, got {text!r}")
    return value


#: dotted overrides each command takes, for the error of a misspelt option or another word
OVERRIDE_EXAMPLES = {"search": "--search.budget=5 or --trainer.max_epochs=2",
                      "oneshot": "--oneshot.num_candidates=5 or --trainer.max_epochs=2",
                      "fit": "--trainer.max_epochs=2 or --model.width=64",
                      "finetune": "--trainer.accelerator=cpu or --model.lr=5e-4"}


def subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of ``command`` (its errors print its own usage line)."""
    return next(action.choices[command] for action in parser._actions
                if isinstance(action, argparse._SubParsersAction))


def check_command(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Exit 2 for a command that is none, naming the close one and every command (was:
    argparse's "invalid choice: 'serach' (choose from ...)", no suggestion).

    Example:
        ``lightning-nas serach a.yaml``: "invalid choice: 'serach'; did you mean search?
        commands: search, oneshot, show, report, export, finetune, fit"
    """
    if not argv or argv[0].startswith("-"):
        return  # `--help`, or no command: argparse's own words
    commands = list(next(action.choices for action in parser._actions
                         if isinstance(action, argparse._SubParsersAction)))
    if argv[0] in commands:
        return
    word = argv[0].replace("-", "").replace("_", "").lower()
    close = [name for name in commands if word == name] or difflib.get_close_matches(
        word, commands, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    parser.error(f"invalid choice: {argv[0]!r}; {hint}commands: {', '.join(commands)}")


def check_flag_values(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Exit 2 for a value given to a flag that takes none (``--from_scratch=yes``), naming
    it (was: argparse's "ignored explicit argument 'yes'", which read as if the run went on
    without it).

    Example:
        ``lightning-nas finetune runs/a --from_scratch=yes``: "--from_scratch takes no
        value, got 'yes': give --from_scratch alone (or leave it out)"
    """
    if not argv or argv[0].startswith("-"):
        return
    command_parser = subparser(parser, argv[0])
    flags = {flag for action in command_parser._actions if action.nargs == 0
             for flag in action.option_strings if flag.startswith("--") and flag != "--help"}
    for word in argv[1:]:
        name, _, value = word.partition("=")
        if name in flags and "=" in word:
            command_parser.error(f"{name} takes no value, got {value!r}: give {name} alone "
                                 f"(or leave it out)")


def check_config_flag(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Exit 2 for LightningCLI's ``--config FILE`` (``-c``): config files are positional
    (was: "unrecognized option --config; did you mean --print_config?")."""
    flag = next((word.split("=", 1)[0] for word in argv[1:]
                 if word.split("=", 1)[0] in ("--config", "-c")), None)
    if flag and argv[0] in ("search", "oneshot", "fit"):
        files = "FILE" if argv[0] == "oneshot" else "FILE [FILE ...]"
        subparser(parser, argv[0]).error(f"{flag} is not needed here: give config files as "
                                          f"positional arguments (lightning-nas {argv[0]} "
                                          f"{files})")


def check_flags(parser: argparse.ArgumentParser, command: str, unknown: list[str]) -> None:
    """Exit 2 for an option that is neither the command's nor a config override: a
    misspelt flag (``--from-scratch``, ``--budget``) names the command's own flags and the
    close ones, instead of failing later as an unknown config section."""
    if not any(arg.startswith("--") for arg in unknown):
        return  # nothing to check: `show` imports no training stack
    from lightning_nas.config.sections import LIGHTNINGCLI_KEYS, TOP_KEYS
    from lightning_nas.search.settings import SearchSettings

    command_parser = subparser(parser, command)
    flags = [flag for action in command_parser._actions for flag in action.option_strings
             if flag.startswith("--") and flag != "--help"]
    for arg in unknown:
        name = arg.split("=", 1)[0]
        if not name.startswith("--") or name[2:] in (*TOP_KEYS, *LIGHTNINGCLI_KEYS) \
                or name == "--" != arg:  # `--=1`: an override without a key, named as such
            continue
        starts = [flag for flag in flags if flag.startswith(name) and len(name) > 2]
        close = starts or difflib.get_close_matches("--" + name[2:].replace("-", "_"), flags,
                                                    n=1, cutoff=0.6)
        if not close and command == "search" and name[2:] in SearchSettings.keys():
            close = [f"--search.{name[2:]}"]
        short = " (an abbreviation is not taken: give the option whole)" if starts else ""
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        example = OVERRIDE_EXAMPLES.get(command)
        overrides = f"; config values are set with dotted overrides, e.g. {example}" \
            if example else ""
        command_parser.error(f"unrecognized option {name}{short}; {hint}options of {command}: "
                             f"{', '.join(flags) or 'none'}{overrides}")


def check_overrides(command: str, overrides: list[str]) -> None:
    """Refuse, before any file is read, an argument among the overrides that is none: a
    second config file of ``oneshot`` (it takes one; search and fit merge several), or any
    other word, naming an override the command takes."""
    from lightning_nas.config.overrides import split_overrides

    example = OVERRIDE_EXAMPLES[command]
    if command == "oneshot":
        extra = [arg for i, arg in enumerate(overrides) if arg.endswith((".yaml", ".yml"))
                 and not (i and overrides[i - 1].startswith("--") and "=" not in overrides[i - 1])]
        if extra:
            raise ConfigError(f"oneshot takes exactly one config file (search and fit merge "
                              f"several), got also {', '.join(map(repr, extra))}; merge them "
                              f"into one, or give their values as overrides, e.g. {example}")
    split_overrides(overrides, example)

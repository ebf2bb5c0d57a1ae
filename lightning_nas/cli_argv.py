"""The ``lightning-nas`` command line's words before argparse reads them: the config
overrides set apart (``set_apart_overrides``), and LightningCLI's ``--print_config=FLAGS``
(``print_config_value``), which the commands' ``--print_config`` takes no value of.

Example:
    >>> set_apart_overrides(["search", "a.yaml", "--optimizer={class_path: SGD}", "--print_config"])
    (['search', 'a.yaml', '--print_config'], ['--optimizer={class_path: SGD}'])
    >>> print_config_value(["fit", "a.yaml", "--print_config=skip_null"])
    (['fit', 'a.yaml', '--print_config'], 'skip_null')
"""

from __future__ import annotations

from lightning_nas.config.overrides import open_brackets

__all__ = ["SPLIT_KEYS", "TOP_KEYS", "print_config_value", "set_apart_overrides"]

#: the config's top-level keys (``config.sections.TOP_KEYS``, which imports the training stack):
#: ``--seed_everything 3`` is an override as ``--a.b v`` is
TOP_KEYS = ("model", "data", "trainer", "search", "oneshot", "seed_everything")
#: split off too: LightningCLI's optimizer sections (``cli_optim.OPTIM_KEYS``), so that
#: ``--optimizer={class_path: ...}`` is no config file (argparse takes a word holding a space
#: for a positional) and ``finetune``'s ``--optimizer=Adam`` no abbreviated
#: ``--optimizer_state``
SPLIT_KEYS = (*TOP_KEYS, "optimizer", "lr_scheduler")


def set_apart_overrides(argv: list[str]) -> tuple[list[str], list[str]]:
    """Arguments for argparse, and the ``--a.b=v`` / ``--a.b v`` overrides (a dot in the
    option's name, a top-level key or an optimizer section) wherever they stand, so flags
    may follow overrides."""
    keep: list[str] = []
    overrides: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0]
        # was: `--seed_everything 3 CFG` gave its 3 to the config files ("no value")
        if arg.startswith("--") and ("." in name or name[2:] in SPLIT_KEYS):
            overrides.append(arg)
            if "=" not in arg and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                i += 1
                overrides.append(argv[i])
            # a value a shell cut at a space (--a.b=[8, 16] unquoted): its words kept with
            # it, for split_overrides to refuse (was: taken for config files)
            value = [arg.split("=", 1)[1] if "=" in arg else overrides[-1]]
            while open_brackets(" ".join(value)) > 0 and i + 1 < len(argv) and \
                    not argv[i + 1].startswith("--"):
                i += 1
                overrides.append(argv[i])
                value.append(argv[i])
        else:
            keep.append(arg)
        i += 1
    return keep, overrides


#: the commands that take ``--print_config``
_PRINTING = ("search", "oneshot", "fit")


def print_config_value(argv: list[str]) -> tuple[list[str], str | None]:
    """``argv`` with a ``--print_config=VALUE`` of a command that prints its config (as
    LightningCLI takes ``--print_config=skip_null``) made the bare flag, and that value (None
    where there is none), for the command to refuse in its own words (was: argparse's
    "ignored explicit argument 'skip_null'").

    Example:
        >>> print_config_value(["search", "a.yaml", "--print_config"])
        (['search', 'a.yaml', '--print_config'], None)
    """
    valued = next((word for word in argv if word.startswith("--print_config=")), None)
    if valued is None or not argv or argv[0] not in _PRINTING:
        return argv, None
    return (["--print_config" if word == valued else word for word in argv],
            valued.split("=", 1)[1])

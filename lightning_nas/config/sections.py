"""The top-level sections of a config, and those each command takes.

A search config has ``model``, ``data``, ``trainer``, ``seed_everything``, a ``search:``
block and LightningCLI's ``optimizer`` / ``lr_scheduler`` (``config.cli_optim``); a one-shot
config a ``oneshot:`` block instead, and no optimizer sections (its supernet has its own);
``fit`` reads a search config. ``LIGHTNINGCLI_KEYS`` are the keys LightningCLI writes that a
command takes only as null.

Example:
    >>> command_sections("oneshot")
    ('model', 'data', 'trainer', 'oneshot', 'seed_everything')
    >>> print(unknown_section("modle", "search"))  # doctest: +NORMALIZE_WHITESPACE
    unknown config section 'modle'; did you mean 'model'? valid keys: model, data, trainer,
    search, seed_everything, optimizer, lr_scheduler; null only, as LightningCLI writes them:
    ckpt_path, weights_only
"""

from __future__ import annotations

from lightning_nas.config.cli_optim import OPTIM_KEYS
from lightning_nas.errors import ConfigError, NASError, did_you_mean

__all__ = ["COMMANDS", "LIGHTNINGCLI_KEYS", "TOP_KEYS", "command_sections", "not_taken",
           "unknown_section"]

#: every command's sections together (the command line splits ``--seed_everything 3`` off
#: as an override by these, ``cli_argv.TOP_KEYS``)
TOP_KEYS = ("model", "data", "trainer", "search", "oneshot", "seed_everything")
#: keys of the config LightningCLI writes (``fit --print_config``, every run's
#: ``config.yaml``) taken only as null, and why another value cannot be
#: (``optimizer`` and ``lr_scheduler``: taken by a search and a fit, ``cli_optim``; a one-shot
#: run's supernet has its own optimizers)
LIGHTNINGCLI_KEYS = {
    "optimizer": "LightningCLI's automatic configure_optimizers, which a one-shot run does not "
                 "apply: give the model its optimizer (an OptimizerCallable init argument is "
                 "built and searched like any other)",
    "lr_scheduler": "LightningCLI's configure_optimizers, not applied by a one-shot run: the "
                    "model gives its own",
    "ckpt_path": "the checkpoint LightningCLI's fit resumes from; every trial trains from "
                 "the start, and a search resumes from its run folder with the same command",
    "weights_only": "how LightningCLI's fit loads ckpt_path, which lightning-nas does not take",
}
#: how ``fit`` and ``oneshot`` resume, which take a ``--ckpt_path`` of their own folder's, said
#: for a config's ``ckpt_path`` (was: "every trial (and `fit`) trains from the start, and a
#: search resumes ...", for each command)
_CKPT_PATH_OF = {
    "fit": "lightning-nas fit trains from the start, and resumes a fit of its own that was "
           "interrupted with --ckpt_path last|PATH (a checkpoint of its folder)",
    "oneshot": "a one-shot run trains from the start, and resumes one that died part-way "
               "with --ckpt_path last|PATH",
}
#: the sections each command takes a value in (a ``search:`` block gives ``fit`` only its
#: ``monitor`` and ``mode``)
COMMANDS = {
    "search": ("model", "data", "trainer", "search", "seed_everything", *OPTIM_KEYS),
    "oneshot": ("model", "data", "trainer", "oneshot", "seed_everything"),
    "fit": ("model", "data", "trainer", "seed_everything", "search", *OPTIM_KEYS),
}


def command_sections(command: str) -> tuple[str, ...]:
    """The sections ``command`` (``search``, ``oneshot``, ``fit``) takes a value in.

    Example:
        >>> command_sections("search")[-2:]
        ('optimizer', 'lr_scheduler')

    Raises:
        ValueError: for another command.
    """
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}; valid commands: {', '.join(COMMANDS)}")
    return COMMANDS[command]


def unknown_section(key: str, command: str) -> NASError:
    """The ``ConfigError`` of a section ``key`` that ``command`` does not take, listing those
    it takes, then the ``LIGHTNINGCLI_KEYS`` it takes only as null.

    Example:
        >>> str(unknown_section("search", "oneshot")).startswith("unknown config section")
        True
    """
    sections = command_sections(command)
    null_only = [k for k in LIGHTNINGCLI_KEYS if k not in sections]  # (was: left out: a
    # misspelt `ckpt_pth: null` had no did-you-mean, and ckpt_path seemed refused)
    # another command's section: that command named (was: the sections alone, for a
    # one-shot config given to `lightning-nas search`)
    other = key if key in ("search", "oneshot") else None
    return ConfigError(f"unknown config section {key!r}; "
                       f"{did_you_mean(key, [*sections, *null_only])}valid keys: "
                       f"{', '.join(sections)}; null only, as LightningCLI writes them: "
                       f"{', '.join(null_only)}" + (
                           f"; {key!r} is a section of lightning-nas {other}'s configs (run "
                           f"one with lightning-nas {other} CONFIG)" if other else ""))


def not_taken(key: str, command: str) -> str:
    """Why ``command`` takes the LightningCLI key ``key`` (of ``LIGHTNINGCLI_KEYS``) only as
    null: ``ckpt_path`` says how that command resumes.

    Example:
        >>> not_taken("ckpt_path", "oneshot").split("; ")[1].endswith("--ckpt_path last|PATH")
        True
    """
    why = LIGHTNINGCLI_KEYS[key]
    if key == "ckpt_path" and command in _CKPT_PATH_OF:
        why = f"{why.split('; ')[0]}; {_CKPT_PATH_OF[command]}"
    return why

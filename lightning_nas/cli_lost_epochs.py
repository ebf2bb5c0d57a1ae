"""``lightning-nas search``'s warning that a Trainer ``max_epochs`` the user gave is lost: a
scheduler's ``search.max_epochs`` is every trial's ``max_epochs``, over the Trainer's. The
Trainer's value may come from ``--trainer.max_epochs=3``, a whole ``--trainer='{max_epochs:
3}'`` or ``--trainer=FILE``, or a config file after the first (``search base.yaml
fast.yaml``); each is warned of (was: the dotted form alone).

Example:
    >>> trainer_epochs_given([], ["--trainer={max_epochs: 3}"])
    ('trainer.max_epochs=3 (of --trainer={max_epochs: 3})', 3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_nas.config.load import apply_overrides
from lightning_nas.config.overrides import split_overrides
from lightning_nas.config.yamlio import load_yaml
from lightning_nas.errors import ConfigError
from lightning_nas.user_warnings import warn_user

if TYPE_CHECKING:
    from lightning_nas.search.facade import Search

__all__ = ["trainer_epochs_given", "warn_lost_trainer_epochs"]


def trainer_epochs_given(configs: Sequence[str | Path], overrides: Sequence[str]
                         ) -> tuple[str, Any] | None:
    """The last Trainer ``max_epochs`` given over the first config file, as the warning
    names it, and its value: of a later config file that sets no ``search.max_epochs`` of
    its own (one that sets both means the pair), else of the command line's overrides
    (the dotted form as typed); None where none is given.

    Example:
        >>> trainer_epochs_given([], ["--trainer.max_epochs", "3"])
        ('--trainer.max_epochs=3', '3')
    """
    given: tuple[str, Any] | None = None
    for path in list(configs)[1:]:
        try:
            part = load_yaml(Path(path).read_text(), source=str(path))
        except (OSError, ConfigError):  # (read as a run reads it: said there)
            continue
        trainer = part.get("trainer") if isinstance(part, Mapping) else None
        search = part.get("search") if isinstance(part, Mapping) else None
        if (isinstance(trainer, Mapping) and "max_epochs" in trainer
                and not (isinstance(search, Mapping) and "max_epochs" in search)):
            given = (f"trainer.max_epochs={trainer['max_epochs']} (of {path})",
                     trainer["max_epochs"])
    config_path = Path(configs[-1]) if configs else None
    for key, text in split_overrides(overrides):
        if key == "trainer.max_epochs":
            given = (f"--trainer.max_epochs={text}", text)
        elif key == "trainer":  # a whole mapping or a file of one, merged over the config's
            try:
                whole = apply_overrides({}, [f"--trainer={text}"], config_path=config_path)
            except ConfigError:  # (refused as the config is read)
                continue
            if "max_epochs" in (whole.get("trainer") or {}):
                value = whole["trainer"]["max_epochs"]
                given = (f"trainer.max_epochs={value} (of --trainer={text})", value)
    return given


def warn_lost_trainer_epochs(search: Search, configs: Sequence[str | Path],
                             overrides: Sequence[str]) -> None:
    """Warn where a Trainer ``max_epochs`` given on the command line or in a later config
    file (``trainer_epochs_given``) is lost: a scheduler's ``search.max_epochs`` is every
    trial's ``max_epochs``, over the Trainer's (documented for a config's pair; was: the
    command line's lost without a word, then the dotted form alone warned).

    Example:
        >>> warn_lost_trainer_epochs(search, ["search.yaml"], ["--trainer.max_epochs=3"])
        ... # doctest: +SKIP
    """
    stopping = search.settings.early_stopping
    given = trainer_epochs_given(configs, overrides)
    if (given is None or not stopping.active or stopping.max_epochs is None
            or search.trainer.get("max_epochs") == stopping.max_epochs):
        return
    rule = stopping.scheduler
    name = rule if isinstance(rule, str) else type(rule).__name__
    said, value = given
    warn_user(f"{said} is not used: under scheduler {name!r} the search's max_epochs "
              f"(search.max_epochs: {stopping.max_epochs}) is every trial's max_epochs, over "
              f"the Trainer's; give --search.max_epochs={value} to train the trials {value} "
              f"epochs")

"""The Trainer settings of a search's trials, a fit's and a one-shot run's beside the user's:
``TRIAL_TRAINER_DEFAULTS`` (progress bars and model summaries off) under the user's settings,
a ``None`` that LightningCLI writes for an argument left at its default taken as no setting.

Example:
    >>> with_trial_defaults({"max_epochs": 2})
    {'enable_progress_bar': False, 'enable_model_summary': False, 'max_epochs': 2}
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ProgressBar

from lightning_nas.config.instantiate import import_object
from lightning_nas.config.nodes import is_node, target_path
from lightning_nas.errors import ConfigError

__all__ = ["TRIAL_TRAINER_DEFAULTS", "checkpointing", "trainer_defaults", "with_trial_defaults"]

#: Trainer settings lightning_nas uses unless the user's trainer settings say otherwise.
TRIAL_TRAINER_DEFAULTS: dict[str, Any] = {
    "enable_progress_bar": False,
    "enable_model_summary": False,
}


def with_trial_defaults(trainer: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    """``trainer`` over ``TRIAL_TRAINER_DEFAULTS`` and the caller's ``defaults``; a ``None``
    there for an argument whose default is ``None`` (what LightningCLI's ``--print_config``
    writes for one left at its default: ``logger``, ``default_root_dir``,
    ``enable_checkpointing``) is left out, so the default applies (lightning_nas's, else
    Lightning's). A progress bar among the user's callbacks turns progress bars on, as in
    Lightning: ``enable_progress_bar: false`` is then not a default (was: Lightning refused
    a ``TQDMProgressBar`` the user gave for a ``false`` the user never wrote).

    Example:
        >>> with_trial_defaults({"logger": None, "max_epochs": 2}, logger=False)["logger"]
        False
        >>> bar = {"class_path": "lightning.pytorch.callbacks.TQDMProgressBar"}
        >>> "enable_progress_bar" in with_trial_defaults({"callbacks": [bar]})
        False
    """
    given = {k: v for k, v in trainer.items() if not (v is None and k in _none_default_args())}
    defaults = {**TRIAL_TRAINER_DEFAULTS, **defaults}
    if _progress_bar_given(trainer.get("callbacks")):
        defaults.pop("enable_progress_bar", None)
    return {**defaults, **given}


def _progress_bar_given(callbacks: Any) -> bool:
    """Whether ``callbacks`` (a Trainer's ``callbacks`` setting: objects, or config nodes,
    whose class is imported) hold a ``ProgressBar``; a node that does not import is left to
    the Trainer's build, which names it."""
    for item in callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]:
        if is_node(item):
            try:
                item = import_object(target_path(item))
            except ConfigError:
                continue
        if isinstance(item, ProgressBar) or (
                inspect.isclass(item) and issubclass(item, ProgressBar)):
            return True
    return False


@functools.lru_cache(maxsize=1)
def trainer_defaults() -> dict[str, Any]:
    """The defaults of ``lightning.pytorch.Trainer``'s keyword arguments, as its signature
    has them (what Lightning takes for an argument left out).

    Example:
        >>> trainer_defaults()["check_val_every_n_epoch"], trainer_defaults()["max_epochs"]
        (1, None)
    """
    return {name: p.default for name, p in inspect.signature(pl.Trainer.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}


def _none_default_args() -> frozenset[str]:
    """The Trainer arguments whose default is ``None`` (a ``None`` given is no setting;
    ``check_val_every_n_epoch=None`` is one: its default is 1)."""
    return frozenset(name for name, default in trainer_defaults().items() if default is None)


def checkpointing(trainer: dict[str, Any]) -> bool:
    """Whether the Trainer writes checkpoints: ``enable_checkpointing`` left out or ``None``
    is Lightning's default, on.

    Example:
        >>> checkpointing({"enable_checkpointing": None}), checkpointing({})
        (True, True)
        >>> checkpointing({"enable_checkpointing": False})
        False
    """
    return trainer.get("enable_checkpointing") is not False

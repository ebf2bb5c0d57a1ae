"""The checks of ``Search``'s own arguments, run when it is made, before anything is built:
their kinds (``check_arguments``: ``trainer=Trainer(...)`` named, not "not iterable") and
``Trainer.fit``'s data keywords among its settings (``check_fit_keywords``). The checks of
what the arguments say (settings, space, model, data, Trainer) are ``facade_checks``'.

Each refusal is a ``ConfigError`` naming the argument and what it takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.config.instantiate import short
from lightning_nas.errors import ConfigError
from lightning_nas.search.settings import SearchSettings

__all__ = ["check_arguments", "check_fit_keywords"]

#: what each mapping argument of ``Search`` takes, for its error
_MAPPINGS = {"trainer": "Trainer keyword arguments (trainer={'max_epochs': 3})",
             "model_init_args": "keyword arguments for the model class",
             "data_init_args": "keyword arguments for the data class",
             "config": "the full config the search came from"}


def check_arguments(settings: Any, on_trial_end: Any, **mappings: Any) -> None:
    """Refuse an argument of ``Search`` of the wrong kind, naming it and what it takes
    (before anything is built: ``trainer=Trainer(...)`` failed "not iterable"); a mapping is
    anything with ``keys()`` (a jsonargparse ``Namespace`` too).

    Args:
        settings: the ``settings`` argument (a ``SearchSettings`` or None).
        on_trial_end: the ``on_trial_end`` argument (a callable or None).
        **mappings: the mapping arguments by name (``trainer``, ``model_init_args``,
            ``data_init_args``, ``config``), each a mapping or None.

    Raises:
        ConfigError: naming the argument, what it takes and what it got.
    """
    for name, value in mappings.items():
        if value is not None and not isinstance(value, Mapping) and not hasattr(value, "keys"):
            raise ConfigError(f"{name} must be a mapping of {_MAPPINGS[name]}, got "
                              f"{type(value).__name__} {short(value)}")
    if settings is not None and not isinstance(settings, SearchSettings):
        raise ConfigError(f"settings must be a SearchSettings, got {type(settings).__name__} "
                          f"{short(settings)}; give single settings as keyword arguments "
                          f"(Search(..., budget=3))")
    if on_trial_end is not None and not callable(on_trial_end):
        raise ConfigError(f"on_trial_end must be callable with each finished trial's "
                          f"TrialResult, got {short(on_trial_end)}")


#: ``Trainer.fit``'s data keywords, which a Lightning user may give ``Search`` too
_FIT_KEYWORDS = ("datamodule", "train_dataloaders", "val_dataloaders")


def check_fit_keywords(options: Mapping[str, Any]) -> None:
    """Refuse ``Trainer.fit``'s data keywords among ``Search``'s ``**options`` (was:
    "unknown search setting 'datamodule'", listing the search settings, none about data).

    Example:
        >>> check_fit_keywords({"datamodule": None})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: Search takes no datamodule= (Trainer.fit's): give ...
    """
    for key in (key for key in _FIT_KEYWORDS if key in options):
        loaders = "" if key == "datamodule" else (
            "; a trial takes no DataLoader objects (each fit asks its data for fresh ones): "
            "wrap your datasets with LightningDataModule.from_datasets(train, val, "
            "batch_size=...) (trials in the search's own process only), or write a "
            "LightningDataModule class")
        raise ConfigError(f"Search takes no {key}= (Trainer.fit's): give the data as data= (a "
                          f"LightningDataModule instance, class or import path, or a callable "
                          f"arch -> LightningDataModule){loaders}")

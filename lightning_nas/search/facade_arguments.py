"""The checks of ``Search``'s own arguments, run when it is made, before anything is built:
their kinds (``check_arguments``: ``trainer=Trainer(...)`` named, not "not iterable") and
``Trainer.fit``'s data keywords among its settings (``check_fit_keywords``), and its
``space`` read as a ``SearchSpace`` (``space_argument``: a mapping, a ``SearchSpace`` or a
YAML file's path). The checks of what the arguments say (settings, space, model, data,
Trainer) are ``facade_checks``'.

Each refusal is a ``ConfigError`` naming the argument and what it takes (a space that is no
mapping, a ``SpaceError``; a path to no file, a ``FileNotFoundError``).

Example:
    >>> space_argument({"k": {"choice": [3, 5]}}).size()
    2
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

from lightning_nas.config.instantiate import short
from lightning_nas.config.interpolations import check_space_file
from lightning_nas.config.yamlio import load_yaml
from lightning_nas.errors import ConfigError, SpaceError
from lightning_nas.run_folder import user_path
from lightning_nas.search.settings import SearchSettings
from lightning_nas.space import SearchSpace

__all__ = ["check_arguments", "check_fit_keywords", "space_argument"]

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
    if on_trial_end is not None and (why := _cannot_take_one(on_trial_end)):
        # (was: trial 1 trained, then the call's TypeError came out of .run())
        name = getattr(on_trial_end, "__qualname__", None) or short(on_trial_end)
        raise ConfigError(f"on_trial_end must be callable with each finished trial's "
                          f"TrialResult as its one argument (on_trial_end(result)); {name} "
                          f"cannot take it: {why}")


def _cannot_take_one(hook: Any) -> str:
    """Why ``hook`` cannot be called with one positional argument ("" where it can, or
    where its signature is not known: a builtin without one).

    Example:
        >>> _cannot_take_one(lambda: None), _cannot_take_one(print)
        ('too many positional arguments', '')
    """
    try:
        signature = inspect.signature(hook)
    except (TypeError, ValueError):  # no signature to read: called as given
        return ""
    try:
        signature.bind(None)
    except TypeError as err:
        return str(err)
    return ""


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


def space_argument(space: Any) -> SearchSpace:
    """The ``space`` argument of ``Search`` as a ``SearchSpace``: one as it is, a mapping
    (``SearchSpace.from_dict``), or a ``str`` or ``os.PathLike`` naming a YAML file of one,
    read as a config's ``search.space`` file is (a leading ``~`` expanded; a relative path
    from the current folder). Was: a file path refused, "must be a non-empty mapping".

    Example:
        >>> space_argument({"k": {"choice": [3, 5]}}).size()
        2
        >>> space_argument("no/such/space.yaml")
        Traceback (most recent call last):
        ...
        FileNotFoundError: space file no/such/space.yaml not found (looked in the current ...

    Raises:
        FileNotFoundError: a path to no file, naming it.
        ConfigError: a path to a folder, or to a file holding no mapping, naming it.
        SpaceError: any other value that is no mapping (a ``str`` of YAML text too: it
            points to ``SearchSpace.from_yaml``), or a space that breaks its rules.
    """
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, str) and not _names_file(space):
        raise SpaceError(f"a search space must be a non-empty mapping, got {space!r}: give "
                         f"space= a mapping ({{'width': {{'choice': [16, 32]}}}}), a "
                         f"SearchSpace (SearchSpace.from_yaml(text) reads YAML text) or the "
                         f"path of a YAML file of one")
    if not isinstance(space, str | os.PathLike):
        return SearchSpace.from_dict(space)  # (not a mapping: its own error)
    path = user_path(space)
    if path.is_dir():  # (as from_yaml and a config's search.space file)
        raise ConfigError(f"space file {space} is a folder; name the YAML file (.yaml or "
                          f".yml) of the space in it")
    if not path.is_file():
        where = (f" ({path})" if str(path) != str(space) else "") if path.is_absolute() else (
            f" (looked in the current folder, {os.getcwd()})")
        raise FileNotFoundError(f"space file {space} not found{where}")
    read = load_yaml(path.read_text(), source=str(path))
    if not (isinstance(read, Mapping) and read):
        raise ConfigError(f"space file {space} must hold a non-empty mapping of space keys "
                          f"(width: {{choice: [16, 32]}}), got {read!r}")
    check_space_file(read, space)  # as --search.space=FILE (was: taken as written)
    return SearchSpace.from_dict(read)


def _names_file(text: str) -> bool:
    """Whether ``text`` names a file or folder: one that exists, else a one-line name
    ending in ``.yaml`` or ``.yml``, or starting with ``~`` (not YAML text, ``w: {...}``)."""
    if not text.strip() or "\n" in text:
        return False
    try:
        if user_path(text).exists():
            return True
    except (OSError, ValueError):  # a name too long, a NUL: no file
        return False
    return ": " not in text and (text.endswith((".yaml", ".yml")) or text.startswith("~"))

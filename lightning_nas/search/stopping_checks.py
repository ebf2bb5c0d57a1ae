"""Warnings of an ``EarlyStopping`` (the Trainer's, an object or a config node, or the
module's ``configure_callbacks()``) that judges another metric than a search's (or a fit's,
a sweep's) monitor, or that monitor the other way round (``warn_stopping_monitor``, its
texts ``stopping_texts``): before a search trains, before a fit, before a sweep's first job.

Example:
    >>> node = {"_target_": "lightning.pytorch.callbacks.EarlyStopping", "monitor": "acc"}
    >>> stopping_texts([("callbacks.early_stopping", node)], "acc", "max", "sweep")[0][:35]
    "callbacks.early_stopping monitors '"
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from lightning_nas.errors import ConfigError
from lightning_nas.search.rule_checks import callbacks_of
from lightning_nas.search.setting_checks import in_words
from lightning_nas.user_warnings import warn_user

__all__ = ["stopping_texts", "warn_stopping_monitor"]


def _monitor_and_mode(item: Any) -> tuple[Any, Any, bool]:
    """An ``EarlyStopping`` object's or config node's ``monitor`` and ``mode``, and whether
    the mode is its class's default (not given in the node)."""
    from lightning_nas.config.instantiate import import_object
    from lightning_nas.config.nodes import is_node, node_args, target_path

    if not is_node(item):
        return getattr(item, "monitor", None), getattr(item, "mode", None), False
    args = node_args(item)
    if "mode" in args:
        return args.get("monitor"), args["mode"], False
    try:
        default = inspect.signature(import_object(target_path(item))).parameters.get("mode")
    except (ConfigError, TypeError, ValueError):  # no signature to read: not judged
        return args.get("monitor"), None, True
    return args.get("monitor"), None if default is None else default.default, True


def warn_stopping_monitor(trainer: Mapping[str, Any], monitor: str, mode: str,
                          module_callbacks: object = None, what: str = "search",
                          say: bool = True) -> list[str]:
    """Warn of each ``EarlyStopping`` (the Trainer's, an object or a config node, or the
    module's ``configure_callbacks()``) that judges another metric than the search's
    ``monitor``, or the same one the other way round (``mode``; EarlyStopping's default is
    ``'min'``, so one on ``val_acc`` without ``mode: max`` stops trials while they improve).
    A warning, not an error: stopping on ``val_loss`` and scoring ``val_acc`` may be meant.

    Args:
        trainer: the Trainer arguments every trial gets (its ``callbacks`` read).
        monitor: the search's monitor (its first objective).
        mode: ``"max"`` or ``"min"``, the search's.
        module_callbacks: what the model's ``configure_callbacks()`` returns.
        what: ``"search"``, or what else trains with them (``"fit"``: its words).
        say: warn of them (False: only return them).

    Returns:
        The warnings' texts (empty: each one judges the search's monitor, its way).

    Example:
        >>> import warnings
        >>> from lightning.pytorch.callbacks import EarlyStopping
        >>> with warnings.catch_warnings(record=True):
        ...     warnings.simplefilter("always")
        ...     said = warn_stopping_monitor({"callbacks": [EarlyStopping("val_loss")]},
        ...                                  "val_acc", "max")
        >>> said[0][:70]
        "trainer.callbacks[0] (EarlyStopping) monitors 'val_loss' (min), the se"
    """
    from lightning.pytorch.callbacks import EarlyStopping

    found = callbacks_of(trainer.get("callbacks"), EarlyStopping) + callbacks_of(
        module_callbacks, EarlyStopping, "the model's configure_callbacks()")
    said = stopping_texts(found, monitor, mode, what)
    for text in said if say else ():
        warn_user(text)
    return said


def stopping_texts(found: Sequence[tuple[str, Any]], monitor: str, mode: str,
                   what: str = "search", others: bool = True) -> list[str]:
    """The texts of ``warn_stopping_monitor`` for the ``EarlyStopping`` objects or config
    nodes ``found`` (each with where it is, as ``callbacks_of`` gives them); ``what``:
    ``"search"``, ``"sweep"`` (a Hydra sweep's jobs) or what else trains with them;
    ``others``: also those that monitor another metric than ``monitor``.

    Example:
        >>> node = {"_target_": "lightning.pytorch.callbacks.EarlyStopping", "monitor": "acc"}
        >>> stopping_texts([("callbacks.early_stopping", node)], "acc", "max", "sweep")[0][:58]
        "callbacks.early_stopping monitors 'acc' with mode 'min' (E"
    """
    said = []
    one, they = {"search": ("a trial", "trials stop"), "sweep": ("a job", "jobs stop")}.get(
        what, (f"the {what}", f"the {what} stops"))
    for where, item in found:
        theirs, their_mode, default = _monitor_and_mode(item)
        if not isinstance(theirs, str) or their_mode not in ("min", "max"):
            continue  # not given, or not a name: Lightning's own checks say it
        if theirs != monitor and others:
            ours = f"monitor={monitor!r}, mode={mode!r}"  # (was: a config's words from Python)
            said.append(
                f"{where} monitors {theirs!r} ({their_mode}), the {what} {monitor!r} "
                f"({mode}): {one} stops when {theirs} stops improving, and is scored on "
                f"{monitor} at its best epoch of those it trained; if that is not meant, "
                f"give it {in_words(f'monitor: {monitor}, mode: {mode}', ours)}")
        elif theirs == monitor and their_mode != mode:
            how = " (EarlyStopping's default)" if default else ""
            said.append(
                f"{where} monitors {theirs!r} with mode {their_mode!r}{how}, but the {what} "
                f"{'maximises' if mode == 'max' else 'minimises'} it: {they} while "
                f"{theirs} improves, after its patience; give it "
                f"{in_words(f'mode: {mode}', f'mode={mode!r}')}")
    return said

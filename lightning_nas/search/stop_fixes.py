"""The settings whose change fixes the error that stopped a search before any trial completed.

A search stopped at trial 1 by an error every trial would hit is resumed by the same
command once its cause is fixed; a changed setting is refused ("trials that ran with
other settings"), but for the fix of that error: a changed ``trainer.callbacks`` for a
callback's monitor that nothing logs (``CallbackMonitors``), a changed
``val_check_interval``, ``check_val_every_n_epoch``, ``limit_*_batches`` or data for a
Trainer setting the data's batches refuse (``BatchSettingError``).

Example:
    >>> stop_fixes("BatchSettingError: trainer.val_check_interval=1000 is more than ...")[0]
    'trainer.val_check_interval'
    >>> stop_fixes("ValueError: bad")
    ()
"""

from __future__ import annotations

from typing import Any

from lightning_nas.search.batch_settings import FIXES, is_batch_setting_error
from lightning_nas.search.callback_monitors import is_callback_monitor_error

__all__ = ["fixable_settings", "said_fixes", "stop_fixes"]


def stop_fixes(line: str) -> tuple[str, ...]:
    """The settings (dotted paths) whose change fixes the stop by the error ``line``."""
    if is_callback_monitor_error(line):
        return ("trainer.callbacks",)
    return FIXES if is_batch_setting_error(line) else ()


def said_fixes(keys: tuple[str, ...]) -> str:
    """``keys`` as a stop says them: ``'a, b or c'``.

    Example:
        >>> said_fixes(("trainer.callbacks",)), said_fixes(("a", "b", "c"))
        ('trainer.callbacks', 'a, b or c')
    """
    return keys[-1] if len(keys) == 1 else f"{', '.join(keys[:-1])} or {keys[-1]}"


def fixable_settings(store: Any, completed: int) -> tuple[str, ...]:
    """The settings whose change resumes the search in ``store`` (a ``RunStore``): where it
    completed no trial and a trial it names as its stop (``stopped_by``) failed with an
    error that change fixes (``stop_fixes``); else ``()`` (was: only a callback's monitor,
    ``fixable_callbacks``)."""
    from lightning_nas.results import TrialStatus

    if completed:
        return ()
    named = set(store.get_meta("stopped_by") or [])
    found: dict[str, None] = {}
    for trial in store.trials(TrialStatus.FAILED):
        if trial.trial_id in named:
            found.update(dict.fromkeys(stop_fixes((trial.error or "").split("\n")[0])))
    return tuple(found)

"""A one-shot fit that nothing ends, said as it starts: ``warn_endless_fit``, called by
``OneShotNAS`` and ``DifferentiableNAS`` in ``on_fit_start``, warns (rank 0 alone) where the
Trainer has ``max_epochs=-1`` (Lightning's "no limit", which Lightning itself says nothing
of), no ``max_steps`` and no ``EarlyStopping`` or ``Timer`` callback (``max_time`` is one):
the search's final search and export come when training ends, so never where no callback of
the user's stops it (was: from Python, said nothing, and the fit trained for ever).
``lightning-nas oneshot`` says it of its config before it builds anything
(``trainer_checks.warn_endless_run``) and fits within ``endless_said``, so not twice.

Example:
    >>> import lightning.pytorch as pl
    >>> warn_endless_fit(pl.Trainer(max_epochs=3, logger=False), "OneShotNAS")
    False
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import lightning.pytorch as pl
from lightning.pytorch.callbacks import EarlyStopping, Timer

from lightning_nas.user_warnings import warn_rank_zero

__all__ = ["endless_said", "warn_endless_fit"]

#: set while a fit runs whose endless training was said before it (``endless_said``)
_SAID: ContextVar[bool] = ContextVar("oneshot_endless_said", default=False)


@contextmanager
def endless_said() -> Iterator[None]:
    """Within it, ``warn_endless_fit`` says nothing: the run's config was checked (and its
    endless training said) before anything was built.

    Example:
        >>> import lightning.pytorch as pl
        >>> with endless_said():
        ...     warn_endless_fit(pl.Trainer(max_epochs=-1, logger=False), "OneShotNAS")
        False
    """
    token = _SAID.set(True)
    try:
        yield
    finally:
        _SAID.reset(token)


def warn_endless_fit(trainer: pl.Trainer, who: str) -> bool:
    """Warn (rank 0 alone; return True on every rank) where nothing ends ``trainer``'s fit:
    ``max_epochs`` -1 and ``max_steps`` -1 (its public attributes) and no ``EarlyStopping``
    or ``Timer`` with a duration (``max_time``'s) among its callbacks (the module's
    ``configure_callbacks()`` among them by ``on_fit_start``); ``who``: the search, as the
    warning names it (``"OneShotNAS"``).

    Example:
        >>> import warnings
        >>> import lightning.pytorch as pl
        >>> with warnings.catch_warnings(record=True) as said:
        ...     warnings.simplefilter("always")
        ...     warn_endless_fit(pl.Trainer(max_epochs=-1, logger=False), "OneShotNAS")
        True
        >>> str(said[0].message)[:48]
        "Trainer(max_epochs=-1) is Lightning's 'no limit'"
    """
    if _SAID.get() or trainer.max_epochs != -1 or trainer.max_steps != -1:
        return False
    if any(isinstance(callback, EarlyStopping) or isinstance(callback, Timer)
           and callback.time_remaining() is not None  # (one without a duration only
           for callback in trainer.callbacks):         # measures: was counted as an end)
        return False
    warn_rank_zero(f"Trainer(max_epochs=-1) is Lightning's 'no limit', and no max_steps, "
                   f"max_time, EarlyStopping or Timer callback ends the fit: it trains until "
                   f"a callback of yours stops it, for ever where none does, and {who}'s "
                   f"final search and export run when its training ends; give max_epochs a "
                   f"number or add one of them")
    return True

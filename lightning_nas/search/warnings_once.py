"""``warnings_once``: a warning that Python shows once per place (its ``default`` action;
``module``: once per module) is shown once while a search runs in this process, as a
plain loop of ``Trainer.fit`` calls shows the user's and Lightning's warnings, not once
per trial.

Any change of the warnings filters (``catch_warnings``, ``filterwarnings``: a trial's
``quiet_lightning`` and its folder's filters, nevergrad's asks and tells) makes Python
forget which warnings it showed (it clears its registries), so each trial showed them
again. Within ``warnings_once`` a ``warnings.showwarning`` in front of the one found
drops a warning it showed already from the same place, where the filters' action for it
is ``default`` or ``module``. The filters still decide first: ``error`` (``-W error``,
``PYTHONWARNINGS=error``) raises, ``ignore`` hides, ``always`` shows every one.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as said, warnings_once():
    ...     warnings.simplefilter("default")
    ...     for _ in range(2):
    ...         warnings.filterwarnings("ignore", "other")  # a trial's: Python forgets
    ...         warnings.warn("once")
    >>> len(said)
    1
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lightning_nas.search.shared_state import held_by_first
from lightning_nas.user_warnings import filter_matches

__all__ = ["warnings_once"]

#: a shown warning's key: text, category, file and line (0: any line of the file)
_Key = tuple[str, type, str, int]
#: ``warnings.showwarning``'s signature
_Show = Callable[..., Any]

#: the warnings shown by the trials this process served (``warnings_once(served=True)``)
_SERVED: set[_Key] = set()


def _module(filename: str) -> str:
    """The name of the module that ``filename`` is the file of (as ``warnings.warn`` takes
    the caller's ``__name__``); a file no module has: its path less ``.py``, as
    ``warnings.warn_explicit`` takes it."""
    path = os.path.abspath(filename)
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and os.path.abspath(file) == path:
            return name
    return filename[:-3] if filename.lower().endswith(".py") else filename


def _action(text: str, category: type[Warning], filename: str, lineno: int) -> str:
    """The filters' action for this warning (the first filter that matches, as Python
    looks; none: ``warnings.defaultaction``)."""
    module = None
    for action, message, kind, place, line in warnings.filters:
        if not (filter_matches(message, text) and issubclass(category, kind)
                and (not line or line == lineno)):
            continue
        if place is not None:
            module = _module(filename) if module is None else module
            if not filter_matches(place, module):
                continue
        return action
    return warnings.defaultaction


def _key(text: str, category: type[Warning], filename: str, lineno: int) -> _Key | None:
    """What a repeat of this warning shares with it where the filters' action for it shows
    it once (``default``: its line, ``module``: its file); None: shown each time."""
    action = _action(text, category, filename, lineno)
    if action == "default":
        return text, category, filename, lineno
    return (text, category, filename, 0) if action == "module" else None


def _hold(shown: set[_Key]) -> tuple[_Show, _Show]:
    """Put a ``showwarning`` that drops repeats (``shown``: the keys shown) in front of the
    one found; both."""
    found = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        key = _key(str(message), category, filename, lineno)
        if key is not None:
            if key in shown:
                return
            shown.add(key)
        found(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    return found, show


def _put_back(held: tuple[_Show, _Show]) -> None:
    """The ``showwarning`` found, unless another replaced ours since (theirs is kept)."""
    if warnings.showwarning is held[1]:
        warnings.showwarning = held[0]


@contextmanager
def warnings_once(served: bool = False) -> Iterator[None]:
    """Within it, a warning that the filters show once per place is shown once, however
    often they change. Bodies that overlap (trials in threads, a search in a trial) share
    the first one's (``shared_state.held_by_first``).

    Example:
        >>> with warnings_once():
        ...     pass

    Args:
        served: a trial of a process that serves a search's trials (a worker's, a process
            pool's, a Ray actor's): what it showed is kept for the process's next trials
            (``_SERVED``), as Python keeps it for a process; else the body's own.
    """
    shown = _SERVED if served else set()
    with held_by_first("warnings once", lambda: _hold(shown), _put_back):
        yield

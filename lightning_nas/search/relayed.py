"""A trial run in another process whose warnings come back with its result: a
``concurrent.futures`` executor's (``run_relayed``; a Ray actor's are sent as they are made,
``ray_relay``), said by the search process as its own (``say_relayed``: under
``lightning-nas``'s console, its line, once a text).

Where the search process has no console (Python's API, ``command`` None) they come back
too, and the search process warns them at the line of the user's that ran the search (was:
the trial warned where it ran, at a line of Python's own, ``concurrent/futures/process.py``,
once per process). A ``ProcessExecutor``'s worker sends each as it is made instead
(``worker_entry``).

Example:
    >>> say_relayed([])  # nothing came back: nothing said
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from lightning_nas.search.warnings_once import warnings_once
from lightning_nas.user_warnings import relayed_warnings, warn_user

if TYPE_CHECKING:
    from lightning_nas.results import TrialResult
    from lightning_nas.search.trial_spec import TrialSpec

__all__ = ["Relayed", "run_relayed", "say_relayed"]

#: a trial's warnings, as made: text and category each
Relayed = list[tuple[str, type[Warning]]]


def run_relayed(spec: TrialSpec, command: str | None,
                send: Callable[[str, type[Warning]], bool] | None = None,
                ) -> tuple[TrialResult, Relayed]:
    """Run ``spec``'s trial here (``run_trial``); its warnings sent as they are made with
    ``send`` (under a search process's console, ``command``, ``user_warnings.
    console_command``: a Ray actor's ``ray_relay.sender``), else, and where ``send`` could
    not send one (it returned False), kept and returned with its result, console or not
    (Python's API: the search process warns them at the user's line); none said here.

    Example:
        >>> run_relayed(spec, "search")  # doctest: +SKIP
        (TrialResult(...), [('built in a worker', <class 'UserWarning'>)])
    """
    from lightning_nas.search.runner import run_trial  # (an actor imports it at its trial)

    said: Relayed = []

    def keep(text: str, kind: type[Warning]) -> None:
        if send is None or not send(text, kind):
            said.append((text, kind))

    with relayed_warnings(keep), warnings_once(served=True):
        return run_trial(spec), said  # (Python's warnings there: once a process)


def say_relayed(said: Sequence[tuple[str, type[Warning]]]) -> None:
    """Say the warnings a trial made elsewhere (``run_relayed``) as this process's own
    (``warn_user``)."""
    for text, category in said:
        warn_user(text, category)

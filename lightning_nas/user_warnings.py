"""Warnings that point at the user's line, or are plain console lines of a command.

``warn_user(text)`` warns from inside lightning_nas as if from the first caller outside it
(``user_stacklevel``): ``my_script.py:12: UserWarning: ...`` for the line that called
``Search(...).run()``, not a line of lightning_nas's own, however deep the warning is
made. Frames of Hydra and of the sweeper plug-in's shim (``hydra_plugins``) count as the
package's own too: a sweep's warning points at the line that started Hydra (the
application's ``@hydra.main`` call), not at Hydra's internals; so do those of Lightning and
torch (their installed folders): a warning made in a Trainer's hook points at the line that
called ``trainer.fit(...)``. Only rank 0 warns where a launcher (torchrun, Lightning's DDP
re-running the user's script with ``LOCAL_RANK`` set) runs the script once per rank: by the
launchers' variables (``_RANK_VARIABLES``) and Lightning's ``rank_zero_only.rank`` (a
filter that makes the warning an error raises on every rank). ``warn_rank_zero`` is the
same, named as Lightning's ``rank_zero_warn`` (the package's warnings made in a Trainer's
hooks go so), and ``UserWarningCache`` warns once per text a process, as Lightning's
``WarningCache``. Under
``console_warnings(command)`` (the ``lightning-nas`` command runs in it) there is no line
of the user's to point at: the text is printed to stderr as the command's own line,
``lightning-nas search: warning: ...``, as Python would show a warning: once per text
(Python's ``default`` action), not at all where a warnings filter ignores it
(``-W ignore``, ``PYTHONWARNINGS``), raised where one makes it an error; and only by rank
0 where a launcher (torchrun, Lightning's DDP) runs the command once per rank. A worker
process runs its trials under ``relayed_warnings(send)`` where the search process has a
console (``console_command``): what the filters let through is sent to the search
process, which says it as its own (``warn_user`` there: its console line, once per text
for the whole search, not once per worker).

Example:
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as said:
    ...     warnings.simplefilter("always")
    ...     warn_user("look")
    >>> said[0].filename.startswith("<doctest")  # the caller's line, not this module's
    True
    >>> with console_warnings("search"):
    ...     warn_user("look")  # (on stderr)
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import FrameType

__all__ = ["UserWarningCache", "console_command", "console_warnings", "filter_matches",
           "relayed_warnings", "user_stacklevel", "warn_rank_zero", "warn_user"]

#: the folder of the package: frames of files under it are lightning_nas's own
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
#: modules whose frames count as the package's own: Hydra runs the sweeper through its
#: shim, so their first frame outside lightning_nas is no line of the user's
_OWN_MODULES = ("hydra", "hydra_plugins.lightning_nas_sweeper")
#: the libraries whose frames are no line of the user's: a Trainer runs the package's hooks
_LIBRARIES = ("lightning", "lightning_fabric", "lightning_utilities", "pytorch_lightning",
              "torch")
#: the folders of those of ``_LIBRARIES`` imported so far (one not imported has no frames)
_LIBRARY_FOLDERS: dict[str, str] = {}
#: what launchers set to a process's rank (as ``run_folder``): torchrun, Lightning, SLURM
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "GROUP_RANK", "NODE_RANK", "SLURM_PROCID",
                   "JSM_NAMESPACE_RANK")
#: the module a console warning is taken to come from, for the filters' module patterns
_MODULE = "lightning_nas"

#: the command whose console takes warnings as lines of its own, and the texts it said
_COMMAND: ContextVar[tuple[str, set[str]] | None] = ContextVar("lightning_nas_command",
                                                                 default=None)
#: where a worker process sends the warnings of a search process's console, and the
#: process that may (a DataLoader worker forked from it shares no pipe to write on)
_RELAY: ContextVar[tuple[Callable[[str, type[Warning]], None], int] | None] = ContextVar(
    "lightning_nas_relay", default=None)


@contextmanager
def console_warnings(command: str) -> Iterator[None]:
    """Within it, ``warn_user`` prints ``lightning-nas COMMAND: warning: TEXT`` to stderr.

    Example:
        >>> with console_warnings("oneshot"):
        ...     pass
    """
    token = _COMMAND.set((command, set()))
    try:
        yield
    finally:
        _COMMAND.reset(token)


def console_command() -> str | None:
    """The command whose console takes warnings here (``console_warnings``; None: none).

    Example:
        >>> with console_warnings("search"):
        ...     console_command()
        'search'
    """
    console = _COMMAND.get()
    return None if console is None else console[0]


@contextmanager
def relayed_warnings(send: Callable[[str, type[Warning]], None] | None) -> Iterator[None]:
    """Within it, in this process, ``warn_user`` calls ``send(text, category)`` for what the
    warnings filters let through (an error raises here, an ignored one is dropped): a
    worker's trial, whose search process says it on its console (``warn_user`` there).
    ``send`` None: nothing changes.

    Example:
        >>> said = []
        >>> with relayed_warnings(lambda text, category: said.append(text)):
        ...     warn_user("look")
        >>> said
        ['look']
    """
    token = _RELAY.set(None if send is None else (send, os.getpid()))
    try:
        yield
    finally:
        _RELAY.reset(token)


def _library_folders() -> tuple[str, ...]:
    """The folders of the ``_LIBRARIES`` imported so far (looked up once each)."""
    for name in _LIBRARIES:
        if name not in _LIBRARY_FOLDERS:
            path = getattr(sys.modules.get(name), "__file__", None)
            if path:
                _LIBRARY_FOLDERS[name] = os.path.dirname(os.path.abspath(path)) + os.sep
    return tuple(_LIBRARY_FOLDERS.values())


def _own(frame: FrameType) -> bool:
    """Whether ``frame`` runs code of lightning_nas, its Hydra shim or Hydra, or of
    Lightning or torch (the Trainer that calls the package's hooks)."""
    path = os.path.abspath(frame.f_code.co_filename)
    if path.startswith(_PACKAGE) or path.startswith(_library_folders()):
        return True
    name = str(frame.f_globals.get("__name__", ""))
    return any(name == own or name.startswith(f"{own}.") for own in _OWN_MODULES)


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a ``warnings.warn`` of the function calling this one
    name the first frame outside lightning_nas (the outermost frame where all are its own;
    Hydra's frames, the sweeper's shim, Lightning's and torch's count as its own).

    Example:
        >>> user_stacklevel()  # the doctest's own frame is outside the package
        1
    """
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and _own(frame):
        frame, level = frame.f_back, level + 1
    return level


def _action(text: str, category: type[Warning]) -> str:
    """What the warnings filters do with ``text`` of ``category`` from lightning_nas (the
    first filter that matches, as ``warnings.warn`` looks; none: Python's default)."""
    for action, message, kind, module, lineno in warnings.filters:
        if (filter_matches(message, text) and issubclass(category, kind)
                and filter_matches(module, _MODULE) and not lineno):
            return action
    return warnings.defaultaction


def filter_matches(pattern: re.Pattern[str] | str | None, text: str) -> bool:
    """Whether a ``warnings.filters`` field matches ``text`` (None: all; a compiled
    pattern, or plain text in Python's own filters, such as its ``__main__`` one for
    deprecations).

    Example:
        >>> filter_matches("__main__", "__main__"), filter_matches(None, "any")
        (True, True)
    """
    if pattern is None:
        return True
    return pattern == text if isinstance(pattern, str) else bool(pattern.match(text))


def _rank_zero() -> bool:
    """Whether this process is the first (or only) one of its launch: by the launchers'
    variables, and by Lightning's ``rank_zero_only.rank`` where Lightning is imported (a
    Trainer sets it to its global rank, which ``ddp_spawn``'s processes have no variable
    for)."""
    rank_zero = sys.modules.get("lightning_utilities.core.rank_zero")
    if getattr(getattr(rank_zero, "rank_zero_only", None), "rank", 0):
        return False
    return all(os.environ.get(name, "0") in ("", "0") for name in _RANK_VARIABLES)


def warn_user(text: str, category: type[Warning] = UserWarning) -> None:
    """Warn ``text`` at the user's line (``user_stacklevel``), or, under
    ``console_warnings``, print it as the command's warning line; on rank 0 alone where a
    launcher runs one process per rank (see the module).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as said:
        ...     warnings.simplefilter("always")
        ...     warn_user("mind the gap", FutureWarning)
        >>> said[0].category.__name__
        'FutureWarning'
    """
    relay = _RELAY.get()
    if relay is not None and relay[1] == os.getpid():  # a worker's: the search process says it
        action = _action(text, category)
        if action == "error":
            raise category(text)
        if action != "ignore" and _rank_zero():
            relay[0](text, category)
        return
    console = _COMMAND.get()
    if console is None:  # rank 0's alone, as the console's (was: every rank's); a filter
        # that makes it an error decides on every rank, as on the console
        if _rank_zero() or _action(text, category) == "error":
            warnings.warn(text, category, stacklevel=user_stacklevel())
        return
    command, said = console
    action = _action(text, category)
    if action == "error":
        raise category(text)
    if action == "ignore" or not _rank_zero() or (action not in ("always", "all") and text in said):
        return
    said.add(text)
    print(f"lightning-nas {command}: warning: {text}", file=sys.stderr, flush=True)


def warn_rank_zero(text: str, category: type[Warning] = UserWarning) -> None:
    """``warn_user`` (which says it on rank 0 alone too), named as Lightning's
    ``rank_zero_warn``: for warnings the package makes on every rank of a DDP fit, in its
    Trainer's hooks.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as said:
        ...     warnings.simplefilter("always")
        ...     warn_rank_zero("look")  # rank 0 (or no launch at all)
        >>> len(said)
        1
    """
    if _rank_zero():
        warn_user(text, category)


class UserWarningCache(set[str]):
    """The texts said: ``warn`` says each once a process (as Lightning's ``WarningCache``),
    by ``warn_rank_zero``; every rank keeps the text, rank 0 alone says it.

    Example:
        >>> import warnings
        >>> cache = UserWarningCache()
        >>> with warnings.catch_warnings(record=True) as said:
        ...     warnings.simplefilter("always")
        ...     cache.warn("look")
        ...     cache.warn("look")  # said already
        >>> len(said)
        1
    """

    def warn(self, text: str, category: type[Warning] = UserWarning) -> None:
        """Say ``text`` (``warn_rank_zero``) unless this cache said it already."""
        if text not in self:
            self.add(text)
            warn_rank_zero(text, category)

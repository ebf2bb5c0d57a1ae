"""Warnings that point at the user's line, or are plain console lines of a command.

``warn_user(text)`` warns from inside lightning_nas as if from the first caller outside it
(``user_stacklevel``): ``my_script.py:12: UserWarning: ...`` for the line that called
``Search(...).run()``, not a line of lightning_nas's own, however deep the warning is
made. Under ``console_warnings(command)`` (the ``lightning-nas`` command runs in it) there
is no line of the user's to point at: the text is printed to stderr as the command's own
line, ``lightning-nas search: warning: ...``.

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
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["console_warnings", "user_stacklevel", "warn_user"]

#: the folder of the package: frames of files under it are lightning_nas's own
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep

#: the command whose console takes warnings as lines of its own (None: warn)
_COMMAND: ContextVar[str | None] = ContextVar("lightning_nas_command", default=None)


@contextmanager
def console_warnings(command: str) -> Iterator[None]:
    """Within it, ``warn_user`` prints ``lightning-nas COMMAND: warning: TEXT`` to stderr.

    Example:
        >>> with console_warnings("oneshot"):
        ...     pass
    """
    token = _COMMAND.set(command)
    try:
        yield
    finally:
        _COMMAND.reset(token)


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a ``warnings.warn`` of the function calling this one
    name the first frame outside lightning_nas (the outermost frame where all are its own).

    Example:
        >>> user_stacklevel()  # the doctest's own frame is outside the package
        1
    """
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and os.path.abspath(
            frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def warn_user(text: str, category: type[Warning] = UserWarning) -> None:
    """Warn ``text`` at the user's line (``user_stacklevel``), or, under
    ``console_warnings``, print it as the command's warning line."""
    command = _COMMAND.get()
    if command is not None:
        print(f"lightning-nas {command}: warning: {text}", file=sys.stderr, flush=True)
        return
    warnings.warn(text, category, stacklevel=user_stacklevel())

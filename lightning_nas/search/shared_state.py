"""``held_by_first``: state of the whole process (torch's random streams and flags,
environment variables) that a trial sets while it runs, put back once it is done, where
trials overlap in threads of one process (a ``ThreadPoolExecutor`` given as a search's
``executor``): the first to begin reads it, and the last to end puts that back, so no
trial's end puts back the caller's while another still trains, and the last does not put
back what another trial had set. ``variables_kept`` holds environment variables so.

Example:
    >>> import os
    >>> with variables_kept(["LNAS_DEMO_HELD"]):
    ...     os.environ["LNAS_DEMO_HELD"] = "1"
    >>> "LNAS_DEMO_HELD" in os.environ
    False
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["held_by_first", "variables_kept"]

T = TypeVar("T")

#: by key: how many bodies hold it now, and what the first found
_HELD: dict[str, tuple[int, Any]] = {}
_LOCK = threading.Lock()


@contextmanager
def held_by_first(key: str, read: Callable[[], T], put_back: Callable[[T], None]
                  ) -> Iterator[None]:
    """Run the body; the first body to begin under ``key`` (none other holding it) reads
    the state (``read()``), and the last to end puts that back (``put_back``), in whichever
    thread each runs. One body alone reads before it and puts back after it.

    Example:
        >>> seen = []
        >>> with held_by_first("demo", lambda: "before", seen.append):
        ...     with held_by_first("demo", lambda: "inner", seen.append):
        ...         pass
        >>> seen
        ['before']

    Args:
        key: what is held (bodies of one key share a count).
        read: reads the state.
        put_back: sets the state ``read`` returned.
    """
    with _LOCK:
        count, found = _HELD.get(key, (0, None))
        if count == 0:
            found = read()
        _HELD[key] = (count + 1, found)
    try:
        yield
    finally:
        with _LOCK:
            count, found = _HELD.pop(key)
            if count > 1:
                _HELD[key] = (count - 1, found)
            else:
                put_back(found)


@contextmanager
def variables_kept(names: Iterable[str]) -> Iterator[None]:
    """The environment variables ``names``, which the body may set, as they were before
    (removed if unset) once the last body holding them ends (``held_by_first``).

    Example:
        >>> with variables_kept(["LNAS_DEMO_KEPT"]):
        ...     os.environ["LNAS_DEMO_KEPT"] = "2"
        >>> "LNAS_DEMO_KEPT" in os.environ
        False
    """
    names = tuple(names)

    def put_back(old: dict[str, str | None]) -> None:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    with held_by_first(f"environ {' '.join(names)}",
                       lambda: {name: os.environ.get(name) for name in names}, put_back):
        yield

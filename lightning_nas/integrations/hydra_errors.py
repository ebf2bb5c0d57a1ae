"""A sweep's errors as Hydra prints its own: one message, no traceback.

Hydra prints an exception that leaves a sweeper with its whole traceback (it strips frames
only down to a job's ``run_job``, and a sweep's checks come before any job), so a refused
setting read like a crash of lightning_nas, 30 lines of frames above its one line.
``compact_errors`` raises a lightning_nas error again as its own class mixed with Hydra's
``CompactHydraException``, which Hydra prints as its message alone (exit code 1; the
messages name their ``hydra.sweeper.*`` key). ``HYDRA_FULL_ERROR=1`` prints the traceback
as before. The error stays what it was: the same message, cause and frames, and an
``except ConfigError`` catches it. A sweep ended by Ctrl-C (it has said how to resume)
exits with status 130 and no traceback, as ``lightning-nas search`` does, in a fit
(Lightning's handler exits 1) or between jobs (was: 1, or KeyboardInterrupt's traceback).

Example:
    >>> from lightning_nas.errors import ConfigError
    >>> try:
    ...     with compact_errors():
    ...         raise ConfigError("`hydra.sweeper.budget` must be a positive integer")
    ... except ConfigError as err:
    ...     print(isinstance(err, CompactHydraException), err)
    True `hydra.sweeper.budget` must be a positive integer
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from hydra.errors import CompactHydraException

from lightning_nas.errors import NASError

__all__ = ["INTERRUPTED", "compact_errors"]

#: the exit status of a sweep ended by Ctrl-C (a shell's for SIGINT; lightning-nas search's)
INTERRUPTED = 130


@contextmanager
def compact_errors() -> Iterator[None]:
    """Raise a lightning_nas error of the block again as Hydra's compact kind of it."""
    try:
        yield
    except CompactHydraException:  # already compact (a nested call)
        raise
    except NASError as err:
        compact = _compact(type(err))(*err.args).with_traceback(err.__traceback__)
        raise compact from err.__cause__  # (None: no cause, as the error had none)
    except KeyboardInterrupt:  # Ctrl-C: the sweep said how to resume (was: a traceback)
        raise SystemExit(INTERRUPTED) from None
    except SystemExit as err:  # Ctrl-C in a fit: Lightning's handler exits 1 (was: 1)
        if err.code == 1 and isinstance(err.__context__, KeyboardInterrupt):
            raise SystemExit(INTERRUPTED) from None
        raise


@functools.cache
def _compact(cls: type[NASError]) -> type[NASError]:
    """``cls`` and ``CompactHydraException`` together, named as ``cls``."""
    return type(cls.__name__, (cls, CompactHydraException),
                {"__module__": cls.__module__, "__doc__": cls.__doc__})

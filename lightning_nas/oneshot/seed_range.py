"""The range of a one-shot search's seed, checked one way, with one message, for
``OneShotNAS``, ``DifferentiableNAS`` and ``lightning-nas oneshot``: ``check_seed_range``.

SPOS seeds each search's nevergrad optimizer with ``seed + epoch``, which numpy takes below
2**32: its seeds go up to ``SEED_MAX`` (2**31 - 1), which leaves 2**31 epochs. DARTS and GDAS
add nothing to theirs: up to ``WIDE_SEED_MAX`` (2**32 - 1), the range of Lightning's
``seed_everything``, which the command seeds with it (was: ``DifferentiableNAS(seed=-1)``
taken, while ``OneShotNAS`` refused it).

Example:
    >>> check_seed_range(-1, "seed", SEED_MAX, "it seeds the search")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: seed must be an integer from 0 to 2147483647 (2**31 - 1)...
    >>> check_seed_range(2**31, "seed", SEED_MAX, "it seeds the search")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: seed must be ... got 2147483648: it seeds the search
    >>> check_seed_range(2**32 - 1, "seed", WIDE_SEED_MAX, "it seeds the search")
"""

from __future__ import annotations

from typing import Any

from lightning_nas.errors import ConfigError
from lightning_nas.numeric import is_int

__all__ = ["SEED_MAX", "WIDE_SEED_MAX", "check_seed_range"]

#: the largest SPOS seed: ``seed + epoch`` seeds each search's optimizer (numpy: below
#: 2**32), so 2**31 epochs fit
SEED_MAX = 2**31 - 1
#: the largest DARTS/GDAS seed: Lightning's ``seed_everything`` range
WIDE_SEED_MAX = 2**32 - 1


def check_seed_range(seed: Any, name: str, top: int, why: str, null: str = "") -> None:
    """Raise ``ConfigError`` unless ``seed`` is an integer (no bool) from 0 to ``top``.

    Args:
        seed: the seed given.
        name: what the message calls it (``seed``, ``oneshot.seed``, ``seed_everything``).
        top: the largest seed taken, ``2**n - 1`` (``SEED_MAX``, ``WIDE_SEED_MAX``).
        why: what the seed seeds, which sets ``top``; the message's end.
        null: words after the range for another value taken (``" or null"``).

    Raises:
        ConfigError: naming ``name``, the range taken and ``seed``.
    """
    if not is_int(seed) or not 0 <= seed <= top:
        raise ConfigError(f"{name} must be an integer from 0 to {top} (2**{top.bit_length()} "
                          f"- 1){null}, got {seed!r}: {why}")

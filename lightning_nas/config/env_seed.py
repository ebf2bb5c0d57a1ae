"""The environment's seed, ``PL_GLOBAL_SEED``, where LightningCLI takes it: its
``seed_everything: true`` (its default, so no key too) and a config file's ``null`` call
``seed_everything(None)``, which seeds with ``PL_GLOBAL_SEED`` when the environment sets it
(else 0). A search, a fit and a one-shot run take it there too (``config_seed``).

Example:
    >>> environment_seed({"PL_GLOBAL_SEED": "11"}), environment_seed({})
    (11, None)
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from lightning_nas.errors import ConfigError

__all__ = ["SEED_VARIABLE", "environment_seed"]

#: the variable Lightning's ``seed_everything`` sets and ``seed_everything(None)`` reads
SEED_VARIABLE = "PL_GLOBAL_SEED"

#: the largest seed Lightning takes (numpy's: 2**32 - 1)
_MAX = 2**32 - 1


def environment_seed(environ: Mapping[str, str] | None = None) -> int | None:
    """``PL_GLOBAL_SEED`` as an int, None where the environment does not set it.

    Args:
        environ: the environment (None: ``os.environ``).

    Raises:
        ConfigError: naming the variable and its value when it is no integer from 0 to
            2**32 - 1 (LightningCLI raises ``ValueError: Invalid seed specified via
            PL_GLOBAL_SEED``; was: taken as no seed, 0).

    Example:
        >>> environment_seed({"PL_GLOBAL_SEED": "0"})
        0
        >>> environment_seed({"PL_GLOBAL_SEED": "abc"})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: PL_GLOBAL_SEED='abc' (the environment's seed, ...
    """
    value = (os.environ if environ is None else environ).get(SEED_VARIABLE)
    if value is None:
        return None
    try:
        seed: int | None = int(value)
    except ValueError:
        seed = None
    if seed is None or not 0 <= seed <= _MAX:
        raise ConfigError(f"{SEED_VARIABLE}={value!r} (the environment's seed, which "
                          f"seed_everything true, null or no key takes, as LightningCLI): "
                          f"expected an integer from 0 to {_MAX} (2**32 - 1); set it to one, "
                          f"or unset it (null and no key: seed 0; true: a drawn seed)")
    return seed

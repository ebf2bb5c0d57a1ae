"""The environment's seed, ``PL_GLOBAL_SEED``, where LightningCLI takes it: its
``seed_everything: true`` (its default, so no key too) and a config file's ``null`` call
``seed_everything(None)``, which seeds with ``PL_GLOBAL_SEED`` when the environment sets it
(else 0). A search, a fit and a one-shot run take it there too (``config_seed``). A resume
keeps the seed its run stored whatever ``seed_everything`` (true, null, false, no key) and
the environment say now; ``unused_seed`` says what they would have seeded a new run with.
A search built in Python seeds with its ``seed=`` alone: ``warn_unread_seed`` says so where
``PL_GLOBAL_SEED`` holds another seed.

Example:
    >>> environment_seed({"PL_GLOBAL_SEED": "11"}), environment_seed({})
    (11, None)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lightning_nas.errors import ConfigError
from lightning_nas.user_warnings import warn_user

__all__ = ["SEED_VARIABLE", "environment_seed", "unused_seed", "warn_unread_seed"]

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


def unused_seed(stored: int | None, cfg: Mapping[str, Any], false_draws: bool = False,
                environ: Mapping[str, str] | None = None) -> str | None:
    """What the config's ``seed_everything`` (true, null, false or no key) would seed a new
    run with, said where a resume keeps its run's ``stored`` seed instead (the warning's
    words); None where that is ``stored``, or a drawn seed (``true`` without
    ``PL_GLOBAL_SEED``, and ``false`` where ``false_draws``: a one-shot run's), which the
    run's is. Was: the stored seed taken without a word.

    Args:
        stored: the seed the run's trials (or its one-shot search) ran with.
        cfg: the config (an integer ``seed_everything`` is no resume's concern: it is
            compared with the stored seed, and refused where it differs).
        false_draws: whether ``false`` draws a seed for a new run (a one-shot run, whose
            search needs one), not none (a search).
        environ: the environment (None: ``os.environ``).

    Example:
        >>> unused_seed(3, {}, environ={"PL_GLOBAL_SEED": "7"})
        'no seed_everything, and PL_GLOBAL_SEED=7, which a new run would seed with, is not used'
        >>> unused_seed(7, {"seed_everything": None}, environ={"PL_GLOBAL_SEED": "7"}) is None
        True
    """
    given = cfg.get("seed_everything", ...)
    if not (given is ... or given is None or isinstance(given, bool)):
        return None  # an integer (compared with the stored one), or no seed value
        # (refused by config_seed, without this warning first)
    said = "no seed_everything" if given is ... else \
        f"seed_everything: {'null' if given is None else str(given).lower()}"
    env = None if given is False else environment_seed(environ)
    if (given is True and env is None) or (given is False and false_draws):
        return None
    own = None if given is False else 0 if env is None else env
    if own == stored:
        return None
    if given is False:
        return f"{said}, which seeds nothing in a new run"
    if env is None:
        return f"{said}, which seeds a new run with 0"
    return f"{said}, and {SEED_VARIABLE}={env}, which a new run would seed with, is not used"


def warn_unread_seed(seed: int | None, environ: Mapping[str, str] | None = None) -> None:
    """Warn (once, as a ``Search`` is built in Python) where ``PL_GLOBAL_SEED`` holds another
    seed than ``seed``, the one the search uses (None: none): a ``pl.seed_everything(7)``
    called before sets it, and a config search takes it, but ``Search(...)`` seeds with its
    own ``seed=`` (default 0) alone (was: without a word). A value that is no seed is
    compared as written.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as said:
        ...     warnings.simplefilter("always")
        ...     warn_unread_seed(0, {"PL_GLOBAL_SEED": "7"})
        ...     warn_unread_seed(7, {"PL_GLOBAL_SEED": "7"})  # the same: no word
        >>> len(said), str(said[0].message).split(": ")[0]
        (1, "PL_GLOBAL_SEED=7 (a seed_everything(7) called before, say) is not ...seed, 0")
    """
    value = (os.environ if environ is None else environ).get(SEED_VARIABLE)
    if value is None or value.strip() == str(seed):
        return
    own = "none: it seeds nothing (seed=None)" if seed is None else str(seed)
    warn_user(f"{SEED_VARIABLE}={value} (a seed_everything({value}) called before, say) is "
              f"not this search's seed, {own}: Search seeds nevergrad and every trial with "
              f"its own seed= (default 0), never with the environment's; give "
              f"Search(..., seed={value}) to search with it")

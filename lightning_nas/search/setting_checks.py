"""Checks of one search setting's value, shared by the groups of ``search/setting_groups.py``.

``plain_numbers`` makes the NumPy integer and real scalars of a group's fields (a value read
from an array or a DataFrame: ``budget=np.int64(3)``) Python's ``int`` and ``float``, so they
are accepted as the numbers they are and the store's meta, a resume's comparisons and the
messages see ``3``, not ``np.int64(3)``; a bool (NumPy's too) is never a number here.
``check_int``, ``check_positive`` and ``check_seed`` then name a setting whose value does
not fit (``check_seed`` under the key the user wrote: ``seed_everything`` when the search's
seed is a config's), and say a setting that may be None so from Python (``errors.PYTHON_NULL``,
``None (null in YAML)``), YAML's ``null`` within ``config_words()``, where a config's reader
(``search_from_config``, the Hydra sweeper) checks them (``null_word``; ``said_in_config``
for the other words: ``true``, ``--search.KEY=null``; ``in_words`` picks one of two
wordings of an advice: ``objectives: {...}`` or ``objectives={...}``). ``optimizer_error``
says what an ``optimizer`` that is no registry name
is, and what to give (a mapping an override such as ``--search.optimizer.budget=3`` made).

Example:
    >>> check_int("budget", 3, 1)
    >>> check_int("keep_top_k", True, 1)
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: `keep_top_k` must be a positive integer, got True
    >>> with config_words():
    ...     check_int("budget", 0, 1, optional=True)
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: `budget` must be a positive integer or null, got 0
"""

from __future__ import annotations

import dataclasses
import json
import numbers
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from lightning_nas.errors import PYTHON_NULL, ConfigError
from lightning_nas.numeric import is_int, is_number

__all__ = ["check_int", "check_positive", "check_seed", "config_words", "in_words",
           "null_word", "optimizer_error", "plain_numbers", "said_in_config"]

#: whether a config is being read (``config_words``): its words, not Python's
_CONFIG: ContextVar[bool] = ContextVar("lightning_nas_config_words", default=False)


def null_word() -> str:
    """``"None (null in YAML)"`` (``errors.PYTHON_NULL``) for a caller from Python, ``"null"``
    within ``config_words()`` (was: ``null`` always, YAML's word to ``Search(budget=0)``)."""
    return in_words("null", PYTHON_NULL)


def said_in_config() -> bool:
    """Whether the checks speak a config's words (within ``config_words``: ``true or false``,
    ``--search.eta=null``) rather than Python's (``True or False``, ``eta=None``).

    Example:
        >>> with config_words():
        ...     said_in_config()
        True
        >>> said_in_config()
        False
    """
    return _CONFIG.get()


def in_words(config: str, python: str) -> str:
    """``config`` within ``config_words()`` (a config's, a command line's, a sweep's words:
    ``trainer.max_epochs: 3``), else ``python`` (the Python API's: ``trainer={"max_epochs":
    3}``), for advice that differs between them.

    Example:
        >>> in_words("objectives: {val_acc: max}", 'objectives={"val_acc": "max"}')
        'objectives={"val_acc": "max"}'
    """
    return config if _CONFIG.get() else python


@contextmanager
def config_words() -> Iterator[None]:
    """Within the block, the checks say ``null`` for "no value": a config's word, where
    settings are read from a file or a command line (``search_from_config``, the sweeper).

    Example:
        >>> with config_words():
        ...     null_word()
        'null'
        >>> null_word()
        'None (null in YAML)'
    """
    token = _CONFIG.set(True)
    try:
        yield
    finally:
        _CONFIG.reset(token)


def plain_numbers(group: Any) -> None:
    """Set each field of the frozen dataclass ``group`` that holds an integer or a real
    number of another type than ``int`` / ``float`` (NumPy's scalars) to its plain value."""
    for f in dataclasses.fields(group):
        value = getattr(group, f.name)
        if isinstance(value, bool) or type(value) in (int, float):
            continue
        if isinstance(value, numbers.Integral):
            object.__setattr__(group, f.name, int(value))
        elif isinstance(value, numbers.Real):
            object.__setattr__(group, f.name, float(value))


def check_int(name: str, value: Any, low: int, optional: bool = False) -> None:
    """Raise ``ConfigError`` unless ``value`` is an int >= ``low`` (or None if optional:
    said as ``null_word``)."""
    if value is None and optional:
        return
    if not is_int(value) or value < low:
        kind = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ConfigError(f"`{name}` must be {kind}{f' or {null_word()}' if optional else ''}, "
                          f"got {value!r}")


def check_positive(name: str, value: Any, optional: bool = True) -> None:
    """Raise ``ConfigError`` unless ``value`` is a positive number (or None, if optional:
    said as ``null_word``)."""
    if value is None and optional:
        return
    if not is_number(value) or not value > 0:
        null = f" or {null_word()}" if optional else ""
        raise ConfigError(f"`{name}` must be a positive number{null}, got {value!r}")


def check_seed(value: Any, name: str = "seed") -> None:
    """Raise ``ConfigError`` naming ``name`` and its valid values unless ``value`` is an int
    from 0 to ``2**32 - 1`` (numpy's RandomState takes no more), or None (was: "an integer
    >= 0 or null", then for one too high, "below 2**32": neither said the whole range, nor
    that ``seed_everything`` takes true or false).

    Example:
        >>> check_seed(-3, "seed_everything")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: `seed_everything` must be an integer from 0 to ...
    """
    if value is None:
        return
    if not is_int(value) or not 0 <= value < 2**32:
        others = (", true (a drawn seed) or false (no seeding)" if name == "seed_everything"
                  else f" or {null_word()}")
        raise ConfigError(f"`{name}` must be an integer from 0 to {2**32 - 1} (2**32 - 1)"
                          f"{others}, got {value!r}")


#: keys a mapping may name its optimizer by (a class's node, a Hydra target)
_NAME_KEYS = ("name", "class_path", "_target_")


def _text(value: Any) -> str:
    """``value`` as an override writes it (``3``, ``true``, ``NGOpt``)."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def optimizer_error(value: Any, settings: Iterable[str] = ()) -> ConfigError:
    """The error for an ``optimizer`` that is no registry name: the shape it must have and,
    for a mapping (what ``--search.optimizer.budget=3`` makes of a config without an
    optimizer: the override's keys alone), that it names no optimizer, how an optimizer with
    settings of its own is given, and which of its keys are ``settings`` of the search's
    own (``--search.budget=3`` within ``config_words``; from Python ``budget=3``, and the
    name alone as ``optimizer='NGOpt'``: was a config's words from Python too).

    Example:
        >>> with config_words():
        ...     print(optimizer_error({"budget": 3}, ["budget"]))  # doctest: +ELLIPSIS
        `optimizer` must be a registry name ..., got the mapping {'budget': 3}, which names no
        optimizer ...; `budget` is a setting of the search itself: --search.budget=3 sets ...
        >>> print(optimizer_error(3))
        `optimizer` must be a registry name (... RandomSearch: optimizer='NGOpt'), got 3
    """
    config = _CONFIG.get()  # (was: a config's words, search.optimizer: NGOpt, from Python)
    shape = ("`optimizer` must be a registry name (a string such as SurrogateEvolution, NGOpt, "
             "RandomSearch: " + ("search.optimizer: NGOpt, --search.optimizer=NGOpt)" if config
                                 else "optimizer='NGOpt')"))
    if not isinstance(value, Mapping):  # a nevergrad optimizer object: its name (was: unsaid)
        from lightning_nas.strategies.given_object import given_as_object

        return ConfigError(f"{shape}, {given_as_object(value) or f'got {value!r}'}")
    named = [value[k] for k in _NAME_KEYS if isinstance(value.get(k), str)]
    alone = f"search.optimizer: {named[0]}" if config and named else (
        f"optimizer={named[0]!r}" if named else "")
    what = (f": give its name alone ({alone})" if named else
            ", which names no optimizer" if not config else  # (no override from Python)
            ", which names no optimizer (an override under it, --search.optimizer." +
            " --search.optimizer.".join(f"{k}={_text(v)}" for k, v in value.items()) +
            ", makes search.optimizer a mapping of the override's keys alone where the config "
            "sets no optimizer)")
    known = set(settings)
    own = "".join(f"; `{k}` is a setting of the search itself: "
                  f"{f'--search.{k}={_text(v)}' if config else f'{k}={v!r}'} sets "
                  f"the search's {k}" for k, v in value.items() if k in known)
    return ConfigError(f"{shape}, got the mapping {dict(value)!r}{what}; an optimizer with "
                       f"settings of its own is registered under a name of yours (nevergrad's "
                       f"ConfiguredOptimizer(...).set_name('MyOpt', register=True), in a module "
                       f"the search imports, e.g. the model's) and given by that name{own}")

"""One error family: every mistake a user can make raises a ``NASError``.

The kinds say where to look: ``ConfigError`` (a setting, a config file, a class path),
``SpaceError`` (a search space or an architecture), ``SearchError`` (the search cannot go
on: too many failures, an error every trial would hit), ``MonitorError`` (the monitored
metric is never logged), ``StoreError`` (a run's ``search.db`` cannot be opened or its
folder locked). Messages name the bad key or value and list the valid ones;
``unknown``, ``check_mode`` (with ``mode_said``) and ``check_number`` build the messages
that many checks share.

Example:
    >>> try:
    ...     check_mode("maximum")
    ... except NASError as err:
    ...     print(err)
    `mode` can be max, min; got 'maximum': did you mean 'max'?
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Iterable, Mapping

__all__ = [
    "MODES",
    "BatchSettingError",
    "ConfigError",
    "MonitorError",
    "NASError",
    "NoCompletedTrialError",
    "OptimizerError",
    "PYTHON_NULL",
    "SearchError",
    "SpaceError",
    "StoreError",
    "check_mode",
    "check_objectives_mapping",
    "check_number",
    "did_you_mean",
    "mode_hint",
    "mode_said",
    "one_line",
    "typed",
    "unknown",
]

#: the two directions of a metric
MODES = ("max", "min")

#: "no value" in a message to a caller from Python (a config's keys say YAML's ``null``; a
#: class built from a config's ``class_path`` may be refused so too, hence the both)
PYTHON_NULL = "None (null in YAML)"


class NASError(Exception):
    """Base of every error lightning_nas raises for a user's mistake or a failed search."""


class ConfigError(NASError):
    """A setting is wrong; the message names it and lists what is valid."""


class BatchSettingError(ConfigError):
    """A Trainer setting does not fit the data's batches (``val_check_interval`` above an
    epoch's): found as the fit set up its loaders, before training; every trial would hit it."""


class SpaceError(NASError):
    """A search space or an architecture does not fit the rules; the message says where."""


class SearchError(NASError):
    """The search cannot go on (an error every trial would hit, too many failures, the
    optimizer's own error)."""


class NoCompletedTrialError(SearchError):
    """A search ended with no COMPLETED trial (each failed or was rejected, the time limit
    came first, ...), so it has no best trial; ``result`` is the ``SearchResult`` that
    ``Search.run`` would have returned (``best`` None, every trial with its error).

    Example:
        >>> err = NoCompletedTrialError("no trial of the search completed", result=None)
        >>> isinstance(err, SearchError), err.result
        (True, None)
    """

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result


class OptimizerError(SearchError):
    """The optimizer's own ``ask`` or ``tell`` raised: the search stops once the trials out
    have finished (they are stored, not killed)."""


class MonitorError(NASError):
    """The monitored metric was not logged; the message lists the keys that were."""


class StoreError(NASError):
    """A run's ``search.db`` cannot be used (corrupt, not a database, a folder that cannot be
    written or locked); the message names the file, what is wrong and what to do."""


def did_you_mean(key: str, valid: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` for the closest valid name, or ``""``.

    A name in other case is that name (``DARTS``: ``darts``; was: none, as difflib compares
    case), and one close to a valid name in other case is close to it.

    Example:
        >>> did_you_mean("budgt", ["budget", "seed"])
        "did you mean 'budget'? "
        >>> did_you_mean("DARTS", ["spos", "darts", "gdas"])
        "did you mean 'darts'? "
    """
    names = [str(v) for v in valid]
    lower = {name.lower(): name for name in reversed(names)}  # the first of a case-fold
    close = ([lower[str(key).lower()]] if str(key).lower() in lower else
             difflib.get_close_matches(str(key), names, n=1) or
             [lower[name] for name in difflib.get_close_matches(str(key).lower(), lower, n=1)])
    return f"did you mean '{close[0]}'? " if close else ""


def mode_hint(mode: object, valid: Iterable[object]) -> str:
    """``did_you_mean`` for a metric's direction: a word that begins as a mode in any case
    (``MAX``, ``maximize``, ``Minimum``) means that mode, said where ``valid`` holds it
    (``""`` where not: ``minimize`` where only ``max`` is taken); else the closest of
    ``valid``'s strings (``mx``: ``max``).

    Example:
        >>> mode_hint("maximize", ["max"]), mode_hint("minimize", ["max"]), mode_hint("mx", MODES)
        ("did you mean 'max'? ", '', "did you mean 'max'? ")
    """
    word = str(mode).strip().lower()
    meant = next((m for m in MODES if word.startswith(m)), None)
    names = [v for v in valid if isinstance(v, str)]
    if meant is None:
        return did_you_mean(str(mode), names)
    return f"did you mean '{meant}'? " if meant in names else ""


def one_line(err: BaseException, limit: int = 400) -> str:
    """An error as one line: ``Type: message`` (the message alone for a ``NASError``), its
    whitespace collapsed and cut at ``limit`` characters.

    Example:
        >>> one_line(KeyError("gelu"))
        "KeyError: 'gelu'"
    """
    text = " ".join(str(err).split())
    text = text if isinstance(err, NASError) else f"{type(err).__name__}: {text}".rstrip(": ")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def typed(err: BaseException) -> str:
    """``Type: message``, or ``Type, with no message`` where the error's text is empty
    (nevergrad's bare ``assert``; was: ``AssertionError: `` with nothing after it).

    Example:
        >>> typed(ValueError("bad")), typed(AssertionError())
        ('ValueError: bad', 'AssertionError, with no message')
    """
    text = str(err).strip()
    return f"{type(err).__name__}: {text}" if text else f"{type(err).__name__}, with no message"


def unknown(kind: str, key: str, valid: Iterable[str],
            error: type[NASError] = ConfigError, *, listing: str = "keys") -> NASError:
    """The error for an unknown name: it names the key, the closest match and the valid ones.

    ``listing`` says what the valid ones are: ``"keys"`` for a setting's or a section's
    name, else what a value names (``"values"``, ``"algorithms"``, ``"losses"``, ...).

    Example:
        >>> print(unknown("search setting", "budgt", ["budget", "seed"]))
        unknown search setting 'budgt'; did you mean 'budget'? valid keys: budget, seed
        >>> print(unknown("algorithm", "drats", ["darts", "gdas"], listing="algorithms"))
        unknown algorithm 'drats'; did you mean 'darts'? valid algorithms: darts, gdas
    """
    valid = list(valid)
    return error(f"unknown {kind} {key!r}; {did_you_mean(key, valid)}valid {listing}: "
                 f"{', '.join(map(str, valid))}")


def check_mode(mode: object, name: str = "mode") -> str:
    """Return ``mode`` if it is ``"max"`` or ``"min"``; else raise ``ConfigError`` listing
    them, with ``mode_hint``'s did-you-mean (``maximize``, ``MAX``, ``mx``: ``'max'``).

    Example:
        >>> check_mode("maximize")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: `mode` can be max, min; got 'maximize': did you ...
    """
    if mode not in MODES:  # (was: no did-you-mean, as the one-shot side says)
        raise ConfigError(f"`{name}` can be {', '.join(MODES)}; got {mode!r}"
                          f"{mode_said(mode, MODES)}")
    return mode  # type: ignore[return-value]


def check_objectives_mapping(objectives: object, refusal: str) -> None:
    """Raise ``ConfigError`` (``refusal``, the value got, how a mapping is written) unless
    ``objectives`` is a non-empty mapping; a list of ``{name, mode}`` records (or
    ``direction``, as other tools write them) is shown as that mapping.

    Example:
        >>> check_objectives_mapping([{"name": "acc", "mode": "max"}], "objectives must map")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: objectives must map, got [{'name': 'acc', 'mode': \
'max'}]; write a mapping, e.g. objectives: {val_acc: max, params: min} (this list as one: \
objectives: {acc: max})
    """
    if isinstance(objectives, Mapping) and objectives:
        return
    said = "; write a mapping, e.g. objectives: {val_acc: max, params: min}"
    records = objectives if isinstance(objectives, (list, tuple)) else ()
    pairs = [(r.get("name"), r.get("mode", r.get("direction"))) for r in records
             if hasattr(r, "get") and r.get("name") is not None]
    if records and len(pairs) == len(records) and all(mode is not None for _, mode in pairs):
        said += f" (this list as one: objectives: {{{', '.join(f'{n}: {m}' for n, m in pairs)}}})"
    raise ConfigError(f"{refusal}, got {objectives!r}{said}")


def mode_said(mode: object, valid: Iterable[object]) -> str:
    """``mode_hint`` after a bad mode's ``got ...``: ``": did you mean 'max'?"``, or ``""``.

    Example:
        >>> mode_said("MAX", MODES), mode_said("up", MODES)
        (": did you mean 'max'?", '')
    """
    hint = mode_hint(mode, valid).strip()
    return f": {hint}" if hint else ""


def check_number(value: object, key: str, low: float | None = None, strict: bool = False,
                 integer: bool = False, nullable: bool = False, null: str = "null") -> None:
    """Raise ``ConfigError`` naming ``key`` unless ``value`` is a number (an integer with
    ``integer``; not a bool, not NaN) above ``low`` (``strict``) or at least ``low``; a
    ``nullable`` one's message says it may be ``null``: YAML's word, ``PYTHON_NULL`` from
    Python.

    Example:
        >>> check_number(0, "arch_lr", 0, strict=True)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: arch_lr must be a number > 0, got 0
    """
    kind = numbers.Integral if integer else numbers.Real  # NumPy's scalars too
    number = isinstance(value, kind) and not isinstance(value, bool)
    if not number or (low is not None and not (value > low if strict  # type: ignore[operator]
                                               else value >= low)):  # type: ignore[operator]
        bound = "" if low is None else f" {'>' if strict else '>='} {low}"
        raise ConfigError(f"{key} must be {'an integer' if integer else 'a number'}{bound}"
                          f"{f' or {null}' if nullable else ''}, got {value!r}")

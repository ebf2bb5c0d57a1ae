"""The command line that trains one job of a sweep again (``rerun_line``), written to be
read and pasted into a shell: each override with only the quotes it needs.

A job's overrides hold Hydra's quotes around every string (``model='a'``, as
``hydra_grammar.format_value`` writes them); ``readable_override`` drops them where Hydra
parses the bare text to the same value (``model=a``; not ``'1'``, ``'true'``, ``'a, b'``,
which bare are an int, a bool, a sweep: Hydra's quotes are kept there, or made double
where that reads better), and ``shell_word`` quotes a word for the shell only where the
shell would change it (``'model=a b'``; ``"x='a, b'"`` rather than the single quotes
within single quotes that ``shlex.quote`` writes).

Example:
    >>> rerun_line("src/train.py", ["model='a'", "+note='a, b'", "lr=0.1"])
    'python src/train.py model=a "+note=\\'a, b\\'" lr=0.1 hydra.mode=RUN'
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Quote
from hydra.errors import HydraException

from lightning_nas.integrations.hydra_grammar import format_value

__all__ = ["readable_override", "rerun_line", "shell_word"]

#: characters that stay special within a shell's double quotes (``!``: history expansion)
_IN_DOUBLE_QUOTES = '"$`\\!'

_PARSER: OverridesParser | None = None


def rerun_line(script: str, overrides: Sequence[str], config_args: Sequence[str] = ()) -> str:
    """The command line that trains one job of a sweep once (its config group sets
    MULTIRUN, hence ``hydra.mode=RUN``), quoted for the shell; ``script`` is the task as
    ``task_script`` gives it (a script or ``-m`` module after ``python``, else a command);
    ``config_args`` are the sweep's ``--config-name`` / ``--config-path`` / ``--config-dir``
    options. Each override is ``readable_override``'s, each word ``shell_word``'s (was:
    ``shlex.join``, which quoted Hydra's quotes again: ``'model='"'"'a'"'"''``).

    Example:
        >>> rerun_line("src/train.py", ["model.lr=0.1", "seed=1"], ["--config-name", "big"])
        'python src/train.py --config-name big model.lr=0.1 seed=1 hydra.mode=RUN'
        >>> rerun_line("-m src.train", ["seed=1"]), rerun_line("train_command", ["seed=1"])
        ('python -m src.train seed=1 hydra.mode=RUN', 'train_command seed=1 hydra.mode=RUN')
    """
    module = script.startswith("-m ")
    python = "python " if module or script.endswith(".py") else ""
    words = ["-m", script[3:]] if module else [script]
    words += [*config_args, *(readable_override(o) for o in overrides)]
    return f"{python}{' '.join(shell_word(w) for w in words)} hydra.mode=RUN"


def readable_override(override: str) -> str:
    """``override`` as the shortest shell word of those Hydra parses to the same value: its
    strings bare, as given, or in Hydra's double quotes (``x="!x"``: within the shell's
    single quotes); as it is where it does not parse, or holds no value to rewrite.

    Example:
        >>> readable_override("model='a'"), readable_override("x='1'")
        ('model=a', "x='1'")
    """
    head, sep, _ = override.partition("=")
    given = _parsed(override)
    if not sep or given is None or not _plain(given[1]):
        return override
    same = [text for text in (f"{head}={format_value(given[1], None)}", override,
                              f"{head}={format_value(given[1], Quote.double)}")
            if _parsed(text) == given]
    return min(same, key=lambda text: len(shell_word(text)))


def shell_word(word: str) -> str:
    """``word`` as a shell reads it back: as it is where nothing in it is special to the
    shell, in double quotes where it holds single quotes and nothing that double quotes
    leave special, else as ``shlex.quote`` writes it.

    Example:
        >>> shell_word("model=a"), shell_word("x=a b"), shell_word("x='a, b'")
        ('model=a', "'x=a b'", '"x=\\'a, b\\'"')
    """
    quoted = shlex.quote(word)
    if quoted == word or "'" not in word:
        return quoted
    return f'"{word}"' if not any(c in _IN_DOUBLE_QUOTES for c in word) else quoted


def _parsed(override: str) -> tuple[tuple[Any, ...], Any] | None:
    """``(kind, key, package, repr of the value)`` and the value, as Hydra parses
    ``override`` (the ``repr`` tells ``1`` from ``'1'``, ``1.0`` and ``True``); None where it
    does not parse."""
    global _PARSER
    if _PARSER is None:
        _PARSER = OverridesParser.create()
    try:
        got = _PARSER.parse_override(override)
        value = got.value()
    except HydraException:
        return None
    return (got.type, got.key_or_group, got.package, repr(value)), value


def _plain(value: Any) -> bool:
    """Whether ``value`` is of the kinds ``format_value`` writes (no sweep, no deletion)."""
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return value is None or isinstance(value, (str, bool, int, float))


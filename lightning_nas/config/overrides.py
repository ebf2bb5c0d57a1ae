"""Dotted ``--a.b=value`` overrides as the command line gives them: ``split_overrides``
reads them (an empty value is refused, naming the null or the default to write: ``NO_NULL``;
an empty key, naming the argument),
``not_a_mapping`` refuses one that reaches through a value that is no mapping.

Example:
    >>> split_overrides(["--search.budget=5"])
    [('search.budget', '5')]
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from lightning_nas.errors import ConfigError

__all__ = ["NO_NULL", "not_a_mapping", "open_brackets", "split_overrides"]

#: the search settings that refuse null, with their defaults as a command line writes them
#: (``SearchSettings``' defaults: a test keeps the two the same; this layer imports no
#: search); ``budget`` takes null beside a ``time_limit`` only
NO_NULL: dict[str, str] = {
    "optimizer": "SurrogateEvolution", "budget": "20", "monitor": "val_acc",
    "max_failures": "5", "keep_top_k": "3", "num_workers": "1", "executor": "auto",
    "retrain_top_k": "0", "verbose": "true", "progress": "auto"}


def open_brackets(text: str) -> int:
    """How many ``[`` and ``{`` of YAML flow text ``text`` are left open at its end (a quoted
    string's brackets not counted): above 0 for an override's value that a shell cut at a
    space, ``--a.b=[8,`` of ``--a.b=[8, 16]`` given unquoted.

    Example:
        >>> open_brackets("[8,"), open_brackets("{a: [1, 2]}"), open_brackets("['[',")
        (1, 0, 1)
    """
    depth, quote, before = 0, "", " "
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"" and before in " [{,:":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        before = char
    return depth


def _cut_value(arg: str, value: str, rest: Sequence[str]) -> ConfigError:
    """The error for the override ``arg`` (with its ``value``: ``arg`` itself for
    ``--a.b=v``, else the word after it) whose value opens a bracket, followed by the words
    ``rest`` that are no override: a shell cut it at a space (was: those words taken for
    config files, "config file 16] does not exist", or "expected an override ..., got
    '16]'").

    Example:
        >>> print(_cut_value("--a.b=[8,", "[8,", ["16]"]))
        override --a.b=[8, was cut at a space: its value opens a bracket that the words \
after it, '16]', close (a shell splits an unquoted word at each space); quote it: \
'--a.b=[8, 16]'
    """
    joined = " ".join(rest)
    cut, quoted = ((arg, shlex.quote(f"{arg} {joined}")) if "=" in arg else
                   (f"{arg} {value}", f"{arg} {shlex.quote(f'{value} {joined}')}"))
    return ConfigError(f"override {cut} was cut at a space: its value opens a bracket that "
                       f"the words after it, {joined!r}, close (a shell splits an unquoted "
                       f"word at each space); quote it: {quoted}")


def _empty_value(key: str) -> ConfigError:
    """The error for the override ``--key=`` (no value): the null to write where ``key``
    takes it, else its default (was: "null ... reads as its default" for every key, which
    ``--search.verbose=null`` then refused); outside the ``search`` block, that leaving it
    out keeps the config's value and null passes None.

    Example:
        >>> print(_empty_value("search.verbose"))
        override --search.verbose has an empty value; write --search.verbose=VALUE \
(--search.verbose=true for its default; search.verbose takes no null)
    """
    head = f"override --{key} has an empty value; write --{key}=VALUE"
    block, _, name = key.partition(".")
    if block == "search" and name in NO_NULL:
        said = f"--{key}={NO_NULL[name]} for its default; "
        if name == "budget":
            return ConfigError(f"{head} ({said}--{key}=null for none, beside a "
                               f"search.time_limit)")
        return ConfigError(f"{head} ({said}{key} takes no null)")
    if block == "search":
        return ConfigError(f"{head} (--{key}=null for null, which a setting reads as its "
                           f"default; --{key}='' for an empty string)")
    lightning = (", or Lightning read it as a default of its own (max_epochs: 1000 "
                 "epochs)") if block == "trainer" else ""
    return ConfigError(f"{head} (leave --{key} out for the config's value; --{key}=null "
                       f"passes null (None): the argument's annotation may refuse it"
                       f"{lightning}; --{key}='' for an empty string)")  # (was: "null, which
    # a setting reads as its default" for any key: model.dropout=None was then refused)


def _empty_key(arg: str, key: str, example: str) -> ConfigError:
    """The error for the override ``arg`` whose dotted ``key`` holds an empty key (two dots
    together, a dot at its start or end, or no key at all).

    Example:
        >>> print(_empty_key("--model.=3", "model.", "--search.budget=5"))
        override '--model.=3' has an empty key at its end ('model.'): a dotted override \
names a key between each two dots, e.g. --search.budget=5
    """
    if not key:
        return ConfigError(f"override {arg!r} names no key; write --KEY=VALUE, e.g. {example}")
    where = ("at its start" if key.startswith(".") else "at its end" if key.endswith(".")
             else "between two dots")
    return ConfigError(f"override {arg!r} has an empty key {where} ({key!r}): a dotted "
                       f"override names a key between each two dots, e.g. {example}")


def split_overrides(args: Sequence[str], example: str = "--search.budget=5",
                    name: str = "overrides") -> list[tuple[str, str]]:
    """The ``(key, value text)`` of dotted overrides, ``--a.b=v`` or ``--a.b v``.

    Example:
        >>> split_overrides(["--search.budget=5", "--trainer.max_epochs", "2"])
        [('search.budget', '5'), ('trainer.max_epochs', '2')]

    Raises:
        ConfigError: for ``args`` given as one string (was: read a character at a time,
            ``got '-'``), naming the argument (``name``) and the list to give; for an
            argument that is no override, naming ``example`` (one the command at hand
            takes), for one whose dotted key holds an empty key (``--search.space..x=1``,
            ``--model.=3``, ``--=1``), and for one without a value or with an empty one
            (``--search.run_dir=``: ``null`` is written out; for a search setting
            without null, its default: ``NO_NULL``).
    """
    if isinstance(args, str):  # a Sequence[str] too, of one-character strings
        try:
            words = shlex.split(args)
        except ValueError:  # an unclosed quote: the string as one override
            words = [args]
        raise ConfigError(f"{name} must be a list of overrides, one string each; got the "
                          f"string {args!r}: give a list: {words!r}")
    pairs, i = [], 0
    args = list(args)
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or len(arg) < 3:
            raise ConfigError(f"expected an override like {example}, got {arg!r}")
        if "=" in arg:
            key, value = arg[2:].split("=", 1)
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            key, value = arg[2:], args[i + 1]
            i += 1
        else:
            raise ConfigError(f"override {arg!r} has no value; write {arg}=VALUE")
        rest = []
        while open_brackets(" ".join([value, *rest])) > 0 and i + 1 < len(args) and \
                not args[i + 1].startswith("--"):
            i += 1
            rest.append(args[i])
        if rest:
            raise _cut_value(arg, value, rest)
        if "" in key.split("."):  # was: "space keys must be non-empty strings, got ''",
            raise _empty_key(arg, key, example)  # "unknown config section ''", unnamed
        if not value.strip():  # was: YAML's null, without a word (an unset $RUN in
            # --search.run_dir=$RUN wrote the default folder; max_epochs= trained 1000)
            raise _empty_value(key)
        pairs.append((key, value))
        i += 1
    return pairs


def not_a_mapping(key: str, path: str, value: Any) -> ConfigError:
    """The error for the override ``--key`` reaching through ``path``, which the config
    gives as ``value``, no mapping (was: ``value`` silently replaced by a mapping of the
    override alone, so ``trainer: 5`` with ``--trainer.max_epochs=1`` trained on defaults).

    Example:
        >>> "search: [1], not a mapping" in str(not_a_mapping("search.budget", "search", [1]))
        True
    """
    return ConfigError(f"--{key}: the config gives {path}: {value!r}, not a mapping with "
                       f"keys; set the whole value (--{path}=...) or fix it in the config file")

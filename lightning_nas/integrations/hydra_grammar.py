"""Hydra's sweep grammar as a lightning_nas search space, and an architecture back as the
overrides of one Hydra job.

The sweeper's ``params`` and the command line's overrides are parsed by Hydra's own
``OverridesParser``, as the Optuna and Nevergrad sweepers read them; each entry becomes one
parameter of a ``SearchSpace`` whose key is the override's key (``model.net.lin1_size``):

=====================================  ==============================================
Hydra                                  space kind
=====================================  ==============================================
``choice(relu, gelu)``, ``a,b``        ``choice`` (``ordered``, sorted, when every value
                                       is a number)
``tag(ordered, choice(s, m, l))``      ``ordered``, in the order given
``range(1, 5)``                        ``ordered`` ``[1, 2, 3, 4]``
``interval(0.0001, 0.1)``              ``float``
``int(interval(16, 512))``             ``int``
``tag(log, ...)``                      the range on a log scale
a plain value (``0.1``, ``adam``)      ``fixed``
=====================================  ==============================================

A command-line override of a params key wins over the config file; other command-line
overrides (``experiment=x``, ``trainer.max_epochs=3``) are passed to every job as written.

Example:
    >>> sweep = parse_params({"lr": "tag(log, interval(1e-4, 1e-1))",
    ...                       "bs": "choice(64, 32)", "act": "relu,gelu"}, ["bs=16", "seed=1"])
    >>> sweep.space.to_dict()
    {'lr': {'float': [0.0001, 0.1], 'log': True}, 'bs': {'fixed': 16},
     'act': {'choice': ['relu', 'gelu']}}
    >>> sweep.overrides({"lr": 0.01, "bs": 16, "act": "gelu"})
    ['seed=1', 'lr=0.01', 'bs=16', "act='gelu'"]
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    Quote,
    QuotedString,
    RangeSweep,
)
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from lightning_nas.errors import SpaceError, did_you_mean
from lightning_nas.integrations.hydra_int_ends import truncated_refusal, widened_ends
from lightning_nas.integrations.hydra_space_syntax import search_space_syntax
from lightning_nas.numeric import is_number
from lightning_nas.space import Choice, Fixed, Float, Int, Ordered, Param, SearchSpace
from lightning_nas.space.params import TooManyValues
from lightning_nas.space.ranges import EqualBounds
from lightning_nas.space.search_space import OverlappingKeys
from lightning_nas.wording import named

__all__ = ["TAGS", "SweepParams", "config_args", "format_value", "group_of",
           "param_of", "parse_params", "path_of", "task_script"]

#: the tags of Hydra's grammar that the sweeper reads
TAGS = ("log", "ordered")


@dataclass(frozen=True)
class SweepParams:
    """What a sweep searches, and what every job gets besides.

    Args:
        space: one parameter per params key (dotted config paths or config groups).
        passthrough: command-line overrides that are not params, passed to every job as
            written (before the architecture's).
        widened: what to warn of before the first job: each ``int(interval(a, b))`` whose
            ends ``int`` truncated below ``a`` or above ``b`` (``widened_ends``).
    """

    space: SearchSpace
    passthrough: tuple[str, ...] = ()
    widened: tuple[str, ...] = ()

    def overrides(self, arch: Mapping[str, Any]) -> list[str]:
        """The overrides of the job that evaluates ``arch``.

        Example:
            >>> SweepParams(SearchSpace({"m.w": Choice(["a b", "c"])})).overrides({"m.w": "a b"})
            ["m.w='a b'"]
        """
        return [*self.passthrough, *(f"{key}={format_value(value)}"
                                     for key, value in arch.items())]


def task_script() -> str:
    """The task as the sweep was started, ``python`` left out: its script
    (``src/train.py``), ``-m src.train`` for a module started with ``python -m``, the
    command of a console script (the template's ``train_command``: its name where the
    ``PATH`` finds it, else its path); else ``<task>.py`` (was: ``src/train.py`` for
    ``python -m src.train``, ``<task>.py`` for a console script)."""
    script = sys.argv[0] if sys.argv else ""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.origin and script and \
            os.path.abspath(script) == os.path.abspath(spec.origin):  # python -m NAME
        return f"-m {spec.name.removesuffix('.__main__')}"
    if not os.path.isfile(script):
        return "<task>.py"
    path = os.path.abspath(script)
    if not script.endswith(".py"):  # a console script, started as a command
        if not os.access(path, os.X_OK):
            return "<task>.py"
        found = shutil.which(os.path.basename(path))
        return os.path.basename(path) if found and os.path.samefile(found, path) else path
    return os.path.relpath(path) if path.startswith(os.getcwd() + os.sep) else path


#: the keys of Hydra overrides that shape a sweep, not its jobs: left out of a rerun line
_SWEEP_KEYS = ("hydra.sweep.", "hydra.sweeper", "hydra/sweeper", "hydra.launcher",
               "hydra/launcher", "hydra.mode")


def config_args(config: DictConfig) -> list[str]:
    """The sweep's primary config as the task's command line names it: ``--config-name``
    (the script's default is not known here), each ``--config-dir``, and ``--config-path``
    (absolute) where the sweep's command line gave one; then the command line's Hydra
    overrides that shape a job (``hydra.job.chdir=True``, ``hydra/job_logging=...``; was:
    left out), not those of the sweep (``hydra.sweeper.*``, ``hydra.sweep.dir``, the
    launcher)."""
    name = config.hydra.job.config_name
    args = [] if name is None else ["--config-name", str(name)]
    given = any(a.startswith(("--config-path", "-cp")) for a in sys.argv[1:])
    for source in config.hydra.runtime.config_sources:
        path = source.path if source.schema == "file" else f"{source.schema}://{source.path}"
        if source.provider == "command-line":
            args += ["--config-dir", path]
        elif source.provider == "main" and given:
            args += ["--config-path", os.path.abspath(path) if source.schema == "file" else path]
    # as written: one holding a job's interpolation (hydra.sweep.subdir=${hydra.job.num})
    # resolves in a job only (was: InterpolationToMissingValueError, the sweep crashed)
    given = OmegaConf.select(config, "hydra.overrides.hydra", default=None)
    given = [] if given is None else OmegaConf.to_container(given, resolve=False)
    return args + [str(o) for o in given
                   if not str(o).split("=", 1)[0].lstrip("+~").startswith(_SWEEP_KEYS)]


def parse_params(params: Mapping[str, Any] | None, arguments: Iterable[str] = (),
                 config_loader: Any = None) -> SweepParams:
    """The search space of the sweeper's ``params`` and the command line's ``arguments``.

    Args:
        params: ``{key: grammar text or plain value}`` (the ``hydra.sweeper.params`` node).
        arguments: the command line's task overrides; an override of a params key, or a
            sweep, replaces or adds that parameter; the others are passed through.
        config_loader: Hydra's config loader, needed only to expand ``glob(...)`` over a
            config group's options.

    Raises:
        SpaceError: naming the key, for a grammar error, an unknown tag, an empty range or
            bounds the space kinds refuse; also when nothing is searched.
    """
    parser = OverridesParser.create(config_loader=config_loader)
    entries: dict[str, Override] = {}
    for key, value in _flat(parser, params or {}).items():
        override = _parse(parser, f"{key}={_grammar(key, value)}", str(key))
        entries[_name(override)] = override
    passthrough = []
    for line in arguments:
        override = _parse(parser, line, line.split("=", 1)[0])
        if _name(override) in entries or override.is_sweep_override():
            entries[_name(override)] = override  # the command line wins
        else:
            passthrough.append(line)
    space = {o.get_key_element(): param_of(o) for o in entries.values()}
    widened = tuple(filter(None, map(widened_ends, entries.values())))  # 0.5 -> 0
    if not space:
        raise SpaceError("the sweep has nothing to search: give hydra.sweeper.params (e.g. "
                         "model.lr: interval(0.001, 0.1)) or a sweep on the command line")
    try:
        return SweepParams(SearchSpace(space), tuple(passthrough), widened)
    except OverlappingKeys as err:  # a nested key beside a dotted one: how it is made
        raise SpaceError(f"hydra.sweeper.params: {err} (a command line's hydra.sweeper."
                         f"params.<key>.<sub>=VALUE makes such a nested key beside a file's "
                         f"'<key>.<sub>'; to give every job one value, write it as a plain "
                         f"override, <key>.<sub>=VALUE, which wins over the params)") from None


def param_of(override: Override) -> Param:
    """The space parameter of one parsed override (see the module's table).

    Example:
        >>> parser = OverridesParser.create()
        >>> param_of(parser.parse_overrides(["w=tag(log, int(interval(16, 512)))"])[0])
        Int(16, 512, log=True)
    """
    key = override.get_key_element()
    try:
        return _param(override)
    except TooManyValues as err:  # the ranges to search instead, in Hydra's grammar
        again = TooManyValues(err.refusal, "int(interval(low, high)) or interval(low, high)")
        raise SpaceError(f"sweep parameter '{key}': {again}") from None
    except (SpaceError, HydraException) as err:
        raise SpaceError(f"sweep parameter '{key}': {err}") from None


def group_of(key: str) -> str:
    """The config group that an override's key chooses an option of, if it names one:
    the key without its ``+``/``++``/``~`` and its ``@package`` (Hydra's
    ``Override.key_or_group``); a value's key comes back as its config path.

    Example:
        >>> group_of("optim@model.optimizer"), group_of("+extra"), group_of("++trainer.devices")
        ('optim', 'extra', 'trainer.devices')
    """
    return _key_override(key).key_or_group


def path_of(key: str) -> str:
    """The config path that an override's key sets: a value's key without its ``+``/``++``;
    a config group's option at its ``@package`` (``_global_``: the root, ``""``), else at
    the group's path.

    Example:
        >>> path_of("+model.net.dims"), path_of("+optim@model.optimizer"), path_of("model/net")
        ('model.net.dims', 'model.optimizer', 'model.net')
    """
    override = _key_override(key)
    if override.package is None:
        return override.key_or_group.replace("/", ".")
    return override.package.removeprefix("_global_").lstrip(".")


def format_value(value: Any, quote: Quote | None = Quote.single) -> str:
    """``value`` in Hydra's override grammar; parsing the text gives ``value`` back
    (strings are quoted, floats written exactly). ``quote`` None writes strings bare (an
    empty one ``''``), which parse back only where Hydra reads them as strings
    (``hydra_rerun`` keeps such a form only where they do).

    Example:
        >>> format_value([1, 1e-05, None, True, "it's"])
        "[1,1e-05,null,true,'it\\\\'s']"
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return (value or "''") if quote is None else QuotedString(value, quote).with_quotes()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v, quote) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{format_value(v, quote)}" for k, v in value.items()) + "}"
    raise SpaceError(f"{value!r} ({type(value).__name__}) cannot be written as a Hydra "
                     f"override; use numbers, strings, booleans, null, lists or mappings")


# ----------------------------------------------------------------- helpers
#: keys of a Nevergrad-sweeper scalar spec (``{lower, upper, log, integer}``) read here
_SCALAR_KEYS = ("lower", "upper", "log", "integer")


def _grammar(key: str, value: Any) -> str:
    """A params value as sweep grammar: a string as it is, a plain value fixed, the
    Nevergrad sweeper's range (a mapping of ``lower``, ``upper``, ``log``, ``integer``) as
    a range. A list is refused: the Optuna sweeper fixes it, the Nevergrad one chooses
    among its values; the grammar says which.

    Example:
        >>> _grammar("lr", {"lower": 0.001, "upper": 0.1, "log": True})
        'tag(log,interval(0.001,0.1))'
        >>> _grammar("width", [8, 16])
        Traceback (most recent call last):
        ...
        lightning_nas.errors.SpaceError: params key 'width': a list is either a choice ...
    """
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        raise SpaceError(f"params key {key!r}: a list is either a choice of its values or "
                         f"one fixed value; write choice({', '.join(map(str, value))}) to "
                         f"search it, or the string '{format_value(list(value))}' to fix it")
    said = search_space_syntax(key, value, format_value(value))  # {choice: [1, 2]}, ...
    if said is not None:
        raise SpaceError(said)
    if isinstance(value, Mapping) and _is_range(value):
        unknown = sorted(map(str, set(value) - set(_SCALAR_KEYS)))
        missing = [k for k in ("lower", "upper") if k not in value]
        if unknown or missing:  # a misspelt range key was a fixed mapping: jobs failed
            hints = " ".join(did_you_mean(k, _SCALAR_KEYS).strip() for k in unknown).strip()
            wrong = [f"it lacks {' and '.join(missing)}"] if missing else []
            if unknown:
                wrong.insert(0, f"a range takes {', '.join(_SCALAR_KEYS)}, not "
                                f"{', '.join(unknown)}{f' ({hints})' if hints else ''}")
            raise SpaceError(f"params key {key!r}: {format_value(value)} has keys of the "
                             f"Nevergrad sweeper's range but is not one: {'; '.join(wrong)}. "
                             f"To fix such a mapping as one value, write it as the string "
                             f"'{format_value(value)}'")
        text = f"interval({format_value(value['lower'])},{format_value(value['upper'])})"
        text = f"int({text})" if value.get("integer") else text
        return f"tag(log,{text})" if value.get("log") else text
    return format_value(value)


def _flat(parser: OverridesParser, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with each nested mapping that searches something (a grammar string or a
    range inside) as dotted keys: ``opt: {name: "choice(a, b)"}`` is ``opt.name``; was fixed
    as the literal text ``'choice(a, b)'``. A mapping of plain values stays one value."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping) and not _is_range(value) and _searches(parser, value):
            flat = {f"{key}.{sub}": leaf for sub, leaf in _flat(parser, value).items()}
        else:
            flat = {str(key): value}
        for name, leaf in flat.items():
            if name in out:  # was: the later one kept, the other dropped without a word
                raise SpaceError(
                    f"hydra.sweeper.params gives {name!r} twice, as a dotted key and nested "
                    f"({format_value(out[name])} and {format_value(leaf)}): give it once (a "
                    f"command line's hydra.sweeper.params.<key>.<sub>=VALUE makes such a "
                    f"nested key beside a file's '<key>.<sub>'; to search other values, write "
                    f"<key>.<sub>=VALUE on the command line, which wins over the params)")
            out[name] = leaf
    return out


def _is_range(value: Mapping[str, Any]) -> bool:
    """Whether ``value`` is meant as the Nevergrad sweeper's range: it has one of its keys
    (``step`` too, theirs); ``_grammar`` refuses one that is not a valid range."""
    return any(k in value for k in (*_SCALAR_KEYS, "step"))


def _searches(parser: OverridesParser, value: Any) -> bool:
    if isinstance(value, Mapping):
        return _is_range(value) or any(_searches(parser, v) for v in value.values())
    try:
        return isinstance(value, str) and parser.parse_overrides(
            [f"k={value}"])[0].is_sweep_override()
    except HydraException:
        return False


@functools.lru_cache(maxsize=256)
def _key_override(key: str) -> Override:
    """``key`` parsed as the key of an override (of a placeholder value)."""
    return OverridesParser.create().parse_overrides([f"{key}=_"])[0]


def _parse(parser: OverridesParser, line: str, key: str) -> Override:
    try:
        return parser.parse_overrides([line])[0]
    except HydraException as err:
        raise SpaceError(f"sweep parameter '{key}': {err}") from None


def _name(override: Override) -> str:
    """The key without ``+``/``++``, so that ``+x=1`` on the command line replaces ``x``."""
    package = f"@{override.package}" if override.package is not None else ""
    return f"{override.key_or_group}{package}"


def _param(override: Override) -> Param:
    if override.is_delete():
        raise SpaceError("a deletion (~key) cannot be searched")
    value = override.value()
    if not override.is_sweep_override():
        return Fixed(value)
    tags = set(getattr(value, "tags", ()) or ())
    unknown = sorted(tags - set(TAGS))
    if unknown:
        raise SpaceError(f"unknown {named(unknown, 'tag')}; valid tags: {', '.join(TAGS)}")
    if isinstance(value, IntervalSweep):
        if "ordered" in tags:
            raise SpaceError("tag 'ordered' applies to choice(...) and range(...), not "
                             "interval(...) (already ordered)")
        log = "log" in tags
        try:
            if isinstance(value.start, int) and isinstance(value.end, int):
                return Int(value.start, value.end, log=log)
            return Float(float(value.start), float(value.end), log=log)
        except EqualBounds as err:  # one value: a plain one in Hydra's grammar
            said = (f"{err.refusal}; for the one value {err.value!r}, give {err.value!r} as "
                    f"a plain value")
            raise SpaceError(truncated_refusal(override, err.refusal) or said) from None
        except SpaceError as err:  # 0.5..0.9 is 0..0: say that int(...) made it so
            raise SpaceError(truncated_refusal(override, str(err)) or str(err)) from None
    if "log" in tags:
        raise SpaceError("tag 'log' applies to interval(...) only; a choice or range is "
                         "searched by its values")
    if isinstance(value, RangeSweep):
        if value.step == 0:  # (was: Python's ValueError, naming no key)
            raise SpaceError(f"{override.get_value_string()}: its step is 0; give a step "
                             f"that is not 0 (range(start, stop) steps by 1)")
        values = list(value.range())  # shuffle(...) does not matter to a search
        if not values:
            raise SpaceError(f"{override.get_value_string()} holds no value")
        return Ordered(values)
    if isinstance(value, ChoiceSweep):
        values = [_plain(v) for v in value.list]
    else:  # glob(...): the options of a config group
        values = list(override.sweep_iterator())
    if "ordered" in tags:
        return Ordered(values)
    if all(is_number(v) for v in values):
        return Ordered(sorted(values))
    return Choice(values)


def _plain(value: Any) -> Any:
    """A parsed element as plain data (quoted strings nested in lists and dicts too)."""
    if isinstance(value, QuotedString):
        return value.text
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value

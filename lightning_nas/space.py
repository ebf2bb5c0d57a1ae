"""Search spaces: what a search may choose, built in Python or loaded from YAML.

A space maps names to *parameters*. An architecture (``arch``) is a plain dict with one
value per name, JSON- and YAML-serialisable, so it crosses processes, goes into the run
store and into ``save_hyperparameters`` unchanged.

YAML form (each value names its kind; a mapping without a kind key is a nested group)::

    num_layers: {choice: [2, 3, 4]}           # unordered categorical
    depth: {ordered: [1, 2, 4, 8]}            # ordered choice (neighbours are similar)
    width: {int: [16, 128], log: true}        # int range, optional log and step
    lr: {float: [1.0e-4, 1.0e-1], log: true}  # float range, optional log
    dropout: {fixed: 0.1}                     # constant
    head: {hidden: {choice: [64, 128]}}       # nested group -> arch["head"]["hidden"]

Example:
    >>> space = SearchSpace.from_dict({"k": {"choice": [3, 5]}, "w": {"int": [8, 16]}})
    >>> space.size()
    18
    >>> arch = space.sample(seed=0)
    >>> space.validate(arch) == arch
    True
"""

from __future__ import annotations

import difflib
import json
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nevergrad as ng
import yaml

from lightning_nas.yamlio import load_yaml

__all__ = [
    "Choice",
    "Fixed",
    "Float",
    "Int",
    "Ordered",
    "Param",
    "SearchSpace",
    "SpaceError",
    "arch_key",
    "flatten_arch",
    "format_arch",
]

KINDS = ("choice", "ordered", "int", "float", "fixed")


class SpaceError(ValueError):
    """A search space or an architecture does not fit the rules; the message says where."""


def arch_key(arch: Mapping[str, Any]) -> str:
    """Canonical text of an architecture, equal for equal architectures.

    Example:
        >>> arch_key({"b": 1, "a": 2}) == arch_key({"a": 2, "b": 1})
        True
    """
    return json.dumps(arch, sort_keys=True, separators=(",", ":"))


def _plain(value: Any) -> Any:
    """Turn numpy scalars and tuples into plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps ``True`` apart from ``1`` (and ``1`` apart from ``1.0``)."""
    return type(a) is type(b) and a == b if isinstance(a, (bool, int, float)) else a == b


def format_arch(arch: Mapping[str, Any]) -> str:
    """``key=value`` pairs on one line, floats with 4 significant digits.

    Example:
        >>> format_arch({"k": 3, "lr": 0.0012345, "head": {"w": 8}})
        'k=3 lr=0.001234 head.w=8'
    """
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in flatten_arch(arch).items())


def flatten_arch(arch: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested groups as dotted keys.

    Example:
        >>> flatten_arch({"k": 3, "head": {"w": 8}})
        {'k': 3, 'head.w': 8}
    """
    out: dict[str, Any] = {}
    for key, value in arch.items():
        if isinstance(value, Mapping):
            out.update(flatten_arch(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


class Param(ABC):
    """One searchable knob. Subclasses know their size, how to sample and to validate."""

    kind: str

    @abstractmethod
    def size(self) -> float:
        """Number of distinct values (``math.inf`` for continuous ranges)."""

    @abstractmethod
    def sample(self, rng: random.Random) -> Any:
        """Draw a value uniformly (log-uniformly for log ranges)."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a legal value of this parameter."""

    def plain(self, value: Any) -> Any:
        """The stored form of a legal value (``Float`` turns ``1`` into ``1.0``)."""
        return value

    @abstractmethod
    def describe(self) -> str:
        """Short text of the legal values, used in error messages."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping this parameter loads from."""

    @abstractmethod
    def to_nevergrad(self) -> ng.p.Parameter:
        """The nevergrad parameter whose ``.value`` is a legal plain value."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.to_dict() == other.to_dict()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash(arch_key(self.to_dict()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != self.kind)
        first = repr(self.to_dict()[self.kind])
        return f"{type(self).__name__}({first}{', ' + args if args else ''})"


class Choice(Param):
    """Unordered categorical choice (nevergrad ``Choice``).

    Example:
        >>> Choice(["relu", "gelu"]).size()
        2
    """

    kind = "choice"

    def __init__(self, values: Sequence[Any]) -> None:
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise SpaceError(f"`{self.kind}` expects a non-empty list of values, got {values!r}")
        self.values = [_plain(v) for v in values]
        if any(_same(a, b) for i, a in enumerate(self.values) for b in self.values[:i]):
            raise SpaceError(f"`{self.kind}` values must be distinct, got {self.values!r}")

    def size(self) -> float:
        return len(self.values)

    def sample(self, rng: random.Random) -> Any:
        return self.values[rng.randrange(len(self.values))]

    def contains(self, value: Any) -> bool:
        return any(_same(_plain(value), v) for v in self.values)

    def describe(self) -> str:
        return f"one of {self.values!r}"

    def to_dict(self) -> dict[str, Any]:
        return {self.kind: list(self.values)}

    def to_nevergrad(self) -> ng.p.Parameter:
        return ng.p.Choice(list(self.values))


class Ordered(Choice):
    """Ordered choice: neighbouring values are alike (nevergrad ``TransitionChoice``).

    Example:
        >>> Ordered([1, 2, 4, 8]).describe()
        'one of [1, 2, 4, 8] (ordered)'
    """

    kind = "ordered"

    def describe(self) -> str:
        return super().describe() + " (ordered)"

    def to_nevergrad(self) -> ng.p.Parameter:
        return ng.p.TransitionChoice(list(self.values))


class _Range(Param):
    """Shared checks of ``Int`` and ``Float``: bounds, log scale."""

    def __init__(self, low: float, high: float, log: bool = False) -> None:
        for name, bound in (("low", low), ("high", high)):
            if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                raise SpaceError(f"`{self.kind}` {name} bound must be a number, got {bound!r}")
        if not low < high:
            raise SpaceError(f"`{self.kind}` needs low < high, got [{low}, {high}]")
        if log and low <= 0:
            raise SpaceError(f"`{self.kind}` with log: true needs low > 0, got {low}")
        self.low, self.high, self.log = low, high, bool(log)

    def _uniform(self, rng: random.Random) -> float:
        if self.log:
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return rng.uniform(self.low, self.high)

    def _bounded(self) -> ng.p.Parameter:
        if self.log:
            return ng.p.Log(lower=self.low, upper=self.high)
        return ng.p.Scalar(lower=self.low, upper=self.high)


class Int(_Range):
    """Integer range ``[low, high]`` (both included), optionally log-scaled or stepped.

    Example:
        >>> Int(16, 128, log=True).size()
        113
        >>> Int(0, 10, step=5).size()
        3
    """

    kind = "int"

    def __init__(self, low: int, high: int, log: bool = False, step: int | None = None) -> None:
        if not (isinstance(low, int) and isinstance(high, int)):
            raise SpaceError(f"`int` bounds must be integers, got [{low!r}, {high!r}]")
        super().__init__(low, high, log)
        if step is not None and (not isinstance(step, int) or step < 1):
            raise SpaceError(f"`int` step must be a positive integer, got {step!r}")
        if step is not None and log:
            raise SpaceError("`int` takes either log: true or step, not both")
        self.step = step

    def _values(self) -> range:
        return range(int(self.low), int(self.high) + 1, self.step or 1)

    def size(self) -> float:
        return len(self._values())

    def sample(self, rng: random.Random) -> int:
        if self.step:
            return rng.choice(self._values())
        return min(int(self.high), max(int(self.low), round(self._uniform(rng))))

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value in self._values()

    def describe(self) -> str:
        extra = " (log)" if self.log else (f" step {self.step}" if self.step else "")
        return f"an integer in [{self.low}, {self.high}]{extra}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {self.kind: [self.low, self.high]}
        if self.log:
            out["log"] = True
        if self.step:
            out["step"] = self.step
        return out

    def to_nevergrad(self) -> ng.p.Parameter:
        if self.step:
            return ng.p.TransitionChoice(list(self._values()))
        return self._bounded().set_integer_casting()


class Float(_Range):
    """Float range ``[low, high]``, optionally log-scaled.

    Example:
        >>> Float(1e-4, 1e-1, log=True).contains(1e-3)
        True
    """

    kind = "float"

    def __init__(self, low: float, high: float, log: bool = False) -> None:
        super().__init__(float(low) if isinstance(low, int) else low,
                         float(high) if isinstance(high, int) else high, log)

    def size(self) -> float:
        return math.inf

    def sample(self, rng: random.Random) -> float:
        return self._uniform(rng)

    def contains(self, value: Any) -> bool:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok and self.low <= value <= self.high

    def plain(self, value: Any) -> float:
        return float(value)

    def describe(self) -> str:
        return f"a float in [{self.low}, {self.high}]{' (log)' if self.log else ''}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {self.kind: [self.low, self.high]}
        if self.log:
            out["log"] = True
        return out

    def to_nevergrad(self) -> ng.p.Parameter:
        return self._bounded()


class Fixed(Param):
    """A constant: part of every architecture, never searched.

    Example:
        >>> Fixed(0.1).size()
        1
    """

    kind = "fixed"

    def __init__(self, value: Any) -> None:
        self.value = _plain(value)

    def size(self) -> float:
        return 1

    def sample(self, rng: random.Random) -> Any:
        return self.value

    def contains(self, value: Any) -> bool:
        return _same(_plain(value), self.value)

    def describe(self) -> str:
        return f"the fixed value {self.value!r}"

    def to_dict(self) -> dict[str, Any]:
        return {self.kind: self.value}

    def to_nevergrad(self) -> ng.p.Parameter:
        return ng.p.Constant(self.value)


_OPTIONS = {"choice": (), "ordered": (), "int": ("log", "step"), "float": ("log",), "fixed": ()}


def _param_from_dict(path: str, spec: Mapping[str, Any]) -> Param:
    kinds = [k for k in spec if k in KINDS]
    if len(kinds) > 1:
        raise SpaceError(f"space key '{path}' names several kinds {kinds}; give exactly one")
    kind = kinds[0]
    extra = sorted(set(spec) - {kind} - set(_OPTIONS[kind]))
    if extra:
        valid = ", ".join(_OPTIONS[kind]) or "none"
        raise SpaceError(f"space key '{path}': unknown option(s) {extra} for kind `{kind}`; "
                         f"valid options: {valid}")
    arg = spec[kind]
    try:
        if kind in ("choice", "ordered"):
            return (Choice if kind == "choice" else Ordered)(arg)
        if kind == "fixed":
            return Fixed(arg)
        if not (isinstance(arg, Sequence) and not isinstance(arg, str) and len(arg) == 2):
            raise SpaceError(f"`{kind}` expects [low, high], got {arg!r}")
        options = {k: spec[k] for k in _OPTIONS[kind] if k in spec}
        return (Int if kind == "int" else Float)(arg[0], arg[1], **options)
    except SpaceError as err:
        raise SpaceError(f"space key '{path}': {err}") from None


class SearchSpace:
    """A named, possibly nested, set of parameters.

    Args:
        params: name -> ``Param``, or a nested mapping (group) of the same.

    Example:
        >>> space = SearchSpace({"act": Choice(["relu", "gelu"]), "head": {"w": Int(8, 64)}})
        >>> sorted(space.sample(seed=1))
        ['act', 'head']
    """

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params: dict[str, Param | SearchSpace] = {}
        if not isinstance(params, Mapping) or not params:
            raise SpaceError(f"a search space must be a non-empty mapping, got {params!r}")
        for name, value in params.items():
            if not isinstance(name, str) or not name:
                raise SpaceError(f"space keys must be non-empty strings, got {name!r}")
            if isinstance(value, (Param, SearchSpace)):
                self.params[name] = value
            elif isinstance(value, Mapping):
                self.params[name] = SearchSpace(value)
            else:
                raise SpaceError(f"space key '{name}' must be a parameter, got {value!r}")

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], _prefix: str = "") -> SearchSpace:
        """Build from the YAML mapping form (see the module docstring)."""
        if not isinstance(spec, Mapping) or not spec:
            where = f" at '{_prefix.rstrip('.')}'" if _prefix else ""
            raise SpaceError(f"a search space{where} must be a non-empty mapping, got {spec!r}")
        params: dict[str, Param | SearchSpace] = {}
        for name, value in spec.items():
            path = f"{_prefix}{name}"
            if not isinstance(value, Mapping):
                raise SpaceError(_not_a_param_message(path, name, value))
            if any(k in KINDS for k in value):
                params[str(name)] = _param_from_dict(path, value)
            else:
                params[str(name)] = cls.from_dict(value, _prefix=f"{path}.")
        return cls(params)

    @classmethod
    def from_yaml(cls, source: str | Path) -> SearchSpace:
        """Load from a YAML file path or a YAML string.

        Example:
            >>> SearchSpace.from_yaml("k: {choice: [3, 5, 7]}").size()
            3
        """
        text = Path(source).read_text() if _is_file(source) else str(source)
        return cls.from_dict(load_yaml(text))

    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping form; ``SearchSpace.from_dict(s.to_dict()) == s``."""
        return {k: v.to_dict() for k, v in self.params.items()}

    def to_yaml(self) -> str:
        """YAML text; ``SearchSpace.from_yaml(s.to_yaml()) == s``."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    # ----------------------------------------------------------------- queries
    def names(self) -> list[str]:
        """Top-level names (the keyword arguments a model receives)."""
        return list(self.params)

    def size(self) -> float:
        """Number of distinct architectures, ``math.inf`` if any range is continuous."""
        return math.prod(p.size() for p in self.params.values())

    def sample(self, seed: int | None = None, rng: random.Random | None = None) -> dict[str, Any]:
        """A uniformly drawn architecture; the same ``seed`` gives the same one."""
        rng = rng or random.Random(seed)
        return {k: p.sample(rng=rng) if isinstance(p, SearchSpace) else p.sample(rng)
                for k, p in self.params.items()}

    def validate(self, arch: Mapping[str, Any], _prefix: str = "") -> dict[str, Any]:
        """Check that ``arch`` is an architecture of this space; return it as plain data.

        Raises:
            SpaceError: naming the missing, unknown or out-of-range key and what is valid.
        """
        if not isinstance(arch, Mapping):
            where = f" {_prefix.rstrip('.')}" if _prefix else ""
            raise SpaceError(f"architecture{where} must be a mapping, got {arch!r}")
        missing = [f"{_prefix}{k}" for k in self.params if k not in arch]
        unknown = [f"{_prefix}{k}" for k in arch if k not in self.params]
        if missing or unknown:
            raise SpaceError(f"architecture keys do not match the space: missing {missing}, "
                             f"unknown {unknown}; space keys: {self._paths(_prefix)}")
        out = {}
        for name, param in self.params.items():
            value = arch[name]
            if isinstance(param, SearchSpace):
                out[name] = param.validate(value, _prefix=f"{_prefix}{name}.")
            elif not param.contains(_plain(value)):
                raise SpaceError(f"architecture value {_prefix}{name}={value!r} is not in the "
                                 f"space: expected {param.describe()}")
            else:
                out[name] = param.plain(_plain(value))
        return out

    def to_nevergrad(self) -> ng.p.Dict:
        """A nevergrad ``Dict`` whose ``.value`` is a plain architecture dict."""
        return ng.p.Dict(**{k: p.to_nevergrad() for k, p in self.params.items()})

    def _paths(self, prefix: str = "") -> list[str]:
        out: list[str] = []
        for k, p in self.params.items():
            out += p._paths(f"{prefix}{k}.") if isinstance(p, SearchSpace) else [f"{prefix}{k}"]
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"SearchSpace({self.params!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"spec": self.to_dict()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.params = SearchSpace.from_dict(state["spec"]).params


def _is_file(source: str | Path) -> bool:
    if isinstance(source, Path):
        return True
    return "\n" not in source and ":" not in source and Path(source).suffix in (".yaml", ".yml")


def _not_a_param_message(path: str, name: Any, value: Any) -> str:
    if "." in path:  # inside a mapping: most likely a misspelt kind, e.g. {choise: [...]}
        parent = path.rsplit(".", 1)[0]
        close = difflib.get_close_matches(str(name), KINDS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return (f"unknown space kind '{name}' at '{parent}'; {hint}valid kinds: {', '.join(KINDS)}"
                f" (a nested group must hold parameters, got {name}: {value!r})")
    return (f"space key '{path}' must be a mapping with one of the kinds {', '.join(KINDS)} "
            f"(e.g. {{choice: [...]}}; use {{fixed: value}} for a constant), got {value!r}")

"""``SearchSpace``: what a search may choose, built in Python or loaded from YAML.

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
import math
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nevergrad as ng

from lightning_nas.arch import plain as _plain
from lightning_nas.config.interpolations import check_space_file
from lightning_nas.config.yamlio import dump_yaml, load_yaml
from lightning_nas.errors import SpaceError
from lightning_nas.run_folder import user_path
from lightning_nas.space.nested import check_not_nested
from lightning_nas.space.params import KINDS, Choice, Param, param_from_dict

__all__ = ["OverlappingKeys", "SearchSpace"]


class OverlappingKeys(SpaceError):
    """Two keys of a space set the same setting (``_check_overlaps``)."""


class SearchSpace:
    """A named, possibly nested, set of parameters.

    Args:
        params: name -> ``Param``, its YAML mapping form (``{"int": [8, 64]}``: a mapping
            with a kind key is a parameter, as in ``from_dict``), or a nested mapping
            (group) of the same.

    Example:
        >>> from lightning_nas.space import Choice, Int
        >>> space = SearchSpace({"act": Choice(["relu", "gelu"]), "head": {"w": Int(8, 64)}})
        >>> sorted(space.sample(seed=1))
        ['act', 'head']
    """

    def __init__(self, params: Mapping[str, Any], *, _prefix: str = "") -> None:
        self.params: dict[str, Param | SearchSpace] = {}
        if not isinstance(params, Mapping) or not params:
            raise SpaceError(f"a search space must be a non-empty mapping, got {params!r}")
        for name, value in params.items():
            _check_key(_prefix, name)
            if isinstance(value, Mapping) and any(k in KINDS for k in value):
                # was: read as a group ("space key 'int' must be a parameter")
                value = param_from_dict(f"{_prefix}{name}", value)
            if isinstance(value, Param):
                check_not_nested(f"{_prefix}{name}", value, (SearchSpace,))  # was: data
                _check_storable(f"{_prefix}{name}", value.to_dict())
                _check_no_nan(f"{_prefix}{name}", value)
                self.params[name] = value
            elif isinstance(value, SearchSpace):
                self.params[name] = value
            elif isinstance(value, Mapping) and value:
                self.params[name] = SearchSpace(value, _prefix=f"{_prefix}{name}.")
            elif isinstance(value, Mapping):  # {}: no kind (was: "must be a non-empty mapping")
                raise SpaceError(_not_a_param_message("", f"{_prefix}{name}", value))
            else:  # was "space key 'choise' must be a parameter" for {width: {choise: ...}}
                raise SpaceError(_not_a_param_message(_prefix, name, value))
        _check_overlaps(self.params, _prefix)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], _prefix: str = "") -> SearchSpace:
        """Build from the YAML mapping form (see the module docstring); a value may also be
        a parameter object (``Int(4, 6)``) or a ``SearchSpace``, in a group too.

        Args:
            spec: name -> parameter mapping (``{"choice": [3, 5]}``), parameter object,
                ``SearchSpace`` or group (a nested mapping of the same).

        Example:
            >>> from lightning_nas.space import Int
            >>> SearchSpace.from_dict({"k": {"choice": [3, 5]}, "g": {"w": Int(4, 6)}}).size()
            6
        """
        if not isinstance(spec, Mapping) or not spec:
            where = f" at '{_prefix.rstrip('.')}'" if _prefix else ""
            raise SpaceError(f"a search space{where} must be a non-empty mapping, got {spec!r}")
        params: dict[str, Param | SearchSpace] = {}
        for name, value in spec.items():
            _check_key(_prefix, name)  # was: str(name), 0 taken as '0' and YAML's on as 'True'
            path = f"{_prefix}{name}"
            if isinstance(value, (Param, SearchSpace)):  # a kind object: Int(4, 6)
                params[name] = value
            elif not isinstance(value, Mapping):
                raise SpaceError(_not_a_param_message(_prefix, name, value))
            elif not value:  # was: "a search space at 'k' must be a non-empty mapping"
                raise SpaceError(_not_a_param_message("", path, value))
            elif any(k in KINDS for k in value):
                params[name] = param_from_dict(path, value)
            else:
                params[name] = cls.from_dict(value, _prefix=f"{path}.")
        return cls(params, _prefix=_prefix)

    @classmethod
    def from_yaml(cls, source: str | Path) -> SearchSpace:
        """Load from a YAML file path or a YAML string.

        Args:
            source: the path of a YAML file holding the mapping form (a non-empty mapping),
                or that YAML text itself.

        Example:
            >>> SearchSpace.from_yaml("k: {choice: [3, 5, 7]}").size()
            3
        """
        user_path(source, "SearchSpace.from_yaml(source=...)")  # was: a bare TypeError
        if _is_folder(source):  # was: the folder's name read as YAML text ("got 'sub'")
            raise SpaceError(f"search space file {source} is a folder; name the YAML file "
                             f"(.yaml or .yml) of the space in it")
        is_file = _is_file(source)
        text = user_path(source).read_text() if is_file else str(source)
        spec = load_yaml(text, source=str(source) if is_file else "the space")
        if is_file and not (isinstance(spec, Mapping) and spec):  # was: no file named
            raise SpaceError(f"search space file {source} must hold a non-empty mapping of "
                             f"space keys (width: {{choice: [16, 32]}}), got {spec!r}")
        if is_file:  # as --search.space=FILE (was: taken as written)
            check_space_file(spec, source)
        return cls.from_dict(spec)

    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping form; ``SearchSpace.from_dict(s.to_dict()) == s``."""
        return {k: v.to_dict() for k, v in self.params.items()}

    def to_yaml(self) -> str:
        """YAML text; ``SearchSpace.from_yaml(s.to_yaml()) == s``."""
        return dump_yaml(self.to_dict(), default_flow_style=None)

    # ----------------------------------------------------------------- queries
    def names(self) -> list[str]:
        """Top-level names (the keyword arguments a model receives)."""
        return list(self.params)

    def check_searchable(self, hint: str) -> None:
        """Raise ``SpaceError`` when the space holds a single architecture: nothing to
        search (nevergrad has no variable to optimize); ``hint`` says what to do instead."""
        if self.size() == 1:
            raise SpaceError(f"the space holds a single architecture ({self.sample(seed=0)}): "
                             f"nothing to search; give a key two or more values, {hint}")

    def size(self) -> float:
        """Number of distinct architectures, ``math.inf`` if any range is continuous."""
        return math.prod(p.size() for p in self.params.values())

    def sample(self, seed: int | None = None, rng: random.Random | None = None) -> dict[str, Any]:
        """A uniformly drawn architecture; the same ``seed`` gives the same one.

        Args:
            seed: the seed of a new ``random.Random`` (None: a random one).
            rng: a ``random.Random`` to draw from instead (``seed`` is then unused).
        """
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
        return isinstance(other, SearchSpace) and self.params == other.params  # typed values

    def __repr__(self) -> str:
        return f"SearchSpace({self.params!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"spec": self.to_dict()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.params = SearchSpace.from_dict(state["spec"]).params


def _check_overlaps(params: Mapping[str, Any], prefix: str = "") -> None:
    """Refuse a dotted key that sets what a mapping of another key sets already: a group's
    name, or a key of a ``fixed`` or ``choice`` mapping (``data: {fixed: {batch_size: 16}}``
    beside ``data.batch_size``): the architecture stored and told would claim one value
    where the trial ran the other (was: accepted without a word). A key beneath a choice of
    names or of ``class_path`` options (``model.net`` and ``model.net.width``, which goes
    into the chosen class's arguments) stays.

    Example:
        >>> from lightning_nas.space import Fixed
        >>> _check_overlaps({"model": Choice(["a", "b"]), "model.lr": Fixed(0.1)})
        >>> _check_overlaps({"data": Fixed({"batch_size": 16}), "data.batch_size": Fixed(64)})
        Traceback (most recent call last):
        ...
        lightning_nas.space.search_space.OverlappingKeys: space keys 'data' ({'batch_size': 16}) ...
    """
    for name, value in params.items():
        if isinstance(value, SearchSpace):
            mappings = [value.params]
        else:
            values = value.values if isinstance(value, Choice) else [getattr(value, "value", None)]
            mappings = [v for v in values if isinstance(v, Mapping)]
        for key in params:
            first = key[len(name) + 1:].split(".")[0] if key.startswith(f"{name}.") else None
            held = next((m for m in mappings if first in m), None)
            if held is not None:
                shown = "a group" if isinstance(value, SearchSpace) else repr(dict(held))
                raise OverlappingKeys(f"space keys '{prefix}{name}' ({shown}) and "
                                      f"'{prefix}{key}' both set '{prefix}{name}.{first}': the "
                                      f"architecture would claim one value where the trial "
                                      f"runs the other; give it in one of them")


def _check_key(prefix: str, name: Any) -> None:
    """Refuse a space key that is no string, or empty: an architecture is JSON, whose mapping
    keys are strings, so a trial would get ``'0'`` for a group's ``0`` (a dict argument keyed
    by layer), and YAML reads an unquoted ``on`` as ``True`` (was: each turned into its
    string without a word).

    Example:
        >>> _check_key("widths.", 0)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.SpaceError: space key 0 in group 'widths' (int) is no string: ...
    """
    if isinstance(name, str) and name:
        return
    if isinstance(name, str):
        raise SpaceError(f"space keys must be non-empty strings, got {name!r}")
    where = f" in group '{prefix[:-1]}'" if prefix else ""
    raise SpaceError(f"space key {name!r}{where} ({type(name).__name__}) is no string: an "
                     f"architecture is JSON, whose mapping keys are strings, so a trial would "
                     f"get {str(name)!r}; write it as a string (in YAML, quote it: YAML reads "
                     f"an unquoted on, off, yes, no, true or false as a bool, 0 as a number) "
                     f"and convert it in the model where it needs another type")


def _check_storable(path: str, value: Any) -> None:
    """Raise ``SpaceError`` when ``value`` holds something JSON cannot store (a class, a
    module): architectures go into the run store and ``save_hyperparameters`` as JSON."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, list):
        for item in value:
            _check_storable(path, item)
        return
    if isinstance(value, dict):
        key = next((k for k in value if not isinstance(k, str)), None)
        if key is not None:  # JSON would store it as a string: another value
            raise SpaceError(f"space key '{path}': the mapping {value!r} has the key {key!r} "
                             f"({type(key).__name__}), and an architecture is JSON, whose "
                             f"mapping keys are strings: a trial would get {str(key)!r}; use "
                             f"string keys and convert them in the model, or a list")
        for item in value.values():
            _check_storable(path, item)
        return
    target = value if hasattr(value, "__qualname__") else type(value)  # a class, a function
    where = f"{target.__module__}.{target.__qualname__}"
    raise SpaceError(f"space key '{path}': the value {value!r} cannot be stored (an "
                     f"architecture is JSON); values must be None, bool, int, float, str or "
                     f"lists/mappings of them: give a name (e.g. 'relu') or an import path "
                     f"('{where}') and build the object in the model")


def _check_no_nan(path: str, param: Param) -> None:
    """Raise ``SpaceError`` when a ``fixed`` or ``choice`` value holds a NaN in a list or a
    mapping (at any depth): the run store writes strict JSON, NaN as null, so the search
    would run on the space read back, a trial would get ``[None]`` for ``[nan]`` (was: so, or
    a choice of ``[nan]`` and ``[None]`` refused as not distinct). A NaN value itself is
    refused by its parameter; an infinity stays (stored as ``9e999``, read back as it).

    Example:
        >>> from lightning_nas.space import Fixed
        >>> _check_no_nan("clip", Fixed([1.0, {"a": float("nan")}]))
        Traceback (most recent call last):
        ...
        lightning_nas.errors.SpaceError: space key 'clip': the `fixed` ... NaN at [1]['a']; ...
    """
    value = param.to_dict()[param.kind]
    where = _nan_at(value) if isinstance(value, (list, dict)) else None
    if where is None:
        return
    shown = "value" if param.kind == "fixed" else "values"
    holds = "holds" if param.kind == "fixed" else "hold"
    raise SpaceError(f"space key '{path}': the `{param.kind}` {shown} {value!r} {holds} NaN at "
                     f"{where}; an architecture is stored as JSON, which has no NaN (it would "
                     f"come back as null, None, and NaN equals no value, not even itself): "
                     f"use null (None), or a string such as 'nan' and convert it in the model")


def _nan_at(value: Any, where: str = "") -> str | None:
    """Where in ``value`` the first NaN sits, as indexing reaches it (``[1]['a']``; ``''``:
    ``value`` is one), or None."""
    if isinstance(value, float) and math.isnan(value):
        return where
    items = enumerate(value) if isinstance(value, list) else (
        value.items() if isinstance(value, dict) else ())
    for key, item in items:
        found = _nan_at(item, f"{where}[{key!r}]")
        if found is not None:
            return found
    return None


def _is_file(source: str | Path) -> bool:
    """Whether ``source`` names a file: a path, a str naming a file that exists (its path may
    hold a colon or end in another suffix; was: read as YAML text and refused, "a search
    space must be a non-empty mapping, got '.../at 12:30/space.yaml'"), or a one-line name
    without a colon ending in ``.yaml`` or ``.yml`` (read, so a missing one is named)."""
    if isinstance(source, Path):
        return True
    if "\n" in source:
        return False
    try:
        if user_path(source).is_file():
            return True
    except (OSError, ValueError):  # a name too long, a NUL: YAML text, not a file
        return False
    return ":" not in source and Path(source).suffix in (".yaml", ".yml")


def _is_folder(source: str | Path) -> bool:
    """Whether ``source`` (a path or YAML text) names a folder that exists."""
    if isinstance(source, str) and (not source or "\n" in source or ": " in source):
        return False
    try:
        return user_path(source).is_dir()
    except (OSError, ValueError):  # a name too long, a NUL: YAML text, not a folder
        return False


def _not_a_param_message(prefix: str, name: Any, value: Any) -> str:
    """Why ``name: value`` under ``prefix`` (``''`` at the top, ``'g.'`` in group ``g``) is no
    parameter; a top-level key may hold dots, a path into a config (``model.net.width: 3``:
    was "unknown space kind 'model.net.width' at 'model.net'")."""
    path = f"{prefix}{name}"
    if prefix:  # inside a mapping: most likely a misspelt kind, e.g. {choise: [...]}
        parent = prefix[:-1]
        close = difflib.get_close_matches(str(name), KINDS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return (f"unknown space kind '{name}' at '{parent}'; {hint}valid kinds: {', '.join(KINDS)}"
                f" (a nested group must hold parameters, got {name}: {value!r})")
    return (f"space key '{path}' must be a mapping with one of the kinds {', '.join(KINDS)} "
            f"(e.g. {{choice: [...]}}; use {{fixed: value}} for a constant), got {value!r}")

"""The public Python API's docstrings in step with its signatures: what ``help(...)`` shows.

The public API is what ``lightning_nas``, ``lightning_nas.search``, ``lightning_nas.oneshot``,
``lightning_nas.space`` and ``lightning_nas.strategies`` export (``__all__``) and the
submodule names the README's Python sections use (``EXTRA``; ``tests.helpers_api.public``
reads them all). For each of its functions and class constructors the Google-style ``Args:``
section (a dataclass's: ``Args:`` or ``Attributes:``) names exactly the signature's
parameters: none missing, none stale, in the signature's order; ``*args``/``**kwargs`` by
their own entry (``**options: ...``), several parameters of one entry as ``model, data: ...``.
A parameter whose name starts with ``_`` is the code's own and undocumented. A default a
parameter's entry writes as a literal (``default 20``, ``(default ``"val_acc"``)``) is the
signature's; prose (``default: the search's``) and the meaning of a ``None`` default are not
compared.

A public method is checked the same way when its docstring has an ``Args:`` section (many
are one line naming their parameters); ``REQUIRED_METHODS``, those the README's Python
uses, must have one. ``NO_ARGS`` lists the callables that need no section, with why.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers_api import public

#: methods the README's Python calls: an ``Args:`` section required
REQUIRED_METHODS = ("SearchSettings.from_options", "SearchSettings.replace",
                    "SearchSpace.from_yaml", "SearchSpace.from_dict", "SearchSpace.sample",
                    "SearchResult.leaderboard", "NB201.lookup", "NB201.objective")
#: public callables with parameters that need no ``Args:`` section, and why
NO_ARGS = {
    "NASError": "an exception: its message, as ``Exception``'s",
    "SpaceError": "an exception: its message, as ``Exception``'s",
    "ChoiceBatchNorm2d": "``torch.nn.BatchNorm2d``'s own arguments, documented by torch",
    "ChoiceModule": "a mixin: its arguments are those of the ``nn.Module`` it is mixed into",
}

_ENTRY = re.compile(r"(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?:\([^)]*\))?\s*:(.*)")
_DEFAULT = re.compile(r"\b[Dd]efault(?:s)?(?: is)?[: ]\s*(``[^`]+``|[-\w.\"']+)")


def doc_section(doc: str | None, section: str) -> dict[str, str] | None:
    """The entries (name -> text) of a Google-style section, or None without one.

    Example:
        >>> entries = doc_section('''Do it.
        ...
        ... Args:
        ...     a, b: the two (default 1).
        ...         More on them.
        ...     **options: the rest.
        ... ''', "Args")
        >>> entries["b"], list(entries)
        ('the two (default 1). More on them.', ['a', 'b', '**options'])
    """
    if not doc:
        return None
    lines = inspect.cleandoc(doc).splitlines()
    heads = [i for i, line in enumerate(lines) if line.strip() == f"{section}:"]
    if not heads:
        return None
    start = heads[0]
    base = len(lines[start]) - len(lines[start].lstrip())
    entries: dict[str, str] = {}
    names: list[str] = []
    indent = None
    for line in lines[start + 1:]:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if depth <= base:
            break
        indent = depth if indent is None else indent
        if depth == indent:
            match = _ENTRY.fullmatch(line.strip())
            assert match, f"{section}: entry without a name: {line.strip()!r}"
            names = [n.strip() for n in match.group(1).split(",")]
            for name in names:
                entries[name] = match.group(2).strip()
        else:
            for name in names:
                entries[name] += " " + line.strip()
    return entries


def constructor_doc(cls: type) -> tuple[str | None, str]:
    """The docstring documenting ``cls``'s arguments (``__init__``'s own when it has an
    ``Args:`` section, else the class's) and the section that lists them."""
    own_init = vars(cls).get("__init__")
    if own_init is not None and doc_section(own_init.__doc__, "Args") is not None:
        return own_init.__doc__, "Args"
    if dataclasses.is_dataclass(cls) and doc_section(cls.__doc__, "Args") is None:
        return cls.__doc__, "Attributes"
    return cls.__doc__, "Args"


def documented_callables() -> Iterator[tuple[str, Callable[..., Any], str | None, str, bool]]:
    """``(label, callable, docstring, section, required)`` of each public function, class
    constructor and public method defined in a public class."""
    for name, obj in public().items():
        if not inspect.isclass(obj):
            yield name, obj, obj.__doc__, "Args", name not in NO_ARGS
            continue
        doc, section = constructor_doc(obj)
        yield name, obj, doc, section, name not in NO_ARGS
        for attr, member in vars(obj).items():
            func = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
            if attr.startswith("_") or not inspect.isfunction(func):
                continue
            label = f"{name}.{attr}"
            yield label, getattr(obj, attr), func.__doc__, "Args", label in REQUIRED_METHODS


def parameters(func: Callable[..., Any]) -> list[inspect.Parameter]:
    """The parameters a docstring documents: not ``self``/``cls``, none starting with ``_``."""
    return [p for p in inspect.signature(func).parameters.values()
            if p.name not in ("self", "cls") and not p.name.startswith("_")]


def spelled(param: inspect.Parameter) -> str:
    """A parameter as its entry names it: ``*args``, ``**options``, ``width``."""
    stars = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    return stars.get(param.kind, "") + param.name


def doc_default(text: str) -> tuple[bool, Any]:
    """``(True, value)`` for the first literal default an entry's text states, ``(False,
    None)`` for none or prose.

    Example:
        >>> doc_default("trials (default 20)"), doc_default('(default ``"val_acc"``)')
        ((True, 20), (True, 'val_acc'))
        >>> doc_default("epochs (default: the best trial's)")
        (False, None)
    """
    match = _DEFAULT.search(text)
    if not match:
        return False, None
    written = match.group(1).strip("`").rstrip(".,;")
    try:
        return True, ast.literal_eval(written)
    except (ValueError, SyntaxError):
        return False, None


def mismatches(func: Callable[..., Any], entries: dict[str, str]) -> list[str]:
    """What an ``Args:`` section says wrong of ``func``'s signature."""
    params = parameters(func)
    names = [spelled(p) for p in params]
    wrong = []
    missing = [n for n in names if n not in entries]
    stale = [n for n in entries if n not in names]
    if missing:
        wrong.append(f"undocumented {missing}")
    if stale:
        wrong.append(f"documented but not parameters {stale}")
    if not missing and not stale and list(entries) != names:
        wrong.append(f"documented in the order {list(entries)}, the signature's is {names}")
    for param in params:
        said, value = doc_default(entries.get(spelled(param), ""))
        default = param.default
        if said and default is not param.empty and default is not None and (
                type(value) is not type(default) or value != default):
            wrong.append(f"{param.name}: documented default {value!r}, the signature's "
                         f"{default!r}")
    return wrong


CALLABLES = list(documented_callables())


def test_the_public_api_is_found() -> None:
    labels = {label for label, *_ in CALLABLES}
    assert {"Search", "SearchSettings", "finetune", "fit_config", "export_best", "NASModule",
            "OneShotNAS", "DifferentiableNAS", "PruningCallback", "make_optimizer",
            "run_oneshot", "Int", "Search.run", *REQUIRED_METHODS} <= labels
    assert set(NO_ARGS) <= labels, f"NO_ARGS names what is gone: {set(NO_ARGS) - labels}"


@pytest.mark.parametrize(("label", "func", "doc", "section", "required"), CALLABLES,
                         ids=[c[0] for c in CALLABLES])
def test_docstring_args_are_the_signature(label: str, func: Callable[..., Any],
                                          doc: str | None, section: str,
                                          required: bool) -> None:
    entries = doc_section(doc, section)
    if entries is None and not required:
        return  # NO_ARGS, or a method naming its parameters in its summary
    if entries is None:
        params = [spelled(p) for p in parameters(func)]
        assert not params, f"{label}: no {section}: section, parameters {params}"
        return
    wrong = mismatches(func, entries)
    assert not wrong, f"{label} ({section}:): " + "; ".join(wrong)


def test_mismatches_are_found() -> None:
    """The check itself: a stale name, a missing one and an untrue default are said."""

    def f(a: int, b: int = 3, **options: Any) -> None:
        """Example.

        Args:
            a: one.
            c: gone.
            b: two (default 2).
        """

    wrong = mismatches(f, doc_section(f.__doc__, "Args") or {})
    assert wrong == ["undocumented ['**options']", "documented but not parameters ['c']",
                     "b: documented default 2, the signature's 3"]

    def g() -> None:
        """Example.

        Raises:
            ConfigError: a class of lightning_nas.errors.
            ValueError: a builtin.
            NoSuchError: gone.
        """

    assert raised_names(g, g.__doc__) == ["NoSuchError"]


def raised_names(func: Callable[..., Any], doc: str | None) -> list[str]:
    """The exceptions a ``Raises:`` section names that are no exception class where
    ``func`` is defined (its module, ``lightning_nas.errors``, the builtins)."""
    entries = doc_section(doc, "Raises") or {}
    module = importlib.import_module(getattr(func, "__module__", None) or "lightning_nas")
    places = (module, importlib.import_module("lightning_nas.errors"), builtins)
    wrong = []
    for name in entries:
        found = next((getattr(place, name) for place in places if hasattr(place, name)), None)
        if not (inspect.isclass(found) and issubclass(found, BaseException)):
            wrong.append(name)
    return wrong


@pytest.mark.parametrize(("label", "func", "doc"), [c[:3] for c in CALLABLES],
                         ids=[c[0] for c in CALLABLES])
def test_raises_names_exceptions(label: str, func: Callable[..., Any], doc: str | None) -> None:
    wrong = raised_names(func, doc)
    assert not wrong, f"{label}: Raises: names {wrong}, no exception class of its module"


def test_search_options_defaults_are_the_settings() -> None:
    """``Search``'s ``**options`` entry names settings (``SearchSettings.keys()``) and
    their defaults as ``SearchSettings()`` holds them."""
    from lightning_nas import Search, SearchSettings

    text = (doc_section(Search.__doc__, "Args") or {})["**options"]
    said = re.findall(r"``(\w+)`` \(([^()]*(?:\([^()]*\))?[^()]*)\)", text)
    assert said, f"no ``key`` (...) in {text!r}"
    defaults = SearchSettings()
    flat = {f.name: getattr(group, f.name) for group in (
        defaults.goal, defaults.execution, defaults.early_stopping, defaults.limits,
        defaults.transfer) for f in dataclasses.fields(group)}
    flat.update(run_dir=defaults.run_dir.as_posix(), verbose=defaults.verbose,
                progress=defaults.progress)
    wrong = []
    for key, note in said:
        if key not in flat:
            wrong.append(f"{key}: no setting")
            continue
        match = _DEFAULT.search(note)
        if match:
            written = match.group(1).strip("`")
            is_literal, value = doc_default(note)
            value = value if is_literal else written
            if value != flat[key]:
                wrong.append(f"{key}: documented default {value!r}, SearchSettings' "
                             f"{flat[key]!r}")
    names = set(re.findall(r"``(\w+)``", text)) - {"SurrogateEvolution", "max", "min"}
    wrong += [f"{name}: no setting" for name in sorted(names - set(flat) - {"options"})
              if f"{name}: no setting" not in wrong]
    assert not wrong, "Search(**options) docstring: " + "; ".join(wrong)

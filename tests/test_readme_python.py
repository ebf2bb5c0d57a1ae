"""The README's Python in step with the code: every name its ``python`` blocks import
exists there, every call of a lightning_nas name binds to that callable's signature (its
positional count, its keyword names; ``Search``'s and ``SearchSettings``'s ``**options``
take the flat settings, ``SearchSettings.keys()``), every attribute read of what such a
call returns exists, and a block that shows a signature (``Search(model, space, *, ...)``)
shows the code's. Calls written in the prose (`` `finetune(run, ckpt_path="last")` ``) use
keyword names the callable takes (their positional arguments are prose: ``finetune()``).

Nothing is run: the blocks are parsed with ``ast`` and checked against ``inspect``.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lightning_nas import Search, SearchSettings
from tests.helpers_api import public

README = Path(__file__).resolve().parents[1] / "README.md"
#: callables whose ``**options`` are the flat settings (functions: methods unbound)
SETTINGS_OPTIONS = {Search, SearchSettings.from_options.__func__, SearchSettings.replace}
#: the flat settings
SETTINGS = set(SearchSettings.keys())


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(line, code)`` of each fenced ``python`` block, in order."""
    blocks, lines, start = [], text.splitlines(), None
    for number, line in enumerate(lines, 1):
        if start is None and line.strip() == "```python":
            start = number
        elif start is not None and line.strip() == "```":
            blocks.append((start, "\n".join(lines[start:number - 1])))
            start = None
    return blocks


def outside_blocks(text: str) -> str:
    """The README without its fenced blocks."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def annotated_class(owner: Any, annotation: Any) -> type | None:
    """The first class of lightning_nas an annotation (a string under ``from __future__
    import annotations``) names, looked up where ``owner`` is defined."""
    if inspect.isclass(annotation):
        return annotation
    if not isinstance(annotation, str):
        return None
    module = sys.modules.get(getattr(owner, "__module__", ""), None)
    for name in re.findall(r"[A-Za-z_]\w*", annotation):
        found = getattr(module, name, None)
        if inspect.isclass(found) and found.__module__.startswith("lightning_nas"):
            return found
    return None


def has_attribute(cls: type, name: str) -> bool:
    """Whether instances of ``cls`` have ``name``: a class attribute, a dataclass field or
    one its ``__init__`` (or another method of lightning_nas's classes) sets on ``self``."""
    if hasattr(cls, name) or (dataclasses.is_dataclass(cls) and name in {
            f.name for f in dataclasses.fields(cls)}):
        return True
    for klass in cls.__mro__:
        if klass.__module__.startswith("lightning_nas"):
            if re.search(rf"\bself\.{re.escape(name)}\b\s*(:[^=\n]*)?=", inspect.getsource(klass)):
                return True
    return False


def attribute_type(cls: type, name: str) -> type | None:
    """The class of ``cls``'s attribute ``name`` where its annotation says it (a dataclass
    field, a property, a method's return annotation when called)."""
    member = inspect.getattr_static(cls, name, None)
    if isinstance(member, property) and member.fget is not None:
        return annotated_class(member.fget, inspect.signature(member.fget).return_annotation)
    if dataclasses.is_dataclass(cls):
        for field in dataclasses.fields(cls):
            if field.name == name:
                return annotated_class(cls, field.type)
    return None


class BlockChecker(ast.NodeVisitor):
    """Checks one block's imports, calls and attribute reads; ``names`` carries what
    earlier blocks imported (a block may use ``Search`` imported above it)."""

    def __init__(self, names: dict[str, Any], where: str) -> None:
        self.names, self.where = names, where
        self.types: dict[str, type] = {}  # variable -> the class of what it holds
        self.wrong: list[str] = []

    def say(self, node: ast.AST, message: str) -> None:
        self.wrong.append(f"{self.where}+{getattr(node, 'lineno', 0)}: {message}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if not (node.module or "").startswith("lightning_nas"):
            return
        module = importlib.import_module(node.module)
        for alias in node.names:
            if not hasattr(module, alias.name):
                self.say(node, f"{node.module} has no {alias.name}")
                continue
            self.names[alias.asname or alias.name] = getattr(module, alias.name)

    def value_of(self, node: ast.AST) -> tuple[Any, type | None]:
        """``(callable or None, class of the value or None)`` of an expression."""
        if isinstance(node, ast.Name):
            if node.id in self.types:
                return None, self.types[node.id]
            obj = self.names.get(node.id)
            return obj, None
        if isinstance(node, ast.Attribute):
            obj, cls = self.value_of(node.value)
            if cls is not None:
                if not has_attribute(cls, node.attr):
                    self.say(node, f"{cls.__name__} has no attribute {node.attr!r}")
                    return None, None
                member = getattr(cls, node.attr, None)
                if inspect.isfunction(member):  # a method, called on an instance
                    return types.MethodType(member, cls), None
                if callable(member) and not inspect.isclass(member):
                    return member, None
                return None, attribute_type(cls, node.attr)
            if obj is not None:
                if not hasattr(obj, node.attr):
                    self.say(node, f"{getattr(obj, '__name__', obj)} has no {node.attr!r}")
                    return None, None
                return getattr(obj, node.attr), None
            return None, None
        if isinstance(node, ast.Call):
            func, _ = self.value_of(node.func)
            for argument in (*node.args, *(k.value for k in node.keywords)):
                self.visit(argument)
            if func is None:
                return None, None
            self.check_call(node, func)
            if inspect.isclass(func):
                return None, func
            return None, annotated_class(func, inspect.signature(func).return_annotation)
        return None, None

    def check_call(self, node: ast.Call, func: Callable[..., Any]) -> None:
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords):
            return
        sig = inspect.signature(func)
        label = getattr(func, "__qualname__", repr(func))
        try:
            sig.bind(*node.args, **{k.arg: k.value for k in node.keywords})
        except TypeError as err:
            self.say(node, f"{label}{sig}: {err}")
            return
        named = set(sig.parameters)
        if getattr(func, "__func__", func) in SETTINGS_OPTIONS:
            unknown = [k.arg for k in node.keywords if k.arg not in named | SETTINGS]
            if unknown:
                self.say(node, f"{label}: no parameter nor setting {unknown}")
        if func is Search and node.args and "model_init_args" in {k.arg for k in node.keywords}:
            self.check_init_args(node)

    def check_init_args(self, node: ast.Call) -> None:
        """``Search(Model, ..., model_init_args={...})``: the keys are ``Model``'s."""
        model, _ = self.value_of(node.args[0])
        given = next(k.value for k in node.keywords if k.arg == "model_init_args")
        if not (inspect.isclass(model) and isinstance(given, ast.Dict)):
            return
        params = inspect.signature(model).parameters
        keys = [k.value for k in given.keys if isinstance(k, ast.Constant)]
        unknown = [k for k in keys if k not in params]
        if unknown:
            self.say(node, f"{model.__name__} takes no {unknown}: {list(params)}")

    def visit_Assign(self, node: ast.Assign) -> None:
        _, cls = self.value_of(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if cls is not None:
                    self.types[target.id] = cls
                else:
                    self.types.pop(target.id, None)
            else:
                self.visit(target)

    def visit_Call(self, node: ast.Call) -> None:
        self.value_of(node)  # its function, its arguments

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.value_of(node)  # the whole chain: ``result.best.arch``


def signature_shown(code: str, names: dict[str, Any]) -> list[str]:
    """A block that shows a signature, ``Name(a, b, *, c=None, **options)``: its
    parameters (names, kinds, defaults) must be the code's."""
    match = re.fullmatch(r"(\w+)(\(.*\))", code.strip(), flags=re.S)
    if not match or match.group(1) not in names:
        return [f"a block that does not parse: {code.splitlines()[0]!r}"]
    shown = ast.parse(f"def f{match.group(2)}: pass").body[0].args  # type: ignore[attr-defined]
    func = names[match.group(1)]
    real = [p for p in inspect.signature(func).parameters.values() if p.name != "self"]
    written = [a.arg for a in (*shown.posonlyargs, *shown.args)]
    written += [f"*{shown.vararg.arg}"] if shown.vararg else []
    written += [a.arg for a in shown.kwonlyargs]
    written += [f"**{shown.kwarg.arg}"] if shown.kwarg else []
    stars = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    code_names = [stars.get(p.kind, "") + p.name for p in real]
    wrong = []
    if written != code_names:
        wrong.append(f"{match.group(1)} shown with {written}, the code's {code_names}")
    defaults = dict(zip([a.arg for a in shown.kwonlyargs], shown.kw_defaults, strict=True))
    for param in real:
        default = defaults.get(param.name)
        if default is not None and ast.literal_eval(default) != param.default:
            wrong.append(f"{param.name} shown with default {ast.unparse(default)}, the "
                         f"code's {param.default!r}")
    return wrong


def check_readme(text: str) -> list[str]:
    """Everything the README's ``python`` blocks say wrong of the code."""
    names: dict[str, Any] = {}
    wrong: list[str] = []
    for line, code in python_blocks(text):
        try:
            tree = ast.parse(code)
        except SyntaxError:
            wrong += [f"README.md:{line}: {w}" for w in signature_shown(code, names)]
            continue
        checker = BlockChecker(names, f"README.md:{line}")
        checker.visit(tree)
        wrong += checker.wrong
    return wrong


def prose_calls(text: str) -> list[str]:
    """Calls of public names in the README's inline code whose keywords the callable does
    not take."""
    known = public()
    wrong = []
    for span in re.findall(r"`([A-Za-z_][\w.]*\([^`]*\))`", outside_blocks(text)):
        try:
            call = ast.parse(span, mode="eval").body
        except SyntaxError:
            continue
        if not isinstance(call, ast.Call):
            continue
        dotted = ast.unparse(call.func)
        func = known.get(dotted.split(".")[-1])
        if func is None or (dotted.count(".") and dotted.split(".")[0] not in (
                "lightning_nas", *known)):
            continue  # another's (trainer.fit, torch.load), or a variable's method
        if len(dotted.split(".")) == 2 and dotted.split(".")[0] in known:
            func = getattr(known[dotted.split(".")[0]], dotted.split(".")[1], None)
        if func is None:
            wrong.append(f"`{span}`: no such name")
            continue
        params = inspect.signature(func).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        settings = getattr(func, "__func__", func) in SETTINGS_OPTIONS
        allowed = set(params) | (SETTINGS if settings else set())
        unknown = [k.arg for k in call.keywords if k.arg is not None and k.arg not in allowed
                   and not (takes_any and not settings)]
        if unknown:
            wrong.append(f"`{span}`: {dotted} takes no {unknown}")
    return wrong


def resolves(dotted: str) -> bool:
    """Whether ``lightning_nas.a.b.name`` is a module of the package or a name in one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True
    return False


def dotted_names(text: str) -> list[str]:
    """The ``lightning_nas.…`` names the README's inline code writes that do not exist; a
    ``Name`` said to be in one (`` `Name` (`lightning_nas.x` ``) must be importable from it.
    A ``state_key`` (``lightning_nas.RunCheckpoint{...}``) is no name."""
    prose = outside_blocks(text)
    wrong = [f"`{name}`: no such module or name" for name in sorted(set(re.findall(
        r"`(lightning_nas(?:\.\w+)*)(?![\w.{])", prose))) if not resolves(name)]
    for name, module in re.findall(r"`(\w+)(?:\([^`]*\))?` \(`(lightning_nas(?:\.\w+)*)`", prose):
        if not resolves(f"{module}.{name}"):
            wrong.append(f"`{name}` (`{module}`): not importable from there")
    return wrong


def test_readme_dotted_names_exist() -> None:
    wrong = dotted_names(README.read_text(encoding="utf-8"))
    assert not wrong, "\n".join(wrong)


def test_dotted_check_finds_mistakes() -> None:
    assert dotted_names("`lightning_nas.search.nope` and `Search` (`lightning_nas.space`), "
                        "`lightning_nas.RunCheckpoint{...}`, `lightning_nas.fit.fit_config`") == [
        "`lightning_nas.search.nope`: no such module or name",
        "`Search` (`lightning_nas.space`): not importable from there"]


def test_readme_python_blocks_match_the_code() -> None:
    wrong = check_readme(README.read_text(encoding="utf-8"))
    assert not wrong, "\n".join(wrong)


def test_readme_prose_calls_match_the_code() -> None:
    wrong = prose_calls(README.read_text(encoding="utf-8"))
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("block", "said"), [
    ("from lightning_nas import Serch", "lightning_nas has no Serch"),
    ("from lightning_nas import Search\nSearch(M, {}, budjet=3)", "no parameter nor setting"),
    ("from lightning_nas import finetune\nfinetune('r', epochs=3)", "unexpected keyword"),
    ("from lightning_nas import Search\nr = Search(M, {}).run()\nr.bst", "has no attribute"),
    ("from lightning_nas import Search, NASModule\n"
     "Search(NASModule, {}, model_init_args={'buildr': f})", "NASModule takes no ['buildr']"),
    ("from lightning_nas import Search\n```\n```python\nSearch(model, *, data=1)",
     "Search shown with ['model', 'data']"),
])
def test_the_check_finds_mistakes(block: str, said: str) -> None:
    wrong = check_readme(f"```python\n{block}\n```\n")
    assert any(said in w for w in wrong), wrong


def test_prose_check_finds_mistakes() -> None:
    assert prose_calls('text `finetune(run, ckpt="last")` and `trainer.fit(x=1)`') == [
        '`finetune(run, ckpt="last")`: finetune takes no [\'ckpt\']']

"""The package's shape: no import cycle, small modules, a small public API, no machine paths
in the repository, read-only commands without the training stack, and the README's module
table in step with the tree."""

from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lightning_nas
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.store import RunStore
from tests.helpers_imports import heavy, imported_modules
from tests.launcher import ROOT

PKG = ROOT / "lightning_nas"
MAX_LINES = 450
MAX_PUBLIC = 16
#: the pre-stop hook's check: an absolute path of a machine after a quote, tick, paren,
#: equals sign or space
MACHINE_PATH = re.compile(r"[\"'`(= ]/(home|root|work|mnt|srv|farm)/[A-Za-z]")
#: files of the package the README's module table leaves out
UNLISTED = {"__init__.py", "__main__.py", "_lazy.py"}


# ----------------------------------------------------------------- import graph
def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


@functools.cache
def _tree(path: Path) -> ast.Module:
    """The parsed file at ``path``, parsed once per test process (five tests read every
    module of the package: was a parse of each file by each, a second or more in all)."""
    return ast.parse(path.read_text(), filename=str(path))


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement at any depth, except those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:  # the ``else`` branch runs
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _nearest(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` if it is a module of the package, else its nearest parent that is."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def _dependencies(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    is_package = path.name == "__init__.py"
    deps: set[str] = set()
    for node in _imports(_tree(path)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:  # relative: from its package
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = []
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in modules else base)
        for target in targets:
            if target == "lightning_nas" or target.startswith("lightning_nas."):
                resolved = _nearest(target, modules)
                if resolved is not None and resolved != module:
                    deps.add(resolved)
    return deps


def _import_graph() -> dict[str, set[str]]:
    modules = _package_modules()
    return {name: _dependencies(name, path, modules) for name, path in modules.items()}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle ``[a, b, ..., a]`` of ``graph``, or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep):], dep]
            if dep not in state:
                cycle = visit(dep)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_cycle_finder_finds_a_cycle_and_accepts_a_tree():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_graph_resolves_submodules_and_skips_type_checking_imports():
    graph = _import_graph()
    assert "lightning_nas.search.settings" in graph
    # ``from lightning_nas.errors import ConfigError``: the module, not a name in it
    assert "lightning_nas.errors" in graph["lightning_nas.search.settings"]
    # the top-level package imports its exports only under TYPE_CHECKING
    assert "lightning_nas.search.facade" not in graph["lightning_nas"]
    assert "lightning_nas._lazy" in graph["lightning_nas"]


def test_no_import_cycle():
    graph = _import_graph()
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


#: the README's layers (``**Layering.**``): subpackages, then top-level modules by prefix
LAYERS = {"space": 1, "config": 1, "strategies": 2, "search": 3, "oneshot": 3, "benchmarks": 3,
          "report": 4, "integrations": 4}
MIDDLE, TOP = ("module", "export", "fit", "finetune"), ("cli", "__main__")
#: the top-level modules that read a trial's settings from its config (beside strategies/)
TRIAL = ("trial_trainer", "devices", "validation_limit", "score_precision", "scored_under")
#: the imports from a higher layer that the README's ``**Layering.**`` names, each inside
#: the function and by design: a sweep's ``rerun`` line is Hydra's grammar (hydra-core,
#: optional) for an export with no sweeper above it, ``alphas.png`` (matplotlib, optional)
#: is drawn at the end of the user's own ``Trainer.fit`` with no command above it
UPWARD = {("export_hydra", "integrations.hydra_grammar"),
          ("export_hydra", "integrations.hydra_rerun"),
          ("oneshot.derive", "report.oneshot_plots")}


def _layer(module: str) -> int:
    """The README's layer of ``lightning_nas.<module>`` (0: the plain data at the bottom)."""
    first = module.split(".")[0]
    if first in LAYERS:
        return LAYERS[first]
    if first in TRIAL:
        return 2
    return 4 if first.startswith(TOP) else 3 if first.startswith(MIDDLE) else 0


def test_imports_from_a_higher_layer_are_those_the_readme_names():
    # was: the README named only the Hydra export's; search.summary, oneshot.run,
    # oneshot.derive and search.warm_start import from report/ and integrations/ too;
    # search.summary imported front_rows from report.tables (now search.objectives'),
    # oneshot.run scored_text from report.oneshot (now spos_scored's), search.warm_start
    # integrations.hydra_wording (now the sweep's loop words its warning: SearchLoop.worded)
    graph = {name.removeprefix("lightning_nas."): {d.removeprefix("lightning_nas.") for d in deps}
             for name, deps in _import_graph().items() if name != "lightning_nas"}
    upward = {(name, dep) for name, deps in graph.items() for dep in deps
              if _layer(dep) > _layer(name)}
    assert upward == UPWARD
    outside = {dep for name, deps in graph.items() if name.startswith("report")
               for dep in deps if "." in dep and not dep.startswith("report")}
    assert outside == {"config.yamlio", "config.paths", "search.objectives",
                       "search.warm_report"}


def _test_module_imports(path: Path) -> list[str]:
    """The ``tests.test_*`` modules that the statements of the file at ``path`` import."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names += [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names
                                            if node.module == "tests"]
    return [name for name in names if name.startswith("tests.test_")]


def test_test_module_imports_are_read_from_each_kind_of_statement(tmp_path):
    path = tmp_path / "test_x.py"
    path.write_text("import tests.test_a\nfrom tests.test_b import f\nfrom tests import "
                    "test_c, helpers\nfrom tests.helpers_d import g\n\ndef h():\n"
                    "    from tests.test_e import i\n")
    assert _test_module_imports(path) == ["tests.test_a", "tests.test_b", "tests.test_c",
                                          "tests.test_e"]


def test_no_test_module_imports_another():
    # what tests share lives in tests/helpers_*.py (was: eight modules imported _sweep from
    # tests.test_hydra_sweeper, another SigtermAtFirstBatch from tests.test_cli)
    found = {path.name: names for path in sorted((ROOT / "tests").glob("*.py"))
             if (names := _test_module_imports(path))}
    assert not found, f"test modules importing test modules: {found}"


# ----------------------------------------------------------------- size and public API
def test_no_module_over_the_line_limit():
    long = {str(p.relative_to(ROOT)): n for p in PKG.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_public_api_is_small_and_resolves():
    names = lightning_nas.__all__
    assert len(names) <= MAX_PUBLIC, names
    assert len(set(names)) == len(names)
    for name in ("OneShotNAS", "Search", "SearchSpace", "NASError", "PruningCallback"):
        assert name in names
    for name in names:
        assert getattr(lightning_nas, name) is not None, name
    assert issubclass(lightning_nas.NASError, Exception)
    assert lightning_nas.SearchSpace.__name__ == "SearchSpace"
    assert set(names) <= set(dir(lightning_nas))


def _all_of(tree: ast.Module) -> set[str] | None:
    """The names of a module's top-level ``__all__ = [...]``, or None without one."""
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                return set(ast.literal_eval(node.value))
    return None


def _defined(tree: ast.Module) -> set[str]:
    """The names a module defines at its top level (not those it imports)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def test_every_module_has_an_explicit_all():
    # was: config, report and benchmarks (packages that import nothing) had none
    missing = [name for name, path in _package_modules().items()
               if path.name != "__main__.py" and _all_of(_tree(path)) is None]
    assert not missing, f"modules without __all__: {missing}"


def test_a_name_another_module_imports_is_in_the_all_of_the_module_defining_it():
    # was: search.runner left out check_sendable (facade_checks imports it; the README lists
    # it with SpecPickler and unsendable) and search.monitor_errors VALIDATION_ONLY and
    # EVERY_EPOCH (callbacks and pruning import them)
    modules = _package_modules()
    trees = {name: _tree(path) for name, path in modules.items()}
    left_out = set()
    for name, tree in trees.items():
        for node in _imports(tree):
            source = node.module if isinstance(node, ast.ImportFrom) and not node.level else None
            if source not in trees or modules[source].name == "__init__.py":
                continue
            listed, defined = _all_of(trees[source]) or set(), _defined(trees[source])
            left_out |= {f"{source}.{alias.name} (imported by {name})" for alias in node.names
                         if not alias.name.startswith("_") and alias.name in defined
                         and alias.name not in listed}
    assert not left_out, f"imported, but not in __all__: {sorted(left_out)}"


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        lightning_nas.no_such_name  # noqa: B018
    assert not hasattr(lightning_nas, "Searchh")


# ----------------------------------------------------------------- repository text
def test_no_machine_path_in_tracked_files():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    hits = []
    for name in filter(None, files):
        path = ROOT / name
        if not path.is_file():
            continue  # deleted in the working tree
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        text = data.decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if MACHINE_PATH.search(line):
                hits.append(f"{name}:{number}: {line.strip()}")
    assert not hits, "absolute machine paths:\n" + "\n".join(hits)


#: what the repository holds at its top level (the project's layout; a scratch file there,
#: a helper's ``s.yaml`` once, is refused)
TOP_LEVEL = {".ci", ".gitignore", "CHANGELOG.md", "README.md", "benchmarks", "docs",
             "examples", "hydra_plugins", "lightning_nas", "pyproject.toml", "tests"}


def test_the_top_level_holds_the_projects_layout_only():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    top = {name.split("/")[0] for name in files if name}
    assert top <= TOP_LEVEL, f"not part of the layout: {sorted(top - TOP_LEVEL)}"


def test_machine_path_pattern():
    home, mnt = "/" + "home", "/" + "mnt"  # split, so the repository holds no such path
    assert MACHINE_PATH.search(f'table = "{home}/user/x.csv"')
    assert MACHINE_PATH.search(f"see ({mnt}/data)")
    assert not MACHINE_PATH.search("runs/nas/trials and https://example.org/home/x")


# ----------------------------------------------------------------- light read-only commands
def test_imported_modules_parses_importtime_lines():
    stderr = ("import time: self [us] | cumulative | imported package\n"
              "import time:       895 |       1712 | lightning_nas\n"
              "import time:        12 |         12 |   torch.nn\n")
    assert imported_modules(stderr) == ["lightning_nas", "torch.nn"]
    assert heavy(["lightning_nas.cli", "torch.nn", "yaml", "lightning_fabric", "nevergrad"]
                  ) == ["torch.nn", "lightning_fabric", "nevergrad"]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    store = RunStore(folder / "search.db")
    store.set_meta("mode", "max")
    store.set_meta("monitor", "val_acc")
    for arch, score in (({"width": 4}, 0.625), ({"width": 8}, 0.875)):
        trial_id = store.start_trial(arch)
        store.finish_trial(TrialResult(trial_id=trial_id, arch=arch,
                                       status=TrialStatus.COMPLETED, score=score))
    store.close()
    return folder


def _run_importtime(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "lightning_nas", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_show_imports_no_training_stack(run_dir: Path, fmt: str):
    args = ["show", str(run_dir)] + (["--format", fmt] if fmt != "table" else [])
    proc = _run_importtime(*args, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "0.875" in proc.stdout and "0.625" in proc.stdout, proc.stdout
    assert proc.stdout.index("0.875") < proc.stdout.index("0.625")  # best first
    names = imported_modules(proc.stderr)
    assert "lightning_nas.store" in names
    assert not heavy(names), f"`show` imported {heavy(names)}"


def test_help_imports_no_training_stack():
    proc = _run_importtime("--help", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "show" in proc.stdout and "search" in proc.stdout
    names = imported_modules(proc.stderr)
    assert "lightning_nas.cli" in names
    assert not heavy(names), f"`--help` imported {heavy(names)}"


# ----------------------------------------------------------------- README module table
def _architecture_table(readme: str) -> set[str]:
    """First-column paths of the markdown table(s) in the README's ``## Architecture``."""
    match = re.search(r"^## Architecture\s*$(.*?)(?=^## |\Z)", readme, re.M | re.S)
    assert match, "README.md has no `## Architecture` section"
    paths = set()
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.lstrip().startswith("|") or not cells:
            continue
        cell = re.fullmatch(r"`([^`]+)`", cells[0])
        if cell:
            paths.add(cell.group(1))
    return paths


def test_architecture_table_parser():
    readme = ("# x\n## Architecture\n\n| module | job |\n| --- | --- |\n"
              "| `search/loop.py` | the loop |\n| `errors.py` | errors |\n\n## Next\n"
              "| `other.py` | not in the section |\n")
    assert _architecture_table(readme) == {"search/loop.py", "errors.py"}


def test_readme_module_table_matches_the_tree():
    listed = _architecture_table((ROOT / "README.md").read_text())
    files = {p.relative_to(PKG).as_posix() for p in PKG.rglob("*.py") if p.name not in UNLISTED}
    missing, stale = sorted(files - listed), sorted(listed - files)
    assert not missing and not stale, (f"modules missing from the README table: {missing}; "
                                       f"rows naming no module: {stale}")

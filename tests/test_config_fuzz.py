"""Config fuzz: generated bad configs through ``lightning-nas search``, in process.

Every case mutates one thing of a small valid config (``tests.helpers.TinyNet`` on
``BlobData``): a wrong type or value for each setting, a misspelt key at every level, broken
search spaces (misspelt kinds, reversed or empty ranges, ``log`` with a 0 bound), unknown
classes, bad Trainer arguments and strategies, YAML syntax errors, missing files, and a
changed space (or monitor, mode, objectives) on an existing run. Each must end with exit
code 2, exactly one stderr line ``lightning-nas search: error: ...`` that names the bad key
(or value, or ``file:line:column`` for YAML), no traceback, no trial trained, and, for the
cases run against an existing run folder, its ``search.db`` byte-identical afterwards.
"""

from __future__ import annotations

import copy
import json
import shutil
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from lightning_nas.cli import main

PREFIX = "lightning-nas search: error: "

BASE: dict[str, Any] = {
    "seed_everything": 3,
    "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"depth": 1}},
    "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 48, "batch_size": 16}},
    "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "limit_train_batches": 2},
    "search": {"space": {"width": {"choice": [4, 8]},
                         "activation": {"choice": ["relu", "tanh"]},
                         "lr": {"float": [0.02, 0.3], "log": True}},
               "optimizer": "RandomSearch", "budget": 2, "verbose": False},
}


@dataclass
class Case:
    """One bad config: a change of ``BASE`` (or a raw config text), overrides, files."""

    id: str
    needle: str
    change: Callable[[dict[str, Any]], None] | None = None
    text: str | None = None
    args: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # extra files beside the config
    configs: list[str] = field(default_factory=list)  # extra config files, after the main
    existing: bool = False  # run against a copy of a finished run


def _flow(value: Any) -> str:
    """A value as one YAML flow line (JSON is YAML)."""
    return json.dumps(value)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(cfg: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = cfg
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(cfg: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = cfg
        for part in parents:
            node = node[part]
        node.pop(last)
    return change


def _rename(path: str, new: str) -> Callable[[dict[str, Any]], None]:
    def change(cfg: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = cfg
        for part in parents:
            node = node[part]
        node[new] = node.pop(last)
    return change


def _value(cases: list[Case], path: str, value: Any, needle: str | None = None,
           tag: str | None = None) -> None:
    """A bad value at ``path``, in the file or as a ``--path=value`` override: which one is
    fixed by the case's own name (half of them each way), not by its place in the list, so
    a case added elsewhere does not move every later one to the other form."""
    tag = tag or type(value).__name__
    needle = needle or path.rsplit(".", 1)[-1]
    if zlib.crc32(f"{path}={tag}".encode()) % 2:
        cases.append(Case(f"{path}={tag}-override", needle, args=[f"--{path}={_flow(value)}"]))
    else:
        cases.append(Case(f"{path}={tag}", needle, change=_set(path, value)))


def _misspell(key: str) -> str:
    return key[:-1] if len(key) > 3 else key + "x"


def _generate() -> list[Case]:
    cases: list[Case] = []
    # ------------------------------------------------------------ search settings
    ints = {"budget": 1, "seed": 0, "max_failures": 0, "keep_top_k": 1, "num_workers": 1,
            "devices_per_trial": 1, "threads_per_trial": 1, "max_trials_per_worker": 1,
            "min_epochs": 1, "max_epochs": 1, "eta": 2}
    for key, low in ints.items():
        for tag, bad in (("str", "abc"), ("float", 1.5), ("bool", True), ("list", [1]),
                         ("map", {"a": 1}), ("low", low - 1)):
            _value(cases, f"search.{key}", bad, tag=tag)
    for key in ("time_limit", "max_params", "max_flops"):
        for tag, bad in (("str", "abc"), ("bool", True), ("list", [1]), ("zero", 0),
                         ("neg", -1)):
            _value(cases, f"search.{key}", bad, tag=tag)
    for key, bads in {"optimizer": ["NGOp", "RandomSerch", 3, ["NGOpt"]],
                      "executor": ["proces", 3], "scheduler": ["ash", 3, ["asha"]],
                      "mode": ["maximum", "", 1], "monitor": [3, "", ["val_acc"]],
                      "verbose": ["abc", 3], "progress": ["sometimes", 3],
                      "run_dir": [3, ["a"]], "ray": ["abc", 3],
                      "objectives": ["abc", {"val_acc": "maximum"}, [1], {}],
                      "constraints": ["tests.helpers.nope", "nomodule", 3]}.items():
        for i, bad in enumerate(bads):
            _value(cases, f"search.{key}", bad, tag=f"{type(bad).__name__}{i}")
    from lightning_nas.search.from_config import SEARCH_KEYS
    for key in SEARCH_KEYS:
        wrong = _misspell(key)
        cases.append(Case(f"search.{wrong}-misspelt", f"'{wrong}'",
                          change=_rename(f"search.{key}", wrong)
                          if key in BASE["search"] else _set(f"search.{wrong}", 1)))
    # ------------------------------------------------------------ search space
    space = "search.space"
    for wrong in ("choise", "ordred", "innt", "flaot", "fixd"):
        cases.append(Case(f"space-kind-{wrong}", f"'{wrong}'",
                          change=_set(f"{space}.width", {wrong: [4, 8]})))
    for tag, spec in {"int-reversed": {"int": [32, 4]}, "float-reversed": {"float": [0.3, 0.02]},
                      "int-equal": {"int": [8, 8]}, "choice-empty": {"choice": []},
                      "ordered-empty": {"ordered": []}, "int-empty": {"int": []},
                      "choice-repeated": {"choice": [4, 4]}, "int-log-zero":
                      {"int": [0, 8], "log": True}, "float-log-neg": {"float": [-1, 1],
                                                                      "log": True},
                      "int-str-bound": {"int": ["a", 8]}, "int-float-bound": {"int": [1.5, 8]},
                      "int-one-bound": {"int": [4]}, "int-three-bounds": {"int": [1, 2, 3]},
                      "choice-not-list": {"choice": "abc"}, "int-step-str":
                      {"int": [4, 8], "step": "x"}, "int-step-zero": {"int": [4, 8], "step": 0},
                      "int-log-and-step": {"int": [4, 8], "log": True, "step": 2},
                      "unknown-option": {"choice": [4, 8], "lgo": True},
                      "two-kinds": {"choice": [4], "int": [4, 8]}, "plain-value": 4,
                      "empty-group": {}, "values-wrong-type": {"choice": ["abc", "xyz"]}
                      }.items():
        cases.append(Case(f"space-width-{tag}", "width", change=_set(f"{space}.width", spec)))
    cases.append(Case("space-lr-log-zero", "lr",
                      change=_set(f"{space}.lr", {"float": [0.0, 0.3], "log": True})))
    cases.append(Case("space-activation-unknown-values", "activation",
                      change=_set(f"{space}.activation", {"choice": ["gelu", "swish"]})))
    for key in ("widht", "model.widht", "model.net.width", "data.batch_sise",
                "trainer.max_epoch"):
        def add_key(cfg: dict[str, Any], key: str = key) -> None:
            cfg["search"]["space"][key] = {"choice": [1, 2]}
        cases.append(Case(f"space-key-{key}", key.rsplit(".", 1)[-1], change=add_key))
    for tag, bad in (("int", 3), ("list", [1]), ("empty", "")):
        cases.append(Case(f"space-is-{tag}", "space", change=_set(space, bad)))
    # ------------------------------------------------------------ model and data
    for section, good in (("model", "tests.helpers.TinyNet"), ("data", "tests.helpers.BlobData")):
        other = "tests.helpers.BlobData" if section == "model" else "tests.helpers.TinyNet"
        for tag, path, needle in (
                ("misspelt", good + "x", good + "x"),
                ("no-module", "tests.nope." + good[14:], "tests.nope"),
                ("bare-name", good[14:], good[14:]), ("wrong-base", other, other[14:]),
                ("not-a-class", "tests.helpers.make_blobs", "make_blobs")):
            cases.append(Case(f"{section}-class-{tag}", needle,
                              change=_set(f"{section}.class_path", path)))
        cases.append(Case(f"{section}-init_arg-misspelt", "init_arg",
                          change=_rename(f"{section}.init_args", "init_arg")))
        for tag, bad in (("int", 3), ("list", [1]), ("no-class-path", {"init_args": {}})):
            cases.append(Case(f"{section}-is-{tag}", section, change=_set(section, bad)))
    cases.append(Case("model-missing", "model", change=_drop("model")))
    for path, bad, needle in (("model.init_args.dept", 2, "'dept'"),
                              ("model.init_args.depth", "abc", "depth"),
                              ("model.init_args.depth", 1.5, "depth"),
                              ("model.init_args.depth", [1], "depth"),
                              # lr is searched: as an override, refused as such
                              ("model.init_args.lr", "abc", "searches ('lr')"),
                              ("model.init_args.fail_width", "abc", "fail_width"),
                              ("data.init_args.batch_sise", 3, "batch_sise"),
                              ("data.init_args.batch_size", "abc", "batch_size"),
                              ("data.init_args.n", "abc", "n"),
                              ("data.init_args.n", [1], "n")):
        _value(cases, path, bad, needle=needle if "'" in needle else
               f"{path.split('.')[0]}.{needle}")
    # ------------------------------------------------------------ trainer
    for key in ("max_epoch", "acelerator", "devics"):
        cases.append(Case(f"trainer.{key}-unknown", f"'{key}'", change=_set(f"trainer.{key}", 1)))
    for key, bads in {"max_epochs": ["abc", 1.5, -5], "max_steps": ["x"], "min_epochs": ["x"],
                      "limit_train_batches": ["x"], "limit_val_batches": ["x"],
                      "precision": ["abc", 17], "accelerator": ["tpu", "gpux", 3],
                      "strategy": ["foo", "ddp_spawn", 3], "devices": ["abc", [0.5]],
                      "num_nodes": ["x", 0], "gradient_clip_val": ["x"],
                      "gradient_clip_algorithm": ["x"], "deterministic": ["x"],
                      "benchmark": ["x"], "check_val_every_n_epoch": ["x"],
                      "log_every_n_steps": ["x"], "enable_checkpointing": ["x"],
                      "accumulate_grad_batches": ["x"], "max_time": ["x"],
                      "fast_dev_run": ["x"], "profiler": ["x"], "default_root_dir": [3],
                      "callbacks": ["x", [{"class_path": "tests.nope.Callback"}],
                                    [{"class_path": "lightning.pytorch.callbacks.EarlyStopping",
                                      "init_args": {"monitr": "val_acc"}}]],
                      "logger": ["x", {"class_path": "lightning.pytorch.loggers.NopeLogger"}],
                      }.items():
        for i, bad in enumerate(bads):
            _value(cases, f"trainer.{key}", bad, needle=f"trainer.{key}",
                   tag=f"{type(bad).__name__}{i}")
    for tag, bad in (("int", 3), ("list", [1])):
        cases.append(Case(f"trainer-is-{tag}", "trainer", change=_set("trainer", bad)))
    # ------------------------------------------------------------ top level
    for key in ("trainr", "serch", "modell", "dat"):
        cases.append(Case(f"section-{key}", f"'{key}'", change=_set(key, {})))
    for bad in ("abc", 1.5, [1]):
        _value(cases, "seed_everything", bad)
    for tag, bad in (("int", 3), ("list", [1]), ("str", "abc")):
        cases.append(Case(f"search-is-{tag}", "search", change=_set("search", bad)))
    cases.append(Case("search-and-oneshot", "oneshot", change=_set("oneshot", {})))
    # ------------------------------------------------------------ YAML, files, overrides
    good = yaml.safe_dump(BASE, sort_keys=False)
    for tag, text, where in (
            ("unclosed-flow", "search:\n  space: {width: {choice: [4, 8}}\n", ":2:"),
            ("broken-base", good.replace("class_path: tests.helpers.TinyNet",
                                         "class_path: [tests.helpers.TinyNet"), ":4:"),
            ("bad-indent", "model:\n  class_path: tests.helpers.TinyNet\n init_args: {}\n",
             ":3:"),
            ("tab", "model:\n\tclass_path: tests.helpers.TinyNet\n", ":2:"),
            ("unterminated-quote", "model: 'tests.helpers.TinyNet\nsearch: {}\n", None),
            ("mapping-in-scalar", "model: a: b\n", ":1:"),
            ("list-then-map", "- a\nb: c\n", ":2:"),
            ("bad-anchor", "model: *nothing\n", ":1:"),
            ("unclosed-brace", "search: {budget: 3\n", None)):
        cases.append(Case(f"yaml-{tag}", f"search.yaml{where or ':'}", text=text))
    for tag, value in (("flow", "{choice: [4, 8}"), ("quote", "'abc"), ("colon", "a: b: c")):
        cases.append(Case(f"yaml-override-{tag}", "--search.space.width",
                          args=[f"--search.space.width={value}"]))
    cases.append(Case("yaml-space-file", "space.yaml:1:", change=_set(space, "space.yaml"),
                      files={"space.yaml": "width: {choice: [4, 8}\n"}))
    cases.append(Case("yaml-second-config", "extra.yaml:1:", configs=["extra.yaml"],
                      files={"extra.yaml": "search: {budget: [3}\n"}))
    cases.append(Case("yaml-not-a-mapping", "search.yaml", text="[1, 2]\n"))
    cases.append(Case("missing-second-config", "nothere.yaml", configs=["nothere.yaml"]))
    cases.append(Case("missing-space-file", "nospace.yaml", change=_set(space, "nospace.yaml")))
    cases.append(Case("override-no-value", "--search.budget", args=["--search.budget"]))
    cases.append(Case("override-section", "'serch'", args=["--serch.budget=3"]))
    cases.append(Case("override-into-int", "budget", args=["--search.budget.x=3"]))
    # an override into a section or argument that is not a mapping (was: silently replaced
    # by a mapping of the override alone, so `trainer: 5` + --trainer.max_epochs=1 trained)
    listed = {**copy.deepcopy(BASE), "search": [1]}
    cases.append(Case("override-through-list-section", "search: [1]",
                      text=yaml.safe_dump(listed, sort_keys=False)))  # + --search.run_dir=
    cases.append(Case("override-through-int-section", "trainer: 5", change=_set("trainer", 5),
                      args=["--trainer.max_epochs=1"]))
    cases.append(Case("override-through-list-argument", "model.depth: [1, 2]",
                      change=_set("model.init_args.depth", [1, 2]), args=["--model.depth.x=3"]))
    # ------------------------------------------------------------ changed existing run
    for tag, change, needle in (
            ("space-values", _set(f"{space}.width", {"choice": [4, 16]}), "different space"),
            ("space-key", _drop(f"{space}.activation"), "different space"),
            ("monitor", _set("search.monitor", "val_loss"), "different monitor"),
            ("mode", _set("search.mode", "min"), "different mode"),
            ("objectives", _set("search.objectives", {"val_acc": "max", "params": "min"}),
             "different objectives")):
        cases.append(Case(f"existing-run-changed-{tag}", needle, change=change, existing=True))
    for i, case in enumerate(cases):  # every other case against a copy of a finished run
        case.existing = case.existing or (i // 2) % 2 == 1
    return cases


CASES = _generate()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A tiny finished run of ``BASE`` (the only training of this module)."""
    folder = tmp_path_factory.mktemp("finished")
    cfg = copy.deepcopy(BASE)
    cfg["search"]["run_dir"] = str(folder / "run")
    (folder / "search.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert main(["search", str(folder / "search.yaml")]) == 0
    assert (folder / "run" / "best.yaml").exists()
    return folder / "run" / "search.db"


def test_enough_cases_of_every_kind():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 200
    for prefix in ("search.", "space-", "model", "data", "trainer", "section-", "yaml-",
                   "missing-", "override-", "existing-run-"):
        assert any(i.startswith(prefix) for i in ids), prefix


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_config_is_one_clear_line(case: Case, tmp_path, capsys, request):
    run_dir = tmp_path / "run"
    before = None
    if case.existing:
        run_dir.mkdir()
        db = request.getfixturevalue("finished_run")
        shutil.copyfile(db, run_dir / "search.db")
        before = (run_dir / "search.db").read_bytes()
    cfg = copy.deepcopy(BASE)
    cfg["search"]["run_dir"] = str(run_dir)
    if case.change is not None:
        case.change(cfg)
    config = tmp_path / "search.yaml"
    config.write_text(case.text if case.text is not None
                      else yaml.safe_dump(cfg, sort_keys=False))
    for name, text in case.files.items():
        (tmp_path / name).write_text(text)
    argv = ["search", str(config), *(str(tmp_path / c) for c in case.configs), *case.args]
    if case.text is not None:
        argv.append(f"--search.run_dir={run_dir}")  # where nothing may be written

    code = main(argv)

    out, err = capsys.readouterr()
    # a warning the config earns (a mode contrary to the metric's name) is a line of its own,
    # lightning-nas search: warning: ...; the error is one line
    lines = [line for line in err.strip().splitlines()
             if not line.startswith("lightning-nas search: warning: ")]
    assert code == 2, (code, out, err)
    assert len(lines) == 1 and lines[0].startswith(PREFIX), err
    assert case.needle in lines[0], lines[0]
    if not case.id.startswith("existing-run-changed-"):  # the error itself, found first
        assert "holds a search with a different" not in lines[0], lines[0]
    assert "Traceback" not in err + out
    assert not (run_dir / "trials").exists()
    if before is not None:
        assert (run_dir / "search.db").read_bytes() == before
        # a config refused once the folder is held (before its store is read) leaves the
        # lock file, which a search leaves there anyway
        assert {p.name for p in run_dir.iterdir()} - {"search.lock"} == {"search.db"}
    else:
        assert not (run_dir / "search.db").exists()

"""Shared fixtures: one torch thread (2-core machines), tiny Trainer settings."""

from __future__ import annotations

import contextlib
import fcntl
import inspect
import json
import os
import shutil
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

torch.set_num_threads(1)

#: Trainer settings of a fast real trial
TINY_TRAINER = {"max_epochs": 2, "accelerator": "cpu", "devices": 1}
#: a small space over tests.helpers.TinyNet
TINY_SPACE = {
    "width": {"choice": [4, 8, 16, 32]},
    "activation": {"choice": ["relu", "tanh"]},
    "lr": {"float": [0.02, 0.3], "log": True},
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``-n 2 --maxschedchunk 1``, the README's test command), the
    ``slow`` tests go first: each worker takes the next test when it is done, so both end
    together instead of one running a minute-long test after the other ran out. Among them,
    a test that only reads runs (``shared_run``) that a slow test before it reads too goes
    after the other slow tests: by then that one has made them, where next to it (the
    other worker's next test) it waited for the whole run, a worker's time lost (was: the
    two ``test_hydra_split_job`` tests, 22 s of a sweep each in CI, one of them waiting).
    One that takes fixtures of its own module besides (a module's Ray cluster) stays with
    its module's tests, which share them."""
    if hasattr(config, "workerinput"):  # an xdist worker (every one sorts the same way)
        slow_first(items)


def slow_first(items: list[pytest.Item]) -> None:
    """Sort ``items`` (collected, in collection order) in place as the xdist workers run
    them (``pytest_collection_modifyitems``): the slow tests first, among them the readers of
    a run that a slow test before them reads too last; tested by ``test_suite_order``."""
    read: set[str] = set()  # the runs the slow tests so far read
    order: dict[pytest.Item, tuple[bool, bool]] = {}
    for item in items:  # (in collection order)
        slow = item.get_closest_marker("slow") is not None
        runs, own = _runs_read(item)
        order[item] = (not slow, slow and bool(runs) and runs <= read and not own)
        read |= runs if slow else set()
    items.sort(key=order.__getitem__)


def _runs_read(item: pytest.Item) -> tuple[set[str], bool]:
    """The shared runs ``item``'s fixtures read (each fixture that takes ``shared_run``,
    named by the function it wraps: ``tests.helpers_hydra_spawn.spawn_sweep_of`` for the
    fixtures of both files that read that sweep), and whether it takes other fixtures of
    its own module."""
    runs, own = set(), False
    module = vars(item.module) if getattr(item, "module", None) else {}
    for name in getattr(item, "fixturenames", ()):
        # a fixture's object (pytest's wrapper) holds its function as ``__wrapped__``
        func = getattr(module.get(name) or globals().get(name), "__wrapped__", None)
        if func is not None and "shared_run" in inspect.signature(func).parameters:
            runs.add(f"{func.__module__}.{func.__qualname__}")
        elif name in module:
            own = True
    return runs, own


@pytest.fixture(autouse=True)
def _no_ranks_left():
    """DDP ranks a test kept (``run_trial`` outside a search) end with the test."""
    yield
    from lightning_nas.search.ranks import close_rank_groups

    close_rank_groups()


@pytest.fixture(autouse=True)
def _variables_kept():
    """What a test's own Lightning calls set in the test process and left set for the next
    test of the worker, as it was before the test: the seed variables (``seed_everything``,
    ``LightningCLI``'s ``seed_everything``) and the port of an in-process ``ddp_spawn`` fit
    (a Hydra job's task)."""
    # imported here, not at the top: Lightning imported before pytest captures logs (at
    # this file's import) keeps its loggers' records from the root logger, and from caplog
    from lightning_nas.search.lifetime import environ
    from lightning_nas.search.trial import SEED_VARIABLES

    with environ({}, kept=(*SEED_VARIABLES, "MASTER_PORT")):
        yield


@pytest.fixture(autouse=True, scope="session")
def _logging_interval_said():
    """Lightning's ``log_every_n_steps`` warning (``quiet.LoggingInterval``) taken as said in
    this process, as the suite ignores it (pyproject's ``filterwarnings``): it is said once
    a process, so a test that resets the filters would see it in whichever test trains
    first, an order ``-n 2`` changes. ``test_quiet`` says it anew."""
    from lightning_nas.search.quiet import LoggingInterval

    LoggingInterval.said = True
    yield


@pytest.fixture(autouse=True)
def _root_logging_kept():
    """The root logger's level and handlers as they were before the test (a Hydra run in the
    test's process configures logging for its jobs: INFO, Hydra's handler)."""
    from tests.helpers_runs import keep_root_logging  # (imported here: see _variables_kept)

    yield from keep_root_logging()


@pytest.fixture(scope="session")
def _zygote(tmp_path_factory):
    from tests.launcher import Launcher

    zygote = Launcher(tmp_path_factory.mktemp("launcher"))
    yield zygote
    zygote.close()


@pytest.fixture
def launcher(_zygote):
    """``tests.launcher.Launcher``: search processes forked from one that imported the
    training stack once (started on first use, shared by the session)."""
    yield _zygote
    _zygote.reset()


@pytest.fixture(scope="session")
def standalone_python(tmp_path_factory):
    """``tests.helpers_standalone.Interpreter``: ``python -I`` with lightning_nas refused,
    torch, Lightning, Hydra and scikit-learn's data sets (the digits example's data) imported
    once; the user's scripts of ``test_export_standalone`` and ``test_hydra_rerun_alone``
    are forked from it (one per test process, started on first use; was one per module, a
    cold interpreter and its imports each)."""
    from tests.helpers_standalone import ISOLATED_IMPORTS, Interpreter

    with Interpreter(tmp_path_factory.mktemp("standalone"), isolated=True,
                     imports=(*ISOLATED_IMPORTS, "sklearn.datasets")) as interpreter:
        yield interpreter


@pytest.fixture(scope="session")
def shared_run(tmp_path_factory) -> Callable[[str, Callable[[Path], Any]], tuple[Path, Any]]:
    """``shared_run(NAME, MAKE)``: the folder where ``MAKE(folder)`` made run ``NAME``, and
    what ``MAKE`` returned (JSON), made once per test session for the tests that each assert
    one thing on it (a DDP search starts rank processes: seconds of imports each). Under
    pytest-xdist those tests may run in either worker, so the first to ask makes it in the
    session's folder that both see, under a lock, and the other waits for it and reads it;
    what a test writes there must be what no other test reads. ``MAKE`` raising leaves no
    run: the next test to ask makes it again (and fails alike)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base

    def get(name: str, make: Callable[[Path], Any]) -> tuple[Path, Any]:
        folder, done = root / f"shared-{name}", root / f"shared-{name}.json"
        with open(root / f"shared-{name}.lock", "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when closed
            if not done.exists():
                shutil.rmtree(folder, ignore_errors=True)  # what a failed MAKE left
                folder.mkdir()
                made = make(folder)
                done.write_text(json.dumps(made))
        return folder, json.loads(done.read_text())

    return get


@pytest.fixture(scope="session")
def ddp_search(shared_run) -> tuple[Path, dict]:
    """A search of two DDP trials (two gloo ranks on CPU, two epochs, ``threads_per_trial=2``)
    of ``tests.helpers.ShareNet`` with ``tests.helpers.RankRecorder`` (each rank's
    ``rank<R>.json`` in its trial's folder): its run folder and its result's best trial
    (``trial_id``, ``score``) with ``console``, the search process's own warnings that say
    a metric differs across the ranks, made once per session for the tests of
    ``test_distributed`` and ``test_rank_sync`` that assert on it."""
    def make(folder: Path) -> dict:
        from lightning_nas import Search
        from tests.helpers_data import BlobData

        trainer = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 2,
                   "callbacks": [{"class_path": "tests.helpers.RankRecorder"}]}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            best = Search("tests.helpers.ShareNet", {"width": {"choice": [8, 16, 32]},
                                                     "lr": {"float": [0.05, 0.3]}},
                          data=BlobData, trainer=trainer, budget=2, run_dir=folder,
                          optimizer="RandomSearch", threads_per_trial=2,
                          verbose=False).run().best
        return {"trial_id": best.trial_id, "score": best.score,
                "console": [str(w.message) for w in caught
                            if "differs across" in str(w.message)]}

    return shared_run("ddp_search", make)


def _two_worker_run(folder: Path) -> list[str]:
    """Make ``two_worker_search``'s run by ``lightning-nas search`` in ``folder / "run"``;
    the lines its stderr (the search process's and its workers') said of a worker's
    warnings (``tests.helpers_config.WarnsInWorker``'s: the package's and the user's own)."""
    import yaml

    from lightning_nas.cli import main
    from tests.helpers_config import USERS_OWN

    config = folder / "search.yaml"
    config.write_text(yaml.safe_dump({
        "seed_everything": 5,
        "model": {"class_path": "tests.helpers_config.WarnsInWorker",
                  "init_args": {"depth": 1, "sleep": 0.25}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1},
        "search": {"space": {"model.width": {"choice": [8, 16, 32]},
                             "lr": {"float": [0.05, 0.3]}},
                   "optimizer": "NGOpt", "budget": 4, "num_workers": 2,
                   "run_dir": str(folder / "run"), "verbose": False}}))
    err = folder / "stderr.txt"
    sys.stderr.flush()
    kept = os.dup(2)  # the workers write to the search process's descriptor 2, the search
    os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_APPEND), 2)  # process to
    try:  # sys.stderr (pytest's, else)
        with open(err, "a", buffering=1) as stream, contextlib.redirect_stderr(stream), \
                warnings.catch_warnings():
            warnings.simplefilter("default")  # as Python shows a script's warnings
            code = main(["search", str(config)])
    finally:
        os.dup2(kept, 2)
        os.close(kept)
    said = err.read_text()
    assert code == 0, said
    return [line for line in said.splitlines()
            if "built in a worker" in line or USERS_OWN in line]


@pytest.fixture(scope="session")
def two_worker_search(shared_run) -> Path:
    """The run folder of a config search (``lightning-nas search``, run in this process: it
    writes ``best_config.yaml``) of four trials of ``TinyNet`` (``WarnsInWorker``: a
    warning in each worker) of 0.25 s steps on two worker processes (each a fresh
    interpreter), no ``threads_per_trial``: made once per session for the tests of
    ``test_executors``, ``test_export_header`` and ``test_warning_lines`` that assert on
    it."""
    return shared_run("two_worker_search", _two_worker_run)[0] / "run"


@pytest.fixture(scope="session")
def two_worker_warnings(shared_run) -> list[str]:
    """The lines of ``two_worker_search``'s stderr that said its workers' warnings."""
    return shared_run("two_worker_search", _two_worker_run)[1]


@pytest.fixture(scope="session")
def finished_template(shared_run) -> Path:
    """A finished 3-trial search over ``TINY_SPACE`` of ``tests.helpers.TinyNet``, made once
    per session for the tests of ``test_export_*`` that fine-tune or export it: they copy it
    (``finished_run``), never write there."""
    def make(folder: Path) -> None:
        from lightning_nas import Search
        from tests.helpers_data import BlobData
        from tests.helpers_models import TinyNet

        Search(TinyNet, {k: dict(v) for k, v in TINY_SPACE.items()}, data=BlobData,
               trainer=dict(TINY_TRAINER), budget=3, run_dir=folder / "run",
               verbose=False).run()

    return shared_run("export_finished_run", make)[0] / "run"


@pytest.fixture
def finished_run(finished_template, tmp_path) -> Path:
    """A finished 3-trial search's folder of the test's own (tests fine-tune into it, export
    from it, remove its files): a copy of the session's one run (the same search each test
    ran before, a second of training each)."""
    run = tmp_path / "run"
    shutil.copytree(finished_template, run)
    return run


@pytest.fixture
def tiny_trainer() -> dict:
    return dict(TINY_TRAINER)


@pytest.fixture
def tiny_space() -> dict:
    return {k: dict(v) for k, v in TINY_SPACE.items()}


@pytest.fixture
def wandb_offline(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The ``wandb`` module, W&B offline and silent for the test (no network); the test is
    skipped where wandb is not installed. For the logger tests (``test_logger_*.py``)."""
    wandb = pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    return wandb


@pytest.fixture
def mlflow_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The tracking URI of an MLflow file store in the test's folder, ``file:.../mlruns``
    (which mlflow 3 refuses unless ``MLFLOW_ALLOW_FILE_STORE`` is set: set for the test);
    the test is skipped where mlflow is not installed. For the logger tests
    (``test_logger_*.py``)."""
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return f"file:{tmp_path / 'mlruns'}"


@pytest.fixture
def config(tmp_path) -> Path:
    """``search.yaml`` in the test's folder: a config search of ``tests.helpers.TinyNet`` on
    ``BlobData`` (RandomSearch, budget 10, five epochs, ``run_dir`` its folder's ``run``),
    for the tests of the ``lightning-nas`` command (``test_cli_*.py``)."""
    import yaml

    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({
        "seed_everything": 5,
        "model": {"class_path": "tests.helpers.TinyNet", "init_args": {"depth": 1}},
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"batch_size": 32}},
        "trainer": {"max_epochs": 5, "accelerator": "cpu", "devices": 1},
        "search": {"space": {"width": {"choice": [8, 16, 32]}, "lr": {"float": [0.05, 0.3]}},
                   "optimizer": "RandomSearch", "budget": 10,
                   "run_dir": str(tmp_path / "run")},
    }))
    return path

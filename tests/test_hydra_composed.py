"""Each job of a Hydra sweep is composed once: the sweeper composes it before its batch is
launched (its check), and Hydra's basic launcher, in the sweep's process, is handed that
composition (``hydra_composed``) instead of composing it again, where no job ran in
between. Run with the real Hydra (its own sweep runner, its basic launcher and config
loader), counting the real loader's compositions by wrapping it; the jobs' saved configs
and what the task received are those Hydra composes (recorded from the code that composed
every job twice)."""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from hydra._internal.callbacks import Callbacks  # noqa: E402
from hydra._internal.config_loader_impl import ConfigLoaderImpl  # noqa: E402
from hydra.types import HydraContext  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from lightning_nas.integrations.hydra_executor import HydraLauncherExecutor  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402

#: a job's task config as the code that composed each job twice saved and passed it
#: (``.hydra/config.yaml``, ``OmegaConf.to_yaml(cfg)`` in the task): a config group option
#: that interpolates, an interpolation and a ``_partial_`` target
EXPECTED = """\
model:
  name: {model}
  depth: {depth}
opt:
  _partial_: true
  _target_: torch.optim.SGD
  lr: {lr}
x: 0
'y': ${{x}}
"""
DEPTHS = {"a": "1", "b": "${x}"}


class Compositions:
    """Wraps the real ``ConfigLoaderImpl.load_sweep_config`` (each call still composes):
    counts the calls made while a batch is checked and launched
    (``HydraLauncherExecutor.wait``), by overrides, and keeps the loader and the sweep's
    config it was called with."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.in_batch: Counter[tuple[str, ...]] = Counter()
        self.loader: Any = None
        self.master: DictConfig | None = None
        self.waiting = False
        compose, wait = ConfigLoaderImpl.load_sweep_config, HydraLauncherExecutor.wait
        self.compose = compose

        def counted(loader: Any, master: DictConfig, overrides: list[str]) -> DictConfig:
            self.loader, self.master = loader, master
            if self.waiting:
                self.in_batch[tuple(overrides)] += 1
            return compose(loader, master, overrides)

        def waited(executor: HydraLauncherExecutor) -> Any:
            self.waiting = True
            try:
                return wait(executor)
            finally:
                self.waiting = False

        monkeypatch.setattr(ConfigLoaderImpl, "load_sweep_config", counted)
        monkeypatch.setattr(HydraLauncherExecutor, "wait", waited)


def _sweep(tmp_path: Path, task: Callable[[DictConfig], Any], params: dict[str, str],
           **sweeper: Any) -> list[Any]:
    """A multirun of ``task`` (``multirun``, its jobs kept in ``tmp_path/jobs``): its config
    group ``model``'s option ``b`` interpolates ``x``, with an interpolation ``y`` and a
    ``_partial_`` target."""
    return multirun(tmp_path, task, {"optimizer": "RandomSearch", "seed": 0, "params": params,
                                     **sweeper},
                    sweep_dir=str(tmp_path / "jobs"), keep_jobs=True, depths=DEPTHS,
                    y="${x}", opt={"_target_": "torch.optim.SGD", "_partial_": True,
                                   "lr": 0.1})


def _jobs(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """Each job's folder and its overrides, as Hydra saved them."""
    for folder in sorted((tmp_path / "jobs").iterdir(), key=lambda p: int(p.name)):
        yield folder, yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text())


def _values(overrides: list[str]) -> dict[str, str]:
    """``{key: value}`` of a job's overrides (``model='a'``: ``a``)."""
    return {k: v.strip("'") for k, v in (o.split("=", 1) for o in overrides)}


def _one_job_sweep(tmp_path: Path) -> list[tuple[str, int]]:
    """The (model, x) of each job a one-job sweep of two searched keys ran."""
    seen = []

    def task(cfg: DictConfig) -> float:
        seen.append((cfg.model.name, cfg.x))
        return float(cfg.x)

    multirun(tmp_path, task, {"budget": 1, "seed": 0,
                              "params": {"x": "choice(1, 2)", "model": "choice(a, b)"}})
    return seen


def test_each_job_is_composed_once_into_the_config_hydra_composes(tmp_path, monkeypatch):
    calls = Compositions(monkeypatch)
    received = {}

    def task(cfg: DictConfig) -> float:
        received[(cfg.model.name, cfg.opt.lr)] = OmegaConf.to_yaml(cfg)
        return float(cfg.opt.lr)

    _sweep(tmp_path, task, {"model": "choice(a, b)", "opt.lr": "choice(0.1, 0.01)"}, budget=4)
    jobs = list(_jobs(tmp_path))
    assert len(jobs) == 4 and len(received) == 4
    # the first job's check takes its option's job, composed before the first batch (was:
    # 1); the others are composed by their check alone (was: 2, the check's and the
    # launcher's)
    assert [calls.in_batch[tuple(o)] for _, o in jobs] == [0, 1, 1, 1], calls.in_batch
    for (model, lr), text in received.items():
        expected = EXPECTED.format(model=model, depth=DEPTHS[model], lr=lr)
        assert text == expected
        folder = next(f for f, o in jobs if _values(o) == {"model": model, "opt.lr": str(lr)})
        assert (folder / ".hydra" / "config.yaml").read_text() == expected
    # its Hydra node (hydra.runtime, hydra.job, the overrides) as Hydra composes the job
    # afresh and its launcher numbers it (hydra.job.num, id; hydra.runtime.output_dir)
    for folder, overrides in jobs:
        fresh = calls.compose(calls.loader, calls.master, overrides)
        fresh.hydra.job.id = fresh.hydra.job.num = int(folder.name)
        fresh.hydra.runtime.output_dir = str(folder)
        assert (folder / ".hydra" / "hydra.yaml").read_text() == OmegaConf.to_yaml(
            OmegaConf.masked_copy(fresh, "hydra"))


def test_a_one_job_sweep_builds_each_config_once(tmp_path, monkeypatch):
    # every build of a config (Hydra's ``load_configuration``, which each composition
    # goes through) by its inputs: the sweep's own (Hydra's, before the sweeper), the first
    # sample's job (checked), each searched option's job (the first sample's other values
    # beside it: ``model=b`` is the first sample's job again), the default logging
    # config (``rerun_alone``'s) and the job's own check (the option ``model=a``'s again):
    # none built twice from the same inputs (was: 6 builds, ``model=b x=2`` and
    # ``model=a x=2`` twice each)
    built: list[tuple[Any, tuple[str, ...]]] = []
    load = ConfigLoaderImpl.load_configuration

    def counted(loader: Any, config_name: Any, overrides: list[str], *args: Any,
                **kwargs: Any) -> DictConfig:
        built.append((config_name, tuple(overrides)))
        return load(loader, config_name, overrides, *args, **kwargs)

    monkeypatch.setattr(ConfigLoaderImpl, "load_configuration", counted)
    seen = _one_job_sweep(tmp_path)
    assert seen == [("a", 2)]  # the job the sweep ran, as before
    assert [n for n in Counter(built).values() if n > 1] == [], built
    assert len(built) == 4, built


def test_a_job_after_another_of_its_batch_is_composed_again(tmp_path, monkeypatch):
    # the basic launcher runs a batch's jobs one after the other: the first may change what
    # the next composes (here it edits the config group's file), so the next job is composed
    # again, as Hydra would, and runs the edited file
    calls = Compositions(monkeypatch)
    names = []

    def task(cfg: DictConfig) -> float:
        names.append(cfg.model.name)
        (tmp_path / "conf" / "model" / "a.yaml").write_text("name: edited\ndepth: 1\n")
        return float(cfg.x)

    _sweep(tmp_path, task, {"x": "choice(1, 2)"}, budget=2, num_workers=2)
    assert names == ["a", "edited"]
    first, second = (tuple(o) for _, o in _jobs(tmp_path))
    # (the first: the space's first sample, composed by check_composes before the batch:
    # 0 in it, was 1; the second: by its check, and again by the launcher after the first
    # ran)
    assert (calls.in_batch[first], calls.in_batch[second]) == (0, 2)


def test_the_launchers_loader_crosses_to_another_process_as_hydras_own(tmp_path, monkeypatch):
    # a launcher that composes in another process (joblib, submitit) pickles its Hydra
    # context: there the loader is Hydra's, which composes each job itself
    from lightning_nas.integrations.hydra_composed import ComposedJobs

    calls = Compositions(monkeypatch)
    _sweep(tmp_path, lambda cfg: 1.0, {"x": "choice(1, 2)"}, budget=1)
    context = ComposedJobs(calls.loader).launcher_context(
        HydraContext(config_loader=calls.loader, callbacks=Callbacks()))
    assert context.config_loader is not calls.loader  # here: the sweeper's compositions
    assert context.config_loader.get_group_options("model") == ["a", "b"]
    crossed = pickle.loads(pickle.dumps(context))
    assert type(crossed.config_loader) is ConfigLoaderImpl
    assert crossed.config_loader.get_group_options("model") == ["a", "b"]


def test_a_searched_mapping_in_a_target_node_reaches_the_job_as_hydra_composes_it(tmp_path):
    # a sweep's dict value under a _target_ node (++net.kw, merged over the node's kw) and a
    # searched config group (model) reach each job as Hydra's own compose gives them: the
    # config's other keys kept, as lightning-nas search keeps them (test_choice_mappings_hydra)
    from hydra import compose, initialize_config_dir

    received = {}

    def task(cfg: DictConfig) -> float:
        received[cfg.model.name] = OmegaConf.to_container(cfg, resolve=True)
        return float(len(received))

    multirun(tmp_path, task, {"optimizer": "RandomSearch", "seed": 0, "budget": 2, "params": {
        "model": "choice(a, b)", "++net.kw": "choice({sub: {y: 5}}, {other: 2})"}},
        sweep_dir=str(tmp_path / "jobs"), keep_jobs=True,
        net={"_target_": "builtins.dict", "kw": {"sub": {"x": 2}, "other": 1}})
    jobs = list(_jobs(tmp_path))
    assert len(jobs) == 2 and len(received) == 2
    for _, overrides in jobs:
        with initialize_config_dir(config_dir=str(tmp_path / "conf"), version_base=None):
            want = OmegaConf.to_container(compose("config", overrides=overrides), resolve=True)
        got = received[_values(overrides)["model"]]
        assert got["net"] == want["net"] and got["model"] == want["model"], overrides
        assert got["net"]["kw"]["sub"]["x"] == 2 and got["net"]["kw"]["other"] in (1, 2)


def test_a_one_job_sweep_asks_hydra_for_each_config_groups_options_once(tmp_path, monkeypatch):
    # each question of a group's options builds a caching repository of the whole config
    # search path (Hydra's ``get_group_options``: a deep copy of the repository): the
    # sweeper's checks before its one job asked it for the same group again and again
    # (was: ``model`` 10 times, ``x`` 9 times); the job as before
    asked: list[str] = []
    options = ConfigLoaderImpl.get_group_options

    def counted(loader: Any, group: str, *args: Any, **kwargs: Any) -> list[str]:
        asked.append(repr((group, args, sorted(kwargs.items()))))
        return options(loader, group, *args, **kwargs)

    monkeypatch.setattr(ConfigLoaderImpl, "get_group_options", counted)
    seen = _one_job_sweep(tmp_path)
    assert seen == [("a", 2)]
    assert [n for n in Counter(asked).values() if n > 1] == [], asked


def test_a_groups_options_are_asked_again_once_a_job_started_or_in_another_sweep(tmp_path):
    # a job (or an edit between sweeps) may add an option file: what was kept is dropped when
    # a job starts, and a sweep keeps its own (a resume sees the files as they are)
    from hydra._internal.utils import create_config_search_path

    from lightning_nas.integrations.hydra_composed import ComposedJobs

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "a.yaml").write_text("name: a\n")
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(tmp_path)))
    composed = ComposedJobs(loader)
    checks = composed.sweep_loader()
    assert checks.get_group_options("model") == ["a"]
    (tmp_path / "model" / "b.yaml").write_text("name: b\n")
    assert checks.get_group_options("model") == ["a"]  # kept: no job started
    assert ComposedJobs(loader).sweep_loader().get_group_options("model") == ["a", "b"]
    composed.job_started()
    assert checks.get_group_options("model") == ["a", "b"]
    groups = checks.list_groups("")
    (tmp_path / "optim").mkdir()
    (tmp_path / "optim" / "sgd.yaml").write_text("lr: 1\n")
    assert checks.list_groups("") == groups and "optim" not in groups
    composed.job_started()
    assert checks.list_groups("") == sorted([*groups, "optim"])

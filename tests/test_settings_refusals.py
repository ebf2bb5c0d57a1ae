"""Settings that do nothing where they are given are refused (worker, Ray and scheduler
settings without what uses them), numbers numpy gives taken as plain ones, and a refusal
said in the words of its caller (``None`` from Python, ``null`` from a config)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lightning_nas.errors import ConfigError
from lightning_nas.search.schedulers import MedianRule
from lightning_nas.search.setting_groups import Goal
from lightning_nas.search.settings import SearchSettings


@pytest.mark.parametrize("options", [
    {"max_trials_per_worker": 2},
    {"max_trials_per_worker": 2, "executor": "inline"},
    {"max_trials_per_worker": 2, "executor": "ray", "num_workers": 2},
])
def test_max_trials_per_worker_without_worker_processes_is_refused(options):
    with pytest.raises(ConfigError, match="max_trials_per_worker recycles worker processes"):
        SearchSettings.from_options(**options)
    assert SearchSettings.from_options(max_trials_per_worker=2, num_workers=2)
    assert SearchSettings.from_options(max_trials_per_worker=2, executor="process")


@pytest.mark.parametrize("options", [
    {"devices_per_trial": 2},
    {"devices_per_trial": 1, "executor": "inline"},
    {"devices_per_trial": 1, "executor": "auto", "num_workers": 1},
])
def test_devices_per_trial_without_worker_processes_is_refused(options):
    # was: accepted and ignored (the trials took trainer.devices in the search's process),
    # while max_trials_per_worker was refused in the same place
    with pytest.raises(ConfigError, match=re.escape(
            "devices_per_trial gives each worker process (or Ray trial) its GPUs, and "
            f"executor '{options.get('executor', 'auto')}' with num_workers=1 starts none")):
        SearchSettings.from_options(**options)
    assert SearchSettings.from_options(devices_per_trial=2, num_workers=2)
    assert SearchSettings.from_options(devices_per_trial=2, executor="process")
    assert SearchSettings.from_options(devices_per_trial=2, executor="ray")


@pytest.mark.parametrize("executor", ["auto", "process", "inline"])
def test_ray_settings_without_the_ray_executor_are_refused(executor):
    with pytest.raises(ConfigError, match=rf"`ray` \({{'address': 'auto'}}\) configures "
                                          rf"executor 'ray', and executor is '{executor}'.*"
                                          rf"set executor: ray \(or drop ray\)"):
        SearchSettings.from_options(executor=executor, ray={"address": "auto"})
    assert SearchSettings.from_options(executor="ray", ray={"address": "auto"})
    assert SearchSettings.from_options(executor=executor, ray={})  # nothing to lose


def test_search_max_epochs_without_a_scheduler_is_refused():
    # was: accepted, and every trial trained the Trainer's max_epochs
    with pytest.raises(ConfigError, match=r"`max_epochs` \(2\) is a scheduler's complete trial, "
                                          r"and no scheduler is set"):
        SearchSettings.from_options(max_epochs=2)
    assert SearchSettings.from_options(max_epochs=2, scheduler="asha").early_stopping.active


@pytest.mark.parametrize(("options", "needle"), [
    ({"min_epochs": 2}, r"`min_epochs` \(2\) is the epochs a scheduler trains a trial before it "
                        r"first judges it, and no scheduler is set: nothing uses it"),
    ({"min_epochs": 1, "scheduler": "none"}, r"`min_epochs` \(1\) .* no scheduler is set.*"
                                             r"leave it out \(min_epochs=None\)"),
    ({"eta": 2}, r"`eta` \(2\) is the reduction factor of scheduler asha or hyperband, and no "
                 r"scheduler is set: .*set a scheduler \(asha or hyperband\)"),
    ({"eta": 9, "scheduler": "median"}, r"`eta` \(9\) is the reduction factor of scheduler "
                                        r"asha or hyperband; scheduler 'median' has none.*"
                                        r"\(eta=None\)"),  # Python's words
    ({"eta": 2, "scheduler": MedianRule()}, r"`eta` \(2\) .* scheduler MedianRule is a rule "
                                            r"object, which keeps its own: it has none"),
    ({"min_epochs": 2, "scheduler": MedianRule()}, r"build it with min_epochs=2, and leave "
                                                   r"`min_epochs` out"),
])
def test_scheduler_settings_the_scheduler_does_not_use_are_refused(tmp_path, options, needle):
    # was: ignored without a word (max_epochs in the same place was refused)
    from lightning_nas import Search

    with pytest.raises(ConfigError, match=needle):
        SearchSettings.from_options(**options)
    with pytest.raises(ConfigError, match=needle):  # before anything is written
        Search(None, {"x": {"float": [0, 1]}}, objective=lambda arch: {"val_acc": arch["x"]},
               run_dir=tmp_path / "run", **options)
    assert not (tmp_path / "run").exists()


def test_scheduler_settings_the_scheduler_uses_are_kept():
    stopping = SearchSettings.from_options(scheduler="median", min_epochs=2).early_stopping
    assert (stopping.min_epochs, stopping.eta) == (2, None)
    stopping = SearchSettings.from_options(scheduler="hyperband", eta=2).early_stopping
    assert (stopping.min_epochs, stopping.eta) == (None, 2)
    stopping = SearchSettings.from_options(scheduler=MedianRule(), max_epochs=4).early_stopping
    assert stopping.max_epochs == 4  # the epochs the rule object's trials train


def test_a_seed_numpy_cannot_take_is_refused():
    # was: accepted, then numpy refused it after the run folder was written
    with pytest.raises(ConfigError, match=r"`seed` must be an integer from 0 to 4294967295 "
                                          r"\(2\*\*32 - 1\) or None \(null in YAML\), got "
                                          r"4294967296"):
        SearchSettings.from_options(seed=2**32)


def test_numpy_numbers_are_accepted_as_plain_ones_and_bools_are_not(tmp_path):
    # was: "`budget` must be a positive integer or null, got np.int64(3)" (a value read from
    # an array or a DataFrame); a resume must compare 3, not np.int64(3)
    import numpy as np

    from lightning_nas import Search
    from lightning_nas.store import RunStore

    numpy = {"budget": np.int64(3), "seed": np.int32(1), "keep_top_k": np.int64(2),
             "time_limit": np.float32(60.0), "max_failures": np.int64(2),
             "num_workers": np.int64(1), "threads_per_trial": np.int64(1),
             "max_params": np.float64(1e6)}
    flat = SearchSettings.from_options(**numpy, scheduler="asha", max_epochs=4,
                                       eta=np.int64(2)).flat()
    for key, value in {**numpy, "eta": 2}.items():
        assert flat[key] == value and type(flat[key]) is (
            float if isinstance(value, np.floating) else int), key
    json.dumps(flat)
    assert type(Goal(seed=np.uint8(7)).seed) is int
    for key, value in (("budget", True), ("seed", np.bool_(True)), ("time_limit", False),
                       ("keep_top_k", 2.0), ("budget", np.float64(3))):
        with pytest.raises(ConfigError, match=f"`{key}` must be"):
            SearchSettings.from_options(**{key: value})

    def objective(arch):
        return {"val_acc": arch["x"]}

    space = {"x": {"float": [0, 1]}}
    Search(None, space, objective=objective, run_dir=tmp_path, verbose=False,
           budget=np.int64(2), seed=np.int64(1)).run()
    with RunStore(tmp_path / "search.db") as store:
        stored = store.get_meta("settings")
    assert (stored["budget"], stored["seed"]) == (2, 1)
    # a resume with plain numbers is the same search (and one with NumPy's, too)
    assert len(Search(None, space, objective=objective, run_dir=tmp_path, verbose=False,
                      budget=3, seed=1).run().trials) == 3
    assert len(Search(None, space, objective=objective, run_dir=tmp_path, verbose=False,
                      budget=np.int64(3), seed=np.int64(1)).run().trials) == 3



def test_numpy_bools_are_accepted_for_the_flags_as_plain_bools():
    # was: "`verbose` must be True or False, got np.True_" (a flag read from an array),
    # while NumPy's numbers are taken for the numeric settings
    import numpy as np

    settings = SearchSettings.from_options(verbose=np.bool_(False), progress=np.bool_(True))
    assert settings.verbose is False and settings.progress is True
    flat = settings.flat()
    assert type(flat["verbose"]) is bool and type(flat["progress"]) is bool
    json.dumps(flat)
    with pytest.raises(ConfigError, match="`verbose` must be True or False"):
        SearchSettings.from_options(verbose=np.int64(1))

_NONE = "None (null in YAML)"


_SEED = "must be an integer from 0 to 4294967295 (2**32 - 1)"


def _python_search(**options):
    from lightning_nas.search.facade import Search
    from tests.helpers import BlobData, TinyNet

    return Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData(), run_dir="unused",
                  **options)


def _yaml_search(**block):
    from lightning_nas.search.from_config import search_from_config

    return search_from_config({"model": "tests.helpers.TinyNet", "data": "tests.helpers.BlobData",
                               "search": {"space": {"width": {"choice": [4, 8]}},
                                          "run_dir": "unused", **block}})


_SAID = [
    ({"budget": 0}, "`budget` must be a positive integer or {null}, got 0"),
    ({"time_limit": -1}, "`time_limit` must be a positive number or {null}, got -1"),
    ({"seed": -1}, f"`seed` {_SEED} or {{null}}, got -1"),
    ({"devices_per_trial": 0}, "`devices_per_trial` must be a positive integer or {null}, got 0"),
    ({"eta": 1, "scheduler": "asha"}, "`eta` must be an integer >= 2 or {null}, got 1"),
    ({"time_limit": float("inf")}, "`time_limit` must be a finite number of seconds, got inf; "
                                   "{null} is no time limit, beside a `budget`"),
    ({"objectives": {"val_acc": "max"}, "mode": "min"},
     "mode='min' disagrees with the first objective (val_acc: max), which is the monitor; "
     "leave monitor and mode out or set them to {null}, or list the objectives with the "
     "monitor first"),
]


@pytest.mark.parametrize(("options", "said"), _SAID)
@pytest.mark.parametrize("build", [SearchSettings.from_options, _python_search])
def test_from_python_a_setting_that_may_be_none_says_none(build, options, said):
    # was: "`budget` must be a positive integer or null, got 0" to Search(budget=0), YAML's
    # word to a caller from Python (the one-shot side says errors.PYTHON_NULL)
    with pytest.raises(ConfigError) as err:
        build(**options)
    assert str(err.value) == said.format(null=_NONE)


@pytest.mark.parametrize(("options", "said"), _SAID)
def test_from_a_config_a_setting_that_may_be_null_says_null(options, said):
    with pytest.raises(ConfigError) as err:
        _yaml_search(**options)
    assert str(err.value) == said.format(null="null")
    # and the word is the config's only while it is read: Python's again after
    with pytest.raises(ConfigError, match=re.escape(f"or {_NONE}, got 0")):
        SearchSettings.from_options(budget=0)


def _from_config(tmp_path: Path, **search: object) -> None:
    """A config's ``search:`` block with ``search`` read as ``lightning-nas search`` reads
    it (``search_from_config``); its settings' errors say a config's words."""
    from lightning_nas.search.from_config import search_from_config

    search_from_config({
        "model": {"class_path": "tests.helpers.TinyNet"},
        "data": {"class_path": "tests.helpers.BlobData"},
        "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1},
        "search": {"space": {"width": {"choice": [4, 8]}}, "budget": 1,
                   "run_dir": str(tmp_path / "run"), **search}})


@pytest.mark.parametrize(("options", "python", "config"), [
    ({"verbose": 3}, "`verbose` must be True or False, got 3",
     "`verbose` must be true or false, got 3"),
    ({"progress": "yes"}, "`progress` can be True, False, 'auto'; got 'yes'",
     "`progress` can be true, false, auto; got 'yes'"),
])
def test_a_flag_is_refused_in_the_words_of_its_caller(tmp_path, options, python, config):
    # was: "`verbose` must be true or false" (YAML's words) from Python too
    with pytest.raises(ConfigError) as info:
        SearchSettings.from_options(**options)
    assert str(info.value) == python
    with pytest.raises(ConfigError) as info:
        _from_config(tmp_path, **options)
    assert str(info.value) == config
    assert not (tmp_path / "run").exists()


def test_a_scheduler_setting_left_unused_is_cleared_in_the_words_of_its_caller(tmp_path):
    # was: "--search.min_epochs=null" (a command line's words) from Python too
    with pytest.raises(ConfigError) as info:
        SearchSettings.from_options(scheduler="median", eta=3)
    assert str(info.value).endswith("leave it out (eta=None), or use scheduler asha or "
                                    "hyperband"), info.value
    with pytest.raises(ConfigError) as info:
        SearchSettings.from_options(min_epochs=2, eta=3)
    assert str(info.value).endswith("leave them out (min_epochs=None, eta=None), or set a "
                                    "scheduler (asha or hyperband)"), info.value
    assert "--search" not in str(info.value) and "null" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        _from_config(tmp_path, scheduler="median", eta=3)
    assert str(info.value).endswith("leave it out (a file's: --search.eta=null), or use "
                                    "scheduler asha or hyperband"), info.value
    with pytest.raises(ConfigError) as info:
        _from_config(tmp_path, min_epochs=2, eta=3)
    assert str(info.value).endswith("leave them out (a file's, when the command line turns "
                                    "the scheduler off: --search.min_epochs=null "
                                    "--search.eta=null), or set a scheduler (asha or "
                                    "hyperband)"), info.value
    assert not (tmp_path / "run").exists()


def _thread_pool() -> object:
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(1)


def _process_pool() -> object:
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(1)  # (no process starts before its first submit)


def _workers() -> object:
    from lightning_nas.search.workers import ProcessExecutor

    return ProcessExecutor(2, accelerator="cpu")  # (no worker starts before a trial)


def _ray() -> object:
    pytest.importorskip("ray")
    from lightning_nas.search.ray_executor import RayExecutor

    return RayExecutor(2)  # (no cluster nor actor before its start)


def _inline() -> object:
    from lightning_nas.search.executor import InlineExecutor

    return InlineExecutor()


class _Submits:
    """An executor of another library (Dask's, submitit's): anything with submit."""

    def submit(self, fn, *args):
        raise AssertionError("nothing is submitted")


_THREADS = "threads_per_trial=2 sets the torch threads of the workers a search starts itself"
_DEVICES = "devices_per_trial=1 gives each worker a search starts itself its GPUs"
_RECYCLES = "max_trials_per_worker=3 recycles the worker processes a search starts itself"


@pytest.mark.parametrize(("executor", "options", "said"), [
    (_workers, {"threads_per_trial": 2},
     f"{_THREADS}, and executor is a ProcessExecutor object, made with its own: give it "
     f"there, ProcessExecutor(threads_per_trial=2), and drop threads_per_trial"),
    (_ray, {"threads_per_trial": 2},
     f"{_THREADS}, and executor is a RayExecutor object, made with its own: give it there, "
     f"RayExecutor(threads=2), and drop threads_per_trial"),
    (_inline, {"threads_per_trial": 2},
     f"{_THREADS}, and executor is an InlineExecutor object, made with its own: give it "
     f"there, InlineExecutor(threads=2), and drop threads_per_trial"),
    (_process_pool, {"threads_per_trial": 2},
     f"{_THREADS}, and executor is a ProcessPoolExecutor object, made with its own: give it "
     f"there, ProcessPoolExecutor(initializer=torch.set_num_threads, initargs=(2,)), and "
     f"drop threads_per_trial"),
    (_thread_pool, {"threads_per_trial": 2},
     f"{_THREADS}, and executor is a ThreadPoolExecutor object, which has no such setting: "
     f"its trials run in threads of this process, with this process's torch threads "
     f"(torch.set_num_threads(2) before the search); drop threads_per_trial"),
    (_Submits, {"threads_per_trial": 2},
     f"{_THREADS}, and executor is a _Submits object, which has no such setting: it starts "
     f"its workers its own way, so set them up there; drop threads_per_trial"),
    (_workers, {"devices_per_trial": 1, "max_trials_per_worker": 3},
     f"{_DEVICES}, and executor is a ProcessExecutor object, made with its own: give it "
     f"there, ProcessExecutor(devices_per_trial=1), and drop devices_per_trial; {_RECYCLES}, "
     f"and executor is a ProcessExecutor object, made with its own: give it there, "
     f"ProcessExecutor(max_trials_per_worker=3), and drop max_trials_per_worker"),
    (_ray, {"devices_per_trial": 1},
     f"{_DEVICES}, and executor is a RayExecutor object, made with its own: give it there, "
     f"RayExecutor(num_gpus=1), and drop devices_per_trial"),
    (_process_pool, {"max_trials_per_worker": 3},
     f"{_RECYCLES}, and executor is a ProcessPoolExecutor object, made with its own: give it "
     f"there, ProcessPoolExecutor(max_tasks_per_child=3) (Python 3.11+), and drop "
     f"max_trials_per_worker"),
], ids=["process-threads", "ray-threads", "inline-threads", "process_pool-threads",
        "thread_pool-threads", "other-threads", "process-devices-recycle", "ray-devices",
        "process_pool-recycle"])
def test_a_worker_setting_beside_an_executor_object_is_refused_naming_where_it_goes(
        executor, options, said, tmp_path):
    # an executor object was made with its own workers' settings: the search's were ignored
    # (threads_per_trial: without a word; devices_per_trial, max_trials_per_worker: refused
    # with "executor '<... object at 0x...>' with num_workers=2 starts none; use executor
    # 'process' or num_workers > 1"), now refused before the search is made
    from lightning_nas import Search
    from lightning_nas.search.executors import make_executor
    from tests.helpers import BlobData, TinyNet

    pool = executor()
    try:
        with pytest.raises(ConfigError) as info:
            Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, executor=pool,
                   num_workers=2, run_dir=tmp_path / "run", **options)
        assert str(info.value) == said
        with pytest.raises(ConfigError) as info:
            make_executor(pool, 2, **options)
        assert str(info.value) == said
        assert not (tmp_path / "run").exists()
        workers = getattr(pool, "num_workers", 2)  # (an InlineExecutor's: 1)
        assert Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, executor=pool,
                      num_workers=workers, run_dir=tmp_path / "run"
                      ).settings.execution.executor is pool  # alone, it is taken
    finally:
        if hasattr(pool, "shutdown"):
            pool.shutdown()


@pytest.mark.parametrize(("executor", "workers", "said"), [
    (_workers, 3, "num_workers=3 sets the trials a search runs at once, and executor is a "
                  "ProcessExecutor object, which runs 2 at once (its own num_workers): give "
                  "it there, ProcessExecutor(num_workers=3), and drop num_workers"),
    (_ray, 3, "num_workers=3 sets the trials a search runs at once, and executor is a "
              "RayExecutor object, which runs 2 at once (its own num_workers): give it "
              "there, RayExecutor(num_workers=3), and drop num_workers"),
    (_inline, 2, "num_workers=2 sets the trials a search runs at once, and executor is an "
                 "InlineExecutor object, which runs 1 at once (its own num_workers): it runs "
                 "one trial at a time, in this process; drop num_workers, or use executor "
                 "'process'"),
], ids=["process", "ray", "inline"])
def test_num_workers_other_than_an_executor_objects_own_is_refused(executor, workers, said,
                                                                   tmp_path):
    # was: ignored without a word, the object's own count ran (and, before, the header
    # said the search's num_workers)
    from lightning_nas import Search
    from tests.helpers import BlobData, TinyNet

    pool = executor()
    with pytest.raises(ConfigError) as info:
        Search(TinyNet, {"width": {"choice": [4, 8]}}, data=BlobData, executor=pool,
               num_workers=workers, run_dir=tmp_path / "run")
    assert str(info.value) == said
    assert not (tmp_path / "run").exists()

"""The devices and CPU threads each worker process of executor 'process'
(``ProcessExecutor``) gets (``assign_devices``)."""

from __future__ import annotations

import os
import re

import pytest

from lightning_nas.errors import ConfigError
from lightning_nas.search.workers import ProcessExecutor, assign_devices


def test_device_assignment():
    import torch

    assert assign_devices(2, accelerator="cpu", threads_per_trial=1) == [
        {"OMP_NUM_THREADS": "1", "LNAS_NUM_THREADS": "1"}] * 2
    count = torch.cuda.device_count()
    if not count:
        with pytest.raises(ConfigError, match="no GPU is visible"):
            assign_devices(2, accelerator="gpu")
        return
    # a machine with GPUs (was: this test asserted there is none, and failed on one): each
    # worker its own slice, and more workers than GPUs refused naming the count
    ids = os.environ.get("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(count))))
    assert [env["CUDA_VISIBLE_DEVICES"] for env in assign_devices(count, accelerator="gpu")] \
        == [i.strip() for i in ids.split(",") if i.strip()][:count]
    with pytest.raises(ConfigError, match=f"needs {count + 1} GPUs; {count} visible"):
        assign_devices(count + 1, accelerator="gpu")


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and two CPUs to run on")


def test_cpu_workers_share_the_cpus_the_search_may_run_on():
    # was: os.cpu_count(), every core of the machine, so a search confined to fewer
    # (taskset, a Slurm or container cpuset) gave each worker more threads than its cores
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        assert assign_devices(1, accelerator="cpu") == [
            {"OMP_NUM_THREADS": "1", "LNAS_NUM_THREADS": "1"}]
        assert ProcessExecutor(1, accelerator="cpu").cpu_threads == 1
    finally:
        os.sched_setaffinity(0, before)
    assert ProcessExecutor(1, accelerator="cpu").cpu_threads == len(before)


def test_cuda_visible_devices_without_a_gpu_gives_cpu_workers(monkeypatch):
    # was: the ids in CUDA_VISIBLE_DEVICES were taken for GPUs as they were, so on a machine
    # without one (the variable exported by a shell or a job script) a search with two
    # workers and accelerator auto was refused, "needs 2 GPUs; 1 visible (0)", and one
    # worker got the "GPU" and no CPU threads of its own
    import torch

    if torch.cuda.device_count():
        pytest.skip("needs a machine without a GPU")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert assign_devices(2, accelerator="auto", threads_per_trial=1) == [
        {"OMP_NUM_THREADS": "1", "LNAS_NUM_THREADS": "1"}] * 2
    assert ProcessExecutor(1, accelerator="auto").cpu_threads is not None
    with pytest.raises(ConfigError, match="no GPU is visible"):
        assign_devices(1, accelerator="gpu")


def test_gpu_workers_without_a_gpu_are_refused_naming_the_setting_and_the_fix(monkeypatch):
    # was: "accelerator='gpu' but no GPU is visible": neither the setting's name nor what
    # to do instead
    import torch

    if torch.cuda.device_count():
        pytest.skip("needs a machine without a GPU")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with pytest.raises(ConfigError, match=r"^trainer\.accelerator='gpu' but no GPU is visible "
                                          r'.*: train on CPU \(trainer=\{"accelerator": "cpu"\}'):
        assign_devices(2, accelerator="gpu")


def test_an_accelerator_object_is_taken_as_its_name_by_the_workers(monkeypatch):
    # Lightning's Trainer takes an Accelerator object as well as a name, and one worker (in
    # the search's process) trains with it: two worker processes got it too (was:
    # AttributeError: 'CPUAccelerator' object has no attribute 'lower', out of Search.run)
    import torch
    from lightning.pytorch.accelerators import CPUAccelerator, CUDAAccelerator

    from lightning_nas.search.executors import make_executor

    assert assign_devices(2, accelerator=CPUAccelerator(), threads_per_trial=1) == [
        {"OMP_NUM_THREADS": "1", "LNAS_NUM_THREADS": "1"}] * 2
    pool = make_executor("process", 2, {"accelerator": CPUAccelerator()}, threads_per_trial=1)
    assert (type(pool), pool.cpu_threads) == (ProcessExecutor, 1)
    if torch.cuda.device_count():
        return
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with pytest.raises(ConfigError, match=r"^trainer\.accelerator='cuda' but no GPU is visible"):
        assign_devices(2, accelerator=CUDAAccelerator())


def _score(arch: dict) -> dict:
    """An objective of no training: a worker process runs it."""
    return {"score": float(arch["width"])}


def test_more_cpu_workers_than_cores_are_warned_of_once_before_the_first_trial(tmp_path):
    import warnings

    from lightning_nas import Search
    from lightning_nas.search.workers import usable_cpus

    cores = usable_cpus()
    # was: accepted without a word, the trials then sharing the cores, each slower
    said = (rf"search\.num_workers={cores + 1} runs {cores + 1} trials at once on CPU, but "
            rf"this process may use {cores} CPU cores?")
    with ProcessExecutor(cores + 1, accelerator="cpu") as pool, pytest.warns(
            UserWarning, match=said):
        pool.start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ProcessExecutor(cores, accelerator="cpu") as pool:
            pool.start()  # as many workers as cores: nothing said
        search = Search(None, {"width": {"choice": [4, 8]}}, objective=_score, monitor="score",
                        mode="max", budget=2, run_dir=tmp_path, executor="process",
                        num_workers=cores + 1, trainer={"accelerator": "cpu"}, verbose=False)
        assert not [w for w in caught if "num_workers" in str(w.message)]  # not yet
        search.run()
    warned = [str(w.message) for w in caught if "num_workers" in str(w.message)]
    assert len(warned) == 1 and re.match(said, warned[0]), warned  # once, by its run

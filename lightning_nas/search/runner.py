"""Run a trial in its own process: ``python -m lightning_nas.search.runner TRIAL_DIR/spec.pkl``.

A trial whose Trainer uses several processes (``strategy="ddp"``, ``devices=2``, several
nodes) must not run inside the search driver or a worker: Lightning's launcher re-executes
the *current command* once per rank. Started through this entry point, the command it
re-executes is this one, so every rank reads the same spec (the same architecture, chosen
by the driver), trains, and rank 0 writes ``result.json``; the driver is never re-run.

Example:
    >>> needs_own_process({"accelerator": "cpu", "devices": 2, "strategy": "ddp"})
    True
    >>> needs_own_process({"max_epochs": 3})
    False
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.trial import TrialSpec, fit_trial

__all__ = ["check_strategy", "run_trial", "needs_own_process", "run_in_own_process"]

_SPAWNING = ("ddp_spawn", "ddp_fork", "ddp_notebook", "fsdp_spawn")
_LOG_TAIL = 3000


def _device_count(devices: Any) -> int:
    if isinstance(devices, (list, tuple)):
        return len(devices)
    if isinstance(devices, str):
        text = devices.strip()
        if text in ("auto", "-1"):
            return -1
        return len([d for d in text.split(",") if d.strip()]) if "," in text else int(text)
    return -1 if devices == -1 else int(devices)


def needs_own_process(trainer: Mapping[str, Any]) -> bool:
    """Whether these Trainer settings start more than one process per trial."""
    if int(trainer.get("num_nodes", 1)) > 1:
        return True
    devices = _device_count(trainer.get("devices", "auto"))
    if devices == -1:  # every visible device: several only on a multi-GPU machine
        accelerator = str(trainer.get("accelerator", "auto"))
        if accelerator in ("cpu",):
            return False
        try:
            import torch

            return torch.cuda.device_count() > 1
        except Exception:  # noqa: BLE001 - no usable CUDA: one device
            return False
    return devices > 1


def check_strategy(trainer: Mapping[str, Any]) -> None:
    """Reject strategies that fork/spawn from inside ``fit`` (their ranks' callbacks do not
    come back to the trial); ``ddp`` does the same job through a clean process per rank."""
    strategy = trainer.get("strategy")
    if isinstance(strategy, str) and strategy in _SPAWNING:
        raise ConfigError(f"strategy {strategy!r} is not supported for trials; use "
                          f"strategy='ddp' (lightning_nas runs each multi-process trial in its "
                          f"own process, so the launcher re-runs the trial, not the search)")


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_in_own_process(spec: TrialSpec) -> TrialResult:
    """Run ``spec`` through ``python -m lightning_nas.search.runner`` and wait for it.

    Any rank that is still alive when rank 0 ends is killed with its process group. A
    process that dies without a result gives a FAILED result with its exit code and the
    end of its output (``trial.log`` in the trial folder).
    """
    trial_dir = Path(spec.trial_dir)
    if spec.clear_dir and trial_dir.exists():  # a promotion keeps its folder (last.ckpt)
        shutil.rmtree(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    (trial_dir / "result.json").unlink(missing_ok=True)  # a promotion's earlier segment
    spec_path = trial_dir / "spec.pkl"
    spec_path.write_bytes(pickle.dumps(spec))
    started = time.time()
    env = dict(os.environ)
    # the trial imports the user's model as the caller does (the CLI adds the current folder)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.getcwd(), *sys.path] if p)
    for key in ("LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)  # a fresh group of ranks, not the caller's
    with open(trial_dir / "trial.log", "wb") as log:
        command = [sys.executable, "-m", "lightning_nas.search.runner", str(spec_path)]
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        try:
            code = proc.wait()
        finally:
            _kill_group(proc)
    result_path = trial_dir / "result.json"
    if result_path.exists():
        data = json.loads(result_path.read_text())
        data["status"] = TrialStatus(data["status"])
        data["started"] = started  # the trial's time includes starting its processes
        return TrialResult(**data)
    tail = (trial_dir / "trial.log").read_text(errors="replace")[-_LOG_TAIL:]
    return TrialResult(trial_id=spec.trial_id, arch=dict(spec.arch), status=TrialStatus.FAILED,
                       started=started, finished=time.time(),
                       error=f"trial process died ({describe_exit(code)}) before reporting a "
                             f"result; end of {trial_dir / 'trial.log'}:\n{tail}")


def describe_exit(code: int | None) -> str:
    """``exit code 3`` or ``killed by SIGKILL (out of memory?)``."""
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"killed by {name}{hint}"
    return f"exit code {code}"


def run_trial(spec: TrialSpec) -> TrialResult:
    """Run a trial here, or in its own process when its Trainer starts several processes.

    This is the function executors and workers call for every trial.
    """
    if needs_own_process(spec.trainer):
        return run_in_own_process(spec)
    return fit_trial(spec)


def _main(spec_path: str) -> int:
    spec: TrialSpec = pickle.loads(Path(spec_path).read_bytes())
    spec.clear_dir = False  # the caller prepared the folder; ranks > 0 must not wipe it
    result = fit_trial(spec)
    if int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0:
        out = Path(spec.trial_dir) / "result.json"
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(result.to_dict()))
        os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))

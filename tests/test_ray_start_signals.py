"""A SIGTERM as a Ray search starts: ``lightning-nas search`` with a local Ray it starts
itself, stopped while it waits for its first actor (Ray's start check), exits as a SIGTERM
anywhere else does, and leaves no Ray process behind. (SIGTERM and Ctrl-C in the trials:
``test_search_signals``; a Ray search killed mid-trial: ``test_ray_resume``.)"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import TINY_TRAINER
from tests.helpers_ray import NO_PRESTART, SPACE, ray_folder
from tests.launcher import Launcher

pytest.importorskip("ray")

#: a model whose module, imported in a Ray worker (the first actor unpickling the search's
#: probe), notes it in ``{folder}`` and holds there: the search waits for its first actor
HELD_MODULE = '''
import os
import time
from pathlib import Path

import ray

from tests.helpers_models import TinyNet

if ray.is_initialized():  # a Ray worker (the search's process imports it before ray.init)
    Path({folder!r}, f"importing.{{os.getpid()}}").touch()
    time.sleep(120)


class HeldNet(TinyNet):
    pass
'''


def _ray_processes(folder: str) -> list[str]:
    """The command lines of this machine's processes of a Ray whose temp folder is
    ``folder`` (its GCS server, raylet, workers: each names its session folder there)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if folder in cmd:
            found.append(cmd[:200])
    return found


@pytest.mark.slow  # a local Ray, started by a search process of its own: about 7 s of CPU
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")
def test_sigterm_as_a_ray_search_waits_for_its_first_actor_exits_143_with_one_line(
        tmp_path, launcher: Launcher, monkeypatch):
    # was: Ray's "*** SIGTERM received at time=... ***" dump and exit code 1 here (134 from
    # `python -m lightning_nas`, which then aborts as it exits): ray.init puts a C++ handler
    # of Ray's (a dump) beneath Python's, with a Python one of its own (sys.exit(15), which
    # Ray's wait turns into exit(1)), and the search's own handler was set only in its loop
    held = tmp_path / "held"
    held.mkdir()
    (tmp_path / "lnas_held_net.py").write_text(HELD_MODULE.format(folder=str(held)))
    run = tmp_path / "run"
    cfg = tmp_path / "search.yaml"
    cfg.write_text(yaml.safe_dump({
        "model": {"class_path": "lnas_held_net.HeldNet"},
        "data": {"class_path": "tests.helpers.BlobData"},
        "trainer": {**TINY_TRAINER, "enable_progress_bar": False},
        "search": {"space": SPACE, "budget": 1, "run_dir": str(run), "progress": False,
                   "executor": "ray", "num_workers": 1,
                   "ray": {"num_cpus": 1, "include_dashboard": False}}}))
    log = tmp_path / "search.log"
    with ray_folder(monkeypatch) as ray_tmp:  # the test's own: its Ray's processes name it
        env = {"RAY_TMPDIR": ray_tmp, "RAY_USAGE_STATS_ENABLED": "0", **NO_PRESTART}
        _sigterm_when_held(launcher, cfg, log, env, held)
        code = launcher.wait(120)
        said = log.read_text()
        assert code == 143, said[-3000:]
        # one line of its own after Ray's start (no dump of Ray's, no traceback)
        assert said.split("Started a local Ray instance.", 1)[1].strip().splitlines() == [
            "lightning-nas search: interrupted (SIGTERM)"], said[-3000:]
        assert not run.exists()  # nothing written: a fresh start is a start
        deadline = time.monotonic() + 60
        while left := _ray_processes(ray_tmp):  # the Ray it started is shut down
            assert time.monotonic() < deadline, left
            time.sleep(0.1)


def _sigterm_when_held(launcher: Launcher, cfg: Path, log: Path, env: dict[str, str],
                       held: Path) -> None:
    """Launch the search of ``cfg`` in its folder, and SIGTERM it once a process noted in
    ``held`` that it holds (``HELD_MODULE``)."""
    launcher.launch(["search", cfg], log, cwd=cfg.parent, env=env)
    deadline = time.monotonic() + 120
    while not any(held.iterdir()):  # its first actor is starting: the search waits for it
        assert launcher.exited() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.05)
    signal.pidfd_send_signal(launcher.pidfd, signal.SIGTERM)

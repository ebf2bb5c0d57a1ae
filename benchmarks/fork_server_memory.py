"""What freezing the fork server's heap (``gc.freeze`` after its imports,
``lightning_nas.search.server_frozen``) changes: the server's exit, a worker's own memory
after a trial, and a worker's start.

Each round runs, in a fresh process per side (``--one SIDE``), one ``ProcessExecutor`` of two
workers forked from multiprocessing's fork server (torch's one thread each): *old*'s server
imports ``worker_start.PRELOAD`` without ``server_frozen`` (its heap not frozen), *new*'s
with it, last. Worker A runs one tiny trial (the digits example, one epoch of two batches);
then worker B is started while A idles; then the pool is closed and the server stopped.
Rounds alternate which side runs first.

Figures per side:

- ``exit_s``: seconds from closing the server's "alive" pipe to its exit reaped
  (multiprocessing's ``_stop``: the interpreter's finalization, where the collector's last
  walk of the heap runs unless it is frozen);
- ``worker_dirty_mib``: worker A's ``Private_Dirty`` (``/proc/PID/smaps_rollup``) after its
  trial: the pages it no longer shares with the server (copy-on-write);
- ``worker_rss_mib``: worker A's ``VmRSS`` then (shared pages included);
- ``start_s``: seconds from worker B's start (A alive, the server warm) to its READY;
- ``server_dirty_mib``: the server's ``Private_Dirty`` with its two workers alive (the
  pages they share with it are counted as shared, not its own);
- ``server_idle_dirty_mib`` and ``server_rss_mib``: its ``Private_Dirty`` and ``VmRSS`` once
  the pool is closed (no worker alive), the memory it holds for the life of the process.

Run:  python benchmarks/fork_server_memory.py [--rounds 5]
Quick check:  python benchmarks/fork_server_memory.py --quick   (1 round)
Every figure is printed as ``median [min, max]  mean ± std (n)``; the last line is JSON
with ``<side>_<figure>`` medians, each with ``<name>_spread``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.spread import (  # noqa: E402
    alternating_rounds,
    check_arguments,
    quick_defaults,
    run_json,
)
from lightning_nas.search.rank_zygote import NO_ZYGOTE  # noqa: E402

__all__ = ["main", "one_side", "proc_mib"]

FROZEN = "lightning_nas.search.server_frozen"
FIGURES = ("exit_s", "worker_dirty_mib", "worker_rss_mib", "start_s", "server_dirty_mib",
           "server_idle_dirty_mib", "server_rss_mib")
TRAINER = {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 2,
           "accelerator": "cpu", "logger": False, "enable_checkpointing": False,
           "enable_progress_bar": False, "enable_model_summary": False}


def proc_mib(pid: int, field: str) -> float:
    """A field of kB in ``/proc/PID/smaps_rollup`` (``Private_Dirty``, ``Pss``) or
    ``/proc/PID/status`` (``VmRSS``), in MiB.

    Example:
        >>> proc_mib(os.getpid(), "VmRSS") > 0
        True
    """
    name = "status" if field.startswith("Vm") else "smaps_rollup"
    for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise KeyError(f"{field} not in /proc/{pid}/{name}")


def one_side(side: str, root: Path) -> dict[str, float]:
    """In this process: the side's fork server, two workers, one trial; the figures of
    the module's docstring."""
    import torch

    torch.set_num_threads(1)
    from multiprocessing import forkserver

    from examples.digits.data import DigitsDataModule
    from examples.digits.model import DigitsCNN
    from lightning_nas.search import worker_start
    from lightning_nas.search.trial_spec import TrialSpec
    from lightning_nas.search.worker_entry import READY
    from lightning_nas.search.workers import ProcessExecutor

    plain = tuple(m for m in worker_start.PRELOAD if m != FROZEN)
    worker_start.PRELOAD = plain + ((FROZEN,) if side == "new" else ())
    spec = TrialSpec(trial_id=1, arch={"width": 8, "num_layers": 2},
                     trial_dir=str(root / "t1"), model=DigitsCNN, data=DigitsDataModule,
                     trainer=TRAINER)
    got: dict[str, float] = {}
    with ProcessExecutor(2, accelerator="cpu", threads_per_trial=1) as pool:
        pool.submit(spec)
        result = pool.wait()[0]
        assert result.status.name == "COMPLETED", result.error
        worker = pool.pids()[0]
        got["worker_dirty_mib"] = proc_mib(worker, "Private_Dirty")
        got["worker_rss_mib"] = proc_mib(worker, "VmRSS")
        t0 = time.perf_counter()
        pool.start(2)
        conn = pool._workers[1].conn  # noqa: SLF001 - worker B's pipe: its READY
        assert conn.poll(300) and conn.recv() == READY
        got["start_s"] = time.perf_counter() - t0
        server = forkserver._forkserver  # noqa: SLF001 - its pid and _stop: measured here
        got["server_dirty_mib"] = proc_mib(server._forkserver_pid, "Private_Dirty")  # noqa: SLF001
    pid = server._forkserver_pid  # noqa: SLF001
    got["server_idle_dirty_mib"] = proc_mib(pid, "Private_Dirty")
    got["server_rss_mib"] = proc_mib(pid, "VmRSS")
    t0 = time.perf_counter()
    server._stop()  # noqa: SLF001 - closes its alive pipe, reaps it
    got["exit_s"] = time.perf_counter() - t0
    return got


def _run_side(side: str, root: Path) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop(NO_ZYGOTE, None)
    return run_json([sys.executable, __file__, "--one", side, str(root)], env, f"the {side} side")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 round")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # a side's process
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_side(args.one[0], Path(args.one[1]))))
        return {}
    check_arguments(parser, args, {"--rounds": 1})
    quick_defaults(parser, args, argv, {"rounds": 1})
    return alternating_rounds(args.rounds, _run_side)


if __name__ == "__main__":
    main()

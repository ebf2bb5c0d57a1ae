"""The first code a worker process runs: tie its life to the search process, then import
the training stack and serve trials; a Ctrl-C before it is ready is the search process's.

It lives apart from ``workers`` so that a spawned worker imports nothing heavy before it
asks the kernel to kill it with its parent (``PR_SET_PDEATHSIG``): importing torch and
Lightning takes seconds, and a search killed in that window must not leave a worker behind
that trains the spec already waiting in its pipe.

Example:
    >>> from lightning_nas.search import workers
    >>> workers.worker_main is worker_main  # what each ProcessExecutor worker runs
    True
"""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback
from multiprocessing.connection import Connection

from lightning_nas.search.exit_gc import freeze_for_exit
from lightning_nas.search.lifetime import ctrl_c_ignored, die_with_parent, parent_alive

__all__ = ["READY", "worker_main"]

#: a worker's first message: it started (a worker that dies before it never ran a trial)
READY = "lightning-nas-worker-ready"


def worker_main(conn: Connection, parent_pid: int, start_method: str | None = None) -> None:
    """A worker's loop: receive a spec, run it, send the result; ``None`` ends it.

    ``start_method`` is the search process's multiprocessing start method (None: the
    platform's default), which the worker takes back: a spawned process's children are
    spawned too, so a trial's DataLoader workers were spawned here while the search's own
    process and a plain Lightning fit fork them (a dataset holding a lambda failed every
    trial, and each loader re-imported torch at every epoch).

    Until its imports are done a Ctrl-C is left to the search process, which ends the
    worker (it was started with SIGINT held back: ``lifetime.sigint_held``); after, it
    ends the worker quietly, mid-trial as Lightning does.
    """
    with ctrl_c_ignored():  # (was: a KeyboardInterrupt traceback of its imports)
        die_with_parent()
        if not parent_alive(parent_pid):  # the search died before the death signal was set
            os._exit(0)
        try:
            conn.send(READY)
        except OSError:  # BrokenPipeError: the pool was shut down before this worker started
            return
        mp.set_start_method(start_method, force=True)  # (None: the platform's default)
        threads = os.environ.get("LNAS_NUM_THREADS")
        import torch

        if threads:
            torch.set_num_threads(int(threads))
        from lightning_nas.search.executor import failed_result
        from lightning_nas.search.ranks import close_rank_groups
        from lightning_nas.search.runner import run_trial

    while True:
        try:
            spec = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if spec is None:  # asked to end: no walk of the heap at its exit (``exit_gc``)
            close_rank_groups()
            freeze_for_exit()
            return
        try:
            result = run_trial(spec)
        except KeyboardInterrupt:  # Ctrl-C reaches the workers too: end as Lightning did
            raise SystemExit(1) from None  # (no traceback from each worker)
        except Exception:  # noqa: BLE001 - report, keep the worker alive
            result = failed_result(spec, f"worker error: {traceback.format_exc(limit=-6)}")
        conn.send(result)

"""What starting ``ProcessExecutor`` workers costs: forked warm from the fork server, against
spawned cold.

Each round runs, in a fresh process per side (``--one SIDE``), a search of two tiny trials on
two workers (the digits example, one epoch of two batches, one torch thread per worker):
*new* forks the workers from multiprocessing's fork server, which imports torch and
Lightning once (``lightning_nas.search.worker_start``); *old* sets
``LIGHTNING_NAS_NO_ZYGOTE=1``, so each worker is spawned and imports them itself (what every
worker did before). Both sides start from no worker and no server, so *new* pays the
server's import once per round. Rounds alternate which side runs first.

Figures per side: ``wall`` (seconds from the pool's creation to its shutdown, the server's
end included) and ``cpu`` (CPU-seconds of the workers and the server: the side's process's
children, reaped; the driver's own imports, alike on both sides, are left out).

Run:  python benchmarks/worker_start.py [--rounds 5]
Quick check:  python benchmarks/worker_start.py --quick   (1 round)
Every figure is printed as ``median [min, max]  mean ± std (n)``; the last line is JSON
with ``old_wall``, ``new_wall``, ``old_cpu``, ``new_cpu`` (medians), each with
``<name>_spread``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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

__all__ = ["main", "one_side"]

MODEL = "examples.digits.model.DigitsCNN"
DATA = "examples.digits.data.DigitsDataModule"
SPACE = {"width": {"choice": [8, 16]}, "num_layers": {"choice": [2]}}
TRAINER = {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 2,
           "accelerator": "cpu", "logger": False, "enable_checkpointing": False,
           "enable_progress_bar": False, "enable_model_summary": False}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_side(root: Path) -> dict[str, float]:
    """In this process: two workers, one tiny trial each; ``wall`` and ``cpu`` (see the
    module's docstring)."""
    import torch

    from lightning_nas import Search
    from lightning_nas.search.workers import ProcessExecutor

    torch.set_num_threads(1)
    cpu0, t0 = _children_cpu(), time.perf_counter()
    with ProcessExecutor(2, accelerator="cpu", threads_per_trial=1) as pool:
        result = Search(MODEL, SPACE, data=DATA, trainer=TRAINER, budget=2, executor=pool,
                        num_workers=2, run_dir=root, optimizer="RandomSearch", seed=0,
                        verbose=False).run()
    from multiprocessing import forkserver

    server = forkserver._forkserver  # noqa: SLF001 - reaped here, so its CPU is counted
    if server._forkserver_pid is not None:  # noqa: SLF001
        server._stop()  # noqa: SLF001
    done = [t for t in result.trials if t.status.name == "COMPLETED"]
    assert len(done) == 2, [t.error for t in result.trials]
    return {"wall": time.perf_counter() - t0, "cpu": _children_cpu() - cpu0}


def _run_side(side: str, root: Path) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    env.pop(NO_ZYGOTE, None)
    if side == "old":
        env[NO_ZYGOTE] = "1"
    return run_json([sys.executable, __file__, "--one", str(root)], env, f"the {side} side")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 round")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a side's process: its run folder
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_side(Path(args.one))))
        return {}
    check_arguments(parser, args, {"--rounds": 1})
    quick_defaults(parser, args, argv, {"rounds": 1})
    return alternating_rounds(args.rounds, _run_side)


if __name__ == "__main__":
    main()

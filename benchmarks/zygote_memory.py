"""The memory a rank zygote (``lightning_nas.search.rank_zygote``) holds: idle, as a search
leaves it for the life of its process, and with a rank forked from it alive.

Each round starts, in a fresh process (``--one``), a zygote with the environment a group's
ranks get (``child_env()``, one torch thread), waits for its import of torch and Lightning,
and reads from Linux's ``/proc``:

- ``idle_rss_mib`` and ``idle_dirty_mib``: the idle zygote's ``VmRSS`` (``/proc/PID/status``:
  resident, the libraries' shared file pages included) and ``Private_Dirty``
  (``/proc/PID/smaps_rollup``: the pages no other process shares, its own);
- ``rank_dirty_mib``: its ``Private_Dirty`` with one rank forked from it alive (idle, before
  any trial): the pages the rank shares with it are no longer counted as its own;
- ``rank_own_dirty_mib``: that rank's own ``Private_Dirty``;
- ``close_s``: seconds the zygote's ``close`` takes (it is killed: no exit of its own).

Run:  python benchmarks/zygote_memory.py [--rounds 5]
Quick check:  python benchmarks/zygote_memory.py --quick   (1 round)
Every figure is printed as ``median [min, max]  mean ± std (n)``; the last line is JSON
with each figure's median and ``<name>_spread``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fork_server_memory import proc_mib  # noqa: E402
from benchmarks.spread import (  # noqa: E402
    check_arguments,
    quick_defaults,
    report_figures,
    run_json,
)
from lightning_nas.search.rank_zygote import NO_ZYGOTE  # noqa: E402

__all__ = ["main", "one_round"]

FIGURES = ("idle_rss_mib", "idle_dirty_mib", "rank_dirty_mib", "rank_own_dirty_mib",
           "close_s")


def one_round(root: Path) -> dict[str, float]:
    """In this process: a zygote, idle then with one rank alive; the figures of the
    module's docstring."""
    from lightning_nas.search.lifetime import child_env
    from lightning_nas.search.rank_zygote import zygote_for

    zygote = zygote_for(child_env())
    assert zygote is not None, "no zygote started"
    pid, got = zygote.proc.pid, {}
    time.sleep(1.0)  # its loop settled, asleep in select
    got["idle_rss_mib"] = proc_mib(pid, "VmRSS")
    got["idle_dirty_mib"] = proc_mib(pid, "Private_Dirty")
    with open(root / "rank.log", "wb") as log:
        rank = zygote.start({**child_env(), "RANK": "0"}, log)
    time.sleep(1.0)
    got["rank_dirty_mib"] = proc_mib(pid, "Private_Dirty")
    got["rank_own_dirty_mib"] = proc_mib(rank.pid, "Private_Dirty")
    rank.stdin.close()  # its loop ends: it exits
    assert rank.wait(60) == 0
    t0 = time.perf_counter()
    zygote.close()
    got["close_s"] = time.perf_counter() - t0
    return got


def _run_round(root: Path) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop(NO_ZYGOTE, None)
    return run_json([sys.executable, __file__, "--one", str(root)], env, "the round")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 round")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a round's process: its folder
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_round(Path(args.one))))
        return {}
    check_arguments(parser, args, {"--rounds": 1})
    quick_defaults(parser, args, argv, {"rounds": 1})
    figures: dict[str, list[float]] = {k: [] for k in FIGURES}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            got = _run_round(Path(tmp))
            for key, value in got.items():
                figures[key].append(value)
            print(f"round {r}: " + ", ".join(f"{k} {v:.2f}" for k, v in got.items()),
                  flush=True)
    return report_figures(figures)


if __name__ == "__main__":
    main()

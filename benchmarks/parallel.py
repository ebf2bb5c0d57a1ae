"""Parallel trials: the same CPU-bound digits trials with 1 and with 2 worker processes,
one torch thread per worker, in one run; then the driver's memory over many tiny trials.

Workers are long-lived: each pool is started (torch and Lightning imported) before its
search is timed, as a pool is reused across trials; the cold figures include that start.
Workers fork from the process's fork server, which imports torch and Lightning once and is
kept for every later pool of the process: an untimed warm-up (``warm_up``: a 1-worker pool,
one tiny trial) starts it before the first round, so every cold figure, on both sides, is a
pool forked from a running server (was: round 0's first side, 1 worker, started the server
inside its cold wall, several seconds that no other pool paid).
``--rounds`` rounds (default 5) each time both searches (1 worker first in even rounds, 2
workers first in odd ones) and then the driver's RSS over ``--rss_trials`` tiny trials; every
figure is computed per round and printed as ``median [min, max]  mean ± std (n)``.
Each round checks that both searches trained the same trials (``same_trials``: the same
architectures in the order proposed, to the same scores; every trial is seeded and runs one
torch thread, so they score alike to the last bit, whichever worker runs them), prints it,
and else stops the run naming the first trial that differs (was: the architectures alone,
sorted): a comparison of other work is void.

Two denominators for the 2-worker wall time:

- ``overhead_2_workers`` = wall(2 workers) / (Σfit(2 workers) / 2): against the fit time
  the two workers measured themselves, which grows when they contend for the two cores and
  memory bandwidth (so it hides that contention);
- ``overhead_2_workers_uncontended`` = wall(2 workers) / (Σfit(1 worker) / 2): against the
  same trials' fit time measured without contention (one worker), i.e. the ideal 2-worker
  wall; ``speedup_2_workers`` = 2 × ``overhead_1_worker`` / this figure.

A fit time is a wall clock: on a busy machine it holds the worker's waits for a core, on
one side more than on the other as the load comes and goes (a run gave 13.3-17.7 s of fit
with one worker against 12.3-15.7 s with two, the same trials: ``fit_growth_2_workers``
0.944 and ``speedup_2_workers`` 2.1, more than two workers can give). The workers' time on
a core and their waits for one (``core_times``, from Linux's ``/proc``) tell the work from
the waits:

- ``cpu_growth_2_workers`` = Σcpu(2 workers) / Σcpu(1 worker) over the timed searches: the
  same work, so near 1 (above it by the two workers' contention for caches and memory
  bandwidth, which ``fit_growth_2_workers`` counts too);
- ``waited_share_1_worker`` and ``waited_share_2_workers`` = the workers' waits for a core /
  (their time on one + those waits): near 0 on idle cores (two workers a little above: the
  driver's work between trials takes a core from one); a round with a larger share ran on
  a busy machine, and its fit and wall figures hold that load, not the benchmark's.

Run:  python benchmarks/parallel.py [--trials 16] [--epochs 4] [--rounds 5] [--rss_trials 50]
Quick check:  python benchmarks/parallel.py --quick   (2 trials, 1 epoch, 1 round, 6 RSS trials)
Last line: JSON with ``speedup_2_workers`` (wall 1 worker / wall 2 workers),
``overhead_2_workers``, ``overhead_2_workers_uncontended``, ``fit_growth_2_workers``,
``cpu_growth_2_workers``, the two ``waited_share_*`` and ``rss_growth`` (driver RSS after
``--rss_trials`` tiny trials / after 5), medians over the rounds, each with
``<name>_spread``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.spread import (  # noqa: E402
    check_arguments,
    describe,
    quick_defaults,
    same_trials,
    spread,
)
from lightning_nas import Search, SearchSpace  # noqa: E402
from lightning_nas.search.workers import ProcessExecutor  # noqa: E402

MODEL = "examples.digits.model.DigitsCNN"
DATA = "examples.digits.data.DigitsDataModule"
SPACE = SearchSpace.from_yaml("""
kernel_size: {choice: [3, 5]}
stride: {choice: [1, 2]}
pool_size: {choice: [2, 3]}
num_layers: {choice: [2, 3]}
activation: {choice: [relu, sigmoid]}
width: {int: [24, 48]}
lr: {float: [3.0e-3, 3.0e-2], log: true}
""")


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def core_times(pids: list[int]) -> tuple[float, float]:
    """Seconds the processes ``pids`` (every thread of each) have run on a core and have
    waited for one while ready to run, from Linux's ``/proc/<pid>/task/<tid>/schedstat``;
    ``(nan, nan)`` where it cannot be read (not Linux, a process gone). A thread that ended
    between two reads drops out of the later one: a worker trains on its main thread.

    Example:
        >>> import os
        >>> ran, waited = core_times([os.getpid()])
        >>> ran > 0 and waited >= 0
        True
    """
    ran = waited = 0
    try:
        for pid in pids:
            for task in Path(f"/proc/{pid}/task").iterdir():
                fields = (task / "schedstat").read_text().split()
                ran, waited = ran + int(fields[0]), waited + int(fields[1])
    except (OSError, IndexError, ValueError):
        return float("nan"), float("nan")
    return ran / 1e9, waited / 1e9


def timed_search(workers: int, trials: int, epochs: int, root: Path,
                 keep_pool: bool = False) -> dict[str, Any]:
    """Start a pool of ``workers``, warm it, then time a search of ``trials`` trials:
    ``wall`` (warm pool), ``cold_wall`` (pool start included), ``fit`` (sum of the trials'
    fit times), ``cpu`` and ``waited`` (the workers' seconds on a core and waiting for
    one while ready to run, ``core_times``, over the timed search: work apart from a busy
    machine's waits) and its ``trials`` as ``(arch, score)`` in the order proposed; with
    ``keep_pool`` the still running pool is ``pool`` (the caller shuts it down), else it is
    shut down."""
    t0 = time.perf_counter()
    pool = ProcessExecutor(workers, accelerator="cpu", threads_per_trial=1)
    pool.start(workers)
    # a first tiny trial per worker makes sure every worker has imported everything
    Search(MODEL, SPACE, data=DATA, trainer={"max_epochs": 1, "limit_train_batches": 1,
                                             "accelerator": "cpu"},
           budget=workers, executor=pool, num_workers=workers, run_dir=root / "warm",
           optimizer="RandomSearch", seed=99, verbose=False).run()
    workers_started = pool.pids()
    ran, waited = core_times(workers_started)
    ready = time.perf_counter()
    result = Search(MODEL, SPACE, data=DATA, trainer={"max_epochs": epochs,
                                                      "accelerator": "cpu"},
                    budget=trials, executor=pool, num_workers=workers, run_dir=root / "run",
                    optimizer="RandomSearch", seed=0, verbose=False).run()
    end = time.perf_counter()
    ran_after, waited_after = core_times(workers_started)
    if not keep_pool:
        pool.shutdown()
    fit = sum(t.fit_time or 0.0 for t in result.trials)
    trials = [(t.arch, t.score) for t in sorted(result.trials, key=lambda t: t.trial_id)]
    return {"wall": end - ready, "cold_wall": end - t0, "fit": fit, "trials": trials,
            "cpu": ran_after - ran, "waited": waited_after - waited,
            "pool": pool if keep_pool else None}


def warm_up(root: Path) -> None:
    """Untimed, before the rounds: a 1-worker pool started and one tiny trial run on it, so
    that the process's fork server (started with the first pool, kept for the later ones)
    and its imports are up before either side's cold wall starts."""
    timed_search(1, 1, 1, root)


def rss_over_trials(root: Path, trials: int = 50, seed: int = 1,
                    pool: ProcessExecutor | None = None) -> tuple[float, float]:
    """The driver's RSS (MiB) after the 5th and after the last of ``trials`` tiny trials on
    2 workers (``pool``, a started 2-worker ``ProcessExecutor``, else a new pool)."""
    marks: dict[int, float] = {}

    def record(result: Any) -> None:
        marks[len(marks) + 1] = rss_mb()

    Search(MODEL, SPACE, data=DATA, trainer={"max_epochs": 1, "limit_train_batches": 2,
                                             "limit_val_batches": 1, "accelerator": "cpu"},
           budget=trials, num_workers=2, run_dir=root,
           # the pool's own threads_per_trial=1 (a search's beside it is refused)
           **({"executor": pool} if pool is not None else
              {"executor": "process", "threads_per_trial": 1}),
           optimizer="RandomSearch", seed=seed, on_trial_end=record, verbose=False).run()
    return marks[5], marks[max(marks)]


FIGURES = ("speedup_2_workers", "speedup_2_workers_cold", "overhead_2_workers",
           "overhead_2_workers_uncontended", "overhead_1_worker", "fit_growth_2_workers",
           "cpu_growth_2_workers", "waited_share_1_worker", "waited_share_2_workers",
           "rss_growth", "rss_mb_5", "rss_mb_last")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse arguments, run the rounds, print each round, the spreads and the JSON line."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds of both searches and the RSS run (default 5, --quick 1)")
    parser.add_argument("--rss_trials", type=int, default=50,
                        help="tiny trials of the RSS measurement (at least 6)")
    parser.add_argument("--quick", action="store_true",
                        help="check the script end to end: 2 trials, 1 epoch, 1 round, "
                             "6 RSS trials (a flag given beside it wins)")
    args = parser.parse_args(argv)
    check_arguments(parser, args, {"--trials": 1, "--epochs": 1, "--rounds": 1})
    quick_defaults(parser, args, argv, {"trials": 2, "epochs": 1, "rss_trials": 6})
    args.rounds = args.rounds or (1 if args.quick else 5)
    if args.rss_trials < 6:
        parser.error("--rss_trials must be at least 6 (RSS is compared with the 5th trial's)")
    torch.set_num_threads(1)  # the driver; each worker runs one torch thread
    per_round: dict[str, list[float]] = {k: [] for k in FIGURES}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        warm_up(root / "warm_up")  # the fork server up before any side is timed
        for round_ in range(args.rounds):
            order = (1, 2) if round_ % 2 == 0 else (2, 1)
            # the 2-worker pool stays up (idle) for the RSS measurement at the end of the round
            runs = {w: timed_search(w, args.trials, args.epochs, root / f"r{round_}w{w}",
                                    keep_pool=w == 2) for w in order}
            one, two = runs[1], runs[2]
            # in the order proposed, with their scores (was: the architectures sorted)
            said = same_trials(one["trials"], two["trials"], ("1 worker", "2 workers"))
            print(f"round {round_}: {said}", flush=True)
            for name, r in (("1 worker ", one), ("2 workers", two)):
                print(f"round {round_} {name}: wall {r['wall']:6.2f}s (cold "
                      f"{r['cold_wall']:6.2f}s)  sum of fit {r['fit']:6.2f}s  workers on a "
                      f"core {r['cpu']:6.2f}s, waiting for one {r['waited']:6.2f}s")
            try:
                rss5, rss_last = rss_over_trials(root / f"rss{round_}", args.rss_trials,
                                                 seed=1 + round_, pool=two["pool"])
            finally:
                two["pool"].shutdown()
            print(f"round {round_} driver RSS after 5 trials {rss5:.1f} MiB, after "
                  f"{args.rss_trials} trials {rss_last:.1f} MiB")
            figures = {
                "speedup_2_workers": one["wall"] / two["wall"],
                "speedup_2_workers_cold": one["cold_wall"] / two["cold_wall"],
                "overhead_2_workers": two["wall"] / (two["fit"] / 2),
                "overhead_2_workers_uncontended": two["wall"] / (one["fit"] / 2),
                "overhead_1_worker": one["wall"] / one["fit"],
                "fit_growth_2_workers": two["fit"] / one["fit"],
                # the same work's time on a core, without the waits for one (near 1 but for
                # the two workers' contention for caches and memory bandwidth)
                "cpu_growth_2_workers": two["cpu"] / one["cpu"],
                # near 0 for one worker on idle cores: a share above says the machine was
                # busy, and the fit times hold those waits (a busy side's fits grow)
                "waited_share_1_worker": one["waited"] / (one["cpu"] + one["waited"]),
                "waited_share_2_workers": two["waited"] / (two["cpu"] + two["waited"]),
                "rss_growth": rss_last / rss5, "rss_mb_5": rss5, "rss_mb_last": rss_last,
            }
            for name, value in figures.items():
                per_round[name].append(value)
    print(f"per-round figures, {args.rounds} rounds of {args.trials} trials x "
          f"{args.epochs} epochs (1 and 2 workers), RSS over {args.rss_trials} tiny trials:")
    for name, values in per_round.items():
        print("  " + describe(name, values, 1 if name.startswith("rss_mb") else 3))
    result: dict[str, Any] = {"trials": args.trials, "epochs": args.epochs,
                              "rounds": args.rounds, "rss_trials": args.rss_trials}
    for name, values in per_round.items():
        result[name] = spread(values, 3)["median"]
    for name, values in per_round.items():
        result[f"{name}_spread"] = spread(values, 3)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

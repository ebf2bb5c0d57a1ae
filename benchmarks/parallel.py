"""Parallel trials: the same CPU-bound digits trials with 1 and with 2 worker processes,
one torch thread per worker, in one run; then the driver's memory over many tiny trials.

Workers are long-lived: each pool is started (torch and Lightning imported) before its
search is timed, as a pool is reused across trials; the cold figures include that start.

Run:  python benchmarks/parallel.py [--trials 16] [--epochs 4]
Last line: JSON with ``speedup_2_workers`` (wall 1 worker / wall 2 workers),
``overhead_2_workers`` (wall / (sum of fit time / 2)) and ``rss_growth`` (driver RSS after
50 tiny trials / after 5).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def timed_search(workers: int, trials: int, epochs: int, root: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    pool = ProcessExecutor(workers, accelerator="cpu", threads_per_trial=1)
    pool.start()
    # a first tiny trial per worker makes sure every worker has imported everything
    Search(MODEL, SPACE, data=DATA, trainer={"max_epochs": 1, "limit_train_batches": 1,
                                             "accelerator": "cpu"},
           budget=workers, executor=pool, num_workers=workers, run_dir=root / "warm",
           optimizer="RandomSearch", seed=99, verbose=False).run()
    ready = time.perf_counter()
    result = Search(MODEL, SPACE, data=DATA, trainer={"max_epochs": epochs,
                                                      "accelerator": "cpu"},
                    budget=trials, executor=pool, num_workers=workers, run_dir=root / "run",
                    optimizer="RandomSearch", seed=0, verbose=False).run()
    end = time.perf_counter()
    pool.shutdown()
    fit = sum(t.fit_time or 0.0 for t in result.trials)
    archs = sorted(json.dumps(t.arch, sort_keys=True) for t in result.trials)
    return {"wall": end - ready, "cold_wall": end - t0, "fit": fit, "archs": archs}


def rss_over_trials(root: Path) -> tuple[float, float]:
    marks: dict[int, float] = {}

    def record(result) -> None:
        marks[len(marks) + 1] = rss_mb()

    Search(MODEL, SPACE, data=DATA, trainer={"max_epochs": 1, "limit_train_batches": 2,
                                             "limit_val_batches": 1, "accelerator": "cpu"},
           budget=50, num_workers=2, executor="process", threads_per_trial=1,
           run_dir=root, optimizer="RandomSearch", seed=1, on_trial_end=record,
           verbose=False).run()
    return marks[5], marks[max(marks)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        one = timed_search(1, args.trials, args.epochs, root / "w1")
        two = timed_search(2, args.trials, args.epochs, root / "w2")
        if one["archs"] != two["archs"]:
            raise SystemExit("the two searches trained different architectures")
        for name, r in (("1 worker ", one), ("2 workers", two)):
            print(f"{name}: wall {r['wall']:6.2f}s (cold {r['cold_wall']:6.2f}s)  "
                  f"sum of fit {r['fit']:6.2f}s")
        rss5, rss50 = rss_over_trials(root / "rss")
        print(f"driver RSS after 5 trials {rss5:.1f} MiB, after 50 trials {rss50:.1f} MiB")
    print(json.dumps({
        "trials": args.trials, "epochs": args.epochs,
        "speedup_2_workers": round(one["wall"] / two["wall"], 3),
        "speedup_2_workers_cold": round(one["cold_wall"] / two["cold_wall"], 3),
        "overhead_2_workers": round(two["wall"] / (two["fit"] / 2), 3),
        "overhead_1_worker": round(one["wall"] / one["fit"], 3),
        "rss_mb_5": round(rss5, 1), "rss_mb_50": round(rss50, 1),
        "rss_growth": round(rss50 / rss5, 3),
    }))


if __name__ == "__main__":
    main()

"""What a Hydra sweeper costs beside its jobs: ``hydra/sweeper: lightning_nas`` against
Hydra's Optuna sweeper, on the example project (``examples/hydra``).

Each sweep is the example's command (``python examples/hydra/src/train.py -m
hparams_search=nas|optuna``) in its own process, with the same budget, epochs and seed for
both sweepers and the same search space (the two ``hparams_search`` files hold the same
``params``). A Hydra callback (``JobTimer`` below, added with ``+hydra.callbacks``) times
the multirun (from ``on_multirun_start`` to ``on_multirun_end``: the sweeper's import,
set-up, proposals, bookkeeping and every job) and each job (``on_job_start`` to
``on_job_end``: the task function). The figure is ``wall / Σ(job time)``: 1.0 would be a
free sweeper. It is split into ``start s`` (from the multirun's start to the first job's:
importing and setting up the sweeper, once per sweep) and ``ms/job`` (the time between
jobs, per job: proposing, storing, launching). Runs alternate between the sweepers, seed
after seed, so drift in the machine's load hits both alike.

The Optuna sweeper runs with the Python that has ``hydra-optuna-sweeper`` installed:
this one if it imports ``hydra_plugins.hydra_optuna_sweeper``, or ``--optuna-python PATH``
(e.g. a virtual environment made with ``--system-site-packages`` and ``pip install
hydra-optuna-sweeper``); without one the Optuna half is skipped with a message.

Run:    python benchmarks/hydra_sweeper.py [--budget 20] [--epochs 3] [--seeds 5]
Quick:  python benchmarks/hydra_sweeper.py --quick   (budget 4, 1 epoch, 3 batches, 5 seeds)
``--seeds`` is a count (seeds 0..N-1) or a range such as ``100-104``. Prints each sweep,
then per sweeper each figure over the seeds as ``median [min, max]  mean ± std (n)``. Last
line: JSON with ``budget``, ``epochs``, ``seeds`` (how many) and per sweeper
(``lightning_nas``, ``optuna``) ``ratio``, ``start_s``, ``ms_per_job``, ``wall``, ``jobs``
(Σ job seconds) and ``best``: the mean over the seeds (what the README's table shows),
each with ``<name>_spread``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.spread import check_arguments, describe, parse_seeds, quick_defaults, spread  # noqa: E402
from lightning_nas.wording import counted  # noqa: E402

TRAIN = ROOT / "examples" / "hydra" / "src" / "train.py"
#: the seed setting of each sweeper
SEED_KEY = {"nas": "hydra.sweeper.seed", "optuna": "hydra.sweeper.sampler.seed"}
BUDGET_KEY = {"nas": "hydra.sweeper.budget", "optuna": "hydra.sweeper.n_trials"}


class JobTimer(Callback):
    """Times a multirun and each of its jobs; writes them as JSON to ``path`` at the end.

    Args:
        path: the JSON file: ``{"wall": seconds, "jobs": [[start, end], ...], "scores":
            [...]}``, times in seconds from the multirun's start (jobs in launch order).
    """

    def __init__(self, path: str) -> None:
        self.path, self.jobs, self.scores = path, [], []
        self.start = self.job_start = 0.0

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.start = time.perf_counter()

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.job_start = time.perf_counter() - self.start

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        self.jobs.append([self.job_start, time.perf_counter() - self.start])
        if job_return.status.name == "COMPLETED":
            self.scores.append(job_return.return_value)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        wall = time.perf_counter() - self.start
        Path(self.path).write_text(json.dumps({"wall": wall, "jobs": self.jobs,
                                               "scores": self.scores}))


def run_sweep(python: str, sweeper: str, seed: int, args: argparse.Namespace,
              folder: Path) -> dict[str, Any]:
    """One sweep of the example in its own process; its timings and scores."""
    times = folder / f"{sweeper}_{seed}.json"
    command = [python, str(TRAIN), "-m", f"hparams_search={sweeper}",
               f"{SEED_KEY[sweeper]}={seed}", f"{BUDGET_KEY[sweeper]}={args.budget}",
               f"trainer.max_epochs={args.epochs}", f"hydra.sweep.dir={folder / times.stem}",
               "+hydra.callbacks.timer._target_=benchmarks.hydra_sweeper.JobTimer",
               f"+hydra.callbacks.timer.path={times}"]
    if args.limit_batches:
        command += [f"+trainer.limit_train_batches={args.limit_batches}",
                    f"+trainer.limit_val_batches={args.limit_batches}"]
    # the repository first, the caller's PYTHONPATH kept (was: replaced, so a checkout
    # found through it, lightning_nas and hydra_plugins, was lost to the sweeps)
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    proc = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not times.exists():
        raise RuntimeError(f"{sweeper} seed {seed} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(times.read_text())
    spans = out["jobs"]
    jobs = sum(end - start for start, end in spans)
    between = spans[-1][1] - spans[0][0] - jobs  # after the first job starts
    return {"ratio": out["wall"] / jobs, "wall": out["wall"], "jobs": jobs,
            "start_s": spans[0][0], "ms_per_job": 1000 * between / max(1, len(spans) - 1),
            "best": max(out["scores"]), "n_jobs": len(spans)}


def optuna_python(given: str | None, parser: argparse.ArgumentParser | None = None
                  ) -> str | None:
    """The Python with the Optuna sweeper: ``given`` (``--optuna-python``), else this one
    where it imports it, else None. A ``given`` one that cannot import it is ``parser``'s
    usage error, naming it and why (was: the Optuna half skipped as "not installed", the
    Python given ignored; one that does not exist, a ``FileNotFoundError``)."""
    python = given or sys.executable
    try:
        probe = subprocess.run([python, "-c", "import hydra_plugins.hydra_optuna_sweeper"],
                               capture_output=True, text=True)
    except OSError as err:
        probe = subprocess.CompletedProcess([python], 1, "", str(err))
    if probe.returncode == 0:
        return python
    if given and parser is not None:
        why = (probe.stderr.strip().splitlines() or ["no reason given"])[-1]
        parser.error(f"--optuna-python {given} cannot import "
                     f"hydra_plugins.hydra_optuna_sweeper ({why}): give a Python with "
                     f"hydra-optuna-sweeper installed, or leave --optuna-python out to "
                     f"measure lightning_nas alone")
    return None


#: the figures of a sweep and the decimals they are printed with
FIGURES = {"ratio": 3, "start_s": 1, "ms_per_job": 0, "wall": 1, "jobs": 1, "best": 4}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse arguments, run the sweeps, print each and their spread, and the JSON line."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--budget", type=int, default=20, help="jobs per sweep (default 20)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per job (default 3)")
    parser.add_argument("--seeds", default="5",
                        help="how many seeds per sweeper (0..N-1; default 5), or a range "
                             "such as 100-104")
    parser.add_argument("--limit-batches", type=int, default=None,
                        help="train/val batches per epoch (default: all)")
    parser.add_argument("--optuna-python", default=None,
                        help="a Python with hydra-optuna-sweeper installed")
    parser.add_argument("--quick", action="store_true",
                        help="budget 4, 1 epoch, 3 batches (5 seeds; a flag given beside "
                             "it wins)")
    args = parser.parse_args(argv)
    check_arguments(parser, args, {"--budget": 1, "--epochs": 1, "--limit-batches": 1},
                    seeds=["--seeds"])
    quick_defaults(parser, args, argv, {"budget": 4, "epochs": 1, "limit_batches": 3})
    seeds = parse_seeds(args.seeds)
    pythons = {"nas": sys.executable, "optuna": optuna_python(args.optuna_python, parser)}
    if pythons["optuna"] is None:
        print("Optuna sweeper not installed (pip install hydra-optuna-sweeper, or pass "
              "--optuna-python PATH): measuring lightning_nas only.", flush=True)
        del pythons["optuna"]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in pythons}
    with tempfile.TemporaryDirectory() as tmp:
        for turn, seed in enumerate(seeds):
            order = list(pythons) if turn % 2 == 0 else list(reversed(pythons))
            for name in order:
                runs[name].append(run_sweep(pythons[name], name, seed, args, Path(tmp)))
                r = runs[name][-1]
                print(f"  {name:<7} seed {seed}: wall/Σjob {r['ratio']:.3f}  wall "
                      f"{r['wall']:.1f}s  Σjob {r['jobs']:.1f}s  start {r['start_s']:.1f}s  "
                      f"{r['ms_per_job']:.0f} ms/job  best {r['best']:.4f}", flush=True)
    print(f"\n{counted(len(seeds), 'seed')}, budget {args.budget}, {counted(args.epochs, 'epoch')}"
          f"{f', {args.limit_batches} batches' if args.limit_batches else ''} per job")
    summary: dict[str, Any] = {}
    for name, results in runs.items():
        label = "lightning_nas" if name == "nas" else "optuna"
        print(f"{label}:")
        summary[label] = {}
        for figure, digits in FIGURES.items():
            values = [r[figure] for r in results]
            print("  " + describe(figure, values, digits))
            summary[label][figure] = round(statistics.fmean(values), 4)
            summary[label][f"{figure}_spread"] = spread(values)
    print(json.dumps({"budget": args.budget, "epochs": args.epochs, "seeds": len(seeds),
                      **summary}))
    return summary


if __name__ == "__main__":
    main()

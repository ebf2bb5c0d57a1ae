"""What the search machinery costs when a run folder holds thousands of trials: the reads of
a big store, a resume's replay, a warm start from it and the time per trial as it grows.

For each optimizer (``--optimizers``, default ``RandomSearch,NGOpt``) and each size of
``--sizes`` (default ``200,1000,2000``) a real search makes the store: a tiny MLP
(``tests.helpers.TinyNet``) on Gaussian blobs, 1 epoch of 1 training and 1 validation
batch per trial, a fresh Trainer each, one torch thread, checkpoints kept (``keep_top_k``
1). While it runs, each trial's time outside ``fit`` (the time between two trials' ends
less the later one's fit time: ask, build, store, checkpoints, tell) is taken; its median
over the first and over the last ``--window`` trials (at most a quarter of the store's)
says whether a trial costs more machinery as the store grows (``--two_objectives``:
searches of ``val_acc`` max and ``val_loss`` min, whose Pareto front keeps its checkpoints);
one search per optimizer and size, so each window's spread is over its trials (was: the
median alone printed).
Then ``--rounds`` rounds (default 5) time, in this process (imports done before: a
command's start adds its import of torch and Lightning, several seconds on a cold cache),
``lightning-nas show RUN``, ``show RUN --format json``, ``export RUN`` and ``report RUN``
(when matplotlib is there), a resume of a copy of the finished search with one more trial
(from ``Search(...)`` until its first new trial starts: the replay of every earlier ask
and tell to a fresh optimizer) and a new search warm-started from the store
(``warm_start: [RUN]``, until its first trial starts).

Run:  python benchmarks/store_scale.py [--sizes 200,1000,2000] [--rounds 5] [--two_objectives]
Quick check:  python benchmarks/store_scale.py --quick   (sizes 30,60, window 10, 2 rounds)
Every figure is printed as ``median [min, max]  mean ± std (n)`` over the rounds (the ms
outside ``fit``: over the window's trials).
Last line: JSON with, per optimizer and size, ``<optimizer>_<size>_<what>_s`` (``show``,
``show_json``, ``export``, ``report``, ``resume``, ``warm_start``: medians over the
rounds, each with ``<name>_spread``), ``<optimizer>_<size>_made_trials`` and
``_trials_per_s``, ``_window`` and ``_first_ms`` and ``_last_ms`` (the median ms outside
``fit`` of the first and of the last ``_window`` trials), each with ``<name>_spread`` over
the window's trials.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.spread import check_arguments, describe, quick_defaults, spread  # noqa: E402
from lightning_nas import Search  # noqa: E402
from lightning_nas.cli import main as cli  # noqa: E402
from lightning_nas.errors import ConfigError  # noqa: E402
from lightning_nas.strategies import check_optimizer_name  # noqa: E402
from tests.helpers_data import BlobData  # noqa: E402
from tests.helpers_models import TinyNet  # noqa: E402

#: a space NGOpt does not exhaust in thousands of trials (a float among the knobs)
SPACE = {"width": {"int": [4, 64]}, "depth": {"choice": [1, 2]},
         "activation": {"choice": ["relu", "tanh"]}, "lr": {"float": [0.01, 0.3], "log": True}}
TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "limit_train_batches": 1,
           "limit_val_batches": 1, "enable_progress_bar": False, "enable_model_summary": False,
           "logger": False}


def search(run_dir: Path, optimizer: str, budget: int,
           on_trial_end: Callable[[object], None] | None = None, **options: object) -> None:
    """One search of the benchmark's model and space, its output to nowhere."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        Search(TinyNet, SPACE, data=BlobData(n=128), trainer=TRAINER, budget=budget,
               optimizer=optimizer, seed=0, run_dir=run_dir, keep_top_k=1,
               on_trial_end=on_trial_end, **options).run()


def make_store(run_dir: Path, optimizer: str, size: int, **options: object
               ) -> tuple[int, float, list[float]]:
    """Make a store of ``size`` trials; its trials, trials per second and each trial's ms
    outside ``fit`` (from the second trial on)."""
    ends: list[tuple[float, float]] = []
    start = time.perf_counter()
    search(run_dir, optimizer, size,
           lambda result: ends.append((time.perf_counter(), result.fit_time or 0.0)), **options)
    took = time.perf_counter() - start
    outside = [1000 * (b - a - fit) for (a, _), (b, fit) in zip(ends, ends[1:], strict=False)]
    return len(ends), len(ends) / took, outside


def command_s(args: list[str]) -> float:
    """Seconds of one ``lightning-nas`` command in this process, its output to nowhere."""
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli(args)
    took = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"lightning-nas {' '.join(args)} exited with {code}")
    return took


def first_start_s(run_dir: Path, optimizer: str, budget: int, **options: object) -> float:
    """Seconds from ``Search(...)`` until its first trial of this invocation starts (the
    trial's own start time, stored as it starts)."""
    starts: list[float] = []
    begun = time.time()
    search(run_dir, optimizer, budget, lambda result: starts.append(result.started or 0.0),
           **options)
    return starts[0] - begun


def main(argv: list[str] | None = None) -> dict:
    """Parse arguments, make the stores, time each measurement, print spreads and JSON."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--sizes", default="200,1000,2000",
                        help="trials of each store, comma-separated (200,1000,2000)")
    parser.add_argument("--optimizers", default="RandomSearch,NGOpt",
                        help="nevergrad optimizers, comma-separated (RandomSearch,NGOpt)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each timing (5)")
    parser.add_argument("--window", type=int, default=100,
                        help="first and last trials whose time outside fit is compared (100)")
    parser.add_argument("--two_objectives", action="store_true",
                        help="searches of val_acc (max) and val_loss (min), not val_acc alone")
    parser.add_argument("--quick", action="store_true",
                        help="check the script end to end: sizes 30,60, window 10, 2 rounds "
                             "(a flag given beside it wins)")
    args = parser.parse_args(argv)
    check_arguments(parser, args, {"--rounds": 1, "--window": 1})
    quick_defaults(parser, args, argv, {"sizes": "30,60", "window": 10, "rounds": 2})
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        sizes = [0]
    if min(sizes) < 4:
        parser.error(f"--sizes takes whole numbers of at least 4 joined by commas, got "
                     f"{args.sizes!r}")
    for optimizer in args.optimizers.split(","):
        try:
            check_optimizer_name(optimizer)
        except ConfigError as err:
            parser.error(f"--optimizers {args.optimizers}: {err}")
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    plots = importlib.util.find_spec("matplotlib") is not None
    goal = {"objectives": {"val_acc": "max", "val_loss": "min"}} if args.two_objectives else {}
    result: dict = {"sizes": sizes, "rounds": args.rounds, "window": args.window,
                    "two_objectives": args.two_objectives}
    with tempfile.TemporaryDirectory() as tmp:
        for optimizer in args.optimizers.split(","):
            for size in sizes:
                name, run = f"{optimizer}_{size}", Path(tmp) / f"{optimizer}_{size}"
                made, rate, outside = make_store(run, optimizer, size, **goal)
                window = max(1, min(args.window, len(outside) // 4))
                print(f"{name}: {made} trials made at {rate:.1f} trials/s; ms outside fit "
                      f"a trial, trials 2-{window + 1} and the last {window}:", flush=True)
                result.update({f"{name}_made_trials": made, f"{name}_trials_per_s":
                               round(rate, 2), f"{name}_window": window})
                for end, trials in (("first", outside[:window]), ("last", outside[-window:])):
                    print("  " + describe(f"{name}_{end}_ms", trials, 1, " ms"), flush=True)
                    result[f"{name}_{end}_ms"] = spread(trials, 2)["median"]
                    result[f"{name}_{end}_ms_spread"] = spread(trials, 2)
                timings: dict[str, list[float]] = {
                    "show": [], "show_json": [], "export": [], "resume": [], "warm_start": [],
                    **({"report": []} if plots else {})}
                for round_ in range(args.rounds):
                    timings["show"].append(command_s(["show", str(run)]))
                    timings["show_json"].append(command_s(["show", str(run), "--format",
                                                           "json"]))
                    timings["export"].append(command_s(["export", str(run)]))
                    if plots:
                        timings["report"].append(command_s(["report", str(run), "--out",
                                                            str(Path(tmp) / "report")]))
                    copy = Path(tmp) / f"resume{round_}"
                    shutil.copytree(run, copy)
                    timings["resume"].append(first_start_s(copy, optimizer, made + 1, **goal))
                    shutil.rmtree(copy)
                    warm = Path(tmp) / f"warm{round_}"
                    timings["warm_start"].append(first_start_s(warm, optimizer, 1, **goal,
                                                               warm_start=[str(run)]))
                    shutil.rmtree(warm)
                for what, values in timings.items():
                    print("  " + describe(f"{name}_{what}_s", values, 3, " s"), flush=True)
                    result[f"{name}_{what}_s"] = spread(values, 4)["median"]
                    result[f"{name}_{what}_s_spread"] = spread(values, 4)
                shutil.rmtree(run)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

"""What a DDP trial costs beside its training: reused ranks against fresh processes.

Both sides run the same search: the digits example, ``--trials`` architectures (nevergrad
RandomSearch, the round's seed, so the same proposals), each trained for ``--epochs`` by a
fresh Trainer with ``accelerator="cpu", devices=2, strategy="ddp"`` (gloo), the same
Trainer settings on both sides (``trainer_settings``). *Reused*
is the default (``lightning_nas.search.ranks``: two rank processes started with the first
trial and kept); *fresh* sets ``LIGHTNING_NAS_FRESH_RANKS=1``: every trial starts a process
from which Lightning's launcher starts the second rank (what every DDP trial did before).
Both sides start from no process at all (``cold_start``: a rank zygote an earlier round's
search left idle is ended first), so *reused* pays its start-up once per search.
One torch thread per process, as in the other benchmarks: the driver sets it, and
``OMP_NUM_THREADS=1`` (unless set) gives every rank process one (what Lightning picks
itself on two cores for two ranks; on more cores it would pick more); both, and
``LIGHTNING_NAS_FRESH_RANKS``, only while the rounds run (``one_thread_each``, ``run_side``):
a caller of ``main`` (a test) gets its own back.

Each round runs both sides, reused first in even rounds, fresh first in odd ones. The wall
clock covers ``Search(...).run()`` whole. A trial's own ``fit_time`` (inside ``trainer.fit``
on rank 0) is no common yardstick: on the fresh side ``fit`` also starts the second rank
and waits for it, so the figures compare walls, and give the reused side's ``fit`` of its
later trials as their training alone. Each round also checks that both sides trained the
same architectures, in the same order, to the same scores (``same_trials``: every trial is
seeded, so they score alike to the last bit), prints it, and else stops the run
(``SystemExit`` naming the first trial that differs): a comparison of other work is void.

Run:  python benchmarks/ddp_trials.py [--trials 6] [--epochs 1] [--rounds 5]
      [--limit-batches N]
Quick check:  python benchmarks/ddp_trials.py --quick   (2 trials, 1 round)
``--limit-batches N`` trains and validates N batches per rank and epoch on both sides
(``limit_train_batches`` and ``limit_val_batches``; default: every batch, as the README's
figures); the rank processes' start-up, which the figures measure, stays as it is.
Every figure is computed per round and printed as ``median [min, max]  mean ± std (n)``.
Last line: JSON with ``speedup`` (fresh wall / reused wall), ``fresh_s_per_trial`` and
``reused_s_per_trial`` (wall / trials, start-up included), ``reused_s_per_later_trial``
(trials 2.. of the reused side, from submission to result: start-up excluded) and
``reused_fit_s_per_later_trial`` (their ``fit`` alone), each with ``<name>_spread``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.spread import check_arguments, describe, quick_defaults, spread  # noqa: E402
from benchmarks.spread import same_trials as same_trials_of  # noqa: E402
from lightning_nas import Search  # noqa: E402
from lightning_nas.search.lifetime import environ  # noqa: E402
from lightning_nas.search.rank_zygote import close_zygotes  # noqa: E402
from lightning_nas.search.runner import FRESH_RANKS  # noqa: E402

__all__ = ["SPACE", "main", "one_thread_each", "run_side", "same_trials",
           "trainer_settings"]

SPACE = {"kernel_size": {"choice": [3, 5]}, "num_layers": {"choice": [2, 3]},
         "width": {"int": [16, 64], "log": True}, "lr": {"float": [1.0e-3, 3.0e-2], "log": True}}


@contextmanager
def one_thread_each() -> Iterator[None]:
    """One torch thread in this process and ``OMP_NUM_THREADS=1`` (a caller's own count
    kept) for every rank process it starts, while the body runs; the thread count and the
    variable as they were after.

    Example:
        >>> with one_thread_each():
        ...     torch.get_num_threads(), os.environ["OMP_NUM_THREADS"] != ""
        (1, True)
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with environ({"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}):
            yield
    finally:
        torch.set_num_threads(threads)


def trainer_settings(epochs: int, limit_batches: int | None = None) -> dict:
    """The Trainer settings of every trial on both sides: two CPU ranks under DDP, ``epochs``
    epochs of every batch, or of ``limit_batches`` training and validation batches per rank.

    Example:
        >>> trainer_settings(1)
        {'accelerator': 'cpu', 'devices': 2, 'strategy': 'ddp', 'max_epochs': 1}
        >>> limited = trainer_settings(1, 2)
        >>> limited["limit_train_batches"], limited["limit_val_batches"]
        (2, 2)
    """
    trainer = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": epochs}
    if limit_batches is not None:
        trainer.update(limit_train_batches=limit_batches, limit_val_batches=limit_batches)
    return trainer


def cold_start() -> None:
    """End every rank zygote this process keeps idle: a search's end keeps its zygote for
    the next search of the process (a notebook's next cell), so without this each round
    after the first would start the reused side's ranks from a warm zygote, not from no
    process at all as the fresh side starts (was: so; round 0 alone was cold)."""
    close_zygotes()


def run_side(fresh: bool, trials: int, trainer: dict, seed: int, root: Path) -> dict:
    """One search of ``trials`` DDP trials with the Trainer settings ``trainer``
    (``trainer_settings``), started from no process at all (``cold_start``); its wall clock
    and its trials' times (``LIGHTNING_NAS_FRESH_RANKS`` as ``fresh`` says while it runs, as
    it was after)."""
    cold_start()
    with environ({FRESH_RANKS: "1"} if fresh else {}, kept=[FRESH_RANKS]):
        if not fresh:
            os.environ.pop(FRESH_RANKS, None)  # reused ranks: the default
        start = time.perf_counter()
        result = Search("examples.digits.model.DigitsCNN", SPACE,
                        data="examples.digits.data.DigitsDataModule", trainer=trainer,
                        budget=trials, optimizer="RandomSearch", seed=seed, run_dir=root,
                        verbose=False).run()
        wall = time.perf_counter() - start
    done = [t for t in result.trials if t.fit_time is not None]
    if len(done) != trials:
        raise RuntimeError(f"{trials - len(done)} trials did not finish: "
                           f"{[t.error for t in result.trials if t.fit_time is None]}")
    later = done[1:] or done
    return {"wall": wall, "trials": [(t.arch, t.score) for t in result.trials],  # in order
            "later": sum(t.finished - t.started for t in later) / len(later),
            "later_fit": sum(t.fit_time for t in later) / len(later)}


def same_trials(reused: list[tuple[dict, float | None]],
                fresh: list[tuple[dict, float | None]]) -> str:
    """The line that says both sides trained the same architectures, in the same order, to
    the same scores (each side's trials as ``(arch, score)``), or ``SystemExit`` naming the
    first trial that differs: the comparison is void then (every trial is seeded, so two
    sides that train alike score alike, to the last bit): ``spread.same_trials`` with the
    sides named ``reused`` and ``fresh``.

    Example:
        >>> same_trials([({"width": 16}, 0.75)], [({"width": 16}, 0.75)])
        'same trials on both sides: 1 architecture in the same order, the same scores'
        >>> same_trials([({"width": 16}, 0.75)], [({"width": 32}, 0.5)])
        Traceback (most recent call last):
        ...
        SystemExit: the two sides' trials differ: trial 1: reused {'width': 16} scored 0.75, ...
    """
    return same_trials_of(reused, fresh, ("reused", "fresh"))


def main(argv: list[str] | None = None) -> dict:
    """Parse arguments, run the rounds, print each round, the spreads and the JSON line."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--limit-batches", type=int, default=None,
                        help="train/val batches per rank and epoch, on both sides alike "
                             "(default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="2 trials, 1 round (a flag given beside it wins)")
    args = parser.parse_args(argv)
    check_arguments(parser, args, {"--trials": 1, "--epochs": 1, "--rounds": 1,
                                   "--limit-batches": 1})
    quick_defaults(parser, args, argv, {"trials": 2, "rounds": 1})
    warnings.filterwarnings("ignore")
    trainer = trainer_settings(args.epochs, args.limit_batches)  # both sides alike
    rows: list[dict] = []
    with one_thread_each(), tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            order = [False, True] if rnd % 2 == 0 else [True, False]
            got = {fresh: run_side(fresh, args.trials, trainer, rnd,
                                   Path(tmp) / f"r{rnd}_{'fresh' if fresh else 'reused'}")
                   for fresh in order}
            print(f"round {rnd}: " + same_trials(got[False]["trials"], got[True]["trials"]),
                  flush=True)
            rows.append({
                "speedup": got[True]["wall"] / got[False]["wall"],
                "fresh_s_per_trial": got[True]["wall"] / args.trials,
                "reused_s_per_trial": got[False]["wall"] / args.trials,
                "reused_s_per_later_trial": got[False]["later"],
                "reused_fit_s_per_later_trial": got[False]["later_fit"]})
            print(f"round {rnd}: " + ", ".join(f"{k} {v:.3f}" for k, v in rows[-1].items()),
                  flush=True)
    out: dict = {"trials": args.trials, "epochs": args.epochs, "rounds": args.rounds,
                 "limit_batches": args.limit_batches}
    for name in rows[0]:
        values = [row[name] for row in rows]
        print(describe(name, values))
        out[name], out[f"{name}_spread"] = spread(values)["median"], spread(values)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()

"""A small categorical table: every architecture of a 432-architecture DigitsCNN space,
trained once each on scikit-learn's digits, with its validation and test accuracy.

The space is made of the knobs of ``examples.digits.model.DigitsCNN`` (``SPACE``):
``kernel_size`` {3, 5, 7}, ``stride`` {1, 2}, ``num_layers`` {2, 3, 4}, ``pool_size``
{2, 3, 4}, ``activation`` {relu, sigmoid}, ``width`` {16, 32} and ``lr`` {0.003, 0.03}
(Adam's learning rate, as a categorical knob): 3 * 2 * 3 * 3 * 2 * 2 * 2 = 432
architectures. Stride 3 is left out: on 8x8 inputs it leaves a map of at most 3x3 after the
first convolution, where pool 3 and pool 4 build the same network; every architecture of
``SPACE`` is a different network. The architectures are enumerated with
``itertools.product`` in ``SPACE``'s order (the last knob varies fastest); architecture
``index`` is trained with seed ``index`` (weights and batch order), so the table does not
depend on ``--workers`` or on which worker trains what.

The data: the 1797 digits split once by ``DigitsDataModule(val_fraction=0.25,
test_fraction=0.25, seed=0)`` of ``examples/digits/data.py`` (no download) into 899 train,
449 validation (the search signal, ``val_acc``) and 449 test samples (``test_acc``, which
no search sees). Each architecture is trained by a plain torch loop over the ``DigitsCNN``
module (no Trainer): ``--epochs`` epochs (default 6) of Adam, batch 64, cross-entropy;
then both accuracies are measured in eval mode (BatchNorm running statistics). One torch
thread per process. ``seconds`` is the wall time of that training and evaluation.

Columns of the CSV: ``index``, the knobs (in ``SPACE``'s order), ``val_acc``, ``test_acc``
(fractions of 449, 6 decimals), ``params`` (trainable parameters) and ``seconds``. Given
the same torch build and CPU kind, the accuracies are the same on every run; ``seconds``
is not. On another CPU kind the kernels differ (ATen dispatches by the CPU's vector
instructions: ``torch.backends.cpu.get_cpu_capability()``, e.g. AVX512, AVX2), and so do
the accuracies, so the script prints the torch version and that capability beside the
table it writes.

Run (the full table, about 0.9 s an architecture on one busy core; the workers take the
most expensive architectures first):
    python benchmarks/digits_space.py --workers 14 [--out benchmarks/digits_space.csv]
Quick check:  python benchmarks/digits_space.py --limit 8 --out /tmp/digits8.csv
(``--limit`` below 432 or ``--epochs`` other than 6 need ``--out``: the default is the
repository's table)
``--limit K`` builds only the first K architectures; ``benchmarks/small_space.py`` accepts
the table when they are a complete sub-space (the later knobs all varying, one knob
through its first values, the earlier ones fixed): K = 1, 2, 4, 8, 16, 24, 48, 72, 144, 288
or 432 (72: kernel_size and stride fixed; 216 and 360 are not), and runs it with a
``--budget`` of at most K.
Prints progress, then the seconds per architecture (``median [min, max]  mean ± std``),
the top architectures by ``val_acc``, how many share the best ``val_acc`` and the Spearman
correlation of ``val_acc`` and ``test_acc``. Last line: JSON with ``out``, ``archs``,
``workers``, ``epochs``, ``wall_s``, ``sec_per_arch`` (median) and
``sec_per_arch_spread``, ``best_val_acc``, ``best_ties``, ``best_test_acc`` (of the
first architecture with the best ``val_acc``), ``max_test_acc``, ``spearman``, ``torch``
and ``cpu_capability`` (what the accuracies depend on besides the code).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.spread import check_arguments, describe, spearman, spread  # noqa: E402
from lightning_nas.search.lifetime import environ  # noqa: E402
from lightning_nas.wording import counted  # noqa: E402

__all__ = ["COLUMNS", "DEFAULT_OUT", "SPACE", "architectures", "build_table", "train_arch"]

#: the knobs and their values, in enumeration order (the last varies fastest)
SPACE: dict[str, tuple[Any, ...]] = {
    "kernel_size": (3, 5, 7),
    "stride": (1, 2),
    "num_layers": (2, 3, 4),
    "pool_size": (2, 3, 4),
    "activation": ("relu", "sigmoid"),
    "width": (16, 32),
    "lr": (0.003, 0.03),
}
#: the CSV's columns
COLUMNS = ("index", *SPACE, "val_acc", "test_acc", "params", "seconds")
DEFAULT_OUT = Path(__file__).resolve().parent / "digits_space.csv"
#: the data split and the training settings
SPLIT = {"val_fraction": 0.25, "test_fraction": 0.25, "seed": 0}
BATCH_SIZE = 64

_DATA: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}  # per process: split -> (x, y)


def architectures() -> list[dict[str, Any]]:
    """Every architecture of ``SPACE``, in enumeration order (``index`` = position)."""
    return [dict(zip(SPACE, values, strict=True)) for values in itertools.product(*SPACE.values())]


def _cost(arch: dict[str, Any]) -> float:
    """Rough multiply-adds of one forward pass (to hand out the slow architectures first)."""
    size, cin, total = 8, 1, 0.0
    k, s, p, w = arch["kernel_size"], arch["stride"], arch["pool_size"], arch["width"]
    for _ in range(arch["num_layers"]):
        size = (size + 2 * (k // 2) - k) // s + 1
        total += size * size * k * k * cin * w
        if min(p, size) > 1:
            size = -(-size // min(p, size))
        cin = w
    return total


def _load_data() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    if not _DATA:
        from examples.digits.data import DigitsDataModule

        dm = DigitsDataModule(batch_size=BATCH_SIZE, **SPLIT)
        dm.setup()
        for name, ds in (("train", dm.train_set), ("val", dm.val_set), ("test", dm.test_set)):
            _DATA[name] = tuple(t.clone() for t in ds.tensors)
    return _DATA


def _init_worker() -> None:
    torch.set_num_threads(1)
    _load_data()


def train_arch(index: int, arch: dict[str, Any], epochs: int = 6) -> dict[str, Any]:
    """Train architecture ``arch`` with seed ``index`` (one thread); its table row."""
    from examples.digits.model import DigitsCNN

    torch.set_num_threads(1)
    data = _load_data()
    x_train, y_train = data["train"]
    t0 = time.perf_counter()
    torch.manual_seed(index)
    gen = torch.Generator().manual_seed(index)
    model = DigitsCNN(**arch)
    opt = torch.optim.Adam(model.parameters(), lr=arch["lr"])
    n = len(y_train)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, BATCH_SIZE):
            idx = perm[start:start + BATCH_SIZE]
            loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()
    accs = {}
    with torch.no_grad():
        for split in ("val", "test"):
            x, y = data[split]
            correct = int((model(x).argmax(1) == y).sum())
            accs[f"{split}_acc"] = round(correct / len(y), 6)
    seconds = time.perf_counter() - t0
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"index": index, **arch, **accs, "params": params, "seconds": round(seconds, 4)}


def _train_task(task: tuple[int, dict[str, Any], int]) -> dict[str, Any]:
    return train_arch(*task)


def build_table(out: str | Path = DEFAULT_OUT, workers: int = 1, limit: int | None = None,
                epochs: int = 6, progress: bool = True, start_method: str | None = None
                ) -> list[dict[str, Any]]:
    """Train the first ``limit`` architectures (all by default) in ``workers`` processes
    (one torch thread each; 1: in this process; ``start_method`` of multiprocessing,
    default ``fork`` where there is one, else ``spawn``), write the CSV ``out`` (rows in
    index order) and return the rows."""
    archs = architectures()[:limit] if limit else architectures()
    tasks = [(i, arch, epochs) for i, arch in enumerate(archs)]
    rows: list[dict[str, Any]] = []
    step = max(1, len(tasks) // 20)
    t0 = time.perf_counter()

    def note(row: dict[str, Any]) -> None:
        rows.append(row)
        if progress and (len(rows) % step == 0 or len(rows) == len(tasks)):
            print(f"  {len(rows)}/{len(tasks)} archs, {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr, flush=True)

    if workers <= 1:
        torch.set_num_threads(1)
        for task in tasks:
            note(_train_task(task))
    else:
        tasks.sort(key=lambda t: -_cost(t[1]))  # longest first: a short tail
        chunk = max(1, len(tasks) // (workers * 16))
        method = start_method or ("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        if method == "fork":  # the workers inherit the data and the imports
            torch.set_num_threads(1)
            _load_data()
            from examples.digits.model import DigitsCNN  # noqa: F401
        # one thread each, inherited by the workers (a caller's own count kept): the caller's
        # variable as it was after (a test calls main in its process)
        with environ({"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}), \
                mp.get_context(method).Pool(workers, initializer=_init_worker) as pool:
            for row in pool.imap_unordered(_train_task, tasks, chunksize=chunk):
                note(row)
    rows.sort(key=lambda r: r["index"])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse arguments, build the table, print the summary and the JSON line; return it."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--workers", type=int, default=1,
                        help="processes (one torch thread each); 1: this process")
    parser.add_argument("--limit", type=int, default=None,
                        help="build only the first K architectures")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--start_method", default=None, choices=["fork", "spawn", "forkserver"],
                        help="how the workers start (default: fork where there is one)")
    args = parser.parse_args(argv)
    check_arguments(parser, args, {"--workers": 1, "--limit": 1, "--epochs": 1})
    changed = [f"{flag} {value}" for flag, value, whole in (
        ("--limit", args.limit, args.limit is None or args.limit >= len(architectures())),
        ("--epochs", args.epochs, args.epochs == 6)) if not whole]
    if changed and Path(args.out).resolve() == DEFAULT_OUT:  # (was: written over it)
        parser.error(f"{' and '.join(changed)} would write over the repository's table "
                     f"{DEFAULT_OUT.name} (every architecture, 6 epochs) with another one: "
                     f"give --out, e.g. --out /tmp/digits8.csv")
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    rows = build_table(args.out, args.workers, args.limit, args.epochs,
                       start_method=args.start_method)
    wall = time.perf_counter() - t0
    secs = [r["seconds"] for r in rows]
    vals = [r["val_acc"] for r in rows]
    tests = [r["test_acc"] for r in rows]
    best = max(vals)
    ties = sum(v == best for v in vals)
    first_best = next(r for r in rows if r["val_acc"] == best)
    rho = spearman(vals, tests) if len(rows) > 1 else float("nan")
    capability = torch.backends.cpu.get_cpu_capability()
    print(f"{counted(len(rows), 'arch')} -> {args.out} in {wall:.1f} s with "
          f"{counted(args.workers, 'worker')}, {counted(args.epochs, 'epoch')} each; torch "
          f"{torch.__version__}, CPU capability {capability} (the accuracies depend on both)")
    print(describe("seconds per arch (one thread)", secs, 3, " s"))
    print(f"{'index':>5} " + " ".join(f"{k:>11}" for k in SPACE) + f" {'val_acc':>8} "
          f"{'test_acc':>8} {'params':>7}")
    for r in sorted(rows, key=lambda r: (-r["val_acc"], r["index"]))[:5]:
        print(f"{r['index']:>5} " + " ".join(f"{r[k]!s:>11}" for k in SPACE)
              + f" {r['val_acc']:>8.4f} {r['test_acc']:>8.4f} {r['params']:>7}")
    print(f"best val_acc {best:.4f} shared by {counted(ties, 'arch')}; test_acc of the first "
          f"of them {first_best['test_acc']:.4f}; best test_acc in the table {max(tests):.4f}; "
          f"Spearman(val_acc, test_acc) {rho:.3f}")
    summary = {
        "out": str(args.out), "archs": len(rows), "workers": args.workers,
        "epochs": args.epochs, "wall_s": round(wall, 2),
        "sec_per_arch": round(statistics.median(secs), 4), "sec_per_arch_spread": spread(secs),
        "best_val_acc": best, "best_ties": ties, "best_test_acc": first_best["test_acc"],
        "max_test_acc": max(tests), "spearman": None if rho != rho else round(rho, 4),
        "torch": torch.__version__, "cpu_capability": capability,
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()

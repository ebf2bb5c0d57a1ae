"""What the search machinery costs beside training: lightning_nas vs a hand-written loop.

Both loops train the same 20 architectures of the digits example (nevergrad RandomSearch,
same seed, so the same proposals) for the same epochs, each with a fresh Trainer, a
ModelCheckpoint on ``val_acc`` and a CSV logger, in this one process. After one untimed
warm-up of each loop, ``--rounds`` rounds (default 5) each run both loops, in the order
A B, B A, A B, ... (hand first in even rounds, lightning_nas first in odd ones), so warm-up
and drift hit both loops alike. Every loop trains the same trials to the same scores as the
first one measured (``same_trials``: the same architectures in the same order, each trial
seeded by ``seed_everything(0)`` before its model is built, one torch thread: alike to the
last bit); each round prints that line, and else the run stops naming the first trial that
differs (was: the architectures alone): a comparison of other work is void.

The timers are symmetric: both loops start a trial's "fit" timer at the same point, after
the model, the datamodule and the Trainer are built and just before ``trainer.fit`` (where
``lightning_nas.search.trial.fit_trial`` starts ``fit_time``), and stop it when ``fit``
returns. The wall clock of a loop covers everything from the start of its setup to its last
tell: the hand-written loop's nevergrad parametrization and optimizer built, and for
lightning_nas ``Search(...)`` built and ``.run()`` whole (its checks, store, optimizer and
export included).

The fit timer holds what each loop's ``fit`` runs: lightning_nas's own callbacks (the trial
reporter, monitor checks, checkpoint placing) run inside it, so the time outside ``fit``
leaves them out. Two paired figures per round count them: ``fit_ratio`` (lightning_nas's
time in ``fit`` / the hand-written loop's, the same architectures) and
``lnas_added_ms_per_trial`` ((lightning_nas wall - hand-written wall) / trials: everything
lightning_nas adds, inside ``fit`` or not, with the noise of both loops' training).

Run:  python benchmarks/overhead.py [--trials 20] [--epochs 2] [--rounds 5]
Quick check:  python benchmarks/overhead.py --quick   (3 trials, 1 epoch, 2 rounds)
Every figure is computed per round and printed as ``median [min, max]  mean ± std (n)``.
Last line: JSON with ``lnas_ratio``, ``handwritten_ratio`` (wall time / time inside
``trainer.fit``), ``vs_handwritten`` (lightning_nas wall / hand-written wall) and the
ms per trial outside ``fit``, ``fit_ratio`` and ``lnas_added_ms_per_trial`` (medians over
the rounds), each with ``<name>_spread``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lightning.pytorch as pl  # noqa: E402
import nevergrad as ng  # noqa: E402
import numpy as np  # noqa: E402
from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402
from lightning.pytorch.loggers import CSVLogger  # noqa: E402

from benchmarks.spread import (  # noqa: E402
    check_arguments,
    describe,
    quick_defaults,
    same_trials,
    spread,
)
from examples.digits.data import DigitsDataModule  # noqa: E402
from examples.digits.model import DigitsCNN  # noqa: E402
from lightning_nas import Search, SearchSpace  # noqa: E402
from lightning_nas.search.trial import quiet_lightning  # noqa: E402

#: each loop's name in the rounds and as the check of their trials says it
LOOPS = {"hand": "hand-written", "lnas": "lightning_nas"}

SPACE = SearchSpace.from_yaml("""
kernel_size: {choice: [3, 5, 7]}
stride: {choice: [1, 2, 3]}
pool_size: {choice: [2, 3, 4]}
num_layers: {choice: [2, 3, 4]}
activation: {choice: [relu, sigmoid]}
width: {int: [16, 64], log: true}
lr: {float: [1.0e-3, 3.0e-2], log: true}
""")


def handwritten(trials: int, epochs: int, root: Path
                ) -> tuple[float, float, list[tuple[dict, float]]]:
    """The loop a user would write: ask, fresh Trainer, fit, read the score, tell; its wall
    and fit seconds and its trials as ``(arch, best val_acc)`` in the order asked."""
    start = time.perf_counter()  # its setup timed, as lightning_nas's Search(...) build is
    # (was: from the first ask, its nevergrad parametrization and optimizer left out)
    param = SPACE.to_nevergrad()
    param.random_state = np.random.RandomState(0)
    opt = ng.optimizers.registry["RandomSearch"](param, budget=trials)
    fit_time, done = 0.0, []
    for i in range(trials):
        cand = opt.ask()
        arch = cand.value
        pl.seed_everything(0, workers=True, verbose=False)
        model, datamodule = DigitsCNN(**arch), DigitsDataModule()
        ckpt = ModelCheckpoint(dirpath=root / f"t{i}", monitor="val_acc", mode="max")
        trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1,
                             enable_progress_bar=False, enable_model_summary=False,
                             logger=CSVLogger(root / f"t{i}", name="", version="logs"),
                             callbacks=[ckpt], default_root_dir=root / f"t{i}")
        # the same point as fit_trial's fit_time: model, data and Trainer built, fit next
        t0 = time.perf_counter()
        trainer.fit(model, datamodule=datamodule)
        fit_time += time.perf_counter() - t0
        score = float(ckpt.best_model_score)
        opt.tell(cand, -score)
        done.append((arch, score))
    return time.perf_counter() - start, fit_time, done


def lnas(trials: int, epochs: int, root: Path) -> tuple[float, float, list[tuple[dict, float]]]:
    """The same search through lightning_nas (store, checks, export included); its wall
    and fit seconds and its trials as ``(arch, score)`` (best val_acc) in the order asked."""
    start = time.perf_counter()
    result = Search(DigitsCNN, SPACE, data=DigitsDataModule,
                    trainer={"max_epochs": epochs, "accelerator": "cpu", "devices": 1},
                    optimizer="RandomSearch", budget=trials, seed=0, run_dir=root,
                    verbose=False).run()
    wall = time.perf_counter() - start
    trials_done = sorted(result.trials, key=lambda t: t.trial_id)
    return wall, sum(t.fit_time for t in trials_done), [(t.arch, t.score) for t in trials_done]


def main(argv: list[str] | None = None) -> dict:
    """Parse arguments, run the rounds, print each round, the spreads and the JSON line."""
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds of both loops, alternating which runs first (default 5, "
                             "--quick 2)")
    parser.add_argument("--quick", action="store_true",
                        help="check the script end to end: 3 trials, 1 epoch, 2 rounds (a flag "
                             "given beside it wins)")
    args = parser.parse_args(argv)
    check_arguments(parser, args, {"--trials": 1, "--epochs": 1, "--rounds": 1})
    quick_defaults(parser, args, argv, {"trials": 3, "epochs": 1})
    args.rounds = args.rounds or (2 if args.quick else 5)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    per_round: dict[str, list[float]] = {k: [] for k in (
        "lnas_ratio", "handwritten_ratio", "vs_handwritten", "lnas_ms_per_trial_outside_fit",
        "hand_ms_per_trial_outside_fit", "fit_ratio", "lnas_added_ms_per_trial")}
    with tempfile.TemporaryDirectory() as tmp, quiet_lightning():
        root = Path(tmp)
        handwritten(1, 1, root / "warmup_hand")
        lnas(1, 1, root / "warmup_lnas")
        first = None  # the first loop measured: every other trains its trials to its scores
        for round_ in range(args.rounds):
            order = ("hand", "lnas") if round_ % 2 == 0 else ("lnas", "hand")
            measured = {}
            for name in order:
                fn = handwritten if name == "hand" else lnas
                wall, fit, trials = fn(args.trials, args.epochs, root / f"{name}{round_}")
                measured[name] = (wall, fit)
                print(f"round {round_} {name:5s}: wall {wall:7.2f}s  fit {fit:7.2f}s  "
                      f"outside fit {1000 * (wall - fit) / args.trials:6.1f} ms/trial")
                side = f"{LOOPS[name]}, round {round_}"
                if first is None:
                    first = (side, trials)
                else:  # (was: the architectures alone, not their scores)
                    said = same_trials(first[1], trials, (first[0], side))
            print(f"round {round_}: {said}", flush=True)
            (l_wall, l_fit), (h_wall, h_fit) = measured["lnas"], measured["hand"]
            per_round["lnas_ratio"].append(l_wall / l_fit)
            per_round["handwritten_ratio"].append(h_wall / h_fit)
            per_round["vs_handwritten"].append(l_wall / h_wall)
            per_round["lnas_ms_per_trial_outside_fit"].append(
                1000 * (l_wall - l_fit) / args.trials)
            per_round["hand_ms_per_trial_outside_fit"].append(
                1000 * (h_wall - h_fit) / args.trials)
            # paired: lightning_nas's callbacks run inside its fit timer (was: left out of
            # every figure but the noisy vs_handwritten)
            per_round["fit_ratio"].append(l_fit / h_fit)
            per_round["lnas_added_ms_per_trial"].append(1000 * (l_wall - h_wall) / args.trials)
    print(f"per-round figures, {args.rounds} rounds of {args.trials} trials x "
          f"{args.epochs} epochs per loop:")
    for name, values in per_round.items():
        print("  " + describe(name, values, 1 if "ms" in name else 4))
    result: dict = {"trials": args.trials, "epochs": args.epochs, "rounds": args.rounds}
    for name, values in per_round.items():
        digits = 1 if "ms" in name else 4
        result[name] = spread(values, digits)["median"]
    for name, values in per_round.items():
        result[f"{name}_spread"] = spread(values, 1 if "ms" in name else 4)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

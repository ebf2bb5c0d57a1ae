"""Early stopping of weak trials: the digits example with ``scheduler=none`` and with
``scheduler=asha`` (or another), the same proposed architectures (RandomSearch, same seed),
3 seeds, in one run.

Run:  python benchmarks/multifidelity.py [--scheduler asha] [--budget 20] [--seeds 3]
Last line: JSON with ``epochs_ratio`` (total epochs without / with the scheduler) and
``acc_drop`` (mean best ``val_acc`` without minus with, as a fraction).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lightning_nas import Search  # noqa: E402


def run(scheduler: str, seed: int, budget: int, root: Path, eta: int,
        min_epochs: int) -> dict:
    cfg = yaml.safe_load((ROOT / "examples" / "digits" / "search.yaml").read_text())
    t0 = time.perf_counter()
    result = Search(cfg["model"]["class_path"], cfg["search"]["space"],
                    data=cfg["data"]["class_path"], data_init_args=cfg["data"]["init_args"],
                    trainer=cfg["trainer"], optimizer="RandomSearch", budget=budget,
                    seed=seed, scheduler=scheduler, eta=eta, min_epochs=min_epochs,
                    run_dir=root / f"{scheduler}-{seed}", verbose=False).run()
    return {"epochs": sum(t.epochs or 0 for t in result.trials),
            "best": result.best.score, "wall": time.perf_counter() - t0,
            "archs": sorted(json.dumps(t.arch, sort_keys=True) for t in result.trials)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", default="asha", choices=["asha", "hyperband", "median"])
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--min_epochs", type=int, default=1)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            full = run("none", seed, args.budget, Path(tmp), args.eta, args.min_epochs)
            fast = run(args.scheduler, seed, args.budget, Path(tmp), args.eta, args.min_epochs)
            if full["archs"] != fast["archs"]:
                raise SystemExit("the two searches proposed different architectures")
            rows.append((full, fast))
            print(f"seed {seed}: none {full['epochs']:4d} epochs best {full['best']:.4f} "
                  f"({full['wall']:.0f}s) | {args.scheduler} {fast['epochs']:4d} epochs best "
                  f"{fast['best']:.4f} ({fast['wall']:.0f}s)")
    epochs_none = sum(f["epochs"] for f, _ in rows)
    epochs_fast = sum(s["epochs"] for _, s in rows)
    drop = statistics.mean(f["best"] for f, _ in rows) - statistics.mean(s["best"]
                                                                         for _, s in rows)
    print(json.dumps({
        "scheduler": args.scheduler, "budget": args.budget, "seeds": args.seeds,
        "eta": args.eta, "min_epochs": args.min_epochs,
        "epochs_none": epochs_none, "epochs_scheduler": epochs_fast,
        "epochs_ratio": round(epochs_none / epochs_fast, 3),
        "acc_drop": round(drop, 4),
        "wall_ratio": round(sum(f["wall"] for f, _ in rows) / sum(s["wall"] for _, s in rows), 3),
    }))


if __name__ == "__main__":
    main()

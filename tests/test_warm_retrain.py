"""A warm start's re-trained architectures and a log-scale float: one architecture is one
trial, however it reaches the optimizer (a prior's value, a re-trained trial's, a later
ask's). Real stores, real nevergrad; an objective (nothing trains)."""

from __future__ import annotations

import math
import zlib
from pathlib import Path

from lightning_nas import Search

A = {"width": {"int": [8, 64], "log": True}, "depth": {"choice": [1, 2, 3]}}
B = {"width": {"int": [8, 64], "log": True}, "depth": {"choice": [1, 2]},
     "lr": {"float": [1e-3, 3e-2], "log": True}}


def _score(arch: dict) -> dict:
    """Best near width 30, depth 1, lr 0.01, with a little noise."""
    noise = zlib.crc32(repr(sorted(arch.items())).encode()) % 100 / 1000
    return {"loss": abs(math.log(arch["width"] / 30)) + arch["depth"] * 0.1
            + abs(math.log(arch.get("lr", 0.01) / 0.01)) + noise}


def _search(run_dir: Path, space: dict, budget: int, **kw) -> Search:
    return Search(None, space, objective=_score, monitor="loss", mode="min", budget=budget,
                  seed=0, run_dir=run_dir, verbose=False, **kw)


def _same(a: dict, b: dict) -> bool:
    """The same architecture but for a float's last digits."""
    return all(math.isclose(a[k], b[k], rel_tol=1e-9) if isinstance(a[k], float)
               else a[k] == b[k] for k in a)


def test_an_architecture_is_trained_once_whatever_way_its_float_came(tmp_path):
    # was: trials 5 and 7 both width=25 depth=2, lr 0.009999999999999998 and
    # 0.009999999999999978: the filled lr=0.01 came back from nevergrad an ulp off, and again
    # when set again, so the default's mutation of a re-trained trial was no repeat of the
    # one of a prior and trained the same architecture twice, both counted in the budget
    _search(tmp_path / "a", A, 6).run()
    result = _search(tmp_path / "b", B, 8, warm_start=[str(tmp_path / "a")],
                     warm_start_fill={"lr": 0.01}, retrain_top_k=2).run()
    archs = [t.arch for t in result.trials]
    assert len(archs) == 8
    twins = [(i + 1, j + 1) for i in range(len(archs)) for j in range(i)
             if _same(archs[i], archs[j])]
    assert twins == [], [archs[i - 1] for i, _ in twins]

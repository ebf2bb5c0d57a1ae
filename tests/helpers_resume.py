"""What the tests of a resumed search (``tests/test_resume*.py``) share: a small mixed
space, an objective of it, and an ``objective=`` search over it (no training: a resume
compares and replays the same as a search of Trainer fits does).

Example:
    >>> score({"a": 50, "b": 0.5, "c": 3})
    {'score': 2.5}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning_nas import Search

__all__ = ["SPACE", "objective_search", "score"]

SPACE = {"a": {"int": [0, 50]}, "b": {"float": [0.0, 1.0]}, "c": {"choice": [1, 2, 3]}}


def score(arch: dict) -> dict:
    """The objective of ``SPACE``'s architectures: ``{"score": ...}`` (maximised)."""
    return {"score": arch["a"] / 50 + arch["b"] + arch["c"] / 3}


def objective_search(run_dir: Path, space: dict = SPACE, **kw: Any) -> Search:
    """An ``objective=`` search (``score`` unless given) of ``space`` in ``run_dir``, budget
    3 and seed 0 unless given, quiet."""
    kw = {"budget": 3, "seed": 0, "objective": score, "verbose": False, **kw}
    return Search(None, space, monitor="score", mode="max", run_dir=run_dir, **kw)

"""What the warm-start tests share (``tests/test_warm_*.py`` of an objective search): the
space of their runs, its deterministic score, a search of it (``search``), and a way to
stop a search after its ``n``-th trial (``stop_after``, raising ``Stop``) to resume it.

Example:
    >>> score({"a": 1, "b": 2, "c": 8})["acc"] > score({"a": 0, "b": 0, "c": 1})["acc"]
    True
    >>> search(tmp_path / "run", 10, on_trial_end=stop_after(4)).run()  # doctest: +SKIP
"""

from __future__ import annotations

import zlib
from pathlib import Path

from lightning_nas import Search

__all__ = ["SPACE", "Stop", "score", "search", "stop_after"]


SPACE = {"a": {"choice": [0, 1, 2, 3]}, "b": {"choice": [0, 1, 2, 3]},
         "c": {"ordered": [1, 2, 4, 8]}}


def score(arch: dict) -> dict:
    """A deterministic score with structure (a, b matter most) and a little noise."""
    noise = zlib.crc32(repr(sorted(arch.items())).encode()) % 100 / 1000
    return {"acc": arch["a"] * 0.3 + (arch["b"] == 2) * 0.5 + arch.get("c", 1) / 80 + noise}


def search(run_dir: Path, budget: int, space: dict = SPACE, **kw) -> Search:
    """A quiet ``Search`` of ``space`` for ``score`` (seed 3) in ``run_dir``; ``kw`` more
    settings (``warm_start``, ``optimizer``, another ``seed`` or ``objective``)."""
    kw.setdefault("verbose", False)
    kw.setdefault("objective", score)
    return Search(None, space, monitor="acc", mode="max", budget=budget,
                  seed=kw.pop("seed", 3), run_dir=run_dir, **kw)


class Stop(Exception):
    """Raised by ``stop_after``'s callback: the search stops there, to be resumed."""


def stop_after(n: int):
    """An ``on_trial_end`` callback that raises ``Stop`` at the end of the ``n``-th trial."""
    seen = []

    def on_trial_end(result):
        seen.append(result)
        if len(seen) == n:
            raise Stop

    return on_trial_end

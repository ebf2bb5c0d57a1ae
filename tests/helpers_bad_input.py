"""Changes of a config for the bad-input audit (``tests/test_bad_input_audit*.py``): set,
rename or drop the key at a dotted path, and the lists the errors give.

Example:
    >>> cfg = {"search": {"budget": 3}}
    >>> rename("search.budget", "budgt")(cfg)
    >>> cfg
    {'search': {'budgt': 3}}
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["EXAMPLES", "SEARCH_KEYS", "TRAINER_KEYS", "drop", "finished_digits_run", "put",
           "rename", "space_key"]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: the valid keys a misspelt search setting's error lists
SEARCH_KEYS = ("valid keys: space, optimizer, budget, time_limit, monitor, mode, objectives, "
               "seed, max_failures, keep_top_k, num_workers, executor, devices_per_trial, "
               "threads_per_trial, max_trials_per_worker, ray, scheduler, min_epochs, "
               "max_epochs, eta, max_params, max_flops, constraints, warm_start, "
               "retrain_top_k, warm_start_fill, run_dir, verbose, progress")
#: the start of the valid arguments a misspelt Trainer argument's error lists
TRAINER_KEYS = "valid arguments: accelerator, accumulate_grad_batches, barebones, benchmark"

Change = Callable[[dict[str, Any]], None]


def _parent(cfg: dict[str, Any], path: str, make: bool) -> tuple[dict[str, Any], str]:
    *parents, last = path.split(".")
    node = cfg
    for part in parents:
        node = node.setdefault(part, {}) if make else node[part]
    return node, last


def put(path: str, value: Any) -> Change:
    """Set ``path`` (dotted; its sections made where missing) to ``value``."""
    def change(cfg: dict[str, Any]) -> None:
        node, last = _parent(cfg, path, make=True)
        node[last] = value
    return change


def rename(path: str, new: str) -> Change:
    """Rename the key at ``path`` to ``new`` (a misspelling), keeping its value."""
    def change(cfg: dict[str, Any]) -> None:
        node, last = _parent(cfg, path, make=False)
        node[new] = node.pop(last)
    return change


def drop(path: str) -> Change:
    """Remove the key at ``path``."""
    def change(cfg: dict[str, Any]) -> None:
        node, last = _parent(cfg, path, make=False)
        node.pop(last)
    return change


def space_key(key: str, spec: Any) -> Change:
    """Set the space entry ``key`` (a dotted one, ``trainer.max_epochs``, as one key)."""
    def change(cfg: dict[str, Any]) -> None:
        cfg["search"]["space"][key] = spec
    return change


def finished_digits_run(run_dir: Path) -> Path:
    """Run the digits example's search into ``run_dir`` (one trial of 2 short epochs) and
    return its ``search.db``."""
    from lightning_nas.cli import main

    argv = ["search", str(EXAMPLES / "digits" / "search.yaml"), "--search.budget=1",
            "--trainer.max_epochs=2", "--trainer.limit_train_batches=2",
            "--search.verbose=false", f"--search.run_dir={run_dir}"]
    assert main(argv) == 0
    return run_dir / "search.db"

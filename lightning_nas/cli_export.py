"""``lightning-nas export RUN_DIR [--trial N]``: (re)write ``best.yaml``, ``best.ckpt`` and
``best_config.yaml``, print ``best.yaml``, and say in one line on stderr when the exported
trial has no checkpoint to copy (``no_checkpoint_note``), and of a multi-objective run's
best which point of its Pareto front it is (``front_note``).

Example:
    lightning-nas export runs/digits --trial 3
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning_nas.config.yamlio import dump_yaml

__all__ = ["cmd_export", "front_note", "no_checkpoint_note"]


def no_checkpoint_note(run_dir: Path, exported: Mapping[str, Any], before: int | None,
                       why: str = "was not kept (not among search.keep_top_k)") -> str:
    """The line ``export`` says of a trial exported with ``checkpoint: null`` (its
    ``best.ckpt`` not kept, or moved or deleted since): why, said after "its checkpoint"
    (``search.checkpoints.no_checkpoint_reason``: what the run keeps), which
    ``best.ckpt`` it took out of the folder (``before``: the trial whose ``best.ckpt`` was
    there, None: none) and what trains it; ``""`` where it has one, or no model (an
    ``objective=`` search, a Hydra sweep).

    Example:
        >>> note = no_checkpoint_note(Path("runs/a"), {"trial": 2, "checkpoint": None,
        ...                           "model": {"class_path": "m.Net"}}, 1)
        >>> for part in note.split(": ", 1)[1].split("; "): print(part)
        its checkpoint was not kept (not among search.keep_top_k), so runs/a/best.ckpt (trial \
1's) was removed
        lightning-nas finetune runs/a --from_scratch trains it (from Python: \
lightning_nas.finetune('runs/a', from_checkpoint=False))
    """
    if exported.get("checkpoint") is not None or exported.get("model") is None:
        return ""
    removed = (f", so {run_dir / 'best.ckpt'} (trial {before}'s) was removed"
               if before is not None else "")
    folder = shlex.quote(str(run_dir))
    config = run_dir / "best_config.yaml"
    then = (f", or lightning-nas fit {shlex.quote(str(config))}" if config.is_file() else
            f" (from Python: lightning_nas.finetune({str(run_dir)!r}, from_checkpoint=False))")
    return (f"no best.ckpt for trial {exported['trial']}: its checkpoint {why}"
            f"{removed}; lightning-nas finetune {folder} --from_scratch trains it{then}")


def front_note(run_dir: Path, exported: Mapping[str, Any]) -> str:
    """What ``export`` of a multi-objective run's best says of its choice: the trial is the
    best by the first objective, one point of the Pareto front, which it names (as the
    search's summary does) with how to export another; ``""`` for a run of one objective
    or a front of one point (was: nothing said, ``best.yaml`` naming the monitor alone).

    Example:
        >>> import tempfile
        >>> front_note(Path(tempfile.mkdtemp()), {"trial": 1})  # no search.db: nothing
        ''
    """
    from lightning_nas.search.objectives import front_rows
    from lightning_nas.search.summary import front_line
    from lightning_nas.store import open_run

    if not (run_dir / "search.db").is_file():
        return ""
    with open_run(run_dir) as store:  # front_rows: none for a run of one objective
        if len(front_rows(store)) < 2:
            return ""
        first, line = next(iter(store.objectives() or {})), front_line(store, run_dir)
    return (f"trial {exported['trial']}, the best by {first} (the first objective; ties go "
            f"by the later ones in order), one of the {line.rstrip()}")


def _held_trial(run_dir: Path) -> int | None:
    """The trial whose weights ``run_dir``'s ``best.ckpt`` holds: as it says itself
    (``exported.read_held``), else (an older version's) as its ``best.yaml`` says (was:
    ``best.yaml`` alone, which another export may have rewritten beside it); None without
    a ``best.ckpt``."""
    from lightning_nas.export import load_best
    from lightning_nas.search.exported import read_held

    if not (run_dir / "best.ckpt").is_file():
        return None
    held = read_held(run_dir / "best.ckpt")
    if held is not None:
        return held["trial"]
    try:  # the trial whose best.ckpt is there now, as its best.yaml says
        return load_best(run_dir).get("trial") if (run_dir / "best.yaml").is_file() else None
    except Exception:  # noqa: BLE001 - a damaged best.yaml: export writes it anew
        return None


def cmd_export(args: argparse.Namespace) -> int:
    """Run ``lightning-nas export`` (``args.run_dir``, ``args.trial``); the exit status."""
    from lightning_nas.export import export_best
    from lightning_nas.run_folder import user_path
    from lightning_nas.search.checkpoints import no_checkpoint_reason
    from lightning_nas.store import open_run

    run_dir = user_path(args.run_dir)
    before = _held_trial(run_dir)

    best = export_best(args.run_dir, trial_id=args.trial)
    print(dump_yaml(best), end="")
    if args.trial is None and (note := front_note(run_dir, best)):
        print(f"lightning-nas export: {note}", file=sys.stderr)
    if best.get("checkpoint") is None:
        with open_run(run_dir) as store:
            why = no_checkpoint_reason(store, best["trial"])
        gone = before if before is not None and not (run_dir / "best.ckpt").exists() else None
        if note := no_checkpoint_note(run_dir, best, gone, why):
            print(f"lightning-nas export: {note}", file=sys.stderr)
    return 0

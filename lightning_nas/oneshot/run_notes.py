"""``best_arch.yaml``'s ``notes``: what a one-shot run says of its scores beyond them, as a
search's ``best.yaml`` has it (a list of texts, absent when there is nothing to say): a
DDP validation split its ranks do not divide (``UnevenSplitCheck.met``), whose repeats the
subnets' scores and the fine-tune's metrics count.

The exporters write the search's notes with the file, in one write (``met_notes``);
``run_oneshot`` adds those of the fine-tune (whose Trainer may meet a split the search's did
not) before it writes ``finetune.json``. No torch, no Lightning.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = (run / "best_arch.yaml").write_text("arch: {w: 4}\\nscore: 0.5\\n")
    >>> add_notes(run, ["101 samples on 2 ranks"]), add_notes(run, ["101 samples on 2 ranks"])
    (True, False)
    >>> print((run / "best_arch.yaml").read_text(), end="")
    arch:
      w: 4
    score: 0.5
    notes:
    - 101 samples on 2 ranks
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lightning_nas.config.yamlio import dump_yaml, load_yaml
from lightning_nas.oneshot.exported import write_outputs

__all__ = ["add_notes"]


def add_notes(run_dir: Path, notes: Sequence[str]) -> bool:
    """Add ``notes`` that ``run_dir/best_arch.yaml`` does not hold yet under its ``notes``
    key (after those it holds; its other keys as they were), written whole in place
    (``write_outputs``). Rank 0 calls it.

    Args:
        run_dir: the run folder.
        notes: the texts (none: nothing written).

    Returns:
        Whether the file was written (not: no new note, or no ``best_arch.yaml``: a run
        whose search wrote none).
    """
    path = run_dir / "best_arch.yaml"
    if not notes or not path.is_file():
        return False
    best = load_yaml(path.read_text(), str(path)) or {}
    held = list(best.get("notes") or [])
    new = [text for text in dict.fromkeys(notes) if text not in held]
    if not new:
        return False
    text = dump_yaml({**best, "notes": held + new})
    write_outputs(run_dir, {"best_arch.yaml": lambda out: out.write_text(text)})
    return True

"""Which rank a DDP trial failed for, and where: read from the answers of a group's ranks
(``ranks.RankGroup``) or from the files the ranks of a trial of fresh processes left beside
its spec (``rank<R>.died``, ``rank<R>.error``, ``rank<R>.where``; ``ranks.execute_spec`` and
``ranks.execute_fresh`` write them). The rank to blame is the lowest that died, else the
lowest that failed with an error of its own, not a peer's symptom (``Connection closed by
peer``): its peers fail because it failed.

Example:
    >>> blame({}, {0: "RuntimeError: Connection closed by peer", 1: "ValueError: x"})
    'rank 1 failed the trial: ValueError: x'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["blame", "blamed_where", "first_line", "fresh_failure", "peer_symptom"]

#: what a rank's error says when a peer failed or died first (gloo): not the cause
_PEER_SYMPTOMS = ("closed by peer", "reset by peer")


def peer_symptom(error: str) -> bool:
    """Whether ``error`` (a rank's error text) is what gloo says when a peer rank failed or
    died first (``Connection closed by peer``): not the cause, its echo.

    Example:
        >>> peer_symptom("RuntimeError: [pair.cc:553] Connection closed by peer [::1]:1")
        True
    """
    return any(symptom in error for symptom in _PEER_SYMPTOMS)


def blame(died: Mapping[int, str], failed: Mapping[int, str]) -> str | None:
    """The rank a trial failed for, and why, whatever order the answers came in: the lowest
    that died (its peers fail because it died), else the lowest that failed with an error
    of its own, not a peer's symptom (``Connection closed by peer``), else the lowest that
    failed; None when none did.

    Example:
        >>> blame({1: "exit code 3"}, {0: "RuntimeError: Connection reset by peer"})
        'rank 1 died (exit code 3)'
    """
    if died:
        return f"rank {min(died)} died ({died[min(died)]})"
    if not failed:
        return None
    own = [rank for rank, error in failed.items() if not peer_symptom(error)]
    rank = min(own or failed)
    return f"rank {rank} failed the trial" + (f": {failed[rank]}" if failed[rank] else "")


def fresh_failure(trial_dir: Path) -> str | None:
    """Which rank a trial of fresh processes failed for, as a group names it (``blame``):
    from the ``rank<R>.died`` (how it ended: ``exit code 3``) and ``rank<R>.error`` files
    of its ranks other than 0 (``runner``), and rank 0's ``result.json``; None when no rank
    failed or died. Rank 0 that failed alone is ``rank 0 failed the trial: ...`` too (was:
    None, its error stored without the name a group's gives it).

    Example:
        >>> fresh_failure(Path("no-such-trial")) is None
        True
    """
    died, failed = (
        {int(path.stem[len("rank"):]): first_line(path.read_text(errors="replace"))
         for path in Path(trial_dir).glob(f"rank*.{kind}") if path.stem[4:].isdigit()}
        for kind in ("died", "error"))
    result = Path(trial_dir) / "result.json"
    if result.exists():
        data = json.loads(result.read_text())
        if data.get("status") == "FAILED":
            failed[0] = first_line(data.get("error"))
    return blame(died, failed)


def blamed_where(trial_dir: Path, failure: str) -> dict[str, Any] | None:
    """Where the rank that ``failure`` blames (``rank 1 failed the trial: ...``) failed, as
    it wrote it (``rank<R>.where``: ``failed_in`` and ``build_failed``, ``TrialResult``'s),
    for a rank other than 0; None for rank 0 (its ``result.json`` says it) or a rank that
    failed and wrote nothing. Rank 0 may have reached its first training step while rank 1
    failed in its ``train_dataloader``: the trial failed where the blamed rank did. A rank
    that died (``rank 1 died (exit code 3)``: ``os._exit``, a signal) wrote nothing: the
    trial failed on it, where is unknown (was: where rank 0 failed once its peer was gone,
    ``in training`` or ``before training started``, as if the dead rank had said so).

    Example:
        >>> blamed_where(Path("no-such-trial"), "rank 1 died (exit code 3)")["failed_in"]
        'on rank 1, which died (exit code 3) without saying where'
    """
    died = re.match(r"rank (\d+) died \((.*)\)$", failure)
    blamed = died or re.match(r"rank (\d+) failed the trial", failure)
    if blamed is None or (died is None and blamed.group(1) == "0"):
        return None
    path = Path(trial_dir) / f"rank{blamed.group(1)}.where"
    if path.exists():
        return json.loads(path.read_text())
    if died is None:
        return None
    return {"failed_in": f"on rank {died.group(1)}, which died ({died.group(2)}) without "
                         f"saying where", "build_failed": False}


def first_line(error: str | None) -> str:
    """The first line of a trial's error (``RuntimeError: boom``), cut in its middle above
    600 characters (its start and its end, where the advice is, kept); an exception whose
    message starts on a new line gets that message's first line.

    Example:
        >>> first_line("ProcessRaisedException: \\n\\n-- Process 0 failed:\\nTraceback")
        'ProcessRaisedException: -- Process 0 failed:'
    """
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    line = lines[0] if lines else ""
    if len(lines) > 1 and re.fullmatch(r"[\w.]+:", line):  # "Name: " then "\n..."
        line = f"{line} {lines[1]}"
    # (was: its first 300: a 302-character BatchSettingError of 2 DDP ranks lost its advice)
    return line if len(line) <= 600 else f"{line[:395]} ... {line[-200:]}"

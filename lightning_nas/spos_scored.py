"""What a single-path one-shot (SPOS) search scored, in words: ``scored_text`` of its
``history.json`` (``[{"epoch", "arch", "score"}]``), which ``lightning-nas oneshot`` prints
at its end (``oneshot/run.py``) and ``lightning-nas show`` / ``report`` of its folder head
their leaderboard with (``report/oneshot.py``).

Plain text, no imports of the training stack: the read-only commands use it too.

Example:
    >>> scored_text([{"epoch": 5, "arch": {}, "score": 0.5}])
    '1 subnet scored after 5 epochs'
"""

from __future__ import annotations

from typing import Any

from lightning_nas.wording import counted

__all__ = ["scored_text"]


def scored_text(history: list[dict[str, Any]], drawn: int | None = None) -> str:
    """What an SPOS history scored, said of its last search (the one that chose the
    winner) and when the earlier ones ran; ``""`` for an empty history. With ``drawn``
    (the run's ``num_candidates``) above the subnets its last search scored, both are said:
    a subnet drawn twice is scored once (was: "8 subnets scored" for ``num_candidates:
    10``, which read as a shortfall).

    Example:
        >>> history = [{"epoch": e, "arch": {}, "score": 0.5} for e in (1, 1, 2, 2)]
        >>> scored_text(history)
        '2 subnets scored after 2 epochs (an earlier search after 1 epoch)'
        >>> scored_text(history, drawn=3)[:50]
        '3 candidates drawn, 2 distinct subnets scored afte'
    """
    epochs = sorted({h["epoch"] for h in history})
    if not epochs:
        return ""
    scored = sum(h["epoch"] == epochs[-1] for h in history)
    subnets = counted(scored, "subnet") if drawn is None or drawn <= scored else \
        f"{drawn} candidates drawn, {counted(scored, 'distinct subnet')}"
    text = f"{subnets} scored after {counted(epochs[-1], 'epoch')}"
    if len(epochs) == 2:  # a history's epoch counts the epochs trained (from 1)
        text += f" (an earlier search after {counted(epochs[0], 'epoch')})"
    elif len(epochs) > 2:
        text += f" (earlier searches after {', '.join(map(str, epochs[:-1]))} epochs)"
    return text

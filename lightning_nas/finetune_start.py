"""What a fine-tune from a checkpoint says of the score it started from: the start as the
search scored it and as the fine-tune validated it before training (``start_text``), and a
warning when its best epoch is worse (``warn_if_below_start``).

By default a fine-tune loads the checkpoint's weights only: its optimizer (Adam's moments)
and its LR scheduler start afresh, at the initial learning rate, so a learning rate that
suited the trial's first epochs can move the weights away from where they scored best
(``optimizer_state="restore"`` continues them instead: ``search/optimizer_state.py``). Its
``best.ckpt`` stays the best epoch of the fine-tune (what its printed score says); the
checkpoint it started from is the run's ``best.ckpt``, which the fine-tune leaves as it was.

Example:
    >>> from lightning_nas.results import TrialResult, TrialStatus
    >>> best = {"trial": 2, "score": 0.8733, "monitor": "val_acc", "mode": "max"}
    >>> tuned = TrialResult(2, {}, TrialStatus.COMPLETED, 0.8667, start_metrics={"val_acc": 0.8733})
    >>> start_text(best, tuned)
    "trial 2's best.ckpt (val_acc=0.8733 in the search; validated before training: val_acc=0.8733)"
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning_nas.numeric import is_number
from lightning_nas.results import TrialResult, TrialStatus, format_score
from lightning_nas.user_warnings import warn_user

__all__ = ["lr_hint", "start_score", "start_text", "warn_if_below_start"]


def start_score(best: Mapping[str, Any], result: TrialResult) -> tuple[float | None, str]:
    """The score of the weights a fine-tune started from and where it comes from: its
    validation before training (``result.start_metrics``), else the search's stored score
    of that checkpoint (``best``: ``best.yaml``'s content)."""
    start = result.start_metrics.get(best["monitor"])
    if start is not None:
        return start, f"trial {best['trial']}'s best.ckpt, validated before training"
    return best.get("score"), f"trial {best['trial']}'s best.ckpt, as the search scored it"


def start_text(best: Mapping[str, Any], result: TrialResult) -> str:
    """The start as ``lightning-nas finetune`` prints it: the checkpoint, its score in the
    search and, where the fine-tune validated it before training, that score too."""
    monitor = best["monitor"]
    validated = result.start_metrics.get(monitor)
    again = ("" if validated is None else
             f"; validated before training: {monitor}={format_score(validated)}")
    return (f"trial {best['trial']}'s best.ckpt ({monitor}={format_score(best['score'])} in "
            f"the search{again})")


def lr_hint(args: Mapping[str, Any]) -> str:
    """What the warning suggests for the learning rate: a tenth of the model's ``lr`` (or
    ``learning_rate``) argument as the fine-tune ran it (``args``: its init args and
    architecture), else the argument to set.

    Example:
        >>> lr_hint({"width": 8, "lr": 0.02})
        "a lower learning rate (--model.lr=0.002; from Python model_init_args={'lr': 0.002})"
    """
    for key in ("lr", "learning_rate"):
        value = args.get(key, args.get(f"model.{key}"))
        if is_number(value) and value > 0:
            lower = float(f"{value / 10:.3g}")
            return (f"a lower learning rate (--model.{key}={lower:g}; from Python "
                    f"model_init_args={{{key!r}: {lower:g}}})")
    return ("a lower learning rate (the model's argument: --model.NAME=VALUE; from Python "
            "model_init_args={NAME: VALUE})")


def warn_if_below_start(best: Mapping[str, Any], result: TrialResult, weights: str | None,
                        args: Mapping[str, Any], restored: bool = False,
                        folder: str | os.PathLike | None = None) -> None:
    """Warn when a completed fine-tune from ``weights`` (a checkpoint; None: fresh weights,
    nothing said) ended with its best epoch worse than its start (``start_score``), saying
    which ``best.ckpt`` is which and what to try (``args``: the model's arguments as the
    fine-tune ran them, for ``lr_hint``; ``restored``: it continued the checkpoint's
    optimizer state, ``optimizer_state='restore'``; ``folder``: the fine-tune's folder as
    the user gave it, its checkpoint named under it as ``weights`` is under the run's)."""
    start, source = start_score(best, result)
    if (weights is None or result.status is not TrialStatus.COMPLETED or result.score is None
            or start is None):
        return
    monitor = best["monitor"]
    if not (result.score < start if best.get("mode", "max") == "max" else result.score > start):
        return
    warn_user(
        f"the fine-tune's best {monitor}={format_score(result.score)} (epoch {result.epoch}) "
        f"is worse than its start's, {monitor}={format_score(start)} ({source}): "
        f"{_as_given(result.checkpoint, folder)} is the fine-tune's best epoch; {weights}, "
        f"which it started from, is kept as it was. {_why(args, restored)}, more epochs "
        f"(--max_epochs N; from Python max_epochs=N), or fresh weights (--from_scratch; from "
        f"Python from_checkpoint=False)")


def _as_given(path: str | None, folder: str | os.PathLike | None) -> str | None:
    """``path`` (Lightning's checkpoint path, resolved) under ``folder`` as the user gave it
    (was: absolute beside the run's relative ``best.ckpt``); as it is outside ``folder``."""
    if path is None or folder is None:
        return path
    try:
        return str(Path(folder) / Path(path).relative_to(Path(folder).resolve()))
    except ValueError:
        return path


def _why(args: Mapping[str, Any], restored: bool) -> str:
    """What the warning says of the fine-tune's optimizer, and the first things to try."""
    if restored:
        return (f"It continued the checkpoint's optimizer and LR scheduler state, and the "
                f"search's score is the best of the trial's epochs, which later epochs may "
                f"not reach again; try a fresh optimizer (--optimizer_state fresh; from Python "
                f"optimizer_state='fresh') at {lr_hint(args)}")
    return (f"A fine-tune loads the weights only: its optimizer and LR scheduler start "
            f"afresh, at the initial learning rate (the default); try continuing the checkpoint's "
            f"(--optimizer_state restore; from Python optimizer_state='restore'), "
            f"{lr_hint(args)}")

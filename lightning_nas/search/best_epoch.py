"""Which validation of a trial is its best epoch: the best on the monitor (the first
objective); of validations tied on it, the best on the next objectives in order (a search's
``tie_break``: the later objectives a trial logs, with their modes), then the earlier. The
stored ``metrics`` and ``epoch`` (``TrialReporter.best``) and the trial's ``best.ckpt``
(``TrialCheckpoint``) follow this one rule, so they are of the same validation.

Example:
    >>> history = [{"epoch": 0, "metrics": {"acc": 1.0, "loss": 0.3}},
    ...            {"epoch": 1, "metrics": {"acc": 1.0, "loss": 0.2}}]
    >>> best_entry(history, "acc", "max", (("loss", "min"),))["epoch"]
    1
    >>> best_entry(history, "acc", "max")["epoch"]  # one objective: the earlier
    0

A fit or fine-tune of a search's architecture keeps its best epoch by the same rule: the
search's ``tie_break`` (``tie_break_of`` its objectives) reaches ``lightning-nas finetune``
from the run's store, and ``lightning-nas fit`` from ``best_config.yaml``'s ``# lightning-nas
fit:`` line as ``tie_break=val_loss:min`` (``tie_break_text`` / ``parse_tie_break``), each
metric name there (the monitor's too) with ``%``, ``,``, white space and control characters
written as ``%XX`` (``line_name`` / ``read_name``: was: as is, so that a comma or a space in
a name broke the line it was read back from).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from lightning_nas.errors import ConfigError
from lightning_nas.search.objectives import COSTS

__all__ = ["best_entry", "breaks_tie", "line_name", "parse_tie_break", "read_name",
           "tie_break_of", "tie_break_text"]

#: what a metric name cannot hold as is on the ``# lightning-nas fit:`` line: the escape
#: itself, the separator of ``tie_break``'s items, and what ends a value or the line
_UNSAFE = re.compile(r"[%,\s\x00-\x1f\x7f]")


def _loss(metrics: Mapping[str, Any], name: str, mode: str) -> float:
    """``name``'s value as a loss (lower is better); ``inf`` where it is missing or NaN."""
    value = float(metrics.get(name, math.nan))
    if math.isnan(value):
        return math.inf
    return -value if mode == "max" else value


def best_entry(history: Sequence[dict[str, Any]], monitor: str, mode: str,
               tie_break: Sequence[tuple[str, str]] = ()) -> dict[str, Any] | None:
    """The entry of ``history`` (``{"epoch", "metrics"}`` per validation) whose finite
    ``monitor`` is best, ties broken by ``tie_break`` (``(name, mode)`` in order), then the
    earlier entry; None where no entry holds a finite monitored value."""
    finite = [h for h in history if math.isfinite(h["metrics"].get(monitor, math.nan))]
    if not finite:
        return None
    return min(finite, key=lambda h: (_loss(h["metrics"], monitor, mode),
                                      *(_loss(h["metrics"], n, m) for n, m in tie_break)))


def breaks_tie(entry: Mapping[str, Any], best: Mapping[str, Any] | None,
               tie_break: Sequence[tuple[str, str]]) -> bool | None:
    """Whether ``entry``, tied with ``best`` on the monitor, is better on ``tie_break`` (the
    first objective in order that tells them apart decides; none: the earlier ``best``
    stays); None where ``entry`` lacks a value it needs yet (one training logs per epoch,
    known at the epoch's end).

    Example:
        >>> breaks_tie({"metrics": {"loss": 0.2}}, {"metrics": {"loss": 0.3}},
        ...            (("loss", "min"),))
        True
    """
    if best is None:
        return False
    for name, mode in tie_break:
        if name not in entry["metrics"]:
            return None
        mine, theirs = _loss(entry["metrics"], name, mode), _loss(best["metrics"], name, mode)
        if mine != theirs:
            return mine < theirs
    return False


def tie_break_of(objectives: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """The ``tie_break`` of a search's ``objectives`` (``{name: mode}``, the monitor
    first): the later ones with their modes, but the counted costs (``params``, ``flops``:
    one value per trial, the same at every epoch).

    Example:
        >>> tie_break_of({"val_acc": "max", "params": "min", "val_loss": "min"})
        (('val_loss', 'min'),)
    """
    return tuple((name, mode) for name, mode in list((objectives or {}).items())[1:]
                 if name not in COSTS)


def line_name(name: str) -> str:
    """Metric ``name`` as the ``# lightning-nas fit:`` line writes it: ``%``, ``,``, white
    space and control characters as ``%XX`` (their UTF-8 bytes), the rest as is.

    Example:
        >>> line_name("val_acc"), line_name("val f1,macro")
        ('val_acc', 'val%20f1%2Cmacro')
    """
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode()), name)


def read_name(text: str) -> str:
    """The metric name that ``line_name`` wrote as ``text`` (one an older version wrote
    as is, without a ``%XX`` in it, reads as it is).

    Example:
        >>> read_name("val%20f1%2Cmacro"), read_name("val_acc")
        ('val f1,macro', 'val_acc')
    """
    return unquote(text)


def tie_break_text(tie_break: Sequence[tuple[str, str]]) -> str:
    """``tie_break`` as ``best_config.yaml``'s ``# lightning-nas fit:`` line writes it.

    Example:
        >>> tie_break_text((("val_loss", "min"), ("train_loss", "min")))
        'val_loss:min,train_loss:min'
    """
    return ",".join(f"{line_name(name)}:{mode}" for name, mode in tie_break)


def parse_tie_break(text: str) -> tuple[tuple[str, str], ...]:
    """The ``tie_break`` that ``tie_break_text`` wrote as ``text``.

    Raises:
        ConfigError: naming the item that is not ``NAME:max`` or ``NAME:min``.

    Example:
        >>> parse_tie_break("val_loss:min,val_f1:max")
        (('val_loss', 'min'), ('val_f1', 'max'))
    """
    out = []
    for item in filter(None, text.split(",")):
        name, _, mode = item.rpartition(":")
        if not name or mode not in ("max", "min"):
            raise ConfigError(f"tie_break={text} (of a '# lightning-nas fit:' line): each "
                              f"comma-separated item is NAME:max or NAME:min, got {item!r}")
        out.append((read_name(name), mode))
    return tuple(out)

"""Leaderboards of a run: rows, a text table, CSV and JSON (``lightning-nas show``); the
summary and the lines above the table are ``report/run_summary.py``'s.

Reads the store only: no torch, no Lightning.

Example:
    >>> print(format_table([{"rank": 1, "score": 0.97}]))
    rank  score
    1     0.9700
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from lightning_nas.arch import format_arch
from lightning_nas.errors import ConfigError
from lightning_nas.ranks_record import known_ranks
from lightning_nas.report.run_summary import counts_line, note_lines, summary, warm_start_lines
from lightning_nas.results import TrialStatus, format_score
from lightning_nas.search.objectives import COSTS, front_rows
from lightning_nas.split_record import recorded_uneven
from lightning_nas.store import RunStore
from lightning_nas.validation_limit import trial_limited, trial_settings
from lightning_nas.wording import counted

__all__ = ["STATUSES", "cut_line", "error_line", "failure_rows", "format_csv", "format_table",
           "json_safe", "leaderboard_rows", "render", "trial_notes", "trial_rows"]

#: what ``lightning-nas show --status`` lists: the leaderboard, or the trials of one status
STATUSES = ("completed", "failed", "rejected", "pruned", "paused", "running", "all")


#: columns of the rows (``notes``: the CSV's and JSON's, ``_with_notes``); an objective of
#: the same name is shown as ``NAME (objective)`` (was, for ``notes``: its values replaced)
_COLUMNS = ("rank", "trial", "score", "status", "epochs", "best_epoch", "time_s", "error",
            "arch", "notes")


def _objective_columns(store: RunStore) -> dict[str, str]:
    """Column name -> objective, for each objective after the first (the monitor, shown as
    ``score``); empty with one objective."""
    names = list(store.objectives() or {})[1:]
    return {f"{n} (objective)" if n in _COLUMNS else n: n for n in names}


def leaderboard_rows(store: RunStore, k: int | None = 10, digits: int | None = 2
                     ) -> list[dict[str, Any]]:
    """The best ``k`` COMPLETED trials as flat rows, best first; a run with several
    objectives gets a column for each objective after the monitor.

    Args:
        store: The run.
        k: How many rows at most (None: all).
        digits: The decimals ``time_s`` is rounded to (JSON, CSV); None keeps the stored
            value, for a table that rounds it once to one decimal (rounded twice, 1.5486 s
            was 1.55 then 1.6, where the trial's progress line said 1.5).
    """
    mode = store.get_meta("mode", "max")
    columns = _objective_columns(store)
    rows = []
    for rank, t in enumerate(store.leaderboard(mode, k=k), start=1):
        took = t.took  # a paused and promoted trial's fits summed, not the wait between
        rows.append({"rank": rank, "trial": t.trial_id, "score": t.score,
                     **{c: t.metrics.get(n) for c, n in columns.items()},
                     "status": t.status.value, "epochs": t.epochs,
                     "best_epoch": t.epoch,
                     "time_s": took if took is None or digits is None else round(took, digits),
                     "arch": t.arch})
    return rows


def error_line(error: str | None) -> str | None:
    """The first non-empty line of a trial's error text (the cause: ``Type: message``),
    whole."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    return lines[0] if lines else None


def trial_rows(store: RunStore, status: str = "all", k: int | None = None
               ) -> list[dict[str, Any]]:
    """Trials of ``status`` (``all``: every trial) in id order, with their error's first line
    and ``best_epoch``, the epoch their score and metrics are of (a pruned or paused trial's
    best of the epochs it trained, not the last of its ``epochs``; an ``objective=``
    search's none: its trials train no epoch).

    Raises:
        ConfigError: for a status not in ``STATUSES``.
    """
    if status not in STATUSES:
        raise ConfigError(f"status can be {', '.join(STATUSES)}; got {status!r}")
    # a status a newer version wrote is no row this one can read: counted in the summary
    trials = (store.known_trials() if status == "all" else  # (was: ValueError)
              store.trials(TrialStatus(status.upper())))
    columns = _objective_columns(store)
    return [{"trial": t.trial_id, "status": t.status.value, "score": t.score,
             **{c: t.metrics.get(n) for c, n in columns.items()},
             "epochs": t.epochs, "best_epoch": t.epoch,
             "error": error_line(t.error),
             "arch": t.arch}
            for t in trials[:k]]


def failure_rows(store: RunStore) -> list[dict[str, Any]]:
    """The FAILED and REJECTED trials as ``trial_rows`` gives them, in id order: those two
    statuses read alone (was: every trial read and decoded to pick them out).

    Example:
        >>> import tempfile
        >>> from lightning_nas.results import TrialResult
        >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
        >>> for k, status in ((3, TrialStatus.REJECTED), (5, TrialStatus.COMPLETED),
        ...                   (7, TrialStatus.FAILED)):
        ...     store.finish_trial(TrialResult(store.start_trial({"k": k}), {"k": k}, status))
        >>> [(r["trial"], r["status"]) for r in failure_rows(store)]
        [(1, 'REJECTED'), (3, 'FAILED')]
    """
    rows = trial_rows(store, "failed") + trial_rows(store, "rejected")
    return sorted(rows, key=lambda row: row["trial"])


def format_table(rows: Sequence[Mapping[str, Any]], empty: str = "(no trial)") -> str:
    """Rows as an aligned text table (architectures as ``key=value``), each column's floats
    in one format, whatever their values: a count's (``params``, ``flops``) whole (where
    each is: an ``objective=`` function's ``params`` of 1.5 is a score), a trial's
    ``time_s`` with one decimal, any other's as scores (``format_score``); ``empty``
    where there is no row."""
    if not rows:
        return empty
    cols = list(rows[0])
    counts = {c for c in cols if c in COSTS and all(  # an objective= function's params
        not isinstance(r[c], float) or not math.isfinite(r[c]) or r[c].is_integer()
        for r in rows)}  # in millions (1.5) is no count: a score (was: 2)
    cells = [[_cell(r[c], c, c in counts) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=False)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)).rstrip()
              for row in cells]
    return "\n".join(lines)


def format_csv(rows: Sequence[Mapping[str, Any]], sort_keys: bool = True,
               columns: Sequence[str] = ("rank",)) -> str:
    """Rows as CSV, each architecture as one JSON cell; no rows: the header ``columns``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else list(columns))
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "arch": json.dumps(row["arch"], sort_keys=sort_keys)})
    return out.getvalue().rstrip("\n")


def _cell(value: Any, column: str = "", count: bool = True) -> str:
    """One cell; a float by its column's name alone, so a column has one format (was: a
    whole float >= 1000 as a count, 3001 beside 2.0000): a trial's ``time_s`` with one
    decimal, an objective as a score, whatever its name (was: any ``*_s`` with one
    decimal, a ``latency_s`` of 0.004 s shown as 0.0); a count whole, unless ``count`` is
    false (``format_table``: its column holds a number that is no count)."""
    if isinstance(value, float):
        if column == "time_s":
            return f"{value:.1f}"
        # a count (params, flops) is a whole number: 11264 or 771, not 771.0000; a column
        # of them that holds another number (``count`` false) is no count
        whole = count and column in COSTS and math.isfinite(value)
        return f"{value:.0f}" if whole else format_score(value)
    if isinstance(value, Mapping):
        return format_arch(value)
    return "-" if value is None else str(value)


def trial_notes(store: RunStore) -> dict[int, str]:
    """Each trial's notes (``summary``'s ``notes``) joined by ``; ``, by trial id, for the
    CSV's ``notes`` column; a trial without notes is left out.

    Example:
        >>> import tempfile
        >>> from lightning_nas.split_record import record_uneven
        >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
        >>> record_uneven(store, 2, ["101 samples", "drop_last"])
        >>> trial_notes(store)
        {2: '101 samples; drop_last'}
    """
    held: dict[int, list[str]] = {}
    for note in recorded_uneven(store):
        for trial in note["trials"]:
            held.setdefault(trial, []).append(note["text"])
    return {trial: "; ".join(texts) for trial, texts in held.items()}


def _with_notes(store: RunStore, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with the CSV's and JSON's ``notes`` column: what the table says below the
    best of each trial (``trial_notes``; was: left out), and the part of the validation data
    its score is over under a ``trainer.limit_val_batches`` (its own, searched, or the
    search's; was: the table's ``note:`` line alone; ``overfit_batches`` too:
    ``trial_limited``), under DDP on each of the ranks it ran on (stored with it; a Hydra
    job's fits of several counts: those, ``known_ranks``). A row whose score is None (a
    failed, rejected or running trial) says no part of the validation data its score is
    over (was: said as of a scored one); its other notes are kept. A Pareto front's row has
    no score column (its objectives): a scored trial's, it says it."""
    held, settings, ranks = trial_notes(store), trial_settings(store), known_ranks(store)
    out = []
    for row in rows:  # (a sweep's trial under its job's Trainer node: a searched group's)
        limited = None if "score" in row and row["score"] is None else trial_limited(
            row["arch"], settings(row["trial"]), ranks.get(row["trial"]))
        texts = [held.get(row["trial"]), limited]
        out.append({**row, "notes": "; ".join(t for t in texts if t)})
    return out


def render(store: RunStore, fmt: str = "table", k: int | None = 10,
           status: str = "completed") -> str:
    """The leaderboard (``status="completed"``; with the Pareto front of a multi-objective
    run, and the failed and rejected trials with their errors) or the trials of one status,
    in ``table``, ``csv`` or ``json`` form; ``k`` rows at most (None: all). Rows that ``k``
    cut are said: a line above the table (``the first 10 of 29 failed trials``) and the
    JSON's ``shown`` and ``of`` (the rows before the cut). Read as of one moment
    (``RunStore.snapshot``): a live search's trials are counted once each, and the head's
    best is the leaderboard's first (was: each figure read at its own moment)."""
    with store.snapshot():
        return _render(store, fmt, k, status)


def _render(store: RunStore, fmt: str, k: int | None, status: str) -> str:
    """``render``'s text, read from ``store`` as it stands."""
    rows = (leaderboard_rows(store, k, digits=None if fmt == "table" else 2)
            if status == "completed" else trial_rows(store, status, k))
    total = _total(store, status, len(rows), k)
    front = front_rows(store) if status == "completed" else []
    failures = failure_rows(store) if status == "completed" else []
    if fmt == "json":  # the front and the failures follow the leaderboard only
        # each row with its notes, as the CSV's (was: the summary's alone; the front's and
        # the failures' none)
        noted = _with_notes(store, [*rows, *front, *failures])
        extra = {"pareto_front": noted[len(rows):len(rows) + len(front)],
                 "failures": noted[len(rows) + len(front):]} if status == "completed" else {}
        key = "leaderboard" if status == "completed" else "trials"
        return json.dumps(json_safe({"summary": summary(store), key: noted[:len(rows)],
                                     "shown": len(rows), "of": total, **extra}),
                          indent=2)  # NaN and inf as null: JSON has neither
    if fmt == "csv":
        objectives = list(_objective_columns(store))
        header = (["rank", "trial", "score", *objectives, "status", "epochs", "best_epoch",
                   "time_s", "arch"] if status == "completed" else
                  ["trial", "status", "score", *objectives, "epochs", "best_epoch", "error",
                   "arch"])
        # no rows: the header alone
        return format_csv(_with_notes(store, rows), columns=[*header, "notes"])
    if fmt != "table":
        raise ConfigError(f"format can be table, csv, json; got {fmt!r}")
    s = summary(store)
    head = f"{counts_line(s)}; {_best_said(s, below=bool(front))}"
    head += "".join(f"\n{line}" for line in note_lines(s) + warm_start_lines(s))
    if cut := cut_line(len(rows), total, status):  # cut by k: said, as the report says it
        head += "\n" + cut
    # no row: of that status (was: "(no trial)" beside failed trials, as if none ran), or
    # none --top 0 leaves, said by the cut line alone (was: "(no completed trial)" too)
    none = f"(no {status} trial)".replace("(no all ", "(no ") if not total else ""
    text = head + ("\n" + format_table(rows, none) if rows or none else "")
    if front:
        spec = store.objectives()
        text += (f"\n\nPareto front ({', '.join(f'{n} {m}' for n, m in spec.items())}): "
                 f"{counted(len(front), 'trial')}\n" + format_table(front))
    if failures:
        text += "\n\nFailed and rejected trials:\n" + "\n".join(
            f"trial {r['trial']} {r['status']}: {r['error']}  [{format_arch(r['arch'])}]"
            for r in failures)
    return text


def _best_said(s: dict[str, Any], below: bool = True) -> str:
    """The head's words of what ranks the trials and the best one (``summary``'s ``s``):
    the monitor, or every objective and that the best is the first one's, one point of the
    front (listed ``below`` the table: not under ``--status``) (was: ``monitor acc (max)``
    alone, as of one objective).

    Example:
        >>> _best_said({"monitor": "acc", "mode": "max", "objectives": None,
        ...             "best_score": 0.5, "best_trial": 2})
        'monitor acc (max); best 0.5000 (trial 2)'
    """
    spec = s.get("objectives") or {}
    if len(spec) < 2:
        said = f"monitor {s['monitor']} ({s['mode']})"
        return said + (f"; best {format_score(s['best_score'])} (trial {s['best_trial']})"
                       if s["best_trial"] is not None else "")
    said = f"objectives {', '.join(f'{n} ({m})' for n, m in spec.items())}"
    return said + (f"; best {s['monitor']} {format_score(s['best_score'])} (trial "
                   f"{s['best_trial']}: the best by the first objective, ties by the later "
                   f"ones{'; the Pareto front below' if below else ''})"
                   if s["best_trial"] is not None else "")


def cut_line(shown: int, total: int, status: str = "completed") -> str:
    """The line above a table whose rows ``--top`` cut (a search run's or a one-shot
    folder's), empty when none was cut.

    Example:
        >>> cut_line(3, 8)
        'the best 3 of 8 (a higher --top shows more)'
        >>> cut_line(10, 29, "failed")
        'the first 10 of 29 failed trials (a higher --top shows more)'
        >>> cut_line(8, 8)
        ''
    """
    if total <= shown:
        return ""
    what = {"completed": "", "all": " trials"}.get(status, f" {status} trials")
    return (f"{'the best' if status == 'completed' else 'the first'} {shown} of {total}{what} "
            f"(a higher --top shows more)")


def _total(store: RunStore, status: str, shown: int, k: int | None) -> int:
    """How many rows ``status`` has before ``k`` cuts them: the leaderboard's scored
    COMPLETED trials, or the trials of ``status`` (``all``: every trial)."""
    if status == "all":  # the rows a newer version's statuses leave out are not counted
        return len(store) - sum(store.unknown_statuses().values())
    if status != "completed":
        return store.count(TrialStatus(status.upper()))
    return store.count_scored() if k is not None and shown >= k else shown


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinite floats (in mappings and lists) as None: JSON has
    neither.

    Example:
        >>> json_safe({"score": float("nan"), "curve": [0.5, float("inf")]})
        {'score': None, 'curve': [0.5, None]}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value

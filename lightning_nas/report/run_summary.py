"""A run's summary and the lines ``lightning-nas show`` and the HTML report head its
leaderboard with: the trials of each status (``counts_line``), the notes on what scores
count (``note_lines``), each warm-start source (``warm_start_lines``).

Reads the store only: no torch, no Lightning.

Example:
    >>> note_lines({"notes": [], "limited_validation": "scores over 2 validation batches"})
    ['note: scores over 2 validation batches']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.results import TrialStatus
from lightning_nas.search.warm_report import SourceReport, WarmStartReport
from lightning_nas.split_record import recorded_uneven
from lightning_nas.store import RunStore
from lightning_nas.validation_limit import run_limit_line
from lightning_nas.wording import counted, unknown_status

__all__ = ["counts_line", "note_lines", "summary", "warm_start_lines"]

#: a warm-start source's keys added, as ``summary`` gives them (was: not given)
_KEYS = ("filled", "recorded", "recorded_by_option")


def summary(store: RunStore) -> dict[str, Any]:
    """Counts per status, the monitor (``objectives``: each one's mode where several were
    given, the first the monitor; else as the store has it) and the best score;
    ``driver_gone``: whether trials
    are RUNNING while the search process that ran them is gone (a resume takes them on);
    ``notes``: what the scores of some trials count beyond the data (a DDP validation split
    its ranks do not divide: ``recorded_uneven``, each with its trials);
    ``limited_validation``: what the scores are over under a ``trainer.limit_val_batches``
    (``run_limit_line``; None: every batch); per warm-start
    source, ``still_running``: the holder of its search when it was read while running,
    ``swept``: whether it is a Hydra sweep's run folder (its stored report read by any
    version: ``WarmStartReport.from_dict``); ``retrained``: the trials ``retrain_top_k``
    trained again, each with its source and its trial id there."""
    mode = store.get_meta("mode", "max")
    best = store.best(mode)
    warm = WarmStartReport.from_dict(store.get_meta("warm_start") or {})  # by any version
    counts = {s.value.lower(): store.count(s) for s in TrialStatus}
    return {"monitor": store.get_meta("monitor"), "mode": mode,
            # each objective's mode, in order, the first the monitor; None with one
            # objective (was: not given, the monitor alone as if it were the only one)
            "objectives": store.objectives(), **counts,
            # the trials of statuses a newer version wrote (was: left out of every count)
            "unknown_statuses": {s.lower(): n for s, n in store.unknown_statuses().items()},
            # was: true for every finished search (its process ended), which says nothing
            "driver_gone": bool(counts["running"]) and store.driver_gone(),
            "best_trial": best.trial_id if best else None,
            "best_score": best.score if best else None,
            "notes": recorded_uneven(store),  # (was: in best.yaml alone)
            # scores over part of the validation data (was: not said), under DDP on the
            # ranks the trials ran on (was: the search's settings', none for auto)
            "limited_validation": run_limit_line(store),  # a sweep's group's too
            # each source's counts and why the others were not used (was: the counts alone)
            "warm_start": [{"source": src.source, "trials": src.trials, "used": src.used,
                            # what it scored, and whether it ranked that the other way
                            "monitor": src.monitor, "mode": src.mode,  # (was: not given)
                            "other_mode": src.other_mode,
                            "first_from_monitor": src.first_from_monitor,
                            # [trial, why] of each outside this space (was: the count)
                            "out_of_space": src.out_of_space,
                            "skipped": src.skipped(reasons=False),
                            "epochs": src.epochs,  # (a report before: none)
                            # the keys this space added, with their values, and dropped
                            **{k: getattr(src, k) for k in _KEYS}, "dropped": src.dropped,
                            "still_running": src.source_driver if src.live else None,
                            "swept": src.swept}  # a Hydra sweep's run folder
                           for src in warm.sources],
            # the trials retrain_top_k trained again, each of its source trial (was: unsaid)
            "retrained": [{"trial": int(t), "source": src, "source_trial": n} for t, (src, n)
                          in (store.get_meta("retrained") or {}).items()]}


def counts_line(s: Mapping[str, Any]) -> str:
    """The trials of each status in ``summary``'s ``s``, and whether the search of running
    ones is gone (``show``'s and the report's words).

    Example:
        >>> counts_line({"completed": 3, "failed": 1, "rejected": 0, "pruned": 2, "paused": 0,
        ...              "running": 0, "driver_gone": False})
        '3 completed, 1 failed, 0 rejected, 2 pruned, 0 paused, 0 running'
    """
    # (was: "a resume re-runs them", also of one it goes on with from its last.ckpt: a
    # promoted trial, one killed after an epoch ended)
    gone = (" (its search is gone: a resume takes them on again, each from its last.ckpt "
            "where an epoch ended, else from its first epoch; but one the search process ran "
            "itself and died in twice is FAILED)") if s["driver_gone"] else ""
    return (f"{s['completed']} completed, {s['failed']} failed, {s['rejected']} rejected, "
            f"{s['pruned']} pruned, {s['paused']} paused, {s['running']} running{gone}"
            f"{_unknown(s.get('unknown_statuses') or {})}")


def _unknown(counts: Mapping[str, int]) -> str:
    """``counts_line``'s phrase of the trials of statuses a newer version wrote, ``""`` for
    none: ``; 1 stopped: a status this version ... does not know (a newer one's), not
    listed`` (was: left out of the counts, unsaid)."""
    if not counts:
        return ""
    return (f"; {', '.join(f'{n} {status}' for status, n in sorted(counts.items()))}: "
            f"{unknown_status(len(counts))}, not listed")


def note_lines(s: dict[str, Any]) -> list[str]:
    """One line per note of ``summary(store)`` ``s``, with the trials it is true of (``show``
    and the HTML report, below the best result); none when there are none.

    Example:
        >>> note_lines({"notes": [{"trials": [1, 2, 3, 5, 8], "text": "101 samples"}]})
        ['note (trials 1, 2, 3 and 2 more): 101 samples']
    """
    lines = []
    for note in s.get("notes") or []:
        ids = [str(i) for i in note["trials"]]
        which = ", ".join(ids) if len(ids) <= 4 else f"{', '.join(ids[:3])} and {len(ids) - 3} more"
        lines.append(f"note (trial{'s' * (len(ids) > 1)} {which}): {note['text']}")
    if s.get("limited_validation"):  # every trial's (or, searched, each its own)
        lines.append(f"note: {s['limited_validation']}")
    return lines


def warm_start_lines(s: dict[str, Any]) -> list[str]:
    """One line per warm-start source of ``summary(store)`` ``s``: how many of its results
    the search used, why it skipped the others, the keys this space added (with the value
    each of its results took) and dropped, and whether it was still being searched (a
    sweep's: swept) when it was read; then the trials ``retrain_top_k`` trained again, each
    of its source trial (``show`` and the HTML report).

    Example:
        >>> warm_start_lines({"warm_start": [{"source": "a", "trials": 5, "used": 5,
        ...                                   "skipped": []}]})
        ['warm start: 5 of 5 results of a (not counted in the budget)']
    """
    return [f"warm start: {src['used']} of {counted(src['trials'], 'result')} of "
            f"{src['source']} ({_trained(src.get('epochs'))}not counted in the budget)"
            + (f"; skipped: {', '.join(src['skipped'])}" if src["skipped"] else "")
            + "".join(f"; {phrase}" for phrase in _phrases(src))
            + _read_live(src) for src in s["warm_start"]] + [
        "warm start: re-trained " + ", ".join(f"trial {r['trial']} (trial {r['source_trial']} "
                                              f"of {r['source']})" for r in retrained)
        for retrained in [s.get("retrained")] if retrained]


def _phrases(src: Mapping[str, Any]) -> list[str]:
    """``warm_start_lines``' phrases of a source: what its losses are of (a ranking the
    other way, a monitor standing in; was: said by the search alone), the keys added and
    dropped."""
    report = SourceReport.from_dict(src)  # the summary's keys a source report has
    return report.scale() + report.keys()


def _read_live(src: Mapping[str, Any]) -> str:
    """``warm_start_lines``' phrase of a source read while its run went on, in the
    warning's words (``SourceReport.still_being``: a sweep's run folder is swept; was: "its
    search was still running" of one too), ``""`` of any other."""
    if not src.get("still_running"):
        return ""
    being = SourceReport("", swept=bool(src.get("swept"))).still_being()
    return (f"; read while it was {being} ({src['still_running']}): the results it "
            f"completed later are not used")


def _trained(epochs: list[int] | None) -> str:
    """``trained 3 epochs there; `` for a source's results of 3 epochs, ``""`` unknown."""
    if not epochs:
        return ""
    return f"trained {SourceReport('', epochs=epochs).trained()} there; "

"""What a search's scores are over when its Trainer validates part of each validation loader
(``trainer.limit_val_batches``, or ``trainer.overfit_batches``, which Lightning 2.x makes
the limit of its validation loader's batches; set or searched): ``best.yaml``'s
``limited_validation`` and the line ``show`` and the report print below the best result
(the CSV: each trial's ``notes``); a one-shot run's
``best_arch.yaml`` says it too (``limited_entry``: its subnets are scored under the limit).
A validation of ``best.ckpt`` (or ``subnet.pt``) over every batch gives another score than
the run's; under the same limit, the same.

No torch, no Lightning: ``export`` and ``show`` read a run's store with it.

Example:
    >>> limited_text(0.5)[:68]
    'scored on part of the validation data: trainer.limit_val_batches=0.5'
    >>> limit_of({"width": 8}, {"limit_val_batches": 1.0}) is None
    True
    >>> trial_limited({}, {"overfit_batches": 2})[:64]
    'scored on part of the validation data: trainer.overfit_batches=2'
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from lightning_nas.devices import trial_ranks
from lightning_nas.numeric import is_number
from lightning_nas.ranks_record import known_ranks
from lightning_nas.trial_trainer import trial_trainer

__all__ = ["LIMIT_KEY", "OVERFIT_KEY", "batch_count_limit", "limit_of", "limited_entry",
           "limited_text", "limit_settings", "run_limit_line", "search_limit_line",
           "trial_limited", "trial_settings"]

#: the Trainer argument, and its key in a search space (``trainer.limit_val_batches``)
LIMIT_KEY = "limit_val_batches"
#: the Trainer argument that sets ``limit_val_batches`` to its own value where above 0
#: (Lightning 2.x: the first batches of the validation loader, as many as it trains on)
OVERFIT_KEY = "overfit_batches"


def _part(value: Any) -> int | float | None:
    """``value`` where it validates part of each loader: a count, or a fraction below 1
    (None: not a number, 0 = off for ``overfit_batches``, or the fraction 1.0: every batch;
    Lightning reads the int 1 as one batch)."""
    if not is_number(value):
        return None
    return None if value <= 0 or (isinstance(value, float) and value >= 1.0) else value


def limit_of(arch: Mapping[str, Any], trainer: Mapping[str, Any]
             ) -> tuple[str, int | float] | None:
    """The Trainer argument that limits the validation of a trial of architecture ``arch``
    and its value, its own (searched) or the search's ``trainer`` settings':
    ``overfit_batches`` above 0 (Lightning sets ``limit_val_batches`` to it), else
    ``limit_val_batches``; None where it validates every batch.

    Example:
        >>> limit_of({}, {"limit_val_batches": 0.5, "overfit_batches": 2})
        ('overfit_batches', 2)
    """
    own = trial_trainer(arch, trainer)  # a sweep's +trainer.x too
    for key in (OVERFIT_KEY, LIMIT_KEY):
        value = _part(own.get(key))
        if value is not None:
            return key, value
    return None


def batch_count_limit(names: Collection[str], trainer: Mapping[str, Any]) -> str | None:
    """The warning of a search whose Trainer validates a count of batches (an int
    ``limit_val_batches`` or ``overfit_batches``) while its space searches the data's batch
    size (a ``data.*`` key with ``batch`` in its last name): each architecture's score is
    over as many samples as its batches hold, so the trials are scored on different parts
    of the validation data (a fraction keeps about the same samples); None otherwise.

    Example:
        >>> batch_count_limit(["data.batch_size"], {"limit_val_batches": 2})[:44]
        'trainer.limit_val_batches=2 validates the fi'
        >>> batch_count_limit(["data.batch_size"], {"limit_val_batches": 0.5}) is None
        True
    """
    found = limit_of({}, trainer)
    keys = [name for name in names if name.startswith("data.")
            and "batch" in name.rsplit(".", 1)[-1].lower()]
    if found is None or not isinstance(found[1], int) or not keys:
        return None
    key, limit = found
    return (f"trainer.{key}={limit} validates the first {limit} "
            f"batch{'es' * (limit != 1)} of each validation loader, and the space searches "
            f"{', '.join(keys)}: an architecture with larger batches is scored on more "
            f"samples, so the trials' scores are over different parts of the validation "
            f"data; give {key} a fraction of the batches (0.5), or leave it out")


def limit_settings(store: Any) -> Mapping[str, Any]:
    """The Trainer settings of a run's ``store`` that ``limit_of`` (and
    ``score_precision.precision_of``) reads: a search's
    ``trainer``, else a Hydra sweep's job config's ``trainer`` node (stored as composed with
    the sweep's overrides: ``+trainer.limit_val_batches=0.5``), else none.

    Example:
        >>> import tempfile
        >>> from lightning_nas.store import RunStore
        >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
        >>> store.set_meta("job_config", {"trainer": {"limit_val_batches": 0.5}})
        >>> limit_settings(store)
        {'limit_val_batches': 0.5}
    """
    trainer = store.get_meta("trainer")
    if trainer is None:
        trainer = (store.get_meta("job_config") or {}).get("trainer")
    return trainer if isinstance(trainer, Mapping) else {}


def trial_settings(store: Any) -> Callable[[int], Mapping[str, Any]]:
    """``limit_settings`` of each trial of a run's ``store``, by trial id: a search's
    ``trainer``; a Hydra sweep's job config's ``trainer`` node as that trial's job composed it
    (a searched config group, ``+trainer=part``, sets its own: the job's values the sweep
    stored, meta ``job_trials``; was: the sweep config's node for every job). The store is
    read once.

    Example:
        >>> import tempfile
        >>> from lightning_nas.store import RunStore
        >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
        >>> store.set_meta("job_config", {"trainer": {"max_epochs": 1}})
        >>> store.set_meta("job_trials", {"2": {"values": {"trainer.limit_val_batches": 2}}})
        >>> of = trial_settings(store)
        >>> of(1), of(2)
        ({'max_epochs': 1}, {'max_epochs': 1, 'limit_val_batches': 2})
    """
    base, jobs = limit_settings(store), _job_values(store)

    def of(trial_id: int) -> Mapping[str, Any]:
        values = jobs.get(str(trial_id))
        if values is None:
            return base
        node = values.get("trainer")  # the job's whole node, where its keys differ
        return trial_trainer({k: v for k, v in values.items() if k != "trainer"},
                             node if isinstance(node, Mapping) else base)
    return of


def _job_values(store: Any) -> dict[str, Mapping[str, Any]]:
    """What each job of a Hydra sweep's ``store`` composed otherwise than the sweep config
    (meta ``job_trials``' ``values``), by trial id as text; a search's: none."""
    jobs = store.get_meta("job_trials") if store.get_meta("trainer") is None else None
    jobs = jobs if isinstance(jobs, Mapping) else {}
    return {str(k): job["values"] for k, job in jobs.items()
            if isinstance(job, Mapping) and isinstance(job.get("values"), Mapping)}


def limited_text(limit: int | float, key: str = LIMIT_KEY,
                 ranks: int | Sequence[int] | None = 1) -> str:
    """What the scores of a validation under ``trainer.<key>=limit`` are over, and how to
    score a checkpoint again (the int ``limit``: a count of batches; the float: a
    fraction). Under DDP (``ranks`` above 1) the limit holds on each rank, over its own
    shard of the data: a count of batches is ``ranks`` times as many in all; several
    counts (a Hydra job's fits that ran on each: ``ranks_record``) are said as such,
    which one scored not being known.

    Example:
        >>> limited_text(2, ranks=2)[77:143]
        'at most 2 batches of each validation loader on each of the 2 ranks'
        >>> limited_text(2, ranks=(1, 2))[121:174]
        "on each rank, and the job's fits ran on 1 and 2 ranks"
    """
    part = (f"at most {limit} batch{'es' * (limit != 1)}" if isinstance(limit, int)
            else f"{limit:g} of the batches")
    where, again = "", ""
    counts = sorted(set(ranks)) if isinstance(ranks, Sequence) else []
    if len(counts) == 1:
        ranks = counts[0]
    if len(counts) > 1:  # (was: said over the counts the job config asks for)
        where = (f" on each rank, and the job's fits ran on {', '.join(map(str, counts[:-1]))}"
                 f" and {counts[-1]} ranks (each rank its own shard of the data; which fit's "
                 f"validation scored is not known)")
        again = " on as many ranks as the fit that scored"
    elif isinstance(ranks, int) and ranks > 1:
        total = f": at most {limit * ranks} in all" if isinstance(limit, int) else ""
        where = f" on each of the {ranks} ranks (each its own shard of the data{total})"
        again = f" on {ranks} ranks"
    return (f"scored on part of the validation data: trainer.{key}={limit} validates "
            f"{part} of each validation loader{where}, so a validation over every batch "
            f"gives another score; validate under {LIMIT_KEY}={limit}{again} to score it "
            f"again")


def trial_limited(arch: Mapping[str, Any], trainer: Mapping[str, Any],
                  ranks: int | Sequence[int] | None = None) -> str | None:
    """``limited_text`` of a trial's ``limit_of`` (``best.yaml``'s ``limited_validation``,
    the CSV's and JSON's ``notes``); None where it validates every batch. Under DDP it
    holds on each of the ``ranks`` the trial ran on (``TrialResult.ranks``, stored as its
    Trainer had them: ``devices: auto`` too; a Hydra job's fits of several counts: those,
    ``ranks_record.known_ranks``), else on those its own settings ask for
    (``trial_ranks``: a searched ``trainer.devices`` over the search's; was: the search's).

    Example:
        >>> trial_limited({"trainer.limit_val_batches": 1.0}, {}) is None
        True
        >>> trial_limited({"trainer.devices": 2}, {"limit_val_batches": 2})[-28:]
        'on 2 ranks to score it again'
    """
    found = limit_of(arch, trainer)
    if found is None:
        return None
    return limited_text(found[1], found[0], trial_ranks(arch, trainer) if ranks is None
                        else ranks)


def limited_entry(trainer: Any) -> dict[str, str]:
    """``{"limited_validation": ...}`` of a Trainer (its public ``overfit_batches``,
    ``limit_val_batches`` and ``world_size``) that validates part of each loader, naming the
    argument that limits it (``limit_of``: ``overfit_batches`` where set, which Lightning
    copies into ``limit_val_batches``) and, under DDP, the ranks it holds on; a one-shot
    run's ``best_arch.yaml``. ``{}`` where it validates every batch.

    Example:
        >>> from types import SimpleNamespace as Trainer
        >>> limited_entry(Trainer(limit_val_batches=1.0, overfit_batches=0, world_size=1))
        {}
        >>> limited_entry(Trainer(limit_val_batches=2, overfit_batches=2, world_size=1)
        ...               )["limited_validation"][:64]
        'scored on part of the validation data: trainer.overfit_batches=2'
    """
    found = limit_of({}, {OVERFIT_KEY: trainer.overfit_batches,
                          LIMIT_KEY: trainer.limit_val_batches})
    return {} if found is None else {
        "limited_validation": limited_text(found[1], found[0], trainer.world_size)}


def search_limit_line(space: Mapping[str, Any] | None, trainer: Mapping[str, Any] | None,
                      ranks: Collection[int] = ()) -> str | None:
    """The line ``show`` prints of a search's validation limit: searched (each trial's own),
    set (``limited_text``) or none (every batch validated, or settings not stored). Under
    DDP it holds on each rank: on the ``ranks`` the scored trials ran on (stored with them),
    one count or several (each trial's notes say its own); none stored, on those the
    settings ask for, unless ``trainer.devices`` (or ``num_nodes``) is searched.

    Example:
        >>> search_limit_line({"trainer.limit_val_batches": {"choice": [2, 0.5]}}, {})[:37]
        'trainer.limit_val_batches is searched'
        >>> print(search_limit_line({}, {"limit_val_batches": 2}, ranks=[2, 1])[-63:])
        the trials ran on 1 or 2 ranks (each trial's notes say its own)
    """
    names = {str(name).lstrip("+") for name in space or {}}  # a sweep's +trainer.x
    if searched := _searched_line(names):
        return searched
    found, counts = limit_of({}, trainer or {}), sorted(set(ranks))
    ranked = names & {"trainer.devices", "trainer.num_nodes"}
    if found is None or len(counts) == 1 or not counts and not ranked:
        return trial_limited({}, trainer or {}, counts[0] if counts else None)
    which = (f"the trials ran on {', '.join(map(str, counts[:-1]))} or {counts[-1]} ranks"
             if counts else f"{' and '.join(sorted(ranked))} {'are' if len(ranked) > 1 else 'is'}"
                            f" searched")
    return (f"{limited_text(found[1], found[0], None)}; under DDP it holds on each rank, over "
            f"its own shard: {which} (each trial's notes say its own)")


def _searched_line(names: Collection[str]) -> str | None:
    """``search_limit_line`` of a space of ``names`` that searches the limit; else None."""
    for searched in (f"trainer.{OVERFIT_KEY}", f"trainer.{LIMIT_KEY}"):
        if searched in names:
            return (f"{searched} is searched: each trial is scored on the part of the "
                    f"validation data its value validates (best.yaml's limited_validation "
                    f"says the exported trial's)")
    return None


def run_limit_line(store: Any) -> str | None:
    """``search_limit_line`` of a run's ``store`` (``show``'s and the report's ``note:``),
    on the ranks its scored trials ran on; a Hydra sweep whose jobs composed Trainer
    settings of their own (a searched config group's option, ``+trainer=part``: meta
    ``job_trials``) by how many of its scored trials each validated part under its own
    (``trial_settings``; was: the sweep config's node alone, so such a run said nothing,
    while each trial's notes and ``best.yaml`` said its limit).

    Example:
        >>> import tempfile
        >>> from lightning_nas.results import TrialResult, TrialStatus
        >>> from lightning_nas.store import RunStore
        >>> store = RunStore(tempfile.mkdtemp() + "/search.db")
        >>> store.set_meta("job_trials", {"2": {"values": {"trainer": {"limit_val_batches": 2}}}})
        >>> for k in (1, 2):
        ...     store.finish_trial(TrialResult(store.start_trial({"k": k}), {"k": k},
        ...                                    TrialStatus.COMPLETED, score=k / 10))
        >>> run_limit_line(store)[:65]
        'the scores of 1 of 2 trials are over part of the validation data:'
    """
    space, jobs = store.get_meta("space"), _job_values(store)
    own = any(key == "trainer" or key.startswith("trainer.") for values in jobs.values()
              for key in values)
    searched = _searched_line({str(name).lstrip("+") for name in space or {}})
    if not own or searched:  # the ranks of a job's fits of several counts too
        counts = [n for ranks in known_ranks(store, scored=True).values()
                  for n in (ranks if isinstance(ranks, tuple) else (ranks,))]
        return searched or search_limit_line(space, limit_settings(store), counts)
    settings, trials = trial_settings(store), store.leaderboard(store.get_meta("mode", "max"))
    limited = [t for t in trials if limit_of(t.arch, settings(t.trial_id))]
    if not limited:
        return None
    which = (f"all {len(trials)} trials" if len(limited) == len(trials) else
             f"{len(limited)} of {len(trials)} trials")
    return (f"the scores of {which} are over part of the validation data: the Trainer "
            f"settings each job composed (a searched config group's option) set its own "
            f"limit (each trial's notes say its own)")

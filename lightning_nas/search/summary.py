"""The end of a search: export the best trial, log the search to the user's logger, print
the summary line.

Example:
    >>> best, trials = finish(settings, store, trainer={}, elapsed=12.5)  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_nas.arch import flatten_arch, format_arch
from lightning_nas.config.instantiate import accepted_kwargs, import_object, instantiate
from lightning_nas.config.node_merge import merge_objects
from lightning_nas.config.nodes import is_node, node_args, target_path
from lightning_nas.export import export_best
from lightning_nas.results import TrialResult, TrialStatus, format_score, objective_run
from lightning_nas.search.objectives import front_rows
from lightning_nas.search.remote_runs import hold_runs, runs_ended
from lightning_nas.search.resume import INPUT_ONLY
from lightning_nas.search.settings import SearchSettings
from lightning_nas.search.trial_logs import logger_defaults, shared_versions_quiet
from lightning_nas.search.wandb_ids import of_remote_run, of_w_and_b
from lightning_nas.store import RunStore
from lightning_nas.validation_limit import run_limit_line
from lightning_nas.wording import counted

__all__ = ["finish", "front_line", "given_again", "limit_note", "log_summary",
           "summary_loggers", "summary_nodes", "written"]


def finish(settings: SearchSettings, store: RunStore, trainer: Mapping[str, Any],
           elapsed: float, resumed: bool = False) -> tuple[TrialResult | None, list[TrialResult]]:
    """Export the best trial (``best.yaml``, ``best.ckpt``, ``best_config.yaml``), log the
    search and print its summary (``elapsed``: this invocation's seconds, said as such when
    it ``resumed`` a run, whose counts are the whole run's); return the best trial and all
    trials."""
    goal, run_dir = settings.goal, settings.run_dir
    trials = store.trials()
    best = store.best(goal.mode)
    exported = export_best(run_dir, store) if best is not None else None
    counts = {s: sum(t.status is s for t in trials) for s in TrialStatus}
    again = f"_again_{time.time_ns()}" if store.get_meta(_LOGGED) else ""  # an earlier one's
    if log_summary(summary_loggers(trainer.get("logger"), trials), str(run_dir / "logs"),
                   goal.mode, trials, best, counts, store.get_meta("log_label"), again):
        store.set_meta(_LOGGED, True)  # (a W&B or MLflow run cannot be emptied, as a
        # CSV's folder is)
    if not settings.verbose:
        return best, trials
    # a search that used its budget (no time limit) promoted all it could: the same budget
    # again promotes none (was: "a resume may promote them", and the same command again
    # trained nothing and said so again)
    used = sum(counts[s] for s in (TrialStatus.COMPLETED, TrialStatus.PRUNED,
                                   TrialStatus.PAUSED))
    larger = " with a larger budget" if goal.budget is not None and used >= goal.budget \
        and goal.time_limit is None else ""
    pruned = (f"{counts[TrialStatus.PRUNED]} pruned, " if settings.early_stopping.active
              else "") + (f"{counts[TrialStatus.PAUSED]} paused (a resume{larger} may promote "
                          f"{'it' if counts[TrialStatus.PAUSED] == 1 else 'them'}), "
                          if counts[TrialStatus.PAUSED] else "") + (
        f"{counts[TrialStatus.REJECTED]} rejected, "
        if counts[TrialStatus.REJECTED] else "")  # by a limit: never trained
    if best is not None:
        # an objective= search's trials are calls of a function: no epoch of ours to count
        # (was: "0 epochs trained", where show prints none for its trials)
        epochs = ("" if objective_run(store.get_meta("model")) else
                  f", {counted(sum(t.epochs or 0 for t in trials), 'epoch')} trained")
        took = f"{elapsed:.1f}s" + (" (this invocation; the counts are the run's)" if resumed
                                    else "")
        print(f"Search finished in {took}: {counts[TrialStatus.COMPLETED]} completed, "
              f"{pruned}{counts[TrialStatus.FAILED]} failed{epochs}. "
              f"Best {goal.monitor}={format_score(best.score)} (trial {best.trial_id}): "
              f"{format_arch(best.arch)}\n{front_line(store, run_dir)}{limit_note(store)}"
              f"{written(run_dir, exported or {}, given_again(store))}", flush=True)
    else:
        print(f"Search finished in {elapsed:.1f}s with no completed trial.", flush=True)
    return best, trials


def limit_note(store: RunStore) -> str:
    """The ``note:`` line ``lightning-nas show`` prints where a run's scores are over part of
    the validation data (``validation_limit.run_limit_line``), with its line end, as a
    search's and a sweep's end summaries say it below the best trial (was: not said there);
    ``""`` where every score is over every batch.

    Example:
        >>> import tempfile
        >>> limit_note(RunStore(tempfile.mkdtemp() + "/search.db"))
        ''
    """
    line = run_limit_line(store)
    return f"note: {line}\n" if line else ""


def front_line(store: RunStore, run_dir: Path) -> str:
    """The Pareto front of a multi-objective run, as the summary says it below the best
    trial (its objectives, its trials best first, how to list and export them), with its
    line end; ``""`` for a run of one objective (was: not said, the best alone).

    Example:
        >>> import tempfile
        >>> front_line(RunStore(tempfile.mkdtemp() + "/search.db"), Path("runs/x"))
        ''
    """
    front = front_rows(store)
    if not front:
        return ""
    spec = ", ".join(f"{n} {m}" for n, m in (store.objectives() or {}).items())
    folder = shlex.quote(str(run_dir))
    ids = ", ".join(str(row["trial"]) for row in front[:_SAID])  # a long front: its best
    more = f" and {len(front) - _SAID} more" if len(front) > _SAID else ""
    if len(front) == 1:  # the best alone: exported already
        return (f"Pareto front ({spec}): 1 trial ({ids}), the best: every other trial is worse "
                f"in some objective and better in none\n")
    return (f"Pareto front ({spec}): {counted(len(front), 'trial')} ({ids}{more}); "
            f"lightning-nas show {folder} lists them, lightning-nas export {folder} --trial N "
            f"exports one\n")


#: the front's trials the summary names, best first (the rest counted)
_SAID = 10


def given_again(store: RunStore) -> list[str]:
    """The keywords ``lightning_nas.finetune`` asks for again after a search built in
    Python: the objects the store could not keep (a model class or a model argument without
    an import path, a DataModule object, Trainer objects), as ``finetune`` refuses to start
    without them.

    Example:
        >>> given_again(store)  # doctest: +SKIP
        ["data=...", "trainer={'callbacks': ...}"]
    """
    model, data = store.get_meta("model") or {}, store.get_meta("data") or {}
    # a model class of no import path (a notebook's or a script's, in __main__, or a local
    # one): finetune() refuses to start without it (was: left out of the line)
    keywords = ["model=..."] if model and model.get("class_path") is None else []
    if missing := [key for key, path in (model.get("objects") or {}).items()
                   if path is None and key not in INPUT_ONLY
                   and key not in (model.get("dataclasses") or {})]:  # (built again)
        keywords.append(f"model_init_args={{{', '.join(f'{k!r}: ...' for k in missing)}}}")
    if data.get("class_path") is None and (data.get("init_args")
                                           or store.get_meta("data_object")):
        keywords.append("data=...")
    if trainer_objects := store.get_meta("trainer_objects") or []:
        keywords.append(f"trainer={{{', '.join(f'{k!r}: ...' for k in trainer_objects)}}}")
    return keywords


def written(run_dir: Path, exported: Mapping[str, Any], given: Sequence[str] = ()) -> str:
    """The files the run folder holds after ``export_best`` (``exported``: what it returned,
    the content of ``best.yaml``) and, where a model was searched, what trains the best one
    next: ``lightning-nas finetune`` and ``fit`` for a config run (``best_config.yaml``),
    ``lightning_nas.finetune`` for a search built in Python, with the keywords it must be
    ``given`` again (``given_again``): from ``best.ckpt`` with its optimizer state continued
    (``optimizer_state="restore"``), or from fresh weights where no ``best.ckpt`` was kept.

    Example:
        >>> print(written(Path("runs/x"), {"checkpoint": None, "model": None}))
        Wrote best.yaml and search.db in runs/x
    """
    config = (run_dir / "best_config.yaml").is_file()
    held = exported.get("checkpoint") is not None
    files = ["best.yaml", *(["best.ckpt"] * held), *(["best_config.yaml"] * config)]
    text = f"Wrote {', '.join(files)} and search.db in {run_dir}"
    if exported.get("model") is None:  # an objective= search or a Hydra sweep: no model here
        return text
    # from best.ckpt, its optimizer continued (was: a fresh one at the searched lr, which
    # lost the digits search's val_acc in 2-epoch fine-tunes: README, Fine-tune)
    start = ("further from best.ckpt, its optimizer state continued" if held else
             "from fresh weights")
    if config:
        folder = shlex.quote(str(run_dir))
        flag = " --optimizer_state restore" if held else " --from_scratch"
        return (f"{text}\nNext: lightning-nas finetune {folder}{flag} [--max_epochs N] trains "
                f"the best model {start}; lightning-nas fit "
                f"{shlex.quote(str(run_dir / 'best_config.yaml'))} trains it from scratch")
    scratch = ", optimizer_state='restore'" if held else ", from_checkpoint=False"
    keywords = "".join(f", {keyword}" for keyword in given)
    return (f"{text}\nNext: lightning_nas.finetune({str(run_dir)!r}{keywords}{scratch}) trains "
            f"the best "
            f"model {start} (max_epochs= sets its epochs)")


def summary_loggers(configured: Any, trials: Sequence[TrialResult]) -> list[Any]:
    """The ``logger`` settings the search's summary goes to: the config's (``configured``,
    the Trainer's ``logger`` setting), which every trial logged to; where the space searches
    ``trainer.logger``, each distinct value of it a trial trained with, in trial order
    (was: the config's alone, which no trial then used, and none of the trials' folders),
    merged over the config's as each trial's is (``merge_objects``; was: as the space gave
    it, a node without the config's ``save_dir`` logging elsewhere than its trials).

    Example:
        >>> csv = {"class_path": "lightning.pytorch.loggers.CSVLogger"}
        >>> summary_loggers(csv, [])
        [{'class_path': 'lightning.pytorch.loggers.CSVLogger'}]
    """
    if not any(_SEARCHED_LOGGER in trial.arch for trial in trials):
        return [configured]
    drawn: list[Any] = []
    for trial in trials:  # a rejected one never trained: it logged nowhere
        value = merge_objects(configured, trial.arch.get(_SEARCHED_LOGGER))  # the trial's
        if trial.status is not TrialStatus.REJECTED and value not in drawn:
            drawn.append(value)
    return drawn


#: the space key of a searched Trainer ``logger`` (as ``TrialTemplate.spec`` reads it)
_SEARCHED_LOGGER = "trainer.logger"


#: the store's meta key saying that a summary was logged to W&B or MLflow (a later one's run
#: is its own)
_LOGGED = "summary_logged"


def log_summary(specs: Sequence[Any], save_dir: str, mode: str, trials: list[TrialResult],
                best: TrialResult | None, counts: Mapping[TrialStatus, int],
                label: str | None = None, again: str = "") -> bool:
    """Log the search to the user's configured loggers (``specs``: ``logger`` settings,
    ``summary_loggers``'; version ``summary`` under ``save_dir/search``, or the first free
    of ``summary_2``, ... where an earlier setting's would log to the same place:
    ``summary_nodes``; under a ``save_dir`` of the user's, ``label``, the run's
    ``log_label``, in front of it, else the run folder's name): each trial's score and the
    best so far by trial id, the best architecture and the counts as hyperparameters (a
    searched key named as a count, ``best_score`` or ``best_trial`` as ``arch.KEY``), the
    best score as ``hp_metric`` (at the best trial's step), each distinct logger node once.
    Only configured loggers (nodes) get it: a logger object, alone or in a list, has no
    version of the search's own (a copy would take the next free one among the user's
    runs). ``again`` (``_again_<ns>``, where an earlier invocation of the run logged its
    summary) follows a W&B run's id and an MLflow run's name: neither service's earlier run
    can be emptied, as a resumed CSV summary's folder is, so the summary, written whole, goes
    to a run of its own, the latest ``_again_`` the whole one (was: W&B's earlier run of that
    id, resumed, each earlier trial's row in it twice; MLflow's a second run of the earlier
    one's name, none telling which was whole).

    Returns:
        Whether it logged to a W&B or MLflow run."""
    items = [item for spec in specs for item in (spec if isinstance(spec, list) else [spec])]
    nodes = summary_nodes(specs, save_dir, label or Path(save_dir).parent.name, again)
    if not nodes:
        return False  # no configured logger (or logger objects alone): nothing to add it to
    loggers = instantiate(nodes)
    for folder in {_own_folder(logger) for logger in loggers} - {None}:
        shutil.rmtree(folder, ignore_errors=True)  # an earlier invocation's: written anew
    with warnings.catch_warnings():
        shared_versions_quiet(loggers)  # a CSV logger beside TensorBoard's, in one folder
        for logger in loggers:  # (two searched W&B values: the second's run is its own)
            with runs_ended(items) as held:  # a W&B run of the summary's own
                _log_search(logger, mode, trials, best, counts)
                hold_runs([logger], held)  # (its run started as it logged)
    return any(of_remote_run(node) for node in nodes)


def summary_nodes(specs: Sequence[Any], save_dir: str, label: str,
                  again: str = "") -> list[Any]:
    """The logger nodes of the search's summary: those of each ``logger`` setting in
    ``specs`` (``summary_loggers``') placed by ``logger_defaults`` (``save_dir``, ``label``),
    each distinct one once, with version ``summary``, or the first of ``summary_2``, ...
    whose places (``_place``) no earlier setting's logger takes, so each setting's summary
    is its own (was: ``summary`` for each, so two W&B loggers of one project shared a
    run's id, W&B logging the second summary into the first's run, and a CSV and a
    TensorBoard logger of one ``save_dir`` a folder). In trial order, the settings keep
    their versions across a resume; the loggers of one setting (a list) share theirs, as
    in its trials; ``again`` follows a W&B node's version alone (``log_summary``).

    Example:
        >>> csv = {"class_path": "lightning.pytorch.loggers.CSVLogger",
        ...        "init_args": {"save_dir": "tb"}}
        >>> tb = {**csv, "class_path": "lightning.pytorch.loggers.TensorBoardLogger"}
        >>> [n["init_args"]["version"] for n in summary_nodes([csv, tb], "logs", "a")]
        ['a_summary', 'a_summary_2']
    """
    nodes: list[Any] = []
    seen: list[Any] = []  # (a node of an earlier setting's: logged once, there)
    taken: set[tuple[str, ...]] = set()
    for spec in specs:
        items = [item for item in (spec if isinstance(spec, list) else [spec])
                 if is_node(item) and item not in seen]
        seen += items
        for number in itertools.count(1):
            version = "summary" if number == 1 else f"summary_{number}"
            placed = [logger_defaults(item, save_dir, "search", version, label,
                                      attempt=again) for item in items]
            places = {_place(node) for node in placed} - {None}
            if not places & taken:
                break
        taken |= places
        nodes += [node for node in placed if node not in nodes]
    return nodes


def _place(node: Any) -> tuple[str, ...] | None:
    """Where a placed logger ``node`` logs, the same for two that would log into one place:
    a W&B logger's run (its project, Lightning's default where unset, and id: W&B knows a
    run by its id in its project), the folder of a logger taking ``save_dir``, ``name`` and
    ``version``; None for another (an MLflow logger starts a run of its own).

    Example:
        >>> _place({"class_path": "lightning.pytorch.loggers.CSVLogger",
        ...         "init_args": {"save_dir": "/tb", "name": "search", "version": "a"}})
        ('folder', '/tb/search/a')
    """
    args = node_args(node)
    if of_w_and_b(node):
        project = args.get("project") or os.environ.get("WANDB_PROJECT", "lightning_logs")
        return "run", str(project), str(args.get("version"))
    accepted, _ = accepted_kwargs(import_object(target_path(node)).__init__)
    if not {"save_dir", "name", "version"} <= set(accepted):
        return None
    folder = os.path.join(os.path.expanduser(str(args.get("save_dir"))),
                          str(args.get("name") or ""), str(args.get("version")))
    return "folder", os.path.abspath(folder)


def _log_search(logger: Any, mode: str, trials: list[TrialResult], best: TrialResult | None,
                counts: Mapping[TrialStatus, int]) -> None:
    """Log the search to ``logger``, as ``log_summary`` says."""
    best_so_far = None
    for trial in trials:
        if trial.status is not TrialStatus.COMPLETED or trial.score is None:
            continue
        if best_so_far is None or (trial.score > best_so_far if mode == "max"
                                   else trial.score < best_so_far):
            best_so_far = trial.score
        logger.log_metrics({"trial_score": trial.score, "best_so_far": best_so_far},
                           step=trial.trial_id)
    summary: dict[str, Any] = {s.value.lower(): n for s, n in counts.items()}
    if best is not None:
        own = {*summary, "best_score", "best_trial"}  # a searched key of these names is
        # logged as arch.KEY (was: it replaced the count, or the best trial's id replaced it)
        summary |= {f"arch.{k}" if k in own else k: v for k, v in flatten_arch(best.arch).items()}
        summary |= {"best_score": best.score, "best_trial": best.trial_id}
    logger.log_hyperparams(summary)
    if best is not None:  # (was: TensorBoardLogger's placeholder, -1, in the HParams
        # view beside the trials: the best of a `min` search, at a score none reached)
        logger.log_metrics({"hp_metric": best.score}, step=best.trial_id)
    logger.finalize("success")


def _own_folder(logger: Any) -> str | None:
    """The folder of ``logger``'s summary version when the logger keeps one on this
    machine (``log_dir`` ending in its ``version``, which ends in ``summary`` or
    ``summary_<n>``: a
    ``CSVLogger``'s or ``TensorBoardLogger``'s without ``sub_dir``), else None. A resume
    writes the summary whole from the store, so it removes the earlier one first (was:
    TensorBoard showed both, the earlier counts among the hyperparameters, and
    ``CSVLogger`` warned that the previous logs "will be deleted").

    Example:
        >>> from lightning.pytorch.loggers import CSVLogger
        >>> _own_folder(CSVLogger("runs/a/logs", name="search", version="summary"))
        'runs/a/logs/search/summary'
        >>> _own_folder(CSVLogger("runs/a/logs", name="search", version=3)) is None
        True
    """
    log_dir = getattr(logger, "log_dir", None)
    if not isinstance(log_dir, str):  # (read first: a remote logger's version starts a run)
        return None
    version = str(getattr(logger, "version", None))
    own = re.search(r"summary(_\d+)?$", version) and Path(log_dir).name == version
    return log_dir if own else None

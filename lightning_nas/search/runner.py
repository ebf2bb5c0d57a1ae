"""Run a trial where its Trainer needs it: here, or on other processes.

A trial whose Trainer uses several processes (``strategy="ddp"``, ``devices=2``) must not
run inside the search driver or a worker: Lightning's launcher would re-execute the *current
command* once per rank. On one machine such trials run on a long-lived group of rank
processes (``lightning_nas.search.ranks``) that is reused trial after trial; over several
nodes each trial runs ``python -m lightning_nas.search.runner TRIAL_DIR/spec.pkl``, the
command the launcher re-executes. Either way every rank reads the same spec (the
architecture the driver chose), trains, and rank 0 writes ``result.json``; the driver is
never re-run.

Example:
    >>> needs_own_process({"accelerator": "cpu", "devices": 2, "strategy": "ddp"})
    True
    >>> needs_own_process({"max_epochs": 3})
    False
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import pickle
import subprocess
import sys
import time
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_nas.config.nodes import is_node, node_args
from lightning_nas.devices import device_count
from lightning_nas.errors import ConfigError, typed
from lightning_nas.results import PROCESS_DIED, TrialResult, TrialStatus
from lightning_nas.search.checkpoints import checkpoint_complete, users_in_place
from lightning_nas.search.exit_gc import freeze_for_exit
from lightning_nas.search.fit_segments import end_own_fit, start_own_fit
from lightning_nas.search.lifetime import (
    child_env,
    ctrl_c_raised,
    describe_exit,
    die_with_parent,
    kill_group,
    parent_alive,
)
from lightning_nas.search.rank_failures import blamed_where, fresh_failure
from lightning_nas.search.rank_progress import PROGRESS, read_progress
from lightning_nas.search.rank_zygote import zygote_for
from lightning_nas.search.ranks import execute_fresh, run_in_group
from lightning_nas.search.rendezvous import Rendezvous
from lightning_nas.search.trial import TrialSpec, fit_trial
from lightning_nas.search.trial_hold import holding_trial
from lightning_nas.search.trial_logs import clear_trial

__all__ = ["FRESH_RANKS", "SpecPickler", "check_sendable", "check_strategy",
           "check_trial_processes", "needs_own_process", "run_in_own_process", "run_on_ranks",
           "run_trial", "spawns_ranks", "unsendable"]

#: set to ``1``, every multi-process trial starts fresh processes (``run_in_own_process``)
FRESH_RANKS = "LIGHTNING_NAS_FRESH_RANKS"
#: the search's pid, for the trial process ``run_in_own_process`` starts (rank 0 alone reads it)
_PARENT = "LIGHTNING_NAS_TRIAL_PARENT"
_SPAWNING = ("ddp_spawn", "ddp_fork", "ddp_notebook", "fsdp_spawn")
_LOG_TAIL = 3000
#: the Trainer arguments that decide whether a trial starts processes of its own
_PROCESS_KEYS = ("strategy", "devices", "num_nodes", "accelerator")


def needs_own_process(trainer: Mapping[str, Any]) -> bool:
    """Whether these Trainer settings start more than one process per trial."""
    if int(trainer.get("num_nodes", 1)) > 1:
        return True
    devices = device_count(trainer.get("devices", "auto"))
    if devices == -1:  # every visible device: several only on a multi-GPU machine
        accelerator = str(trainer.get("accelerator", "auto"))
        if accelerator in ("cpu",):
            return False
        try:
            import torch

            return torch.cuda.device_count() > 1
        except Exception:  # noqa: BLE001 - no usable CUDA: one device
            return False
    return devices > 1


def _start_method(strategy: Any) -> str | None:
    """A ``DDPStrategy`` object's ``start_method`` argument, None for another value.

    Lightning offers no public accessor for it (2.6: the constructor keeps it as
    ``_start_method``; the public ``launcher`` is None until a Trainer configures it), so
    it is read from there; should that attribute go, an object counts as ``popen``.
    """
    from lightning.pytorch.strategies import DDPStrategy

    if not isinstance(strategy, DDPStrategy):
        return None
    return str(getattr(strategy, "_start_method", "popen"))


def spawns_ranks(strategy: Any) -> bool:
    """Whether ``strategy`` starts its ranks as child processes from inside ``fit``: a
    spawning name or one of its variants, or a strategy node or ``DDPStrategy`` object
    whose ``start_method`` is not ``popen``.

    Example:
        >>> spawns_ranks("ddp_spawn_find_unused_parameters_true"), spawns_ranks("ddp")
        (True, False)
        >>> spawns_ranks("DDP_Spawn")  # Lightning reads a name in any case
        True
    """
    if isinstance(strategy, str):  # (was: case-sensitive, so "DDP_Spawn" was not refused)
        return strategy.lower().startswith(_SPAWNING)
    if is_node(strategy):
        return node_args(strategy).get("start_method", "popen") != "popen"
    return _start_method(strategy) not in (None, "popen")


def _shown(strategy: Any) -> str:
    """``'ddp_spawn'``, a node as written, or ``DDPStrategy(start_method='spawn')``."""
    method = _start_method(strategy)
    if method is None:
        return repr(strategy)
    return f"{type(strategy).__name__}(start_method={method!r})"


def check_strategy(trainer: Mapping[str, Any], searched: bool = False) -> None:
    """Reject strategies that fork/spawn from inside ``fit`` (their ranks' callbacks do not
    come back to the trial); ``ddp`` does the same job on rank processes started as
    ``torchrun`` starts them. ``searched``: the strategy is a value of the space's
    ``trainer.strategy``, so named.

    Example:
        >>> check_strategy({"strategy": "ddp_spawn"})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.strategy='ddp_spawn' is not supported for ...
    """
    strategy = trainer.get("strategy")
    if spawns_ranks(strategy):  # (was: "the launcher re-runs the trial", which it does not
        # by default, and the strategy named twice)
        lead = (f"space key 'trainer.strategy' may take {_shown(strategy)}, which" if searched
                else f"trainer.strategy={_shown(strategy)}")
        raise ConfigError(f"{lead} is not supported for trials; use "
                          f"strategy='ddp': it starts the ranks from inside fit, and a "
                          f"trial's ranks are started as torchrun starts them (reused rank "
                          f"processes, or a process per trial), so Lightning launches none")


class SpecPickler(pickle.Pickler):
    """A pickler of a trial spec that notes what other processes cannot receive: the classes
    and functions of ``__main__`` it meets (``found``: rank processes import them by module)
    and a local one (``local``: made inside a function, or a lambda; pickle cannot send it,
    so pickling stops there)."""

    def __init__(self, file: Any) -> None:
        super().__init__(file)
        self.found: set[str] = set()
        self.local: str | None = None

    def persistent_id(self, obj: Any) -> None:
        if isinstance(obj, type | types.FunctionType):
            if obj.__module__ == "__main__":
                self.found.add(obj.__qualname__)
            if "<locals>" in obj.__qualname__ or obj.__name__ == "<lambda>":
                self.local = obj.__qualname__


def unsendable(local: str | None) -> str:
    """What to do when a trial spec cannot be pickled; ``local``: the local object in it
    (``SpecPickler.local``), if that is what failed.

    Example:
        >>> unsendable("main.<locals>.build")
        'main.<locals>.build is made inside a function, which pickle cannot send: define ...'
    """
    if local is None:
        return "define them at module level in an importable module, or use import paths"
    if local.startswith("LightningDataModule.from_datasets."):
        return ("the data is LightningDataModule.from_datasets(...)'s, whose loaders are "
                f"functions made inside it ({local}), which pickle cannot send: such data "
                f"works for trials in the search's own process only (num_workers 1, no DDP "
                f"trials); for these, give data= a LightningDataModule class defined at module "
                f"level in an importable module (data_init_args= its arguments)")
    what = "a lambda" if local.endswith("<lambda>") else "made inside a function"
    return (f"{local} is {what}, which pickle cannot send: define it at module level in an "
            f"importable module (the data as a LightningDataModule class there), or use "
            f"import paths")


def check_sendable(spec: Any, ranks: str | None = None, by_value: bool = False) -> None:
    """Worker processes and the rank processes of DDP trials (``ranks``: not None, the
    searched values that make them, or ``""``) receive the trial ``spec`` pickled: fail now,
    not in a worker. Ranks import what it refers to by module, so nothing of the script that
    runs (``__main__``) can reach them; workers (forked or spawned) re-import the script by
    its file, so a ``__main__`` without one (``python -c``, a notebook) cannot reach them
    either (unless ``by_value``: Ray's cloudpickle sends ``__main__``'s classes and
    functions whole).

    Raises:
        ConfigError: naming what cannot be sent, and what to do.
    """
    finder = SpecPickler(io.BytesIO())
    try:
        finder.dump(spec)
    except Exception as err:  # noqa: BLE001 - any pickling error
        where = ("worker processes" if ranks is None else
                 f"the rank processes of DDP trials{_because(ranks)}")
        raise ConfigError(f"the model, data or a Trainer object cannot be sent to {where} "
                          f"({typed(err)}); "
                          f"{unsendable(finder.local)}") from err
    found = f"{', '.join(sorted(finder.found))} {'is' if len(finder.found) == 1 else 'are'}"
    if ranks is not None and finder.found:
        raise ConfigError(f"DDP trials{_because(ranks)} run on rank processes that import "
                          f"what a trial uses by its module; {found} defined in the "
                          f"script that runs (__main__): move it into a module")
    if finder.found and not by_value and not hasattr(sys.modules["__main__"], "__file__"):
        raise ConfigError(f"worker processes import what a trial uses by its module; {found} "
                          f"defined in __main__, which has no file to import (python -c, a "
                          f"notebook): move it into a module")


def _because(searched: str) -> str:
    """`` (space key 'trainer.devices' may take 2)`` for searched values, else nothing."""
    return f" ({searched})" if searched else ""


def check_trial_processes(trainer: Mapping[str, Any],
                          searched: Mapping[str, Sequence[Any]]) -> str | None:
    """Check the Trainer of every trial as ``check_strategy`` checks one: the config's
    ``trainer``, and it with each value a searched Trainer argument may take (``searched``:
    ``{"strategy": [options...]}``, the space's ``trainer.*`` keys without the prefix);
    say whether any of them starts processes of its own (their trial spec must reach rank
    processes).

    Returns:
        None when no trial starts processes of its own, else what makes them: ``""`` for
        the config's Trainer, else the searched values (``space key 'trainer.devices' may
        take 2``).

    Raises:
        ConfigError: naming the setting (``trainer.strategy='ddp_spawn' ...``) or the space
            key and its value (``space key 'trainer.strategy' may take 'ddp_spawn', which
            ...``).

    Example:
        >>> check_trial_processes({"strategy": "ddp", "devices": 1}, {"devices": [1, 2]})
        "space key 'trainer.devices' may take 2"
    """
    check_strategy(trainer)
    for value in searched.get("strategy", ()):
        check_strategy({**trainer, "strategy": value}, searched=True)
    keys = [k for k in _PROCESS_KEYS if k in searched]
    for values in [(), *itertools.product(*(searched[k] for k in keys))]:
        try:  # a bad `devices`: the dry build of the Trainer names it
            if needs_own_process({**trainer, **dict(zip(keys, values, strict=False))}):
                return ", ".join(f"space key 'trainer.{k}' may take {v!r}"
                                 for k, v in zip(keys, values, strict=False)
                                 if trainer.get(k) != v)
        except (TypeError, ValueError):
            continue
    return None


def _prepare(spec: TrialSpec) -> Path:
    """Make the trial's folder ready for other processes; return its ``spec.pkl``."""
    trial_dir = Path(spec.trial_dir)
    clear_trial(spec)  # a promotion keeps its folder (last.ckpt)
    trial_dir.mkdir(parents=True, exist_ok=True)
    for earlier in [trial_dir / "result.json", trial_dir / PROGRESS,
                    *trial_dir.glob("rank*.error"),
                    *trial_dir.glob("rank*.died"), *trial_dir.glob("rank*.where")]:
        earlier.unlink(missing_ok=True)  # a promotion's earlier segment
    spec_path = trial_dir / "spec.pkl"
    spec_path.write_bytes(pickle.dumps(spec))
    return spec_path


def _collect(spec: TrialSpec, started: float, failure: str, ranks_failed: bool) -> TrialResult:
    """Rank 0's ``result.json`` (a failed one led by ``failure`` when a rank failed), or a
    FAILED result saying ``failure`` and ending with the end of ``trial.log``, with the
    epochs and curve rank 0 trained up to then (``rank_progress``). ``failure``
    (``rank 1 failed the trial: RuntimeError: boom``) is the error's first line alone: the
    line a user reads first, the same in every trial that fails the same way."""
    trial_dir = Path(spec.trial_dir)
    result_path = trial_dir / "result.json"
    progress = read_progress(trial_dir)
    (trial_dir / PROGRESS).unlink(missing_ok=True)  # read: the result holds it
    if result_path.exists():
        data = json.loads(result_path.read_text())
        data["status"] = TrialStatus(data["status"])
        data["started"] = started  # the trial's time includes starting its processes
        if ranks_failed:  # the cause, then rank 0's echo; a failing rank fails the trial
            echo = data["error"] or "completed its part"
            first, _, rest = echo.partition("\n")
            data["error"] = (f"{failure}\n{rest}".rstrip("\n")  # rank 0's own, said once
                             if failure == f"rank 0 failed the trial: {first}" else  # (was:
                             f"{failure}\nrank 0: {echo}")  # its line twice)
            data["status"] = TrialStatus.FAILED
            data.update(blamed_where(trial_dir, failure) or {})  # (was: rank 0's)
        return TrialResult(**data)
    tail = (trial_dir / "trial.log").read_text(errors="replace")[-_LOG_TAIL:]
    return TrialResult(trial_id=spec.trial_id, arch=dict(spec.arch), status=TrialStatus.FAILED,
                       started=started, finished=time.time(),
                       error=f"{failure}\nno result was reported; end of "
                             f"{trial_dir / 'trial.log'}:\n{tail}",
                       **progress,  # (was: epochs None, no curve)
                       **(blamed_where(trial_dir, failure) or {}))


def run_in_own_process(spec: TrialSpec) -> TrialResult:
    """Run ``spec`` through ``python -m lightning_nas.search.runner`` and wait for it.

    Lightning's launcher starts the other ranks (several nodes). On one node they meet on
    a store this process serves while the trial runs (``rendezvous``; was: on the port
    Lightning's launcher chose free, which another process could take before rank 0 bound
    it: the trial FAILED, ``EADDRINUSE``). Any rank that is still
    alive when rank 0 ends is killed with its process group. A rank other than 0 that
    fails prints its error into ``trial.log`` and fails the trial, named as a group names
    it (``rank 1 failed the trial: RuntimeError: ...``, ``rank 1 died (exit code 3)``:
    ``execute_fresh``). A process that dies without a
    result gives a FAILED result with its exit code and the end of its output
    (``trial.log`` in the trial folder).
    """
    spec_path, started = _prepare(spec), time.time()
    one_node = int(spec.trainer.get("num_nodes", 1)) == 1  # else the cluster's port
    with open(spec_path.parent / "trial.log", "wb") as log, \
            (Rendezvous() if one_node else contextlib.nullcontext()) as meeting:
        command = [sys.executable, "-m", "lightning_nas.search.runner", str(spec_path)]
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                env={**child_env(), **(meeting.env if meeting else {}),
                                     _PARENT: str(os.getpid())},
                                start_new_session=True)
        try:
            code = proc.wait()
        finally:  # killed and reaped: an interrupt's rewrite of best.ckpt comes after rank 0
            kill_group(proc)
            proc.wait()
    failure = fresh_failure(spec_path.parent)
    if failure is not None:
        return _collect(spec, started, failure, True)
    return _collect(spec, started, f"{PROCESS_DIED} ({describe_exit(code)})", False)


def run_on_ranks(spec: TrialSpec) -> TrialResult:
    """Run ``spec`` on this thread's long-lived group of rank processes (``ranks``), one
    rank per device; the group is started on the first such trial and reused (its ranks
    forked from a zygote: ``rank_zygote``)."""
    spec_path, started = _prepare(spec), time.time()
    world_size = device_count(spec.trainer.get("devices", "auto"))
    if world_size == -1:
        import torch

        world_size = torch.cuda.device_count()
    with open(spec_path.parent / "trial.log", "wb") as log:
        failure = run_in_group(spec_path, spec.trainer, world_size, log, zygote_for)
    return _collect(spec, started, failure or "rank 0 wrote no result", failure is not None)


def run_trial(spec: TrialSpec) -> TrialResult:
    """Run a trial here, or on other processes when its Trainer starts several: on one
    machine a reused group of ranks (``run_on_ranks``), over nodes (or with the environment
    variable ``LIGHTNING_NAS_FRESH_RANKS=1``) fresh processes started by Lightning's launcher
    (``run_in_own_process``).

    This is the function executors and workers call for every trial. Ctrl-C in a trial
    that trains here raises ``KeyboardInterrupt`` (not Lightning's ``SystemExit(1)``). A
    fit's or fine-tune's checkpoint (``own_logs``) is the user's: it keeps no callback state
    of lightning_nas's own (``users_in_place``; a search's export writes its ``best.ckpt``
    so), and of a config (``spec.cli_model``) the ``_class_path`` LightningCLI's
    ``--ckpt_path`` reads, an interrupted one's ``best.ckpt`` too; a completed one keeps no
    ``last.ckpt`` (``end_own_fit``), nor the mark of an unfinished one (``start_own_fit``).
    A search's trial holds its folder while it runs (``holding_trial``): one whose folder
    another run of it holds (a stopped search's, that a pool of the user's started late)
    trains nothing there, FAILED naming that run; one whose folder a run of a spec made
    earlier holds (a resume's, the stopped search's run started late) waits for it to end,
    saying so as it starts waiting (for as long as that run lasts).
    """
    if spec.own_logs or spec.objective is not None:  # a fit's, a fine-tune's; no folder
        return _run(spec)
    with holding_trial(spec.trial_dir, spec.submitted, spec.trial_id) as other:
        if other is None:
            return _run(spec)
    now = time.time()
    return TrialResult(trial_id=spec.trial_id, arch=dict(spec.arch), status=TrialStatus.FAILED,
                       started=now, finished=now, error=f"{spec.trial_dir} is held by another "
                       f"run of trial {spec.trial_id} ({other}): it trained nothing there")


def _run(spec: TrialSpec) -> TrialResult:
    """``run_trial``'s work, its folder held (a search's trial) or no hold needed."""
    start_own_fit(spec)  # until it completes: a kill before an epoch ended is not "finished"
    try:
        if not needs_own_process(spec.trainer):
            with ctrl_c_raised():
                result = fit_trial(spec)
        elif int(spec.trainer.get("num_nodes", 1)) > 1 or os.environ.get(FRESH_RANKS) == "1":
            result = run_in_own_process(spec)
        else:
            result = run_on_ranks(spec)
    except BaseException:  # Ctrl-C: the folder's best.ckpt is the user's all the same
        best = Path(spec.trial_dir) / "best.ckpt"
        if spec.own_logs and best.is_file() and checkpoint_complete(best):
            with contextlib.suppress(Exception):  # never in place of the interrupt
                users_in_place(best, spec.cli_model)
        raise
    if spec.own_logs and result.checkpoint and Path(result.checkpoint).is_file():
        users_in_place(Path(result.checkpoint), spec.cli_model)
    end_own_fit(spec, result)  # no last.ckpt once complete; a resumed one's logs merged
    return result


def _main(spec_path: Path) -> int:
    """What a trial's own process, and every rank Lightning's launcher starts from it, runs:
    die with the process that started it (Linux ``PR_SET_PDEATHSIG``: a search killed with
    ``kill -9`` or SIGTERM leaves none training), then ``execute_fresh``."""
    die_with_parent()
    parent = os.environ.pop(_PARENT, None)  # popped: the ranks rank 0 starts inherit none
    if parent is not None and not parent_alive(int(parent)):  # it died while this started
        return 0
    return execute_fresh(spec_path)


if __name__ == "__main__":
    _code = _main(Path(sys.argv[1]))
    freeze_for_exit()  # each of a trial's processes: no sweep of the heap at exit (seconds)
    sys.exit(_code)

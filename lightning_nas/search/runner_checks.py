"""The checks of where a trial runs (``search/runner.py`` runs it): whether its Trainer starts
processes of its own (``needs_own_process``; over every value a searched Trainer argument may
take: ``check_trial_processes``), the strategies that start their ranks from inside ``fit``,
refused for trials (``spawns_ranks``, ``check_strategy``), as are trials on several nodes
(``check_nodes``), and whether a trial spec can be sent
to worker or rank processes (``check_sendable``, with ``SpecPickler`` and ``unsendable``).

Example:
    >>> needs_own_process({"accelerator": "cpu", "devices": 2, "strategy": "ddp"})
    True
    >>> needs_own_process({"max_epochs": 3})
    False
"""

from __future__ import annotations

import io
import itertools
import pickle
import sys
import types
from collections.abc import Mapping, Sequence
from typing import Any

from lightning_nas.config.nodes import is_node, node_args
from lightning_nas.devices import device_count
from lightning_nas.errors import ConfigError, typed

__all__ = ["SpecPickler", "check_nodes", "check_sendable", "check_strategy",
           "check_trial_processes", "needs_own_process", "spawns_ranks", "unsendable",
           "unsendable_part"]

_SPAWNING = ("ddp_spawn", "ddp_fork", "ddp_notebook", "fsdp_spawn")
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


def unsendable(local: str | None, part: str | None = None) -> str:
    """What to do when a trial spec cannot be pickled; ``local``: the local object in it
    (``SpecPickler.local``), if that is what failed; ``part``: where the object that failed
    is given (``unsendable_part``), if known.

    Example:
        >>> unsendable("main.<locals>.build")
        'main.<locals>.build is made inside a function, which pickle cannot send: define ...'
    """
    if local is None and part is not None:  # (was: the advice below, met already)
        return ("define it at module level in an importable module, holding nothing pickle "
                "cannot send (a lock, an open file, a connection: make those in setup() or "
                "when first used), or use import paths")
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


def unsendable_part(spec: Any) -> str | None:
    """Where in the trial ``spec`` the first object pickle cannot send is given, with its
    class: ``data (a MyData)``, ``trainer.callbacks[1] (a MyCallback)``,
    ``model_init_args.net (a Body)``; None where each part pickles alone.

    Example:
        >>> import threading
        >>> from types import SimpleNamespace
        >>> spec = SimpleNamespace(model=int, trainer={"callbacks": [1, threading.Lock()]})
        >>> unsendable_part(spec)
        'trainer.callbacks[1] (a lock)'
    """
    def fails(value: Any) -> bool:
        try:
            pickle.dumps(value)
        except Exception:  # noqa: BLE001 - any pickling error
            return True
        return False

    def within(path: str, value: Any) -> str:
        items = (value.items() if isinstance(value, Mapping) else
                 enumerate(value) if isinstance(value, list | tuple) else ())
        for key, item in items:
            if fails(item):
                return within(f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}",
                              item)
        return f"{path} (a {type(value).__name__})"

    for name, value in vars(spec).items():
        if fails(value):
            return within(name, value)
    return None


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
        part = unsendable_part(spec)  # (was: "the model, data or a Trainer object")
        raise ConfigError(f"{part or 'the model, data or a Trainer object'} cannot be sent "
                          f"to {where} ({typed(err)}); "
                          f"{unsendable(finder.local, part)}") from err
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


def _several_nodes(value: Any) -> bool:
    """Whether a ``num_nodes`` value asks for more than one node (a bad value: no; the dry
    build of the Trainer names it)."""
    try:
        return int(value) > 1
    except (TypeError, ValueError):
        return False


def check_nodes(trainer: Mapping[str, Any], searched: Mapping[str, Sequence[Any]]) -> None:
    """Refuse trials on several nodes (``num_nodes`` > 1, given or a searched value): the
    search starts each trial's ranks on this machine alone, and nothing starts them on the
    other nodes, so rank 0 would wait for them until its process group timed out.

    Example:
        >>> check_nodes({"num_nodes": 2}, {})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.num_nodes=2: nothing starts a trial's ranks ...
    """
    leads = ([f"trainer.num_nodes={trainer['num_nodes']!r}"]
             if _several_nodes(trainer.get("num_nodes", 1)) else [])
    leads += [f"space key 'trainer.num_nodes' may take {value!r}"
              for value in searched.get("num_nodes", ()) if _several_nodes(value)]
    if leads:  # (was: each trial waited 30 min, Lightning's default timeout, then FAILED)
        raise ConfigError(f"{leads[0]}: nothing starts a trial's ranks on the other nodes "
                          f"(a search starts each trial's ranks on this machine alone), so "
                          f"its rank 0 would wait for them until its process group timed out "
                          f"(30 min by default), every trial; use num_nodes: 1 (devices: N "
                          f"trains a trial on N ranks of this machine), or executor: ray to "
                          f"run trials on several machines at once")


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

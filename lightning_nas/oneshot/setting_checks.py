"""The ``oneshot:`` block of a ``lightning-nas oneshot`` config: its keys and defaults
(``ONESHOT_KEYS``), the algorithms (``ONESHOT_ALGORITHMS``) and the keys only some of them
read (``ALGORITHM_KEYS``), and the checks of its settings before any training:
``check_algorithm`` (the algorithm, with the keys given), ``check_oneshot_settings`` (type
and range of each), ``check_seed`` (the seed's range) and ``check_run_folder`` (a folder
the run may write into). ``oneshot/run_checks.py``'s ``check_oneshot`` makes them with the
rest of a config's checks.

Example:
    >>> sorted(ONESHOT_KEYS)[:3]
    ['algorithm', 'arch_lr', 'arch_weight_decay']
    >>> check_algorithm({"algorithm": "darts", "num_candidates": 5})
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: oneshot setting 'num_candidates' applies to ... spos only, ...
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lightning_nas.errors import ConfigError, check_number, mode_hint, unknown
from lightning_nas.oneshot.arch_weights import TAU_SCHEDULES
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import DifferentiableNAS
from lightning_nas.oneshot.finetune import finetune_subnet
from lightning_nas.oneshot.seed_range import SEED_MAX, WIDE_SEED_MAX, check_seed_range
from lightning_nas.run_folder import file_in_place, new_folder
from lightning_nas.strategies import check_optimizer_name

__all__ = ["ALGORITHM_KEYS", "DEFAULT_RUN_DIR", "ONESHOT_ALGORITHMS", "ONESHOT_KEYS",
           "SEARCH_KEY_HINTS", "check_algorithm", "check_oneshot_settings", "check_run_folder",
           "check_seed"]

#: the run folder of a config without ``oneshot.run_dir``
DEFAULT_RUN_DIR = "runs/oneshot"

#: what a ``search:`` key, written into the ``oneshot:`` block, is there (was: "unknown
#: oneshot setting" and the valid keys alone)
SEARCH_KEY_HINTS = {
    "monitor": "the command scores each subnet by its accuracy on the validation data, "
               "computed by itself (nothing the model logs is read): leave monitor out",
    "metric": "the command scores by accuracy; a metric other than accuracy needs Python: "
              "OneShotNAS(metric=...) or DifferentiableNAS(metric=...)",
    "budget": "the supernet trains once: num_candidates: the subnets SPOS scores in a search",
    "space": "the search space is derived from the model's choice modules (LayerChoice, "
             "ChoiceConv2d, ChoiceLinear, Repeat): leave space out",
}

#: the values of ``oneshot.algorithm``
ONESHOT_ALGORITHMS = ("spos", "darts", "gdas")


def _defaults(owner: Callable[..., Any], *names: str) -> dict[str, Any]:
    """The defaults of ``owner``'s parameters ``names`` (so the config's are the classes')."""
    parameters = inspect.signature(owner).parameters
    return {name: parameters[name].default for name in names}


#: keys of the ``oneshot:`` block: the algorithm, its settings, where to write and the
#: fine-tune of the winner; the settings default as in ``OneShotNAS``, ``DifferentiableNAS``
#: and ``finetune_subnet`` (was: a copy of their defaults)
ONESHOT_KEYS: dict[str, Any] = {
    "algorithm": "spos",
    **_defaults(OneShotNAS, "optimizer", "num_candidates", "search_every_n_epochs"),
    **_defaults(DifferentiableNAS, "arch_lr", "arch_weight_decay", "warmup_epochs", "top_k",
                "tau_max", "tau_min", "tau_schedule", "tau_epochs", "calibration_batches"),
    "num_classes": None, "mode": "max", "net_attr": None, "seed": None, "run_dir": None,
    "finetune_epochs": 0, "finetune_lr": _defaults(finetune_subnet, "lr")["lr"],
}

#: keys that only some algorithms read
ALGORITHM_KEYS: dict[str, tuple[str, ...]] = {
    "optimizer": ("spos",), "num_candidates": ("spos",), "search_every_n_epochs": ("spos",),
    "arch_lr": ("darts", "gdas"), "arch_weight_decay": ("darts", "gdas"),
    "warmup_epochs": ("darts", "gdas"), "top_k": ("darts", "gdas"), "tau_max": ("gdas",),
    "tau_min": ("gdas",), "tau_schedule": ("gdas",), "tau_epochs": ("gdas",),
}


def check_algorithm(given: Mapping[str, Any]) -> str:
    """The algorithm of a ``oneshot:`` block (default ``spos``), checked with the keys given.
    A key another algorithm reads set to null counts as not given, so a file's algorithm
    can be switched from the command line (``--oneshot.algorithm=darts
    --oneshot.optimizer=null``).

    Raises:
        ConfigError: an unknown algorithm (listing the valid ones), or a key another
            algorithm reads (naming each such key, and the ``=null`` that drops it).
    """
    algorithm = given.get("algorithm")
    if algorithm is None:  # left out or null: the default (was: null was "unknown oneshot
        algorithm = ONESHOT_KEYS["algorithm"]  # algorithm None")
    if algorithm not in ONESHOT_ALGORITHMS:  # "... or null": null is the default
        said = unknown("oneshot algorithm", algorithm, ONESHOT_ALGORITHMS, listing="algorithms")
        raise ConfigError(f"{said} or null")
    other = [key for key, value in given.items() if value is not None
             and algorithm not in ALGORITHM_KEYS.get(key, ONESHOT_ALGORITHMS)]
    if other:  # was: refused when null too, so a file's SPOS keys kept it SPOS
        key, more = other[0], ", ".join(map(repr, other[1:]))
        them = "them" if more else "it"
        raise ConfigError(f"oneshot setting {key!r} applies to algorithm "
                          f"{' and '.join(ALGORITHM_KEYS[key])} only, not {algorithm}"
                          f"{f' (so do {more})' if more else ''}; leave {them} out or set "
                          f"{them} to null, which counts as not given (switching a file's "
                          f"algorithm on the command line: "
                          f"{' '.join(f'--oneshot.{k}=null' for k in other)})")
    return algorithm


#: ``(kind, bound)`` of the numeric settings: an int at least ``bound``, a float above it
#: (``arch_weight_decay``: at least 0); each may be null, its default (the messages say so;
#: was: "or null" for those whose default is null alone)
_NUMBERS: dict[str, tuple[type, float | None]] = {
    "num_candidates": (int, 1), "search_every_n_epochs": (int, 1), "top_k": (int, 1),
    "warmup_epochs": (int, 0), "calibration_batches": (int, 0), "num_classes": (int, 2),
    "seed": (int, None), "finetune_epochs": (int, 0), "arch_lr": (float, 0),
    "arch_weight_decay": (float, 0), "tau_max": (float, 0), "tau_min": (float, 0),
    "finetune_lr": (float, 0), "tau_epochs": (int, 1),
}
#: settings that must be strings (or null, their default)
_STRINGS = ("optimizer", "mode", "net_attr", "run_dir")


def check_seed(seed: int, key: str, spos: bool = True) -> None:
    """Raise ``ConfigError`` naming ``key`` when ``seed`` is outside ``0..SEED_MAX`` (SPOS:
    ``seed + epoch`` seeds each search) or ``0..2**32 - 1`` (DARTS, GDAS: Lightning's range).

    Example:
        >>> check_seed(2**32 - 1, "oneshot.seed")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: oneshot.seed must be an integer from 0 to 2147483647...
        >>> check_seed(2**32 - 1, "oneshot.seed", spos=False)
    """
    # (one check with OneShotNAS's and DifferentiableNAS's: oneshot.seed_range)
    check_seed_range(seed, key, SEED_MAX if spos else WIDE_SEED_MAX,
                     "it seeds torch, numpy and random, which take 0 to 2**32 - 1" + (
                         ", and seed + epoch seeds each SPOS search, which must stay below "
                         "2**32" if spos else ""),
                     null=" or null" if key.startswith("oneshot.") else "")  # seed_everything's


def check_oneshot_settings(opts: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a ``oneshot:`` block checked for type and range before any training
    (a numeric string such as ``"1e-3"`` becomes a float; a null setting its default, as
    one left out: ``top_k: null`` is 1, ``finetune_epochs: null`` 0, no fine-tune).

    Raises:
        ConfigError: naming the key, the value and what it must be.

    Example:
        >>> check_oneshot_settings({"top_k": None, "finetune_lr": None})
        {'top_k': 1, 'finetune_lr': 0.001}
        >>> check_oneshot_settings({"finetune_epochs": "ten"})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: oneshot.finetune_epochs must be an integer >= 0 or null...
    """
    # null is each key's default, as not given (was: so for finetune_epochs and the keys
    # whose default is null alone; top_k, finetune_lr, mode, ... were refused: "got None")
    out = {key: ONESHOT_KEYS[key] if value is None and key in ONESHOT_KEYS else value
           for key, value in opts.items()}
    for key, (kind, low) in _NUMBERS.items():
        value = out.get(key)
        if key not in out or value is None:  # null: a default of null (num_classes, seed)
            continue
        if kind is float and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        check_number(value, f"oneshot.{key}", low, strict=kind is float
                     and key != "arch_weight_decay", integer=kind is int, nullable=True)
        out[key] = kind(value)
    if out.get("mode") not in (None, "max"):  # max alone: the command scores by accuracy
        raise ConfigError(f"oneshot.mode can be max or null; got {out['mode']!r}: "
                          f"{_mode_said(out['mode'])}")
    for key in _STRINGS:
        value = out.get(key)
        if key in out and not (isinstance(value, str) or value is None):
            raise ConfigError(f"oneshot.{key} must be a string or null, got {value!r}")
    if out.get("run_dir"):  # no newline: the folder is named on one line
        new_folder(out["run_dir"], "oneshot.run_dir")
    if out.get("finetune_epochs") and out.get("num_classes") is None:
        raise ConfigError(f"oneshot.finetune_epochs={out['finetune_epochs']} needs "
                          f"oneshot.num_classes (the fine-tune's accuracy metric)")
    if out.get("optimizer") is not None:
        try:
            check_optimizer_name(out["optimizer"])
        except ConfigError as err:  # the key, and null (was: the registry's words alone)
            raise ConfigError(f"oneshot.optimizer: {err}; or null, the default "
                              f"({ONESHOT_KEYS['optimizer']})") from None
    if "tau_schedule" in out and out["tau_schedule"] not in TAU_SCHEDULES:  # (was: no key)
        said = unknown("oneshot.tau_schedule", str(out["tau_schedule"]), TAU_SCHEDULES,
                       listing="values")
        raise ConfigError(f"{said} or null")
    if out.get("tau_min", 0) > out.get("tau_max", math.inf):
        raise ConfigError(f"oneshot.tau_min ({out['tau_min']}) must be at most tau_max "
                          f"({out['tau_max']})")
    return out


def _mode_said(mode: object) -> str:
    """Why ``oneshot.mode`` cannot be ``mode``, after the valid ones (was: for ``min``, the
    why alone; for ``maximize``, ``MAX``, no did-you-mean; for ``1``, "must be a string")."""
    if mode_hint(mode, ["min"]):  # min, minimize, MIN: the command has no metric setting
        return ("min would pick the subnet of the lowest accuracy: the command scores "
                "subnets by accuracy (higher is better); a metric where lower is better needs "
                "Python (OneShotNAS or DifferentiableNAS with metric= and mode='min')")
    return f"{mode_hint(mode, ['max'])}the command scores subnets by accuracy, higher is better"


def check_run_folder(run_dir: Path) -> None:
    """Raise ``ConfigError`` when a one-shot run may not write into ``run_dir``: a file in
    its place (or above it), or a search's run folder (``search.db``: a search or a Hydra
    sweep), whose ``report/`` a new run would remove and whose folder it would mix with its
    own outputs. The folder is read as it is (``--print_config`` checks it too).

    Example:
        >>> check_run_folder(Path("runs/no_such_folder"))  # a new folder: taken
    """
    blocked = file_in_place(run_dir)
    if blocked is not None:  # (was: "[Errno 17] File exists", naming no setting)
        raise ConfigError(f"oneshot.run_dir {str(run_dir)!r} cannot be a folder: {blocked} is "
                          f"a file; a one-shot run writes best_arch.yaml, subnet.pt and "
                          f"checkpoints/ into a folder there (give another path)")
    if (run_dir / "search.db").exists():  # (was: taken, its report/report.html removed)
        raise ConfigError(f"oneshot.run_dir {str(run_dir)!r} is a search's run folder "
                          f"(search.db); give a one-shot run another folder")

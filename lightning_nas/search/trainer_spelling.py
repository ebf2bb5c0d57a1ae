"""Trainer settings as Lightning takes them, for a resume to compare: an argument given at
its signature default is the argument left out (Lightning takes that default for it), and
a ``precision`` in one of Lightning's other spellings is the one it converts it to
(``32`` and ``"32"`` are ``"32-true"``, ``"bf16"`` is ``"bf16-mixed"``).

Nothing else is taken as the same: a default of Lightning's that depends on other
arguments (``max_epochs`` left out is 1000 epochs only without ``max_steps`` or a
``Timer``; ``precision`` left out is ``"32-true"`` only without a precision plugin;
``accelerator``, ``devices`` and ``strategy`` ``"auto"`` pick by the machine) stays a
difference, and so does a value of another type (``True`` where the default is ``1``).
``check_trainer_option_clashes`` refuses a searched Trainer argument's choice of two options
Lightning takes as one.

Example:
    >>> as_taken({"check_val_every_n_epoch": 1, "max_epochs": 2, "precision": 32})
    {'max_epochs': 2, 'precision': '32-true'}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning.pytorch as pl

from lightning_nas.config.imports import import_object
from lightning_nas.config.instantiate import short
from lightning_nas.errors import ConfigError
from lightning_nas.numeric import is_int
from lightning_nas.search.trial_defaults import trainer_defaults

__all__ = ["as_taken", "check_trainer_option_clashes", "is_trainer_node"]

#: the other spellings of a precision that ``Trainer``'s documentation lists as the same
#: (``precision``: "full precision (32, '32' or '32-true')"), as Lightning converts them;
#: one not listed is compared as written (read here, not from Lightning's private table)
_PRECISION_SPELLINGS: Mapping[str, str] = {"64": "64-true", "32": "32-true",
                                           "16": "16-mixed", "bf16": "bf16-mixed"}

#: what an argument the Trainer does not take is compared with: nothing
_NO_DEFAULT = object()


def as_taken(trainer: Mapping[str, Any]) -> dict[str, Any]:
    """``trainer`` (plain Trainer keyword arguments, as the store keeps them) without the
    arguments given at the default of ``lightning.pytorch.Trainer.__init__``'s signature
    (of the same type: ``1.0`` or ``True`` is no ``1``), a ``precision`` as Lightning
    converts it.

    Example:
        >>> as_taken({"accelerator": "auto", "devices": 1, "gradient_clip_val": None})
        {'devices': 1}
    """
    defaults = trainer_defaults()
    out = {}
    for key, value in trainer.items():
        default = defaults.get(key, _NO_DEFAULT)  # (an unknown key: the Trainer refuses it)
        if default is not _NO_DEFAULT and type(value) is type(default) and value == default:
            continue
        if key == "precision" and (is_int(value) or isinstance(value, str)):
            value = _PRECISION_SPELLINGS.get(str(value), value)
        out[key] = value
    return out


def check_trainer_option_clashes(choices: Mapping[str, Sequence[Any]]) -> None:
    """Refuse a ``trainer.NAME`` choice of two options the Trainer takes as one (``as_taken``:
    ``precision: {choice: [32, "32-true"]}``), before anything is built: a trial of one
    would train the other's model again, the store keeping two architectures.

    Example:
        >>> check_trainer_option_clashes({"trainer.precision": [32, "bf16-mixed"], "w": [1]})

    Raises:
        ConfigError: naming the space key, the two options and the value both are.
    """
    for key, options in choices.items():
        name = key.removeprefix("trainer.") if key.startswith("trainer.") else ""
        if not name or "." in name:
            continue
        seen: list[tuple[Any, dict[str, Any]]] = []
        for option in options:
            taken = as_taken({name: option})
            for earlier, was in seen:
                try:
                    same = bool(was == taken)
                except Exception:  # noqa: BLE001 - an object whose == is no bool: not said
                    same = False
                if same:
                    value = short(taken[name]) if name in taken else "its default"
                    raise ConfigError(
                        f"space key {key!r}: the choice options {short(earlier)} and "
                        f"{short(option)} (both {value} as Lightning takes them) are one "
                        f"value to the Trainer: a trial of one would train the other's "
                        f"model again; keep one of them")
            seen.append((option, taken))


def is_trainer_node(node: Any) -> bool:
    """Whether ``node`` is a Hydra ``_target_`` node of Lightning's own Trainer
    (``lightning.pytorch.Trainer``, ``lightning.Trainer``), whose arguments ``as_taken``
    knows; one of a subclass (its own defaults) or of another package is not, and nothing
    outside ``lightning`` is imported to tell.

    Example:
        >>> is_trainer_node({"_target_": "lightning.Trainer", "max_epochs": 2})
        True
        >>> is_trainer_node({"_target_": "src.MyTrainer"}), is_trainer_node("lightning.Trainer")
        (False, False)
    """
    target = node.get("_target_") if isinstance(node, Mapping) else None
    if not (isinstance(target, str) and target.split(".")[0] == "lightning"):
        return False
    try:
        return import_object(target) is pl.Trainer
    except Exception:  # noqa: BLE001 - a path that does not import: not the Trainer
        return False

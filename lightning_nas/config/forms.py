"""Config shapes that LightningCLI and Hydra projects write, read as a search config: a
``fit:`` level (a config for LightningCLI's top-level ``--config``) lifted, a ``trainer``
section that is a Hydra node of the Trainer read as its arguments, and the error for a
section without its class (a LightningCLI made for a fixed class fills it in from its code).

Example:
    >>> lift_fit({"fit": {"trainer": {"max_epochs": 2}}, "test": {}}, "cfg.yaml")
    {'trainer': {'max_epochs': 2}}
    >>> trainer_args({"_target_": "lightning.pytorch.Trainer", "max_epochs": 3})
    {'max_epochs': 3}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl

from lightning_nas.config.instantiate import import_object
from lightning_nas.config.nodes import SPEC_KEYS
from lightning_nas.errors import ConfigError

__all__ = ["SUBCOMMANDS", "TRAINER_TARGETS", "fixed_class_error", "lift_fit", "trainer_args"]

#: LightningCLI's subcommands, the top-level keys of a config for its top-level ``--config``
SUBCOMMANDS = ("fit", "validate", "test", "predict")
#: what a ``trainer`` section's ``_target_`` may name (dropped: the section is the
#: arguments of the Trainer each trial builds)
TRAINER_TARGETS = frozenset({"lightning.Trainer", *(
    f"{package}{module}.Trainer" for package in ("lightning.pytorch", "pytorch_lightning")
    for module in ("", ".trainer", ".trainer.trainer"))})


def lift_fit(part: Mapping[str, Any], path: Any) -> dict[str, Any]:
    """The config file ``part`` (at ``path``) with its ``fit:`` section's keys at the top
    level, where a ``fit --config`` file has them: a file for LightningCLI's top-level
    ``--config`` (``python main.py --config config.yaml fit``) holds a section per
    subcommand. The other subcommands' (``validate``, ``test``, ``predict``) are dropped: a
    search trains as ``fit`` does. A file without these keys is returned as it is.

    Raises:
        ConfigError: for ``fit:`` that is no mapping, a key both in it and beside it, or
            another subcommand's section without ``fit:``.
    """
    found = [key for key in SUBCOMMANDS if key in part]
    if not found:
        return dict(part)
    rest = {k: v for k, v in part.items() if k not in SUBCOMMANDS}
    fit = part.get("fit")
    if "fit" not in part:
        raise ConfigError(f"{path}: {', '.join(found)} is the config of LightningCLI's "
                          f"{found[0]} subcommand, and a search trains as `fit` does: give "
                          f"the `fit:` section, or its keys (model, data, trainer, ...) at the "
                          f"top level")
    if not isinstance(fit, Mapping):
        raise ConfigError(f"{path}: `fit` must be a mapping of the fit subcommand's config "
                          f"(model, data, trainer, ...), got {fit!r}")
    twice = sorted(set(fit) & set(rest))
    if twice:
        raise ConfigError(f"{path}: {', '.join(twice)} given both in `fit:` and at the top "
                          f"level; give each once (the `fit:` level may be dropped)")
    return {**rest, **fit}


def trainer_args(trainer: Any) -> Any:
    """A ``trainer`` section that is a Hydra node of the Trainer (``_target_:
    lightning.pytorch.Trainer``, as a project's ``configs/trainer/default.yaml`` is) as the
    Trainer's arguments: lightning-nas builds the Trainer of each trial itself.

    Raises:
        ConfigError: for a ``_target_`` that names another class (a Trainer subclass too).
    """
    if not isinstance(trainer, Mapping) or "_target_" not in trainer:
        return trainer
    target = trainer["_target_"]
    if target in TRAINER_TARGETS:
        return {k: v for k, v in trainer.items() if k != "_target_"}
    try:
        subclass = issubclass(import_object(target), pl.Trainer)
    except Exception:  # noqa: BLE001 - not importable, not a class: not the Trainer either
        subclass = False
    what = ("is a Trainer subclass, which lightning-nas cannot use: put what it adds into "
            "callbacks (trainer.callbacks) or the LightningModule" if subclass else
            "is not lightning.pytorch.Trainer")
    raise ConfigError(f"trainer._target_: {target!r} {what}. The `trainer` section holds the "
                      f"arguments of the lightning.pytorch.Trainer that lightning-nas builds "
                      f"for each trial; a _target_ there may only name it (as a Hydra "
                      f"project's configs/trainer/*.yaml does), or leave it out")


def fixed_class_error(section: Any, name: str) -> str:
    """Why the config section ``name`` (``model``, ``data``) that names no class cannot be
    built, and what to add: a LightningCLI made for a fixed class (``LightningCLI(MyModel,
    MyData)``) takes the class from its code and the section's arguments alone, as plain
    keys or under ``init_args``.

    Example:
        >>> print(fixed_class_error({"batch_size": 64}, "data"))
        `data` names no class (keys: batch_size): ... move batch_size under init_args and
        add class_path, ... data: {class_path: package.module.MyClass, init_args: {batch_size:
        64}} ...
    """
    if not isinstance(section, Mapping):
        return (f"`{name}` must be an import path, a mapping with class_path and init_args, or "
                f"a Hydra node with _target_; got {section!r}")
    args = section.get("init_args") if isinstance(section.get("init_args"), Mapping) else {
        k: v for k, v in section.items() if k not in SPEC_KEYS}
    plain = [k for k in section if k not in SPEC_KEYS]
    where = (f"move {', '.join(plain)} under init_args and add class_path" if plain else
             "add class_path beside init_args" if "init_args" in section else "add class_path")
    shown = ", ".join(f"{k}: {v!r}" for k, v in list(args.items())[:3])
    more = ", ..." if len(args) > 3 else ""
    return (f"`{name}` names no class (keys: {', '.join(map(str, section)) or 'none'}): a "
            f"LightningCLI made for a fixed class (LightningCLI(MyModel, MyData)) takes it from "
            f"its code, which lightning-nas does not read; {where}, the import path of your "
            f"class: {name}: {{class_path: package.module.MyClass, init_args: {{{shown}{more}}}}}"
            f" (valid keys of a section: {', '.join(SPEC_KEYS)}; or a Hydra node with "
            f"_target_)")

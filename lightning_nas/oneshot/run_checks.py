"""The checks of ``lightning-nas oneshot`` before it removes or trains anything:
``check_oneshot`` (every check that needs no model or data built: the ``oneshot:`` settings
through ``oneshot/setting_checks.py``, the seed resolved, the Trainer's through
``oneshot/trainer_checks.py``; in two parts, ``checked_settings`` and ``checked_parts``,
which ``oneshot/run.py``'s ``resumable`` makes apart) and ``check_network`` (``net_attr`` on
the model built on the meta device, for ``--print_config``).

Example:
    >>> check_oneshot({"model": "m.Net", "oneshot": {"algorithm": "dart"}})
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: unknown oneshot algorithm 'dart'; did you mean ...
"""

from __future__ import annotations

import os
import random
import warnings
from collections.abc import Mapping
from typing import Any

from torch import nn

from lightning_nas.config.env_seed import environment_seed
from lightning_nas.config.factories import DataFactory, ModelFactory
from lightning_nas.config.load import block_settings, config_seed, section_target
from lightning_nas.config.node_labels import names_said
from lightning_nas.config.node_places import config_names
from lightning_nas.config.trainer_checks import check_trainer_kwargs
from lightning_nas.oneshot.checks import check_tau_epochs, check_warmup_epochs
from lightning_nas.oneshot.scoring import network_of
from lightning_nas.oneshot.seed_range import SEED_MAX
from lightning_nas.oneshot.setting_checks import (
    DEFAULT_RUN_DIR,
    ONESHOT_KEYS,
    SEARCH_KEY_HINTS,
    check_algorithm,
    check_oneshot_settings,
    check_run_folder,
    check_seed,
)
from lightning_nas.oneshot.trainer_checks import (
    check_oneshot_builds,
    check_oneshot_strategy,
    check_oneshot_trainer,
    check_user_checkpoints,
)
from lightning_nas.run_folder import user_path
from lightning_nas.search.dry_builds import attempt_build
from lightning_nas.search.logger_dirs import check_trainer_dirs

__all__ = ["DRAWN_SEED", "NET_ATTR", "check_network", "check_oneshot", "checked_parts",
           "checked_settings"]

#: the environment variable that hands a run's seed to the DDP ranks it launches (a drawn
#: seed, ``seed_everything: true`` or ``false``, is drawn once)
DRAWN_SEED = "LIGHTNING_NAS_ONESHOT_SEED"

#: how a run's errors name ``net_attr`` (as the config and the command line write it)
NET_ATTR = "oneshot.net_attr"


def check_oneshot(cfg: Mapping[str, Any]
                  ) -> tuple[str, dict[str, Any], ModelFactory, DataFactory, dict[str, Any]]:
    """Every check of a one-shot config that needs no model or data built (the ``oneshot:``
    settings, the run folder's (``check_run_folder``), the model's and data's classes and
    arguments, the Trainer's, and the Trainer built once in a temporary folder; a node of a
    mapping of named callbacks said by its name, ``trainer.callbacks.lr_monitor``);
    ``run_oneshot`` and ``lightning-nas oneshot --print_config`` make them (``net_attr``,
    an attribute of the built module, is checked when a run builds it, before it removes
    or trains anything; ``--print_config``: ``check_network``).

    Returns:
        The algorithm, the checked settings (``seed`` resolved), the model and data
        factories, and the Trainer settings.

    Example:
        >>> check_oneshot({"model": "m.Net", "oneshot": {"algorithm": "dart"}})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: unknown oneshot algorithm 'dart'; did you mean ...
    """
    with names_said(config_names(cfg)):  # trainer.callbacks.lr_monitor (was: callbacks[1])
        algorithm, opts, trainer_cfg = checked_settings(cfg)
        return (algorithm, opts, *checked_parts(cfg, trainer_cfg, algorithm), trainer_cfg)


def checked_settings(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``check_oneshot``'s checks of the settings (no model, data or Trainer is built)."""
    opts = block_settings(cfg, "oneshot", ONESHOT_KEYS, SEARCH_KEY_HINTS)
    algorithm = check_algorithm(cfg.get("oneshot") or {})
    opts = check_oneshot_settings(opts)  # null: each key's default, another algorithm's too
    check_run_folder(user_path(opts["run_dir"] or DEFAULT_RUN_DIR))
    key = "seed_everything" if opts["seed"] is None else "oneshot.seed"
    everything = cfg.get("seed_everything")
    if opts["seed"] is not None and type(everything) is int:  # oneshot.seed wins, yet one
        # out of Lightning's range is refused, as without it (was: -5 silently ignored)
        check_seed(everything, "seed_everything", spos=False)
    if opts["seed"] is None and isinstance(cfg.get("seed_everything"), bool):  # true, false
        # ("no seed"): a drawn one; a DDP rank that rank 0's run launched takes rank 0's
        inherited = os.environ.get(DRAWN_SEED)  # (was: each rank drew its own); true takes
        if inherited:  # PL_GLOBAL_SEED first, as LightningCLI (config_seed; false: drawn)
            opts["seed"] = int(inherited)
        elif everything is False or environment_seed() is None:
            opts["seed"] = random.randrange(SEED_MAX + 1)
    opts["seed"] = config_seed(cfg, opts["seed"])
    check_seed(opts["seed"], key, spos=algorithm == "spos")
    trainer_cfg = dict(cfg.get("trainer") or {})
    check_trainer_kwargs(trainer_cfg)
    check_trainer_dirs(trainer_cfg, whose="the one-shot search's")  # (was: Lightning's
    # NotADirectoryError once the Trainer wrote, the model and data built)
    check_oneshot_strategy(trainer_cfg, algorithm)
    check_oneshot_trainer(trainer_cfg, algorithm)
    if algorithm != "spos":  # the logits never learnt (was: said at the fit's start only)
        check_warmup_epochs(opts["warmup_epochs"], trainer_cfg.get("max_epochs"))
    if algorithm == "gdas":  # no epochs to decay the temperature over (was: at its start)
        check_tau_epochs(opts["tau_epochs"], trainer_cfg)
    check_user_checkpoints(trainer_cfg, user_path(opts["run_dir"] or DEFAULT_RUN_DIR))
    return algorithm, opts, trainer_cfg


def checked_parts(cfg: Mapping[str, Any], trainer_cfg: dict[str, Any],
                   algorithm: str) -> tuple[ModelFactory, DataFactory]:
    """``check_oneshot``'s checks of the model's and data's classes, and its Trainer built."""
    model = ModelFactory(*section_target(cfg.get("model"), "model"))
    model.check([])
    data = DataFactory(*section_target(cfg.get("data"), "data"))
    data.check()
    check_oneshot_builds(trainer_cfg, algorithm)  # before any folder or search.lock
    return model, data


def check_network(model: ModelFactory, net_attr: str | None) -> None:
    """``oneshot.net_attr`` checked against the config's model built with its parameters on
    the meta device (``--print_config``, which trains nothing; a run checks the module it
    builds; was: ``--print_config`` passed a misspelt one). A model that cannot be built
    so is left to the run, whose build says why.

    Example:
        >>> check_network(ModelFactory("lightning.pytorch.demos.boring_classes.BoringModel"),
        ...               "layr")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: oneshot.net_attr 'layr': BoringModel has no nn.Module ...
    """
    built: list[nn.Module] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if attempt_build(lambda: built.append(model.build({})), meta=True) is None:
            network_of(built[-1], net_attr, NET_ATTR)

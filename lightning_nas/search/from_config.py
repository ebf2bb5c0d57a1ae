"""Build a ``Search`` from a loaded LightningCLI-shaped config with a ``search:`` block.

Example:
    >>> cfg = {"model": "examples.digits.model.DigitsCNN",
    ...        "search": {"space": {"num_layers": {"choice": [2, 3]}}, "budget": 2}}
    >>> search_from_config(cfg).settings.goal.budget  # doctest: +SKIP
    2
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_nas.config.cli_optim import (
    check_not_chosen_whole,
    check_optim,
    check_plateau_monitor,
    optim_sections,
    warn_shadowed,
)
from lightning_nas.config.cli_sections import checked_links, config_builders
from lightning_nas.config.env_seed import unused_seed
from lightning_nas.config.factories import ModelFactory
from lightning_nas.config.instantiate import import_object, instantiate
from lightning_nas.config.load import block_settings, config_seed, section_target
from lightning_nas.config.node_places import unplaced
from lightning_nas.config.nodes import is_node
from lightning_nas.config.space_paths import check_space_paths
from lightning_nas.errors import ConfigError
from lightning_nas.numeric import is_int
from lightning_nas.run_folder import run_dir_path, user_path
from lightning_nas.search.facade import Search
from lightning_nas.search.setting_checks import check_seed, config_words
from lightning_nas.search.settings import SearchSettings
from lightning_nas.space.params import KINDS
from lightning_nas.store import RunStore
from lightning_nas.user_warnings import warn_user

__all__ = ["SEARCH_KEYS", "search_from_config"]

#: keys of the ``search:`` block, with their defaults (``seed``: the config's
#: ``seed_everything``: an int, ``true`` for a drawn one, ``false`` for none, no key for 0;
#: ``true``, ``null`` and no key take ``PL_GLOBAL_SEED`` first, as LightningCLI's seeding;
#: ``run_dir``: ``runs/<config name>``; ``cli``: the import path of the project's
#: LightningCLI subclass whose ``link_arguments`` each trial applies, ``config.cli_links``)
SEARCH_KEYS: dict[str, Any] = {"space": None, **SearchSettings().flat(), "seed": None,
                               "run_dir": None, "cli": None}

#: how the two files are given (was: the errors of either alone did not say)
_BOTH = " (lightning-nas search train.yaml search.yaml)"


def search_from_config(cfg: Mapping[str, Any]) -> Search:
    """Check a loaded config and build the ``Search`` it describes (nothing trains yet); a
    setting's error says YAML's ``null`` (``config_words``; from Python: None).

    Args:
        cfg: the config as a mapping (``model``, ``data``, ``trainer``, a ``search`` block
            with its ``space``, ...), as ``lightning-nas search`` loads it.
    """
    with config_words():
        return _search_from_config(cfg)


def _search_from_config(cfg: Mapping[str, Any]) -> Search:
    """``search_from_config``'s checks and build."""
    # (the places of its keys into named nodes: load_config's, no setting)
    settings = block_settings(unplaced(cfg), "search", SEARCH_KEYS)
    if isinstance(settings["space"], Mapping) and not settings["space"]:
        raise ConfigError(f"`search.space` is empty: give it the keys to search, each with "
                          f"one of the kinds {', '.join(KINDS)} (e.g. width: {{int: [16, "
                          f"128]}}, act: {{choice: [relu, gelu]}})")  # was: "needs search.space"
    if not settings["space"]:
        raise ConfigError(f"the config needs `search.space` (a mapping, or a path to a YAML "
                          f"file): add a `search:` block with a `space`, or give it in a "
                          f"second file{_BOTH}")
    if cfg.get("model") is None:
        raise ConfigError(f"the config needs `model` (class_path and init_args): give your "
                          f"LightningCLI config before the file of the `search:` block{_BOTH}")
    check_optim(optim_sections(cfg))  # LightningCLI's optimizer / lr_scheduler: they build
    if isinstance(settings["space"], Mapping):
        check_not_chosen_whole(cfg, settings["space"], lambda name: _model_takes(cfg, name))
    model, model_args = section_target(cfg.get("model"), "model")
    if isinstance(settings["space"], Mapping):  # a model argument the optimizer shadows
        warn_shadowed(cfg, settings["space"], model)
    data, data_args = section_target(cfg.get("data"), "data")
    trainer = cfg.get("trainer") or {}
    if not isinstance(trainer, Mapping):
        raise ConfigError(f"`trainer` must be a mapping of Trainer arguments, got {trainer!r}")
    space = settings.pop("space")
    cli = settings.pop("cli")
    links = checked_links(cli, cfg, space)  # importable, a LightningCLI: before training
    check_plateau_monitor(optim_sections(cfg), cli)  # torch's, bare: every trial would fail
    run_dir = settings.pop("run_dir")
    run_dir = "runs/nas" if run_dir is None else run_dir
    run_dir_path(run_dir)  # no path ('', 5) refused before its store is read
    if settings["seed"] is None and not is_int(cfg.get("seed_everything")):
        settings["seed"] = _stored_seed(run_dir)  # a resume keeps the seed its run drew or
        # took from PL_GLOBAL_SEED (or, false, the 0 an older version seeded its run with:
        # none for a new run; was: no key and null took 0, refused against the run's)
        if settings["seed"] is not None and (said := unused_seed(settings["seed"], cfg)):
            warn_user(f"{run_dir}: resuming with seed {settings['seed']}, the seed its "
                      f"trials ran with (its search.db's); this invocation gives {said}: a "
                      f"resume keeps its run's seed (to search with another, give a new "
                      f"run_dir)")  # (was: without a word)
    if settings["seed"] is not None or cfg.get("seed_everything") is not False:
        everything = settings["seed"] is None  # the seed is seed_everything's: name it
        settings["seed"] = config_seed(cfg, settings["seed"])  # (false: none, as LightningCLI)
        if everything:
            check_seed(settings["seed"], "seed_everything")
        elif type(cfg.get("seed_everything")) is int:  # search.seed wins, yet one out of
            check_seed(cfg["seed_everything"], "seed_everything")  # range is refused, as
            # without it (was: -5 silently ignored)
    settings["constraints"] = _constraints(settings["constraints"])
    # only what the block gives (and the seed): a default `monitor: val_acc, mode: max`
    # passed as given would keep `monitor: val_loss` at max, and refuse `objectives`
    given = {*(cfg.get("search") or {}), "seed", "constraints"}
    settings = {key: value for key, value in settings.items() if key in given}
    if isinstance(space, Mapping):
        check_space_paths(space, cfg)
    if isinstance(space, Mapping) or links is not None:  # paths into the config, nodes,
        # links: each trial builds model and data from the config
        cfg, model, model_args, data, data_args = config_builders(
            cfg, space, cli, links, model, model_args, data, data_args)
    return Search(model, space, data=data, model_init_args=model_args, data_init_args=data_args,
                  trainer=dict(trainer), run_dir=run_dir, config=dict(cfg), **settings)


def _model_takes(cfg: Mapping[str, Any], name: str) -> bool:
    """Whether the config's model class takes the argument ``name`` (along ``**kwargs``)."""
    try:
        ModelFactory(section_target(cfg["model"], "model")[0]).check([name])
    except ConfigError:
        return False
    return True


def _stored_seed(run_dir: str) -> int | None:
    """The seed of the search stored in ``run_dir`` (None for a new run): with
    ``seed_everything: true`` each invocation would draw another (and with true, null or no
    key take another ``PL_GLOBAL_SEED``), and a resume must keep the seed its trials ran
    with (with ``false``, an older version seeded with 0)."""
    path = user_path(run_dir) / "search.db"
    if not path.is_file():
        return None
    with RunStore(path, read_only=True) as store:  # (--print_config writes nothing)
        return (store.get_meta("settings") or {}).get("seed")


def _constraints(given: Any) -> list[Any]:
    """``search.constraints``: import paths or ``class_path`` specs of callables."""
    if given is None:
        return []
    if isinstance(given, (str, Mapping)):
        given = [given]
    if not isinstance(given, (list, tuple)):
        raise ConfigError(f"`constraints` must be a list of import paths or class_path specs "
                          f"of callables arch -> bool, got {given!r}")
    out = []
    for i, spec in enumerate(given):
        try:
            built = import_object(spec) if isinstance(spec, str) else instantiate(spec)
        except ConfigError as err:
            raise ConfigError(f"search.constraints[{i}]={spec!r}: {err}") from None
        if not callable(built):  # was: "constraints must be callables ..., got 3.14", unnamed
            costs = ("; a limit on a cost is max_params or max_flops, beside constraints"
                     if isinstance(spec, Mapping) and not is_node(spec) else "")
            raise ConfigError(f"search.constraints[{i}]={spec!r} is no callable arch -> bool: "
                              f"give an import path (mypkg.rules.fits) or a class_path spec of "
                              f"one{costs}")
        out.append(built)
    return out

"""LightningCLI-shaped search configs: load, apply dotted overrides, check sections and blocks.

A config has ``model:`` and ``data:`` (``class_path`` + ``init_args``), ``trainer:``
(Trainer arguments), optional ``seed_everything:`` and a ``search:`` block.

Example:
    >>> cfg = apply_overrides({"search": {"budget": 20}}, ["--search.budget=5"])
    >>> cfg["search"]["budget"]
    5
"""


from __future__ import annotations

import copy
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_nas.config.cli_optim import OPTIM_KEYS, optim_sections
from lightning_nas.config.env_seed import environment_seed
from lightning_nas.config.forms import TRAINER_TARGETS, fixed_class_error, lift_fit, trainer_args
from lightning_nas.config.hydra_primary import check_not_hydra_primary
from lightning_nas.config.instantiate import class_strings_as_nodes
from lightning_nas.config.interpolations import check_no_interpolations, check_space_file
from lightning_nas.config.named_kwargs import at_path, check_given_once, named_kwargs_moved
from lightning_nas.config.node_files import inline_node_files, yaml_file
from lightning_nas.config.node_merge import merge_config, merge_group
from lightning_nas.config.node_places import (
    NAMES_KEY,
    PLACES_KEY,
    named_places,
    names_kept,
    trainer_classes_as_nodes,
)
from lightning_nas.config.nodes import (
    check_node_keys,
    check_nodes,
    contains_node,
    is_hydra,
    is_node,
    node_args,
)
from lightning_nas.config.overrides import split_overrides
from lightning_nas.config.paths import (
    appended,
    check_no_empty_sections,
    get_dotted,
    set_dotted,
)
from lightning_nas.config.section_builder import ConfigBuilder
from lightning_nas.config.sections import (
    LIGHTNINGCLI_KEYS,
    TOP_KEYS,
    command_sections,
    not_taken,
    unknown_section,
)
from lightning_nas.config.space_clash import check_groups_keep, check_not_searched
from lightning_nas.config.space_keys import SECTIONS, is_dotted
from lightning_nas.config.space_paths import check_other_kind, merge_space, set_space_key
from lightning_nas.config.yamlio import load_yaml
from lightning_nas.errors import ConfigError, unknown
from lightning_nas.numeric import is_int
from lightning_nas.run_folder import user_path

__all__ = [
    "LIGHTNINGCLI_KEYS",
    "TOP_KEYS",
    "TRAINER_TARGETS",
    "apply_overrides",
    "block_settings",
    "config_seed",
    "load_config",
    "section_target",
]

def load_config(paths: str | Path | Sequence[str | Path], overrides: Sequence[str] = (),
                searched: bool = True, command: str | None = None) -> dict[str, Any]:
    """Read YAML configs (later files merged over earlier ones, as LightningCLI does with
    several ``--config``), then apply ``--a.b=value`` overrides; ``searched=False`` for a
    config trained as it is (``lightning-nas fit``), whose search space sets nothing, so
    neither an override of a searched key nor a dict a group would replace is refused, and
    a space file is not read. ``command`` (``search``, ``oneshot``, ``fit``; default: as
    the files' blocks say) names the sections an override's misspelt one is told of. The
    names of the Trainer's mappings of named nodes are kept in the ``search`` block (a
    fit's too) or the ``oneshot`` block, for the checks to say them (``names_kept``)."""
    paths = [user_path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    cfg: dict[str, Any] = {}
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} "
                                    f"{'is a folder' if path.is_dir() else 'does not exist'}")
        try:
            part = load_yaml(path.read_text(), source=str(path)) or {}
        except ConfigError as err:  # model.py given (was: the parser's position alone)
            if path.suffix.lower() in (".yaml", ".yml"):
                raise
            raise ConfigError(f"{path} is not a YAML config file: {err}; give a YAML file "
                              f"(.yaml) holding a mapping with keys {', '.join(TOP_KEYS)}"
                              ) from None
        if not isinstance(part, Mapping):
            raise ConfigError(f"{path} must hold a mapping with keys {', '.join(TOP_KEYS)}")
        check_not_hydra_primary(part, path)  # configs/train.yaml: no groups composed here
        part = lift_fit(part, path)  # a config for LightningCLI's top-level --config
        check_no_empty_sections(cfg, part, path)  # `trainer:` with its keys commented out
        search = part.get("search") if isinstance(part.get("search"), Mapping) else {}
        part = _inline_sections(_space_read(part, path, missing_ok=True), path)
        check_given_once(part, f"given in {path}")
        cfg = named_kwargs_moved(_merge(cfg, part, whole_space=isinstance(search.get("space"),
                                                                     str)))  # as --flag
        _check_nodes(cfg, f"given in {path}")  # the earlier files' were: this one's key
    path = paths[-1]
    command = command or ("oneshot" if "oneshot" in cfg else "search")
    cfg = apply_overrides(cfg, overrides, config_path=path, command=command)
    _check_nodes(cfg, "given on the command line")
    check_no_interpolations(cfg)  # `${paths.output_dir}`: a Hydra job's, none here
    if "trainer" in cfg:  # a Hydra project's configs/trainer/*.yaml: the Trainer's arguments
        cfg["trainer"] = trainer_args(cfg["trainer"])
    named = cfg.get("trainer")  # its mappings of named nodes, which a space key may name
    if isinstance(cfg.get("trainer"), Mapping):  # callbacks: LearningRateMonitor, a node
        cfg["trainer"] = trainer_classes_as_nodes(cfg["trainer"])
    for section in ("model", "data", "trainer"):  # `net: mymod.MLP`, as jsonargparse reads it
        if isinstance(cfg.get(section), Mapping):
            cfg[section] = (class_strings_as_nodes(cfg[section]) if is_node(cfg[section]) else
                            {k: class_strings_as_nodes(v) for k, v in cfg[section].items()})
    for key in LIGHTNINGCLI_KEYS:
        if key in OPTIM_KEYS and "oneshot" not in cfg:  # a search's, a fit's: LightningCLI's
            continue  # configure_optimizers, built for each trial (checked: search, fit)
        if cfg.get(key, None) is not None:
            raise ConfigError(f"`{key}: {cfg[key]!r}` is {not_taken(key, command)}; leave it "
                              f"null or remove it")
        cfg.pop(key, None)  # LightningCLI writes it as null: nothing to do
    cfg.update(optim_sections(cfg) if "oneshot" not in cfg else {})  # as class_path nodes
    for key in OPTIM_KEYS:
        if cfg.get(key, 0) is None:
            cfg.pop(key)
    if searched:
        cfg = _space_read(cfg, path)  # one an override names (--search.space=space.yaml)
        space = cfg["search"].get("space") if isinstance(cfg.get("search"), Mapping) else None
        if isinstance(cfg.get("search"), Mapping):  # trainer.callbacks.early_stopping.
            # patience: the user's key stored and shown, its node's place kept for trials
            if PLACES_KEY in cfg["search"]:
                raise ConfigError(f"search.{PLACES_KEY}: lightning-nas's own (the place of "
                                  f"each space key into a named node, set as the config is "
                                  f"read), not a setting; remove it")
            places = named_places(space, named, cfg.get("model")) if isinstance(
                space, Mapping) else {}
            cfg["search"] = {**cfg["search"], **({PLACES_KEY: places} if places else {})}
        check_not_searched(overrides, cfg, path)
        check_groups_keep(cfg)
    # `oneshot` with no oneshot: block (every key has a default): its own block, not a
    # search's (was: "unknown config section 'search'", a section the file did not hold)
    block = "oneshot" if "oneshot" in cfg or command == "oneshot" else "search"
    if cfg.get(block) is None:
        cfg[block] = {}
    if isinstance(cfg[block], Mapping) and cfg[block].get("run_dir") is None:  # null too
        cfg[block]["run_dir"] = f"runs/{path.stem}"  # (not a mapping: block_settings says so)
    # the nodes' names, which the checks of a search, a one-shot run and a fit say (was: a
    # one-shot run's and a fit's their places, trainer.callbacks[1], never written)
    return names_kept(cfg, block, named)


def _check_nodes(cfg: Mapping[str, Any], given: str) -> None:
    """Refuse a key beside a ``class_path`` (``model: {class_path: X, lr: 0.1}``) in the
    sections LightningCLI reads, as it refuses one, before anything is built; ``given``
    says where it came from (was: kept, refused by the section's builder naming no file, a
    callback's when it was built). A later file's bare ``model: {lr: 0.1}`` is no such key:
    merged into ``init_args``, as LightningCLI takes it."""
    for section in (*SECTIONS, *OPTIM_KEYS):
        try:
            check_nodes(cfg.get(section), section)
        except ConfigError as err:
            raise ConfigError(f"{err} ({given})") from None


def _merge(cfg: Mapping[str, Any], part: Mapping[str, Any],
           whole_space: bool = False) -> dict[str, Any]:
    """A config file over the earlier ones, as LightningCLI merges it (``merge_config``:
    each argument by its annotation; ``search`` key by key), but a search space's parameter
    given again replaced as a whole (``merge_space``), and a space the file names as a file
    (``whole_space``) replacing the earlier space whole."""
    out = merge_config(cfg, part)
    spaces = [c["search"].get("space") if isinstance(c.get("search"), Mapping) else None
              for c in (cfg, part)]
    if whole_space:
        out["search"]["space"] = copy.deepcopy(spaces[1])
    elif all(isinstance(space, Mapping) for space in spaces):
        out["search"]["space"] = merge_space(*spaces)
    return out


def _space_read(part: Mapping[str, Any], path: Path | None,
                missing_ok: bool = False) -> dict[str, Any]:
    """``part`` with a ``search.space`` given as a YAML file name replaced by the file's
    content (read before any override, so ``--search.space.KEY=...`` sets a key of the
    space, and before a later file is merged over it).

    ``missing_ok``: ``part`` is the config file ``path`` (``load_config`` reads each file
    so), whose name is relative to that file's folder alone; a file not found there stays
    a name, made absolute (a later file or an override may replace it; else it is refused
    as that path). Otherwise the name is an override's (``--search.space=space.yaml``):
    looked for in the current folder, then beside ``path``. An OmegaConf interpolation in
    the file is refused naming the file and its key (``check_no_interpolations``).
    """
    search = part.get("search")
    space = search.get("space") if isinstance(search, Mapping) else None
    if not (isinstance(space, str) and space.strip()):
        return dict(part)
    name = user_path(space)  # ~/spaces/a.yaml: in the home folder, as the shell reads it
    if missing_ok and path is not None:  # a config file's: beside it, never the current folder
        found = (path.parent / name).absolute()
        if not found.is_file():
            return {**part, "search": {**search, "space": str(found)}}
    else:
        found = next((p for p in (name, *([path.parent / name] if path else []))
                      if p.is_file()), None)
    if found is None:
        where = "" if name.is_absolute() else (
            f" (looked in the current folder{f' and beside {path}' if path else ''})")
        folder = next((p for p in (name, *([path.parent / name] if path else []))
                       if p.is_dir()), None)  # (was: "not found", of a folder that is there)
        if folder is not None:
            raise ConfigError(f"search.space file {space} is a folder ({folder}); name the "
                              f"YAML file of the space in it")
        raise FileNotFoundError(f"search.space file {space} not found{where}")
    read = load_yaml(found.read_text(), source=str(found))
    if not (isinstance(read, Mapping) and read):  # was: a string read as a file name again
        raise ConfigError(f"search.space file {found} must hold a non-empty mapping of space "
                          f"keys (width: {{choice: [16, 32]}}), got {read!r}")
    check_space_file(read, found, "search.space")  # read after load_config's check
    return {**part, "search": {**search, "space": read}}


def _inline_sections(part: Mapping[str, Any], path: Path | None,
                     command_line: bool = False) -> dict[str, Any]:
    """Sections given as a YAML file (``model: configs/model/digits.yaml``, a Hydra
    project's config group file, unchanged) replaced by the file's content; the file is
    looked for beside ``path``, the config that names it, then in the current folder (was:
    the current folder first, so a file of the same name there won without a word); one the
    command line names (``--model=configs/model/other.yaml``; was: taken for an import path,
    "cannot import module 'configs/model/other'") in the current folder first, as
    ``--search.space=FILE``; in each section, a nested node given as a file's name read from
    it (``inline_node_files``)."""
    out = dict(part)
    for name in SECTIONS:
        value = out.get(name)
        if not (isinstance(value, str) and value.endswith((".yaml", ".yml"))):
            if name in out:  # its nodes given as files (`net: net.yaml`): read from them
                out[name] = inline_node_files(value, path)
            continue
        found = yaml_file(value, path, command_line)
        if found is None:
            where = ("in the current folder" if path is None else
                     f"in the current folder and beside {path}" if command_line else
                     f"beside {path} and in the current folder")
            raise ConfigError(f"{name}={value!r}: no such YAML file (looked {where})")
        out[name] = inline_node_files(load_yaml(found.read_text(), source=str(found)), found)
    return out


def apply_overrides(cfg: Mapping[str, Any], overrides: Sequence[str], *,
                    config_path: Path | None = None, command: str | None = None,
                    settings: str = "the config's Trainer settings") -> dict[str, Any]:
    """Set dotted keys (``--trainer.max_epochs=2``); values are parsed as YAML.

    Under a ``class_path`` spec the ``init_args`` level may be left out, as in LightningCLI:
    ``--model.width=64`` sets ``model.init_args.width``. A whole section
    (``--trainer='{devices: 1}'``, ``--model='{width: 8}'``, a YAML file's name) is merged
    over the config's as LightningCLI merges it (``merge_group``: the Trainer arguments it
    gives over the config's, the others kept). A key of a ``search.space`` given
    as a file name (``--search.space=space.yaml --search.space.width=...``) is set in the
    file's space, the file looked for as ``load_config`` does, beside ``config_path`` too.
    An override of a section ``command`` does not take (``search``, ``oneshot``, ``fit``;
    None: any command's) is refused, naming those it takes; a whole ``--trainer=`` that is
    no mapping too, saying what it merges over (``settings``: a fine-tune's are the
    search's). ``--seed_everything=null`` is refused, as LightningCLI refuses it, naming the
    values taken (a config file's null is taken: seed 0, ``config_seed``).
    """
    sections = command_sections(command) if command else (*TOP_KEYS, *OPTIM_KEYS)
    cfg = copy.deepcopy(dict(cfg))
    for key, text in split_overrides(overrides):
        if key.split(".")[0] not in (*sections, *LIGHTNINGCLI_KEYS):  # those: load_config
            raise (unknown_section(key.split(".")[0], command) if command else unknown(
                "config section", key.split(".")[0], sections))  # (was: TOP_KEYS, `oneshot`
            # for a search, without `optimizer` and `lr_scheduler`; nor ckpt_path's null)
        if key.startswith("search.space."):
            cfg = _space_read(cfg, config_path)
            space = cfg["search"].get("space") if isinstance(cfg.get("search"), Mapping) \
                else None
            if space is not None and not isinstance(space, Mapping):
                raise ConfigError(f"--{key}: search.space must be a mapping of space keys, or "
                                  f"the name of a YAML file of one; got {space!r}")
        if key.startswith("search.space.") and not is_dotted(key[len("search.space."):]):
            parent = key[len("search.space."):].rpartition(".")[0]  # width of width.int
            check_other_kind(get_dotted(cfg, f"search.space.{parent}") if parent else None,
                             key[len("search.space."):], parent, text)
        if key.startswith("search.space.") and is_dotted(key[len("search.space."):]):
            # a space key that is itself a path (--search.space.model.net.width=...)
            space = cfg.setdefault("search", {}).setdefault("space", {})
            set_space_key(space, key[len("search.space."):], load_yaml(text, source=f"--{key}"))
        elif key.endswith("+"):  # LightningCLI's list append: --trainer.callbacks+=X
            set_dotted(cfg, key[:-1], appended(get_dotted(cfg, key[:-1]), key[:-1],
                                               load_yaml(text, source=f"--{key}")))
        else:
            value = load_yaml(text, source=f"--{key}")
            if key in OPTIM_KEYS and isinstance(value, str):  # --optimizer=Adam: a node,
                value = {"class_path": value}  # so --optimizer.lr=0.01 sets its init_args
            if key in SECTIONS:  # --model=configs/model/other.yaml: the file's node
                value = _inline_sections({key: value}, config_path, command_line=True)[key]
            if key == "seed_everything" and value is None:
                raise _null_seed(cfg)  # (was: taken as no key, seed 0, over the config's)
            if key == "trainer":  # LightningCLI's --trainer CONFIG: merged over the config's
                cfg[key] = merge_group(cfg.get(key), _whole_trainer(value, text, settings))
                continue  # (was: in place of the config's, its max_epochs and callbacks lost)
            check_given_once(at_path(key, value), "given on the command line")
            set_dotted(cfg, key, value, merge=True)
            cfg = named_kwargs_moved(cfg)  # --model.dict_kwargs.depth=2: init_args, as LightningCLI
    if "model" in cfg and cfg["model"] is None and any(
            key == "model" for key, _ in split_overrides(overrides)):
        raise ConfigError("--model=null: the model is required (LightningCLI refuses it too: "
                          "'the following arguments are required: model'); give its class "
                          "(--model=my.Net) or a node (--model='{class_path: my.Net, "
                          "init_args: {...}}'), or leave the config's")  # (was: taken, then
        # "the config needs `model`: give your LightningCLI config before ...")
    return cfg


def _null_seed(cfg: Mapping[str, Any]) -> ConfigError:
    """The refusal of ``--seed_everything=null``, which LightningCLI refuses (its type is
    ``bool | int``; a config file's null it takes: ``seed_everything(None)``, seed 0, as a
    search's ``config_seed`` reads it), saying the values taken and what ``cfg`` gives."""
    given = cfg.get("seed_everything")
    keep = (f"leave it out for the config's ({str(given).lower()})" if given is not None
            else "leave it out (seed 0)")
    return ConfigError(f"--seed_everything=null: LightningCLI refuses it too; give an "
                       f"integer from 0 to {2**32 - 1} (the seed), true (a drawn seed) or "
                       f"false (no seeding), or {keep}")


def _whole_trainer(value: Any, text: str, settings: str) -> Mapping[str, Any]:
    """A whole ``--trainer=`` override's value (a file's read), which LightningCLI takes
    only as a config (a mapping, or the name of a YAML file of one), refused otherwise,
    named (LightningCLI: "Unable to load config"), saying it merges over ``settings``."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"--trainer={text}: a whole trainer override is merged over "
                          f"{settings}, as LightningCLI's --trainer CONFIG: "
                          f"give a mapping of Trainer arguments (--trainer='{{devices: 1}}') "
                          f"or the name of a YAML file of one, or set one argument, "
                          f"--trainer.KEY=VALUE")
    return value


def section_target(section: Any, name: str) -> tuple[Any, dict[str, Any]]:
    """What builds a config section (``model``, ``data``): ``(import path, init_args)`` for a
    plain ``class_path`` spec; ``(ConfigBuilder, {})`` for a Hydra node, a ``_partial_``
    node, or a spec whose arguments hold nodes (nested objects), which are built as
    LightningCLI or Hydra would build them; ``(None, {})`` for nothing.

    Raises:
        ConfigError: for a section that is not an import path or a node, or a node with
            keys it does not take.
    """
    if section is None:
        return None, {}
    if isinstance(section, str):
        return section, {}
    if not is_node(section):
        raise ConfigError(fixed_class_error(section, name))  # (LightningCLI(MyModel)'s)
    check_node_keys(section, name)
    if is_hydra(section) or section.get("_partial_") or contains_node(node_args(section)):
        return ConfigBuilder(section, name, plain_keys=name == "model"), {}
    return section["class_path"], node_args(section)


def block_settings(cfg: Mapping[str, Any], block: str, defaults: Mapping[str, Any],
                   hints: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Check the config's sections (``search`` and ``oneshot`` exclude each other) and the
    keys of ``block``; return the block's settings over ``defaults`` (not ``NAMES_KEY``,
    the nodes' names ``load_config`` keeps there). An unknown key of ``hints`` is said with
    its hint (``monitor`` in a ``oneshot:`` block)."""
    for key in cfg:
        if key not in command_sections(block):
            raise unknown_section(key, block)
    given = cfg.get(block)
    given = {} if given is None else given  # ([], false: refused, was read as no block)
    if not isinstance(given, Mapping):
        raise ConfigError(f"`{block}` must be a mapping of {block} settings, got {given!r}")
    given = {k: v for k, v in given.items() if k != NAMES_KEY}  # load_config's, not a setting
    for key in given:
        if key not in defaults:
            err = unknown(f"{block} setting", key, list(defaults))
            if key in (hints or {}):
                raise ConfigError(f"{err}; {hints[key]}")
            raise err
    return {**defaults, **given}


def config_seed(cfg: Mapping[str, Any], seed: Any) -> int:
    """``seed``, else LightningCLI's ``seed_everything``: an int; true, null (a config
    file's) or no key: the environment's ``PL_GLOBAL_SEED``, as LightningCLI's
    ``seed_everything(None)`` takes it (was: ignored), else 0, and for true a drawn one
    (LightningCLI 2.6 seeds 0, though its help says "a random seed").

    Raises:
        ConfigError: when ``seed_everything`` is neither an int, a bool nor null, or
            ``PL_GLOBAL_SEED`` (where it is read) no seed (``environment_seed``).
    """
    seed_everything = cfg.get("seed_everything")
    if seed_everything is not None and not isinstance(seed_everything, (bool, int)):
        raise ConfigError(f"`seed_everything` must be an integer, true or false, got "
                          f"{seed_everything!r}")
    if seed is not None:
        return seed
    if is_int(seed_everything):
        return seed_everything
    env = environment_seed()  # (a bad one refused, naming it)
    if env is not None:
        return env
    return random.randrange(2**31) if seed_everything is True else 0

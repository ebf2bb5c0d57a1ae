"""LightningCLI-shaped search configs: load, apply dotted overrides, check, build a Search.

A config has ``model:`` and ``data:`` (``class_path`` + ``init_args``), ``trainer:``
(Trainer arguments), optional ``seed_everything:`` and a ``search:`` block.

Example:
    >>> cfg = apply_overrides({"search": {"budget": 20}}, ["--search.budget=5"])
    >>> cfg["search"]["budget"]
    5
"""

from __future__ import annotations

import copy
import difflib
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_nas.builders import ConfigError, import_object, instantiate
from lightning_nas.cfgpaths import ConfigBuilder, check_dotted, deep_merge, is_dotted, set_dotted
from lightning_nas.search import Search
from lightning_nas.strategies import DEFAULT_OPTIMIZER
from lightning_nas.yamlio import load_yaml

__all__ = [
    "ONESHOT_KEYS",
    "SEARCH_KEYS",
    "TOP_KEYS",
    "apply_overrides",
    "load_config",
    "run_oneshot",
    "search_from_config",
]

TOP_KEYS = ("model", "data", "trainer", "search", "oneshot", "seed_everything")
#: keys of the ``oneshot:`` block: ``OneShotNAS`` arguments plus where to write and the
#: fine-tune of the winner
ONESHOT_KEYS: dict[str, Any] = {
    "optimizer": "RandomSearch", "num_candidates": 30, "search_every_n_epochs": None,
    "calibration_batches": 5, "num_classes": None, "mode": "max", "net_attr": "net",
    "seed": None, "run_dir": None, "finetune_epochs": 0, "finetune_lr": 1e-3,
}
#: keys of the ``search:`` block, with their defaults
SEARCH_KEYS: dict[str, Any] = {
    "space": None, "optimizer": DEFAULT_OPTIMIZER, "budget": 20, "time_limit": None,
    "monitor": "val_acc", "mode": "max", "seed": None, "run_dir": None, "max_failures": 5,
    "keep_top_k": 3, "num_workers": 1, "executor": "auto", "devices_per_trial": None,
    "threads_per_trial": None, "max_trials_per_worker": None, "ray": None,
    "scheduler": "none", "min_epochs": 1, "max_epochs": None, "eta": 3, "verbose": True,
    "progress": "auto", "objectives": None, "max_params": None, "max_flops": None,
    "constraints": [],
}


def _unknown(kind: str, key: str, valid: Sequence[str]) -> ConfigError:
    close = difflib.get_close_matches(key, list(valid), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return ConfigError(f"unknown {kind} {key!r}; {hint}valid keys: {', '.join(valid)}")


def load_config(paths: str | Path | Sequence[str | Path],
                overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Read YAML configs (later files merged over earlier ones, as LightningCLI does with
    several ``--config``), then apply ``--a.b=value`` overrides."""
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    cfg: dict[str, Any] = {}
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"config file {path} does not exist")
        part = load_yaml(path.read_text()) or {}
        if not isinstance(part, Mapping):
            raise ConfigError(f"{path} must hold a mapping with keys {', '.join(TOP_KEYS)}")
        cfg = deep_merge(cfg, part)
    path = paths[-1]
    cfg = apply_overrides(cfg, overrides)
    space = cfg.get("search", {}).get("space")
    if isinstance(space, str):  # a path to a space YAML, relative to the config file
        space_path = Path(space) if Path(space).exists() else path.parent / space
        if not space_path.exists():
            raise FileNotFoundError(f"search.space file {space} not found (looked in the "
                                    f"current folder and beside {path})")
        cfg["search"]["space"] = load_yaml(space_path.read_text())
    block = "oneshot" if "oneshot" in cfg else "search"
    cfg.setdefault(block, {}).setdefault("run_dir", f"runs/{path.stem}")
    return cfg


def _split_overrides(args: Sequence[str]) -> list[tuple[str, str]]:
    pairs, i = [], 0
    args = list(args)
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or len(arg) < 3:
            raise ConfigError(f"expected an override like --search.budget=5, got {arg!r}")
        if "=" in arg:
            key, value = arg[2:].split("=", 1)
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            key, value = arg[2:], args[i + 1]
            i += 1
        else:
            raise ConfigError(f"override {arg!r} has no value; write {arg}=VALUE")
        pairs.append((key, value))
        i += 1
    return pairs


def apply_overrides(cfg: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Set dotted keys (``--trainer.max_epochs=2``); values are parsed as YAML.

    Under a ``class_path`` spec the ``init_args`` level may be left out, as in LightningCLI:
    ``--model.width=64`` sets ``model.init_args.width``.
    """
    cfg = copy.deepcopy(dict(cfg))
    for key, text in _split_overrides(overrides):
        if key.split(".")[0] not in TOP_KEYS:
            raise _unknown("config section", key.split(".")[0], TOP_KEYS)
        if key.startswith("search.space.") and is_dotted(key[len("search.space."):]):
            # a space key that is itself a path (--search.space.model.net.width=...)
            space = cfg.setdefault("search", {}).setdefault("space", {})
            space[key[len("search.space."):]] = load_yaml(text)
        else:
            set_dotted(cfg, key, load_yaml(text))
    return cfg


def _target(section: Any, name: str) -> tuple[Any, dict[str, Any]]:
    if section is None:
        return None, {}
    if isinstance(section, str):
        return section, {}
    if isinstance(section, Mapping) and "class_path" in section:
        extra = sorted(set(section) - {"class_path", "init_args"})
        if extra:
            raise ConfigError(f"unknown key(s) {extra} in `{name}`; valid keys: "
                              f"class_path, init_args")
        return section["class_path"], dict(section.get("init_args") or {})
    raise ConfigError(f"`{name}` must be an import path or a mapping with class_path and "
                      f"init_args, got {section!r}")


def _settings(cfg: Mapping[str, Any], block: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Check the config's sections (``search`` and ``oneshot`` exclude each other) and the
    keys of ``block``; return the block's settings over ``defaults``."""
    other = "oneshot" if block == "search" else "search"
    for key in cfg:
        if key not in TOP_KEYS or key == other:
            raise _unknown("config section", key, [k for k in TOP_KEYS if k != other])
    given = dict(cfg.get(block) or {})
    for key in given:
        if key not in defaults:
            raise _unknown(f"{block} setting", key, list(defaults))
    return {**defaults, **given}


def _seed(cfg: Mapping[str, Any], seed: Any) -> int:
    """``seed``, else LightningCLI's ``seed_everything`` (an int, or true for a random one)."""
    if seed is not None:
        return seed
    seed_everything = cfg.get("seed_everything")
    if seed_everything is True:
        return random.randrange(2**31)
    if isinstance(seed_everything, int) and not isinstance(seed_everything, bool):
        return seed_everything
    return 0


def run_oneshot(cfg: Mapping[str, Any], verbose: bool = True) -> dict[str, Any]:
    """Train the config's supernet with ``OneShotNAS``, export the best subnet into
    ``oneshot.run_dir`` and fine-tune it for ``oneshot.finetune_epochs``.

    Returns:
        ``{"arch", "score", "finetune": metrics or None, "run_dir"}``.
    """
    import lightning.pytorch as pl
    import torch

    from lightning_nas.builders import DataFactory, ModelFactory, check_trainer_kwargs
    from lightning_nas.oneshot import OneShotNAS, finetune_subnet
    from lightning_nas.trial import TRIAL_TRAINER_DEFAULTS, quiet_lightning

    opts = _settings(cfg, "oneshot", ONESHOT_KEYS)
    opts["seed"] = _seed(cfg, opts["seed"])
    run_dir = Path(opts.pop("run_dir") or "runs/oneshot")
    finetune_epochs, finetune_lr = opts.pop("finetune_epochs"), opts.pop("finetune_lr")
    model, model_args = _target(cfg.get("model"), "model")
    data, data_args = _target(cfg.get("data"), "data")
    trainer_cfg = dict(cfg.get("trainer") or {})
    check_trainer_kwargs(trainer_cfg)
    callback = OneShotNAS(**opts, export_dir=str(run_dir))
    with quiet_lightning():
        pl.seed_everything(opts["seed"], verbose=False)
        module = ModelFactory(model, model_args).build({})
        datamodule = DataFactory(data, data_args).build()
        trainer_kwargs = {**TRIAL_TRAINER_DEFAULTS, "logger": False,
                          "default_root_dir": str(run_dir), **instantiate(trainer_cfg)}
        trainer_kwargs["callbacks"] = [*trainer_kwargs.get("callbacks", []), callback]
        pl.Trainer(**trainer_kwargs).fit(module, datamodule=datamodule)
        out = {"arch": callback.best_arch, "score": callback.best_score, "finetune": None,
               "run_dir": str(run_dir)}
        if verbose:
            print(f"One-shot search: {len(callback.history)} subnets scored; best "
                  f"{callback.best_score:.4f} with shared weights: {callback.best_arch}\n"
                  f"Wrote {run_dir / 'best_arch.yaml'} and {run_dir / 'subnet.pt'}", flush=True)
        if finetune_epochs:
            tuned, metrics = finetune_subnet(
                callback.subnet, datamodule, finetune_epochs,
                trainer={k: v for k, v in trainer_kwargs.items()
                         if k in ("accelerator", "devices", "precision")},
                num_classes=opts["num_classes"], lr=finetune_lr)
            torch.save(tuned.net.cpu(), run_dir / "subnet_finetuned.pt")  # plain torch.nn
            out["finetune"] = metrics
            if verbose:
                print(f"Fine-tuned {finetune_epochs} epochs: "
                      f"val_acc={metrics.get('val_acc', float('nan')):.4f}; wrote "
                      f"{run_dir / 'subnet_finetuned.pt'}", flush=True)
    return out


def search_from_config(cfg: Mapping[str, Any]) -> Search:
    """Check a loaded config and build the ``Search`` it describes (nothing trains yet)."""
    settings = _settings(cfg, "search", SEARCH_KEYS)
    if not settings["space"]:
        raise ConfigError("the config needs `search.space` (a mapping, or a path to a YAML file)")
    if cfg.get("model") is None:
        raise ConfigError("the config needs `model` (class_path and init_args)")
    model, model_args = _target(cfg.get("model"), "model")
    data, data_args = _target(cfg.get("data"), "data")
    trainer = cfg.get("trainer") or {}
    if not isinstance(trainer, Mapping):
        raise ConfigError(f"`trainer` must be a mapping of Trainer arguments, got {trainer!r}")
    settings["seed"] = _seed(cfg, settings["seed"])
    if isinstance(settings["constraints"], (str, Mapping)):
        settings["constraints"] = [settings["constraints"]]
    settings["constraints"] = [import_object(c) if isinstance(c, str) else instantiate(c)
                               for c in settings["constraints"] or []]
    space = settings.pop("space")
    run_dir = settings.pop("run_dir") or "runs/nas"
    dotted = [k for k in (space if isinstance(space, Mapping) else {}) if is_dotted(k)]
    if dotted:  # paths into the config: each trial builds model and data from it
        for key in dotted:
            check_dotted(cfg, key)
        model_section = cfg["model"] if isinstance(cfg["model"], Mapping) else {
            "class_path": cfg["model"]}
        model, model_args = ConfigBuilder(model_section, "model", plain_keys=True), {}
        if cfg.get("data") is not None and any(k.startswith("data.") for k in dotted):
            data_section = cfg["data"] if isinstance(cfg["data"], Mapping) else {
                "class_path": cfg["data"]}
            data, data_args = ConfigBuilder(data_section, "data", plain_keys=False), {}
        plain = [k for k in space if not is_dotted(k)]
        if plain:
            from lightning_nas.builders import ModelFactory

            ModelFactory(_target(cfg["model"], "model")[0]).check(plain)
    return Search(model, space, data=data, model_init_args=model_args, data_init_args=data_args,
                  trainer=dict(trainer), run_dir=run_dir, config=dict(cfg), **settings)

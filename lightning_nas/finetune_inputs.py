"""What a fine-tune of an export starts from: the ``best.ckpt`` it loads, or what to do
without one (``best_weights``); the architecture it builds (``finetune_arch``: the trial's,
under the ``model_init_args`` given, which ``lightning-nas finetune`` takes as
``--model.KEY=VALUE``: ``model_overrides``); and, before any training, whether those weights
fit the model it builds (``check_weights_fit``); and that ``best.ckpt`` holds the weights of
the trial ``best.yaml`` names (``paired_best``).

Example:
    >>> model_overrides([("model.lr", "5e-4")])
    {'lr': 0.0005}
    >>> finetune_arch({"trial": 2, "arch": {"width": 8}}, {"lr": 0.005})
    {'width': 8}
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from lightning_nas.config.nodes import ARGS_KEYS, SPEC_KEYS
from lightning_nas.config.yamlio import dump_yaml, load_yaml
from lightning_nas.errors import ConfigError
from lightning_nas.export_files import load_best
from lightning_nas.search.exported import mismatch, read_held
from lightning_nas.user_warnings import warn_user

__all__ = ["best_model_class", "best_weights", "check_weights_fit", "finetune_arch",
           "model_overrides", "paired_best"]


def best_weights(run_dir: Path, best: Mapping[str, Any], trial_checkpoint: str | None,
                 not_kept: str) -> str:
    """The path of the ``best.ckpt`` a fine-tune of ``run_dir`` starts from, by its
    ``best.yaml`` (``best``); ``trial_checkpoint``: the trial's own, as stored;
    ``not_kept``: why the trial has none, said after "its checkpoint", as ``export`` says
    it (``search.checkpoints.no_checkpoint_reason``: what the run keeps, the trials that have
    one, or the file it kept, deleted since; was: "trainer.enable_checkpointing false, or not
    among search.keep_top_k", whichever held).

    Example:
        >>> best_weights(Path("runs/a"), {"trial": 3, "checkpoint": None}, None,
        ...              "was not kept (not among the search.keep_top_k=1 best; trials with "
        ...              "one: 2)")
        Traceback (most recent call last):
        ...
        FileNotFoundError: runs/a has no best.ckpt: trial 3's checkpoint was not kept (not \
among the search.keep_top_k=1 best; trials with one: 2); train it from fresh weights: ...

    Raises:
        FileNotFoundError: there is none (not kept, or moved or deleted since the export:
            was Lightning's bare "No such file" there, a FAILED result from Python), saying
            what to do.
    """
    run = shlex.quote(str(run_dir))
    # the command's option first, then Python's (was: Python's from_checkpoint=False first,
    # which `lightning-nas finetune` does not take)
    scratch = (f"train it from fresh weights: lightning-nas finetune {run} --from_scratch "
               f"(from Python: lightning_nas.finetune({str(run_dir)!r}, "
               f"from_checkpoint=False))")
    if not best.get("checkpoint"):
        raise FileNotFoundError(
            f"{run_dir} has no best.ckpt: trial {best['trial']}'s checkpoint {not_kept}; "
            f"{scratch}")
    weights = run_dir / best["checkpoint"]
    if not weights.is_file():
        again = (f"`lightning-nas export {run}` copies it again from trial {best['trial']}'s "
                 f"own checkpoint, or " if trial_checkpoint and Path(trial_checkpoint).is_file()
                 else "")
        raise FileNotFoundError(f"{run_dir} has no best.ckpt: best.yaml names "
                                f"{best['checkpoint']}, which is not there (moved or deleted); "
                                f"{again}{scratch}")
    return str(weights)


def paired_best(run_dir: Path, best: Mapping[str, Any]) -> dict[str, Any]:
    """``best`` (``best.yaml`` as read) where the ``best.ckpt`` it names holds its trial's
    weights of its epoch (``search.exported``), says nothing of them (an export of an older
    version) or is not there (``best_weights`` says so); else ``best.yaml`` read again,
    once: an export that replaced the pair after ``best`` was read moved its ``best.yaml``
    in last, so the pair read again is one trial's (was: the first trial's architecture
    built with the second's weights, silently where their shapes agree).

    Raises:
        ConfigError: ``best.ckpt`` holds another trial's weights (or another epoch's) than
            ``best.yaml`` names, read again too (an older one copied in by hand), naming
            both and what to do, before any training.
    """
    wrong = None
    for again in (False, True):
        best = load_best(run_dir) if again else best
        path = run_dir / str(best.get("checkpoint") or "")
        if not best.get("checkpoint") or not path.is_file():
            return dict(best)
        wrong = mismatch(best, read_held(path), path)
        if wrong is None:
            return dict(best)
    run, trial = shlex.quote(str(run_dir)), best["trial"]
    export = f"lightning-nas export {run}{f' --trial {trial}' if best.get('chosen') else ''}"
    raise ConfigError(f"{wrong}, so a fine-tune would build trial {trial}'s architecture with "
                      f"other weights: write the pair again with `{export}` (it copies trial "
                      f"{trial}'s own checkpoint, where the run keeps it), or fine-tune from "
                      f"fresh weights (lightning-nas finetune {run} --from_scratch; from "
                      f"Python, from_checkpoint=False); found before any training (no "
                      f"folder was made)")


def finetune_arch(best: Mapping[str, Any], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The architecture a fine-tune builds: ``best``'s (``best.yaml``), with a searched key
    that ``given`` (``model_init_args``) sets to another value taken from ``given`` (at its
    path too: ``width`` sets a searched ``model.width``), and one inside a value it gives
    (``model.optimizer.lr`` for ``optimizer``) left out, each said in a warning (was: the
    searched value won, silently, so a fine-tune from the checkpoint could not take a lower
    learning rate than the trial's).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True):
        ...     warnings.simplefilter("always")
        ...     finetune_arch({"trial": 2, "arch": {"width": 8, "lr": 0.05}}, {"lr": 0.005})
        {'width': 8, 'lr': 0.005}
        >>> with warnings.catch_warnings(record=True):
        ...     warnings.simplefilter("always")
        ...     finetune_arch({"trial": 2, "arch": {"model.opt.lr": 0.05, "model.width": 8}},
        ...                   {"opt": {"class_path": "torch.optim.SGD"}, "width": 8})
        {'model.width': 8}
    """
    from lightning_nas.config.space_paths import space_path

    arch = dict(best["arch"])
    for key, value in (given or {}).items():
        path = space_path(key)  # the searched key at its path too (model.width for width)
        for name in [k for k in arch if f"{space_path(k)}.".startswith(f"{path}.")]:
            if not _same(arch[name], value):  # one under it would be set into the value
                warn_user(f"model_init_args {key}={value!r} replaces trial "
                          f"{best['trial']}'s searched {name}={arch[name]!r} in the "
                          f"fine-tune")
                if space_path(name) == path:
                    arch[name] = value
                else:
                    del arch[name]
    return arch


def check_weights_fit(model: Any, weights: str | None, best: Mapping[str, Any],
                      given: Mapping[str, Any] | None, run_dir: Path) -> None:
    """Refuse, before any training, a fine-tune from ``weights`` (the best trial's
    ``best.ckpt``) whose model (``model``: as ``check_fit_builds`` built it, parameters on
    the meta device) has a parameter of another shape than the checkpoint's, or (loading
    strictly, ``strict_loading``) one the checkpoint lacks or the other way round: an
    argument given (``model_init_args``, ``--model.width=4``, ``--model.num_layers=4``)
    changed a layer (was: torch's "Error(s) in loading state_dict ... size mismatch" or
    "Missing key(s)", from the fine-tune's build). A lazy module's uninitialised parameter
    takes the checkpoint's shape as it loads; the names are not compared where the model's
    ``configure_model`` makes layers or its ``on_load_checkpoint`` may rename them.

    Raises:
        ConfigError: naming the arguments given, with the trial's values, the first
            parameter whose shape differs (else the first one only one side holds), and
            ``--from_scratch``.
    """
    if weights is None or model is None or not hasattr(model, "state_dict"):
        return
    saved = torch.load(weights, map_location="cpu", weights_only=False, mmap=True)
    differs = _first_difference(saved.get("state_dict") or {}, model.state_dict(),
                                _names_compared(model))
    if differs is None:
        return
    name, there, mine = differs
    arch, trial = best["arch"], best["trial"]
    given = dict(given or {})
    was = [f"{path}={arch[path]!r}" for key in given
           for path in (key, f"model.{key}") if path in arch]
    said = (f"model_init_args {', '.join(f'{k}={v!r}' for k, v in given.items())} give"
            if given else "the model given to the fine-tune has")
    which = "other weights" if "none" in (there, mine) else "weights of other shapes"
    later = "" if mine != "none" or not _overridden(model, "setup") else (  # (was: unsaid)
        f"; {type(model).__name__} makes its layers in setup(), so a model built to load the "
        f"checkpoint holds none of them (as with Lightning's load_from_checkpoint): make them "
        f"in configure_model() instead, which a fine-tune calls before it loads")
    raise ConfigError(
        f"{said} {which} than trial {trial}'s best.ckpt ({name}: {there} there, {mine} here"
        f"{'; the trial searched ' + ', '.join(was) if was else ''}){later}, so its weights "
        f"cannot start it: fine-tune from fresh weights (lightning-nas finetune "
        f"{shlex.quote(str(run_dir))} --from_scratch; from Python, from_checkpoint=False), "
        f"or give only arguments that keep the shapes; found before any training (no folder "
        f"was made)")


def _names_compared(model: Any) -> bool:
    """Whether a fine-tune's ``load_state_dict`` needs the checkpoint's names to be the
    model's, as ``model`` (built, nothing loaded) holds them: it loads strictly and neither
    makes layers in ``configure_model`` nor may rename the checkpoint's in
    ``on_load_checkpoint``."""
    return bool(getattr(model, "strict_loading", True)) and not any(
        _overridden(model, hook) for hook in ("configure_model", "on_load_checkpoint"))


def _overridden(model: Any, hook: str) -> bool:
    """Whether ``model`` (a LightningModule) has its own ``hook``."""
    from lightning.pytorch.utilities.model_helpers import is_overridden

    return is_overridden(hook, model)  # (its parent: LightningModule)


def _first_difference(saved: Mapping[str, Any], here: Mapping[str, Any], names: bool
                      ) -> tuple[str, str, str] | None:
    """The first tensor whose shape in ``saved`` (a checkpoint's state dict) is not the one in
    ``here`` (a model's), as ``(name, there, here)`` (``16x8``); with ``names``, else the
    first one only one side holds (``none`` on the other). A lazy module's uninitialised
    parameter (``lazy``) has no shape yet: ``load_state_dict`` gives it the saved one.

    Example:
        >>> _first_difference({"a": torch.zeros(2, 3)}, {"a": torch.zeros(4, 3),
        ...                   "b": torch.zeros(1)}, names=True)
        ('a', '2x3', '4x3')
        >>> _first_difference({"a": torch.zeros(2)}, {"a": torch.zeros(2),
        ...                   "b": torch.zeros(1)}, names=True)
        ('b', 'none', '1')
    """
    lazy = torch.nn.parameter.is_lazy
    for name, tensor in saved.items():
        mine = here.get(name)
        if mine is not None and not lazy(mine) and not lazy(tensor) \
                and tuple(tensor.shape) != tuple(mine.shape):
            return name, _dims(tensor), _dims(mine)
    if names:
        for name in [*(n for n in here if n not in saved), *(n for n in saved if n not in here)]:
            return name, _dims(saved.get(name)), _dims(here.get(name))
    return None


def _dims(tensor: Any) -> str:
    """A tensor's shape as ``16x8`` (``none`` for no tensor, ``lazy`` for an uninitialised
    parameter)."""
    if tensor is None or torch.nn.parameter.is_lazy(tensor):
        return "none" if tensor is None else "lazy"
    return "x".join(map(str, tensor.shape))


def model_overrides(pairs: Sequence[tuple[str, str]],
                    best_class: Callable[[], str | None] | None = None) -> dict[str, Any]:
    """The model arguments of ``lightning-nas finetune``'s ``--model.*`` overrides
    (``split_overrides`` pairs), as ``finetune``'s ``model_init_args``: ``--model.KEY=VALUE``,
    or as LightningCLI also spells it ``--model.init_args.KEY=VALUE`` (``dict_kwargs``
    too), or a whole mapping of them, ``--model='{lr: 5e-4}'`` (``{init_args: {...}}``; with
    the ``class_path`` of the best trial's model, ``best_class()``'s import path, by any
    path to that class: merged as LightningCLI merges a node of the same class; so is that
    class alone, ``--model=CLASS`` or ``--model.class_path=CLASS``, which keeps the model's
    arguments), the value parsed as YAML as every override's.

    Example:
        >>> model_overrides([("model.lr", "5e-4"), ("model.init_args.width", "8")])
        {'lr': 0.0005, 'width': 8}

    Raises:
        ConfigError: for one that would replace the model (another class, ``--model=CLASS``,
            a mapping with its ``class_path``, ``--model.class_path=...``: the checkpoint is
            the trial's model; ``lightning-nas fit`` of ``best_config.yaml`` named for
            it), a mapping of a node's keys beside bare arguments (as LightningCLI refuses
            it), or that sets a path inside an argument (``--model.net.width``: the
            argument would be replaced by a mapping of that one key), naming it and what to
            give instead.
    """
    out: dict[str, Any] = {}
    for key, text in pairs:
        parts, given = key.split(".")[1:], f"--{key}={text}"
        if parts[:1] in (["init_args"], ["dict_kwargs"]):  # LightningCLI's levels
            parts = parts[1:]
        value = load_yaml(text, source=f"--{key}")
        whole = _whole_args(given, value, best_class) \
            if key == "model" and isinstance(value, Mapping) else None
        if whole is not None and all(isinstance(args, Mapping) for args in whole):
            for args in whole:  # --model='{lr: 5e-4}', '{init_args: {...}}': merged into
                out.update(args)  # the model's node as LightningCLI merges them (was:
            # refused, "would replace it")
        elif not parts and key != "model" and isinstance(value, Mapping):
            out.update(value)  # --model.init_args={lr: 5e-4}: the arguments it gives
        elif parts in ([], ["class_path"]) and _module_class(value) and _same_class(
                value, best_class):  # --model=CLASS, --model.class_path=CLASS: its node
            continue  # kept, as LightningCLI merges a class of its own (was: refused)
        elif not parts or key.split(".")[1] == "class_path":
            fit = (f"RUN_DIR/best_config.yaml with lightning-nas fit {given}, which merges "
                   f"it as LightningCLI does (the arguments {value} takes kept)"
                   if _module_class(value) else "another config with lightning-nas fit")
            raise ConfigError(f"finetune trains the best trial's model (its class, from its "
                              f"checkpoint): {given} would replace it; give its arguments, "
                              f"--model.KEY=VALUE (e.g. --model.lr=5e-4), or train {fit}")
        elif len(parts) > 1:
            raise ConfigError(f"finetune takes the model's own arguments, --model.KEY=VALUE, "
                              f"not a path into one ({given}): give the whole value, "
                              f"--model.{parts[0]}=..., or train RUN_DIR/best_config.yaml "
                              f"with lightning-nas fit, which takes any path")
        else:
            out[parts[0]] = value
    return out


def _whole_args(given: str, value: Mapping[str, Any],
                best_class: Callable[[], str | None] | None) -> list[Any] | None:
    """The argument mappings a whole ``--model=`` mapping (the override ``given``) gives, as
    LightningCLI reads it: its ``init_args`` and ``dict_kwargs`` (beside a ``class_path``
    only of the best trial's model, ``_same_class``), or the mapping itself when it holds
    none of a node's keys; None for another class (or a node of none).

    Raises:
        ConfigError: for a node's keys beside bare arguments (``{init_args: {...}, lr:
            ...}``), which LightningCLI refuses ("Not a valid subclass of LightningModule",
            "Option 'class_path' is not accepted"), saying how to give them.
    """
    node = [key for key in SPEC_KEYS if key in value]
    bare = [key for key in value if key not in SPEC_KEYS]
    if not node:
        return [value]
    if bare:  # (was: "would replace it", which it would not)
        args = {**{k: v for level in ARGS_KEYS if isinstance(value.get(level), Mapping)
                   for k, v in value[level].items()}, **{k: value[k] for k in bare}}
        flow = dump_yaml(args, default_flow_style=True, width=10**6).strip()
        raise ConfigError(f"{given} mixes a node's {', '.join(node)} with model arguments "
                          f"beside it ({', '.join(bare)}), as neither LightningCLI nor "
                          f"finetune reads it: give the arguments alone, --model='{flow}', "
                          f"or all under init_args, --model='{{init_args: {flow}}}'")
    if "_partial_" in node or "class_path" in node and not _same_class(value["class_path"],
                                                                       best_class):
        return None
    return [value[level] or {} for level in ARGS_KEYS if level in value]


def _same_class(path: Any, best_class: Callable[[], str | None] | None) -> bool:
    """Whether the import path ``path`` names the best trial's model's class
    (``best_class()``'s path, or another path to that class)."""
    from lightning_nas.config.imports import import_object

    best = best_class() if best_class is not None else None
    if not isinstance(path, str) or best is None:
        return False
    return path == best or import_object(path) is import_object(best)


def _module_class(path: Any) -> bool:
    """Whether ``path`` is the import path of a LightningModule class (one LightningCLI
    would train in place of the model)."""
    import lightning.pytorch as pl

    from lightning_nas.config.imports import import_object

    try:
        found = import_object(path) if isinstance(path, str) else None
    except Exception:  # noqa: BLE001 - not importable: no class to train
        return False
    return isinstance(found, type) and issubclass(found, pl.LightningModule)


def best_model_class(run_dir: Path) -> str | None:
    """The import path of the class of ``run_dir``'s model (its store's: the search's
    model, else its config's ``model`` node's), None where it has none.

    Example:
        ``best_model_class(Path("runs/digits"))`` is ``"examples.digits.model.DigitsCNN"``.
    """
    from lightning_nas.store import open_run

    with open_run(run_dir) as store:
        stored, config = store.get_meta("model") or {}, store.get_meta("config")
    if isinstance(stored, Mapping) and isinstance(stored.get("class_path"), str):
        return stored["class_path"]
    model = config.get("model") if isinstance(config, Mapping) else None
    path = model.get("class_path") if isinstance(model, Mapping) else None
    return path if isinstance(path, str) else None


def _same(stored: Any, value: Any) -> bool:
    """Whether ``value`` equals the stored one (an object whose ``==`` is no bool, a
    tensor, is not)."""
    try:
        return bool(stored == value)
    except Exception:  # noqa: BLE001 - a tensor of several values, an object's own ==
        return False

"""LightningCLI's automatic ``optimizer:`` / ``lr_scheduler:`` config sections.

LightningCLI gives a model without its own optimizer arguments a ``configure_optimizers``
built from the config's top-level ``optimizer`` and ``lr_scheduler`` nodes
(``LightningCLI._add_configure_optimizers_method_to_model``). A search does the same for
each trial: ``optim_sections`` reads the two nodes (a short class name resolved as
jsonargparse resolves it), ``check_optim`` builds them on a tiny parameter list before any
training, ``with_arch`` sets a trial's searched ``optimizer.*`` / ``lr_scheduler.*`` values,
and ``apply_optim`` gives the trial's model the ``configure_optimizers`` LightningCLI gives
it (the optimizer built on the model's parameters when Lightning calls it, returned as
``LightningCLI.configure_optimizers`` returns it). The sections are plain data, so they
cross to worker processes and DDP ranks.

Example:
    >>> optim_sections({"optimizer": "Adam", "lr_scheduler": None})
    {'optimizer': {'class_path': 'torch.optim.Adam', 'init_args': {}}}
"""

from __future__ import annotations

import copy
import difflib
import functools
import inspect
from collections.abc import Mapping
from typing import Any

import torch

from lightning_nas.config.instantiate import import_object
from lightning_nas.config.paths import set_paths
from lightning_nas.config.space_groups import param_options
from lightning_nas.errors import ConfigError, typed
from lightning_nas.user_warnings import warn_rank_zero, warn_user
from lightning_nas.wording import named

__all__ = ["OPTIM_KEYS", "apply_optim", "check_not_chosen_whole", "check_optim",
           "check_optimizer_given",
           "check_plateau_monitor", "check_searched_optim", "optim_sections", "warn_shadowed",
           "with_arch"]

#: the top-level sections LightningCLI turns into the model's ``configure_optimizers``
OPTIM_KEYS = ("optimizer", "lr_scheduler")
#: where a class name alone is looked for, per section (as jsonargparse finds subclasses
#: of LightningCLI's types: Lightning's ReduceLROnPlateau, which takes ``monitor``, first)
_SHORT = {"optimizer": ("torch.optim",),
          "lr_scheduler": ("lightning.pytorch.cli", "torch.optim.lr_scheduler")}


def _bases(key: str) -> tuple[type, ...]:
    from lightning.pytorch.cli import LRSchedulerTypeTuple

    return (torch.optim.Optimizer,) if key == "optimizer" else tuple(LRSchedulerTypeTuple)


def _choices(key: str) -> list[str]:
    """The class names a short ``key`` class may take."""
    import importlib

    names: list[str] = []
    for module in _SHORT[key]:
        mod = importlib.import_module(module)
        names += [n for n, c in vars(mod).items() if inspect.isclass(c) and not n.startswith("_")
                  and issubclass(c, _bases(key)) and c not in _bases(key) and n not in names]
    return sorted(names)


def _resolve(key: str, path: Any) -> str:
    """The full import path of the class ``path`` names (a short name looked up as
    LightningCLI's parser looks it up)."""
    import importlib

    if not isinstance(path, str) or not path.strip():
        raise ConfigError(f"{key}.class_path must be a class name or an import path, got "
                          f"{path!r}")
    if "." not in path:
        for module in _SHORT[key]:
            if inspect.isclass(getattr(importlib.import_module(module), path, None)):
                return f"{module}.{path}"
        close = difflib.get_close_matches(path, _choices(key), n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ConfigError(f"{key}: unknown class {path!r}; {hint}valid: "
                          f"{', '.join(_choices(key))} (or a full import path)")
    try:
        cls = import_object(path)
    except ConfigError as err:
        raise ConfigError(f"{key}={path!r}: {err}") from None
    if not (inspect.isclass(cls) and issubclass(cls, _bases(key))):
        kind = "an Optimizer" if key == "optimizer" else "a learning-rate scheduler"
        raise ConfigError(f"{key}={path!r} is not {kind} class; valid short names: "
                          f"{', '.join(_choices(key))}")
    return path


def _section(key: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"class_path": value}
    if not (isinstance(value, Mapping) and "class_path" in value):
        raise ConfigError(f"`{key}` must be a class name, an import path or a mapping with "
                          f"class_path and init_args (as LightningCLI takes it), got {value!r}")
    extra = sorted(set(value) - {"class_path", "init_args"})
    if extra:
        raise ConfigError(f"`{key}` has the {named(extra, 'key')}; valid keys: class_path, "
                          f"init_args")
    args = value.get("init_args") or {}
    if not isinstance(args, Mapping):
        raise ConfigError(f"{key}.init_args must be a mapping, got {args!r}")
    return {"class_path": _resolve(key, value["class_path"]),
            "init_args": copy.deepcopy(dict(args))}


def optim_sections(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The config's non-null ``optimizer`` / ``lr_scheduler`` as ``class_path`` nodes.

    Raises:
        ConfigError: for a section that is no class, an unknown class (close names and the
            valid ones listed), or an ``lr_scheduler`` without an ``optimizer``.
    """
    out = {key: _section(key, cfg.get(key)) for key in OPTIM_KEYS}
    out = {key: value for key, value in out.items() if value is not None}
    if "lr_scheduler" in out and "optimizer" not in out:
        raise ConfigError("`lr_scheduler` needs `optimizer` (LightningCLI builds the "
                          "scheduler on the optimizer it configures); give both")
    return out


def with_arch(sections: Mapping[str, Any], arch: Mapping[str, Any]) -> dict[str, Any]:
    """``sections`` with ``arch``'s ``optimizer.*`` / ``lr_scheduler.*`` values set (the
    ``init_args`` level may be left out, as on LightningCLI's command line).

    Example:
        >>> adam = {"optimizer": {"class_path": "torch.optim.Adam", "init_args": {}}}
        >>> with_arch(adam, {"optimizer.lr": 0.1, "width": 8})["optimizer"]["init_args"]
        {'lr': 0.1}
    """
    out = {"optimizer": copy.deepcopy(dict(sections))}
    pairs = [(f"optimizer.{key}", value) for key, value in arch.items()
             if str(key).split(".")[0] in OPTIM_KEYS and "." in str(key)]
    set_paths(out, pairs)
    return out["optimizer"]


def _build(sections: Mapping[str, Any], params: Any) -> tuple[Any, Any]:
    from lightning.pytorch.cli import instantiate_class

    optimizer = instantiate_class(params, sections["optimizer"])
    scheduler = (instantiate_class(optimizer, sections["lr_scheduler"])
                 if sections.get("lr_scheduler") else None)
    return optimizer, scheduler


def _arg_names(cls: type) -> list[str]:
    """The arguments of an optimizer or scheduler class a config may name: its own and,
    while an ``__init__`` takes ``**kwargs``, its bases' (as jsonargparse follows
    ``super().__init__(**kwargs)``: Lightning's ``ReduceLROnPlateau`` takes ``monitor`` and
    passes ``mode``, ``factor``, ... on to torch's, and LightningCLI prints them all)."""
    names: list[str] = []
    for base in cls.__mro__:
        if base is object or "__init__" not in vars(base):
            continue
        try:
            params = inspect.signature(base.__init__).parameters.values()
        except (TypeError, ValueError):  # no readable signature: those found so far
            break
        names += [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                  and p.name not in ("self", "params", "optimizer", *names)]
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return names


def check_optim(sections: Mapping[str, Any], what: str = "") -> None:
    """Build ``sections`` on a tiny parameter list, as a trial's model builds them.

    Raises:
        ConfigError: naming the section, the argument at fault and the valid ones.
    """
    if not sections:
        return
    for key in OPTIM_KEYS:
        if key not in sections:
            continue
        cls = import_object(sections[key]["class_path"])
        names = _arg_names(cls)  # a base's too, as jsonargparse finds them
        for arg in sections[key].get("init_args") or {}:
            if arg not in names:
                close = difflib.get_close_matches(arg, names, n=3)
                hint = f"did you mean {', '.join(close)}? " if close else ""
                raise ConfigError(f"{key}.init_args.{arg}{what}: not an argument of "
                                  f"{cls.__name__}; {hint}valid: {', '.join(names)}")
    from lightning.pytorch.cli import instantiate_class

    built: Any = [torch.nn.Parameter(torch.zeros(1))]
    for key in (k for k in OPTIM_KEYS if k in sections):
        try:
            built = instantiate_class(built, sections[key])
        except Exception as err:  # noqa: BLE001 - a torch class may raise anything
            raise ConfigError(f"{key}={sections[key]!r}{what}: {typed(err)}; "
                              f"found building it before any training") from None


def check_plateau_monitor(sections: Mapping[str, Any], cli: str | None = None) -> None:
    """Refuse, before training, an ``lr_scheduler`` of torch's own ``ReduceLROnPlateau``
    where LightningCLI's ``configure_optimizers`` returns it: it gives a monitor only to
    Lightning's subclass (``lightning.pytorch.cli.ReduceLROnPlateau``, its ``monitor``
    argument), and Lightning refuses a plateau scheduler without one as ``fit`` starts
    (was: every trial failed so). A ``search.cli`` class at ``cli`` with a
    ``configure_optimizers`` of its own may give one: not refused.

    Example:
        >>> check_plateau_monitor(optim_sections({"optimizer": "SGD", "lr_scheduler": {
        ...     "class_path": "ReduceLROnPlateau", "init_args": {"monitor": "val_loss"}}}))
    """
    node = sections.get("lr_scheduler")
    if not node:
        return
    from lightning.pytorch.cli import LightningCLI, ReduceLROnPlateau

    cls = import_object(node["class_path"])
    if not (inspect.isclass(cls) and issubclass(
            cls, torch.optim.lr_scheduler.ReduceLROnPlateau)) or issubclass(
            cls, ReduceLROnPlateau):
        return
    own = import_object(cli) if cli is not None else LightningCLI
    if inspect.isclass(own) and own.configure_optimizers is not (
            LightningCLI.configure_optimizers):
        return  # the project's own configure_optimizers: its return is its own
    raise ConfigError(f"lr_scheduler={node['class_path']}: LightningCLI's "
                      f"configure_optimizers returns torch's ReduceLROnPlateau without the "
                      f"monitor Lightning requires of it (it gives one only to its own "
                      f"subclass), so every trial would fail as its fit starts; write "
                      f"lr_scheduler: {{class_path: lightning.pytorch.cli.ReduceLROnPlateau, "
                      f"init_args: {{monitor: val_loss, ...}}}} (the short name "
                      f"ReduceLROnPlateau is Lightning's)")


def check_optimizer_given(model: Any, sections: Mapping[str, Any], fix: str,
                          fails: str = "every trial's fit would fail") -> None:
    """Refuse, before any training, a model class with no ``configure_optimizers`` of its
    own (LightningModule's default: Lightning's fit refuses it, so every trial would fail)
    where no ``optimizer`` section gives it one: a search's, a fit's and a fine-tune's
    (``template.check_fit_builds``; was: theirs refused by Lightning's fit, a fine-tune's a
    FAILED result). One from a mixin or a parent class of the project's counts
    (``is_overridden`` on the class); so does the section's, which the ``search.cli``
    class's own ``configure_optimizers`` may return. Anything but a LightningModule class (a
    builder function) is not judged.

    Args:
        model: the model's class.
        sections: ``optim_sections`` of the config (empty: none).
        fix: what to change, said after the refusal (``{name}``: the class's name).
        fails: what would fail, said in the refusal (a fit's: ``the fit would fail``).

    Example:
        >>> from lightning.pytorch.demos.boring_classes import BoringModel
        >>> check_optimizer_given(BoringModel, {}, "define {name}.configure_optimizers")
    """
    from lightning.pytorch import LightningModule
    from lightning.pytorch.utilities.model_helpers import is_overridden

    if sections.get("optimizer") or not (inspect.isclass(model)
                                         and issubclass(model, LightningModule)):
        return
    if is_overridden("configure_optimizers", model, parent=LightningModule):
        return
    name = model.__name__
    raise ConfigError(f"model {name} has no configure_optimizers of its own (LightningModule's "
                      f"default), and no optimizer section gives it one, so {fails} "
                      f"(Lightning: \"No `configure_optimizers()` method defined\"): "
                      f"{fix.format(name=name)}")


def check_searched_optim(cfg: Mapping[str, Any], space: Mapping[str, Any]) -> None:
    """Build the config's ``optimizer`` / ``lr_scheduler`` once for each value a space key
    into them may take (``optimizer.init_args.lr``, ``lr_scheduler.gamma``), the other
    keys at the config's values, before any training.

    Raises:
        ConfigError: a space key into a section the config does not give, or one of its
            values the class refuses (the key and the value named).
    """
    sections = optim_sections(cfg)
    for key, spec in space.items():
        head = str(key).split(".")[0]
        if head not in OPTIM_KEYS or "." not in str(key):
            continue
        if head not in sections:
            raise ConfigError(f"space key {key!r}: the config has no `{head}` section to set it "
                              f"in; give {head}: {{class_path: ..., init_args: ...}}")
        for value in param_options(spec):
            check_optim(with_arch(sections, {key: value}),
                        what=f" (space key {key!r} may take {value!r})")


def check_not_chosen_whole(cfg: Mapping[str, Any], space: Mapping[str, Any],
                           model_takes: Any) -> None:
    """Refuse a plain space key ``optimizer`` / ``lr_scheduler`` (a choice of whole nodes)
    beside the config's top-level section of that name when the model does not take such an
    argument: a plain key is a model argument, and choosing the top-level node is not
    supported; its paths are (``optimizer.init_args.lr``).

    ``model_takes(name)``: whether the model's class takes the argument ``name``.
    """
    for key in OPTIM_KEYS:
        if key in space and cfg.get(key) is not None and not model_takes(key):
            raise ConfigError(f"space key {key!r} is a plain key, so an argument of the model, "
                              f"which takes none of that name; the config's top-level {key} "
                              f"is searched by its paths ({key}.init_args.<argument>), a choice "
                              f"of whole {key} nodes is not supported: search one class's "
                              f"arguments, or give the model an {key} argument")


def warn_shadowed(cfg: Mapping[str, Any], space: Mapping[str, Any], model: Any) -> None:
    """Warn, before any training, of a searched model argument named as an argument of the
    config's ``optimizer`` / ``lr_scheduler`` class (``lr`` beside ``optimizer: Adam``)
    where the model has a ``configure_optimizers`` of its own: the section replaces it, as
    LightningCLI replaces it, so where that argument only set the optimizer, a trial trains
    the same whatever value it drew. A warning, not an error: the model may read it
    elsewhere too.

    ``model``: the model's class (or its import path); anything else is not judged.
    """
    sections = optim_sections(cfg)
    if not sections:
        return
    try:  # (a class that does not import is refused later, naming its section)
        model = import_object(model) if isinstance(model, str) else model
    except ConfigError:
        return
    own = getattr(model, "configure_optimizers", None)
    from lightning.pytorch import LightningModule

    if not inspect.isclass(model) or own in (None, LightningModule.configure_optimizers):
        return
    names: dict[str, str] = {}  # an argument name: the section whose class takes it
    for head, node in sections.items():
        for name in _arg_names(import_object(node["class_path"])):
            names.setdefault(name, head)
    for key in space:
        parts = str(key).split(".")
        if parts[0] == "model":  # model.lr, model.init_args.lr: the model's argument too
            parts = parts[2:] if parts[1:2] == ["init_args"] else parts[1:]
        if len(parts) != 1 or parts[0] not in names:
            continue
        head = names[parts[0]]
        warn_user(f"space key {key!r} sets {model.__name__}'s argument {parts[0]}, which "
                  f"the config's {head} class takes too, but that section replaces "
                  f"{model.__name__}.configure_optimizers (as LightningCLI does), so "
                  f"where {parts[0]} only set the {head} a trial trains the same whatever "
                  f"it draws: search {head}.init_args.{parts[0]} instead, or leave the "
                  f"{head} section out")


def _configure(model: Any, sections: Mapping[str, Any], cli: str | None = None) -> Any:
    """LightningCLI's ``configure_optimizers``: the optimizer on the model's parameters,
    the scheduler on it, returned as ``LightningCLI.configure_optimizers`` returns them, or
    as the ``configure_optimizers`` of the project's CLI class at import path ``cli``
    returns them (a subclass may override it: ``interval: step``), taken from a bare
    instance as LightningCLI's own instance gives it (a static method or not)."""
    from lightning.pytorch.cli import LightningCLI

    optimizer, scheduler = _build(sections, model.parameters())
    cls = import_object(cli) if cli is not None else LightningCLI
    if not (isinstance(cls, type) and issubclass(cls, LightningCLI)) or (
            cls.configure_optimizers is LightningCLI.configure_optimizers):
        return LightningCLI.configure_optimizers(model, optimizer, scheduler)
    return cls.__new__(cls).configure_optimizers(model, optimizer, scheduler)


def apply_optim(model: Any, sections: Mapping[str, Any], cli: str | None = None) -> Any:
    """Give ``model`` the ``configure_optimizers`` LightningCLI gives it for ``sections``
    (nothing when they are empty), with LightningCLI's warning when the model has its own;
    ``model`` returned. A ``functools.partial`` of a module function: picklable, and
    ``is_overridden`` sees it. ``cli``: the import path of the project's ``LightningCLI``
    subclass (``search.cli``), whose own ``configure_optimizers`` returns them.

    Example:
        >>> from lightning.pytorch.demos.boring_classes import BoringModel
        >>> model = apply_optim(BoringModel(), optim_sections({"optimizer": "SGD"}))
        >>> type(model.configure_optimizers()).__name__
        'SGD'
    """
    if not sections:
        return model
    from lightning.pytorch.utilities.model_helpers import is_overridden

    if is_overridden("configure_optimizers", model):  # LightningCLI's words: its class's
        owner = "LightningCLI" if cli is None else cli.replace(":", ".").rsplit(".", 1)[-1]
        warn_rank_zero(f"`{type(model).__name__}.configure_optimizers` will be overridden by "
                       f"`{owner}.configure_optimizers`.")
    model.configure_optimizers = functools.partial(_configure, model, dict(sections), cli)
    return model

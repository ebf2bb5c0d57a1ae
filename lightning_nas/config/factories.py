"""Turn a search's model, data and Trainer settings into objects for one trial, with the
checks that can be made before any training.

``ModelFactory`` builds the user's LightningModule for an architecture, ``DataFactory`` its
data (either may be a ``ConfigBuilder``, ``section_builder.py``: a LightningCLI config section
with the architecture's values set at their dotted paths); the Trainer's checks
(``check_trainer_kwargs``, ``check_validation_runs``, ``check_search_trainer``) live in
``trainer_checks.py``.

Example:
    >>> from lightning.pytorch.demos.boring_classes import BoringModel
    >>> ModelFactory(BoringModel).build({}).__class__.__name__
    'BoringModel'
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
from torch import nn

from lightning_nas.config.chain import init_hints, init_kwargs, kwargs_chain, name_hint
from lightning_nas.config.convert import convert_args
from lightning_nas.config.data_checks import check_loader_args
from lightning_nas.config.group_checks import check_group
from lightning_nas.config.hparams import build_class
from lightning_nas.config.instantiate import check_init_args, object_path, short
from lightning_nas.config.own_copies import own_copies
from lightning_nas.config.record_defaults import over_default, over_fields
from lightning_nas.config.records import holds_instances
from lightning_nas.config.section_builder import ConfigBuilder, import_target
from lightning_nas.config.space_keys import is_dotted, nested_hint, section_hint
from lightning_nas.config.space_paths import check_space_paths, space_path
from lightning_nas.errors import ConfigError, did_you_mean

__all__ = ["DataFactory", "ModelFactory", "over_defaults"]


class ModelFactory:
    """Builds the user's LightningModule for an architecture.

    Args:
        model: a ``LightningModule`` subclass (or its import path) whose ``__init__`` takes
            the space's top-level keys as keyword arguments, or a callable
            ``arch -> LightningModule`` (or its import path).
        init_args: fixed keyword arguments passed with the architecture (classes only).

    Example:
        >>> from lightning.pytorch.demos.boring_classes import BoringModel
        >>> ModelFactory(BoringModel).build({}).__class__.__name__
        'BoringModel'
    """

    def __init__(self, model: type[pl.LightningModule] | Callable[..., pl.LightningModule] | str,
                 init_args: Mapping[str, Any] | None = None) -> None:
        self.target = import_target("model", model) if isinstance(model, str) else model
        self.init_args = dict(init_args or {})
        self.is_class = inspect.isclass(self.target)
        if self.is_class and not issubclass(self.target, pl.LightningModule):
            raise ConfigError(f"model {self.target.__name__} is a class but not a "
                              f"lightning.pytorch.LightningModule")
        if isinstance(self.target, nn.Module):  # (was: called as a builder, with the arch)
            kind = "LightningModule" if isinstance(self.target, pl.LightningModule) else "Module"
            raise ConfigError(f"model is a {kind} instance ({type(self.target).__name__}); give "
                              f"its class, an import path, or a builder arch -> LightningModule")
        if not self.is_class and not callable(self.target):
            raise ConfigError(f"model must be a LightningModule class, a callable arch -> "
                              f"LightningModule, or an import path; got {model!r}")
        if not self.is_class and self.init_args:
            raise ConfigError(f"model {getattr(self.target, '__name__', model)!r} is not a "
                              f"class: init_args are only supported for LightningModule "
                              f"classes; a builder callable receives the architecture dict "
                              f"only")
        self.path = model if isinstance(model, str) else object_path(self.target)

    @property
    def name(self) -> str:
        """Readable name of the model target (a config's class name for a ``ConfigBuilder``)."""
        if isinstance(self.target, ConfigBuilder):
            return self.target.class_name
        return getattr(self.target, "__qualname__", repr(self.target))

    def check(self, names: list[str], data: Any = None) -> None:
        """Raise ``ConfigError`` if the model's ``__init__`` cannot take these keys (one of
        the ``data`` class's or the Trainer's named so), or an ``init_args`` value does not
        fit its annotation (``model.depth='abc'``)."""
        if isinstance(self.target, ConfigBuilder):
            self.target.check()
            cls = self.target.target()
            if inspect.isclass(cls):  # the arch's plain keys are arguments of the node's class
                accepted, var_kw = self.target.kwargs_of(cls)  # (along **kwargs, as LightningCLI)
                for key in (k for k in names if not is_dotted(k)):
                    if key not in accepted and not var_kw:
                        hint = name_hint(cls, key, accepted) + section_hint(key, data)
                        raise ConfigError(f"space key {key!r} is not an argument of "
                                          f"{cls.__name__}.__init__; {hint}accepted: "
                                          f"{', '.join(accepted) or 'none'}")
        if not self.is_class:
            return
        for key in names:
            if is_dotted(key) and not key.startswith(("trainer.", "data.")):
                raise ConfigError(f"space key {key!r} is a path into a config, and {self.name} "
                                  f"is a class: search its argument by its name (a nested "
                                  f"mapping for a dict argument), or search from a config "
                                  f"(lightning-nas search); trainer.* keys are Trainer "
                                  f"arguments, data.* keys the data's")
        accepted, var_kw = init_kwargs(self.target, forwarded=True)  # along **kwargs
        bases = _bases_note(self.target)
        for kind, keys in (("space key", [k for k in names if not is_dotted(k)]),
                           ("model init_args key", self.init_args)):
            for key in keys:
                if key not in accepted and not var_kw:
                    hint = nested_hint(self.target, key, accepted) or name_hint(
                        self.target, key, accepted) + (
                        section_hint(key, data) if kind == "space key" else "")
                    raise ConfigError(f"{kind} {key!r} is not an argument of {self.name}."
                                      f"__init__{bases}; {hint}accepted: "
                                      f"{', '.join(accepted) or 'none'}")
        check_init_args(self.target, over_defaults(self.target, self.init_args, self.init_args),
                        "model", nested=False)  # a mapping over its default, as built

    def check_arch(self, arch: Mapping[str, Any]) -> None:
        """Raise ``ConfigError`` if a value of ``arch`` does not fit the annotation of the
        argument it is passed to (``model.width='4': expected int``)."""
        if isinstance(self.target, ConfigBuilder):
            self.target.check(arch)
        elif self.is_class:
            check_init_args(self.target, self._arch_args(arch),
                            "model")  # a class_path node's arguments too: built per trial

    def check_groups(self, arch: Mapping[str, Any]) -> None:
        """Raise ``ConfigError`` for an ``init_args`` dict at a key the space searches as a
        group, when the dict has keys the group does not set: the group's dict is passed
        whole, so they would be lost from every trial (as a config's dict would be).

        Example:
            >>> factory = ModelFactory(pl.LightningModule, {"opt": {"momentum": 0.9}})
            >>> factory.check_groups({"opt": {"momentum": 0.5}})
            >>> factory.check_groups({"opt": {"lr": 0.1}})
            Traceback (most recent call last):
            ...
            lightning_nas.errors.ConfigError: model init_args['opt'] has the key momentum, ...
        """
        for key, value in arch.items() if self.is_class else ():
            check_group("model", key, key, self.init_args.get(key), value,
                        init_hints(self.target).get(key))

    def _arch_args(self, arch: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments ``arch``'s plain keys give the model class, a dataclass argument's
        group over its signature default's fields (``over_default``)."""
        return over_defaults(self.target, self.init_args,
                             {k: v for k, v in arch.items() if not is_dotted(k)})

    def build(self, arch: Mapping[str, Any]) -> pl.LightningModule:
        """A new model for ``arch`` (a dataclass argument's group over its signature
        default's fields, as a config path's, ``over_defaults``); an ``init_args`` value
        that is or holds (in a list, tuple, set or dict) a ``torch.nn.Module`` or a
        ``torch.Tensor`` (a backbone, pretrained weights) is copied, so every trial starts
        from its weights as given, not from the last trial's, and the caller's objects are
        not trained in place, and so is plain data (``own_copies``: a model may change a
        dict it is given); values are converted to the annotations as jsonargparse converts
        them (``build_class``)."""
        arch = own_copies(arch)  # its own copies: a model may change what it is given, and
        if self.is_class:  # the checks before training build an arch again
            return build_class(self.target, over_defaults(self.target, self.init_args, {
                **own_copies(self.init_args), **self._arch_args(arch)}), "model")
        model = self.target(arch)
        if not isinstance(model, pl.LightningModule):
            raise TypeError(f"model builder {self.name} returned {_returned(model)}, "
                            f"expected a LightningModule")
        return model


def over_defaults(target: Any, given: Mapping[str, Any],
                  args: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's values ``args`` for the class ``target``: a dataclass argument's mapping (a
    group, or ``init_args``' own, ``given``) set over its signature default's fields
    (``record_defaults.over_default``, the code a config's ``class_path`` node runs), as
    LightningCLI keeps them; where ``init_args`` gives an instance, it is the argument
    instead (a group over a dataclass instance is set over the instance's fields,
    ``over_fields``, as LightningCLI's ``--model.net='{hidden: 4}'`` is merged over a
    config's ``net``: the checkpoint's hyperparameters say them all, and so build it again;
    over a dict of them, or of them and plain mappings, each key so).

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class Net:
        ...     hidden: int = 8
        ...     depth: int = 1
        >>> class Model:
        ...     def __init__(self, net: Net = Net(depth=3)): ...
        >>> over_defaults(Model, {"net": {"hidden": 2}}, {"net": {"hidden": 4}})
        {'net': {'hidden': 4, 'depth': 3}}
        >>> over_defaults(Model, {"net": Net(depth=2)}, {"net": {"hidden": 4}})
        {'net': {'hidden': 4, 'depth': 2}}
    """
    return {key: over_fields(given[key], value, init_hints(target).get(key)) if key in given
            and (not isinstance(given[key], Mapping) or holds_instances(given[key]))
            else over_default(target, key, value) for key, value in args.items()}


class DataFactory:
    """Builds the data for a trial: nothing or a DataModule.

    Args:
        data: ``None`` (the model has its own dataloaders), a ``LightningDataModule``
            instance (reused by every trial), its class or import path (a fresh one per
            trial, built with ``init_args`` and the architecture's ``data.<argument>``
            values), or a callable ``arch -> LightningDataModule`` (a config's data section:
            a fresh one per trial, built from the architecture).
        init_args: keyword arguments for a class.
    """

    def __init__(self, data: Any = None, init_args: Mapping[str, Any] | None = None) -> None:
        self.target = import_target("data", data) if isinstance(data, str) else data
        self.init_args = dict(init_args or {})
        self.path = data if isinstance(data, str) else (
            object_path(data) if inspect.isclass(data) else None)
        if inspect.isclass(self.target) and not issubclass(self.target, pl.LightningDataModule):
            raise ConfigError(f"data {self.target.__name__} is not a LightningDataModule")
        if not (self.target is None or inspect.isclass(self.target)
                or isinstance(self.target, pl.LightningDataModule)
                or callable(self.target) and not isinstance(self.target, nn.Module)):
            raise ConfigError(
                f"data={short(data)} is of type {type(self.target).__name__}, not data a trial "
                f"can use: give a LightningDataModule instance, class or import path, a callable "
                f"arch -> LightningDataModule, or None (the model's own dataloaders); wrap "
                f"datasets with LightningDataModule.from_datasets(train, val, batch_size=...) "
                f"(trials in the search's own process only)")
        if not inspect.isclass(self.target) and self.init_args:
            raise ConfigError(f"data {getattr(self.target, '__name__', data)!r} is not a "
                              f"class: init_args need a LightningDataModule class or import "
                              f"path")

    def check(self, names: Sequence[str] = (), model: ModelFactory | None = None) -> None:
        """Raise ``ConfigError`` if the data class does not take an ``init_args`` key or a
        ``data.<argument>`` space key of ``names`` (a class is built with it per trial, as a
        config search builds its data section), a value does not fit its annotation
        (``data.batch_size='abc'``), or a ``data.*`` key would never be applied: an instance
        is built once; without data, only a ``model`` that is no class receives it."""
        keys = [key for key in names if is_dotted(key) and key.startswith("data.")]
        if keys and (unapplied := self._unapplied(keys[0], model)) is not None:
            raise ConfigError(f"space key {keys[0]!r} is a path into the data config, and "
                              f"{unapplied[0]}, so the value would never be applied: give "
                              f"data= {unapplied[1]}a callable arch -> LightningDataModule "
                              f"that reads arch[{keys[0]!r}]")
        if isinstance(self.target, ConfigBuilder):
            self.target.check()
        elif inspect.isclass(self.target):
            check_space_paths(dict.fromkeys(keys))  # data.x and data.init_args.x: one
            accepted, var_kw = _data_kwargs(self.target)
            for key, arg in ((key, space_path(key).split(".")[1:]) for key in keys):
                if len(arg) > 1 or arg[0] not in accepted and not var_kw:
                    raise ConfigError(f"space key {key!r} is not an argument of "
                                      f"{self.target.__name__}.__init__"
                                      f"{_bases_note(self.target)} (from Python, a data "
                                      f"class takes data.<argument> keys; a dict argument as a "
                                      f"group, passed whole); {did_you_mean(arg[0], accepted)}"
                                      f"accepted: {', '.join(accepted)}")
            check_init_args(self.target, over_defaults(self.target, self.init_args,
                                                       self.init_args), "data", nested=False)
            # (along **kwargs passed on whole too; a mapping over its default, as built)
            check_loader_args(convert_args(self.target, self.init_args), "data")  # as built
            # ('64': 64; was: each trial's loaders refused it)

    def _unapplied(self, key: str, model: ModelFactory | None) -> tuple[str, str] | None:
        """Why the ``data.*`` space key ``key`` would reach no data, and the data that takes
        it as an argument (None if it reaches the data)."""
        arg = space_path(key).split(".")[1]
        if isinstance(self.target, pl.LightningDataModule):
            cls = type(self.target).__name__
            accepted, var_kw = _data_kwargs(type(self.target))
            return (f"the data (a {cls} instance) is built once, without the architecture",
                    f"its class, {cls} (data_init_args= its other arguments; each trial builds "
                    f"one with {key}), or " if arg in accepted or var_kw else "")
        if self.target is None and model is not None and model.is_class:
            return (f"there is no data= (the model's own dataloaders) and the model "
                    f"{model.name} is a class, which takes no data.* key",
                    f"a LightningDataModule class that takes {arg!r} (each trial builds one "
                    f"with {key}), or ")
        return None

    def arch_args(self, arch: Mapping[str, Any] | None) -> dict[str, Any]:
        """The arguments ``arch``'s ``data.<argument>`` keys (an ``init_args`` level may be
        left in) give a data class; they win over ``init_args`` (a dataclass argument's group
        over its signature default's fields, ``over_defaults``)."""
        args = {space_path(key).split(".", 1)[1]: value for key, value in (arch or {}).items()
                if is_dotted(key) and key.startswith("data.")}
        return over_defaults(self.target, self.init_args, args) if inspect.isclass(
            self.target) else args

    def check_groups(self, arch: Mapping[str, Any]) -> None:
        """``ModelFactory.check_groups`` for a data class: a ``data_init_args`` dict at a
        ``data.<argument>`` key the space searches as a group (was: its other keys dropped
        from every trial without a word)."""
        if inspect.isclass(self.target):
            for key, value in arch.items():
                if is_dotted(key) and key.startswith("data."):
                    arg = space_path(key).split(".", 1)[1]
                    check_group("data", arg, key, self.init_args.get(arg), value,
                                init_hints(self.target).get(arg))

    def check_arch(self, arch: Mapping[str, Any]) -> None:
        """A config-built data section, or a data class's arguments, checked as ``arch``
        sets them (``data.batch_size``)."""
        if isinstance(self.target, ConfigBuilder):
            self.target.check(arch)
        elif inspect.isclass(self.target):
            check_init_args(self.target, self.arch_args(arch), "data", nested=False)
            check_loader_args(convert_args(self.target, self.arch_args(arch)), "data")

    def build(self, arch: Mapping[str, Any] | None = None) -> pl.LightningDataModule | None:
        """The DataModule for one trial (``None`` if the model brings its own loaders); a
        class is built with ``arch``'s ``data.<argument>`` values, a callable (a config-built
        data section, a ``ConfigBuilder``) receives the architecture."""
        arch = own_copies(arch or {})  # its own copies, as a model's
        if inspect.isclass(self.target):
            return build_class(self.target, over_defaults(self.target, self.init_args, {
                **own_copies(self.init_args), **self.arch_args(arch)}), "data")
        if callable(self.target) and not isinstance(self.target, pl.LightningDataModule):
            data = self.target(arch)
            if not isinstance(data, pl.LightningDataModule):
                raise TypeError(f"data builder {getattr(self.target, '__qualname__', self.target)}"
                                f" returned {_returned(data)}, expected a LightningDataModule")
            return data
        return self.target


def _data_kwargs(cls: type) -> tuple[list[str], bool]:
    """``init_kwargs`` of a DataModule class (its ``__init__`` and the bases' its ``**kwargs``
    passes them on to whole, as Python calls it): LightningDataModule's own ``**kwargs`` take
    nothing (it drops them)."""
    accepted, var_kw = init_kwargs(cls, forwarded=True)
    return accepted, var_kw and cls.__init__ is not pl.LightningDataModule.__init__


def _bases_note(cls: type) -> str:
    """`` nor of a base its **kwargs passes them on to`` where ``cls``'s ``**kwargs`` reach a
    base of the user's (``kwargs_chain``, as Python passes them), for an error naming its
    arguments."""
    return " nor of a base its **kwargs passes them on to" if len(
        kwargs_chain(cls, forwarded=True)) > 1 else ""


def _returned(built: Any) -> str:
    """What a builder returned, for its error: a ``functools.partial`` says where one comes
    from (was: "returned partial")."""
    if isinstance(built, functools.partial):
        return ("partial (a functools.partial: the section's `_partial_: true` makes one; a "
                "trial needs the object itself, drop `_partial_`)")
    return type(built).__name__

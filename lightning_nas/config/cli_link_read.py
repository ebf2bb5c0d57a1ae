"""Reading the ``link_arguments`` of a project's ``LightningCLI`` subclass (``search.cli``)
without running the CLI: ``read_links`` calls the class's ``add_arguments_to_parser`` on a real
``LightningArgumentParser`` that has LightningCLI's ``trainer``, ``model`` and ``data``
arguments (subclass mode, else for the config's classes), so jsonargparse checks each link as
the project's CLI would; only ``link_arguments`` is taken (``SUPPORTED``), anything else that
method does is refused naming what is supported. Each link is a ``Link``; ``cli_class`` finds
the class, ``said`` names it as errors do. ``config.cli_links.CliLinks`` applies the links.

Example:
    >>> read_links("lightning.pytorch.cli.LightningCLI")  # declares none
    ()
    >>> str(Link(("data.num_classes",), "model.classes"))
    "link_arguments('data.num_classes', 'model.classes')"
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lightning_nas.config.cli_link_keys import skipped_said, skipped_source
from lightning_nas.config.imports import import_object
from lightning_nas.config.space_paths import space_path
from lightning_nas.errors import ConfigError

__all__ = ["Link", "SUPPORTED", "cli_class", "read_links", "said"]

#: what ``add_arguments_to_parser`` may do for a search to take it
SUPPORTED = ("only parser.link_arguments(source, target, compute_fn=None, apply_on='parse' "
             "or 'instantiate')")
#: the parser's methods a search cannot take from ``add_arguments_to_parser``
_REFUSED = ("add_argument", "add_argument_group", "add_class_arguments", "add_subclass_arguments",
            "add_method_arguments", "add_function_arguments", "add_dataclass_arguments",
            "add_optimizer_args", "add_lr_scheduler_args", "add_lightning_class_args",
            "set_defaults")


@dataclass(frozen=True)
class Link:
    """One ``parser.link_arguments`` call: its sources and target as written."""

    sources: tuple[str, ...]
    target: str
    compute_fn: Callable[..., Any] | None = None
    apply_on: str = "parse"

    @property
    def target_path(self) -> str:
        """The target as a config path without ``init_args`` levels (``model.hidden``)."""
        return space_path(self.target)

    def __str__(self) -> str:
        source = self.sources[0] if len(self.sources) == 1 else self.sources
        fn = "" if self.compute_fn is None else (
            f", compute_fn={getattr(self.compute_fn, '__qualname__', self.compute_fn)}")
        on = "" if self.apply_on == "parse" else f", apply_on={self.apply_on!r}"
        return f"link_arguments({source!r}, {self.target!r}{fn}{on})"


def said(path: Any, from_python: bool = False) -> str:
    """How an error names the CLI: as a config gives it (``search.cli``), or as ``Search``
    from Python does (``cli=``).

    Example:
        >>> said("my_pkg.cli.MyCLI"), said("my_pkg.cli.MyCLI", from_python=True)
        ('`search.cli`=my_pkg.cli.MyCLI', 'cli=my_pkg.cli.MyCLI')
    """
    return f"cli={path}" if from_python else f"`search.cli`={path}"


def cli_class(path: Any, from_python: bool = False) -> type:
    """The ``LightningCLI`` subclass ``search.cli`` (``cli=`` from Python: ``from_python``)
    names; a ``ConfigError`` naming the key and value otherwise."""
    from lightning.pytorch.cli import LightningCLI

    if not isinstance(path, str) or not path:
        raise ConfigError(f"`search.cli` must be the import path of your LightningCLI "
                          f"subclass (my_pkg.cli.MyCLI), got {path!r}")
    try:
        cls = import_object(path)
    except ConfigError as err:
        raise ConfigError(f"{said(path, from_python)}: {err}") from None
    if not (inspect.isclass(cls) and issubclass(cls, LightningCLI)):
        raise ConfigError(f"{said(path, from_python)} is {cls!r}, not a subclass of "
                          f"lightning.pytorch.cli.LightningCLI: give the class whose "
                          f"add_arguments_to_parser declares your link_arguments")
    return cls


class _KeyRefused(ConfigError):
    """jsonargparse's refusal of a link's keys (a CLI of the other mode may take them)."""


def read_links(path: str, classes: Mapping[str, type] | None = None,
               from_python: bool = False) -> tuple[Link, ...]:
    """The ``link_arguments`` the ``LightningCLI`` subclass at ``path`` declares in its
    ``add_arguments_to_parser`` (called unbound, on a bare instance; the CLI never runs),
    read as a CLI in subclass mode takes them (``model.init_args.width``), else, where
    jsonargparse refuses their keys there, as one made for the fixed ``classes``
    (``{"model": ..., "data": ...}``, the config's: ``LightningCLI(MyModel, MyData)``'s
    ``model.width``). Errors name it as ``said`` does.

    Example:
        >>> read_links("lightning.pytorch.cli.LightningCLI")  # declares none
        ()
    """
    cls = cli_class(path, from_python)
    named = said(path, from_python)
    try:
        return _read(cls, named, None)
    except _KeyRefused as err:
        if not classes or "model" not in classes:
            raise ConfigError(str(err)) from None
        try:
            return _read(cls, named, classes)
        except _KeyRefused:
            raise ConfigError(str(err)) from None


def _read(cls: type, named: str, classes: Mapping[str, type] | None) -> tuple[Link, ...]:
    """``read_links`` on a parser in subclass mode (``classes`` None) or for ``classes``;
    errors name the CLI as ``named`` (``said``)."""
    import lightning.pytorch as pl
    from lightning.pytorch.cli import LightningArgumentParser

    links: list[Link] = []
    reading = False

    class _Reader(LightningArgumentParser):  # records link_arguments, refuses the rest
        def link_arguments(self, source: Any, target: str, compute_fn: Any = None,
                           apply_on: str = "parse") -> None:
            nonlocal reading
            sources = (source,) if isinstance(source, str) else tuple(source)
            link = Link(sources, target, compute_fn, apply_on)
            if apply_on == "instantiate" and not (target.startswith("model.") and all(
                    s.startswith("data.") for s in sources)):
                raise ConfigError(f"{named}: {link}: a search takes a link at "
                                  f"instantiation from the data's attributes (data.<name>) "
                                  f"to the model's arguments only")
            reading = False
            try:
                super().link_arguments(source, target, compute_fn, apply_on)
            except ValueError as err:  # jsonargparse's own check of the keys
                raise _KeyRefused(f"{named}: {link}: {err}") from None
            finally:
                reading = True
            if classes is None and apply_on == "parse" and (
                    skipped := skipped_source(sources)):
                raise _KeyRefused(skipped_said(named, link, skipped, skipped.split(".")[0]))
            if not target.startswith(("model.", "data.")):
                raise ConfigError(f"{named}: {link} targets {target!r}; a "
                                  f"search sets targets in `model` or `data` only")
            links.append(link)

    def refuse(name: str) -> Callable[..., Any]:
        method = getattr(LightningArgumentParser, name)

        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            if reading:
                raise ConfigError(f"{named}: its add_arguments_to_parser calls "
                                  f"parser.{name}; a search takes {SUPPORTED}: give what "
                                  f"it adds in the config instead")
            return method(self, *args, **kwargs)
        return call

    for name in _REFUSED:
        setattr(_Reader, name, refuse(name))
    parser = _Reader()
    parser.add_lightning_class_args(pl.Trainer, "trainer")
    for name, base in (("model", pl.LightningModule), ("data", pl.LightningDataModule)):
        if classes is None:
            parser.add_lightning_class_args(base, name, subclass_mode=True)
        elif name in classes:
            parser.add_lightning_class_args(classes[name], name)
    reading = True
    try:
        cls.add_arguments_to_parser(cls.__new__(cls), parser)
    except ConfigError:
        raise
    except Exception as err:  # noqa: BLE001 - said with the class (self is a bare object)
        raise ConfigError(f"{named}: its add_arguments_to_parser raised "
                          f"{type(err).__name__}: {err} (a search calls it on a bare "
                          f"instance, with no CLI run; it takes {SUPPORTED})") from None
    return tuple(links)

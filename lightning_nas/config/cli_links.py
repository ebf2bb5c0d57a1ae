"""The ``link_arguments`` of a project's ``LightningCLI`` subclass (``search.cli``), read
without running the CLI and applied to each trial's config as jsonargparse applies them:
after the trial's architecture is set, a parse-time link's target is the source's value
(``compute_fn`` of the sources' values where given); a link at instantiation's target is
the attribute of the data the config builds.

The links are read by calling the class's ``add_arguments_to_parser`` on a real
``LightningArgumentParser`` that has LightningCLI's ``trainer``, ``model`` and ``data``
arguments (subclass mode, as a ``class_path`` config gives them, else as a CLI made for the
config's classes), so jsonargparse checks each link as the project's CLI would; only
``link_arguments`` is taken, anything else that method does is refused naming what is
supported (``config.cli_link_read``: ``read_links``, ``Link``, ``cli_class``, ``said``,
``SUPPORTED``, importable from here too).

Example:
    >>> links = CliLinks(None, {"model": {"class_path": "m.Net"}})  # no search.cli: none
    >>> links.links, links.targets()
    ((), [])
"""

from __future__ import annotations

import copy
import inspect
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from lightning_nas.config.cli_link_keys import (
    drawn_values,
    gives_key,
    skipped_said,
    unfound,
    unfound_said,
    unreached,
)
from lightning_nas.config.cli_link_read import SUPPORTED, Link, cli_class, read_links, said
from lightning_nas.config.imports import import_object
from lightning_nas.config.nodes import is_node, target_path
from lightning_nas.config.paths import get_dotted, set_paths
from lightning_nas.config.space_paths import space_path
from lightning_nas.errors import ConfigError

__all__ = ["CliLinks", "Link", "SUPPORTED", "cli_class", "read_links", "said"]

_MISSING = object()


@contextmanager
def _random_state_kept() -> Iterator[None]:
    """Python's, NumPy's and torch's (CPU) random states restored afterwards."""
    import numpy as np
    import torch

    state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(state)
            np.random.set_state(np_state)


class CliLinks:
    """The links of ``search.cli`` over a config: ``fill`` sets each target in a section
    built for an architecture. Picklable (the import path and the config; the links are
    read again where it is unpickled, as ``compute_fn`` may be a lambda).

    Args:
        cli: the import path of the ``LightningCLI`` subclass (None: no links).
        config: the search's config (``model``, ``data``, ``trainer``, ...).
        from_python: errors name the CLI ``cli=`` (``Search`` from Python), not
            ``search.cli``.
    """

    #: errors name the CLI as ``Search``'s ``cli=`` (from Python), not ``search.cli``
    from_python: bool = False

    def __init__(self, cli: str | None, config: Mapping[str, Any],
                 from_python: bool = False) -> None:
        self.cli = cli
        self.from_python = from_python
        self.config = {k: copy.deepcopy(v) for k, v in config.items() if k != "search"}
        self._links: tuple[Link, ...] | None = None
        self._built: dict[str, Any] = {}  # the data an instantiation link read last

    @property
    def links(self) -> tuple[Link, ...]:
        """The links, read once per process."""
        if self._links is None:
            self._links = (read_links(self.cli, self._classes(), self.from_python)
                           if self.cli is not None else ())
        return self._links

    @property
    def named(self) -> str:
        """The CLI as errors name it (``said``): ```search.cli`=...`` or ``cli=...``."""
        return said(self.cli, self.from_python)

    def _classes(self) -> dict[str, type]:
        """The config's model and data classes (``class_path`` nodes or import paths), for
        a CLI made for fixed classes."""
        out = {}
        for name in ("model", "data"):
            node = self.config.get(name)
            where = node if isinstance(node, str) else (
                target_path(node) if is_node(node) and "class_path" in node else None)
            try:
                found = import_object(where) if where else None
            except ConfigError:
                found = None
            if inspect.isclass(found):
                out[name] = found
        return out

    @property
    def data_first(self) -> bool:
        """Whether a link at instantiation makes the project's CLI build the data before
        the model (jsonargparse builds a link's source first): a trial does so too."""
        return any(link.apply_on == "instantiate" for link in self.links)

    def targets(self) -> list[str]:
        """The config paths the links set (``model.hidden``)."""
        return [link.target_path for link in self.links]

    def check_space(self, space: Mapping[str, Any]) -> None:
        """Refuse a space key that sets a link's target or a key inside it (the link would
        replace every value drawn), naming the link; and one that holds the target (a
        nested node searched whole, ``model.net``) where a value it draws gives the target
        (a group of keys, an option with the target in its ``init_args``). A choice of
        classes there is taken (was: refused): jsonargparse applies the link to each
        chosen class, and so does each trial (``check_keys`` judges each on its config)."""
        for key, spec in space.items():
            path = space_path(key)
            for link in self.links:
                target = link.target_path
                where = f"{'' if self.from_python else 'search.'}space key {key!r}"
                if path == target or path.startswith(f"{target}."):
                    raise ConfigError(f"{where} sets {target}, the target of {link} in "
                                      f"{self.named}: the link sets it in every trial; "
                                      f"search its source instead")
                if not target.startswith(f"{path}."):
                    continue
                rest = target[len(path) + 1:].split(".")
                options = drawn_values(spec)
                giving = next((o for o in options if gives_key(o, rest)), None) \
                    if options is not None else spec if gives_key(spec, rest) or not \
                    isinstance(spec, Mapping) else None  # a group of keys: as a node's
                if giving is not None:
                    raise ConfigError(
                        f"{where} holds {target}, the target of {link} in {self.named}, and "
                        f"{'its option ' if options is not None else ''}{giving!r} gives it:"
                        f" the link sets it in every trial, whatever the "
                        f"{'option' if options is not None else 'space'} says; leave "
                        f"{'.'.join(rest)} out of it (search the link's source to change it)")
                for option in options or ():  # each class chosen: as jsonargparse finds
                    if isinstance(option, str) or is_node(option):  # the target in it
                        full = copy.deepcopy(dict(self.config))
                        self.check_keys(set_paths(full, [(path, {"class_path": option} if
                                                          isinstance(option, str) else option)]))

    def check_keys(self, config: Mapping[str, Any]) -> None:
        """Refuse a link whose source (at parse time) or target steps past a nested
        ``class_path`` node of ``config`` without its ``init_args`` level
        (``model.init_args.net.width``), names an argument jsonargparse does not find for
        its class (one only ``**kwargs`` takes) or a key inside a plain ``dict`` argument
        (``cli_link_keys.unfound``): jsonargparse skips it at every parse or
        instantiation without a word, so the project's CLI never applies it. The error
        names the link and the key to write."""
        for link in self.links:
            keys = [("source", source) for source in link.sources
                    if link.apply_on == "parse"] + [("target", link.target)]
            for role, key in keys:
                if (node := unreached(config, key)) is not None:
                    raise ConfigError(skipped_said(self.named, link, key, node, role))
                if (where := unfound(config, key)) is not None:
                    raise ConfigError(unfound_said(self.named, link, key, where, role))

    def given_targets(self, config: Mapping[str, Any]) -> list[str]:
        """The links (as written) whose target ``config`` gives: the link replaces it, as
        jsonargparse replaces a given target."""
        return [str(link) for link in self.links
                if get_dotted(config, link.target_path, _MISSING) is not _MISSING]

    def fill(self, name: str, section: Mapping[str, Any], arch: Mapping[str, Any]) -> Any:
        """``section`` (the ``model`` or ``data`` node with ``arch`` set) with the links'
        targets set from their sources' values in the config with ``arch`` set."""
        if not self.links:
            return section
        full = {**copy.deepcopy(self.config), name: copy.deepcopy(dict(section))}
        set_paths(full, [(space_path(key), value) for key, value in arch.items()
                         if not space_path(key).startswith(f"{name}.")])  # (its own: set)
        return self.apply(full, instantiate=name == "model")[name]  # (those set the model)

    def apply(self, full: dict[str, Any], instantiate: bool = True) -> dict[str, Any]:
        """Set each link's target in the whole config ``full``, as jsonargparse does: the
        parse-time links first, in the order declared (a link's target may be a later
        one's source), each the source's value or ``compute_fn`` of several sources'
        values; then the links at instantiation, from the attributes of the data the
        config builds (``_attribute``; with ``instantiate`` only). Returns ``full``; a link
        the project's CLI skips on ``full`` is refused (``check_keys``)."""
        self.check_keys(full)
        for link in sorted(self.links, key=lambda link: link.apply_on == "instantiate"):
            if link.apply_on == "instantiate" and not instantiate:
                continue
            values = [self._attribute(full, link, source) if link.apply_on == "instantiate"
                      else self._value(full, link, source) for source in link.sources]
            try:
                value = (values[0] if link.compute_fn is None and len(values) == 1
                         else link.compute_fn(*values) if link.compute_fn is not None
                         else values)
            except Exception as err:  # noqa: BLE001 - the user's function, named
                raise ConfigError(f"{link} in {self.named}: compute_fn of "
                                  f"{', '.join(map(repr, values))} raised "
                                  f"{type(err).__name__}: {err}") from None
            set_paths(full, [(link.target_path, value)])
        return full

    def without_targets(self, full: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of the whole config ``full`` without the links' targets
        (``best_config.yaml``: the project's CLI sets them, and jsonargparse may refuse one
        given)."""
        out = copy.deepcopy(dict(full))
        for link in self.links:
            parent, _, arg = link.target_path.rpartition(".")
            node = get_dotted(out, parent)
            for held in ([node.get("init_args"), node.get("dict_kwargs")] if is_node(node)
                         else [node]):
                if isinstance(held, dict):
                    held.pop(arg, None)
        return out

    def _value(self, full: Mapping[str, Any], link: Link, source: str) -> Any:
        """A source's value: the config's, else the default of the class that takes it."""
        path = space_path(source)
        value = get_dotted(full, path, _MISSING)
        if value is not _MISSING:
            return value
        parent, _, arg = path.rpartition(".")
        node = get_dotted(full, parent) if parent else None
        if parent == "trainer":
            import lightning.pytorch as pl

            cls: Any = pl.Trainer
        elif isinstance(node, str) or is_node(node):
            cls = import_object(node if isinstance(node, str) else target_path(node))
        else:
            cls = None
        param = (inspect.signature(cls).parameters.get(arg) if inspect.isclass(cls)
                 else None)
        if param is None or param.default is inspect.Parameter.empty:
            raise ConfigError(f"{link} in {self.named}: its source {source} has "
                              f"no value in the config nor a default; give it in the config")
        return param.default

    def _attribute(self, full: Mapping[str, Any], link: Link, source: str) -> Any:
        """An instantiation link's source: the attribute of the data ``full`` builds (built
        apart, the random state kept: the trial's own data and model draw what they draw
        without the link; the last one built is kept for the next call of the same
        config)."""
        node = full.get("data")
        if node is None:
            raise ConfigError(f"{link} in {self.named}: the config has no `data` "
                              f"to take {source} from")
        key = repr(node)
        if key not in self._built:
            from lightning_nas.config.hparams import build_section

            with _random_state_kept():
                self._built = {key: build_section(
                    node if is_node(node) else {"class_path": node}, "data")}
        value: Any = self._built[key]
        for name in source.split(".")[1:]:
            if not hasattr(value, name):
                raise ConfigError(f"{link} in {self.named}: the data built "
                                  f"({type(value).__name__}) has no attribute {name!r}")
            value = getattr(value, name)
        return value

    def __getstate__(self) -> dict[str, Any]:
        return {"cli": self.cli, "config": self.config, "from_python": self.from_python,
                "_links": None, "_built": {}}

    def __repr__(self) -> str:
        return f"CliLinks({self.cli!r})"


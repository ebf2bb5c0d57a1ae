"""Overrides and config values a search space would overwrite without a word.

A trial's architecture is set over the config (``set_paths``): an override of a key the
space searches, or a key of a dict the space gives whole (a group, a choice), would be lost
from every trial. ``load_config`` refuses both, naming the fix
(``--search.space.KEY={fixed: VALUE}``). A chosen ``class_path`` node is merged over the
config's node, as LightningCLI merges it (``merge_node``): an override inside it stays,
unless an option sets it or is of a class that does not take it.

Example:
    >>> cfg = {"model": {"class_path": "m.Net", "init_args": {"width": 8}},
    ...        "search": {"space": {"width": {"choice": [8, 16]}}}}
    >>> check_not_searched(["--model.width=4"], cfg)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lightning_nas.errors.ConfigError: --model.width=4 sets a key the search space searches ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_nas.config.held_hints import any_at, hydra_data_at, merges_at, over_path
from lightning_nas.config.node_files import yaml_file
from lightning_nas.config.node_merge import merge_node
from lightning_nas.config.nodes import ARGS_KEYS, is_node, node_args
from lightning_nas.config.overrides import split_overrides
from lightning_nas.config.paths import get_dotted, set_dotted
from lightning_nas.config.space_groups import is_space_group
from lightning_nas.config.space_keys import SECTIONS, is_dotted
from lightning_nas.config.space_paths import space_path
from lightning_nas.config.yamlio import dump_yaml, load_yaml
from lightning_nas.errors import ConfigError

__all__ = ["check_groups_keep", "check_not_searched"]


def check_not_searched(overrides: Sequence[str], cfg: Mapping[str, Any],
                       config_path: Path | None = None) -> None:
    """Refuse an override of a key the space searches, or of one inside a value the space
    sets as a whole: every trial would take the space's value, and the override would be
    ignored without a word. A group at a node sets only the node's arguments it names. A
    mapping given (``--trainer='{max_epochs: 2}'``; a section's YAML file, looked for as
    ``apply_overrides`` looks, beside ``config_path`` too) sets each key it holds."""
    search = cfg.get("search")
    space = search.get("space") if isinstance(search, Mapping) else None
    if not isinstance(space, Mapping):
        return
    searched = {space_path(key): key for key in space}  # init_args left out, as below
    for key, text in split_overrides(overrides):
        path = space_path(key.rstrip("+")) if is_dotted(key) else key  # += appends there
        _check_path(cfg, space, searched, f"--{key}={text}", path, text)
        value = load_yaml(text, source=f"--{key}") if not key.endswith("+") else None
        if key in SECTIONS and isinstance(value, str) and value.endswith((".yaml", ".yml")) \
                and (found := yaml_file(value, config_path, command_line=True)) is not None:
            value = load_yaml(found.read_text(), source=str(found))  # --trainer=FILE.yaml
        if isinstance(value, Mapping):  # --trainer='{max_epochs: 2}', --model='{net: {...}}':
            _check_inside(cfg, space, searched, f"--{key}={text}", path, value)  # each key
            # it sets, as its dotted form (was: not looked into, the space's value won)


def _check_inside(cfg: Mapping[str, Any], space: Mapping[str, Any], searched: Mapping[str, str],
                  given: str, path: str, value: Mapping[str, Any]) -> None:
    """``check_not_searched`` for each key the mapping ``value`` of the override ``given``
    sets under ``path`` (``init_args`` / ``dict_kwargs`` levels left out), as its dotted
    form: a mapping at a searched key is that key's value, not looked into (at a group's,
    each key it sets: the group's own rules)."""
    for name, item in value.items():
        inner = path if name in ARGS_KEYS else f"{path}.{name}"
        if isinstance(item, Mapping) and item and (  # a group: each key it sets
                inner not in searched or is_space_group(space[searched[inner]])):
            _check_inside(cfg, space, searched, given, inner, item)
        elif name not in ARGS_KEYS:
            _check_path(cfg, space, searched, f"{given} (its {inner}={_flow(item)})", inner,
                        _flow(item))


def _check_path(cfg: Mapping[str, Any], space: Mapping[str, Any], searched: Mapping[str, str],
                given: str, path: str, text: str) -> None:
    """``check_not_searched`` for an override (``given``, as its message names it) that sets
    ``path`` to the value ``text``."""
    if path in searched:
        raise ConfigError(f"{given} sets a key the search space searches "
                          f"({searched[path]!r}): every trial takes the space's value. "
                          f"To fix it, --search.space.{searched[path]}={{fixed: {text}}}; "
                          f"else leave the override out")
    for prefix in sorted((p for p in searched if path.startswith(f"{p}.")), key=len):
        name, spec = searched[prefix], space[searched[prefix]]
        inner = _set_in(cfg, path, prefix, spec)
        if inner:
            raise ConfigError(f"{given} sets a key the search space searches "
                              f"({inner!r} in the group {name!r}): every trial takes the "
                              f"space's value. To fix it, --search.space.{name}.{inner}="
                              f"{{fixed: {text}}}; else leave the override out")
        if inner is None:
            continue  # a group at a node: the argument it does not search stays
        if (option := _chosen_setting(cfg, path, prefix, spec)) is not None:
            if option is _KEPT:
                continue  # each chosen mapping merged over the config's: it stays
            if isinstance(option, tuple):  # a chosen node of a class that drops it
                leave = ("leave that option out of the choice" if "fixed" not in spec
                         else "fix a value that keeps it")
                raise ConfigError(
                    f"{given} sets a key inside {name!r}, which "
                    f"{_named(option[0], spec)}, builds without it ({option[1]}): the "
                    f"trials that take it would lose the override, as LightningCLI "
                    f"drops it. To fix it, {leave}; else leave the override out")
            raise ConfigError(f"{given} sets a key inside {name!r}, which "
                              f"{_named(option, spec)}, sets too: the trials that take "
                              f"it would lose the override. To fix it, leave "
                              f"{path[len(prefix) + 1:]} out of that value, or give it in "
                              f"each value the space gives {name!r}; else leave the "
                              f"override out")
        rest = path[len(prefix) + 1:]
        fix = (f"To fix it, --search.space.{name}.{rest}={{fixed: {text}}}; else leave it "
               f"out" if is_space_group(spec) else  # (a choice's: was the group's fix,
               # --search.space.model.opt.other={fixed: 9}, itself refused as a clash)
               f"To fix it, give {rest} in each value the space gives {name!r}; else "
               f"leave it out")
        whole = "a group" if is_space_group(spec) else "a value it chooses"
        raise ConfigError(f"{given} sets a key inside {name!r}, which the search "
                          f"space gives every trial as a whole ({whole}): the override "
                          f"would be lost. {fix}")


#: ``_chosen_setting``'s answer where no option sets the override's key
_KEPT = object()
#: the length past which ``_named`` cuts an option's YAML (with ``...``)
_NAMED_LIMIT = 300


def _named(option: Any, spec: Mapping[str, Any]) -> str:
    """The option of the choice (``ordered`` too; or the fixed value) ``spec`` a refusal
    names: its position and its one-line YAML, cut past ``_NAMED_LIMIT`` characters with
    ``...`` (was: its repr cut at 80, mid-word and unmarked).

    Example:
        >>> _named({"depth": 6}, {"choice": [{"hidden": 4}, {"depth": 6}]})
        'option 2 of the choice there, {depth: 6}'
    """
    text = _flow(option)
    text = text if len(text) <= _NAMED_LIMIT else f"{text[:_NAMED_LIMIT - 3]}..."
    if "fixed" in spec:
        return f"the fixed value there, {text}"
    kind = "choice" if "choice" in spec else "ordered"
    place = next(i for i, item in enumerate(spec[kind], 1) if item == option)
    return f"option {place} of the {'ordered ' * (kind == 'ordered')}choice there, {text}"


def _chosen_setting(cfg: Mapping[str, Any], path: str, prefix: str, spec: Any) -> Any:
    """For a choice of mappings at ``prefix`` where a mapping set there is merged over the
    config's (``merges_at``: at a dataclass, as LightningCLI merges ``--model.net='{hidden:
    4}'`` after ``--model.net.depth=5``; under a Hydra ``_target_`` node), as a group's is:
    the first option that sets the override's ``path`` itself (its trials would lose the
    override), else ``_KEPT``; None for another spec or place (the value replaces the
    config's: refused as before). Was: refused for every choice, where a group at the same
    place took the override. So too a choice of ``class_path`` nodes of the dataclass
    there, whose ``init_args`` are merged so (LightningCLI keeps ``--model.net.depth=5``
    under ``--model.net='{class_path: NetConfig, init_args: {hidden: 4}}'``; was: refused,
    every option's class aside). A choice of ``class_path`` nodes at the config's
    ``class_path`` node: ``_node_losing`` (was: refused, "the override would be
    lost"); not where a Hydra node holds them, to which they are data, merged as any
    mapping (``hydra_data_at``; was: merged as LightningCLI merges nodes). A ``fixed``
    value is one option, merged so too (was: refused); an ``ordered`` choice's options as a
    choice's (was: refused)."""
    options = None if not isinstance(spec, Mapping) or is_space_group(spec) else (
        [spec["fixed"]] if "fixed" in spec else spec.get("choice", spec.get("ordered")))
    held = get_dotted(cfg, prefix)
    if isinstance(options, list) and options and all(
            _class_node(item) for item in (held, *options)) and not hydra_data_at(cfg, prefix):
        return _node_losing(held, path[len(prefix) + 1:], options, any_at(cfg, prefix))
    if not (isinstance(options, list) and options and merges_at(cfg, prefix) and all(
            isinstance(option, Mapping) and merges_at(cfg, prefix, option)
            for option in options)):
        return None
    return next((option for option in options
                 if _sets(cfg, path, prefix, option)), _KEPT)


def _class_node(value: Any) -> bool:
    """Whether ``value`` is a ``class_path`` node (no Hydra one), as ``merge_node`` merges."""
    return is_node(value) and isinstance(value.get("class_path"), str)


def _node_losing(held: Mapping[str, Any], rest: str, options: list[Any],
                 at_any: bool = False) -> Any:
    """For a choice of ``class_path`` nodes at the config's node ``held`` (each merged over
    it, ``merge_node``, as LightningCLI merges ``--model.net='{class_path: ...}'``), where
    an override sets ``rest`` under it (``sub.x``, ``init_args`` left out): the first option
    that sets ``rest`` itself, or ``(option, why)`` for one whose merged node has no
    ``rest`` (of a class that does not take its first argument, or whose value there is
    set in place of the config's: a ``dict`` argument's, as LightningCLI sets it); else
    ``_KEPT``. Was: judged by ``rest``'s first argument alone, an option setting ``sub``
    refused where its mapping merges over the config's (a dataclass's, a node's).
    ``at_any``: the node is at an argument annotated ``Any`` (or none), where an option's
    ``dict_kwargs`` are set in place of the config's (was: judged merged, an override of
    one of the config's taken and lost)."""
    name = rest.split(".")[0]
    for option in options:
        if get_dotted(option, rest, _KEPT) is not _KEPT:
            return option
        merged = merge_node(held, option, at_any=at_any)
        if at_any and name in (held.get("dict_kwargs") or {}) and name not in node_args(
                merged):
            return option, "its dict_kwargs are set in place of the config's at Any"
        if name not in node_args(merged):
            return option, (f"{str(option['class_path']).replace(':', '.').rsplit('.', 1)[-1]}"
                             f" does not take {name}")
        if get_dotted(merged, rest, _KEPT) is _KEPT:
            return option, f"its {name} is set in place of the config's"
    return _KEPT


def _sets(cfg: Mapping[str, Any], path: str, prefix: str, value: Mapping[str, Any]) -> bool:
    """Whether the mapping ``value``, merged at ``prefix``, sets ``path`` under it: it has
    the key, and, deeper, its mapping there is not merged over the config's too."""
    name, _, rest = path[len(prefix) + 1:].partition(".")
    if "class_path" in value:  # a dataclass's node (merges_at): its init_args so
        value = node_args(value)
    if name not in value:
        return False
    inner = value[name]
    if rest and isinstance(inner, Mapping) and merges_at(cfg, f"{prefix}.{name}"):
        return _sets(cfg, path, f"{prefix}.{name}", inner)
    return True


def _set_in(cfg: Mapping[str, Any], path: str, prefix: str, spec: Any) -> str | None:
    """How the value the space key at ``prefix`` gives (``spec``) meets an override of
    ``path`` under it: ``None`` when the override stays (a group at a node sets the node's
    other arguments; a group's mapping merged over the config's, at a dataclass or under a
    Hydra ``_target_`` node, ``merges_at``, keeps its other keys), the key in the group
    that sets ``path`` (a searched argument), or ``""`` when the value replaces the
    config's (a dict argument's group, a choice)."""
    if not (is_space_group(spec) and (is_node(get_dotted(cfg, prefix))
                                      or merges_at(cfg, prefix))):
        return ""
    name, _, rest = path[len(prefix) + 1:].partition(".")
    if name not in spec:
        return None
    inner = _set_in(cfg, path, f"{prefix}.{name}", spec[name]) if rest else name
    return f"{name}.{inner}" if inner and rest else inner


def check_groups_keep(cfg: Mapping[str, Any]) -> None:
    """Refuse a dict the config gives (its files and overrides merged) at a key the space
    searches as a group, when the dict has keys the group does not set and the group's value
    replaces the dict whole (a plain ``dict`` argument's, as LightningCLI sets it): they
    would be lost from every trial without a word. Where the group's value is merged over
    the dict (``over_path``: at a dataclass, as LightningCLI merges it, or under a Hydra
    ``_target_`` node, as Hydra merges every mapping), the keys it leaves out are kept: not
    refused (was: refused there too). A group at a node sets only the node's arguments it
    names: a dict among them is looked at."""
    search = cfg.get("search")
    space = search.get("space") if isinstance(search, Mapping) else None
    for name, spec in space.items() if isinstance(space, Mapping) else ():
        if is_space_group(spec):
            _check_group(cfg, space_path(str(name)), str(name), spec)


def _check_group(cfg: Mapping[str, Any], path: str, name: str, spec: Mapping[str, Any],
                 inner: str = "") -> None:
    """``check_groups_keep`` for ``spec`` at ``path``: the space's group ``name``, or the
    group at ``inner`` in it (an argument of a node it sets)."""
    value = get_dotted(cfg, path)
    if is_node(value):  # the node stays; set_dotted sets each argument the group names
        for arg, item in spec.items():
            if is_space_group(item):
                _check_group(cfg, f"{path}.{arg}", name, item, f"{inner}{arg}.")
        return
    lost = _lost_keys(value, over_path(cfg, path, _placed(spec))) \
        if isinstance(value, Mapping) else {}
    if not lost:
        return
    where, one = _spelt(cfg, path), len(lost) == 1
    it, they, keys = ("it", "it", "the key") if one else ("they", "them", "the keys")
    added: dict[str, Any] = {}
    for key, item in lost.items():  # the group's keys to add, nested as in the group
        set_dotted(added, f"{inner}{key}", {"fixed": item})
    flags = " ".join(f"--search.space.{name}.{inner}{key}={_flow({'fixed': item})}"
                     for key, item in lost.items())
    raise ConfigError(f"{where} has {keys} {', '.join(lost)}, which the search space's group "
                      f"{name!r} does not set: the group gives every trial {where} as a "
                      f"whole, so {it} would be lost. To fix it, add {_flow(added)} to the "
                      f"group {name!r} in search.space ({flags}), or search {they} there; "
                      f"else leave {they} out of {where}")


_SET = object()  # a value a group's parameter sets


def _placed(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A value the group ``spec`` gives: each key it sets, ``_SET`` for a parameter's value."""
    return {key: _placed(item) if is_space_group(item) else _SET for key, item in spec.items()}


def _lost_keys(value: Mapping[str, Any], got: Any, prefix: str = "") -> dict[str, Any]:
    """The keys of the config's dict ``value`` (dotted, with their values) that ``got``, what
    a trial gets there (the group's value set over it), has not; a key a parameter sets is
    set whole."""
    lost: dict[str, Any] = {}
    for key, item in value.items():
        if not (isinstance(got, Mapping) and key in got):
            lost[f"{prefix}{key}"] = item
        elif isinstance(item, Mapping) and isinstance(got[key], Mapping):
            lost.update(_lost_keys(item, got[key], f"{prefix}{key}."))
    return lost


def _spelt(cfg: Mapping[str, Any], path: str) -> str:
    """``path`` as the config spells it: with its ``init_args`` / ``dict_kwargs`` levels."""
    node: Any = cfg
    out = []
    for part in path.split("."):
        if isinstance(node, Mapping) and part not in node \
                and isinstance(node.get("init_args"), Mapping):
            level = "dict_kwargs" if part in (node.get("dict_kwargs") or {}) else "init_args"
            node = node[level]
            out.append(level)
        out.append(part)
        node = node.get(part) if isinstance(node, Mapping) else None
    return ".".join(out)


def _flow(value: Any) -> str:
    """``value`` as one line of YAML (``{fixed: true}``; a scalar without YAML's ``...``)."""
    if not isinstance(value, (Mapping, list)):
        return _flow([value])[1:-1]
    return dump_yaml(value, default_flow_style=True, width=10**6).strip()

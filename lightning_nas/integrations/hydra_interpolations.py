"""``warn_interpolated_params``: an interpolation of a searched key among the sweeper's
``params``, warned of before the first job.

Hydra builds the sweeper from ``hydra.sweeper`` with every interpolation resolved once,
against the sweep's config: ``m.head: ${m.hidden}`` (or ``choice(${m.hidden}, 2)``) among
the params is ``m.head: 4`` for every job, whatever ``m.hidden`` the job searched (was: no
word of it). Passing the text through to each job instead would make the sweep's records
(the stored architecture, ``optimization_results.yaml``, the summary's best) hold
``${m.hidden}``, not the value the job ran with; so the sweep warns, naming the param and
what to write instead: the interpolation in the config itself (``m.head: ${m.hidden}``), or
as a plain override on the command line (``'m.head=${m.hidden}'``), which Hydra resolves in
each job. An interpolation of a key that is not searched, or of the param's own key
(``lr: choice(${lr}, 0.1)``: the config's value beside others), resolved once means what it
says and is not warned of; nor is a resolver's (``${oc.env:DATA}``).

Example:
    >>> _searched_refs("choice(${m.hidden}, 2)", "m.head", ["m.hidden", "m.head"])
    ['m.hidden']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lightning_nas.integrations.hydra_grammar import format_value, path_of
from lightning_nas.user_warnings import warn_user
from lightning_nas.wording import joined

__all__ = ["warn_interpolated_params"]

#: a node interpolation, ``${m.hidden}`` (not a resolver's, ``${oc.env:X}``, nor a relative
#: one, ``${.x}``, nor an escaped one, ``\\${x}``)
_NODE = re.compile(r"(?<!\\)\$\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*\}")


def warn_interpolated_params(config: DictConfig, params: Mapping[str, Any] | None,
                             searched: Iterable[str], arguments: Sequence[str] = ()) -> None:
    """Warn of each ``hydra.sweeper.params`` key whose value, as written in ``config``,
    interpolates a key the sweep searches (see the module).

    Args:
        config: the sweep's config, its ``hydra.sweeper.params`` as written.
        params: the params as the sweeper got them (resolved), shown in the warning.
        searched: the sweep's space keys (the command line's sweeps too).
        arguments: the command line's overrides: a params key they replace is not warned of.
    """
    node = OmegaConf.select(config, "hydra.sweeper.params", default=None)
    if not isinstance(node, DictConfig):
        return
    written = OmegaConf.to_container(node, resolve=False)
    paths = [path_of(k) for k in searched]
    replaced = {path_of(line.split("=", 1)[0]) for line in arguments if "=" in line}
    for key, value in _leaves(written):
        if path_of(key) in replaced:
            continue
        refs = [r for text in _strings(value) for r in _searched_refs(text, key, paths)]
        if not refs:
            continue
        first = next(m.group(0) for text in _strings(value) for m in _NODE.finditer(text)
                     if m.group(1) in refs)
        got = dict(_leaves(params or {})).get(key, value)
        warn_user(f"hydra.sweeper.params.{key}: {_text(value)} interpolates the searched "
                  f"{joined(list(dict.fromkeys(refs)))}, but Hydra resolves the sweeper's params "
                  f"once, against the sweep's config ({_text(got)}), not against each job's: "
                  f"no job's {key} follows the {joined(list(dict.fromkeys(refs)))} it searched. "
                  f"Write the interpolation in the config itself ({path_of(key)}: {first}) or "
                  f"as a plain override on the command line ('{path_of(key)}={first}'), not "
                  f"among the params")


def _searched_refs(text: str, key: str, paths: Sequence[str]) -> list[str]:
    """The keys ``text`` interpolates that a searched key sets (the key itself, one inside
    it or one holding it), less ``key``'s own."""
    own = path_of(key)
    return [ref for ref in _NODE.findall(text) if ref != own and any(
        ref == p or ref.startswith(f"{p}.") or p.startswith(f"{ref}.") for p in paths)]


def _leaves(params: Mapping[Any, Any], where: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted key, value)`` of each value in ``params`` that is no mapping: a nested
    ``m: {head: ...}`` is ``m.head``, as the sweep searches it."""
    for key, value in params.items():
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, f"{where}{key}.")
        else:
            yield f"{where}{key}", value


def _strings(value: Any) -> Iterator[str]:
    """The strings in ``value``, at any depth of its lists."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _text(value: Any) -> str:
    """A param's value as written in the params: a string bare, others in the grammar."""
    return value if isinstance(value, str) else format_value(value)

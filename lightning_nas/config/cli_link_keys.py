"""The keys of a ``link_arguments`` call that a LightningCLI's config never has: a step past a
``class_path`` node without its ``init_args`` level (``data.batch_size`` where ``data`` is
one, ``model.init_args.net.width`` where the model's ``net`` is one). jsonargparse takes such
a link, then skips it at every parse (a source not in the namespace) or instantiation (a
target not found) without a word, so the project's CLI never applies it: ``cli_links``
refuses it, naming the key to write.

Example:
    >>> cfg = {"model": {"class_path": "m.Net", "init_args": {"net": {"class_path": "m.Body"}}}}
    >>> unreached(cfg, "model.init_args.net.width")
    'model.init_args.net'
    >>> unreached(cfg, "model.init_args.net.init_args.width") is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["NODE_KEYS", "skipped_said", "skipped_source", "unreached"]

#: the keys of a ``class_path`` node: a link's key steps into one by these only
NODE_KEYS = ("class_path", "init_args", "dict_kwargs")


def skipped_source(sources: tuple[str, ...]) -> str | None:
    """The first of a parse-time link's ``sources`` that a CLI in subclass mode has no key
    for: ``data.batch_size``, where the key is ``data.init_args.batch_size``. jsonargparse
    takes such a link, then skips it at every parse (its source is not in the namespace).

    Example:
        >>> skipped_source(("data.init_args.n", "data.batch_size"))
        'data.batch_size'
    """
    for source in sources:
        parts = source.split(".")
        if parts[0] in ("model", "data") and len(parts) > 1 and parts[1] not in NODE_KEYS:
            return source
    return None


def unreached(config: Mapping[str, Any], key: str) -> str | None:
    """The ``class_path`` node of ``config`` that a link's ``key`` (in ``model`` or
    ``data``) steps past without its ``init_args`` level, nested in the section (the
    section's own level is ``skipped_source``'s, and a CLI made for fixed classes writes
    ``model.width``), or None; None too where the config does not give the nodes the key
    goes through.

    Example:
        >>> unreached({"data": {"class_path": "m.Data", "init_args": {
        ...     "aug": {"class_path": "m.Flip"}}}}, "data.aug.p")  # fixed classes
        'data.aug'
    """
    parts = key.split(".")
    if parts[0] not in ("model", "data"):
        return None
    node = config.get(parts[0])
    if isinstance(node, Mapping) and "class_path" in node and len(parts) > 1 and (
            parts[1] not in NODE_KEYS):
        node = node.get("init_args")  # a CLI made for fixed classes: model.width
    for at, part in enumerate(parts[1:], 1):
        if not isinstance(node, Mapping):
            return None
        if "class_path" in node and part not in NODE_KEYS:
            return ".".join(parts[:at])
        node = node.get(part)
    return None


def skipped_said(named: str, link: Any, key: str, node: str, role: str = "source") -> str:
    """The refusal of ``link`` (a ``cli_links.Link``; its CLI as ``named``), whose ``key``
    (its ``role``: source or target) steps past the ``class_path`` node at ``node`` without
    its ``init_args`` level.

    Example:
        >>> said = skipped_said("`search.cli`=m.CLI", "link_arguments(...)",
        ...                     "model.init_args.net.width", "model.init_args.net")
        >>> said.endswith("write model.init_args.net.init_args.width")
        True
    """
    mode = "" if "." in node else " (subclass mode)"
    when = "instantiation" if getattr(link, "apply_on", "parse") == "instantiate" else "parse"
    return (f"{named}: {link}: its {role} {key} is no key of a LightningCLI whose {node} "
            f"is a class_path node{mode}, so jsonargparse skips the link at every {when} "
            f"without a word and your CLI never applies it; write "
            f"{node}.init_args.{key[len(node) + 1:]}")

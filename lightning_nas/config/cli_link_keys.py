"""The keys of a ``link_arguments`` call that a LightningCLI's config never has: a step past a
``class_path`` node without its ``init_args`` level (``data.batch_size`` where ``data`` is
one). jsonargparse takes such a link, then skips it at every parse (a source not in the
namespace) without a word, so the project's CLI never applies it: ``cli_links`` refuses it,
naming the key to write.

Example:
    >>> skipped_source(("data.init_args.n", "data.batch_size"))
    'data.batch_size'
"""

from __future__ import annotations

from typing import Any

__all__ = ["NODE_KEYS", "skipped_said", "skipped_source"]

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

"""A node of the Trainer's lists of objects (``callbacks``, ``logger``, ``plugins``) said
as the config wrote it: ``node_label`` names it by the name a config's mapping of named
nodes gave it (``trainer.callbacks.early_stopping``), within ``names_said`` (the names
``config.node_places.node_names`` keeps), else by its place in the list
(``trainer.callbacks[1]``). Nothing imported: the modules that build and check nodes
(``config/nodes.py``, ``config/instantiate.py``) say their places through it.

Example:
    >>> with names_said({"callbacks": ["ckpt", "stop"]}):
    ...     node_label("trainer.callbacks", 1)
    'trainer.callbacks.stop'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["names_said", "node_label"]


def node_label(source: str, index: int, names: Sequence[str] | None = None) -> str:
    """Where node ``index`` of the list at ``source`` (``trainer.callbacks``) is: by the
    name the config gave it (``names``, from ``node_names``; None: those ``names_said``
    gives for ``source``) where it has one, else by its place in the list.

    Example:
        >>> node_label("trainer.callbacks", 1, ["ckpt", "stop"])
        'trainer.callbacks.stop'
        >>> node_label("trainer.callbacks", 1)
        'trainer.callbacks[1]'
        >>> with names_said({"callbacks": ["ckpt", "stop"]}):
        ...     node_label("callbacks", 1)
        'callbacks[1]'
    """
    if names is None and source.startswith("trainer."):  # (a top-level `callbacks`, a
        # Hydra job config's group, or a model's argument: no Trainer's list, its place)
        names = (_SAID.get() or {}).get(source.removeprefix("trainer."))
    return f"{source}.{names[index]}" if names and index < len(names) else f"{source}[{index}]"


#: the names of the nodes of each Trainer list a config named, while ``names_said`` holds
_SAID: ContextVar[Mapping[str, Sequence[str]] | None] = ContextVar("node_names_said",
                                                                   default=None)


@contextmanager
def names_said(names: Mapping[str, Sequence[str]]) -> Iterator[None]:
    """Within the block, ``node_label`` says a node of ``trainer.callbacks`` (``logger``,
    ``plugins``) by the name ``names`` gives it (``node_names``: a config's), where its
    messages name no names of their own: the checks before training of a search, a
    one-shot run and a fit, whose lists are the config's.

    Example:
        >>> with names_said({"callbacks": ["ckpt", "stop"]}):
        ...     node_label("trainer.callbacks", 0)
        'trainer.callbacks.ckpt'
    """
    token = _SAID.set(dict(names))
    try:
        yield
    finally:
        _SAID.reset(token)

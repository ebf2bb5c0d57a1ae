"""How a count reads in the commands' output and messages: ``1 epoch``, ``2 epochs``; how
a trial status a newer version wrote is said (``unknown_status``).

Plain text, no imports of the training stack: the read-only commands use it too.

Example:
    >>> counted(1, "trial"), counted(0, "trial"), counted(3, "batch", "batches")
    ('1 trial', '0 trials', '3 batches')
    >>> named(["lr"], "key"), named(["lr", "width"], "key")
    ("key 'lr'", "keys 'lr', 'width'")
    >>> id_ranges([1, 3, 4, 5, 7])
    '1, 3-5, 7'
    >>> joined(["a", "b", "c"])
    'a, b and c'
    >>> unknown_status()
    "a status this version of lightning-nas does not know (a newer one's)"
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["counted", "id_ranges", "joined", "named", "unknown_status"]


def counted(n: int | float, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, singular for exactly one, else ``plural`` (default: ``noun`` with
    an ``s``).

    Example:
        >>> counted(1, "epoch"), counted(15, "epoch"), counted(1, "job")
        ('1 epoch', '15 epochs', '1 job')
    """
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def named(names: Sequence[object], noun: str, plural: str | None = None) -> str:
    """``noun`` (``plural`` for several, default: ``noun`` with an ``s``) and ``names``,
    each quoted: ``unknown key 'lr'``, ``unknown keys 'lr', 'width'``.

    Example:
        >>> named(["init_arg"], "key"), named(["a", "b"], "option")
        ("key 'init_arg'", "options 'a', 'b'")
    """
    said = ", ".join(repr(name) for name in names)
    return f"{noun if len(names) == 1 else plural or noun + 's'} {said}"


def id_ranges(ids: Sequence[int]) -> str:
    """Trial ids, sorted, as ranges (``export --trial`` lists the COMPLETED ones so).

    Example:
        >>> id_ranges([7, 1, 3, 4, 5]), id_ranges([])
        ('1, 3-5, 7', '')
    """
    out: list[str] = []
    for i in sorted(ids):
        if out and out[-1].split("-")[-1] == str(i - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{i}"
        else:
            out.append(str(i))
    return ", ".join(out)


def joined(items: Sequence[object]) -> str:
    """``items`` as a sentence lists them: commas, ``and`` before the last.

    Example:
        >>> joined(["x.yaml"]), joined(["x.yaml", "y.pt"]), joined([])
        ('x.yaml', 'x.yaml and y.pt', '')
    """
    words = [str(item) for item in items]
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def unknown_status(statuses: int = 1, version: str | None = None) -> str:
    """What a trial status this version does not know is, in every message that says one
    (a store a newer version wrote): ``a status this version of lightning-nas does not
    know (a newer one's)``; ``statuses`` for several, ``version`` named where given.

    Example:
        >>> unknown_status(2, version="0.1.0")
        "statuses this version of lightning-nas (0.1.0) does not know (a newer one's)"
    """
    which = "a status" if statuses == 1 else "statuses"
    this = f" ({version})" if version else ""
    return f"{which} this version of lightning-nas{this} does not know (a newer one's)"

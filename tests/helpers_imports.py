"""What a ``python -X importtime`` process imported: the module names of its stderr lines,
and those of the training stack among them (torch, Lightning, nevergrad), for the tests
that check a command or script answers without importing it.

Example:
    >>> imported_modules("import time:        12 |         12 |   torch.nn\\n")
    ['torch.nn']
    >>> heavy(["lightning_nas.cli", "torch.nn", "yaml"])
    ['torch.nn']
"""

from __future__ import annotations

__all__ = ["HEAVY", "heavy", "imported_modules"]

#: the training stack's top-level names (a module starting with one counts)
HEAVY = ("torch", "lightning", "nevergrad")


def imported_modules(stderr: str) -> list[str]:
    """Module names of ``python -X importtime`` lines (``import time: a | b | name``)."""
    names = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":  # the header line
                names.append(name)
    return names


def heavy(names: list[str]) -> list[str]:
    """The names that are (or start with) torch, lightning or nevergrad: ``torchmetrics``
    and ``lightning_fabric`` count, this package (``lightning_nas``) does not."""
    return [n for n in names if n.split(".")[0] != "lightning_nas"
            and any(n.startswith(h) for h in HEAVY)]

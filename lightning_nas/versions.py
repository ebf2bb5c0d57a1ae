"""Versions of the packages a run depends on, stored with every run.

Example:
    >>> "torch" in package_versions()
    True
"""

from __future__ import annotations

import platform
from importlib import metadata

__all__ = ["package_versions"]

_PACKAGES = ("lightning-nas", "lightning", "torch", "torchmetrics", "nevergrad", "pyyaml")


def package_versions() -> dict[str, str | None]:
    """``{distribution: version}`` for lightning_nas and its dependencies, plus Python."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out

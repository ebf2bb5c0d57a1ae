"""The search space of the executor tests' trials in worker processes (``TinyNet``'s width
and learning rate).

Example:
    >>> sorted(SPACE)
    ['lr', 'width']
"""

from __future__ import annotations

__all__ = ["SPACE"]

SPACE = {"width": {"choice": [8, 16, 32]}, "lr": {"float": [0.05, 0.3]}}

"""What the tests of constraints and of the Pareto front share (``tests/test_objectives_*.py``):
the space of their searches of ``tests.helpers_models.TinyNet`` that train.

Example:
    >>> sorted(SPACE)
    ['depth', 'lr', 'width']
"""

from __future__ import annotations

__all__ = ["SPACE"]


SPACE = {"width": {"choice": [4, 8, 16, 32]}, "depth": {"choice": [1, 2]},
         "lr": {"float": [0.05, 0.3]}}

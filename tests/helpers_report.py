"""What the tests of seeing a search share (``tests/test_report_*.py``): the space of their
searches of ``tests.helpers_models.TinyNet`` that train, and an objective of losses far
below what four decimals show.

Example:
    >>> tiny_losses({"k": 1})
    {'val_loss': 6.4e-05}
"""

from __future__ import annotations

__all__ = ["SPACE", "tiny_losses"]


SPACE = {"width": {"choice": [4, 8, 16]}, "activation": {"choice": ["relu", "tanh"]},
         "lr": {"float": [0.02, 0.3], "log": True}}


def tiny_losses(arch: dict) -> dict:
    """Losses far below 0.0001, apart from one another."""
    return {"val_loss": 3.2e-05 * (arch["k"] + 1)}

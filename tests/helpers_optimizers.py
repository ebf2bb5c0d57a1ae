"""A nevergrad optimizer that fails on purpose, registered by name when this module is
imported (a search or a Hydra sweep names it as ``optimizer``).

Example:
    >>> "TellFailsOnBigLosses" in ng.optimizers.registry
    True
"""

from __future__ import annotations

import nevergrad as ng

__all__ = ["TellFailsOnBigLosses"]


class TellFailsOnBigLosses(ng.optimizers.base.Optimizer):
    """Proposes at random; its ``tell`` raises when told a loss of 3 or more."""

    def _internal_ask_candidate(self) -> ng.p.Parameter:
        return self.parametrization.sample()

    def _internal_tell_candidate(self, candidate: ng.p.Parameter, loss: float) -> None:
        if loss >= 3:
            raise ValueError(f"cannot take loss {loss}")


ng.optimizers.registry.setdefault("TellFailsOnBigLosses", TellFailsOnBigLosses)

"""Search strategies: any optimizer of nevergrad's registry by name, plus the NAS strategies
this package registers into it (``RegularizedEvolution``, ``Reinforce``, ``LocalSearch``,
``SurrogateEvolution``).

Example:
    >>> "SurrogateEvolution" in available_optimizers()
    True
"""

from lightning_nas.strategies.registry import (
    DEFAULT_OPTIMIZER,
    NAS_OPTIMIZERS,
    available_optimizers,
    check_optimizer_name,
    check_optimizer_runs,
    make_optimizer,
)

__all__ = ["DEFAULT_OPTIMIZER", "NAS_OPTIMIZERS", "available_optimizers", "check_optimizer_name",
           "check_optimizer_runs", "make_optimizer"]

"""``LightningNASSweeper``, the class Hydra instantiates for ``hydra/sweeper:
lightning_nas``: it forwards ``setup`` and ``sweep`` to
``lightning_nas.integrations.hydra_sweeper.HydraSweep``, imported on first use so that
scanning plugins stays cheap; a lightning_nas error of either (a refused setting, a stopped
sweep) is raised as Hydra prints its own, one message without a traceback
(``hydra_errors.compact_errors``)."""

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

__all__ = ["LightningNASSweeper"]


class LightningNASSweeper(Sweeper):
    """Neural architecture search over a Hydra application's jobs (the settings:
    ``lightning_nas.integrations.hydra_config.LightningNASSweeperConf``)."""

    def __init__(self, **settings: Any) -> None:
        from lightning_nas.integrations.hydra_errors import compact_errors
        from lightning_nas.integrations.hydra_sweeper import HydraSweep

        self.compact = compact_errors  # (Hydra prints one of __init__ compact itself)
        self.sweeper = HydraSweep(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        with self.compact():
            self.sweeper.setup(hydra_context=hydra_context, task_function=task_function,
                               config=config)

    def sweep(self, arguments: list[str]) -> Any:
        with self.compact():
            return self.sweeper.sweep(arguments)

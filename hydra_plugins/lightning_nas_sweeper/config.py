"""Stores the sweeper's settings in Hydra's ``ConfigStore`` as ``hydra/sweeper:
lightning_nas`` (light: Hydra imports this module whenever an application starts): typed
but open, so that the sweeper names an unknown key with the valid ones."""

from hydra.core.config_store import ConfigStore

from lightning_nas.integrations.hydra_config import (
    SWEEPER_NAME,
    LightningNASSweeperConf,
    sweeper_node,
)

__all__ = ["LightningNASSweeperConf"]

ConfigStore.instance().store(group="hydra/sweeper", name=SWEEPER_NAME,
                             node=sweeper_node(), provider="lightning_nas")

"""Stores the sweeper's settings in Hydra's ``ConfigStore`` as ``hydra/sweeper:
lightning_nas`` (light: Hydra imports this module whenever an application starts)."""

from hydra.core.config_store import ConfigStore

from lightning_nas.integrations.hydra_config import SWEEPER_NAME, LightningNASSweeperConf

__all__ = ["LightningNASSweeperConf"]

ConfigStore.instance().store(group="hydra/sweeper", name=SWEEPER_NAME,
                             node=LightningNASSweeperConf, provider="lightning_nas")

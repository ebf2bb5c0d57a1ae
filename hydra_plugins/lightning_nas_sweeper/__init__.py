"""The Hydra sweeper ``hydra/sweeper: lightning_nas``: Hydra finds it by scanning the
``hydra_plugins`` namespace package. Everything here is a thin shell over
``lightning_nas.integrations``."""

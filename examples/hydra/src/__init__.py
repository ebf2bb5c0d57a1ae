"""A Lightning + Hydra project in the shape of the lightning-hydra-template, searched by the
``hydra/sweeper: lightning_nas`` sweeper (``python examples/hydra/src/train.py -m
hparams_search=nas``)."""

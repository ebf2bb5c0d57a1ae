"""``python -m lightning_nas`` runs the ``lightning-nas`` command."""

import sys

from lightning_nas.cli import console

sys.exit(console())

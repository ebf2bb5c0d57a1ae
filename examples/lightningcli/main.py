"""The project's own training script: plain LightningCLI.

    python -m examples.lightningcli.main fit --config examples/lightningcli/train.yaml
"""

from lightning.pytorch.cli import LightningCLI


def main() -> None:
    """Train with LightningCLI (model and data by ``class_path`` in the config)."""
    LightningCLI(save_config_callback=None)


if __name__ == "__main__":
    main()

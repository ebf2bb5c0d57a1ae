"""An existing LightningCLI project (MLP on digits) searched by lightning-nas as is."""

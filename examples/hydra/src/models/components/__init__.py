"""Plain ``torch.nn`` networks the LightningModules take as ``net``."""

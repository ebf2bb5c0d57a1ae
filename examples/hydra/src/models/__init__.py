"""LightningModules and their networks (``components``)."""

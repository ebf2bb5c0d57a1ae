"""Configs: YAML (``yamlio``), loading, merging and ``--a.b=value`` overrides (``load``),
dotted paths into LightningCLI-shaped configs (``paths``), ``class_path`` instantiation
(``instantiate``) and the model/data/Trainer factories of trials (``factories``).

Import from the modules: this package imports nothing itself, so reading a YAML space does
not import Lightning.
"""

__all__: list[str] = []

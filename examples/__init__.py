"""Bundled examples for lightning_nas."""

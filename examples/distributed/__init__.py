"""Configs that run the digits search on several devices (merged over its config)."""

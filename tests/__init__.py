"""Tests of lightning_nas (real Trainers, nevergrad and SQLite; tiny models and data)."""

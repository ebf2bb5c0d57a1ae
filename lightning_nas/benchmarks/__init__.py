"""Tabular benchmarks to run search strategies on without training (``nb201``:
NAS-Bench-201, from an offline CSV table)."""

__all__: list[str] = []

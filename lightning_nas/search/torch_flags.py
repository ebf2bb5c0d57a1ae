"""``torch_flags_kept``: the process-wide flags a Lightning ``Trainer``'s constructor sets
(``deterministic=`` and ``benchmark=``) as they were before, once a trial, a fit, a
fine-tune or a dry build made in this process is done.

Example:
    >>> before = torch.are_deterministic_algorithms_enabled()
    >>> with torch_flags_kept():
    ...     torch.use_deterministic_algorithms(not before)
    >>> torch.are_deterministic_algorithms_enabled() == before
    True
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["torch_flags_kept"]


@contextmanager
def torch_flags_kept() -> Iterator[None]:
    """Run the body, then set back what a Trainer's constructor may have changed: torch's
    deterministic algorithms (and their ``warn_only``), cuDNN's ``benchmark`` and the
    ``CUBLAS_WORKSPACE_CONFIG`` variable (removed if it was unset), so that a search run in
    a notebook's process leaves them as its trials in worker processes do, and a trial's
    ``deterministic: true`` does not carry into the next trial of a searched
    ``trainer.deterministic``."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    benchmark = torch.backends.cudnn.benchmark
    cublas = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.backends.cudnn.benchmark = benchmark
        if cublas is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        else:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = cublas

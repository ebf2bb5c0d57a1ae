"""``torch_flags_kept``: the process-wide flags a Lightning ``Trainer``'s constructor sets
(``deterministic=`` and ``benchmark=``) as they were before, once a trial, a fit, a
fine-tune or a dry build made in this process is done (once the last of those
overlapping in threads is).

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

from lightning_nas.search.shared_state import held_by_first

__all__ = ["torch_flags_kept"]


@contextmanager
def torch_flags_kept() -> Iterator[None]:
    """Run the body, then set back what a Trainer's constructor may have changed: torch's
    deterministic algorithms (and their ``warn_only``), cuDNN's ``benchmark`` and the
    ``CUBLAS_WORKSPACE_CONFIG`` variable (removed if it was unset), so that a search run in
    a notebook's process leaves them as its trials in worker processes do, and a trial's
    ``deterministic: true`` does not carry into the next trial of a searched
    ``trainer.deterministic``. Trials that overlap in threads (``held_by_first``): the last
    to end puts back what the first found (was: each what it found, so the first to end
    turned the others' ``deterministic: true`` off while they trained, and the last left
    another trial's flags on)."""
    with held_by_first("torch flags", _flags, _put_back):
        yield


def _flags() -> tuple[bool, bool, bool, str | None]:
    """What ``torch_flags_kept`` puts back."""
    return (torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.benchmark, os.environ.get("CUBLAS_WORKSPACE_CONFIG"))


def _put_back(flags: tuple[bool, bool, bool, str | None]) -> None:
    deterministic, warn_only, benchmark, cublas = flags
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.backends.cudnn.benchmark = benchmark
    if cublas is None:
        os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    else:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = cublas

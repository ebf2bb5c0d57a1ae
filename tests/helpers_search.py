"""A quiet search of ``TinyNet`` on ``BlobData`` (or the ``model=`` and ``data=`` given), the
one the ``test_search*`` files build their searches with.

Example:
    >>> import tempfile
    >>> search = tiny_search(Path(tempfile.mkdtemp()), {"width": {"choice": [4, 8]}},
    ...                      {"max_epochs": 1, "accelerator": "cpu"})
    >>> search.trainer
    {'max_epochs': 1, 'accelerator': 'cpu'}
"""

from __future__ import annotations

from pathlib import Path

from lightning_nas import Search
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

__all__ = ["tiny_search"]


def tiny_search(run_dir: Path, space: dict, trainer: dict, **kw) -> Search:
    """``Search(model, space, trainer=trainer, run_dir=run_dir, **kw)``, ``model`` and
    ``data`` ``TinyNet`` and ``BlobData`` unless ``kw`` gives them, not verbose unless it
    says so."""
    kw.setdefault("data", BlobData)
    kw.setdefault("verbose", False)
    return Search(kw.pop("model", TinyNet), space, trainer=trainer, run_dir=run_dir, **kw)

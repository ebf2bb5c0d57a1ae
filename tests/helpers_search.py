"""A quiet search of ``TinyNet`` on ``BlobData`` (or the ``model=`` and ``data=`` given), the
one the ``test_search*`` files build their searches with, and the spec of one trial of it
(``fit_trial``'s input, which the ``test_trial*`` files fit).

``slot_scripts`` gives ``ScriptedSlotNet`` its curves in the order a search proposes them.

Example:
    >>> import tempfile
    >>> search = tiny_search(Path(tempfile.mkdtemp()), {"width": {"choice": [4, 8]}},
    ...                      {"max_epochs": 1, "accelerator": "cpu"})
    >>> search.trainer
    {'max_epochs': 1, 'accelerator': 'cpu'}
    >>> tiny_spec(Path("/tmp/run"), {"width": 8}).trial_dir
    '/tmp/run/t1'
"""

from __future__ import annotations

from pathlib import Path

from lightning_nas import Search
from lightning_nas.search.trial import TrialSpec
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

__all__ = ["slot_scripts", "tiny_search", "tiny_spec"]


def tiny_search(run_dir: Path, space: dict, trainer: dict, **kw) -> Search:
    """``Search(model, space, trainer=trainer, run_dir=run_dir, **kw)``, ``model`` and
    ``data`` ``TinyNet`` and ``BlobData`` unless ``kw`` gives them, not verbose unless it
    says so."""
    kw.setdefault("data", BlobData)
    kw.setdefault("verbose", False)
    return Search(kw.pop("model", TinyNet), space, trainer=trainer, run_dir=run_dir, **kw)


def slot_scripts(run_dir: Path, curves: list[list[float]], **kw) -> dict[str, list[float]]:
    """``ScriptedSlotNet``'s ``script`` for a search of ``{"slot": {"choice": [0, 1, ...]}}``
    (one slot per curve) with the optimizer settings ``kw`` (``optimizer``, ``seed``): its
    trial ``i`` logs ``curves[i - 1]``. The order of the proposals is learnt from a search
    of that space with an objective function in ``run_dir`` (the same asks, nothing
    trained).

    Example:
        >>> import tempfile
        >>> script = slot_scripts(Path(tempfile.mkdtemp()), [[0.1], [0.2]],
        ...                       optimizer="RandomSearch", seed=0)
        >>> sorted(script.values())
        [[0.1], [0.2]]
    """
    space = {"slot": {"choice": list(range(len(curves)))}}
    order = Search(None, space, objective=lambda arch: {"val_acc": 0.0}, budget=len(curves),
                   run_dir=run_dir, verbose=False, **kw).run()
    slots = [t.arch["slot"] for t in sorted(order.trials, key=lambda t: t.trial_id)]
    return {str(slot): curve for slot, curve in zip(slots, curves, strict=True)}


def tiny_spec(tmp_path: Path, arch: dict, **kw) -> TrialSpec:
    """The ``TrialSpec`` of trial 1 of ``arch`` in ``tmp_path/t1``: ``TinyNet`` on ``BlobData``
    for 3 epochs on one CPU unless ``kw`` gives its ``model`` or ``trainer``."""
    kw.setdefault("trainer", {"max_epochs": 3, "accelerator": "cpu", "devices": 1})
    kw.setdefault("model", TinyNet)
    return TrialSpec(trial_id=1, arch=arch, trial_dir=str(tmp_path / "t1"), data=BlobData, **kw)

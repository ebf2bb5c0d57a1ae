"""What an export's ``best.ckpt`` says of itself: the trial and epoch whose weights it holds
(``EXPORT_KEY``, set by ``save_for_users``'s ``extra``), and whether those are the ones its
``best.yaml`` names (``mismatch``). A reader of the pair (a fine-tune, an export that keeps
the file) checks it: a ``best.ckpt`` copied by hand beside a newer ``best.yaml``, or a pair
a search's export replaced between the reader's two reads, would otherwise build one
trial's architecture with another trial's weights, silently where their shapes agree. An
export's ``best.ckpt`` of an older version holds no key: nothing to check.

Example:
    >>> checkpoint = {"state_dict": {}, **stamp(2, 1)}
    >>> held_of(checkpoint)
    {'trial': 2, 'epoch': 1}
    >>> mismatch({"trial": 3, "epoch": 1}, held_of(checkpoint), "runs/a/best.ckpt")
    "best.yaml names trial 3 (epoch 1) but runs/a/best.ckpt holds trial 2's weights (epoch 1)"
    >>> mismatch({"trial": 2, "epoch": 1}, held_of({"state_dict": {}}), "runs/a/best.ckpt")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lightning_nas.errors import ConfigError

__all__ = ["EXPORT_KEY", "MixedPairError", "check_loaded", "held_of", "mismatch", "read_held",
           "stamp"]

#: the key an exported ``best.ckpt`` says under which trial (and epoch) it holds
EXPORT_KEY = "lightning_nas_export"


class MixedPairError(ConfigError):
    """A checkpoint holds another trial's (or epoch's) weights than ``best.yaml`` names."""


def stamp(trial: int, epoch: int | None) -> dict[str, Any]:
    """The keys that say a checkpoint holds trial ``trial``'s weights of epoch ``epoch``
    (plain numbers: ``torch.load(weights_only=True)`` still reads it)."""
    return {EXPORT_KEY: {"trial": trial, "epoch": epoch}}


def held_of(checkpoint: Any) -> dict[str, Any] | None:
    """The trial and epoch a loaded checkpoint says it holds (``{"trial": ..., "epoch":
    ...}``), None where it says none (not an export's, or an older version's export)."""
    held = checkpoint.get(EXPORT_KEY) if isinstance(checkpoint, Mapping) else None
    return dict(held) if isinstance(held, Mapping) and "trial" in held else None


def read_held(path: str | os.PathLike) -> dict[str, Any] | None:
    """``held_of`` the checkpoint at ``path``: its tensors mapped, not read, where
    ``weights_only`` loads it (else read whole: hyperparameters such as a ``Path`` need the
    full unpickler); None for a file torch cannot read (it proves nothing)."""
    import torch

    for options in ({"weights_only": True, "mmap": True}, {"weights_only": False}):
        try:  # the run's own file
            return held_of(torch.load(path, map_location="cpu", **options))
        except Exception:  # noqa: BLE001, S112 - unreadable so: the next way, or nothing
            continue
    return None


def mismatch(best: Mapping[str, Any], held: Mapping[str, Any] | None,
             path: str | os.PathLike) -> str | None:
    """What is wrong where the checkpoint at ``path``, which says it holds ``held``
    (``held_of``), is not the trial and epoch ``best`` (``best.yaml``) names; None where
    it is, or says nothing."""
    if held is None or (held.get("trial"), held.get("epoch")) == (best.get("trial"),
                                                                   best.get("epoch")):
        return None
    return (f"best.yaml names trial {best.get('trial')} (epoch {best.get('epoch')}) but "
            f"{path} holds trial {held.get('trial')}'s weights (epoch {held.get('epoch')})")


def check_loaded(checkpoint: Any, expected: Mapping[str, Any] | None,
                 path: str | os.PathLike) -> None:
    """Refuse the checkpoint loaded from ``path`` where it says it holds another trial or
    epoch than ``expected`` (a fine-tune's ``TrialSpec.init_weights_of``: what ``best.yaml``
    named when the fine-tune checked the pair; the file replaced since by a search's
    export).

    Raises:
        MixedPairError: naming both, before the weights are loaded into the model.
    """
    wrong = None if expected is None else mismatch(expected, held_of(checkpoint), path)
    if wrong is not None:
        raise MixedPairError(f"{wrong}: replaced since the fine-tune read best.yaml (a "
                             f"search's export), so its weights are not the trial's; "
                             f"fine-tune again once the search ended")

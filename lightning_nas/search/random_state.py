"""The process's random state, kept in a trial's checkpoints so that a promoted (or re-run)
segment draws what an uninterrupted fit would have drawn.

Lightning's checkpoints keep weights, optimizers and loops, not the random generators: a
segment that starts from ``ckpt_path`` after ``seed_everything`` would draw the first
epochs' shuffles, dropout masks and NumPy / ``random`` values once more. ``capture`` is what
``TrialReporter`` saves with each checkpoint; ``restore`` sets it back when the checkpoint is
loaded (after the module's ``setup``, which draws what it drew the first time; before the
training data's iterator is made). The states are plain lists of numbers (what ``json``
writes), so a checkpoint still loads with ``torch.load(weights_only=True)``.

``kept_if`` sets the caller's random state back after a seeded trial (or fit) that ran in
its process (after the last of those overlapping in threads).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from lightning_nas.search.shared_state import held_by_first

__all__ = ["EXPORTED_KEY", "capture", "in_checkpoint", "kept_if", "restore"]

#: the key an exported ``best.ckpt`` (which holds no callback state of lightning_nas's own)
#: says under that its trial's checkpoint held a random state
EXPORTED_KEY = "lightning_nas_random_state"


def capture() -> dict[str, Any]:
    """The random state of torch (and of the current CUDA device, when CUDA is in use), NumPy
    and ``random``, as plain lists.

    Example:
        >>> state = capture()
        >>> a = torch.rand(1)
        >>> restore(state)
        >>> torch.equal(a, torch.rand(1))
        True
    """
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state().tolist(),
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(gauss)],
        "random": [version, list(internal), gauss_next],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # this process's device's
        state["cuda"] = torch.cuda.get_rng_state().tolist()  # (a DDP rank's own)
    return state


def restore(state: dict[str, Any]) -> None:
    """Set the generators ``capture`` read back to ``state`` (missing parts are left alone;
    CUDA's into the current device: under DDP each rank's, from rank 0's checkpoint, as the
    CPU's)."""
    if "torch" in state:
        torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if "numpy" in state:
        kind, keys, pos, has_gauss, gauss = state["numpy"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    if "random" in state:
        version, internal, gauss_next = state["random"]
        random.setstate((version, tuple(internal), gauss_next))
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available():  # into this process's current device
        torch.cuda.set_rng_state(torch.tensor(cuda, dtype=torch.uint8))


@contextmanager
def kept_if(seeded: bool) -> Iterator[None]:
    """Run the body (a trial that seeds the process, ``seed_everything``, when ``seeded``)
    and then, when ``seeded``, set the random state back to what it was before: the
    caller's streams (a notebook's) go on where they were, as when the trial ran in a worker
    process. An unseeded trial draws from the caller's streams, and leaves them advanced.
    Seeded trials that overlap in threads (``held_by_first``): the last to end puts back
    what the first found (was: each what it found, so the first to end set the caller's
    streams back under the others, and the last left another trial's).

    Example:
        >>> _ = torch.manual_seed(1)
        >>> with kept_if(True):
        ...     _ = torch.manual_seed(2), torch.rand(3)
        >>> after = torch.rand(1)
        >>> _ = torch.manual_seed(1)
        >>> torch.equal(after, torch.rand(1))
        True
    """
    if not seeded:
        yield
        return
    with held_by_first("random state", capture, restore):  # trials overlapping in threads:
        yield  # the last to end puts back what the first found


def in_checkpoint(path: str | os.PathLike | None) -> bool:
    """Whether the checkpoint at ``path`` holds a random state ``capture`` read (what a
    trial's checkpoints hold since this module exists; not an older version's, nor a
    missing file), or is an export's ``best.ckpt`` of such a checkpoint (``EXPORTED_KEY``).
    Its tensors are mapped, not read, where ``weights_only`` loads it (else it is read
    whole: hyperparameters such as a ``Path`` need the full unpickler).

    Example:
        >>> in_checkpoint(None)
        False
    """
    if path is None or not os.path.isfile(path):
        return False
    checkpoint = None
    for options in ({"weights_only": True, "mmap": True}, {"weights_only": False}):
        try:  # the run's own file; hyperparameters (a Path, an Enum) need the full unpickler
            checkpoint = torch.load(path, map_location="cpu", **options)
            break
        except Exception:  # noqa: BLE001, S112 - unreadable: it proves nothing
            continue
    if isinstance(checkpoint, dict) and checkpoint.get(EXPORTED_KEY) is True:
        return True  # an exported best.ckpt: its trial's checkpoint held one
    states = checkpoint.get("callbacks") if isinstance(checkpoint, dict) else None
    return isinstance(states, dict) and any(isinstance(state, dict) and "random" in state
                                            for state in states.values())

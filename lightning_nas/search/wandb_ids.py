"""The ids of the W&B runs a search's logger nodes start: a W&B logger node is one of a
class taking ``version`` and ``id`` (``of_w_and_b``: its version is the id of a run in its
project, which every search logging there shares), its id one W&B takes (``run_id``), and
the end of a trial's ids that tells an attempt trained again from its first epoch apart
from the dead one, and a fit or fine-tune started from scratch from an earlier one in its
folder (``W_AND_B_ATTEMPT`` in its folder: ``new_attempt`` writes it, ``attempt_of`` reads
it), so that attempt's run is its own.

Example:
    >>> run_id("a:b#c-3f9a0c", "trial_0001")
    'a-b-c-3f9a0c_trial_0001'
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

from lightning_nas.config.instantiate import accepted_kwargs, import_object
from lightning_nas.config.nodes import is_node, node_args, target_path, with_args

__all__ = ["W_AND_B_ATTEMPT", "attempt_of", "dir_kept", "kept_dirs", "new_attempt",
           "of_remote_run", "of_w_and_b", "run_id"]

#: the file in a trial's folder holding the end of its W&B run ids (``_again_<ns>``), which
#: ``new_attempt`` writes as the trial trains again from its first epoch (a fit's or
#: fine-tune's, ``_<ns>``: as it starts from scratch)
W_AND_B_ATTEMPT = "wandb_attempt.txt"

#: the longest run id (and name) W&B takes
_RUN_ID_LIMIT = 128


def of_w_and_b(node: Any) -> bool:
    """Whether config ``node`` builds a W&B logger: a class taking ``version`` and ``id``
    (its version is a run's id in its project).

    Example:
        >>> of_w_and_b({"class_path": "lightning.pytorch.loggers.CSVLogger"})
        False
    """
    accepted, _ = accepted_kwargs(import_object(target_path(node)).__init__)
    return {"version", "id"} <= set(accepted)


def dir_kept(args: dict[str, Any]) -> dict[str, Any]:
    """The ``init_args`` of a W&B logger node, ``args``, with ``save_dir`` None where they set
    a ``dir`` and no ``save_dir``: Lightning's ``WandbLogger`` takes a ``save_dir``, its
    default ``.`` too, over a ``dir``, so W&B wrote into the working folder.

    Example:
        >>> dir_kept({"dir": "wb"})
        {'dir': 'wb', 'save_dir': None}
    """
    if args.get("dir") is not None and args.get("save_dir") is None:
        return {**args, "save_dir": None}
    return args


def kept_dirs(logger: Any) -> Any:
    """``logger`` (a Trainer's ``logger`` setting) with the ``dir`` of each W&B logger node
    kept (``dir_kept``); anything else as given.

    Example:
        >>> kept_dirs({"class_path": "lightning.pytorch.loggers.CSVLogger"})
        {'class_path': 'lightning.pytorch.loggers.CSVLogger'}
    """
    if isinstance(logger, list):
        return [kept_dirs(item) for item in logger]
    if not (is_node(logger) and of_w_and_b(logger)):
        return logger
    return with_args(logger, dir_kept(node_args(logger)))


def of_remote_run(node: Any) -> bool:
    """Whether config ``node`` builds a logger of a remote run that a resume cannot empty, as
    a CSV logger's folder is emptied: a W&B logger (``of_w_and_b``) or an MLflow one (a class
    taking ``run_name`` and ``run_id``, no ``version``: MLflow draws a run's id itself).

    Example:
        >>> of_remote_run({"class_path": "lightning.pytorch.loggers.MLFlowLogger"})
        True
        >>> of_remote_run({"class_path": "lightning.pytorch.loggers.CSVLogger"})
        False
    """
    accepted, _ = accepted_kwargs(import_object(target_path(node)).__init__)
    return {"version", "id"} <= set(accepted) or (
        {"run_name", "run_id"} <= set(accepted) and "version" not in accepted)


def run_id(front: str, version: str) -> str:
    """A W&B run id of ``front`` (the run's label, an id of the user's) and ``version`` (the
    trial's, ``trial_0001``) that W&B takes: each character but letters, digits, ``_``,
    ``.`` and ``-`` made ``-`` (W&B refuses ``:;,#?/'`` in a run id, ``\\`` and ``%`` in a
    project's name), and a ``front`` that would make it longer
    than W&B's 128 characters cut, 8 hex digits of its SHA-1 after it; the same for the same
    parts, so a resumed trial goes on in its run (was: ``a:b#c-3f9a0c_trial_0001``, which
    ``wandb.init`` refused at the trial's first log, failing every trial).

    Example:
        >>> run_id("a:b#c-3f9a0c", "trial_0001")
        'a-b-c-3f9a0c_trial_0001'
    """
    whole = re.sub(r"[^A-Za-z0-9_.-]", "-", f"{front}_{version}" if front else version)
    if len(whole) <= _RUN_ID_LIMIT:
        return whole
    digest = hashlib.sha1(front.encode(), usedforsecurity=False).hexdigest()[:8]
    keep = _RUN_ID_LIMIT - len(whole) + len(front) - len(digest) - 1
    return f"{whole[:max(keep, 0)]}-{digest}{whole[len(front):]}"[-_RUN_ID_LIMIT:]


def attempt_of(folder: str | Path) -> str:
    """The end of the W&B run ids of the trial in ``folder`` (``W_AND_B_ATTEMPT``), or ``""``
    (its first attempt, or no W&B logger node).

    Example:
        >>> attempt_of("no/such/folder")
        ''
    """
    held = Path(folder, W_AND_B_ATTEMPT)
    return held.read_text() if held.is_file() else ""


def new_attempt(folder: str | Path, logger: Any, prefix: str = "_again_") -> bool:
    """Give the trial in ``folder`` W&B and MLflow runs of its own (``W_AND_B_ATTEMPT``:
    ``prefix`` and the time in ns, its folder made, after a W&B run's id and an MLflow run's
    name) when ``logger`` (its Trainer's ``logger`` setting) holds a W&B or MLflow logger
    node (``of_remote_run``; was: W&B's alone, an MLflow attempt's run named as the dead
    one's).

    Returns:
        Whether it did.

    Example:
        >>> new_attempt("no/such/folder", {"class_path": "lightning.pytorch.loggers.CSVLogger"})
        False
    """
    items = logger if isinstance(logger, (list, tuple)) else [logger]
    if not any(is_node(item) and of_remote_run(item) for item in items):
        return False
    Path(folder).mkdir(parents=True, exist_ok=True)
    Path(folder, W_AND_B_ATTEMPT).write_text(f"{prefix}{time.time_ns()}")
    return True

"""The exported subnet of a one-shot search (SPOS, DARTS, GDAS): plain ``torch.nn`` in
float32, whatever the Trainer's precision, checked against the module's ``forward``.

``export_subnet`` rebuilds the choice modules' layers in float32 and copies the rest of the
network (``LayerChoice`` candidates, plain modules) as trained: under ``bf16-true`` or
``64-true`` the copy mixed bfloat16 / float64 with float32 and failed on any input ("mat1
and mat2 must have the same dtype"); ``export_checked`` casts it all to float32, as
``subnet.pt`` and ``subnet_finetuned.pt`` are written (both in eval mode, ready for
inference). ``forward_once`` runs the winner
through the module's ``forward`` before the export (layers that follow their input width
learn it) and ``check_network_alone`` warns when the network alone computes something else
(the module's ``forward`` normalizes or reshapes the input).

Example:
    >>> from torch import nn
    >>> from lightning_nas.oneshot.choices import ChoiceLinear, LayerChoice
    >>> net = nn.Sequential(ChoiceLinear(4, [2, 4], label="w"),
    ...                     LayerChoice({"id": nn.Identity(), "fc": nn.Linear(4, 4)}, label="op"))
    >>> _ = net.double()(torch.zeros(1, 4, dtype=torch.float64))
    >>> {p.dtype for p in export_float32(net, {"w": 4, "op": "fc"}).parameters()}
    {torch.float32}
"""

from __future__ import annotations

import copy
import errno
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from lightning_nas.errors import ConfigError, typed
from lightning_nas.oneshot.base import one_width_each
from lightning_nas.oneshot.choices import export_subnet
from lightning_nas.oneshot.scoring import (
    Forward,
    default_forward,
    step_batch,
    val_loaders,
    validation_stage,
)
from lightning_nas.train_modes import frozen_names, kept_modes
from lightning_nas.user_warnings import warn_rank_zero

__all__ = ["check_export_saves", "check_network_alone", "check_saves", "export_checked",
           "export_float32", "forward_once", "write_outputs"]


def export_float32(network: nn.Module, arch: Mapping[str, Any]) -> nn.Module:
    """``export_subnet(network, None, arch)`` with every floating parameter and buffer in
    float32 (the choice modules' layers are rebuilt in float32, the rest of the network is
    copied in the Trainer's dtype). A forward pass of ``arch`` must have just run."""
    return export_subnet(network, None, arch).float()


@torch.no_grad()
def forward_once(trainer: pl.Trainer, pl_module: pl.LightningModule, forward: Forward,
                 fallback: Sequence[Any] = ()) -> tuple[Any, Any] | None:
    """Run the first validation batch (else the first of ``fallback``) through the active
    path as the search did (``forward``, the module's own reshaping included), in eval
    mode: the layers that follow their input width learn it before an export (was: the
    network ran the raw ``batch[0]``, a wrong width or a ``KeyError`` on dict batches).
    Returns the batch and the predictions (``check_network_alone``), None without a batch."""
    with validation_stage(trainer):  # the batch hooks see validation (as a search scores)
        batch = next((step_batch(trainer, next(iter(loader))) for loader, _ in
                      val_loaders(trainer)), None)
    batch = next(iter(fallback), None) if batch is None else batch
    if batch is None:
        return None
    with kept_modes(pl_module), trainer.precision_plugin.val_step_context(), \
            one_width_each(pl_module, "export"):
        pl_module.eval()
        return batch, forward(pl_module, batch)[0]


def export_checked(trainer: pl.Trainer, pl_module: pl.LightningModule, network: nn.Module,
                   arch: Mapping[str, Any], forward: Forward,
                   calibration: Sequence[Any]) -> tuple[nn.Module, list[str]]:
    """The subnet ``arch`` of ``network`` (inside ``pl_module``, its BatchNorm statistics
    calibrated), exported in float32 (``export_float32``) after ``forward_once`` and
    checked by ``check_network_alone``, in eval mode: ready for inference, as
    ``subnet.pt`` is saved (was: in training mode, dropout on and BatchNorm on the batch's
    statistics until ``.eval()``); ``.train()`` to train it further (``finetune_subnet``
    does). The subnet is a copy: ``pl_module`` keeps its own mode.

    Returns:
        The subnet and the names of its submodules the user froze (``frozen_names`` of the
        copy before its ``.eval()``: in eval mode while the network trained; the modes
        ``export_subnet`` copies), which ``finetune_subnet`` puts back in eval mode after
        its ``.train()`` (was: unrecorded, so a fine-tune trained a frozen BatchNorm's
        statistics).
    """
    seen = forward_once(trainer, pl_module, forward, calibration)
    subnet = export_float32(network, arch)
    check_network_alone(trainer, pl_module, subnet, forward, seen)
    frozen = frozen_names(subnet)  # (its modes as the network trained)
    return subnet.eval(), frozen


def check_export_saves(trainer: pl.Trainer, export_dir: str | None, network: nn.Module,
                       key_prefix: str = "") -> None:
    """``check_saves(network)`` where the fit writes ``subnet.pt``: an ``export_dir`` and no
    ``fast_dev_run`` (SPOS's and DARTS/GDAS's, as their fit sets up; was: SPOS's alone, so a
    DARTS network holding a lambda failed in ``torch.save`` after training). The error names
    ``oneshot.run_dir`` under ``lightning-nas oneshot`` (a ``key_prefix``), else
    ``export_dir``."""
    if export_dir is not None and not trainer.fast_dev_run:  # (every rank alike)
        check_saves(network, "oneshot.run_dir" if key_prefix else "export_dir")


@torch.no_grad()
def check_network_alone(trainer: pl.Trainer, pl_module: nn.Module, subnet: nn.Module,
                        forward: Forward, seen: tuple[Any, Any] | None) -> None:
    """Warn (rank 0) when the exported ``subnet`` alone does not compute what ``pl_module``
    computed on ``seen`` (``forward_once``'s batch and predictions; its ``forward``
    normalizes or reshapes the input): ``subnet.pt`` needs that step, a fine-tune of the
    network alone lacks it. Only for the default forward (``module(batch[0])``).

    The subnet (float32, as exported) runs as a copy in the dtype of the module's weights
    (``64-true``: float64, ``bf16-true``: bfloat16), as the module ran; an error it raises
    is quoted in the warning (was: a dtype mismatch blamed on the input)."""
    if forward is not default_forward or seen is None:
        return
    (batch, whole), probe = seen, subnet
    dtype = next((p.dtype for p in pl_module.parameters() if p.is_floating_point()), None)
    if dtype is not None and any(t.is_floating_point() and t.dtype != dtype
                                 for t in (*subnet.parameters(), *subnet.buffers())):
        probe = copy.deepcopy(subnet).to(dtype)
    try:
        with kept_modes(probe), trainer.precision_plugin.val_step_context():
            probe.eval()
            alone = probe(batch[0])
    except Exception as err:  # noqa: BLE001 - the network takes another input: say so
        alone = err
    if (isinstance(whole, torch.Tensor) and isinstance(alone, torch.Tensor)
            and whole.shape == alone.shape and torch.allclose(whole, alone, rtol=1e-4,
                                                              atol=1e-5)):
        return
    raised = (f" (alone, it raised {type(alone).__name__}: {str(alone)[:200]})"
              if isinstance(alone, Exception) else "")
    warn_rank_zero(f"the exported network alone does not compute what "
                   f"{type(pl_module).__name__}.forward computes on a validation batch"
                   f"{raised} (it normalizes or reshapes the input?): subnet.pt needs that "
                   f"step to score what the search scored, and a fine-tune of the network "
                   f"alone lacks it; move the step into the network (or into the data)")


class _Discarded:
    """A file that drops what is written into it."""

    def write(self, data: bytes) -> int:
        return len(data)


class _NoTensors(pickle.Pickler):
    """A pickler that takes tensors by reference (their data is not read): the rest of a
    module, as ``torch.save`` pickles it."""

    def persistent_id(self, obj: Any) -> Any:
        return id(obj) if isinstance(obj, torch.Tensor) else None


def check_saves(network: nn.Module, key: str = "export_dir") -> None:
    """Raise ``ConfigError`` where ``torch.save`` could not write ``network`` (``subnet.pt``
    and ``subnet_finetuned.pt`` are whole pickled modules): an attribute that does not pickle,
    such as a lambda. Its tensors are left out, so it costs no copy of the weights. ``key``:
    the setting the error names (``lightning-nas oneshot``: ``oneshot.run_dir``).

    Example:
        >>> check_saves(nn.Linear(2, 2))
        >>> net = nn.Linear(2, 2)
        >>> net.act = lambda x: x
        >>> check_saves(net)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: export_dir: subnet.pt (torch.save) cannot hold ...
    """
    try:
        _NoTensors(_Discarded(), protocol=2).dump(network)  # torch.save's protocol
    except Exception as err:  # noqa: BLE001 - what torch.save would raise after training
        raise ConfigError(
            f"{key}: subnet.pt (torch.save) cannot hold the network "
            f"{type(network).__name__}: {typed(err)}; give its modules attributes that "
            f"pickle (a function defined at a module's top level, not a lambda or a local "
            f"one)" + (", or export_dir=None (the subnet stays on the callback)"
                       if key == "export_dir" else "")) from err


def write_outputs(out: Path, files: Mapping[str, Callable[[Path], Any]]) -> None:
    """Write ``files`` (``{name: write(path)}``) into the folder ``out`` in their order, each
    to a partial file beside its place (removed if it fails) and then moved in, so no file
    stands there half-written; the callers give ``best_arch.yaml``, which marks a finished
    run (``lightning-nas show``, a resume of a finished run), last (was: first, so a run
    killed before its ``subnet.pt`` was written left a ``best_arch.yaml`` beside none).

    Each file is on the disk before it is moved in, and each move before the next file's
    (``fsync`` of the file, then of the folder where the platform opens one: not Windows),
    so a machine that loses power keeps each file whole, in that order (was: the moves could
    reach the disk before the data, an empty or partial file in its place).
    """
    out.mkdir(parents=True, exist_ok=True)
    for name, write in files.items():
        partial = out / f".{name}.partial"
        try:
            write(partial)
            _fsync(partial)
            os.replace(partial, out / name)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        _fsync_folder(out)


#: what ``fsync`` raises on a file system that does not sync (it is not a failed write)
_NO_SYNC = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP})


def _fsync(path: Path) -> None:
    """Flush the data of the file ``path`` (written and closed) to the disk."""
    _synced(os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0)))


def _fsync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries (a file just moved in) to the disk, where the platform
    opens a folder (POSIX; Windows does not, nor needs it) and its file system syncs one."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    _synced(fd)


def _synced(fd: int) -> None:
    """``fsync`` the open ``fd``, then close it (a file system that does not sync: let be)."""
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in _NO_SYNC:
            raise
    finally:
        os.close(fd)

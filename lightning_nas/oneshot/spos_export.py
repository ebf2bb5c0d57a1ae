"""The end of an ``OneShotNAS`` search (``oneshot.callback``): its mixin ``SposExport``.

The final search after the last epoch (unless that epoch searched already), then the export of
the winner with the BatchNorm statistics it was scored with: calibrated again on the same
batches (``subnet``, ``frozen``), the supernet's own restored afterwards; rank 0 writes
``history.json``, ``subnet.pt`` and ``best_arch.yaml`` (last: a finished run; its
``unreached``: the decisions of ``arch`` the subnet never reaches, ``oneshot.reached``) in
``export_dir`` (``oneshot.exported``). None of a supernet that never took a training step
(``fit_end.check_stepped``).

Example:
    >>> from lightning_nas.oneshot.callback import OneShotNAS
    >>> issubclass(OneShotNAS, SposExport), "network" in vars(SposExport)
    (True, True)
"""

from __future__ import annotations

import functools
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from lightning_nas.config.yamlio import dump_yaml
from lightning_nas.oneshot.choices import get_path, set_path
from lightning_nas.oneshot.exported import export_checked, write_outputs
from lightning_nas.oneshot.fit_end import check_stepped
from lightning_nas.oneshot.random_state import preserved_rng, set_rng_state
from lightning_nas.oneshot.reached import unreached
from lightning_nas.oneshot.records import record_text, writes_files
from lightning_nas.oneshot.scoring import (
    Forward,
    calibrate_batchnorm,
    network_of,
    preserved_batchnorm,
    take_calibration_batches,
)
from lightning_nas.run_folder import user_path
from lightning_nas.score_precision import precision_entry
from lightning_nas.search.uneven_split import met_notes
from lightning_nas.validation_limit import limited_entry

__all__ = ["SposExport"]


class SposExport:
    """The final search and export of ``OneShotNAS`` (see the module docstring), for the
    callback that sets the attributes below and searches (``SposSearch.search``).

    Attributes:
        net_attr: the LightningModule's attribute holding the network to export.
        export_dir: where rank 0 writes the outputs (None: nothing).
        subnet, frozen: the exported winner and its submodules the user froze.
    """

    net_attr: str | None
    export_dir: str | None
    calibration_batches: int
    forward: Forward
    mode: str
    history: list[dict[str, Any]]
    best_arch: dict[str, Any] | None
    best_score: float | None
    subnet: nn.Module | None
    frozen: list[str]
    _backwards: list[int] | None
    _calibrated: dict[str, Any] | None
    _ended: bool

    def _final(self, trainer: pl.Trainer, pl_module: pl.LightningModule, epoch: int) -> None:
        """The final search, after ``epoch`` epochs (unless it ran), and the export; none
        of a supernet that never took a training step (``fit_end.check_stepped``)."""
        check_stepped(trainer, "OneShotNAS", self._backwards)
        with preserved_rng(pl_module.device):
            # (a callback that stopped training after this epoch's search, such as
            # EarlyStopping, would have the same search run twice)
            searched = bool(self.best_arch and self.history and self.history[-1]["epoch"] == epoch)
            if searched and (self._calibrated or {}).get("epoch") == epoch:  # its batches
                set_rng_state(self._calibrated)  # (was: drawn anew, other statistics exported)
            calibration = take_calibration_batches(trainer, self.calibration_batches)
            if not searched:
                self.search(trainer, pl_module, epoch, calibration)
            self._export(trainer, pl_module, calibration)
        self._ended = True

    def network(self, pl_module: pl.LightningModule) -> nn.Module:
        """The network that is exported (``network_of(pl_module, net_attr)``)."""
        return network_of(pl_module, self.net_attr)

    def _export(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                calibration: list[Any]) -> None:
        """Export the winner with the BatchNorm statistics it was scored with: calibrated
        again on the same batches; the supernet's own are restored afterwards."""
        previous = get_path(pl_module)
        with preserved_batchnorm(pl_module):
            set_path(pl_module, self.best_arch)
            calibrate_batchnorm(pl_module, self.forward, calibration, trainer.strategy)
            self.subnet, self.frozen = export_checked(trainer, pl_module, self.network(pl_module),
                                         self.best_arch, self.forward, calibration)
        set_path(pl_module, previous)
        if not writes_files(trainer, self.export_dir):  # (rank 0; none under fast_dev_run)
            return
        notes = met_notes(trainer)  # a DDP split with repeats: with the file, in one write
        skipped = unreached(pl_module, self.best_arch)  # decisions its path never reaches
        best = dump_yaml({"arch": self.best_arch, "score": self.best_score, "algorithm": "spos",
                          "mode": self.mode, **({"unreached": skipped} if skipped else {}),
                          **({"frozen": self.frozen} if self.frozen else {}),
                          **({"notes": notes} if notes else {}),
                          **limited_entry(trainer), **precision_entry(trainer)})  # (was: unsaid)
        write_outputs(user_path(self.export_dir), {  # best_arch.yaml last: a finished run
            "history.json": lambda path: path.write_text(record_text(self.history)),
            "subnet.pt": functools.partial(torch.save, self.subnet.cpu()),
            "best_arch.yaml": lambda path: path.write_text(best)})

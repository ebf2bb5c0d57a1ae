"""The end of a ``DifferentiableNAS`` search (DARTS, GDAS; ``oneshot.differentiable``): its
mixin ``DerivedExport``.

At the end of training (``on_train_end``), or at the end of a fit resumed from the checkpoint
of its training's end, which Lightning ends without it (``on_fit_end``: ``oneshot/fit_end.py``),
the ``top_k`` most probable architectures are scored with the shared weights after BatchNorm
calibration and the best is exported (``oneshot.derive``: ``subnet``, ``best_arch``,
``best_score``, ``scored``, ``frozen``); rank 0 writes the files in ``export_dir``. None of a
supernet that never stepped (``fit_end.check_stepped``) or of logits that never moved from
their start (``checks.check_logits_trained``).

Example:
    >>> from torch import nn
    >>> from lightning_nas.oneshot.choices import LayerChoice
    >>> from lightning_nas.oneshot.differentiable import DifferentiableNAS
    >>> nas = DifferentiableNAS(LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()},
    ...                                     label="act"))
    >>> isinstance(nas, DerivedExport), nas.best_arch is None
    (True, True)
"""

from __future__ import annotations

from typing import Any

from torch import nn

from lightning_nas.oneshot.checks import check_logits_trained
from lightning_nas.oneshot.derive import export_derived, top_networks, write_export
from lightning_nas.oneshot.fit_end import check_stepped, end_fit
from lightning_nas.oneshot.reached import unreached
from lightning_nas.oneshot.records import writes_files
from lightning_nas.search.uneven_split import met_notes

__all__ = ["DerivedExport"]


class DerivedExport:
    """The final search and export of ``DifferentiableNAS`` (see the module docstring), for
    the LightningModule subclass that sets the attributes below (and ``hparams``).

    Attributes:
        best_arch, best_score: the exported architecture and its score.
        subnet, frozen: the exported network and its submodules the user froze.
        scored: each of the ``top_k`` architectures scored.
    """

    choices: dict[str, list[Any]]
    network: nn.Module
    best_arch: dict[str, Any] | None
    best_score: float | None
    subnet: nn.Module | None
    frozen: list[str]
    scored: list[dict[str, Any]]
    _ended: bool
    _resume_epochs: int | None

    def on_train_end(self) -> None:
        self._search_and_export()
        super().on_train_end()

    def _search_and_export(self) -> None:
        check_stepped(self.trainer, "DifferentiableNAS")  # no step: what ended the fit
        check_logits_trained(self)  # not an architecture derived from their random start
        hp = self.hparams
        ranked = top_networks(self.network, self.choices, self.probabilities(), hp.top_k)
        self.best_arch, self.best_score, subnet, self.scored, self.frozen = export_derived(
            self.trainer, self, self.network, ranked, self._metric, hp.calibration_batches,
            hp.mode)
        object.__setattr__(self, "subnet", subnet)  # not a submodule: not in checkpoints
        if writes_files(self.trainer, hp.export_dir):  # (rank 0; none under fast_dev_run)
            write_export(hp.export_dir, self.best_arch, self.best_score, self.subnet,
                         self.scored, self.alpha_history(), hp.mode, met_notes(self.trainer),
                         self.trainer, self.frozen, unreached(self.network, self.best_arch))
        self._ended = True

    def on_fit_end(self) -> None:  # a resume of a fit at its end: its final search now
        end_fit(self.trainer, self._ended, "DifferentiableNAS", lambda _: self._search_and_export(),
                getattr(self.trainer.datamodule, "resume_rng", None),  # (BilevelData's)
                self._resume_epochs, self._write_alphas)  # (no on_train_end of its own:
        super().on_fit_end()  # Lightning skips it in a plain fit's resume at its end too)

"""One-shot NAS: choice modules of a weight-sharing supernet and subnet export (``choices``,
over ``base``), the ``OneShotNAS`` callback (``callback``: single-path one-shot, SPOS; its
search, export and state in ``spos_search``, ``spos_export``, ``spos_state``),
differentiable NAS (``differentiable``: ``DifferentiableNAS`` for DARTS and GDAS over the
same choice modules, run mixed by ``mixed``, fed by ``bilevel``, checked by ``checks``,
trained by ``differentiable_step``, derived and exported by ``derive`` through
``differentiable_export``, its state in ``differentiable_state``), subnet scoring with
BatchNorm calibration (``scoring``), the float32 export checked against the module's
``forward`` (``exported``), fine-tuning (``finetune``), the end of a fit resumed from the
checkpoint of its training's end (``fit_end``: the final search and export alone) and the
``lightning-nas oneshot`` command (``run``).

Example:
    >>> from lightning_nas.oneshot import LayerChoice, OneShotNAS
    >>> OneShotNAS(num_candidates=5).num_candidates
    5
"""

from lightning_nas.oneshot.bilevel import BilevelData
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.choices import (
    ChoiceBatchNorm2d,
    ChoiceConv2d,
    ChoiceLinear,
    ChoiceModule,
    LayerChoice,
    Repeat,
    export_subnet,
    get_path,
    set_path,
    space_of,
)
from lightning_nas.oneshot.differentiable import DifferentiableNAS
from lightning_nas.oneshot.finetune import finetune_subnet

__all__ = [
    "BilevelData",
    "ChoiceBatchNorm2d",
    "ChoiceConv2d",
    "ChoiceLinear",
    "ChoiceModule",
    "DifferentiableNAS",
    "LayerChoice",
    "OneShotNAS",
    "Repeat",
    "export_subnet",
    "finetune_subnet",
    "get_path",
    "set_path",
    "space_of",
]

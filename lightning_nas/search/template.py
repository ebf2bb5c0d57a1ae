"""``TrialTemplate``: how every trial of one search is built, the one thing the search loop
needs from the search besides its settings.

It holds the model and data factories, the Trainer settings, what is monitored and the
seed; ``spec(trial_id, arch)`` makes the picklable ``TrialSpec`` of one trial, ``costs``
counts a candidate's parameters and FLOPs without training.

Example:
    >>> from lightning.pytorch.demos.boring_classes import BoringModel
    >>> from lightning_nas.config.factories import DataFactory, ModelFactory
    >>> template = TrialTemplate(ModelFactory(BoringModel), DataFactory(), {"max_epochs": 1},
    ...                          run_dir=Path("runs/demo"))
    >>> template.spec(3, {}).trial_dir
    'runs/demo/trials/trial_0003'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightning_nas.config.factories import DataFactory, ModelFactory
from lightning_nas.search.costs import model_costs
from lightning_nas.search.trial import TrialSpec, quiet_lightning

__all__ = ["TrialTemplate"]


@dataclass(frozen=True)
class TrialTemplate:
    """The parts every trial of a search shares.

    Args:
        model: builds the LightningModule for an architecture.
        data: builds the trial's data.
        trainer: Trainer keyword arguments (``class_path`` specs allowed for callbacks and
            loggers); a searched ``trainer.*`` key of an architecture overrides its entry.
        monitor, mode: the metric that scores a trial and its direction.
        seed: ``seed_everything`` of every trial.
        run_dir: the search's folder; trials go to ``run_dir/trials/trial_NNNN``.
        objective: a function ``arch -> {metric: value}`` evaluated instead of training.
        max_epochs: epochs of a complete trial when a scheduler sets it (else the Trainer's).
        cost_names: costs counted for each candidate (``params``, ``flops``).
    """

    model: ModelFactory
    data: DataFactory
    trainer: Mapping[str, Any]
    monitor: str = "val_acc"
    mode: str = "max"
    seed: int | None = 0
    run_dir: Path = Path("runs/nas")
    objective: Callable[[dict[str, Any]], Mapping[str, float]] | None = None
    max_epochs: int | None = None
    cost_names: tuple[str, ...] = field(default=())

    def trial_dir(self, trial_id: int) -> Path:
        """The folder of trial ``trial_id``."""
        return self.run_dir / "trials" / f"trial_{trial_id:04d}"

    def spec(self, trial_id: int, arch: dict[str, Any], *, rule: Any = None,
             ckpt_path: str | None = None) -> TrialSpec:
        """What a worker needs to run trial ``trial_id`` (a promotion continues from
        ``ckpt_path`` in its existing folder)."""
        trainer = dict(self.trainer)
        trainer.update({k.split(".", 1)[1]: v for k, v in arch.items()
                        if k.startswith("trainer.")})  # a searched Trainer argument
        if self.max_epochs is not None:
            trainer["max_epochs"] = self.max_epochs
        return TrialSpec(trial_id=trial_id, arch=arch, trial_dir=str(self.trial_dir(trial_id)),
                         model=self.model.target, model_init_args=self.model.init_args,
                         data=self.data.target, data_init_args=self.data.init_args,
                         trainer=trainer, monitor=self.monitor, mode=self.mode, seed=self.seed,
                         objective=self.objective, rule=rule, ckpt_path=ckpt_path,
                         clear_dir=ckpt_path is None)

    def costs(self, arch: dict[str, Any]) -> dict[str, float]:
        """``params`` (and ``flops`` if needed) of ``arch``'s model, without training."""
        if not self.cost_names:
            return {}
        with quiet_lightning():
            return model_costs(self.model.build, arch, flops="flops" in self.cost_names)

"""The Trainer values Lightning refuses for a model of manual optimization
(``automatic_optimization = False``) when ``fit`` starts, found before any training
(``check_manual_optimization``): the Trainer's own, and each value a searched Trainer
argument may take; ``MANUAL_REFUSED``: what Lightning refuses, and what it takes.

Example:
    >>> MANUAL_REFUSED["accumulate_grad_batches"]
    ('other than 1', '1; accumulate in training_step')
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from lightning_nas.config.instantiate import short
from lightning_nas.errors import ConfigError
from lightning_nas.search.trial import TrialSpec, build_trainer

__all__ = ["MANUAL_REFUSED", "check_manual_optimization", "manual_refusals"]


#: Trainer arguments Lightning refuses for manual optimization when ``fit`` starts
#: (``configuration_validator.__verify_manual_optimization_support``), in its order: what
#: it refuses, and what it takes
MANUAL_REFUSED = {
    "gradient_clip_val": ("above 0", "None or 0; clip in training_step with "
                                     "self.clip_gradients"),
    "accumulate_grad_batches": ("other than 1", "1; accumulate in training_step"),
}


def manual_refusals(trainer: pl.Trainer) -> list[str]:
    """The arguments of ``trainer`` Lightning refuses for a model of manual optimization,
    read as its rule reads them (the Trainer's own attributes)."""
    clip = trainer.gradient_clip_val
    return [name for name, refused in (("gradient_clip_val", clip is not None and clip > 0),
                                       ("accumulate_grad_batches",
                                        trainer.accumulate_grad_batches != 1)) if refused]


def check_manual_optimization(spec: TrialSpec, model: str,
                              searched: Mapping[str, Sequence[Any]]) -> None:
    """Refuse the Trainer values Lightning refuses when ``fit`` starts for ``model``, which
    sets ``automatic_optimization = False``: ``spec``'s (the config's, for an argument that
    is not searched) and each value a searched one may take (each over ``spec``'s Trainer).
    The Trainers it builds set global flags (determinism, the rank-zero rank): call it within
    ``dry_builds.global_state_kept``, as ``TrialTemplate.dry_build`` does."""
    def why(name: str) -> str:
        refused, valid = MANUAL_REFUSED[name]
        return (f"the model ({model}) sets automatic_optimization=False, and Lightning refuses "
                f"{name} {refused} with manual optimization (valid: {valid}); found before "
                f"any training")

    with tempfile.TemporaryDirectory(prefix="lnas-dry-") as tmp:
        spec = dataclasses.replace(spec, trial_dir=str(Path(tmp) / "trials" / "trial_0000"))

        def refusals(name: str | None = None, value: Any = None) -> list[str]:
            settings = spec.trainer if name is None else {**spec.trainer, name: value}
            try:
                trainer = build_trainer(dataclasses.replace(spec, trainer=settings), [])
            except Exception:  # noqa: BLE001 - a value the Trainer refuses: a failed trial
                return []
            return manual_refusals(trainer)

        for name in refusals():
            if name not in searched:
                raise ConfigError(f"trainer.{name}={short(spec.trainer.get(name))}: "
                                  f"{why(name)} (every trial would fail)")
        for name in MANUAL_REFUSED:
            values = [v for v in searched.get(name, ()) if name in refusals(name, v)]
            if values:
                raise ConfigError(f"space key 'trainer.{name}' may take "
                                  f"{', '.join(short(v) for v in values)}: {why(name)} (every "
                                  f"trial drawing {'it' if len(values) == 1 else 'them'} "
                                  f"would fail)")

"""The checks of ``DifferentiableNAS``'s arguments when it is made (``oneshot.differentiable``):
``check_arguments`` raises a ``ConfigError`` naming the first bad one, its value and what it
must be, before anything is built or trained (was: for many, an AttributeError or TypeError
naming none, at the first training step or after training).

Example:
    >>> from torch import nn
    >>> check_arguments(nn.Linear(2, 2), algorithm="dart")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: unknown algorithm 'dart'; did you mean 'darts'? ...
    >>> check_arguments(nn.Linear(2, 2), num_classes=3)
    'max'
    >>> check_arguments(nn.Linear(2, 2), tau_max=5.0)
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: tau_max=5.0 sets GDAS's temperature, but algorithm='darts'...
    >>> check_arguments(nn.Linear(2, 2), seed=-1)
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: seed must be an integer from 0 to 4294967295 (2**32 - 1)...
"""

from __future__ import annotations

from typing import Any

from torch import nn

from lightning_nas.errors import PYTHON_NULL, ConfigError, SpaceError, check_number, unknown
from lightning_nas.module import LOSSES
from lightning_nas.oneshot.arch_weights import ALGORITHMS, TAU_SCHEDULES
from lightning_nas.oneshot.checks import CLIP_ALGORITHMS, check_clip_val, check_rates
from lightning_nas.oneshot.scoring import metric_mode
from lightning_nas.oneshot.seed_range import WIDE_SEED_MAX, check_seed_range
from lightning_nas.oneshot.wrapped import optimizer_class
from lightning_nas.run_folder import check_export_dir
from lightning_nas.space import Choice, SearchSpace

__all__ = ["DEFAULT_LR", "DEFAULT_WEIGHT_DECAY", "GDAS_DEFAULTS", "check_arguments",
           "relaxable_choices"]

#: the defaults of ``lr`` and ``weight_decay``: other values beside a module's own optimizer
#: are refused (``oneshot.differentiable_optim.bilevel_optimizers``)
DEFAULT_LR, DEFAULT_WEIGHT_DECAY = 1e-3, 0.0


def _check_types(supernet: Any, loss: Any, optimizer: Any, num_classes: Any, seed: Any) -> None:
    """Raise ``ConfigError`` naming the argument of a kind it cannot use (was: an
    AttributeError or TypeError naming none, for ``loss`` at the first step, for a
    ``num_classes`` of 0 none: no accuracy metric; a seed outside ``0..2**32 - 1`` taken)."""
    if not isinstance(supernet, nn.Module):
        raise ConfigError(f"supernet must be an nn.Module with choice modules (or a "
                          f"LightningModule holding one), got {type(supernet).__name__}")
    if loss is not None and not isinstance(loss, str) and not callable(loss):
        raise ConfigError(f"loss must be a name ({', '.join(LOSSES)}), a callable (preds, "
                          f"target) -> loss or None, got {loss!r}")
    if optimizer is not None and not isinstance(optimizer, str):
        raise ConfigError(f"optimizer must be a torch.optim class name (adam, sgd, ...) or "
                          f"None, got {optimizer!r}")
    if num_classes is not None:
        check_number(num_classes, "num_classes", 2, integer=True, nullable=True,
                     null=PYTHON_NULL)
    # as OneShotNAS checks its seed (no epoch is added to this one: Lightning's range)
    check_seed_range(seed, "seed", WIDE_SEED_MAX, "it seeds the logits' start and GDAS's "
                     "noise; lightning-nas oneshot seeds torch, numpy and random with it, "
                     "which take 0 to 2**32 - 1")


#: GDAS's temperature settings and their defaults (DARTS takes none but these)
GDAS_DEFAULTS = {"tau_max": 10.0, "tau_min": 0.1, "tau_schedule": "exponential",
                 "tau_epochs": None}


def _check_no_temperature(**settings: Any) -> None:
    """Raise ``ConfigError`` naming the first of GDAS's temperature ``settings`` given
    another value than its default beside DARTS, which has no temperature."""
    for key, value in settings.items():
        if value != GDAS_DEFAULTS[key]:
            raise ConfigError(f"{key}={value!r} sets GDAS's temperature, but algorithm='darts' "
                              f"has none (its softmax takes no temperature): leave {key} out, "
                              f"or search with algorithm='gdas'")


def relaxable_choices(space: SearchSpace) -> dict[str, list[Any]]:
    """``{label: values}`` of each decision of ``space`` (``space_of`` a supernet), in its
    order: DARTS and GDAS learn one logit per value.

    Example:
        >>> from lightning_nas.space import Choice, Float
        >>> relaxable_choices(SearchSpace({"act": Choice(["relu", "tanh"])}))
        {'act': ['relu', 'tanh']}
        >>> relaxable_choices(SearchSpace({"scale": Float(0.5, 2.0)}))
        Traceback (most recent call last):
        ...
        lightning_nas.errors.SpaceError: choice 'scale' decides Float(0.5, 2.0), which ...

    Raises:
        SpaceError: a decision of no list of values (a range, from a choice module of
            one's own), naming it and the kinds DARTS and GDAS take (was: AttributeError
            "'Float' object has no attribute 'values'").
    """
    out: dict[str, list[Any]] = {}
    for label in space.names():
        param = space.params[label]
        if not isinstance(param, Choice):
            raise SpaceError(f"choice {label!r} decides {param!r}, which DARTS and GDAS "
                             f"cannot relax: they learn one logit per value of a decision "
                             f"of listed values (Choice, Ordered); give its module a list of "
                             f"values (e.g. 3 points of the range)")
        out[label] = list(param.values)
    return out


def check_arguments(supernet: Any, *, algorithm: Any = "darts", loss: Any = None,
                    num_classes: Any = None, metric: Any = None, mode: Any = None,
                    optimizer: Any = None, lr: Any = DEFAULT_LR,
                    weight_decay: Any = DEFAULT_WEIGHT_DECAY, arch_lr: Any = 3e-3,
                    arch_weight_decay: Any = 1e-3, gradient_clip_val: Any = None,
                    gradient_clip_algorithm: Any = "norm", tau_max: Any = 10.0,
                    tau_min: Any = 0.1, tau_schedule: Any = "exponential",
                    tau_epochs: Any = None, warmup_epochs: Any = 0, top_k: Any = 1,
                    calibration_batches: Any = 5, export_dir: Any = None,
                    seed: Any = 0) -> str:
    """Check ``DifferentiableNAS``'s arguments in this order (``net_attr``: against the
    supernet, when it is made); return the mode of the score (``metric_mode``).

    Args:
        supernet, algorithm, loss, num_classes, metric, mode, optimizer, lr, weight_decay, arch_lr,
            arch_weight_decay, gradient_clip_val, gradient_clip_algorithm, tau_max,
            tau_min, tau_schedule, tau_epochs, warmup_epochs, top_k, calibration_batches,
            export_dir, seed: as ``DifferentiableNAS`` takes them.

    Raises:
        ConfigError: naming the first bad argument, its value and the valid ones.
    """
    _check_types(supernet, loss, optimizer, num_classes, seed)
    if algorithm not in ALGORITHMS:
        raise unknown("algorithm", algorithm, ALGORITHMS, listing="algorithms")
    check_clip_val(gradient_clip_val, "gradient_clip_val")
    if str(gradient_clip_algorithm).lower() not in CLIP_ALGORITHMS:
        raise unknown("gradient_clip_algorithm", gradient_clip_algorithm, CLIP_ALGORITHMS,
                      listing="values")
    if tau_schedule not in TAU_SCHEDULES:
        raise unknown("tau_schedule", tau_schedule, TAU_SCHEDULES, listing="values")
    check_number(tau_max, "tau_max", 0, strict=True)  # (was: a bare TypeError of "<=")
    check_number(tau_min, "tau_min", 0, strict=True)
    if not 0 < tau_min <= tau_max:
        raise ConfigError(f"need 0 < tau_min <= tau_max, got {tau_min} and {tau_max}")
    check_number(calibration_batches, "calibration_batches", 0, integer=True)  # (was: 1.5
    check_number(top_k, "top_k", 1, integer=True)  # crashed after training)
    check_number(warmup_epochs, "warmup_epochs", 0, integer=True)
    if tau_epochs is not None:
        check_number(tau_epochs, "tau_epochs", 1, integer=True, nullable=True,
                     null=PYTHON_NULL)  # (was: "or null", YAML's word)
    if algorithm == "darts":  # as lightning-nas oneshot refuses them (was: taken, unused)
        _check_no_temperature(tau_max=tau_max, tau_min=tau_min, tau_schedule=tau_schedule,
                              tau_epochs=tau_epochs)
    mode = metric_mode(metric, mode, "DifferentiableNAS")
    if isinstance(loss, str) and loss not in LOSSES:
        raise unknown("loss", loss, LOSSES, listing="losses")
    if optimizer is not None:
        optimizer_class(optimizer)
    check_rates(lr=lr, weight_decay=weight_decay, arch_lr=arch_lr,
                arch_weight_decay=arch_weight_decay)  # was: torch's error at fit start
    check_export_dir(export_dir, "DifferentiableNAS(export_dir=...)")  # (was: at its end)
    return mode

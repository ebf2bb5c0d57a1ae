"""Costs of a candidate counted without training: ``params`` (on the meta device: no memory,
no initialisation) and ``flops`` (one forward pass of the model's ``example_input_array``).

Example:
    >>> import torch
    >>> model_costs(lambda arch: torch.nn.Linear(4, arch["out"]), {"out": 2})
    {'params': 10.0}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.nn.parameter import UninitializedParameter

from lightning_nas.errors import ConfigError

__all__ = ["model_costs"]


def model_costs(build: Callable[[Mapping[str, Any]], torch.nn.Module], arch: Mapping[str, Any],
                flops: bool = False) -> dict[str, float]:
    """``params`` of the model built for ``arch`` (with the layers its Lightning
    ``configure_model`` hook makes), and ``flops`` of one forward pass of its
    ``example_input_array`` when asked. Parameters are counted on the meta device (nothing
    allocated); FLOPs, and lazy modules' parameters, need a real model and its
    ``example_input_array``.

    Raises:
        ConfigError: when FLOPs, or the parameters of lazy modules, are asked and the model
            has no ``example_input_array``.
    """
    real = None
    try:
        with torch.device("meta"):
            model = _configured(build(arch))
    except Exception:  # noqa: BLE001 - some modules cannot be built on meta: count on CPU
        model = real = _configured(build(arch))
    lazy = any(isinstance(p, UninitializedParameter) for p in model.parameters())
    if lazy or flops:
        model = real if real is not None else _configured(build(arch))
        example = getattr(model, "example_input_array", None)
        if example is None:
            need = "counting flops" if flops else "counting the parameters of lazy modules"
            raise ConfigError(f"{need} needs the model's example_input_array (set it in "
                              f"{type(model).__name__}.__init__, as for Lightning's model "
                              f"summary)")
        from torch.utils.flop_counter import FlopCounterMode

        model.eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            if isinstance(example, (tuple, list)):  # as Lightning's summary passes it
                model(*example)
            elif isinstance(example, dict):
                model(**example)
            else:
                model(example)
    out = {"params": float(sum(p.numel() for p in model.parameters()))}
    if flops:
        out["flops"] = float(counter.get_total_flops())
    return out


def _configured(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` after its Lightning ``configure_model`` hook (layers made there count)."""
    hook = getattr(model, "configure_model", None)
    if callable(hook):
        hook()
    return model

"""A partial of a torch optimizer or learning-rate scheduler class (a Hydra ``_partial_:
true`` node, LightningCLI's ``OptimizerCallable`` ``class_path`` node) tried once when the
config builds it: the optimizer on a throwaway parameter, the scheduler on such an
optimizer. A value torch refuses (``lr: -0.1``, ``betas: [0.9, 1.5]``, ``factor: 2.0``) is
then a ``ConfigError`` naming its key, before any trial's fit (was: raised by torch in the
model's ``configure_optimizers``, inside the fit of two trials, which stopped the search).

Only a ``ValueError`` that leaving one argument out removes is said: the argument is at
fault, not the throwaway parameter (an optimizer for matrices alone, such as ``Muon``), nor
an argument the module passes when it calls the partial (a scheduler's ``step_size``).

Example:
    >>> import torch
    >>> probe_partial(torch.optim.Adam, [], {"lr": -0.1}, "model.optimizer")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: model.optimizer.lr=-0.1: Adam refuses it: ValueError: ...
    >>> probe_partial(torch.optim.lr_scheduler.StepLR, [], {}, "model.scheduler")  # later
    >>> probe_partial(torch.optim.lr_scheduler.OneCycleLR, [], {"max_lr": 0.1}, "m.s")
"""

from __future__ import annotations

import inspect
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lightning_nas.config.value_checks import short
from lightning_nas.errors import ConfigError, one_line

__all__ = ["probe_partial"]


def probe_partial(target: Any, args: Sequence[Any], kwargs: Mapping[str, Any],
                  path: str) -> None:
    """Build ``target(*args, **kwargs)`` on a throwaway parameter where ``target`` is a
    torch optimizer or learning-rate scheduler class, and say the argument it refuses.

    Args:
        target: the class the partial calls.
        args, kwargs: the partial's arguments.
        path: where the node stands in the config (``model.optimizer``).

    Raises:
        ConfigError: ``path.key=value: Class refuses it: torch's message``.
    """
    build = _builder(target, args)
    error = None if build is None else _outcome(build, kwargs)
    if not isinstance(error, ValueError):
        return
    for key, value in kwargs.items():  # the argument whose absence lets it build
        if _outcome(build, {k: v for k, v in kwargs.items() if k != key}) is None:
            raise ConfigError(f"{path}.{key}={short(value)}: {target.__name__} refuses it: "
                              f"{one_line(error)}")
    # no one argument at fault: the fit says it, in the model's configure_optimizers


def _builder(target: Any, args: Sequence[Any]) -> Callable[[Mapping[str, Any]], Any] | None:
    """How to build ``target`` with given keyword arguments on a throwaway parameter, or
    None for a class that is no torch optimizer or scheduler (torch not imported: none is)."""
    torch = sys.modules.get("torch")
    if torch is None or not inspect.isclass(target):
        return None
    optim = torch.optim

    def parameter() -> Any:
        return [torch.nn.Parameter(torch.zeros(2, 2))]

    if issubclass(target, optim.Optimizer):
        return lambda kwargs: target(parameter(), *args, **kwargs)
    if issubclass(target, optim.lr_scheduler.LRScheduler):
        return lambda kwargs: target(optim.SGD(parameter(), lr=0.1), *args, **kwargs)
    return None


def _outcome(build: Callable[[Mapping[str, Any]], Any],
             kwargs: Mapping[str, Any]) -> Exception | None:
    """What ``build(kwargs)`` raised, None when it built. Only a build without an argument
    blames that argument: one that fails otherwise does not (``OneCycleLR`` without
    ``max_lr`` misses it, as it misses the ``total_steps`` the module gives later)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build(kwargs)
    except Exception as err:  # noqa: BLE001 - a torch class may raise anything
        return err
    return None

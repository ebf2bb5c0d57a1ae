"""Constraints on candidates: ``Constraints(max_params=..., max_flops=..., checks=[callable])``
are checked before a candidate is trained (a violating one is told to nevergrad as a
violation, never trained), and ``constraint_record`` names a constraint as a run stores it.

``search/objectives.py`` re-exports these names (their earlier import path).

Example:
    >>> limits = Constraints(max_params=100, checks=[lambda arch: arch["width"] <= 8])
    >>> limits.violation({"width": 16}, {"params": 150.0})
    (1.5, 'params 150 > max_params 100; <lambda> rejected it')
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lightning_nas.errors import ConfigError, typed

__all__ = ["Constraints", "constraint_record"]


def _is_boolean(value: Any) -> bool:
    """A bool, or a boolean NumPy or torch scalar (``np.True_``, ``torch.tensor(True)``):
    true means allowed, where a number is an amount of violation."""
    if isinstance(value, bool):
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and (getattr(dtype, "kind", None) == "b" or str(dtype) == "torch.bool")


class Constraints:
    """Limits a candidate must meet before it is trained.

    Args:
        max_params: most parameters.
        max_flops: most FLOPs of one forward pass of ``example_input_array``.
        checks: callables ``arch -> bool`` (True: feasible) or ``arch -> float`` (the
            amount of violation, <= 0: feasible).
    """

    def __init__(self, max_params: float | None = None, max_flops: float | None = None,
                 checks: Sequence[Callable[[dict[str, Any]], Any]] = ()) -> None:
        for name, value in (("max_params", max_params), ("max_flops", max_flops)):
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ConfigError(f"`{name}` must be a positive number, got {value!r}")
        for check in checks:
            if not callable(check):
                limit = isinstance(check, (Mapping, str)) and "max_" in str(check)
                raise ConfigError(
                    f"constraints must be callables arch -> bool/float, got {check!r}"
                    + ("; a limit on a counted cost is a setting of its own, max_params or "
                       "max_flops (the only costs the search counts), and one on another "
                       "metric a callable of the architecture" if limit else ""))
        self.max_params, self.max_flops, self.checks = max_params, max_flops, list(checks)

    def __bool__(self) -> bool:
        return bool(self.max_params or self.max_flops or self.checks)

    def needs(self) -> list[str]:
        """The costs these limits need counted."""
        return [n for n, v in (("params", self.max_params), ("flops", self.max_flops)) if v]

    def violation(self, arch: dict[str, Any], costs: Mapping[str, float]) -> tuple[float, str]:
        """``(amount, reason)``: amount > 0 when ``arch`` violates a limit."""
        amount, reasons = 0.0, []
        for name, limit in (("params", self.max_params), ("flops", self.max_flops)):
            if limit and costs.get(name, 0.0) > limit:
                amount += costs[name] / limit - 1.0
                reasons.append(f"{name} {costs[name]:.4g} > max_{name} {limit:.4g}")
        for check in self.checks:
            try:
                verdict = check(dict(arch))
                over = (0.0 if verdict else 1.0) if _is_boolean(verdict) else float(verdict)
            except Exception as err:  # noqa: BLE001 - the user's constraint: name it
                raise ConfigError(f"constraint {constraint_record(check)} "
                                  f"raised {typed(err)} for {dict(arch)}; it "
                                  f"must return a bool or a number for every architecture "
                                  f"of the space") from err
            if over > 0 or math.isnan(over):
                amount += 1.0 if math.isnan(over) else over
                reasons.append(f"{constraint_record(check)} rejected it")
        return amount, "; ".join(reasons)


def constraint_record(constraint: Any) -> str:
    """What a run stores of a constraint, for a resume to compare, and how a rejected
    candidate's reason names it: a function's (or class's) name; an object's repr where
    its class has its own (a dataclass's shows its fields); else its class by import path
    with its attributes (the default repr, ``<src.cons.MaxHidden object at 0x...>``, shows
    no argument); no memory address.

    Example:
        >>> class Limit:
        ...     def __init__(self, n: int) -> None:
        ...         self.n = n
        >>> constraint_record(Limit(4)), constraint_record(max)
        ('lightning_nas.search.constraints.Limit(n=4)', 'max')
    """
    name = getattr(constraint, "__name__", None)
    if name:
        return name
    cls, attributes = type(constraint), getattr(constraint, "__dict__", None)
    text = repr(constraint)
    if cls.__repr__ is object.__repr__ and attributes:
        text = (f"{cls.__module__}.{cls.__qualname__}("
                f"{', '.join(f'{k}={v!r}' for k, v in attributes.items())})")
    return re.sub(r" at 0x[0-9a-fA-F]+", "", text)

"""An optimizer object given where its registry name goes: ``given_as_object`` says what
to give instead (``check_optimizer_name``'s refusal of ``optimizer=ng.optimizers.NGOpt``).

Example:
    >>> import nevergrad as ng
    >>> given_as_object(ng.optimizers.NGOpt)
    "got the class NGOpt: give its name, optimizer='NGOpt' (`search.optimizer: NGOpt`)"
"""

from __future__ import annotations

from typing import Any

import nevergrad as ng

__all__ = ["given_as_object"]


def given_as_object(value: Any) -> str | None:
    """What to give instead of ``value``, a nevergrad optimizer class or configured
    optimizer given as ``optimizer`` (which takes a registry name): its name where the
    registry holds it, else how to register it (was: "got type <class '...NGOpt'>", the
    name to give said nowhere); None for anything else.

    Args:
        value: what was given as ``optimizer``.

    Example:
        >>> given_as_object(3) is None
        True
    """
    base = ng.optimizers.base
    is_class = isinstance(value, type) and issubclass(value, base.Optimizer)
    if not (is_class or isinstance(value, base.ConfiguredOptimizer)):
        return None
    name = next((key for key, held in ng.optimizers.registry.items() if held is value), None)
    what = f"the class {value.__name__}" if is_class else repr(value)
    if name is not None:
        return f"got {what}: give its name, optimizer={name!r} (`search.optimizer: {name}`)"
    if is_class:
        return (f"got {what}, not in nevergrad's registry: register it, "
                f"nevergrad.optimizers.registry.register({value.__name__}), in a module the "
                f"search imports, and give its name, optimizer={value.__name__!r}")
    return (f"got {what}, not in nevergrad's registry: register it under a name of yours, "
            f"{value!r}.set_name('MyOptimizer', register=True), in a module the search "
            f"imports, and give that name, optimizer='MyOptimizer'")

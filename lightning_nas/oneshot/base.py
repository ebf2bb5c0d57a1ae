"""The base of the choice modules (``lightning_nas.oneshot.choices``): ``ChoiceModule`` (a
module with decisions, activated from an architecture, exported as plain ``torch.nn``),
``check_values`` (a decision's values checked when a module is built), ``check_width`` (a
module's largest input width, checked so) and ``FollowsInput``
(a layer that remembers the width of its last input, to slice and export by it) and
``one_width_each`` (refuses a pass that calls such a layer at two input widths).

Example:
    >>> check_values("depth", [1, 2], low=0)
    [1, 2]
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from torch import nn

from lightning_nas.errors import ConfigError, SpaceError
from lightning_nas.numeric import is_int
from lightning_nas.oneshot.mixed import Mixable
from lightning_nas.space import Param

__all__ = ["ChoiceModule", "FollowsInput", "check_values", "check_width", "one_width_each"]


class ChoiceModule(nn.Module, Mixable):
    """A module with decisions: ``decisions()`` maps labels to their parameters, and
    ``activate(arch)`` reads its labels from an architecture (``mixing``: ``oneshot.mixed``)."""

    def decisions(self) -> dict[str, Param]:
        """``{label: Choice/Ordered}`` of this module's own decisions."""
        return {}

    def activate(self, arch: Mapping[str, Any]) -> None:
        """Use the values of ``arch`` for this module's labels."""

    def active(self) -> dict[str, Any]:
        """The values in use, by label."""
        return {}

    def export(self) -> nn.Module:
        """A plain ``torch.nn`` module of the active path (run it once first, if it follows
        its input width)."""
        raise NotImplementedError


def check_values(label: str, values: Sequence[Any] | int, low: int | None = None,
                 none: str = "") -> list[Any]:
    """The values of decision ``label`` as a list (a single value: a list of one); ``none``
    is said after the error for a None among them (where None is taken instead).

    Example:
        >>> check_values("fc", [8, None], 1, none="None is taken by ChoiceConv2d only")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.SpaceError: choice 'fc' takes integers >= 1, got [8, None]; None ...

    Raises:
        SpaceError: no value, a value given twice, or (``low`` given) a value that is not
            an integer >= ``low``.
    """
    values = list(values) if isinstance(values, Sequence) and not isinstance(values, str) \
        else [values]
    if not values:
        raise SpaceError(f"choice {label!r} needs at least one value")
    if low is not None and any(not is_int(v) or v < low for v in values):
        # was: a depth -1 kept all but one block
        said = f"; {none}" if none and None in values else ""  # (was: not where None is taken)
        raise SpaceError(f"choice {label!r} takes integers >= {low}, got {values}{said}")
    repeated = [v for i, v in enumerate(values) if v in values[:i]]
    if repeated:  # was: refused at OneShotNAS.setup, not naming the label
        raise SpaceError(f"choice {label!r} takes each value once, got {repeated[0]!r} more "
                         f"than once in {values}")
    return values


def check_width(label: str, name: str, value: Any, *, who: str | None = None,
                made: str = "the weight is") -> int:
    """``value``, the largest input width a module's weight is made for (its argument
    ``name``), as an int; worded as ``check_values``' errors. ``who`` names a module with
    no decision (``ChoiceBatchNorm2d``) instead of ``choice 'label'``; ``made`` says what is
    made for the width.

    Example:
        >>> check_width("fc", "in_features", None)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.SpaceError: choice 'fc' takes in_features as an integer >= 1 ...

    Raises:
        SpaceError: for a value that is not an integer >= 1 (was: torch's bare ``TypeError``
            for None, an empty weight for 0).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        said = (f"; None is not taken: {made} made once, for the largest input width "
                f"(the width in use follows the input)" if value is None else "")
        raise SpaceError(f"{who or f'choice {label!r}'} takes {name} as an integer >= 1 (the "
                         f"largest input width), got {value!r}{said}")
    return int(value)


class FollowsInput(nn.Module):
    """Remembers the width of the last input (slices follow the previous layer's width)."""

    last_in: int | None = None
    widths_seen: set[int] | None = None  # within ``one_width_each``

    def _seen(self, width: int) -> int:
        self.last_in = width
        if self.widths_seen is not None:
            self.widths_seen.add(width)
        return width


@contextmanager
def one_width_each(model: nn.Module, who: str) -> Iterator[None]:
    """Raise ``ConfigError`` after the block (a forward pass through ``model``) when a layer
    that follows its input width was called at two widths in it: a layer shared by two
    places of other widths cannot become one plain ``torch.nn`` layer, so its export would
    be sliced by the last width alone (was: ``subnet.pt`` failed on its first input)."""
    layers = {name: m for name, m in model.named_modules() if isinstance(m, FollowsInput)}
    for layer in layers.values():
        layer.widths_seen = set()
    try:
        yield
        twice = [f"{getattr(m, 'label', type(m).__name__)!r} ({name or 'the network'}: "
                 f"{type(m).__name__}, input widths {sorted(m.widths_seen or ())})"
                 for name, m in layers.items() if len(m.widths_seen or ()) > 1]
    finally:
        for layer in layers.values():
            layer.widths_seen = None
    if twice:
        raise ConfigError(f"{who}: one forward calls {', '.join(twice)}: a layer used at two "
                          f"places takes one input width, else it cannot be exported as one "
                          f"plain torch.nn layer; give each place its own choice module")

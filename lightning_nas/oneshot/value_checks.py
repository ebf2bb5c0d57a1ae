"""Every value of every decision run once on the first training batch, before any step:
a path that picks a value the layers after it cannot take (a plain ``BatchNorm1d(32)``
after a ``ChoiceLinear`` of widths 8, 16 and 32) would crash the step that samples it,
the search that scores it or the export (DARTS: its mixed forward pads every width to the
widest, so only the argmax's export met it, after training). ``check_decision_values``
says so first, naming the label and the value.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from lightning_nas.oneshot.choices import ChoiceLinear
    >>> net = nn.Sequential(ChoiceLinear(4, [2, 8], label="w"), nn.BatchNorm1d(8)).eval()
    >>> check_decision_values(net, lambda: net(torch.zeros(3, 4)), "OneShotNAS")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: choice 'w': OneShotNAS trains, scores or exports ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from lightning_nas.errors import ConfigError, one_line
from lightning_nas.oneshot.choices import get_path, set_path, space_of

__all__ = ["check_decision_values"]


def check_decision_values(model: nn.Module, run: Callable[[], Any], who: str) -> None:
    """Run ``run`` (a forward of ``model`` on a batch, in eval mode and without gradients,
    as the caller sets up) once per value of each decision, the other decisions at the
    active path, and set that path back.

    Raises:
        ConfigError: a value whose forward raised, naming the label, the value, the error
            and what to do.
    """
    start = get_path(model)
    try:
        for label, param in space_of(model).params.items():
            for value in param.values:
                if value == start.get(label):
                    continue
                set_path(model, {**start, label: value})
                try:
                    run()
                except Exception as err:  # noqa: BLE001 - said with the label and value
                    raise ConfigError(
                        f"choice {label!r}: {who} trains, scores or exports paths that pick "
                        f"any of its values, and {label}={value!r} does not fit the network: "
                        f"{one_line(err, 300)} (run on the first training batch, the other "
                        f"decisions as {start}); a plain layer after a width choice takes "
                        f"one width: make it follow its input (ChoiceLinear, ChoiceConv2d, "
                        f"ChoiceBatchNorm2d) or drop the values it cannot take") from err
    finally:
        set_path(model, start)

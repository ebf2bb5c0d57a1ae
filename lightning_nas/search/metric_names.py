"""What a metric's name says: which way is better, and whether it is (or misspells) a cost
lightning_nas counts itself (``COSTS``).

- ``mode_for``: the ``mode`` a monitor's name implies (``val_loss``: min, ``val_acc``: max),
  for a monitor given without one; ``contrary_modes``: what is searched the other way from
  what its name says, for a warning before any trial trains.
- ``misspelt_cost``: the counted cost an objective name misspells (``FLOPs``, ``parms``).

``search/objectives.py`` re-exports these names (their earlier import path).

Example:
    >>> mode_for("val_loss"), misspelt_cost("parms")
    ('min', 'params')
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lightning_nas.errors import ConfigError

__all__ = ["COSTS", "contrary_modes", "misspelt_cost", "mode_for"]

#: objective / constraint names that lightning_nas counts itself (a trial's model that logs
#: one the search counts stops it: ``costs.LoggedCostCheck``)
COSTS = ("params", "flops")


def misspelt_cost(name: str) -> str | None:
    """The counted cost (``params``, ``flops``) that objective ``name`` misspells, or None:
    the cost in other case (``FLOPs``), or, case aside, with one letter missing (``parms``),
    one wrong (``parans``) or two swapped (``parmas``). A letter added is no misspelling
    here (``gflops``, ``nparams``: metrics a module may log), nor is a cost itself. Named
    only for an objective the model did not log (``check_objectives``): a model may log its
    own ``FLOPs`` (was: such an objective was refused before the search).

    Example:
        >>> misspelt_cost("FLOPs"), misspelt_cost("parms"), misspelt_cost("gflops")
        ('flops', 'params', None)
    """
    low = name.lower()
    for cost in () if name in COSTS else COSTS:
        if low == cost or (len(low) == len(cost) - 1 and any(
                low == cost[:i] + cost[i + 1:] for i in range(len(cost)))):
            return cost
        if len(low) == len(cost):
            wrong = [i for i in range(len(cost)) if low[i] != cost[i]]
            if len(wrong) == 1 or (len(wrong) == 2 and wrong[1] == wrong[0] + 1
                                   and low[wrong[0]] == cost[wrong[1]]
                                   and low[wrong[1]] == cost[wrong[0]]):
                return cost
    return None


#: words of a metric's name that say which way is better (``val_loss`` -> min)
_LOWER_IS_BETTER = frozenset({"loss", "error", "err", "mse", "mae", "rmse", "nll", "perplexity",
                              "ppl", "wer", "cer", "regret", "mape", "smape", "fid", "bpd"})
_HIGHER_IS_BETTER = frozenset({"acc", "accuracy", "acc1", "acc5", "top1", "top5", "f1",
                               "auroc", "auc", "precision", "recall", "iou", "miou", "dice",
                               "jaccard", "r2", "map", "reward", "bleu", "rouge", "psnr", "ssim",
                               "ndcg", "mcc", "kappa"})


def mode_for(monitor: str, python: bool = False) -> str:
    """The ``mode`` a monitor's name implies, for a monitor given without one; a name that
    says none is refused in a config's words (``monitor: 'val_score'``), or, ``python``, in
    the Python API's (``monitor='val_score'``, ``'max' or 'min'``).

    Example:
        >>> mode_for("val_loss"), mode_for("val/acc_best")
        ('min', 'max')
        >>> mode_for("val_score")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: `monitor: 'val_score'` needs a `mode` (max or min) ...

    Raises:
        ConfigError: when the name says neither, or both, or is turned round (``neg_loss``).
    """
    words = set(re.split(r"[^a-z0-9]+", monitor.lower()))
    lower, higher = bool(words & _LOWER_IS_BETTER), bool(words & _HIGHER_IS_BETTER)
    if lower != higher and not words & _TURNED:  # neg_loss is no loss (was: taken as min,
        # which ranked the worst architecture best)
        return "min" if lower else "max"
    said = (f"`monitor={monitor!r}` needs a `mode` ('max' or 'min')" if python  # (was: a
            else f"`monitor: {monitor!r}` needs a `mode` (max or min)")  # config's, always)
    raise ConfigError(f"{said} beside it: its name does not say whether higher is better (a "
                      f"loss or error is taken as min, an accuracy, F1, AUROC, ... as max)")


#: words that turn a name's way round (``neg_loss`` is maximised): such a name is not judged
_TURNED = frozenset({"neg", "negative", "minus", "inv", "inverse"})


def contrary_modes(modes: Mapping[str, str]) -> list[str]:
    """What is searched the other way from what its name says (``val_loss: max``), one line
    each, for a warning before any trial trains: a mode given by mistake (copied from an
    accuracy's config) ranks the worst architecture best, and no error would catch it.
    Names that say neither way (``val_score``), or that are turned round (``neg_loss``), and
    the counted costs are not judged.

    Example:
        >>> contrary_modes({"val_loss": "max", "val_acc": "max", "params": "max"})
        ["'val_loss' is maximised, but its name says lower is better (mode: min)"]
    """
    lines = []
    for name, mode in modes.items():
        if name in COSTS or set(re.split(r"[^a-z0-9]+", name.lower())) & _TURNED:
            continue
        try:
            said = mode_for(name)
        except ConfigError:  # the name says neither way (or both)
            continue
        if said != mode:
            way = "lower" if said == "min" else "higher"
            lines.append(f"{name!r} is {'maximised' if mode == 'max' else 'minimised'}, but "
                         f"its name says {way} is better (mode: {said})")
    return lines

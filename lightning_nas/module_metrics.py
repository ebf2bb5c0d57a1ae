"""``NASModule``'s validation metrics: the names it takes (``METRICS``), its ``metrics``
argument read and checked (``metric_names``: a mapping, a list of names or one name), and a
metric built for a task (``build_metric``).

Example:
    >>> metric_names("accuracy")
    {'accuracy': 'accuracy'}
    >>> build_metric("f1", 3, "multiclass").average
    'macro'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torchmetrics

from lightning_nas.errors import ConfigError, unknown

__all__ = ["METRICS", "TASK_METRICS", "build_metric", "metric_names"]

#: metric names accepted by ``NASModule(metrics=...)`` -> torchmetrics class
METRICS: dict[str, type[torchmetrics.Metric]] = {
    "accuracy": torchmetrics.Accuracy,
    "f1": torchmetrics.F1Score,
    "recall": torchmetrics.Recall,
    "precision": torchmetrics.Precision,
    "auroc": torchmetrics.AUROC,
    "mse": torchmetrics.MeanSquaredError,
    "mae": torchmetrics.MeanAbsoluteError,
}
#: the metrics a task and num_classes configure (class metrics)
TASK_METRICS = ("accuracy", "f1", "recall", "precision", "auroc")
#: the torchmetrics tasks of the metrics of ``TASK_METRICS``
_TASKS = ("binary", "multiclass", "multilabel")
#: averaged over classes (macro, as torchmetrics' Multiclass classes are by default)
_AVERAGED = ("f1", "recall", "precision")


def metric_names(metrics: Any) -> Mapping[str, Any]:
    """``{name: metric}`` of ``NASModule``'s ``metrics``: a mapping, a list of names or one
    name (was: a name taken character by character); a name a torch module cannot hold
    (``'top.1'``: was a ``KeyError``), ``'loss'`` (``val_loss`` is the loss), or a metric
    neither a name nor a torchmetrics ``Metric``, is refused."""
    metrics = [metrics] if isinstance(metrics, str) else metrics
    if not isinstance(metrics, Mapping):  # any iterable of names: a list, a set, keys()
        metrics = list(metrics) if isinstance(metrics, Iterable) else metrics
        if not isinstance(metrics, Iterable) or not all(isinstance(m, str) for m in metrics):
            raise ConfigError(f"metrics must be {{name: metric}}, a list of metric names or one "
                              f"name ({', '.join(METRICS)}), got {metrics!r}")
        metrics = {name: name for name in metrics}
    for name, metric in metrics.items():
        if not isinstance(name, str) or not name or "." in name:
            fixed = str(name).replace(".", "_") or "acc"
            raise ConfigError(f"metric name {name!r} must be a non-empty string without '.' "
                              f"(it names a torch module and the logged val_<name>); e.g. "
                              f"{fixed!r}")
        if name == "loss":  # (was: every trial failed, "self.log(val_loss, ...) twice")
            raise ConfigError("metric name 'loss' would log val_loss, which NASModule logs as "
                              "its loss; name it otherwise, e.g. 'loss_metric'")
        if not isinstance(metric, (str, torchmetrics.Metric)):  # (was: a TypeError, 'int')
            raise ConfigError(f"metric {name!r} must be a metric name ({', '.join(METRICS)}) "
                              f"or a torchmetrics Metric, got {metric!r}")
    return metrics


def build_metric(spec: Any, num_classes: int | None, task: str) -> torchmetrics.Metric:
    """The metric of ``spec`` (a ``METRICS`` name, or a torchmetrics ``Metric`` as it is) for
    ``task`` and ``num_classes``: a class metric (``TASK_METRICS``) of a task but ``binary``
    needs ``num_classes``; ``f1``, ``recall`` and ``precision`` of a multiclass task are
    macro-averaged.

    Raises:
        ConfigError: an unknown metric or task (naming the valid ones), a class metric
            without ``num_classes``, or arguments torchmetrics refuses.
    """
    if isinstance(spec, torchmetrics.Metric):
        return spec
    if spec not in METRICS:
        raise unknown("metric", spec, METRICS, listing="metrics")
    cls = METRICS[spec]
    if spec not in TASK_METRICS:
        return cls()
    tasks = dict.fromkeys(_TASKS)
    if not isinstance(task, str) or task not in tasks:  # (was: torchmetrics' error, 'replace')
        raise unknown("task", task, tasks, listing="tasks")
    if task != "binary" and num_classes is None:
        raise ConfigError(f"metric {spec!r} needs num_classes for task {task!r}")
    kwargs: dict[str, Any] = {"task": task}
    if task != "binary":  # multilabel: num_classes labels (was: num_labels never given)
        kwargs["num_classes" if task == "multiclass" else "num_labels"] = num_classes
        if spec in _AVERAGED:  # torchmetrics' task wrapper averages micro: = accuracy
            kwargs["average"] = "macro"
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:  # (was: torchmetrics' error, naming no metric)
        raise ConfigError(f"metric {spec!r} (task={task!r}, num_classes={num_classes!r}): "
                          f"{err}") from None

"""``warn_required``: a Hydra ``_target_`` node of a sweep's job config whose target lacks
a required argument in every job composed before the first (neither the config, a searched
key nor a command-line override gives it), said before the first job with the node's path
and the override that sets it; not refused, since the task function may pass it
(``instantiate(cfg.data, root=...)``), as ``hydra_schema.warn_missing`` says a ``???``;
and ``warn_model_optimizer``: a job's ``model`` node whose LightningModule has no
``configure_optimizers`` (a job that fits it fails), said before the first job, not refused:
the task function may only validate, test or predict with it.

Example:
    >>> from omegaconf import OmegaConf
    >>> job = OmegaConf.create({"data": {"_target_": "collections.Counter"}})
    >>> warn_required([job])  # Counter requires nothing: no word
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lightning_nas.config.calls import missing_args
from lightning_nas.config.cli_optim import check_optimizer_given
from lightning_nas.config.imports import import_object
from lightning_nas.config.nodes import HYDRA_KEYS, node_args
from lightning_nas.errors import ConfigError
from lightning_nas.user_warnings import warn_user

__all__ = ["warn_model_optimizer", "warn_required"]

#: a Hydra job's model gets its optimizer from its class alone (no optimizer section)
_OPTIM_FIX = "define {name}.configure_optimizers"


def warn_model_optimizer(jobs: Iterable[DictConfig]) -> None:
    """Warn, before the first job, of a job's ``model`` node (the LightningModule a Lightning
    project's task trains, ``instantiate(cfg.model)``) whose ``_target_`` class has no
    ``configure_optimizers`` of its own (``cli_optim.check_optimizer_given``): a job whose
    task fits it fails with Lightning's "No `configure_optimizers()` method defined". Not
    refused (was: refused, so a task that only validates the model ran no job): the task
    function may only validate, test or predict with it, or give it an optimizer itself.
    A target that does not import here, an interpolation, or no ``model`` node: not judged;
    each class said once.

    Args:
        jobs: the composed job configs, as written (not resolved).

    Example:
        >>> from omegaconf import OmegaConf
        >>> job = OmegaConf.create({"model": {"_target_": "torch.nn.Linear"}})
        >>> warn_model_optimizer([job])  # no LightningModule: not judged
    """
    said: set[str] = set()
    for job in jobs:
        target = OmegaConf.select(job, "model._target_", default=None,
                                  throw_on_resolution_failure=False)
        if not isinstance(target, str) or "${" in target or target in said:
            continue
        try:
            cls = import_object(target)
        except Exception:  # noqa: BLE001 - not importable here: said by the other checks
            continue
        try:
            check_optimizer_given(cls, {}, _OPTIM_FIX)
        except ConfigError:
            said.add(target)
            warn_user(f"config key 'model': its _target_ {target} has no "
                      f"configure_optimizers of its own (LightningModule's default), so a "
                      f"job whose task function fits it fails (Lightning: \"No "
                      f"`configure_optimizers()` method defined\"): "
                      f"{_OPTIM_FIX.format(name=cls.__name__)} (not refused: the task "
                      f"function may only validate, test or predict with it, or give it an "
                      f"optimizer itself)")


def warn_required(jobs: Iterable[DictConfig]) -> None:
    """Warn of each required argument of a ``_target_`` node's target that every one of
    ``jobs`` (the job configs composed before the first job) leaves out, Hydra's own keys
    (``config.nodes.HYDRA_KEYS``) aside: each job that builds the node fails (Hydra's
    ``InstantiationException``), unless its task passes the argument itself.

    Args:
        jobs: the composed job configs, as written (not resolved).
    """
    lacking: dict[tuple[str, str], str] | None = None
    for job in jobs:
        tree = OmegaConf.to_container(job, resolve=False)
        tree.pop("hydra", None)
        found = dict(_lacking(tree))
        lacking = found if lacking is None else {k: v for k, v in found.items() if k in lacking}
    for (path, arg), target in sorted((lacking or {}).items()):
        warn_user(f"config key {path!r}: its _target_ {target} lacks required argument "
                  f"{arg!r} in every job the sweep composed: neither the config, a searched "
                  f"key nor a command-line override gives it, so each job that builds "
                  f"{path} fails (Hydra's InstantiationException); set {path}.{arg} in the "
                  f"config or on the command line (+{path}.{arg}=...), or search it in "
                  f"hydra.sweeper.params (not refused: the task function may pass it, "
                  f"instantiate(cfg.{path}, {arg}=...))")


def _lacking(tree: Any, where: str = "") -> Iterator[tuple[tuple[str, str], str]]:
    """``((path, argument), target)`` for each required argument a ``_target_`` node in the
    plain ``tree`` leaves out; the nodes Hydra does not build (under ``_recursive_:
    false``) and a ``_partial_`` node's own (given when it is called) are not asked."""
    if isinstance(tree, list):
        for i, item in enumerate(tree):
            yield from _lacking(item, f"{where}[{i}]")
        return
    if not isinstance(tree, Mapping):
        return
    target = tree.get("_target_")
    if isinstance(target, str) and where and not tree.get("_partial_") \
            and "${" not in target:
        yield from ((key, target) for key in _missing(tree, target, where))
    if target is not None and tree.get("_recursive_") is False:
        return
    for name, value in tree.items():
        if name not in HYDRA_KEYS:
            yield from _lacking(value, f"{where}.{name}" if where else str(name))


def _missing(node: Mapping[str, Any], target: str, where: str) -> Iterator[tuple[str, str]]:
    """``(where, argument)`` for each required argument of ``target`` that ``node`` leaves
    out (a target that does not import here: none, said elsewhere)."""
    try:
        built = import_object(target)
    except Exception:  # noqa: BLE001 - the check of the searched keys warns of it
        return
    args = node.get("_args_")
    for arg in missing_args(built, len(args) if isinstance(args, list) else 0,
                            node_args(node)):
        yield where, arg

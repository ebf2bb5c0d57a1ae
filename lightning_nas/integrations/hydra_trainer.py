"""``check_trainer_values``: before a sweep's first job, its jobs' Trainer is built once for
each value a searched Trainer argument may take, as ``lightning-nas search`` builds each
searched Trainer value of its trials (``TrialTemplate.dry_build``): a value that no job can
build a Trainer with is refused, naming the key and the value, before anything is stored
(was: launched; each job that drew it failed building the Trainer, and two in a row before
a job completed stopped the sweep).

A job's Trainer is its config's ``trainer`` node, built as the lightning-hydra-template's
task builds it (``hydra.utils.instantiate(cfg.trainer, callbacks=..., logger=...)``; here
with no callbacks nor logger), its interpolations resolved as in a job
(``${hydra:runtime.output_dir}`` a temporary folder), nothing trained, launched or written.
Only a ``_target_`` node of a Lightning ``Trainer`` (or a subclass) is built: the sweep
cannot tell how a task builds anything else.

Each value is built beside the first sample's values of the other searched keys, or where
that fails, beside other combinations of them (``hydra_options``: a value that builds with
some is no config error; the jobs it fails in fail alone). A Trainer that builds with no
searched value at all (the config's own ``trainer`` node, which the task may build
otherwise) is warned of, and no value is blamed for it.

``check_sync_batchnorm_of`` refuses a job whose ``trainer`` asks for ``sync_batchnorm``
under DDP on CPU (``trainer_checks.check_sync_batchnorm``, as a plain search refuses it),
before any job runs (was: launched; each job failed in DDP's setup).

Example:
    >>> from omegaconf import OmegaConf
    >>> trainer_error(OmegaConf.create({"x": 1})) is None  # no trainer node: not checked
    True
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import lightning.pytorch as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from lightning_nas.config.instantiate import short
from lightning_nas.config.trainer_checks import check_sync_batchnorm
from lightning_nas.errors import ConfigError, one_line
from lightning_nas.integrations.hydra_combinations import also_with, compose_any
from lightning_nas.integrations.hydra_grammar import SweepParams, group_of, path_of
from lightning_nas.search.dry_builds import global_state_kept
from lightning_nas.space.params import Choice, Fixed, Float, Int
from lightning_nas.user_warnings import warn_user

__all__ = ["check_sync_batchnorm_of", "check_trainer_values", "trainer_error"]


class _TrainerFails(ConfigError):
    """A composed job whose Trainer does not build (``compose_any`` tries another
    combination of the other searched keys' values)."""


def check_trainer_values(config: DictConfig, loader: Any, sweep: SweepParams) -> None:
    """Build the Trainer of a job for each value each searched Trainer argument
    (``trainer.accelerator``, ``+trainer.precision``) or ``trainer`` config group option
    may take: a choice's values, a range's ends.

    Args:
        config: the sweep's config (Hydra's, composed without the searched values).
        loader: Hydra's config loader.
        sweep: the searched space and the command line's other overrides.

    Raises:
        ConfigError: ``sweep parameter 'trainer.accelerator' may take 'gpuu': ...``, for a
            value whose job's Trainer builds with none of the combinations tried.

    Warns:
        UserWarning: where the jobs' Trainer builds with no combination of the searched
            values (the config's own node: not blamed on a searched key, not refused).
    """
    keys = [k for k, p in sweep.space.params.items() if not isinstance(p, Fixed)
            and (path_of(k) == "trainer" or path_of(k).startswith("trainer."))
            and (isinstance(p, Choice) or not loader.get_group_options(group_of(k)))]
    if not keys:
        return
    found = compose_any(config, loader, sweep, {}, _check)
    if not isinstance(found, DictConfig):
        err, overrides, tried = found
        if isinstance(err, _TrainerFails):
            warn_user(f"the Trainer of the sweep's jobs (trainer) does not build here: "
                      f"{err}{also_with(tried)} (the job's overrides: {overrides}); its "
                      f"searched values are not checked, and each job builds its own")
        return  # (or a job that does not compose: check_composes' error, said already)
    for key in keys:
        for value in _tried(sweep.space.params[key]):
            found = compose_any(config, loader, sweep, {key: value}, _check)
            if isinstance(found, DictConfig) or not isinstance(found[0], _TrainerFails):
                continue  # it builds, or does not compose (option_jobs' refusal)
            err, overrides, tried = found
            raise ConfigError(f"sweep parameter {key!r} may take {short(value)}: {err}; "
                              f"found building the Trainer of a job before any job ran "
                              f"(every job drawing it would fail){also_with(tried)} (the job's "
                              f"overrides: {overrides})") from None


def check_sync_batchnorm_of(job: DictConfig, where: str = "") -> None:
    """Refuse ``job`` (a composed job config) where its ``trainer`` node sets
    ``sync_batchnorm: true`` under DDP on CPU (``check_sync_batchnorm``; a key holding what
    only a job resolves is left out); ``where`` names the searched values whose jobs these
    are (``trainer.sync_batchnorm=True``).

    Example:
        >>> check_sync_batchnorm_of(OmegaConf.create({"trainer": {"sync_batchnorm": True}}))

    Raises:
        ConfigError: ``trainer.sync_batchnorm=True needs CUDA devices: ...``.
    """
    trainer = job.get("trainer") if isinstance(job, DictConfig) else None
    if not isinstance(trainer, DictConfig) or "sync_batchnorm" not in trainer:
        return
    settings: dict[str, Any] = {}
    for key in ("sync_batchnorm", "accelerator", "strategy", "devices", "num_nodes"):
        try:  # these keys alone: others may hold what only a job resolves (output dir)
            value = trainer.get(key)
            settings[key] = (OmegaConf.to_container(value, resolve=True)
                             if OmegaConf.is_config(value) else value)
        except Exception:  # noqa: BLE001 - an interpolation only the job can resolve
            continue
    try:
        check_sync_batchnorm({k: v for k, v in settings.items() if v is not None})
    except ConfigError as err:
        key, _, rest = str(err).partition(" ")  # (the jobs of experiment=gpu): after the key
        jobs = f" (the jobs of {where})" if where and where != key else ""
        raise ConfigError(f"{key}{jobs} {rest}") from None


def _tried(param: Any) -> list[Any]:
    """The values of a searched key that are built: a choice's, a range's ends."""
    if isinstance(param, Choice):
        return list(param.values)
    return [param.low, param.high] if isinstance(param, (Int, Float)) else []


def _check(job: DictConfig, where: str) -> None:
    """``compose_any``'s check: raise ``_TrainerFails`` where ``job``'s Trainer does not
    build."""
    error = trainer_error(job)
    if error is not None:
        raise _TrainerFails(one_line(error))


def trainer_error(job: DictConfig) -> BaseException | None:
    """Build the Trainer of a composed job config (its ``trainer`` node, a ``_target_``
    node of a Lightning Trainer) without callbacks or logger, in a temporary folder, the
    global state kept: the error where it does not build, else None (also where there is
    no such node, or it holds what only a job resolves)."""
    node = job.get("trainer") if isinstance(job, DictConfig) else None
    if not isinstance(node, DictConfig) or not isinstance(node.get("_target_"), str):
        return None
    try:
        target = get_class(node["_target_"])
    except Exception:  # noqa: BLE001 - not a class that imports here: the job says
        return None
    if not (isinstance(target, type) and issubclass(target, pl.Trainer)):
        return None
    with tempfile.TemporaryDirectory(prefix="lnas-dry-") as tmp, _as_a_job(job, tmp) as run:
        try:
            if run is None:
                return None
            settings = OmegaConf.to_container(run.trainer, resolve=True)
        except Exception:  # noqa: BLE001 - an interpolation only the task fills
            return None
        with global_state_kept():
            try:
                instantiate(settings, callbacks=[], logger=False)
            except Exception as err:  # noqa: BLE001 - Hydra wraps the Trainer's error
                return err.__cause__ or err
    return None


@contextmanager
def _as_a_job(job: DictConfig, output_dir: str) -> Iterator[DictConfig | None]:
    """``job`` with ``hydra.runtime.output_dir`` set to ``output_dir`` (and ``hydra.job.num``
    to 0), Hydra's config set to it while inside, as the launcher sets a job's; None where
    ``job`` holds no Hydra node to set."""
    kept = HydraConfig.instance().cfg
    try:
        run = copy.deepcopy(job)
        with read_write(run.hydra), open_dict(run.hydra):
            run.hydra.runtime.output_dir = output_dir
            for key, value in (("num", 0), ("id", "0")):  # a sweep's jobs number them
                if OmegaConf.is_missing(run.hydra.job, key) or run.hydra.job.get(key) is None:
                    run.hydra.job[key] = value
        HydraConfig.instance().set_config(run)
    except Exception:  # noqa: BLE001 - no Hydra node (or not Hydra's): nothing to build
        HydraConfig.instance().cfg = kept
        yield None
        return
    try:
        yield run
    finally:
        HydraConfig.instance().cfg = kept

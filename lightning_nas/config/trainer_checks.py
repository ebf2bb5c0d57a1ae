"""Checks of a trial's Trainer settings that can be made before any training.

``check_trainer_kwargs`` names an unknown Trainer argument or one whose value does not fit
the Trainer's annotation (``trainer.max_epochs='abc'``); ``trains_nothing`` one under which
a fit trains nothing (``limit_train_batches=0``, a ``max_time`` of zero); ``check_validation_runs``
one under which no validation runs, so no monitor is ever logged (and, with
``check_epoch_bounds``, a ``min_epochs`` above ``max_epochs``); ``check_search_trainer``
one a search's trials cannot run with (``fast_dev_run``); ``check_sync_batchnorm`` a
``sync_batchnorm=True`` under DDP on CPU, which torch refuses when the strategy sets up.

Example:
    >>> check_trainer_kwargs({"max_epochs": 2, "accelerator": "cpu"})
    >>> check_trainer_kwargs({"max_epoch": 2})
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: unknown Trainer argument 'max_epoch'; did you mean ...
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import lightning.pytorch as pl

from lightning_nas.config.accumulation import accumulation, most_batches, said
from lightning_nas.config.instantiate import (
    accepted_kwargs,
    check_init_args,
    check_value,
    import_object,
    short,
)
from lightning_nas.config.logger_checks import check_one_w_and_b
from lightning_nas.config.node_labels import node_label
from lightning_nas.config.nodes import dict_kwargs_keys, is_hydra, is_node, node_args, target_path
from lightning_nas.errors import ConfigError, did_you_mean
from lightning_nas.numeric import is_int, is_number

__all__ = ["TRAINING_NEEDS", "check_epoch_bounds", "check_finetune_epochs", "check_search_trainer",
           "check_sync_batchnorm", "check_trainer_kwargs", "check_trainer_space_keys",
           "check_validation_runs", "fast_dev_run_said", "trainer_hints", "trains_nothing"]

#: the Trainer settings under which a fit may train nothing, and what each needs to train
TRAINING_NEEDS = {
    "limit_train_batches": "above 0 (batches, or a fraction of each epoch's)",
    "max_epochs": ">= 1 (or -1: no limit)", "max_steps": ">= 1 (or -1: no limit)",
    "max_time": "above zero (a 'DD:HH:MM:SS' string, a dict of timedelta arguments; or null: "
                "no limit)"}


@functools.lru_cache(maxsize=1)
def trainer_hints() -> dict[str, Any]:
    """The type hints of ``Trainer.__init__`` as this process resolves them (read once;
    empty where they do not resolve)."""
    try:
        return typing.get_type_hints(pl.Trainer.__init__)
    except Exception:  # noqa: BLE001 - unresolvable annotations: check names only
        return {}


def check_trainer_space_keys(keys: Iterable[str]) -> None:
    """Raise ``ConfigError`` for a space key ``trainer.NAME`` whose ``NAME`` the Trainer does
    not take, named as a key (was: "space key 'trainer.max_epoch' may take 1: unknown
    Trainer argument ...", as if its value were wrong).

    Example:
        >>> check_trainer_space_keys(["width", "trainer.max_epochs"])
        >>> check_trainer_space_keys(["trainer.max_epoch"])
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: space key 'trainer.max_epoch' is not a Trainer ...
    """
    names, _ = accepted_kwargs(pl.Trainer.__init__)
    for key in keys:
        head, _, rest = str(key).partition(".")
        if head == "trainer" and rest and rest.partition(".")[0] not in names:
            hint = did_you_mean(key, [f"trainer.{name}" for name in names])
            raise ConfigError(f"space key {key!r} is not a Trainer argument; {hint}valid "
                              f"arguments: {', '.join(sorted(names))}")


def check_trainer_kwargs(kwargs: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` for keys that ``lightning.pytorch.Trainer`` does not take, and
    for values that do not fit the Trainer's annotations (``class_path`` specs are built
    and checked later), two W&B loggers in one ``logger`` list (``check_one_w_and_b``),
    and ``check_sync_batchnorm``'s settings (a ``fit``'s, a fine-tune's too); a node of a
    config's mapping of named callbacks or loggers is said by its name
    (``node_labels.node_label``: ``trainer.callbacks.early_stopping.patiense``; was: by its
    place in the list, ``trainer.callbacks[1].patiense``)."""
    names, _ = accepted_kwargs(pl.Trainer.__init__)
    hints = trainer_hints()
    for key, value in kwargs.items():
        if key not in names:
            hint = did_you_mean(key, names)
            raise ConfigError(f"unknown Trainer argument {key!r}; {hint}valid arguments: "
                              f"{', '.join(sorted(names))}")
        if key in hints:
            try:
                check_value(f"trainer.{key}", value, hints[key], "Trainer", strict=True)
            except ConfigError as err:  # a group file's name: what to write instead
                raise ConfigError(f"{err}{_file_note(key, value)}") from None
        _check_counts(key, value)
        nodes = value if isinstance(value, list) else [value]
        for i, node in enumerate(nodes):  # callbacks, a logger, ...: their own arguments
            if is_node(node):
                where = node_label(f"trainer.{key}", i) if isinstance(value, list) \
                    else f"trainer.{key}"  # a named node: by its name (was: [i])
                check_init_args(_import(where, target_path(node)), node_args(node), where,
                                dict_kwargs=dict_kwargs_keys(node), written=is_hydra(node))
        if key == "logger":  # two W&B loggers: both in one run
            check_one_w_and_b(value)
    check_sync_batchnorm(kwargs)  # (was: torch's traceback in DDP's setup, on CPU)


#: a command line that adds one object to a Trainer argument taking a list of them
_ADDED = {"callbacks": "--trainer.callbacks+=EarlyStopping --trainer.callbacks.patience=5",
          "logger": "--trainer.logger+=CSVLogger --trainer.logger.save_dir=logs",
          "plugins": "--trainer.plugins+=CLASS"}


def _file_note(key: str, value: Any) -> str:
    """For a YAML file's name given as a Trainer argument (the lightning-hydra-template's
    ``callbacks: default.yaml``, its group file named from the trainer section): no file
    is read there, and what to write instead; ``""`` for any other value (was: the
    annotation alone, ``expected list[Callback] or Callback or null``)."""
    if not (isinstance(value, str) and value.endswith((".yaml", ".yml"))):
        return ""
    added = f", or add each on the command line: {_ADDED[key]}" if key in _ADDED else ""
    name = {"callbacks": "model_checkpoint", "logger": "csv"}.get(key, "name")
    return (f"; a YAML file's name is not read at trainer.{key} (the sections model:, data: "
            f"and trainer: alone may name one): paste the file's content there as it is (a "
            f"mapping of named nodes, {{{name}: {{_target_: ...}}, ...}}, or a list of "
            f"nodes){added}")


def _check_counts(key: str, value: Any) -> None:
    """Counts the Trainer takes without checking them (it fails in the first step)."""
    number = is_number(value)
    if key == "accumulate_grad_batches" and number and value < 1:
        raise ConfigError(f"trainer.accumulate_grad_batches={value!r}: must be >= 1 (the "
                          f"batches whose gradients one optimizer step sums)")
    if key == "check_val_every_n_epoch" and number and value < 1:
        raise ConfigError(f"trainer.check_val_every_n_epoch={value!r}: must be an integer >= 1 "
                          f"(validate every that many epochs), or null (validate by "
                          f"val_check_interval in training batches alone)")
    if key == "gradient_clip_val" and number and not value >= 0:  # NaN too
        raise ConfigError(f"trainer.gradient_clip_val={value!r}: must be a number >= 0 (0 or "
                          f"null: no clipping); torch clips by a negative bound by flipping "
                          f"the gradients' sign, so the weights would step uphill")
    if key == "max_epochs" and number and value < -1:
        raise ConfigError(f"trainer.max_epochs={value!r}: must be >= 0, or -1 (no limit)")
    if key == "val_check_interval" and number and (
            value < 1 if isinstance(value, int) else not 0 < value <= 1):
        raise ConfigError(f"trainer.val_check_interval={value!r}: a fraction of an epoch in "
                          f"(0, 1], or an int >= 1 of training batches")


def check_validation_runs(kwargs: Mapping[str, Any], monitor: str,
                          module_callbacks: Sequence[Any] | None = ()) -> None:
    """Raise ``ConfigError`` for Trainer settings under which validation never runs: a
    trial (or a fit, or a fine-tune) is scored by ``monitor`` after validation, so it would
    fail after training. First ``check_epoch_bounds``: these settings are every check's
    that judges one trial's Trainer as a whole.

    An integer ``val_check_interval`` with ``check_val_every_n_epoch=None`` is compared
    with the most training batches ``max_steps`` can take (``accumulation.most_batches``,
    the schedule from the settings and ``module_callbacks``, what the module's
    ``configure_callbacks()`` returns); ``module_callbacks=None`` (the module not asked
    yet, and its accumulation scheduler would count) leaves that comparison out.

    Example:
        >>> check_validation_runs({"max_epochs": 4, "check_val_every_n_epoch": 2}, "val_acc")
        >>> check_validation_runs({"limit_val_batches": 0}, "val_acc")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.limit_val_batches=0 runs no validation, ...
    """
    check_epoch_bounds(kwargs)
    if kwargs.get("barebones") is True:  # (was: the Trainer's refusal of a logger of ours)
        raise ConfigError(f"trainer.barebones=True turns off self.log, which Lightning then "
                          f"refuses: the monitor {monitor!r} could never be logged (nor a "
                          f"checkpoint or a log kept); leave it out (or false): progress bars "
                          f"and model summaries are off already")
    every, epochs = kwargs.get("check_val_every_n_epoch", 1), kwargs.get("max_epochs")
    nothing = trains_nothing(kwargs)  # (was: a max_time of zero taken: each trial failed)
    if is_number(kwargs.get("limit_val_batches")) and kwargs["limit_val_batches"] == 0:
        why = f"trainer.limit_val_batches={kwargs['limit_val_batches']!r}"
    elif nothing:  # no training (a fit with no training batch or step runs no validation)
        why = f"trainer.{nothing}={kwargs[nothing]!r}"
    elif isinstance(every, int) and isinstance(epochs, int) and 0 < epochs < every:
        why = f"trainer.check_val_every_n_epoch={every} with max_epochs={epochs}"
    elif every is None and is_int(interval := kwargs.get("val_check_interval")) and is_int(
            steps := kwargs.get("max_steps")) and steps > 0 and module_callbacks is not None \
            and (counted := accumulation(kwargs, module_callbacks)) and (
                most := most_batches(steps, counted[0], kwargs.get("max_epochs"))) < interval:
        # it counts training batches, max_steps optimizer steps: each of at most that many
        # batches (was: steps taken for batches, and a validating setting refused), over
        # the epochs reached (was: a scheduler's largest factor, for every step)
        why = (f"trainer.val_check_interval={interval} with check_val_every_n_epoch=None and "
               f"max_steps={steps}" + said(*counted, steps, most))
    else:
        return
    raise ConfigError(f"{why} runs no validation, so the monitor {monitor!r} would never be "
                      f"logged (a trial is scored after validation); let validation run at "
                      f"least once")


def check_epoch_bounds(kwargs: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` for a ``min_epochs`` above ``max_epochs``, or a ``min_steps``
    above ``max_steps`` (both >= 1): Lightning stops at the maximum and ignores the minimum
    without a word.

    Example:
        >>> check_epoch_bounds({"min_epochs": 2, "max_epochs": 3})
        >>> check_epoch_bounds({"min_epochs": 5, "max_epochs": 3})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.min_epochs=5 is above max_epochs=3: ...
    """
    for unit in ("epochs", "steps"):  # min_steps above max_steps likewise (was: taken)
        low, high = kwargs.get(f"min_{unit}"), kwargs.get(f"max_{unit}")
        if is_int(low) and is_int(high) and 1 <= high < low:
            raise ConfigError(f"trainer.min_{unit}={low} is above max_{unit}={high}: "
                              f"Lightning stops at max_{unit} and ignores min_{unit}; set "
                              f"min_{unit} <= max_{unit} (or leave min_{unit} out)")


def check_finetune_epochs(max_epochs: Any, trainer: Mapping[str, Any] | None,
                          cli: bool = False) -> None:
    """Refuse a fine-tune's ``max_epochs`` that is not a positive integer, or -1 (no limit)
    beside a ``trainer`` ``max_steps`` or ``max_time`` that limits it (``max_steps: -1`` and
    ``max_time: None`` are Lightning's "no limit"); ``None`` (the trial's epochs) passes.
    Named as the caller gave it: ``finetune()``'s ``max_epochs`` and ``trainer``, or with
    ``cli`` the flags of ``lightning-nas finetune`` (``--max_epochs``, ``--trainer.*``).

    Example:
        >>> check_finetune_epochs(-1, {"max_steps": 12})
        >>> check_finetune_epochs(0, None, cli=True)
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: --max_epochs must be a positive integer (the ...
    """
    if max_epochs is None or (type(max_epochs) is int and max_epochs > 0):
        return
    given = trainer or {}
    # (was: -1 trained for ever, the search's step and time limits dropped with max_epochs;
    # 0 and non-integers were said as trainer.max_epochs, a key not given)
    limits = {k: given[k] for k in ("max_steps", "max_time") if k in given}
    unlimited = {k: v for k, v in limits.items() if v in (-1, None)}
    if max_epochs == -1 and type(max_epochs) is int and len(limits) > len(unlimited):
        return
    key = "--trainer.{}={!r}" if cli else "trainer {}={!r}"
    none = "".join(f"; {key.format(k, v)} is no limit" for k, v in unlimited.items())
    name, beside = (("--max_epochs", "--trainer.max_steps or --trainer.max_time") if cli
                    else ("max_epochs", "trainer max_steps or max_time"))
    raise ConfigError(f"{name} must be a positive integer (the fine-tune's epochs), or -1 (no "
                      f"limit) beside {beside}; got {max_epochs!r}{none}")


def fast_dev_run_said(value: Any) -> str | None:
    """What ``trainer.fast_dev_run=value`` runs, said as a refusal's start (None: it is off,
    ``None``, ``False`` or 0): the search's and the one-shot run's refusals of it.

    Example:
        >>> fast_dev_run_said(3), fast_dev_run_said(False)
        ('trainer.fast_dev_run=3 runs 3 batches of training and validation', None)
    """
    if value is None or value is False or value == 0:
        return None
    batches = 1 if value is True else value
    return (f"trainer.fast_dev_run={value!r} runs {batches} batch{'es' * (batches != 1)} of "
            f"training and validation")


def check_search_trainer(kwargs: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` for Trainer settings a search's trials cannot run with:
    ``fast_dev_run`` trains and validates a batch or a few, with no checkpoint and no
    logger, so every trial would be stored as completed on a one-batch score and use up the
    budget (one fit or fine-tune with it is a debugging run of its own, and allowed).

    Example:
        >>> check_search_trainer({"max_epochs": 2, "fast_dev_run": False})
        >>> check_search_trainer({"fast_dev_run": True})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.fast_dev_run=True runs 1 batch of ...
    """
    said = fast_dev_run_said(kwargs.get("fast_dev_run"))
    if said is None:
        return
    raise ConfigError(f"{said}, with no checkpoint "
                      f"and no logger: every trial would be stored as completed on that score "
                      f"and use up the budget; search trials need real epochs: for a quick "
                      f"search set limit_train_batches and limit_val_batches (and a small "
                      f"max_epochs), or try one model with lightning-nas fit")


def check_sync_batchnorm(kwargs: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` for ``sync_batchnorm=True`` under DDP on CPU: torch's
    ``SyncBatchNorm`` needs CUDA devices, and DDP refuses it on CPU when the strategy sets
    up ("SyncBatchNorm layers only work with GPU modules"), so it is said before anything
    is built or any process started. DDP: a DDP strategy (a registered name such as
    ``ddp``, or a ``DDPStrategy`` node), or Lightning's auto strategy with several devices
    or nodes; CPU: ``accelerator: cpu``, or an auto accelerator where CUDA is not available.

    Example:
        >>> check_sync_batchnorm({"sync_batchnorm": True, "accelerator": "gpu"})
        >>> check_sync_batchnorm({"sync_batchnorm": True, "accelerator": "cpu",
        ...                       "strategy": "ddp", "devices": 2})
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: trainer.sync_batchnorm=True needs CUDA devices: ...
    """
    if kwargs.get("sync_batchnorm") is not True:
        return
    accelerator = kwargs.get("accelerator", "auto")
    if not isinstance(accelerator, str) or accelerator.lower() not in ("cpu", "auto"):
        return
    if accelerator.lower() == "auto":
        import torch

        if torch.cuda.is_available():
            return
    strategy = kwargs.get("strategy", "auto")
    if not (_is_ddp(strategy) or (strategy in (None, "auto") and _several_cpu_ranks(kwargs))):
        return
    raise ConfigError(f"trainer.sync_batchnorm=True needs CUDA devices: torch's SyncBatchNorm "
                      f"does not run on CPU, and DDP (trainer.strategy={strategy!r}, "
                      f"accelerator={accelerator!r}) refuses it when it sets up; leave "
                      f"sync_batchnorm off on CPU (each rank normalises its own batch), or "
                      f"train on GPUs (trainer.accelerator=gpu)")


def _several_cpu_ranks(kwargs: Mapping[str, Any]) -> bool:
    """Whether Trainer settings on CPU start more than one process (Lightning's auto
    strategy is then DDP): several nodes, or several devices (a count, a list, ``"0,1"``;
    ``auto`` on CPU is one)."""
    nodes, devices = kwargs.get("num_nodes", 1), kwargs.get("devices", "auto")
    if is_int(nodes) and nodes > 1:
        return True
    if isinstance(devices, (list, tuple)):
        return len(devices) > 1
    if isinstance(devices, str):
        text = devices.strip()
        if "," in text:
            return len([part for part in text.split(",") if part.strip()]) > 1
        return text.isdigit() and int(text) > 1
    return is_int(devices) and devices > 1


def _is_ddp(strategy: Any) -> bool:
    """Whether ``strategy`` is a registered name of Lightning's (``ddp``, ``ddp_spawn``) or
    a node of a ``DDPStrategy`` (or a subclass)."""
    from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry

    if isinstance(strategy, str) and strategy.lower() in StrategyRegistry:
        target = StrategyRegistry[strategy.lower()]["strategy"]
    elif is_node(strategy):
        try:
            target = import_object(target_path(strategy))
        except ConfigError:  # the Trainer's check names a bad class path
            return False
    else:
        return False
    return isinstance(target, type) and issubclass(target, DDPStrategy)


def trains_nothing(kwargs: Mapping[str, Any]) -> str | None:
    """The first of ``TRAINING_NEEDS`` under which a fit of the Trainer settings ``kwargs``
    trains nothing (0; for ``max_time`` no time: ``"00:00:00:00"``, a dict of zeros, a
    zero ``timedelta``), or None.

    Example:
        >>> trains_nothing({"max_epochs": 3, "max_time": {"minutes": 0}})
        'max_time'
        >>> trains_nothing({"max_time": "00:00:05:00", "limit_train_batches": 0.5}) is None
        True
    """
    for key in TRAINING_NEEDS:
        value = kwargs.get(key)
        if _no_time(value) if key == "max_time" else is_number(value) and value == 0:
            return key
    return None


def _no_time(value: Any) -> bool:
    """Whether a ``max_time``, as Lightning's ``Timer`` reads it, is no time at all (a value
    it refuses is not: its constructor says why)."""
    try:
        if isinstance(value, str):
            days, hours, minutes, seconds = (int(part) for part in value.strip().split(":"))
            value = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        elif isinstance(value, Mapping):
            value = timedelta(**value)
    except (TypeError, ValueError, OverflowError):
        return False
    return isinstance(value, timedelta) and value <= timedelta(0)


def _import(where: str, path: Any) -> Any:
    """``import_object(path)``, its error naming the config path."""
    try:
        return import_object(path)
    except ConfigError as err:
        raise ConfigError(f"{where}={short(path)}: {err}") from None

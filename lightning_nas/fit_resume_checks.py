"""What a resumed ``lightning-nas fit`` or ``finetune`` must share with the interrupted run.

A fit's or fine-tune's checkpoints keep its settings (``fit_record``, under ``FIT_RECORD``);
``check_resume`` refuses a resume whose settings differ (but ``CHANGEABLE`` Trainer arguments
and a larger ``max_epochs``; Trainer arguments compared as Lightning takes them), before any
training, and warns of reloaded dataloaders (other shuffles); ``recorded_epochs`` is the
interrupted run's ``max_epochs``; ``load_checkpoint`` reads a checkpoint, or says why it is
none. All importable from ``fit_resume`` too.

Example:
    >>> "max_epochs" in CHANGEABLE, START
    (True, 'start_metrics')
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lightning_nas.arch import is_plain, plain
from lightning_nas.errors import ConfigError
from lightning_nas.fit_resume_words import EPOCHS_SAID, ckpt_said, leave_out
from lightning_nas.numeric import is_int
from lightning_nas.search.checkpoints import checkpoint_complete, epochs_trained
from lightning_nas.search.setting_checks import in_words
from lightning_nas.search.trainer_spelling import as_taken
from lightning_nas.search.trial_checkpoint import FIT_RECORD
from lightning_nas.user_warnings import warn_user

__all__ = ["CHANGEABLE", "START", "check_resume", "fit_record", "load_checkpoint",
           "recorded_epochs"]

#: the record's key of a fine-tune's start: its weights' metrics before training
START = "start_metrics"
#: Trainer arguments a resume may change (Lightning's own resume takes them): how long it
#: trains, where and on what it runs, what it shows and logs; any other is the run's
CHANGEABLE = frozenset({
    "max_epochs", "max_steps", "max_time", "accelerator", "devices", "num_nodes", "strategy",
    "callbacks", "logger", "enable_progress_bar", "enable_model_summary", "log_every_n_steps",
    "profiler", "default_root_dir"})


def _shown(value: Any) -> Any:
    """``value`` as a checkpoint keeps it: plain data as is, an object by its class's
    import path (a class or function by its own)."""
    if isinstance(value, Mapping):
        return {str(k): _shown(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shown(v) for v in value]
    value = plain(value)
    if is_plain(value):
        return value
    named = value if hasattr(value, "__qualname__") else type(value)
    return f"{getattr(named, '__module__', '?')}.{named.__qualname__}"


def fit_record(spec: Any, kind: str) -> dict[str, Any]:
    """The settings of a fit's or fine-tune's ``spec`` (a ``TrialSpec``) that make its
    result what it says, kept in its checkpoints so a resume is checked against them.

    Example:
        >>> from types import SimpleNamespace
        >>> spec = SimpleNamespace(trial_id=3, arch={"width": 8}, model="m.Net",
        ...     model_init_args={}, data=None, data_init_args={}, seed=0, monitor="val_acc",
        ...     mode="max", init_weights=None, cli_optim={}, trainer={"max_epochs": 4})
        >>> fit_record(spec, "fine-tune")["trainer"], fit_record(spec, "fit")["max_epochs"]
        ({}, 4)
    """
    model = getattr(spec.model, "section", spec.model)  # a config's ConfigBuilder: its node
    data = getattr(spec.data, "section", spec.data)
    # a fine-tune's optimizer: continued from its checkpoint, or fresh (``check_resume``
    # reads a fine-tune's record without the key, of an older version, as fresh)
    optim = {} if kind != "fine-tune" else {"optimizer_state": "restore" if getattr(
        spec, "restore_optimizer", None) else "fresh"}
    return {**optim, "kind": kind, "trial": spec.trial_id, "arch": _shown(spec.arch),
            "model": _shown(model), "model_init_args": _shown(spec.model_init_args),
            "data": _shown(data), "data_init_args": _shown(spec.data_init_args),
            "seed": spec.seed, "monitor": spec.monitor, "mode": spec.mode,
            "start": "fresh weights" if spec.init_weights is None else "checkpoint",
            "cli_optim": _shown(spec.cli_optim),
            "trainer": _shown({k: v for k, v in spec.trainer.items() if k not in CHANGEABLE}),
            "max_epochs": _shown(spec.trainer.get("max_epochs"))}


def load_checkpoint(path: Path, said: str) -> dict[str, Any]:
    """The checkpoint at ``path``, or a ``ConfigError`` saying why it is none."""
    try:
        if not checkpoint_complete(path):
            raise ValueError("cut off before its end")
        ckpt = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is said as one
        raise ConfigError(f"{said}: not a checkpoint torch can read ({err})") from None
    if not isinstance(ckpt, dict):
        raise ConfigError(f"{said}: not a Lightning checkpoint")
    return ckpt


def recorded_epochs(ckpt_path: Path) -> Any:
    """The ``max_epochs`` the interrupted run of ``ckpt_path`` was given (its default on
    resume when none is given)."""
    return (load_checkpoint(ckpt_path, ckpt_said(ckpt_path)).get(FIT_RECORD) or {}).get(
        "max_epochs")


def _flat(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record's values by dotted key, one level into mappings."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, Mapping) and key != "arch":
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def _taken(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``_flat``'s ``flat`` with its ``trainer.*`` values as Lightning takes them
    (``as_taken``: one at ``Trainer.__init__``'s default left out, a precision's other
    spelling the one it converts to), for a resume to compare; a record of any version."""
    trainer = {k.split(".", 1)[1]: v for k, v in flat.items() if k.startswith("trainer.")}
    return {**{k: v for k, v in flat.items() if not k.startswith("trainer.")},
            **{f"trainer.{k}": v for k, v in as_taken(trainer).items()}}


def check_resume(spec: Any, ckpt_path: Path, kind: str) -> None:
    """Refuse to resume ``ckpt_path`` with ``spec`` where a setting of ``fit_record``
    differs from the interrupted run's (a larger ``max_epochs`` or any ``CHANGEABLE``
    Trainer argument may), or where ``max_epochs`` is below the epochs it trained. Trainer
    arguments are compared as Lightning takes them (``_taken``), said as written.

    The interrupted run's ``START`` (the metrics of its starting weights, validated before
    its first segment trained) goes into ``spec.record``: the resumed run reports them and
    its own checkpoints keep them.

    A resume under ``reload_dataloaders_every_n_epochs`` above 0 is warned of
    (``_warn_reloads``): its epochs draw other shuffles than an uninterrupted run's.

    Raises:
        ConfigError: naming each setting that differs, its value here and there.
    """
    ckpt = load_checkpoint(ckpt_path, ckpt_said(ckpt_path))
    recorded = {k: v for k, v in ckpt[FIT_RECORD].items() if k != START}  # measured, not set
    old, new = _flat(recorded), _flat(fit_record(spec, kind))
    if kind == "fine-tune":  # one of a version before optimizer_state: a fresh optimizer
        old.setdefault("optimizer_state", "fresh")
    old.pop("max_epochs", None)
    epochs = new.pop("max_epochs", None)
    missing, old_taken, new_taken = object(), _taken(old), _taken(new)
    differ = [f"{key}: {new.get(key, missing)!r} here, "
              f"{'not set' if old.get(key, missing) is missing else repr(old[key])} in the "
              f"interrupted run" for key in sorted({*old, *new})
              if old_taken.get(key, missing) != new_taken.get(key, missing)]
    differ = [d.replace(f"{missing!r} here", "not set here") for d in differ]
    if differ:
        raise ConfigError(f"{ckpt_said(ckpt_path)}: the {kind} would resume with other "
                          f"settings than it trained with ({'; '.join(differ)}); give those "
                          f"it was started with, or {leave_out()} to train a new one")
    done = epochs_trained(ckpt) - 1  # epochs 0..done trained
    if isinstance(epochs, int) and 0 <= epochs <= done:
        raise ConfigError(f"max_epochs {epochs} of the resumed {kind} ("
                          f"{in_words('--max_epochs, --trainer.max_epochs', EPOCHS_SAID[kind])}"
                          f"): it trained epochs 0..{done} already; give "
                          f"at least {done + 1}, or the interrupted run's "
                          f"{ckpt[FIT_RECORD].get('max_epochs')}")
    _warn_reloads(spec.trainer, kind)
    if spec.record is not None:  # the start its first segment validated: said at the end
        spec.record[START] = dict(ckpt[FIT_RECORD].get(START) or {})


def _warn_reloads(trainer: Mapping[str, Any], kind: str) -> None:
    """Warn that a resumed ``kind`` under ``reload_dataloaders_every_n_epochs`` above 0
    trains other epochs than one in one go: Lightning makes a reload epoch's training
    iterator twice in a fit and once in the epoch it resumes at, and counts reloads from
    there (was: resumed without a word; a search refuses it where it pauses trials)."""
    reload = trainer.get("reload_dataloaders_every_n_epochs")
    if is_int(reload) and reload > 0:
        warn_user(f"trainer.reload_dataloaders_every_n_epochs={reload}: the resumed {kind} "
                  f"draws other shuffles{'' if reload == 1 else ' and reloads at other epochs'}"
                  f" than an uninterrupted one would (Lightning makes a reload epoch's "
                  f"training iterator twice in a fit, once in the epoch it resumes at), so its "
                  f"epochs from here on differ from those of a {kind} in one go")

"""Builds before training that leave nothing behind: ``global_state_kept`` restores the
global flags a Trainer's constructor sets and quiets Lightning, ``attempt_build`` runs a
build and returns its error (its parameters on the meta device first where asked), and a
trial's Trainer is built in a temporary folder (``dry_spec``), nothing trained or launched:
``trainer_fault`` names the Trainer argument at fault, ``check_trainer_builds`` refuses a
fit's or a fine-tune's Trainer, ``check_searched_builds`` each value a searched Trainer
argument may take (``TrialTemplate.dry_build``'s Trainer part).

Example:
    >>> attempt_build(lambda: int("x"), meta=False)
    ValueError("invalid literal for int() with base 10: 'x'")
    >>> attempt_build(lambda: None, meta=False) is None
    True
"""

from __future__ import annotations

import dataclasses
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lightning_nas.config.instantiate import blame, short
from lightning_nas.errors import ConfigError, one_line
from lightning_nas.search.logger_objects import unstarted
from lightning_nas.search.meta_build import parameters_on_meta
from lightning_nas.search.torch_flags import torch_flags_kept
from lightning_nas.search.trial import TrialSpec, build_trainer, quiet_lightning

__all__ = ["attempt_build", "check_searched_builds", "check_trainer_builds", "check_tuners",
           "dry_spec", "global_state_kept", "said_where", "trainer_fault"]


def check_trainer_builds(spec: TrialSpec, of: str = "the fit") -> None:
    """Build the Trainer of ``spec`` (a fit or a fine-tune) as ``fit_trial`` builds it, with
    the user's callbacks and logger, in a temporary folder: without training, starting
    processes (a DDP Trainer's ranks start in ``fit``) or writing into ``spec.trial_dir``.

    Args:
        spec: what is trained; only its Trainer settings are built.
        of: what the Trainer is for, as the message says it (``"the fine-tune"``).

    Raises:
        ConfigError: naming the Trainer argument at fault and its value
            (``trainer.gradient_clip_algorithm='nrm': ...``), else ``trainer``.
    """
    fault = trainer_fault(spec)
    if fault is not None:
        path, value, error = fault
        where, said = said_where(path, value, one_line(error), "trainer")
        raise ConfigError(f"{where}{said}; found building the Trainer of {of} "
                          f"before any training (no folder was made)")


def said_where(path: str | None, value: Any, said: str, section: str) -> tuple[str, str]:
    """The prefix naming the argument at fault (``path=value: ``, else ``section: ``) and
    the error ``said``, the prefix left out where the error names the key itself, as the
    config wrote it (``trainer.callbacks.early_stopping: ...``; was: the list the named
    mapping is built into before it), or names it with its value (``path=...``).

    Example:
        >>> said_where("trainer.callbacks", [], "trainer.callbacks.stop: EarlyStopping: ...",
        ...            "trainer")
        ('', 'trainer.callbacks.stop: EarlyStopping: ...')
    """
    if path is None:
        return f"{section}: ", said
    if said.startswith((f"{path}=", f"{path}.", f"{path}[", f"{path}: ")):  # named there
        return "", said
    return f"{path}={short(value)}: ", said


def trainer_fault(spec: TrialSpec) -> tuple[str | None, Any, BaseException] | None:
    """Build ``spec``'s Trainer in a temporary folder, global state kept, a W&B logger
    object stood in for (``unstarted``): None when it builds, else the argument at fault
    (``blame``; None, None when none alone is) and the error."""
    with global_state_kept(), tempfile.TemporaryDirectory(prefix="lnas-dry-") as tmp:
        spec = dry_spec(spec, tmp)

        def build(settings: dict[str, Any]) -> BaseException | None:
            changed = dataclasses.replace(spec, trainer=settings)
            return attempt_build(lambda: check_tuners(build_trainer(changed, [])), meta=False)

        error = build(spec.trainer)
        if error is None:
            return None
        path, value = blame(build, spec.trainer, "trainer") or (None, None)
        return path, value, error


def check_tuners(trainer: Any) -> None:
    """Refuse, as the fit's setup would in every trial, a ``BatchSizeFinder`` among the
    callbacks of a Trainer that trains on several processes (Lightning: "The Batch size
    finder is not supported with distributed strategies"; was: each trial's ranks started
    and FAILED there, the search stopped after two, its run folder written).

    Args:
        trainer: a Trainer built as a trial builds it, not launched (its ``world_size``
            counts the processes it would start).

    Raises:
        ValueError: naming the callback, the processes and what to do.

    Example:
        >>> from types import SimpleNamespace
        >>> check_tuners(SimpleNamespace(callbacks=[], world_size=2))  # no finder: nothing
    """
    from lightning.pytorch.callbacks import BatchSizeFinder

    finder = next((c for c in trainer.callbacks if isinstance(c, BatchSizeFinder)), None)
    if finder is not None and trainer.world_size > 1:
        raise ValueError(f"{type(finder).__name__} is not supported with distributed "
                         f"strategies (Lightning refuses it as the fit sets up), and this "
                         f"Trainer trains on {trainer.world_size} processes: remove it, or train "
                         f"on one device (trainer.devices: 1)")


def dry_spec(spec: TrialSpec, folder: str) -> TrialSpec:
    """``spec`` to build its Trainer without a trial: its trial folder under ``folder`` (a
    temporary one), a W&B logger object stood in for (``unstarted``: its copy starts no
    run)."""
    trainer = dict(spec.trainer)
    if "logger" in trainer:
        trainer["logger"] = unstarted(trainer["logger"])
    return dataclasses.replace(spec, trial_dir=str(Path(folder) / "trials" / "trial_0000"),
                               trainer=trainer)


def check_searched_builds(spec_of: Callable[[dict[str, Any]], TrialSpec],
                           archs: Sequence[dict[str, Any]],
                           searched: Mapping[str, Sequence[Any]],
                           keys: Mapping[str, Sequence[tuple[str, Any]]]) -> None:
    """Build the Trainer once for each value a searched Trainer argument may take (a
    choice's options, a range's bounds) other than ``archs[0]``'s, set into ``archs[0]``
    (into a later one where it fails there: a value that builds beside some of the other
    keys' values is no config error), its settings those a trial of it gets
    (``spec_of``: the template's ``trial_trainer``, a ``plugins`` option merged over the
    config's; was: set over the first spec's settings in place of them), in a temporary
    folder, nothing trained or launched (was: only the first sampled architecture's values
    were built, so ``{choice: [gpuu, cpu]}`` with ``cpu`` drawn first failed as trials,
    one by one).

    Args:
        spec_of: the dry spec of an architecture (``TrialTemplate.spec``).
        archs: the sampled architectures.
        searched: the space's ``trainer.*`` keys without the prefix: their values.

    Raises:
        ConfigError: naming the space key and the value its Trainer build refuses.
    """
    with global_state_kept(), tempfile.TemporaryDirectory(prefix="lnas-dry-") as tmp:
        folder = str(Path(tmp) / "trials" / "trial_0000")
        built = spec_of(archs[0]).trainer
        for name, values in searched.items():
            said = list(keys.get(name, ())) or [(f"trainer.{name}", v) for v in values]
            for value, (key, shown) in zip(values, said, strict=True):
                first = built.get(name, _UNSET)
                if type(first) is type(value) and first == value:  # built already
                    continue
                error: BaseException | None = None
                for arch in archs:
                    spec = dataclasses.replace(spec_of({**arch, f"trainer.{name}": value}),
                                               trial_dir=folder)
                    failed = attempt_build(lambda p=spec: build_trainer(p, []), meta=False)
                    if failed is None:
                        break
                    error = error or failed
                else:
                    raise ConfigError(f"space key {key!r} may take {short(shown)}: "
                                      f"{one_line(error)}; found building the Trainer of a "
                                      f"trial before any training (every trial drawing it "
                                      f"would fail)")


#: a Trainer argument a spec does not set
_UNSET = object()


def attempt_build(build: Callable[[], Any], meta: bool) -> BaseException | None:
    """Run ``build`` (its parameters on the meta device first when ``meta``:
    ``parameters_on_meta``); its error, or None."""
    if meta:
        try:
            with parameters_on_meta():  # was: torch.device("meta"): a cached tensor too
                build()
            return None
        except Exception:  # noqa: BLE001 - some modules cannot be built on meta: try CPU
            pass
    try:
        build()
    except Exception as err:  # noqa: BLE001 - a user's constructor may raise anything
        return err
    return None


@contextmanager
def global_state_kept() -> Iterator[None]:
    """Quiet Lightning, no warnings (but ``NASModule``'s about a builder, a loss or metrics
    checkpoints cannot hold, said once each: the dry build makes the first module), and the
    global flags a Trainer's constructor sets (determinism, cuDNN benchmark, the rank-zero
    rank) restored afterwards."""
    from lightning.pytorch.utilities import rank_zero
    from lightning_utilities.core import rank_zero as utils_rank_zero

    ranks = [getattr(m.rank_zero_only, "rank", None) for m in (rank_zero, utils_rank_zero)]
    try:
        with torch_flags_kept(), quiet_lightning(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.filterwarnings("always", message="NASModule's .* so checkpoints do not hold")
            yield
    finally:
        for module, rank in zip((rank_zero, utils_rank_zero), ranks, strict=True):
            if rank is not None:
                module.rank_zero_only.rank = rank

"""How an export writes its files into a run folder: with the folder held (``held_for_export``: one
export at a time, none while a search runs there), each one beside its place first under a name of
its writer's own (``staged``), then moved in with ``best.yaml`` last (``move_in``), so that a
``best.yaml`` on disk always describes the ``best.ckpt`` beside it; and which ``best.ckpt`` an
export keeps when the trial's own checkpoint is gone (``kept_checkpoint``), and which it must not
remove: the only copy of the best trial's weights (``keep_winners_weights``); and the ``best.ckpt``
a fine-tune starts from, or what to do without one (``best_weights``), and the architecture it
builds (``finetune_arch``: the trial's, under ``model_init_args``, which ``lightning-nas finetune``
takes as ``--model.KEY=VALUE``: ``model_overrides``); ``best.yaml`` read back, or what to do where
it is not an export's (``load_best``).

Example:
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> move_in(run, [staged(run / "best.yaml", "trial: 1\\n")], keep_checkpoint=False)
    >>> (run / "best.yaml").read_text(), kept_checkpoint(run, 1, {}, None)
    ('trial: 1\\n', False)
"""

from __future__ import annotations

import os
import shlex
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import yaml

from lightning_nas.config.yamlio import load_yaml
from lightning_nas.errors import ConfigError, StoreError
from lightning_nas.results import TrialResult
from lightning_nas.run_folder import hold_folder, user_path
from lightning_nas.search.checkpoints import OWN_STATES, save_for_users
from lightning_nas.store import RunStore, open_run
from lightning_nas.user_warnings import warn_user

__all__ = ["EXPORT_FILES", "OWN_STATES", "best_weights", "check_weights_fit",
           "discard_staged", "finetune_arch", "held_for_export", "keep_winners_weights",
           "kept_checkpoint", "load_best", "model_overrides", "move_in", "staged",
           "staged_checkpoint", "staging_path"]

#: the files an export writes into the run folder, ``best.yaml`` (moved in last) last
EXPORT_FILES = ("best.ckpt", "best_config.yaml", "best.yaml")
#: what an export refused on a held folder does once the holder is gone
_THEN = "then export again (a search exports its best trial itself when it ends)"


@contextmanager
def held_for_export(run_dir: Path, store: RunStore | None,
                    then: str | None = None) -> Iterator[RunStore]:
    """``store`` (else the run's, ``open_run``, closed at the end) with ``run_dir`` held for
    one export (``hold_folder``: another export waits for it; one while a search, a sweep
    or a one-shot run holds the folder is refused, naming the holder), and the files
    earlier exports staged there and never moved in (killed on the way) removed. The
    store of the search that holds the folder (its own export when it ends) holds it
    already; a file system that takes no lock (some network mounts) leaves it unheld.
    ``then``: what a refusal says to do once the holder is gone (None: export again).

    Raises:
        SearchError: when another process, or a search of this one, holds the folder.
        StoreError: when ``run_dir`` cannot be written (a read-only mount, another
            user's folder), before anything is written there.
    """
    if store is None:  # not a run folder: said as open_run says it, before it is held
        open_run(run_dir).close()
    held, own = None, store is not None and store._held is not None  # the search's own
    if not own:
        if not os.access(run_dir, os.W_OK):
            raise _unwritable(run_dir, "not writable")
        try:
            held = hold_folder(run_dir, then or _THEN, kind="export")
        except StoreError:  # its file system takes no lock: not held (as on Windows)
            pass
        except OSError as err:  # search.lock cannot be opened for writing
            raise _unwritable(run_dir, err.strerror or str(err)) from None
    try:
        if held is not None or own:  # no other export meanwhile: every staged file is old
            for name in EXPORT_FILES:
                for old in (*run_dir.glob(f"{name}.*-*.tmp"), run_dir / f"{name}.tmp"):
                    if old.is_file():
                        old.unlink()
        if store is not None:
            yield store
        else:
            with open_run(run_dir) as read:
                yield read
    finally:
        if held is not None:
            held.close()


def _unwritable(run_dir: Path, why: str) -> StoreError:
    """The error of an export in a run folder it cannot write."""
    return StoreError(f"{run_dir} cannot be written ({why}: a read-only mount, another "
                      f"user's run): an export writes best.yaml, best.ckpt and "
                      f"best_config.yaml there; copy the run folder where it can be written "
                      f"and export there (`lightning-nas show` and `report` read it as it is)")


def staging_path(path: Path) -> Path:
    """Where this thread of this process stages ``path`` (beside it: a name of its own, so
    that two exports never move in each other's files)."""
    return path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")


def staged(path: Path, text: str = "", source: Path | None = None) -> tuple[Path, Path]:
    """``text`` (or a copy of ``source``) written beside ``path``; ``(that file, path)``."""
    tmp = staging_path(path)
    if source is not None:
        shutil.copyfile(source, tmp)
    else:
        tmp.write_text(text)
    return tmp, path


def staged_checkpoint(path: Path, source: Path) -> tuple[Path, Path]:
    """A copy of the trial's checkpoint ``source`` written beside ``path`` (``staged``)
    without the callback states of lightning_nas's own (``checkpoints.save_for_users``).

    Example:
        >>> import tempfile, torch
        >>> run = Path(tempfile.mkdtemp())
        >>> torch.save({"state_dict": {}, "callbacks": {"Mine": {"n": 1},
        ...             "TrialReporter{'monitor': 'val_acc', 'mode': 'max'}": {}}},
        ...            run / "trial.ckpt")
        >>> move_in(run, [staged_checkpoint(run / "best.ckpt", run / "trial.ckpt")], True)
        >>> torch.load(run / "best.ckpt")["callbacks"]
        {'Mine': {'n': 1}}
    """
    tmp = staging_path(path)
    save_for_users(source, tmp)
    return tmp, path


def discard_staged(run_dir: Path) -> None:
    """Remove the files this export staged in ``run_dir`` (no checkpoint-sized copy is
    left on a full disk)."""
    for name in EXPORT_FILES:
        if staging_path(run_dir / name).is_file():
            staging_path(run_dir / name).unlink()


def kept_checkpoint(run_dir: Path, trial_id: int, arch: Mapping[str, Any],
                    score: float | None) -> bool:
    """Whether ``run_dir/best.ckpt`` is trial ``trial_id``'s, by the ``best.yaml`` beside it
    (moved in last by every export: it describes that file): it names the same trial,
    architecture and score, and ``checkpoint: best.ckpt``. An export of a trial whose own
    checkpoint is gone (``trials/`` removed to free disk, a folder copied with
    ``search.db`` and ``best.*`` only) keeps it; another trial's it removes."""
    if not (run_dir / "best.ckpt").is_file() or not (run_dir / "best.yaml").is_file():
        return False
    try:
        earlier = yaml.safe_load((run_dir / "best.yaml").read_text())
    except (OSError, yaml.YAMLError):  # unreadable: it proves nothing
        return False
    return (isinstance(earlier, dict) and earlier.get("checkpoint") == "best.ckpt"
            and earlier.get("trial") == trial_id and earlier.get("arch") == dict(arch)
            and earlier.get("score") == score)


def load_best(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The content of ``RUN_DIR/best.yaml``.

    Args:
        run_dir: the run folder an export wrote ``best.yaml`` into.

    Example:
        >>> load_best("no/such/run")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no/such/run/best.yaml does not exist; run `lightning-nas export ...

    Raises:
        FileNotFoundError: there is none, saying to export.
        StoreError: it is not one an export wrote (not YAML, no mapping, no trial number:
            edited by hand; was: yaml's traceback or an AttributeError), saying to export again.
    """
    path = user_path(run_dir, "load_best(run_dir=...)") / "best.yaml"
    export = f"lightning-nas export {shlex.quote(str(run_dir))}"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run `{export}`")
    try:
        best = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        why = f"not YAML: {type(err).__name__}: {' '.join(str(err).split())}"
    else:
        why = (f"it holds {best!r:.60}, not a mapping" if not isinstance(best, dict) else
               "no trial number" if type(best.get("trial")) is not int else "")
    if why:
        raise StoreError(f"{path} is not a best.yaml an export wrote ({why}); write it again "
                         f"with `{export}` (or `--trial N` for a trial of your choice)")
    return best


def best_weights(run_dir: Path, best: Mapping[str, Any], trial_checkpoint: str | None) -> str:
    """The path of the ``best.ckpt`` a fine-tune of ``run_dir`` starts from, by its
    ``best.yaml`` (``best``); ``trial_checkpoint``: the trial's own, as stored.

    Example:
        >>> best_weights(Path("runs/a"), {"trial": 3, "checkpoint": None}, None)
        Traceback (most recent call last):
        ...
        FileNotFoundError: runs/a has no best.ckpt: trial 3's checkpoint was not kept ...

    Raises:
        FileNotFoundError: there is none (not kept, or moved or deleted since the export:
            was Lightning's bare "No such file" there, a FAILED result from Python), saying
            what to do.
    """
    run = shlex.quote(str(run_dir))
    # the command's option first, then Python's (was: Python's from_checkpoint=False first,
    # which `lightning-nas finetune` does not take)
    scratch = (f"train it from fresh weights: lightning-nas finetune {run} --from_scratch "
               f"(from Python: lightning_nas.finetune({str(run_dir)!r}, "
               f"from_checkpoint=False))")
    if not best.get("checkpoint"):
        raise FileNotFoundError(
            f"{run_dir} has no best.ckpt: trial {best['trial']}'s checkpoint was not kept "
            f"(trainer.enable_checkpointing false, or not among search.keep_top_k); {scratch}")
    weights = run_dir / best["checkpoint"]
    if not weights.is_file():
        again = (f"`lightning-nas export {run}` copies it again from trial {best['trial']}'s "
                 f"own checkpoint, or " if trial_checkpoint and Path(trial_checkpoint).is_file()
                 else "")
        raise FileNotFoundError(f"{run_dir} has no best.ckpt: best.yaml names "
                                f"{best['checkpoint']}, which is not there (moved or deleted); "
                                f"{again}{scratch}")
    return str(weights)


def finetune_arch(best: Mapping[str, Any], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The architecture a fine-tune builds: ``best``'s (``best.yaml``), with a searched key
    that ``given`` (``model_init_args``) sets to another value taken from ``given`` (at its
    path too: ``width`` sets a searched ``model.width``), and one inside a value it gives
    (``model.optimizer.lr`` for ``optimizer``) left out, each said in a warning (was: the
    searched value won, silently, so a fine-tune from the checkpoint could not take a lower
    learning rate than the trial's).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True):
        ...     warnings.simplefilter("always")
        ...     finetune_arch({"trial": 2, "arch": {"width": 8, "lr": 0.05}}, {"lr": 0.005})
        {'width': 8, 'lr': 0.005}
        >>> with warnings.catch_warnings(record=True):
        ...     warnings.simplefilter("always")
        ...     finetune_arch({"trial": 2, "arch": {"model.opt.lr": 0.05, "model.width": 8}},
        ...                   {"opt": {"class_path": "torch.optim.SGD"}, "width": 8})
        {'model.width': 8}
    """
    from lightning_nas.config.paths import space_path

    arch = dict(best["arch"])
    for key, value in (given or {}).items():
        path = space_path(key)  # the searched key at its path too (model.width for width)
        for name in [k for k in arch if f"{space_path(k)}.".startswith(f"{path}.")]:
            if not _same(arch[name], value):  # one under it would be set into the value
                warn_user(f"model_init_args {key}={value!r} replaces trial "
                          f"{best['trial']}'s searched {name}={arch[name]!r} in the "
                          f"fine-tune")
                if space_path(name) == path:
                    arch[name] = value
                else:
                    del arch[name]
    return arch


def check_weights_fit(model: Any, weights: str | None, best: Mapping[str, Any],
                      given: Mapping[str, Any] | None, run_dir: Path) -> None:
    """Refuse, before any training, a fine-tune from ``weights`` (the best trial's
    ``best.ckpt``) whose model (``model``: as ``check_fit_builds`` built it, parameters on
    the meta device) has a parameter of another shape than the checkpoint's, or (loading
    strictly, ``strict_loading``) one the checkpoint lacks or the other way round: an
    argument given (``model_init_args``, ``--model.width=4``, ``--model.num_layers=4``)
    changed a layer (was: torch's "Error(s) in loading state_dict ... size mismatch" or
    "Missing key(s)", from the fine-tune's build). A lazy module's uninitialised parameter
    takes the checkpoint's shape as it loads; the names are not compared where the model's
    ``configure_model`` makes layers or its ``on_load_checkpoint`` may rename them.

    Raises:
        ConfigError: naming the arguments given, with the trial's values, the first
            parameter whose shape differs (else the first one only one side holds), and
            ``--from_scratch``.
    """
    if weights is None or model is None or not hasattr(model, "state_dict"):
        return
    saved = torch.load(weights, map_location="cpu", weights_only=False, mmap=True)
    differs = _first_difference(saved.get("state_dict") or {}, model.state_dict(),
                                _names_compared(model))
    if differs is None:
        return
    name, there, mine = differs
    arch, trial = best["arch"], best["trial"]
    given = dict(given or {})
    was = [f"{path}={arch[path]!r}" for key in given
           for path in (key, f"model.{key}") if path in arch]
    said = (f"model_init_args {', '.join(f'{k}={v!r}' for k, v in given.items())} give"
            if given else "the model given to the fine-tune has")
    which = "other weights" if "none" in (there, mine) else "weights of other shapes"
    later = "" if mine != "none" or not _overridden(model, "setup") else (  # (was: unsaid)
        f"; {type(model).__name__} makes its layers in setup(), so a model built to load the "
        f"checkpoint holds none of them (as with Lightning's load_from_checkpoint): make them "
        f"in configure_model() instead, which a fine-tune calls before it loads")
    raise ConfigError(
        f"{said} {which} than trial {trial}'s best.ckpt ({name}: {there} there, {mine} here"
        f"{'; the trial searched ' + ', '.join(was) if was else ''}){later}, so its weights "
        f"cannot start it: fine-tune from fresh weights (lightning-nas finetune "
        f"{shlex.quote(str(run_dir))} --from_scratch; from Python, from_checkpoint=False), "
        f"or give only arguments that keep the shapes; found before any training (no folder "
        f"was made)")


def _names_compared(model: Any) -> bool:
    """Whether a fine-tune's ``load_state_dict`` needs the checkpoint's names to be the
    model's, as ``model`` (built, nothing loaded) holds them: it loads strictly and neither
    makes layers in ``configure_model`` nor may rename the checkpoint's in
    ``on_load_checkpoint``."""
    return bool(getattr(model, "strict_loading", True)) and not any(
        _overridden(model, hook) for hook in ("configure_model", "on_load_checkpoint"))


def _overridden(model: Any, hook: str) -> bool:
    """Whether ``model`` (a LightningModule) has its own ``hook``."""
    from lightning.pytorch.utilities.model_helpers import is_overridden

    return is_overridden(hook, model)  # (its parent: LightningModule)


def _first_difference(saved: Mapping[str, Any], here: Mapping[str, Any], names: bool
                      ) -> tuple[str, str, str] | None:
    """The first tensor whose shape in ``saved`` (a checkpoint's state dict) is not the one in
    ``here`` (a model's), as ``(name, there, here)`` (``16x8``); with ``names``, else the
    first one only one side holds (``none`` on the other). A lazy module's uninitialised
    parameter (``lazy``) has no shape yet: ``load_state_dict`` gives it the saved one.

    Example:
        >>> _first_difference({"a": torch.zeros(2, 3)}, {"a": torch.zeros(4, 3),
        ...                   "b": torch.zeros(1)}, names=True)
        ('a', '2x3', '4x3')
        >>> _first_difference({"a": torch.zeros(2)}, {"a": torch.zeros(2),
        ...                   "b": torch.zeros(1)}, names=True)
        ('b', 'none', '1')
    """
    lazy = torch.nn.parameter.is_lazy
    for name, tensor in saved.items():
        mine = here.get(name)
        if mine is not None and not lazy(mine) and not lazy(tensor) \
                and tuple(tensor.shape) != tuple(mine.shape):
            return name, _dims(tensor), _dims(mine)
    if names:
        for name in [*(n for n in here if n not in saved), *(n for n in saved if n not in here)]:
            return name, _dims(saved.get(name)), _dims(here.get(name))
    return None


def _dims(tensor: Any) -> str:
    """A tensor's shape as ``16x8`` (``none`` for no tensor, ``lazy`` for an uninitialised
    parameter)."""
    if tensor is None or torch.nn.parameter.is_lazy(tensor):
        return "none" if tensor is None else "lazy"
    return "x".join(map(str, tensor.shape))


def model_overrides(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The model arguments of ``lightning-nas finetune``'s ``--model.*`` overrides
    (``split_overrides`` pairs), as ``finetune``'s ``model_init_args``: ``--model.KEY=VALUE``,
    or as LightningCLI also spells it ``--model.init_args.KEY=VALUE`` (``dict_kwargs``
    too), the value parsed as YAML as every override's.

    Example:
        >>> model_overrides([("model.lr", "5e-4"), ("model.init_args.width", "8")])
        {'lr': 0.0005, 'width': 8}

    Raises:
        ConfigError: for one that would replace the model (``--model=...``,
            ``--model.class_path=...``: the checkpoint is the trial's model), or that sets a
            path inside an argument (``--model.net.width``: the argument would be replaced
            by a mapping of that one key), naming it and what to give instead.
    """
    out: dict[str, Any] = {}
    for key, text in pairs:
        parts, given = key.split(".")[1:], f"--{key}={text}"
        if parts[:1] in (["init_args"], ["dict_kwargs"]):  # LightningCLI's levels
            parts = parts[1:]
        value = load_yaml(text, source=f"--{key}")
        if not parts and key != "model" and isinstance(value, Mapping):
            out.update(value)  # --model.init_args={lr: 5e-4}: the arguments it gives
        elif not parts or key.split(".")[1] == "class_path":
            raise ConfigError(f"finetune trains the best trial's model (its class, from its "
                              f"checkpoint): {given} would replace it; give its arguments, "
                              f"--model.KEY=VALUE (e.g. --model.lr=5e-4), or train another "
                              f"config with lightning-nas fit")
        elif len(parts) > 1:
            raise ConfigError(f"finetune takes the model's own arguments, --model.KEY=VALUE, "
                              f"not a path into one ({given}): give the whole value, "
                              f"--model.{parts[0]}=..., or train RUN_DIR/best_config.yaml "
                              f"with lightning-nas fit, which takes any path")
        else:
            out[parts[0]] = value
    return out


def _same(stored: Any, value: Any) -> bool:
    """Whether ``value`` equals the stored one (an object whose ``==`` is no bool, a
    tensor, is not)."""
    try:
        return bool(stored == value)
    except Exception:  # noqa: BLE001 - a tensor of several values, an object's own ==
        return False


def keep_winners_weights(run_dir: Path, winner: TrialResult, trial_id: int,
                         replace: bool) -> None:
    """Refuse an export of trial ``trial_id`` that would remove (or ``replace``) the
    ``best.ckpt`` that is the only copy of the run's best trial's weights (its own
    checkpoint gone: ``trials/`` removed); was: removed, and no export brought them back.

    Raises:
        ConfigError: naming the file to move away first.
    """
    if winner.checkpoint and Path(winner.checkpoint).exists():
        return  # a copy: an export of the winner copies it again
    if not kept_checkpoint(run_dir, winner.trial_id, winner.arch, winner.score):
        return
    ckpt = run_dir / "best.ckpt"
    aside = run_dir.parent / f"{run_dir.name}_trial_{winner.trial_id}_best.ckpt"
    raise ConfigError(f"{ckpt} holds the weights of trial {winner.trial_id}, the run's best, "
                      f"and is their only copy (the trial's own checkpoint is gone): an "
                      f"export of trial {trial_id} would {'replace' if replace else 'remove'}"
                      f" it; move it out of the run folder first to keep them (mv "
                      f"{shlex.quote(str(ckpt))} {shlex.quote(str(aside))}), then export "
                      f"trial {trial_id} again")


def move_in(run_dir: Path, files: list[tuple[Path, Path]], keep_checkpoint: bool) -> None:
    """Move the ``staged`` ``files`` to their places, ``best.yaml`` (the last of them)
    last; an earlier ``best.yaml`` goes first and, unless ``keep_checkpoint`` (the
    exported trial's own, ``kept_checkpoint``), an earlier ``best.ckpt``: it is another
    trial's."""
    (run_dir / "best.yaml").unlink(missing_ok=True)
    if not keep_checkpoint:
        (run_dir / "best.ckpt").unlink(missing_ok=True)
    for tmp, path in files:
        os.replace(tmp, path)

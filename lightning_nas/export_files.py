"""How an export writes its files into a run folder: with the folder held (``held_for_export``: one
export at a time, none while a search runs there), each one beside its place first under a name of
its writer's own (``staged``), then moved in with ``best.yaml`` last (``move_in``), so that a
``best.yaml`` on disk always describes the ``best.ckpt`` beside it; and which ``best.ckpt`` an
export keeps when the trial's own checkpoint is gone (``kept_checkpoint``), and which it must not
remove: the only copy of the best trial's weights (``keep_winners_weights``); ``best.yaml`` read
back, or what to do where it is not an export's (``load_best``). What a fine-tune of the export
starts from is ``finetune_inputs.py``'s.

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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from lightning_nas.errors import ConfigError, StoreError
from lightning_nas.results import TrialResult
from lightning_nas.run_folder import hold_folder, user_path
from lightning_nas.search.checkpoints import save_for_users
from lightning_nas.search.exported import mismatch, read_held, stamp
from lightning_nas.store import RunStore, open_run

__all__ = ["EXPORT_FILES", "discard_staged", "held_for_export",
           "keep_winners_weights", "kept_checkpoint", "load_best", "move_in", "no_completed",
           "staged",
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
            user's folder), before anything is written there; or the search's own store
            no longer holds it (``RunStore.check_held``).
    """
    if store is None:  # not a run folder: said as open_run says it, before it is held
        open_run(run_dir).close()
    held, own = None, store is not None and store._held is not None  # the search's own
    if own:  # a search that no longer holds it writes nothing there (was: over a newer run's)
        store.check_held()
    else:
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


def staged_checkpoint(path: Path, source: Path, model: Any = None,
                      held: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    """A copy of the trial's checkpoint ``source`` written beside ``path`` (``staged``)
    without the callback states of lightning_nas's own (``checkpoints.save_for_users``); of
    a config run (``model``: the ``model`` section of ``best_config.yaml``), with the model
    hyperparameters LightningCLI's checkpoint of that config holds
    (``export_hparams.as_lightningcli``); with ``held`` (the ``trial`` and ``epoch`` of
    ``best.yaml``), saying which trial's weights it holds (``exported.stamp``: a reader
    checks that ``best.yaml`` beside it names them).

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
    save_for_users(source, tmp, model, None if held is None else stamp(
        held["trial"], held.get("epoch")))
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
    architecture and score, and ``checkpoint: best.ckpt``, and the file itself names no
    other trial or epoch (``exported.read_held``; was: trusted, so another trial's
    ``best.ckpt`` copied in by hand was kept as this one's). An export of a trial whose own
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
            and earlier.get("score") == score and mismatch(
                earlier, read_held(run_dir / "best.ckpt"), run_dir / "best.ckpt") is None)


def no_completed(run_dir: str | os.PathLike) -> str:
    """What an export of ``run_dir``, a search's with no COMPLETED trial, says (and
    ``load_best`` with it): that, and what lists its trials.

    Example:
        >>> no_completed("runs/a")
        'runs/a has no completed trial to export; `lightning-nas show runs/a` lists its trials'
    """
    return (f"{run_dir} has no completed trial to export; `lightning-nas show "
            f"{shlex.quote(str(run_dir))}` lists its trials")


def _none_completed(run: Path) -> bool:
    """Whether ``run`` holds a search's store with no COMPLETED trial (False where it holds
    none, or one that cannot be read: the caller says what it says without it)."""
    if not (run / "search.db").is_file():
        return False
    try:
        with open_run(run) as store:
            return store.best(store.get_meta("mode", "max")) is None
    except Exception:  # noqa: BLE001 - no store to read: said as before
        return False


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
        FileNotFoundError: there is none, saying to export (in a one-shot run folder,
            naming its ``best_arch.yaml``).
        StoreError: it is not one an export wrote (not YAML, no mapping, no trial number:
            edited by hand; was: yaml's traceback or an AttributeError), saying to export again.
    """
    path = user_path(run_dir, "load_best(run_dir=...)") / "best.yaml"
    export = f"lightning-nas export {shlex.quote(str(run_dir))}"
    if not path.exists():  # a search's with no completed trial: said (was: "run `lightning-nas
        if _none_completed(path.parent):  # export RUN`", which refuses it)
            raise FileNotFoundError(f"{path} does not exist: {no_completed(run_dir)}")
        arch = path.parent / "best_arch.yaml"
        if not (path.parent / "search.db").exists() and arch.is_file():  # (was: "run
            # `lightning-nas export`", which refuses a one-shot folder)
            raise FileNotFoundError(
                f"{run_dir} is a one-shot run folder (no search.db), not a search's: its "
                f"winner is in {arch} (yaml.safe_load it), its weights in "
                f"{path.parent / 'subnet.pt'}; load_best reads a search's best.yaml")
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
    trial's. One that a staged ``best.ckpt`` replaces is replaced in place (``os.replace``:
    at no moment is there none; was: deleted first, so a fine-tune reading the folder then
    was refused, "no best.ckpt ... moved or deleted")."""
    (run_dir / "best.yaml").unlink(missing_ok=True)
    if not keep_checkpoint and all(path.name != "best.ckpt" for _, path in files):
        (run_dir / "best.ckpt").unlink(missing_ok=True)
    for tmp, path in files:
        os.replace(tmp, path)

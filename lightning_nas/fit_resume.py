"""Resume an interrupted ``lightning-nas fit`` or ``finetune`` (``--ckpt_path last|PATH``).

A fit's or fine-tune's ``TrialCheckpoint`` writes ``last.ckpt`` at each training epoch's end
(removed when it completes, with the ``UNFINISHED`` mark its folder holds until then: one
that stopped before an epoch ended holds no ``last.ckpt``, nothing to resume, though a
validation within the epoch wrote its ``best.ckpt``) and its settings (``fit_record``) into
every checkpoint under ``FIT_RECORD``. ``resume_point`` finds the folder and checkpoint a
``--ckpt_path`` names, ``check_resume`` refuses settings that would make the result another
run's, before any training (and warns of reloaded dataloaders: other shuffles); Lightning's
``ckpt_path`` then trains the epochs left, and the reporter's history in the checkpoint
keeps the earlier epochs candidates for the best one.
A new one's ``--out`` holding one that stopped before its first training epoch ended is
refused saying so and what to do (``out_folder``); ``undo_fit`` takes back what a refused
one wrote into its folder.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "finetune"
    >>> resume_point("last", folder, None, "fine-tune", "run")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: ckpt_path='last': no interrupted fine-tune of run to ...
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from lightning_nas.arch import is_plain, plain
from lightning_nas.errors import ConfigError
from lightning_nas.fit_resume_words import (
    EPOCHS_SAID,
    ckpt_said,
    leave_out,
    without_ckpt_path,
)
from lightning_nas.numeric import is_int
from lightning_nas.run_folder import new_folder, user_path
from lightning_nas.search.checkpoints import checkpoint_complete
from lightning_nas.search.fit_segments import NO_CHECKPOINTS, UNFINISHED, unsaved
from lightning_nas.search.setting_checks import in_words
from lightning_nas.search.trainer_spelling import as_taken
from lightning_nas.search.trial_checkpoint import FIT_RECORD
from lightning_nas.user_warnings import warn_user

__all__ = ["CHANGEABLE", "LAST", "START", "check_resume", "fit_record", "free_dir",
           "out_folder", "output_dir", "recorded_epochs", "resume_hint", "resume_point",
           "undo_fit"]

LAST = "last"
#: the record's key of a fine-tune's start: its weights' metrics before training
START = "start_metrics"
#: Trainer arguments a resume may change (Lightning's own resume takes them): how long it
#: trains, where and on what it runs, what it shows and logs; any other is the run's
CHANGEABLE = frozenset({
    "max_epochs", "max_steps", "max_time", "accelerator", "devices", "num_nodes", "strategy",
    "callbacks", "logger", "enable_progress_bar", "enable_model_summary", "log_every_n_steps",
    "profiler", "default_root_dir"})
_NUMBERED = re.compile(r"_(\d+)$")
#: the kind of run an ``UNFINISHED`` mark names (``start_own_fit`` writes it)
_MARKED = re.compile(r"a (fit|fine-tune) started here")


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


def _folders(default: Path, given: Path | None) -> list[Path]:
    """The folders a ``--ckpt_path`` may resume: ``given`` (``--out``), else ``default``
    and the ``default_N`` that exist, oldest first."""
    if given is not None:
        return [given]
    numbered = [(int(m.group(1)), p) for p in default.parent.glob(f"{default.name}_*")
                if (m := _NUMBERED.search(p.name)) and p.name == f"{default.name}_{m.group(1)}"]
    return [default, *(p for _, p in sorted(numbered))]


def _state(folder: Path) -> str:
    """What a fit or fine-tune folder holds, as a ``--ckpt_path last`` error says it."""
    if not folder.is_dir():
        return "none there"
    if (folder / "last.ckpt").is_file():
        return "interrupted"
    if (folder / UNFINISHED).is_file():  # a kill after a validation within epoch 0, or
        return f"stopped, and {NO_CHECKPOINTS}" if unsaved(folder) else _NO_EPOCH  # none
    if (folder / "best.ckpt").is_file():
        return "finished"
    return "no last.ckpt: no training epoch of it ended"


#: what a folder holds that stopped before its first training epoch ended
_NO_EPOCH = "stopped before its first training epoch ended, so it wrote no last.ckpt"


def _anew(kind: str, default: Path) -> str:
    """What trains a new one where there is nothing to resume."""
    if kind == "fine-tune":
        return (f"{without_ckpt_path(kind)} trains a new one from the start, in a new "
                f"{default.name}_N folder")
    return (f"{without_ckpt_path(kind)} trains it anew in a new folder (with "
            f"{in_words('--out', 'out_dir')}, give another)")


def _load(path: Path, said: str) -> dict[str, Any]:
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


def resume_point(ckpt_path: str | Path, default: Path, given: Path | None, kind: str,
                 owner: str) -> tuple[Path, Path]:
    """The folder and checkpoint that ``--ckpt_path`` resumes: ``last``, the latest of the
    folders (``given``, else ``default`` and its ``_N``) that holds a ``last.ckpt``; a
    path, a checkpoint in one of them, written by a ``kind`` that has not finished.

    Raises:
        ConfigError: naming the value, the folders looked at, and what to give instead.
    """
    folders = _folders(default, given)
    places = f"{folders[0]}" if given else f"{default}, {default.parent / default.name}_N"
    if str(ckpt_path) == LAST:
        held = [f for f in folders if (f / "last.ckpt").is_file()]
        if not held:
            states = [_state(f) for f in folders]
            looked = "; ".join(f"{f}: {state}" for f, state in zip(folders, states,
                                                                     strict=True))
            fix = (f"nothing to resume: {_anew(kind, default)}" if any(
                state.startswith("stopped") for state in states) else
                   f"give a last.ckpt of an interrupted one, or {leave_out()} to "
                   f"train a new one")
            raise ConfigError(f"{ckpt_said(LAST)}: no interrupted {kind} of {owner} to resume "
                              f"(looked at {looked}); {fix}")
        return held[-1], held[-1] / "last.ckpt"
    path, said = user_path(ckpt_path), ckpt_said(ckpt_path)
    if not path.is_file():
        raise ConfigError(f"{said}: no such file; give 'last' or a checkpoint file of a "
                          f"{kind} folder of {owner} ({places})")
    folder = next((f for f in folders if f.is_dir() and f.resolve() == path.parent.resolve()),
                  None)
    if folder is None:
        raise ConfigError(f"{said}: not in a {kind} folder of {owner} ({places})")
    if not (folder / "last.ckpt").is_file() and (folder / UNFINISHED).is_file():
        raise ConfigError(f"{said}: the {kind} in {folder} stopped before its first training "
                          f"epoch ended (its best.ckpt is of a validation within it), so it "
                          f"wrote no last.ckpt; nothing to resume: {_anew(kind, default)}")
    if not (folder / "last.ckpt").is_file():
        again = (f"{without_ckpt_path(kind)} trains a new one in a new {default.name}_N folder"
                 if kind == "fine-tune" else f"{leave_out()} to train it again in a new "
                                             f"folder")
        raise ConfigError(f"{said}: the {kind} in {folder} finished (its best.ckpt is its "
                          f"result): nothing to resume; {again}")
    ckpt = _load(path, said)
    record = ckpt.get(FIT_RECORD)
    if not isinstance(record, dict) or record.get("kind") != kind or not any(
            str(key).startswith("TrialReporter{") for key in ckpt.get("callbacks") or {}):
        raise ConfigError(f"{said}: not a checkpoint a {kind} wrote to resume from (it holds "
                          f"no {kind} settings or no epoch history); give 'last' or "
                          f"{folder / 'last.ckpt'}")
    return folder, path


def out_folder(given: str | os.PathLike | None, default: Path, kind: str) -> Path:
    """``output_dir``: the folder a new fit or fine-tune (``kind``) writes into, ``given``
    (``--out``) new or empty, else a free name at ``default``; one that holds a fit or
    fine-tune stopped before its first training epoch ended (its ``UNFINISHED`` mark, no
    ``last.ckpt``) is refused saying so and what to do, not as a folder "not empty".

    Raises:
        ConfigError: for such a folder, and as ``output_dir`` does.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp())
        >>> _ = (out / UNFINISHED).write_text("a fine-tune started here has not completed")
        >>> out_folder(out, Path("runs/no_such_run/finetune"), "fine-tune")
        Traceback (most recent call last):
        ...
        lightning_nas.errors.ConfigError: the output folder ... holds a fine-tune that ...
    """
    out = None if given is None or str(given) == "" else new_folder(given, "`out_dir` (--out)")
    if out is not None and (out / UNFINISHED).is_file() and not (out / "last.ckpt").is_file():
        try:
            marked = _MARKED.match((out / UNFINISHED).read_text())
        except (OSError, UnicodeDecodeError):
            marked = None
        best = " and a best.ckpt of a validation within that epoch" if (
            out / "best.ckpt").is_file() else ""
        why = (f"before it completed ({NO_CHECKPOINTS}; {UNFINISHED}; its logs; nothing to "
               f"resume)" if unsaved(out) else f"before its first training epoch ended "
               f"({UNFINISHED}; its logs{best}; no last.ckpt: nothing to resume)")
        raise ConfigError(f"the output folder {out} holds a {marked.group(1) if marked else kind}"
                          f" that stopped {why}; to train there, "
                          f"remove that folder first (rm -r {shlex.quote(str(out))}); else give "
                          f"another --out, a new or empty folder (nothing is deleted), or leave "
                          f"--out out for a free name at {free_dir(default)}")
    return output_dir(given, default)


def recorded_epochs(ckpt_path: Path) -> Any:
    """The ``max_epochs`` the interrupted run of ``ckpt_path`` was given (its default on
    resume when none is given)."""
    return (_load(ckpt_path, ckpt_said(ckpt_path)).get(FIT_RECORD) or {}).get(
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
    ckpt = _load(ckpt_path, ckpt_said(ckpt_path))
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
    done = int(ckpt.get("epoch", 0))  # of the epoch-end checkpoint: epochs 0..done trained
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


def _ckpt_word(word: str) -> bool:
    return word.split("=", 1)[0] in tuple("--ckpt_path"[:n] for n in range(7, 12))


def resume_hint(out: Path, argv: Sequence[str], kind: str,
                ckpt_path: str | None) -> Callable[[], str]:
    """What an interrupted fit or fine-tune (its command line ``argv``) says after what
    ``unfinished`` says of ``out``, read when it is interrupted: the command again with
    ``--ckpt_path last`` (or the folder's ``last.ckpt``, where it resumed a path) once
    ``out`` holds a ``last.ckpt``, else that the same command trains a new one."""
    def said() -> str:
        last = out / "last.ckpt"
        if not last.is_file():
            new = (f"the same command trains a new one from the start, in a new "
                   f"{out.name.split('_')[0]}_N folder" if kind == "fine-tune" else
                   "the same command trains it anew in a new folder (with --out, give "
                   "another)")
            if unsaved(out):  # (was: "no training epoch of it ended", whatever it trained)
                return (f"; {NO_CHECKPOINTS} to resume from: {new}; set it true (or leave it "
                        f"out) for a {kind} an interrupt can resume")
            return (f"; no training epoch of it ended, so it wrote no last.ckpt to resume "
                    f"from: {new}")
        try:
            epoch = int(_load(last, str(last)).get("epoch", 0))
            done = f" (epochs 0..{epoch} trained)"
        except ConfigError:
            done = ""
        words = [w for i, w in enumerate(argv) if not _ckpt_word(w)
                 and not (i and _ckpt_word(argv[i - 1]) and "=" not in argv[i - 1])]
        again = LAST if ckpt_path in (None, LAST) else str(last)
        command = shlex.join(["lightning-nas", *words, "--ckpt_path", again])
        return f"; resume it from its last.ckpt{done} with:\n  {command}"
    return said


def free_dir(path: Path) -> Path:
    """``path``, else the first of ``path_1``, ``path_2``, ... that does not exist.

    Example:
        >>> free_dir(Path("no/such/folder"))
        PosixPath('no/such/folder')
    """
    free, n = path, 0
    while free.exists():
        n += 1
        free = path.with_name(f"{path.name}_{n}")
    return free


def output_dir(given: str | os.PathLike | None, default: Path) -> Path:
    """The folder a fit or fine-tune writes into: ``given``, which must be new or empty
    (nothing is deleted: ``--out RUN_DIR`` wiped the whole search), else a free name at
    ``default`` (``free_dir``).

    Example:
        >>> output_dir(None, Path("no/such/finetune"))
        PosixPath('no/such/finetune')

    Raises:
        ConfigError: for a file, a folder that is not empty, or a path that holds a control
            character (``new_folder``).
    """
    if given is None or str(given) == "":
        return free_dir(default)
    out = new_folder(given, "`out_dir` (--out)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a folder that is not empty" if out.is_dir() else "a file"
        held = (" (it holds an interrupted run's last.ckpt: --ckpt_path last resumes it "
                "there)" if (out / "last.ckpt").is_file() else "")
        raise ConfigError(f"the output folder {out} is {what}{held}; give a new or empty "
                          f"folder (nothing is deleted), or leave it out for a free name at "
                          f"{free_dir(default)}")
    return out


def undo_fit(out_dir: str | os.PathLike) -> Callable[[], None]:
    """What takes back, after a fit refused as bad input (a monitor never logged), what it
    wrote into ``out_dir``, which ``out_folder`` gave new or empty: the folder it is about
    to make is removed with the folders made for it that are still empty, or what it writes
    into the empty folder; nothing else is touched.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "fit" / "net"
        >>> undo = undo_fit(out)
        >>> out.mkdir(parents=True); _ = (out / "metrics.csv").write_text("epoch")
        >>> undo(); out.parent.exists()
        False
    """
    out = user_path(out_dir)
    made = next((folder for folder in reversed((out, *out.parents)) if not folder.exists()),
                None)

    def undo() -> None:
        if made is not None:  # its folder, then the folders made for it while still empty
            shutil.rmtree(out, ignore_errors=True)  # (was: all of ``made``, where other runs
            for folder in out.parents:  # may have written meanwhile: runs/ of a new project)
                if folder == made.parent or not folder.is_dir() or any(folder.iterdir()):
                    break
                folder.rmdir()
            return
        for path in out.iterdir():  # it was empty
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return undo

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

The settings a resume must share with the interrupted run (``fit_record``, ``check_resume``,
``recorded_epochs``, ``CHANGEABLE``, ``START``) are ``fit_resume_checks``'s; the output
folder of a new one (``out_folder``, ``output_dir``, ``free_dir``, ``undo_fit``)
``fit_output``'s: all importable from here too.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "finetune"
    >>> resume_point("last", folder, None, "fine-tune", "run")
    Traceback (most recent call last):
    ...
    lightning_nas.errors.ConfigError: ckpt_path='last': no interrupted fine-tune of run to ...
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path

from lightning_nas.errors import ConfigError
from lightning_nas.fit_output import free_dir, out_folder, output_dir, undo_fit
from lightning_nas.fit_resume_checks import (
    CHANGEABLE,
    START,
    check_resume,
    fit_record,
    load_checkpoint,
    recorded_epochs,
)
from lightning_nas.fit_resume_words import ckpt_said, leave_out, without_ckpt_path
from lightning_nas.run_folder import user_path
from lightning_nas.search.checkpoints import epochs_trained
from lightning_nas.search.fit_segments import NO_CHECKPOINTS, UNFINISHED, unsaved
from lightning_nas.search.setting_checks import in_words
from lightning_nas.search.trial_checkpoint import FIT_RECORD

__all__ = ["CHANGEABLE", "LAST", "START", "check_resume", "fit_record", "free_dir",
           "out_folder", "output_dir", "recorded_epochs", "resume_hint", "resume_point",
           "undo_fit"]

LAST = "last"
_NUMBERED = re.compile(r"_(\d+)$")


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
    ckpt = load_checkpoint(path, said)
    record = ckpt.get(FIT_RECORD)
    if not isinstance(record, dict) or record.get("kind") != kind or not any(
            str(key).startswith("TrialReporter{") for key in ckpt.get("callbacks") or {}):
        raise ConfigError(f"{said}: not a checkpoint a {kind} wrote to resume from (it holds "
                          f"no {kind} settings or no epoch history); give 'last' or "
                          f"{folder / 'last.ckpt'}")
    return folder, path


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
            done = f" (epochs 0..{epochs_trained(load_checkpoint(last, str(last))) - 1} trained)"
        except ConfigError:
            done = ""
        words = [w for i, w in enumerate(argv) if not _ckpt_word(w)
                 and not (i and _ckpt_word(argv[i - 1]) and "=" not in argv[i - 1])]
        again = LAST if ckpt_path in (None, LAST) else str(last)
        command = shlex.join(["lightning-nas", *words, "--ckpt_path", again])
        return f"; resume it from its last.ckpt{done} with:\n  {command}"
    return said

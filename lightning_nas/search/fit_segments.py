"""The start and end of a fit's or fine-tune's fit (``own_logs``): its folder left as an
uninterrupted run leaves it; a promoted search trial's version merged with those of its
fits a kill interrupted (``merge_interrupted``).

A fit or fine-tune marks its folder ``UNFINISHED`` as it starts (``start_own_fit``), and a
completed one removes the mark and its ``last.ckpt`` (written at each epoch's end to resume
from): a folder with a ``best.ckpt``, no ``last.ckpt`` and the mark was interrupted before
its first training epoch ended (a validation within it, ``val_check_interval`` < 1, wrote the
``best.ckpt``), not finished; one without the mark (an older version's too) finished. A
resumed one logged its epochs into a version of its own (``logs_resumed_<ns>``: Lightning's
``CSVLogger`` deletes a version's ``metrics.csv`` when it starts writing there):
``merge_logs`` puts each segment's rows into ``logs/metrics.csv``, those an earlier segment
logged for the epochs a later one trained again left out, and the segments' other files
there too (the last one's ``hparams.yaml``, a folder a ``ModelCheckpoint`` derived from it,
a TensorBoard logger's event files beside the earlier ones: one run).
Once the merged ``metrics.csv`` is in place, each version merged is renamed to a hidden
``.merged_<name>`` at once and then removed. A kill within that leaves hidden versions, or,
in the instant between the two steps, a version whose rows the merged ``metrics.csv`` holds
as the merge leaves them: the next fit, fine-tune or resume in that folder removes both as
it starts (``start_own_fit``; was: a duplicate version until a resume ended, and part of
one for good where the kill came while it was removed).

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name, rows in (("logs", "epoch,val\\n0,1\\n1,2\\n"),
    ...                    ("logs_resumed_7", "epoch,val\\n1,3\\n")):
    ...     (folder / name).mkdir()
    ...     _ = (folder / name / "metrics.csv").write_text(rows)
    >>> merge_logs(folder); print((folder / "logs" / "metrics.csv").read_text(), end="")
    epoch,val
    0,1
    1,3
    >>> sorted(p.name for p in folder.iterdir())
    ['logs']
"""

from __future__ import annotations

import csv
import filecmp
import glob
import math
import os
import shutil
from pathlib import Path
from typing import Any

from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.trial_checkpoint import KILL_LEFTOVERS
from lightning_nas.search.trial_logs import logger_versions
from lightning_nas.search.wandb_ids import new_attempt

__all__ = ["NO_CHECKPOINTS", "UNFINISHED", "drop_merge_leftovers", "end_own_fit",
           "merge_interrupted", "merge_logs", "start_own_fit", "unsaved"]

_SEGMENT = "logs_resumed_"
#: in the name of each TensorBoard event file (TensorBoard reads every file that has it)
_EVENTS = "tfevents"
#: the name a merged version takes before it is removed (``_retire``)
_RETIRED = ".merged_"
#: the mark of a fit's or fine-tune's folder from its start until it completes
UNFINISHED = ".unfinished"
#: why a fit or fine-tune under ``trainer.enable_checkpointing: false`` has nothing to
#: resume from, which its ``UNFINISHED`` mark says
NO_CHECKPOINTS = "trainer.enable_checkpointing is false, so it wrote no last.ckpt"


def _epoch(row: dict[str, str]) -> float:
    """A row's epoch (``inf`` where it has none: a metric logged outside the loop, as the
    reporter's ``hp_metric`` at the end of training)."""
    try:
        return float(row.get("epoch") or math.inf)
    except ValueError:
        return math.inf


def _step(row: dict[str, str]) -> float:
    """A row's step (``inf`` where it has none)."""
    try:
        return float(row.get("step") or math.inf)
    except ValueError:
        return math.inf


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _merged(tables: list[list[dict[str, str]]]) -> list[dict[str, str]]:
    """The rows of ``tables`` (segments in the order they were written), each in its order:
    each one's of the epochs no later segment trained again, its rows of no epoch (a
    ``LearningRateMonitor``'s, by step alone) before the step a later segment went on from,
    and the last one's rows of no epoch (was: only the last one's, after every epoch's)."""
    rows: list[dict[str, str]] = []
    for i, table in enumerate(tables):
        later = [r for t in tables[i + 1:] for r in t]
        start = min((e for r in later if math.isfinite(e := _epoch(r))), default=math.inf)
        step = min((s for r in later if math.isfinite(s := _step(r))), default=math.inf)
        last = i == len(tables) - 1
        rows += [r for r in table if (_epoch(r) < start if math.isfinite(_epoch(r)) else
                                      last or _step(r) < step)]
    return rows


def _write(rows: list[dict[str, str]], target: Path) -> None:
    """``rows`` as ``target``'s ``metrics.csv``, replaced at once."""
    keys = sorted({key for row in rows for key in row})
    target.mkdir(exist_ok=True)
    tmp = target / f".metrics.csv.{os.getpid()}"
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, target / "metrics.csv")


def _segments(folder: Path, prefix: str = _SEGMENT) -> list[Path]:
    """``folder``'s ``logs_resumed_<ns>`` versions (``prefix<ns>``), in the order they were
    written."""
    return sorted((p for p in folder.glob(f"{glob.escape(prefix)}*")
                   if p.name[len(prefix):].isdigit()), key=lambda p: int(p.name[len(prefix):]))


def _retire(segments: list[Path]) -> None:
    """Remove ``segments`` (merged): each renamed to a hidden ``.merged_<name>`` at once
    first, so that a kill while they are removed leaves no part of one in sight
    (``_drop_retired`` removes what it left)."""
    retired = []
    for segment in segments:
        hidden = segment.with_name(f"{_RETIRED}{segment.name}")
        shutil.rmtree(hidden, ignore_errors=True)  # an earlier kill's
        segment.rename(hidden)
        retired.append(hidden)
    for hidden in retired:
        shutil.rmtree(hidden)


def _drop_retired(folder: Path, name: str = "") -> None:
    """Remove the merged versions a kill left renamed (``_retire``) in ``folder``: of
    version ``name`` alone where given (``<name>_resumed_<ns>``: a folder the versions of
    other trials share), and a ``metrics.csv`` it left half-written there (``_write``)."""
    pattern = f"{_RETIRED}{glob.escape(name)}_resumed_*" if name else f"{_RETIRED}*"
    for hidden in folder.glob(pattern):
        if hidden.is_dir() and not hidden.is_symlink():
            shutil.rmtree(hidden, ignore_errors=True)
    for tmp in (folder / (name or "logs")).glob(".metrics.csv.*"):
        tmp.unlink(missing_ok=True)


def _take_files(segments: list[Path], target: Path) -> None:
    """Copy ``segments``' files but their ``metrics.csv`` into ``target``: their
    ``hparams.yaml`` (the last one's wins), a user's ``ModelCheckpoint`` folder, a
    TensorBoard logger's event files beside those there (``_events_place``)."""
    for segment in segments:
        for path in segment.iterdir():
            if path.is_dir() and not path.is_symlink():
                shutil.copytree(path, target / path.name, dirs_exist_ok=True)
            elif path.name != "metrics.csv":
                shutil.copy2(path, _events_place(path, target) if _EVENTS in path.name
                             else target / path.name)


def _events_place(path: Path, target: Path) -> Path:
    """Where ``path``, a TensorBoard event file of a resumed segment, goes in ``target``: its
    name, or where an earlier segment's other file has it (tensorboardX names one by the
    second and the host: a resume within the same second), ``NAME.1``, ``NAME.2``, ...,
    which TensorBoard reads after it, as one run (was: it replaced that file, the earlier
    epochs gone from TensorBoard); where that file is this one (a merge a kill cut off,
    done again) its own place."""
    place, n = target / path.name, 0
    while place.exists() and not filecmp.cmp(place, path, shallow=False):
        n += 1
        place = target / f"{path.name}.{n}"
    return place


def _filled(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """``rows`` without their empty cells (tables of other columns compare alike)."""
    return [{k: v for k, v in row.items() if v not in ("", None)} for row in rows]


def _settle(folder: Path) -> None:
    """Finish a merge of ``folder``'s logs that a kill cut off: the versions it renamed
    removed, and the ``logs_resumed_*`` versions whose rows ``logs/metrics.csv`` already
    holds as the merge leaves them (merging again changes nothing) taken in and removed;
    a version no merge took in (a killed fit's) is left as it is."""
    _drop_retired(folder)  # and a kill within ``_write``'s file
    target = folder / "logs" / "metrics.csv"
    resumed = [p for p in _segments(folder) if (p / "metrics.csv").is_file()]
    if not resumed or not target.is_file():
        return
    tables = [_read(s / "metrics.csv") for s in resumed]
    logs = _read(target)
    if all(tables) and _filled(_merged([logs, *tables])) == _filled(logs):
        _take_files(resumed, folder / "logs")
        _retire(resumed)


def merge_logs(folder: Path, name: str = "logs") -> None:
    """Merge the ``metrics.csv`` of ``folder``'s ``name`` and ``name_resumed_*`` versions
    (in the order they were written) into ``name``; a version without one (another
    logger's) is left as it is."""
    resumed = [p for p in _segments(folder, f"{name}_resumed_") if (p / "metrics.csv").is_file()]
    if not resumed:
        return
    segments = [s for s in (folder / name, *resumed) if (s / "metrics.csv").is_file()]
    target = folder / name
    _write(_merged([_read(s / "metrics.csv") for s in segments]), target)
    _take_files(resumed, target)
    _retire(resumed)  # after the merged rows are in place


def merge_interrupted(folder: Path, known_epochs: int) -> None:
    """A promoted search trial's segment merged with those of its fits a kill interrupted
    (they resumed from the same pause: every epoch they logged is ``known_epochs`` or
    later), into the last one, so the folder holds the versions an uninterrupted search
    leaves (one per promotion); versions holding files of another logger are left as they
    are.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> for name, rows in (("logs_resumed_1", "epoch,val\\n0,1\\n"),
        ...                    ("logs_resumed_2", "epoch,val\\n1,2\\n2,3\\n"),
        ...                    ("logs_resumed_3", "epoch,val\\n2,4\\n")):
        ...     (folder / name).mkdir()
        ...     _ = (folder / name / "metrics.csv").write_text(rows)
        >>> merge_interrupted(folder, 1)
        >>> sorted(p.name for p in folder.iterdir())
        ['logs_resumed_1', 'logs_resumed_3']
        >>> print((folder / "logs_resumed_3" / "metrics.csv").read_text(), end="")
        epoch,val
        1,2
        2,4
    """
    own = {"metrics.csv", "hparams.yaml"}
    ours = []
    for segment in _segments(folder):
        if not {p.name for p in segment.iterdir()} <= own:
            continue
        table = _read(segment / "metrics.csv") if (segment / "metrics.csv").is_file() else []
        if all(_epoch(r) >= known_epochs for r in table):
            ours.append((segment, table))
    if len(ours) < 2:
        return
    _write(_merged([table for _, table in ours]), ours[-1][0])
    _retire([segment for segment, _ in ours[:-1]])


def start_own_fit(spec: Any) -> None:
    """Before a trial's ``spec`` trains, in the process that runs it (not its DDP ranks):
    what a kill left in its folder removed, the held weights of an undecided tie
    (``TIE_FILE``; was: kept beside a resumed fit's or promoted search trial's
    ``best.ckpt`` until its next tie), a ``last.ckpt`` whose epoch's training row was not
    logged (``LAST_PENDING``) and the versions of a cut-off merge of its logs (a search
    trial's: the hidden ones, its configured loggers' too, beside other trials' versions,
    which are left alone); and a fit's
    or fine-tune's (``record``) folder marked ``UNFINISHED``, and one that starts from
    scratch given W&B runs of its own (``new_attempt``, its ids, and its MLflow runs'
    names, ending ``_<ns>``; its resumes go on in them) by a W&B (MLflow) logger node: its
    folder, new or emptied, tells nothing of a fit that ran there before, whose id (name)
    was the same (was: W&B resumed that fit's run, both fits' rows in it,
    ``trainer/global_step`` from 0 again)."""
    folder = Path(spec.trial_dir)
    for name in KILL_LEFTOVERS:
        (folder / name).unlink(missing_ok=True)
    if spec.record is None:  # its merge's leftovers: the next end's merge is whole
        drop_merge_leftovers(spec)
        return
    folder.mkdir(parents=True, exist_ok=True)
    _settle(folder)
    if spec.ckpt_path is None:
        new_attempt(folder, spec.trainer.get("logger"), "_")
    (folder / UNFINISHED).write_text(
        f"a {spec.record.get('kind', 'fit')} started here has not completed (removed when it "
        f"does)\n{'' if spec.trainer.get('enable_checkpointing') is not False else NO_CHECKPOINTS}")


def drop_merge_leftovers(spec: Any) -> None:
    """Remove what a kill within a merge of search trial ``spec``'s log versions left
    (``merge_logs``): the versions it renamed hidden, in the trial's folder and, named after
    the trial's own version alone, in its configured loggers' folders, which other trials'
    versions share (``trial_logs.logger_versions``; was: kept for good there), and a
    ``metrics.csv`` it left half-written. The versions it had not renamed stay: the
    trial's next end merges them again (a merged version changes nothing).

    Example:
        >>> from types import SimpleNamespace
        >>> spec = SimpleNamespace(trial_dir="runs/none/trials/trial_0001", own_logs=False,
        ...                        trainer={})
        >>> drop_merge_leftovers(spec)
    """
    _drop_retired(Path(spec.trial_dir))
    for version in logger_versions(spec):
        _drop_retired(version.parent, version.name)


def unsaved(folder: Path) -> bool:
    """Whether ``folder``'s ``UNFINISHED`` mark says its fit or fine-tune writes no
    checkpoint (``NO_CHECKPOINTS``): an interrupt of it left nothing to resume from,
    whatever epochs it trained.

    Example:
        >>> unsaved(Path("runs/no_such_fit"))
        False
    """
    try:
        return NO_CHECKPOINTS in (folder / UNFINISHED).read_text()
    except (OSError, UnicodeDecodeError):
        return False


def end_own_fit(spec: Any, result: TrialResult) -> None:
    """After a fit's or fine-tune's ``spec`` (a ``TrialSpec`` with ``record``) returned
    ``result``: a completed one's ``last.ckpt`` and ``UNFINISHED`` mark removed, a resumed
    one's logs merged; a promoted search trial's segment merged with those of its fits a kill
    interrupted (``merge_interrupted``); a search trial a kill stopped, gone on from its
    ``last.ckpt`` (no scheduler, or before its first pause), logs merged into one version
    (``merge_logs``), its configured loggers' too (``logger_versions``), as an uninterrupted
    trial's."""
    if spec.record is None:
        if spec.ckpt_path is not None and spec.known_epochs:
            merge_interrupted(Path(spec.trial_dir), spec.known_epochs)
        elif spec.ckpt_path is not None:  # (was: a version more, epochs logged twice)
            for version in [Path(spec.trial_dir, "logs"), *logger_versions(spec)]:
                merge_logs(version.parent, version.name)
        return
    folder = Path(spec.trial_dir)
    if spec.ckpt_path is not None:
        merge_logs(folder)
    if result.status is TrialStatus.COMPLETED:
        (folder / "last.ckpt").unlink(missing_ok=True)
        (folder / UNFINISHED).unlink(missing_ok=True)

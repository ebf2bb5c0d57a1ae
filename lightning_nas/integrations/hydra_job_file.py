"""``lightning_nas_job.json``: what a Hydra sweep's job writes into its output folder as it
ends (``TimedTask``), and what the sweep reads back from it: the job's own start and end, a
failed job's traceback, the torch threads it trained with, and, where it returned or
raised, its number, overrides and config group choices, and what it returned (numbers only).
A batch whose launch raised (a job's process died: joblib, submitit; or a job's exception
that cannot be unpickled came back, joblib's ``BrokenProcessPool``) thereby keeps the
results and the errors of its jobs that had finished (``finished_jobs``): only the others
run again.

Example:
    >>> plain_return({"acc": 0.5, "name": "x"}), plain_return([1, 2.5]), plain_return("x")
    ({'acc': 0.5}, [1.0, 2.5], None)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

__all__ = ["JOB_FILE", "finished_jobs", "job_times", "number", "plain_return",
           "read_job_file", "write_job_file"]

#: the file each job writes into its output folder
JOB_FILE = "lightning_nas_job.json"


def write_job_file(started: float, finished: float, *, failed: str | None = None,
                   threads: int | None = None, set_threads: int | None = None,
                   returned: Any = None, has_returned: bool = False) -> None:
    """Write the running Hydra job's ``JOB_FILE`` into its output folder; nothing where it
    has none (no ``HydraConfig``).

    Args:
        started: the job's start (epoch seconds).
        finished: its end.
        failed: the traceback of a job that raised.
        threads: the torch threads it trained with.
        set_threads: the threads the sweep set for it (``hydra_threads``), None where not.
        returned: what the task function returned (kept where ``plain_return`` takes it).
        has_returned: whether the task function returned.
    """
    from hydra.core.hydra_config import HydraConfig

    try:
        hydra = HydraConfig.get()
        out = Path(hydra.runtime.output_dir) / JOB_FILE
    except Exception:  # noqa: BLE001 - no output folder: the batch's times are used
        return
    written: dict[str, Any] = {"started": started, "finished": finished, "threads": threads,
                               "set_threads": set_threads}
    if failed:
        written["traceback"] = failed
    plain = plain_return(returned) if has_returned else None
    if plain is not None or failed:  # which job it was (a batch whose launch raised)
        choices = OmegaConf.to_container(hydra.runtime.choices, resolve=False) or {}
        written.update(num=int(hydra.job.num), overrides=list(hydra.overrides.task),
                       choices=choices)
    if plain is not None:
        written["returned"] = plain
    try:
        out.write_text(json.dumps(written))
    except Exception:  # noqa: BLE001 - an unwritable folder: the batch's times are used
        pass


def read_job_file(folder: str | Path | None) -> dict[str, Any]:
    """What the job wrote into ``folder``'s ``JOB_FILE`` (empty where it wrote nothing)."""
    try:
        found = json.loads((Path(str(folder)) / JOB_FILE).read_text())
    except Exception:  # noqa: BLE001 - not written (another wrapper, no folder)
        return {}
    return found if isinstance(found, dict) else {}


def job_times(written: Mapping[str, Any]) -> tuple[float, float] | None:
    """The job's own ``(started, finished)`` in what it wrote.

    Example:
        >>> job_times({"started": 1, "finished": 2}), job_times({})
        ((1.0, 2.0), None)
    """
    try:
        return float(written["started"]), float(written["finished"])
    except Exception:  # noqa: BLE001 - not written
        return None


def finished_jobs(sweep_dir: str | Path, first: int, overrides: Sequence[Sequence[str]],
                  since: float) -> dict[int, tuple[str, dict[str, Any]]]:
    """The jobs of a batch launched from job number ``first`` (``overrides``: each job's)
    that returned or raised (``traceback``): ``{index in the batch: (its folder, what it
    wrote)}``, found under
    ``sweep_dir`` by their number and overrides, written after ``since`` (a folder of an
    earlier sweep into the same directory is not taken)."""
    wanted = {first + i: list(o) for i, o in enumerate(overrides)}
    found: dict[int, tuple[str, dict[str, Any]]] = {}
    for path in Path(str(sweep_dir)).rglob(JOB_FILE):
        written = read_job_file(path.parent)
        num, times = written.get("num"), job_times(written)
        if (("returned" in written or "traceback" in written) and num in wanted
                and written.get("overrides") == wanted[num]
                and times is not None and times[0] >= since):
            found[num - first] = (str(path.parent), written)
    return found


def plain_return(value: Any) -> Any:
    """What a task function returned, as JSON keeps it: a mapping's numbers, a list or
    tuple of numbers (None for one that is none), a number; None where it is none of them
    (the job's result is then not known from its file)."""
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        numbers = {str(k): number(v) for k, v in value.items()}
        return {k: v for k, v in numbers.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [number(v) for v in value]
    return number(value)


def number(value: Any) -> float | None:
    """``float(value)`` for numbers, 0-d tensors and numpy scalars; None otherwise.

    Example:
        >>> number(2), number(True), number("2")
        (2.0, None, None)
    """
    if isinstance(value, (bool, str)) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return None

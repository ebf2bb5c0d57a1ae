"""End to end: the trials' logs (``logs/``, ``logs_resumed_*/``) after ``kill -9`` and
resume are those of an uninterrupted search: a promoted trial killed during its continued
fit goes on from its latest ``last.ckpt`` on resume, and the killed fit's log version is
merged into the one its resumed fit writes (was: kept beside it, so the epochs the killed
fit logged appeared twice, in two versions, and a version more than without the kill). The
killed search (with the default logger) is ``tests.helpers_kill_promoted``'s, shared with
``test_kill_time``: a trial killed in its first fit is in it too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers_kill import json_lines, kill_rows
from tests.helpers_kill_promoted import killed_promoted_run, trial_folder


def _logs(run_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """Each trial folder's log versions, in the order they were written (their time-stamped
    names made alike), with their ``metrics.csv``."""
    out = {}
    for trial in sorted((run_dir / "trials").iterdir()):
        versions = sorted(trial.glob("logs*"), key=lambda p: (p.name != "logs", p.name))
        out[trial.name] = [(re.sub(r"_\d+$", "_N", v.name), (v / "metrics.csv").read_text())
                           for v in versions]
    return out


@pytest.mark.slow
def test_a_promoted_trial_killed_mid_fit_leaves_the_logs_of_an_uninterrupted_run(shared_run,
                                                                                  launcher):
    folder, made = killed_promoted_run(shared_run, launcher)
    run_dir, clean_dir, at_kill = folder / "killed", folder / "clean", made["at_kill"]
    (trial_id,) = at_kill["promoted"]
    assert at_kill["log_versions"][str(trial_id)] == 1  # the killed fit's version
    epochs = [e["epoch"] for e in json_lines(trial_folder(run_dir, trial_id) / "epochs.jsonl")]
    assert epochs[-2:] == [3, 3]  # again
    assert json.loads(kill_rows(run_dir / "search.db")[trial_id]["curve"]) == json.loads(
        kill_rows(clean_dir / "search.db")[trial_id]["curve"])
    assert _logs(run_dir) == _logs(clean_dir)

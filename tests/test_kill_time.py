"""End to end: the training time (``time_s``) of trials killed with their search.

A promoted trial (ASHA) killed during its continued fit goes on from its latest
``last.ckpt`` on resume: its time counts its fits before the pause, its killed fit up to
that checkpoint and the fit after the resume (was: the killed fit's part was lost). A trial
killed in its first fit goes on from its ``last.ckpt`` too, where one was in place (was:
trained again from scratch, as it still is without one: only the new fit counts).

Each training step sleeps a fixed time, so the epochs a fit trained bound its time below;
``tests.helpers.FitSpans`` notes when each fit began and ended, which bounds it above. The
killed search is ``tests.helpers_kill_promoted``'s, shared with ``test_kill_logs``.
"""

from __future__ import annotations

import pytest

from tests.helpers_kill import json_lines, kill_rows
from tests.helpers_kill_promoted import (
    SLEEP,
    fit_spans,
    fit_time,
    killed_promoted_run,
    trial_folder,
)

STEPS = 3  # training batches an epoch (96 samples, batches of 32)
EPOCH = SLEEP * STEPS  # an epoch's training takes at least this long
SLACK = 0.6  # seconds a fit runs outside its Trainer's setup and teardown, at most


@pytest.mark.slow
def test_a_promoted_trial_killed_mid_fit_counts_the_time_up_to_its_checkpoint(shared_run,
                                                                               launcher):
    # rungs at 1 and 4 epochs: of eight trials, the second best at rung 1 (paused: trial 1,
    # the first, went on) is promoted and trains epochs 1, 2 and 3
    folder, made = killed_promoted_run(shared_run, launcher)
    run_dir, at_kill = folder / "killed", made["at_kill"]
    db = run_dir / "search.db"

    # 1. trial 1 killed in its first fit, after a second of it: it goes on from its
    # last.ckpt (epoch 0's) where that was in place, else it is trained again from scratch
    first = made["first"]
    (killed_start, _), = made["first_spans"]
    assert first - killed_start > 1.0

    # 2. killed while the promoted trial trains epoch 3 (its last.ckpt: after epoch 2)
    second = made["second"]
    (trial_id,) = at_kill["promoted"]
    stored = at_kill["fit_time"][str(trial_id)]  # its fit before the pause (epoch 0)
    trial_dir = trial_folder(run_dir, trial_id)
    before = at_kill["epochs"][str(trial_id)]
    assert before == [0, 1, 2, 3]
    (paused_start, paused_end), (killed_fit, never) = at_kill["spans"][str(trial_id)]
    assert never is None and killed_fit < second
    assert paused_end - paused_start <= stored <= paused_end - paused_start + SLACK

    # trial 1 (4 epochs: alone at rung 1, it went on), checked as stored at the second
    # kill: gone on from epoch 0's last.ckpt, its time counts the killed fit up to that
    # checkpoint (epoch 0, trained once) and the new fit (epochs 1 to 3; was: the killed
    # fit's part lost, all 4 epochs trained again); trained again from scratch (no
    # last.ckpt yet at the kill), its new fit alone counts (not the killed one's second)
    if made["first_last"]:
        (killed, never), (start, end) = at_kill["spans"]["1"]
        assert killed == killed_start and never is None and start > first
        assert 4 * EPOCH <= at_kill["fit_time"]["1"] <= (first - killed) + (end - start) + SLACK
        assert [e["epoch"] for e in json_lines(trial_folder(run_dir, 1) / "epochs.jsonl")
                ][-3:] == [1, 2, 3]
    else:
        (start, end), *_ = at_kill["spans"]["1"]
        assert start > first
        assert EPOCH <= at_kill["fit_time"]["1"] <= end - start + SLACK

    # 3. resumed to its end: the promoted trial trains on from epoch 3
    after = json_lines(trial_dir / "epochs.jsonl")
    assert [e["epoch"] for e in after[len(before):]] == [3]  # from its last.ckpt
    assert kill_rows(db)[trial_id]["status"] == "COMPLETED"
    took = fit_time(db, trial_id)
    *_, (resumed_start, resumed_end) = fit_spans(trial_dir)
    resumed = resumed_end - resumed_start
    # its fit before the pause, epochs 1 and 2 of the killed fit (trained once), the last
    assert took >= stored + 2 * EPOCH + resumed, (took, stored, resumed)
    # at most: the killed fit up to the kill (its epoch 3 was not kept: trained again)
    assert took <= stored + (second - killed_fit) + resumed + SLACK, (took, stored, resumed)

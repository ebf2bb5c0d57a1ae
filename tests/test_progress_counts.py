"""The count a verbose search's trial lines print (``[trial N | k/M done]``) under a
scheduler that pauses and promotes trials: ``k`` is the trials of the budget that have
stopped (completed, pruned or paused), each trial once; a promoted trial's later line
says ``promoted @E`` and keeps the count; the count never goes back. Real Trainers, real
nevergrad, real stores; inline and with two trials at once (two threads)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from lightning_nas import Search
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

#: each width's val_acc (plus 0.01 an epoch), lower in the order RandomSearch (seed 0) asks them:
#: ASHA (eta 2) pauses trials 2 and 3 at rung 1 and promotes them as weaker ones come
_VALUE = {16: 0.9, 64: 0.8, 32: 0.7, 2: 0.6, 4: 0.5, 8: 0.4}
_LINE = re.compile(r"^\[trial +(\d+) \| +(\d+)/(\d+) done\] (.*)$")


class ScriptedWidth(TinyNet):
    """Logs a value set by its width as ``val_acc`` (the same in every process)."""

    def validation_step(self, batch, batch_idx):
        self.log("val_acc", _VALUE[self.hparams.width] + 0.01 * self.current_epoch)


def _lines(tmp_path, capsys, **kw) -> list[tuple[int, int, int, str]]:
    Search(ScriptedWidth, {"width": {"choice": sorted(_VALUE)}}, data=BlobData,
           data_init_args={"n": 32, "batch_size": 16},
           trainer={"max_epochs": 4, "limit_train_batches": 1, "limit_val_batches": 1,
                    "logger": False},
           scheduler="asha", min_epochs=1, eta=2, max_epochs=4, monitor="val_acc",
           mode="max", optimizer="RandomSearch", seed=0, budget=6, verbose=True,
           progress=False, run_dir=tmp_path / "run", **kw).run()
    return _parsed(capsys.readouterr().out)


def _parsed(out: str) -> list[tuple[int, int, int, str]]:
    """Each trial line's trial, count, budget and the rest of it."""
    return [(int(m[1]), int(m[2]), int(m[3]), m[4])
            for m in map(_LINE.match, out.splitlines()) if m]


def _check(lines: list[tuple[int, int, int, str]]) -> None:
    """Each trial's first line counts it (one more than the line before); a later line of
    the same trial says it was promoted and counts nothing new."""
    seen: set[int] = set()
    done = 0
    for trial, count, budget, rest in lines:
        line = f"[trial {trial} | {count}/{budget} done] {rest}"
        assert budget == 6, line
        assert count == done + (trial not in seen), line  # was: 5/6 after 6/6
        assert rest.startswith("promoted @") is (trial in seen), line
        seen.add(trial)
        done = count
    assert seen == set(range(1, 7)) and done == 6
    assert len(lines) > len(seen), lines  # some trial was promoted


def test_a_promoted_trials_line_says_so_and_counts_no_new_trial(tmp_path, capsys):
    # was: "[trial   4 | 6/6 done] PAUSED @2 ..." after trial 6's own 6/6: four lines
    # said 6/6, the last three of trials promoted (not said), each as if it were new
    lines = _lines(tmp_path, capsys)
    _check(lines)
    promoted = [rest for *_, rest in lines if rest.startswith("promoted")]
    assert promoted[0].startswith("promoted @1: PAUSED @2 val_acc="), promoted


class _Killed(Exception):
    pass


def test_a_resumed_search_counts_on_from_the_trials_it_had_done(tmp_path, capsys):
    # the paused trials a resume reloads are counted once: its first promotion says so
    def kill_after_4(result) -> None:
        if result.trial_id == 4:
            raise _Killed

    with pytest.raises(_Killed):
        _lines(tmp_path, capsys, on_trial_end=kill_after_4)
    first = _parsed(capsys.readouterr().out)
    assert [line[:2] for line in first] == [(1, 1), (2, 2), (3, 3), (4, 4)], first
    lines = _lines(tmp_path, capsys)
    assert lines[0][:2] == (2, 4) and lines[0][3].startswith("promoted @1: "), lines
    _check(first + lines)


def test_the_count_never_goes_back_with_two_trials_at_once(tmp_path, capsys):
    # was: "[trial 5 | 5/6 done]" after "[trial 6 | 6/6 done]": a promoted trial left the
    # count while it ran (no longer paused), and came back only when it ended; two threads
    # run two trials at once as two worker processes do (the count is the loop's)
    with ThreadPoolExecutor(2) as pool:
        _check(_lines(tmp_path, capsys, executor=pool, num_workers=2))

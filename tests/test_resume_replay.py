"""A resume replays the uninterrupted search: kills between a trial's row and its ask, of
a promoted trial after its next pause, in a search with a counted objective (processes
forked by ``tests.launcher``); a store written before events were logged says so; the
progress bar starts at the trials done."""

from __future__ import annotations

import re

from lightning_nas import Search
from lightning_nas.store import RunStore
from tests.helpers_resume import objective_search as _objective_search

KILL_BETWEEN_WRITES = """
import os, sys

from lightning_nas import Search
from lightning_nas.search import asktell


def score(arch):
    return {"val_acc": arch["x"] / 10 - 0.01 * arch["y"]}


def dying(log, write, die_at):
    def wrapped(self, candidate, trial_id, *args, **kwargs):
        if trial_id == die_at:  # killed right after the trial's row was written
            os._exit(9)
        return write(self, candidate, trial_id, *args, **kwargs)
    return wrapped


if __name__ == "__main__":
    run_dir, die_at = sys.argv[1], int(sys.argv[2])
    asktell.AskTell.started = dying(asktell.AskTell, asktell.AskTell.started, die_at)
    Search(None, {"x": {"int": [0, 10]}, "y": {"choice": [0, 1, 2]}}, objective=score,
           monitor="val_acc", mode="max", budget=8, seed=3, run_dir=run_dir,
           verbose=False).run()
"""


def test_a_kill_between_a_trial_and_its_ask_resumes_the_same_search(tmp_path, launcher):
    # was: the trial's row and the optimizer's ask were two commits; a kill between them left
    # a trial whose ask the resume never replayed, so every later proposal shifted
    script = tmp_path / "kill.py"
    script.write_text(KILL_BETWEEN_WRITES)

    def run(run_dir, die_at):
        return launcher.run([run_dir, die_at], tmp_path / "log.txt", script, timeout=120)

    assert run(tmp_path / "full", 0) == 0
    assert run(tmp_path / "killed", 4) == 9
    assert run(tmp_path / "killed", 0) == 0

    def trials_and_events(run_dir):
        with RunStore(run_dir / "search.db") as store:
            return ([(t.trial_id, t.arch, t.status, t.score) for t in store.trials()],
                    store.events())

    # the same trials from the same optimizer calls: trial 4 was asked, as it was uninterrupted
    # (not a "given" architecture whose ask the optimizer never made)
    assert trials_and_events(tmp_path / "killed") == trials_and_events(tmp_path / "full")


KILL_ONCE = """
import os, sys

import lightning.pytorch as pl
import torch

from lightning_nas import Search
from tests.helpers import BlobData, TinyNet


class DieOnce(pl.Callback):
    # ends the process once: at the end of a promoted (resumed) fit the scheduler stopped
    # again (after its last.ckpt, before the search stored the pause), or in the first epoch

    def __init__(self, marker, when):
        self.marker, self.when = marker, when

    def _die(self):
        if self.marker and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(9)

    def on_train_end(self, trainer, pl_module):
        if self.when == "stopped_again" and trainer.ckpt_path \\
                and trainer.current_epoch < trainer.max_epochs:
            self._die()

    def on_train_epoch_end(self, trainer, pl_module):
        if self.when == "first_epoch":
            self._die()


if __name__ == "__main__":
    torch.set_num_threads(1)
    run_dir, marker, when = sys.argv[1:4]
    space = {"width": {"choice": [4, 8, 16, 32, 64]}, "lr": {"float": [0.01, 0.5], "log": True},
             "depth": {"choice": [1, 2]}}
    how = ({"scheduler": "asha", "eta": 2, "min_epochs": 1, "budget": 8}
           if when == "stopped_again" else
           {"objectives": {"val_acc": "max", "params": "min"}, "budget": 3})
    Search(TinyNet, space, data=BlobData,
           trainer={"max_epochs": 4, "accelerator": "cpu", "devices": 1,
                    "callbacks": [DieOnce(marker, when)]},
           seed=0, optimizer="NGOpt", run_dir=run_dir, verbose=False, **how).run()
"""


def _killed_once_and_resumed(tmp_path, launcher, when):
    """The stores of an uninterrupted run of ``KILL_ONCE`` and of one killed once ``when``
    and resumed: ``(trial id, arch, status, epochs, curve, metrics)`` per trial."""
    script = tmp_path / "kill.py"
    script.write_text(KILL_ONCE)

    def run(run_dir, marker):
        return launcher.run([run_dir, marker, when], tmp_path / "log.txt", script)

    marker = tmp_path / "killed_once"
    assert run(tmp_path / "full", "") == 0
    assert run(tmp_path / "killed", str(marker)) == 9 and marker.exists()
    assert run(tmp_path / "killed", str(marker)) == 0

    def trials(run_dir):
        with RunStore(run_dir / "search.db") as store:
            return [(t.trial_id, t.arch, t.status, t.epochs, t.curve, t.metrics)
                    for t in store.trials()]

    return trials(tmp_path / "full"), trials(tmp_path / "killed")


def test_a_promoted_trial_killed_after_its_next_pause_is_paused_on_resume(tmp_path, launcher):
    # was: its last.ckpt (written after the rule paused it again) was taken as a promotion to
    # continue: nothing judged it at that rung, and it trained on to max_epochs, COMPLETED
    full, killed = _killed_once_and_resumed(tmp_path, launcher, "stopped_again")
    assert killed == full


def test_a_search_with_a_counted_objective_resumes_after_a_kill(tmp_path, launcher):
    # was: the re-run trial was stored without its params (counted only when proposed), the
    # search stopped ("objective 'params' is neither logged nor counted") and so did every
    # later resume of the folder
    full, killed = _killed_once_and_resumed(tmp_path, launcher, "first_epoch")
    assert killed == full and all("params" in metrics for *_, metrics in killed)


def test_a_resumed_searchs_progress_bar_starts_at_the_trials_done(tmp_path, capsys):
    # was: 0/4 at the start of the resume, then the earlier trials counted as done within
    # this invocation's first seconds (a rate far too high, a time left far too short)
    def run(budget: int) -> None:
        Search(None, {"x": {"choice": [1, 2, 3, 4, 5]}}, objective=lambda a: {"val_acc": a["x"]},
               budget=budget, seed=0, run_dir=tmp_path, verbose=True, progress=True).run()

    run(2)
    capsys.readouterr()
    run(4)
    bars = [frame for frame in re.split(r"[\r\n]", capsys.readouterr().err) if "/4" in frame]
    assert bars and "2/4" in bars[0] and not any(" 0/4" in b or "|0/4" in b for b in bars), bars


def test_a_store_written_before_events_were_logged_says_its_resume_cannot_choose_as_before(
        tmp_path, capsys):
    # such a store's trials are told as given, the fresh optimizer's random state never
    # advances and later asks redraw the first trials' numbers (was: without a word)
    import sqlite3

    _objective_search(tmp_path, budget=2, verbose=True).run()
    _objective_search(tmp_path, budget=3, verbose=True).run()  # events replayed: not said
    assert "did not log the optimizer's asks" not in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "search.db") as db:  # as a version before events left it
        db.execute("DELETE FROM events")
    db.close()
    assert len(_objective_search(tmp_path, budget=4, verbose=True).run().trials) == 4
    out = capsys.readouterr().out
    assert out.count("This run was written by a version that did not log the optimizer's "
                     "asks; the search goes on from the stored results, but cannot make the "
                     "choices the uninterrupted run would have.") == 1


def test_a_resume_with_a_budget_below_the_trials_counted_says_why_it_trains_none(
        tmp_path, capsys):
    # was: "Resuming ...: 3 completed, 0 failed, 0 to re-run" and then the end, not why
    _objective_search(tmp_path, budget=3, verbose=True).run()
    capsys.readouterr()
    assert len(_objective_search(tmp_path, budget=2, verbose=True).run().trials) == 3
    out = capsys.readouterr().out
    assert ("The budget of 2 trials is used: the run folder counts 3 trials already, so no "
            "new trial starts; a larger budget goes on with the search.") in out
    _objective_search(tmp_path, budget=3, verbose=True).run()  # used exactly: no such word
    assert "is used: the run folder counts" not in capsys.readouterr().out

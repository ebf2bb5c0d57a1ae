"""A search interrupted: Ctrl-C (KeyboardInterrupt) and SIGTERM (exit 143) in a trial,
before Lightning handles them, after a fit's last check and with worker processes; the
interrupted trial is re-run on resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import lightning.pytorch as pl
import pytest

from lightning_nas import Search
from lightning_nas.results import TrialStatus
from lightning_nas.search.loop import SearchLoop
from lightning_nas.search.schedulers import MedianRule
from lightning_nas.store import RunStore
from tests.helpers_callbacks import EPOCH_LOG, SigintAtFirstBatch, SigtermAtFirstBatch
from tests.helpers_ctrl_c import handled, terminal_ctrl_c
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_search import tiny_search


class Interrupted(TinyNet):
    """Its first ``left`` fits are interrupted (Ctrl-C) in the first training step (of
    epoch ``epoch``, where not None)."""

    left = 0
    epoch: int | None = None

    def training_step(self, batch, batch_idx):
        cls = type(self)
        if cls.left and cls.epoch in (None, self.current_epoch):
            cls.left -= 1
            raise KeyboardInterrupt
        return super().training_step(batch, batch_idx)


def test_a_trial_interrupted_by_the_user_twice_is_run_again_not_failed(
        tmp_path, tiny_space, tiny_trainer, capsys):
    Interrupted.left = 2
    for _ in range(2):  # Lightning turns Ctrl-C into exit(1) after its graceful shutdown
        with pytest.raises((KeyboardInterrupt, SystemExit)):
            tiny_search(tmp_path, tiny_space, tiny_trainer, budget=1, model=Interrupted,
                        verbose=True).run()
        # in Python's words (was: "run the same command again to resume.", a command's)
        assert "Interrupted: 0 completed, 1 running (re-run on resume); call .run() again " \
               "(this Search, or one of its settings on this run_dir) to resume." \
               in capsys.readouterr().out
    result = tiny_search(tmp_path, tiny_space, tiny_trainer, budget=1, model=Interrupted).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED]  # was FAILED: "the


    # search process died 2 times while running this trial"


class SigtermAtFirstRecord(MedianRule):
    """Sends this process SIGTERM when the search records its first trial's curve: right
    after the trial was stored, as a SIGTERM from outside may come (once)."""

    fire = True

    def record(self, key, curve) -> None:
        super().record(key, curve)
        if SigtermAtFirstRecord.fire:
            SigtermAtFirstRecord.fire = False
            os.kill(os.getpid(), signal.SIGTERM)


def test_a_sigterm_right_after_a_trial_was_stored_counts_it_completed(
        tmp_path, tiny_space, tiny_trainer, capsys):
    SigtermAtFirstRecord.fire = True
    with pytest.raises(SystemExit) as info:
        tiny_search(tmp_path, tiny_space, tiny_trainer, budget=2, scheduler=SigtermAtFirstRecord(),
                    verbose=True).run()
    assert info.value.code == 143
    with RunStore(tmp_path / "search.db") as store:
        assert store.count(TrialStatus.COMPLETED) == 1
    # was: "Interrupted: 0 completed, ...", the stored trial not counted; and was, from
    # Python: "... run the same command again to resume, or `lightning-nas export RUN` ..."
    assert ("Interrupted: 1 completed, 0 running (re-run on resume); call .run() again (this "
            "Search, or one of its settings on this run_dir) to resume, or "
            f"lightning_nas.export_best({str(tmp_path)!r}) for the best so far."
            ) in capsys.readouterr().out
    result = tiny_search(tmp_path, tiny_space, tiny_trainer, budget=2,
                         scheduler=SigtermAtFirstRecord()).run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    db = sqlite3.connect(tmp_path / "search.db")  # each told once, the first on resume
    tells = db.execute("SELECT ask FROM events WHERE kind = 'tell'").fetchall()
    db.close()
    assert sorted(tells) == [(0,), (1,)]


def test_a_python_search_ended_by_sigterm_exits_143(tmp_path, tiny_space, tiny_trainer):
    # was: Lightning's SIGTERMException (a SystemExit without a code) went up unchanged, so a
    # script calling Search(...).run() ended with status 0 under `timeout` or a pre-emption
    trainer = {**tiny_trainer, "callbacks": [SigtermAtFirstBatch()]}
    with pytest.raises(SystemExit) as info:
        tiny_search(tmp_path, tiny_space, trainer, budget=1).run()
    assert info.value.code == 143
    with RunStore(tmp_path / "search.db") as store:
        assert [t.status for t in store.trials()] == [TrialStatus.RUNNING]  # re-run on resume


class SigtermInSetup(BlobData):
    """Sends this process SIGTERM in its ``setup``: in a fit, before Lightning's own SIGTERM
    handler is in place (it is set after the data's and the model's setup)."""

    def setup(self, stage: str | None = None) -> None:
        import signal

        os.kill(os.getpid(), signal.SIGTERM)
        super().setup(stage)


class SigtermAtTrainEnd(pl.Callback):
    """Sends this process SIGTERM in the first fit's ``on_train_end``: after Lightning's
    last look at its SIGTERM flag, so the fit ends as usual."""

    def on_train_end(self, trainer, pl_module):
        import signal

        os.kill(os.getpid(), signal.SIGTERM)


def _guarded(run) -> object:
    """Run ``run()`` with a SIGTERM handler that raises ``RuntimeError`` (the default one
    would end the test's process); a search handling SIGTERM puts its own in place."""
    import signal

    def not_the_searchs(signum, frame):
        raise RuntimeError("the search did not handle SIGTERM")

    with handled(signal.SIGTERM, not_the_searchs):
        return run()


def test_sigterm_before_lightning_handles_it_exits_143_and_counts_no_attempt(
        tmp_path, tiny_space, tiny_trainer, capsys):
    # was: with trials in the search's process only Lightning's handler took SIGTERM, set
    # once fit has set the data and model up: a SIGTERM in the data's setup (or while the
    # model was built, or between trials) killed the search at once, with no SystemExit(143)
    # for a script's finally, and the trial counted as a crash: two of them in a row and a
    # resume stored a sound trial FAILED ("the search process died 2 times")
    with pytest.raises(SystemExit) as info:
        _guarded(tiny_search(tmp_path, tiny_space, tiny_trainer, budget=1, data=SigtermInSetup,
                             verbose=True).run)
    assert info.value.code == 143
    assert "Interrupted: 0 completed, 1 running" in capsys.readouterr().out
    with RunStore(tmp_path / "search.db") as store:  # re-run on resume, attempts uncounted
        assert [t.status for t in store.trials()] == [TrialStatus.RUNNING]
        assert store.attempts(1) == 0


def test_sigterm_after_a_fits_last_check_stops_the_search_after_that_trial(
        tmp_path, tiny_space, tiny_trainer):
    # was: Lightning notes a SIGTERM and acts on it at its next check; one in the fit's
    # last moments (on_train_end) let the fit end as usual and the search went on with the
    # next trial as if nothing had come
    trainer = {**tiny_trainer, "callbacks": [SigtermAtTrainEnd()]}
    with pytest.raises(SystemExit) as info:
        _guarded(tiny_search(tmp_path, tiny_space, trainer, budget=3).run)
    assert info.value.code == 143
    with RunStore(tmp_path / "search.db") as store:
        assert [t.status for t in store.trials()] == [TrialStatus.COMPLETED]


def test_ctrl_c_in_a_trial_of_a_python_search_raises_keyboard_interrupt(
        tmp_path, tiny_space, tiny_trainer, capsys):
    # was: SystemExit(1), Lightning's exit after its graceful shutdown: a script's `except
    # KeyboardInterrupt:` never ran and it exited with status 1, not 130 (between trials,
    # or with worker processes, it was a KeyboardInterrupt)
    trainer = {**tiny_trainer, "callbacks": [SigintAtFirstBatch()]}
    with terminal_ctrl_c(), pytest.raises(KeyboardInterrupt):
        tiny_search(tmp_path, tiny_space, trainer, budget=1, verbose=True).run()
    assert "Interrupted: 0 completed, 1 running" in capsys.readouterr().out
    with RunStore(tmp_path / "search.db") as store:  # re-run on resume, attempts uncounted
        assert [t.status for t in store.trials()] == [TrialStatus.RUNNING]
        assert store.attempts(1) == 0


def test_a_search_with_process_workers_ended_by_sigterm_exits_143(tmp_path, tiny_space):
    # was: no Trainer runs in the driver, so nothing handled SIGTERM: the process died at
    # once (no "Interrupted" line, no SystemExit(143) for a script's finally)
    import signal
    import threading
    import time

    def sigterm_once_a_trial_trains() -> None:
        """SIGTERM once a worker's trial began its first training epoch (``EpochLog``'s
        ``epochs.jsonl`` in its folder; was: 2 s after its RUNNING row, while the worker
        was still importing torch: a stop during worker start, not during training)."""
        for _ in range(2400):  # (a cold fork server's imports: 30 s on a busy machine)
            if next(tmp_path.rglob("epochs.jsonl"), None) is not None:
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    def too_early(signum, frame):
        raise RuntimeError("SIGTERM came before the search loop")

    search = Search(TinyNet, tiny_space, data=BlobData, budget=2, num_workers=2,
                    executor="process", trainer={"max_epochs": 50, "accelerator": "cpu",
                                                 "callbacks": EPOCH_LOG},
                    model_init_args={"sleep": 0.05}, run_dir=tmp_path, verbose=False)
    with handled(signal.SIGTERM, too_early):
        threading.Thread(target=sigterm_once_a_trial_trains, daemon=True).start()
        with pytest.raises(SystemExit) as info:
            search.run()
    assert info.value.code == 143
    trained = [json.loads(line) for path in tmp_path.rglob("epochs.jsonl")
               for line in path.read_text().splitlines()]
    assert trained and all(e["pid"] != os.getpid() for e in trained)  # in a worker
    with RunStore(tmp_path / "search.db") as store:  # re-run on resume, attempts uncounted
        running = store.trials(TrialStatus.RUNNING)
        assert running and all(store.attempts(t.trial_id) == 0 for t in running)


@contextmanager
def signal_at(function, signum: int) -> Iterator[None]:
    """Sends this process ``signum`` once, as ``function`` is first called (a real signal,
    at that point): ``SearchLoop._submit``, where a trial's RUNNING row and the count of its
    start are written and the loop holds it as running only in that call's next lines;
    ``RunStore.finish_trial``, where the loop let the trial go and has yet to store it."""
    code = function.__code__

    def profile(frame, event, arg) -> None:
        if event == "call" and frame.f_code is code:
            sys.setprofile(None)
            os.kill(os.getpid(), signum)

    sys.setprofile(profile)
    try:
        yield
    finally:
        sys.setprofile(None)


def _objective_search(run_dir) -> Search:
    """A search of one trial scored by a function (no Trainer)."""
    return Search(None, {"width": {"choice": [1, 2]}}, objective=lambda arch: {"val_acc": 0.5},
                  budget=1, run_dir=run_dir, verbose=False)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_as_a_trial_starts_counts_no_attempt(tmp_path, signum):
    # was: a Ctrl-C or SIGTERM after the trial's row was written and before the loop held it
    # as running left its start counted, as a death of the process: two of them (its start,
    # then its re-run by the resume) and the next resume stored the trial FAILED ("the search
    # process died 2 times while running this trial")
    for _ in range(2):  # its start, then its re-run by the resume
        with terminal_ctrl_c(), signal_at(SearchLoop._submit, signum), \
                pytest.raises((KeyboardInterrupt, SystemExit)):
            _objective_search(tmp_path).run()
        with RunStore(tmp_path / "search.db") as store:
            assert [(t.status, store.attempts(t.trial_id)) for t in store.trials()] == [
                (TrialStatus.RUNNING, 0)]
    assert [t.status for t in _objective_search(tmp_path).run().trials] == [
        TrialStatus.COMPLETED]


def test_a_stop_as_a_trials_result_is_stored_comes_after_it(tmp_path):
    # was: a Ctrl-C after the loop let the trial go and before its result was stored lost
    # the result and left the trial RUNNING, its start counted as a death of the process
    with terminal_ctrl_c(), signal_at(RunStore.finish_trial, signal.SIGINT), \
            pytest.raises(KeyboardInterrupt):
        _objective_search(tmp_path).run()
    with RunStore(tmp_path / "search.db") as store:
        assert [t.status for t in store.trials()] == [TrialStatus.COMPLETED]


class InterruptedInEpoch1(Interrupted):
    """Interrupted in epoch 1: after epoch 0 ended, so its ``last.ckpt`` is written."""

    epoch = 1


def test_an_interrupted_trial_with_an_ended_epoch_is_said_to_go_on_from_it(
        tmp_path, tiny_space, tiny_trainer, capsys):
    # was: "1 running (re-run on resume)" and "1 to re-run", though the trial goes on from
    # its last.ckpt (its epoch 0 not trained again)
    InterruptedInEpoch1.left = 1
    trainer = {**tiny_trainer, "max_epochs": 2}
    with pytest.raises((KeyboardInterrupt, SystemExit)):
        tiny_search(tmp_path, tiny_space, trainer, budget=1, model=InterruptedInEpoch1,
                    verbose=True).run()
    assert "Interrupted: 0 completed, 1 running (on resume it goes on from its last ended " \
           "epoch); call .run() again" in capsys.readouterr().out
    result = tiny_search(tmp_path, tiny_space, trainer, budget=1, model=InterruptedInEpoch1,
                         verbose=True).run()
    assert f"Resuming {tmp_path}: 0 completed, 0 failed, 1 to re-run (1 from its last " \
           f"ended epoch)\n" in capsys.readouterr().out
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED]


class InterruptedWhenPromoted(TinyNet):
    """Its first ``left`` fits resumed from a checkpoint (a promoted trial's) are
    interrupted (Ctrl-C) in their first training step."""

    left = 0

    def training_step(self, batch, batch_idx):
        if type(self).left and self.trainer.ckpt_path:
            type(self).left -= 1
            raise KeyboardInterrupt
        return super().training_step(batch, batch_idx)


def test_an_interrupt_under_a_scheduler_counts_the_paused_trials(tmp_path, capsys):
    # was: "Interrupted: 4 completed, 1 running (...)", the paused trials (kept, and
    # promotable on resume) not counted, as if lost
    InterruptedWhenPromoted.left = 1
    space = {"lr": {"choice": [1e-4, 0.01, 0.3]}, "width": {"choice": [4, 8, 16, 32]}}
    options = dict(model=InterruptedWhenPromoted, budget=8, scheduler="asha", min_epochs=1,
                   eta=2, optimizer="RandomSearch", seed=1, verbose=True)
    trainer = {"max_epochs": 4, "logger": False, "enable_progress_bar": False,
               "enable_model_summary": False}
    with pytest.raises((KeyboardInterrupt, SystemExit)):
        tiny_search(tmp_path, space, trainer, **options).run()
    with RunStore(tmp_path / "search.db") as store:
        completed, paused = (store.count(s) for s in (TrialStatus.COMPLETED,
                                                     TrialStatus.PAUSED))
    assert completed >= 1 and paused >= 1  # one was promoted, others still paused
    assert f"Interrupted: {completed} completed, {paused} paused, 1 running (on resume it " \
           "goes on from its last ended epoch); call .run() again" in capsys.readouterr().out
    result = tiny_search(tmp_path, space, trainer, **options).run()
    assert f"Resuming {tmp_path}: {completed} completed, 0 failed, 1 to re-run (1 from its " \
           f"last ended epoch), {paused} paused\n" in capsys.readouterr().out
    assert not any(t.status is TrialStatus.RUNNING for t in result.trials)

"""A search stopped by its failures: the trials running then are let finish and stored,
what the stop counts, and the same error twice (or one every trial would hit) ending it;
and one stopped by an error of the user's ``on_trial_end``."""

from __future__ import annotations

import threading

import pytest
import yaml

from lightning_nas import Search
from lightning_nas.errors import SearchError
from lightning_nas.results import TrialStatus
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_search import tiny_search


def _objective_failing_after(first_waits: threading.Event, message: str):
    """An objective whose first call completes once ``first_waits`` is set and whose later
    calls raise ``message`` (``{c}``: the architecture's value)."""
    calls, lock = [], threading.Lock()

    def objective(arch: dict) -> dict:
        with lock:
            calls.append(arch)
            first = len(calls) == 1
        if not first:
            raise RuntimeError(message.format(c=arch["c"]))
        assert first_waits.wait(60), "the failure never came"
        return {"score": float(arch["c"])}
    return objective


@pytest.mark.parametrize(("max_failures", "message", "stop", "failures"), [
    (0, "broken at c={c}", r"1 trial failed \(max_failures=0\)", 1),
    (9, "broken setup", r"trials [12] and 3 failed the same way in the objective "
                        r"function", 2)],  # was: "in training", though nothing trained
    ids=["max_failures", "same_error_twice"])
def test_a_stop_on_failures_lets_the_running_trials_finish_and_stores_them(
        tmp_path, max_failures, message, stop, failures):
    # was: max_failures (or the same error twice) stopped the search at once, and the trial
    # running in the other worker was abandoned RUNNING: the best exported "so far" missed it
    from concurrent.futures import ThreadPoolExecutor

    failed, seen = threading.Event(), []  # the first call runs till the stop's failure

    def on_trial_end(result) -> None:
        seen.append(result.status)
        if seen.count(TrialStatus.FAILED) == failures:
            failed.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        search = Search(None, {"c": {"choice": [1, 2, 3, 4, 5, 6]}}, monitor="score",
                        mode="max", objective=_objective_failing_after(failed, message),
                        budget=6, seed=0, run_dir=tmp_path, max_failures=max_failures,
                        executor=pool, num_workers=2, on_trial_end=on_trial_end,
                        verbose=False)
        with pytest.raises(SearchError, match=stop) as info:
            search.run()
    with RunStore(tmp_path / "search.db") as store:
        statuses = sorted(t.status.value for t in store.trials())  # none started after
        best = store.best("max")
    assert statuses == sorted([TrialStatus.COMPLETED.value] + [TrialStatus.FAILED.value]
                              * failures)
    assert best is not None and best.status is TrialStatus.COMPLETED
    assert yaml.safe_load((tmp_path / "best.yaml").read_text())["trial"] == best.trial_id
    assert str(info.value).endswith(" The 1 other trial running then was let finish and "
                                    "stored (not killed); no trial started after the stop.")


def test_a_fatal_stop_while_a_trial_runs_offers_no_fresh_start_as_none_completed(tmp_path):
    # was: "... remove RUN (no trial completed) or choose another run_dir", while the trial
    # running then was let finish and completed: the run it said to remove held a result
    from concurrent.futures import ThreadPoolExecutor

    failed, calls, lock = threading.Event(), [], threading.Lock()

    def objective(arch: dict) -> dict:  # the first call runs on until the second failed
        with lock:
            calls.append(arch)
            first = len(calls) == 1
        if not first:
            return {"scor": float(arch["c"])}  # a misspelt monitor: every trial would
        assert failed.wait(60), "the failure never came"
        return {"score": float(arch["c"])}

    def on_trial_end(result) -> None:
        if result.status is TrialStatus.FAILED:
            failed.set()

    with ThreadPoolExecutor(max_workers=2) as pool, pytest.raises(SearchError) as info:
        Search(None, {"c": {"choice": [1, 2, 3, 4, 5, 6]}}, monitor="score", mode="max",
               objective=objective, budget=6, seed=0, run_dir=tmp_path, executor=pool,
               num_workers=2, on_trial_end=on_trial_end, verbose=False).run()
    said = str(info.value)
    assert "failed with an error every trial would hit: MonitorError" in said, said
    assert "no trial completed" not in said and "is not resumed" not in said, said
    assert said.endswith(" runs again). The 1 other trial running then was let finish and "
                         "stored (not killed); no trial started after the stop."), said
    with RunStore(tmp_path / "search.db") as store:  # as it was let: it completed
        assert store.count(TrialStatus.COMPLETED) == 1 and store.count(TrialStatus.FAILED) == 1


def test_a_max_failures_stop_counts_the_trials_that_failed_after_it(tmp_path):
    # was: the message counted the failures when the stop was decided ("1 trials failed"),
    # while the trial running then failed after it and the store held 2
    from concurrent.futures import ThreadPoolExecutor

    stopped, calls, lock = threading.Event(), [], threading.Lock()

    def objective(arch: dict) -> dict:
        with lock:
            calls.append(arch)
            first = len(calls) == 1
        if first:  # fails once the other's failure stopped the search
            assert stopped.wait(60), "the stop never came"
            raise RuntimeError(f"late failure at c={arch['c']}")
        raise RuntimeError(f"early failure at c={arch['c']}")

    def on_trial_end(result) -> None:
        stopped.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        search = Search(None, {"c": {"choice": [1, 2, 3, 4, 5, 6]}}, monitor="score",
                        mode="max", objective=objective, budget=6, seed=0, run_dir=tmp_path,
                        max_failures=0, executor=pool, num_workers=2,
                        on_trial_end=on_trial_end, verbose=False)
        with pytest.raises(SearchError) as info:
            search.run()
    with RunStore(tmp_path / "search.db") as store:
        failed = store.count(TrialStatus.FAILED)
    msg = str(info.value)
    assert failed == 2 and len(calls) == 2  # none started after the stop
    assert msg.startswith("2 trials failed (max_failures=0); last error: RuntimeError: late "
                          "failure at c="), msg
    assert msg.endswith("no trial started after the stop. 1 of them failed (counted "
                        "above)."), msg


def test_a_trial_let_finish_after_a_stop_that_stops_it_again_is_reopened_too(tmp_path):
    # was (review): its fatal error replaced the store's stopped_by (the first stopping
    # trial's), so a resume after the fix ran only one of the two again
    from concurrent.futures import ThreadPoolExecutor

    stopped, calls, lock = threading.Event(), [], threading.Lock()

    def typos(arch: dict) -> dict:
        with lock:
            calls.append(arch)
            first = len(calls) == 1
        if first:  # runs till the other's fatal error, then fails with one of its own
            assert stopped.wait(60)
            return {"val_acc_typo_a": 1.0}
        stopped.set()
        return {"val_acc_typo_b": 1.0}

    def run(objective):
        with ThreadPoolExecutor(max_workers=2) as pool:
            return Search(None, {"c": {"choice": [1, 2, 3, 4, 5, 6]}}, monitor="score",
                          mode="max", objective=objective, budget=6, seed=0,
                          run_dir=tmp_path, executor=pool, num_workers=2, verbose=False).run()

    with pytest.raises(SearchError, match="an error every trial would hit"):
        run(typos)
    with RunStore(tmp_path / "search.db") as store:
        failed = sorted(t.trial_id for t in store.trials(TrialStatus.FAILED))
        assert failed == [1, 2] and store.get_meta("stopped_by") == failed
    result = run(lambda arch: {"score": float(arch["c"])})  # the cause fixed: both run again
    assert {t.trial_id: t.status for t in result.trials if t.trial_id in failed} == {
        1: TrialStatus.COMPLETED, 2: TrialStatus.COMPLETED}


class _RunsAtSubmit:
    """An executor that runs each call as it is submitted (as Dask's synchronous scheduler
    does): the trials submitted together are all done at the next wait, which returns them
    in one list."""

    def submit(self, fn, *args):
        from concurrent.futures import Future

        future = Future()
        future.set_result(fn(*args))
        return future


def test_a_stop_on_failures_stores_the_other_results_of_the_same_wait(tmp_path):
    # was: the first result of a wait stopped the search, and the completed trial that came
    # back with it stayed RUNNING in the store, missing from the best exported so far
    calls = []

    def first_fails(arch: dict) -> dict:
        calls.append(arch)
        if len(calls) == 1:
            raise RuntimeError("a broken first trial")
        return {"score": float(arch["c"])}

    search = Search(None, {"c": {"choice": [1, 2, 3, 4, 5, 6]}}, monitor="score", mode="max",
                    objective=first_fails, budget=6, seed=0, run_dir=tmp_path,
                    max_failures=0, executor=_RunsAtSubmit(), num_workers=2, verbose=False)
    with pytest.raises(SearchError, match=r"1 trial failed \(max_failures=0\)"):
        search.run()
    with RunStore(tmp_path / "search.db") as store:
        statuses = [t.status for t in store.trials()]
    assert statuses == [TrialStatus.FAILED, TrialStatus.COMPLETED]  # none started after
    assert yaml.safe_load((tmp_path / "best.yaml").read_text())["trial"] == 2


def test_an_on_trial_end_that_raises_stops_the_search_its_wait_stored_and_named(tmp_path):
    # the user's hook raised for trial 1, whose result came back with trial 2's in one wait:
    # both are stored (and each handed to the hook once) before its error propagates, which
    # names the hook; a resume calls it for the trials after them alone (was: trial 2 left
    # RUNNING, its result dropped, trained again by the resume; the error said nothing of
    # the hook)
    ended = []

    def on_trial_end(result) -> None:
        ended.append(result.trial_id)
        if result.trial_id == 1:
            raise ValueError("the dashboard is down")

    def search() -> Search:
        return Search(None, {"c": {"choice": [1, 2, 3, 4, 5, 6]}}, monitor="score",
                      mode="max", objective=lambda arch: {"score": float(arch["c"])},
                      budget=4, seed=0, run_dir=tmp_path, executor=_RunsAtSubmit(),
                      num_workers=2, on_trial_end=on_trial_end, verbose=False)

    with pytest.raises(ValueError, match="the dashboard is down") as raised:
        search().run()
    assert ended == [1, 2]
    with RunStore(tmp_path / "search.db") as store:
        assert [t.status for t in store.trials()] == [TrialStatus.COMPLETED] * 2
    notes = getattr(raised.value, "__notes__", [])
    assert notes and notes[0].startswith("raised by on_trial_end(trial 1's result)"), notes
    assert search().run().trials[-1].trial_id == 4
    assert ended == [1, 2, 3, 4]  # not called again for trials 1 and 2


def test_the_same_error_in_training_twice_before_any_result_stops_the_search(
        tmp_path, tiny_space, tiny_trainer):
    # was: a user callback's misspelt monitor failed every trial after its first epoch, and
    # the search trained max_failures + 1 trials before it stopped; then it stopped after
    # trials 1 and 2 failed the same way; now CallbackMonitors fails trial 1 with an error
    # every trial would hit (tests/test_callback_monitors.py has the rest)
    from lightning.pytorch.callbacks import EarlyStopping

    trainer = {**tiny_trainer, "callbacks": [EarlyStopping(monitor="val_accuracy")]}
    with pytest.raises(SearchError, match=r"trial 1 failed with an error every trial would "
                                          r"hit: MonitorError: .*'val_accuracy'"), \
            pytest.warns(UserWarning, match=r"\(EarlyStopping\) monitors 'val_accuracy' \(min\), "
                                            r"the search 'val_acc' \(max\)"):
        tiny_search(tmp_path, tiny_space, trainer, budget=6, max_failures=5).run()
    with RunStore(tmp_path / "search.db") as store:
        assert store.count(TrialStatus.FAILED) == 1
    # an error in training that no check foresees: two trials failing the same way stop it
    space = {"width": {"fixed": 4}, "lr": {"float": [0.02, 0.3]}}  # the same width
    with pytest.raises(SearchError, match=r"failed the same way in training .*width=4.*: "
                                          r"RuntimeError: width 4 is broken on purpose"):
        tiny_search(tmp_path / "fixed", space, tiny_trainer, budget=5,
                    model_init_args={"fail_width": 4}).run()


class _MissingData(BlobData):
    """A data module whose file is not there: its ``train_dataloader`` raises."""

    def train_dataloader(self):
        raise FileNotFoundError("no such file: data/train.csv")


class _BrokenOptimizer(TinyNet):
    def configure_optimizers(self):
        raise ValueError("bad optimizer setting")


@pytest.mark.parametrize(("model", "data", "where"), [
    (TinyNet, _MissingData, "_MissingData.train_dataloader"),
    (_BrokenOptimizer, BlobData, "_BrokenOptimizer.configure_optimizers")],
    ids=["train_dataloader", "configure_optimizers"])
def test_the_same_error_twice_before_the_first_step_says_so_and_where(tmp_path, model, data,
                                                                      where):
    # was: "trials 1 and 2 failed the same way in training", though no training step ran
    # (the user's hook raised inside Lightning's fit, so not as a build failure either)
    trainer = {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1}
    with pytest.raises(SearchError, match=rf"trials 1 and 2 failed the same way before "
                                          rf"training started \(in {where}\) \(every trial "
                                          rf"would; .*\): (FileNotFound|Value)Error"):
        tiny_search(tmp_path, {"width": {"choice": [4, 8]}}, trainer, model=model, data=data,
                    budget=4, max_failures=5).run()
    with RunStore(tmp_path / "search.db") as store:
        assert store.count(TrialStatus.FAILED) == 2


def test_the_same_build_error_twice_in_a_row_stops_the_search(tmp_path, tiny_space, tiny_trainer):
    from concurrent.futures import ThreadPoolExecutor

    # a user's executor may run trials elsewhere: the Trainer is not dry-built here
    with ThreadPoolExecutor(max_workers=1) as pool:
        search = tiny_search(tmp_path, tiny_space, {**tiny_trainer, "accelerator": "cpu",
                                                    "devices": 0}, budget=5,
                             max_failures=10, executor=pool)
        with pytest.raises(SearchError, match=r"trials 1 and 2 failed the same way while "
                                              r"building .*`Trainer\(devices=0\)` value is not"):
            search.run()
    with RunStore(tmp_path / "search.db") as store:
        assert [t.status for t in store.trials()] == [TrialStatus.FAILED] * 2


def test_lightnings_check_before_training_stops_the_search_at_trial_one(
        tmp_path, tiny_space, tiny_trainer):
    # more batches between validations than an epoch has: Lightning's check in fit (was:
    # "trials 1 and 2 failed the same way ... Lightning's checks before training", its text)
    search = tiny_search(tmp_path, tiny_space, {**tiny_trainer, "val_check_interval": 50},
                         budget=5, max_failures=10)
    with pytest.raises(SearchError, match=r"trial 1 failed with an error every trial would "
                                          r"hit: BatchSettingError: trainer.val_check_interval"
                                          r"=50 is more than the \d+ training batches"):
        search.run()


@pytest.mark.parametrize(("epochs", "batches", "said"), [
    (2, {}, r"2 epochs \(\d+ steps\)"), (1, {}, r"1 epoch \(\d+ steps\)"),
    (1, {"limit_train_batches": 1}, r"1 epoch \(1 step\)")])  # (was: "(1 steps)")
def test_a_trial_that_trains_to_its_end_without_validation_stops_the_search(
        tmp_path, tiny_space, tiny_trainer, epochs, batches, said):
    trainer = {**tiny_trainer, "check_val_every_n_epoch": None, "val_check_interval": 50,
               "max_epochs": epochs, **batches}
    search = tiny_search(tmp_path, tiny_space, trainer, budget=5, max_failures=10)
    with pytest.raises(SearchError, match=rf"trial 1 failed with an error every trial would "
                                          rf"hit: no validation ran in the {said} "
                                          rf"it trained"):  # (was: "the 1 epochs")
        search.run()


def test_a_search_with_no_completed_trial_raises_naming_why_and_where_its_failures_are(
        tmp_path, capsys):
    # was: run() returned a SearchResult whose best was None, without a word; the user's
    # next `result.best.arch` raised AttributeError ('NoneType' object has no attribute)
    from lightning_nas.errors import NoCompletedTrialError

    def broken(arch: dict) -> dict:
        raise RuntimeError(f"broken at c={arch['c']}")  # another error each: no stop

    with pytest.raises(NoCompletedTrialError) as info:
        Search(None, {"c": {"choice": [1, 2, 3]}}, monitor="score", mode="max",
               objective=broken, budget=8, seed=0, max_failures=10, run_dir=tmp_path,
               verbose=True).run()
    assert isinstance(info.value, SearchError)  # caught as a SearchError (NASError) too
    assert str(info.value) == (
        f"no trial of the search in {tmp_path} completed (3 failed), so it has no best "
        f"trial: all 3 architectures of the space are evaluated; `lightning-nas show "
        f"{tmp_path} --status failed` lists their errors (each trial's also in this error's "
        f"result.trials, a SearchResult's)")
    result = info.value.result  # what run() would have returned: every trial, no best
    assert result.best is None and result.run_dir == tmp_path
    assert [(t.status, t.error.splitlines()[-1]) for t in result.trials] == [
        (TrialStatus.FAILED, f"RuntimeError: broken at c={t.arch['c']}")
        for t in result.trials]
    assert "Search finished in " in capsys.readouterr().out  # its summary first, as before


def test_a_search_whose_time_limit_ends_before_a_trial_completes_raises_saying_so(tmp_path):
    from lightning_nas.errors import NoCompletedTrialError

    with pytest.raises(NoCompletedTrialError) as info:
        Search(None, {"c": {"choice": [1, 2, 3]}}, monitor="score", mode="max",
               objective=lambda arch: {"score": arch["c"]}, budget=None, time_limit=1e-9,
               optimizer="RandomSearch", run_dir=tmp_path, verbose=False).run()
    assert str(info.value) == (
        f"no trial of the search in {tmp_path} completed (none trained), so it has no best "
        f"trial: the time limit of 1e-09s was reached; give a longer time_limit (call .run() "
        f"again to resume the run)")
    assert info.value.result.trials == []

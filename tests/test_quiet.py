"""``quiet_lightning`` entered by trials that overlap in threads (a ``ThreadPoolExecutor``
given as a search's ``executor``): Lightning's logger and the warning filters are quiet
while any trial runs and as they were once the last one ends."""

from __future__ import annotations

import logging
import threading
import warnings

from lightning_nas.search.quiet import LoggingInterval, quiet_lightning


def test_overlapping_trials_in_threads_leave_the_logger_and_filters_as_they_were():
    log = logging.getLogger("lightning.pytorch")
    level = log.level
    log.setLevel(logging.INFO)  # the user's: Lightning's info lines shown
    filters = list(warnings.filters)
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def first() -> None:  # trial 1: starts first, ends first
        with quiet_lightning():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second() -> None:  # trial 2: still training when trial 1 ends
        first_in.wait(10)
        with quiet_lightning():
            second_in.set()
            first_out.wait(10)
            seen["level"] = log.level
            seen["ignored"] = [f[1].pattern for f in warnings.filters
                               if f[0] == "ignore" and f[1] is not None]

    try:
        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        # was: trial 1's end put INFO back while trial 2 trained, and trial 2's end put
        # back the WARNING it had found: Lightning's info lines gone after the search
        assert seen["level"] == logging.WARNING, seen
        assert r".*LeafSpec.*" in seen["ignored"]  # the noise ignored while trial 2 ran
        assert log.level == logging.INFO
        assert warnings.filters == filters  # (was: trial 1's noise filters first)
    finally:
        log.setLevel(level)
        warnings.filters[:] = filters


def test_a_logging_interval_above_the_batches_is_said_once_a_search_not_never(tmp_path,
                                                                             monkeypatch):
    # Lightning's warning that log_every_n_steps is above an epoch's training batches (no
    # training step is ever logged) is the same for every trial: said by the first, not by
    # each (was: never, though the README said it was left as a warning)
    from tests.helpers_search import tiny_search

    interval = "smaller than the logging interval Trainer(log_every_n_steps=7)"
    monkeypatch.setattr(LoggingInterval, "said", False)  # as in a fresh process (conftest)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        tiny_search(tmp_path / "run", {"width": {"choice": [4, 8]}},
                    {"max_epochs": 1, "accelerator": "cpu", "log_every_n_steps": 7},
                    budget=2, seed=0).run()  # BlobData: 3 training batches an epoch
    assert len([w for w in said if interval in str(w.message)]) == 1, [
        (w.filename, w.lineno, str(w.message)[:40]) for w in said]


def test_a_logging_interval_above_the_batches_is_said_by_a_oneshot_run(tmp_path, monkeypatch,
                                                                      capsys):
    # lightning-nas oneshot with a logger: Lightning's warning, which a plain fit of the same
    # Trainer says, said once (was: never, silenced by quiet_lightning, so the logger's rows
    # lacked every training step without a word)
    import yaml

    from lightning_nas.cli import main

    monkeypatch.setattr(LoggingInterval, "said", False)  # as in a fresh process (conftest)
    config = tmp_path / "oneshot.yaml"
    config.write_text(yaml.safe_dump({
        "model": "tests.helpers.TinySupernet",
        "data": {"class_path": "tests.helpers.BlobData", "init_args": {"n": 128,
                                                                     "batch_size": 32}},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                    "log_every_n_steps": 7, "logger": True},  # 3 training batches an epoch
        "oneshot": {"algorithm": "spos", "calibration_batches": 1, "num_classes": 3,
                    "seed": 0, "run_dir": str(tmp_path / "run"), "num_candidates": 2}}))
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # (the suite's filters ignore it)
        code = main(["oneshot", str(config)])
    err = capsys.readouterr().err
    assert code == 0, err
    interval = "smaller than the logging interval Trainer(log_every_n_steps=7)"
    assert err.count(interval) == 1, err  # the command's warning line

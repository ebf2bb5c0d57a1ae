"""A sweep's warm-start and resume messages in the sweep's words (``hydra.sweeper.<key>``,
``hydra.sweeper.direction``'s maximize/minimize), as its other messages say them: real
sweeps run in-process through Hydra's own sweep runner (``tests.test_hydra_sweeper._sweep``)."""

from __future__ import annotations

import os
import socket
import warnings

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import DictConfig  # noqa: E402

from lightning_nas.run_folder import hold_folder  # noqa: E402
from tests.test_hydra_sweeper import _keep_logging, _sweep  # noqa: E402, F401 - a fixture

PARAMS = {"x": "range(0, 12)"}


def _task(cfg: DictConfig) -> float:
    return -abs(cfg.x - 7)


def test_a_warm_start_source_still_being_swept_is_warned_of_in_the_sweeps_words(tmp_path):
    # was: "warm_start source ... not used, by this search or its resume (...): to use
    # them, start this search once that one has ended": a search's words in a sweep
    _sweep(tmp_path / "first", _task, {"budget": 2, "params": PARAMS})
    source = (tmp_path / "first" / "run").resolve()
    held = hold_folder(source, "wait")  # its sweep still runs (this process holds it)
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            trials = _sweep(tmp_path / "second", _task, {
                "budget": 1, "warm_start": [str(source)], "params": PARAMS})
    finally:
        held.close()
    assert len(trials) == 1
    lines = [str(w.message) for w in said if "still being searched" in str(w.message)]
    assert lines == [
        f"hydra.sweeper.warm_start source {source} is still being searched (pid "
        f"{os.getpid()} on {socket.gethostname()}): it is read as it is now, 2 trials of it "
        f"completed so far, 2 used as priors; the trials it completes later are not used, "
        f"by this sweep or its resume (it keeps these priors): to use them, start this "
        f"sweep once that one has ended"]

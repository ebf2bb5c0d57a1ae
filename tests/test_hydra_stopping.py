"""A sweep warns before the first job of what its jobs' callbacks would do, as ``lightning-nas
search`` warns of its trials' (``integrations/hydra_stopping``): the config's ``callbacks``
nodes (the lightning-hydra-template's mapping) and its ``trainer`` node, in the jobs the
sweep composed; each sweep in-process (``multirun``), its task training nothing."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from tests.helpers_hydra_sweep import multirun  # noqa: E402

TRAINER = {"_target_": "lightning.pytorch.Trainer", "max_epochs": -1}
CHECKPOINT = {"_target_": "lightning.pytorch.callbacks.ModelCheckpoint", "monitor": "score"}
STOPPING = {"_target_": "lightning.pytorch.callbacks.EarlyStopping", "monitor": "score"}


def _said(tmp_path, params: dict[str, str] | None = None, **config: Any) -> list[str]:
    """The warnings of a one-job sweep of ``x`` (maximised, its score ``score``) over a
    config holding ``config``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        multirun(tmp_path, lambda cfg: float(cfg.x),
                 {"budget": 1, "params": {"x": "choice(1, 2)", **(params or {})}}, **config)
    return [str(w.message) for w in caught if "EarlyStopping" in str(w.message)]


def test_a_job_that_nothing_ends_is_warned_of_before_the_first_job(tmp_path):
    # max_epochs: -1 with no EarlyStopping among the template's callbacks (one deleted,
    # ~callbacks.early_stopping): each job trains for ever; was: no word, as lightning-nas
    # search warns of such a trial
    said = _said(tmp_path, trainer=TRAINER, callbacks={"model_checkpoint": CHECKPOINT,
                                                       "early_stopping": None})
    assert said == ["trainer.max_epochs=-1 is Lightning's 'no limit', and no max_steps, "
                    "max_time, EarlyStopping callback or Timer with a duration ends a job: "
                    "each trains until a "
                    "callback of yours stops it, for ever where none does; give max_epochs "
                    "a number or add one of them"], said
    assert _said(tmp_path / "b", trainer=TRAINER, callbacks={
        "early_stopping": {**STOPPING, "mode": "max"}}) == []


def test_an_early_stopping_on_the_score_the_other_way_round_is_warned_of(tmp_path):
    # EarlyStopping's default mode is min: on a maximised score, jobs stop while it improves
    said = _said(tmp_path, callbacks={"early_stopping": STOPPING})
    assert said == ["callbacks.early_stopping (EarlyStopping) monitors 'score' with mode "
                    "'min' (EarlyStopping's default), but the sweep maximises it: jobs stop "
                    "while score improves, after its patience; give it mode: max"], said


def test_what_a_sweep_means_is_not_warned_of(tmp_path):
    # another metric (the template stops on val/acc and scores val/acc_best), a mode or
    # monitor the sweep searches, a job ended by max_steps
    assert _said(tmp_path / "a", callbacks={"early_stopping": {**STOPPING,
                                                               "monitor": "val/acc"}}) == []
    assert _said(tmp_path / "b", {"callbacks.early_stopping.mode": "choice(min, max)"},
                 callbacks={"early_stopping": {**STOPPING, "mode": "min"}}) == []
    assert _said(tmp_path / "c", trainer={**TRAINER, "max_steps": 5}) == []

"""A Hydra sweep job's uneven DDP validation split, seen from the task function and on a
resume: the task's config is the one its file says (the check is a Lightning callback
factory, not a rewritten ``_target_``), and a resumed sweep does not warn again of a split
its first run said. Real Hydra, real ``ddp_spawn`` ranks on CPU (gloo), real store."""

from __future__ import annotations

import shutil

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from lightning_nas.cli import main as cli  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402
from tests.helpers_hydra_spawn import EVEN, UNEVEN, spawn_sweep_of  # noqa: E402

#: the session's ``ddp_spawn`` sweep (``tests.helpers_hydra_spawn``: a first run of two
#: jobs, resumed with budget 4), shared with ``test_hydra_sweeper_processes``
split_sweep = pytest.fixture(name="split_sweep")(spawn_sweep_of)


@pytest.mark.slow
def test_a_checked_jobs_task_sees_its_config_as_the_file_says(split_sweep):
    # was: the job's cfg.trainer._target_ read lightning_nas.integrations.hydra_split.
    # checked_trainer (rewritten in the job to add the split's recorder), so a task that
    # logged, printed or compared its config saw a target it never wrote
    first = split_sweep["first"]
    assert [status for _, status in first] == ["COMPLETED"] * 2, split_sweep["errors_first"]
    assert sorted(split_sweep["seen"]) == [4, 5, 6, 8]  # every way of fitting ran
    for x, seen in split_sweep["seen"].items():  # the task's config is its file's, as Hydra
        assert seen["target"] == "lightning.pytorch.Trainer", x  # saved it for the job
        assert seen["yaml"] == seen["saved"], x
        assert "checked_trainer" not in seen["yaml"], x
    # and both jobs' splits are still recorded: said once, kept in the store
    assert split_sweep["said_first"] == [f"trial {first[0][0]}: {UNEVEN}"]
    assert split_sweep["store_first"] == {UNEVEN: [trial_id for trial_id, _ in first]}


@pytest.mark.slow
def test_a_resumed_sweep_does_not_warn_again_of_a_split_its_first_run_said(split_sweep,
                                                                            tmp_path):
    # was: the resume warned "trial 2: the validation set holds 17 samples, ..." again, as
    # new, though the sweep's first run had said it (one warning per sweep)
    run = shutil.copytree(split_sweep["folder"] / "run", tmp_path / "run")  # (export writes)
    assert split_sweep["said_first"] == [f"trial 1: {UNEVEN}"]
    assert split_sweep["resumed"] == [[i, "COMPLETED"] for i in (1, 2, 3, 4)], split_sweep[
        "errors_resumed"]
    assert split_sweep["said_resumed"] == []
    # the record is the sweep's: every trial of an uneven split (trial 4's divides), and
    # best.yaml's notes
    uneven = [trial_id for trial_id, x in split_sweep["x"].items() if x != EVEN]
    assert uneven == [1, 2, 3]
    with RunStore(run / "search.db") as store:
        assert store.get_meta("uneven_splits") == {UNEVEN: [1, 2, 3]}
        # each job's 2 spawned ranks, as its Trainer had them (was: None, not recorded)
        assert [t.ranks for t in store.trials()] == [2, 2, 2, 2]
    for trial_id in uneven:
        assert cli(["export", str(run), "--trial", str(trial_id)]) == 0
        assert yaml.safe_load((run / "best.yaml").read_text())["notes"] == [UNEVEN]


def test_a_fit_that_never_validated_records_no_rank_count(tmp_path):
    # a count is of the ranks a score was computed on: a fit that failed after its sanity
    # check, before its first validation, has none (was: its sanity check wrote [1])
    import lightning.pytorch as pl

    from lightning_nas.integrations.hydra_split import JobSplitRecorder, job_rank_counts
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    def fit(**model: int) -> None:
        trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, limit_train_batches=1,
                             limit_val_batches=1, callbacks=[JobSplitRecorder(str(tmp_path))])
        trainer.fit(TinyNet(width=4, **model), BlobData(batch_size=16))

    with pytest.raises(RuntimeError, match="broken on purpose"):
        fit(fail_width=4)
    assert job_rank_counts(tmp_path) == []
    fit()  # one that validated: its count
    assert job_rank_counts(tmp_path) == [1]

"""A Hydra sweep whose jobs' Trainer validates part of each validation loader (the job
config's ``trainer.limit_val_batches`` or ``trainer.overfit_batches``, set by an override)
scores its jobs on that part: ``optimization_results.yaml`` and ``best.yaml``
(``limited_validation``, the latter written by ``lightning-nas export``) and ``show`` say
so, as a search's do; a job config's ``trainer.precision`` other than float32 is said in
both files' ``precision``. Real Hydra (its own sweep runner, in-process), a real Trainer
fitting a tiny MLP in each job."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

pytest.importorskip("hydra", reason="the Hydra sweeper needs hydra-core (the `hydra` extra)")

from omegaconf import DictConfig, OmegaConf  # noqa: E402

from lightning_nas.cli import main  # noqa: E402
from lightning_nas.export import export_best  # noqa: E402
from lightning_nas.report.tables import render  # noqa: E402
from lightning_nas.store import RunStore  # noqa: E402
from lightning_nas.validation_limit import limited_text  # noqa: E402
from tests.helpers_hydra_sweep import multirun  # noqa: E402
from tests.helpers_runs import keep_root_logging, one_thread  # noqa: E402

_keep_logging = pytest.fixture(autouse=True)(keep_root_logging)  # Hydra's job logging
_threads = pytest.fixture(autouse=True)(one_thread)

#: the job config's Trainer: a plain node the task builds ``pl.Trainer(**cfg.trainer)`` of
TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False,
           "enable_checkpointing": False, "enable_progress_bar": False,
           "enable_model_summary": False}


def _fit_job(cfg: DictConfig) -> float:
    """Fit ``TinyNet(width)`` on the blobs (4 validation batches of 16) with the job's
    Trainer; its ``val_acc``."""
    import lightning.pytorch as pl

    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(**OmegaConf.to_container(cfg.trainer))
    trainer.fit(TinyNet(width=cfg.width), BlobData(batch_size=16))
    return float(trainer.callback_metrics["val_acc"])


def _sweep(tmp_path: Path, *overrides: str, **params: str) -> tuple[dict, dict]:
    """The sweep's ``best.yaml`` (after ``lightning-nas export``) and its
    ``optimization_results.yaml``."""
    multirun(tmp_path, _fit_job, {"budget": 2, "seed": 0, "optimizer": "RandomSearch",
                                  "params": {"width": "choice(4, 8)", **params}},
             overrides, width=4, trainer=TRAINER)
    run = tmp_path / "run"
    results = yaml.safe_load((run / "optimization_results.yaml").read_text())
    assert main(["export", str(run)]) == 0  # a sweep's best.yaml
    return yaml.safe_load((run / "best.yaml").read_text()), results


@pytest.mark.parametrize("override, limit, key", [
    ("+trainer.limit_val_batches=0.5", 0.5, "limit_val_batches"),
    ("+trainer.overfit_batches=2", 2, "overfit_batches")])
def test_a_sweep_of_jobs_validating_part_of_the_data_says_so(tmp_path, capsys, override, limit,
                                                            key):
    # was: best.yaml and show said nothing of the job config's limit (a search's did)
    # and optimization_results.yaml said nothing of it (was: a KeyError)
    best, results = _sweep(tmp_path, override)
    ended = capsys.readouterr().out.split("Sweep finished in", 1)[1].splitlines()
    said = best["limited_validation"]
    assert said == limited_text(limit, key=key), said
    assert results["limited_validation"] == said
    assert "precision" not in results and "precision" not in best  # float32
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert f"note: {said}" in render(store).splitlines()
        # the sweep's closing summary says it as show does (was: not a word of it)
        assert f"note: {said}" in ended, ended
        # the ranks each job's Trainer ran on (its world_size), as a search's trial records
        # them, so devices: auto is said as it ran (was: None, a job's not recorded)
        assert [t.ranks for t in store.trials()] == [1, 1]


def test_a_sweep_validating_every_batch_says_nothing_of_a_limit(tmp_path, capsys):
    best, results = _sweep(tmp_path, "+trainer.limit_val_batches=1.0")
    ended = capsys.readouterr().out.split("Sweep finished in", 1)[1]
    assert "note:" not in ended and "Best score=" in ended, ended
    assert "limited_validation" not in best and "limited_validation" not in results


def test_a_sweep_searching_the_limit_says_the_exported_jobs(tmp_path):
    best, results = _sweep(tmp_path, **{"+trainer.limit_val_batches": "choice(0.5, 2)"})
    assert best["limited_validation"] == limited_text(
        best["arch"]["+trainer.limit_val_batches"])
    assert results["limited_validation"] == best["limited_validation"]
    with RunStore(tmp_path / "run" / "search.db") as store:
        assert "note: trainer.limit_val_batches is searched" in render(store)


def test_a_sweep_of_jobs_in_another_precision_says_it(tmp_path):
    # was: optimization_results.yaml said nothing of it (a KeyError), best.yaml did
    best, results = _sweep(tmp_path, "+trainer.precision=bf16-mixed")
    assert results["precision"] == best["precision"] == "bf16-mixed"
    assert "limited_validation" not in results  # every batch validated


def test_a_sweep_searching_a_trainer_group_says_each_jobs_own_limit(tmp_path):
    # a searched config group of the job's Trainer (+trainer=part sets limit_val_batches=2):
    # each job is said under its own option's settings (was: the sweep's config's, so the
    # jobs of part were said to validate every batch)
    (tmp_path / "conf" / "trainer").mkdir(parents=True)
    (tmp_path / "conf" / "trainer" / "full.yaml").write_text("enable_model_summary: false\n")
    (tmp_path / "conf" / "trainer" / "part.yaml").write_text("limit_val_batches: 2\n")
    best, results = _sweep(tmp_path, **{"+trainer": "choice(full, part)"})
    run = tmp_path / "run"
    with RunStore(run / "search.db") as store:
        trials = {t.trial_id: t.arch["+trainer"] for t in store.trials()}
        notes = {int(row["trial"]): row["notes"] for row in csv.DictReader(
            io.StringIO(render(store, "csv", k=None)))}  # show's notes column
        # show's one-line note above the table (was: none, the group's limit unseen there)
        line = json.loads(render(store, "json"))["summary"]["limited_validation"]
        head = render(store).splitlines()
    assert line is not None and line.startswith(
        "the scores of 1 of 2 trials are over part of the validation data"), line
    assert f"note: {line}" in head, head
    assert sorted(trials.values()) == ["full", "part"]
    for trial_id, option in trials.items():
        said = export_best(run, trial_id=trial_id).get("limited_validation")
        assert said == (limited_text(2) if option == "part" else None), (option, said)
        assert (limited_text(2) in notes[trial_id]) is (option == "part"), (option, notes)
    assert results.get("limited_validation") == (
        limited_text(2) if best["arch"]["+trainer"] == "part" else None)


def test_a_job_whose_fits_ran_on_different_rank_counts_is_said_so(tmp_path):
    # a job whose task fitted on 2 ranks, then on 1 (its rank 0 wrote both counts, as
    # JobSplitRecorder writes them): its ranks are None, as job_ranks says; was: its notes
    # said the job config's 2 ranks ("... on each of the 2 ranks ...; ... on 2 ranks to score
    # it again"), and show's line "on each of the 2 ranks" of every trial
    from lightning_nas.integrations.hydra_split import SPLITS_FILE, job_ranks
    from lightning_nas.integrations.hydra_sweeper import _keep_job
    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.scored_under import scored_under

    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("monitor", "val_acc")
        store.set_meta("job_config", {"trainer": {**TRAINER, "devices": 2,
                                                  "strategy": "ddp_spawn",
                                                  "limit_val_batches": 2}})
        for width, counts in ((4, [2, 1]), (8, [2])):
            folder = tmp_path / "jobs" / str(width)
            folder.mkdir(parents=True)
            (folder / SPLITS_FILE).write_text(json.dumps({"uneven_splits": [],
                                                          "ranks": counts}))
            trial = store.start_trial({"width": width})
            _keep_job(store, trial, str(folder), {})  # as the sweep keeps a returned job
            store.finish_trial(TrialResult(trial, {"width": width}, TrialStatus.COMPLETED,
                                           score=width / 10, ranks=job_ranks(folder)))
        notes = {int(row["trial"]): row["notes"] for row in csv.DictReader(
            io.StringIO(render(store, "csv", k=None)))}
        said = scored_under(store, {"width": 4}, None, 1)["limited_validation"]
        line = json.loads(render(store, "json"))["summary"]["limited_validation"]
        assert [t.ranks for t in store.trials()] == [None, 2]
    assert notes[1] == said and "the job's fits ran on 1 and 2 ranks" in said, said
    assert "each of the 2 ranks" not in said and "on 2 ranks to score" not in said, said
    assert notes[2] == limited_text(2, ranks=2)  # one count: said as it ran
    assert line.endswith("the trials ran on 1 or 2 ranks (each trial's notes say its own)"), line

"""A search whose Trainer validates part of each validation loader
(``trainer.limit_val_batches``, set or searched) scores its trials on that part: ``best.ckpt``
validated under the same limit gives ``best.yaml``'s score, over every batch another value,
and ``best.yaml`` (``limited_validation``) and ``show`` say so; a search validating every
batch says nothing of it. A one-shot run (SPOS, DARTS) scores its subnets under the limit
too: ``best_arch.yaml`` and ``show`` say it (real Trainers, tiny MLPs on the blobs)."""

from __future__ import annotations

import csv
import io
import json
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
import yaml

from lightning_nas import Search
from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.report.oneshot import render_oneshot
from lightning_nas.report.tables import render
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.scored_under import scored_under
from lightning_nas.store import RunStore
from lightning_nas.validation_limit import limited_entry, limited_text, trial_limited
from tests.helpers import BlobData, TinyNet
from tests.helpers_nets import TinySupernet
from tests.helpers_oneshot_fit import cpu_trainer, val_accuracy
from tests.helpers_runs import assert_scores_as_exported, one_thread

SPACE = {"width": {"choice": [4, 8, 16]}, "lr": {"float": [0.002, 0.05], "log": True}}
TRAINER = {"max_epochs": 2, "accelerator": "cpu", "devices": 1, "logger": False}

threads = pytest.fixture(autouse=True)(one_thread)


def _search(run: Path, space: dict | None = None, verbose: bool = False, **trainer) -> dict:
    Search(TinyNet, space or SPACE, data=BlobData, data_init_args={"batch_size": 16}, seed=0,
           monitor="val_acc", mode="max", run_dir=run, verbose=verbose, budget=2,
           trainer={**TRAINER, **trainer}).run()
    return yaml.safe_load((run / "best.yaml").read_text())


def _full_score(run: Path) -> float:
    got = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                     enable_model_summary=False).validate(
        TinyNet.load_from_checkpoint(run / "best.ckpt"), datamodule=BlobData(batch_size=16),
        verbose=False)[0]
    return got["val_acc"]


def _shown(run: Path) -> str:
    with RunStore(run / "search.db") as store:
        return render(store)


def _csv_notes(run: Path, status: str = "completed") -> dict[str, str]:
    """``show --format csv``'s ``notes`` column, by trial id."""
    with RunStore(run / "search.db") as store:
        rows = csv.DictReader(io.StringIO(render(store, "csv", k=None, status=status)))
        return {row["trial"]: row["notes"] for row in rows}


@pytest.mark.parametrize("limit", [0.5, 2])
def test_a_limited_validations_score_is_said_to_be_over_that_part(tmp_path, capsys, limit):
    # was: best.yaml held the score over part of the validation set and said nothing; a
    # validation of best.ckpt over every batch (64 samples, 4 batches) gave another value
    best = _search(tmp_path, verbose=True, limit_val_batches=limit)
    ended = capsys.readouterr().out.split("Search finished in", 1)[1].splitlines()
    assert_scores_as_exported(tmp_path, batch_size=16, limit_val_batches=limit)
    assert _full_score(tmp_path) != pytest.approx(best["score"], abs=1e-6)  # the case
    said = best["limited_validation"]
    assert f"trainer.limit_val_batches={limit}" in said and "every batch" in said, said
    assert f"note: {said}" in _shown(tmp_path).splitlines()
    # the search's end summary says it as show does (was: not a word of it)
    assert f"note: {said}" in ended, ended
    # was: the CSV's notes column empty, the table's note: line alone said it
    assert _csv_notes(tmp_path) == {"1": said, "2": said} == _csv_notes(tmp_path, "all")


def test_a_searched_limit_is_said_of_the_exported_trials_value(tmp_path):
    best = _search(tmp_path, space={**SPACE, "trainer.limit_val_batches": {"choice": [0.5]}})
    assert "trainer.limit_val_batches=0.5" in best["limited_validation"]
    assert "trainer.limit_val_batches is searched" in _shown(tmp_path)
    assert set(_csv_notes(tmp_path).values()) == {best["limited_validation"]}


def test_the_csv_says_each_trials_own_searched_limit(tmp_path):
    # a searched limit: each trial's notes say its own value; one of every batch, nothing
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("space", {"trainer.limit_val_batches": {"choice": [2, 1.0]}})
        store.set_meta("trainer", {"limit_val_batches": 0.5})  # the arch's value wins
        for k, limit in enumerate([2, 1.0]):
            arch = {"trainer.limit_val_batches": limit}
            store.finish_trial(TrialResult(store.start_trial(arch), arch, TrialStatus.COMPLETED,
                                           score=k / 10))
    assert _csv_notes(tmp_path) == {"2": "", "1": limited_text(2)}


@pytest.mark.parametrize("limit", [None, 1.0])
def test_a_validation_of_every_batch_says_nothing_of_a_limit(tmp_path, capsys, limit):
    best = _search(tmp_path, verbose=True,
                   **({} if limit is None else {"limit_val_batches": limit}))
    ended = capsys.readouterr().out.split("Search finished in", 1)[1]
    assert "note:" not in ended and "Best val_acc=" in ended, ended
    assert "limited_validation" not in best
    assert _full_score(tmp_path) == pytest.approx(best["score"], abs=1e-6)
    assert "limit_val_batches" not in _shown(tmp_path)
    assert set(_csv_notes(tmp_path).values()) == {""}


def _oneshot_run(tmp_path: Path, algorithm: str, candidates: int,
                 **trainer: Any) -> tuple[Path, BlobData]:
    """A one-epoch one-shot run (``"spos"``: ``OneShotNAS`` of ``candidates``; ``"darts"``:
    ``DifferentiableNAS``) of ``TinySupernet`` on 512 blobs in batches of 16, under the
    Trainer settings ``trainer`` (a validation limit): its export folder and its data."""
    pl.seed_everything(0, verbose=False)
    out, data = tmp_path / "out", BlobData(n=512, batch_size=16)
    if algorithm == "spos":
        found = OneShotNAS(num_candidates=candidates, calibration_batches=0,
                           export_dir=str(out))
        cpu_trainer(tmp_path, [found], max_epochs=1, enable_checkpointing=False,
                    **trainer).fit(TinySupernet(lr=0.01), datamodule=data)
    else:
        found = DifferentiableNAS(TinySupernet(lr=0.01), algorithm="darts", num_classes=3,
                                  calibration_batches=0, export_dir=str(out))
        cpu_trainer(tmp_path, [], max_epochs=1, enable_checkpointing=False,
                    **trainer).fit(found, datamodule=BilevelData(data))
    return out, data


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_a_oneshot_run_under_a_limit_says_its_scores_are_over_that_part(tmp_path, algorithm):
    # was: best_arch.yaml held the subnet's score over the first 2 of 8 validation batches
    # and said nothing; subnet.pt over every batch scored another value
    out, data = _oneshot_run(tmp_path, algorithm, 3, limit_val_batches=2)
    best = yaml.safe_load((out / "best_arch.yaml").read_text())
    data.setup()
    subnet = torch.load(out / "subnet.pt", weights_only=False)
    assert val_accuracy(subnet, data) != pytest.approx(best["score"], abs=1e-6)  # the case
    x, y = data.val_set.tensors  # its first 2 batches of 16: the score it was given
    with torch.no_grad():
        first = float((subnet.eval()(x[:32]).argmax(-1) == y[:32]).float().mean())
    assert first == pytest.approx(best["score"], abs=1e-6)
    assert best["limited_validation"] == limited_text(2)
    assert f"note: {limited_text(2)}" in render_oneshot(out).splitlines()


def test_an_overfit_search_is_said_to_be_scored_on_part_of_the_validation_data(tmp_path):
    # trainer.overfit_batches=2: Lightning 2.x trains on the first 2 training batches and
    # validates the first 2 batches of the validation loader (its own, not the training
    # one: best.ckpt validated under limit_val_batches=2 gives the score); was: unsaid
    best = _search(tmp_path, overfit_batches=2)
    assert_scores_as_exported(tmp_path, batch_size=16, limit_val_batches=2)
    assert _full_score(tmp_path) != pytest.approx(best["score"], abs=1e-6)  # the case
    said = best["limited_validation"]
    assert said == limited_text(2, key="overfit_batches"), said
    assert "trainer.overfit_batches=2" in said and "limit_val_batches=2" in said
    assert f"note: {said}" in _shown(tmp_path).splitlines()
    assert set(_csv_notes(tmp_path).values()) == {said}


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_a_oneshot_run_under_overfit_batches_names_that_setting(tmp_path, algorithm):
    # trainer.overfit_batches=2 limits validation to the first 2 batches: best_arch.yaml
    # names the setting the user wrote; was: Lightning's own trainer.limit_val_batches=2
    out, _ = _oneshot_run(tmp_path, algorithm, 2, overfit_batches=2)
    best = yaml.safe_load((out / "best_arch.yaml").read_text())
    assert best["limited_validation"] == limited_text(2, key="overfit_batches")


@pytest.mark.parametrize("devices", [2, "2", [0, 1], "0,1"])
def test_a_ddp_limit_is_said_per_rank(devices):
    # under DDP each rank validates limit_val_batches of its own shard: 2 batches on each of
    # 2 ranks are 4 in all; was: "at most 2 batches of each validation loader", as on one
    ddp = {"accelerator": "cpu", "devices": devices, "strategy": "ddp", "limit_val_batches": 2}
    said = trial_limited({}, ddp)
    assert "at most 2 batches of each validation loader on each of the 2 ranks" in said
    assert "at most 4 in all" in said and "limit_val_batches=2 on 2 ranks" in said
    assert said == limited_text(2, ranks=2), said
    assert trial_limited({}, {**ddp, "devices": 1}) == limited_text(2)  # one device: as was


def test_a_oneshot_ddp_runs_limit_is_said_per_rank():
    # a one-shot run's Trainer: its public world_size (2 DDP ranks, 2 nodes of 2: 4)
    for nodes, ranks in ((1, 2), (2, 4)):
        trainer = SimpleNamespace(limit_val_batches=0.5, overfit_batches=0.0,
                                  world_size=ranks)
        said = limited_entry(trainer)["limited_validation"]
        assert f"0.5 of the batches of each validation loader on each of the {ranks} ranks" \
            in said
        assert said == limited_text(0.5, ranks=ranks), (nodes, said)
    assert trial_limited({}, {"devices": 2, "num_nodes": 2, "strategy": "ddp",
                              "limit_val_batches": 0.5}) == limited_text(0.5, ranks=4)


@pytest.mark.slow
def test_a_searched_device_count_says_each_trials_own_ranks(tmp_path):
    # trainer.devices searched (2) over the search's 1, under ddp (gloo on CPU) with
    # limit_val_batches=2: the trial's notes name the 2 ranks it ran on; was: the search's
    # devices (1), as on one device
    trainer = {"accelerator": "cpu", "devices": 1, "strategy": "ddp", "max_epochs": 1,
               "limit_train_batches": 1, "limit_val_batches": 2, "logger": False}
    space = {"width": {"choice": [4, 8]}, "trainer.devices": {"choice": [2]}}
    Search("tests.helpers.MetricNet", space, data=BlobData, data_init_args={"batch_size": 16},
           trainer=trainer, budget=1, run_dir=tmp_path, verbose=False).run()
    assert _csv_notes(tmp_path) == {"1": limited_text(2, ranks=2)}
    best = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert best["limited_validation"] == limited_text(2, ranks=2)
    with RunStore(tmp_path / "search.db") as store:
        assert store.get(1).ranks == 2  # as the trial's Trainer ran it (its world_size)
        assert render(store, "json").count(limited_text(2, ranks=2)) == 2  # its row, summary


def test_a_trials_ranks_as_it_ran_are_said_where_its_settings_do_not_say_them(tmp_path):
    # devices: auto says no count (every visible device); the ranks each trial ran on, as
    # its Trainer had them, are stored with it and said (was: nothing of ranks); a trial
    # stored without them (an older version's, a Hydra job's) is said by its own settings,
    # its searched devices over the search's (was: the search's: 2 ranks of one)
    ddp = {"devices": 2, "strategy": "ddp", "limit_val_batches": 2}
    assert trial_limited({"trainer.devices": 1}, ddp) == limited_text(2)
    assert trial_limited({"+trainer.devices": "0,1,2"}, ddp) == limited_text(2, ranks=3)
    settings = {"devices": "auto", "strategy": "ddp", "limit_val_batches": 2}
    with RunStore(tmp_path / "search.db") as store:
        store.set_meta("mode", "max")
        store.set_meta("trainer", settings)
        for k, (arch, ranks) in enumerate([({"width": 4}, 2), ({"width": 8}, 1),
                                           ({"trainer.devices": 1}, None),
                                           ({"trainer.devices": "0,1,2"}, None)]):
            store.finish_trial(TrialResult(store.start_trial(arch), arch, TrialStatus.COMPLETED,
                                           score=k / 10, ranks=ranks))
        assert [t.ranks for t in store.trials()] == [2, 1, None, None]
        best = store.best("max")
        assert scored_under(store, best.arch, best.ranks)["limited_validation"] == \
            limited_text(2, ranks=3)
        assert scored_under(store, {}, 2)["limited_validation"] == limited_text(2, ranks=2)
        summary = json.loads(render(store, "json"))["summary"]
    assert _csv_notes(tmp_path) == {"1": limited_text(2, ranks=2), "2": limited_text(2),
                                    "3": limited_text(2), "4": limited_text(2, ranks=3)}
    # the summary's line: the trials that recorded theirs ran on 1 or 2 ranks (was: none said)
    said = summary["limited_validation"]
    assert said.startswith(limited_text(2)) and "ran on 1 or 2 ranks" in said, said


@pytest.mark.parametrize(("limit", "key", "warned"), [
    (2, "data.batch_size", True), (2, "data.init_args.batch_size", True),
    (0.5, "data.batch_size", False), (2, "data.n", False)])
def test_a_batch_count_limit_beside_a_searched_batch_size_is_warned_of(
        tmp_path, limit, key, warned):
    # limit_val_batches=2 validates 2 batches: 32 samples at batch_size 16, 64 at 32, so
    # the trials' scores would be over different parts of the validation data; was: taken
    # without a word (a fraction, 0.5, keeps about the same samples; another data key none)
    space = {**SPACE, key: {"choice": [16, 32] if "batch" in key else [96, 128]}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Search(TinyNet, space, data=BlobData, seed=0, run_dir=tmp_path / "run",
               verbose=False, budget=2, trainer={**TRAINER, "limit_val_batches": limit})
    said = [str(w.message) for w in caught if "different parts" in str(w.message)]
    assert said == ([f"trainer.limit_val_batches={limit} validates the first {limit} batches "
                     f"of each validation loader, and the space searches {key}: an "
                     f"architecture with larger batches is scored on more samples, so the "
                     f"trials' scores are over different parts of the validation data; give "
                     f"limit_val_batches a fraction of the batches (0.5), or leave it out"]
                    if warned else []), said

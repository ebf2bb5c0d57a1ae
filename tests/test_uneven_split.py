"""DDP validation of a split the ranks do not divide: Lightning's ``DistributedSampler``
repeats samples to give every rank as many, so the synced score counts them twice; a search
says so at run time (real gloo ranks on CPU)."""

from __future__ import annotations

import html
import json
import math
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.export import export_best
from lightning_nas.results import TrialStatus
from lightning_nas.search.uneven_split import uneven_splits
from lightning_nas.split_record import recorded_uneven as show_notes
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData, rank0_loader


def _search(run: Path, n: int, budget: int, searched: dict | None = None,
            **limits: float) -> tuple[list, list[str]]:
    """A DDP search (2 gloo ranks on CPU, one short epoch) on ``BlobData(n)``'s validation
    split (the last quarter), in batches of 16 (``limits``: more Trainer settings;
    ``searched``: more space keys); its trials and the search process's own warnings that
    name the DistributedSampler."""
    trainer = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 1,
               "limit_train_batches": 2, "logger": False, **limits}
    space = {"width": {"choice": [4, 8]}, "lr": {"choice": [0.01]}, **(searched or {})}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Search("tests.helpers.MetricNet", space,
               data=BlobData, data_init_args={"n": n, "batch_size": 16}, trainer=trainer,
               budget=budget, optimizer="RandomSearch", run_dir=run, verbose=False).run()
    with RunStore(run / "search.db") as store:
        trials = store.trials()
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * budget
    return trials, [str(w.message) for w in caught if "DistributedSampler" in str(w.message)]


def _log(run: Path, trial_id: int) -> str:
    return (run / "trials" / f"trial_{trial_id:04d}" / "trial.log").read_text()


#: what a search says of 101 validation samples on 2 ranks
SAID = ("the validation set holds 101 samples, which the 2 ranks do not divide: Lightning's "
        "DistributedSampler repeats 1 of them (102 scored, the repeats counted again), so a "
        "trial's synced score differs slightly from a validation of its checkpoint on one "
        "device")
#: best.yaml's note of it (the stored text)
NOTE = (f"{SAID} (a fresh Trainer on best.ckpt); for exact scores, use a validation set "
        f"divisible by 2, or trainer.use_distributed_sampler=False with a sampler of your "
        f"own, or validate on one device")


@pytest.fixture
def uneven_run(shared_run) -> tuple[Path, list, list[str]]:
    """A DDP search of 2 trials on 101 validation samples (2 ranks), made once per session:
    its folder, its trials (id, score) and the search's console warnings of the split.
    What a test writes there (best.yaml, an export) no other test reads."""
    def make(run: Path) -> dict:
        trials, console = _search(run, n=404, budget=2)
        return {"trials": [[t.trial_id, t.score] for t in trials], "console": console}

    run, made = shared_run("uneven_ddp_search", make)
    return run, made["trials"], made["console"]


@pytest.mark.slow
def test_an_uneven_split_under_ddp_is_said_once_per_search(uneven_run):
    # was: said nowhere at run time (only the README), while the stored score counted one
    # sample twice: 39/102 = 0.3824 stored, 39/101 = 0.3861 for best.ckpt on one device
    run, trials, console = uneven_run  # 101 validation samples, 2 ranks
    first, second = (_log(run, trial_id) for trial_id, _ in trials)
    said = SAID
    assert first.count(said) == 1, first[-3000:]
    assert ("for exact scores, use a validation set divisible by 2, or "
            "trainer.use_distributed_sampler=False with a sampler of your own, or validate "
            "on one device") in first
    assert "DistributedSampler repeats" not in second  # once per search
    # and by the search itself, where a rank's output (trial.log) is not on the console
    assert len(console) == 1 and console[0].startswith(f"trial 1: {said}"), console
    for _, score in trials:  # the synced accuracy is a count of 102, not of 101
        assert score * 102 == pytest.approx(round(score * 102), abs=1e-3)
    # best.yaml says it of its trial too, whichever trial was the first to meet the split
    # (was: not at all); a field: loaded with the file, its other keys as they were
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["notes"] == [NOTE], best
    assert list(best)[:9] == ["trial", "arch", "score", "monitor", "mode", "epoch", "metrics",
                              "checkpoint", "model"]
    for trial_id, _ in trials:  # and an export of the other trial as well
        chosen = export_best(run, trial_id=trial_id)
        assert chosen["notes"] == best["notes"] and chosen["trial"] == trial_id


@pytest.mark.slow
def test_show_says_the_notes_below_the_best_result(uneven_run, capsys):
    # was: best.yaml's notes said nowhere by show: a score counted over a repeated sample
    # read as any other
    run, trials, _ = uneven_run
    assert main(["show", str(run)]) == 0
    head = capsys.readouterr().out.splitlines()
    assert head[0].startswith("2 completed, 0 failed") and "; best " in head[0], head
    assert head[1] == f"note (trials 1, 2): {NOTE}", head
    assert main(["show", str(run), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["notes"] == [{"trials": [1, 2], "text": NOTE}]


@pytest.mark.slow
def test_the_report_says_the_notes_below_the_best_result(uneven_run, tmp_path, capsys):
    run, _, _ = uneven_run
    assert main(["report", str(run), "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "report.html").read_text()
    best = page.index("(trial ")  # the counts line, with the best
    assert page.index(f"<p>note (trials 1, 2): {html.escape(NOTE)}</p>") > best, page[:3000]


@pytest.mark.slow
def test_the_commands_search_says_a_ranks_note_once_as_its_own_line(tmp_path, capsys):
    # what the ranks note (in trial.log) reaches the command's console as its own line,
    # once per search, said by the driver (was: ".../lightning_nas/search/loop.py:373:
    # UserWarning: trial 1: the validation set holds 101 samples, ...")
    run = tmp_path / "run"
    cfg = {"model": "tests.helpers.MetricNet",
           "data": {"class_path": "tests.helpers.BlobData",
                    "init_args": {"n": 404, "batch_size": 16}},
           "trainer": {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 1,
                       "limit_train_batches": 2, "logger": False},
           "search": {"space": {"width": {"choice": [4, 8]}}, "budget": 2,
                      "optimizer": "RandomSearch", "run_dir": str(run)}}
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(cfg))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        assert main(["search", str(config)]) == 0
    assert not [w for w in caught if "DistributedSampler" in str(w.message)]
    lines = [x for x in capsys.readouterr().err.splitlines() if "DistributedSampler" in x]
    assert lines == [f"lightning-nas search: warning: trial 1: {NOTE}"], lines


@pytest.mark.slow
def test_a_resumed_search_does_not_say_again_a_split_its_first_run_said(tmp_path):
    # once per search, a resume included (was: said again by the resume, as new)
    _, first = _search(tmp_path, n=404, budget=1)
    trials, again = _search(tmp_path, n=404, budget=2)
    assert len(first) == 1 and first[0].startswith(f"trial 1: {SAID}"), first
    assert again == [], again
    assert SAID in _log(tmp_path, 2)  # trial 2's ranks met it (a fresh group): recorded
    with RunStore(tmp_path / "search.db") as store:
        assert show_notes(store) == [{"trials": [t.trial_id for t in trials], "text": NOTE}]


@pytest.mark.slow
def test_an_even_split_under_ddp_is_not_said(tmp_path):
    (trial,), console = _search(tmp_path, n=400, budget=1)  # 100 samples on 2 ranks
    assert "DistributedSampler" not in _log(tmp_path, trial.trial_id)
    assert console == []
    assert "notes" not in yaml.safe_load((tmp_path / "best.yaml").read_text())


@pytest.fixture
def limited_run(shared_run) -> tuple[Path, dict[float, tuple[int, float]], list[str]]:
    """A DDP search of 2 trials on 101 validation samples (2 ranks), one with
    ``limit_val_batches=3`` and one with ``0.75`` (searched: one group of ranks trains both,
    was a search each), made once per session: its folder, each limit's trial (id, score)
    and the search's console warnings of the split. Nothing is written there."""
    def make(run: Path) -> dict:
        trials, console = _search(run, n=404, budget=2, searched={
            "trainer.limit_val_batches": {"choice": [3, 0.75]}})
        return {"trials": [[t.arch["trainer.limit_val_batches"], t.trial_id, t.score]
                           for t in trials], "console": console}

    run, made = shared_run("uneven_limited_search", make)
    by_limit = {limit: (trial_id, score) for limit, trial_id, score in made["trials"]}
    assert sorted(by_limit) == [0.75, 3], made  # the seed's two draws: each limit once
    return run, by_limit, made["console"]


@pytest.mark.slow
@pytest.mark.parametrize("limit", [3, 0.75])
def test_a_limit_that_stops_each_rank_before_the_repeat_is_not_said(limited_run, limit):
    # 101 samples on 2 ranks: 51 each, in batches of 16 (4); the repeated sample is each
    # rank's 51st (rank 1's last), so 3 batches (48 samples) each validate 96 distinct
    # samples: the synced score is exact. Was: said all the same
    from lightning_nas.split_record import uneven_of

    run, by_limit, console = limited_run
    trial_id, score = by_limit[limit]
    assert console == []  # neither trial said it (the search says it once, of the first)
    assert "DistributedSampler" not in _log(run, trial_id)
    assert "notes" not in yaml.safe_load((run / "best.yaml").read_text())
    with RunStore(run / "search.db") as store:  # this trial's, best or not
        assert uneven_of(store, trial_id) == []
    assert score * 96 == pytest.approx(round(score * 96), abs=1e-3)


def test_each_uneven_loader_is_named_with_what_its_sampler_does():
    texts = uneven_splits({"digits": rank0_loader(359), "blobs": rank0_loader(64)})
    assert len(texts) == 1  # 64 divides evenly: nothing said
    assert texts[0].startswith("validation loader 'digits' holds 359 samples, which the 2 "
                               "ranks do not divide: Lightning's DistributedSampler repeats 1 "
                               "of them (360 scored")
    (three,) = uneven_splits([rank0_loader(10, ranks=4)])
    assert "holds 10 samples, which the 4 ranks do not divide" in three
    assert "repeats 2 of them (12 scored" in three and "divisible by 4" in three
    (dropped,) = uneven_splits(rank0_loader(101, drop_last=True))
    assert "DistributedSampler leaves out 1 of them (100 scored)" in dropped


def test_only_a_validation_reaching_the_repeats_or_the_left_out_samples_is_said():
    # 101 samples on 2 ranks, in batches of 10: each rank's 51 take 6 batches; the repeat
    # (index 0 again) is rank 1's 51st, in its 6th batch
    assert uneven_splits(rank0_loader(101, batch_size=10), batches=[5]) == []
    (whole,) = uneven_splits(rank0_loader(101, batch_size=10), batches=[6])
    assert "repeats 1 of them (102 scored" in whole
    assert uneven_splits(rank0_loader(101, batch_size=10), batches=[math.inf]) == [whole]
    # of two loaders, the one validated to its end
    (second,) = uneven_splits([rank0_loader(101, batch_size=10), rank0_loader(21, batch_size=4)],
                              batches=[2, 3])
    assert second.startswith("validation loader '1' holds 21 samples")
    # drop_last: 50 each, the 101st left out; said where the ranks validate all 50 (one
    # device would go on to it), not where they stop before
    assert uneven_splits(rank0_loader(101, batch_size=10, drop_last=True), batches=[4]) == []
    (dropped,) = uneven_splits(rank0_loader(101, batch_size=10, drop_last=True), batches=[5])
    assert "leaves out 1 of them (100 scored)" in dropped
    # batch_size=None: single samples, the 51st of each rank the repeat
    data = TensorDataset(torch.zeros(101, 1))
    single = DataLoader(data, batch_size=None,
                        sampler=DistributedSampler(data, num_replicas=2, rank=0, shuffle=False))
    assert uneven_splits(single, batches=[50]) == []
    assert len(uneven_splits(single, batches=[51])) == 1


def test_loaders_without_a_distributed_sampler_or_with_an_even_split_are_not_said():
    data = TensorDataset(torch.zeros(101, 1))
    assert uneven_splits(DataLoader(data)) == []
    assert uneven_splits([rank0_loader(100), rank0_loader(102)]) == []
    assert uneven_splits(None) == []

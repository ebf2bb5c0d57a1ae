"""The DataModules and DataLoaders of real Lightning projects inside a search: their hooks,
loader worker processes, in the search's own process, in worker processes and in DDP
trials. Real Trainers, real processes."""

from __future__ import annotations

import multiprocessing as mp
import os

import pytest

from lightning_nas import Search
from lightning_nas.results import TrialStatus
from tests.helpers_models import TinyNet
from tests.helpers_ranks import SyncedTinyNet
from tests.helpers_standalone import INTERPRETER
from tests.user_data_classes import FullData, LambdaData

SPACE = {"width": {"choice": [4, 8, 16, 32]}, "lr": {"float": [0.02, 0.3], "log": True}}
TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1}


def _descendants(pid: int) -> list[str]:
    """The command lines of ``pid``'s live descendants (from /proc), but multiprocessing's
    resource tracker and fork server (``pid``'s children: they live as long as the process
    that started them; the fork server's own children, workers, are listed), and the test
    session's launcher (``tests.launcher``: its zygote and what it forked) and its isolated
    interpreter (``conftest.standalone_python``), each started by another test in this
    pytest-xdist worker and kept for the session."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for child in children.get(parent, []):
            todo.append(child)
            try:
                with open(f"/proc/{child}/cmdline") as f:
                    line = f.read().replace("\0", " ")
            except OSError:
                continue
            if parent != pid or "multiprocessing.forkserver import main" not in line:
                found.append(line)
    return [line for line in found if "resource_tracker" not in line and "zygote" not in line
            and f"{os.sep}{INTERPRETER} isolated " not in line]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="loader workers fork only where os.fork is")
def test_config_data_loader_workers_start_in_worker_processes_as_in_the_search_process(
        tmp_path, capfd):
    # was: worker processes are spawned, and a spawned process's children are spawned too,
    # so a trial's DataLoader workers were spawned there (forked in the search's own process
    # and in a plain Lightning fit): a dataset holding a lambda failed every trial ("Can't
    # pickle <function <lambda>>"), each loader re-imported torch at every epoch, and
    # Lightning warned of it for each loader of each trial. The data as a config's
    # ``data: {class_path, init_args}`` (LightningCLI's), a searched data argument: one
    # worker process trains both trials, each building its own DataModule (was a test of
    # its own, a worker import more)
    from lightning_nas.search.from_config import search_from_config

    scores = {}
    for executor in ("inline", "process"):  # one worker process (was two: an import each)
        notes = tmp_path / f"notes_{executor}"
        notes.mkdir()
        result = search_from_config({
            "model": {"class_path": "tests.helpers.TinyNet"},
            "data": {"class_path": "tests.user_data_classes.LambdaData",
                     "init_args": {"root": str(tmp_path), "notes": str(notes),
                                   "num_workers": 2}},
            "trainer": TRAINER,
            "search": {"space": {**SPACE, "data.batch_size": {"choice": [16, 48]}},
                       "budget": 2, "num_workers": 1, "executor": executor, "seed": 1,
                       "run_dir": str(tmp_path / f"run_{executor}"), "verbose": False}}).run()
        assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2, [
            t.error for t in result.trials]
        scores[executor] = sorted((t.arch["width"], t.arch["data.batch_size"], t.score)
                                  for t in result.trials)
        assert len((notes / "prepare.log").read_text().splitlines()) == 2  # once per trial
        methods = (notes / "start_method.log").read_text().split()[::3]
        assert set(methods) == {mp.get_start_method()}, methods
    assert scores["inline"] == scores["process"]  # the same trials score alike wherever they run
    assert _descendants(os.getpid()) == []  # no loader worker, no worker process left
    assert "persistent_workers=True` in" not in capfd.readouterr().err


@pytest.mark.parametrize("keyword", ["datamodule", "train_dataloaders", "val_dataloaders"])
def test_trainer_fits_data_keywords_are_refused_naming_data(tmp_path, keyword):
    # was: "unknown search setting 'datamodule'; valid keys: optimizer, budget, ..." (the
    # search settings, none of them about data): a Lightning user's trainer.fit(model,
    # datamodule=dm) / (train_dataloaders=..., val_dataloaders=...) keywords
    from torch.utils.data import DataLoader, TensorDataset

    from lightning_nas.errors import ConfigError
    from tests.helpers_data import make_blobs

    x, y = make_blobs(32)
    value = (LambdaData() if keyword == "datamodule"
             else DataLoader(TensorDataset(x, y), batch_size=8))
    with pytest.raises(ConfigError, match=rf"^Search takes no {keyword}= \(Trainer.fit's\): "
                                          r"give the data as data=.*LightningDataModule"):
        Search(TinyNet, SPACE, trainer=TRAINER, run_dir=tmp_path / "run", **{keyword: value})
    assert not (tmp_path / "run").exists()


def test_loader_workers_score_as_none_and_leave_no_process_with_a_shared_instance(tmp_path):
    # a DataModule instance shared by the trials, its loaders with 2 worker processes (kept
    # alive between epochs, persistent_workers): every trial completes, none is left running
    # after the search, and, seeded, 2 workers per loader score as loading in the trial does
    notes = tmp_path / "notes"
    notes.mkdir()
    scores = []
    for name, workers, persistent in (("w0", 0, False), ("w2", 2, False), ("p2", 2, True)):
        data = FullData(root=str(tmp_path), notes=str(notes), num_workers=workers,
                        persistent_workers=persistent)
        result = Search(TinyNet, SPACE, data=data, trainer=TRAINER, budget=2, seed=1,
                        verbose=False, run_dir=tmp_path / name).run()
        assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
        scores.append([t.score for t in result.trials])
        assert data.setups == 2  # Lightning's setup ran once in each trial's fit
    assert scores[0] == scores[1]  # (persistent workers draw torch's seeds once: may differ)
    assert _descendants(os.getpid()) == []
    # one validation split for every trial (the split's own generator)
    assert len(set((notes / "split.log").read_text().splitlines())) == 1


def test_a_datamodules_hooks_run_in_ddp_trials_as_lightning_runs_them(tmp_path):
    # prepare_data once per trial, on rank 0 alone (it writes the file setup reads); setup
    # and teardown on each rank; every rank of every trial validates on the same split
    notes = tmp_path / "notes"
    notes.mkdir()
    result = Search(SyncedTinyNet, SPACE, data=FullData,
                    data_init_args={"root": str(tmp_path), "notes": str(notes)},
                    trainer={**TRAINER, "devices": 2, "strategy": "ddp"}, budget=2, seed=1,
                    verbose=False, run_dir=tmp_path / "run").run()
    assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 2
    ranks = {name: sorted(line.split()[-2] for line in (notes / f"{name}.log").read_text()
                          .splitlines()) for name in ("prepare", "setup", "teardown")}
    assert ranks == {"prepare": ["rank=0"] * 2, "setup": ["rank=0", "rank=0", "rank=1", "rank=1"],
                     "teardown": ["rank=0", "rank=0", "rank=1", "rank=1"]}
    splits = [line.rsplit(" rank=", 1)[0] for line in (notes / "split.log").read_text()
              .splitlines()]
    assert len(splits) == 4 and len(set(splits)) == 1

"""Where a search's summary (``logs/search/summary``: each trial's score, the best
architecture, ``hp_metric``) is logged: to the config's ``trainer.logger``, the one every
trial logged to; where the space searches ``trainer.logger``, to each distinct logger the
trials were given (the config's, which no trial then used, gets none), each in a place of
its own (``summary_2``, ...: where two would write one folder or one W&B run), kept by a
resume.

Example:
    >>> _csv("a")["init_args"]
    {'save_dir': 'a'}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_nas import Search
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.summary import summary_loggers, summary_nodes
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

__all__: list[str] = []


def _csv(save_dir: str) -> dict[str, Any]:
    """A ``CSVLogger`` node writing under ``save_dir``."""
    return {"class_path": "lightning.pytorch.loggers.CSVLogger",
            "init_args": {"save_dir": save_dir}}


def _tb(save_dir: str) -> dict[str, Any]:
    """A ``TensorBoardLogger`` node writing under ``save_dir``."""
    return {"class_path": "lightning.pytorch.loggers.TensorBoardLogger",
            "init_args": {"save_dir": save_dir}}


def _summaries(root: Path) -> list[str]:
    """The summary versions under ``root`` (``<label>_summary`` folders of ``search``)."""
    return sorted(p.name.split("_", 1)[1] for p in (root / "search").glob("*_summary"))


def _summary_files(root: Path) -> dict[str, list[str]]:
    """Each summary version under ``root`` (``summary``, ``summary_2``, ...) and the kinds
    of files its folder holds (``csv``: ``metrics.csv``; ``tfevents``; ``hparams.yaml``)."""
    kinds = {"metrics.csv": "csv", "hparams.yaml": "hparams.yaml"}
    return {p.name.split("_", 1)[1]: sorted(kinds.get(f.name, "tfevents") for f in p.iterdir())
            for p in (root / "search").glob("*_summary*")}


def _run_ids(folder: Path) -> list[str]:
    """The ids of the offline W&B runs under ``folder`` (``wandb/offline-run-*``, each
    holding ``run-<id>.wandb``), one per run folder."""
    return sorted(f.name[len("run-"):-len(".wandb")]
                  for f in (folder / "wandb").glob("offline-run-*/run-*.wandb"))


def _searched(tmp_path: Path, nodes: list[Any], budget: int = 4, **trainer: Any) -> Any:
    """The result of a search of ``budget`` trials in ``tmp_path/run`` whose space searches
    ``trainer.logger`` over ``nodes`` (the same folder: a resume)."""
    torch.set_num_threads(1)
    space = {"width": {"choice": [4, 8, 16]}, "trainer.logger": {"choice": nodes}}
    return Search(TinyNet, space, data=BlobData(n=64), budget=budget, seed=0, verbose=False,
                  run_dir=tmp_path / "run", executor="inline",
                  trainer={"max_epochs": 1, "limit_train_batches": 2, **trainer}).run()


def test_the_summary_of_a_searched_logger_goes_to_each_logger_the_trials_used(tmp_path):
    # was: to the config's trainer.logger alone (cfg/search/<label>_summary), which no
    # trial logged to; the folders holding the trials' versions had no summary
    folders = {side: tmp_path / side for side in ("a", "b", "cfg")}
    result = _searched(tmp_path, [_csv(str(folders["a"])), _csv(str(folders["b"]))],
                       logger=_csv(str(folders["cfg"])))
    used = {t.arch["trainer.logger"]["init_args"]["save_dir"] for t in result.trials}
    assert used == {str(folders["a"]), str(folders["b"])}, used  # both drawn
    for side in "ab":
        assert _summaries(folders[side]) == ["summary"], sorted(folders[side].rglob("*"))
        (metrics,) = (folders[side] / "search").glob("*_summary/metrics.csv")
        assert "best_so_far" in metrics.read_text()
    assert not folders["cfg"].exists()  # no trial logged there: no summary either


def test_the_summary_of_two_searched_w_and_b_loggers_logs_a_run_in_each_project(
        tmp_path, wandb_offline):
    # one run in progress at a time: Lightning's WandbLogger reuses it, so the second
    # project's summary would log into the first's run
    import wandb

    nodes = []
    for project in "ab":
        (tmp_path / project).mkdir()
        nodes.append({"class_path": "lightning.pytorch.loggers.WandbLogger",
                      "init_args": {"project": project, "offline": True,
                                    "dir": str(tmp_path / project)}})
    result = _searched(tmp_path, nodes)
    assert len({t.arch["trainer.logger"]["init_args"]["project"] for t in result.trials}) == 2
    for project in "ab":
        runs = _run_ids(tmp_path / project)
        assert [run for run in runs if run.endswith("_summary")], (project, runs)
    assert wandb.run is None  # each ended


def test_a_searched_csv_and_tensorboard_logger_of_one_save_dir_each_get_a_summary_folder(
        tmp_path, recwarn):
    # was: one folder, <label>_summary, for both: TensorBoard's hparams.yaml replaced by the
    # CSV logger's, which warned that the "Previous log files in this directory will be
    # deleted"
    pytest.importorskip("tensorboardX")
    shared = str(tmp_path / "x")
    result = _searched(tmp_path, [_tb(shared), _csv(shared)])
    assert len({t.arch["trainer.logger"]["class_path"] for t in result.trials}) == 2
    first = _summary_files(tmp_path / "x")
    assert sorted(first) == ["summary", "summary_2"], first
    assert sorted(first.values()) == [["csv", "hparams.yaml"], ["hparams.yaml", "tfevents"]]
    for folder in (tmp_path / "x" / "search").glob("*_summary*"):
        (folder / "earlier.txt").touch()  # (an event file of an earlier second, as it were)
    resumed = _searched(tmp_path, [_tb(shared), _csv(shared)], budget=6)  # each its own again
    assert len(resumed.trials) == 6
    assert _summary_files(tmp_path / "x") == first  # each emptied first, written again
    assert not [w for w in recwarn if "is not empty" in str(w.message)]  # (emptied first)
    (metrics,) = (tmp_path / "x" / "search").glob("*_summary*/metrics.csv")
    assert metrics.read_text().count("\n") == 1 + 6 + 1  # header, 6 trials, hp_metric


def test_two_searched_w_and_b_loggers_of_one_project_each_get_a_summary_run(
        tmp_path, wandb_offline):
    # was: both <label>_summary in project p: W&B, which knows a run by its id in its
    # project, would log the second summary into the first's run
    nodes = [{"class_path": "lightning.pytorch.loggers.WandbLogger",
              "init_args": {"project": "p", "offline": True, "dir": str(tmp_path), **tags}}
             for tags in ({}, {"tags": ["x"]})]
    result = _searched(tmp_path, nodes)
    assert len({str(t.arch["trainer.logger"]) for t in result.trials}) == 2
    summaries = [run for run in _run_ids(tmp_path) if "_summary" in run]
    assert [run.split("_", 1)[1] for run in summaries] == ["summary", "summary_2"], summaries


def test_the_summary_versions_part_only_loggers_that_would_share_a_place(
        tmp_path, monkeypatch):
    # (nothing here builds a logger: wandb need not be installed)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    def versions(*specs: Any) -> list[str]:
        return [node["init_args"]["version"]
                for node in summary_nodes(specs, str(tmp_path / "logs"), "a")]

    def w_and_b(**args: Any) -> dict[str, Any]:
        return {"class_path": "lightning.pytorch.loggers.WandbLogger", "init_args": args}

    # Lightning's project where none is set: W&B's run of that id there
    assert versions(w_and_b(), w_and_b(project="lightning_logs"), w_and_b(project="p"),
                    w_and_b(project="p", tags=["x"])) == [
        "a_summary", "a_summary_2", "a_summary", "a_summary_2"]
    x, y = str(tmp_path / "x"), str(tmp_path / "y")
    # one setting's list shares its version, as its trials do; a node of an earlier
    # setting is logged once, there
    assert versions([_csv(x), _tb(x)], _csv(y), [_tb(x), _csv(y)], _tb(y)) == [
        "a_summary", "a_summary", "a_summary", "a_summary_2"]


def test_a_resumed_search_logs_its_w_and_b_summary_to_a_run_of_its_own(tmp_path, wandb_offline):
    # was: the resumed search's summary took the first's run id (<label>_summary, W&B's
    # resume="allow"), so that run held each earlier trial's row twice: W&B cannot empty a
    # run as a resumed CSV summary empties its folder
    node = {"class_path": "lightning.pytorch.loggers.WandbLogger",
            "init_args": {"project": "p", "offline": True, "dir": str(tmp_path)}}
    for budget in (2, 3):  # a search, then its resume
        Search(TinyNet, {"width": {"choice": [4, 8, 16]}}, data=BlobData(n=64), budget=budget,
               seed=0, verbose=False, run_dir=tmp_path / "run", executor="inline",
               trainer={"max_epochs": 1, "limit_train_batches": 2, "logger": node}).run()
    summaries = [run for run in _run_ids(tmp_path) if "_summary" in run]
    assert len(summaries) == 2 and len(set(summaries)) == 2, summaries


def test_a_resumed_search_logs_its_mlflow_summary_to_a_run_named_apart(tmp_path, mlflow_uri):
    # was: a second run named <label>_summary beside the first's (MLflow draws a run's id
    # itself): two summaries of one name, one partial, none telling which is whole
    from mlflow.tracking import MlflowClient

    node = {"class_path": "lightning.pytorch.loggers.MLFlowLogger",
            "init_args": {"experiment_name": "nas", "tracking_uri": mlflow_uri}}
    for budget in (2, 3):  # a search, then its resume
        Search(TinyNet, {"width": {"choice": [4, 8, 16]}}, data=BlobData(n=64), budget=budget,
               seed=0, verbose=False, run_dir=tmp_path / "run", executor="inline",
               trainer={"max_epochs": 1, "limit_train_batches": 2, "logger": node}).run()
    client = MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name("nas").experiment_id])
    summaries = sorted((run.info.run_name, run.info.run_id) for run in runs
                       if "_summary" in run.info.run_name)
    names = [name for name, _ in summaries]
    assert len(names) == 2 and names[1].startswith(f"{names[0]}_again_"), names
    for (name, run_id), trials in zip(summaries, (2, 3), strict=True):  # each whole, once
        steps = [m.step for m in client.get_metric_history(run_id, "trial_score")]
        assert sorted(steps) == list(range(1, trials + 1)), (name, steps)


def test_the_summary_of_a_searched_logger_goes_where_its_trials_logged():
    # was: each searched value as given ({name: b}, no save_dir: the run's logs/), where
    # its trials merged it over the config's node, as LightningCLI merges it (save_dir mine)
    csv = "lightning.pytorch.loggers.CSVLogger"
    configured = {"class_path": csv, "init_args": {"save_dir": "mine", "name": "a"}}
    trials = [TrialResult(1, {"trainer.logger": {"class_path": csv, "init_args": {"name": n}}},
                          TrialStatus.COMPLETED) for n in ("b", "c")]
    assert summary_loggers(configured, trials) == [
        {"class_path": csv, "init_args": {"save_dir": "mine", "name": n}} for n in ("b", "c")]

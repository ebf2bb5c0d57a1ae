"""An MLflow logger node (``lightning.pytorch.loggers.MLFlowLogger``) in a search: each
trial logs to an MLflow run of its own, named by the run folder's label and the trial (its
``run_name``: MLflow draws a run's id itself), so the runs of two searches logging to one
experiment are told apart, and a resume names a trial's run alike; a ``run_id`` of the
user's (every trial into that one run, where MLflow refuses a param changed) is refused
before training. What a trial is given is read from the node (mlflow need not be installed:
nothing here builds the logger; the tests that do skip without it).

Example:
    >>> MLFLOW["init_args"]
    {'experiment_name': 'nas'}
"""

from __future__ import annotations

import json

import pytest

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.search.logger_objects import warn_fixed_versions
from lightning_nas.search.remote_runs import MLFLOW_RUNS
from tests.helpers_data import BlobData
from tests.helpers_logger_nodes import MLFLOW, given_args, log_label, resumed_fit
from tests.helpers_models import TinyNet

__all__: list[str] = []

SPACE = {"width": {"choice": [4, 8]}}


def test_two_searches_give_their_trials_mlflow_runs_named_their_own(tmp_path):
    # was: no run_name (MLflow's random one for each trial, no trial or search told)
    first, second = tmp_path / "a" / "run", tmp_path / "b" / "run"  # one name
    names = [given_args(run, log_label(run), MLFLOW).get("run_name") for run in (first, second)]
    assert names == [f"{log_label(run)}_trial_0001" for run in (first, second)], names
    assert names[0] != names[1]
    assert given_args(first, log_label(first), MLFLOW)["run_name"] == names[0]  # a resume's
    given = given_args(first, log_label(first), MLFLOW)
    assert given.get("run_id") is None and given["experiment_name"] == "nas"


def test_a_run_name_of_the_users_is_kept_in_front_of_the_trials(tmp_path):
    # was: every trial's run named 'mine'
    run = tmp_path / "run"
    node = {**MLFLOW, "init_args": {"experiment_name": "nas", "run_name": "mine"}}
    assert given_args(run, log_label(run), node)["run_name"] == (
        f"{log_label(run)}_mine_trial_0001")


def test_a_fit_and_a_resumed_segment_name_their_mlflow_runs_apart(tmp_path):
    # was: no run_name: a fit's run and a promoted trial's next segment's untold
    fits = [given_args(tmp_path / side / "ft", "", MLFLOW, own_logs=True)["run_name"]
            for side in "ab"]
    assert fits[0] != fits[1] and fits[0].startswith("a_ft-") and fits[0].endswith("_logs")
    run = tmp_path / "run"
    segment = given_args(run, log_label(run), MLFLOW, ckpt_path=str(run / "last.ckpt"))
    assert segment["run_name"].startswith(f"{log_label(run)}_trial_0001_resumed_")


@pytest.mark.parametrize("searched", [False, True])
def test_a_run_id_of_the_users_is_refused_before_training(tmp_path, mlflow_uri, searched):
    # was: a warning, then every trial after the first FAILED as it logged its architecture
    # into that one run ("MlflowException: Changing param values is not allowed")
    args = {"experiment_name": "nas", "tracking_uri": mlflow_uri}
    node = {**MLFLOW, "init_args": {**args, "run_id": "0123abcd"}}
    plain = {**MLFLOW, "init_args": args}
    space = {**SPACE, "trainer.logger": {"choice": [plain, [node]]}} if searched else SPACE
    with pytest.raises(ConfigError, match=r"trainer.logger\[0\] \(MLFlowLogger\) has "
                       r"run_id '0123abcd': every trial would log into that one MLflow run"):
        Search(TinyNet, space, data=BlobData(n=64), budget=2, seed=0, verbose=False,
               run_dir=tmp_path / "run", trainer={"max_epochs": 1, "logger": (
                   plain if searched else [node])}).run()
    assert not (tmp_path / "run" / "trials").exists()
    assert warn_fixed_versions({"logger": MLFLOW}, str(tmp_path / "logs")) == []


def test_a_searched_run_id_is_refused_naming_its_space_key(tmp_path):
    # was: "space key 'trainer.logger' may take [{...the whole merged list...}]" (mlflow
    # itself need not be installed: the node is read, not built)
    node = {**MLFLOW, "init_args": {"experiment_name": "nas"}}
    space = {**SPACE, "trainer.logger.0.run_id": {"choice": ["0123abcd", "4567ef"]}}
    with pytest.raises(ConfigError, match=r"^space key 'trainer\.logger\.0\.run_id' may take "
                       r"'0123abcd': trainer\.logger\[0\] \(MLFlowLogger\) has run_id "
                       r"'0123abcd': every trial"):
        Search(TinyNet, space, data=BlobData(n=64), budget=2, seed=0, verbose=False,
               run_dir=tmp_path / "run", trainer={"max_epochs": 1, "logger": [node]})
    assert not (tmp_path / "run").exists()


def test_a_resumed_segment_continues_the_mlflow_run_its_trial_started(tmp_path):
    # was: a run of its own (MLflow draws ids, Lightning continues a run only by its
    # run_id): a promoted trial's, or a resumed fit's, epochs split over runs
    run = tmp_path / "run"
    label = log_label(run)
    trial_dir = run / "trials" / "trial_0001"
    trial_dir.mkdir(parents=True)
    (trial_dir / MLFLOW_RUNS).write_text(json.dumps({"0": "0123abcd"}))  # its first segment's
    segment = given_args(run, label, MLFLOW, ckpt_path=str(trial_dir / "last.ckpt"))
    assert segment.get("run_id") == "0123abcd", segment
    # was: '<label>_trial_0001_resumed_<ns>', a name the trial's run never had
    assert segment["run_name"] == f"{label}_trial_0001", segment
    anew = given_args(run, label, MLFLOW)  # trained anew: a run of its own
    assert anew.get("run_id") is None and anew["run_name"] == f"{label}_trial_0001"


def test_a_resumed_fit_logs_all_its_epochs_into_one_mlflow_run(tmp_path, mlflow_uri):
    # was: the epochs before the interrupt in one run, those after in another
    from mlflow.tracking import MlflowClient

    node = {**MLFLOW, "init_args": {"experiment_name": "nas", "tracking_uri": mlflow_uri}}
    resumed_fit(tmp_path, node)
    client = MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name("nas").experiment_id])
    assert len(runs) == 1, [found.info.run_name for found in runs]
    (found,) = runs
    epochs = {m.value for m in client.get_metric_history(found.info.run_id, "epoch")}
    assert epochs == {0.0, 1.0, 2.0}, epochs


def test_a_trial_trained_again_from_its_first_epoch_names_its_mlflow_run_apart(
        tmp_path, mlflow_uri):
    # was: a second run of the dead attempt's name, <label>_trial_0001 (the dead one left
    # RUNNING, partial): none telling which attempt's epochs are the trial's
    import torch
    from mlflow.tracking import MlflowClient

    from lightning_nas.results import TrialStatus
    from lightning_nas.search.trial import fit_trial
    from lightning_nas.search.trial_spec import TrialSpec
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    torch.set_num_threads(1)
    node = {**MLFLOW, "init_args": {"experiment_name": "nas", "tracking_uri": mlflow_uri}}
    run = tmp_path / "run"
    label = log_label(run)
    spec = TrialSpec(trial_id=1, arch={"width": 4}, trial_dir=str(run / "trials" / "trial_0001"),
                     model=TinyNet, data=BlobData, log_label=label,
                     trainer={"max_epochs": 1, "limit_train_batches": 2, "logger": node})
    for _ in range(2):  # the second: a re-run of a dead attempt, from its first epoch
        assert fit_trial(spec).status is TrialStatus.COMPLETED
    client = MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name("nas").experiment_id])
    names = sorted(found.info.run_name for found in runs)
    assert len(names) == 2 and names[0] == f"{label}_trial_0001", names
    assert names[1].startswith(f"{label}_trial_0001_again_"), names


def test_a_promoted_trial_goes_on_in_its_mlflow_run_with_its_final_score(
        tmp_path, mlflow_uri):
    # was: FAILED as its promoted segment ended (MlflowException: Changing param values is
    # not allowed. Param with key='search_score' was already logged ...): the score at its
    # pause was a param of the run its segment continues, which MLflow never changes
    import torch
    from mlflow.tracking import MlflowClient

    from lightning_nas import Search
    from lightning_nas.results import TrialStatus
    from lightning_nas.store import RunStore
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    torch.set_num_threads(1)
    node = {**MLFLOW, "init_args": {"experiment_name": "nas", "tracking_uri": mlflow_uri}}
    space = {"width": {"choice": [4, 8, 16, 32]}}
    result = Search(TinyNet, space, data=BlobData(n=128), optimizer="RandomSearch", seed=7,
                    scheduler="asha", min_epochs=1, eta=2, max_epochs=3, budget=4,
                    monitor="val_loss", mode="min", verbose=False, run_dir=tmp_path / "run",
                    executor="inline", trainer={"max_epochs": 3, "logger": node}).run()
    assert not [t.error for t in result.trials if t.status is TrialStatus.FAILED]
    with RunStore(tmp_path / "run" / "search.db") as store:
        promoted = [t for t in store.trials() if len(store.fits(t.trial_id)) > 1]
    assert promoted  # the case under test happened (paused again, or completed)
    client = MlflowClient(mlflow_uri)
    runs = {found.info.run_name: found for found in client.search_runs(
        [client.get_experiment_by_name("nas").experiment_id])}
    for trial in promoted:
        (name,) = [name for name in runs if name.endswith(f"_trial_{trial.trial_id:04d}")]
        scores = client.get_metric_history(runs[name].info.run_id, "search_score")
        assert len(scores) == 2, scores  # its pause's, then its promoted segment's
        assert max(scores, key=lambda m: m.step).value == pytest.approx(trial.score), scores



@pytest.mark.slow
def test_the_run_of_an_attempt_killed_before_its_first_checkpoint_is_marked_killed(
        tmp_path, mlflow_uri, launcher):
    # was: left RUNNING for ever beside the _again_ run of the trial's next attempt (its
    # process SIGKILLed, nothing ended it)
    import time

    import yaml
    from mlflow.tracking import MlflowClient

    from lightning_nas.search.remote_runs import MLFLOW_RUNS
    from tests.helpers_kill import POLL, kill_config, kill_rows

    cfg, run_dir = kill_config(tmp_path, "again", 1, executor="inline")
    config = yaml.safe_load(cfg.read_text())
    config["model"]["init_args"] = {"sleep": 0.5}  # epoch 0 outlasts the poll's kill
    config["trainer"].update(max_epochs=1, logger={**MLFLOW, "init_args": {
        "experiment_name": "nas", "tracking_uri": mlflow_uri}})
    cfg.write_text(yaml.safe_dump(config))
    trial_dir, log = run_dir / "trials" / "trial_0001", tmp_path / "again.log"
    env = {"MLFLOW_ALLOW_FILE_STORE": "true"}
    launcher.launch(["search", cfg], log, env=env)
    deadline = time.monotonic() + 120
    while not (trial_dir / MLFLOW_RUNS).is_file():  # its run started: training began
        assert launcher.exited() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(POLL)
    launcher.kill()
    (dead,) = json.loads((trial_dir / MLFLOW_RUNS).read_text()).values()
    assert not list(trial_dir.glob("*.ckpt"))  # trained again from its first epoch
    client = MlflowClient(mlflow_uri)
    assert client.get_run(dead).info.status == "RUNNING"
    name = client.get_run(dead).info.run_name  # <label>_trial_0001
    log.unlink()
    assert launcher.run(["search", cfg], log, env=env) == 0, log.read_text()[-3000:]
    assert kill_rows(run_dir / "search.db")[1]["status"] == "COMPLETED"
    runs = client.search_runs([client.get_experiment_by_name("nas").experiment_id])
    states = {found.info.run_name: (found.info.run_id, found.info.status) for found in runs
              if "_summary" not in found.info.run_name}  # (the search's summary run)
    assert name.endswith("_trial_0001") and states.pop(name) == (dead, "KILLED"), states
    ((again, (_, status)),) = states.items()
    assert again.startswith(f"{name}_again_") and status == "FINISHED", states

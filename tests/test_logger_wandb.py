"""A W&B logger node (``lightning.pytorch.loggers.WandbLogger``) in a search: its ``version``
is the id of a run in the W&B project, which every search logging there shares (Lightning's
``WandbLogger`` resumes a run of that id, ``resume="allow"``), so each trial's id, and its
run's name, hold the run folder's label; a resume gives a trial the same, a resumed
segment goes on in its trial's run, and a trial trained again from its first epoch gets a
run of its own. What a trial is given is read from the node (wandb need not be installed);
the tests that train with the logger skip without wandb, offline (no network).

Example:
    >>> sorted(WANDB["init_args"])
    ['project']
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

from lightning_nas.cli import main
from lightning_nas.config.instantiate import instantiate
from lightning_nas.config.nodes import node_args, with_args
from lightning_nas.search.fit_segments import start_own_fit
from lightning_nas.search.trial_logs import clear_trial, logger_defaults
from lightning_nas.search.trial_spec import TrialSpec
from tests.helpers_logger_nodes import WANDB, fit_argv, given_args, log_label, resumed_fit

__all__: list[str] = []


def _given(folder: Path, label: str, node: Any = WANDB, own_logs: bool = False) -> dict:
    """The W&B logger arguments trial 1 of the search in ``folder`` is given."""
    return given_args(folder, label, node, own_logs)


def test_two_searches_of_a_project_give_their_trials_w_and_b_runs_of_their_own(tmp_path):
    # was: trial_0001 in every search (and name 'trials'): a second search's trial 1
    # resumed the first's W&B run, its metrics written over the first's
    first, second = tmp_path / "a" / "run", tmp_path / "b" / "run"  # one name
    ids = [_given(run, log_label(run))["version"] for run in (first, second)]
    assert ids[0] != ids[1], ids
    for run, given in zip((first, second), ids, strict=True):
        assert given == f"{log_label(run)}_trial_0001"
    assert _given(first, log_label(first))["name"] == ids[0]  # the run's name in W&B's table


def test_a_resumed_search_gives_a_trial_its_own_w_and_b_run_again(tmp_path):
    run = tmp_path / "run"
    before = _given(run, log_label(run))
    assert _given(run, log_label(run)) == before  # the store keeps the label


def test_a_w_and_b_id_and_dir_of_the_users_are_kept(tmp_path):
    # was: the id left behind (the version, trial_0001, is the run's id) and the dir
    # replaced (WandbLogger takes save_dir over dir)
    run = tmp_path / "run"
    node = {**WANDB, "init_args": {"project": "nas", "id": "mine", "dir": "wb"}}
    given = _given(run, log_label(run), node)
    assert given["version"] == f"{log_label(run)}_mine_trial_0001"
    assert given["dir"] == "wb" and given.get("save_dir") is None


def test_a_w_and_b_dir_of_the_users_is_where_its_logger_writes(tmp_path):
    # was: save_dir left out, Lightning's default '.' taken over the dir: every trial's W&B
    # files in the working folder
    run = tmp_path / "run"
    node = {**WANDB, "init_args": {"project": "nas", "dir": "wb"}}
    given = _given(run, log_label(run), node)
    assert "save_dir" in given and given["save_dir"] is None, given  # the dir, not '.'
    if importlib.util.find_spec("wandb") is not None:  # the logger built, starting no run
        assert instantiate(with_args(node, given)).save_dir == "wb"


def test_a_fit_and_the_summary_give_w_and_b_runs_of_their_own(tmp_path):
    # was: 'logs' for every fit and fine-tune, 'summary' for every search's summary
    fits = [_given(tmp_path / side / "ft", "", own_logs=True)["version"] for side in "ab"]
    assert fits[0] != fits[1], fits
    assert fits[0].startswith("a_ft-") and fits[0].endswith("_logs"), fits
    summary = logger_defaults(WANDB, str(tmp_path / "run" / "logs"), "search", "summary",
                              "run-3f9a0c")
    assert node_args(summary)["version"] == "run-3f9a0c_summary"


#: the characters W&B refuses in a run id (wandb's own check, and its project names')
FORBIDDEN = set(":;,#?/'\\% ")


def test_a_run_folder_named_with_characters_w_and_b_refuses_gives_valid_ids(tmp_path):
    # was: 'a:b#c-3f9a0c_trial_0001', which wandb.init refuses ("Run ID cannot contain the
    # characters"): every trial failed at its first log
    run = tmp_path / "runs" / "a:b#c d"
    given = _given(run, log_label(run))
    assert not FORBIDDEN & set(given["version"]), given["version"]
    assert given["version"].endswith("_trial_0001") and given["name"] == given["version"]
    assert _given(run, log_label(run)) == given  # a resume: the same id, its run goes on
    mine = {**WANDB, "init_args": {"project": "nas", "id": "x/y"}}  # an id of the user's too
    assert not FORBIDDEN & set(_given(run, log_label(run), mine)["version"])


def test_a_long_run_folder_name_gives_w_and_b_ids_within_its_limit(tmp_path):
    # was: the whole label, 200 characters and more (W&B's limit: 128)
    runs = [tmp_path / ("x" * 150 + end) for end in "ab"]
    ids = [_given(run, log_label(run))["version"] for run in runs]
    assert all(len(given) <= 128 for given in ids), ids
    assert ids[0] != ids[1] and all(given.endswith("_trial_0001") for given in ids)
    assert _given(runs[0], log_label(runs[0]))["version"] == ids[0]  # a resume's the same


def test_a_resumed_segment_continues_its_trials_w_and_b_run(tmp_path):
    # was: '<label>_trial_0001_resumed_<ns>', a W&B run of its own: a promoted trial's (or a
    # resumed fit's) epochs split over runs
    run = tmp_path / "run"
    label = log_label(run)
    first = _given(run, label)
    segment = given_args(run, label, WANDB, ckpt_path=str(run / "last.ckpt"))
    assert segment["version"] == first["version"] == f"{label}_trial_0001", segment
    assert segment["name"] == first["name"]
    fit = _given(tmp_path / "ft", "", own_logs=True)
    resumed = given_args(tmp_path / "ft", "", WANDB, own_logs=True,
                         ckpt_path=str(tmp_path / "ft" / "last.ckpt"))
    assert resumed["version"] == fit["version"], resumed


def test_a_resumed_fit_logs_all_its_epochs_into_one_w_and_b_run(tmp_path, wandb_offline):
    # was: the epochs before the interrupt in run <id>, those after in <id>_resumed_<ns>
    node = {**WANDB, "init_args": {"project": "nas", "offline": True,
                                   "dir": str(tmp_path / "wb")}}
    resumed_fit(tmp_path, node)
    runs = sorted((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    ids = {p.name.split("-", 3)[3].removesuffix("-1") for p in runs}  # offline-run-<t>-<id>
    assert len(runs) == 2 and len(ids) == 1, [p.name for p in runs]


def test_a_trial_trained_again_from_its_first_epoch_starts_a_w_and_b_run_of_its_own(tmp_path):
    # was: the dead attempt's id: W&B resumed its run, the new attempt's rows after the dead
    # one's, trainer/global_step from 0 again (its CSV and TensorBoard versions emptied)
    run = tmp_path / "run"
    label = log_label(run)
    trial_dir = run / "trials" / "trial_0001"
    first = _given(run, label)["version"]
    trial_dir.mkdir(parents=True)  # the dead attempt's folder
    spec = TrialSpec(trial_id=1, arch={}, trial_dir=str(trial_dir), model="tests.helpers.TinyNet",
                     trainer={"logger": WANDB}, log_label=label)
    clear_trial(spec)
    again = _given(run, label)
    assert again["version"] != first and again["version"].startswith(f"{first}_again_"), again
    assert again["name"] == again["version"]
    segment = given_args(run, label, WANDB, ckpt_path=str(trial_dir / "last.ckpt"))
    assert segment["version"] == again["version"]  # its promotion goes on in its run
    csv = {"class_path": "lightning.pytorch.loggers.CSVLogger"}  # a folder's: emptied, kept
    assert given_args(run, label, csv)["version"] == "trial_0001"


def test_a_trial_fit_again_in_its_folder_logs_to_a_new_w_and_b_run(tmp_path, wandb_offline):
    # was: both fits in the run of one id (offline: two folders of it, synced into one run)
    import torch
    import wandb

    from lightning_nas.results import TrialStatus
    from lightning_nas.search.trial import fit_trial
    from tests.helpers_data import BlobData
    from tests.helpers_models import TinyNet

    torch.set_num_threads(1)
    node = {**WANDB, "init_args": {"project": "nas", "offline": True,
                                   "dir": str(tmp_path / "wb")}}
    (tmp_path / "wb").mkdir()
    run = tmp_path / "run"
    spec = TrialSpec(trial_id=1, arch={"width": 4}, trial_dir=str(run / "trials" / "trial_0001"),
                     model=TinyNet, data=BlobData, log_label=log_label(run),
                     trainer={"max_epochs": 1, "limit_train_batches": 2, "logger": node})
    for _ in range(2):  # the second: a re-run of a dead attempt, from its first epoch
        assert fit_trial(spec).status is TrialStatus.COMPLETED
    ids = sorted(p.name.split("-", 3)[3] for p in (tmp_path / "wb" / "wandb").glob(
        "offline-run-*"))
    assert len(ids) == 2 and ids[0] == f"{log_label(run)}_trial_0001", ids
    assert ids[1].startswith(f"{ids[0]}_again_"), ids
    assert wandb.run is None


def test_a_fit_started_anew_in_an_emptied_folder_gets_a_w_and_b_run_of_its_own(tmp_path):
    # was: the id of the folder alone ('<parent>_ft-<hash>_logs'): W&B resumed the earlier
    # fit's run of that id, both fits' rows in it, trainer/global_step from 0 again
    out = tmp_path / "ft"
    ids = []
    for _ in range(2):  # the second: the folder emptied, a fit from scratch there again
        shutil.rmtree(out, ignore_errors=True)
        spec = TrialSpec(trial_id=0, arch={}, trial_dir=str(out), model="tests.helpers.TinyNet",
                         trainer={"logger": WANDB}, own_logs=True, clear_dir=False,
                         record={"kind": "fit"})
        start_own_fit(spec)
        ids.append(given_args(out, "", WANDB, own_logs=True)["version"])
    assert ids[0] != ids[1], ids
    assert all(given.startswith(f"{tmp_path.name}_ft-") for given in ids), ids
    resumed = given_args(out, "", WANDB, own_logs=True, ckpt_path=str(out / "last.ckpt"))
    assert resumed["version"] == ids[1] and resumed["name"] == ids[1], resumed  # goes on


def test_two_fits_in_one_folder_emptied_between_log_to_two_w_and_b_runs(tmp_path, wandb_offline):
    # was: one id for both (offline: two folders of it, synced into one run)
    node = {**WANDB, "init_args": {"project": "nas", "offline": True,
                                   "dir": str(tmp_path / "wb")}}
    (tmp_path / "wb").mkdir()
    argv = fit_argv(tmp_path, node, max_epochs=1)
    for _ in range(2):
        shutil.rmtree(argv[-1], ignore_errors=True)
        assert main(argv) == 0
    runs = sorted((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    ids = {p.name.split("-", 3)[3].removesuffix("-1") for p in runs}  # offline-run-<t>-<id>
    assert len(runs) == 2 and len(ids) == 2, [p.name for p in runs]

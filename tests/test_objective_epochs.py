"""An ``objective=`` search's trials train no epoch: no reader says their score is of one
(a stored metric belongs to the epoch it is stored under). What ``on_trial_end`` gets, what
``Search.run`` returns, ``best.yaml``, ``lightning-nas export`` and a store an older
version wrote (with ``epoch`` 0 and a one-value curve). Real searches, real stores."""

from __future__ import annotations

import yaml

from lightning_nas import Search, load_best
from lightning_nas.cli import main
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.store import RunStore
from tests.helpers_report import tiny_losses


def test_an_objective_searchs_trials_are_of_no_epoch_for_every_reader(tmp_path, capsys):
    # was: epoch 0 (and the score as a curve of one value: epoch 1) in on_trial_end's
    # result, SearchResult, best.yaml and export, though no epoch ran
    told: list[TrialResult] = []
    result = Search(None, {"k": {"choice": [0, 1]}}, objective=tiny_losses, monitor="val_loss",
                    mode="min", budget=2, optimizer="RandomSearch", run_dir=tmp_path,
                    on_trial_end=told.append).run()
    assert [(t.epoch, t.curve, t.epochs) for t in told] == [(None, [], None)] * 2
    assert [(t.epoch, t.curve) for t in result.trials] == [(None, [])] * 2
    assert result.best.epoch is None and load_best(tmp_path)["epoch"] is None
    assert main(["export", str(tmp_path), "--trial", "2"]) == 0
    assert yaml.safe_load((tmp_path / "best.yaml").read_text())["epoch"] is None
    capsys.readouterr()


def test_an_objective_searchs_trials_an_older_version_stored_with_epoch_0_read_none(tmp_path):
    Search(None, {"k": {"choice": [0, 1]}}, objective=tiny_losses, monitor="val_loss",
           mode="min", budget=1, optimizer="RandomSearch", run_dir=tmp_path).run()
    with RunStore(tmp_path / "search.db") as store:  # as an older version stored it
        old = store.get(1)
        old.epoch, old.curve = 0, [old.score]
        store.finish_trial(old)
        assert store.get(1).status is TrialStatus.COMPLETED
        assert [(t.epoch, t.curve) for t in store.trials()] == [(None, [])]
    assert main(["export", str(tmp_path)]) == 0 and load_best(tmp_path)["epoch"] is None

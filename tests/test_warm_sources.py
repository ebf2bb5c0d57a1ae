"""Warm starts from sources of another kind: another length of training, a one-shot run's
folder, trials that did not complete (paused, pruned, failed, rejected, running). Real
stores, real Trainers, real nevergrad."""

from __future__ import annotations

import json

import pytest

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.store import open_run
from tests.helpers import BlobData, TinyNet

SPACE = {"width": {"choice": [4, 8, 16]}}


def _tiny(run_dir, epochs: int, budget: int, **kw) -> Search:
    trainer = {"max_epochs": epochs, "accelerator": "cpu", "devices": 1,
               "limit_train_batches": 2}
    kw.setdefault("verbose", False)
    return Search(TinyNet, SPACE, data=BlobData, trainer=trainer, budget=budget, seed=0,
                  run_dir=run_dir, **kw)


def test_the_epochs_a_sources_results_trained_are_said(tmp_path, capsys):
    # was: "warm start from .../source (val_acc, max): 2 of 2 trials used", nothing said of
    # the source's 3 epochs of training against this search's 1: its scores read as if of
    # this search's fidelity
    _tiny(tmp_path / "source", 3, 2).run()
    result = _tiny(tmp_path / "warm", 1, 1, warm_start=[str(tmp_path / "source")],
                   verbose=True).run()
    source = (tmp_path / "source").resolve()
    assert (f"warm start from {source} (val_acc, max; its results trained 3 epochs): "
            f"2 of 2 trials used") in capsys.readouterr().out
    with open_run(tmp_path / "warm") as store:
        assert store.get_meta("warm_start")["sources"][0]["epochs"] == [3, 3]
    assert main(["show", str(tmp_path / "warm")]) == 0
    out = capsys.readouterr().out
    assert (f"warm start: 2 of 2 results of {source} (trained 3 epochs there; not counted "
            f"in the budget)") in out
    assert main(["show", str(tmp_path / "warm"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["warm_start"][0]["epochs"] == [3, 3]
    # a prior is never this run's trial: the best is one trained here, for 1 epoch
    assert [t.epochs for t in result.trials] == [1] and result.best.epochs == 1


def test_a_one_shot_run_folder_is_refused_as_such(tmp_path):
    # was: "is not a run directory (no search.db)", as of any folder
    (tmp_path / "oneshot").mkdir()
    (tmp_path / "oneshot" / "best_arch.yaml").write_text("width: 8\n")
    with pytest.raises(ConfigError, match=r"warm_start source .*oneshot is a one-shot run "
                                          r"folder \(best_arch.yaml, no search.db\): it holds "
                                          r"one architecture, not the scored trials a warm "
                                          r"start takes; give folders of earlier searches"):
        _tiny(tmp_path / "warm", 1, 1, warm_start=[str(tmp_path / "oneshot")])
    assert not (tmp_path / "warm").exists()

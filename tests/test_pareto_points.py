"""A multi-objective search of a real Lightning model, as a user reads it: each trial's
stored objectives are those of one epoch (the one its checkpoint holds), the front that
``show``, its JSON and ``SearchResult.pareto_front`` give is the non-dominated set of the
stored values, and ``export --trial N`` of each point writes those values beside a
checkpoint that validates to them."""

from __future__ import annotations

import json

import lightning.pytorch as pl
import pytest
import torch
import yaml

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.results import TrialStatus
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet

SPACE = {"width": {"choice": [4, 8, 16]}, "depth": {"choice": [1, 2]},
         "lr": {"float": [0.01, 0.3]}}


def _dominated(loss: list[float], others: list[list[float]]) -> bool:
    return any(all(o <= v for o, v in zip(other, loss, strict=True)) and other != loss
               for other in others)


@pytest.mark.parametrize("objectives", [{"val_acc": "max", "val_loss": "min"},
                                        {"val_acc": "max", "params": "min"}])
def test_each_point_of_the_front_exports_the_values_its_checkpoint_validates_to(
        tmp_path, capsys, objectives):
    torch.set_num_threads(1)
    result = Search(TinyNet, SPACE, data=BlobData,
                    trainer={"max_epochs": 3, "accelerator": "cpu", "devices": 1},
                    objectives=objectives, budget=5, seed=1, optimizer="RandomSearch",
                    run_dir=tmp_path, verbose=False).run()
    done = [t for t in result.trials if t.status is TrialStatus.COMPLETED]
    names = list(objectives)

    def loss(t):
        return [-t.metrics[n] if objectives[n] == "max" else t.metrics[n] for n in names]

    brute = sorted(t.trial_id for t in done if not _dominated(loss(t), [loss(o) for o in done]))
    assert sorted(t.trial_id for t in result.pareto_front()) == brute
    assert len(brute) >= (2 if "params" in names else 1)  # a trade-off: more than the best
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)["pareto_front"]
    assert sorted(p["trial"] for p in shown) == brute
    stored = {t.trial_id: t for t in done}
    assert all(p[n] == stored[p["trial"]].metrics[n] for p in shown for n in names)
    assert result.best.trial_id in brute  # the best is a point of the front
    for point in brute:
        assert main(["export", str(tmp_path), "--trial", str(point)]) == 0
        best = yaml.safe_load((tmp_path / "best.yaml").read_text())
        trial = stored[point]
        assert (best["trial"], best["epoch"], best["arch"]) == (point, trial.epoch, trial.arch)
        assert {n: best["metrics"][n] for n in names} == {n: trial.metrics[n] for n in names}
        checkpoint = torch.load(tmp_path / "best.ckpt", weights_only=False)
        assert checkpoint["epoch"] == trial.epoch  # the epoch the values are of
        model = TinyNet.load_from_checkpoint(tmp_path / "best.ckpt")
        validated = pl.Trainer(accelerator="cpu", devices=1, logger=False,
                               enable_progress_bar=False, enable_model_summary=False
                               ).validate(model, datamodule=BlobData(), verbose=False)[0]
        for name in ("val_acc", "val_loss"):
            assert validated[name] == pytest.approx(trial.metrics[name], rel=1e-6), name
        if "params" in names:
            assert trial.metrics["params"] == sum(p.numel() for p in model.parameters())
    capsys.readouterr()

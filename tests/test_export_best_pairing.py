"""``best.ckpt`` says which trial (and epoch) it holds, and what reads it with ``best.yaml``
checks that they are one trial's: a fine-tune never builds one trial's architecture with
another's weights (a ``best.ckpt`` copied by hand beside a newer ``best.yaml``, or a pair
replaced by a search's export between the two reads), and an export keeps no other
trial's ``best.ckpt``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from lightning_nas import Search, export_best, finetune, load_best
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from tests.conftest import TINY_TRAINER
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet


def _same_shapes(folder: Path) -> tuple[Path, dict, int]:
    """A 2-trial search whose trials differ in ``lr`` alone (weights of the same shapes),
    its ``best.yaml`` and its other trial."""
    run = folder / "run"
    Search(TinyNet, {"lr": {"float": [0.02, 0.3], "log": True}}, data=BlobData,
           trainer=dict(TINY_TRAINER), budget=2, run_dir=run, verbose=False).run()
    best = load_best(run)
    return run, best, 3 - best["trial"]


def test_a_best_ckpt_of_another_trial_beside_best_yaml_is_refused_naming_both(tmp_path):
    run, best, other = _same_shapes(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    export_best(copy, trial_id=other)  # the other trial's best.ckpt, copied by hand
    shutil.copyfile(copy / "best.ckpt", run / "best.ckpt")
    folders = sorted(run.iterdir())
    # was: trained trial <best>'s architecture from trial <other>'s weights, silently
    with pytest.raises(ConfigError, match=(
            rf"best.yaml names trial {best['trial']} \(epoch {best['epoch']}\) but "
            rf"{run / 'best.ckpt'} holds trial {other}'s weights \(epoch \d+\)")):
        finetune(run, max_epochs=1)
    assert sorted(run.iterdir()) == folders


def test_best_ckpt_names_its_trial_and_an_older_one_without_is_still_trained(tmp_path):
    run, best, _ = _same_shapes(tmp_path)
    saved = torch.load(run / "best.ckpt", weights_only=False)
    assert saved["lightning_nas_export"] == {"trial": best["trial"], "epoch": best["epoch"]}
    del saved["lightning_nas_export"]  # as an export before the key wrote it
    torch.save(saved, run / "best.ckpt")
    result = finetune(run, max_epochs=1)
    assert result.status is TrialStatus.COMPLETED, result.error


def test_a_pair_an_export_replaced_after_best_yaml_was_read_is_read_again(tmp_path):
    from lightning_nas.finetune_inputs import paired_best

    run, best, other = _same_shapes(tmp_path)
    export_best(run, trial_id=other)  # between the reader's best.yaml and its best.ckpt
    again = paired_best(run, best)
    assert again["trial"] == other and again == load_best(run)


def test_an_export_keeps_no_best_ckpt_of_another_trial_its_best_yaml_does_not_name(tmp_path):
    run, best, other = _same_shapes(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    export_best(copy, trial_id=other)
    shutil.copyfile(copy / "best.ckpt", run / "best.ckpt")  # by hand, beside best.yaml
    shutil.rmtree(run / "trials")  # the trial's own checkpoint gone: best.ckpt kept if its
    out = export_best(run)  # was: kept, as best.yaml said it was the trial's
    assert out["checkpoint"] is None and not (run / "best.ckpt").exists()


def test_weights_replaced_after_the_check_are_refused_as_they_load(tmp_path):
    from lightning_nas.search.runner import run_trial
    from lightning_nas.search.trial import TrialSpec

    run, best, other = _same_shapes(tmp_path)
    export_best(run, trial_id=other)  # after the fine-tune checked trial <best>'s pair
    spec = TrialSpec(trial_id=best["trial"], arch=best["arch"], trial_dir=str(tmp_path / "ft"),
                     model=TinyNet, data=BlobData, trainer=dict(TINY_TRAINER),
                     init_weights=str(run / "best.ckpt"),
                     init_weights_of={"trial": best["trial"], "epoch": best["epoch"]})
    result = run_trial(spec)  # was: trained trial <best>'s architecture from <other>'s weights
    assert result.status is TrialStatus.FAILED and result.error.startswith(
        f"MixedPairError: best.yaml names trial {best['trial']} (epoch {best['epoch']}) but "
        f"{run / 'best.ckpt'} holds trial {other}'s weights")


def test_optimizer_state_replaced_after_the_check_is_refused_as_it_loads(tmp_path):
    from lightning_nas.search.runner import run_trial
    from lightning_nas.search.trial import TrialSpec

    run, best, other = _same_shapes(tmp_path)
    export_best(run, trial_id=other)  # after the fine-tune's weights loaded
    # its arch: an optimizer of the same settings (the check of those finds nothing)
    spec = TrialSpec(trial_id=best["trial"], arch=load_best(run)["arch"],
                     trial_dir=str(tmp_path / "ft"),
                     model=TinyNet, data=BlobData, trainer=dict(TINY_TRAINER),
                     restore_optimizer=str(run / "best.ckpt"),
                     init_weights_of={"trial": best["trial"], "epoch": best["epoch"]})
    result = run_trial(spec)  # was: trained on with trial <other>'s optimizer state
    assert result.status is TrialStatus.FAILED and "MixedPairError: best.yaml names trial" \
        in result.error and result.epochs == 0

"""What an export of a multi-objective config run says of the point it exports: the header
of ``best_config.yaml`` names every objective's stored value with its mode (the best and a
``--trial`` of the front), and the line said of a trial without a checkpoint names what
such a run keeps (the best ``keep_top_k`` and every point of the Pareto front) and the
trials that have one, and a fine-tune of such a trial refuses in the same words (of a run
whose Trainer kept no checkpoint: that it kept none). One real small search (a tiny MLP, 4
trials) serves them all but the last."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas.cli import main
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.from_config import search_from_config
from lightning_nas.search.objectives import front_rows
from lightning_nas.store import RunStore
from lightning_nas.wording import id_ranges

SPEC = {"val_acc": "max", "params": "min", "val_loss": "min"}


def _search(run: Path, objectives: dict[str, str] | None) -> None:
    """A config search of ``TinyNet`` (4 trials, one epoch each, ``keep_top_k: 1``)."""
    goal = {"objectives": objectives} if objectives else {"monitor": "val_acc", "mode": "max"}
    torch.set_num_threads(1)
    search_from_config({
        "seed_everything": 1, "model": "tests.helpers.TinyNet", "data": "tests.helpers.BlobData",
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False},
        "search": {"space": {"width": {"choice": [4, 8, 16]}, "lr": {"choice": [0.05, 0.01]}},
                   "budget": 4, "seed": 2, "keep_top_k": 1, "run_dir": str(run),
                   "verbose": False, **goal}}).run()


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run of three objectives, searched once; each test works on a copy."""
    run = tmp_path_factory.mktemp("front") / "run"
    _search(run, SPEC)
    return run


def _trials(run: Path) -> dict[int, TrialResult]:
    with RunStore(run / "search.db") as store:
        return {t.trial_id: t for t in store.trials(TrialStatus.COMPLETED)}


def _first_line(run: Path) -> str:
    return (run / "best_config.yaml").read_text().splitlines()[0]


def _said(trial: TrialResult) -> str:
    values = ", ".join(f"{n}={trial.metrics[n]:.6g} ({m})" for n, m in SPEC.items())
    return f": {values} at epoch {trial.epoch}."


def test_the_header_of_an_exported_point_names_every_objectives_stored_value(multi_run,
                                                                             tmp_path):
    # was: "# Trial 1 of RUN: val_acc=0.234375 (max) at epoch 0." (the first objective's
    # alone, where the export claims the point of the front by all three)
    run = Path(shutil.copytree(multi_run, tmp_path / "run"))
    trials = _trials(run)
    best = yaml.safe_load((run / "best.yaml").read_text())["trial"]
    points = [i for i, t in trials.items() if t.checkpoint]
    assert len(points) > 1 and best in points  # a point other than the best: the case
    assert _first_line(run).endswith(_said(trials[best])), _first_line(run)
    for point in points:
        assert main(["export", str(run), "--trial", str(point)]) == 0
        assert _first_line(run) == f"# Trial {point} of {run.absolute()}{_said(trials[point])}"
    # a run of one objective names its monitor alone, as before
    one = tmp_path / "one"
    _search(one, None)
    top = _trials(one)[yaml.safe_load((one / "best.yaml").read_text())["trial"]]
    assert _first_line(one).endswith(f": val_acc={top.score:.6g} (max) at epoch {top.epoch}.")


def test_export_of_a_front_run_says_by_what_it_picked_its_best_and_the_front(multi_run,
                                                                            tmp_path, capsys):
    # was: best.yaml alone, its monitor's name, without a word that the run has a front
    # whose other points it did not export, nor why it picked this one
    run = Path(shutil.copytree(multi_run, tmp_path / "run"))
    with RunStore(run / "search.db") as store:
        front = front_rows(store)
    assert len(front) > 1
    capsys.readouterr()
    assert main(["export", str(run)]) == 0
    ids = ", ".join(str(row["trial"]) for row in front)
    assert capsys.readouterr().err == (
        f"lightning-nas export: trial {front[0]['trial']}, the best by val_acc (the first "
        f"objective; ties go by the later ones in order), one of the Pareto front (val_acc "
        f"max, params min, val_loss min): {len(front)} trials ({ids}); lightning-nas show "
        f"{run} lists them, lightning-nas export {run} --trial N exports one\n")
    assert main(["export", str(run), "--trial", str(front[-1]["trial"])]) == 0
    assert capsys.readouterr().err == ""  # the point asked for: nothing to say


def test_export_of_a_trial_without_a_checkpoint_says_what_a_front_run_keeps(multi_run,
                                                                            tmp_path, capsys):
    # was: "its checkpoint was not kept (not among search.keep_top_k)", where the points of
    # the front keep theirs too, and no word of which trials have one
    run = Path(shutil.copytree(multi_run, tmp_path / "run"))
    trials = _trials(run)
    held = sorted(i for i, t in trials.items() if t.checkpoint)
    other = min(i for i in trials if i not in held)
    best = yaml.safe_load((run / "best.yaml").read_text())["trial"]
    capsys.readouterr()
    assert main(["export", str(run), "--trial", str(other)]) == 0
    err = capsys.readouterr().err
    assert err == (f"lightning-nas export: no best.ckpt for trial {other}: its checkpoint was "
                   f"not kept (not among the search.keep_top_k=1 best by val_acc, nor on the "
                   f"Pareto front of val_acc max, params min, val_loss min, whose points keep "
                   f"theirs too; trials with one: {id_ranges(held)}), so "
                   f"{run / 'best.ckpt'} (trial {best}'s) was removed; lightning-nas finetune "
                   f"{run} --from_scratch trains it, or lightning-nas fit "
                   f"{run / 'best_config.yaml'}\n")


def test_finetune_of_an_exported_trial_without_a_checkpoint_says_what_the_run_keeps(
        multi_run, tmp_path):
    # was: "(trainer.enable_checkpointing false, or not among search.keep_top_k)", where
    # the run checkpoints and the points of the front keep theirs too, and no word of which
    # trials have one (export's own line said it)
    from lightning_nas import finetune

    run = Path(shutil.copytree(multi_run, tmp_path / "run"))
    trials = _trials(run)
    held = sorted(i for i, t in trials.items() if t.checkpoint)
    other = min(i for i in trials if i not in held)
    assert main(["export", str(run), "--trial", str(other)]) == 0
    with pytest.raises(FileNotFoundError) as err:
        finetune(run, max_epochs=1)
    assert str(err.value).startswith(
        f"{run} has no best.ckpt: trial {other}'s checkpoint was not kept (not among the "
        f"search.keep_top_k=1 best by val_acc, nor on the Pareto front of val_acc max, params "
        f"min, val_loss min, whose points keep theirs too; trials with one: "
        f"{id_ranges(held)}); train it from fresh weights: lightning-nas finetune {run} "
        f"--from_scratch"), str(err.value)
    assert not (run / "finetune").exists()  # refused before any folder or training


def test_finetune_of_a_run_that_kept_no_checkpoint_says_its_trainer_kept_none(tmp_path):
    # was: "(trainer.enable_checkpointing false, or not among search.keep_top_k)": both
    # guesses, where the store knows which
    from lightning_nas import finetune

    run = tmp_path / "run"
    torch.set_num_threads(1)
    search_from_config({
        "seed_everything": 1, "model": "tests.helpers.TinyNet", "data": "tests.helpers.BlobData",
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False,
                    "enable_checkpointing": False},
        "search": {"space": {"width": {"choice": [4, 8]}}, "budget": 1, "seed": 2,
                   "run_dir": str(run), "monitor": "val_acc", "mode": "max",
                   "verbose": False}}).run()
    with pytest.raises(FileNotFoundError) as err:
        finetune(run, max_epochs=1)
    assert (f"{run} has no best.ckpt: trial 1's checkpoint was not kept (the search's "
            f"trainer.enable_checkpointing is false); train it from fresh weights: "
            f"lightning-nas finetune {run} --from_scratch") in str(err.value), str(err.value)

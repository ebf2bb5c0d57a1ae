"""Findings of a new user's audit of ``lightning-nas export``: an exported trial whose
checkpoint was not kept is said, and ``best_config.yaml`` holds the Trainer settings that
change scores, not those that only change what is shown."""

from __future__ import annotations

import pytest
import yaml

from lightning_nas import load_best
from lightning_nas.cli import main
from lightning_nas.results import TrialStatus
from lightning_nas.search.from_config import search_from_config
from lightning_nas.store import RunStore


def _config_run(tmp_path, model="tests.helpers.TinyNet", trainer=None, **search):
    run = tmp_path / "run"
    search_from_config({
        "seed_everything": 1, "model": model, "data": "tests.helpers.BlobData",
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1, **(trainer or {})},
        "search": {"space": {"width": {"choice": [4, 8, 16]}}, "budget": 2, "seed": 0,
                   "run_dir": str(run), "verbose": False, **search}}).run()
    return run


def test_export_of_a_trial_whose_checkpoint_was_not_kept_says_so_in_one_line(tmp_path, capsys):
    run = _config_run(tmp_path, keep_top_k=1)
    best = load_best(run)
    with RunStore(run / "search.db") as store:
        other = next(t.trial_id for t in store.trials(TrialStatus.COMPLETED)
                     if t.trial_id != best["trial"])
    capsys.readouterr()
    assert main(["export", str(run), "--trial", str(other)]) == 0
    out, err = capsys.readouterr()
    assert yaml.safe_load(out)["checkpoint"] is None and not (run / "best.ckpt").exists()
    # was: nothing on stderr, and the folder's best.ckpt (the best trial's) gone quietly;
    # then no word of the trials that have one
    assert err == (f"lightning-nas export: no best.ckpt for trial {other}: its checkpoint was "
                   f"not kept (not among the search.keep_top_k=1 best; trials with one: "
                   f"{best['trial']}), so {run / 'best.ckpt'} (trial "
                   f"{best['trial']}'s) was removed; lightning-nas finetune {run} --from_scratch "
                   f"trains it, or lightning-nas fit {run / 'best_config.yaml'}\n")
    assert main(["export", str(run)]) == 0  # the best one's: a checkpoint, nothing said
    assert capsys.readouterr().err == "" and (run / "best.ckpt").is_file()
    # best.ckpt says whose weights it holds: named from it, whatever best.yaml says (was:
    # from best.yaml alone: nothing said of it without one, another trial where one
    # rewritten beside it named another)
    (run / "best.yaml").write_text((run / "best.yaml").read_text().replace(
        f"trial: {best['trial']}\n", f"trial: {other}\n"))
    assert main(["export", str(run), "--trial", str(other)]) == 0
    assert f"{run / 'best.ckpt'} (trial {best['trial']}'s) was removed" in capsys.readouterr().err


@pytest.mark.parametrize(("model", "summary"), [("tests.helpers.TinyNet", None),
                                                ("tests.helpers.LazyNoisyNet", False)])
def test_best_config_writes_the_model_summary_off_only_where_it_changes_scores(
        tmp_path, model, summary):
    # was: enable_model_summary: false for every model, so the user's own `python main.py
    # fit --config best_config.yaml` lost Lightning's model summary; it changes scores only
    # where the summary runs forward (an example_input_array: LazyNoisyNet's lazy layer and
    # noise), so it is written there alone
    run = _config_run(tmp_path, model=model)
    trainer = yaml.safe_load((run / "best_config.yaml").read_text())["trainer"]
    assert trainer.get("enable_model_summary", None) is summary
    assert {k: v for k, v in trainer.items() if k != "enable_model_summary"} == {
        "max_epochs": 1, "accelerator": "cpu", "devices": 1}  # nothing else added
    # the user's own setting is kept as written
    shown = _config_run(tmp_path / "own", model=model, trainer={"enable_model_summary": True})
    assert yaml.safe_load((shown / "best_config.yaml").read_text())["trainer"][
        "enable_model_summary"] is True

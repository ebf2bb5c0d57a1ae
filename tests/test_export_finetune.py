"""Fine-tuning the best trial with a fresh Trainer: what it starts from (``best.ckpt`` or
fresh weights), the setup, epochs and threads it trains with, the folder it writes, and
what it says where there is nothing to fine-tune (no completed trial, an objective
search, a folder a search holds). Most tests copy the one finished 3-trial search of the
session (conftest's ``finished_run``)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch.callbacks import EarlyStopping

from lightning_nas import Search, export_best, finetune, load_best
from lightning_nas.errors import ConfigError, SearchError
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search import random_state
from lightning_nas.store import RunStore
from lightning_nas.wording import id_ranges
from tests.helpers_callbacks import CountEpochs, CrashAt, SigintAtFirstBatch
from tests.helpers_ctrl_c import terminal_ctrl_c
from tests.helpers_data import BlobData
from tests.helpers_export import hold_elsewhere
from tests.helpers_models import TinyNet


def _start_weights_callback(path):
    return [{"class_path": "tests.helpers.SaveInitialWeights", "init_args": {"path": str(path)}}]


def test_finetune_starts_from_the_best_checkpoint(finished_run, tmp_path):
    best = load_best(finished_run)
    result = finetune(finished_run, max_epochs=4,
                      trainer={"callbacks": _start_weights_callback(tmp_path / "w.pt")})
    assert result.status is TrialStatus.COMPLETED and result.arch == best["arch"]
    assert len(result.curve) == 4 and result.checkpoint.startswith(str(finished_run))
    start = torch.load(tmp_path / "w.pt")
    saved = torch.load(finished_run / "best.ckpt", weights_only=False)["state_dict"]
    assert all(torch.equal(start[k], saved[k]) for k in saved)


def test_ctrl_c_in_a_python_finetune_raises_keyboard_interrupt(tmp_path, tiny_space,
                                                                tiny_trainer):
    # was: SystemExit(1), Lightning's exit after its graceful shutdown: a script's `except
    # KeyboardInterrupt:` never ran and it exited with status 1, not 130
    run = tmp_path / "run"
    Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1, run_dir=run,
           verbose=False).run()
    with terminal_ctrl_c(), pytest.raises(KeyboardInterrupt):
        finetune(run, max_epochs=1, trainer={"callbacks": [SigintAtFirstBatch()]})


def test_a_second_finetune_keeps_the_first_and_a_lost_import_path_fails_first(finished_run):
    first = finetune(finished_run, max_epochs=1)
    second = finetune(finished_run, max_epochs=1)
    assert Path(first.checkpoint).parent != Path(second.checkpoint).parent
    assert Path(first.checkpoint).exists() and Path(second.checkpoint).exists()
    assert Path(second.checkpoint).parent.name.startswith("finetune_")
    with RunStore(finished_run / "search.db") as store:  # the project moved its module
        store.set_meta("model", {**store.get_meta("model"), "class_path": "gone.Net"})
    folders = sorted(finished_run.iterdir())
    with pytest.raises(ConfigError, match="model='gone.Net': cannot import module 'gone'"):
        finetune(finished_run, max_epochs=1)
    assert sorted(finished_run.iterdir()) == folders  # no folder, no training


def test_a_finetune_of_no_epoch_limit_ends_at_the_step_limit_given(finished_run):
    result = finetune(finished_run, max_epochs=-1, trainer={"max_steps": 12})  # 3 an epoch
    assert result.status is TrialStatus.COMPLETED, result.error
    assert result.epochs == 4 and len(result.curve) == 4  # each epoch validated, then stopped


def test_a_search_given_objects_finetunes_with_them_given_again(
        tmp_path, tiny_space, tiny_trainer):
    run = tmp_path / "run"
    stop = EarlyStopping(monitor="val_acc", mode="max", patience=3)
    Search(TinyNet, tiny_space, data=BlobData(), trainer={**tiny_trainer, "callbacks": [stop]},
           budget=2, run_dir=run, verbose=False).run()
    folders = sorted(run.iterdir())
    with pytest.raises(ConfigError, match=r"the search's data \(a BlobData object\) has no "
                                          r"import path; pass data= to finetune\(\).*; and the "
                                          r"search gave the Trainer objects .*\(callbacks\)"):
        finetune(run, max_epochs=1)  # was: a folder, then Lightning's "no train_dataloader"
    # (and was: the data alone, the callbacks named only at the next call)
    # was: trained without the search's callbacks, without a word
    with pytest.raises(ConfigError, match=r"Trainer objects the store cannot keep \(callbacks\)"
                                          r".*trainer=\{'callbacks': \.\.\.\}"):
        finetune(run, max_epochs=1, data=BlobData())
    assert sorted(run.iterdir()) == folders
    assert finetune(run, max_epochs=1, data=BlobData(),
                    trainer={"callbacks": [stop]}).status is TrialStatus.COMPLETED


def test_finetune_from_scratch_does_not_load_weights(finished_run, tmp_path):
    result = finetune(finished_run, max_epochs=1, from_checkpoint=False, out_dir=tmp_path / "s",
                      trainer={"callbacks": _start_weights_callback(tmp_path / "w.pt")})
    assert result.status is TrialStatus.COMPLETED
    start = torch.load(tmp_path / "w.pt")
    saved = torch.load(finished_run / "best.ckpt", weights_only=False)["state_dict"]
    assert not all(torch.equal(start[k], saved[k]) for k in saved)


def test_finetune_of_a_run_whose_best_ckpt_was_deleted_points_to_from_scratch(
        finished_run, capsys):
    # was: "FileNotFoundError: [Errno 2] No such file or directory: 'RUN/best.ckpt'" (Lightning's
    # load), with no word of --from_scratch, which README promises "without a best.ckpt"
    from lightning_nas.cli import main

    (finished_run / "best.ckpt").unlink()  # removed to free disk; best.yaml still names it
    folders = sorted(finished_run.iterdir())
    head = (f"{finished_run} has no best.ckpt: best.yaml names best.ckpt, which is not there "
            f"(moved or deleted); ")
    # the command's words first (was: "with from_checkpoint=False (lightning-nas finetune
    # RUN --from_scratch)", Python's words before the option the command takes)
    scratch = (f"train it from fresh weights: lightning-nas finetune {finished_run} "
               f"--from_scratch (from Python: lightning_nas.finetune({str(finished_run)!r}, "
               f"from_checkpoint=False))")
    trial = load_best(finished_run)["trial"]
    again = (f"`lightning-nas export {finished_run}` copies it again from trial {trial}'s own "
             f"checkpoint, or ")
    with pytest.raises(FileNotFoundError) as err:  # was: a FAILED result, a folder made
        finetune(finished_run, max_epochs=1)
    assert str(err.value) == head + again + scratch
    for ckpt in (finished_run / "trials").glob("*/*.ckpt"):
        ckpt.unlink()  # the trial's own gone too: only --from_scratch is left
    assert main(["finetune", str(finished_run), "--max_epochs=1"]) == 2
    assert capsys.readouterr().err == f"lightning-nas finetune: error: {head}{scratch}\n"
    assert sorted(finished_run.iterdir()) == folders  # no finetune folder made
    assert export_best(finished_run)["checkpoint"] is None  # export says it has none


def test_a_kept_checkpoint_deleted_since_is_said_gone_not_said_not_kept(finished_run, capsys):
    # was: "its checkpoint was not kept (not among the search.keep_top_k=3 best; trials with
    # one: 1-3)", the trial itself among those said to have one, by export and fine-tune
    from lightning_nas.cli import main

    trial = load_best(finished_run)["trial"]
    with RunStore(finished_run / "search.db", read_only=True) as store:
        others = [t.trial_id for t in store.with_checkpoint(TrialStatus.COMPLETED)
                  if t.trial_id != trial]
        own = Path(store.get(trial).checkpoint)
    own.unlink()  # trials/ of the best trial cleaned by hand, then best.ckpt too
    (finished_run / "best.ckpt").unlink()
    capsys.readouterr()
    assert main(["export", str(finished_run)]) == 0
    gone = (f"its checkpoint {own} is not there (moved or deleted; the search kept it: the "
            f"trials with one now: {id_ranges(others) or 'none'})")
    err = capsys.readouterr().err
    assert err.startswith(f"lightning-nas export: no best.ckpt for trial {trial}: {gone}; ")
    with pytest.raises(FileNotFoundError) as said:
        finetune(finished_run, max_epochs=1)
    assert str(said.value).startswith(f"{finished_run} has no best.ckpt: trial {trial}'s "
                                      f"checkpoint {own} is not there (moved or deleted; ")
    assert not (finished_run / "finetune").exists()


def test_export_and_finetune_of_a_run_with_a_step_limit_a_logger_and_one_checkpoint(
        tmp_path, tiny_space, tiny_trainer):
    run = tmp_path / "run"
    trainer = {**tiny_trainer, "max_steps": 3,
               "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger"}}
    result = Search(TinyNet, tiny_space, data=BlobData, trainer=trainer, budget=2,
                    keep_top_k=1, run_dir=run, verbose=False).run()
    other = next(t for t in result.trials if t.trial_id != result.best.trial_id)
    # a trial whose checkpoint keep_top_k removed: no best.ckpt of another trial stays
    assert export_best(run, trial_id=other.trial_id)["checkpoint"] is None
    assert not (run / "best.ckpt").exists()
    with pytest.raises(FileNotFoundError, match=rf"lightning-nas finetune {run} --from_scratch"):
        finetune(run)
    assert export_best(run)["checkpoint"] == "best.ckpt"
    tuned = finetune(run, max_epochs=3)  # not cut short by the search's max_steps
    assert tuned.status is TrialStatus.COMPLETED and tuned.epochs == 3
    logs = run / "finetune" / "logs" / "metrics.csv"  # the user's logger, in its folder
    assert logs.exists() and not (tmp_path / "logs").exists()


@pytest.mark.parametrize("stage", ["fit", "validate"])
def test_best_ckpt_resumes_with_the_users_callbacks_without_lightning_nas_own(
        tmp_path, tiny_space, tiny_trainer, stage, capsys):
    # was: Lightning's "Be aware that when using `ckpt_path`, callbacks used to create the
    # checkpoint need to be provided ... Please add the following callbacks:
    # ["TrialReporter{...}", "lightning_nas.TrialCheckpoint{...}"]" on a user's
    # `trainer.fit(model, ckpt_path="best.ckpt")`: callbacks of lightning_nas's own
    from lightning.pytorch import Trainer

    from lightning_nas.cli import main

    run = tmp_path / "run"
    trainer = {**tiny_trainer, "callbacks": [{"class_path": "tests.helpers.CountEpochs"}]}
    Search(TinyNet, tiny_space, data=BlobData, trainer=trainer, budget=2, run_dir=run,
           seed=0, verbose=False).run()
    best = load_best(run)
    counter = CountEpochs()
    kept = torch.load(run / "best.ckpt", weights_only=False)["callbacks"]["CountEpochs"]
    user = Trainer(max_epochs=kept["epochs"] + 1, callbacks=[counter], logger=False,
                   enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False, default_root_dir=tmp_path)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        getattr(user, stage)(TinyNet(**best["arch"]), datamodule=BlobData(),
                             ckpt_path=run / "best.ckpt")
    said = [str(w.message) for w in seen if "callbacks used to create" in str(w.message)]
    assert said == []
    states = torch.load(run / "best.ckpt", weights_only=False)["callbacks"]
    assert list(states) == ["CountEpochs"]  # the user's callback's state is kept
    assert random_state.in_checkpoint(run / "best.ckpt")  # a re-export's header says so
    assert counter.epochs == kept["epochs"] + (stage == "fit")  # its state read back
    tuned = finetune(run, max_epochs=1)  # weights only: it still starts from best.ckpt
    assert tuned.status is TrialStatus.COMPLETED and tuned.arch == best["arch"]
    # the fine-tune's own best.ckpt too (was: with TrialReporter's and TrialCheckpoint's)
    assert list(torch.load(tuned.checkpoint, weights_only=False)["callbacks"]) == ["CountEpochs"]
    assert export_best(run)["checkpoint"] == "best.ckpt"  # exported again from the trial's
    assert main(["show", str(run)]) == 0


@pytest.mark.slow
def test_a_ddp_finetune_trains_once_on_ranks_of_its_own(tmp_path, tiny_space, tiny_trainer,
                                                        launcher):
    """Run in-process, Lightning's launcher re-ran the ``finetune`` command for rank 1: the
    result was printed twice and rank 1 made a ``finetune_1`` folder of its own."""
    finished_run = tmp_path / "run"  # a model whose val_acc is synced over the ranks
    Search("tests.helpers.SyncedTinyNet", tiny_space, data=BlobData, trainer=tiny_trainer,
           budget=1, run_dir=finished_run, verbose=False).run()
    ddp = ["--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.strategy=ddp",
           "--trainer.callbacks=[{class_path: tests.helpers.RankRecorder}]"]
    # ``python -m lightning_nas finetune ...``, forked by the launcher (its imports paid once,
    # not by a fresh python), as a script whose sys.argv is that command: a Lightning launcher
    # that started rank 1 from it would re-run the finetune command, as under ``python -m``
    script = tmp_path / "lightning_nas_main.py"
    script.write_text("import sys\nfrom lightning_nas.cli import main\nsys.exit(main())\n")
    log = tmp_path / "finetune.log"
    code = launcher.run(["finetune", finished_run, "--max_epochs=1", *ddp], log, script)
    out = log.read_text()  # its stdout and stderr, and those of any rank it started
    assert code == 0, out[-2000:]
    assert out.count("Fine-tuned") == 1
    assert [p.name for p in finished_run.glob("finetune*")] == ["finetune"]
    for rank in (0, 1):  # both ranks trained in the one folder
        record = json.loads((finished_run / "finetune" / f"rank{rank}.json").read_text())
        assert record["world_size"] == 2 and len(record["epochs"]) == 1
    # rank 0 validated the start on one device (was: none under DDP), said once
    score = load_best(finished_run)["score"]
    assert out.count(f"validated before training: val_acc={score:.4f})") == 1, out[-2000:]


@pytest.mark.slow
def test_a_finetune_trains_with_the_threads_of_the_trial_unless_given_its_own(
        tmp_path, tiny_space, tiny_trainer, capsys):
    # was: the caller's threads (a tester's --from_scratch scored 0.7527 against the trial's
    # 0.7431, which OMP_NUM_THREADS=1 reproduced); now the count the trial ran with
    from lightning_nas.cli import main

    run = tmp_path / "run"
    Search(TinyNet, tiny_space, data=BlobData, trainer=tiny_trainer, budget=1, run_dir=run,
           threads_per_trial=2, verbose=False).run()
    record = {"callbacks": [{"class_path": "tests.helpers.RankRecorder"}]}

    def threads_of(result: TrialResult) -> list[int]:  # each rank's, as it trained
        return [json.loads(p.read_text())["threads"]
                for p in sorted(Path(result.checkpoint).parent.glob("rank*.json"))]

    assert torch.get_num_threads() == 1  # the tests' (conftest)
    tuned = finetune(run, from_checkpoint=False, trainer=record)
    assert threads_of(tuned) == [2] and torch.get_num_threads() == 1  # restored
    with RunStore(run / "search.db") as store:  # from scratch, as the trial trained
        assert tuned.curve == store.get(1).curve
    with pytest.raises(ConfigError, match="threads must be a whole number >= 1 .* got 0"):
        finetune(run, threads=0)
    assert [p.name for p in run.glob("finetune*")] == ["finetune"]  # no folder made
    assert threads_of(finetune(run, from_checkpoint=False, trainer=record, threads=1)) == [1]
    ddp = {**record, "devices": 2, "strategy": "ddp"}  # per rank process, as in a search
    assert threads_of(finetune(run, max_epochs=1, trainer=ddp, from_checkpoint=False)) == [2, 2]
    # from the checkpoint nothing is replayed: the process's own threads (a reviewer's 8
    # workers on 64 cores fine-tuned with 8)
    assert threads_of(finetune(run, max_epochs=1, trainer=record)) == [1]
    assert main(["finetune", str(run), "--from_scratch", "--max_epochs=1"]) == 0
    assert "for 1 epoch with 2 torch threads (as trial 1 trained): best" in capsys.readouterr().out
    assert main(["finetune", str(run), "--max_epochs=1"]) == 0
    assert "for 1 epoch with 1 torch thread (as this process runs): best" in capsys.readouterr().out
    assert main(["finetune", str(run), "--max_epochs=1", "--threads=1"]) == 0
    assert "with 1 torch thread (as --threads gives): best" in capsys.readouterr().out


def test_an_output_folder_that_is_not_empty_is_refused_and_nothing_is_deleted(
        finished_run, tmp_path):
    # was: wiped before training; --out RUN_DIR deleted the whole search (search.db, trials)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "important.txt").write_text("keep")
    for out in (precious, finished_run, precious / "important.txt"):
        with pytest.raises(ConfigError, match=rf"the output folder {out} is (a folder that is "
                                              rf"not empty|a file); give a new or empty "
                                              rf"folder \(nothing is deleted\)"):
            finetune(finished_run, max_epochs=1, out_dir=out)
    assert (precious / "important.txt").read_text() == "keep"
    assert (finished_run / "search.db").exists() and (finished_run / "trials").is_dir()
    (tmp_path / "empty").mkdir()  # an empty folder is taken
    assert finetune(finished_run, max_epochs=1, out_dir=tmp_path / "empty").checkpoint


def test_finetune_trains_the_setup_the_best_trial_had(tmp_path):
    # was: the searched trainer.* values and a scheduler's max_epochs were left out, so the
    # fine-tune trained the Trainer's max_epochs (3) where the trial had trained 1 or 2
    run = tmp_path / "run"
    Search(TinyNet, {"width": {"choice": [4, 8]}, "trainer.max_epochs": {"choice": [1, 2]}},
           data=BlobData, trainer={"max_epochs": 3, "limit_train_batches": 2}, budget=4,
           run_dir=run, verbose=False).run()
    best = load_best(run)
    tuned = finetune(run, from_checkpoint=False)
    assert tuned.epochs == best["arch"]["trainer.max_epochs"] == len(tuned.curve)
    asha = tmp_path / "asha"
    Search(TinyNet, {"width": {"choice": [4, 8, 16]}}, data=BlobData, scheduler="asha",
           max_epochs=2, trainer={"max_epochs": 3, "limit_train_batches": 2}, budget=3,
           run_dir=asha, verbose=False).run()
    assert finetune(asha, from_checkpoint=False).epochs == 2  # the scheduler's, as the trials


def test_finetune_takes_the_current_best_not_a_stale_best_yaml(finished_run):
    # was: a resume stopped before its export (Ctrl-C, max_failures) left the earlier
    # best.yaml, and finetune trained that earlier winner, while `show` named another
    with RunStore(finished_run / "search.db") as store:
        current = store.best("max").trial_id
        other = next(t.trial_id for t in store.trials(TrialStatus.COMPLETED)
                     if t.trial_id != current)
    stale = load_best(finished_run)
    (finished_run / "best.yaml").write_text(yaml.safe_dump({**stale, "trial": other}))
    assert finetune(finished_run, max_epochs=1, out_dir=finished_run / "ft").trial_id == current
    assert load_best(finished_run)["trial"] == current  # exported again
    export_best(finished_run, trial_id=other)  # a trial chosen with export --trial is taken
    assert finetune(finished_run, max_epochs=1, out_dir=finished_run / "ft2").trial_id == other


def test_a_finetune_refused_while_a_search_holds_the_folder_says_to_fine_tune_again(
        finished_run):
    # was: "...; then export again (a search exports its best trial itself when it ends)",
    # the export's advice, to a user who asked for a fine-tune (its best.yaml not written yet)
    (finished_run / "best.yaml").unlink()  # a search still running has exported nothing
    holder = hold_elsewhere(finished_run)
    try:
        with pytest.raises(SearchError) as err:
            finetune(finished_run, max_epochs=1)
    finally:
        holder.kill()
        holder.wait()
    said = str(err.value)
    assert said.startswith(f"{finished_run} is being searched by another process (pid "
                           f"{holder.pid} on ")
    assert said.endswith("wait for it to end, or stop it; then fine-tune again (a search "
                         "exports its best trial itself when it ends: best.yaml, which a "
                         "fine-tune trains)")
    assert not (finished_run / "finetune").exists()


def test_a_finetune_of_a_run_with_no_completed_trial_says_fine_tune(tmp_path, tiny_space,
                                                                    tiny_trainer):
    # was: "has no completed trial to export", the wording of export
    run = tmp_path / "run"
    with pytest.raises(SearchError):  # its one trial failed
        Search(TinyNet, tiny_space, data=BlobData, budget=1, max_failures=0, run_dir=run,
               trainer={**tiny_trainer, "callbacks": [CrashAt(0)]}, verbose=False).run()
    with pytest.raises(SearchError, match=rf"^{run} has no completed trial to fine-tune; "
                                          rf"`lightning-nas show {run}` lists its trials$"):
        finetune(run, max_epochs=1)
    assert not (run / "finetune").exists() and not (run / "best.yaml").exists()
    # was: "has no completed trial to export" alone, and load_best's "run `lightning-nas
    # export RUN`", which is refused so
    with pytest.raises(SearchError, match=rf"^{run} has no completed trial to export; "
                                          rf"`lightning-nas show {run}` lists its trials$"):
        export_best(run)
    with pytest.raises(FileNotFoundError, match=rf"^{run}/best.yaml does not exist: {run} has "
                                                rf"no completed trial to export; `lightning-nas "
                                                rf"show {run}` lists its trials$"):
        load_best(run)


def test_an_objective_search_exports_no_model_and_is_not_finetuned(tmp_path, capsys):
    # was: best.yaml named the placeholder lightning_nas.search.facade._NoModel as its
    # model; finetune said the checkpoint "was not kept" and, with from_checkpoint=False,
    # trained the placeholder (no training_step) into a finetune folder
    from lightning_nas.cli import main

    Search(None, {"x": {"int": [0, 6]}}, objective=lambda arch: {"val_loss": arch["x"]},
           budget=3, monitor="val_loss", mode="min", run_dir=tmp_path, verbose=False).run()
    best = load_best(tmp_path)
    assert best["model"] is None and "objective function" in best["objective"]
    assert best["checkpoint"] is None and not (tmp_path / "best_config.yaml").exists()
    folders = sorted(tmp_path.iterdir())
    for from_checkpoint in (True, False):
        with pytest.raises(ConfigError, match="searched an objective function .*not a model: "
                                              "it has no model to build"):
            finetune(tmp_path, max_epochs=1, from_checkpoint=from_checkpoint)
    assert sorted(tmp_path.iterdir()) == folders  # no folder, nothing built
    assert main(["show", str(tmp_path)]) == 0 and "COMPLETED" in capsys.readouterr().out
    assert main(["export", str(tmp_path)]) == 0 and "model: null" in capsys.readouterr().out

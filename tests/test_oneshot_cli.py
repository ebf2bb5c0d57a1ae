"""``lightning-nas oneshot``: the example config run (its ``--print_config`` checked as a
run, a config without a ``oneshot`` block, a search setting there), its run folder (a
tilde, one in use, one a search holds, a newline or a file in its path, a run's earlier
outputs), an interrupted run told how to resume, the fine-tune's validation, and
``export``/``finetune`` pointed at a one-shot folder."""

from __future__ import annotations

import json
import re
import shlex
import socket
import time
from pathlib import Path

import pytest
import torch
import yaml

from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.setting_checks import (
    check_oneshot_settings,
)
from tests.helpers_oneshot_fit import (
    TINY_CLI,
    two_val_config,
)
from tests.launcher import ROOT


def test_the_oneshot_commands_finetune_line_prints_small_values_as_show_does():
    # was: "val_acc=0.0000" for 3.2e-05 (.4f), where show and report print 3.2e-05
    from lightning_nas.oneshot.finetune import accuracy_text
    from lightning_nas.results import format_score
    metrics = {"val_loss": 1e-06, "val_acc": 3.2e-05}
    assert accuracy_text(metrics) == f"val_acc={format_score(3.2e-05)}" == "val_acc=3.2e-05"


def test_cli_oneshot_runs_the_example_config(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    code = main(["oneshot", "examples/oneshot_digits/oneshot.yaml", "--trainer.max_epochs=2",
                 "--trainer.limit_train_batches=3", "--oneshot.num_candidates=3",
                 "--oneshot.search_every_n_epochs=1", "--oneshot.calibration_batches=1",
                 "--oneshot.finetune_epochs=1", f"--oneshot.run_dir={tmp_path}"])
    assert code == 0
    out = capsys.readouterr().out
    # the last search's subnets, as show says (was: "6 subnets scored", both searches')
    assert "One-shot search: 3 subnets scored after 2 epochs (an earlier search after 1 " \
           "epoch); best " in out and "Fine-tuned 1 epoch: val_acc=" in out
    for name in ("best_arch.yaml", "history.json", "subnet.pt", "subnet_finetuned.pt"):
        assert (tmp_path / name).exists(), name
    # show and report read the folder like a search run
    tuned = re.search(r"Fine-tuned 1 epoch: val_acc=(\S+);", out).group(1)
    best = yaml.safe_load((tmp_path / "best_arch.yaml").read_text())
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [row["rank"] for row in shown["leaderboard"]] == [1, 2, 3]
    assert shown["leaderboard"][0]["arch"] == best["arch"] == shown["best"]["arch"]
    assert shown["leaderboard"][0]["score"] == best["score"] > shown["leaderboard"][2]["score"]
    assert main(["show", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert table.startswith(f"spos one-shot: 3 subnets scored after 2 epochs (an earlier "
                            f"search after 1 epoch); best {best['score']:.4f} (max)")
    assert "fine-tuned 1 epoch: " in table and f"val_acc={tuned}" in table
    assert main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "report" / "subnets.png").read_bytes()[:4] == b"\x89PNG"
    assert "spos one-shot search" in (tmp_path / "report" / "report.html").read_text()
    assert main(["oneshot", "examples/oneshot_digits/oneshot.yaml", "--oneshot.budget=3"]) == 2
    assert "unknown oneshot setting 'budget'" in capsys.readouterr().err


def test_a_run_dir_with_a_tilde_is_in_the_home_folder_and_resumes(tmp_path, monkeypatch,
                                                                   capsys):
    # was: --oneshot.run_dir=~/os1 wrote best_arch.yaml and subnet.pt into ./~/os1, the
    # epoch-end checkpoint (Lightning expands ~) into $HOME/os1: --ckpt_path last failed
    from lightning_nas.oneshot.resume import resolve_ckpt_path

    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    cli = [TINY_CLI[0], str(ROOT / TINY_CLI[1]), *TINY_CLI[2:], "--oneshot.run_dir=~/os1"]
    assert main(cli) == 0
    run = home / "os1"
    assert (run / "best_arch.yaml").is_file() and (run / "subnet.pt").is_file()
    last = run / "checkpoints" / "last.ckpt"
    assert resolve_ckpt_path("~/os1/checkpoints/last.ckpt", Path("elsewhere")) == last
    assert main([*cli, "--trainer.max_epochs=2", "--ckpt_path", "last"]) == 0
    assert f"Resuming the spos search from {last} (1 training epoch done" in \
        capsys.readouterr().out
    assert main(["show", "~/os1"]) == 0 and "spos one-shot: " in capsys.readouterr().out
    assert not (work / "~").exists()


@pytest.mark.slow
def test_a_second_run_on_a_folder_in_use_is_refused_before_it_writes_anything(
        tmp_path, monkeypatch, capsys, launcher):
    # was: no lock: two runs on one run_dir both exited 0 and left a mixed folder (the
    # first's best_arch.yaml and subnet.pt beside the second's subnet_finetuned.pt)
    monkeypatch.chdir(ROOT)
    run, ready, go = tmp_path / "run", tmp_path / "ready", tmp_path / "go"
    cli = [*TINY_CLI, f"--oneshot.run_dir={run}"]
    wait = (f"--trainer.callbacks=[{{class_path: tests.helpers.WaitAtStart, init_args: "
            f"{{ready: {ready}, go: {go}}}}}]")
    # the first run: another process (``lightning-nas oneshot ...``, forked from the
    # launcher's: its imports paid once, not by a fresh interpreter)
    log = tmp_path / "first.log"
    pid = launcher.launch([*cli, wait], log)
    code = None
    try:
        while not ready.exists() and code is None:  # until the first run trains
            code = launcher.exited()
            time.sleep(0.05)
        assert ready.exists(), log.read_text()
        before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
        assert main([*cli, "--oneshot.finetune_epochs=1"]) == 2
        err = capsys.readouterr().err
        assert (f"lightning-nas oneshot: error: {run} is being searched by another process "
                f"(pid {pid} on ") in err and "then run it again" in err
        assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before  # nothing written
    finally:
        go.touch()
        if code is None:
            code = launcher.wait(300)
    assert code == 0, log.read_text()
    # the folder is let go when a run ends: the first one's, and one in this process,
    # also when it fails
    from lightning_nas.run_folder import hold_folder

    with pytest.raises(RuntimeError, match="crash at epoch 0"):
        main([*cli, "--trainer.callbacks=[{class_path: tests.helpers.CrashAt, init_args: "
                    "{epoch: 0}}]"])
    hold_folder(run, "").close()
    assert main(cli) == 0
    hold_folder(run, "").close()


def test_the_finetune_validates_on_the_batches_the_search_scored(tmp_path, monkeypatch):
    # limit_val_batches=1: the fine-tune's val_acc is its subnet's accuracy on the first
    # validation batch, as the search's scores were (not on the whole validation set)
    from examples.digits.data import DigitsDataModule

    monkeypatch.chdir(ROOT)
    cli = [arg for arg in TINY_CLI if "limit_val" not in arg and "finetune" not in arg]
    assert main([*cli, "--trainer.limit_val_batches=1",
                 "--oneshot.finetune_epochs=1", f"--oneshot.run_dir={tmp_path}"]) == 0
    tuned = json.loads((tmp_path / "finetune.json").read_text())["metrics"]
    net = torch.load(tmp_path / "subnet_finetuned.pt", weights_only=False).eval()
    data = DigitsDataModule(batch_size=64)
    data.setup("fit")
    x, y = next(iter(data.val_dataloader()))
    with torch.no_grad():
        first_batch = (net(x).argmax(1) == y).float().mean().item()
    assert tuned["val_acc"] == pytest.approx(first_batch, abs=1e-6)


def test_spos_with_two_validation_loaders_fine_tunes_and_scores_each(tmp_path, capsys):
    # was: the supernet trained and the search exported its winner, then the fine-tune died
    # with "no `dataloader_idx` argument in `NASModule.validation_step()`" (exit 1)
    from tests.helpers_data import TwoValBlobData

    assert main(["oneshot", str(two_val_config(tmp_path, "spos"))]) == 0
    out = capsys.readouterr().out
    assert "Fine-tuned 1 epoch: val_acc/dataloader_idx_0=" in out
    tuned = json.loads((tmp_path / "run" / "finetune.json").read_text())["metrics"]
    net = torch.load(tmp_path / "run" / "subnet_finetuned.pt", weights_only=False).eval()
    data = TwoValBlobData(n=128, batch_size=32)
    data.setup("fit")
    for i, loader in enumerate(data.val_dataloader()):  # each loader's own accuracy
        x, y = (torch.cat(parts) for parts in zip(*loader, strict=True))
        with torch.no_grad():
            accuracy = (net(x).argmax(-1) == y).float().mean().item()
        assert tuned[f"val_acc/dataloader_idx_{i}"] == pytest.approx(accuracy, abs=1e-6)
        assert f"val_acc/dataloader_idx_{i}={accuracy:.4f}" in out
    assert tuned["val_acc/dataloader_idx_0"] != tuned["val_acc/dataloader_idx_1"]


@pytest.mark.parametrize("value, batches", [("true", "1 batch"), ("2", "2 batches")])
def test_fast_dev_run_is_refused_before_it_touches_a_finished_runs_folder(
        tmp_path, monkeypatch, capsys, value, batches):
    # Lightning's debugging run writes no checkpoint, and a one-shot run writes its outputs
    # as a finished run's: was, taken, a finished run's best_arch.yaml, subnet.pt and
    # finetune.json replaced by those of a one-batch search beside that run's last.ckpt,
    # which --ckpt_path last then took for finished ("holds the finished run's outputs")
    monkeypatch.chdir(ROOT)
    (tmp_path / "checkpoints").mkdir()
    kept = {"best_arch.yaml": "the finished run's", "checkpoints/last.ckpt": "its checkpoint"}
    for name, text in kept.items():
        (tmp_path / name).write_text(text)
    assert main([*TINY_CLI, f"--trainer.fast_dev_run={value}", "--oneshot.finetune_epochs=3",
                 f"--oneshot.run_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert f"trainer.fast_dev_run={'True' if value == 'true' else value} runs {batches} of " \
           f"training and validation and writes no checkpoint" in err
    assert "for a quick run set trainer.limit_train_batches and trainer.limit_val_batches" in err
    assert {p.relative_to(tmp_path).as_posix(): p.read_text()
            for p in tmp_path.rglob("*") if p.is_file()} == kept  # (was: replaced)


def test_a_new_run_leaves_no_output_of_an_earlier_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    stale = ("subnet_finetuned.pt", "finetune.json", "alphas.json", "alphas.png",
             "report/subnets.png", "report/report.html")
    (tmp_path / "report").mkdir()
    for name in stale:  # as an earlier (DARTS, fine-tuned, reported) run left them
        (tmp_path / name).write_text("earlier run")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "keep.ckpt").write_text("a resume reads it")
    assert main([*TINY_CLI, f"--oneshot.run_dir={tmp_path}"]) == 0
    assert [name for name in stale if (tmp_path / name).exists()] == []
    for name in ("best_arch.yaml", "history.json", "subnet.pt", "checkpoints/keep.ckpt"):
        assert (tmp_path / name).exists(), name
    capsys.readouterr()
    assert main(["show", str(tmp_path)]) == 0
    assert "fine-tuned" not in capsys.readouterr().out  # no earlier finetune.json


def test_a_run_dir_holding_a_newline_is_refused_before_any_folder(tmp_path, monkeypatch,
                                                                  capsys):
    # was: taken, a folder whose path spans lines (the commands a run prints name it)
    monkeypatch.chdir(ROOT)
    run = f"{tmp_path}/nl\nx"
    assert main([*TINY_CLI, f'--oneshot.run_dir="{tmp_path}/nl\\nx"']) == 2  # YAML's \n
    assert (f"oneshot.run_dir must be a folder path of printable characters (letters, digits, "
            f"spaces, punctuation), without control characters (a newline, a carriage return, "
            f"a tab); got {run!r}, which holds '\\n'") in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"oneshot.run_dir must be a folder path .* got "
                                          r"'runs/a\\rb', which holds '\\r'"):
        check_oneshot_settings({"run_dir": "runs/a\rb"})
    assert list(tmp_path.iterdir()) == []  # nothing made


def test_a_run_dir_that_is_a_file_or_under_one_is_refused_naming_it(tmp_path, monkeypatch,
                                                                    capsys):
    # was: "error: [Errno 17] File exists: ...", naming no setting
    monkeypatch.chdir(ROOT)
    file = tmp_path / "file"
    file.write_text("a file of the user's")
    for run_dir in (file, file / "run"):
        for extra in (["--print_config"], []):
            assert main([*TINY_CLI, f"--oneshot.run_dir={run_dir}", *extra]) == 2
            captured = capsys.readouterr()
            assert (f"error: oneshot.run_dir '{run_dir}' cannot be a folder: {file} is a file; "
                    f"a one-shot run writes best_arch.yaml") in captured.err
            assert captured.err.count("\n") == 1 and not captured.out
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
    assert file.read_text() == "a file of the user's"


def test_a_searchs_run_folder_is_refused_before_anything_is_written(tmp_path, monkeypatch,
                                                                    capsys):
    # was: taken, and the search's report/report.html removed with the earlier outputs
    monkeypatch.chdir(ROOT)
    run = tmp_path / "search"
    assert main(["search", "examples/digits/search.yaml", "--search.budget=1",
                 "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
                 "--trainer.limit_val_batches=2", f"--search.run_dir={run}"]) == 0
    assert main(["report", str(run)]) == 0
    capsys.readouterr()
    before = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in run.rglob("*")}
    assert run / "report" / "report.html" in before
    for extra in (["--print_config"], []):
        assert main([*TINY_CLI, f"--oneshot.run_dir={run}", *extra]) == 2
        captured = capsys.readouterr()
        assert (f"error: oneshot.run_dir '{run}' is a search's run folder (search.db); give a "
                f"one-shot run another folder") in captured.err and not captured.out
        assert {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in run.rglob("*")} == before


def test_export_and_finetune_point_a_one_shot_folder_to_its_outputs(tmp_path, capsys):
    (tmp_path / "best_arch.yaml").write_text(yaml.safe_dump({"arch": {"hidden": 4}}))
    for command in ("export", "finetune"):
        assert main([command, str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path} is a one-shot run folder" in err and "subnet.pt" in err
        assert "`lightning-nas show` and `report` read it" in err
        # was: torch.load('subnet.pt', ...), a file of the folder the command ran in
        assert f"torch.load({str(tmp_path / 'subnet.pt')!r}, weights_only=False)" in err


def test_export_and_finetune_of_an_unfinished_one_shot_folder_say_how_to_finish_it(tmp_path,
                                                                                    capsys):
    # was: "... is not a run directory (no search.db)", where show and report name the run
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    for command in ("export", "finetune"):
        assert main([command, str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path} holds a one-shot run that has not finished" in err
        assert f"--oneshot.run_dir {tmp_path} --ckpt_path last" in err and "subnet.pt" in err


def test_a_run_refused_before_training_leaves_its_folder_as_it_was(tmp_path, monkeypatch,
                                                                   capsys):
    # was: the refused run left the folders it made, holding its search.lock
    monkeypatch.chdir(ROOT)
    new = tmp_path / "new" / "run"
    darts = ["oneshot", "examples/oneshot_digits/darts.yaml", "--trainer.max_epochs=1",
             "--trainer.limit_train_batches=2", "--oneshot.finetune_epochs=0"]
    for argv, said in (([*TINY_CLI, "--oneshot.num_classes=5"], "num_classes=5 does not fit"),
                       ([*darts, "--oneshot.warmup_epochs=5"], "warmup_epochs=5 trains only")):
        assert main([*argv, f"--oneshot.run_dir={new}"]) == 2
        assert said in capsys.readouterr().err
        assert list(tmp_path.iterdir()) == []
    earlier = tmp_path / "earlier"  # an earlier run's folder: its search.lock stays
    earlier.mkdir()
    (earlier / "search.lock").write_text(f"pid 1 on {socket.gethostname()}\n")
    assert main([*TINY_CLI, "--oneshot.num_classes=5", f"--oneshot.run_dir={earlier}"]) == 2
    assert [p.name for p in earlier.iterdir()] == ["search.lock"]
    # its words too: not this run's "oneshot", which would make a search refuse the folder
    assert (earlier / "search.lock").read_text() == f"pid 1 on {socket.gethostname()}\n"


@pytest.mark.parametrize(("override", "message"), [
    ("--model.widht=3", "model init_args key 'widht' is not an argument of DigitsSupernet"),
    ("--oneshot.seed=abc", "oneshot.seed must be an integer or null, got 'abc'"),
])
def test_oneshot_print_config_checks_the_config_as_a_run_does(capsys, override, message):
    # was: printed and exit 0 (a run raised a raw TypeError for the model's argument)
    config = Path(__file__).resolve().parents[1] / "examples/oneshot_digits/oneshot.yaml"
    assert main(["oneshot", str(config), "--print_config", override]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and not captured.out


def test_an_interrupted_oneshot_run_says_how_to_resume(tmp_path, monkeypatch, capsys):
    # was: "lightning-nas oneshot: interrupted" alone, and the same command again started
    # over from epoch 0 (a resume needs --ckpt_path last)
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    run_dir = tmp_path / "my run"
    args = ["oneshot", "examples/oneshot_digits/oneshot.yaml", "--trainer.max_epochs=3",
            "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2",
            "--oneshot.num_candidates=2", "--oneshot.calibration_batches=1",
            "--oneshot.finetune_epochs=0", f"--oneshot.run_dir={run_dir}"]
    ctrl_c = "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtEpoch, init_args: " \
             "{epoch: %d}}]"
    assert main([*args, ctrl_c % 2]) == 130
    err = capsys.readouterr().err
    command = shlex.join(["lightning-nas", *args, ctrl_c % 2, "--ckpt_path", "last"])
    assert ("lightning-nas oneshot: interrupted; resume it from its checkpoint (2 training "
            f"epochs done) with:\n  {command}\n") in err, err
    assert f"'--oneshot.run_dir={run_dir}'" in command  # the space in it: quoted
    # a new run in the folder, stopped before an epoch ended: the last.ckpt is not its own
    assert main([*args, ctrl_c % 0]) == 130
    last = run_dir / "checkpoints" / "last.ckpt"
    assert (f"lightning-nas oneshot: interrupted; no training epoch of this run ended, so it "
            f"wrote no {last} to resume from: the same command starts it anew"
            in capsys.readouterr().err)
    # a resume stopped before an epoch ended: the same command resumes again
    assert main([*args, ctrl_c % 2, "--ckpt_path", "last"]) == 130
    assert f"with:\n  {command}\n" in capsys.readouterr().err
    assert main([*args, "--ckpt_path", "last"]) == 0
    assert capsys.readouterr().out.startswith("Resuming the spos search")
    # stopped after its training ended (its final search): --ckpt_path last finishes it
    # (was: "the same command without --ckpt_path runs it again", all of its training)
    args = [*args[:-1], f"--oneshot.run_dir={tmp_path / 'ended'}",
            "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtTrainEnd}]"]
    assert main(args) == 130
    command = shlex.join(["lightning-nas", *args, "--ckpt_path", "last"])
    assert ("lightning-nas oneshot: interrupted; its training had ended (3 epochs) and its "
            "final search, export or fine-tune was interrupted: finish it (only what is left "
            f"runs) with:\n  {command}\n") in capsys.readouterr().err
    assert main([*args, "--ckpt_path", "last"]) == 0
    assert "its training is done: running its final search" in capsys.readouterr().out
    assert (tmp_path / "ended" / "best_arch.yaml").is_file()
    # so too of a run bounded by max_steps alone, which ended in its third epoch (was:
    # "resume it from its checkpoint (2 training epochs and 1 batch of epoch 3 done)")
    args = [*args[:-2], "--trainer.max_epochs=-1", "--trainer.max_steps=5",
            f"--oneshot.run_dir={tmp_path / 'steps'}", args[-1]]
    assert main(args) == 130
    command = shlex.join(["lightning-nas", *args, "--ckpt_path", "last"])
    assert ("lightning-nas oneshot: interrupted; its training had ended (step 5 of "
            "max_steps=5) and its final search, export or fine-tune was interrupted: finish "
            f"it (only what is left runs) with:\n  {command}\n") in capsys.readouterr().err


def test_a_oneshot_run_interrupted_after_its_one_epoch_says_one_epoch(tmp_path, monkeypatch,
                                                                      capsys):
    # was: "its training had ended (1 epochs)"
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    args = ["oneshot", "examples/oneshot_digits/oneshot.yaml", "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2",
            "--oneshot.num_candidates=2", "--oneshot.calibration_batches=1",
            "--oneshot.finetune_epochs=0", f"--oneshot.run_dir={tmp_path / 'ended'}",
            "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtTrainEnd}]"]
    assert main(args) == 130
    assert "interrupted; its training had ended (1 epoch) and its final search" in \
        capsys.readouterr().err


def test_oneshot_takes_a_config_without_a_oneshot_block(tmp_path, capsys, monkeypatch):
    # was: "unknown config section 'search'" for a file holding model, data and trainer
    # only (every oneshot: key has a default), a section the file does not hold
    example = Path(__file__).resolve().parents[1] / "examples/oneshot_digits/oneshot.yaml"
    cfg = yaml.safe_load(example.read_text())
    del cfg["oneshot"]
    path = tmp_path / "first.yaml"
    path.write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(tmp_path)
    assert main(["oneshot", str(path), "--print_config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["oneshot"] == {"run_dir": "runs/first"} and "search" not in printed


@pytest.mark.parametrize(("override", "hint"), [
    ("--oneshot.monitor=val_acc", "scores each subnet by its accuracy on the validation data"),
    ("--oneshot.metric=f1", "a metric other than accuracy needs Python: OneShotNAS(metric="),
    ("--oneshot.budget=20", "num_candidates: the subnets SPOS scores"),
    ("--oneshot.space={fc1: {choice: [8]}}", "derived from the model's choice modules"),
])
def test_oneshot_says_what_a_search_setting_is_there(override, hint, capsys):
    # was: "unknown oneshot setting 'monitor'; valid keys: ..." alone, for the keys a user of
    # `lightning-nas search` writes first
    config = Path(__file__).resolve().parents[1] / "examples/oneshot_digits/oneshot.yaml"
    assert main(["oneshot", str(config), "--print_config", override]) == 2
    err = capsys.readouterr().err
    assert "unknown oneshot setting" in err and hint in err


@pytest.mark.parametrize("bound, warned", [
    ("--trainer.max_epochs=-1", True),
    ("--trainer.callbacks+={class_path: lightning.pytorch.callbacks.Timer, "
     "init_args: {duration: '00:00:10:00'}}", False),
    # a Timer without a duration only measures (was: counted as ending the run)
    ("--trainer.callbacks+={class_path: lightning.pytorch.callbacks.Timer}", True),
    ("--trainer.callbacks+={class_path: lightning.pytorch.callbacks.EarlyStopping, "
     "init_args: {monitor: train_loss}}", False)])
def test_a_run_nothing_ends_is_warned_of_before_it_trains(tmp_path, monkeypatch, capsys,
                                                          bound, warned):
    # trainer.max_epochs=-1 with no max_steps, max_time, EarlyStopping or Timer: the run's
    # final search, export and fine-tune come when its training ends, so never where no
    # callback stops it (was: said nothing, and trained for ever, as search and fit warn)
    monkeypatch.chdir(ROOT)
    ctrl_c = "--trainer.callbacks=[{class_path: tests.helpers.CtrlCAtEpoch, init_args: " \
             "{epoch: 0}}]"  # (stops the test's run as its training starts)
    assert main([*TINY_CLI, "--trainer.max_epochs=-1", ctrl_c, bound,
                 f"--oneshot.run_dir={tmp_path}"]) == 130
    said = ("trainer.max_epochs=-1 is Lightning's 'no limit', and no max_steps, max_time, "
            "EarlyStopping or Timer callback ends the one-shot run: it trains until a "
            "callback of yours stops it, for ever where none does, and its final search, "
            "export and fine-tune run when its training ends")
    err = capsys.readouterr().err
    assert (said in err) is warned
    assert err.count("'no limit'") == warned  # once: not again as its fit starts

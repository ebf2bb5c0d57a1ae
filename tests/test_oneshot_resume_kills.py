"""``lightning-nas oneshot --ckpt_path``: a run that died part-way (a crash, SIGKILL before
its final search, in its fine-tune, mid-way through its epochs) goes on from its last
epoch-end checkpoint as the uninterrupted run, with real Trainers on the digits example; a
DDP run resumes as the uninterrupted DDP run, and a ``ReduceLROnPlateau`` steps as in it; a
search refuses a dead one-shot run's folder."""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from lightning_nas.cli import main
from lightning_nas.oneshot.resume import (
    checkpoint_settings,
)
from lightning_nas.oneshot.run_checkpoint import epoch_end_checkpoint
from tests.helpers_oneshot import (
    EXAMPLE,
    RECORD,
    ROOT,
    TINY,
    oneshot_process,
    record_entries,
)
from tests.helpers_standalone import torchrun_main

CRASH = "--trainer.callbacks=[{class_path: tests.helpers.CrashAt, init_args: {epoch: 2}}]"


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=False).state_dict()


#: the arguments of the tiny runs of each example's config below: SPOS searching 2
#: candidates after every epoch
_RUN = {"oneshot.yaml": [str(EXAMPLE / "oneshot.yaml"), *TINY, "--oneshot.num_candidates=2",
                         "--oneshot.search_every_n_epochs=1"],
        "darts.yaml": [str(EXAMPLE / "darts.yaml"), *TINY]}


@pytest.fixture
def uninterrupted(shared_run) -> Callable[[str], Path]:
    """``uninterrupted(CONFIG)``: the folder of the uninterrupted run of ``_RUN[CONFIG]``,
    made once per session for the tests that compare a dead run's resume with it (they only
    read it)."""
    def get(config: str) -> Path:
        def make(folder: Path) -> None:
            with contextlib.chdir(ROOT):
                assert main(["oneshot", *_RUN[config],
                             f"--oneshot.run_dir={folder / 'run'}"]) == 0

        return shared_run(f"oneshot_uninterrupted_{config[:-5]}", make)[0] / "run"

    return get


def _crash_and_resume(config: Path, tmp_path: Path, capsys) -> Path:
    """Into ``tmp_path/resumed``, the run of ``_RUN[config.name]`` that dies when its third
    epoch starts; return the dead run's folder."""
    args = ["oneshot", *_RUN[config.name]]
    dead = tmp_path / "resumed"
    with pytest.raises(RuntimeError, match="crash at epoch 2"):
        main([*args, f"--oneshot.run_dir={dead}", CRASH])
    # its hold on the folder (search.lock) is let go as it died: the resume takes it; the
    # record of the two epochs that ended is there (was: none, written at the run's end)
    record = RECORD[config.name]
    assert sorted(p.name for p in dead.rglob("*")) == sorted(["checkpoints", "last.ckpt",
                                                              "search.lock", record])
    epochs = {entry["epoch"] for entry in record_entries(config.name, dead / record)}
    assert sorted(epochs) == [1, 2]
    capsys.readouterr()
    return dead


def test_a_dead_spos_run_resumes_from_its_last_checkpoint_as_the_uninterrupted_run(
        tmp_path, monkeypatch, capsys, uninterrupted):
    monkeypatch.chdir(ROOT)
    full = uninterrupted("oneshot.yaml")
    dead = _crash_and_resume(EXAMPLE / "oneshot.yaml", tmp_path, capsys)
    args = ["oneshot", *_RUN["oneshot.yaml"], f"--oneshot.run_dir={dead}", "--ckpt_path",
            "last"]
    # another seed or optimizer would go on with another search: refused, nothing written
    assert main([*args, "--oneshot.seed=5", "--oneshot.optimizer=OnePlusOne"]) == 2
    err = capsys.readouterr().err
    assert ("other settings: oneshot.seed=5 (the checkpoint's: 0); oneshot.optimizer="
            "'OnePlusOne' (the checkpoint's: 'RandomSearch')") in err
    assert "resume with --oneshot.seed=0 --oneshot.optimizer=RandomSearch" in err
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Resuming the spos search from {dead / 'checkpoints' / 'last.ckpt'}"
                          f" (2 training epochs done, seed 0)\n")
    history = json.loads((dead / "history.json").read_text())
    assert sorted({h["epoch"] for h in history}) == [1, 2, 3]  # the searches before the crash
    assert history == json.loads((full / "history.json").read_text())
    assert (dead / "best_arch.yaml").read_text() == (full / "best_arch.yaml").read_text()
    resumed, uninterrupted = _weights(dead / "subnet.pt"), _weights(full / "subnet.pt")
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)
    # the last checkpoint is now the last epoch's: nothing left to train, said, and the
    # run's outputs stay (was: exit 2, "trained nothing ... resume from an earlier
    # checkpoint", though the run had finished)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Nothing left to train: " in out and "(3 of max_epochs=3)" in out, out
    assert "holds the finished run's outputs" in out
    assert (dead / "history.json").read_text() == (full / "history.json").read_text()
    (dead / "best_arch.yaml").unlink()  # as if it died in its final search: that search
    assert main(args) == 0  # and the export run again (was: exit 2, "lacks best_arch.yaml")
    assert "its training is done: running its final search and export" in \
        capsys.readouterr().out
    assert (dead / "best_arch.yaml").read_text() == (full / "best_arch.yaml").read_text()
    assert (dead / "history.json").read_text() == (full / "history.json").read_text()
    # a finished 2-epoch run goes on to max_epochs=3 as the 3-epoch run: the search after
    # epoch 2 (its final one, after its last checkpoint) is an intermediate one there
    short = tmp_path / "short"
    args = [arg.replace(str(dead), str(short)) for arg in args]
    assert main([*args[:-2], "--trainer.max_epochs=2"]) == 0
    assert main(args) == 0
    assert (short / "history.json").read_text() == (full / "history.json").read_text()
    resumed = _weights(short / "subnet.pt")
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)


@pytest.mark.parametrize("old_lock", [False, True], ids=["oneshot_lock", "older_lock"])
def test_a_search_refuses_the_folder_of_a_one_shot_run_that_did_not_finish(
        tmp_path, monkeypatch, capsys, old_lock):
    # was: `lightning-nas search --search.run_dir=D` ran a whole search in the folder of a
    # one-shot run that died (checkpoints/last.ckpt, no best_arch.yaml yet), whose resume
    # was then refused: "is a search's run folder (search.db)"; and with the search.lock
    # of an older version (its holder's line alone, no "oneshot" line) it still did
    monkeypatch.chdir(ROOT)
    dead = tmp_path / "dead"
    args = ["oneshot", str(EXAMPLE / "oneshot.yaml"), *TINY, "--oneshot.num_candidates=1",
            f"--oneshot.run_dir={dead}"]
    with pytest.raises(RuntimeError, match="crash at epoch 2"):
        main([*args, CRASH])
    capsys.readouterr()
    lock = dead / "search.lock"
    assert lock.read_text().splitlines()[1:] == ["oneshot"]
    if old_lock:  # as an older version wrote it
        lock.write_text(lock.read_text().splitlines()[0] + "\n")
    before = {p: p.stat().st_mtime_ns for p in dead.rglob("*")}
    search = ["search", "examples/digits/search.yaml", f"--search.run_dir={dead}",
              "--search.budget=1", "--trainer.max_epochs=1",
              "--trainer.limit_train_batches=1", "--trainer.limit_val_batches=1"]
    for extra in ([], ["--print_config"]):
        assert main([*search, *extra]) == 2
        err = capsys.readouterr().err
        assert f"{str(dead)!r} holds a one-shot run that has not finished" in err
        assert ("(it holds checkpoints/last.ckpt, no best_arch.yaml" if old_lock
                else "(its search.lock says oneshot, no best_arch.yaml") in err
        assert f"--oneshot.run_dir {dead} --ckpt_path last` " in err and err.count("\n") == 1
    assert {p: p.stat().st_mtime_ns for p in dead.rglob("*")} == before  # nothing written
    assert main([*args, "--ckpt_path", "last"]) == 0  # the one-shot run still resumes
    assert (dead / "best_arch.yaml").is_file() and not (dead / "search.db").exists()


def test_what_only_a_one_shot_run_writes_is_what_it_writes_and_no_search_does():
    # a search refuses a folder holding any of ONESHOT_WRITES as a one-shot run's
    from lightning_nas.oneshot.run_outputs import RUN_OUTPUTS
    from lightning_nas.store_checks import ONESHOT_WRITES, SEARCH_WRITES

    outputs = set(ONESHOT_WRITES) - {"checkpoints/last.ckpt"}
    assert outputs == {name for name in RUN_OUTPUTS
                       if name != "best_arch.yaml" and not name.startswith("report/")}
    assert not {name.split("/")[0] for name in ONESHOT_WRITES} & set(SEARCH_WRITES)
    assert epoch_end_checkpoint(Path("run")).dirpath.endswith("checkpoints")


def test_a_dead_darts_run_resumes_and_another_algorithm_is_refused(
        tmp_path, monkeypatch, capsys, uninterrupted):
    monkeypatch.chdir(ROOT)
    full = uninterrupted("darts.yaml")
    dead = _crash_and_resume(EXAMPLE / "darts.yaml", tmp_path, capsys)
    last = dead / "checkpoints" / "last.ckpt"
    assert checkpoint_settings(last) == {"algorithm": "darts", "seed": 0, "arch_lr": 0.003,
                                         "arch_weight_decay": 0.001, "epoch": 1,
                                         "batches": 0, "steps": 8,  # two a batch
                                         "trained": None,  # no max_time: no Timer
                                         "stopped": False}  # no callback stopped it
    args = ["oneshot", *_RUN["darts.yaml"], f"--oneshot.run_dir={dead}", f"--ckpt_path={last}"]
    assert main([*args, "--oneshot.algorithm=gdas"]) == 2
    assert (f"--ckpt_path {last} is a checkpoint of a darts search; this config's "
            f"oneshot.algorithm is 'gdas'") in capsys.readouterr().err
    assert main(args) == 0
    assert (json.loads((dead / "alphas.json").read_text())
            == json.loads((full / "alphas.json").read_text()))
    assert (dead / "best_arch.yaml").read_text() == (full / "best_arch.yaml").read_text()


#: a DDP SPOS run of two ranks started as ``torchrun`` starts them, both forked by this
#: script (itself a launch of the ``launcher``): was Lightning's launcher, whose rank 1 was a
#: fresh ``python`` importing the training stack (seconds), five times in the test below
DDP_SCRIPT = """
import os, socket, sys, traceback

import torch

from lightning_nas.config.load import load_config
from lightning_nas.oneshot.run import run_oneshot


def run_rank(run_dir, how, extra):
    torch.set_num_threads(1)
    crash = ["--trainer.callbacks=[{class_path: tests.helpers.CrashAt, init_args: {epoch: 2}}]"
             if how == "crash" else "--trainer.callbacks=[tests.helpers.CrashAtTrainEnd]"]
    cfg = load_config("examples/oneshot_digits/oneshot.yaml", [
        *extra, "--trainer.devices=2", "--oneshot.num_candidates=2",
        "--trainer.strategy=ddp_find_unused_parameters_true", "--oneshot.search_every_n_epochs=1",
        f"--oneshot.run_dir={run_dir}", *(crash if how.startswith("crash") else [])])
    try:
        run_oneshot(cfg, ckpt_path="last" if how == "resume" else None)
    except RuntimeError as err:  # both ranks die at the crash
        print(f"died: {err}", flush=True)  # one write per rank: the two may interleave


""" + torchrun_main("run_rank(sys.argv[1], sys.argv[2], sys.argv[3:])")


@pytest.mark.slow
def test_a_dead_ddp_spos_run_resumes_as_the_uninterrupted_ddp_run(tmp_path, launcher):
    script = tmp_path / "oneshot_ddp_resume.py"
    script.write_text(DDP_SCRIPT)

    def run(run_dir: Path, how: str) -> str:
        log = tmp_path / f"{run_dir.name}_{how}.log"
        assert launcher.run([run_dir, how, *TINY], log, script) == 0, log.read_text()
        return log.read_text()

    full, dead = tmp_path / "full", tmp_path / "resumed"
    run(full, "full")
    assert run(dead, "crash").count("died: crash at epoch 2") == 2  # both ranks
    uninterrupted = json.loads((full / "history.json").read_text())
    assert json.loads((dead / "history.json").read_text()) == [  # rank 0's, by each epoch's
        h for h in uninterrupted if h["epoch"] <= 2]  # end (was: none, written at the run's)
    out = run(dead, "resume")
    assert out.count("Resuming the spos search from ") == 1  # rank 0 alone prints
    history = json.loads((dead / "history.json").read_text())
    assert sorted({h["epoch"] for h in history}) == [1, 2, 3]
    assert history == json.loads((full / "history.json").read_text())
    resumed, uninterrupted = _weights(dead / "subnet.pt"), _weights(full / "subnet.pt")
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)
    # died after its last checkpoint (in its final search): the resume runs that search and
    # the export alone, on the last epoch's shards, as the uninterrupted DDP run
    ended = tmp_path / "ended"
    assert run(ended, "crash_end").count("died: crash at train end") == 2
    assert not (ended / "best_arch.yaml").exists()
    assert "its training is done: running its final search" in run(ended, "resume")
    assert (ended / "history.json").read_text() == (full / "history.json").read_text()
    assert (ended / "best_arch.yaml").read_text() == (full / "best_arch.yaml").read_text()
    resumed = _weights(ended / "subnet.pt")
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)


def _outputs(run_dir: Path) -> dict[str, object]:
    """A run folder's outputs (not its checkpoints or search.lock): networks as their
    weights, other files as their bytes."""
    out: dict[str, object] = {}
    for path in sorted(run_dir.rglob("*")):
        name = path.relative_to(run_dir).as_posix()
        if path.is_dir() or name.startswith("checkpoints") or name == "search.lock":
            continue
        out[name] = _weights(path) if path.suffix == ".pt" else path.read_bytes()
    return out


#: (the training's bound, what the resume says the checkpoint holds, its last epoch)
_BY_EPOCHS = ([], "3 training epochs", 2)


#: training bounded by max_steps alone: SPOS's ends in its third epoch (5 steps of 2 a
#: epoch), DARTS's (two optimizer steps a batch) at its second epoch's end
_BY_STEPS = {"oneshot.yaml": (["--trainer.max_epochs=-1", "--trainer.max_steps=5"],
                              "2 training epochs and 1 batch of epoch 3", 2),
             "darts.yaml": (["--trainer.max_epochs=-1", "--trainer.max_steps=8"],
                            "2 training epochs", 1)}


@pytest.mark.slow
@pytest.mark.parametrize(("config", "kill", "bound"), [
    ("oneshot.yaml", "final search", "epochs"), ("darts.yaml", "fine-tune", "epochs"),
    ("oneshot.yaml", "final search", "steps"), ("darts.yaml", "fine-tune", "steps")])
def test_a_run_killed_after_its_last_checkpoint_finishes_with_ckpt_path_last(
        tmp_path, monkeypatch, capsys, launcher, config, kill, bound):
    # was: `--ckpt_path last` refused ("... is of the run's last epoch (3 of max_epochs=3), so
    # nothing is left to train, and ... lacks best_arch.yaml ...: run the same command
    # without --ckpt_path"): a run killed in its final search, export or fine-tune was
    # trained again. Now the resume loads the checkpoint and runs only what is left, as
    # the uninterrupted run (the same command; a real SIGKILL, no handler runs). A run
    # bounded by max_steps alone finishes so too (was: not taken for one at its training's
    # end: no "its training is done", a checkpoint of the last steps warned of as saved
    # mid-epoch, "not the run an uninterrupted one makes", and the finished run's resume
    # ran its final search, export and fine-tune again, rewriting its outputs)
    limits, held, epoch = _BY_STEPS[config] if bound == "steps" else _BY_EPOCHS
    marker = tmp_path / "killed"
    killer = ([f"--trainer.callbacks=[{{class_path: tests.helpers.KillAtTrainEnd, init_args: "
               f"{{marker: {marker}}}}}]"] if kill == "final search" else
              [f"--data={{class_path: tests.helpers.KillInFinetuneDigits, init_args: "
               f"{{marker: {marker}, batch_size: 64}}}}"])
    args = [str(EXAMPLE / config), *TINY[:-1], *limits, "--oneshot.finetune_epochs=1",
            *killer]
    if config == "oneshot.yaml":
        args += ["--oneshot.num_candidates=2", "--oneshot.search_every_n_epochs=1"]
    full, dead = tmp_path / "full", tmp_path / "dead"
    marker.touch()  # the uninterrupted run: the same command, not killed
    code, _, err = oneshot_process(launcher, tmp_path, *args, f"--oneshot.run_dir={full}")
    assert code == 0, err[-3000:]
    marker.unlink()
    code, _, err = oneshot_process(launcher, tmp_path, *args, f"--oneshot.run_dir={dead}")
    assert code == -signal.SIGKILL and marker.is_file(), err[-3000:]
    last = dead / "checkpoints" / "last.ckpt"
    assert checkpoint_settings(last)["epoch"] == epoch  # of the training's last epoch
    written = {"final search": [], "fine-tune": ["best_arch.yaml", "subnet.pt"]}[kill]
    assert [name for name in ("best_arch.yaml", "subnet.pt", "finetune.json")
            if (dead / name).is_file()] == written
    # the record of each epoch that ended is on disk, SPOS's searches after epochs 1 and 2
    # (was: none before the final search: history.json was written at the run's end)
    ended = record_entries(config, full / RECORD[config])
    assert record_entries(config, dead / RECORD[config]) == (
        [entry for entry in ended if entry["epoch"] <= 2] if kill == "final search" else ended)
    # what cannot be resumed is still refused, before anything is written: another seed
    monkeypatch.chdir(ROOT)
    before = {p: p.stat().st_mtime_ns for p in dead.rglob("*")}
    assert main(["oneshot", *args, f"--oneshot.run_dir={dead}", "--oneshot.seed=5",
                 "--ckpt_path", "last"]) == 2
    assert "other settings: oneshot.seed=5 (the checkpoint's: 0)" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in dead.rglob("*")} == before
    code, out, err = oneshot_process(launcher, tmp_path, *args, f"--oneshot.run_dir={dead}",
                                     "--ckpt_path", "last")
    assert code == 0, err[-3000:]
    assert out.startswith(
        f"Resuming the {config[:-5].replace('oneshot', 'spos')} search from {last} ({held} "
        f"done, seed 0); its training is done: running its final search and export, "
        f"then the fine-tune\n"), out
    assert "saved mid-epoch" not in err  # nothing of it is left to train
    assert "Fine-tuned 1 epoch: val_acc=" in out
    assert last.stat().st_mtime_ns == before[last]  # nothing trained: no epoch end
    finished, uninterrupted = _outputs(dead), _outputs(full)
    assert finished.keys() == uninterrupted.keys()
    for name, value in uninterrupted.items():
        if isinstance(value, dict):
            assert all(torch.equal(finished[name][k], v) for k, v in value.items()), name
        else:
            assert finished[name] == value, name
    # show reads the finished run as the uninterrupted one's
    assert main(["show", str(full)]) == 0
    shown = capsys.readouterr().out.replace(str(full), "RUN")
    assert main(["show", str(dead)]) == 0
    assert capsys.readouterr().out.replace(str(dead), "RUN") == shown
    # the finished run's checkpoint again: nothing left to do, its outputs kept
    before = {p: p.stat().st_mtime_ns for p in dead.rglob("*")}
    assert main(["oneshot", *args, f"--oneshot.run_dir={dead}", "--ckpt_path", "last"]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"Nothing left to train: {last} is of the run's "), said
    assert ("(step 8 of max_steps=8)" if config == "darts.yaml" and bound == "steps" else
            "(step 5 of max_steps=5)" if bound == "steps" else "(3 of max_epochs=3)") in said
    assert f"with a higher --trainer.max_{bound} to train on" in said
    assert {p: p.stat().st_mtime_ns for p in dead.rglob("*")} == before


@pytest.mark.slow
@pytest.mark.parametrize("config", ["oneshot.yaml", "darts.yaml"])
def test_a_run_killed_mid_way_keeps_each_ended_epochs_record_and_resumes_to_the_same(
        tmp_path, monkeypatch, capsys, launcher, config, uninterrupted):
    # was: history.json (SPOS) and alphas.json (DARTS/GDAS) were written when the run
    # ended, so a run killed part-way (SIGKILL, out of memory) left no record of the epochs
    # it trained (a resume got them back from the checkpoint). Now each epoch's entries are
    # on disk by its end (rank 0, the file written beside its place and moved in), rewritten
    # whole from the search's state: a resume that trains an epoch again (killed after that
    # epoch's record, before its checkpoint) does not record it twice.
    monkeypatch.chdir(ROOT)
    name = RECORD[config]
    args = _RUN[config]
    full = uninterrupted(config)
    ended = record_entries(config, full / name)
    assert sorted({entry["epoch"] for entry in ended}) == [1, 2, 3]
    for kill, epoch, kept in (("KillAtEpochStart", 1, [1]),  # after epoch 1's checkpoint
                              ("KillBeforeEpochCheckpoint", 1, [1, 2])):  # before epoch 2's
        dead, marker = tmp_path / kill, tmp_path / f"{kill}.marker"
        killer = (f"--trainer.callbacks=[{{class_path: tests.helpers.{kill}, init_args: "
                  f"{{marker: {marker}, epoch: {epoch}}}}}]")
        code, _, err = oneshot_process(launcher, tmp_path, *args,
                                       f"--oneshot.run_dir={dead}", killer)
        assert code == -signal.SIGKILL and marker.is_file(), err[-3000:]
        assert not (dead / "best_arch.yaml").exists()
        assert (dead / name).is_file(), sorted(p.name for p in dead.rglob("*"))
        assert not list(dead.glob(f".{name}.partial"))
        assert record_entries(config, dead / name) == [
            entry for entry in ended if entry["epoch"] in kept], kill
        # the checkpoint holds epoch 1 alone: the resume trains epoch 2 (again) and 3
        assert checkpoint_settings(dead / "checkpoints" / "last.ckpt")["epoch"] == 0
        assert main(["oneshot", *args, f"--oneshot.run_dir={dead}", killer,
                     "--ckpt_path", "last"]) == 0
        assert (dead / name).read_bytes() == (full / name).read_bytes(), kill
        assert (dead / "best_arch.yaml").read_text() == (full / "best_arch.yaml").read_text()
    capsys.readouterr()


@pytest.mark.slow
@pytest.mark.parametrize("config", ["oneshot.yaml", "darts.yaml"])
def test_a_killed_run_resumed_steps_its_plateau_scheduler_as_the_uninterrupted_run(
        tmp_path, launcher, config):
    # Lightning steps an epoch's ReduceLROnPlateau after the epoch-end hooks that write
    # last.ckpt, and not on a resume from it: SPOS's resume missed that step (was: rates
    # [0.05, 0.05, 0.05, 0.025] against [0.05, 0.05, 0.025, 0.0125]); DARTS/GDAS step the
    # weights' schedulers in the module's own epoch-end hook, before the checkpoint
    rates: dict[str, list[float]] = {}
    outputs: dict[str, Path] = {}
    for run, kill in (("full", []), ("dead", [
            f"{{class_path: tests.helpers.KillAtEpochStart, init_args: "
            f"{{marker: {tmp_path / 'killed'}, epoch: 2}}}}"])):  # last.ckpt: epoch 1's
        folder, log = tmp_path / run, tmp_path / f"{run}.jsonl"
        callbacks = [f"{{class_path: tests.helpers.RateLog, init_args: {{path: {log}}}}}",
                     *kill]
        args = [str(EXAMPLE / config), *TINY, "--trainer.max_epochs=4",
                "--model.class_path=tests.helpers.PlateauDigits",
                f"--trainer.callbacks=[{', '.join(callbacks)}]", f"--oneshot.run_dir={folder}"]
        if config == "oneshot.yaml":  # its final search: 2 subnets (the example's: 50)
            args.append("--oneshot.num_candidates=2")
        code, _, err = oneshot_process(launcher, tmp_path, *args)
        if kill:
            assert code == -signal.SIGKILL and (tmp_path / "killed").is_file(), err[-3000:]
            assert checkpoint_settings(folder / "checkpoints" / "last.ckpt")["epoch"] == 1
            code, _, err = oneshot_process(launcher, tmp_path, *args, "--ckpt_path", "last")
        assert code == 0, err[-3000:]
        noted = [json.loads(line) for line in log.read_text().splitlines()]
        rates[run] = [rate for epoch, rate in dict(noted).items()]  # each epoch's last start
        outputs[run] = folder
    assert rates["full"] == [0.05, 0.05, 0.025, 0.0125]
    assert rates["dead"] == rates["full"]
    assert ((outputs["dead"] / "best_arch.yaml").read_text()
            == (outputs["full"] / "best_arch.yaml").read_text())
    resumed, full = _weights(outputs["dead"] / "subnet.pt"), _weights(outputs["full"] / "subnet.pt")
    assert all(torch.equal(resumed[k], full[k]) for k in full)

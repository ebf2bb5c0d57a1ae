"""A one-shot run under DDP on a validation split its ranks do not divide: Lightning's
``DistributedSampler`` repeats a sample, so the subnets' scores and the fine-tune's metrics
count it twice; the run says so once, on rank 0 (real gloo ranks on CPU)."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

import lightning.pytorch as pl
import pytest
import yaml

from lightning_nas.oneshot.callback import OneShotNAS
from lightning_nas.oneshot.differentiable import BilevelData, DifferentiableNAS
from lightning_nas.report.oneshot import load_oneshot, render_oneshot, write_oneshot_report
from lightning_nas.search.uneven_split import UnevenSplitCheck, uneven_splits
from tests.helpers_data import BlobData, rank0_loader
from tests.helpers_nets import TinySupernet

SCRIPT = """
import json, os, sys, warnings
import torch
import yaml
from lightning_nas.config.load import load_config
from lightning_nas.oneshot.run import run_oneshot


def run(out):
    result = run_oneshot(load_config(os.path.join(out, "oneshot.yaml"), []))
    history = os.path.join(out, "run", "history.json")  # SPOS's: each subnet's score
    if os.path.exists(history):
        with open(history) as f:
            history = json.load(f)
    else:
        history = []
    with open(os.path.join(out, "run", "best_arch.yaml")) as f:
        best = yaml.safe_load(f)
    with open(os.path.join(out, "rank" + os.environ.get("LOCAL_RANK", "0") + ".json"), "w") as f:
        json.dump({"scores": [h["score"] for h in history], "score": result["score"],
                   "finetune": result["finetune"], "best": best}, f)


if __name__ == "__main__":
    # each run in turn, from its OUT/oneshot.yaml, which the test wrote before this process
    # started (was: written here by each rank, so that one read it while the other had it
    # truncated: a rank 1 that read an empty config died, and rank 0 saw "Connection closed
    # by peer" in the run's first broadcast); each rank's output in the run's
    # OUT/log-rank<R>.txt (was: both in one log.txt, rank 0's traceback after rank 1's).
    # The ranks are this process and the one Lightning starts for rank 1 by re-running this
    # command line: it runs the same runs; their process group serves them all. Each run
    # warns as in a process of its own (catch_warnings: the warnings registry, which says a
    # text once per line and process, starts anew)
    torch.set_num_threads(1)
    for out in json.loads(sys.argv[1]):
        sys.stdout.flush()
        sys.stderr.flush()
        rank = os.environ.get("LOCAL_RANK", "0")
        log = os.open(os.path.join(out, "log-rank" + rank + ".txt"),
                      os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        with warnings.catch_warnings():
            run(out)
        sys.stdout.flush()
        sys.stderr.flush()
"""

#: what the run says of 101 validation samples on 2 ranks
SAID = ("the validation set holds 101 samples, which the 2 ranks do not divide: Lightning's "
        "DistributedSampler repeats 1 of them (102 scored, the repeats counted again), so the "
        "subnets' synced scores (best_arch.yaml, history.json) and the fine-tune's metrics "
        "(finetune.json) differ slightly from a validation on one device")


def _config(out: Path, n: int, algorithm: str, limit: float | None) -> None:
    """Write ``out/oneshot.yaml``: a one-shot run of ``TinySupernet`` on ``n`` blobs
    (batches of 16; a quarter of them validates), ``algorithm`` (``spos``, ``darts``) for an
    epoch of 2 batches on 2 CPU ranks, its ``limit_val_batches`` if not None, then a fine-tune
    epoch, into ``out/run``."""
    limits = {} if limit is None else {"limit_val_batches": limit}
    searched = ({"num_candidates": 2, "search_every_n_epochs": None} if algorithm == "spos"
                else {"algorithm": algorithm, "optimizer": None, "num_candidates": None,
                      "search_every_n_epochs": None})
    out.mkdir()
    (out / "oneshot.yaml").write_text(yaml.safe_dump({
        "model": {"class_path": "tests.helpers.TinySupernet"},
        "data": {"class_path": "tests.helpers.BlobData",
                 "init_args": {"n": n, "batch_size": 16}},
        "trainer": {"accelerator": "cpu", "devices": 2,
                    "strategy": "ddp_find_unused_parameters_true", "max_epochs": 1,
                    "limit_train_batches": 2, **limits},
        "oneshot": {**searched, "calibration_batches": 1, "num_classes": 3, "seed": 0,
                    "finetune_epochs": 1, "run_dir": str(out / "run")}}))


def _logs(out: Path) -> dict[int, str]:
    """Each rank's output in run ``out`` (``log-rank<R>.txt``), by rank: those there."""
    logs = {rank: out / f"log-rank{rank}.txt" for rank in (0, 1)}
    return {rank: log.read_text() for rank, log in logs.items() if log.exists()}


def _run(folder: Path, launcher, runs: dict[str, tuple[int, str, float | None]]
         ) -> dict[str, tuple[str, dict]]:
    """One process (forked by ``launcher``, its rank 1 started by Lightning) that makes each
    of ``runs`` (name: validation samples x 4, algorithm, ``limit_val_batches`` or None) in
    turn in ``folder/NAME``, from the config written there first (``_config``): each run's
    output (rank 0's, then rank 1's) and rank 0's record."""
    script = folder / "oneshot_uneven.py"
    script.write_text(SCRIPT)
    log = folder / "launch.log"
    for name, run in runs.items():
        _config(folder / name, *run)
    code = launcher.run([json.dumps([str(folder / name) for name in runs])], log, script)
    # the runs that ended without rank 0's record: each rank's output, whole tracebacks,
    # so the rank that died first says why (was: 3000 characters of one log of both ranks,
    # rank 0's "Connection closed by peer" after rank 1's error, which fell out of them)
    failed = [(name, rank, text) for name in runs if not (folder / name / "rank0.json").exists()
              for rank, text in _logs(folder / name).items()]
    assert code == 0, log.read_text()[-2000:] + "".join(
        f"\n--- {name}, rank {rank} ---\n{text[-6000:]}" for name, rank, text in failed)
    # Lightning's launcher started rank 1 once, and it ended with the script (was: the
    # launcher's variables restored after each run_oneshot, so each later run started a
    # rank 1 of its own while the first waited on its old port for ever: three left asleep)
    left = _running(script)
    for _ in range(600):  # guard: a rank that ends exits within seconds
        if not left:
            break
        time.sleep(0.1)
        left = _running(script)
    assert left == [], f"processes of {script} left running: {left}"
    return {name: ("".join(_logs(folder / name).values()),
                   json.loads((folder / name / "rank0.json").read_text())) for name in runs}


def _running(script: Path) -> list[int]:
    """The processes whose command line runs ``script`` now (``/proc``: Linux)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(script).encode() in cmdline.read_bytes().split(b"\0"):
                found.append(int(cmdline.parent.name))
        except OSError:  # ended meanwhile
            continue
    return found


@pytest.fixture
def ddp_runs(shared_run, launcher) -> tuple[Path, dict[str, list]]:
    """Four one-shot runs under DDP in one process, made once per session (conftest's
    ``shared_run``; was a process each, each starting its rank 1 cold): ``spos`` and
    ``darts`` on 101 validation samples (2 ranks), and SPOS's ``even`` (100) and
    ``limited`` (101, ``limit_val_batches=3``). Their folder, and by name each run's output
    and rank 0's record."""
    return shared_run("oneshot_uneven_ddp_runs", lambda folder: _run(folder, launcher, {
        "spos": (404, "spos", None), "darts": (404, "darts", None),
        "even": (400, "spos", None), "limited": (404, "spos", 3)}))


def _counted_of(value: float, samples: int) -> bool:
    return value * samples == pytest.approx(round(value * samples), abs=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_a_oneshot_run_on_an_uneven_split_under_ddp_says_so_once(tmp_path, ddp_runs,
                                                                 algorithm):
    # was: said nowhere, while the subnets' scores and the fine-tune's accuracy counted one
    # of the 101 validation samples twice (a count of 102)
    folder, made = ddp_runs  # 101 validation samples, 2 ranks
    (out, rank0), run = made[algorithm], folder / algorithm / "run"
    scores = [*rank0["scores"], rank0["score"], rank0["finetune"]["val_acc"]]
    assert all(_counted_of(s, 102) for s in scores), scores  # measured: repeats counted
    assert not all(_counted_of(s, 101) for s in scores), scores
    assert out.count(SAID) == 1, out[-4000:]  # once per run, the supernet's and fine-tune's
    assert ("for exact scores, use a validation set divisible by 2, or "
            "trainer.use_distributed_sampler=False with a sampler of your own, or validate "
            "on one device") in out
    # best_arch.yaml says it too (was: nowhere in the run's outputs), as best.yaml's notes
    # do, and stays a file that show and report read
    assert rank0["best"]["notes"] == uneven_splits(rank0_loader(101), scored="oneshot"), rank0
    assert rank0["best"]["score"] == rank0["score"]  # its other keys as they were
    assert load_oneshot(run)["notes"] == rank0["best"]["notes"]
    shown = json.loads(render_oneshot(run, "json"))
    assert shown["best"]["score"] == rank0["score"] and shown["notes"] == rank0["best"]["notes"]
    # show and report say it below the best result and the fine-tune's (was: not at all)
    (note,) = rank0["best"]["notes"]
    head = render_oneshot(run).splitlines()
    assert head[0].startswith(f"{algorithm} one-shot: ") and head[1].startswith("fine-tuned ")
    assert head[2] == f"note: {note}", head
    page = write_oneshot_report(run, tmp_path / "report")["html"].read_text()
    assert page.index(f"<p>note: {html.escape(note)}</p>") > page.index("fine-tuned "), page


@pytest.mark.parametrize("algorithm", ["spos", "darts"])
def test_best_arch_yaml_is_written_with_its_notes_at_once(tmp_path, algorithm):
    # was: best_arch.yaml written without them, then run_oneshot added them in a second
    # write: a run killed in between left a complete-looking file without its notes.
    # Here a Trainer's check has met the split (as a DDP one does at its first validation);
    # the exporter alone, no run_oneshot, writes the file
    (note,) = uneven_splits(rank0_loader(101), scored="oneshot")
    check = UnevenSplitCheck(None, scored="oneshot")
    check.met.append(note)
    out = tmp_path / "out"
    spos = OneShotNAS(num_candidates=2, calibration_batches=1, export_dir=str(out))
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False,
                         limit_train_batches=2, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False,
                         default_root_dir=tmp_path,
                         callbacks=[check, spos] if algorithm == "spos" else [check])
    if algorithm == "spos":
        trainer.fit(TinySupernet(), datamodule=BlobData())
    else:
        nas = DifferentiableNAS(TinySupernet(), num_classes=3, export_dir=str(out))
        trainer.fit(nas, datamodule=BilevelData(BlobData()))
    best = yaml.safe_load((out / "best_arch.yaml").read_text())
    assert best["notes"] == [note], best
    assert best["algorithm"] == algorithm and list(best)[-1] == "notes"


@pytest.mark.slow
def test_a_oneshot_run_whose_limit_stops_before_the_repeat_says_nothing(ddp_runs):
    # 101 samples on 2 ranks in batches of 16: 3 batches each stop before the repeat (each
    # rank's 51st); the supernet's and the fine-tune's validations count 96 distinct samples
    out, rank0 = ddp_runs[1]["limited"]
    assert "DistributedSampler" not in out, out[-4000:]  # was: said all the same
    assert "notes" not in rank0["best"]
    scores = [*rank0["scores"], rank0["score"], rank0["finetune"]["val_acc"]]
    assert all(_counted_of(s, 96) for s in scores), scores


@pytest.mark.slow
def test_a_oneshot_run_on_an_even_split_under_ddp_says_nothing(ddp_runs):
    out, rank0 = ddp_runs[1]["even"]  # 100 samples on 2 ranks
    assert "DistributedSampler" not in out, out[-4000:]
    assert _counted_of(rank0["finetune"]["val_acc"], 100)
    assert "notes" not in rank0["best"]


def test_the_oneshot_wording_names_its_outputs():
    (text,) = uneven_splits(rank0_loader(101), scored="oneshot")
    assert text.startswith(SAID)
    (trial,) = uneven_splits(rank0_loader(101))
    assert "so a trial's synced score differs slightly from a validation of its checkpoint" \
        in trial

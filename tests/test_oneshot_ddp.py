"""One-shot NAS under DDP on 2 CPU ranks (gloo): the ranks train the same paths and agree on
the result, rank 0 alone writes and prints synced metrics, ranks ``torchrun`` starts take
rank 0's drawn seed, and a DDP strategy that stops at unused parameters is refused."""

from __future__ import annotations

import json
import re

import pytest
import torch
import yaml

from lightning_nas.cli import main
from lightning_nas.errors import ConfigError
from lightning_nas.oneshot.trainer_checks import check_oneshot_strategy
from lightning_nas.validation_limit import limited_text
from tests.helpers_oneshot_fit import (
    BlobImages,
    val_accuracy,
)
from tests.helpers_standalone import torchrun_main
from tests.launcher import ROOT

#: two ranks forked as ``torchrun`` starts them by the script (a launch of the ``launcher``:
#: the training stack imported once; was a rank 1 that Lightning's launcher started, a cold
#: ``python`` importing it again), each fitting the supernet with ``OneShotNAS``
DDP_SCRIPT = """
import json, os, socket, sys, traceback
import lightning.pytorch as pl
import torch
from lightning_nas.oneshot.callback import OneShotNAS
from tests.helpers_oneshot_fit import BatchNormSupernet, BlobImages


def run_rank(out):
    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    callback = OneShotNAS(num_candidates=5, calibration_batches=2, seed=2, record_paths=True)
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", devices=2,
                         strategy="ddp_find_unused_parameters_true",  # single paths
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[callback])
    trainer.fit(BatchNormSupernet(), datamodule=BlobImages())
    with open(os.path.join(out, f"rank{trainer.global_rank}.json"), "w") as f:
        json.dump({"paths": callback.paths, "best": callback.best_arch,
                   "score": callback.best_score, "history": callback.history}, f)
    torch.save(callback.subnet, os.path.join(out, f"subnet{trainer.global_rank}.pt"))
""" + torchrun_main("run_rank(sys.argv[1])")


@pytest.mark.slow
def test_ddp_ranks_train_the_same_paths_and_agree_on_the_result(tmp_path, launcher):
    script = tmp_path / "oneshot_ddp.py"
    script.write_text(DDP_SCRIPT)
    log = tmp_path / "log.txt"
    assert launcher.run([tmp_path], log, script) == 0, log.read_text()
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["paths"] and r0["paths"] == r1["paths"]  # the same path at every step
    assert r0["best"] == r1["best"] and r0["history"] == r1["history"]  # synced scores
    # BatchNorm statistics are calibrated on both ranks' batches: one subnet, the scored one
    s0, s1 = (torch.load(tmp_path / f"subnet{r}.pt", weights_only=False) for r in (0, 1))
    assert all(torch.equal(a, b) for a, b in zip(s0.state_dict().values(),
                                                 s1.state_dict().values(), strict=True))
    data = BlobImages()
    data.setup()
    # exactly: 64 validation samples, 32 a rank, so Lightning's DistributedSampler repeats
    # none (the README's "up to devices - 1" repeated samples: none here)
    assert len(data.val_set) % 2 == 0 and val_accuracy(s0, data) == r0["score"]


def test_every_ddp_that_stops_at_unused_parameters_is_refused_for_one_path_per_step(
        tmp_path, monkeypatch, capsys):
    # was: only the exact string "ddp" was refused; a DDPStrategy node or
    # "ddp_find_unused_parameters_false" passed and stopped at the first step on rank 1
    # ("parameters that were not used")
    from lightning.pytorch.strategies import DDPStrategy

    node = {"class_path": "lightning.pytorch.strategies.DDPStrategy"}
    for strategy in ("ddp", "ddp_find_unused_parameters_false", node, "DDP",  # (any case,
                     "DDP_Find_Unused_Parameters_False",  # as Lightning reads it; was: passed)
                     {**node, "init_args": {"find_unused_parameters": False,
                                            "process_group_backend": "gloo"}},
                     {"_target_": "lightning.pytorch.strategies.DDPStrategy"}):
        for algorithm in ("spos", "gdas"):
            with pytest.raises(ConfigError, match=rf"trainer.strategy=.* cannot train "
                                                  rf"{algorithm}: each step trains one sampled "
                                                  rf"path .* which DDP stops at"):
                check_oneshot_strategy({"strategy": strategy}, algorithm)
        check_oneshot_strategy({"strategy": strategy}, "darts")  # every path trains
    for strategy in ("ddp_find_unused_parameters_true", "auto", "fsdp", None,
                     {**node, "init_args": {"find_unused_parameters": True}},
                     {"_target_": "lightning.pytorch.strategies.DDPStrategy",
                      "find_unused_parameters": True},
                     DDPStrategy(find_unused_parameters=True)):
        check_oneshot_strategy({"strategy": strategy}, "spos")
    # was: two devices with no strategy (Lightning picks DDP) passed and stopped at step 1
    for trainer in ({"devices": 2}, {"devices": "0,1", "strategy": "auto"},
                    {"devices": 2, "strategy": "Auto"},
                    {"devices": 1, "num_nodes": 2}):
        with pytest.raises(ConfigError, match=r"trains with DDP, which stops at the parameters"):
            check_oneshot_strategy(trainer, "spos")
        check_oneshot_strategy(trainer, "darts")
    for trainer in ({"devices": 1}, {"devices": "auto"}, {"devices": 2, "strategy": "deepspeed"},
                    {"devices": 2, "strategy": "ddp_find_unused_parameters_true"}):
        check_oneshot_strategy(trainer, "spos")
    monkeypatch.chdir(ROOT)
    assert main(["oneshot", "examples/oneshot_digits/oneshot.yaml", "--trainer.devices=2",
                 "--trainer.strategy={class_path: lightning.pytorch.strategies.DDPStrategy}",
                 f"--oneshot.run_dir={tmp_path / 'run'}"]) == 2
    assert ("trainer.strategy=lightning.pytorch.strategies.DDPStrategy(find_unused_parameters"
            "=False) cannot train spos" in capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


CLI_DDP_SCRIPT = """
import json, os, sys
import torch
import yaml
from lightning_nas.oneshot.run import run_oneshot
from lightning_nas.config.load import load_config
from tests.helpers import SeedEnv

if __name__ == "__main__":
    torch.set_num_threads(1)
    out = sys.argv[1]
    cfg = load_config("examples/oneshot_digits/oneshot.yaml", [
        "--trainer.devices=2", "--trainer.strategy=ddp_find_unused_parameters_true",
        "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
        "--trainer.limit_val_batches=2", "--oneshot.num_candidates=2",
        "--oneshot.search_every_n_epochs=null", "--oneshot.calibration_batches=1",
        "--oneshot.finetune_epochs=1", f"--oneshot.run_dir={out}/run",
        "--seed_everything=false", "--oneshot.seed=null",  # a drawn seed
        "--trainer.callbacks=[{class_path: tests.helpers.SeedEnv}]"])  # (restored after)
    result = run_oneshot(cfg)
    with open(os.path.join(out, "rank" + os.environ.get("LOCAL_RANK", "0") + ".json"), "w") as f:
        json.dump({**result["finetune"], "seed": SeedEnv.seen[0][0]}, f)
"""


@pytest.mark.slow
def test_ddp_oneshot_cli_rank_zero_writes_and_prints_synced_metrics(tmp_path, launcher):
    script = tmp_path / "oneshot_cli_ddp.py"
    script.write_text(CLI_DDP_SCRIPT)
    log = tmp_path / "log.txt"
    assert launcher.run([tmp_path], log, script) == 0, log.read_text()
    out = log.read_text()
    assert out.count("One-shot search: ") == 1, out
    assert out.count("Fine-tuned 1 epoch: ") == 1, out
    # the example's supernet logs its epoch-level train_loss as every rank's mean (was:
    # Lightning's "It is recommended to use `self.log('train_loss', ..., sync_dist=True)`")
    assert "sync_dist" not in out, out
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    # one drawn seed: rank 1 takes the one rank 0 drew (was: each rank drew its own)
    assert r0.pop("seed") == r1.pop("seed")
    assert r0 == r1 and "val_loss" in r0  # averaged over both ranks' shards
    saved = json.loads((tmp_path / "run" / "finetune.json").read_text())["metrics"]
    assert saved == r0
    # limit_val_batches=2 on each rank's shard: 4 batches in all (was: said as on one)
    said = yaml.safe_load((tmp_path / "run" / "best_arch.yaml").read_text())
    assert "on each of the 2 ranks" in said["limited_validation"]
    assert said["limited_validation"] == limited_text(2, ranks=2)


#: two ranks as torchrun starts them: forked by this script (itself a launch of the
#: ``launcher``), not by the launcher, which runs one launch at a time and runs a command,
#: while these two run at once and call ``run_oneshot`` in-process to read ``SeedEnv.seen``
TORCHRUN_SCRIPT = """
import json, os, random, socket, sys, traceback
import torch
import yaml

if __name__ == "__main__":
    out, algorithm, strategy, *extra = sys.argv[1:]
    with socket.socket() as free:  # the rendezvous port, as torchrun's
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    ranks = []
    for rank in (0, 1):  # two processes started as torchrun starts them: its variables
        pid = os.fork()
        if pid:
            ranks.append(pid)
            continue
        code = 1
        try:
            os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "GROUP_RANK": "0",
                               "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2",
                               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                               "TORCHELASTIC_RUN_ID": "test"})
            random.seed()  # a fresh interpreter's own random state
            torch.set_num_threads(1)
            from lightning_nas.config.load import load_config
            from lightning_nas.oneshot.run import run_oneshot
            cfg = load_config("examples/oneshot_digits/oneshot.yaml", [
                "--trainer.devices=2", f"--trainer.strategy={strategy}",
                "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
                "--trainer.limit_val_batches=2", "--oneshot.calibration_batches=1",
                "--oneshot.finetune_epochs=0", f"--oneshot.algorithm={algorithm}",
                f"--oneshot.run_dir={out}/run", "--seed_everything=true",
                "--oneshot.seed=null", *extra,  # a drawn seed
                "--trainer.callbacks=[{class_path: tests.helpers.SeedEnv}]"])  # (restored)
            result = run_oneshot(cfg, verbose=False)
            from tests.helpers import SeedEnv
            with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
                json.dump({"seed": SeedEnv.seen[0][0], "arch": result["arch"]}, f)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    codes = [os.waitpid(pid, 0)[1] for pid in ranks]
    sys.exit(1 if any(codes) else 0)
"""


@pytest.mark.slow
@pytest.mark.parametrize(("algorithm", "strategy", "extra"), [
    ("gdas", "ddp_find_unused_parameters_true", ["--oneshot.optimizer=null",
                                                 "--oneshot.num_candidates=null",
                                                 "--oneshot.search_every_n_epochs=null"]),
    ("spos", "ddp_find_unused_parameters_true", ["--oneshot.num_candidates=2",
                                                 "--oneshot.search_every_n_epochs=null"])])
def test_ranks_torchrun_starts_take_rank_zeros_drawn_seed(tmp_path, launcher, algorithm,
                                                          strategy, extra):
    # was: each rank that torchrun or SLURM started (not Lightning's launcher, whose ranks
    # inherit it) drew its own seed: the ranks' samplers, SPOS paths and GDAS draws differed
    script = tmp_path / "oneshot_torchrun.py"
    script.write_text(TORCHRUN_SCRIPT)
    log = tmp_path / "log.txt"
    assert launcher.run([tmp_path, algorithm, strategy, *extra], log, script) == 0, \
        log.read_text()
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0 == r1, (r0, r1)  # one seed (PL_GLOBAL_SEED, the samplers'), one result


#: ``lightning-nas oneshot`` on two ranks forked as ``torchrun`` starts them, rank 1 alone
#: crashing as its second epoch starts (rank 0 then loses its peer in the next collective)
RANK_CRASH_SCRIPT = """
import os, socket, sys, traceback
import torch
from lightning_nas.cli import main


def run_rank(out):
    torch.set_num_threads(1)
    main(["oneshot", "examples/oneshot_digits/oneshot.yaml", "--trainer.devices=2",
          "--trainer.strategy=ddp_find_unused_parameters_true", "--trainer.max_epochs=2",
          "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2",
          "--oneshot.num_candidates=2", "--oneshot.calibration_batches=1",
          "--oneshot.finetune_epochs=0", f"--oneshot.run_dir={out}/run",
          "--trainer.callbacks=[{class_path: tests.helpers.CrashAt, "
          "init_args: {epoch: 1, rank: 1}}]"])
""" + torchrun_main("run_rank(sys.argv[1])")


@pytest.mark.slow
def test_a_rank_that_lost_its_peer_points_at_the_peers_error(tmp_path, launcher):
    # was: rank 0's "Connection closed by peer", then "lightning-nas oneshot: failed: fix the
    # error above", which named rank 0's echo of the failure, not rank 1's error further up
    script = tmp_path / "oneshot_rank_crash.py"
    script.write_text(RANK_CRASH_SCRIPT)
    log = tmp_path / "log.txt"
    assert launcher.run([tmp_path], log, script) == 1
    out = log.read_text()
    crash = out.index("RuntimeError: crash at epoch 1\n")  # rank 1's own, then its note
    assert out[crash:].startswith("RuntimeError: crash at epoch 1\nlightning-nas oneshot: "
                                  "failed: fix the error above"), out[crash:][:300]
    peer = re.search(r"Connection (closed|reset) by peer", out)  # rank 0's echo of it
    assert peer, out[-3000:]
    said = out[peer.end():].split("\nlightning-nas oneshot: failed: ", 1)[1].splitlines()[0]
    assert said.startswith("another rank failed first, and this one lost its connection to "
                           "it (its error above, 'closed by peer' or 'reset by peer', "
                           "follows from that): fix the other rank's error, further up"), said

"""``lightning-nas oneshot`` with ``oneshot.algorithm`` darts and gdas (the example's
``darts.yaml``, reduced): the outputs, ``report`` and ``show`` of the run, the Trainer's
clipping settings and what it refuses; and ``plot_alphas``."""

from __future__ import annotations

import json
import re

import yaml

from lightning_nas.cli import main
from lightning_nas.report.oneshot_plots import plot_alphas
from tests.launcher import ROOT


def test_cli_oneshot_selects_the_algorithm(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    config = "examples/oneshot_digits/darts.yaml"
    tiny = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=2", "--oneshot.calibration_batches=1"]
    assert main(["oneshot", config, *tiny, "--oneshot.finetune_epochs=1",
                 f"--oneshot.run_dir={tmp_path / 'darts'}"]) == 0
    out = capsys.readouterr().out
    assert "DARTS search: derived {" in out and "Fine-tuned 1 epoch: val_acc=" in out
    # the derived architecture's own probability (was: the most probable's, whichever won)
    assert re.search(r"DARTS search: derived \{.*\} \(probability 0\.\d{3}(, the most "
                     r"probable|: the \d+(nd|rd|th) most probable of \d+, scored best; the "
                     r"most probable has 0\.\d{3})\); ", out), out
    for name in ("best_arch.yaml", "alphas.json", "alphas.png", "subnet.pt",
                 "subnet_finetuned.pt"):
        assert (tmp_path / "darts" / name).exists(), name
    assert main(["report", str(tmp_path / "darts")]) == 0  # draws the logits per epoch
    report = tmp_path / "darts" / "report"
    assert (report / "alphas.png").read_bytes()[:4] == b"\x89PNG"
    page = (report / "report.html").read_text()
    assert "darts one-shot search" in page and "conv1" in page and "base64," in page
    assert main(["report", str(tmp_path)]) == 2
    assert "nor a one-shot run folder (no best_arch.yaml)" in capsys.readouterr().err
    best = yaml.safe_load((tmp_path / "darts" / "best_arch.yaml").read_text())
    assert main(["show", str(tmp_path / "darts"), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["algorithm"] == "darts" and shown["finetune"]["epochs"] == 1
    assert shown["leaderboard"][0]["arch"] == best["arch"]
    assert len(shown["leaderboard"]) == len(best["candidates"])
    assert main(["oneshot", config, *tiny, "--oneshot.algorithm=gdas", "--oneshot.top_k=2",
                 f"--oneshot.run_dir={tmp_path / 'gdas'}"]) == 0
    best = yaml.safe_load((tmp_path / "gdas" / "best_arch.yaml").read_text())
    assert best["algorithm"] == "gdas" and len(best["candidates"]) == 2
    assert main(["oneshot", config, "--oneshot.algorithm=dart"]) == 2
    assert ("unknown oneshot algorithm 'dart'; did you mean 'darts'? valid algorithms: spos, "
            "darts, gdas" in capsys.readouterr().err)
    assert main(["oneshot", config, "--oneshot.num_candidates=5"]) == 2
    assert "'num_candidates' applies to algorithm spos only" in capsys.readouterr().err
    # one path per step leaves parameters unused: plain DDP would stop in the first step
    for path, algorithm in ((config, "gdas"), ("examples/oneshot_digits/oneshot.yaml", "spos")):
        assert main(["oneshot", path, f"--oneshot.algorithm={algorithm}",
                     "--trainer.strategy=ddp", f"--oneshot.run_dir={tmp_path / 'ddp'}"]) == 2
        assert (f"trainer.strategy='ddp' cannot train {algorithm}" in capsys.readouterr().err)
    assert not (tmp_path / "ddp").exists()


def test_cli_darts_takes_the_trainers_clip_algorithm_and_refuses_accumulation(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    run = ["oneshot", "examples/oneshot_digits/darts.yaml", "--trainer.max_epochs=1",
           "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
           "--oneshot.calibration_batches=1", f"--oneshot.run_dir={tmp_path}"]
    earlier = "arch: {}\nscore: 0.5\n"
    (tmp_path / "best_arch.yaml").write_text(earlier)
    # was: Lightning's MisconfigurationException in the first step, after the earlier
    # run's outputs were removed; and accumulation: "switch to automatic optimization"
    for setting, said in (
            ("accumulate_grad_batches=2", "trainer.accumulate_grad_batches=2 cannot train "
                                          "darts: its step updates the logits and the weights "
                                          "by hand (manual optimization)"),
            ("gradient_clip_algorithm=max", "trainer.gradient_clip_algorithm='max': must be "
                                            "'norm' or 'value'")):
        assert main([*run, f"--trainer.{setting}"]) == 2
        assert said in capsys.readouterr().err, setting
        assert (tmp_path / "best_arch.yaml").read_text() == earlier
    assert main([*run, "--trainer.gradient_clip_val=0.5",
                 "--trainer.gradient_clip_algorithm=value"]) == 0
    assert "DARTS search: derived {" in capsys.readouterr().out
    assert yaml.safe_load((tmp_path / "best_arch.yaml").read_text())["algorithm"] == "darts"


def test_plot_alphas_draws_a_panel_per_decision(tmp_path):
    alphas = {"algorithm": "darts", "values": {"act": ["relu", "tanh"], "w": [4, 8, 16]},
              "history": [{"epoch": e, "probs": {"act": [0.5, 0.5], "w": [0.2, 0.3, 0.5]}}
                          for e in (1, 2)]}
    plot_alphas(alphas, tmp_path / "alphas.png")
    assert (tmp_path / "alphas.png").read_bytes()[:4] == b"\x89PNG"

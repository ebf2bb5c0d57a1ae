"""``lightning-nas oneshot`` with ``oneshot.algorithm`` darts and gdas (the example's
``darts.yaml``, reduced): the outputs, ``report`` and ``show`` of the run, the Trainer's
clipping settings and what it refuses; and ``plot_alphas``: its PNG (size, bytes) and its
layout (no label cut off or over another panel)."""

from __future__ import annotations

import json
import re
import struct

import pytest
import yaml

from lightning_nas.cli import main
from lightning_nas.report.oneshot_plots import alphas_figure, plot_alphas
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


def test_the_export_moves_a_whole_alphas_png_in(tmp_path):
    # was: plot_alphas wrote alphas.png in place (a kill mid-write left a partial PNG that
    # looked like a finished output); now a partial file beside it, moved in as the others
    import torch

    from lightning_nas.oneshot.derive import write_export

    old = tmp_path / "alphas.png"
    old.write_bytes(b"an earlier export's plot")
    with old.open("rb") as reader:  # one reading the earlier file keeps it whole
        files = write_export(tmp_path, {"act1": "relu"}, 0.5, torch.nn.Linear(2, 2), [],
                             _digits_alphas(2))
        assert reader.read() == b"an earlier export's plot"  # was: truncated, rewritten
    assert files["alphas_plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "alphas.json", "alphas.png", "best_arch.yaml", "subnet.pt"]  # no partial file left


def _digits_alphas(epochs: int = 15) -> dict:
    """The alphas of the digits supernet's DARTS run (``darts.yaml``): 7 decisions."""
    values = {"conv1": [16, 32, 48], "conv1_kernel": [3, 5], "act1": ["relu", "gelu", "sigmoid"],
              "conv2": [16, 32, 48], "conv2_kernel": [3, 5], "act2": ["relu", "gelu", "sigmoid"],
              "blocks": [0, 1, 2]}
    return {"algorithm": "darts", "values": values, "history": [
        {"epoch": e, "probs": {k: [(i + e) / sum(j + e for j in range(len(v)))
                                   for i in range(len(v))] for k, v in values.items()}}
        for e in range(1, epochs + 1)]}


def test_plot_alphas_writes_the_same_png_of_its_grid_twice(tmp_path):
    # 7 decisions: 3 columns, 3 rows of 4.2 x 3.2 inches at 110 dpi
    alphas = _digits_alphas()
    plot_alphas(alphas, tmp_path / "a.png")
    plot_alphas(alphas, tmp_path / "b.png")
    data = (tmp_path / "a.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (round(3 * 4.2 * 110), round(3 * 3.2 * 110))
    assert (tmp_path / "b.png").read_bytes() == data  # deterministic


def test_the_alphas_plot_is_drawn_once(tmp_path):
    # was: twice, savefig drawing once more for the layout engine tight_layout leaves
    fig = alphas_figure(_digits_alphas())
    draws = []
    fig.canvas.mpl_connect("draw_event", draws.append)
    fig.savefig(tmp_path / "alphas.png", dpi=110)  # as plot_alphas writes it
    assert len(draws) == 1


@pytest.mark.parametrize("font_size", [10, 14])  # matplotlib's default, a user's larger one
def test_the_alphas_plot_keeps_every_label_inside_and_apart(font_size):
    from matplotlib import rc_context

    for decisions in (1, 2, 4, 7):
        alphas = _digits_alphas(epochs=150 if decisions == 4 else 15)
        alphas["values"] = dict(list(alphas["values"].items())[:decisions])
        with rc_context({"font.size": font_size}):  # ticks take their font as drawn
            fig = alphas_figure(alphas)
            fig.draw_without_rendering()
        renderer = fig.canvas.get_renderer()
        assert len(fig.axes) == decisions  # a panel per decision, no empty one drawn
        inside = fig.bbox
        boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]  # titles, labels, ticks
        title, = (t.get_window_extent(renderer) for t in fig.texts
                  if t.get_text() == fig.get_suptitle())
        # (one panel's 4.2 inches hold the title at 10 points, not at 14: as tight_layout left it)
        for box in [*boxes, title] if font_size == 10 or decisions > 1 else boxes:
            assert inside.x0 <= box.x0 and box.x1 <= inside.x1, (decisions, box, inside)
            assert inside.y0 <= box.y0 and box.y1 <= inside.y1, (decisions, box, inside)
        for i, box in enumerate(boxes):
            assert not box.overlaps(title), (decisions, i)
            for other in boxes[i + 1:]:
                assert not box.overlaps(other), (decisions, box, other)

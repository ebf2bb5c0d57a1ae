"""``show`` and ``report`` of a one-shot run's folder: valid JSON with a NaN score, the rows'
top cuts, a damaged file named in one line, a killed run said not to have finished, the
singular of one subnet fine-tuned one epoch, a small score printed as its table does, and
the module example of ``render_oneshot``; the subnets plot's PNG, drawn once. Real files, the
real command line."""

from __future__ import annotations

import json
import struct

import pytest
import yaml

from lightning_nas.cli import main


def test_show_json_of_a_oneshot_folder_with_a_nan_score_is_valid_json(tmp_path, capsys):
    # a diverged subnet's score is NaN in history.json (json.dump writes it bare); was:
    # `show --format json` printed `"score": NaN`, which JSON parsers refuse
    (tmp_path / "best_arch.yaml").write_text("arch: {k: 3}\nscore: 0.5\nalgorithm: spos\n"
                                             "mode: min\n")
    history = [{"epoch": 5, "arch": {"k": 3}, "score": 0.5},
               {"epoch": 5, "arch": {"k": 5}, "score": float("nan")}]
    (tmp_path / "history.json").write_text(json.dumps(history))
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out, parse_constant=pytest.fail)
    assert [row["score"] for row in shown["leaderboard"]] == [0.5, None]


def test_show_and_report_of_a_oneshot_folder_say_the_rows_top_cuts(tmp_path, capsys):
    # was: --top 3 of 22 subnets (and the report's 20) cut silently, no shown/of in the JSON
    (tmp_path / "best_arch.yaml").write_text("arch: {k: 21}\nscore: 0.21\nalgorithm: spos\n"
                                             "mode: max\n")
    history = [{"epoch": 4, "arch": {"k": k}, "score": k / 100} for k in range(22)]
    (tmp_path / "history.json").write_text(json.dumps(history))

    def show(*args: str) -> str:
        assert main(["show", str(tmp_path), *args]) == 0
        return capsys.readouterr().out
    table = show("--top", "3")
    assert "\nthe best 3 of 22 (a higher --top shows more)\nrank  epoch  score" in table
    assert "\nthe best 10 of 22 (a higher --top shows more)\n" in show()
    assert "the best" not in show("--top", "30")
    # was: "(no trial)" under "the best 0 of 22", as if the folder held none
    assert show("--top", "0").endswith("\nthe best 0 of 22 (a higher --top shows more)\n")
    data = json.loads(show("--top", "3", "--format", "json"))
    assert (len(data["leaderboard"]), data["shown"], data["of"]) == (3, 3, 22)
    pytest.importorskip("matplotlib")
    from lightning_nas.report.oneshot import write_oneshot_report

    page = write_oneshot_report(tmp_path, tmp_path / "report")["html"].read_text()
    assert "<h2>Leaderboard (the best 20 of 22)</h2>" in page


@pytest.mark.parametrize(("name", "text"), [
    ("best_arch.yaml", "arch: [1, 2\n"), ("best_arch.yaml", "- 1\n"),
    ("history.json", '{"broken'), ("history.json", '[{"epoch": 1}]'), ("history.json", "5"),
    ("finetune.json", '{"epochs": 1')])
def test_show_and_report_of_a_oneshot_folder_with_a_damaged_file_name_it_in_one_line(
        tmp_path, capsys, name, text):
    # was: a traceback (yaml's ParserError, TypeError, JSONDecodeError, KeyError), exit
    # status 1, and `report` left an empty report/ folder behind
    (tmp_path / "best_arch.yaml").write_text("arch: {k: 3}\nscore: 0.5\nalgorithm: spos\n")
    (tmp_path / "history.json").write_text(json.dumps([{"epoch": 1, "arch": {"k": 3},
                                                         "score": 0.5}]))
    (tmp_path / name).write_text(text)
    for command in ("show", "report"):
        assert main([command, str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"lightning-nas {command}: error: {tmp_path / name} ")
        assert err.count("\n") == 1 and "restore it from a copy" in err
    assert not (tmp_path / "report").exists()


def test_the_oneshot_module_example_shows_what_render_oneshot_prints(tmp_path):
    # was: its leaderboard had no epoch column and no "the best 2 of 50" line
    import doctest

    from lightning_nas.report import oneshot

    best = {"conv1": 32, "conv1_kernel": 5, "blocks": 2}
    (tmp_path / "best_arch.yaml").write_text(yaml.safe_dump(
        {"arch": best, "score": 0.9421, "algorithm": "spos", "mode": "max"}))
    history = [{"epoch": e, "arch": {**best, "blocks": i % 3}, "score": 0.5}
               for e in (5, 10) for i in range(3)]
    history += [{"epoch": 15, "arch": {**best, "conv1": 16 + i}, "score": 0.9 - i / 1000}
                for i in range(49)] + [{"epoch": 15, "arch": best, "score": 0.9421}]
    (tmp_path / "history.json").write_text(json.dumps(history))
    example = next(e for e in doctest.DocTestParser().get_examples(oneshot.__doc__)
                   if "render_oneshot" in e.source)
    got = oneshot.render_oneshot(tmp_path, k=2) + "\n"
    assert doctest.OutputChecker().check_output(
        example.want, got, doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE), got


def test_a_oneshot_folder_of_one_subnet_fine_tuned_one_epoch_says_each_in_the_singular(
        tmp_path, capsys):
    # was: "fine-tuned 1 epochs"
    (tmp_path / "best_arch.yaml").write_text("arch: {k: 3}\nscore: 0.5\nalgorithm: spos\n")
    (tmp_path / "history.json").write_text(json.dumps([{"epoch": 1, "arch": {"k": 3},
                                                         "score": 0.5}]))
    (tmp_path / "finetune.json").write_text(json.dumps({"epochs": 1, "lr": 0.003,
                                                        "metrics": {"val_acc": 0.9}}))
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\nfine-tuned 1 epoch: val_acc=0.9000\n" in out
    assert out.startswith("spos one-shot: 1 subnet scored after 1 epoch;")  # was: 1 subnets
    (tmp_path / "best_arch.yaml").write_text("arch: {k: 3}\nscore: 0.5\nalgorithm: darts\n"
                                              "candidates: [{arch: {k: 3}, score: 0.5}]\n")
    assert main(["show", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("darts one-shot: 1 derived candidate scored;")


def test_a_oneshot_folders_head_line_prints_a_small_score_as_its_table_does(tmp_path, capsys):
    # was: "best 0.0000 (min)" and "val_loss=0.0000" above a table that said 3.2e-05
    (tmp_path / "best_arch.yaml").write_text("arch: {k: 3}\nscore: 3.2e-05\nalgorithm: spos\n"
                                             "mode: min\n")
    (tmp_path / "history.json").write_text(json.dumps([{"epoch": 2, "arch": {"k": 3},
                                                         "score": 3.2e-05}]))
    (tmp_path / "finetune.json").write_text(json.dumps({"epochs": 1, "lr": 0.1,
                                                        "metrics": {"val_loss": 2.1e-05}}))
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "; best 3.2e-05 (min) with shared weights\nfine-tuned 1 epoch: val_loss=2.1e-05\n" in out
    assert "\n1     2      3.2e-05  k=3" in out


def test_show_and_report_of_a_killed_oneshot_run_folder_say_it_did_not_finish(tmp_path,
                                                                               capsys):
    # was: "... is neither a run directory (no search.db) nor a one-shot run folder"
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")  # all a kill left
    for command in ("show", "report"):
        assert main([command, str(tmp_path)]) == 2
        assert capsys.readouterr().err == (
            f"lightning-nas {command}: error: {tmp_path} holds checkpoints/last.ckpt but no "
            f"best_arch.yaml yet: a one-shot run that did not finish? run the command that "
            f"started it again with --ckpt_path last (lightning-nas oneshot CONFIG ... "
            f"--ckpt_path last) to finish it, then show or report it\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints"]


@pytest.mark.parametrize("mode, scores, best", [("max", [float("nan"), 0.5, 0.7], 0.7),
                                                ("min", [float("nan"), 0.5, 0.7], 0.5),
                                                ("max", [0.5, float("nan"), 0.7], 0.7)])
def test_the_subnets_plot_marks_each_searchs_best_past_a_diverged_subnet(mode, scores, best):
    # a diverged subnet scores NaN; was: one scored first left its search unmarked (max()
    # and min() keep a NaN they start from), where the run's winner is the best finite one
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from lightning_nas.report.oneshot_plots import subnet_scores_figure

    history = [{"epoch": 2, "arch": {"k": i}, "score": s} for i, s in enumerate(scores)]
    history += [{"epoch": 4, "arch": {"k": 9}, "score": float("nan")}]  # a search all NaN
    fig = subnet_scores_figure(history, mode)
    marked = [tuple(xy) for c in fig.axes[0].collections if c.get_sizes()[0] == 40
              for xy in c.get_offsets()]
    assert marked == [(2, best)]  # the all-NaN search has no best to mark
    plt.close(fig)


def test_show_of_a_oneshot_folder_names_the_decisions_its_subnet_never_reaches(tmp_path,
                                                                              capsys):
    # best_arch.yaml's unreached (was: listed in the arch alone, as if they shaped it)
    (tmp_path / "best_arch.yaml").write_text(
        "arch: {cell: a, wa: 8, wb: 4}\nscore: 0.5\nalgorithm: spos\nmode: max\n"
        "unreached: [wb]\n")
    (tmp_path / "history.json").write_text(json.dumps(
        [{"epoch": 1, "arch": {"cell": "a", "wa": 8, "wb": 4}, "score": 0.5}]))
    assert main(["show", str(tmp_path)]) == 0
    assert ("\nunreached: wb (decisions of the best arch its subnet never reaches: their "
            "values shape nothing in subnet.pt)\n") in capsys.readouterr().out
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["unreached"] == ["wb"]


def test_the_subnets_plot_is_drawn_once_into_a_png_of_its_size(tmp_path):
    # was: twice, savefig drawing once more for the layout engine tight_layout leaves
    pytest.importorskip("matplotlib")
    from lightning_nas.report.oneshot_plots import subnet_scores_figure
    from lightning_nas.report.plots import save_png

    history = [{"epoch": e, "arch": {"k": i}, "score": i / 10} for e in (1, 2) for i in range(5)]
    fig = subnet_scores_figure(history, "max")
    draws = []
    fig.canvas.mpl_connect("draw_event", draws.append)
    save_png(fig, tmp_path / "subnets.png")
    assert len(draws) == 1
    data = (tmp_path / "subnets.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (6 * 110, 4 * 110)  # 6 x 4 inches, 110 dpi

"""The report (``lightning-nas report``: plots + a self-contained HTML page) of a real run: what
it draws (log and choice axes, a dict-valued choice, a group's knobs, a range of few values,
the progress and alphas plots), what its page says (a cut leaderboard, rejected and running
trials), and its one-line errors (no matplotlib, a store it cannot read, a file for a
folder). Most tests read one finished 6-trial ASHA search of this module."""

from __future__ import annotations

import base64
import re
import sqlite3
import sys
from pathlib import Path

import pytest
import yaml

from lightning_nas import Search
from lightning_nas.cli import main
from lightning_nas.report.plots import (
    PLOT_HINT,
    choice_options,
    choice_order,
    plain_log_ticks,
    plot_choices,
    pyplot,
)
from lightning_nas.results import TrialStatus
from lightning_nas.store import RunStore
from tests.helpers_data import BlobData
from tests.helpers_models import TinyNet
from tests.helpers_report import SPACE, tiny_losses

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("report") / "run"
    Search(TinyNet, SPACE, data=BlobData, trainer={"max_epochs": 3}, budget=6,
           scheduler="asha", eta=2, run_dir=run, verbose=False).run()
    return run


def test_report_writes_plots_and_a_self_contained_page(finished_run, capsys):
    pytest.importorskip("matplotlib")
    assert main(["report", str(finished_run)]) == 0
    out = finished_run / "report"
    assert "report.html" in capsys.readouterr().out
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["choices.png", "progress.png"]
    for name in pngs:
        assert (out / name).read_bytes()[:8] == PNG
    page = (out / "report.html").read_text()
    for name in pngs:  # linked by name and embedded, so the page stands alone
        assert f'href="{name}"' in page
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == 2 and all(base64.b64decode(e)[:8] == PNG for e in embedded)
    with RunStore(finished_run / "search.db") as store:
        best = store.best("max")
    assert f"{best.score:.4f}" in page and "pruned" in page


def test_without_matplotlib_report_says_how_to_get_it_and_makes_no_folder(
        finished_run, tmp_path, monkeypatch, capsys):
    for name in ("matplotlib", "matplotlib.pyplot"):  # as if the plot extra were not installed
        monkeypatch.setitem(sys.modules, name, None)
    (tmp_path / "best_arch.yaml").write_text("arch: {a: 1}\nscore: 0.5\nalgorithm: spos\n")
    for folder in (finished_run, tmp_path):  # a search run, a one-shot run folder
        assert main(["report", str(folder), "--out", str(tmp_path / "out")]) == 2
        assert capsys.readouterr().err == f"lightning-nas report: error: {PLOT_HINT}\n"
        assert not (tmp_path / "out").exists()


def test_report_of_a_store_it_cannot_read_leaves_no_report_folder(finished_run, tmp_path,
                                                                   capsys):
    # was: the one-line error, and an empty RUN_DIR/report/ made before the store was read
    run = tmp_path / "run"
    run.mkdir()
    (run / "search.db").write_bytes((finished_run / "search.db").read_bytes())
    db = sqlite3.connect(run / "search.db")
    db.execute("DROP TABLE trials")  # its meta says a search, its trials are gone
    db.close()
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lightning-nas report: error: {run / 'search.db'} cannot be read")
    assert sorted(p.name for p in run.iterdir()) == ["search.db"]


def test_a_file_given_for_the_run_folder_is_said_to_be_one(finished_run, tmp_path, capsys):
    # was: "RUN/search.db is not a run directory (no search.db)" (export), "... is neither a
    # run directory (no search.db) nor a one-shot run folder" (show, report)
    db = finished_run / "search.db"
    before = db.read_bytes(), sorted(finished_run.iterdir())
    for command in ("show", "report", "export"):
        assert main([command, str(db)]) == 2
        assert capsys.readouterr().err == (f"lightning-nas {command}: error: {db} is a file, "
                                           f"not a run folder: give the folder that holds "
                                           f"it, {finished_run}\n")
    (tmp_path / "notes.txt").write_text("x")
    assert main(["show", str(tmp_path / "notes.txt")]) == 2
    assert capsys.readouterr().err.endswith("notes.txt is a file, not a run folder\n")
    assert (db.read_bytes(), sorted(finished_run.iterdir())) == before


def test_report_draws_log_ranges_on_a_log_axis(tmp_path, tiny_trainer):
    pytest.importorskip("matplotlib")
    run = tmp_path / "run"
    Search(TinyNet, SPACE, data=BlobData, trainer=tiny_trainer, budget=4,
           optimizer="RandomSearch", run_dir=run, verbose=False).run()
    with RunStore(run / "search.db") as store:
        scales = plot_choices(store, tmp_path / "choices.png")
    assert scales["lr"] == "log"  # declared log: true, although it spans only 15x
    assert all(scale == "choice" for knob, scale in scales.items() if knob != "lr")


def test_a_choice_axis_follows_the_values_or_the_declared_order():
    # was: sorted as text by length, so lr 0.1, 0.01, 0.001 read reversed and
    # [0.1, 0.25, 0.5] plotted as 0.1, 0.5, 0.25
    assert choice_order([0.1, 0.01, 0.001]) == [0.001, 0.01, 0.1]
    assert choice_order([0.5, 0.25, 0.1]) == [0.1, 0.25, 0.5]
    assert choice_order([10, -1, 2]) == [-1, 2, 10]
    space = {"act": {"choice": ["tanh", "relu", "gelu"]}, "head": {"norm": {"ordered":
                                                                             ["none", "bn"]}}}
    options = choice_options(space)
    assert options == {"act": ["tanh", "relu", "gelu"], "head.norm": ["none", "bn"]}
    assert choice_order(["gelu", "relu", "tanh"], options["act"]) == ["tanh", "relu", "gelu"]
    assert choice_order([True, False], None) == [False, True]  # not numbers: by text


def test_show_contains_the_best_score(finished_run, capsys):
    assert main(["show", str(finished_run)]) == 0
    best = yaml.safe_load((finished_run / "best.yaml").read_text())
    shown = capsys.readouterr().out
    assert f"best {best['score']:.4f} (trial {best['trial']})" in shown
    assert "pruned" in shown and "epochs" in shown


def test_the_html_report_says_when_its_leaderboard_is_cut_and_counts_rejected(tmp_path):
    # was: 20 rows of 22 with no word, and rejected trials left out of the counts
    pytest.importorskip("matplotlib")
    from lightning_nas.report.plots import write_report

    Search(None, {"k": {"int": [0, 40]}}, objective=tiny_losses, monitor="val_loss",
           mode="min", budget=22, optimizer="RandomSearch", constraints=[lambda a: a["k"] > 0],
           run_dir=tmp_path / "run", verbose=False).run()
    with RunStore(tmp_path / "run" / "search.db") as store:
        rejected = len(store.trials(TrialStatus.REJECTED))
        page = write_report(store, tmp_path / "report")["html"].read_text()
    assert "<h2>Leaderboard (the best 20 of 22)</h2>" in page
    assert re.search(rf"\b{rejected} rejected, ", page)


def test_the_report_plots_a_dict_valued_choice_as_one_knob(tmp_path):
    # was: KeyError 'opt.lr' when the first trial's dict had a key another's lacked
    pytest.importorskip("matplotlib")
    from lightning_nas.report.plots import plot_choices
    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.store import open_search_store

    options = [{"name": "sgd", "lr": 0.1}, {"name": "adam"}]
    space = {"opt": {"choice": options}, "head": {"w": {"choice": [4, 8]}}}
    with open_search_store(tmp_path, {"space": space, "monitor": "acc", "mode": "max"}) as store:
        for i, arch in enumerate([{"opt": options[0], "head": {"w": 4}},
                                  {"opt": options[1], "head": {"w": 8}},
                                  {"opt": options[1], "head": {"w": 4}}]):
            store.finish_trial(TrialResult(trial_id=store.start_trial(arch), arch=arch,
                                           status=TrialStatus.COMPLETED, score=0.1 * i,
                                           epoch=0, epochs=1, metrics={"acc": 0.1 * i}))
        assert set(plot_choices(store, tmp_path / "choices.png")) <= {"opt", "head.w"}
    assert (tmp_path / "choices.png").stat().st_size > 0


def test_a_report_into_a_file_is_a_one_line_error(finished_run, tmp_path, capsys):
    # was: a FileExistsError traceback, then "error: [Errno 17] File exists: '...'"
    import shutil

    from lightning_nas.errors import ConfigError
    from lightning_nas.report.oneshot import write_oneshot_report
    from lightning_nas.report.plots import write_report
    from lightning_nas.store import open_run

    pytest.importorskip("matplotlib")
    file = tmp_path / "file"
    file.write_text("x")
    for out, said in ((file, f"--out {file} is a file"),
                      (file / "sub", f"--out {file / 'sub'} is under {file}, which is a file")):
        assert main(["report", str(finished_run), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err == f"lightning-nas report: error: {said}; give a folder\n", err
    run = shutil.copytree(finished_run, tmp_path / "run")
    shutil.rmtree(run / "report", ignore_errors=True)  # an earlier test's report
    (run / "report").write_text("x")  # its default folder
    assert main(["report", str(run)]) == 2
    assert capsys.readouterr().err == (f"lightning-nas report: error: the report folder "
                                       f"{run / 'report'} is a file; give a folder\n")
    with open_run(run) as store, pytest.raises(ConfigError, match="is a file; give a folder"):
        write_report(store, file)
    oneshot = tmp_path / "oneshot"
    oneshot.mkdir()
    (oneshot / "best_arch.yaml").write_text("arch: {a: 1}\nscore: 0.5\nalgorithm: spos\n")
    with pytest.raises(ConfigError, match=f"the report folder {file} is a file; give a folder"):
        write_oneshot_report(oneshot, file)
    assert file.read_text() == "x" and (run / "report").read_text() == "x"


def test_the_report_plots_the_knobs_of_a_group_at_a_config_node(tmp_path):
    # a group at a config node (`model.net: {width: ..., depth: ...}`) is stored under its
    # dotted key; was: only `model.lr` plotted (width and depth read as None everywhere)
    pytest.importorskip("matplotlib")
    from lightning_nas.report.plots import plot_choices
    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.store import open_search_store

    space = {"model.net": {"width": {"choice": [4, 16, 32]}, "depth": {"choice": [1, 2]}},
             "model.lr": {"float": [0.05, 0.5], "log": True}}
    with open_search_store(tmp_path, {"space": space, "monitor": "acc", "mode": "max"}) as store:
        for i, (w, d, lr) in enumerate([(4, 1, 0.1), (16, 2, 0.2), (32, 1, 0.3)]):
            arch = {"model.net": {"width": w, "depth": d}, "model.lr": lr}
            store.finish_trial(TrialResult(trial_id=store.start_trial(arch), arch=arch,
                                           status=TrialStatus.COMPLETED, score=0.1 * i,
                                           epoch=0, epochs=1, metrics={"acc": 0.1 * i}))
        knobs = plot_choices(store, tmp_path / "choices.png")
    assert set(knobs) == {"model.net.width", "model.net.depth", "model.lr"}


def test_a_range_of_few_values_is_drawn_against_its_value_not_as_choices(tmp_path):
    # was: a float range with 8 or fewer trials drew each value as a column of its own,
    # evenly spaced, with a "mean" bar over one point
    pytest.importorskip("matplotlib")
    from lightning_nas.results import TrialResult, TrialStatus
    from lightning_nas.store import open_search_store

    space = {"dropout": {"float": [0.0, 0.3]}, "depth": {"int": [1, 6]},
             "width": {"choice": [4, 16]}}
    with open_search_store(tmp_path, {"space": space, "monitor": "acc", "mode": "max"}) as store:
        for i, (p, d, w) in enumerate([(0.11, 1, 4), (0.13, 3, 16), (0.27, 6, 4)]):
            arch = {"dropout": p, "depth": d, "width": w}
            store.finish_trial(TrialResult(trial_id=store.start_trial(arch), arch=arch,
                                           status=TrialStatus.COMPLETED, score=0.1 * i,
                                           epoch=0, epochs=1, metrics={"acc": 0.1 * i}))
        axes = plot_choices(store, tmp_path / "choices.png")
    assert axes == {"dropout": "linear", "depth": "linear", "width": "choice"}


def test_the_progress_plots_axis_labels_lie_within_the_figure(finished_run):
    # was: "minutes since the first trial started (wall clock, pauses between resumes
    # included)" in one line, wider than its panel: cut off at the right ("... includ")
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from lightning_nas.report.plots import progress_figure

    with RunStore(finished_run / "search.db") as store:
        fig = progress_figure(store)
    fig.canvas.draw()
    labels = [ax.xaxis.label for ax in fig.axes]
    assert "pauses between resumes included" in " ".join(labels[1].get_text().split())
    for label in labels:
        box = label.get_window_extent()
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, label.get_text()
    plt.close(fig)


def test_the_html_report_counts_running_trials_and_says_their_search_is_gone(tmp_path,
                                                                              capsys):
    # was: "1 completed, 0 pruned, 0 paused, 0 failed, 0 rejected" while show said 1 running
    import html
    import socket
    import subprocess

    from lightning_nas.results import TrialResult
    from lightning_nas.store import open_search_store

    pytest.importorskip("matplotlib")
    with open_search_store(tmp_path, {"space": {"k": {"choice": [1, 2]}}, "monitor": "acc",
                                      "mode": "max"}) as store:
        store.finish_trial(TrialResult(trial_id=store.start_trial({"k": 1}), arch={"k": 1},
                                       status=TrialStatus.COMPLETED, score=0.5, epoch=0,
                                       epochs=1, metrics={"acc": 0.5}))
        store.start_trial({"k": 2})  # RUNNING
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()  # a search process killed on this machine
        store.set_meta("driver", {"pid": dead.pid, "host": socket.gethostname()})
    assert main(["show", str(tmp_path)]) == 0
    counts = capsys.readouterr().out.split("; monitor")[0]
    assert counts.endswith("1 running (its search is gone: a resume takes them on again, "
                           "each from its last.ckpt where an epoch ended, else from its first "
                           "epoch; but one the search process ran itself and died in twice is "
                           "FAILED)")
    assert main(["report", str(tmp_path)]) == 0
    page = (tmp_path / "report" / "report.html").read_text()
    assert f"<p>{html.escape(counts)}; best acc = 0.5000 (trial 1)</p>" in page


@pytest.mark.parametrize(("low", "high", "labels"), [
    (0.003, 0.015, ["0.003", "0.005", "0.01"]),  # the digits run's lr (was: 3x10^-3,
    (24, 100, ["30", "50", "100"]),  # 4x10^-3, ... overlapping); its width
    (0.001, 0.05, ["0.001", "0.002", "0.005", "0.01", "0.02", "0.05"]),
    (1e-5, 0.1, ["1e-05", "0.0001", "0.001", "0.01", "0.1"]),  # over two decades: the powers
    (0.003, 0.0045, ["0.003", "0.004"]),  # under half a decade: every multiple
])
def test_a_log_axis_is_labelled_with_plain_numbers_that_do_not_crowd(low, high, labels):
    fig, ax = pyplot().subplots(figsize=(4.2, 3.2))
    ax.scatter([low, high], [0, 1])
    ax.set_xscale("log")
    plain_log_ticks(ax, low, high)
    fig.canvas.draw()
    shown = [t.get_text() for t in ax.get_xticklabels()
             if low * 0.999 <= t.get_position()[0] <= high * 1.001]
    assert shown == labels
    assert not any(t.get_text() for t in ax.get_xticklabels(minor=True))
    pyplot().close(fig)


def test_the_alphas_plot_counts_epochs_in_whole_numbers():
    # was: ticks at 1.0, 1.5, 2.0, 2.5, 3.0 for a 3-epoch search, and no axis label
    from lightning_nas.report.oneshot_plots import alphas_figure

    alphas = {"algorithm": "gdas", "values": {"act": ["relu", "tanh"], "w": [4, 8, 16]},
              "history": [{"epoch": e, "probs": {"act": [0.5, 0.5], "w": [0.2, 0.3, 0.5]}}
                          for e in (1, 2, 3)]}
    fig = alphas_figure(alphas)
    fig.canvas.draw()
    for ax in fig.axes[:2]:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert ax.get_xlabel() == "epoch"


def test_the_report_of_a_live_search_reads_one_moment_of_its_store(tmp_path, monkeypatch):
    # was: a trial that finished between two reads counted as running and as completed
    pytest.importorskip("matplotlib")
    from lightning_nas.report.plots import write_report
    from lightning_nas.store import open_run
    from tests.helpers_store import finishing_between_reads

    with finishing_between_reads(monkeypatch, tmp_path / "run"), \
            open_run(tmp_path / "run") as store:
        page = write_report(store, tmp_path / "report")["html"].read_text()
    assert "0 completed, 0 failed, 0 rejected, 0 pruned, 0 paused, 1 running" in page


@pytest.mark.parametrize("spec, values, mean", [({"int": [0, 9]}, [1, 4, 7], False),
                                                ({"choice": [1, 2]}, [1, 2, 1], True)])
def test_the_choices_plots_title_lies_within_it_and_names_a_mean_only_where_drawn(
        tmp_path, spec, values, mean):
    # was: one knob's title, "acc per architecture choice (completed trials; red: mean)",
    # wider than its figure, cut off at both sides, and "red: mean" where a range's panel
    # drew no mean
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    from lightning_nas.report.plots import choices_figure
    from lightning_nas.results import TrialResult
    from lightning_nas.store import open_search_store

    with open_search_store(tmp_path, {"space": {"k": spec}, "monitor": "acc",
                                      "mode": "max"}) as store:
        for i, k in enumerate(values):
            store.finish_trial(TrialResult(store.start_trial({"k": k}), {"k": k},
                                           TrialStatus.COMPLETED, 0.1 * i, epoch=0, epochs=1))
        fig, _ = choices_figure(store)
    fig.canvas.draw()
    title = next(t for t in fig.findobj(Text) if "per architecture choice" in t.get_text())
    box = title.get_window_extent()
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, title.get_text()
    assert ("red: mean" in title.get_text()) is mean
    plt.close(fig)


def _texts(fig) -> str:
    """The words a figure says outside its axes (its title, ``fig.text``), in one line."""
    return " ".join(" ".join(t.get_text().split()) for t in fig.texts)


def test_plots_of_a_run_without_a_score_say_so_instead_of_empty_axes(tmp_path):
    # was: the progress plot's two empty panels, "scored trials finished" from -0.04 to
    # 0.04, and a blank choices plot under its title, for a run whose trials all failed
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from lightning_nas.report.plots import choices_figure, progress_figure
    from lightning_nas.results import TrialResult
    from lightning_nas.store import open_search_store

    with open_search_store(tmp_path, {"space": {"k": {"choice": [1, 2]}}, "monitor": "acc",
                                      "mode": "max"}) as store:
        for k in (1, 2):
            store.finish_trial(TrialResult(store.start_trial({"k": k}), {"k": k},
                                           TrialStatus.FAILED, error="RuntimeError: no"))
        progress, (choices, scales) = progress_figure(store), choices_figure(store)
    assert not [ax for ax in progress.axes if ax.axison]
    assert "nothing to plot: no trial has a score yet (2 failed)" in _texts(progress)
    assert not [ax for ax in choices.axes if ax.axison] and scales == {}
    assert "nothing to plot: no trial completed yet (2 failed)" in _texts(choices)
    plt.close(progress)
    plt.close(choices)


def test_the_choices_plot_of_one_completed_trial_says_why_it_draws_no_knob(tmp_path):
    # was: a blank figure under "acc per architecture choice (completed trials)"
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from lightning_nas.report.plots import choices_figure, progress_figure
    from lightning_nas.results import TrialResult
    from lightning_nas.store import open_search_store

    with open_search_store(tmp_path, {"space": {"k": {"choice": [1, 2]}, "w": {"int": [1, 9]}},
                                      "monitor": "acc", "mode": "max"}) as store:
        store.finish_trial(TrialResult(store.start_trial({"k": 1, "w": 3}), {"k": 1, "w": 3},
                                       TrialStatus.COMPLETED, 0.5, {"acc": 0.5}, epoch=0,
                                       epochs=1))
        progress, (choices, _) = progress_figure(store), choices_figure(store)
    assert [ax.axison for ax in progress.axes] == [True, True]
    assert "nothing to plot" not in _texts(progress)
    assert not [ax for ax in choices.axes if ax.axison]
    assert ("nothing to plot: each knob took one value in the 1 completed trial "
            "(k=1 w=3)") in _texts(choices)
    plt.close(progress)
    plt.close(choices)


def test_a_choice_axis_labels_each_value_as_show_prints_it(tmp_path):
    # was: a None option's column unlabelled, and 1 and '1' both labelled 1
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from lightning_nas.report.plots import choices_figure
    from lightning_nas.results import TrialResult
    from lightning_nas.store import open_search_store

    space = {"n": {"choice": [None, 1]}, "s": {"choice": [1, "1"]},
             "opt": {"choice": [{"name": "sgd"}, {"name": "adam"}]}}
    archs = [{"n": None, "s": 1, "opt": {"name": "sgd"}},
             {"n": 1, "s": "1", "opt": {"name": "adam"}}]
    with open_search_store(tmp_path, {"space": space, "monitor": "acc", "mode": "max"}) as store:
        for i, arch in enumerate(archs):
            store.finish_trial(TrialResult(store.start_trial(arch), arch, TrialStatus.COMPLETED,
                                           0.1 * i, {"acc": 0.1 * i}, epoch=0, epochs=1))
        fig, _ = choices_figure(store)
    fig.canvas.draw()
    ticks = {ax.get_title(): [t.get_text() for t in ax.get_xticklabels()] for ax in fig.axes}
    assert ticks == {"n": ["None", "1"], "s": ["1", "'1'"], "opt": ["name=sgd", "name=adam"]}
    plt.close(fig)


def test_the_progress_plots_legend_hides_no_point(finished_run):
    # was: the legend inside the left panel ("best" place), over a paused trial's point
    # at the top of a min search's panel (trial 3 of 5, val_loss 1.14, not seen)
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from lightning_nas.report.plots import progress_figure

    with RunStore(finished_run / "search.db") as store:
        fig = progress_figure(store)
    fig.canvas.draw()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    assert len(legends) == 1
    box = legends[0].get_window_extent()
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0
    for ax in fig.axes:  # outside each panel: over no point of it
        assert not box.overlaps(ax.get_window_extent()), ax.get_xlabel()
    assert [t.get_text() for t in legends[0].get_texts()] == [
        "pruned or paused (best until its stop)", "trial", "best so far"]
    plt.close(fig)


def _pareto_store(path: Path, points: list[tuple[float, float]]) -> RunStore:
    """A 2-objective run (``acc`` max, ``lat`` min) of COMPLETED trials at ``points``."""
    from lightning_nas.results import TrialResult
    from lightning_nas.store import open_search_store

    store = open_search_store(path, {"space": {"k": {"int": [0, 99]}}, "monitor": "acc",
                                     "mode": "max", "objectives": {"acc": "max", "lat": "min"}})
    for k, (acc, lat) in enumerate(points):
        store.finish_trial(TrialResult(store.start_trial({"k": k}), {"k": k},
                                       TrialStatus.COMPLETED, acc, {"acc": acc, "lat": lat},
                                       epoch=0, epochs=1))
    return store


def test_the_pareto_plots_legend_hides_no_point(tmp_path):
    # was: the legend at matplotlib's "best" place inside the panel, over the trial at
    # acc 0.9, lat 5.0 of a 5 x 5 grid of trials
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from lightning_nas.report.plots import pareto_figure

    grid = [(0.5 + 0.1 * (k % 5), 1.0 + k // 5) for k in range(25)]
    with _pareto_store(tmp_path, grid) as store:
        fig = pareto_figure(store)
    fig.canvas.draw()
    ax = fig.axes[0]
    legends = [*fig.legends, *([ax.get_legend()] if ax.get_legend() else [])]
    assert len(legends) == 1
    box = legends[0].get_window_extent()
    shown = ax.transData.transform(ax.collections[0].get_offsets())
    assert [tuple(p) for p in shown if box.contains(*p)] == []
    assert not box.overlaps(ax.get_window_extent())
    assert fig.bbox.y0 <= box.y0 and fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1
    plt.close(fig)


def test_the_pareto_plot_of_a_run_without_a_completed_trial_says_so(tmp_path):
    # was: an empty panel from -0.04 to 0.04 on each axis, its legend naming a front
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from lightning_nas.report.plots import pareto_figure
    from lightning_nas.results import TrialResult

    with _pareto_store(tmp_path, []) as store:
        store.finish_trial(TrialResult(store.start_trial({"k": 1}), {"k": 1},
                                       TrialStatus.FAILED, error="RuntimeError: no"))
        fig = pareto_figure(store)
    assert not [ax for ax in fig.axes if ax.axison] and not fig.legends
    assert "nothing to plot: no trial completed yet (1 failed)" in _texts(fig)
    plt.close(fig)

"""One-shot ``clear_outputs`` removes the ``report/`` folder its removal of the report's
files leaves empty, never one that holds a user's own files. Real folders and files."""

from __future__ import annotations

from pathlib import Path

from lightning_nas.oneshot.exported import write_outputs
from lightning_nas.oneshot.run_outputs import RUN_OUTPUTS, clear_outputs


def _run(tmp_path: Path, *names: str) -> Path:
    run = tmp_path / "run"
    for name in ("best_arch.yaml", "subnet.pt", "report/report.html", "report/subnets.png",
                 "report/alphas.png", *names):
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text("x")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.ckpt").write_text("x")
    return run


def test_a_report_folder_left_empty_is_removed(tmp_path):
    # was: report/ stood empty after the report's files went
    run = _run(tmp_path)
    clear_outputs(run)
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints"]


def test_a_report_folder_holding_a_users_files_stays_with_them(tmp_path):
    run = _run(tmp_path, "report/notes.txt", "report/mine/plot.png")
    clear_outputs(run)
    assert sorted(str(p.relative_to(run / "report")) for p in (run / "report").rglob("*")) == [
        "mine", "mine/plot.png", "notes.txt"]


def test_an_empty_folder_of_the_users_inside_report_is_kept(tmp_path):
    run = _run(tmp_path)
    (run / "report" / "drafts").mkdir()
    clear_outputs(run)
    assert [p.name for p in (run / "report").iterdir()] == ["drafts"]


def test_the_partial_files_a_killed_write_leaves_go_where_write_outputs_names_them(tmp_path):
    # a nested output's partial is report/.report.html.partial (was: looked for at
    # .report/report.html.partial, a path never written, so it stood there for good)
    run = _run(tmp_path)
    partials: list[Path] = []
    for name in RUN_OUTPUTS:  # the very paths write_outputs writes first
        place = run / name
        write_outputs(place.parent, {place.name: lambda p: (partials.append(p),
                                                            p.write_text("x"))})
    for partial in partials:  # as a kill between the write and the move leaves them
        partial.write_text("half")
    clear_outputs(run)
    assert [p for p in partials if p.exists()] == []
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints"]
